package main

/*
#include "wick.h"
*/
import "C"

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unsafe"

	"github.com/wick-ml/wick/io/gguf"
	"github.com/wick-ml/wick/io/safetensors"
	"github.com/wick-ml/wick/quant"
)

// Results whose size the caller cannot know in advance (JSON descriptions,
// reports) are kept here under an id until the caller copies them out with
// wick_result_read, which also frees them. Go memory never crosses the
// boundary.
var results = struct {
	sync.Mutex
	next int64
	m    map[int64][]byte
}{m: map[int64][]byte{}}

func storeResult(b []byte, id, n *C.int64_t) error {
	if id == nil || n == nil {
		return argError("result: NULL pointer for the result id or length")
	}
	results.Lock()
	results.next++
	results.m[results.next] = b
	*id, *n = C.int64_t(results.next), C.int64_t(len(b))
	results.Unlock()
	return nil
}

func storeJSON(v any, id, n *C.int64_t) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return storeResult(b, id, n)
}

// wick_result_read copies result id into buf (which must hold its length)
// and frees it.
//
//export wick_result_read
func wick_result_read(id C.int64_t, buf *C.uint8_t, n C.size_t, errBuf *C.char, errLen C.size_t) C.int {
	return guard(errBuf, errLen, func() error {
		results.Lock()
		b, ok := results.m[int64(id)]
		if ok && uint64(n) >= uint64(len(b)) {
			delete(results.m, int64(id))
		}
		results.Unlock()
		if !ok {
			return argError("id: no result %d (already read or freed)", int64(id))
		}
		dst, err := view[byte]("buf", unsafe.Pointer(buf), n)
		if err != nil {
			return err
		}
		if len(dst) < len(b) {
			return argError("buf: holds %d bytes; result %d has %d", len(dst), int64(id), len(b))
		}
		copy(dst, b)
		return nil
	})
}

// wick_result_free frees result id without reading it.
//
//export wick_result_free
func wick_result_free(id C.int64_t) {
	results.Lock()
	delete(results.m, int64(id))
	results.Unlock()
}

func goPath(arg string, p *C.wick_cchar, n C.size_t) (string, error) {
	b, err := view[byte](arg, unsafe.Pointer(p), n)
	if err != nil {
		return "", err
	}
	if len(b) == 0 {
		return "", argError("%s: empty path", arg)
	}
	return string(b), nil
}

type ggufTensorJSON struct {
	Name   string  `json:"name"`
	Type   string  `json:"type"`
	TypeID int     `json:"type_id"`
	Dims   []int64 `json:"dims"`   // ggml order: dims[0] is the row length
	Shape  []int64 `json:"shape"`  // row-major
	Offset int64   `json:"offset"` // absolute, from the start of the file
	NBytes int64   `json:"nbytes"`
	Part   int     `json:"part"` // index into parts
}

type ggufPartJSON struct {
	Path       string `json:"path"`
	Version    uint32 `json:"version"`
	Alignment  int    `json:"alignment"`
	DataOffset int64  `json:"data_offset"`
}

