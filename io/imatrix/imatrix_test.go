package imatrix

import (
	"errors"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wick-ml/wick/io/gguf"
)

func nan32() float32 { return float32(math.NaN()) }

func mustParse(t *testing.T, b []byte) *File {
	t.Helper()
	f, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func mustValues(t *testing.T, f *File, name string) []float32 {
	t.Helper()
	v, err := f.Values(name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func sameBits(a, b []float32) bool {
	return slices.EqualFunc(a, b, func(x, y float32) bool { return math.Float32bits(x) == math.Float32bits(y) })
}

func TestLegacy(t *testing.T) {
	b := legacyBytes([]legacyEntry{
		{"blk.1.ffn_down.weight", 4, []float32{8, 2, 1, 0}},
		{"blk.0.attn_q.weight", 3, []float32{6, 0.3, 3e-30}},
		{"output.weight", 0, []float32{5, 7}},      // ncall 0: stored values as they are
		{"token_embd.weight", -2, []float32{9, 1}}, // negative ncall: likewise
		{"blk.0.attn_k.weight", 16777217, []float32{16777216, 1}},
	}, i32p(42), strp("calibration.txt"))
	f := mustParse(t, b)
	if f.Format() != FormatLegacy || f.Format().String() != "legacy" {
		t.Fatalf("format %v", f.Format())
	}
	var names []string
	for _, e := range f.Entries() {
		names = append(names, e.Name)
	}
	want := []string{"blk.0.attn_k.weight", "blk.0.attn_q.weight", "blk.1.ffn_down.weight", "output.weight", "token_embd.weight"}
	if !slices.Equal(names, want) {
		t.Fatalf("entries %q, want %q (sorted by name)", names, want)
	}
	if f.ChunkCount() != 42 || f.ChunkSize() != 0 || !slices.Equal(f.Datasets(), []string{"calibration.txt"}) || f.HasMetadata() || f.Metadata() != nil {
		t.Fatalf("chunks %d size %d datasets %q meta %v", f.ChunkCount(), f.ChunkSize(), f.Datasets(), f.HasMetadata())
	}
	e, ok := f.Entry("blk.0.attn_q.weight")
	if !ok || e.Len != 3 || e.Matrices != 1 || e.RowLen() != 3 || e.NCall != 3 || e.Counts != nil {
		t.Fatalf("entry %+v", e)
	}
	cases := map[string][]float32{
		"blk.1.ffn_down.weight": {2, 0.5, 0.25, 0},
		// float32 division, as llama.cpp's float / int64 → float
		"blk.0.attn_q.weight": {2, float32(0.3) / 3, float32(3e-30) / 3},
		"output.weight":       {5, 7},
		"token_embd.weight":   {9, 1},
		// ncall 16777217 becomes the float32 16777216 before dividing
		"blk.0.attn_k.weight": {1, float32(1) / 16777216},
	}
	for name, w := range cases {
		if got := mustValues(t, f, name); !sameBits(got, w) {
			t.Errorf("%s: Values %v, want %v", name, got, w)
		}
	}
	sums, err := f.Sums("blk.1.ffn_down.weight")
	if err != nil || !sameBits(sums, []float32{8, 2, 1, 0}) {
		t.Fatalf("Sums %v %v", sums, err)
	}
	if err := f.CheckQuantize(); err != nil {
		t.Fatal(err)
	}
}

func TestLegacyTrailer(t *testing.T) {
	entries := []legacyEntry{{"a.weight", 1, []float32{1}}}
	for _, c := range []struct {
		name     string
		chunks   *int32
		dataset  *string
		count    int64
		datasets []string
	}{
		{"none", nil, nil, 0, nil},
		{"chunks only", i32p(7), nil, 7, nil},
		{"empty dataset", i32p(-3), strp(""), -3, nil},
		{"dataset", i32p(1), strp("d.txt"), 1, []string{"d.txt"}},
	} {
		f := mustParse(t, legacyBytes(entries, c.chunks, c.dataset))
		if f.ChunkCount() != c.count || !slices.Equal(f.Datasets(), c.datasets) {
			t.Errorf("%s: chunks %d datasets %q", c.name, f.ChunkCount(), f.Datasets())
		}
	}
}

func TestGGUF(t *testing.T) {
	b := ggufBytes(t, []ggufEntry{
		{"blk.0.attn_q.weight", []float32{10, 20, 30, 40}, []float32{10}},
		// three experts of 2 columns: counts 4, 0 (no token: weights 1), 3
		{"blk.0.ffn_down_exps.weight", []float32{4, 8, nan32(), 5, 1, 2}, []float32{4, 0, 3}},
		{"blk.0.ffn_up.weight", []float32{1, 2}, []float32{2.5}}, // lround: 3
		{"blk.0.ffn_gate.weight", []float32{1, 2}, []float32{2.4999}},
	}, ggufMeta{datasets: []string{"a.txt", "b.txt"}, chunkCount: u32p(12), chunkSize: u32p(512),
		extra: []gguf.KV{{Key: "stray.tensor.note", Value: gguf.String("x")}}})
	f := mustParse(t, b)
	if f.Format() != FormatGGUF || f.Format().String() != "gguf" || !f.HasMetadata() {
		t.Fatalf("format %v metadata %v", f.Format(), f.HasMetadata())
	}
	if f.ChunkCount() != 12 || f.ChunkSize() != 512 || !slices.Equal(f.Datasets(), []string{"a.txt", "b.txt"}) {
		t.Fatalf("chunks %d size %d datasets %q", f.ChunkCount(), f.ChunkSize(), f.Datasets())
	}
	if len(f.Metadata()) != 5 {
		t.Fatalf("metadata %v", f.Metadata())
	}
	e, _ := f.Entry("blk.0.ffn_down_exps.weight")
	if e.Len != 6 || e.Matrices != 3 || e.RowLen() != 2 || !slices.Equal(e.Counts, []int64{4, 0, 3}) || e.NCall != 0 {
		t.Fatalf("entry %+v", e)
	}
	cases := map[string][]float32{
		"blk.0.attn_q.weight":        {1, 2, 3, 4},
		"blk.0.ffn_down_exps.weight": {1, 2, 1, 1, float32(1) / 3, float32(2) / 3},
		"blk.0.ffn_up.weight":        {float32(1) / 3, float32(2) / 3},
		"blk.0.ffn_gate.weight":      {0.5, 1},
	}
	for name, w := range cases {
		if got := mustValues(t, f, name); !sameBits(got, w) {
			t.Errorf("%s: Values %v, want %v", name, got, w)
		}
	}
	if s, _ := f.Sums("blk.0.ffn_down_exps.weight"); !math.IsNaN(float64(s[2])) {
		t.Fatalf("Sums must return the stored values: %v", s)
	}
	if err := f.CheckQuantize(); err != nil {
		t.Fatal(err)
	}
}

func TestGGUFIgnoresOtherTensors(t *testing.T) {
	var buf = ggufBytes(t, []ggufEntry{{"x.weight", []float32{1}, []float32{1}}}, fullMeta())
	f := mustParse(t, buf)
	if len(f.Entries()) != 1 {
		t.Fatal(f.Entries())
	}
	// a GGUF model file has no pairs: a precise error that says what it is
	model := ggufWithTensors(t, map[string]any{"general.type": "model"}, "token_embd.weight", "output.weight")
	_, err := Parse(model)
	if !errors.Is(err, ErrNoEntries) || !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), `general.type is "model"`) {
		t.Fatalf("model file: %v", err)
	}
}

// ggufWithTensors writes a GGUF file with string metadata and F32 tensors
// of one element each.
func ggufWithTensors(t *testing.T, meta map[string]any, names ...string) []byte {
	t.Helper()
	var kvs []gguf.KV
	for k, v := range meta {
		kvs = append(kvs, gguf.KV{Key: k, Value: gguf.String(v.(string))})
	}
	return rawGGUF(t, kvs, names...)
}

func TestMissingMetadata(t *testing.T) {
	for _, m := range []ggufMeta{
		{chunkCount: u32p(1), chunkSize: u32p(1)},
		{datasets: []string{"x"}, chunkSize: u32p(1)},
		{datasets: []string{"x"}, chunkCount: u32p(1)},
	} {
		f := mustParse(t, ggufBytes(t, []ggufEntry{{"a.weight", []float32{1}, []float32{1}}}, m))
		if f.HasMetadata() {
			t.Fatal("HasMetadata with a key missing")
		}
		if _, err := f.Values("a.weight"); err != nil {
			t.Fatalf("Values must work without metadata: %v", err)
		}
		if err := f.CheckQuantize(); !errors.Is(err, ErrMissingMetadata) || !errors.Is(err, ErrFormat) {
			t.Fatalf("CheckQuantize: %v", err)
		}
	}
	// an empty dataset list still counts as present (llama-imatrix writes
	// one when it had no prompt file)
	f := mustParse(t, ggufBytes(t, []ggufEntry{{"a.weight", []float32{1}, []float32{1}}},
		ggufMeta{datasets: []string{}, chunkCount: u32p(0), chunkSize: u32p(512)}))
	if !f.HasMetadata() || len(f.Datasets()) != 0 || f.CheckQuantize() != nil {
		t.Fatalf("empty datasets: %v %q %v", f.HasMetadata(), f.Datasets(), f.CheckQuantize())
	}
}

func TestNonFinite(t *testing.T) {
	inf := float32(math.Inf(1))
	for _, b := range [][]byte{
		legacyBytes([]legacyEntry{{"a.weight", 1, []float32{1}}, {"b.weight", 2, []float32{1, inf}}}, nil, nil),
		legacyBytes([]legacyEntry{{"a.weight", 1, []float32{1}}, {"b.weight", 0, []float32{nan32(), 1}}}, nil, nil),
		ggufBytes(t, []ggufEntry{{"a.weight", []float32{1}, []float32{1}}, {"b.weight", []float32{1, 2, inf, 3}, []float32{1, 5}}}, fullMeta()),
	} {
		f := mustParse(t, b)
		if _, err := f.Values("a.weight"); err != nil {
			t.Fatal(err)
		}
		_, err := f.Values("b.weight")
		if !errors.Is(err, ErrNonFinite) || !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), `entry "b.weight"`) {
			t.Fatalf("Values: %v", err)
		}
		// llama-quantize checks every entry, used or not
		if err := f.CheckQuantize(); !errors.Is(err, ErrNonFinite) {
			t.Fatalf("CheckQuantize: %v", err)
		}
	}
}

