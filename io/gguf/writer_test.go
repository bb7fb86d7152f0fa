package gguf

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/wick-ml/wick/quant"
)

func TestWriterSpecExample(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range []KV{
		{"general.architecture", String("llama")},
		{"llama.context_length", Uint32(16)},
		{"llama.rope.freq_base", Float32(10000)},
		{"tokenizer.ggml.tokens", Array([]string{"a", "bc"})},
	} {
		if err := w.AddKV(kv.Key, kv.Value); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.AddTensor("x", quant.F32, []int64{3, 2}); err != nil {
		t.Fatal(err)
	}
	data := specExample()[0x100:0x118]
	if next, done, ok := w.Next(); !ok || next.Name != "x" || done != 0 || next.Offset != 0 {
		t.Errorf("Next() = %+v, %d, %v", next, done, ok)
	}
	if err := w.WriteTensorData("x", data); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := w.Next(); ok {
		t.Error("Next() after all data reports more")
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), specExample()) {
		t.Errorf("writer output differs from the spec example:\n% x\n% x", buf.Bytes(), specExample())
	}
	if err := w.Commit(); !errors.Is(err, ErrClosed) {
		t.Errorf("Commit after Commit: %v", err)
	}
}

// rewrite reads a file with the reader and writes it back with the Writer,
// streaming the data in chunks of the given size.
func rewrite(t testing.TB, f *File, chunk int, opts ...WriterOption) []byte {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, append(opts, AllowNestedArrays())...)
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range f.Metadata() {
		if err := w.AddKV(kv.Key, kv.Value); err != nil {
			t.Fatal(err)
		}
	}
	var all []byte
	for _, ti := range f.Tensors() {
		if err := w.AddTensor(ti.Name, ti.Type, ti.Dims); err != nil {
			t.Fatal(err)
		}
		d, _ := f.TensorData(ti.Name)
		all = append(all, d...)
	}
	for len(all) > 0 {
		n := min(chunk, len(all))
		if _, err := w.Write(all[:n]); err != nil {
			t.Fatal(err)
		}
		all = all[n:]
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestRewriteReference: the Writer reproduces gguf-py's files byte for byte.
func TestRewriteReference(t *testing.T) {
	for _, name := range []string{"example.gguf", "all_types.gguf", "nested.gguf"} {
		ref, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		f, err := Parse(ref)
		if err != nil {
			t.Fatal(err)
		}
		for _, chunk := range []int{1, 7, 1 << 20} {
			if got := rewrite(t, f, chunk); !bytes.Equal(got, ref) {
				t.Errorf("%s (chunks of %d): rewritten bytes differ from gguf-py's", name, chunk)
			}
		}
	}
}

func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestCreateCommit(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "m.gguf")
	w, err := Create(p)
	if err != nil {
		t.Fatal(err)
	}
	w.AddKV("general.architecture", String("llama"))
	w.AddTensor("x", quant.F32, []int64{3, 2})
	w.Write(specExample()[0x100:0x10a]) // part of the data
	// On Linux the data goes to an unnamed file (O_TMPFILE); elsewhere to a
	// hidden .m.gguf.wick-*.tmp.
	names := dirEntries(t, dir)
	if len(names) > 1 || len(names) == 1 && (!strings.HasPrefix(names[0], ".m.gguf.wick-") || !strings.HasSuffix(names[0], ".tmp")) {
		t.Errorf("while writing the directory holds %v, want nothing or one .m.gguf.wick-*.tmp", names)
	}
	w.Write(specExample()[0x10a:0x118])
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if names := dirEntries(t, dir); len(names) != 1 || names[0] != "m.gguf" {
		t.Errorf("after Commit the directory holds %v", names)
	}
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if d, _ := f.TensorData("x"); !bytes.Equal(d, specExample()[0x100:0x118]) {
		t.Error("data differs")
	}
	// No overwrite by default; Overwrite replaces.
	if _, err := Create(p); !errors.Is(err, fs.ErrExist) {
		t.Errorf("Create over an existing file: %v", err)
	}
	w, err = Create(p, Overwrite())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.AddKV("general.architecture", String("qwen2")); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	g, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := g.Lookup("general.architecture"); v.Any() != "qwen2" || len(g.Tensors()) != 0 {
		t.Errorf("overwritten file: %v", v)
	}
	g.Close()
}