// wick_gguf_describe validates the GGUF model at path (path_len bytes,
// UTF-8): one file, or every part of a split model when path is its first
// part (gguf.OpenModel). It returns, as result id/length, a JSON object:
// version, alignment, data_offset (of the first part), parts (path,
// version, alignment, data_offset of each), metadata (the first part's,
// typed, in file order) and tensors (with their part and absolute data
// offsets in it).
//
//export wick_gguf_describe
func wick_gguf_describe(path *C.wick_cchar, pathLen C.size_t, id, n *C.int64_t, errBuf *C.char, errLen C.size_t) C.int {
	return guard(errBuf, errLen, func() error {
		p, err := goPath("path", path, pathLen)
		if err != nil {
			return err
		}
		m, err := gguf.OpenModel(p)
		if err != nil {
			if errors.Is(err, gguf.ErrFormat) || errors.Is(err, gguf.ErrLimit) || strings.HasPrefix(err.Error(), "gguf: ") {
				return err // already says "gguf: <path>: ..."
			}
			return fmt.Errorf("gguf: %w", err)
		}
		defer m.Close()
		parts := make([]ggufPartJSON, 0, len(m.Parts()))
		tensors := make([]ggufTensorJSON, 0, len(m.Tensors()))
		for k, f := range m.Parts() {
			parts = append(parts, ggufPartJSON{Path: f.Path(), Version: f.Version(), Alignment: f.Alignment(), DataOffset: f.DataOffset()})
			for _, t := range f.Tensors() {
				tensors = append(tensors, ggufTensorJSON{
					Name: t.Name, Type: t.Type.String(), TypeID: int(t.Type), Dims: t.Dims, Shape: t.Shape(),
					Offset: f.DataOffset() + t.Offset, NBytes: t.Size, Part: k,
				})
			}
		}
		f := m.Parts()[0]
		return storeJSON(map[string]any{
			"path": p, "version": f.Version(), "alignment": f.Alignment(), "data_offset": f.DataOffset(),
			"parts": parts, "metadata": m.Metadata(), "tensors": tensors,
		}, id, n)
	})
}

type stTensorJSON struct {
	Name   string  `json:"name"`
	DType  string  `json:"dtype"`
	Shape  []int64 `json:"shape"`
	File   int     `json:"file"`   // index into files
	Offset int64   `json:"offset"` // absolute, from the start of the file
	NBytes int64   `json:"nbytes"`
}

type stFileJSON struct {
	Path       string            `json:"path"`
	HeaderSize int64             `json:"header_size"`
	Metadata   map[string]string `json:"metadata"`
}

// wick_safetensors_describe validates a safetensors file, a sharded
// model's index, or a model directory, and returns as result id/length a
// JSON object: files (path, header size, metadata) and tensors (dtype,
// shape, file index, absolute offset, size), in file then header order.
//
//export wick_safetensors_describe
func wick_safetensors_describe(path *C.wick_cchar, pathLen C.size_t, id, n *C.int64_t, errBuf *C.char, errLen C.size_t) C.int {
	return guard(errBuf, errLen, func() error {
		p, err := goPath("path", path, pathLen)
		if err != nil {
			return err
		}
		m, err := safetensors.OpenModel(p)
		if err != nil {
			if errors.Is(err, safetensors.ErrFormat) || errors.Is(err, safetensors.ErrLimit) || errors.Is(err, safetensors.ErrArgument) {
				return err
			}
			return fmt.Errorf("safetensors: %w", err)
		}
		defer m.Close()
		var files []stFileJSON
		var tensors []stTensorJSON
		for i, f := range m.Files() {
			files = append(files, stFileJSON{Path: f.Path(), HeaderSize: f.HeaderSize(), Metadata: f.Metadata()})
			base := 8 + f.HeaderSize()
			for _, t := range f.Tensors() {
				tensors = append(tensors, stTensorJSON{Name: t.Name, DType: t.DType.String(), Shape: t.Shape,
					File: i, Offset: base + t.DataOffsets[0], NBytes: t.Size()})
			}
		}
		return storeJSON(map[string]any{"files": files, "tensors": tensors}, id, n)
	})
}

