package quant

import (
	"encoding/binary"
	"math"
)

// Reference IQ3_XXS and IQ3_S encoders: plain transcriptions of ggml's
// quantize_row_iq3_xxs_impl (grid_size 256) and quantize_row_iq3_s_impl
// (block_size 32), with iq3_find_best_neighbour, from ggml/src/ggml-quants.c
// of the pinned llama.cpp (commit 0c1e570). ggml runs them with and without
// an importance matrix (quantize_iq3_xxs / quantize_iq3_s). The float
// discipline is kquants_helpers.go's (no FMA, sums in index order).
//
// Where ggml's code has a GGML_ASSERT that can fail on finite input (a NaN
// sub-block scale, or a neighbour search where every distance is NaN or
// infinite — both only with values whose squares overflow float32), the
// encoders panic with an *AbortError, which Quantize returns: llama-quantize
// aborts on such input.
//
// One quirk of quantize_row_iq3_s_impl is kept deliberately: a sub-block
// whose values are all zero skips the advance of the qs and signs pointers,
// so the following sub-blocks' grid indices and signs are stored 8 and 4
// bytes earlier than their position (their qh bits and scales are not
// shifted). Decoding such a block (in ggml too) puts the later sub-blocks'
// values in the wrong place; the bytes are ggml's.

const (
	iq3xxsLen = 98  // fp16 d, qs[64] grid indices, 8 × uint32 scale and signs
	iq3sLen   = 110 // fp16 d, qs[64], qh[8], signs[32], scales[4]
)

// groupMaxEpsIQ3XXS is ggml's GROUP_MAX_EPS_IQ3_XXS.
const groupMaxEpsIQ3XXS = float32(1e-8)

// ksignsIQ2XS is ggml's ksigns_iq2xs: 7 sign bits completed with an 8th
// that makes the number of set bits even.
var ksignsIQ2XS = func() (t [128]uint8) {
	for i := range t {
		n := 0
		for b := 0; b < 7; b++ {
			n += i >> b & 1
		}
		t[i] = uint8(i | (n&1)<<7)
	}
	return t
}()

func quantizeIQ3_XXSRef(dst []byte, src []float32, nPerRow int, imatrix []float32) {
	t := iq3Grid(256)
	iqForBlocks(dst, src, nPerRow, imatrix, iq3xxsLen, func(y []byte, x, qw []float32) { iq3xxsBlockRef(t, y, x, qw) })
}

// iq3Level is 0.5·(id·x − 1) rounded by nearest_int and clamped to 0..7.
func iq3Level(id, x float32) int {
	return int(clampI32(nearestInt(float32(0.5*(float32(id*x)-1))), 0, 7))
}

// iq3BestNeighbourRef is iq3_find_best_neighbour: the neighbour minimizing
// Σ w·(scale·q − x)², the first on ties; it sets L to its levels.
func iq3BestNeighbourRef(t *iq3Tables, nb []uint16, xval, weight []float32, scale float32, L []int8) int {
	bestD2 := float32(math.MaxFloat32)
	gi := -1
	for _, j := range nb {
		pg := &t.grid[j]
		var d2 float32
		for i := 0; i < 4; i++ {
			diff := float32(scale*float32(pg[i])) - xval[i]
			d2 += float32(float32(weight[i]*diff) * diff)
		}
		if d2 < bestD2 {
			bestD2, gi = d2, int(j)
		}
	}
	if gi < 0 {
		panic(&AbortError{What: "no grid neighbour at a finite distance (GGML_ASSERT(grid_index >= 0) in iq3_find_best_neighbour)"})
	}
	for i := 0; i < 4; i++ {
		L[i] = (t.grid[gi][i] - 1) / 2
	}
	return gi
}

// iq3SumsRef returns Σ w·x·q and Σ w·q² for q = 2L+1.
func iq3SumsRef(weight, xval []float32, L []int8) (sumqx, sumq2 float32) {
	for i := range weight {
		w, q := weight[i], float32(2*int(L[i])+1)
		sumqx += float32(float32(w*xval[i]) * q)
		sumq2 += float32(float32(w*q) * q)
	}
	return sumqx, sumq2
}

// iq3Weights fills weight (x², or qw·sqrt(sigma2 + x²)) and waux = sqrt(weight).
func iq3WeightsRef(weight, waux, xb, qw []float32, sigma2 float32) {
	if qw != nil {
		imatrixWeightsRef(weight, xb, qw, sigma2)
	} else {
		for i, v := range xb {
			weight[i] = float32(v * v)
		}
	}
	for i, w := range weight {
		waux[i] = sqrt32(w)
	}
}

