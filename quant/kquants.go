package quant

// Fast K-quant encoders. Each follows its reference twin in kquants_ref.go
// step by step; the differences are only in how the work is done: the scale
// searches run lane-parallel (search_fast.go), invariants are hoisted and the
// requantization runs as one vector pass per group. TestKQuantsFastMatchReference
// checks byte equality with the twins.

import "unsafe"

func quantizeQ2_K(dst []byte, src []float32, nPerRow int, imatrix []float32) {
	var (
		ws    qkxWork
		r     [2]qkxLanes
		sw    [2][16]float32
		y     [4][]byte
		x, qw [4][]float32
	)
	for b := 0; b < len(src)/qkK; b += 2 {
		count := superBlockBatch(&y, &x, &qw, dst, src, nPerRow, imatrix, q2_KLen, b, 2)
		cfg := qkxQ2_K
		if qw[0] != nil {
			cfg = qkx3Q2_K
		}
		for h := 0; h < count; h++ {
			xt, wt := ws.xt[h][:], ws.wt[h][:]
			if qw[h] == nil {
				transposeGroups16(xt, x[h], 16, 16, 0)
				continue
			}
			var weights [16]float32
			sigma2 := float32(sumSquares(x[h][:qkK]) / qkK)
			for j := 0; j < 16; j++ {
				xs := (*[16]float32)(x[h][16*j:])
				imatrixWeights(weights[:], xs[:], qw[h][16*j:], sigma2)
				var s float32
				for i, v := range weights {
					s += v
					xt[16*i+j] = xs[i]
					wt[16*i+j] = v
				}
				sw[h][j] = s
			}
		}
		if qw[0] == nil {
			qkxWeights(&ws, count, 16, weightsAbs)
		}
		qkxSearch(&ws, count, 16, cfg, &r)
		for h := 0; h < count; h++ {
			q2_KFinish(y[h], x[h], qw[h] != nil, &r[h], &sw[h])
		}
	}
}

// q2_KFinish is the rest of q2_KBlockRef for one super-block whose 16 group
// searches are in r (sw: the sums of the groups' imatrix weights): the
// 4-bit scales and mins, d and dmin, the levels and their packing.
func q2_KFinish(y []byte, x []float32, imatrix bool, r *qkxLanes, sw *[16]float32) {
	var (
		L            [qkK]uint8
		scales, mins = &r.scale, &r.theMin
		scb          = (*[16]byte)(y[0:16])
	)
	if !imatrix {
		var maxScl, maxMin float32
		for j := 0; j < 16; j++ {
			if scales[j] > maxScl {
				maxScl = scales[j]
			}
			if mins[j] > maxMin {
				maxMin = mins[j]
			}
		}
		*scb = [16]byte{}
		if maxScl > 0 {
			iscale := 15 / maxScl
			for j := 0; j < 16; j++ {
				scb[j] = uint8(nearestInt(float32(iscale * scales[j])))
			}
		}
		putF16(y[80:], maxScl/15) // +0 when maxScl is 0
		if maxMin > 0 {
			iscale := 15 / maxMin
			for j := 0; j < 16; j++ {
				scb[j] |= uint8(nearestInt(float32(iscale*mins[j])) << 4)
			}
		}
		putF16(y[82:], maxMin/15)
	} else {
		var Ls, Lm [16]uint8
		dm := makeQpQuants(16, 15, scales[:], Ls[:], sw[:])
		mm := makeQpQuants(16, 15, mins[:], Lm[:], sw[:])
		putF16(y[80:], dm)
		putF16(y[82:], mm)
		for j := 0; j < 16; j++ {
			scb[j] = Ls[j] | Lm[j]<<4
		}
	}
	d, dmin := getF16(y[80:]), getF16(y[82:])
	var dl, ml [16]float32
	for j := 0; j < 16; j++ {
		dl[j] = float32(d * float32(scb[j]&0xF))
		ml[j] = float32(dmin * float32(scb[j]>>4))
		if dl[j] == 0 { // ggml keeps the search's levels
			qkxLevels(L[16*j:16*j+16], x[16*j:16*j+16], r.is[j], r.min[j], 3)
		}
	}
	requantGroups(L[:], x, ml[:], dl[:], 16, 0, 3, 0)
	packQ2((*[64]byte)(y[16:80]), &L)
}

