package quant

import (
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
