package quant

import (
	"encoding/binary"
	"math"
)

// Fast IQ1_S and IQ1_M encoders: iq1sBlockRef and iq1mBlockRef with the
// same float32 operations in the same order, less repeated work. The
// exhaustive split search (all i1 ≤ i2 of the sorted sub-block) works from
// tables of the terms that depend on i1 or i2 alone (computed once per i1
// or i2 instead of once per pair; IQ1_S's two shifts share the middle
// term, which for x_m is exactly the negation of x_p's: x_m[1] = −x_p[1],
// and IEEE products are sign-symmetric); see "split search" below. With
// AVX-512 (iq1_amd64.s) the split search runs 16 values of i2 at a time,
// the neighbour search 16 neighbours at a time, and the sub-block sort by
// ranks; the generic code is the fallback and the differential reference
// of the assembly (iq1_amd64_test.go). Differential tests of the encoders
// against the reference twins: iq2_test.go, iq1_amd64_test.go.

// iq1BestNeighbour is iq1FindBestNeighbour2Ref for the neighbours of the
// off-grid packed levels u: with AVX-512, 16 neighbours at a time
// (iq1NeighbourAVX512); otherwise iqFindBestNeighbour, with the
// per-coordinate errors computed once per level.
func iq1BestNeighbour(g *iqGrid, u int, xval, weight []float32, scale float32, xg *[3]float32, L []int8) int {
	if iq1NeighbourVec() {
		var e [32]float32 // e[4i+l]: coordinate i's error at level l
		for l := 0; l < 3; l++ {
			sq := float32(scale * xg[l])
			for i := 0; i < 8; i++ {
				diff := sq - xval[i]
				e[4*i+l] = float32(float32(weight[i]*diff) * diff)
			}
		}
		off := int(-g.kmap[u])
		n := int(g.neighbours[off-1])
		index := iq1Neighbour(iq1NbLevels()[off:off+n], g.neighbours[off:off+n], &e)
		return iqNeighbourLevels(g, index, L, "iq1_find_best_neighbour2")
	}
	return iqFindBestNeighbour(g, g.neighboursOf(u), xval, weight, scale, xg, L, "iq1_find_best_neighbour2")
}

