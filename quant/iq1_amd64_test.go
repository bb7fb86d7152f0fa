//go:build amd64 && !noasm

package quant

import (
	"math"
	"math/rand"
	"testing"
)

// iq1Special returns a float32 from the values that steer the split and
// neighbour searches' comparisons: zeros of both signs, infinities, NaN,
// the extremes, subnormals, exact ties.
func iq1Special(rng *rand.Rand) float32 {
	specials := []float32{0, float32(math.Copysign(0, -1)), 1, -1, 0.5, float32(math.Inf(1)), float32(math.Inf(-1)),
		float32(math.NaN()), math.MaxFloat32, -math.MaxFloat32, math.SmallestNonzeroFloat32, 1e-38, -1e-38, 1e30, -1e30, 2}
	return specials[rng.Intn(len(specials))]
}

// iq1Value is a random table value: mostly realistic magnitudes, sometimes
// a special one (with probability pSpecial), sometimes a repeat of few
// values (ties).
func iq1Value(rng *rand.Rand, pSpecial float64) float32 {
	switch r := rng.Float64(); {
	case r < pSpecial:
		return iq1Special(rng)
	case r < pSpecial+0.1:
		return float32(rng.Intn(5) - 2)
	default:
		return float32(rng.NormFloat64() * math.Exp(rng.NormFloat64()*3))
	}
}

// iq1sRandomSplit fills t like iq1sBlock from random data (kind 0: a sorted
// random sub-block with positive weights; 1: the same with special values
// mixed in; 2: every table entry independent and random).
func iq1sRandomSplit(rng *rand.Rand, t *iq1sSplit, kind int) {
	t.init()
	const bs = iq1sBS
	switch kind {
	case 0, 1:
		p := 0.0
		if kind == 1 {
			p = 0.05
		}
		for j := 0; j < bs; j++ {
			x := float32(float64(j-bs/2)*0.01 + rng.NormFloat64()*0.003)
			w := float32(rng.ExpFloat64())
			if rng.Float64() < p {
				x = iq1Special(rng)
			}
			if rng.Float64() < p {
				w = iq1Special(rng)
			}
			t.sumx[j+1] = t.sumx[j] + float32(w*x)
			t.sumw[j+1] = t.sumw[j] + w
		}
		t.fill()
	default:
		for i := 0; i <= bs; i++ {
			for _, a := range []*[iq1sTab]float32{&t.sumx, &t.sumw, &t.cxp, &t.cxm, &t.cwp, &t.cwm, &t.axp, &t.axm, &t.awp, &t.awm} {
				a[i] = iq1Value(rng, 0.1)
			}
		}
	}
	t.best, t.scale, t.bi1, t.bi2, t.shift = -math.MaxFloat32, 1, -1, -1, 0
	if rng.Intn(4) == 0 {
		t.best = iq1Value(rng, 0.2)
	}
}

func iq1mRandomSplit(rng *rand.Rand, t *iq1mSplit, kind int) {
	t.init()
	const bs = iq1mBS
	tabs := []*[iq1mTab]float32{&t.px0, &t.px1, &t.c2p0, &t.c2p1, &t.c2m0, &t.c2m1, &t.k1p0, &t.k1p1, &t.k1m0, &t.k1m1}
	p := []float64{0, 0.05, 0.1}[kind]
	for i := 0; i <= bs; i++ {
		for _, a := range tabs {
			a[i] = iq1Value(rng, p)
		}
	}
	if kind == 0 { // prefix sums and monotone per-i terms, as iq1mBlock makes them
		for h := 0; h < 2; h++ {
			var sx, sw float32
			for i := 1; i <= bs; i++ {
				if rng.Intn(2) == h {
					sx += float32(float32(rng.NormFloat64()*0.02) * float32(rng.ExpFloat64()))
					sw += float32(rng.ExpFloat64())
				}
				tabs[h][i] = sx
				tabs[2+h][i] = float32(sw * -1.5)
				tabs[4+h][i] = float32(sw * 0.5)
				tabs[6+h][i] = float32(sw*1.25) + float32(sw*0.75)
				tabs[8+h][i] = float32(sw*0.8) + float32(sw*0.2)
			}
			tabs[h][0], tabs[2+h][0], tabs[4+h][0] = 0, 0, 0
		}
	}
	t.tp0, t.tp1, t.tm0, t.tm1 = iq1Value(rng, p), iq1Value(rng, p), iq1Value(rng, p), iq1Value(rng, p)
	t.best, t.scale, t.bi1, t.bi2, t.k = -math.MaxFloat32, 1, -1, -1, -1
	if rng.Intn(4) == 0 {
		t.best = iq1Value(rng, 0.2)
	}
}

