package quant

// Lane kernels of the IQ2 encoders (iq2.go) and of the IQ1/IQ2 neighbour
// search (iqFindBestNeighbour in iq1.go). Each has a generic Go version
// here, the reference the AVX-512 versions (iqsearch_amd64.s) are tested
// against bit for bit (iqsearch_test.go); every float32 operation is the
// reference twins', in their order, so the generic versions are also
// checked by the encoders' differential tests against iq2_ref.go.
//
//   - iqSearch: a batch of independent neighbour searches
//     (iq2_find_best_neighbour / iq1_find_best_neighbour2). A search
//     reads its list as "nibble words" (iqGrid.nib): neighbour j's 8
//     levels l_i as the nibbles l_i | 4·(i mod 4), so that the AVX-512
//     kernel can look each coordinate's error up with one VPERMPS in a
//     16-entry table of e[i][l] = (w_i·(s·xg[l] − x_i))·(s·xg[l] − x_i)
//     (coordinates 0..3 in one table, 4..7 in the other) for 16
//     neighbours at a time; the 8 errors are added in coordinate order,
//     and the winner is the first neighbour in list order of smallest
//     sum below FLT_MAX (ggml's strict `<` scan from FLT_MAX: NaN and
//     sums ≥ FLT_MAX never win).
//   - iq2Levels16: the levels clamp(nearest_int(0.5·(id·x − 1)), 0, 2) of a
//     sub-block for 16 candidate scales id = num/div at once (lanes over
//     scales), as level words (4 bits a level) and packed 8-level indices;
//   - iq2Sums16: the weighted fit sums Σ (w·x)·q and Σ (w·q)·q over a
//     sub-block's elements in order, for 16 candidate scales at once;
//   - qpMse16: make_qp_quants' weighted errors for its first and eight
//     trial scales at once (IQ2_XXS's iq2MakeQpQuants).
//
// Without AVX-512, iqSearch has an AVX2 version (8 neighbours at a time,
// the error tables per coordinate pair) and the other kernels run their
// generic versions; with the noasm tag everything is generic.

// iqTask is one neighbour search of an iqSearch batch. It holds no
// pointers (the batch's arrays are iqSearch's arguments), and its layout
// is read by the assembly kernel: keep the field order and sizes.
type iqTask struct {
	list  int32   // 0: offset in nib of the neighbour list (its length at list−1)
	scale float32 // 4
	xoff  int32   // 8: offset of the group's 8 values in x and w
	lvoff int32   // 12: offset in lv of the winner's levels (a level word)
	pos   int32   // 16: result: position in the list of the best, or −1
}

// iqSearchGeneric runs the searches of tasks: for each, the position in
// nib[list : list+n], n = nib[list−1], of the neighbour minimising
// Σ_i e[i][l_i] (summed in coordinate order) with e[i][l] = (w_i·(s·xg[l] − x_i))·(s·xg[l] − x_i),
// x_i = x[xoff+i], w_i = w[xoff+i]; the first of the smallest below
// FLT_MAX, or −1. If lv is not nil the winner's levels go to lv[lvoff]
// as a level word (level i in bits 4i, 4i+1: its nibble word &
// 0x33333333). It returns how many searches found no neighbour (where
// ggml aborts). The generic twin of iqSearchAVX512.
func iqSearchGeneric(tasks []iqTask, nib []uint32, x, w []float32, xg *[4]float32, lv []uint32) (fails int) {
	for t := range tasks {
		tk := &tasks[t]
		x, w := x[tk.xoff:tk.xoff+8], w[tk.xoff:tk.xoff+8]
		var e [8][4]float32
		for l := 0; l < 3; l++ {
			sq := float32(tk.scale * xg[l])
			for i := 0; i < 8; i++ {
				diff := sq - x[i]
				e[i][l] = float32(float32(w[i]*diff) * diff)
			}
		}
		best := fltMax
		pos := int32(-1)
		for p, v := range nib[tk.list : tk.list+int32(nib[tk.list-1])] {
			d2 := e[0][v&3]
			d2 += e[1][v>>4&3]
			d2 += e[2][v>>8&3]
			d2 += e[3][v>>12&3]
			d2 += e[4][v>>16&3]
			d2 += e[5][v>>20&3]
			d2 += e[6][v>>24&3]
			d2 += e[7][v>>28&3]
			if d2 < best {
				best = d2
				pos = int32(p)
			}
		}
		tk.pos = pos
		if pos < 0 {
			fails++
			continue
		}
		if lv != nil {
			lv[tk.lvoff] = nib[tk.list+pos] & 0x33333333
		}
	}
	return fails
}

