package quant

import "encoding/binary"

// Fast IQ1_S and IQ1_M encoders: iq1sBlockRef and iq1mBlockRef with the
// same float32 operations in the same order, less repeated work. The
// exhaustive split search (all i1 ≤ i2 of the sorted sub-block) is where
// the time goes; there every term that depends on i1 or i2 alone is
// computed once per i1 or i2 instead of once per pair, and IQ1_S's two
// shifts share the middle term, which for x_m is exactly the negation of
// x_p's (x_m[1] = −x_p[1], and IEEE products are sign-symmetric). The
// neighbour search computes each coordinate's error once per level.
// Differential tests against the reference twins: iq2_test.go.

// iq1FindBestNeighbour2 is iq1FindBestNeighbour2Ref with the per-coordinate
// errors computed once per level.
func iq1FindBestNeighbour2(g *iqGrid, nb []uint16, xval, weight []float32, scale float32, xg *[3]float32, L []int8) int {
	return iqFindBestNeighbour(g, nb, xval, weight, scale, xg, L, "iq1_find_best_neighbour2")
}

// iqFindBestNeighbour is the fast neighbour search of IQ1 and IQ2: the
// neighbour in nb (a list of g.neighbours) minimising
// Σ weight·(scale·xg[level] − xval)² over the 8 coordinates, with the 8×3
// per-coordinate errors computed once per level and summed in coordinate
// order, as the reference twins sum them; one iqSearch task (iqsearch.go:
// AVX-512 lanes over the neighbours where available). The chosen
// neighbour's levels go to L; fn names the ggml function whose GGML_ASSERT
// the no-neighbour abort reports.
func iqFindBestNeighbour(g *iqGrid, nb []uint16, xval, weight []float32, scale float32, xg *[3]float32, L []int8, fn string) int {
	index := -1
	if len(nb) > 0 {
		xg4 := [4]float32{xg[0], xg[1], xg[2], 0}
		t := [1]iqTask{{list: int32(g.listOffset(nb)), scale: scale}}
		if iqSearch(t[:], g.nib, xval[:8], weight[:8], &xg4, nil) == 0 {
			index = int(nb[t[0].pos])
		}
	}
	return iqNeighbourLevels(g, index, L, fn)
}

func quantizeIQ1_S(dst []byte, src []float32, nPerRow int, imatrix []float32) {
	iqForBlocks(dst, src, nPerRow, imatrix, iq1sLen, iq1sBlock)
}

