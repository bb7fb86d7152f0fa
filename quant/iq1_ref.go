package quant

import "encoding/binary"

// Reference encoders and the decoders of IQ1_S and IQ1_M: plain
// transcriptions of ggml's quantize_row_iq1_s_impl, quantize_row_iq1_m_impl,
// iq1_find_best_neighbour2 and dequantize_row_iq1_{s,m}
// (ggml/src/ggml-quants.c, llama.cpp 0c1e570), every float32 operation
// rounded on its own (spec ggml-quants.md §0.2). Both use IQ1_S's grid
// (iqgrid.go). The fast encoders (iq1.go) must give the same bytes.
//
// Block layouts (ggml-common.h), 256 values each:
//
//	IQ1_S (50 bytes): fp16 d; 32 grid index low bytes; 8 × uint16 qh (3 high
//	                  index bits per group of 8 at bits 0, 3, 6, 9; a 3-bit
//	                  scale at 12..14; the sign of the shift at bit 15)
//	IQ1_M (56 bytes): 32 grid index low bytes; 16 bytes qh (two groups: 3 high
//	                  index bits and a shift sign bit each); 4 × uint16 holding
//	                  16 3-bit scales in bits 0..11 and the fp16 super-block
//	                  scale's four nibbles in bits 12..15
//
// ggml's sort of the 32 (16) values of a sub-block is glibc's qsort with a
// comparator that calls equal values equal; glibc sorts arrays this small
// with a merge sort, which keeps equal values in index order, so a stable
// sort is the reference.
//
// IQ1_S needs an importance matrix (ggml_quantize_requires_imatrix); IQ1_M
// does not.

const (
	iq1sLen = 50
	iq1mLen = 56

	iq1Delta        = float32(0.125)  // IQ1S_DELTA, IQ1M_DELTA
	groupMaxEpsIQ1S = float32(1e-12)  // GROUP_MAX_EPS_IQ1_S
	groupMaxEpsIQ1M = float32(1e-7)   // GROUP_MAX_EPS_IQ1_M
	iq1sBS          = 32              // IQ1S_BLOCK_SIZE
	iq1mBS          = 16              // IQ1M_BLOCK_SIZE
	iq1sFudgeScale  = float32(1.125)  // ggml's "fudge factor" on d
	iq1mFudgeScale  = float32(1.1125) // ditto
)

var (
	iq1XP = [3]float32{-1 + iq1Delta, iq1Delta, 1 + iq1Delta}
	iq1XM = [3]float32{-1 - iq1Delta, -iq1Delta, 1 - iq1Delta}
)

// iq1SortedIndex returns the indices of x in ascending order of value,
// equal values in index order (see the file comment).
func iq1SortedIndex(idx []int, x []float32) {
	for j := range idx {
		idx[j] = j
	}
	for j := 1; j < len(idx); j++ {
		v := idx[j]
		k := j
		for k > 0 && x[idx[k-1]] > x[v] {
			idx[k] = idx[k-1]
			k--
		}
		idx[k] = v
	}
}

// iq1FindBestNeighbour2Ref is iq1_find_best_neighbour2: the neighbour whose
// levels, as values xg[level]·scale, are nearest to xval in weighted
// distance (the first on ties). ggml falls back to a scan of the whole grid
// when no distance is below FLT_MAX, and that scan reads past the group
// (xval[i] with i the grid index), and then aborts if still nothing; Wick
// panics with an *AbortError there instead (see the callers).
func iq1FindBestNeighbour2Ref(g *iqGrid, nb []uint16, xval, weight []float32, scale float32, xg *[3]float32, L []int8) int {
	best := fltMax
	index := -1
	for _, j := range nb {
		pg := &g.pos[j]
		var d2 float32
		for i := 0; i < 8; i++ {
			q := xg[(pg[i]-1)/2]
			diff := float32(scale*q) - xval[i]
			d2 += float32(float32(weight[i]*diff) * diff)
		}
		if d2 < best {
			best = d2
			index = int(j)
		}
	}
	return iqNeighbourLevels(g, index, L, "iq1_find_best_neighbour2")
}

// iq1GroupMax is the group maximum of IQ1_S and IQ1_M: ggml's
// max = fabsf(xb[0]) then MAX(max, fabsf(xb[i])) for the rest, in order.
func iq1GroupMax(xb []float32) float32 {
	max := abs32(xb[0])
	for i := 1; i < len(xb); i++ {
		max = cmax(max, abs32(xb[i]))
	}
	return max
}

// ---------------------------------------------------------------- IQ1_S

func quantizeIQ1_SRef(dst []byte, src []float32, nPerRow int, imatrix []float32) {
	iqForBlocks(dst, src, nPerRow, imatrix, iq1sLen, iq1sBlockRef)
}

