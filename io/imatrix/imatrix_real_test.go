package imatrix

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// expectedFile is one file of testdata/expected.json: what gguf-py (GGUF)
// or a plain struct parser (legacy) sees in a file llama-imatrix wrote, and
// the weights llama-quantize derives from it (tests/golden/gen_imatrix_files.py).
type expectedFile struct {
	Format      string   `json:"format"`
	Datasets    []string `json:"datasets"`
	ChunkCount  int64    `json:"chunk_count"`
	ChunkSize   int64    `json:"chunk_size"`
	HasMetadata bool     `json:"has_metadata"`
	Entries     map[string]struct {
		Length        int       `json:"length"`
		Matrices      int       `json:"matrices"`
		Counts        []int64   `json:"counts"`
		NCall         *int32    `json:"ncall"`
		First         []float32 `json:"first"`
		WeightsSHA256 string    `json:"weights_sha256"`
		SumsSHA256    string    `json:"sums_sha256"`
	} `json:"entries"`
}

func f32SHA(x []float32) string {
	h := sha256.Sum256(f32bytes(x))
	return hex.EncodeToString(h[:])
}

// TestRealFiles reads the files llama.cpp's llama-imatrix wrote (GGUF with
// --process-output, legacy .dat, a 4-expert model with per-expert counts).
func TestRealFiles(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var exp struct {
		Files map[string]expectedFile `json:"files"`
	}
	if err := json.Unmarshal(raw, &exp); err != nil {
		t.Fatal(err)
	}
	if len(exp.Files) != 3 {
		t.Fatalf("expected.json lists %d files", len(exp.Files))
	}
	for name, want := range exp.Files {
		f, err := Open(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		if f.Format().String() != want.Format || !slices.Equal(f.Datasets(), want.Datasets) || f.ChunkCount() != want.ChunkCount ||
			f.ChunkSize() != want.ChunkSize || f.HasMetadata() != want.HasMetadata {
			t.Errorf("%s: format %v datasets %q chunks %d×%d metadata %v; want %+v", name, f.Format(), f.Datasets(),
				f.ChunkCount(), f.ChunkSize(), f.HasMetadata(), want)
		}
		if err := f.CheckQuantize(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		entries := f.Entries()
		if len(entries) != len(want.Entries) {
			t.Errorf("%s: %d entries, want %d", name, len(entries), len(want.Entries))
		}
		for _, e := range entries {
			w, ok := want.Entries[e.Name]
			if !ok {
				t.Errorf("%s: unexpected entry %q", name, e.Name)
				continue
			}
			ncallOK := (w.NCall == nil && e.Counts != nil) || (w.NCall != nil && *w.NCall == e.NCall)
			if e.Len != w.Length || e.Matrices != w.Matrices || !slices.Equal(e.Counts, w.Counts) || !ncallOK {
				t.Errorf("%s: %q: %+v, want %+v", name, e.Name, e, w)
			}
			sums, err := f.Sums(e.Name)
			if err != nil || f32SHA(sums) != w.SumsSHA256 {
				t.Errorf("%s: %q: sums differ (%v)", name, e.Name, err)
			}
			vals, err := f.Values(e.Name)
			if err != nil {
				t.Errorf("%s: %q: %v", name, e.Name, err)
				continue
			}
			if !sameBits(vals[:len(w.First)], w.First) || f32SHA(vals) != w.WeightsSHA256 {
				t.Errorf("%s: %q: weights %v…, want %v…", name, e.Name, vals[:4], w.First)
			}
		}
		f.Close()
	}
}
