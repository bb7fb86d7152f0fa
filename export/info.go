package main

/*
#include "wick.h"
*/
import "C"

import (
	"encoding/json"
	"runtime"
	"unsafe"

	"github.com/wick-ml/wick/convert/decode"
	"github.com/wick-ml/wick/io/safetensors"
	"github.com/wick-ml/wick/quant"
)

// typeJSON is one row of the type table as Python sees it.
type typeJSON struct {
	Name          string `json:"name"`
	ID            int    `json:"id"`
	BlockSize     int    `json:"block_size"`
	TypeSize      int    `json:"type_size"` // bytes per block
	Float         bool   `json:"float"`
	CanQuantize   bool   `json:"can_quantize"`
	CanDequantize bool   `json:"can_dequantize"`
}

// infoJSON is computed once: everything the Python package needs to know
// about this library, so that no table is restated in Python.
var infoJSON = func() []byte {
	var types []typeJSON
	for _, tr := range quant.Types() {
		types = append(types, typeJSON{
			Name: tr.Name, ID: int(tr.Type), BlockSize: tr.BlockSize, TypeSize: tr.BlockBytes,
			Float: tr.Float, CanQuantize: tr.CanQuantize(), CanDequantize: tr.CanDequantize(),
		})
	}
	b, err := json.Marshal(map[string]any{
		"abi_version":    abiVersion,
		"go_version":     runtime.Version(),
		"goarch":         runtime.GOARCH,
		"status":         statusNames,
		"src_dtypes":     srcDTypeNames,
		"quantize_flags": map[string]int{"allow_non_finite": flagAllowNonFinite},
		"types":          types,
		// safetensors dtypes: bits per element, and whether it converts to float32
		"safetensors_dtypes": safetensorsDTypes(),
		"decode_methods":     decode.Methods(),
		"bnb": map[string]any{
			"rules":                 map[string]int{"cuda": rulesCUDA, "cpu": rulesCPU},
			"quant_types":           fourBitNames(),
			"tables":                bnbTables(),
			"blocksizes":            quant.BlockSizes(),
			"nested_blocksize_4bit": quant.NestedBlocksize4Bit,
		},
	})
	if err != nil {
		panic(err)
	}
	return b
}()

// safetensorsDTypes describes the safetensors dtypes: {"BF16": {"bits": 16, "decodes": true}, ...}.
func safetensorsDTypes() map[string]any {
	m := map[string]any{}
	for _, d := range safetensors.DTypes() {
		m[d.String()] = map[string]any{"bits": d.Bits(), "decodes": d.CanDecode()}
	}
	return m
}

// fourBitNames maps the 4-bit data types' names to their quant_type codes.
func fourBitNames() map[string]int {
	m := map[string]int{}
	for _, t := range quant.FourBitTypes() {
		m[t.String()] = int(t)
	}
	return m
}

// wick_info_json writes a JSON object describing the library (ABI version,
// status codes, source dtypes, the ggml type table) into buf, NUL-terminated,
// if len is large enough, and returns the JSON length in bytes (without the
// NUL). Call it with len 0 to learn the size.
//
//export wick_info_json
func wick_info_json(buf *C.char, n C.size_t) C.int64_t {
	if buf != nil && uint64(n) > uint64(len(infoJSON)) {
		dst := unsafe.Slice((*byte)(unsafe.Pointer(buf)), len(infoJSON)+1)
		copy(dst, infoJSON)
		dst[len(infoJSON)] = 0
	}
	return C.int64_t(len(infoJSON))
}

// wick_max_procs returns runtime.GOMAXPROCS, the number of threads a call
// with threads ≤ 0 uses (it follows the container's CPU limit).
//
//export wick_max_procs
func wick_max_procs() C.int { return C.int(runtime.GOMAXPROCS(0)) }
