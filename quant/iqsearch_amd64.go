//go:build amd64 && !noasm

package quant

// iqSearchAVX512, iqSearchAVX2, iq2Levels16AVX512, iq2Sums16AVX512 and
// qpMse16AVX512 are in
// iqsearch_amd64.s; their generic twins and contracts are in iqsearch.go.

//go:noescape
func iqSearchAVX512(tasks *iqTask, n int, nib *uint32, x, w *float32, xg *[4]float32, lv *uint32) (fails int)

//go:noescape
func iqSearchAVX2(tasks *iqTask, n int, nib *uint32, x, w *float32, xg *[4]float32, lv *uint32) (fails int)

//go:noescape
func iq2Levels16AVX512(x *float32, n int, num *[16]float32, div float32, id, sc *[16]float32, lv *[4][16]uint32, u *[4][16]int32)

//go:noescape
func iq2Sums16AVX512(lv *[4][16]uint32, n int, wx *[32]float32, wq2 *[32][4]float32, out *[2][16]float32)

// iqSearch runs the neighbour searches of tasks; see iqSearchGeneric. The
// tasks' offsets must lie within nib, x, w and lv (the callers build them
// from the grid's own lists): the assembly kernel does not check them.
func iqSearch(tasks []iqTask, nib []uint32, x, w []float32, xg *[4]float32, lv []uint32) int {
	if !useAVX2 || len(tasks) == 0 {
		return iqSearchGeneric(tasks, nib, x, w, xg, lv)
	}
	var lvp *uint32
	if lv != nil {
		lvp = &lv[0]
	}
	if !useAVX512 {
		return iqSearchAVX2(&tasks[0], len(tasks), &nib[0], &x[0], &w[0], xg, lvp)
	}
	return iqSearchAVX512(&tasks[0], len(tasks), &nib[0], &x[0], &w[0], xg, lvp)
}

// iq2Levels16 computes the levels of x (len 8, 16, 24 or 32) for 16
// candidate scales, of which the caller needs the first lanes; see
// iq2LevelsGeneric.
func iq2Levels16(x []float32, num *[16]float32, div float32, lanes int, id, sc *[16]float32, lv *[4][16]uint32, u *[4][16]int32) {
	n := len(x)
	if !useAVX512 || n == 0 || n%8 != 0 || n > 32 {
		iq2LevelsGeneric(x, num, div, lanes, id, sc, lv, u)
		return
	}
	iq2Levels16AVX512(&x[0], n, num, div, id, sc, lv, u)
}

// iq2Sums16 computes the fit sums of 16 candidate scales' levels over the
// first n ≤ 32 elements (a multiple of 8 for the assembly); see
// iq2SumsGeneric.
func iq2Sums16(lv *[4][16]uint32, n, lanes int, wx *[32]float32, wq2 *[32][4]float32, out *[2][16]float32) {
	if !useAVX512 || n <= 0 || n > 32 || n%8 != 0 {
		iq2SumsGeneric(lv, n, lanes, wx, wq2, out)
		return
	}
	iq2Sums16AVX512(lv, n, wx, wq2, out)
}

//go:noescape
func qpMse16AVX512(x, qw *float32, n int, is, sc *[16]float32, nmax int32, mse *[16]float32)

// qpMse16 is make_qp_quants' errors for 16 candidate scales, of which the
// caller needs the first lanes; see qpMseGeneric.
func qpMse16(x, qw []float32, is, sc *[16]float32, nmax int32, lanes int, mse *[16]float32) {
	n := len(x)
	if !useAVX512 || n == 0 || len(qw) < n {
		qpMseGeneric(x, qw, is, sc, nmax, lanes, mse)
		return
	}
	qpMse16AVX512(&x[0], &qw[0], n, is, sc, nmax, mse)
}
