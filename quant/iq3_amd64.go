//go:build amd64 && !noasm

package quant

// The AVX-512 kernels of the lane-parallel IQ3 search (iq3_amd64.s); the
// Go twins are iq3LevelsGeneric, iq3NeighboursGeneric and iq3SumsGeneric
// (iq3.go).

// iq3LanesAsm says the AVX-512 kernels can run.
const iq3LanesAsm = true

// iq3LanesOn says the AVX-512 kernels run (tests may turn AVX-512 off).
func iq3LanesOn() bool { return useAVX512 }

//go:noescape
func iq3LevelsAVX512(w *iq3Lanes, xval *[32]float32, kmap *[4096]int32)

//go:noescape
func iq3NeighboursAVX512(w *iq3Lanes, k int, cmask uint32, off, cnt *[4096]int32, idx *byte) int

//go:noescape
func iq3SumsAVX512(w *iq3Lanes, weight, xval *[32]float32)

func iq3LevelsAsm(w *iq3Lanes, xval *[32]float32, kmap *[4096]int32) {
	iq3LevelsAVX512(w, xval, kmap)
}

func iq3NeighboursAsm(w *iq3Lanes, k int, cmask uint32, t *iq3Tables) bool {
	return iq3NeighboursAVX512(w, k, cmask, &t.nbOff, &t.nbCnt, &t.nbIdx[0]) == 0
}

func iq3SumsAsm(w *iq3Lanes, weight, xval *[32]float32) { iq3SumsAVX512(w, weight, xval) }
