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
