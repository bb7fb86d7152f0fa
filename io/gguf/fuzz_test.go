package gguf

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/wick-ml/wick/quant"
)

// seedFiles returns the fuzz seeds: gguf-py's files, the spec example and
// every hostile case.
func seedFiles(t testing.TB) map[string][]byte {
	seeds := map[string][]byte{"spec-example": specExample()}
	for _, name := range []string{"example.gguf", "all_types.gguf", "nested.gguf"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		seeds[name] = b
	}
	for i, c := range hostileCases() {
		seeds[fmt.Sprintf("hostile-%02d", i)] = c.file
	}
	return seeds
}

// TestWriteSeedCorpus writes seedFiles into testdata/fuzz/FuzzParse when
// WICK_WRITE_CORPUS=1 (run by hand after changing the seeds).
func TestWriteSeedCorpus(t *testing.T) {
	if os.Getenv("WICK_WRITE_CORPUS") != "1" {
		t.Skip("set WICK_WRITE_CORPUS=1 to rewrite the seed corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzParse")
	os.MkdirAll(dir, 0o755)
	for name, b := range seedFiles(t) {
		content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		if err := os.WriteFile(filepath.Join(dir, "seed-"+name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// FuzzParse feeds arbitrary bytes to the reader. It must never panic, must
// agree with the memory-mapped reader, must classify every error, and
// every file it accepts must keep its invariants and be rewritten by the
// Writer into a file that reads back the same.
func FuzzParse(f *testing.F) {
	for _, b := range seedFiles(f) {
		f.Add(b)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data)
		p := filepath.Join(dir, "in.gguf")
		if werr := os.WriteFile(p, data, 0o644); werr != nil {
			t.Fatal(werr)
		}
		g, gerr := Open(p)
		if (gerr == nil) != (err == nil) || (gerr != nil && !errors.Is(gerr, errors.Unwrap(err))) {
			t.Fatalf("Open error %v, Parse error %v", gerr, err)
		}
		if gerr == nil {
			sameFile(t, g, file)
			g.Close()
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || !(errors.Is(err, ErrFormat) || errors.Is(err, ErrLimit)) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		expected := int64(0)
		for _, ti := range file.Tensors() {
			if ti.Offset != expected || ti.Offset%int64(file.Alignment()) != 0 {
				t.Fatalf("%q at %d, want %d", ti.Name, ti.Offset, expected)
			}
			d, err := file.TensorData(ti.Name)
			if err != nil || int64(len(d)) != ti.Size {
				t.Fatalf("%q: %v, %d bytes, want %d", ti.Name, err, len(d), ti.Size)
			}
			expected += (ti.Size + int64(file.Alignment()) - 1) / int64(file.Alignment()) * int64(file.Alignment())
		}
		again, err := Parse(rewrite(t, file, 1<<16))
		if err != nil {
			t.Fatalf("rewritten file rejected: %v", err)
		}
		sameTensorsAndMetadata(t, again, file)
	})
}

// sameTensorsAndMetadata compares content, not layout (a rewrite is v3 and
// may pad differently than a v2 or unpadded original).
func sameTensorsAndMetadata(t *testing.T, a, b *File) {
	t.Helper()
	if fmt.Sprint(normalize(t, kvsJSON(a.Metadata()))) != fmt.Sprint(normalize(t, kvsJSON(b.Metadata()))) {
		t.Fatalf("metadata differs")
	}
	ta, tb := a.Tensors(), b.Tensors()
	if len(ta) != len(tb) {
		t.Fatalf("%d vs %d tensors", len(ta), len(tb))
	}
	for i := range ta {
		da, _ := a.TensorData(ta[i].Name)
		db, _ := b.TensorData(tb[i].Name)
		if ta[i].Name != tb[i].Name || ta[i].Type != tb[i].Type || fmt.Sprint(ta[i].Dims) != fmt.Sprint(tb[i].Dims) || !bytes.Equal(da, db) {
			t.Fatalf("tensor %d differs", i)
		}
	}
}

// TestAllocationBound parses every seed and hostile input and requires the
// reader to allocate no more than a small multiple of the file size: no
// declared count or length is trusted before it is checked against the
// bytes present.
func TestAllocationBound(t *testing.T) {
	for name, b := range seedFiles(t) {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		Parse(b)
		runtime.ReadMemStats(&after)
		if got, limit := after.TotalAlloc-before.TotalAlloc, uint64(16*len(b)+8192); got > limit {
			t.Errorf("%s: %d bytes allocated for a %d-byte file", name, got, len(b))
		}
	}
}

// TestAllocationNotFromCounts: in a large file (as a model file is, most of
// it tensor data), counts that the bytes left could hold must still not be
// trusted for allocation before their items are decoded.
func TestAllocationNotFromCounts(t *testing.T) {
	const tail = 8 << 20 // stands for tensor data
	cases := map[string][]byte{
		// 600k KVs fit in the bytes left; the second one is garbage.
		"KV count": newGB(3, 0, tail/14).kv("a", TypeUint8).u8(1).u64(math.MaxUint64).raw(make([]byte, tail)).b,
		// 1M strings fit; the first claims more than the file holds.
		"string array count": newGB(3, 0, 1).kv("a", TypeArray).u32(uint32(TypeString)).u64(tail / 8).u64(1 << 40).raw(make([]byte, tail)).b,
		// 700k arrays of arrays fit; the first has an invalid element type.
		"nested array count": newGB(3, 0, 1).kv("a", TypeArray).u32(uint32(TypeArray)).u64(tail / 12).u32(99).raw(make([]byte, tail)).b,
		// 350k tensor infos fit; the second one is garbage.
		"tensor count": newGB(3, tail/24, 0).tensor("t", quant.F32, 0, 1).u64(math.MaxUint64).raw(make([]byte, tail)).b,
	}
	for name, b := range cases {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := Parse(b)
		runtime.ReadMemStats(&after)
		if err == nil {
			t.Fatalf("%s: accepted", name)
		}
		if got := after.TotalAlloc - before.TotalAlloc; got > 256<<10 {
			t.Errorf("%s: %d bytes allocated before failing with %v", name, got, err)
		}
	}
}
