package quant

import (
	"encoding/binary"
	"math"
)

// Reference encoders and the decoders of IQ2_XXS, IQ2_XS and IQ2_S: plain
// transcriptions of ggml's quantize_row_iq2_xxs_impl,
// quantize_row_iq2_xs_impl, quantize_row_iq2_s_impl, iq2_find_best_neighbour
// and dequantize_row_iq2_{xxs,xs,s} (ggml/src/ggml-quants.c, llama.cpp
// 0c1e570), with every float32 operation rounded on its own (spec
// ggml-quants.md §0.2). The grids and neighbour lists are iqgrid.go's. The
// fast encoders (iq2.go) must give the same bytes; iq2_test.go checks it.
//
// Block layouts (ggml-common.h), 256 values each:
//
//	IQ2_XXS (66 bytes): fp16 d; 8 × (4 grid bytes, uint32 of 4 × 7 sign
//	                    bits and a 4-bit scale in bits 28..31)
//	IQ2_XS  (74 bytes): fp16 d; 32 × uint16 (9-bit grid index | 7 sign bits
//	                    << 9); 8 bytes of two 4-bit scales
//	IQ2_S   (82 bytes): fp16 d; 32 grid index low bytes; 32 sign bytes;
//	                    8 bytes of 2-bit index high parts; 8 bytes of scales
//
// IQ2_XXS and IQ2_XS need an importance matrix (ggml_quantize_requires_imatrix);
// IQ2_S does not.

const (
	iq2xxsLen = 66
	iq2xsLen  = 74
	iq2sLen   = 82

	groupMaxEpsIQ2S = float32(1e-8) // GROUP_MAX_EPS_IQ2_S
	fltMax          = float32(math.MaxFloat32)
)

// iq2FindBestNeighbourRef is iq2_find_best_neighbour: the neighbour of
// smallest weighted distance to xval at the given scale (the first on
// ties); L receives its levels. It returns −1 where ggml aborts (no
// distance below FLT_MAX, which only non-finite arithmetic gives).
func iq2FindBestNeighbourRef(g *iqGrid, nb []uint16, xval, weight []float32, scale float32, L []int8) int {
	best := fltMax
	index := -1
	for _, j := range nb {
		pg := &g.pos[j]
		var d2 float32
		for i := 0; i < 8; i++ {
			diff := float32(scale*float32(pg[i])) - xval[i]
			d2 += float32(float32(weight[i]*diff) * diff)
		}
		if d2 < best {
			best = d2
			index = int(j)
		}
	}
	return iqNeighbourLevels(g, index, L, "iq2_find_best_neighbour")
}

// iqNeighbourLevels ends a grid neighbour search (iq1_find_best_neighbour2,
// iq2_find_best_neighbour, fn names which): it writes the 8 levels
// (pos−1)/2 of grid point index to L and returns index. index < 0 (no
// neighbour at a finite distance, which only non-finite arithmetic gives)
// panics with an *AbortError where ggml's GGML_ASSERT(grid_index >= 0) aborts.
func iqNeighbourLevels(g *iqGrid, index int, L []int8, fn string) int {
	if index < 0 {
		panic(&AbortError{What: "no grid neighbour at a finite distance (GGML_ASSERT(grid_index >= 0) in " + fn + ")"})
	}
	for i := 0; i < 8; i++ {
		L[i] = (g.pos[index][i] - 1) / 2
	}
	return index
}

// iq2Level4 is nearest_int(0.5·(id·x − 1)) clamped to 0..kMaxQ−1 = 2.
func iq2Level4(id, x float32) int8 {
	return int8(clampI32(nearestInt(float32(0.5*float32(float32(id*x)-1))), 0, 2))
}

// iq2Scale4 is a 4-bit block scale: nearest_int(0.5·(id·s − 1)) in 0..15.
func iq2Scale4(id, s float32) uint8 {
	return uint8(clampI32(nearestInt(float32(0.5*float32(float32(id*s)-1))), 0, 15))
}

