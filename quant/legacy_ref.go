package quant

import (
	"encoding/binary"
	"math"
)

// Reference encoders of the legacy 32-element types Q4_0, Q4_1, Q5_0 and
// Q5_1: plain transcriptions of spec ggml-quants.md §3.2–3.3 (ggml's
// quantize_row_q4_0_ref … quantize_row_q5_1_ref) and, with an importance
// matrix, §6 (quantize_row_q4_0_impl … quantize_row_q5_1_impl). The fast
// encoders in legacy.go must produce the same bytes for every finite input.

const (
	qk4     = 32 // elements per legacy block
	q4_0Len = 18
	q4_1Len = 20
	q5_0Len = 22
	q5_1Len = 24
)

func putF16(b []byte, f float32) { binary.LittleEndian.PutUint16(b, F32ToF16(f)) }

func getF16(b []byte) float32 { return f16Table[binary.LittleEndian.Uint16(b)] }

// absMaxSigned returns the first element of x with the strictly largest
// magnitude (sign kept), and that magnitude; (0, 0) if all are zero.
func absMaxSigned(x []float32) (max, amax float32) {
	for _, v := range x {
		if a := abs32(v); amax < a {
			amax = a
			max = v
		}
	}
	return max, amax
}

// minMax returns the smallest and largest element of x, starting from
// ±FLT_MAX like ggml.
func minMax(x []float32) (min, max float32) {
	min, max = math.MaxFloat32, -math.MaxFloat32
	for _, v := range x {
		if v < min {
			min = v
		}
		if v > max {
			max = v
		}
	}
	return min, max
}

// rowSigma2 is the per-row statistic of the legacy imatrix variants:
// (Σ x²) / n_per_row, summed in order.
func rowSigma2(x []float32) float32 {
	var s float32
	for _, v := range x {
		s += float32(v * v)
	}
	return float32(s / float32(len(x)))
}

// imatrixWeightsRef sets w[j] = qw[j]·sqrt(sigma2 + x[j]²), the weighting
// every imatrix variant except Q6_K uses.
func imatrixWeightsRef(w, x, qw []float32, sigma2 float32) {
	for j := range w {
		w[j] = float32(qw[j] * sqrt32(sigma2+float32(x[j]*x[j])))
	}
}

// packNibbles stores L[j] | L[j+16]<<4 for j < 16 (Q4_0/Q4_1/IQ4_NL order).
func packNibbles(qs []byte, L []uint8) {
	for j := 0; j < 16; j++ {
		qs[j] = L[j] | L[j+16]<<4
	}
}

// packQ5 stores the low nibbles like packNibbles and returns the qh word
// (bit e = bit 4 of L[e]).
func packQ5(qs []byte, L []uint8) uint32 {
	var qh uint32
	for j := 0; j < 16; j++ {
		qs[j] = L[j]&0x0F | (L[j+16]&0x0F)<<4
		qh |= uint32(L[j]&0x10) >> 4 << j
		qh |= uint32(L[j+16]&0x10) >> 4 << (j + 16)
	}
	return qh
}

// quantizeQ4_0Ref: rows go through the block reference without imatrix, the
// row-wise imatrix algorithm otherwise.
func quantizeQ4_0Ref(dst []byte, src []float32, nPerRow int, imatrix []float32) {
	if imatrix == nil {
		for b := 0; b < len(src)/qk4; b++ {
			q4_0BlockRef(dst[b*q4_0Len:(b+1)*q4_0Len], src[b*qk4:(b+1)*qk4])
		}
		return
	}
	rowBytes := nPerRow / qk4 * q4_0Len
	for r := 0; r < len(src)/nPerRow; r++ {
		x := src[r*nPerRow : (r+1)*nPerRow]
		y := dst[r*rowBytes : (r+1)*rowBytes]
		sigma2 := rowSigma2(x)
		var w [qk4]float32
		var L [qk4]int8
		var u [qk4]uint8
		for b := 0; b < nPerRow/qk4; b++ {
			xb := x[b*qk4 : (b+1)*qk4]
			imatrixWeightsRef(w[:], xb, imatrix[b*qk4:(b+1)*qk4], sigma2)
			d := makeQxQuantsRef(qk4, 8, xb, L[:], w[:])
			putF16(y[b*q4_0Len:], d)
			for j := range L {
				u[j] = uint8(L[j])
			}
			packNibbles(y[b*q4_0Len+2:], u[:])
		}
	}
}

