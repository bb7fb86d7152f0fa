//go:build amd64 && !noasm

package quant

// Assembly versions (search_amd64.s, AVX2 without FMA) of the lane
// primitives of search.go. Each computes exactly what its generic twin
// computes; TestSearchAsmMatchesGeneric checks them against each other.

//go:noescape
func qkxEval8AVX2(x, w *float32, n int, num *[8]float32, rng, min float32, nmax int32, sumW, sumX float32, mad, first bool, Lf *[maxGroup * 8]float32, res *[3][8]float32)

//go:noescape
func qxSearchAVX2(x, qw *float32, n int, num *[24]float32, nmax int32, sums *[48]float32) (max float32, ok bool)

//go:noescape
func roundScaledAVX2(out *uint8, x *float32, n int, iscale float32, lo, hi, off int32)

//go:noescape
func imatrixWeightsAVX2(w, x, qw *float32, n int, sigma2 float32)

//go:noescape
func iq4nlSums16AVX2(x, w *float32, id *[16]float32, sums *[32]float32)

//go:noescape
func iq4nlIndex32AVX2(out *uint8, x *float32, id float32)

//go:noescape
func q3Quants8AVX2(xt *[16][8]float32, lt *[16][8]int32, scale *[8]float32)

//go:noescape
func requantAVX2(out *uint8, x *float32, n int, add, div float32, lo, hi, off int32)

// iq4nlAsmTables (read by search_amd64.s) holds the constants of the IQ4_NL level lookup in
// assembly: the 16 levels (as two 8-lane tables), and the level midpoints
// the branch-free binary search probes: mid[7]; mid[3] and mid[11];
// mid[1], mid[5], mid[9], mid[13]; mid[0], mid[2], …, mid[14].
var iq4nlAsmTables = func() (t [6][8]float32) {
	for j := 0; j < 8; j++ {
		t[0][j] = float32(kvaluesIQ4NL[j])
		t[1][j] = float32(kvaluesIQ4NL[j+8])
		t[5][j] = iq4nlMids[2*j]
	}
	for j := 0; j < 4; j++ {
		t[4][j] = iq4nlMids[4*j+1]
	}
	t[2][0] = iq4nlMids[7]
	t[3][0], t[3][1] = iq4nlMids[3], iq4nlMids[11]
	return t
}()

var _ = &iq4nlAsmTables // referenced only from assembly

// useAVX2 selects the assembly kernels; tests may clear it to exercise the
// generic code on an AVX2 machine.
var useAVX2 = hasAVX2

func qkxEval8(x, w []float32, num *[8]float32, rng, min float32, nmax int32, sumW, sumX float32,
	mad, first bool, Lf *[maxGroup * 8]float32, res *[3][8]float32) {
	if !useAVX2 {
		qkxEval8Generic(x, w, num, rng, min, nmax, sumW, sumX, mad, first, Lf, res)
		return
	}
	n := len(x)
	if n == 0 || len(w) < n || n > maxGroup {
		panic("quant: qkxEval8: bad lengths")
	}
	qkxEval8AVX2(&x[0], &w[0], n, num, rng, min, nmax, sumW, sumX, mad, first, Lf, res)
}

func qxSearch(x, qw []float32, num *[24]float32, nmax int32, sums *[48]float32) (float32, bool) {
	n := len(x)
	if !useAVX2 || n == 0 || n%8 != 0 {
		return qxSearchGeneric(x, qw, num, nmax, sums)
	}
	var pqw *float32
	if qw != nil {
		if len(qw) < n {
			panic("quant: qxSearch: bad lengths")
		}
		pqw = &qw[0]
	}
	return qxSearchAVX2(&x[0], pqw, n, num, nmax, sums)
}

func roundScaled(out []uint8, x []float32, iscale float32, lo, hi, off int32) {
	n := len(x)
	if !useAVX2 || n == 0 || n%8 != 0 {
		roundScaledGeneric(out, x, iscale, lo, hi, off)
		return
	}
	if len(out) < n {
		panic("quant: roundScaled: bad lengths")
	}
	roundScaledAVX2(&out[0], &x[0], n, iscale, lo, hi, off)
}

// imatrixWeights sets w[j] = qw[j]·sqrt(sigma2 + x[j]²) (imatrixWeightsRef).
func imatrixWeights(w, x, qw []float32, sigma2 float32) {
	n := len(w)
	if !useAVX2 || n%8 != 0 || n == 0 {
		imatrixWeightsGeneric(w, x, qw, sigma2)
		return
	}
	if len(x) < n || len(qw) < n {
		panic("quant: imatrixWeights: bad lengths")
	}
	imatrixWeightsAVX2(&w[0], &x[0], &qw[0], n, sigma2)
}

func iq4nlSums(x, w []float32, id []float32, sums []float32) {
	if !useAVX2 || len(x) != 32 || len(id) != 16 {
		iq4nlSumsGeneric(x, w, id, sums)
		return
	}
	if len(w) != 32 || len(sums) != 32 {
		panic("quant: iq4nlSums: bad lengths")
	}
	iq4nlSums16AVX2(&x[0], &w[0], (*[16]float32)(id), (*[32]float32)(sums))
}

func iq4nlIndex(out []uint8, x []float32, id float32) {
	if !useAVX2 || len(x) != 32 {
		iq4nlIndexGeneric(out, x, id)
		return
	}
	if len(out) < 32 {
		panic("quant: iq4nlIndex: bad lengths")
	}
	iq4nlIndex32AVX2(&out[0], &x[0], id)
}

func requant(out []uint8, x []float32, add, div float32, lo, hi, off int32) {
	n := len(x)
	if !useAVX2 || n%8 != 0 || n == 0 {
		requantGeneric(out, x, add, div, lo, hi, off)
		return
	}
	if len(out) < n {
		panic("quant: requant: bad lengths")
	}
	requantAVX2(&out[0], &x[0], n, add, div, lo, hi, off)
}

func makeQ3Quants8(scale *[8]float32, xt *[16][8]float32, lt *[16][8]int32) {
	if !useAVX2 {
		makeQ3Quants8Generic(xt, lt, scale)
		return
	}
	q3Quants8AVX2(xt, lt, scale)
}