// iq2SignsRef fills xval with |xb| and returns the 8 sign bits of a group
// of eight; with flipParity (IQ2_XXS, IQ2_XS) an odd number of negatives is
// made even by flipping the element of least weight·x², as ggml does.
func iq2SignsRef(xval, xb, weight []float32, flipParity bool) uint8 {
	var s uint8
	nflip := 0
	for i := 0; i < 8; i++ {
		if xb[i] >= 0 {
			xval[i] = xb[i]
		} else {
			xval[i] = -xb[i]
			nflip++
			s |= 1 << i
		}
	}
	if flipParity && nflip%2 != 0 {
		s = iq2FlipLeast(xval, xb, weight, s)
	}
	return s
}

// iq2FlipLeast makes the count of negatives in the sign bits s of a group
// of eight even, as ggml does: the element of least weight·x² (the first
// of equals) changes sign, in xval and in the returned bits. iq2SignsRef
// and iq2Signs share it.
func iq2FlipLeast(xval, xb, weight []float32, s uint8) uint8 {
	imin := 0
	min := float32(float32(weight[0]*xb[0]) * xb[0])
	for i := 1; i < 8; i++ {
		ax := float32(float32(weight[i]*xb[i]) * xb[i])
		if ax < min {
			min = ax
			imin = i
		}
	}
	xval[imin] = -xval[imin]
	return s ^ 1<<imin
}

// iq2SumsRef is the weighted fit of levels L (values 2L+1) to xval.
func iq2SumsRef(xval, weight []float32, L []int8) (sumqx, sumq2 float32) {
	for i := range xval {
		w := weight[i]
		q := float32(2*int32(L[i]) + 1)
		sumqx += float32(float32(w*xval[i]) * q)
		sumq2 += float32(float32(w*q) * q)
	}
	return
}

// iq2PackIndex is the packed 2-bit index of eight levels.
func iq2PackIndex(L []int8) int {
	u := 0
	for i := 0; i < 8; i++ {
		u |= int(L[i]) << (2 * i)
	}
	return u
}

// iq2GroupLevels sets the levels of a group of 8, L[i] = iq2Level4(id,
// xval[i]), and returns their packed index (ggml's two loops over Laux[8*k+i]).
func iq2GroupLevels(id float32, xval []float32, L []int8) int {
	for i := 0; i < 8; i++ {
		L[i] = iq2Level4(id, xval[i])
	}
	return iq2PackIndex(L)
}

// ---------------------------------------------------------------- IQ2_XXS

func quantizeIQ2_XXSRef(dst []byte, src []float32, nPerRow int, imatrix []float32) {
	iqForBlocks(dst, src, nPerRow, imatrix, iq2xxsLen, iq2xxsBlockRef)
}

