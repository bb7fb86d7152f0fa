package quant

import (
	"encoding/binary"
	"math"
)

// Reference encoders of the K-quants Q2_K … Q6_K: plain transcriptions of
// spec ggml-quants.md §5.1–5.4 (ggml's quantize_row_q*_K_ref, used without an
// importance matrix) and §6 (quantize_row_q*_K_impl, used with one). The
// fast encoders in q2_k.go … q6_k.go must produce the same bytes for every
// finite input.

const (
	qkK     = 256 // elements per K-quant super-block
	q2_KLen = 84
	q3_KLen = 110
	q4_KLen = 144
	q5_KLen = 176
	q6_KLen = 210
)

// forSuperBlocks calls f for every 256-element super-block of src with its
// output block and, when imatrix is set, the imatrix columns of that block.
// Without an imatrix, src is any run of whole blocks; with one it is whole
// rows of nPerRow.
func forSuperBlocks(dst []byte, src []float32, nPerRow int, imatrix []float32, blockLen int,
	f func(y []byte, x, qw []float32)) {
	for b := 0; b < len(src)/qkK; b++ {
		var qw []float32
		if imatrix != nil {
			col := b * qkK % nPerRow
			qw = imatrix[col : col+qkK]
		}
		f(dst[b*blockLen:(b+1)*blockLen], src[b*qkK:(b+1)*qkK], qw)
	}
}

// packP2 packs 256 2-bit levels (Q2_K qs, Q3_K low bits): byte 32h+l holds
// elements 128h+l, +32, +64, +96 at bit 0, 2, 4, 6.
func packP2(qs []byte, L []uint8) {
	for j := 0; j < qkK; j += 128 {
		for l := 0; l < 32; l++ {
			qs[j/4+l] = L[j+l] | L[j+l+32]<<2 | L[j+l+64]<<4 | L[j+l+96]<<6
		}
	}
}

// packP6 packs the 6-bit scale and min of sub-block j (Q4_K, Q5_K) as ggml
// does, including its behaviour for values above 63.
func packP6(sc []byte, j int, ls, lm uint8) {
	if j < 4 {
		sc[j] = ls
		sc[j+4] = lm
	} else {
		sc[j+4] = ls&0xF | (lm&0xF)<<4
		sc[j-4] |= (ls >> 4) << 6
		sc[j] |= (lm >> 4) << 6
	}
}

// getScaleMinK4 is ggml's get_scale_min_k4: decodes sub-block j's scale and
// min from the 12 packed bytes.
func getScaleMinK4(j int, q []byte) (sc, m uint8) {
	if j < 4 {
		return q[j] & 63, q[j+4] & 63
	}
	return q[j+4]&0xF | (q[j-4]>>6)<<4, q[j+4]>>4 | (q[j]>>6)<<4
}

// packP3 sets the 6-bit value l (0..63) of group j in the 12 Q3_K scale
// bytes, which must start zeroed.
func packP3(sc []byte, j int, l int8) {
	if j < 8 {
		sc[j] = uint8(l & 0xF)
	} else {
		sc[j-8] |= uint8((l & 0xF) << 4)
	}
	l >>= 4
	sc[j%4+8] |= uint8(l << (2 * (j / 4)))
}

// q3Scale decodes group j's signed scale from the 12 Q3_K scale bytes.
func q3Scale(sc []byte, j int) int8 {
	var s int8
	if j < 8 {
		s = int8(sc[j] & 0xF)
	} else {
		s = int8(sc[j-8] >> 4)
	}
	return (s | int8((sc[8+j%4]>>(2*(j/4)))&3)<<4) - 32
}

// sumSquares is Σ x², summed in order.
func sumSquares(x []float32) float32 {
	var s float32
	for _, v := range x {
		s += float32(v * v)
	}
	return s
}

// ---------------------------------------------------------------- Q2_K

func quantizeQ2_KRef(dst []byte, src []float32, nPerRow int, imatrix []float32) {
	forSuperBlocks(dst, src, nPerRow, imatrix, q2_KLen, q2_KBlockRef)
}