func iq1sBlockRef(y []byte, x, qw []float32) {
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
	)
	clear(y)
	sigma2 := float32(float32(2*sumSquares(x)) / qkK)
	for ib := 0; ib < qkK/bs; ib++ {
		xb := x[bs*ib : bs*ib+bs]
		imatrixWeightsRef(weight[:], xb, qw[bs*ib:bs*ib+bs], sigma2)
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
		bestScore, scale := -fltMax, max
		besti1, besti2, bestShift := -1, -1, 0
		for i1 := 0; i1 <= bs; i1++ {
			for i2 := i1; i2 <= bs; i2++ {
				for _, sh := range [2]int{1, -1} {
					xx := &iq1XP
					if sh < 0 {
						xx = &iq1XM
					}
					sumqx := float32(float32(float32((sumx[i1]-sumx[0])*xx[0])+float32((sumx[i2]-sumx[i1])*xx[1])) + float32((sumx[bs]-sumx[i2])*xx[2]))
					sumq2 := float32(float32(float32(float32((sumw[i1]-sumw[0])*xx[0])*xx[0])+float32(float32((sumw[i2]-sumw[i1])*xx[1])*xx[1])) + float32(float32((sumw[bs]-sumw[i2])*xx[2])*xx[2]))
					if sumq2 > 0 && float32(sumqx*sumqx) > float32(bestScore*sumq2) {
						scale = sumqx / sumq2
						bestScore = scale * sumqx
						besti1, besti2, bestShift = i1, i2, sh
					}
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
				gi = iq1FindBestNeighbour2Ref(g, g.neighboursOf(u), xb[8*k:], weight[8*k:], scale, xx, L[8*k:])
			}
			index[k] = gi
		}
		if !allOnGrid {
			var sumqx, sumq2 float32
			for k := 0; k < bs/8; k++ {
				pg := &g.pos[index[k]]
				for j := 0; j < 8; j++ {
					w := weight[8*k+j]
					q := xx[(pg[j]-1)/2]
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

// iq1Levels sets the levels of a split: the besti1 smallest values 0, the
// next up to besti2 1, the rest 2.
// iq1sPackScales ends an IQ1_S super-block as quantize_row_iq1_s_impl
// does: the super-block scale d = maxScale/15 (times the format's fudge
// factor) as float16, and each sub-block's 3-bit scale and shift sign in
// the top bits of its qh word, which it then stores. It is shared by the
// fast encoder and its reference twin: only the searches differ.
func iq1sPackScales(y []byte, scales *[qkK / iq1sBS]float32, shifts *[qkK / iq1sBS]int8, qh *[qkK / iq1sBS]uint16, maxScale float32) {
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

func iq1Levels(L []int8, idx []int, besti1, besti2 int) {
	for j := range idx {
		switch {
		case j < besti1:
			L[idx[j]] = 0
		case j < besti2:
			L[idx[j]] = 1
		default:
			L[idx[j]] = 2
		}
	}
}

func dequantizeIQ1_S(dst []float32, src []byte) {
	for b := 0; b < len(dst)/qkK; b++ {
		blk := src[b*iq1sLen : (b+1)*iq1sLen]
		d := getF16(blk)
		y := dst[b*qkK : (b+1)*qkK]
		for ib := 0; ib < 8; ib++ {
			qh := binary.LittleEndian.Uint16(blk[34+2*ib:])
			dl := d * float32(2*(qh>>12&7)+1)
			delta := iq1Delta
			if qh&0x8000 != 0 {
				delta = -iq1Delta
			}
			for l := 0; l < 4; l++ {
				k := kgridIQ1S[int(blk[2+4*ib+l])|int(qh>>(3*l)&7)<<8]
				iq1DecodeGroup(y[32*ib+8*l:], k, dl, delta)
			}
		}
	}
}

// iq1DecodeGroup writes dl·(level − 1 + delta) for the eight levels in k.
func iq1DecodeGroup(y []float32, k uint16, dl, delta float32) {
	for j := 0; j < 8; j++ {
		y[j] = dl * (float32(int(k>>(2*j)&3)-1) + delta)
	}
}

// ---------------------------------------------------------------- IQ1_M

func quantizeIQ1_MRef(dst []byte, src []float32, nPerRow int, imatrix []float32) {
	iqForBlocks(dst, src, nPerRow, imatrix, iq1mLen, iq1mBlockRef)
}

// iq1mXX is the value table of group k of a sub-block with shift code
// shift: bit 1 of the code for the first group, bit 0 for the second.
func iq1mXX(shift, k int) *[3]float32 {
	if k == 0 && shift < 2 || k != 0 && shift%2 == 0 {
		return &iq1XP
	}
	return &iq1XM
}

func iq1mWeights(weight, xb, qw []float32, sigma2 float32) {
	if qw != nil {
		imatrixWeightsRef(weight, xb, qw, sigma2)
		return
	}
	for i := range weight {
		weight[i] = float32(xb[i] * xb[i])
	}
}

func iq1mBlockRef(y []byte, x, qw []float32) {
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
	for ib := 0; ib < qkK/bs; ib++ {
		xb := x[bs*ib : bs*ib+bs]
		var qwb []float32
		if qw != nil {
			qwb = qw[bs*ib : bs*ib+bs]
		}
		iq1mWeights(weight[:], xb, qwb, sigma2)
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
		txs := [2]float32{px[0][bs], px[1][bs]}
		tws := [2]float32{pw[0][bs], pw[1][bs]}
		bestScore, scale := -fltMax, max
		besti1, besti2, bestK := -1, -1, -1
		for i1 := 0; i1 <= bs; i1++ {
			for i2 := i1; i2 <= bs; i2++ {
				var qxP, qxM, q2P, q2M [2]float32
				for h := 0; h < 2; h++ {
					sx := px[h][i1] + px[h][i2]
					qxP[h] = float32(txs[h]*p2) - sx
					qxM[h] = float32(txs[h]*m2) - sx
					q2P[h] = float32(float32(float32(float32(tws[h]*p2)*p2)+float32(pw[h][i1]*cp1)) + float32(pw[h][i2]*cp2))
					q2M[h] = float32(float32(float32(float32(tws[h]*m2)*m2)+float32(pw[h][i1]*cm1)) + float32(pw[h][i2]*cm2))
				}
				sumqx := [4]float32{qxP[0] + qxP[1], qxP[0] + qxM[1], qxM[0] + qxP[1], qxM[0] + qxM[1]}
				sumq2 := [4]float32{q2P[0] + q2P[1], q2P[0] + q2M[1], q2M[0] + q2P[1], q2M[0] + q2M[1]}
				for k := 0; k < 4; k++ {
					if sumq2[k] > 0 && float32(sumqx[k]*sumqx[k]) > float32(bestScore*sumq2[k]) {
						scale = sumqx[k] / sumq2[k]
						bestScore = scale * sumqx[k]
						besti1, besti2, bestK = i1, i2, k
					}
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
			xx := iq1mXX(bestK, k)
			u := iq2PackIndex(L[8*k:])
			gi := int(g.kmap[u])
			if gi < 0 {
				allOnGrid = false
				gi = iq1FindBestNeighbour2Ref(g, g.neighboursOf(u), xb[8*k:], weight[8*k:], scale, xx, L[8*k:])
			}
			index[k] = gi
		}
		if !allOnGrid {
			var sumqx, sumq2 float32
			for k := 0; k < 2; k++ {
				xx := iq1mXX(bestK, k)
				pg := &g.pos[index[k]]
				for j := 0; j < 8; j++ {
					w := weight[8*k+j]
					q := xx[(pg[j]-1)/2]
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
		xb := x[bs*ib : bs*ib+bs]
		var qwb []float32
		if qw != nil {
			qwb = qw[bs*ib : bs*ib+bs]
		}
		iq1mWeights(weight[:], xb, qwb, sigma2)
		for k := 0; k < 2; k++ {
			xx := iq1mXX(shifts[ib], k)
			pg := &g.pos[int(qs[2*ib+k])+int(qh[ib])<<(8-4*k)&0x700]
			for j := 0; j < 8; j++ {
				w := weight[8*k+j]
				q := xx[(pg[j]-1)/2] * float32(2*l+1)
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

func dequantizeIQ1_M(dst []float32, src []byte) {
	for b := 0; b < len(dst)/qkK; b++ {
		blk := src[b*iq1mLen : (b+1)*iq1mLen]
		qs, qh := blk[0:32], blk[32:48]
		var sc [4]uint16
		for i := range sc {
			sc[i] = binary.LittleEndian.Uint16(blk[48+2*i:])
		}
		d := F16ToF32(sc[0]>>12 | sc[1]>>8&0x00f0 | sc[2]>>4&0x0f00 | sc[3]&0xf000)
		y := dst[b*qkK : (b+1)*qkK]
		for ib := 0; ib < 8; ib++ {
			dl1 := d * float32(2*(sc[ib/2]>>(6*(ib%2))&7)+1)
			dl2 := d * float32(2*(sc[ib/2]>>(6*(ib%2)+3)&7)+1)
			h0, h1 := int(qh[2*ib]), int(qh[2*ib+1])
			idx := [4]int{int(qs[4*ib]) | h0<<8&0x700, int(qs[4*ib+1]) | h0<<4&0x700,
				int(qs[4*ib+2]) | h1<<8&0x700, int(qs[4*ib+3]) | h1<<4&0x700}
			delta := [4]float32{iq1Delta, iq1Delta, iq1Delta, iq1Delta}
			if h0&0x08 != 0 {
				delta[0] = -iq1Delta
			}
			if h0&0x80 != 0 {
				delta[1] = -iq1Delta
			}
			if h1&0x08 != 0 {
				delta[2] = -iq1Delta
			}
			if h1&0x80 != 0 {
				delta[3] = -iq1Delta
			}
			for l := 0; l < 4; l++ {
				dl := dl1
				if l >= 2 {
					dl = dl2
				}
				iq1DecodeGroup(y[32*ib+8*l:], kgridIQ1S[idx[l]], dl, delta[l])
			}
		}
	}
}