// wick_safetensors_decode converts n values of safetensors dtype `dtype`
// (its name, e.g. "F8_E4M3") from src (src_len bytes) to float32 in dst.
//
//export wick_safetensors_decode
func wick_safetensors_decode(dtype *C.wick_cchar, dtypeLen C.size_t, src *C.wick_cbytes, srcLen C.size_t,
	dst *C.float, n C.size_t, errBuf *C.char, errLen C.size_t) C.int {
	return guard(errBuf, errLen, func() error {
		name, err := view[byte]("dtype", unsafe.Pointer(dtype), dtypeLen)
		if err != nil {
			return err
		}
		d, ok := safetensors.ParseDType(string(name))
		if !ok {
			return argError("dtype: unknown safetensors dtype %q", name)
		}
		in, err := view[byte]("data", unsafe.Pointer(src), srcLen)
		if err != nil {
			return err
		}
		out, err := view[float32]("out", unsafe.Pointer(dst), n)
		if err != nil {
			return err
		}
		got, err := safetensors.DecodeFloat32(out, in, d)
		if err != nil {
			return err
		}
		if got != len(out) {
			return argError("data: holds %d %s values; expected %d", got, d, len(out))
		}
		return nil
	})
}

type stWriteTensor struct {
	Name  string  `json:"name"`
	DType string  `json:"dtype"`
	Shape []int64 `json:"shape"`
}

// wick_safetensors_write writes a safetensors file: header_json is
// {"tensors": [{name, dtype, shape}], "metadata": {..} | null}; bufs/lens
// hold each tensor's bytes in the same order. The file is written to a
// temporary file and put in place when complete (flags bit 0: overwrite).
//
//export wick_safetensors_write
func wick_safetensors_write(path *C.wick_cchar, pathLen C.size_t, header *C.wick_cchar, headerLen C.size_t,
	bufs **C.uint8_t, lens *C.size_t, count C.size_t, flags C.uint32_t, errBuf *C.char, errLen C.size_t) C.int {
	return guard(errBuf, errLen, func() error {
		p, err := goPath("path", path, pathLen)
		if err != nil {
			return err
		}
		hb, err := view[byte]("header", unsafe.Pointer(header), headerLen)
		if err != nil {
			return err
		}
		var h struct {
			Tensors  []stWriteTensor   `json:"tensors"`
			Metadata map[string]string `json:"metadata"`
		}
		if err := json.Unmarshal(hb, &h); err != nil {
			return argError("header: %v", err)
		}
		ptrs, err := view[*C.uint8_t]("bufs", unsafe.Pointer(bufs), count)
		if err != nil {
			return err
		}
		sizes, err := view[C.size_t]("lens", unsafe.Pointer(lens), count)
		if err != nil {
			return err
		}
		if len(h.Tensors) != len(ptrs) {
			return argError("bufs: %d buffers for %d tensors", len(ptrs), len(h.Tensors))
		}
		tensors := make([]safetensors.Tensor, len(h.Tensors))
		for i, t := range h.Tensors {
			d, ok := safetensors.ParseDType(t.DType)
			if !ok {
				return argError("tensors[%d] (%s): unknown dtype %q", i, t.Name, t.DType)
			}
			data, err := view[byte](t.Name, unsafe.Pointer(ptrs[i]), sizes[i])
			if err != nil {
				return err
			}
			tensors[i] = safetensors.Tensor{Name: t.Name, DType: d, Shape: t.Shape, Data: data}
		}
		return safetensors.WriteFile(p, tensors, h.Metadata, flags&1 != 0)
	})
}

// GGUF writers live here between wick_gguf_create and wick_gguf_commit /
// wick_gguf_abort, under an id.
var writers = struct {
	sync.Mutex
	next int64
	m    map[int64]*ggufWriter
}{m: map[int64]*ggufWriter{}}

type ggufWriter struct {
	sync.Mutex
	w *gguf.Writer
}

type ggufHeader struct {
	Metadata []gguf.KV `json:"metadata"`
	Tensors  []struct {
		Name string  `json:"name"`
		Type string  `json:"type"`
		Dims []int64 `json:"dims"`
	} `json:"tensors"`
}

