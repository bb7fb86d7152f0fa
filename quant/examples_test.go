package quant

import (
	"bytes"
	"encoding/hex"
	"math"
	"strings"
	"testing"
)

// The worked examples of spec ggml-quants.md §8: exact bytes of ggml's
// non-FMA reference build for the first block of input "A", and the Q4_0
// block whose bytes change when x·id + 8.5 is fused into an FMA.

// specA32 is the first 32 values of vector A, as listed in §8.
var specA32 = "3c23d70a 3caa07fc 3ccdfdf4 3d19b475 3d5f2597 3d6cdec5 3d2558bc 3c8902df " +
	"3b602197 bb3d5184 bc8eaecf bd2a9de4 bd6df882 bd5af888 bd163216 bcd0ed70 " +
	"bcafdef1 bc1d49ab 3c89820d 3d304e4e 3d528da1 3d3511f8 3d1dac44 3d248912 " +
	"3d122459 3c5b155d bc8af971 bd10c55e bd19d12d bd1ca8fe bd40c33f bd594c3d"

func hexF32s(t *testing.T, s string) []float32 {
	t.Helper()
	var out []float32
	for _, w := range strings.Fields(s) {
		b, err := hex.DecodeString(w)
		if err != nil || len(b) != 4 {
			t.Fatalf("bad float bits %q", w)
		}
		out = append(out, math.Float32frombits(uint32(b[0])<<24|uint32(b[1])<<16|uint32(b[2])<<8|uint32(b[3])))
	}
	return out
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSpecWorkedExamples(t *testing.T) {
	x := hexF32s(t, specA32)
	cases := []struct {
		typ  Type
		want string
	}{
		{Q8_0, "7f0f 162d3752777e582507fadaa5818bb0c8d1eb255e706154584e1ddbb3aeac998c"},
		{Q4_0, "701f 597babedffefdeead8a8663230312314"},
		{Q4_1, "ea1f 70ab 596aabdcefdfcddac897553230311314"},
		{Q5_0, "701b ff01fc03 a3d657caefcfbbb5a14fbb6560513619"},
		{Q5_1, "a91b 70ab ff01fc03 a2d546badebfaaa4903fbb6450513619"},
		{IQ4_NL, "df0f 4a6bbcedffefeeebd9a7553220211214"},
	}
	for _, c := range cases {
		got := mustQuantize(t, c.typ, F32Input(x), 32, Options{})
		if want := mustHex(t, c.want); !bytes.Equal(got, want) {
			t.Errorf("%s: got %x, want %x", c.typ, got, want)
		}
	}
}

// TestSpecQ4_KExample checks §8's first Q4_K super-block; its 256 inputs are
// the first row of vector A in the vectors file.
func TestSpecQ4_KExample(t *testing.T) {
	vf := loadVectors(t)
	x := parseF32Bits(t, vf.Inputs["A"].F32Bits)[:256]
	want := mustHex(t, "2208c913 fffdfdfafffefdfbad9befcb 296a9bacbedffdfad8a785725021031435465a7daeddecdddcd9c5935333323131211306397a9badbfeffcf9c8a795714011031434474a7dbeededdddce9c583c48343323020030638798b9dbfeefbe9b89794713001032334374b7dbddcddddddddebe7b57453423011041748798b9ecffdfbeab9a793713112132334385b8d")
	if got := mustQuantize(t, Q4_K, F32Input(x), 256, Options{}); !bytes.Equal(got, want) {
		t.Errorf("Q4_K:\n got  %x\n want %x", got, want)
	}
}

// TestFMATieBlock is the §8 regression test against fused multiply-add: in
// the block (−0.7, −0.65625, 0 × 30) the exact product x1·id is
// −7.50000018, which rounds to −7.5 in float32; −7.5 + 8.5 = 1 gives q = 1.
// A fused x1·id + 8.5 is 0.99999982 and gives q = 0 (bytes 9a2d 80 80 …),
// which is what an FMA build of ggml and gguf-py's NumPy code produce.
func TestFMATieBlock(t *testing.T) {
	x := make([]float32, 32)
	x[0] = math.Float32frombits(0xbf333333) // -0.7
	x[1] = math.Float32frombits(0xbf280000) // -0.65625
	want := mustHex(t, "9a2d 80 81"+strings.Repeat("88", 14))
	fused := mustHex(t, "9a2d 80 80"+strings.Repeat("88", 14))
	for name, f := range map[string]quantizeFunc{"reference": quantizeQ4_0Ref, "Quantize": nil} {
		var got []byte
		if f == nil {
			got = mustQuantize(t, Q4_0, F32Input(x), 32, Options{})
		} else {
			got = make([]byte, 18)
			f(got, x, 32, nil)
		}
		if bytes.Equal(got, fused) {
			t.Errorf("%s: x·id + 8.5 was fused into an FMA: %x", name, got)
		} else if !bytes.Equal(got, want) {
			t.Errorf("%s: got %x, want %x", name, got, want)
		}
	}
	// the vectors file holds the same block as ggml produced it
	vf := loadVectors(t)
	for _, c := range vf.Cases {
		if c.Input == "C_fma_tie" && c.Type == "Q4_0" && !bytes.Equal(mustHex(t, c.BytesHex), want) {
			t.Errorf("vectors file C_fma_tie = %s, spec §8 says %x", c.BytesHex, want)
		}
	}
}
