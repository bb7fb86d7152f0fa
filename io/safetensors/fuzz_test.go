package safetensors

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// seedFiles returns the fuzz seeds: every hostile case of TestHostile's
// kind, valid edge cases and the reference writer's files.
func seedFiles(t testing.TB) map[string][]byte {
	seeds := map[string][]byte{
		"empty":     {},
		"minimal":   stBytes(`{}`, nil),
		"two":       stBytes(`{"__metadata__":{"k":"v"},"b":`+entry("U8", "[2,2]", 8, 12)+`,"a":`+entry("F32", "[2]", 0, 8)+`}`, make([]byte, 12)),
		"zero":      stBytes(`{"z":`+entry("F32", "[0,5]", 0, 0)+`,"s":`+entry("BOOL", "[]", 0, 1)+`}`, []byte{1}),
		"overlap":   stBytes(`{"a":`+entry("F32", "[2]", 0, 8)+`,"b":`+entry("F32", "[2]", 4, 12)+`}`, make([]byte, 12)),
		"gap":       stBytes(`{"a":`+entry("F32", "[1]", 0, 4)+`,"b":`+entry("F32", "[1]", 8, 12)+`}`, make([]byte, 12)),
		"overflow":  stBytes(`{"w":`+entry("U8", "[4294967296,4294967296]", 0, 8)+`}`, make([]byte, 8)),
		"f4":        stBytes(`{"w":`+entry("F4", "[3]", 0, 2)+`}`, make([]byte, 2)),
		"unknown":   stBytes(`{"w":{"x":[[{"y":null}]],"dtype":"F8_E8M0","shape":[1],"data_offsets":[0,1]}}`, []byte{127}),
		"duplicate": stBytes(`{"w":`+entry("F32", "[2]", 0, 8)+`,"w":`+entry("F32", "[2]", 0, 8)+`}`, make([]byte, 8)),
	}
	for _, name := range []string{"all_dtypes.safetensors", "sharded/model-00001-of-00002.safetensors", "sharded/model-00002-of-00002.safetensors"} {
		b, err := os.ReadFile(filepath.Join("testdata/ref", name))
		if err != nil {
			t.Fatal(err)
		}
		seeds[filepath.Base(name)] = b
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

// FuzzParse feeds arbitrary files to the reader. It must never panic, must
// agree with the memory-mapped reader, and every file it
// accepts must satisfy the format's invariants and survive a rewrite by
// Write unchanged in content.
func FuzzParse(f *testing.F) {
	for _, b := range seedFiles(f) {
		f.Add(b)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data)
		// The memory-mapped path must agree exactly. (The read-into-memory
		// path is Parse of the same bytes; TestHostile covers it.)
		p := filepath.Join(dir, "in.safetensors")
		if werr := os.WriteFile(p, data, 0o644); werr != nil {
			t.Fatal(werr)
		}
		g, gerr := Open(p)
		if (gerr == nil) != (err == nil) || (gerr != nil && !errors.Is(gerr, unwrapOne(err))) {
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
		// Invariants: ranges tile the data section in file order.
		pos := int64(0)
		var tensors []Tensor
		for _, ti := range file.Tensors() {
			if ti.DataOffsets[0] != pos {
				t.Fatalf("%q starts at %d, want %d", ti.Name, ti.DataOffsets[0], pos)
			}
			pos = ti.DataOffsets[1]
			d, err := file.Data(ti.Name)
			if err != nil || int64(len(d)) != ti.Size() {
				t.Fatalf("%q: Data: %v, %d bytes, want %d", ti.Name, err, len(d), ti.Size())
			}
			n, err := ti.DType.ByteSize(uint64(ti.NumElements()))
			if err != nil || n != ti.Size() {
				t.Fatalf("%q: %v elements of %v are %d bytes (%v), range %d", ti.Name, ti.NumElements(), ti.DType, n, err, ti.Size())
			}
			if ti.DType.CanDecode() {
				if _, err := file.Float32(ti.Name); err != nil {
					t.Fatalf("%q: Float32: %v", ti.Name, err)
				}
			}
			tensors = append(tensors, Tensor{Name: ti.Name, DType: ti.DType, Shape: ti.Shape, Data: d})
		}
		if pos != int64(len(data))-8-file.HeaderSize() {
			t.Fatalf("tensors end at %d, data section has %d bytes", pos, int64(len(data))-8-file.HeaderSize())
		}
		var buf bytes.Buffer
		if err := Write(&buf, tensors, file.Metadata()); err != nil {
			t.Fatalf("rewrite: %v", err)
		}
		again, err := Parse(buf.Bytes())
		if err != nil {
			t.Fatalf("rewritten file rejected: %v", err)
		}
		sameFile(t, again, file)
	})
}

// TestAllocationBound parses every seed and requires the reader to
// allocate no more than a small multiple of the file size.
func TestAllocationBound(t *testing.T) {
	seeds := seedFiles(t)
	// A big header of many tiny tensors, the worst ratio of entries to bytes.
	var hb strings.Builder
	hb.WriteString("{")
	for i := range 5000 {
		if i > 0 {
			hb.WriteString(",")
		}
		fmt.Fprintf(&hb, `"%d":{"dtype":"U8","shape":[1],"data_offsets":[%d,%d]}`, i, i, i+1)
	}
	hb.WriteString("}")
	seeds["many"] = stBytes(hb.String(), make([]byte, 5000))
	for name, b := range seeds {
		var before, after, kept runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		f, err := Parse(b)
		runtime.ReadMemStats(&after)
		runtime.GC()
		runtime.ReadMemStats(&kept)
		if name == "many" && err != nil {
			t.Fatal(err)
		}
		// What the File keeps, and the garbage the JSON token decoder
		// makes on the way (about 25 bytes per header byte).
		if got, limit := int64(kept.HeapAlloc)-int64(before.HeapAlloc), int64(4*len(b)+16384); got > limit {
			t.Errorf("%s: %d bytes kept for a %d-byte file", name, got, len(b))
		}
		if got, limit := after.TotalAlloc-before.TotalAlloc, uint64(32*len(b)+16384); got > limit {
			t.Errorf("%s: %d bytes allocated for a %d-byte file", name, got, len(b))
		}
		runtime.KeepAlive(f)
		t.Logf("%s: %d bytes: kept %d, allocated %d", name, len(b), int64(kept.HeapAlloc)-int64(before.HeapAlloc), after.TotalAlloc-before.TotalAlloc)
	}
}