func q2_KBlockRef(y []byte, x, qw []float32) {
	var (
		L              [qkK]uint8
		Laux           [16]uint8
		weights        [16]float32
		scales, mins   [16]float32
		sw             [16]float32
		Ls, Lm         [16]uint8
		scb            = y[0:16]
		d, dmin        float32
		maxScl, maxMin float32
	)
	if qw == nil {
		for j := 0; j < 16; j++ {
			for l := 0; l < 16; l++ {
				weights[l] = abs32(x[16*j+l])
			}
			scales[j], mins[j] = makeQkxQuantsRef(16, 3, x[16*j:], weights[:], L[16*j:], Laux[:], -0.5, 0.1, 15, true, false)
			if scales[j] > maxScl {
				maxScl = scales[j]
			}
			if mins[j] > maxMin {
				maxMin = mins[j]
			}
		}
		if maxScl > 0 {
			iscale := 15 / maxScl
			for j := 0; j < 16; j++ {
				scb[j] = uint8(nearestInt(float32(iscale * scales[j])))
			}
			putF16(y[80:], maxScl/15)
		} else {
			for j := 0; j < 16; j++ {
				scb[j] = 0
			}
			putF16(y[80:], 0)
		}
		if maxMin > 0 {
			iscale := 15 / maxMin
			for j := 0; j < 16; j++ {
				scb[j] |= uint8(nearestInt(float32(iscale*mins[j])) << 4)
			}
			putF16(y[82:], maxMin/15)
		} else {
			putF16(y[82:], 0)
		}
	} else {
		sigma2 := float32(sumSquares(x[:qkK]) / qkK)
		for j := 0; j < 16; j++ {
			imatrixWeightsRef(weights[:], x[16*j:16*j+16], qw[16*j:], sigma2)
			for l := 0; l < 16; l++ {
				sw[j] += weights[l]
			}
			scales[j], mins[j] = makeQkxQuantsRef(16, 3, x[16*j:], weights[:], L[16*j:], Laux[:], -0.9, 0.05, 36, false, true)
		}
		dm := makeQpQuantsRef(16, 15, scales[:], Ls[:], sw[:])
		mm := makeQpQuantsRef(16, 15, mins[:], Lm[:], sw[:])
		putF16(y[80:], dm)
		putF16(y[82:], mm)
		for j := 0; j < 16; j++ {
			scb[j] = Ls[j] | Lm[j]<<4
		}
	}
	d, dmin = getF16(y[80:]), getF16(y[82:])
	for j := 0; j < 16; j++ {
		dl := d * float32(scb[j]&0xF)
		if dl == 0 {
			continue
		}
		ml := float32(dmin * float32(scb[j]>>4))
		for ii := 0; ii < 16; ii++ {
			l := nearestInt((x[16*j+ii] + ml) / dl)
			L[16*j+ii] = uint8(clampI32(l, 0, 3))
		}
	}
	packP2(y[16:80], L[:])
}

// dequantizeQ2_K: x = (d·(sc & 15))·q − dmin·(sc >> 4) per 16-element group
// (ggml's dequantize_row_q2_K, each product rounded before the subtraction).
func dequantizeQ2_K(dst []float32, src []byte) {
	for b := 0; b < len(dst)/qkK; b++ {
		blk := (*[q2_KLen]byte)(src[b*q2_KLen:])
		y := (*[qkK]float32)(dst[b*qkK:])
		d, min := getF16(blk[80:]), getF16(blk[82:])
		for g := 0; g < 16; g++ {
			sc := blk[g]
			dl := float32(d * float32(sc&0xF))
			ml := float32(min * float32(sc>>4))
			qs := (*[16]byte)(blk[16+32*(g/8)+16*(g%2):])
			shift := 2 * ((g % 8) / 2)
			yg := (*[16]float32)(y[16*g:])
			for l, q := range qs {
				yg[l] = float32(dl*float32(q>>shift&3)) - ml
			}
		}
	}
}

// ---------------------------------------------------------------- Q3_K

func quantizeQ3_KRef(dst []byte, src []float32, nPerRow int, imatrix []float32) {
	forSuperBlocks(dst, src, nPerRow, imatrix, q3_KLen, q3_KBlockRef)
}