// TestIQ1SearchAsmMatchesGeneric: the AVX-512 split searches end in the
// generic searches' state (best split, sign, scale and score bit for bit)
// on random, special-valued and independent random tables.
func TestIQ1SearchAsmMatchesGeneric(t *testing.T) {
	if !hasAVX512 {
		t.Skip("no AVX-512")
	}
	rng := rand.New(rand.NewSource(11))
	n := 30000
	if testing.Short() {
		n = 6000
	}
	bits := math.Float32bits
	for it := 0; it < n; it++ {
		kind := it % 3
		var a, b iq1sSplit
		iq1sRandomSplit(rng, &a, kind)
		b = a
		iq1sSearchAVX512(&a)
		iq1sSearchGeneric(&b)
		if a.bi1 != b.bi1 || a.bi2 != b.bi2 || a.shift != b.shift || bits(a.scale) != bits(b.scale) || bits(a.best) != bits(b.best) {
			t.Fatalf("IQ1_S case %d (kind %d): asm (%d,%d,%d) scale %g best %g, generic (%d,%d,%d) scale %g best %g",
				it, kind, a.bi1, a.bi2, a.shift, a.scale, a.best, b.bi1, b.bi2, b.shift, b.scale, b.best)
		}
		var c, d iq1mSplit
		iq1mRandomSplit(rng, &c, kind)
		d = c
		iq1mSearchAVX512(&c)
		iq1mSearchGeneric(&d)
		if c.bi1 != d.bi1 || c.bi2 != d.bi2 || c.k != d.k || bits(c.scale) != bits(d.scale) || bits(c.best) != bits(d.best) {
			t.Fatalf("IQ1_M case %d (kind %d): asm (%d,%d,%d) scale %g best %g, generic (%d,%d,%d) scale %g best %g",
				it, kind, c.bi1, c.bi2, c.k, c.scale, c.best, d.bi1, d.bi2, d.k, d.scale, d.best)
		}
	}
}

// TestIQ1NeighbourAsmMatchesGeneric runs the AVX-512 neighbour search on
// every neighbour list of the IQ1_S grid (exhaustive over the lists) with
// random, special-valued and tie-making error tables, against
// iq1NeighbourGeneric.
func TestIQ1NeighbourAsmMatchesGeneric(t *testing.T) {
	if !hasAVX512 {
		t.Skip("no AVX-512")
	}
	g := gridIQ1S.get()
	lvAll := iq1NbLevels()
	rng := rand.New(rand.NewSource(5))
	var e [32]float32
	lists := 0
	for u := range g.kmap {
		if g.kmap[u] >= 0 {
			continue
		}
		off := int(-g.kmap[u])
		nb := g.neighboursOf(u)
		lv := lvAll[off : off+len(nb)]
		for k, j := range nb {
			if lv[k] != g.kgrid[j] {
				t.Fatalf("iq1NbLevels[%d] = %#x, want grid point %d's %#x", off+k, lv[k], j, g.kgrid[j])
			}
		}
		lists++
		for kind := 0; kind < 4; kind++ {
			for i := range e {
				switch kind {
				case 0:
					e[i] = float32(rng.ExpFloat64())
				case 1:
					e[i] = float32(rng.Intn(3)) // many ties, +0 sums
				case 2:
					e[i] = iq1Value(rng, 0.3)
				case 3:
					e[i] = float32(math.MaxFloat32 / 4 * rng.Float64()) // sums reaching FLT_MAX and +Inf
				}
			}
			if got, want := iq1Neighbour(lv, nb, &e), iq1NeighbourGeneric(lv, nb, &e); got != want {
				t.Fatalf("u %#x (%d neighbours, kind %d): asm %d, generic %d (e %v)", u, len(nb), kind, got, want, e)
			}
		}
	}
	if lists != 41644 {
		t.Errorf("%d neighbour lists, want 41644", lists)
	}
}

