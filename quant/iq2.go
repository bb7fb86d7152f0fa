package quant

import (
	"encoding/binary"
	"math"
	"math/bits"
	"unsafe"
)

// Fast IQ2_XXS, IQ2_XS and IQ2_S encoders: iq2xxsBlockRef and
// iq2xsSBlockRef with the same float32 operations in the same order, less
// repeated work and lanes across the candidate scales:
//
//   - the per-element products of the fit, w·x and (w·q)·q for the three
//     values q = 1, 3, 5 a level can take, are computed once per sub-block
//     instead of once per candidate scale;
//   - the candidate scales of a sub-block (13 for IQ2_XXS, 19 for IQ2_XS
//     and IQ2_S) are independent until ggml's sequential best-scale
//     update, so their levels (iq2Levels16), their neighbour searches (one
//     iqSearch batch for all the off-grid groups of all the scales) and
//     their fit sums (iq2Sums16) are computed for 16 scales at a time
//     (iqsearch.go; AVX-512 where available), and only the strict-compare
//     best update runs scale by scale, in ggml's order;
//   - the neighbour search computes each coordinate's error
//     ((w·(s·q − x))·(s·q − x)) once per level and scale, then adds the
//     eight errors of each neighbour in ggml's order (16 neighbours at a
//     time with AVX-512).
//
// Differential tests against the reference twins: iq2_test.go (encoders)
// and iqsearch_test.go (the lane kernels against their generic twins).

// iq2Fit holds a sub-block's precomputed fit products.
type iq2Fit struct {
	wx  [32]float32    // float32(w·x)
	wq2 [32][4]float32 // float32(float32(w·q)·q) for q = 2l+1, l < 3 (and a pad)
}

func (f *iq2Fit) init(xval, weight []float32) {
	for i := range xval {
		w := weight[i]
		f.wx[i] = float32(w * xval[i])
		for l := 0; l < 3; l++ {
			q := float32(2*l + 1)
			f.wq2[i][l] = float32(float32(w*q) * q)
		}
	}
}

// sums is iq2SumsRef over the first n elements.
func (f *iq2Fit) sums(L []int8, n int) (sumqx, sumq2 float32) {
	for i := 0; i < n; i++ {
		l := L[i] & 3
		sumqx += float32(f.wx[i] * float32(2*int32(l)+1))
		sumq2 += f.wq2[i][l]
	}
	return
}

// iq2Levels are the IQ2 grid's three magnitudes 2·l+1.
var iq2Levels = [3]float32{1, 3, 5}

// iq2Levels4 is iq2Levels padded for iqTask.xg.
var iq2Levels4 = [4]float32{1, 3, 5, 0}

// iq2FindBestNeighbour is iq2FindBestNeighbourRef with the per-coordinate
// errors computed once per level.
func iq2FindBestNeighbour(g *iqGrid, nb []uint16, xval, weight []float32, scale float32, L []int8) int {
	return iqFindBestNeighbour(g, nb, xval, weight, scale, &iq2Levels, L, "iq2_find_best_neighbour")
}

// iq2Num holds the candidate scales' numerators 2·kMaxQ−1 + is·0.1 (ggml's
// float expression, kMaxQ = 3) in lanes of 16: iq2NumXXS for is = −6..6,
// iq2NumXS for is = −9..9 (lanes past the last repeat it).
var iq2NumXXS, iq2NumXS = iq2Nums(-6, 6), iq2Nums(-9, 9)

func iq2Nums(lo, hi int) (num [2][16]float32) {
	for s := 0; s < 32; s++ {
		is := min(lo+s, hi)
		num[s/16][s%16] = float32(5 + float32(float32(is)*0.1))
	}
	return
}

// iq2MakeQpQuants is makeQpQuantsRef (ggml's make_qp_quants) with the
// weighted errors of the first scale and of the eight trial scales computed
// in lanes (qpMse16), each lane the reference's loop; the choice among them
// (strict <, in the reference's order) and the rest are the reference's.
func iq2MakeQpQuants(n int, nmax int32, x []float32, L []uint8, qw []float32) float32 {
	max, ok := qpMax(n, x, L)
	if !ok {
		return 0
	}
	var is, sc, mse [16]float32
	is[0] = float32(nmax) / max
	sc[0] = 1 / is[0]
	c := 1
	for k := -4; k <= 4; k++ {
		if k != 0 {
			is[c] = (float32(0.1*float32(k)) + float32(nmax)) / max
			sc[c] = 1 / is[c]
			c++
		}
	}
	for ; c < 16; c++ {
		is[c], sc[c] = is[1], sc[1]
	}
	qpMse16(x[:n], qw[:n], &is, &sc, nmax, 9, &mse)
	iscale, bestMse := is[0], mse[0]
	for c := 1; c <= 8; c++ {
		if mse[c] < bestMse {
			bestMse = mse[c]
			iscale = is[c]
		}
	}
	return qpRefine(n, nmax, iscale, x, L, qw)
}