func iq3xxsBlockRef(t *iq3Tables, y []byte, xbl, qw []float32) {
	const kMaxQ = 8
	var (
		scales               [8]float32
		weight, xval, waux   [32]float32
		L, Laux              [32]int8
		isOnGrid, isOnGridAx [8]bool
		blockSigns           [4]uint8
		q3                   [64]byte
		sas                  [8]uint32
	)
	var maxScale, sumx2 float32
	for _, v := range xbl {
		sumx2 += float32(v * v)
	}
	sigma2 := float32(float32(2*sumx2) / qkK) // float32(): no fusion of the scaling into an addition
	for ib := 0; ib < 8; ib++ {
		xb := xbl[32*ib : 32*ib+32]
		var qwb []float32
		if qw != nil {
			qwb = qw[32*ib : 32*ib+32]
		}
		iq3WeightsRef(weight[:], waux[:], xb, qwb, sigma2)
		for k := 0; k < 4; k++ {
			nflip := 0
			var s uint8
			for i := 0; i < 8; i++ {
				if v := xb[8*k+i]; v >= 0 {
					xval[8*k+i] = v
				} else {
					xval[8*k+i] = -v
					nflip++
					s |= 1 << i
				}
			}
			if nflip%2 != 0 {
				imin := 0
				min := float32(float32(weight[8*k]*xb[8*k]) * xb[8*k])
				for i := 1; i < 8; i++ {
					if ax := float32(float32(weight[8*k+i]*xb[8*k+i]) * xb[8*k+i]); ax < min {
						min, imin = ax, i
					}
				}
				xval[8*k+imin] = -xval[8*k+imin]
				s ^= 1 << imin
			}
			blockSigns[k] = s & 127
		}
		max := xval[0]
		for i := 1; i < 32; i++ {
			max = cmax(max, xval[i])
		}
		L = [32]int8{}
		if max < groupMaxEpsIQ3XXS {
			scales[ib] = 0
			continue
		}
		var best float32
		scale := max / (2*kMaxQ - 1)
		for k := range isOnGrid {
			isOnGrid[k] = true
		}
		for is := -15; is <= 15; is++ {
			id := float32(2*kMaxQ-1) + float32(float32(is)*0.2)
			id /= max
			thisScale := 1 / id
			for k := 0; k < 8; k++ {
				u := 0
				for i := 0; i < 4; i++ {
					l := iq3Level(id, xval[4*k+i])
					Laux[4*k+i] = int8(l)
					u |= l << (3 * i)
				}
				isOnGridAx[k] = true
				if t.kmap[u] < 0 {
					isOnGridAx[k] = false
					iq3BestNeighbourRef(t, t.neighboursOf(u), xval[4*k:], waux[4*k:], thisScale, Laux[4*k:])
				}
			}
			sumqx, sumq2 := iq3SumsRef(weight[:], xval[:], Laux[:])
			if sumq2 > 0 && float32(sumqx*sumqx) > float32(best*sumq2) {
				scale = sumqx / sumq2
				best = float32(scale * sumqx)
				L, isOnGrid = Laux, isOnGridAx
			}
		}
		nNotOnGrid := 0
		for _, on := range isOnGrid {
			if !on {
				nNotOnGrid++
			}
		}
		if nNotOnGrid > 0 && scale > 0 {
			id := 1 / scale
			for k := 0; k < 8; k++ {
				if isOnGrid[k] {
					continue
				}
				u := 0
				for i := 0; i < 4; i++ {
					u |= iq3Level(id, xval[4*k+i]) << (3 * i)
				}
				gi := int(t.kmap[u])
				if gi < 0 {
					gi = iq3BestNeighbourRef(t, t.neighboursOf(u), xval[4*k:], waux[4*k:], scale, L[4*k:])
				}
				for i := 0; i < 4; i++ {
					L[4*k+i] = (t.grid[gi][i] - 1) / 2
				}
			}
			if sumqx, sumq2 := iq3SumsRef(weight[:], xval[:], L[:]); sumq2 > 0 {
				scale = sumqx / sumq2
			}
		}
		if scale < 0 {
			scale = -scale
			for k := range blockSigns {
				blockSigns[k] = ^blockSigns[k] & 127
			}
		}
		for k := 0; k < 8; k++ {
			q3[8*ib+k] = byte(iq3GridIndex(t, L[4*k:4*k+4]))
		}
		sas[ib] = uint32(blockSigns[0]) | uint32(blockSigns[1])<<7 | uint32(blockSigns[2])<<14 | uint32(blockSigns[3])<<21
		if !(scale >= 0) {
			panic(&AbortError{What: "a sub-block scale is NaN (GGML_ASSERT(scale >= 0) in quantize_row_iq3_xxs_impl)"})
		}
		scales[ib] = scale
		maxScale = cmax(maxScale, scale)
	}
	iq3xxsPack(y, &q3, &sas, &scales, maxScale)
}