func q3_KBlockRef(y []byte, x, qw []float32) {
	var (
		L      [qkK]int8
		scales [16]float32
		sc     = y[96:108]
	)
	for i := range sc {
		sc[i] = 0
	}
	if qw == nil {
		var maxScale, amax float32
		for j := 0; j < 16; j++ {
			scales[j] = makeQ3QuantsRef(x[16*j:16*j+16], L[16*j:])
			if s := abs32(scales[j]); s > amax {
				amax = s
				maxScale = scales[j]
			}
		}
		if maxScale != 0 {
			iscale := -32 / maxScale
			for j := 0; j < 16; j++ {
				l := int8(nearestInt(float32(iscale * scales[j])))
				l = int8(clampI32(int32(l), -32, 31) + 32)
				packP3(sc, j, l)
			}
			putF16(y[108:], 1/iscale)
		} else {
			putF16(y[108:], 0)
		}
	} else {
		var weights, sw [16]float32
		var Ls [16]int8
		sigma2 := float32(float32(2*sumSquares(x[:qkK])) / qkK)
		for j := 0; j < 16; j++ {
			imatrixWeightsRef(weights[:], x[16*j:16*j+16], qw[16*j:], sigma2)
			var sumw float32
			for l := 0; l < 16; l++ {
				sumw += weights[l]
			}
			sw[j] = sumw
			scales[j] = makeQxQuantsRef(16, 4, x[16*j:], L[16*j:], weights[:])
		}
		dBlock := makeQxQuantsRef(16, 32, scales[:], Ls[:], sw[:])
		for j := 0; j < 16; j++ {
			packP3(sc, j, Ls[j])
		}
		putF16(y[108:], dBlock)
	}
	d := getF16(y[108:])
	for j := 0; j < 16; j++ {
		dl := d * float32(q3Scale(sc, j))
		if dl == 0 {
			continue
		}
		for ii := 0; ii < 16; ii++ {
			l := nearestInt(x[16*j+ii] / dl)
			L[16*j+ii] = int8(clampI32(l, -4, 3) + 4)
		}
	}
	hmask := y[0:32]
	for i := range hmask {
		hmask[i] = 0
	}
	var U [qkK]uint8
	for j := 0; j < qkK; j++ {
		if L[j] > 3 {
			hmask[j%32] |= 1 << (j / 32)
			L[j] -= 4
		}
		U[j] = uint8(L[j])
	}
	packP2(y[32:96], U[:])
}

// dequantizeQ3_K: x = (d·(S−32))·(low2 − (hbit ? 0 : 4)) per 16-element
// group (ggml's dequantize_row_q3_K).
func dequantizeQ3_K(dst []float32, src []byte) {
	for b := 0; b < len(dst)/qkK; b++ {
		blk := (*[q3_KLen]byte)(src[b*q3_KLen:])
		y := (*[qkK]float32)(dst[b*qkK:])
		d := getF16(blk[108:])
		for g := 0; g < 16; g++ {
			dl := float32(d * float32(int32(q3Scale(blk[96:108], g))))
			off := 16 * (g % 2)
			qs := (*[16]byte)(blk[32+32*(g/8)+off:])
			hm := (*[16]byte)(blk[off:])
			shift := 2 * ((g % 8) / 2)
			hbit := uint8(1) << (g / 2)
			yg := (*[16]float32)(y[16*g:])
			for l := range yg {
				q := int32(qs[l] >> shift & 3)
				if hm[l]&hbit == 0 {
					q -= 4
				}
				yg[l] = dl * float32(q)
			}
		}
	}
}

// ---------------------------------------------------------------- Q4_K, Q5_K

func quantizeQ4_KRef(dst []byte, src []float32, nPerRow int, imatrix []float32) {
	forSuperBlocks(dst, src, nPerRow, imatrix, q4_KLen, func(y []byte, x, qw []float32) {
		var L [qkK]uint8
		q45_KScalesRef(y[0:16], x, qw, &L, 15)
		for j := 0; j < qkK; j += 64 {
			for l := 0; l < 32; l++ {
				y[16+j/2+l] = L[j+l] | L[j+l+32]<<4
			}
		}
	})
}

func quantizeQ5_KRef(dst []byte, src []float32, nPerRow int, imatrix []float32) {
	forSuperBlocks(dst, src, nPerRow, imatrix, q5_KLen, func(y []byte, x, qw []float32) {
		var L [qkK]uint8
		q45_KScalesRef(y[0:16], x, qw, &L, 31)
		qh, ql := y[16:48], y[48:176]
		for i := range qh {
			qh[i] = 0
		}
		m1, m2 := uint8(1), uint8(2)
		for n := 0; n < qkK; n += 64 {
			for j := 0; j < 32; j++ {
				l1, l2 := L[n+j], L[n+j+32]
				if l1 > 15 {
					l1 -= 16
					qh[j] |= m1
				}
				if l2 > 15 {
					l2 -= 16
					qh[j] |= m2
				}
				ql[n/2+j] = l1 | l2<<4
			}
			m1 <<= 2
			m2 <<= 2
		}
	})
}