// iq2Signs is iq2SignsRef without data-dependent branches in the sign
// loop (the signs of weights are random, so the branch mispredicts half
// the time): element i is negative when !(xb[i] >= 0), i.e. its bits, as
// an unsigned integer, exceed 0x80000000 (negative, not −0) or, without
// the sign, exceed 0x7F800000 (NaN); xval[i] is xb[i] with that sign bit
// flipped (−0 stays −0, a NaN is flipped, as ggml's −xb[i] does). The
// parity flip is iq2SignsRef's (iq2FlipLeast).
func iq2Signs(xval, xb, weight []float32, flipParity bool) uint8 {
	_, _, _ = xval[7], xb[7], weight[7]
	var s uint32
	for i := 0; i < 8; i++ {
		b := math.Float32bits(xb[i])
		neg := uint32((uint64(0x80000000)-uint64(b))>>63 | (uint64(0x7F800000)-uint64(b&0x7FFFFFFF))>>63)
		s |= neg << i
		xval[i] = math.Float32frombits(b ^ neg<<31)
	}
	if flipParity && bits.OnesCount32(s)%2 != 0 {
		return iq2FlipLeast(xval, xb, weight, uint8(s))
	}
	return uint8(s)
}

// iq2Scratch is one encoder call's working memory (allocated once per call:
// the search tasks point into it).
type iq2Scratch struct {
	weight, xval, waux [32]float32
	fit                iq2Fit
	id, sc             [2][16]float32
	lv                 [2][4][16]uint32 // level word of group k at scale 16v+s
	u                  [2][4][16]int32  // packed index of group k at scale 16v+s
	sums               [2][2][16]float32
	offGrid            [2][16]uint8 // bit k: group k was off the grid
	tasks              [64]iqTask
}

// candidates evaluates the nScales candidate scales id = num/div of the
// sub-block s.xval[:n] (n = 32 or 16): levels, the nearest grid
// neighbours of the off-grid groups (at scale 1/id, with weights s.waux),
// and the fit sums, into s.lv, s.offGrid and s.sums.
func (s *iq2Scratch) candidates(g *iqGrid, n int, num *[2][16]float32, nScales int, div float32) {
	nt := 0
	for v := 0; v < (nScales+15)/16; v++ {
		iq2Levels16(s.xval[:n], &num[v], div, min(16, nScales-16*v), &s.id[v], &s.sc[v], &s.lv[v], &s.u[v])
		for c := 0; c < 16 && 16*v+c < nScales; c++ {
			var off uint8
			for k := 0; k < n/8; k++ {
				// off the grid (m < 0): a search task; written always and
				// kept by advancing nt, without a branch on the data
				m := g.kmap[s.u[v][k][c]]
				neg := int(uint32(m) >> 31)
				s.tasks[nt] = iqTask{list: -m, scale: s.sc[v][c], xoff: int32(8 * k), lvoff: int32(64*v + 16*k + c)}
				off |= uint8(neg) << k
				nt += neg
			}
			s.offGrid[v][c] = off
		}
	}
	lv := unsafe.Slice(&s.lv[0][0][0], len(s.lv)*4*16)
	if iqSearch(s.tasks[:nt], g.nib, s.xval[:], s.waux[:], &iq2Levels4, lv) != 0 {
		iqNeighbourLevels(g, -1, nil, "iq2_find_best_neighbour") // panics as ggml aborts
	}
	for v := 0; v < (nScales+15)/16; v++ {
		iq2Sums16(&s.lv[v], n, min(16, nScales-16*v), &s.fit.wx, &s.fit.wq2, &s.sums[v])
	}
}

// best runs ggml's best-scale update over the candidates in order: the
// first of largest sumqx²/sumq2 (strict compare, from best = 0). It
// returns the chosen candidate (−1 if none) and its scale sumqx/sumq2.
func (s *iq2Scratch) best(nScales int) (int, float32) {
	var best, scale float32
	bi := -1
	for c := 0; c < nScales; c++ {
		sumqx, sumq2 := s.sums[c/16][0][c%16], s.sums[c/16][1][c%16]
		if sumq2 > 0 && float32(sumqx*sumqx) > float32(best*sumq2) {
			scale = sumqx / sumq2
			best = scale * sumqx
			bi = c
		}
	}
	return bi, scale
}

