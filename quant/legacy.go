package quant

import (
	"encoding/binary"
	"math"
)

// Fast encoders of the legacy types Q4_0, Q4_1, Q5_0, Q5_1. Without an
// importance matrix each block is independent and the block loops below
// (or their assembly versions) do the work; with one, rows are processed
// with the fast make_qx_quants / make_qkx3_quants searches. Reference twins:
// legacy_ref.go; differential test: legacy_test.go.

// The block loops q4_0Blocks … q5_1Blocks are defined in legacy_amd64.go
// (assembly when the CPU allows) and legacy_noasm.go.

func quantizeQ4_0(dst []byte, src []float32, nPerRow int, imatrix []float32) {
	if imatrix == nil {
		q4_0Blocks(dst[:len(src)/qk4*q4_0Len], src)
		return
	}
	legacyRows(dst, src, nPerRow, imatrix, q4_0Len, func(y []byte, xb, w []float32) {
		var L [qk4]uint8
		putF16(y, makeQx(qk4, 8, xb, w, L[:]))
		packNibbles(y[2:], L[:])
	})
}

func quantizeQ5_0(dst []byte, src []float32, nPerRow int, imatrix []float32) {
	if imatrix == nil {
		q5_0Blocks(dst[:len(src)/qk4*q5_0Len], src)
		return
	}
	legacyRows(dst, src, nPerRow, imatrix, q5_0Len, func(y []byte, xb, w []float32) {
		var L [qk4]uint8
		putF16(y, makeQx(qk4, 16, xb, w, L[:]))
		binary.LittleEndian.PutUint32(y[2:], packQ5(y[6:], L[:]))
	})
}

func quantizeQ4_1(dst []byte, src []float32, nPerRow int, imatrix []float32) {
	if imatrix == nil {
		q4_1Blocks(dst[:len(src)/qk4*q4_1Len], src)
		return
	}
	legacyRows(dst, src, nPerRow, imatrix, q4_1Len, func(y []byte, xb, w []float32) {
		var L [qk4]uint8
		d, min := makeQkx(qk4, qkx3Q4, xb, w, L[:])
		putF16(y, d)
		putF16(y[2:], -min)
		packNibbles(y[4:], L[:])
	})
}

func quantizeQ5_1(dst []byte, src []float32, nPerRow int, imatrix []float32) {
	if imatrix == nil {
		q5_1Blocks(dst[:len(src)/qk4*q5_1Len], src)
		return
	}
	legacyRows(dst, src, nPerRow, imatrix, q5_1Len, func(y []byte, xb, w []float32) {
		var L [qk4]uint8
		d, min := makeQkx(qk4, qkx3Q5, xb, w, L[:])
		putF16(y, d)
		putF16(y[2:], -min)
		binary.LittleEndian.PutUint32(y[4:], packQ5(y[8:], L[:]))
	})
}

// legacyRows runs the imatrix variant of a legacy type: per row the
// statistic sigma2 = Σx²/n_per_row, per block the weights
// qw·sqrt(sigma2 + x²), then block(y, x, weights).
func legacyRows(dst []byte, src []float32, nPerRow int, imatrix []float32, blockLen int,
	block func(y []byte, xb, w []float32)) {
	rowBytes := nPerRow / qk4 * blockLen
	var w [qk4]float32
	for r := 0; r < len(src)/nPerRow; r++ {
		x := src[r*nPerRow : (r+1)*nPerRow]
		y := dst[r*rowBytes : (r+1)*rowBytes]
		sigma2 := rowSigma2(x)
		for b := 0; b < nPerRow/qk4; b++ {
			xb := x[b*qk4 : (b+1)*qk4]
			imatrixWeights(w[:], xb, imatrix[b*qk4:(b+1)*qk4], sigma2)
			block(y[b*blockLen:(b+1)*blockLen], xb, w[:])
		}
	}
}

// absMaxFirst returns absMaxSigned(x) for finite x: the largest magnitude
// is found on the sign-cleared bit patterns (ordered like the values), then
// the first element having it supplies the sign. An all-zero block gives +0.
func absMaxFirst(x *[qk4]float32) float32 {
	var m0, m1, m2, m3 uint32
	for j := 0; j < qk4; j += 4 {
		m0 = max(m0, math.Float32bits(x[j])&0x7FFFFFFF)
		m1 = max(m1, math.Float32bits(x[j+1])&0x7FFFFFFF)
		m2 = max(m2, math.Float32bits(x[j+2])&0x7FFFFFFF)
		m3 = max(m3, math.Float32bits(x[j+3])&0x7FFFFFFF)
	}
	m := max(max(m0, m1), max(m2, m3))
	if m == 0 {
		return 0
	}
	for _, v := range x {
		if math.Float32bits(v)&0x7FFFFFFF == m {
			return v
		}
	}
	return 0
}