func TestLookupErrors(t *testing.T) {
	f := mustParse(t, legacyBytes([]legacyEntry{{"a.weight", 1, []float32{1}}}, nil, nil))
	if _, err := f.Values("b.weight"); !errors.Is(err, ErrEntryNotFound) || !errors.Is(err, ErrArgument) {
		t.Fatal(err)
	}
	if _, ok := f.Entry("b.weight"); ok {
		t.Fatal("Entry found a missing name")
	}
	f.Close()
	f.Close() // idempotent
	if _, err := f.Values("a.weight"); !errors.Is(err, ErrClosed) {
		t.Fatal(err)
	}
	if err := f.CheckQuantize(); !errors.Is(err, ErrClosed) {
		t.Fatal(err)
	}
	if len(f.Entries()) != 1 {
		t.Fatal("entries must stay valid after Close")
	}
}

func TestOptions(t *testing.T) {
	b := legacyBytes([]legacyEntry{{"a.weight", 1, []float32{1}}, {"b.weight", 1, []float32{1}}}, nil, nil)
	if _, err := Parse(b, WithMaxEntries(1)); !errors.Is(err, ErrBadCount) || !errors.Is(err, ErrLimit) {
		t.Fatalf("legacy WithMaxEntries: %v", err)
	}
	g := ggufBytes(t, []ggufEntry{{"a.weight", []float32{1}, []float32{1}}, {"b.weight", []float32{1}, []float32{1}}}, fullMeta())
	if _, err := Parse(g, WithMaxEntries(1)); !errors.Is(err, ErrBadCount) || !errors.Is(err, ErrLimit) {
		t.Fatalf("gguf WithMaxEntries: %v", err)
	}
	if _, err := Parse(g, WithGGUFOptions(gguf.WithMaxStringLength(64), gguf.WithMaxArrayLength(0))); !errors.Is(err, gguf.ErrInvalidOption) {
		t.Fatalf("gguf options must reach the GGUF reader: %v", err)
	}
	if _, err := Parse(b, WithMaxEntries(0)); !errors.Is(err, ErrInvalidOption) || !errors.Is(err, ErrArgument) {
		t.Fatal(err)
	}
	if _, err := Parse(b, nil, WithMmap(false)); err != nil {
		t.Fatal(err)
	}
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	files := map[string][]byte{
		"legacy.dat":   legacyBytes([]legacyEntry{{"a.weight", 2, []float32{1, 3}}}, i32p(1), strp("x")),
		"imatrix.gguf": ggufBytes(t, []ggufEntry{{"a.weight", []float32{1, 3}, []float32{2}}}, fullMeta()),
	}
	for name, b := range files {
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o644)
		for _, mm := range []bool{true, false} {
			f, err := Open(p, WithMmap(mm))
			if err != nil {
				t.Fatal(err)
			}
			if f.Path() != p {
				t.Fatal(f.Path())
			}
			if got := mustValues(t, f, "a.weight"); !sameBits(got, []float32{0.5, 1.5}) {
				t.Fatalf("%s mmap=%v: %v", name, mm, got)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := Open(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	if _, err := Open(filepath.Join(dir, "legacy.dat"), WithMaxEntries(-1)); !errors.Is(err, ErrInvalidOption) {
		t.Fatal(err)
	}
	// errors name the file
	bad := filepath.Join(dir, "bad.dat")
	os.WriteFile(bad, []byte{1, 0, 0}, 0o644)
	if _, err := Open(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatal(err)
	}
	badG := filepath.Join(dir, "bad.gguf")
	os.WriteFile(badG, []byte("GGUF\x03\x00\x00\x00"), 0o644)
	if _, err := Open(badG); err == nil || !strings.Contains(err.Error(), badG) || !errors.Is(err, gguf.ErrFormat) {
		t.Fatal(err)
	}
}

// hostileCase is a file that must be rejected with a specific error.
type hostileCase struct {
	name  string
	file  []byte
	want  error // the sentinel
	class error
}

func hostileCases(t testing.TB) []hostileCase {
	one := []legacyEntry{{"a.weight", 1, []float32{1}}}
	ok := legacyBytes(one, nil, nil)
	patch := func(b []byte, at int, v ...byte) []byte {
		c := slices.Clone(b)
		copy(c[at:], v)
		return c
	}
	g := func(entries []ggufEntry, m ggufMeta) []byte { return ggufBytes(t, entries, m) }
	e1 := []ggufEntry{{"a.weight", []float32{1, 2}, []float32{1}}}
	metaWith := func(kv gguf.KV) ggufMeta {
		m := ggufMeta{}
		for _, k := range []string{KeyDatasets, KeyChunkCount, KeyChunkSize} {
			if k == kv.Key {
				m.extra = append(m.extra, kv)
				continue
			}
			switch k {
			case KeyDatasets:
				m.datasets = []string{"d"}
			case KeyChunkCount:
				m.chunkCount = u32p(1)
			case KeyChunkSize:
				m.chunkSize = u32p(1)
			}
		}
		return m
	}
	return []hostileCase{
		{"empty", nil, ErrTruncated, ErrFormat},
		{"short count", []byte{1, 0}, ErrTruncated, ErrFormat},
		{"zero entries", []byte{0, 0, 0, 0}, ErrNoEntries, ErrFormat},
		{"negative entries", []byte{0xff, 0xff, 0xff, 0xff}, ErrNoEntries, ErrFormat},
		{"huge entry count", patch(ok, 0, 0xff, 0xff, 0xff, 0x7f), ErrBadCount, ErrFormat},
		{"negative name length", patch(ok, 4, 0xfe, 0xff, 0xff, 0xff), ErrBadString, ErrFormat},
		{"name past the end", patch(ok, 4, 0xff, 0, 0, 0), ErrTruncated, ErrFormat},
		{"empty name", legacyBytes([]legacyEntry{{"", 1, []float32{1, 2, 3}}}, nil, nil), ErrBadString, ErrFormat},
		{"NUL in name", legacyBytes([]legacyEntry{{"a\x00b", 1, []float32{1}}}, nil, nil), ErrBadString, ErrFormat},
		{"bad UTF-8 name", legacyBytes([]legacyEntry{{"a\xffb", 1, []float32{1}}}, nil, nil), ErrBadString, ErrFormat},
		{"zero values", legacyBytes([]legacyEntry{{"a.weight", 1, nil}, {"b", 1, []float32{1, 2}}}, nil, nil), ErrBadLength, ErrFormat},
		{"negative values", patch(ok, 4+4+8+4, 0xff, 0xff, 0xff, 0xff), ErrBadLength, ErrFormat},
		{"values past the end", patch(ok, 4+4+8+4, 2), ErrTruncated, ErrFormat},
		{"truncated values", ok[:len(ok)-1], ErrTruncated, ErrFormat},
		{"duplicate name", legacyBytes([]legacyEntry{one[0], one[0]}, nil, nil), ErrDuplicateEntry, ErrFormat},
		{"partial chunk count", append(slices.Clone(ok), 1, 0), ErrTruncated, ErrFormat},
		{"partial dataset length", append(legacyBytes(one, i32p(1), nil), 1), ErrTruncated, ErrFormat},
		{"negative dataset length", append(legacyBytes(one, i32p(1), nil), 0xff, 0xff, 0xff, 0xff), ErrBadString, ErrFormat},
		{"dataset past the end", append(legacyBytes(one, i32p(1), nil), 9, 0, 0, 0, 'a'), ErrTruncated, ErrFormat},
		{"NUL in dataset", legacyBytes(one, i32p(1), strp("a\x00")), ErrBadString, ErrFormat},
		{"trailing data", append(legacyBytes(one, i32p(1), strp("d")), 0), ErrTrailingData, ErrFormat},
		{"legacy dataset only zero length then junk", append(legacyBytes(one, i32p(1), strp("")), 7), ErrTrailingData, ErrFormat},

		{"gguf container", []byte("GGUF\x03\x00\x00\x00\x01"), gguf.ErrTruncated, gguf.ErrFormat},
		{"gguf no tensors", rawGGUF(t, nil), ErrNoEntries, ErrFormat},
		{"gguf no pairs", rawGGUF(t, nil, "a.weight"), ErrNoEntries, ErrFormat},
		{"gguf sums without counts", rawGGUF(t, nil, "a.weight.in_sum2"), ErrUnpaired, ErrFormat},
		{"gguf counts without sums", rawGGUF(t, nil, "a.weight.counts"), ErrUnpaired, ErrFormat},
		{"gguf empty entry name", rawGGUF(t, nil, ".in_sum2", ".counts"), ErrBadString, ErrFormat},
		{"gguf F16 sums", typedGGUF(t, "F16", "F32"), ErrBadType, ErrFormat},
		{"gguf Q8_0 counts", typedGGUF(t, "F32", "Q8_0"), ErrBadType, ErrFormat},
		{"gguf empty sums", shapedGGUF(t, []int64{0, 1}, []int64{1, 1}), ErrBadLength, ErrFormat},
		{"gguf empty counts", shapedGGUF(t, []int64{4, 1}, []int64{1, 0}), ErrBadLength, ErrFormat},
		{"gguf ragged", shapedGGUF(t, []int64{5, 1}, []int64{1, 2}), ErrBadLength, ErrFormat},
		{"gguf negative count", g([]ggufEntry{{"a.weight", []float32{1}, []float32{-1}}}, fullMeta()), ErrBadCount, ErrFormat},
		{"gguf NaN count", g([]ggufEntry{{"a.weight", []float32{1}, []float32{nan32()}}}, fullMeta()), ErrBadCount, ErrFormat},
		{"gguf infinite count", g([]ggufEntry{{"a.weight", []float32{1}, []float32{float32(math.Inf(1))}}}, fullMeta()), ErrBadCount, ErrFormat},
		{"gguf count 2^63", g([]ggufEntry{{"a.weight", []float32{1}, []float32{0x1p63}}}, fullMeta()), ErrBadCount, ErrFormat},
		{"gguf datasets not strings", g(e1, metaWith(gguf.KV{Key: KeyDatasets, Value: gguf.Array([]uint32{1})})), ErrBadMetadata, ErrFormat},
		{"gguf datasets a string", g(e1, metaWith(gguf.KV{Key: KeyDatasets, Value: gguf.String("d")})), ErrBadMetadata, ErrFormat},
		{"gguf chunk_count INT32", g(e1, metaWith(gguf.KV{Key: KeyChunkCount, Value: gguf.Int32(1)})), ErrBadMetadata, ErrFormat},
		{"gguf chunk_size UINT64", g(e1, metaWith(gguf.KV{Key: KeyChunkSize, Value: gguf.Uint64(1)})), ErrBadMetadata, ErrFormat},
	}
}

func TestHostile(t *testing.T) {
	for _, c := range hostileCases(t) {
		f, err := Parse(c.file)
		if err == nil {
			t.Errorf("%s: accepted (%d entries)", c.name, len(f.Entries()))
			continue
		}
		if !errors.Is(err, c.want) || !errors.Is(err, c.class) {
			t.Errorf("%s: %v; want %v in class %v", c.name, err, c.want, c.class)
		}
		if !strings.HasPrefix(err.Error(), "imatrix: ") {
			t.Errorf("%s: message %q does not start with the package name", c.name, err)
		}
	}
	// a truncated legacy file also matches io.ErrUnexpectedEOF
	if _, err := Parse([]byte{1}); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatal(err)
	}
}

// rawGGUF writes a GGUF file with the given metadata and an F32 tensor of
// shape [1] per name.
func rawGGUF(t testing.TB, kvs []gguf.KV, names ...string) []byte {
	t.Helper()
	w, buf := newGGUF(t)
	for _, kv := range kvs {
		if err := w.AddKV(kv.Key, kv.Value); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range names {
		if err := w.AddTensor(n, 0, []int64{1}); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range names {
		if err := w.WriteTensorData(n, f32bytes([]float32{1})); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
