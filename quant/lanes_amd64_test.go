//go:build amd64 && !noasm

package quant

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestQkxLanes8AVX2Guard calls the AVX2 kernel directly: on ordinary data
// it must take every group itself; on hostile data it may decline, and
// whatever it returns when it accepts must equal the generic twin.
func TestQkxLanes8AVX2Guard(t *testing.T) {
	if !hasAVX2 {
		t.Skip("no AVX2")
	}
	rng := rand.New(rand.NewPCG(65, 66))
	var lf [maxGroup * 8]float32
	declined := 0
	for it := 0; it < 2000; it++ {
		q := qkxConfigs[it%len(qkxConfigs)]
		hostile := it%2 == 1
		xt := make([]float32, 8*32)
		for i := range xt {
			xt[i] = float32(rng.NormFloat64() * 0.02)
		}
		if hostile {
			xt, _ = laneGroups(rng, 8, 32)
			if it%4 == 1 {
				k := rng.IntN(8)
				for i := 0; i < 32; i++ {
					xt[i*8+k] = float32(rng.NormFloat64()) * math.MaxFloat32 / 4
				}
			}
		}
		wt := make([]float32, len(xt))
		for i, v := range xt {
			wt[i] = abs32(v)
		}
		var got, want qkxLanes
		ok := qkxLanes8AVX2(&xt[0], &wt[0], 32, 32, &q.c.num[0], q.c.nstep+2, float32(q.c.nmax), q.c.useMad, q.c.qkx3, &lf, &got.scale[0])
		qkxLanesGeneric(xt, wt, 8, 32, q.c, &want)
		if !ok {
			if !hostile {
				t.Fatalf("%s: the kernel declined ordinary data: %v", q.name, xt)
			}
			declined++
			continue
		}
		if got != want {
			t.Fatalf("%s: differs from qkxLanesGeneric\n got  %v\n want %v\n xt %v", q.name, got, want, xt)
		}
	}
	if declined == 0 {
		t.Error("the kernel never declined hostile data: the fallback went untested")
	}
	if declined == 1000 {
		t.Error("the kernel declined every hostile call")
	}
	t.Logf("declined %d of 1000 hostile calls", declined)
}