func TestAbortAndFailureRemoveTemp(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "m.gguf")
	// Abort.
	w, _ := Create(p)
	w.AddTensor("x", quant.F32, []int64{4})
	w.Write(make([]byte, 8))
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if names := dirEntries(t, dir); len(names) != 0 {
		t.Errorf("after Abort: %v", names)
	}
	if err := w.AddKV("a", Uint8(1)); !errors.Is(err, ErrClosed) {
		t.Errorf("AddKV after Abort: %v", err)
	}
	// Commit with data missing fails and removes the temporary file.
	w, _ = Create(p)
	w.AddTensor("x", quant.F32, []int64{4})
	w.AddTensor("y", quant.F32, []int64{4})
	w.Write(make([]byte, 20))
	if err := w.Commit(); !errors.Is(err, ErrIncomplete) || !strings.Contains(err.Error(), `"y"`) {
		t.Errorf("Commit with data missing: %v", err)
	}
	if names := dirEntries(t, dir); len(names) != 0 {
		t.Errorf("after a failed Commit: %v", names)
	}
	// Wrong order fails, removes, and sticks.
	w, _ = Create(p)
	w.AddTensor("x", quant.F32, []int64{1})
	w.AddTensor("y", quant.F32, []int64{1})
	if err := w.WriteTensorData("y", make([]byte, 4)); !errors.Is(err, ErrWrongTensor) || !errors.Is(err, ErrArgument) {
		t.Errorf("out of order: %v", err)
	}
	if err := w.WriteTensorData("x", make([]byte, 4)); !errors.Is(err, ErrWrongTensor) {
		t.Errorf("after a failure: %v, want the first error again", err)
	}
	if names := dirEntries(t, dir); len(names) != 0 {
		t.Errorf("after a failure: %v", names)
	}
	// A cancelled context aborts at the next call.
	ctx, cancel := context.WithCancel(context.Background())
	w, _ = Create(p, WithContext(ctx))
	w.AddTensor("x", quant.F32, []int64{1024})
	w.Write(make([]byte, 100))
	cancel()
	if _, err := w.Write(make([]byte, 100)); !errors.Is(err, context.Canceled) {
		t.Errorf("write after cancel: %v", err)
	}
	if names := dirEntries(t, dir); len(names) != 0 {
		t.Errorf("after cancel: %v", names)
	}
	if _, err := Create(p, WithContext(ctx)); !errors.Is(err, context.Canceled) {
		t.Errorf("Create with a done context: %v", err)
	}
}