// q45_KScalesRef is the part Q4_K and Q5_K share (nmax 15 or 31): the
// sub-block scale search, the 6-bit scales, d and dmin (written to
// hdr[0:16]) and the requantized levels L ∈ 0..nmax.
func q45_KScalesRef(hdr []byte, x, qw []float32, L *[qkK]uint8, nmax int32) {
	var (
		Laux         [32]uint8
		weights      [32]float32
		scales, mins [8]float32
		sc           = hdr[4:16]
	)
	if qw == nil {
		rmin, nstep := float32(-1), 20
		if nmax == 31 {
			rmin, nstep = -0.5, 15
		}
		var maxScale, maxMin float32
		for j := 0; j < 8; j++ {
			xs := x[32*j : 32*j+32]
			avX := sqrt32(float32(sumSquares(xs) / 32))
			for l := 0; l < 32; l++ {
				weights[l] = avX + abs32(xs[l])
			}
			scales[j], mins[j] = makeQkxQuantsRef(32, nmax, xs, weights[:], L[32*j:], Laux[:], rmin, 0.1, nstep, false, false)
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
		var sw [8]float32
		var Ls, Lm [8]uint8
		sigma2 := float32(float32(2*sumSquares(x[:qkK])) / qkK)
		for j := 0; j < 8; j++ {
			imatrixWeightsRef(weights[:], x[32*j:32*j+32], qw[32*j:], sigma2)
			var sumw float32
			for l := 0; l < 32; l++ {
				sumw += weights[l]
			}
			sw[j] = sumw
			scales[j], mins[j] = makeQkxQuantsRef(32, nmax, x[32*j:], weights[:], L[32*j:], Laux[:], -0.9, 0.05, 36, false, true)
		}
		dBlock := makeQpQuantsRef(8, 63, scales[:], Ls[:], sw[:])
		mBlock := makeQpQuantsRef(8, 63, mins[:], Lm[:], sw[:])
		for j := 0; j < 8; j++ {
			ls, lm := Ls[j], Lm[j]
			if nmax == 31 { // ggml clamps for Q5_K only
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
		dl := d * float32(s)
		if dl == 0 {
			continue
		}
		ml := float32(dmin * float32(m))
		for ii := 0; ii < 32; ii++ {
			l := nearestInt((x[32*j+ii] + ml) / dl)
			L[32*j+ii] = uint8(clampI32(l, 0, nmax))
		}
	}
}

// dequantizeQ4_KRef: x = (d·sc)·q − dmin·m per 32-element sub-block
// (ggml's dequantize_row_q4_K); dequantizeQ4_K (kdequant.go) is the fast
// twin.
func dequantizeQ4_KRef(dst []float32, src []byte) {
	for b := 0; b < len(dst)/qkK; b++ {
		blk := (*[q4_KLen]byte)(src[b*q4_KLen:])
		y := (*[qkK]float32)(dst[b*qkK:])
		d, min := getF16(blk[0:]), getF16(blk[2:])
		for s := 0; s < 8; s++ {
			sc, m := getScaleMinK4(s, blk[4:16])
			d1 := float32(d * float32(sc))
			m1 := float32(min * float32(m))
			qs := (*[32]byte)(blk[16+32*(s/2):])
			shift := 4 * (s % 2)
			ys := (*[32]float32)(y[32*s:])
			for l, q := range qs {
				ys[l] = float32(d1*float32(q>>shift&0xF)) - m1
			}
		}
	}
}

// dequantizeQ5_K: x = (d·sc)·(q + 16·hbit) − dmin·m per 32-element
// sub-block (ggml's dequantize_row_q5_K).
func dequantizeQ5_K(dst []float32, src []byte) {
	for b := 0; b < len(dst)/qkK; b++ {
		blk := (*[q5_KLen]byte)(src[b*q5_KLen:])
		y := (*[qkK]float32)(dst[b*qkK:])
		d, min := getF16(blk[0:]), getF16(blk[2:])
		qh := (*[32]byte)(blk[16:48])
		for s := 0; s < 8; s++ {
			sc, m := getScaleMinK4(s, blk[4:16])
			d1 := float32(d * float32(sc))
			m1 := float32(min * float32(m))
			qs := (*[32]byte)(blk[48+32*(s/2):])
			shift := 4 * (s % 2)
			ys := (*[32]float32)(y[32*s:])
			for l, q := range qs {
				v := q>>shift&0xF | (qh[l]>>s&1)<<4
				ys[l] = float32(d1*float32(v)) - m1
			}
		}
	}
}

// ---------------------------------------------------------------- Q6_K

func quantizeQ6_KRef(dst []byte, src []float32, nPerRow int, imatrix []float32) {
	forSuperBlocks(dst, src, nPerRow, imatrix, q6_KLen, q6_KBlockRef)
}

func q6_KBlockRef(y []byte, x, qw []float32) {
	var (
		L      [qkK]int8
		scales [16]float32
	)
	var maxScale, maxAbsScale float32
	for ib := 0; ib < 16; ib++ {
		var w []float32
		if qw != nil {
			w = qw[16*ib : 16*ib+16]
		}
		scale := makeQxQuantsRef(16, 32, x[16*ib:], L[16*ib:], w)
		scales[ib] = scale
		if a := abs32(scale); a > maxAbsScale {
			maxAbsScale = a
			maxScale = scale
		}
	}
	if maxAbsScale < groupMaxEps {
		for i := range y[:q6_KLen] {
			y[i] = 0
		}
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
		dl := d * float32(int8(sc[j]))
		if dl == 0 {
			continue
		}
		for ii := 0; ii < 16; ii++ {
			l := nearestInt(x[16*j+ii] / dl)
			L[16*j+ii] = int8(clampI32(l, -32, 31) + 32)
		}
	}
	ql, qh := y[0:128], y[128:192]
	for j := 0; j < qkK; j += 128 {
		for l := 0; l < 32; l++ {
			q1 := uint8(L[j+l]) & 0xF
			q2 := uint8(L[j+l+32]) & 0xF
			q3 := uint8(L[j+l+64]) & 0xF
			q4 := uint8(L[j+l+96]) & 0xF
			ql[j/2+l] = q1 | q3<<4
			ql[j/2+l+32] = q2 | q4<<4
			qh[j/4+l] = uint8(L[j+l])>>4 | (uint8(L[j+l+32])>>4)<<2 | (uint8(L[j+l+64])>>4)<<4 | (uint8(L[j+l+96])>>4)<<6
		}
	}
}

// dequantizeQ6_KRef: x = (d·sc)·(q − 32) per 16-element group (ggml's
// dequantize_row_q6_K); dequantizeQ6_K (kdequant.go) is the fast twin.
func dequantizeQ6_KRef(dst []float32, src []byte) {
	for b := 0; b < len(dst)/qkK; b++ {
		blk := (*[q6_KLen]byte)(src[b*q6_KLen:])
		y := (*[qkK]float32)(dst[b*qkK:])
		d := getF16(blk[208:])
		var ds [16]float32
		for g := range ds {
			ds[g] = float32(d * float32(int8(blk[192+g])))
		}
		for h := 0; h < 2; h++ {
			ql := (*[64]byte)(blk[64*h:])
			qh := (*[32]byte)(blk[128+32*h:])
			yh := (*[128]float32)(y[128*h:])
			for l := 0; l < 32; l++ {
				g := 8*h + l/16
				hb := qh[l]
				yh[l] = ds[g] * float32(int32(ql[l]&0xF|(hb&3)<<4)-32)
				yh[l+32] = ds[g+2] * float32(int32(ql[l+32]&0xF|(hb>>2&3)<<4)-32)
				yh[l+64] = ds[g+4] * float32(int32(ql[l]>>4|(hb>>4&3)<<4)-32)
				yh[l+96] = ds[g+6] * float32(int32(ql[l+32]>>4|(hb>>6&3)<<4)-32)
			}
		}
	}
}

// ---------------------------------------------------------------- Q8_K

// Q8_K (292 bytes): float32 d, 256 int8 quants, 16 int16 group sums. It is
// ggml's dot-product helper type; only its decoder is provided.
const q8_KLen = 292

func dequantizeQ8_K(dst []float32, src []byte) {
	for b := 0; b < len(dst)/qkK; b++ {
		blk := src[b*q8_KLen : (b+1)*q8_KLen]
		d := math.Float32frombits(binary.LittleEndian.Uint32(blk))
		y := dst[b*qkK : (b+1)*qkK]
		for e := range y {
			y[e] = d * float32(int8(blk[4+e]))
		}
	}
}
