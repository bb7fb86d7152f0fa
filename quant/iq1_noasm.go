//go:build !amd64 || noasm

package quant

// Without assembly the IQ1 split searches are the generic loops.

func iq1sSearch(t *iq1sSplit) { iq1sSearchGeneric(t) }

func iq1mSearch(t *iq1mSplit) { iq1mSearchGeneric(t) }