func TestWriterRejects(t *testing.T) {
	newW := func(opts ...WriterOption) *Writer {
		w, err := NewWriter(io.Discard, opts...)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	w := newW()
	check := func(what string, err, want error) {
		t.Helper()
		if !errors.Is(err, want) || !errors.Is(err, ErrArgument) {
			t.Errorf("%s: got %v, want %v (argument)", what, err, want)
		}
	}
	check("empty key", w.AddKV("", Uint8(1)), ErrInvalidKey)
	check("invalid UTF-8 key", w.AddKV("a\xff", Uint8(1)), ErrInvalidKey)
	check("zero Value", w.AddKV("z", Value{}), ErrInvalidValue)
	check("nested without option", w.AddKV("n", Arrays(Array([]int32{1}))), ErrInvalidValue)
	check("alignment as UINT64", w.AddKV(KeyAlignment, Uint64(32)), ErrBadAlignment)
	check("alignment 24", w.AddKV(KeyAlignment, Uint32(24)), ErrBadAlignment)
	if err := w.AddKV("k", Uint8(1)); err != nil {
		t.Fatal(err)
	}
	check("duplicate key", w.AddKV("k", Uint8(2)), ErrDuplicateKey)
	check("name 64 bytes", w.AddTensor(strings.Repeat("n", 64), quant.F32, []int64{1}), ErrNameTooLong)
	check("name not UTF-8", w.AddTensor("\xff", quant.F32, []int64{1}), ErrInvalidName)
	check("5 dims", w.AddTensor("t", quant.F32, []int64{1, 1, 1, 1, 1}), ErrTooManyDims)
	check("negative dim", w.AddTensor("t", quant.F32, []int64{-1}), ErrBadDim)
	check("overflow", w.AddTensor("t", quant.F32, []int64{1 << 32, 1 << 32}), ErrShapeOverflow)
	check("unknown type", w.AddTensor("t", 5, []int64{32}), ErrUnknownType)
	check("partial block", w.AddTensor("t", quant.Q4_K, []int64{32}), ErrPartialBlock)
	if err := w.AddTensor("t", quant.Q8_0, []int64{32, 2}); err != nil {
		t.Fatal(err)
	}
	check("duplicate tensor", w.AddTensor("t", quant.F32, []int64{1}), ErrDuplicateTensor)
	check("short data", w.WriteTensorData("t", make([]byte, 67)), ErrSizeMismatch)

	w = newW(AllowNestedArrays())
	check("nested with a scalar element", w.AddKV("n", Arrays(Array([]int32{1}), Uint8(1))), ErrInvalidValue)
	if err := w.AddKV("n", Arrays(Array([]int32{1}), Arrays(Array([]string{"x"})))); err != nil {
		t.Errorf("nested arrays with the option: %v", err)
	}
	w.AddTensor("t", quant.F32, []int64{1})
	if _, err := w.Write(make([]byte, 4)); err != nil {
		t.Fatal(err)
	}
	check("AddKV after data", w.AddKV("late", Uint8(1)), ErrHeaderWritten)

	w = newW()
	w.AddTensor("t", quant.F32, []int64{1})
	_, err := w.Write(make([]byte, 5))
	check("too much data", err, ErrSizeMismatch)

	for _, o := range []WriterOption{WithBufferSize(10), WithContext(nil)} {
		if _, err := NewWriter(io.Discard, o); !errors.Is(err, ErrInvalidOption) {
			t.Errorf("invalid option: %v", err)
		}
	}
}

func TestWriterZeroSizeAndAlignment(t *testing.T) {
	var buf bytes.Buffer
	w, _ := NewWriter(&buf)
	w.AddKV(KeyAlignment, Uint32(64))
	w.AddTensor("empty0", quant.F32, []int64{0})
	w.AddTensor("a", quant.F16, []int64{3})
	w.AddTensor("empty1", quant.Q8_0, []int64{0, 9})
	w.AddTensor("b", quant.I8, []int64{1})
	if err := w.WriteTensorData("empty1", nil); err != nil { // allowed any time
		t.Fatal(err)
	}
	if err := w.WriteTensorData("a", []byte{1, 2, 3, 4, 5, 6}); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteTensorData("b", []byte{9}); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	f, err := Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if f.Alignment() != 64 || f.DataOffset()%64 != 0 || int64(buf.Len()) != f.DataOffset()+128 {
		t.Errorf("alignment %d, data at %d, size %d", f.Alignment(), f.DataOffset(), buf.Len())
	}
	offsets := map[string]int64{}
	for _, ti := range f.Tensors() {
		offsets[ti.Name] = ti.Offset
	}
	if !reflect.DeepEqual(offsets, map[string]int64{"empty0": 0, "a": 0, "empty1": 64, "b": 64}) {
		t.Errorf("offsets %v", offsets)
	}
}

// TestWriterMemoryBounded streams a 64 MiB tensor and requires the Writer
// to allocate far less than that.
func TestWriterMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates and writes 64 MiB")
	}
	const size = 64 << 20
	chunk := make([]byte, 1<<20)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	w, _ := NewWriter(io.Discard)
	w.AddTensor("big", quant.F32, []int64{size / 4})
	for range size / len(chunk) {
		if _, err := w.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > 4<<20 {
		t.Errorf("streaming %d bytes allocated %d bytes", size, got)
	}
}

