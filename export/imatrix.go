package main

/*
#include "wick.h"
*/
import "C"

import (
	"errors"
	"unsafe"

	"github.com/wick-ml/wick/convert"
	"github.com/wick-ml/wick/io/gguf"
	"github.com/wick-ml/wick/io/imatrix"
)

// The plan executor (wick_convert) reads a plan's imatrix_file with
// package imatrix: *imatrix.File's Values gives the weights llama-quantize
// uses.
func init() {
	openImatrix = func(path string) (convert.Imatrix, error) { return imatrix.Open(path) }
}

type imatrixEntryJSON struct {
	Name     string  `json:"name"`
	Length   int     `json:"length"`   // values: row length × matrices
	Matrices int     `json:"matrices"` // experts of a 3-D tensor, else 1
	Counts   []int64 `json:"counts"`   // GGUF: tokens per matrix; null for legacy
	NCall    *int32  `json:"ncall"`    // legacy: the call count; null for GGUF
	Finite   bool    `json:"finite"`   // every weight (Values) is finite
}

// wick_imatrix_describe validates the importance-matrix file at path (GGUF
// or legacy .dat) and returns, as result id/length, a JSON object: path,
// format ("gguf" | "legacy"), datasets, chunk_count, chunk_size,
// has_metadata, metadata (typed KVs of a GGUF file, else []) and entries
// (sorted by name: name, length, matrices, counts, ncall, finite).
//
//export wick_imatrix_describe
func wick_imatrix_describe(path *C.wick_cchar, pathLen C.size_t, id, n *C.int64_t, errBuf *C.char, errLen C.size_t) C.int {
	return guard(errBuf, errLen, func() error {
		p, err := goPath("path", path, pathLen)
		if err != nil {
			return err
		}
		f, err := imatrix.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		entries := make([]imatrixEntryJSON, 0, len(f.Entries()))
		for _, e := range f.Entries() {
			j := imatrixEntryJSON{Name: e.Name, Length: e.Len, Matrices: e.Matrices, Counts: e.Counts}
			if f.Format() == imatrix.FormatLegacy {
				ncall := e.NCall
				j.NCall = &ncall
			}
			_, verr := f.Values(e.Name)
			if verr != nil && !errors.Is(verr, imatrix.ErrNonFinite) {
				return verr
			}
			j.Finite = verr == nil
			entries = append(entries, j)
		}
		meta := f.Metadata()
		if meta == nil {
			meta = []gguf.KV{}
		}
		datasets := f.Datasets()
		if datasets == nil {
			datasets = []string{}
		}
		return storeJSON(map[string]any{
			"path": p, "format": f.Format().String(), "datasets": datasets, "chunk_count": f.ChunkCount(),
			"chunk_size": f.ChunkSize(), "has_metadata": f.HasMetadata(), "metadata": meta, "entries": entries,
		}, id, n)
	})
}

// wick_imatrix_values writes entry `name` of the importance-matrix file at
// path into dst, which must hold exactly its length: the weights
// llama-quantize passes to the quantizers (flags 0; a non-finite weight is a
// format error, as llama-quantize refuses the file), or the values as stored
// (flags bit 0: "raw").
//
//export wick_imatrix_values
func wick_imatrix_values(path *C.wick_cchar, pathLen C.size_t, name *C.wick_cchar, nameLen C.size_t, flags C.uint32_t,
	dst *C.float, n C.size_t, errBuf *C.char, errLen C.size_t) C.int {
	return guard(errBuf, errLen, func() error {
		p, err := goPath("path", path, pathLen)
		if err != nil {
			return err
		}
		nb, err := view[byte]("name", unsafe.Pointer(name), nameLen)
		if err != nil {
			return err
		}
		if flags&^1 != 0 {
			return argError("flags: unknown bits %#x; only bit 0 (raw) is defined", uint32(flags&^1))
		}
		out, err := view[float32]("dst", unsafe.Pointer(dst), n)
		if err != nil {
			return err
		}
		f, err := imatrix.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		e, ok := f.Entry(string(nb))
		if ok && e.Len != len(out) {
			return argError("dst: holds %d values; entry %q has %d", len(out), e.Name, e.Len)
		}
		var vals []float32
		if flags&1 != 0 {
			vals, err = f.Sums(string(nb))
		} else {
			vals, err = f.Values(string(nb))
		}
		if err != nil {
			return err
		}
		copy(out, vals)
		return nil
	})
}
