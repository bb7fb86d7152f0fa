package quant

import (
	"sync"
	"unsafe"
)

// The lattice grids of IQ2_XXS, IQ2_XS, IQ2_S, IQ1_S and IQ1_M, and the
// search tables their encoders use, built the way ggml's iq2xs_init_impl
// (ggml/src/ggml-quants.c, llama.cpp 0c1e570) builds them:
//
//   - the grid points are kgridIQ2XXS (256), kgridIQ2XS (512), kgridIQ2S
//     (1024) and kgridIQ1S (2048) of iqgrid_tables.go, ggml's kgrid_2bit_256,
//     kgrid_2bit_512, kgrid_2bit_1024 and kgrid_1bit_2048: each packs eight
//     2-bit levels l (coordinate i in bits 2i..2i+1). The quantizers see a
//     point as the eight odd integers 2l+1; IQ1_M shares IQ1_S's grid.
//   - the map sends every packed 8-vector u of levels 0..3 below 43692 (the
//     largest one with levels 0..2 is 0xAAAA) to its grid index, or, if u is
//     not a grid point, to the list of its nearest grid points: all points
//     whose squared distance (in 2l+1 coordinates) is one of the nwant
//     smallest distances that occur (nwant = 1 for IQ2_S, 2 for IQ2_XXS and
//     IQ2_XS, 3 for IQ1_S/IQ1_M), ordered by distance, then by grid index —
//     ggml's qsort with iq2_compare_func. The encoders' neighbour searches
//     take the first best point, so the order is part of the format's
//     reference behaviour.
//   - the decoders' grids (ggml-common.h's iq2xxs_grid, iq2xs_grid,
//     iq2s_grid: bytes 0x08, 0x19, 0x2b for levels 0, 1, 2; iq1s_grid: int8
//     −1, 0, 1) are the same points with those values; tests/golden/
//     gen_iq_grids.py checked the expansion against ggml-common.h when it
//     wrote the tables.
//
// The tables are built on first use (sync.Once per grid) and then only read.

// iqKmapSize is ggml's kmap_size: one more than the largest packed index of
// levels 0..2 (0xAAAA), rounded up as ggml has it.
const iqKmapSize = 43692

// iqGrid is one grid with its map and neighbour lists.
type iqGrid struct {
	once  sync.Once
	kgrid []uint16
	nwant int

	pos    [][8]int8  // grid point j in 2l+1 coordinates (ggml's kgrid_q2xs)
	levels [][8]uint8 // grid point j's levels l
	kmap   []int32    // ≥ 0: grid index; < 0: −(offset of the neighbour list)−1
	// neighbours holds, for each off-grid u, its count followed by that
	// many grid indices (ggml's kneighbors_q2xs).
	neighbours []uint16
	// nib is neighbours with each grid index j replaced by the nibble word
	// of its levels (iqNibWord), the counts kept: what iqSearch reads.
	nib []uint32
}

var (
	gridIQ2XXS = &iqGrid{kgrid: kgridIQ2XXS[:], nwant: 2}
	gridIQ2XS  = &iqGrid{kgrid: kgridIQ2XS[:], nwant: 2}
	gridIQ2S   = &iqGrid{kgrid: kgridIQ2S[:], nwant: 1}
	gridIQ1S   = &iqGrid{kgrid: kgridIQ1S[:], nwant: 3}
)

// get returns g with its tables built.
func (g *iqGrid) get() *iqGrid {
	g.once.Do(g.build)
	return g
}

// neighboursOf returns the neighbour list of the off-grid index u
// (g.kmap[u] < 0).
func (g *iqGrid) neighboursOf(u int) []uint16 {
	off := -g.kmap[u] - 1
	n := int32(g.neighbours[off])
	return g.neighbours[off+1 : off+1+n]
}

