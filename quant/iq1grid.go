package quant

import "sync"

// iq1NbLevels is a table derived from IQ1_S's grid for the vector
// neighbour search of IQ1_S and IQ1_M (iq1_amd64.s): entry k is the packed
// levels (2 bits per coordinate, coordinate 0 lowest, i.e. the kgrid value)
// of the grid point gridIQ1S.neighbours[k], parallel to that array (the
// list counts get an unused entry), with 16 zero entries of padding so
// that a 16-lane load from any list stays inside.
var iq1NbLevels = sync.OnceValue(func() []uint16 {
	g := gridIQ1S.get()
	lv := make([]uint16, len(g.neighbours)+16)
	for u := range g.kmap {
		if g.kmap[u] >= 0 {
			continue
		}
		off := int(-g.kmap[u])
		for k, j := range g.neighboursOf(u) {
			lv[off+k] = g.kgrid[j]
		}
	}
	return lv
})