// TestInteropPython has gguf-py's GGUFReader read a file this package
// wrote and compares its view with this package's reader. It runs only when
// WICK_INTEROP_PYTHON names a Python with gguf and numpy, e.g.
// WICK_INTEROP_PYTHON=/tmp/gvenv/bin/python.
func TestInteropPython(t *testing.T) {
	py := os.Getenv("WICK_INTEROP_PYTHON")
	if py == "" {
		t.Skip("WICK_INTEROP_PYTHON not set")
	}
	p := filepath.Join(t.TempDir(), "w.gguf")
	w, err := Create(p)
	if err != nil {
		t.Fatal(err)
	}
	kvs := []KV{
		{"general.architecture", String("llama")},
		{KeyAlignment, Uint32(128)},
		{"u8", Uint8(250)}, {"i8", Int8(-5)}, {"u16", Uint16(65000)}, {"i16", Int16(-300)},
		{"u32", Uint32(1 << 31)}, {"i32", Int32(-7)}, {"f32", Float32(0.1)}, {"b", Bool(true)},
		{"s", String("ünï")}, {"u64", Uint64(1 << 63)}, {"i64", Int64(-1 << 40)}, {"f64", Float64(1e-300)},
		{"a.str", Array([]string{"a", "", "ccc"})}, {"a.f32", Array([]float32{1, -2.5})},
		{"a.i32", Array([]int32{-1, 2, 3})}, {"a.bool", Array([]bool{false, true})},
		{"a.u8", Array([]uint8{1, 2})}, {"a.u64", Array([]uint64{1 << 60})}, {"a.f64", Array([]float64{3.5})},
	}
	for _, kv := range kvs {
		if err := w.AddKV(kv.Key, kv.Value); err != nil {
			t.Fatal(err)
		}
	}
	type tensor struct {
		name string
		typ  quant.Type
		dims []int64
	}
	tensors := []tensor{{"f32", quant.F32, []int64{5, 3}}, {"q8", quant.Q8_0, []int64{64, 2}}, {"q4k", quant.Q4_K, []int64{256, 1, 2}}, {"f16", quant.F16, []int64{7}}, {"i8", quant.I8, []int64{2, 2, 2, 2}}}
	for _, tn := range tensors {
		if err := w.AddTensor(tn.name, tn.typ, tn.dims); err != nil {
			t.Fatal(err)
		}
	}
	for i, tn := range tensors {
		ti, _, _ := w.Next()
		data := make([]byte, ti.Size)
		for j := range data {
			data[j] = byte(i*31 + j*7)
		}
		if err := w.WriteTensorData(tn.name, data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	script := `
import hashlib, json, struct, sys
import numpy as np
from gguf import GGUFReader, GGUFValueType as T
def bits(vt, v):
    if vt == T.FLOAT32: return struct.unpack("<I", struct.pack("<f", v))[0]
    if vt == T.FLOAT64: return struct.unpack("<Q", struct.pack("<d", v))[0]
    return v
r = GGUFReader(sys.argv[1])
kvs = []
for f in r.fields.values():
    if f.name.startswith("GGUF."): continue
    e = {"key": f.name, "type": int(f.types[0])}
    if f.types[0] == T.ARRAY:
        e["elem_type"] = int(f.types[1]); e["value"] = [bits(f.types[1], v) for v in f.contents()]
    else:
        e["value"] = bits(f.types[0], f.contents())
    kvs.append(e)
ts = [{"name": t.name, "type": int(t.tensor_type), "dims": [int(d) for d in t.shape], "n_elements": int(t.n_elements),
       "n_bytes": int(t.n_bytes), "offset": int(t.data_offset - r.data_offset),
       "sha256": hashlib.sha256(np.ascontiguousarray(t.data).view(np.uint8).tobytes()).hexdigest()} for t in r.tensors]
print(json.dumps({"data_offset": int(r.data_offset), "alignment": int(r.alignment), "kvs": kvs, "tensors": ts}))
`
	out, err := exec.Command(py, "-c", script, p).Output()
	if err != nil {
		t.Fatalf("gguf-py: %v", err)
	}
	var want expectedGGUF
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	checkExpected(t, f, want)
	if len(want.KVs) != len(kvs) || len(want.Tensors) != len(tensors) {
		t.Errorf("gguf-py saw %d KVs and %d tensors", len(want.KVs), len(want.Tensors))
	}
}