// iqNibWord is the nibble word of a grid point with packed 2-bit levels k:
// nibble i is l_i | 4·(i mod 4).
func iqNibWord(k uint16) uint32 {
	var v uint32
	for i := 0; i < 8; i++ {
		v |= (uint32(k>>(2*i)&3) | uint32(4*(i%4))) << (4 * i)
	}
	return v
}

// iq2LevelsGeneric is iq2Levels16's generic twin: for each lane s < lanes
// (≤ 16; the assembly computes all 16),
// id[s] = num[s]/div, sc[s] = 1/id[s], and for each group k of 8 of the n
// values (n a multiple of 8, at most 32) the levels l_i = iq2Level4(id[s],
// x[8k+i]) as the level word lv[k][s] = Σ l_i << 4i and as the packed
// index u[k][s] = Σ l_i << 2i.
func iq2LevelsGeneric(x []float32, num *[16]float32, div float32, lanes int, id, sc *[16]float32, lv *[4][16]uint32, u *[4][16]int32) {
	for s := 0; s < lanes; s++ {
		id[s] = num[s] / div
		sc[s] = 1 / id[s]
	}
	for k := 0; k < len(x)/8; k++ {
		for s := 0; s < lanes; s++ {
			var p int32
			var word uint32
			for i := 0; i < 8; i++ {
				l := iq2Level4(id[s], x[8*k+i])
				word |= uint32(l) << (4 * i)
				p |= int32(l) << (2 * i)
			}
			lv[k][s], u[k][s] = word, p
		}
	}
}

// iq2SumsGeneric is iq2Sums16's generic twin: for each lane s < lanes, over
// i < n in order, with l the level of element i (bits 4(i mod 8) of the
// level word lv[i/8][s]) and q = 2l+1: out[0][s] = Σ float32(wx[i]·q),
// out[1][s] = Σ wq2[i][l].
func iq2SumsGeneric(lv *[4][16]uint32, n, lanes int, wx *[32]float32, wq2 *[32][4]float32, out *[2][16]float32) {
	for s := 0; s < lanes; s++ {
		var sumqx, sumq2 float32
		for i := 0; i < n; i++ {
			l := lv[i/8][s] >> (4 * (i % 8)) & 3
			sumqx += float32(wx[i] * float32(2*int32(l)+1))
			sumq2 += wq2[i][l]
		}
		out[0][s], out[1][s] = sumqx, sumq2
	}
}

// qpMseGeneric is qpMse16's generic twin: make_qp_quants' weighted errors
// of 16 candidate scales at once. For each lane s < lanes (≤ 16; the
// assembly computes all 16), over i < n in
// order: l = nearest_int(is[s]·x[i]), then l mod 256 (the uint8 L[i] of
// ggml's first pass) in lane 0 and min(l, nmax) in the others;
// mse[s] += (qw[i]·(x[i] − sc[s]·l))·(x[i] − sc[s]·l).
func qpMseGeneric(x, qw []float32, is, sc *[16]float32, nmax int32, lanes int, mse *[16]float32) {
	for s := 0; s < lanes; s++ {
		var m float32
		for i := range x {
			l := nearestInt(float32(is[s] * x[i]))
			if s == 0 {
				l = int32(uint8(l))
			} else if l > nmax {
				l = nmax
			}
			diff := x[i] - float32(sc[s]*float32(l))
			m += float32(float32(qw[i]*diff) * diff)
		}
		mse[s] = m
	}
}