// iq3GridIndex returns the grid index of the levels L[0:4], which must be
// on the grid (ggml aborts with "Oops: found point not on grid" otherwise,
// which its callers make impossible).
func iq3GridIndex(t *iq3Tables, L []int8) int {
	u := int(L[0]) | int(L[1])<<3 | int(L[2])<<6 | int(L[3])<<9
	gi := int(t.kmap[u])
	if gi < 0 {
		panic("quant: IQ3 levels off the grid")
	}
	return gi
}

func quantizeIQ3_SRef(dst []byte, src []float32, nPerRow int, imatrix []float32) {
	t := iq3Grid(512)
	iqForBlocks(dst, src, nPerRow, imatrix, iq3sLen, func(y []byte, x, qw []float32) { iq3sBlockRef(t, y, x, qw) })
}

func iq3sBlockRef(t *iq3Tables, y []byte, xbl, qw []float32) {
	const kMaxQ = 8
	var (
		scales               [8]float32
		weight, xval, waux   [32]float32
		L, Laux              [32]int8
		isOnGrid, isOnGridAx [8]bool
		blockSigns           [4]uint8
	)
	clear(y)
	qs, qh, signs := y[2:66], y[66:74], y[74:106]
	var maxScale, sumx2 float32
	for _, v := range xbl {
		sumx2 += float32(v * v)
	}
	sigma2 := float32(float32(2*sumx2) / qkK) // float32(): no fusion of the scaling into an addition
	for ib := 0; ib < 8; ib++ {
		xb := xbl[32*ib : 32*ib+32]
		var qwb []float32
		if qw != nil {
			qwb = qw[32*ib : 32*ib+32]
		}
		iq3WeightsRef(weight[:], waux[:], xb, qwb, sigma2)
		for k := 0; k < 4; k++ {
			var s uint8
			for i := 0; i < 8; i++ {
				if v := xb[8*k+i]; v >= 0 {
					xval[8*k+i] = v
				} else {
					xval[8*k+i] = -v
					s |= 1 << i
				}
			}
			blockSigns[k] = s
		}
		max := xval[0]
		for i := 1; i < 32; i++ {
			max = cmax(max, xval[i])
		}
		L = [32]int8{}
		if max == 0 {
			scales[ib] = 0
			continue // ggml leaves qs and signs where they are (see above)
		}
		var best float32
		scale := max / (2*kMaxQ - 1)
		isOnGrid = [8]bool{}
		for is := -9; is <= 9; is++ {
			id := float32(2*kMaxQ-1) + float32(float32(is)*0.2)
			id /= max
			thisScale := 1 / id
			for k := 0; k < 8; k++ {
				u := 0
				for i := 0; i < 4; i++ {
					l := iq3Level(id, xval[4*k+i])
					Laux[4*k+i] = int8(l)
					u |= l << (3 * i)
				}
				isOnGridAx[k] = true
				if t.kmap[u] < 0 {
					isOnGridAx[k] = false
					iq3BestNeighbourRef(t, t.neighboursOf(u), xval[4*k:], waux[4*k:], thisScale, Laux[4*k:])
				}
			}
			sumqx, sumq2 := iq3SumsRef(weight[:], xval[:], Laux[:])
			if sumq2 > 0 && float32(sumqx*sumqx) > float32(best*sumq2) {
				scale = sumqx / sumq2
				best = float32(scale * sumqx)
				L, isOnGrid = Laux, isOnGridAx
			}
		}
		nNotOnGrid := 0
		for _, on := range isOnGrid {
			if !on {
				nNotOnGrid++
			}
		}
		if nNotOnGrid > 0 && scale > 0 {
			id := 1 / scale
			for k := 0; k < 8; k++ { // every group, as ggml (its skip is commented out)
				u := 0
				for i := 0; i < 4; i++ {
					u |= iq3Level(id, xval[4*k+i]) << (3 * i)
				}
				gi := int(t.kmap[u])
				if gi < 0 {
					gi = iq3BestNeighbourRef(t, t.neighboursOf(u), xval[4*k:], waux[4*k:], scale, L[4*k:])
				}
				for i := 0; i < 4; i++ {
					L[4*k+i] = (t.grid[gi][i] - 1) / 2
				}
			}
			if sumqx, sumq2 := iq3SumsRef(weight[:], xval[:], L[:]); sumq2 > 0 {
				scale = sumqx / sumq2
			}
		}
		if scale < 0 {
			scale = -scale
			for k := range blockSigns {
				blockSigns[k] = ^blockSigns[k]
			}
		}
		for k := 0; k < 8; k++ {
			gi := iq3GridIndex(t, L[4*k:4*k+4])
			qs[k] = byte(gi)
			qh[ib] |= byte(gi>>8) << k
		}
		qs = qs[8:]
		copy(signs, blockSigns[:])
		signs = signs[4:]
		if !(scale >= 0) {
			panic(&AbortError{What: "a sub-block scale is NaN (GGML_ASSERT(scale >= 0) in quantize_row_iq3_s_impl)"})
		}
		scales[ib] = scale
		maxScale = cmax(maxScale, scale)
	}
	iq3sPackScales(y, &scales, maxScale)
}

