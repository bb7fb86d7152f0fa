package quant

import (
	"bytes"
	"testing"
	"unsafe"
)

// TestPrefetchAnyAddress: prefetch1K is only a hint; it must not fault on
// nil, on the bytes past a slice's end or on an address nothing maps.
func TestPrefetchAnyAddress(t *testing.T) {
	x := make([]float32, 256)
	end := uintptr(unsafe.Pointer(unsafe.SliceData(x))) + uintptr(len(x))*4
	for _, a := range []uintptr{0, 64, end, end + 1<<20, 1<<47 - 1024} {
		prefetch1K(a)
	}
}

// TestQ3KPrefetchEdges quantizes Q3_K inputs whose last superblock ends at
// the end of their slice (so the prefetch of what follows leaves it),
// through the fast encoder and its reference twin, 1 to 9 superblocks.
func TestQ3KPrefetchEdges(t *testing.T) {
	tr := mustTraits(Q3_K)
	for n := 1; n <= 9; n++ {
		src := goldenBits("normal", uint64(77+n), 1, n*qkK)
		src = append([]float32(nil), src...) // an allocation of its own
		got := make([]byte, n*tr.BlockBytes)
		want := make([]byte, n*tr.BlockBytes)
		quantizeQ3_K(got, src, len(src), nil)
		quantizeQ3_KRef(want, src, len(src), nil)
		if !bytes.Equal(got, want) {
			t.Fatalf("%d superblocks: fast and reference Q3_K differ", n)
		}
	}
}