// levelsOf copies candidate c's first n levels to L.
func (s *iq2Scratch) levelsOf(c, n int, L []int8) {
	lv := &s.lv[c/16]
	for i := 0; i < n; i++ {
		L[i] = int8(lv[i/8][c%16] >> (4 * (i % 8)) & 3)
	}
}

func quantizeIQ2_XXS(dst []byte, src []float32, nPerRow int, imatrix []float32) {
	s := new(iq2Scratch)
	iqForBlocks(dst, src, nPerRow, imatrix, iq2xxsLen, func(y []byte, x, qw []float32) {
		iq2xxsBlock(s, y, x, qw)
	})
}

func iq2xxsBlock(sc *iq2Scratch, y []byte, x, qw []float32) {
	g := gridIQ2XXS.get()
	const kMaxQ = 3
	var (
		scales     [8]float32
		L          [32]int8
		Lqp        [32]uint8
		blockSigns [4]uint8
		q2         [16]uint32
		maxScale   float32
		sigma2     = float32(sumSquares(x) / qkK)
	)
	weight, xval, waux := &sc.weight, &sc.xval, &sc.waux
	if qw == nil {
		panic("quant: IQ2_XXS needs an importance matrix")
	}
	clear(y)
	for ib := 0; ib < 8; ib++ {
		xb := x[32*ib : 32*ib+32]
		imatrixWeights(weight[:], xb, qw[32*ib:32*ib+32], sigma2)
		for i := range waux {
			waux[i] = sqrt32(weight[i])
		}
		for k := 0; k < 4; k++ {
			blockSigns[k] = iq2Signs(xval[8*k:8*k+8], xb[8*k:8*k+8], weight[8*k:8*k+8], true) & 127
		}
		max := xval[0]
		for i := 1; i < 32; i++ {
			max = cmax(max, xval[i])
		}
		if max < groupMaxEps {
			scales[ib] = 0
			continue
		}
		scale := iq2MakeQpQuants(32, kMaxQ+1, xval[:], Lqp[:], weight[:])
		for i := range L {
			L[i] = int8(Lqp[i])
		}
		effMax := scale * kMaxQ
		if effMax <= 0 {
			scales[ib] = 0
			continue
		}
		sc.fit.init(xval[:], weight[:])
		sc.candidates(g, 32, &iq2NumXXS, 13, effMax)
		if c, s := sc.best(13); c >= 0 {
			scale = s
			sc.levelsOf(c, 32, L[:])
		}
		if scale > 0 {
			id := 1 / scale
			for k := 0; k < 4; k++ {
				u := 0
				for i := 0; i < 8; i++ {
					u |= int(iq2Level4(id, xval[8*k+i])) << (2 * i)
				}
				index := int(g.kmap[u])
				if index < 0 {
					index = iq2FindBestNeighbour(g, g.neighboursOf(u), xval[8*k:], waux[8*k:], scale, L[8*k:])
				}
				for i := 0; i < 8; i++ {
					L[8*k+i] = int8(g.levels[index][i])
				}
			}
			sumqx, sumq2 := sc.fit.sums(L[:], 32)
			if sumq2 > 0 {
				scale = sumqx / sumq2
			}
		}
		scale = iq2xxsPackSubBlock(g, &q2, ib, &L, &blockSigns, scale)
		scales[ib] = scale
		maxScale = cmax(maxScale, scale)
	}
	iq2xxsPackScales(y, &q2, &scales, maxScale)
}

func quantizeIQ2_XS(dst []byte, src []float32, nPerRow int, imatrix []float32) {
	s := new(iq2Scratch)
	iqForBlocks(dst, src, nPerRow, imatrix, iq2xsLen, func(y []byte, x, qw []float32) {
		if qw == nil {
			panic("quant: IQ2_XS needs an importance matrix")
		}
		iq2xsSBlock(s, y, x, qw, false)
	})
}

func quantizeIQ2_S(dst []byte, src []float32, nPerRow int, imatrix []float32) {
	s := new(iq2Scratch)
	iqForBlocks(dst, src, nPerRow, imatrix, iq2sLen, func(y []byte, x, qw []float32) {
		iq2xsSBlock(s, y, x, qw, true)
	})
}

