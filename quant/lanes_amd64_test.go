//go:build amd64 && !noasm

package quant

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestQkxLanesAsmGuard calls the AVX2 and AVX-512 kernels directly: on
// ordinary data they must take every group themselves; on hostile data
// they may decline, and whatever they return when they accept must equal
// the generic twin.
func TestQkxLanesAsmGuard(t *testing.T) {
	if !hasAVX2 {
		t.Skip("no AVX2")
	}
	for _, lanes := range []int{8, 16} {
		if lanes == 16 && !hasAVX512 {
			t.Log("no AVX-512")
			continue
		}
		testQkxLanesAsmGuard(t, lanes)
	}
}

func testQkxLanesAsmGuard(t *testing.T, lanes int) {
	rng := rand.New(rand.NewPCG(65, 66))
	var lf [maxGroup * 16]float32
	declined := 0
	for it := 0; it < 2000; it++ {
		q := qkxConfigs[it%len(qkxConfigs)]
		hostile := it%2 == 1
		xt := make([]float32, lanes*32)
		for i := range xt {
			xt[i] = float32(rng.NormFloat64() * 0.02)
		}
		if hostile {
			xt, _ = laneGroups(rng, lanes, 32)
			if it%4 == 1 {
				k := rng.IntN(lanes)
				for i := 0; i < 32; i++ {
					xt[i*lanes+k] = float32(rng.NormFloat64()) * math.MaxFloat32 / 4
				}
			}
		}
		wt := make([]float32, len(xt))
		for i, v := range xt {
			wt[i] = abs32(v)
		}
		var got, want qkxLanes
		var ok bool
		if lanes == 8 {
			ok = qkxLanes8AVX2(&xt[0], &wt[0], 32, 32, &q.c.num[0], q.c.nstep+2, float32(q.c.nmax), q.c.useMad, q.c.qkx3,
				(*[maxGroup * 8]float32)(lf[:]), &got.scale[0])
		} else {
			ok = qkxLanes16AVX512(&xt[0], &wt[0], 32, &q.c.num[0], q.c.nstep+2, float32(q.c.nmax), q.c.useMad, q.c.qkx3, &lf, &got)
		}
		qkxLanesGeneric(xt, wt, lanes, 32, q.c, &want)
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
	t.Logf("%d lanes: declined %d of 1000 hostile calls", lanes, declined)
}