func iq1sBlock(y []byte, x, qw []float32) {
	if qw == nil {
		panic("quant: IQ1_S needs an importance matrix")
	}
	g := gridIQ1S.get()
	const bs = iq1sBS
	var (
		scales     [qkK / bs]float32
		shifts     [qkK / bs]int8
		weight     [bs]float32
		sumx, sumw [bs + 1]float32
		idx        [bs]int
		L          [bs]int8
		index      [bs / 8]int
		qh         [qkK / bs]uint16
		maxScale   float32
		// per-i2 terms: (sumx[bs]−sumx[i2])·x[2] and ((sumw[bs]−sumw[i2])·x[2])·x[2]
		cxp, cxm, cwp, cwm [bs + 1]float32
	)
	xp0, xp1, xp2 := iq1XP[0], iq1XP[1], iq1XP[2]
	xm0, xm2 := iq1XM[0], iq1XM[2]
	clear(y)
	sigma2 := float32(float32(2*sumSquares(x)) / qkK)
	for ib := 0; ib < qkK/bs; ib++ {
		xb := x[bs*ib : bs*ib+bs]
		imatrixWeights(weight[:], xb, qw[bs*ib:bs*ib+bs], sigma2)
		max := iq1GroupMax(xb)
		if max < groupMaxEpsIQ1S {
			scales[ib] = 0
			shifts[ib] = 1
			continue
		}
		iq1SortedIndex(idx[:], xb)
		for j := 0; j < bs; j++ {
			i := idx[j]
			sumx[j+1] = sumx[j] + float32(weight[i]*xb[i])
			sumw[j+1] = sumw[j] + weight[i]
		}
		for i2 := 0; i2 <= bs; i2++ {
			dx, dw := sumx[bs]-sumx[i2], sumw[bs]-sumw[i2]
			cxp[i2] = float32(dx * xp2)
			cxm[i2] = float32(dx * xm2)
			cwp[i2] = float32(float32(dw*xp2) * xp2)
			cwm[i2] = float32(float32(dw*xm2) * xm2)
		}
		bestScore, scale := -fltMax, max
		besti1, besti2, bestShift := -1, -1, 0
		for i1 := 0; i1 <= bs; i1++ {
			sx1, sw1 := sumx[i1], sumw[i1]
			// (sumx[i1] − sumx[0]) is sumx[i1]: sumx[0] = 0
			axp, axm := float32((sx1-sumx[0])*xp0), float32((sx1-sumx[0])*xm0)
			awp := float32(float32((sw1-sumw[0])*xp0) * xp0)
			awm := float32(float32((sw1-sumw[0])*xm0) * xm0)
			for i2 := i1; i2 <= bs; i2++ {
				b := float32((sumx[i2] - sx1) * xp1)
				bw := float32(float32((sumw[i2]-sw1)*xp1) * xp1)
				sumqx := float32(axp+b) + cxp[i2]
				sumq2 := float32(awp+bw) + cwp[i2]
				if sumq2 > 0 && float32(sumqx*sumqx) > float32(bestScore*sumq2) {
					scale = sumqx / sumq2
					bestScore = scale * sumqx
					besti1, besti2, bestShift = i1, i2, 1
				}
				sumqx = float32(axm-b) + cxm[i2]
				sumq2 = float32(awm+bw) + cwm[i2]
				if sumq2 > 0 && float32(sumqx*sumqx) > float32(bestScore*sumq2) {
					scale = sumqx / sumq2
					bestScore = scale * sumqx
					besti1, besti2, bestShift = i1, i2, -1
				}
			}
		}
		if besti1 < 0 || besti2 < 0 || bestShift == 0 {
			scales[ib] = 0
			shifts[ib] = 1
			continue
		}
		iq1Levels(L[:], idx[:], besti1, besti2)
		if scale < 0 {
			for j := range L {
				L[j] = 2 - L[j]
			}
			scale = -scale
			bestShift = -bestShift
		}
		xx := &iq1XP
		if bestShift != 1 {
			xx = &iq1XM
		}
		allOnGrid := true
		for k := 0; k < bs/8; k++ {
			u := iq2PackIndex(L[8*k:])
			gi := int(g.kmap[u])
			if gi < 0 {
				allOnGrid = false
				gi = iq1FindBestNeighbour2(g, g.neighboursOf(u), xb[8*k:], weight[8*k:], scale, xx, L[8*k:])
			}
			index[k] = gi
		}
		if !allOnGrid {
			var sumqx, sumq2 float32
			for k := 0; k < bs/8; k++ {
				lv := &g.levels[index[k]]
				for j := 0; j < 8; j++ {
					w := weight[8*k+j]
					q := xx[lv[j]&3]
					sumqx += float32(float32(w*q) * xb[8*k+j])
					sumq2 += float32(float32(w*q) * q)
				}
			}
			if sumqx > 0 && sumq2 > 0 {
				scale = sumqx / sumq2
			}
		}
		var h uint16
		for k := 0; k < bs/8; k++ {
			y[2+(bs/8)*ib+k] = byte(index[k])
			h |= uint16(index[k]>>8) << (3 * k)
		}
		qh[ib] = h
		if !(scale >= 0) {
			panic(&AbortError{What: "a sub-block scale is NaN (GGML_ASSERT(scale >= 0) in quantize_row_iq1_s_impl)"})
		}
		scales[ib] = scale
		shifts[ib] = int8(bestShift)
		maxScale = cmax(maxScale, scale)
	}
	if maxScale != 0 {
		d := maxScale / 15
		putF16(y, float32(d*iq1sFudgeScale))
		id := 1 / d
		for ib := range scales {
			l := uint16(clampI32(nearestInt(float32(0.5*float32(float32(id*scales[ib])-1))), 0, 7))
			if shifts[ib] == -1 {
				l |= 8
			}
			qh[ib] |= l << 12
		}
	}
	for ib, h := range qh {
		binary.LittleEndian.PutUint16(y[34+2*ib:], h)
	}
}

func quantizeIQ1_M(dst []byte, src []float32, nPerRow int, imatrix []float32) {
	iqForBlocks(dst, src, nPerRow, imatrix, iq1mLen, iq1mBlock)
}