func (g *iqGrid) build() {
	n := len(g.kgrid)
	g.pos = make([][8]int8, n)
	g.levels = make([][8]uint8, n)
	for j, k := range g.kgrid {
		for i := 0; i < 8; i++ {
			g.levels[j][i] = uint8(k >> (2 * i) & 3)
			g.pos[j][i] = int8(2*(k>>(2*i)&3) + 1)
		}
	}
	g.kmap = make([]int32, iqKmapSize)
	for i := range g.kmap {
		g.kmap[i] = -1
	}
	for j := range g.pos {
		var index int
		for i := 0; i < 8; i++ {
			index |= int(g.pos[j][i]-1) / 2 << (2 * i)
		}
		g.kmap[index] = int32(j)
	}
	// Squared distances between 4-coordinate halves: d4[a][b] for packed
	// halves a, b (8 bits each); the 8-vector distance is the sum of the
	// two halves', the same integer ggml computes coordinate by coordinate.
	var d4 [256][256]int32
	for a := 0; a < 256; a++ {
		for b := 0; b < 256; b++ {
			var d int32
			for k := 0; k < 4; k++ {
				da := int32(2*(a>>(2*k)&3)+1) - int32(2*(b>>(2*k)&3)+1)
				d += da * da
			}
			d4[a][b] = d
		}
	}
	lo := make([]uint8, n)
	hi := make([]uint8, n)
	for j, k := range g.kgrid {
		lo[j], hi[j] = uint8(k), uint8(k>>8)
	}
	const maxD2 = 8 * 36
	var (
		count [maxD2 + 1]int32
		d2    = make([]int32, n)
	)
	for i := 0; i < iqKmapSize; i++ {
		if g.kmap[i] >= 0 {
			continue
		}
		count = [maxD2 + 1]int32{}
		a, b := i&0xFF, i>>8
		for j := 0; j < n; j++ {
			d := d4[a][lo[j]] + d4[b][hi[j]]
			d2[j] = d
			count[d]++
		}
		// the nwant smallest distances that occur
		var limit int32 = -1
		have := 0
		for d := int32(0); d <= maxD2 && have < g.nwant; d++ {
			if count[d] > 0 {
				limit = d
				have++
			}
		}
		g.kmap[i] = -int32(len(g.neighbours)) - 1
		start := len(g.neighbours)
		g.neighbours = append(g.neighbours, 0)
		// by distance, then by index: one pass per distance that qualifies
		for d := int32(0); d <= limit; d++ {
			if count[d] == 0 {
				continue
			}
			for j := 0; j < n; j++ {
				if d2[j] == d {
					g.neighbours = append(g.neighbours, uint16(j))
				}
			}
		}
		g.neighbours[start] = uint16(len(g.neighbours) - start - 1)
	}
	g.nib = make([]uint32, len(g.neighbours))
	for off := 0; off < len(g.neighbours); {
		n := int(g.neighbours[off])
		g.nib[off] = uint32(n)
		for p := off + 1; p <= off+n; p++ {
			g.nib[p] = iqNibWord(g.kgrid[g.neighbours[p]])
		}
		off += n + 1
	}
}

// listOffset returns the offset in g.neighbours (and g.nib) of nb, a
// neighbour list of g (as neighboursOf returns it: all of one list).
func (g *iqGrid) listOffset(nb []uint16) int {
	off := (uintptr(unsafe.Pointer(unsafe.SliceData(nb))) - uintptr(unsafe.Pointer(unsafe.SliceData(g.neighbours)))) / 2
	if off == 0 || off >= uintptr(len(g.nib)) || int(off)+len(nb) > len(g.nib) || int(g.nib[off-1]) != len(nb) {
		panic("quant: listOffset: not a neighbour list of this grid")
	}
	return int(off)
}

// nibOf returns the nibble words of the neighbour list of the off-grid
// index u, parallel to neighboursOf(u).
func (g *iqGrid) nibOf(u int) []uint32 {
	off := -g.kmap[u] - 1
	n := int32(g.neighbours[off])
	return g.nib[off+1 : off+1+n]
}

// iq2Level is the value of a 2-bit level in the IQ2 decoders' grids.
var iq2Level = [4]float32{0x08, 0x19, 0x2b, 0x3e}

// iqForBlocks runs f on each 256-value super-block of src, with the
// importance weights of its columns (nil without an imatrix), like
// forSuperBlocks, and adds the block index to an *AbortError f panics with.
func iqForBlocks(dst []byte, src []float32, nPerRow int, imatrix []float32, blockLen int,
	f func(y []byte, x, qw []float32)) {
	b := 0
	defer blockOfAbort(&b)
	for ; b < len(src)/qkK; b++ {
		var qw []float32
		if imatrix != nil {
			col := b * qkK % nPerRow
			qw = imatrix[col : col+qkK]
		}
		f(dst[b*blockLen:(b+1)*blockLen], src[b*qkK:(b+1)*qkK], qw)
	}
}

// RequiresImatrix reports whether ggml refuses to quantize to t without an
// importance matrix: ggml_quantize_requires_imatrix is true for IQ2_XXS,
// IQ2_XS and IQ1_S (ggml_quantize_chunk asserts that it has one, and their
// encoders use it in every weight). Quantize returns an *ArgumentError
// (Arg "imatrix") for them when Options.Imatrix is nil.
func RequiresImatrix(t Type) bool {
	return t == IQ2_XXS || t == IQ2_XS || t == IQ1_S
}
