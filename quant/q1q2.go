package quant

import "math"

// The 1- and 2-bit types Q1_0 and Q2_0: transcriptions of ggml's
// quantize_row_q1_0_ref, quantize_row_q2_0_ref, dequantize_row_q1_0 and
// dequantize_row_q2_0 (ggml/src/ggml-quants.c of the pinned llama.cpp).
// ggml's quantize_q1_0 and quantize_q2_0 run the same reference encoder row
// by row when given an importance matrix and never read it, so the matrix
// changes nothing here either.
//
//	Q1_0 block (18 bytes per 128): fp16 d = mean |x|, qs[16]: bit j set
//	  when x[j] ≥ 0; it reads back as +d, a clear bit as −d.
//	Q2_0 block (18 bytes per 64): fp16 d = max |x|, qs[16]: element j in
//	  bits 2(j%4)..2(j%4)+1 of byte j/4, as q = clamp(round(x/d)+1, 0, 3);
//	  it reads back as (q−1)·d.

const (
	q1_0Len = 18
	q2_0Len = 18
)

func quantizeQ1_0(dst []byte, src []float32, _ int, _ []float32) { encodeQ1_0(dst, src, true) }

// quantizeQ1_0Ref is quantizeQ1_0 testing x ≥ 0 with a comparison.
func quantizeQ1_0Ref(dst []byte, src []float32, _ int, _ []float32) { encodeQ1_0(dst, src, false) }

// nonNegativeBit is 1 when x ≥ 0 (−0 included), else 0, for a non-NaN x,
// without a branch: the sign bit, cleared when the magnitude is zero.
func nonNegativeBit(x float32) byte {
	b := math.Float32bits(x)
	nonzero := (b&0x7FFFFFFF + 0x7FFFFFFF) >> 31
	return byte(1 ^ (b >> 31 & nonzero))
}

func encodeQ1_0(dst []byte, src []float32, fast bool) {
	for b := 0; b < len(src)/128; b++ {
		x := src[b*128 : (b+1)*128]
		y := dst[b*q1_0Len : (b+1)*q1_0Len]
		var sum float32
		for _, v := range x {
			sum += abs32(v)
		}
		putF16(y, sum/128)
		for j := 0; j < 16; j++ {
			var q byte
			if fast {
				for k := 0; k < 8; k++ {
					q |= nonNegativeBit(x[8*j+k]) << k
				}
			} else {
				for k := 0; k < 8; k++ {
					if x[8*j+k] >= 0 {
						q |= 1 << k
					}
				}
			}
			y[2+j] = q
		}
	}
}

func dequantizeQ1_0(dst []float32, src []byte) {
	for b := 0; b < len(dst)/128; b++ {
		blk := src[b*q1_0Len : (b+1)*q1_0Len]
		y := dst[b*128 : (b+1)*128]
		d := getF16(blk)
		for j := range y {
			if blk[2+j/8]>>(j%8)&1 != 0 {
				y[j] = d
			} else {
				y[j] = -d
			}
		}
	}
}

// roundToInt is C's (int)roundf(f) on x86-64: round half away from zero,
// then CVTTSS2SI (NaN and out-of-range values give math.MinInt32).
func roundToInt(f float32) int32 {
	return truncToInt32(float32(math.Round(float64(f))))
}

func quantizeQ2_0(dst []byte, src []float32, _ int, _ []float32) { encodeQ2_0(dst, src, true) }

// quantizeQ2_0Ref is quantizeQ2_0 with roundf and the clamp element by element.
func quantizeQ2_0Ref(dst []byte, src []float32, _ int, _ []float32) { encodeQ2_0(dst, src, false) }

// encodeQ2_0's fast path: with id = 1/max|x| finite every x·id lies in
// [−1−2^−23, 1+2^−23], where round(x·id)+1 clamped to 0..3 is roundTrit.
func encodeQ2_0(dst []byte, src []float32, fast bool) {
	for b := 0; b < len(src)/64; b++ {
		x := src[b*64 : (b+1)*64]
		y := dst[b*q2_0Len : (b+1)*q2_0Len]
		amax := absMax(x)
		var id float32
		if amax > 0 {
			id = 1 / amax
		}
		putF16(y, amax)
		f := fast && fastTrits(id)
		for j := 0; j < 16; j++ {
			var q byte
			for k := 0; k < 4; k++ {
				var v int32
				if f {
					v = roundTrit(float32(x[4*j+k] * id))
				} else {
					v = clampI32(roundToInt(float32(x[4*j+k]*id))+1, 0, 3)
				}
				q |= byte(v) << (2 * k)
			}
			y[2+j] = q
		}
	}
}

func dequantizeQ2_0(dst []float32, src []byte) {
	for b := 0; b < len(dst)/64; b++ {
		blk := src[b*q2_0Len : (b+1)*q2_0Len]
		y := dst[b*64 : (b+1)*64]
		d := getF16(blk)
		for j := range y {
			q := int32(blk[2+j/4] >> (2 * (j % 4)) & 3)
			y[j] = float32(q-1) * d
		}
	}
}