func quantizeQ3_K(dst []byte, src []float32, nPerRow int, imatrix []float32) {
	var (
		ws  q3Work
		qws qxWork
	)
	// Quantize hands the kernel slices of a few superblocks and scans each
	// for non-finite values first; that scan is the slice's first touch and
	// stalled on memory. Prefetching the values that follow src, a KiB per
	// superblock encoded, has them in cache by then. (With F16/BF16 input
	// src is Quantize's scratch and what follows it is of no use; that
	// costs nothing measurable, and BF16 input gains from the rest.)
	ahead := uintptr(unsafe.Pointer(unsafe.SliceData(src))) + uintptr(len(src))*4
	forSuperBlocks(dst, src, nPerRow, imatrix, q3_KLen, func(y []byte, x, qw []float32) {
		prefetch1K(ahead)
		ahead += 4 * qkK
		q3_KBlock(&ws, &qws, y, x, qw)
	})
}

// q3_KBlock is q3_KBlockRef with the 16 group searches run side by side:
// make_q3_quants (q3Search) without an importance matrix, make_qx_quants
// (qxSearch16) with one.
func q3_KBlock(ws *q3Work, qws *qxWork, y []byte, x, qw []float32) {
	var (
		L      [qkK]uint8
		scales [16]float32
		ls     [16]uint8 // 6-bit group scales, stored +32
		r      [2]qxLanes
	)
	if qw == nil {
		transposeGroups16(ws.xt[:], x, 16, 16, 0)
		q3Search(ws)
		scales = ws.scale
		maxScale := q3MaxScale(&scales)
		if maxScale != 0 {
			iscale := -32 / maxScale
			for j := 0; j < 16; j++ {
				l := int8(nearestInt(float32(iscale * scales[j])))
				ls[j] = uint8(clampI32(int32(l), -32, 31) + 32)
			}
			putF16(y[108:], 1/iscale)
		} else {
			putF16(y[108:], 0)
		}
	} else {
		var weights, sw [16]float32
		sigma2 := float32(float32(2*sumSquares(x[:qkK])) / qkK)
		for j := 0; j < 16; j++ {
			xs := (*[16]float32)(x[16*j:])
			imatrixWeights(weights[:], xs[:], qw[16*j:], sigma2)
			var s float32
			for i, v := range weights {
				s += v
				qws.wt[0][16*i+j] = v
			}
			sw[j] = s
		}
		transposeGroups16(qws.xt[0][:], x, 16, 16, 0)
		qxSearch16(qws, 1, 16, 4, qxNum4, &r)
		scales = r[0].scale
		dBlock := makeQx(16, 32, scales[:], sw[:], ls[:])
		putF16(y[108:], dBlock)
	}
	packQ3Scales((*[12]byte)(y[96:108]), &ls)
	d := getF16(y[108:])
	var dl, ml [16]float32
	for j := 0; j < 16; j++ {
		dl[j] = float32(d * float32(int32(ls[j])-32)) // q3Scale(y[96:108], j)
		if dl[j] != 0 {
			continue
		}
		// ggml keeps the search's levels
		Lg := (*[16]uint8)(L[16*j:])
		if qw == nil {
			for i := range Lg {
				Lg[i] = uint8(ws.lt[16*i+j])
			}
		} else {
			qxLevels(Lg[:], x[16*j:16*j+16], &r[0], j, 4)
		}
	}
	requantGroups(L[:], x, ml[:], dl[:], 16, -4, 3, 4)
	// high bits: bit b of hmask[m] is set for level 32b+m > 3
	hmask := (*[32]byte)(y[0:32])
	for m := 0; m < 32; m += 8 {
		var h uint64
		for b := 0; b < 8; b++ {
			l := le64(L[32*b+m:]) // levels 0..7: bit 2 set exactly when > 3
			h |= (l >> 2 & 0x0101010101010101) << b
			putLE64(L[32*b+m:], l&lo2)
		}
		putLE64(hmask[m:], h)
	}
	packQ2((*[64]byte)(y[32:96]), &L)
}

func quantizeQ4_K(dst []byte, src []float32, nPerRow int, imatrix []float32) {
	var (
		ws    qkxWork
		L     [4][qkK]uint8
		y     [4][]byte
		x, qw [4][]float32
	)
	for b := 0; b < len(src)/qkK; b += 4 {
		count := superBlockBatch(&y, &x, &qw, dst, src, nPerRow, imatrix, q4_KLen, b, 4)
		q45_KScales(&ws, &y, &x, &qw, &L, 15, count) // packs the levels too
	}
}

