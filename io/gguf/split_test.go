package gguf

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/wick-ml/wick/quant"
)

type splitTensor struct {
	name string
	dims []int64
}

// splitModel is a small model: F32 tensors whose data is their index
// repeated, with a trailing dimension of 1 on one of them.
func splitModel() ([]KV, []splitTensor) {
	kvs := []KV{
		{"general.architecture", String("llama")},
		{"llama.block_count", Uint32(2)},
		{"tokenizer.ggml.tokens", Array([]string{"a", "b"})},
	}
	ts := []splitTensor{
		{"token_embd.weight", []int64{8, 4}},   // 128 bytes
		{"blk.0.attn_norm.weight", []int64{8}}, // 32
		{"blk.0.attn_q.weight", []int64{8, 8}}, // 256
		{"blk.0.bias", []int64{5, 1}},          // 20 → 32 padded; written with one dim when split
		{"blk.1.attn_q.weight", []int64{8, 8}}, // 256
		{"output.weight", []int64{8, 4}},       // 128
	}
	return kvs, ts
}

func tensorBytes(i int, dims []int64) []byte {
	n := int64(4)
	for _, d := range dims {
		n *= d
	}
	return bytes.Repeat([]byte{byte(i + 1)}, int(n))
}

// writeSplit writes splitModel with the given options and returns the
// single-file bytes the same Writer calls make without WithSplit.
func writeSplit(t *testing.T, path string, opts ...WriterOption) []byte {
	t.Helper()
	kvs, ts := splitModel()
	var single bytes.Buffer
	ws, _ := NewWriter(&single)
	w, err := Create(path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range []*Writer{w, ws} {
		for _, kv := range kvs {
			if err := x.AddKV(kv.Key, kv.Value); err != nil {
				t.Fatal(err)
			}
		}
		for _, st := range ts {
			if err := x.AddTensor(st.name, quant.F32, st.dims); err != nil {
				t.Fatal(err)
			}
		}
		for i, st := range ts { // in uneven chunks across tensor and part boundaries
			d := tensorBytes(i, st.dims)
			for len(d) > 0 {
				n := min(len(d), 7)
				if _, err := x.Write(d[:n]); err != nil {
					t.Fatal(err)
				}
				d = d[n:]
			}
		}
		if err := x.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	return single.Bytes()
}

func TestSplitStarts(t *testing.T) {
	sizes := []int64{128, 32, 256, 20, 256, 128} // padded: 128 32 256 32 256 128
	ts := make([]TensorInfo, len(sizes))
	for i, s := range sizes {
		ts[i] = TensorInfo{Name: string(rune('a' + i)), Size: s}
	}
	for _, c := range []struct {
		s    Split
		want []int
	}{
		{Split{MaxTensors: 2}, []int{0, 2, 4}},
		{Split{MaxTensors: 4}, []int{0, 4}},
		{Split{MaxTensors: 6}, []int{0}},
		{Split{MaxTensors: 1}, []int{0, 1, 2, 3, 4, 5}},
		{Split{MaxBytes: 416}, []int{0, 3}},             // 128+32+256 = 416 fits exactly
		{Split{MaxBytes: 415}, []int{0, 2, 4}},          // 160 | 256+32 | 256+128
		{Split{MaxBytes: 128}, []int{0, 1, 2, 3, 4, 5}}, // larger tensors get a part of their own
		{Split{MaxBytes: 1 << 40}, []int{0}},
	} {
		got, err := splitStarts(ts, c.s)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%+v: %v, %v; want %v", c.s, got, err, c.want)
		}
	}
	_, err := splitStarts(ts, Split{MaxBytes: 127})
	if !errors.Is(err, ErrSplitLimit) || !errors.Is(err, ErrArgument) || !strings.Contains(err.Error(), `tensor "a"`) {
		t.Errorf("first tensor over the limit: %v", err)
	}
	if got, err := splitStarts(nil, Split{MaxBytes: 1}); err != nil || !reflect.DeepEqual(got, []int{0}) {
		t.Errorf("no tensors: %v, %v", got, err)
	}
}

func TestSplitPathAndPrefix(t *testing.T) {
	if got := SplitPath("dir/m", 0, 3); got != "dir/m-00001-of-00003.gguf" {
		t.Errorf("SplitPath: %q", got)
	}
	if p, ok := SplitPrefix("dir/m-00002-of-00003.gguf", 1, 3); !ok || p != "dir/m" {
		t.Errorf("SplitPrefix: %q, %v", p, ok)
	}
	for _, bad := range []string{"m-00001-of-00003.gguf", "-00002-of-00003.gguf", "m.gguf"} {
		if _, ok := SplitPrefix(bad, 1, 3); ok {
			t.Errorf("SplitPrefix(%q) accepted", bad)
		}
	}
}

// The parts hold what llama-gguf-split puts in them (checked byte for byte
// against llama-gguf-split itself by tests/test_split.py).
func TestSplitWriterLayout(t *testing.T) {
	dir := t.TempDir()
	prefix := filepath.Join(dir, "m")
	single := writeSplit(t, prefix, WithSplit(Split{MaxBytes: 415}))
	names := dirEntries(t, dir)
	want := []string{"m-00001-of-00003.gguf", "m-00002-of-00003.gguf", "m-00003-of-00003.gguf"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("directory holds %v, want %v", names, want)
	}
	ref, err := Parse(single)
	if err != nil {
		t.Fatal(err)
	}
	_, ts := splitModel()
	split := func(k int) []KV {
		return []KV{{KeySplitNo, Uint16(uint16(k))}, {KeySplitTensorsCount, Int32(int32(len(ts)))}, {KeySplitCount, Uint16(3)}}
	}
	parts := [][]string{{"token_embd.weight", "blk.0.attn_norm.weight"}, {"blk.0.attn_q.weight", "blk.0.bias"},
		{"blk.1.attn_q.weight", "output.weight"}}
	for k, p := range parts {
		f, err := Open(filepath.Join(dir, want[k]))
		if err != nil {
			t.Fatal(err)
		}
		wantKVs := split(k)
		if k == 0 {
			wantKVs = append(ref.Metadata(), wantKVs...)
		}
		if got := f.Metadata(); !reflect.DeepEqual(kvsJSON(got), kvsJSON(wantKVs)) {
			t.Errorf("part %d metadata: %v, want %v", k+1, got, wantKVs)
		}
		var off int64
		var gotNames []string
		for _, ti := range f.Tensors() {
			gotNames = append(gotNames, ti.Name)
			r, _ := ref.Tensor(ti.Name)
			wantDims := r.Dims
			if ti.Name == "blk.0.bias" {
				wantDims = []int64{5} // ggml_n_dims drops the trailing 1
			}
			if !reflect.DeepEqual(ti.Dims, wantDims) || ti.Offset != off || ti.Type != r.Type {
				t.Errorf("part %d, %s: %+v, want dims %v at offset %d", k+1, ti.Name, ti, wantDims, off)
			}
			off += (ti.Size + 31) &^ 31
			d, _ := f.TensorData(ti.Name)
			rd, _ := ref.TensorData(ti.Name)
			if !bytes.Equal(d, rd) {
				t.Errorf("part %d, %s: data differs", k+1, ti.Name)
			}
		}
		if !reflect.DeepEqual(gotNames, p) {
			t.Errorf("part %d holds %v, want %v", k+1, gotNames, p)
		}
		if st, _ := os.Stat(f.Path()); st.Size() != f.DataOffset()+off {
			t.Errorf("part %d: %d bytes, want the data padded to the end (%d)", k+1, st.Size(), f.DataOffset()+off)
		}
		f.Close()
	}
}

// Split keys given to AddKV move to the end of the first part, as
// gguf_set_val moves them in llama-gguf-split.
func TestSplitWriterMovesSplitKeys(t *testing.T) {
	dir := t.TempDir()
	w, _ := Create(filepath.Join(dir, "m"), WithSplit(Split{MaxTensors: 1}))
	w.AddKV(KeySplitCount, Uint16(9))
	w.AddKV("general.architecture", String("llama"))
	w.AddTensor("a", quant.F32, []int64{8})
	w.Write(make([]byte, 32))
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	f, err := Open(filepath.Join(dir, "m-00001-of-00001.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var keys []string
	for _, kv := range f.Metadata() {
		keys = append(keys, kv.Key)
	}
	if want := []string{"general.architecture", KeySplitNo, KeySplitTensorsCount, KeySplitCount}; !reflect.DeepEqual(keys, want) {
		t.Errorf("keys %v, want %v", keys, want)
	}
	if v, _ := f.Lookup(KeySplitCount); v.Any() != uint16(1) {
		t.Errorf("split.count = %v", v)
	}
}

func TestSplitWriterRejects(t *testing.T) {
	dir := t.TempDir()
	for _, s := range []Split{{}, {MaxBytes: 1, MaxTensors: 1}, {MaxBytes: -1}, {MaxTensors: -1}} {
		if _, err := Create(filepath.Join(dir, "m"), WithSplit(s)); !errors.Is(err, ErrInvalidOption) {
			t.Errorf("WithSplit(%+v): %v", s, err)
		}
	}
	if _, err := NewWriter(&bytes.Buffer{}, WithSplit(Split{MaxTensors: 1})); !errors.Is(err, ErrInvalidOption) {
		t.Errorf("NewWriter with WithSplit: %v", err)
	}
	// The first tensor over the size limit: nothing is written.
	w, _ := Create(filepath.Join(dir, "m"), WithSplit(Split{MaxBytes: 16}))
	w.AddTensor("a", quant.F32, []int64{8})
	if _, err := w.Write(make([]byte, 32)); !errors.Is(err, ErrSplitLimit) {
		t.Errorf("first tensor over the limit: %v", err)
	}
	// Another alignment.
	w, _ = Create(filepath.Join(dir, "m"), WithSplit(Split{MaxTensors: 1}))
	w.AddKV(KeyAlignment, Uint32(64))
	w.AddTensor("a", quant.F32, []int64{8})
	if err := w.Commit(); !errors.Is(err, ErrBadAlignment) {
		t.Errorf("alignment 64: %v", err)
	}
	if names := dirEntries(t, dir); len(names) != 0 {
		t.Errorf("directory holds %v", names)
	}
}

// Nothing of the set appears until Commit, and nothing is left after an
// Abort, a cancelled context or a clash with an existing part.
func TestSplitWriterAllOrNothing(t *testing.T) {
	kvs, ts := splitModel()
	start := func(t *testing.T, path string, opts ...WriterOption) *Writer {
		w, err := Create(path, append(opts, WithSplit(Split{MaxTensors: 2}))...)
		if err != nil {
			t.Fatal(err)
		}
		for _, kv := range kvs {
			w.AddKV(kv.Key, kv.Value)
		}
		for _, st := range ts {
			w.AddTensor(st.name, quant.F32, st.dims)
		}
		for i, st := range ts[:5] { // parts 1 and 2 complete, part 3 begun
			if _, err := w.Write(tensorBytes(i, st.dims)); err != nil {
				t.Fatal(err)
			}
		}
		return w
	}
	noneLeft := func(t *testing.T, dir string, keep ...string) {
		t.Helper()
		if names := dirEntries(t, dir); !reflect.DeepEqual(names, keep) && !(len(names) == 0 && len(keep) == 0) {
			t.Errorf("directory holds %v, want %v", names, keep)
		}
	}
	t.Run("before commit", func(t *testing.T) {
		dir := t.TempDir()
		w := start(t, filepath.Join(dir, "m"))
		for _, n := range dirEntries(t, dir) {
			if !strings.HasPrefix(n, ".") || !strings.HasSuffix(n, ".tmp") {
				t.Errorf("%s visible before Commit", n)
			}
		}
		w.Abort()
		noneLeft(t, dir)
	})
	t.Run("cancelled", func(t *testing.T) {
		dir := t.TempDir()
		ctx, cancel := context.WithCancel(context.Background())
		w := start(t, filepath.Join(dir, "m"), WithContext(ctx))
		cancel()
		if _, err := w.Write(tensorBytes(5, ts[5].dims)); !errors.Is(err, context.Canceled) {
			t.Errorf("Write after cancel: %v", err)
		}
		noneLeft(t, dir)
	})
	t.Run("incomplete", func(t *testing.T) {
		dir := t.TempDir()
		w := start(t, filepath.Join(dir, "m"))
		if err := w.Commit(); !errors.Is(err, ErrIncomplete) {
			t.Errorf("Commit with data missing: %v", err)
		}
		noneLeft(t, dir)
	})
	t.Run("existing part", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "m-00002-of-00003.gguf"), []byte("old"), 0o644)
		w, _ := Create(filepath.Join(dir, "m"), WithSplit(Split{MaxTensors: 2}))
		for _, st := range ts {
			w.AddTensor(st.name, quant.F32, st.dims)
		}
		if _, err := w.Write(tensorBytes(0, ts[0].dims)); !errors.Is(err, fs.ErrExist) {
			t.Errorf("an existing part: %v, want fs.ErrExist", err)
		}
		noneLeft(t, dir, "m-00002-of-00003.gguf")
		// Overwrite replaces it.
		writeSplit(t, filepath.Join(dir, "m"), WithSplit(Split{MaxTensors: 2}), Overwrite())
		if b, _ := os.ReadFile(filepath.Join(dir, "m-00002-of-00003.gguf")); bytes.Equal(b, []byte("old")) {
			t.Error("Overwrite kept the old part")
		}
	})
}