// iq1NeighbourGeneric returns the neighbour nb[k] minimising
// e[4·0+l0] + e[4·1+l1] + … + e[4·7+l7] (summed in coordinate order) where
// li = lv[k]>>2i & 3 are its levels; the first on ties, −1 if no sum is
// below FLT_MAX. It is the reference of iq1NeighbourAVX512.
func iq1NeighbourGeneric(lv, nb []uint16, e *[32]float32) int {
	best := fltMax
	index := -1
	for k, j := range nb {
		p := lv[k]
		d2 := e[p&3]
		for i := 1; i < 8; i++ {
			d2 += e[4*i+int(p>>(2*i)&3)]
		}
		if d2 < best {
			best = d2
			index = int(j)
		}
	}
	return index
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
		scales   [qkK / bs]float32
		shifts   [qkK / bs]int8
		weight   [bs]float32
		idx      [bs]int
		L        [bs]int8
		index    [bs / 8]int
		qh       [qkK / bs]uint16
		maxScale float32
		t        iq1sSplit
	)
	t.init()
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
		iq1Sort(idx[:], xb)
		for j := 0; j < bs; j++ {
			i := idx[j]
			t.sumx[j+1] = t.sumx[j] + float32(weight[i]*xb[i])
			t.sumw[j+1] = t.sumw[j] + weight[i]
		}
		t.fill()
		t.best, t.scale, t.bi1, t.bi2, t.shift = -fltMax, max, -1, -1, 0
		iq1sSearch(&t)
		scale, besti1, besti2, bestShift := t.scale, int(t.bi1), int(t.bi2), int(t.shift)
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
				gi = iq1BestNeighbour(g, u, xb[8*k:], weight[8*k:], scale, xx, L[8*k:])
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
	iq1sPackScales(y, &scales, &shifts, &qh, maxScale)
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
		pw       [2][bs + 1]float32
		sc       [4]uint16
		maxScale float32
		t        iq1mSplit
	)
	t.init()
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
	px := [2]*[iq1mTab]float32{&t.px0, &t.px1}
	k1p := [2]*[iq1mTab]float32{&t.k1p0, &t.k1p1}
	k1m := [2]*[iq1mTab]float32{&t.k1m0, &t.k1m1}
	c2p := [2]*[iq1mTab]float32{&t.c2p0, &t.c2p1}
	c2m := [2]*[iq1mTab]float32{&t.c2m0, &t.c2m1}
	for ib := 0; ib < qkK/bs; ib++ {
		xb := weights(ib)
		max := iq1GroupMax(xb)
		if max < groupMaxEpsIQ1M {
			scales[ib] = 0
			shifts[ib] = 0
			continue
		}
		iq1Sort(idx[:], xb)
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
		t.tp0, t.tp1, t.tm0, t.tm1 = tp[0], tp[1], tm[0], tm[1]
		t.best, t.scale, t.bi1, t.bi2, t.k = -fltMax, max, -1, -1, -1
		iq1mSearch(&t)
		scale, besti1, besti2, bestK := t.scale, int(t.bi1), int(t.bi2), int(t.k)
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
				gi = iq1BestNeighbour(g, u, xb[8*k:], weight[8*k:], scale, iq1mXX(bestK, k), L[8*k:])
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

// ---------------------------------------------------------------- split search
//
// The exhaustive split search visits the pairs (i1, i2), i1 ≤ i2, of a
// sorted sub-block row by row and keeps the last candidate whose score
// beats the best so far:
//
//	if sumq2 > 0 && sumqx·sumqx > best·sumq2 { scale = sumqx/sumq2; best = scale·sumqx }
//
// The generic searches below do exactly that, one pair at a time, from
// tables of the terms that depend on i1 or i2 alone. The assembly searches
// (iq1_amd64.s) evaluate 16 values of i2 at once, each lane with exactly
// the float32 operations of pair and iq1Beats, against the current best;
// most candidates fail. Where some pass, the chunk's last update is found
// in one step where that is provably the sequential result (the test is
// monotone in best; see the "Shortcut" comment there), else the updates
// are replayed in ggml's order: the first passing candidate updates best,
// the rest are tested again against the new best, and so on; a candidate
// that fails against the best in force when it comes in order is the same
// failure as ggml's, so the result is the sequential one.

// iq1sTab is the length of the IQ1_S split tables: bs+1 entries and 15 of
// padding, so that a 16-lane load from any i2 ≤ bs stays inside.
const iq1sTab = 48

// iq1sSplit holds the split search terms of one IQ1_S sub-block and the
// search's state (offsets known to iq1_amd64.s). Past bs, cwp and cwm are
// NaN, which makes sumq2 NaN and fails every test of a lane past the end.
type iq1sSplit struct {
	sumx, sumw         [iq1sTab]float32 // prefix sums in sorted order
	cxp, cxm, cwp, cwm [iq1sTab]float32 // per-i2 terms of x_p and x_m: (sumx[bs]−sumx[i2])·x[2], ((sumw[bs]−sumw[i2])·x[2])·x[2]
	axp, axm, awp, awm [iq1sTab]float32 // per-i1 terms: (sumx[i1]−sumx[0])·x[0], ((sumw[i1]−sumw[0])·x[0])·x[0]
	xp1                float32
	best, scale        float32 // in: −FLT_MAX and the group max; out: the search's
	bi1, bi2, shift    int32   // out: the best split and shift (in: −1, −1, 0)
}

func (t *iq1sSplit) init() {
	nan := float32(math.NaN())
	for i := iq1sBS + 1; i < iq1sTab; i++ {
		t.cwp[i], t.cwm[i] = nan, nan
	}
	t.xp1 = iq1XP[1]
}

// fill computes the tables from the prefix sums t.sumx, t.sumw.
func (t *iq1sSplit) fill() {
	const bs = iq1sBS
	xp0, xp2 := iq1XP[0], iq1XP[2]
	xm0, xm2 := iq1XM[0], iq1XM[2]
	sx0, sw0, sxn, swn := t.sumx[0], t.sumw[0], t.sumx[bs], t.sumw[bs]
	for i := 0; i <= bs; i++ {
		dx, dw := sxn-t.sumx[i], swn-t.sumw[i]
		t.cxp[i] = float32(dx * xp2)
		t.cxm[i] = float32(dx * xm2)
		t.cwp[i] = float32(float32(dw*xp2) * xp2)
		t.cwm[i] = float32(float32(dw*xm2) * xm2)
		ax, aw := t.sumx[i]-sx0, t.sumw[i]-sw0
		t.axp[i] = float32(ax * xp0)
		t.axm[i] = float32(ax * xm0)
		t.awp[i] = float32(float32(aw*xp0) * xp0)
		t.awm[i] = float32(float32(aw*xm0) * xm0)
	}
}

// pair returns sumqx and sumq2 of the candidates (i1, i2) with x_p and with
// x_m, as ggml computes them: ((A + B) + C) with the middle term of x_m the
// exact negation of x_p's (x_m[1] = −x_p[1]).
func (t *iq1sSplit) pair(i1, i2 int) (qxp, q2p, qxm, q2m float32) {
	b := float32((t.sumx[i2] - t.sumx[i1]) * t.xp1)
	bw := float32(float32((t.sumw[i2]-t.sumw[i1])*t.xp1) * t.xp1)
	qxp = float32(t.axp[i1]+b) + t.cxp[i2]
	q2p = float32(t.awp[i1]+bw) + t.cwp[i2]
	qxm = float32(t.axm[i1]-b) + t.cxm[i2]
	q2m = float32(t.awm[i1]+bw) + t.cwm[i2]
	return
}

// iq1Beats is ggml's test of a split candidate against the best score.
func iq1Beats(sumqx, sumq2, best float32) bool {
	return sumq2 > 0 && float32(sumqx*sumqx) > float32(best*sumq2)
}

// iq1sSearchGeneric is the split search of quantize_row_iq1_s_impl over
// the tables of t, from and into t's state.
func iq1sSearchGeneric(t *iq1sSplit) {
	best, scale := t.best, t.scale
	for i1 := 0; i1 <= iq1sBS; i1++ {
		for i2 := i1; i2 <= iq1sBS; i2++ {
			qxp, q2p, qxm, q2m := t.pair(i1, i2)
			if iq1Beats(qxp, q2p, best) {
				scale = qxp / q2p
				best = scale * qxp
				t.bi1, t.bi2, t.shift = int32(i1), int32(i2), 1
			}
			if iq1Beats(qxm, q2m, best) {
				scale = qxm / q2m
				best = scale * qxm
				t.bi1, t.bi2, t.shift = int32(i1), int32(i2), -1
			}
		}
	}
	t.best, t.scale = best, scale
}

// iq1mTab is the length of the IQ1_M split tables: bs+1 entries and 15 of
// padding.
const iq1mTab = 32

// iq1mSplit holds the split search terms of one IQ1_M sub-block and the
// search's state (offsets known to iq1_amd64.s); 0/1 is the half of the
// sub-block. Past bs, the c2 tables are NaN.
type iq1mSplit struct {
	px0, px1               [iq1mTab]float32 // prefix sums of weight·x in sorted order, per half
	c2p0, c2p1, c2m0, c2m1 [iq1mTab]float32 // per-i2 terms pw[h][i2]·c2 of x_p and x_m
	k1p0, k1p1, k1m0, k1m1 [iq1mTab]float32 // per-i1 terms (tws·v2)·v2 + pw[h][i1]·c1
	tp0, tp1, tm0, tm1     float32          // txs·x_p[2], txs·x_m[2] per half
	best, scale            float32          // in: −FLT_MAX and the group max; out: the search's
	bi1, bi2, k            int32            // out: the best split and sign combination (in: −1, −1, −1)
}

func (t *iq1mSplit) init() {
	nan := float32(math.NaN())
	for i := iq1mBS + 1; i < iq1mTab; i++ {
		t.c2p0[i], t.c2p1[i], t.c2m0[i], t.c2m1[i] = nan, nan, nan, nan
	}
}

// pair returns sumqx and sumq2 of the four candidates of (i1, i2), in
// ggml's order of the sign combinations.
func (t *iq1mSplit) pair(i1, i2 int) (sx, s2 [4]float32) {
	sx0 := t.px0[i1] + t.px0[i2]
	sx1 := t.px1[i1] + t.px1[i2]
	qxP0, qxM0 := t.tp0-sx0, t.tm0-sx0
	qxP1, qxM1 := t.tp1-sx1, t.tm1-sx1
	q2P0, q2M0 := t.k1p0[i1]+t.c2p0[i2], t.k1m0[i1]+t.c2m0[i2]
	q2P1, q2M1 := t.k1p1[i1]+t.c2p1[i2], t.k1m1[i1]+t.c2m1[i2]
	return [4]float32{qxP0 + qxP1, qxP0 + qxM1, qxM0 + qxP1, qxM0 + qxM1},
		[4]float32{q2P0 + q2P1, q2P0 + q2M1, q2M0 + q2P1, q2M0 + q2M1}
}

// iq1mSearchGeneric is the split search of quantize_row_iq1_m_impl over
// the tables of t, from and into t's state.
func iq1mSearchGeneric(t *iq1mSplit) {
	best, scale := t.best, t.scale
	for i1 := 0; i1 <= iq1mBS; i1++ {
		for i2 := i1; i2 <= iq1mBS; i2++ {
			sx, s2 := t.pair(i1, i2)
			for k := 0; k < 4; k++ {
				if iq1Beats(sx[k], s2[k], best) {
					scale = sx[k] / s2[k]
					best = scale * sx[k]
					t.bi1, t.bi2, t.k = int32(i1), int32(i2), int32(k)
				}
			}
		}
	}
	t.best, t.scale = best, scale
}