func quantizeQ5_K(dst []byte, src []float32, nPerRow int, imatrix []float32) {
	var (
		ws    qkxWork
		L     [4][qkK]uint8
		y     [4][]byte
		x, qw [4][]float32
	)
	for b := 0; b < len(src)/qkK; b += 4 {
		count := superBlockBatch(&y, &x, &qw, dst, src, nPerRow, imatrix, q5_KLen, b, 4)
		q45_KScales(&ws, &y, &x, &qw, &L, 31, count)
		for h := 0; h < count; h++ {
			packQ5K((*[32]byte)(y[h][16:48]), (*[128]byte)(y[h][48:176]), &L[h])
		}
	}
}

// superBlockBatch sets y, x and qw to the output blocks, inputs and
// imatrix columns of up to batch (≤ 4) consecutive super-blocks from block
// b on, for the encoders that take several at a time, and returns how many
// there are (fewer than batch only at the end of src).
func superBlockBatch(y *[4][]byte, x, qw *[4][]float32, dst []byte, src []float32, nPerRow int, imatrix []float32,
	blockLen, b, batch int) (count int) {
	count = min(batch, len(src)/qkK-b)
	for h := 0; h < count; h++ {
		bb := b + h
		y[h] = dst[bb*blockLen : (bb+1)*blockLen]
		x[h] = src[bb*qkK : (bb+1)*qkK]
		qw[h] = nil
		if imatrix != nil {
			col := bb * qkK % nPerRow
			qw[h] = imatrix[col : col+qkK]
		}
	}
	return count
}

// q45_KScales is q45_KScalesRef for count (1..4) super-blocks at once,
// with all their sub-block searches run side by side (qkxSearch):
// sub-block j of block h is lane 8(h%2)+j of set h/2 (an odd count leaves
// lanes 8..15 of the last set as a copy of lanes 0..7). For Q4_K
// (nmax 15) it also packs the levels into y[h][16:144] (packQ4K).
func q45_KScales(ws *qkxWork, y *[4][]byte, x, qw *[4][]float32, L *[4][qkK]uint8, nmax int32, count int) {
	var (
		r  [2]qkxLanes
		sw [4][8]float32
	)
	imatrix := qw[0] != nil
	cfg := qkxQ4_K
	if imatrix {
		cfg = qkx3Q4
	}
	if nmax == 31 {
		cfg = qkxQ5_K
		if imatrix {
			cfg = qkx3Q5
		}
	}
	sets := (count + 1) / 2
	for h := 0; h < 2*sets; h++ {
		hh := min(h, count-1)
		xh := x[hh]
		xt, wt := ws.xt[h/2][:], ws.wt[h/2][:]
		off := 8 * (h % 2)
		if !imatrix {
			transposeGroups16(xt, xh, 8, 32, off)
			continue
		}
		var weights [32]float32
		sigma2 := float32(float32(2*sumSquares(xh[:qkK])) / qkK)
		for j := 0; j < 8; j++ {
			xs := (*[32]float32)(xh[32*j:])
			imatrixWeights(weights[:], xs[:], qw[hh][32*j:], sigma2)
			var s float32
			for i, v := range weights {
				s += v
				xt[16*i+off+j] = xs[i]
				wt[16*i+off+j] = v
			}
			sw[hh][j] = s
		}
	}
	if !imatrix {
		qkxWeights(ws, sets, 32, weightsAvAbs)
	}
	qkxSearch(ws, sets, 32, cfg, &r)
	for h := 0; h < count; h++ {
		var qs *[128]byte
		if nmax == 15 {
			qs = (*[128]byte)(y[h][16:144])
		}
		q45_KFinish(y[h][0:16], qs, x[h], imatrix, &L[h], nmax, &r[h/2], 8*(h%2), &sw[h])
	}
}

