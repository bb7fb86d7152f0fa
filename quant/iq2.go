package quant

import "encoding/binary"

// Fast IQ2_XXS, IQ2_XS and IQ2_S encoders: iq2xxsBlockRef and
// iq2xsSBlockRef with the same float32 operations in the same order, less
// repeated work:
//
//   - the per-element products of the fit, w·x and (w·q)·q for the three
//     values q = 1, 3, 5 a level can take, are computed once per sub-block
//     instead of once per candidate scale;
//   - the neighbour search computes each coordinate's error
//     ((w·(s·q − x))·(s·q − x)) once per level and scale, then adds the
//     eight errors of each neighbour in ggml's order, instead of
//     recomputing them for every neighbour.
//
// Differential tests against the reference twins: iq2_test.go.

// iq2Fit holds a sub-block's precomputed fit products.
type iq2Fit struct {
	wx  [32]float32    // float32(w·x)
	wq2 [32][3]float32 // float32(float32(w·q)·q) for q = 2l+1
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
		l := L[i]
		sumqx += float32(f.wx[i] * float32(2*int32(l)+1))
		sumq2 += f.wq2[i][l]
	}
	return
}

// iq2Levels are the IQ2 grid's three magnitudes 2·l+1.
var iq2Levels = [3]float32{1, 3, 5}

// iq2FindBestNeighbour is iq2FindBestNeighbourRef with the per-coordinate
// errors computed once per level.
func iq2FindBestNeighbour(g *iqGrid, nb []uint16, xval, weight []float32, scale float32, L []int8) int {
	return iqFindBestNeighbour(g, nb, xval, weight, scale, &iq2Levels, L, "iq2_find_best_neighbour")
}

func quantizeIQ2_XXS(dst []byte, src []float32, nPerRow int, imatrix []float32) {
	iqForBlocks(dst, src, nPerRow, imatrix, iq2xxsLen, iq2xxsBlock)
}

func iq2xxsBlock(y []byte, x, qw []float32) {
	g := gridIQ2XXS.get()
	const kMaxQ = 3
	var (
		scales       [8]float32
		weight, xval [32]float32
		waux         [32]float32
		L, Laux      [32]int8
		Lqp          [32]uint8
		blockSigns   [4]uint8
		q2           [16]uint32
		maxScale     float32
		fit          iq2Fit
		sigma2       = float32(sumSquares(x) / qkK)
	)
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
			blockSigns[k] = iq2SignsRef(xval[8*k:8*k+8], xb[8*k:8*k+8], weight[8*k:8*k+8], true) & 127
		}
		max := xval[0]
		for i := 1; i < 32; i++ {
			max = cmax(max, xval[i])
		}
		if max < groupMaxEps {
			scales[ib] = 0
			continue
		}
		scale := makeQpQuantsRef(32, kMaxQ+1, xval[:], Lqp[:], weight[:])
		for i := range L {
			L[i] = int8(Lqp[i])
		}
		effMax := scale * kMaxQ
		if effMax <= 0 {
			scales[ib] = 0
			continue
		}
		fit.init(xval[:], weight[:])
		var best float32
		for is := -6; is <= 6; is++ {
			id := float32(2*kMaxQ-1+float32(float32(is)*0.1)) / effMax
			thisScale := 1 / id
			for k := 0; k < 4; k++ {
				u := iq2GroupLevels(id, xval[8*k:], Laux[8*k:])
				if g.kmap[u] < 0 {
					iq2FindBestNeighbour(g, g.neighboursOf(u), xval[8*k:], waux[8*k:], thisScale, Laux[8*k:])
				}
			}
			sumqx, sumq2 := fit.sums(Laux[:], 32)
			if sumq2 > 0 && float32(sumqx*sumqx) > float32(best*sumq2) {
				scale = sumqx / sumq2
				best = scale * sumqx
				L = Laux
			}
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
			sumqx, sumq2 := fit.sums(L[:], 32)
			if sumq2 > 0 {
				scale = sumqx / sumq2
			}
		}
		if scale < 0 {
			scale = -scale
			for k := range blockSigns {
				blockSigns[k] = ^blockSigns[k] & 127
			}
		}
		for k := 0; k < 4; k++ {
			u := iq2PackIndex(L[8*k:])
			if u >= iqKmapSize {
				panic(&AbortError{What: "a point outside the grid's map (quantize_row_iq2_xxs_impl reads past kmap_q2xs and aborts)"})
			}
			index := g.kmap[u]
			if index < 0 {
				panic(&AbortError{What: "a point not on the grid (GGML_ABORT in quantize_row_iq2_xxs_impl)"})
			}
			q2[2*ib] |= uint32(index) << (8 * k)
			q2[2*ib+1] |= uint32(blockSigns[k]) << (7 * k)
		}
		if !(scale >= 0) {
			panic(&AbortError{What: "a sub-block scale is NaN (GGML_ASSERT(scale >= 0) in quantize_row_iq2_xxs_impl)"})
		}
		scales[ib] = scale
		maxScale = cmax(maxScale, scale)
	}
	if maxScale == 0 {
		return
	}
	d := maxScale / 31
	putF16(y, d)
	id := 1 / d
	for ib := 0; ib < 8; ib++ {
		q2[2*ib+1] |= uint32(iq2Scale4(id, scales[ib])) << 28
	}
	for i, v := range q2 {
		binary.LittleEndian.PutUint32(y[2+4*i:], v)
	}
}

