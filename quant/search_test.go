package quant

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The lane primitives: whatever implementation is installed (assembly on
// AVX2 machines) against the generic Go loops, on random and hostile data.
// With -tags noasm, or on a CPU without AVX2, both sides are the generic
// code and the test is trivially true; TestAsmInstalled says which it is.

func TestAsmInstalled(t *testing.T) {
	t.Logf("assembly kernels installed: %v", asmInstalled())
}

// searchValues returns n values of a random flavour: normal, tiny, huge,
// integers, zeros, or a mixture.
func searchValues(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	kind := rng.IntN(7)
	for i := range x {
		switch kind {
		case 0:
			x[i] = float32(rng.NormFloat64())
		case 1:
			x[i] = float32(rng.NormFloat64() * 1e-38)
		case 2:
			x[i] = float32(rng.NormFloat64() * 1e37)
		case 3:
			x[i] = float32(rng.IntN(9) - 4)
		case 4:
			if rng.IntN(3) == 0 {
				x[i] = float32(rng.NormFloat64())
			}
		case 5:
			x[i] = math.Float32frombits(rng.Uint32()&^0x7F800000 | uint32(rng.IntN(254)+1)<<23)
		default:
			x[i] = float32(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(20)-10)))
		}
	}
	return x
}

// sameBitsOrNaN is sameBits except that any two NaNs are equal. It is used
// for make_qkx's errors only: with the mad criterion a NaN difference turns
// into a positive NaN (|NaN|) while other NaNs are x86's negative default
// NaN, and which of two NaNs an addition returns depends on operand order,
// which neither gcc nor Go specify. An error is only ever compared
// (err < best), and every comparison with a NaN is false, so the sign of a
// NaN error cannot change any output.
func sameBitsOrNaN(a, b []float32) bool {
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) && !(a[i] != a[i] && b[i] != b[i]) {
			return false
		}
	}
	return true
}