// q45_KFinish is the rest of q45_KScalesRef for one super-block whose
// search results are lanes off..off+7 of r (sw: the sums of its sub-blocks'
// imatrix weights): the 6-bit scales and mins, d and dmin, and the levels
// in L; for Q4_K (qs not nil) the levels packed into qs (packQ4K), L then
// being scratch.
func q45_KFinish(hdr []byte, qs *[128]byte, x []float32, imatrix bool, L *[qkK]uint8, nmax int32, r *qkxLanes, off int, sw *[8]float32) {
	var (
		scales = (*[8]float32)(r.scale[off:])
		mins   = (*[8]float32)(r.theMin[off:])
		sc     = hdr[4:16]
	)
	if !imatrix {
		var maxScale, maxMin float32
		for j := 0; j < 8; j++ {
			if scales[j] > maxScale {
				maxScale = scales[j]
			}
			if mins[j] > maxMin {
				maxMin = mins[j]
			}
		}
		var invScale, invMin float32
		if maxScale > 0 {
			invScale = 63 / maxScale
		}
		if maxMin > 0 {
			invMin = 63 / maxMin
		}
		for j := 0; j < 8; j++ {
			ls := uint8(nearestInt(float32(invScale * scales[j])))
			lm := uint8(nearestInt(float32(invMin * mins[j])))
			packP6(sc, j, min(63, ls), min(63, lm))
		}
		putF16(hdr[0:], maxScale/63)
		putF16(hdr[2:], maxMin/63)
	} else {
		var Ls, Lm [8]uint8
		dBlock := makeQpQuants(8, 63, scales[:], Ls[:], sw[:])
		mBlock := makeQpQuants(8, 63, mins[:], Lm[:], sw[:])
		for j := 0; j < 8; j++ {
			ls, lm := Ls[j], Lm[j]
			if nmax == 31 {
				ls, lm = min(63, ls), min(63, lm)
			}
			packP6(sc, j, ls, lm)
		}
		putF16(hdr[0:], dBlock)
		putF16(hdr[2:], mBlock)
	}
	d, dmin := getF16(hdr[0:]), getF16(hdr[2:])
	var dl, ml [8]float32
	for j := 0; j < 8; j++ {
		s, m := getScaleMinK4(j, sc)
		dl[j] = float32(d * float32(s))
		ml[j] = float32(dmin * float32(m))
		if dl[j] == 0 { // ggml keeps the search's levels
			qkxLevels(L[32*j:32*j+32], x[32*j:32*j+32], r.is[off+j], r.min[off+j], nmax)
		}
	}
	if qs != nil {
		requantPackQ4K(qs, L, x, &ml, &dl)
		return
	}
	requantGroups(L[:], x, ml[:], dl[:], 32, 0, nmax, 0)
}

func quantizeQ6_K(dst []byte, src []float32, nPerRow int, imatrix []float32) {
	var (
		ws    qxWork
		r     [2]qxLanes
		y     [4][]byte
		x, qw [4][]float32
	)
	for b := 0; b < len(src)/qkK; b += 2 {
		count := superBlockBatch(&y, &x, &qw, dst, src, nPerRow, imatrix, q6_KLen, b, 2)
		for h := 0; h < count; h++ {
			transposeGroups16(ws.xt[h][:], x[h], 16, 16, 0)
			if qw[h] != nil {
				transposeGroups16(ws.wt[h][:], qw[h], 16, 16, 0)
			} else {
				squares(ws.wt[h][:16*16], ws.xt[h][:16*16])
			}
		}
		qxSearch16(&ws, count, 16, 32, qxNum32, &r)
		for h := 0; h < count; h++ {
			q6_KFinish(y[h], x[h], &r[h])
		}
	}
}

// squaresGeneric sets w[i] = x[i]·x[i] (make_qx_quants' weights without an
// imatrix); squares (lanes_amd64.go, lanes_noasm.go) is it with the
// fastest kernel available.
func squaresGeneric(w, x []float32) {
	for i, v := range x[:len(w)] {
		w[i] = float32(v * v)
	}
}

// q6_KFinish is the rest of q6_KBlockRef for one super-block whose 16
// group searches are in r: the 8-bit scales, d, the levels and their
// packing.
func q6_KFinish(y []byte, x []float32, r *qxLanes) {
	var (
		L      [qkK]uint8
		scales = &r.scale
	)
	var maxScale, maxAbsScale float32
	for ib := 0; ib < 16; ib++ {
		if a := abs32(scales[ib]); a > maxAbsScale {
			maxAbsScale, maxScale = a, scales[ib]
		}
	}
	if maxAbsScale < groupMaxEps {
		clear(y[:q6_KLen])
		return
	}
	iscale := -128 / maxScale
	putF16(y[208:], 1/iscale)
	sc := y[192:208]
	for ib := 0; ib < 16; ib++ {
		sc[ib] = uint8(int8(min(127, nearestInt(float32(iscale*scales[ib])))))
	}
	d := getF16(y[208:])
	var dl [16]float32
	for j := 0; j < 16; j++ {
		dl[j] = float32(d * float32(int8(sc[j])))
		if dl[j] == 0 { // ggml keeps the search's levels
			qxLevels(L[16*j:16*j+16], x[16*j:16*j+16], r, j, 32)
		}
	}
	requantPackQ6K((*[128]byte)(y[0:128]), (*[64]byte)(y[128:192]), &L, x, &dl)
}

// makeQpQuants is make_qp_quants; it runs on 8 or 16 values per
// super-block, so the reference is fast enough.
func makeQpQuants(n int, nmax int32, x []float32, L []uint8, qw []float32) float32 {
	return makeQpQuantsRef(n, nmax, x, L, qw)
}
