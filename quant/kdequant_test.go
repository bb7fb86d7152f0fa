package quant

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestKDequantMatchesReference: the fast Q4_K and Q6_K decoders against
// the reference loops, bit for bit, on blocks from the encoders and on
// random bytes (every fp16 scale, NaNs of both kinds included).
func TestKDequantMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(91, 92))
	nb := 37
	x := make([]float32, nb*qkK)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * 0.02)
	}
	for _, c := range []struct {
		name      string
		blockLen  int
		quantize  quantizeFunc
		fast, ref dequantizeFunc
	}{
		{"Q4_K", q4_KLen, quantizeQ4_K, dequantizeQ4_K, dequantizeQ4_KRef},
		{"Q6_K", q6_KLen, quantizeQ6_K, dequantizeQ6_K, dequantizeQ6_KRef},
	} {
		enc := make([]byte, nb*c.blockLen)
		c.quantize(enc, x, qkK, nil)
		raw := make([]byte, nb*c.blockLen)
		for i := range raw {
			raw[i] = uint8(rng.Uint32())
		}
		// scales that are NaN (quiet and signalling), ±Inf and subnormal
		for b := 0; b < nb; b++ {
			off := b*c.blockLen + map[string]int{"Q4_K": 0, "Q6_K": 208}[c.name]
			h := []uint16{0x7C01, 0xFE00, 0x7C00, 0x8001, 0x3C00}[b%5]
			raw[off], raw[off+1] = byte(h), byte(h>>8)
		}
		for _, src := range [][]byte{enc, raw} {
			for _, n := range []int{1, 2, nb} {
				got, want := make([]float32, n*qkK), make([]float32, n*qkK)
				c.fast(got, src[:n*c.blockLen])
				c.ref(want, src[:n*c.blockLen])
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%s: value %d = %08x, want %08x", c.name, i, math.Float32bits(got[i]), math.Float32bits(want[i]))
					}
				}
			}
		}
	}
}