func quantizeIQ2_XS(dst []byte, src []float32, nPerRow int, imatrix []float32) {
	iqForBlocks(dst, src, nPerRow, imatrix, iq2xsLen, func(y []byte, x, qw []float32) {
		if qw == nil {
			panic("quant: IQ2_XS needs an importance matrix")
		}
		iq2xsSBlock(y, x, qw, false)
	})
}

func quantizeIQ2_S(dst []byte, src []float32, nPerRow int, imatrix []float32) {
	iqForBlocks(dst, src, nPerRow, imatrix, iq2sLen, func(y []byte, x, qw []float32) {
		iq2xsSBlock(y, x, qw, true)
	})
}

// iq2xsSBlock is iq2xsSBlockRef with the shared products precomputed.
func iq2xsSBlock(y []byte, x, qw []float32, s bool) {
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
		scales        [16]float32
		weight, xval  [16]float32
		waux          [16]float32
		L, Laux       [16]int8
		onGrid, onAux [2]bool
		blockSigns    [2]uint8
		q2            [32]uint16
		maxScale      float32
		fit           iq2Fit
		scalesOut     [8]uint8
	)
	clear(y)
	for ib := 0; ib < 16; ib++ {
		xb := x[16*ib : 16*ib+16]
		if qw != nil {
			imatrixWeights(weight[:], xb, qw[16*ib:16*ib+16], sigma2)
		} else {
			for i := range weight {
				weight[i] = float32(0.25*sigma2) + float32(xb[i]*xb[i])
			}
		}
		for i := range waux {
			waux[i] = sqrt32(weight[i])
		}
		for k := 0; k < 2; k++ {
			bs := iq2SignsRef(xval[8*k:8*k+8], xb[8*k:8*k+8], weight[8*k:8*k+8], !s)
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
		fit.init(xval[:], weight[:])
		var best float32
		scale := max / (2*kMaxQ - 1)
		onGrid = [2]bool{true, true}
		for is := -9; is <= 9; is++ {
			id := float32(2*kMaxQ-1+float32(float32(is)*0.1)) / max
			thisScale := 1 / id
			for k := 0; k < 2; k++ {
				u := iq2GroupLevels(id, xval[8*k:], Laux[8*k:])
				onAux[k] = true
				if g.kmap[u] < 0 {
					onAux[k] = false
					iq2FindBestNeighbour(g, g.neighboursOf(u), xval[8*k:], waux[8*k:], thisScale, Laux[8*k:])
				}
			}
			sumqx, sumq2 := fit.sums(Laux[:], 16)
			if sumq2 > 0 && float32(sumqx*sumqx) > float32(best*sumq2) {
				scale = sumqx / sumq2
				best = scale * sumqx
				L = Laux
				onGrid = onAux
			}
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
			sumqx, sumq2 := fit.sums(L[:], 16)
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
