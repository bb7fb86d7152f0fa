package quant

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestErrorStats(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	nPerRow := 512
	x := make([]float32, 70*nPerRow)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * 0.02)
	}
	for _, typ := range []Type{F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K, IQ4_NL} {
		tr, _ := TraitsOf(typ)
		var want ErrorStats
		q := make([]byte, len(x)/tr.BlockSize*tr.BlockBytes)
		for _, threads := range []int{1, 3} {
			var got ErrorStats
			if _, err := Quantize(typ, q, F32Input(x), nPerRow, Options{Threads: threads, Stats: &got}); err != nil {
				t.Fatal(err)
			}
			if threads == 1 {
				want = got
				// against a direct computation
				y := make([]float32, len(x))
				if err := Dequantize(typ, y, q, Options{}); err != nil {
					t.Fatal(err)
				}
				var se, sq, m float64
				for i := range x {
					d := float64(y[i]) - float64(x[i])
					se += d * d
					sq += float64(x[i]) * float64(x[i])
					m = math.Max(m, math.Abs(d))
				}
				if got.N != int64(len(x)) || math.Abs(got.SumSqErr-se) > 1e-9*se+1e-300 ||
					math.Abs(got.SumSq-sq) > 1e-9*sq || got.MaxAbs != m {
					t.Fatalf("%s: stats %+v, direct (%v %v %v)", typ, got, se, sq, m)
				}
				if typ == F32 && (got.RMSE() != 0 || !math.IsInf(got.SNR(), 1)) {
					t.Fatalf("F32 must be exact: %+v", got)
				}
				continue
			}
			if got != want {
				t.Fatalf("%s: threads=%d stats %+v differ from threads=1 %+v", typ, threads, got, want)
			}
		}
	}
}

// TestErrorLanesKernelsAgree: every kernel set's errorLanes, with the
// AVX-512 kernel and without, gives the generic lanes bit for bit, at every
// length and alignment, with NaN, ±Inf, zeros and huge values among the
// inputs.
func TestErrorLanesKernelsAgree(t *testing.T) {
	for _, avx512 := range []bool{true, false} {
		restore := setAVX512(avx512)
		testErrorLanesKernelsAgree(t, avx512)
		restore()
	}
}

func testErrorLanesKernelsAgree(t *testing.T, avx512 bool) {
	rng := rand.New(rand.NewPCG(21, 22))
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), float32(math.Inf(1)),
		float32(math.Inf(-1)), math.MaxFloat32, -math.MaxFloat32, math.SmallestNonzeroFloat32}
	for _, ks := range kernelSets() {
		for n := 0; n <= 70; n++ {
			for off := 0; off < 3; off++ {
				x := make([]float32, n+off)[off:]
				y := make([]float32, n+off)[off:]
				for i := range x {
					x[i] = float32(rng.NormFloat64())
					y[i] = x[i] + float32(rng.NormFloat64()*1e-3)
					if rng.IntN(9) == 0 {
						y[i] = special[rng.IntN(len(special))]
					}
				}
				var got, want [24]float64
				got[3], want[3] = 1.5, 1.5 // accumulates onto what is there
				ks.errorLanes(x, y, &got)
				errorLanesGeneric(x[n&^7:], y[n&^7:], &got) // the tail, as ErrorStats.add does
				errorLanesGeneric(x, y, &want)
				for l := range got {
					if math.Float64bits(got[l]) != math.Float64bits(want[l]) {
						t.Fatalf("%s (AVX-512 %v) n=%d off=%d lane %d: %v, generic %v", ks.name, avx512, n, off, l, got[l], want[l])
					}
				}
			}
		}
	}
}
