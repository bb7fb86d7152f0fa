package decode

import (
	"math"
	"math/rand/v2"
	"testing"
)

// e4m3Scales are the adversarial block scales: signed zeros, subnormals,
// the extremes of float32, infinities and NaNs (which take the generic
// loop), powers of two and ordinary values.
var e4m3Scales = []float32{
	1, -1, 0, float32(math.Copysign(0, -1)), 0.5, 3, 1.0 / 448, 7.62939453125e-06,
	math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32, 1.1754942e-38, 1.1754944e-38,
	math.MaxFloat32, -math.MaxFloat32, 1 << 120, 1.0 / (1 << 120), 3e-37, 6.5e37,
	float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()),
	math.Float32frombits(0xffc00001), math.Float32frombits(0x7f800001), // negative quiet NaN, signalling NaN
}

// checkE4M3 runs e4m3Blocks and its generic twin on the same input and
// compares every bit, NaN payloads included, and the guard bands around y.
func checkE4M3(t *testing.T, src []byte, scales []float32, cb int) {
	t.Helper()
	n := len(src)
	want := make([]float32, n)
	e4m3BlocksGeneric(want, src, scales, cb)
	buf := make([]float32, n+16)
	for i := range buf {
		buf[i] = math.Float32frombits(0x7fbadbad)
	}
	got := buf[8 : 8+n]
	e4m3Blocks(got, src, scales, cb)
	for i := range 8 {
		if math.Float32bits(buf[i]) != 0x7fbadbad || math.Float32bits(buf[8+n+i]) != 0x7fbadbad {
			t.Fatalf("n=%d cb=%d: write outside y", n, cb)
		}
	}
	for k := range want {
		if math.Float32bits(got[k]) != math.Float32bits(want[k]) {
			t.Fatalf("n=%d cb=%d: element %d (code %#02x, scale %v = %08x): got %08x, want %08x", n, cb, k, src[k],
				scales[k/cb], math.Float32bits(scales[k/cb]), math.Float32bits(got[k]), math.Float32bits(want[k]))
		}
	}
}

// TestE4M3BlocksAllCodesAllScales: every code in every lane position of
// a vector (the 256 codes shifted by 0..15), times every adversarial scale,
// bit for bit as the table loop, through both kernels where the CPU has
// them.
func TestE4M3BlocksAllCodesAllScales(t *testing.T) {
	for _, asm := range kernelSettings() {
		restore := asm()
		for shift := range 16 {
			src := make([]byte, 256+shift)
			for i := range src {
				src[i] = byte(i - shift)
			}
			for _, s := range e4m3Scales {
				checkE4M3(t, src, []float32{s}, 272)
			}
			// a different scale every 8 or 16 codes (the vector widths)
			for _, cb := range []int{8, 16} {
				scales := make([]float32, len(src)/cb+1)
				for i := range scales {
					scales[i] = e4m3Scales[(i+shift)%len(e4m3Scales)]
					if scales[i] != scales[i] {
						scales[i] = 2
					}
				}
				checkE4M3(t, src, scales, cb)
			}
		}
		restore()
	}
}

// TestE4M3BlocksRandom: random codes, lengths (with tails that are not
// whole vectors), block sizes and scales.
func TestE4M3BlocksRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, asm := range kernelSettings() {
		restore := asm()
		for range 2000 {
			n := rng.IntN(700)
			cb := 8 * (1 + rng.IntN(40))
			src := make([]byte, n)
			for i := range src {
				src[i] = byte(rng.Uint32())
			}
			scales := make([]float32, max(1, (n+cb-1)/cb))
			for i := range scales {
				if rng.IntN(4) == 0 {
					scales[i] = e4m3Scales[rng.IntN(len(e4m3Scales))]
				} else {
					scales[i] = math.Float32frombits(rng.Uint32() & 0xbfffffff) // finite
				}
			}
			checkE4M3(t, src, scales, cb)
		}
		restore()
	}
}