func q4_0BlockRef(y []byte, x []float32) {
	max, _ := absMaxSigned(x)
	d := max / -8
	var id float32
	if d != 0 {
		id = 1 / d
	}
	putF16(y, d)
	var L [qk4]uint8
	for j, v := range x {
		q := int8(truncToInt32(float32(v*id) + 8.5))
		if q > 15 {
			q = 15
		}
		L[j] = uint8(q)
	}
	packNibbles(y[2:], L[:])
}

func quantizeQ5_0Ref(dst []byte, src []float32, nPerRow int, imatrix []float32) {
	if imatrix == nil {
		for b := 0; b < len(src)/qk4; b++ {
			q5_0BlockRef(dst[b*q5_0Len:(b+1)*q5_0Len], src[b*qk4:(b+1)*qk4])
		}
		return
	}
	rowBytes := nPerRow / qk4 * q5_0Len
	for r := 0; r < len(src)/nPerRow; r++ {
		x := src[r*nPerRow : (r+1)*nPerRow]
		y := dst[r*rowBytes : (r+1)*rowBytes]
		sigma2 := rowSigma2(x)
		var w [qk4]float32
		var L [qk4]int8
		var u [qk4]uint8
		for b := 0; b < nPerRow/qk4; b++ {
			xb := x[b*qk4 : (b+1)*qk4]
			imatrixWeightsRef(w[:], xb, imatrix[b*qk4:(b+1)*qk4], sigma2)
			d := makeQxQuantsRef(qk4, 16, xb, L[:], w[:])
			yb := y[b*q5_0Len : (b+1)*q5_0Len]
			putF16(yb, d)
			for j := range L {
				u[j] = uint8(L[j])
			}
			binary.LittleEndian.PutUint32(yb[2:], packQ5(yb[6:], u[:]))
		}
	}
}

func q5_0BlockRef(y []byte, x []float32) {
	max, _ := absMaxSigned(x)
	d := max / -16
	var id float32
	if d != 0 {
		id = 1 / d
	}
	putF16(y, d)
	var L [qk4]uint8
	for j, v := range x {
		q := int8(truncToInt32(float32(v*id) + 16.5))
		if q > 31 {
			q = 31
		}
		L[j] = uint8(q)
	}
	binary.LittleEndian.PutUint32(y[2:], packQ5(y[6:], L[:]))
}

func quantizeQ4_1Ref(dst []byte, src []float32, nPerRow int, imatrix []float32) {
	if imatrix == nil {
		for b := 0; b < len(src)/qk4; b++ {
			q4_1BlockRef(dst[b*q4_1Len:(b+1)*q4_1Len], src[b*qk4:(b+1)*qk4])
		}
		return
	}
	rowBytes := nPerRow / qk4 * q4_1Len
	for r := 0; r < len(src)/nPerRow; r++ {
		x := src[r*nPerRow : (r+1)*nPerRow]
		y := dst[r*rowBytes : (r+1)*rowBytes]
		sigma2 := rowSigma2(x)
		var w [qk4]float32
		var L, Laux [qk4]uint8
		for b := 0; b < nPerRow/qk4; b++ {
			xb := x[b*qk4 : (b+1)*qk4]
			imatrixWeightsRef(w[:], xb, imatrix[b*qk4:(b+1)*qk4], sigma2)
			d, min := makeQkxQuantsRef(qk4, 15, xb, w[:], L[:], Laux[:], -0.9, 0.05, 36, false, true)
			yb := y[b*q4_1Len : (b+1)*q4_1Len]
			putF16(yb, d)
			putF16(yb[2:], -min)
			packNibbles(yb[4:], L[:])
		}
	}
}

func q4_1BlockRef(y []byte, x []float32) {
	min, max := minMax(x)
	d := (max - min) / 15
	var id float32
	if d != 0 {
		id = 1 / d
	}
	putF16(y, d)
	putF16(y[2:], min)
	var L [qk4]uint8
	for j, v := range x {
		q := int8(truncToInt32(float32((v-min)*id) + 0.5))
		if q > 15 {
			q = 15
		}
		L[j] = uint8(q)
	}
	packNibbles(y[4:], L[:])
}