// iq2xsSBlock is iq2xsSBlockRef with the shared products precomputed and
// the candidate scales in lanes.
func iq2xsSBlock(sc *iq2Scratch, y []byte, x, qw []float32, s bool) {
	g := gridIQ2XS.get()
	eps := groupMaxEps
	sigma2 := float32(sumSquares(x) / qkK)
	if s {
		g = gridIQ2S.get()
		eps = groupMaxEpsIQ2S
		sigma2 = float32(float32(2*sumSquares(x)) / qkK)
	}
	const kMaxQ = 3
	var (
		scales     [16]float32
		L          [16]int8
		onGrid     [2]bool
		blockSigns [2]uint8
		q2         [32]uint16
		maxScale   float32
		scalesOut  [8]uint8
	)
	weight, xval, waux := sc.weight[:16], sc.xval[:16], sc.waux[:16]
	clear(y)
	for ib := 0; ib < 16; ib++ {
		xb := x[16*ib : 16*ib+16]
		if qw != nil {
			imatrixWeights(weight, xb, qw[16*ib:16*ib+16], sigma2)
		} else {
			for i := range weight {
				weight[i] = float32(0.25*sigma2) + float32(xb[i]*xb[i])
			}
		}
		for i := range waux {
			waux[i] = sqrt32(weight[i])
		}
		for k := 0; k < 2; k++ {
			bs := iq2Signs(xval[8*k:8*k+8], xb[8*k:8*k+8], weight[8*k:8*k+8], !s)
			if !s {
				bs &= 127
			}
			blockSigns[k] = bs
		}
		max := xval[0]
		for i := 1; i < 16; i++ {
			max = cmax(max, xval[i])
		}
		L = [16]int8{}
		if max < eps {
			scales[ib] = 0
			continue
		}
		sc.fit.init(xval, weight)
		scale := max / (2*kMaxQ - 1)
		onGrid = [2]bool{true, true}
		sc.candidates(g, 16, &iq2NumXS, 19, max)
		if c, bs := sc.best(19); c >= 0 {
			scale = bs
			sc.levelsOf(c, 16, L[:])
			off := sc.offGrid[c/16][c%16]
			onGrid = [2]bool{off&1 == 0, off&2 == 0}
		}
		if (!onGrid[0] || !onGrid[1]) && scale > 0 {
			id := 1 / scale
			for k := 0; k < 2; k++ {
				if onGrid[k] {
					continue
				}
				u := iq2GroupLevels(id, xval[8*k:], L[8*k:])
				if g.kmap[u] < 0 {
					iq2FindBestNeighbour(g, g.neighboursOf(u), xval[8*k:], waux[8*k:], scale, L[8*k:])
				}
			}
			sumqx, sumq2 := sc.fit.sums(L[:], 16)
			if sumq2 > 0 {
				scale = sumqx / sumq2
			}
		}
		if scale < 0 {
			scale = -scale
			for k := range blockSigns {
				blockSigns[k] = ^blockSigns[k]
				if !s {
					blockSigns[k] &= 127
				}
			}
		}
		for k := 0; k < 2; k++ {
			index := g.kmap[iq2PackIndex(L[8*k:])]
			if index < 0 {
				panic(&AbortError{What: "a point not on the grid (GGML_ABORT in quantize_row_iq2_xs_impl / quantize_row_iq2_s_impl)"})
			}
			i8 := 2*ib + k
			if s {
				y[2+i8] = byte(index)
				y[2+64+i8/4] |= byte(index>>8) << (2 * (i8 % 4))
				y[2+32+i8] = blockSigns[k]
			} else {
				q2[i8] = uint16(index) | uint16(blockSigns[k])<<9
			}
		}
		if !(scale >= 0) {
			panic(&AbortError{What: "a sub-block scale is NaN (GGML_ASSERT(scale >= 0) in quantize_row_iq2_xs_impl / quantize_row_iq2_s_impl)"})
		}
		scales[ib] = scale
		maxScale = cmax(maxScale, scale)
	}
	if maxScale == 0 {
		if !s {
			clear(y)
		}
		return
	}
	d := maxScale / 31
	if s {
		putF16(y, float32(d*0.9875))
	} else {
		putF16(y, d)
	}
	id := 1 / d
	for ib := 0; ib < 16; ib++ {
		scalesOut[ib/2] |= iq2Scale4(id, scales[ib]) << (4 * (ib % 2))
	}
	if s {
		copy(y[2+64+8:], scalesOut[:])
		return
	}
	for i, v := range q2 {
		binary.LittleEndian.PutUint16(y[2+2*i:], v)
	}
	copy(y[2+64:], scalesOut[:])
}
