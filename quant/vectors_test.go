package quant

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"strconv"
	"testing"
)

// The reference vectors in testdata/ggml-quants-vectors.json were produced
// by ggml's own ggml_quantize_chunk (x86-64, no FMA); see quant/testdata/README.md.

type vectorInput struct {
	NRows   int      `json:"nrows"`
	NPerRow int      `json:"n_per_row"`
	F32Bits []string `json:"f32_bits"`
}

type vectorCase struct {
	Type        string   `json:"type"`
	TypeID      int      `json:"type_id"`
	Input       string   `json:"input"`
	Imatrix     *string  `json:"imatrix"`
	BytesHex    string   `json:"bytes_hex"`
	DequantBits []string `json:"dequant_f32_bits"`
}

type vectorFile struct {
	Inputs  map[string]vectorInput `json:"inputs"`
	Imatrix struct {
		Name   string   `json:"name"`
		Values []string `json:"values_f32_bits"`
	} `json:"imatrix"`
	Cases []vectorCase `json:"cases"`
}

func loadVectors(t *testing.T) vectorFile {
	t.Helper()
	raw, err := os.ReadFile("testdata/ggml-quants-vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var vf vectorFile
	if err := json.Unmarshal(raw, &vf); err != nil {
		t.Fatal(err)
	}
	return vf
}

func parseF32Bits(t *testing.T, hexBits []string) []float32 {
	t.Helper()
	out := make([]float32, len(hexBits))
	for i, h := range hexBits {
		u, err := strconv.ParseUint(h, 16, 32)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = math.Float32frombits(uint32(u))
	}
	return out
}

// TestReferenceVectors checks every case of the vectors file whose type Wick
// can quantize: the bytes must equal ggml's, for every thread count, and
// dequantizing them must give ggml's float32 bits.
func TestReferenceVectors(t *testing.T) {
	vf := loadVectors(t)
	var imatrix []float32
	if len(vf.Imatrix.Values) > 0 {
		imatrix = parseF32Bits(t, vf.Imatrix.Values)
	}
	checked := map[string]int{}
	inFile := map[string]bool{}
	for _, c := range vf.Cases {
		inFile[c.Type] = true
		tr, ok := Lookup(c.Type)
		if !ok {
			t.Fatalf("vectors name unknown type %q", c.Type)
		}
		if int(tr.Type) != c.TypeID {
			t.Errorf("%s: Wick's id %d, ggml's %d", c.Type, tr.Type, c.TypeID)
		}
		if !tr.CanQuantize() {
			continue
		}
		in := vf.Inputs[c.Input]
		x := parseF32Bits(t, in.F32Bits)
		want, err := hex.DecodeString(c.BytesHex)
		if err != nil {
			t.Fatal(err)
		}
		opt := Options{AllowNonFinite: true}
		if c.Imatrix != nil {
			opt.Imatrix = imatrix
		}
		for _, threads := range []int{1, 2, 3} {
			opt.Threads = threads
			got := make([]byte, len(want))
			if _, err := Quantize(tr.Type, got, F32Input(x), in.NPerRow, opt); err != nil {
				t.Fatalf("%s/%s: %v", c.Type, c.Input, err)
			}
			if !bytes.Equal(got, want) {
				reportBlockMismatch(t, c.Type+"/"+c.Input, tr, got, want)
			}
		}
		if len(c.DequantBits) > 0 {
			wantF := parseF32Bits(t, c.DequantBits)
			gotF := make([]float32, len(wantF))
			if err := Dequantize(tr.Type, gotF, want, Options{}); err != nil {
				t.Fatal(err)
			}
			for i := range wantF {
				if math.Float32bits(gotF[i]) != math.Float32bits(wantF[i]) {
					t.Errorf("%s/%s dequant[%d] = %08x, ggml %08x", c.Type, c.Input, i,
						math.Float32bits(gotF[i]), math.Float32bits(wantF[i]))
					break
				}
			}
		}
		checked[c.Type]++
	}
	// Every type of the file is one Wick writes: none may be skipped.
	for name := range inFile {
		if checked[name] == 0 {
			t.Errorf("no reference vector checked for %s", name)
		}
	}
	if len(inFile) < 13 {
		t.Errorf("vectors file covers %d types, expected 13", len(inFile))
	}
	t.Logf("checked: %v", checked)
}

// reportBlockMismatch names the first differing block and how many differ.
func reportBlockMismatch(t *testing.T, what string, tr Traits, got, want []byte) {
	t.Helper()
	first, bad := -1, 0
	for b := 0; b*tr.BlockBytes < len(want); b++ {
		g := got[b*tr.BlockBytes : (b+1)*tr.BlockBytes]
		w := want[b*tr.BlockBytes : (b+1)*tr.BlockBytes]
		if !bytes.Equal(g, w) {
			if first < 0 {
				first = b
			}
			bad++
		}
	}
	t.Errorf("%s: %d of %d blocks differ; first is block %d:\n got  %x\n want %x", what, bad,
		len(want)/tr.BlockBytes, first,
		got[first*tr.BlockBytes:(first+1)*tr.BlockBytes], want[first*tr.BlockBytes:(first+1)*tr.BlockBytes])
}
