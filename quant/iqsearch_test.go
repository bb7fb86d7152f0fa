package quant

import (
	"math"
	"math/rand"
	"testing"
)

// Differential tests of the IQ lane kernels (iqsearch.go): the dispatched
// kernels (AVX-512 where the CPU has it) against their generic twins, bit
// for bit, and the generic neighbour search against the reference twins
// iq2FindBestNeighbourRef / iq1FindBestNeighbour2Ref. Random and
// adversarial inputs: ties (integer-valued errors, zero weights, ±0),
// NaN, ±Inf, overflowing squares, subnormals.

// iqAdversarial returns a float32 of the given kind: 0 normal-ish, 1 small
// integer, 2 special (NaN, ±Inf, huge, subnormal, ±0), 3 a mixture.
func iqAdversarial(rng *rand.Rand, kind int, scale float64) float32 {
	if kind == 3 {
		kind = rng.Intn(3)
		if rng.Intn(8) != 0 && kind == 2 {
			kind = 0
		}
	}
	switch kind {
	case 1:
		return float32(rng.Intn(7) - 1)
	case 2:
		return []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 3e38, -3e38, 1e20,
			1e-42, -1e-42, 0, float32(math.Copysign(0, -1)), 1.5, -2}[rng.Intn(12)]
	}
	return float32(rng.NormFloat64() * scale)
}

func iqRandomValues(rng *rand.Rand, kind int, x, w []float32) float32 {
	for i := range x {
		x[i] = iqAdversarial(rng, kind, 0.05)
		w[i] = iqAdversarial(rng, kind, 1)
		if kind == 0 {
			w[i] = abs32(w[i])
		}
	}
	if kind == 1 && rng.Intn(3) == 0 {
		for i := range w {
			w[i] = 0 // every neighbour ties: the first wins
		}
	}
	if kind == 1 && rng.Intn(7) == 0 {
		// every sum exactly FLT_MAX: not below it, so no neighbour (ggml aborts)
		for i := range w {
			x[i], w[i] = 1, 0
		}
		w[0] = math.MaxFloat32
		return 0
	}
	switch kind {
	case 1:
		return float32(rng.Intn(3))
	case 2:
		return iqAdversarial(rng, 3, 0.01)
	}
	return float32(rng.ExpFloat64() * 0.01)
}

func iqRandomXG(rng *rand.Rand, iq1 bool) [4]float32 {
	if !iq1 {
		return [4]float32{1, 3, 5, 0}
	}
	delta := float32(0.125)
	if rng.Intn(2) == 0 {
		delta = -delta
	}
	xg := [4]float32{-1 + delta, delta, 1 + delta, 0}
	if rng.Intn(20) == 0 {
		xg[rng.Intn(3)] = iqAdversarial(rng, 2, 1)
	}
	return xg
}

