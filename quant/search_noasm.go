//go:build !amd64 || noasm

package quant

// Without assembly the lane primitives are the generic loops of search.go.

func qkxEval8(x, w []float32, num *[8]float32, rng, min float32, nmax int32, sumW, sumX float32,
	mad, first bool, Lf *[maxGroup * 8]float32, res *[3][8]float32) {
	qkxEval8Generic(x, w, num, rng, min, nmax, sumW, sumX, mad, first, Lf, res)
}

func qxSearch(x, qw []float32, num *[24]float32, nmax int32, sums *[48]float32) (float32, bool) {
	return qxSearchGeneric(x, qw, num, nmax, sums)
}

func roundScaled(out []uint8, x []float32, iscale float32, lo, hi, off int32) {
	roundScaledGeneric(out, x, iscale, lo, hi, off)
}

func imatrixWeights(w, x, qw []float32, sigma2 float32) { imatrixWeightsGeneric(w, x, qw, sigma2) }

func iq4nlSums(x, w []float32, id []float32, sums []float32) { iq4nlSumsGeneric(x, w, id, sums) }

func iq4nlIndex(out []uint8, x []float32, id float32) { iq4nlIndexGeneric(out, x, id) }

func requant(out []uint8, x []float32, add, div float32, lo, hi, off int32) {
	requantGeneric(out, x, add, div, lo, hi, off)
}

func makeQ3Quants8(scale *[8]float32, xt *[16][8]float32, lt *[16][8]int32) {
	makeQ3Quants8Generic(xt, lt, scale)
}

// asmInstalled reports whether the assembly kernels replaced the generic
// ones at init: never in this build.
func asmInstalled() bool { return false }

// setAsm is a no-op in this build: there are no assembly kernels.
func setAsm(bool) (restore func()) { return func() {} }

// setAVX512 is a no-op in this build.
func setAVX512(bool) (restore func()) { return func() {} }
