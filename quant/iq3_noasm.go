//go:build !amd64 || noasm

package quant

// Without the assembly kernels the IQ3 encoders use iq3Search (the lane
// search's Go twins are still compared with the reference by the tests).

const iq3LanesAsm = false

func iq3LanesOn() bool { return false }

func iq3LevelsAsm(w *iq3Lanes, xval *[32]float32, kmap *[4096]int32) {
	iq3LevelsGeneric(w, xval, kmap)
}

func iq3NeighboursAsm(w *iq3Lanes, k int, cmask uint32, t *iq3Tables) bool {
	return iq3NeighboursGeneric(w, k, cmask, t)
}

func iq3SumsAsm(w *iq3Lanes, weight, xval *[32]float32) { iq3SumsGeneric(w, weight, xval) }