// isFinite32 reports whether f is neither ±Inf nor NaN.
func isFinite32(f float32) bool { return math.Float32bits(f)&0x7F800000 != 0x7F800000 }

// The generic block loops. When the inverse scale id is finite every
// x·id + offset lies well inside int32, so Go's conversion truncates exactly
// like C's; a block whose id overflowed (scale in the subnormal range) goes
// through the reference, which emulates x86's out-of-range conversion.

func q4_0BlocksGeneric(dst []byte, src []float32) {
	for b := 0; b < len(src)/qk4; b++ {
		x := (*[qk4]float32)(src[b*qk4:])
		y := (*[q4_0Len]byte)(dst[b*q4_0Len:])
		d := absMaxFirst(x) / -8
		var id float32
		if d != 0 {
			id = 1 / d
		}
		if !isFinite32(id) {
			q4_0BlockRef(y[:], x[:])
			continue
		}
		h := F32ToF16(d)
		y[0], y[1] = byte(h), byte(h>>8)
		for j := 0; j < 16; j++ {
			q0 := min(15, int32(float32(x[j]*id)+8.5))
			q1 := min(15, int32(float32(x[j+16]*id)+8.5))
			y[2+j] = uint8(q0) | uint8(q1)<<4
		}
	}
}

func q5_0BlocksGeneric(dst []byte, src []float32) {
	for b := 0; b < len(src)/qk4; b++ {
		x := (*[qk4]float32)(src[b*qk4:])
		y := (*[q5_0Len]byte)(dst[b*q5_0Len:])
		d := absMaxFirst(x) / -16
		var id float32
		if d != 0 {
			id = 1 / d
		}
		if !isFinite32(id) {
			q5_0BlockRef(y[:], x[:])
			continue
		}
		h := F32ToF16(d)
		y[0], y[1] = byte(h), byte(h>>8)
		var qh uint32
		for j := 0; j < 16; j++ {
			q0 := uint32(min(31, int32(float32(x[j]*id)+16.5)))
			q1 := uint32(min(31, int32(float32(x[j+16]*id)+16.5)))
			y[6+j] = uint8(q0&0xF | (q1&0xF)<<4)
			qh |= (q0>>4)<<j | (q1>>4)<<(j+16)
		}
		binary.LittleEndian.PutUint32(y[2:], qh)
	}
}

func q4_1BlocksGeneric(dst []byte, src []float32) {
	for b := 0; b < len(src)/qk4; b++ {
		x := (*[qk4]float32)(src[b*qk4:])
		y := (*[q4_1Len]byte)(dst[b*q4_1Len:])
		min, max := minMax(x[:])
		d := (max - min) / 15
		var id float32
		if d != 0 {
			id = 1 / d
		}
		if !isFinite32(id) || !isFinite32(max-min) {
			q4_1BlockRef(y[:], x[:])
			continue
		}
		hd, hm := F32ToF16(d), F32ToF16(min)
		y[0], y[1], y[2], y[3] = byte(hd), byte(hd>>8), byte(hm), byte(hm>>8)
		for j := 0; j < 16; j++ {
			q0 := min32(15, int32(float32((x[j]-min)*id)+0.5))
			q1 := min32(15, int32(float32((x[j+16]-min)*id)+0.5))
			y[4+j] = uint8(q0) | uint8(q1)<<4
		}
	}
}

func q5_1BlocksGeneric(dst []byte, src []float32) {
	for b := 0; b < len(src)/qk4; b++ {
		x := (*[qk4]float32)(src[b*qk4:])
		y := (*[q5_1Len]byte)(dst[b*q5_1Len:])
		min, max := minMax(x[:])
		d := (max - min) / 31
		var id float32
		if d != 0 {
			id = 1 / d
		}
		if !isFinite32(id) || !isFinite32(max-min) {
			q5_1BlockRef(y[:], x[:])
			continue
		}
		hd, hm := F32ToF16(d), F32ToF16(min)
		y[0], y[1], y[2], y[3] = byte(hd), byte(hd>>8), byte(hm), byte(hm>>8)
		var qh uint32
		for j := 0; j < 16; j++ {
			q0 := uint32(int32(float32((x[j]-min)*id) + 0.5))
			q1 := uint32(int32(float32((x[j+16]-min)*id) + 0.5))
			y[8+j] = uint8(q0&0xF | (q1&0xF)<<4)
			qh |= (q0>>4&1)<<j | (q1>>4&1)<<(j+16)
		}
		binary.LittleEndian.PutUint32(y[4:], qh)
	}
}

func min32(a, b int32) int32 {
	if a < b {
		return a
	}
	return b
}