// wick_gguf_create starts a GGUF file at path: header_json is {"metadata":
// [typed KVs], "tensors": [{name, type, dims (ggml order)}]}. Tensor data
// then goes through wick_gguf_write in declaration order, and the file
// appears at path only on wick_gguf_commit (flags bit 0: overwrite an
// existing file). *handle receives the writer's id.
//
//export wick_gguf_create
func wick_gguf_create(path *C.wick_cchar, pathLen C.size_t, header *C.wick_cchar, headerLen C.size_t, flags C.uint32_t,
	handle *C.int64_t, errBuf *C.char, errLen C.size_t) C.int {
	return guard(errBuf, errLen, func() error {
		p, err := goPath("path", path, pathLen)
		if err != nil {
			return err
		}
		if handle == nil {
			return argError("handle: NULL pointer")
		}
		hb, err := view[byte]("header", unsafe.Pointer(header), headerLen)
		if err != nil {
			return err
		}
		var h ggufHeader
		if err := json.Unmarshal(hb, &h); err != nil {
			return argError("header: %v", err)
		}
		var opts []gguf.WriterOption
		if flags&1 != 0 {
			opts = append(opts, gguf.Overwrite())
		}
		w, err := gguf.Create(p, opts...)
		if err != nil {
			return err
		}
		fail := func(err error) error {
			w.Abort()
			return err
		}
		for _, kv := range h.Metadata {
			if err := w.AddKV(kv.Key, kv.Value); err != nil {
				return fail(err)
			}
		}
		for _, t := range h.Tensors {
			tr, ok := quant.Lookup(t.Type)
			if !ok {
				return fail(argError("tensors: %s: unknown ggml type %q", t.Name, t.Type))
			}
			if err := w.AddTensor(t.Name, tr.Type, t.Dims); err != nil {
				return fail(err)
			}
		}
		writers.Lock()
		writers.next++
		writers.m[writers.next] = &ggufWriter{w: w}
		*handle = C.int64_t(writers.next)
		writers.Unlock()
		return nil
	})
}

func getWriter(h C.int64_t) (*ggufWriter, error) {
	writers.Lock()
	defer writers.Unlock()
	w, ok := writers.m[int64(h)]
	if !ok {
		return nil, argError("handle: no open GGUF writer %d", int64(h))
	}
	return w, nil
}

func dropWriter(h C.int64_t) {
	writers.Lock()
	delete(writers.m, int64(h))
	writers.Unlock()
}

// wick_gguf_write appends n bytes of tensor data to writer `handle`
// (tensors in declaration order; chunks may split or span tensors). On an
// error the writer is aborted and its temporary file removed.
//
//export wick_gguf_write
func wick_gguf_write(handle C.int64_t, data *C.wick_cbytes, n C.size_t, errBuf *C.char, errLen C.size_t) C.int {
	return guard(errBuf, errLen, func() error {
		w, err := getWriter(handle)
		if err != nil {
			return err
		}
		b, err := view[byte]("data", unsafe.Pointer(data), n)
		if err != nil {
			return err
		}
		w.Lock()
		defer w.Unlock()
		if _, err := w.w.Write(b); err != nil {
			w.w.Abort()
			dropWriter(handle)
			return err
		}
		return nil
	})
}

// wick_gguf_commit finishes writer `handle`: checks that every tensor's data
// was written, syncs and renames the file into place. The handle is gone
// afterwards, whatever happened.
//
//export wick_gguf_commit
func wick_gguf_commit(handle C.int64_t, errBuf *C.char, errLen C.size_t) C.int {
	return guard(errBuf, errLen, func() error {
		w, err := getWriter(handle)
		if err != nil {
			return err
		}
		defer dropWriter(handle)
		w.Lock()
		defer w.Unlock()
		return w.w.Commit()
	})
}

// wick_gguf_abort abandons writer `handle` and removes its temporary file.
//
//export wick_gguf_abort
func wick_gguf_abort(handle C.int64_t, errBuf *C.char, errLen C.size_t) C.int {
	return guard(errBuf, errLen, func() error {
		w, err := getWriter(handle)
		if err != nil {
			return err
		}
		defer dropWriter(handle)
		w.Lock()
		defer w.Unlock()
		return w.w.Abort()
	})
}
