//go:build !amd64 || noasm

package quant

// Without assembly the IQ lane kernels are their generic twins (iqsearch.go).

func iqSearch(tasks []iqTask, nib []uint32, x, w []float32, xg *[4]float32, lv []uint32) int {
	return iqSearchGeneric(tasks, nib, x, w, xg, lv)
}

func iq2Levels16(x []float32, num *[16]float32, div float32, lanes int, id, sc *[16]float32, lv *[4][16]uint32, u *[4][16]int32) {
	iq2LevelsGeneric(x, num, div, lanes, id, sc, lv, u)
}

func iq2Sums16(lv *[4][16]uint32, n, lanes int, wx *[32]float32, wq2 *[32][4]float32, out *[2][16]float32) {
	iq2SumsGeneric(lv, n, lanes, wx, wq2, out)
}

func qpMse16(x, qw []float32, is, sc *[16]float32, nmax int32, lanes int, mse *[16]float32) {
	qpMseGeneric(x, qw, is, sc, nmax, lanes, mse)
}