func iq1mBlock(y []byte, x, qw []float32) {
	g := gridIQ1S.get()
	const bs = iq1mBS
	var (
		scales   [qkK / bs]float32
		shifts   [qkK / bs]int
		weight   [bs]float32
		idx      [bs]int
		L        [bs]int8
		index    [2]int
		px, pw   [2][bs + 1]float32
		sc       [4]uint16
		maxScale float32
		// per-i1 and per-i2 terms of q2_p, q2_m: (tws·v2)·v2 + pw[h][i1]·c1
		// and pw[h][i2]·c2
		k1p, k1m, c2p, c2m [2][bs + 1]float32
	)
	masks := [4]uint8{0x00, 0x80, 0x08, 0x88}
	clear(y)
	qs, qh := y[0:32], y[32:48]
	sigma2 := float32(float32(2*sumSquares(x)) / qkK)
	p2, m2 := iq1XP[2], iq1XM[2]
	cp1 := float32(iq1XP[0]*iq1XP[0]) - float32(iq1XP[1]*iq1XP[1])
	cp2 := float32(iq1XP[1]*iq1XP[1]) - float32(iq1XP[2]*iq1XP[2])
	cm1 := float32(iq1XM[0]*iq1XM[0]) - float32(iq1XM[1]*iq1XM[1])
	cm2 := float32(iq1XM[1]*iq1XM[1]) - float32(iq1XM[2]*iq1XM[2])
	weights := func(ib int) []float32 {
		xb := x[bs*ib : bs*ib+bs]
		if qw != nil {
			imatrixWeights(weight[:], xb, qw[bs*ib:bs*ib+bs], sigma2)
		} else {
			for i := range weight {
				weight[i] = float32(xb[i] * xb[i])
			}
		}
		return xb
	}
	for ib := 0; ib < qkK/bs; ib++ {
		xb := weights(ib)
		max := iq1GroupMax(xb)
		if max < groupMaxEpsIQ1M {
			scales[ib] = 0
			shifts[ib] = 0
			continue
		}
		iq1SortedIndex(idx[:], xb)
		for j := 0; j < bs; j++ {
			i := idx[j]
			h := 0
			if i >= bs/2 {
				h = 1
			}
			px[h][j+1] = px[h][j] + float32(weight[i]*xb[i])
			px[1-h][j+1] = px[1-h][j]
			pw[h][j+1] = pw[h][j] + weight[i]
			pw[1-h][j+1] = pw[1-h][j]
		}
		var tp, tm [2]float32 // txs·p2, txs·m2
		for h := 0; h < 2; h++ {
			txs, tws := px[h][bs], pw[h][bs]
			tp[h], tm[h] = float32(txs*p2), float32(txs*m2)
			kp, km := float32(float32(tws*p2)*p2), float32(float32(tws*m2)*m2)
			for i := 0; i <= bs; i++ {
				k1p[h][i] = float32(kp + float32(pw[h][i]*cp1))
				k1m[h][i] = float32(km + float32(pw[h][i]*cm1))
				c2p[h][i] = float32(pw[h][i] * cp2)
				c2m[h][i] = float32(pw[h][i] * cm2)
			}
		}
		bestScore, scale := -fltMax, max
		besti1, besti2, bestK := -1, -1, -1
		for i1 := 0; i1 <= bs; i1++ {
			px01, px11 := px[0][i1], px[1][i1]
			k1p0, k1p1, k1m0, k1m1 := k1p[0][i1], k1p[1][i1], k1m[0][i1], k1m[1][i1]
			for i2 := i1; i2 <= bs; i2++ {
				sx0 := px01 + px[0][i2]
				sx1 := px11 + px[1][i2]
				qxP0, qxM0 := tp[0]-sx0, tm[0]-sx0
				qxP1, qxM1 := tp[1]-sx1, tm[1]-sx1
				q2P0, q2M0 := k1p0+c2p[0][i2], k1m0+c2m[0][i2]
				q2P1, q2M1 := k1p1+c2p[1][i2], k1m1+c2m[1][i2]
				// the four sign combinations k = 0..3, in ggml's order
				if sx, s2 := qxP0+qxP1, q2P0+q2P1; s2 > 0 && float32(sx*sx) > float32(bestScore*s2) {
					scale = sx / s2
					bestScore = scale * sx
					besti1, besti2, bestK = i1, i2, 0
				}
				if sx, s2 := qxP0+qxM1, q2P0+q2M1; s2 > 0 && float32(sx*sx) > float32(bestScore*s2) {
					scale = sx / s2
					bestScore = scale * sx
					besti1, besti2, bestK = i1, i2, 1
				}
				if sx, s2 := qxM0+qxP1, q2M0+q2P1; s2 > 0 && float32(sx*sx) > float32(bestScore*s2) {
					scale = sx / s2
					bestScore = scale * sx
					besti1, besti2, bestK = i1, i2, 2
				}
				if sx, s2 := qxM0+qxM1, q2M0+q2M1; s2 > 0 && float32(sx*sx) > float32(bestScore*s2) {
					scale = sx / s2
					bestScore = scale * sx
					besti1, besti2, bestK = i1, i2, 3
				}
			}
		}
		if besti1 < 0 || besti2 < 0 || bestK < 0 {
			scales[ib] = 0
			shifts[ib] = 0
			continue
		}
		iq1Levels(L[:], idx[:], besti1, besti2)
		if scale < 0 {
			for j := range L {
				L[j] = 2 - L[j]
			}
			scale = -scale
			bestK = 3 - bestK
		}
		allOnGrid := true
		for k := 0; k < 2; k++ {
			u := iq2PackIndex(L[8*k:])
			gi := int(g.kmap[u])
			if gi < 0 {
				allOnGrid = false
				gi = iq1FindBestNeighbour2(g, g.neighboursOf(u), xb[8*k:], weight[8*k:], scale, iq1mXX(bestK, k), L[8*k:])
			}
			index[k] = gi
		}
		if !allOnGrid {
			var sumqx, sumq2 float32
			for k := 0; k < 2; k++ {
				xx := iq1mXX(bestK, k)
				lv := &g.levels[index[k]]
				for j := 0; j < 8; j++ {
					w := weight[8*k+j]
					q := xx[lv[j]&3]
					sumqx += float32(float32(w*q) * xb[8*k+j])
					sumq2 += float32(float32(w*q) * q)
				}
			}
			if sumqx > 0 && sumq2 > 0 {
				scale = sumqx / sumq2
			}
		}
		qs[2*ib] = byte(index[0])
		qs[2*ib+1] = byte(index[1])
		qh[ib] = byte(index[0]>>8) | byte(index[1]>>8)<<4
		if !(scale >= 0) {
			panic(&AbortError{What: "a sub-block scale is NaN (GGML_ASSERT(scale >= 0) in quantize_row_iq1_m_impl)"})
		}
		scales[ib] = scale
		shifts[ib] = bestK
		maxScale = cmax(maxScale, scale)
	}
	if maxScale == 0 {
		return
	}
	d := maxScale / 15
	id := 1 / d
	var sumqx, sumq2 float32
	for ib := 0; ib < qkK/bs; ib++ {
		l := clampI32(nearestInt(float32(0.5*float32(float32(id*scales[ib])-1))), 0, 7)
		sc[ib/4] |= uint16(l) << (3 * (ib % 4))
		qh[ib] |= masks[shifts[ib]]
		xb := weights(ib)
		fl := float32(2*l + 1)
		for k := 0; k < 2; k++ {
			xx := iq1mXX(shifts[ib], k)
			lv := &g.levels[int(qs[2*ib+k])+int(qh[ib])<<(8-4*k)&0x700]
			for j := 0; j < 8; j++ {
				w := weight[8*k+j]
				q := xx[lv[j]&3] * fl
				sumqx += float32(float32(w*q) * xb[8*k+j])
				sumq2 += float32(float32(w*q) * q)
			}
		}
	}
	if sumq2 > 0 {
		d = sumqx / sumq2
	}
	s := F32ToF16(float32(d * iq1mFudgeScale))
	sc[0] |= (s & 0x000f) << 12
	sc[1] |= (s & 0x00f0) << 8
	sc[2] |= (s & 0x0f00) << 4
	sc[3] |= s & 0xf000
	for i, v := range sc {
		binary.LittleEndian.PutUint16(y[48+2*i:], v)
	}
}
