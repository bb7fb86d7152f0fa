package imatrix

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wick-ml/wick/io/gguf"
)

// seedFiles returns the fuzz seeds: valid files of both formats and every
// hostile case (FuzzParse adds the real files in testdata too).
func seedFiles(t testing.TB) map[string][]byte {
	seeds := map[string][]byte{
		"legacy": legacyBytes([]legacyEntry{
			{"blk.0.attn_q.weight", 3, []float32{6, 0.3, 3}},
			{"blk.0.ffn_down.weight", 0, []float32{1, 2}},
		}, i32p(4), strp("calibration.txt")),
		"legacy-no-trailer": legacyBytes([]legacyEntry{{"a.weight", 1, []float32{1}}}, nil, nil),
		"gguf": ggufBytes(t, []ggufEntry{
			{"blk.0.attn_q.weight", []float32{10, 20, 30, 40}, []float32{10}},
			{"blk.0.ffn_down_exps.weight", []float32{4, 8, 1, 5, 1, 2}, []float32{4, 0, 3}},
		}, fullMeta()),
		"gguf-no-metadata": ggufBytes(t, []ggufEntry{{"a.weight", []float32{1}, []float32{1}}}, ggufMeta{}),
	}
	for i, c := range hostileCases(t) {
		seeds[fmt.Sprintf("hostile-%02d", i)] = c.file
	}
	return seeds
}

// realFiles returns the files llama-imatrix wrote (testdata).
func realFiles(t testing.TB) map[string][]byte {
	seeds := map[string][]byte{}
	if entries, err := os.ReadDir("testdata"); err == nil {
		for _, e := range entries {
			if e.IsDir() || !(strings.HasSuffix(e.Name(), ".gguf") || strings.HasSuffix(e.Name(), ".dat")) {
				continue
			}
			b, err := os.ReadFile(filepath.Join("testdata", e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			seeds[e.Name()] = b
		}
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
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range seedFiles(t) {
		content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		if err := os.WriteFile(filepath.Join(dir, "seed-"+name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// FuzzParse feeds arbitrary bytes to the reader. It must never panic, must
// classify every error, must agree with the file-based reader, and every
// file it accepts must keep its invariants: entries sorted and unique,
// lengths consistent, Sums and Values of every entry readable (Values
// failing only with ErrNonFinite, and then CheckQuantize too), Values
// equal to the documented normalisation of Sums.
func FuzzParse(f *testing.F) {
	for _, b := range seedFiles(f) {
		f.Add(b)
	}
	for _, b := range realFiles(f) {
		f.Add(b)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data)
		p := filepath.Join(dir, "in.bin")
		if werr := os.WriteFile(p, data, 0o644); werr != nil {
			t.Fatal(werr)
		}
		viaFile, ferr := Open(p, WithMmap(false))
		if (err == nil) != (ferr == nil) {
			t.Fatalf("Parse error %v, Open error %v", err, ferr)
		}
		if err != nil {
			classified := errors.Is(err, ErrFormat) || errors.Is(err, ErrLimit) ||
				errors.Is(err, gguf.ErrFormat) || errors.Is(err, gguf.ErrLimit)
			if !classified {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		defer viaFile.Close()
		entries := file.Entries()
		if len(entries) == 0 {
			t.Fatal("accepted a file without entries")
		}
		if !slices.IsSortedFunc(entries, func(a, b Entry) int { return strings.Compare(a.Name, b.Name) }) {
			t.Fatal("entries not sorted")
		}
		nonFinite := false
		for i, e := range entries {
			if i > 0 && entries[i-1].Name == e.Name {
				t.Fatalf("duplicate entry %q", e.Name)
			}
			if e.Name == "" || e.Len < 1 || e.Matrices < 1 || e.Len%e.Matrices != 0 {
				t.Fatalf("bad entry %+v", e)
			}
			if (file.Format() == FormatGGUF) != (e.Counts != nil) || (e.Counts != nil && len(e.Counts) != e.Matrices) {
				t.Fatalf("counts of %+v in a %v file", e, file.Format())
			}
			sums, err := file.Sums(e.Name)
			if err != nil || len(sums) != e.Len {
				t.Fatalf("Sums(%q): %d values, %v", e.Name, len(sums), err)
			}
			vals, err := file.Values(e.Name)
			if err != nil {
				if !errors.Is(err, ErrNonFinite) {
					t.Fatalf("Values(%q): %v", e.Name, err)
				}
				nonFinite = true
				continue
			}
			want := slices.Clone(sums)
			normalize(want, e)
			if !sameBits(vals, want) {
				t.Fatalf("Values(%q) = %v, want %v", e.Name, vals, want)
			}
			for _, v := range vals {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					t.Fatalf("Values(%q) returned a non-finite weight", e.Name)
				}
			}
			other, err := viaFile.Values(e.Name)
			if err != nil || !sameBits(other, vals) {
				t.Fatalf("Open and Parse disagree on %q", e.Name)
			}
		}
		cerr := file.CheckQuantize()
		switch {
		case nonFinite && !errors.Is(cerr, ErrNonFinite) && !errors.Is(cerr, ErrMissingMetadata):
			t.Fatalf("CheckQuantize missed a non-finite weight: %v", cerr)
		case cerr != nil && !errors.Is(cerr, ErrNonFinite) && !errors.Is(cerr, ErrMissingMetadata):
			t.Fatalf("CheckQuantize: %v", cerr)
		case errors.Is(cerr, ErrMissingMetadata) && (file.Format() != FormatGGUF || file.HasMetadata()):
			t.Fatalf("CheckQuantize: %v for a %v file with metadata %v", cerr, file.Format(), file.HasMetadata())
		}
	})
}
