package quant

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"
)

// adversarialBlocks returns inputs that stress rounding: ties on .5 after
// scaling, zeros, subnormals, huge values, single outliers.
func adversarialBlocks(rng *rand.Rand) [][]float32 {
	var out [][]float32
	block := func(f func(i int) float32) {
		b := make([]float32, 32)
		for i := range b {
			b[i] = f(i)
		}
		out = append(out, b)
	}
	block(func(int) float32 { return 0 })
	block(func(i int) float32 { return float32(math.Copysign(0, -1)) })
	block(func(i int) float32 { return math.Float32frombits(uint32(i + 1)) }) // smallest subnormals
	block(func(i int) float32 { return float32(i-16) * 1e-40 })
	// huge values up to ±MaxFloat32 (finite: Q8_0 kernels only see finite input)
	block(func(i int) float32 { return math.MaxFloat32 / 16 * float32(i-16) })
	block(func(i int) float32 { return math.MaxFloat32 * float32(1-2*(i&1)) })
	block(func(i int) float32 { return float32(i) - 15.5 }) // many halves
	block(func(i int) float32 {                             // exact ties q+0.5 after scaling by 127/amax
		if i == 0 {
			return 127
		}
		return float32(i) + 0.5
	})
	block(func(i int) float32 {
		if i == 7 {
			return -3e38
		}
		return rng.Float32()
	})
	block(func(i int) float32 { return 65504 * float32(1-2*(i&1)) })
	block(func(i int) float32 { return 1e-8 * float32(i) })
	// near-ties: values one ulp around k+0.5 of a scale of 1 (amax = 127)
	block(func(i int) float32 {
		if i == 0 {
			return 127
		}
		v := float32(i%16) + 0.5
		if i&1 == 1 {
			return math.Nextafter32(v, 0)
		}
		return math.Nextafter32(v, 200)
	})
	// 0.5 - 2⁻²⁵ and its neighbours: v + 0.5 rounds up to 1 in float32,
	// the classic roundf pitfall; with amax = 127 the scale is exactly 1
	block(func(i int) float32 {
		if i == 0 {
			return 127
		}
		v := []float32{math.Nextafter32(0.5, 0), 0.5, math.Nextafter32(0.5, 1), math.Nextafter32(math.Nextafter32(0.5, 0), 0)}[i%4]
		v += float32(i / 8) // k + near-half for k = 0..3
		if i&4 != 0 {
			v = -v
		}
		return v
	})
	return out
}

func randomBlocks(rng *rand.Rand, nblocks int) []float32 {
	x := make([]float32, 32*nblocks)
	for i := range x {
		switch rng.IntN(4) {
		case 0:
			x[i] = float32(rng.NormFloat64())
		case 1:
			x[i] = float32(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(60)-30)))
		case 2:
			x[i] = float32(rng.IntN(255) - 127) // integers: exact ties happen
		default:
			x[i] = math.Float32frombits(rng.Uint32()&^0x7F800000 | uint32(rng.IntN(254)+1)<<23)
		}
	}
	return x
}

// TestQ8_0FastMatchesReference is the differential test between the fast
// encoder and the transcription of ggml's reference.
func TestQ8_0FastMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var x []float32
	for _, b := range adversarialBlocks(rng) {
		x = append(x, b...)
	}
	x = append(x, randomBlocks(rng, 20000)...)
	nb := len(x) / 32
	fast := make([]byte, nb*34)
	ref := make([]byte, nb*34)
	quantizeQ8_0(fast, x, len(x), nil)
	quantizeQ8_0Ref(ref, x, len(x), nil)
	if !bytes.Equal(fast, ref) {
		tr, _ := TraitsOf(Q8_0)
		reportBlockMismatch(t, "Q8_0 fast vs reference", tr, fast, ref)
	}
}

func FuzzQ8_0FastMatchesReference(f *testing.F) {
	f.Add(uint64(1), uint64(2))
	f.Fuzz(func(t *testing.T, a, b uint64) {
		x := randomBlocks(rand.New(rand.NewPCG(a, b)), 8)
		fast := make([]byte, 8*34)
		ref := make([]byte, 8*34)
		quantizeQ8_0(fast, x, len(x), nil)
		quantizeQ8_0Ref(ref, x, len(x), nil)
		if !bytes.Equal(fast, ref) {
			t.Fatalf("mismatch for %v", x)
		}
	})
}

// TestRoundHalfAwayTrick checks the rounding identity quantizeQ8_0 relies
// on, trunc(float64(v) ± 0.5) == roundf(v), for every float32 with |v| ≤ 256.
func TestRoundHalfAwayTrick(t *testing.T) {
	limit := math.Float32bits(256)
	step := uint32(1)
	if testing.Short() {
		step = 97
	}
	for u := uint32(0); u <= limit; u += step {
		for _, v := range []float32{math.Float32frombits(u), -math.Float32frombits(u)} {
			f := float64(v)
			got := int32(f + math.Copysign(0.5, f))
			if want := int32(math.Round(f)); got != want {
				t.Fatalf("v=%v (%08x): trick %d, math.Round %d", v, math.Float32bits(v), got, want)
			}
		}
	}
}

func TestQ8_0RoundTripError(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	x := make([]float32, 32*1000)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * math.Pow(10, float64(i/32%8-4)))
	}
	q := make([]byte, 1000*34)
	if _, err := Quantize(Q8_0, q, F32Input(x), 32, Options{}); err != nil {
		t.Fatal(err)
	}
	y := make([]float32, len(x))
	if err := Dequantize(Q8_0, y, q, Options{}); err != nil {
		t.Fatal(err)
	}
	for b := 0; b < 1000; b++ {
		var amax float64
		for _, v := range x[32*b : 32*b+32] {
			amax = math.Max(amax, math.Abs(float64(v)))
		}
		// half a step, plus 127 times the fp16 rounding error of the scale
		d := amax / 127
		dq := float64(F16ToF32(uint16(q[34*b]) | uint16(q[34*b+1])<<8))
		tol := d*0.5*(1+1e-6) + 127*math.Abs(d-dq)
		for i := 32 * b; i < 32*b+32; i++ {
			if d := math.Abs(float64(x[i]) - float64(y[i])); d > tol {
				t.Fatalf("block %d element %d: |%v - %v| = %v > %v", b, i, x[i], y[i], d, tol)
			}
		}
	}
}
