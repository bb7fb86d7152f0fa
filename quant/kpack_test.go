package quant

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestKPackers: the word-at-a-time packers against their byte loops on
// random levels of every width they take.
func TestKPackers(t *testing.T) {
	rng := rand.New(rand.NewPCG(71, 72))
	for it := 0; it < 2000; it++ {
		var L [qkK]uint8
		fill := func(bits int) {
			for i := range L {
				L[i] = uint8(rng.IntN(1 << bits))
			}
		}
		fill(2)
		var q1, q2 [64]byte
		packQ2(&q1, &L)
		packP2(q2[:], L[:])
		if q1 != q2 {
			t.Fatalf("packQ2 differs: %v", L)
		}
		fill(4)
		var a1, a2 [128]byte
		packQ4K(&a1, &L)
		packQ4KLoop(&a2, &L)
		if a1 != a2 {
			t.Fatalf("packQ4K differs: %v", L)
		}
		fill(5)
		var h1, h2 [32]byte
		packQ5K(&h1, &a1, &L)
		packQ5KLoop(&h2, &a2, &L)
		if a1 != a2 || h1 != h2 {
			t.Fatalf("packQ5K differs: %v", L)
		}
		fill(6)
		packQ6K(&a1, &q1, &L)
		packQ6KLoop(&a2, &q2, &L)
		if a1 != a2 || q1 != q2 {
			t.Fatalf("packQ6K differs: %v", L)
		}
	}
}

// TestPackQ3Scales: packQ3Scales against packP3 group by group on cleared
// bytes, and q3Scale reading each scale back: every value 0..63 in every
// position (the others 0, 63 or random), then random sets of 16.
func TestPackQ3Scales(t *testing.T) {
	check := func(ls *[16]uint8) {
		t.Helper()
		var got, want [12]byte
		packQ3Scales(&got, ls)
		for j := range ls {
			packP3(want[:], j, int8(ls[j]))
		}
		if got != want {
			t.Fatalf("scales %v: packQ3Scales % x, packP3 % x", *ls, got, want)
		}
		for j := range ls {
			if s := q3Scale(got[:], j); int(s) != int(ls[j])-32 {
				t.Fatalf("scales %v: q3Scale(%d) = %d", *ls, j, s)
			}
		}
	}
	rng := rand.New(rand.NewPCG(73, 74))
	for _, rest := range []int{0, 63, -1} {
		for j := 0; j < 16; j++ {
			for v := 0; v < 64; v++ {
				var ls [16]uint8
				for i := range ls {
					switch rest {
					case -1:
						ls[i] = uint8(rng.IntN(64))
					default:
						ls[i] = uint8(rest)
					}
				}
				ls[j] = uint8(v)
				check(&ls)
			}
		}
	}
	for it := 0; it < 20000; it++ {
		var ls [16]uint8
		for i := range ls {
			ls[i] = uint8(rng.IntN(64))
		}
		check(&ls)
	}
}

// TestQ3MaxScale: q3MaxScale against the float loop of q3_KBlockRef (the
// first scale of largest magnitude, 0 if none beats 0), compared bit for
// bit, on scales drawn from values with ties of either sign, signed zeros,
// subnormals, infinities and NaNs.
func TestQ3MaxScale(t *testing.T) {
	ref := func(scales *[16]float32) float32 {
		var maxScale, amax float32
		for j := 0; j < 16; j++ {
			if s := abs32(scales[j]); s > amax {
				amax, maxScale = s, scales[j]
			}
		}
		return maxScale
	}
	pool := []float32{0, float32(math.Copysign(0, -1)), 1, -1, 0.5, -0.5, 3, -3, 1e-45, -1e-45,
		math.MaxFloat32, -math.MaxFloat32, float32(math.Inf(1)), float32(math.Inf(-1)),
		float32(math.NaN()), math.Float32frombits(0xFFC00001), math.Float32frombits(0x7F800001)}
	rng := rand.New(rand.NewPCG(75, 76))
	for it := 0; it < 200000; it++ {
		var sc [16]float32
		for j := range sc {
			if it%2 == 0 {
				sc[j] = pool[rng.IntN(len(pool))]
			} else {
				sc[j] = float32(rng.NormFloat64()) * float32(math.Ldexp(1, rng.IntN(40)-20))
			}
		}
		if got, want := q3MaxScale(&sc), ref(&sc); math.Float32bits(got) != math.Float32bits(want) {
			t.Fatalf("scales %v: q3MaxScale %v (%#x), reference loop %v (%#x)", sc, got, math.Float32bits(got), want, math.Float32bits(want))
		}
	}
}