func TestOpenModelSplit(t *testing.T) {
	dir := t.TempDir()
	single := writeSplit(t, filepath.Join(dir, "m"), WithSplit(Split{MaxTensors: 2}))
	ref, _ := Parse(single)
	m, err := OpenModel(filepath.Join(dir, "m-00001-of-00003.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if len(m.Parts()) != 3 || m.Path() != filepath.Join(dir, "m-00001-of-00003.gguf") {
		t.Errorf("parts %d, path %s", len(m.Parts()), m.Path())
	}
	if v, _ := m.Lookup("general.architecture"); v.Any() != "llama" {
		t.Errorf("metadata: %v", v)
	}
	if len(m.Tensors()) != len(ref.Tensors()) {
		t.Fatalf("%d tensors, want %d", len(m.Tensors()), len(ref.Tensors()))
	}
	for i, ti := range m.Tensors() {
		r := ref.Tensors()[i]
		_, part, _ := m.Tensor(ti.Name)
		d, err := m.TensorData(ti.Name)
		rd, _ := ref.TensorData(r.Name)
		if ti.Name != r.Name || part != i/2 || err != nil || !bytes.Equal(d, rd) {
			t.Errorf("tensor %d: %s in part %d (%v), want %s in part %d with the same data", i, ti.Name, part, err, r.Name, i/2)
		}
		if err := m.ReleaseRange(ti.Name, 0, 4); err != nil {
			t.Error(err)
		}
	}
	if _, _, err := m.Tensor("nope"); !errors.Is(err, ErrTensorNotFound) {
		t.Errorf("unknown tensor: %v", err)
	}
	// A later part opens alone; a single file is a one-part model.
	p2, err := OpenModel(filepath.Join(dir, "m-00002-of-00003.gguf"))
	if err != nil || len(p2.Parts()) != 1 || len(p2.Tensors()) != 2 {
		t.Errorf("a later part: %v", err)
	} else {
		p2.Close()
	}
	os.WriteFile(filepath.Join(dir, "single.gguf"), single, 0o644)
	s, err := OpenModel(filepath.Join(dir, "single.gguf"))
	if err != nil || len(s.Parts()) != 1 || len(s.Tensors()) != 6 {
		t.Errorf("a single file: %v", err)
	} else {
		s.Close()
	}
}

// writePart writes a GGUF file with the given metadata and one F32 tensor
// per name.
func writePart(t *testing.T, path string, kvs []KV, names ...string) {
	t.Helper()
	w, err := Create(path, Overwrite())
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range kvs {
		w.AddKV(kv.Key, kv.Value)
	}
	for _, n := range names {
		w.AddTensor(n, quant.F32, []int64{8})
	}
	for range names {
		w.Write(make([]byte, 32))
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
}

func TestOpenModelInconsistent(t *testing.T) {
	keys := func(no, count uint16, tensors int32) []KV {
		return []KV{{KeySplitNo, Uint16(no)}, {KeySplitCount, Uint16(count)}, {KeySplitTensorsCount, Int32(tensors)}}
	}
	for _, c := range []struct {
		name  string
		parts [][]KV // nil: the part is missing
		first string
		err   error
		msg   string
	}{
		{"missing part", [][]KV{keys(0, 3, 3), keys(1, 3, 3), nil}, "m-00001-of-00003.gguf", fs.ErrNotExist, "m-00003-of-00003.gguf"},
		{"wrong split.no", [][]KV{keys(0, 2, 2), keys(0, 2, 2)}, "m-00001-of-00002.gguf", ErrSplit, `key "split.no": inconsistent split model: 0, but the file is named as part 2 of 2`},
		{"other split.count", [][]KV{keys(0, 2, 2), keys(1, 3, 2)}, "m-00001-of-00002.gguf", ErrSplit, "different splits"},
		{"tensor count", [][]KV{keys(0, 2, 5), keys(1, 2, 5)}, "m-00001-of-00002.gguf", ErrSplit, "5 tensors, but the 2 parts hold 2"},
		{"bad name", [][]KV{keys(0, 2, 2), keys(1, 2, 2)}, "m.gguf", ErrSplit, "cannot be found"},
		{"wrong type", [][]KV{{{KeySplitNo, Uint16(0)}, {KeySplitCount, Uint32(2)}}}, "m-00001-of-00002.gguf", ErrSplit, "stored as UINT32"},
		{"no split.no", [][]KV{{{KeySplitCount, Uint16(2)}}}, "m-00001-of-00002.gguf", ErrSplit, `key "split.no": inconsistent split model: missing`},
		{"no tensor count", [][]KV{keys(0, 2, 2)[:2], keys(1, 2, 2)}, "m-00001-of-00002.gguf", ErrSplit, "split.tensors.count"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			n := len(c.parts)
			for k, kvs := range c.parts {
				if kvs == nil {
					continue
				}
				name := SplitPath(filepath.Join(dir, "m"), k, n)
				if k == 0 {
					name = filepath.Join(dir, c.first)
				}
				writePart(t, name, kvs, "t"+string(rune('0'+k)))
			}
			_, err := OpenModel(filepath.Join(dir, c.first))
			if !errors.Is(err, c.err) || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("%v; want %v containing %q", err, c.err, c.msg)
			}
			if errors.Is(err, ErrSplit) && !errors.Is(err, ErrFormat) {
				t.Errorf("%v is not in class ErrFormat", err)
			}
		})
	}
	t.Run("tensor in two parts", func(t *testing.T) {
		dir := t.TempDir()
		writePart(t, SplitPath(filepath.Join(dir, "m"), 0, 2), keys(0, 2, 2), "a")
		writePart(t, SplitPath(filepath.Join(dir, "m"), 1, 2), keys(1, 2, 2), "a")
		_, err := OpenModel(SplitPath(filepath.Join(dir, "m"), 0, 2))
		if !errors.Is(err, ErrSplit) || !strings.Contains(err.Error(), `tensor "a": inconsistent split model: also in part 1`) {
			t.Errorf("%v", err)
		}
	})
}