func iq2xxsBlockRef(y []byte, x, qw []float32) {
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
		sigma2       = float32(sumSquares(x) / qkK) // float32(): no FMA with the division-turned-product
	)
	if qw == nil {
		panic("quant: IQ2_XXS needs an importance matrix")
	}
	clear(y)
	for ib := 0; ib < 8; ib++ {
		xb := x[32*ib : 32*ib+32]
		imatrixWeightsRef(weight[:], xb, qw[32*ib:32*ib+32], sigma2)
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
		var best float32
		for is := -6; is <= 6; is++ {
			id := float32(2*kMaxQ-1+float32(float32(is)*0.1)) / effMax
			thisScale := 1 / id
			for k := 0; k < 4; k++ {
				u := iq2GroupLevels(id, xval[8*k:], Laux[8*k:])
				if g.kmap[u] < 0 {
					iq2FindBestNeighbourRef(g, g.neighboursOf(u), xval[8*k:], waux[8*k:], thisScale, Laux[8*k:])
				}
			}
			sumqx, sumq2 := iq2SumsRef(xval[:], weight[:], Laux[:])
			if sumq2 > 0 && float32(sumqx*sumqx) > float32(best*sumq2) {
				scale = sumqx / sumq2
				best = scale * sumqx
				L = Laux
			}
		}
		if scale > 0 {
			id := 1 / scale
			for k := 0; k < 4; k++ {
				var lv [8]int8
				u := iq2GroupLevels(id, xval[8*k:], lv[:])
				index := int(g.kmap[u])
				if index < 0 {
					index = iq2FindBestNeighbourRef(g, g.neighboursOf(u), xval[8*k:], waux[8*k:], scale, L[8*k:])
				}
				for i := 0; i < 8; i++ {
					L[8*k+i] = (g.pos[index][i] - 1) / 2
				}
			}
			sumqx, sumq2 := iq2SumsRef(xval[:], weight[:], L[:])
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

func dequantizeIQ2_XXS(dst []float32, src []byte) {
	for b := 0; b < len(dst)/qkK; b++ {
		blk := src[b*iq2xxsLen : (b+1)*iq2xxsLen]
		d := getF16(blk)
		y := dst[b*qkK : (b+1)*qkK]
		for ib := 0; ib < 8; ib++ {
			grid := blk[2+8*ib : 2+8*ib+4]
			aux := binary.LittleEndian.Uint32(blk[2+8*ib+4:])
			db := d * (0.5 + float32(aux>>28)) * 0.25
			for l := 0; l < 4; l++ {
				k := kgridIQ2XXS[grid[l]]
				signs := ksignsIQ2XS[aux>>(7*l)&127]
				iq2DecodeGroup(y[32*ib+8*l:], k, db, signs)
			}
		}
	}
}

// iq2DecodeGroup writes db·level·(±1) for the eight levels packed in k.
func iq2DecodeGroup(y []float32, k uint16, db float32, signs uint8) {
	for j := 0; j < 8; j++ {
		v := db * iq2Level[k>>(2*j)&3]
		if signs>>j&1 != 0 {
			v = -v
		}
		y[j] = v
	}
}

// ---------------------------------------------------------------- IQ2_XS

func quantizeIQ2_XSRef(dst []byte, src []float32, nPerRow int, imatrix []float32) {
	iqForBlocks(dst, src, nPerRow, imatrix, iq2xsLen, iq2xsBlockRef)
}

func iq2xsBlockRef(y []byte, x, qw []float32) {
	if qw == nil {
		panic("quant: IQ2_XS needs an importance matrix")
	}
	iq2xsSBlockRef(y, x, qw, false)
}

// iq2xsSBlockRef is quantize_row_iq2_xs_impl (s = false) or
// quantize_row_iq2_s_impl (s = true) on one super-block: the two share
// their search and differ in grid, weights, signs, threshold and layout.
func iq2xsSBlockRef(y []byte, x, qw []float32, s bool) {
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
		scales         [16]float32
		weight, xval   [16]float32
		waux           [16]float32
		L, Laux        [16]int8
		onGrid, onAux  [2]bool
		blockSigns     [2]uint8
		q2             [32]uint16
		maxScale       float32
		indices        [32]int
		signsOut       [32]uint8
		scalesOut      [8]uint8
		haveBlockIndex [32]bool
	)
	clear(y)
	for ib := 0; ib < 16; ib++ {
		xb := x[16*ib : 16*ib+16]
		if qw != nil {
			imatrixWeightsRef(weight[:], xb, qw[16*ib:16*ib+16], sigma2)
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
					iq2FindBestNeighbourRef(g, g.neighboursOf(u), xval[8*k:], waux[8*k:], thisScale, Laux[8*k:])
				}
			}
			sumqx, sumq2 := iq2SumsRef(xval[:], weight[:], Laux[:])
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
					iq2FindBestNeighbourRef(g, g.neighboursOf(u), xval[8*k:], waux[8*k:], scale, L[8*k:])
				}
			}
			sumqx, sumq2 := iq2SumsRef(xval[:], weight[:], L[:])
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
			indices[2*ib+k] = int(index)
			haveBlockIndex[2*ib+k] = true
			signsOut[2*ib+k] = blockSigns[k]
			q2[2*ib+k] = uint16(index) | uint16(blockSigns[k])<<9
		}
		if !(scale >= 0) {
			panic(&AbortError{What: "a sub-block scale is NaN (GGML_ASSERT(scale >= 0) in quantize_row_iq2_xs_impl / quantize_row_iq2_s_impl)"})
		}
		scales[ib] = scale
		maxScale = cmax(maxScale, scale)
	}
	if s {
		// IQ2_S writes its indices and signs as it goes, whatever the scale.
		for i8 := 0; i8 < 32; i8++ {
			if !haveBlockIndex[i8] {
				continue
			}
			y[2+i8] = byte(indices[i8])
			y[2+64+i8/4] |= byte(indices[i8]>>8) << (2 * (i8 % 4))
			y[2+32+i8] = signsOut[i8]
		}
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

func dequantizeIQ2_XS(dst []float32, src []byte) {
	for b := 0; b < len(dst)/qkK; b++ {
		blk := src[b*iq2xsLen : (b+1)*iq2xsLen]
		d := getF16(blk)
		y := dst[b*qkK : (b+1)*qkK]
		for ib := 0; ib < 8; ib++ {
			sc := blk[2+64+ib]
			db := [2]float32{d * (0.5 + float32(sc&0xf)) * 0.25, d * (0.5 + float32(sc>>4)) * 0.25}
			for l := 0; l < 4; l++ {
				q := binary.LittleEndian.Uint16(blk[2+2*(4*ib+l):])
				iq2DecodeGroup(y[32*ib+8*l:], kgridIQ2XS[q&511], db[l/2], ksignsIQ2XS[q>>9])
			}
		}
	}
}

// ---------------------------------------------------------------- IQ2_S

func quantizeIQ2_SRef(dst []byte, src []float32, nPerRow int, imatrix []float32) {
	iqForBlocks(dst, src, nPerRow, imatrix, iq2sLen, func(y []byte, x, qw []float32) {
		iq2xsSBlockRef(y, x, qw, true)
	})
}

func dequantizeIQ2_S(dst []float32, src []byte) {
	for b := 0; b < len(dst)/qkK; b++ {
		blk := src[b*iq2sLen : (b+1)*iq2sLen]
		d := getF16(blk)
		qs, signs, qh, scales := blk[2:34], blk[34:66], blk[66:74], blk[74:82]
		y := dst[b*qkK : (b+1)*qkK]
		for ib := 0; ib < 8; ib++ {
			db := [2]float32{d * (0.5 + float32(scales[ib]&0xf)) * 0.25, d * (0.5 + float32(scales[ib]>>4)) * 0.25}
			for l := 0; l < 4; l++ {
				index := int(qs[4*ib+l]) | int(qh[ib])<<(8-2*l)&0x300
				iq2DecodeGroup(y[32*ib+8*l:], kgridIQ2S[index], db[l/2], signs[4*ib+l])
			}
		}
	}
}

// iq2xxsPackSubBlock ends IQ2_XXS sub-block ib as quantize_row_iq2_xxs_impl
// does, once its levels L and scale are chosen: a negative scale flips the
// block signs, each group's levels become a grid index (aborting where ggml
// reads past kmap_q2xs or finds no grid point), the indices and signs go
// into q2, and a NaN scale aborts. It returns |scale|. Shared by the fast
// encoder and its reference twin: only the searches differ.
func iq2xxsPackSubBlock(g *iqGrid, q2 *[16]uint32, ib int, L *[32]int8, blockSigns *[4]uint8, scale float32) float32 {
	if scale < 0 {
		scale = -scale
		for k := range blockSigns {
			blockSigns[k] = ^blockSigns[k] & 127
		}
	}
	for k := 0; k < 4; k++ {
		u := iq2PackIndex(L[8*k:])
		if u >= iqKmapSize {
			// levels from make_qp_quants (0..4) survive only when the
			// scale is NaN: ggml reads past kmap_q2xs, then aborts
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
	return scale
}

// iq2xxsPackScales stores an IQ2_XXS super-block: d = maxScale/31 as
// float16 and each sub-block's 4-bit scale in the top bits of its second
// q2 word (nothing but zeros when every sub-block was empty).
func iq2xxsPackScales(y []byte, q2 *[16]uint32, scales *[8]float32, maxScale float32) {
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
