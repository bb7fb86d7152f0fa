package quant

// Fast K-quant encoders. Each follows its reference twin in kquants_ref.go
// step by step; the differences are only in how the work is done: the scale
// searches run lane-parallel (search_fast.go), invariants are hoisted and the
// requantization runs as one vector pass per group. TestKQuantsFastMatchReference
// checks byte equality with the twins.

func quantizeQ2_K(dst []byte, src []float32, nPerRow int, imatrix []float32) {
	forSuperBlocks(dst, src, nPerRow, imatrix, q2_KLen, q2_KBlock)
}

func q2_KBlock(y []byte, x, qw []float32) {
	var (
		L            [qkK]uint8
		xt, wt       [qkK]float32 // transposed: element i of group j at 16i+j
		r            qkxLanes
		scales, mins [16]float32
		scb          = (*[16]byte)(y[0:16])
	)
	if qw == nil {
		for j := 0; j < 16; j++ {
			for i, v := range (*[16]float32)(x[16*j:]) {
				xt[16*i+j] = v
				wt[16*i+j] = abs32(v)
			}
		}
		qkxSearchLanes(xt[:], wt[:], 16, 16, qkxQ2_K, &r)
		var maxScl, maxMin float32
		for j := 0; j < 16; j++ {
			scales[j], mins[j] = r.scale[j], r.theMin[j]
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
		var (
			weights [16]float32
			sw      [16]float32
			Ls, Lm  [16]uint8
		)
		sigma2 := float32(sumSquares(x[:qkK]) / qkK)
		for j := 0; j < 16; j++ {
			xs := (*[16]float32)(x[16*j:])
			imatrixWeights(weights[:], xs[:], qw[16*j:], sigma2)
			var s float32
			for i, v := range weights {
				s += v
				xt[16*i+j] = xs[i]
				wt[16*i+j] = v
			}
			sw[j] = s
		}
		qkxSearchLanes(xt[:], wt[:], 16, 16, qkx3Q2_K, &r)
		copy(scales[:], r.scale[:])
		copy(mins[:], r.theMin[:])
		dm := makeQpQuants(16, 15, scales[:], Ls[:], sw[:])
		mm := makeQpQuants(16, 15, mins[:], Lm[:], sw[:])
		putF16(y[80:], dm)
		putF16(y[82:], mm)
		for j := 0; j < 16; j++ {
			scb[j] = Ls[j] | Lm[j]<<4
		}
	}
	d, dmin := getF16(y[80:]), getF16(y[82:])
	for j := 0; j < 16; j++ {
		dl := float32(d * float32(scb[j]&0xF))
		if dl == 0 { // ggml keeps the search's levels
			qkxLevels(L[16*j:16*j+16], x[16*j:16*j+16], r.is[j], r.min[j], 3)
			continue
		}
		ml := float32(dmin * float32(scb[j]>>4))
		requant(L[16*j:16*j+16], x[16*j:16*j+16], ml, dl, 0, 3, 0)
	}
	packP2(y[16:80], L[:])
}

func quantizeQ3_K(dst []byte, src []float32, nPerRow int, imatrix []float32) {
	forSuperBlocks(dst, src, nPerRow, imatrix, q3_KLen, q3_KBlock)
}

func q3_KBlock(y []byte, x, qw []float32) {
	var (
		L      [qkK]uint8
		scales [16]float32
		sc     = y[96:108]
	)
	clear(sc)
	if qw == nil {
		var (
			maxScale, amax float32
			xt             [16][8]float32
			lt             [16][8]int32
		)
		for g := 0; g < 16; g += 8 {
			for k := 0; k < 8; k++ {
				xs := (*[16]float32)(x[16*(g+k):])
				for i, v := range xs {
					xt[i][k] = v
				}
			}
			makeQ3Quants8((*[8]float32)(scales[g:]), &xt, &lt)
			for k := 0; k < 8; k++ {
				Lg := (*[16]uint8)(L[16*(g+k):])
				for i := range Lg {
					Lg[i] = uint8(lt[i][k])
				}
			}
		}
		for j := 0; j < 16; j++ {
			if s := abs32(scales[j]); s > amax {
				amax, maxScale = s, scales[j]
			}
		}
		if maxScale != 0 {
			iscale := -32 / maxScale
			for j := 0; j < 16; j++ {
				l := int8(nearestInt(float32(iscale * scales[j])))
				packP3(sc, j, int8(clampI32(int32(l), -32, 31)+32))
			}
			putF16(y[108:], 1/iscale)
		} else {
			putF16(y[108:], 0)
		}
	} else {
		var weights, sw [16]float32
		var Ls [16]uint8
		sigma2 := float32(float32(2*sumSquares(x[:qkK])) / qkK)
		for j := 0; j < 16; j++ {
			xs := x[16*j : 16*j+16]
			imatrixWeights(weights[:], xs, qw[16*j:], sigma2)
			var s float32
			for _, v := range weights {
				s += v
			}
			sw[j] = s
			scales[j] = makeQx(16, 4, xs, weights[:], L[16*j:])
		}
		dBlock := makeQx(16, 32, scales[:], sw[:], Ls[:])
		for j := 0; j < 16; j++ {
			packP3(sc, j, int8(Ls[j]))
		}
		putF16(y[108:], dBlock)
	}
	d := getF16(y[108:])
	for j := 0; j < 16; j++ {
		dl := float32(d * float32(q3Scale(sc, j)))
		if dl == 0 {
			continue
		}
		requant(L[16*j:16*j+16], x[16*j:16*j+16], 0, dl, -4, 3, 4)
	}
	// high bits: bit j/32 of hmask[j%32] is set for levels > 3
	hmask := (*[32]byte)(y[0:32])
	for m := 0; m < 32; m++ {
		var h uint8
		for b := 0; b < 8; b++ {
			l := L[32*b+m] // 0..7: bit 2 set exactly when l > 3
			h |= (l >> 2) << b
			L[32*b+m] = l & 3
		}
		hmask[m] = h
	}
	packP2(y[32:96], L[:])
}

func quantizeQ4_K(dst []byte, src []float32, nPerRow int, imatrix []float32) {
	forSuperBlocks(dst, src, nPerRow, imatrix, q4_KLen, func(y []byte, x, qw []float32) {
		var L [qkK]uint8
		q45_KScales(y[0:16], x, qw, &L, 15)
		qs := (*[128]byte)(y[16:144])
		for c := 0; c < 4; c++ {
			for l := 0; l < 32; l++ {
				qs[32*c+l] = L[64*c+l] | L[64*c+l+32]<<4
			}
		}
	})
}

func quantizeQ5_K(dst []byte, src []float32, nPerRow int, imatrix []float32) {
	forSuperBlocks(dst, src, nPerRow, imatrix, q5_KLen, func(y []byte, x, qw []float32) {
		var L [qkK]uint8
		q45_KScales(y[0:16], x, qw, &L, 31)
		qh := (*[32]byte)(y[16:48])
		ql := (*[128]byte)(y[48:176])
		for j := 0; j < 32; j++ {
			var h uint8
			for c := 0; c < 4; c++ {
				l1, l2 := L[64*c+j], L[64*c+j+32]
				h |= (l1>>4)<<(2*c) | (l2>>4)<<(2*c+1)
				ql[32*c+j] = l1&0xF | (l2&0xF)<<4
			}
			qh[j] = h
		}
	})
}

// q45_KScales is q45_KScalesRef with the 8 sub-block searches run side by
// side (qkxSearchLanes).
func q45_KScales(hdr []byte, x, qw []float32, L *[qkK]uint8, nmax int32) {
	var (
		xt, wt       [qkK]float32 // transposed: element i of sub-block j at 8i+j
		r            qkxLanes
		scales, mins [8]float32
		sc           = hdr[4:16]
	)
	if qw == nil {
		cfg := qkxQ4_K
		if nmax == 31 {
			cfg = qkxQ5_K
		}
		for j := 0; j < 8; j++ {
			xs := (*[32]float32)(x[32*j:])
			avX := sqrt32(float32(sumSquares(xs[:]) / 32))
			for i, v := range xs {
				xt[8*i+j] = v
				wt[8*i+j] = avX + abs32(v)
			}
		}
		qkxSearchLanes(xt[:], wt[:], 8, 32, cfg, &r)
		var maxScale, maxMin float32
		for j := 0; j < 8; j++ {
			scales[j], mins[j] = r.scale[j], r.theMin[j]
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
		cfg := qkx3Q4
		if nmax == 31 {
			cfg = qkx3Q5
		}
		var (
			weights [32]float32
			sw      [8]float32
			Ls, Lm  [8]uint8
		)
		sigma2 := float32(float32(2*sumSquares(x[:qkK])) / qkK)
		for j := 0; j < 8; j++ {
			xs := (*[32]float32)(x[32*j:])
			imatrixWeights(weights[:], xs[:], qw[32*j:], sigma2)
			var s float32
			for i, v := range weights {
				s += v
				xt[8*i+j] = xs[i]
				wt[8*i+j] = v
			}
			sw[j] = s
		}
		qkxSearchLanes(xt[:], wt[:], 8, 32, cfg, &r)
		copy(scales[:], r.scale[:8])
		copy(mins[:], r.theMin[:8])
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
	for j := 0; j < 8; j++ {
		s, m := getScaleMinK4(j, sc)
		dl := float32(d * float32(s))
		if dl == 0 { // ggml keeps the search's levels
			qkxLevels(L[32*j:32*j+32], x[32*j:32*j+32], r.is[j], r.min[j], nmax)
			continue
		}
		ml := float32(dmin * float32(m))
		requant(L[32*j:32*j+32], x[32*j:32*j+32], ml, dl, 0, nmax, 0)
	}
}

func quantizeQ6_K(dst []byte, src []float32, nPerRow int, imatrix []float32) {
	forSuperBlocks(dst, src, nPerRow, imatrix, q6_KLen, q6_KBlock)
}

func q6_KBlock(y []byte, x, qw []float32) {
	var (
		L      [qkK]uint8
		scales [16]float32
	)
	var maxScale, maxAbsScale float32
	for ib := 0; ib < 16; ib++ {
		var w []float32
		if qw != nil {
			w = qw[16*ib : 16*ib+16]
		}
		scale := makeQx(16, 32, x[16*ib:16*ib+16], w, L[16*ib:])
		scales[ib] = scale
		if a := abs32(scale); a > maxAbsScale {
			maxAbsScale, maxScale = a, scale
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
	for j := 0; j < 16; j++ {
		dl := float32(d * float32(int8(sc[j])))
		if dl == 0 {
			continue
		}
		requant(L[16*j:16*j+16], x[16*j:16*j+16], 0, dl, -32, 31, 32)
	}
	ql, qh := (*[128]byte)(y[0:128]), (*[64]byte)(y[128:192])
	for h := 0; h < 2; h++ {
		b := 128 * h
		for l := 0; l < 32; l++ {
			l0, l1, l2, l3 := L[b+l], L[b+l+32], L[b+l+64], L[b+l+96]
			ql[64*h+l] = l0&0xF | l2<<4
			ql[64*h+l+32] = l1&0xF | l3<<4
			qh[32*h+l] = l0>>4 | (l1>>4)<<2 | (l2>>4)<<4 | (l3>>4)<<6
		}
	}
}

// makeQpQuants is make_qp_quants; it runs on 8 or 16 values per
// super-block, so the reference is fast enough.
func makeQpQuants(n int, nmax int32, x []float32, L []uint8, qw []float32) float32 {
	return makeQpQuantsRef(n, nmax, x, L, qw)
}