// dequantizeIQ3_XXS is ggml's dequantize_row_iq3_xxs.
func dequantizeIQ3_XXS(dst []float32, src []byte) {
	t := iq3Grid(256)
	for b := 0; b < len(dst)/qkK; b++ {
		blk := src[b*iq3xxsLen : (b+1)*iq3xxsLen]
		d := getF16(blk)
		qs := blk[2:66]
		y := dst[b*qkK:]
		for ib := 0; ib < 8; ib++ {
			aux := binary.LittleEndian.Uint32(blk[66+4*ib:])
			db := float32(d*(0.5+float32(aux>>28))) * 0.5
			for l := 0; l < 4; l++ {
				signs := ksignsIQ2XS[aux>>(7*l)&127]
				g1, g2 := &t.grid[qs[8*ib+2*l]], &t.grid[qs[8*ib+2*l+1]]
				for j := 0; j < 4; j++ {
					y[j] = iq3Signed(float32(db*float32(iq3xxsDecodeLevel[g1[j]>>1])), signs>>j&1)
					y[j+4] = iq3Signed(float32(db*float32(iq3xxsDecodeLevel[g2[j]>>1])), signs>>(j+4)&1)
				}
				y = y[8:]
			}
		}
	}
}

// iq3Signed is v·(neg ? −1 : 1).
func iq3Signed(v float32, neg uint8) float32 {
	if neg != 0 {
		return -v
	}
	return v
}

// dequantizeIQ3_S is ggml's dequantize_row_iq3_s.
func dequantizeIQ3_S(dst []float32, src []byte) {
	t := iq3Grid(512)
	for b := 0; b < len(dst)/qkK; b++ {
		blk := src[b*iq3sLen : (b+1)*iq3sLen]
		d := getF16(blk)
		qs, qh, signs, sc := blk[2:66], blk[66:74], blk[74:106], blk[106:110]
		y := dst[b*qkK:]
		for ib := 0; ib < 8; ib++ {
			db := d * float32(1+2*int(sc[ib/2]>>(4*(ib%2))&0xF))
			for l := 0; l < 4; l++ {
				s := signs[4*ib+l]
				g1 := &t.grid[int(qs[8*ib+2*l])|int(qh[ib]>>(2*l)&1)<<8]
				g2 := &t.grid[int(qs[8*ib+2*l+1])|int(qh[ib]>>(2*l+1)&1)<<8]
				for j := 0; j < 4; j++ {
					y[j] = iq3Signed(float32(db*float32(g1[j])), s>>j&1)
					y[j+4] = iq3Signed(float32(db*float32(g2[j])), s>>(j+4)&1)
				}
				y = y[8:]
			}
		}
	}
}

// iq3xxsPack stores an IQ3_XXS super-block as quantize_row_iq3_xxs_impl
// does: zeros when every sub-block was empty; else d = maxScale/31 (times
// the format's 1.0125) as float16, the grid indices q3, and each
// sub-block's signs word with its 4-bit scale in the top bits. Shared by
// the fast encoder and its reference twin: only the searches differ.
func iq3xxsPack(y []byte, q3 *[64]byte, sas *[8]uint32, scales *[8]float32, maxScale float32) {
	clear(y)
	if maxScale == 0 {
		return
	}
	d := maxScale / 31
	putF16(y, float32(d*1.0125))
	id := 1 / d
	for ib := 0; ib < 8; ib++ {
		l := clampI32(nearestInt(float32(0.5*(float32(id*scales[ib])-1))), 0, 15)
		sas[ib] |= uint32(l) << 28
	}
	copy(y[2:], q3[:])
	for ib, v := range sas {
		binary.LittleEndian.PutUint32(y[66+4*ib:], v)
	}
}

// iq3sPackScales ends an IQ3_S super-block as quantize_row_iq3_s_impl does
// (the rest of y is written sub-block by sub-block): d = maxScale/31
// (times 1.033) as float16 and the 4-bit sub-block scales, two per byte.
// Shared by the fast encoder and its reference twin.
func iq3sPackScales(y []byte, scales *[8]float32, maxScale float32) {
	if maxScale == 0 {
		return
	}
	d := maxScale / 31
	putF16(y, float32(d*1.033))
	id := 1 / d
	for ib := 0; ib < 8; ib += 2 {
		l1 := clampI32(nearestInt(float32(0.5*(float32(id*scales[ib])-1))), 0, 15)
		l2 := clampI32(nearestInt(float32(0.5*(float32(id*scales[ib+1])-1))), 0, 15)
		y[106+ib/2] = byte(l1 | l2<<4)
	}
}