// TestIQSearchKernel: every neighbour list of every grid (exhaustive over
// the lists), with random and adversarial values, the dispatched search
// against the generic twin (positions, failures and the levels written),
// and the generic twin against the reference searches (the grid index, or
// both aborting).
func TestIQSearchKernel(t *testing.T) {
	rng := rand.New(rand.NewSource(11))
	for _, c := range []struct {
		name string
		g    *iqGrid
		iq1  bool
	}{{"IQ2_XXS", gridIQ2XXS, false}, {"IQ2_XS", gridIQ2XS, false}, {"IQ2_S", gridIQ2S, false}, {"IQ1_S", gridIQ1S, true}} {
		g := c.g.get()
		const batch = 37
		var (
			tasks, want [batch]iqTask
			xs, ws      [batch * 8]float32
			us          [batch]int
			lv1, lv2    [batch]uint32
		)
		xg := iqRandomXG(rng, c.iq1)
		nt, checked, aborts := 0, 0, 0
		flush := func() {
			want = tasks
			lv1, lv2 = [batch]uint32{}, [batch]uint32{}
			f2 := iqSearchGeneric(want[:nt], g.nib, xs[:], ws[:], &xg, lv2[:])
			// the AVX2 kernel (on an AVX-512 machine: with AVX-512 switched off)
			avx2 := tasks
			restore := setAVX512(false)
			f3 := iqSearch(avx2[:nt], g.nib, xs[:], ws[:], &xg, lv1[:])
			restore()
			for i := 0; i < nt; i++ {
				if avx2[i].pos != want[i].pos {
					t.Fatalf("%s u=%d x=%v w=%v scale=%v: AVX2 kernel pos %d, generic %d", c.name, us[i],
						xs[8*i:8*i+8], ws[8*i:8*i+8], avx2[i].scale, avx2[i].pos, want[i].pos)
				}
			}
			if f3 != f2 || lv1 != lv2 {
				t.Fatalf("%s: AVX2 kernel failures %d / levels written differ from the generic twin's (%d)", c.name, f3, f2)
			}
			lv1 = [batch]uint32{}
			f1 := iqSearch(tasks[:nt], g.nib, xs[:], ws[:], &xg, lv1[:])
			if f1 != f2 || lv1 != lv2 {
				t.Fatalf("%s: kernel failures %d / levels written differ from the generic twin's (%d)", c.name, f1, f2)
			}
			for i := 0; i < nt; i++ {
				x, w := xs[8*i:8*i+8], ws[8*i:8*i+8]
				if tasks[i].pos != want[i].pos {
					t.Fatalf("%s u=%d x=%v w=%v scale=%v xg=%v: kernel pos %d, generic %d",
						c.name, us[i], x, w, tasks[i].scale, xg, tasks[i].pos, want[i].pos)
				}
				nb := g.neighboursOf(us[i])
				wantIndex := -1
				if want[i].pos >= 0 {
					wantIndex = int(nb[want[i].pos])
					for k := 0; k < 8; k++ {
						if l := lv2[want[i].lvoff] >> (4 * k) & 15; l != uint32(g.levels[wantIndex][k]) {
							t.Fatalf("%s u=%d: level %d written %d, want %d", c.name, us[i], k, l, g.levels[wantIndex][k])
						}
					}
				} else {
					aborts++
				}
				refIndex := func() (index int) {
					defer func() {
						if recover() != nil {
							index = -1
						}
					}()
					var L [8]int8
					xg3 := [3]float32{xg[0], xg[1], xg[2]}
					if c.iq1 {
						return iq1FindBestNeighbour2Ref(g, nb, x, w, tasks[i].scale, &xg3, L[:])
					}
					return iq2FindBestNeighbourRef(g, nb, x, w, tasks[i].scale, L[:])
				}()
				if refIndex != wantIndex {
					t.Fatalf("%s u=%d x=%v w=%v scale=%v: generic index %d, reference %d",
						c.name, us[i], x, w, tasks[i].scale, wantIndex, refIndex)
				}
				checked++
			}
			nt = 0
			xg = iqRandomXG(rng, c.iq1)
		}
		for u := 0; u < iqKmapSize; u++ {
			if g.kmap[u] >= 0 {
				continue
			}
			scale := iqRandomValues(rng, u%4, xs[8*nt:8*nt+8], ws[8*nt:8*nt+8])
			list := -g.kmap[u]
			tasks[nt] = iqTask{list: list, scale: scale, xoff: int32(8 * nt), lvoff: int32(batch - 1 - nt)}
			us[nt] = u
			nt++
			if nt == batch {
				flush()
			}
		}
		flush()
		if aborts == 0 || aborts == checked {
			t.Errorf("%s: %d of %d searches found no neighbour: the abort path is not exercised both ways", c.name, aborts, checked)
		}
	}
}