func sameBits(a, b []float32) bool {
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

func TestSearchAsmMatchesGeneric(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	iters := 20000
	if testing.Short() {
		iters = 3000
	}
	for it := 0; it < iters; it++ {
		n := []int{16, 32}[rng.IntN(2)]
		x := searchValues(rng, n)
		w := searchValues(rng, n)
		if rng.IntN(2) == 0 {
			for i := range w {
				w[i] = abs32(w[i])
			}
		}
		// qkxEval8: numerators of a realistic range, sometimes hostile
		var num [8]float32
		for k := range num {
			num[k] = float32(rng.Float64() * 40)
			if rng.IntN(20) == 0 {
				num[k] = []float32{0, posInf32, 1e30, 1e-30}[rng.IntN(4)]
			}
		}
		min, max := float32(0), float32(0)
		for _, v := range x {
			if v < min {
				min = v
			}
			if v > max {
				max = v
			}
		}
		if rng.IntN(4) == 0 {
			min = float32(rng.NormFloat64()) // a regression min
		}
		rngv := max - min
		if rng.IntN(20) == 0 {
			rngv = []float32{0, 1e-38, posInf32}[rng.IntN(3)]
		}
		var sumW, sumX float32
		for i := range x {
			sumW += w[i]
			sumX += float32(w[i] * x[i])
		}
		nmax := []int32{3, 15, 31}[rng.IntN(3)]
		mad, first := rng.IntN(2) == 0, rng.IntN(2) == 0
		var Lf1, Lf2 [maxGroup * 8]float32
		var r1, r2 [3][8]float32
		qkxEval8(x, w, &num, rngv, min, nmax, sumW, sumX, mad, first, &Lf1, &r1)
		qkxEval8Generic(x, w, &num, rngv, min, nmax, sumW, sumX, mad, first, &Lf2, &r2)
		if Lf1 != Lf2 || !sameBits(r1[0][:], r2[0][:]) || !sameBits(r1[1][:], r2[1][:]) || !sameBitsOrNaN(r1[2][:], r2[2][:]) {
			t.Fatalf("qkxEval8 differs: x=%v w=%v num=%v\n got  %v\n want %v\n bits %x\n want %x", x, w, num, r1, r2, laneBits(r1[:]), laneBits(r2[:]))
		}

		// make_qx_quants scan and sums, and the final rounding
		nm := []int32{4, 8, 16, 32}[rng.IntN(4)]
		// numerators within qxSearch's contract |num| ≤ nmax+1, including
		// the extremes and values just around half-integers of the levels
		var num24 [24]float32
		for k := range num24 {
			num24[k] = float32(rng.Float64()*2-1) * float32(nm+1)
			if rng.IntN(10) == 0 {
				num24[k] = []float32{0, float32(nm + 1), -float32(nm + 1), float32(nm) + 0.5}[rng.IntN(4)]
			}
		}
		if rng.IntN(2) == 0 {
			num24 = *map[int32]*[24]float32{4: qxNum4, 8: qxNum8, 16: qxNum16, 32: qxNum32}[nm]
		}
		var s1, s2 [48]float32
		qw := w
		if rng.IntN(2) == 0 {
			qw = nil
		}
		m1, ok1 := qxSearch(x, qw, &num24, nm, &s1)
		m2, ok2 := qxSearchGeneric(x, qw, &num24, nm, &s2)
		if ok1 != ok2 || (ok1 && (math.Float32bits(m1) != math.Float32bits(m2) || !sameBits(s1[:], s2[:]))) {
			t.Fatalf("qxSearch differs: x=%v\n got  %v %v %v\n want %v %v %v", x, m1, ok1, s1, m2, ok2, s2)
		}
		var rs1, rs2 [32]uint8
		isc := num24[0] / x[0]
		roundScaled(rs1[:n], x, isc, -nm, nm-1, nm)
		roundScaledGeneric(rs2[:n], x, isc, -nm, nm-1, nm)
		if rs1 != rs2 {
			t.Fatalf("roundScaled differs: x=%v iscale=%v\n got  %v\n want %v", x, isc, rs1, rs2)
		}

		// imatrix weights
		sigma2 := abs32(float32(rng.NormFloat64()))
		if rng.IntN(5) == 0 {
			sigma2 = []float32{0, posInf32, 1e38}[rng.IntN(3)]
		}
		w1, w2 := make([]float32, n), make([]float32, n)
		imatrixWeights(w1, x, w, sigma2)
		imatrixWeightsGeneric(w2, x, w, sigma2)
		if !sameBits(w1, w2) {
			t.Fatalf("imatrixWeights differs: x=%v qw=%v sigma2=%v\n got  %v\n want %v", x, w, sigma2, w1, w2)
		}

		// IQ4_NL sums and indices (n = 32)
		x32 := searchValues(rng, 32)
		w32 := searchValues(rng, 32)
		id := make([]float32, 16)
		for k := range id {
			id[k] = float32(rng.NormFloat64() * 200)
			if rng.IntN(20) == 0 {
				id[k] = []float32{0, posInf32, 1e30, -1e-30}[rng.IntN(4)]
			}
		}
		t1, t2 := make([]float32, 32), make([]float32, 32)
		iq4nlSums(x32, w32, id, t1)
		iq4nlSumsGeneric(x32, w32, id, t2)
		if !sameBits(t1, t2) {
			t.Fatalf("iq4nlSums differs: x=%v id=%v\n got  %v\n want %v", x32, id, t1, t2)
		}
		var i1, i2 [32]uint8
		iq4nlIndex(i1[:], x32, id[0])
		iq4nlIndexGeneric(i2[:], x32, id[0])
		if i1 != i2 {
			t.Fatalf("iq4nlIndex differs: x=%v id=%v\n got  %v\n want %v", x32, id[0], i1, i2)
		}

		// make_q3_quants for 8 groups: asm vs generic, and generic vs the
		// per-group reference
		var xt [16][8]float32
		for k := 0; k < 8; k++ {
			g := searchValues(rng, 16)
			if rng.IntN(8) == 0 {
				g = make([]float32, 16) // all-zero group
			}
			for i := range g {
				xt[i][k] = g[i]
			}
		}
		var lt1, lt2 [16][8]int32
		var sc1, sc2 [8]float32
		makeQ3Quants8(&sc1, &xt, &lt1)
		makeQ3Quants8Generic(&xt, &lt2, &sc2)
		if lt1 != lt2 || !sameBits(sc1[:], sc2[:]) {
			t.Fatalf("makeQ3Quants8 differs: xt=%v\n got  %v %v\n want %v %v", xt, sc1, lt1, sc2, lt2)
		}
		for k := 0; k < 8; k++ {
			var g [16]float32
			var L [16]int8
			for i := range g {
				g[i] = xt[i][k]
			}
			s := makeQ3QuantsRef(g[:], L[:])
			for i := range L {
				if int32(L[i]) != lt2[i][k] {
					t.Fatalf("makeQ3Quants8Generic lane %d differs from makeQ3QuantsRef: %v", k, g)
				}
			}
			if math.Float32bits(s) != math.Float32bits(sc2[k]) {
				t.Fatalf("makeQ3Quants8Generic lane %d scale %v, reference %v", k, sc2[k], s)
			}
		}

		// requant
		add := float32(rng.NormFloat64())
		if rng.IntN(3) == 0 {
			add = 0
		}
		div := float32(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(10)-5)))
		lo, hi, off := []int32{0, -4, -32}[it%3], []int32{3, 15, 31, 3, 31}[it%5], []int32{0, 4, 32}[it%3]
		var q1, q2 [32]uint8
		requant(q1[:n], x, add, div, lo, hi, off)
		requantGeneric(q2[:n], x, add, div, lo, hi, off)
		if q1 != q2 {
			t.Fatalf("requant differs: x=%v add=%v div=%v\n got  %v\n want %v", x, add, div, q1, q2)
		}
	}
}

// FuzzSearchAsm drives the same comparison from fuzzed seeds.
func FuzzSearchAsm(f *testing.F) {
	f.Add(uint64(5))
	f.Fuzz(func(t *testing.T, seed uint64) {
		rng := rand.New(rand.NewPCG(seed, seed>>7))
		x := searchValues(rng, 32)
		w := searchValues(rng, 32)
		id := searchValues(rng, 16)
		t1, t2 := make([]float32, 32), make([]float32, 32)
		iq4nlSums(x, w, id, t1)
		iq4nlSumsGeneric(x, w, id, t2)
		if !sameBits(t1, t2) {
			t.Fatalf("iq4nlSums differs")
		}
		var num [24]float32
		for k, v := range searchValues(rng, 24) {
			num[k] = float32(math.Mod(float64(v), 9)) // within the contract for nmax 8
		}
		var s1, s2 [48]float32
		m1, ok1 := qxSearch(x, w, &num, 8, &s1)
		m2, ok2 := qxSearchGeneric(x, w, &num, 8, &s2)
		if ok1 != ok2 || (ok1 && (math.Float32bits(m1) != math.Float32bits(m2) || !sameBits(s1[:], s2[:]))) {
			t.Fatalf("qxSearch differs")
		}
	})
}

func laneBits(r [][8]float32) (b [][8]uint32) {
	for _, v := range r {
		var u [8]uint32
		for k := range v {
			u[k] = math.Float32bits(v[k])
		}
		b = append(b, u)
	}
	return b
}
