package quant

import (
	"math/rand/v2"
	"testing"
)

// Values whose sums are exact in float32 (multiples of 2^-10 below 2^10)
// have one mean whatever the order: the cascade must give it, for every
// size, width and thread count; and below the grain the threads do not
// matter for any input.
func TestTorchMeanF32(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, n := range []int{1, 2, 7, 8, 9, 31, 64, 65, 1000, 32767, 32768, 70001} {
		x := make([]float32, n)
		var sum int64
		for i := range x {
			k := rng.Int64N(64)
			x[i] = float32(k) / 1024
			sum += k
		}
		want := float32(float64(sum)/1024) / float32(n)
		for _, lanes := range []int{4, 8, 16} {
			for _, threads := range []int{1, 2, 5} {
				if got := TorchMeanF32(x, lanes, threads); got != want {
					t.Errorf("n %d lanes %d threads %d: %v, want %v", n, lanes, threads, got, want)
				}
			}
		}
		y := make([]float32, n)
		for i := range y {
			y[i] = float32(rng.NormFloat64())
		}
		if n < torchGrain && TorchMeanF32(y, 8, 1) != TorchMeanF32(y, 8, 4) {
			t.Errorf("n %d: the thread count changed a mean below the grain", n)
		}
	}
	if TorchMeanF32(nil, 8, 1) != 0 {
		t.Error("empty mean is not 0")
	}
}