// TestIQNibWords: the nibble words hold the levels of the listed points.
func TestIQNibWords(t *testing.T) {
	for _, g := range []*iqGrid{gridIQ2XXS, gridIQ2XS, gridIQ2S, gridIQ1S} {
		g := g.get()
		for u := 0; u < iqKmapSize; u += 7 {
			if g.kmap[u] >= 0 {
				continue
			}
			nb, nib := g.neighboursOf(u), g.nibOf(u)
			if len(nb) != len(nib) || &g.nib[g.listOffset(nb)] != &nib[0] {
				t.Fatalf("u=%d: nibble list not parallel to the neighbour list", u)
			}
			for p, j := range nb {
				for i := 0; i < 8; i++ {
					if want := uint32(g.levels[j][i]) | uint32(4*(i%4)); nib[p]>>(4*i)&15 != want {
						t.Fatalf("u=%d neighbour %d coordinate %d: nibble %d, want %d", u, p, i, nib[p]>>(4*i)&15, want)
					}
				}
			}
		}
	}
}

// TestIQ2LaneKernels: iq2Levels16 and iq2Sums16 against their generic
// twins, bit for bit, including rounding ties (0.5·(id·x − 1) exactly
// k + ½), values past the clamp, NaN and ±Inf.
func TestIQ2LaneKernels(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	f32 := math.Float32bits
	for trial := 0; trial < 4000; trial++ {
		kind := trial % 4
		n := 8 * (1 + rng.Intn(4))
		x := make([]float32, n)
		var num [16]float32
		for s := range num {
			num[s] = float32(5 + float32(float32(rng.Intn(19)-9)*0.1))
			if kind == 2 && rng.Intn(4) == 0 {
				num[s] = iqAdversarial(rng, 2, 1)
			}
		}
		div := float32(rng.ExpFloat64() * 0.05)
		switch kind {
		case 1: // ties: id = 1 and x = 2k+2 give 0.5·(x−1) = k+½
			div = 5
			for s := range num {
				num[s] = 5
			}
		case 2:
			div = iqAdversarial(rng, 3, 0.05)
		}
		for i := range x {
			x[i] = abs32(iqAdversarial(rng, kind, 0.05))
			if kind == 1 {
				x[i] = float32(rng.Intn(12)) / 2
			}
		}
		var (
			id1, sc1, id2, sc2 [16]float32
			lv1, lv2           [4][16]uint32
			u1, u2             [4][16]int32
		)
		iq2Levels16(x, &num, div, 16, &id1, &sc1, &lv1, &u1)
		iq2LevelsGeneric(x, &num, div, 16, &id2, &sc2, &lv2, &u2)
		for s := 0; s < 16; s++ {
			if f32(id1[s]) != f32(id2[s]) || f32(sc1[s]) != f32(sc2[s]) {
				t.Fatalf("trial %d lane %d: id/sc %v/%v, generic %v/%v", trial, s, id1[s], sc1[s], id2[s], sc2[s])
			}
		}
		if lv1 != lv2 || u1 != u2 {
			t.Fatalf("trial %d: levels differ from the generic twin\n x=%v num=%v div=%v\n got  %v %v\n want %v %v",
				trial, x, num, div, lv1, u1, lv2, u2)
		}

		var (
			wx         [32]float32
			wq2        [32][4]float32
			out1, out2 [2][16]float32
		)
		for i := 0; i < n; i++ {
			wx[i] = iqAdversarial(rng, kind, 1)
			for l := 0; l < 4; l++ {
				wq2[i][l] = iqAdversarial(rng, kind, 1)
			}
		}
		iq2Sums16(&lv1, n, 16, &wx, &wq2, &out1)
		iq2SumsGeneric(&lv1, n, 16, &wx, &wq2, &out2)
		for k := 0; k < 2; k++ {
			for s := 0; s < 16; s++ {
				a, b := out1[k][s], out2[k][s]
				if f32(a) != f32(b) && !(a != a && b != b) {
					t.Fatalf("trial %d sum %d lane %d: %v, generic %v", trial, k, s, a, b)
				}
			}
		}
	}
}