func quantizeQ5_1Ref(dst []byte, src []float32, nPerRow int, imatrix []float32) {
	if imatrix == nil {
		for b := 0; b < len(src)/qk4; b++ {
			q5_1BlockRef(dst[b*q5_1Len:(b+1)*q5_1Len], src[b*qk4:(b+1)*qk4])
		}
		return
	}
	rowBytes := nPerRow / qk4 * q5_1Len
	for r := 0; r < len(src)/nPerRow; r++ {
		x := src[r*nPerRow : (r+1)*nPerRow]
		y := dst[r*rowBytes : (r+1)*rowBytes]
		sigma2 := rowSigma2(x)
		var w [qk4]float32
		var L, Laux [qk4]uint8
		for b := 0; b < nPerRow/qk4; b++ {
			xb := x[b*qk4 : (b+1)*qk4]
			imatrixWeightsRef(w[:], xb, imatrix[b*qk4:(b+1)*qk4], sigma2)
			d, min := makeQkxQuantsRef(qk4, 31, xb, w[:], L[:], Laux[:], -0.9, 0.05, 36, false, true)
			yb := y[b*q5_1Len : (b+1)*q5_1Len]
			putF16(yb, d)
			putF16(yb[2:], -min)
			binary.LittleEndian.PutUint32(yb[4:], packQ5(yb[8:], L[:]))
		}
	}
}

func q5_1BlockRef(y []byte, x []float32) {
	min, max := minMax(x)
	d := (max - min) / 31
	var id float32
	if d != 0 {
		id = 1 / d
	}
	putF16(y, d)
	putF16(y[2:], min)
	var L [qk4]uint8
	for j, v := range x {
		L[j] = uint8(truncToInt32(float32((v-min)*id) + 0.5))
	}
	binary.LittleEndian.PutUint32(y[4:], packQ5(y[8:], L[:]))
}

// Dequantizers (spec §3.2–3.3): x = (q − 8)·d, x = q·d + m, … with every
// product rounded before the addition.

func dequantizeQ4_0(dst []float32, src []byte) {
	for b := 0; b < len(dst)/qk4; b++ {
		y := src[b*q4_0Len : (b+1)*q4_0Len]
		x := (*[qk4]float32)(dst[b*qk4:])
		d := getF16(y)
		for j := 0; j < 16; j++ {
			x[j] = float32(int32(y[2+j]&0x0F)-8) * d
			x[j+16] = float32(int32(y[2+j]>>4)-8) * d
		}
	}
}

func dequantizeQ4_1(dst []float32, src []byte) {
	for b := 0; b < len(dst)/qk4; b++ {
		y := src[b*q4_1Len : (b+1)*q4_1Len]
		x := (*[qk4]float32)(dst[b*qk4:])
		d, m := getF16(y), getF16(y[2:])
		for j := 0; j < 16; j++ {
			x[j] = float32(float32(y[4+j]&0x0F)*d) + m
			x[j+16] = float32(float32(y[4+j]>>4)*d) + m
		}
	}
}

func dequantizeQ5_0(dst []float32, src []byte) {
	for b := 0; b < len(dst)/qk4; b++ {
		y := src[b*q5_0Len : (b+1)*q5_0Len]
		x := (*[qk4]float32)(dst[b*qk4:])
		d := getF16(y)
		qh := binary.LittleEndian.Uint32(y[2:])
		for j := 0; j < 16; j++ {
			h0 := int32(qh>>j&1) << 4
			h1 := int32(qh>>(j+16)&1) << 4
			x[j] = float32((int32(y[6+j]&0x0F)|h0)-16) * d
			x[j+16] = float32((int32(y[6+j]>>4)|h1)-16) * d
		}
	}
}

func dequantizeQ5_1(dst []float32, src []byte) {
	for b := 0; b < len(dst)/qk4; b++ {
		y := src[b*q5_1Len : (b+1)*q5_1Len]
		x := (*[qk4]float32)(dst[b*qk4:])
		d, m := getF16(y), getF16(y[2:])
		qh := binary.LittleEndian.Uint32(y[4:])
		for j := 0; j < 16; j++ {
			h0 := int32(qh>>j&1) << 4
			h1 := int32(qh>>(j+16)&1) << 4
			x[j] = float32(float32(int32(y[8+j]&0x0F)|h0)*d) + m
			x[j+16] = float32(float32(int32(y[8+j]>>4)|h1)*d) + m
		}
	}
}
