//go:build !amd64 || noasm

package quant

// Without assembly the IQ1 split searches are the generic loops.

func iq1sSearch(t *iq1sSplit) { iq1sSearchGeneric(t) }

func iq1mSearch(t *iq1mSplit) { iq1mSearchGeneric(t) }

func iq1NeighbourVec() bool { return false }

func iq1Neighbour(lv, nb []uint16, e *[32]float32) int { return iq1NeighbourGeneric(lv, nb, e) }

func iq1Sort(idx []int, x []float32) { iq1SortedIndex(idx, x) }