// TestIQ2MakeQpQuants: the lane version of make_qp_quants against
// makeQpQuantsRef (scale bits and levels), and qpMse16 against its generic
// twin, on random and adversarial sub-blocks (negative values as the IQ2
// sign-parity flip leaves them, ties, specials).
func TestIQ2MakeQpQuants(t *testing.T) {
	rng := rand.New(rand.NewSource(9))
	f32 := math.Float32bits
	for trial := 0; trial < 20000; trial++ {
		kind := trial % 4
		n := []int{32, 32, 16, 8, 5}[trial%5]
		nmax := []int32{4, 4, 15, 63, 1}[trial/5%5]
		x := make([]float32, n)
		qw := make([]float32, n)
		for i := range x {
			x[i] = abs32(iqAdversarial(rng, kind, 0.05))
			if kind == 1 {
				x[i] = float32(rng.Intn(9)) / 4
			}
			if rng.Intn(16) == 0 {
				x[i] = -x[i]
			}
			qw[i] = abs32(iqAdversarial(rng, kind, 1))
		}
		L1, L2 := make([]uint8, n), make([]uint8, n)
		s1 := iq2MakeQpQuants(n, nmax, x, L1, qw)
		s2 := makeQpQuantsRef(n, nmax, x, L2, qw)
		if f32(s1) != f32(s2) || string(L1) != string(L2) {
			t.Fatalf("trial %d (n %d nmax %d) x=%v qw=%v: scale %v L %v, reference %v %v", trial, n, nmax, x, qw, s1, L1, s2, L2)
		}
		var is, sc, m1, m2 [16]float32
		for s := range is {
			is[s] = iqAdversarial(rng, kind, 100)
			sc[s] = iqAdversarial(rng, kind, 0.01)
		}
		qpMse16(x, qw, &is, &sc, nmax, 16, &m1)
		qpMseGeneric(x, qw, &is, &sc, nmax, 16, &m2)
		for s := range m1 {
			if f32(m1[s]) != f32(m2[s]) && !(m1[s] != m1[s] && m2[s] != m2[s]) {
				t.Fatalf("trial %d lane %d: qpMse16 %v, generic %v", trial, s, m1[s], m2[s])
			}
		}
	}
}

// TestIQ2Signs: the branch-free sign split against iq2SignsRef, bit for
// bit, on every combination of special values (±0, NaN of both signs, ±Inf,
// ±1, subnormals) over the first coordinates and random groups.
func TestIQ2Signs(t *testing.T) {
	specials := []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), -float32(math.NaN()),
		float32(math.Inf(1)), float32(math.Inf(-1)), 1, -1, 1e-45, -1e-45, math.MaxFloat32, -math.MaxFloat32}
	rng := rand.New(rand.NewSource(13))
	check := func(xb, w []float32) {
		for _, flip := range []bool{false, true} {
			var v1, v2 [8]float32
			s1 := iq2Signs(v1[:], xb, w, flip)
			s2 := iq2SignsRef(v2[:], xb, w, flip)
			for i := range v1 {
				if math.Float32bits(v1[i]) != math.Float32bits(v2[i]) {
					t.Fatalf("xb=%v w=%v flip %v: xval %v, reference %v", xb, w, flip, v1, v2)
				}
			}
			if s1 != s2 {
				t.Fatalf("xb=%v w=%v flip %v: signs %08b, reference %08b", xb, w, flip, s1, s2)
			}
		}
	}
	xb, w := make([]float32, 8), make([]float32, 8)
	for _, a := range specials {
		for _, b := range specials {
			for _, c := range specials {
				xb[0], xb[1], xb[2] = a, b, c
				for i := 3; i < 8; i++ {
					xb[i] = float32(rng.NormFloat64())
				}
				for i := range w {
					w[i] = iqAdversarial(rng, 3, 1)
				}
				check(xb, w)
			}
		}
	}
	for trial := 0; trial < 20000; trial++ {
		for i := range xb {
			xb[i] = iqAdversarial(rng, trial%4, 1)
			w[i] = iqAdversarial(rng, trial%4, 1)
		}
		check(xb, w)
	}
}