// TestIQ1BestNeighbourMatchesRef: iq1BestNeighbour (AVX-512 and generic)
// gives iq1FindBestNeighbour2Ref's index and levels.
func TestIQ1BestNeighbourMatchesRef(t *testing.T) {
	g := gridIQ1S.get()
	rng := rand.New(rand.NewSource(9))
	var offGrid []int
	for u := range g.kmap {
		if g.kmap[u] < 0 {
			offGrid = append(offGrid, u)
		}
	}
	xval, w := make([]float32, 8), make([]float32, 8)
	L1, L2 := make([]int8, 8), make([]int8, 8)
	for _, on := range []bool{true, false} {
		restore := setAVX512(on)
		for it := 0; it < 20000; it++ {
			u := offGrid[rng.Intn(len(offGrid))]
			for i := range xval {
				xval[i] = float32(rng.NormFloat64())
				w[i] = float32(rng.ExpFloat64())
				if it%5 == 0 {
					xval[i] = float32(rng.Intn(3)-1) * 1.125
					w[i] = float32(rng.Intn(2))
				}
			}
			scale := float32(rng.ExpFloat64())
			xg := &iq1XP
			if it%2 == 1 {
				xg = &iq1XM
			}
			want := iq1FindBestNeighbour2Ref(g, g.neighboursOf(u), xval, w, scale, xg, L1)
			got := iq1BestNeighbour(g, u, xval, w, scale, xg, L2)
			if got != want || string(int8Bytes(L1)) != string(int8Bytes(L2)) {
				t.Fatalf("AVX-512 %v, u %#x: got %d %v, want %d %v", on, u, got, L2, want, L1)
			}
		}
		restore()
	}
}

func int8Bytes(L []int8) []byte {
	b := make([]byte, len(L))
	for i, v := range L {
		b[i] = byte(v)
	}
	return b
}

// TestIQ1EncodersAsmMatchRef: IQ1_S and IQ1_M, with and without the
// AVX-512 kernels, give the reference twins' bytes on the branch-steering
// input and on rows with special values.
func TestIQ1EncodersAsmMatchRef(t *testing.T) {
	rng := rand.New(rand.NewSource(13))
	const rows, nPerRow = 6, 1024
	x := iqTestInput(rng, rows, nPerRow)
	for i := 0; i < len(x); i += 61 {
		if i/nPerRow == rows-1 { // one row with huge values (sums overflow)
			x[i] = float32(rng.NormFloat64() * 1e19)
		}
	}
	im := make([]float32, nPerRow)
	for i := range im {
		if i%13 != 0 {
			im[i] = float32(rng.ExpFloat64())
		}
	}
	for _, on := range []bool{true, false} {
		restore := setAVX512(on)
		for _, typ := range []Type{IQ1_S, IQ1_M} {
			tr, _ := TraitsOf(typ)
			for _, imx := range [][]float32{nil, im} {
				if imx == nil && RequiresImatrix(typ) {
					continue
				}
				for r := 0; r < rows; r++ {
					want := make([]byte, nPerRow/qkK*tr.BlockBytes)
					got := make([]byte, len(want))
					row := x[r*nPerRow : (r+1)*nPerRow]
					errW := iq1Try(func() { referenceTwin(typ)(want, row, nPerRow, imx) })
					errG := iq1Try(func() { tr.quantize(got, row, nPerRow, imx) })
					if (errW == nil) != (errG == nil) || string(want) != string(got) {
						t.Errorf("%s AVX-512 %v imatrix %v row %d: got %x (%v), want %x (%v)", tr.Name, on, imx != nil, r, got, errG, want, errW)
					}
				}
			}
		}
		restore()
	}
}

func iq1Try(f func()) (err any) {
	defer func() { err = recover() }()
	f()
	return nil
}

// TestIQ1SortAsmMatchesGeneric: the rank sort gives iq1SortedIndex's
// order (stable, ±0 equal) on random values, many ties, zeros of both
// signs and infinities, and falls back on NaN.
func TestIQ1SortAsmMatchesGeneric(t *testing.T) {
	if !hasAVX512 {
		t.Skip("no AVX-512")
	}
	rng := rand.New(rand.NewSource(17))
	few := []float32{float32(math.Inf(-1)), -1, float32(math.Copysign(0, -1)), 0, 1, float32(math.Inf(1)), math.MaxFloat32, -math.SmallestNonzeroFloat32}
	for it := 0; it < 40000; it++ {
		n := 16 << (it % 2)
		x := make([]float32, n)
		for i := range x {
			switch it % 5 {
			case 0:
				x[i] = float32(rng.NormFloat64())
			case 1, 2:
				x[i] = few[rng.Intn(len(few))]
			case 3:
				x[i] = float32(rng.Intn(3) - 1)
			case 4:
				x[i] = iq1Value(rng, 0.2) // NaN sometimes
			}
		}
		want, got := make([]int, n), make([]int, n)
		iq1SortedIndex(want, x)
		for i := range got {
			got[i] = -1
		}
		iq1Sort(got, x)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("x %v: got %v, want %v", x, got, want)
			}
		}
	}
}
