//go:build amd64 && !noasm

package quant

// Assembly versions (iq1_amd64.s, AVX-512 without FMA) of the IQ1 split
// searches, 16 values of i2 at a time; TestIQ1SearchAsmMatchesGeneric
// compares them with the generic searches.

// iq1sSearchAVX512 is iq1sSearchGeneric.
//
//go:noescape
func iq1sSearchAVX512(t *iq1sSplit)

// iq1mSearchAVX512 is iq1mSearchGeneric.
//
//go:noescape
func iq1mSearchAVX512(t *iq1mSplit)

func iq1sSearch(t *iq1sSplit) {
	if useAVX512 {
		iq1sSearchAVX512(t)
		return
	}
	iq1sSearchGeneric(t)
}

func iq1mSearch(t *iq1mSplit) {
	if useAVX512 {
		iq1mSearchAVX512(t)
		return
	}
	iq1mSearchGeneric(t)
}

// iq1NeighbourAVX512 is iq1NeighbourGeneric for the n neighbours at nb,
// whose packed levels are at lv (readable 16 entries past n).
//
//go:noescape
func iq1NeighbourAVX512(lv, nb *uint16, n int, e *[32]float32) int

// iq1NeighbourVec reports whether iq1BestNeighbour uses iq1Neighbour.
func iq1NeighbourVec() bool { return useAVX512 }

// iq1Neighbour is iq1NeighbourGeneric; lv must be a slice of iq1NbLevels
// (padded past its end).
func iq1Neighbour(lv, nb []uint16, e *[32]float32) int {
	if len(nb) == 0 {
		return -1
	}
	return iq1NeighbourAVX512(&lv[0], &nb[0], len(nb), e)
}

// iq1RankAVX512 is iq1SortedIndex for n = 16 or 32 values; it reports
// false, leaving idx unset, if x has a NaN.
//
//go:noescape
func iq1RankAVX512(idx *int, x *float32, n int) bool

// iq1Sort is iq1SortedIndex: with AVX-512, by ranks computed 16 at a time
// (iq1RankAVX512) where x has no NaN.
func iq1Sort(idx []int, x []float32) {
	if useAVX512 && (len(x) == 16 || len(x) == 32) && len(idx) == len(x) && iq1RankAVX512(&idx[0], &x[0], len(x)) {
		return
	}
	iq1SortedIndex(idx, x)
}
