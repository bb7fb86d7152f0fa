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

// quantizeQ1_0Checked is quantizeQ1_0 reporting whether every value was
// finite (checkedEncoder): a block's sum of |x| is finite when all its
// values are, and only a block whose sum is not (a non-finite value, or
// finite ones whose sum overflows) is scanned.
func quantizeQ1_0Checked(dst []byte, src []float32) (finite bool) {
	finite = true
	for b := 0; b < len(src)/128; b++ {
		x := src[b*128 : (b+1)*128 : (b+1)*128]
		if !encodeQ1_0Block(dst[b*q1_0Len:(b+1)*q1_0Len:(b+1)*q1_0Len], x, true) && firstNonFinite(x) >= 0 {
			finite = false
		}
	}
	return finite
}

// quantizeQ1_0Ref is encodeQ1_0 with ggml's x ≥ 0 test written out (the
// fast path's q1Signs compares eight elements per instruction).
func quantizeQ1_0Ref(dst []byte, src []float32, _ int, _ []float32) { encodeQ1_0(dst, src, false) }

func encodeQ1_0(dst []byte, src []float32, fast bool) {
	for b := 0; b < len(src)/128; b++ {
		encodeQ1_0Block(dst[b*q1_0Len:(b+1)*q1_0Len], src[b*128:(b+1)*128], fast)
	}
}

// encodeQ1_0Block encodes one block and reports whether its sum of |x| was
// finite.
func encodeQ1_0Block(y []byte, x []float32, fast bool) bool {
	y, x = y[:q1_0Len], x[:128]
	var sum float32
	for _, v := range x {
		sum += abs32(v)
	}
	putF16(y, sum/128)
	if fast {
		q1Signs(y[2:], x)
		return sum <= math.MaxFloat32
	}
	for j := 0; j < 16; j++ {
		var q byte
		for k := 0; k < 8; k++ {
			if x[8*j+k] >= 0 {
				q |= 1 << k
			}
		}
		y[2+j] = q
	}
	return sum <= math.MaxFloat32
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

// quantizeQ2_0 is encodeQ2_0 with the codes read from comparisons of the
// elements' bits with the block's threshold (tritThreshold, tritBytes: with
// id = 1/max|x| finite every x·id lies in [−1−2^−23, 1+2^−23], where
// clamp(round(x·id)+1, 0, 3) is roundTrit's trit + 1); blocks the threshold
// does not cover (a NaN or an infinity, a 1/d that overflows) take
// encodeQ2_0, ggml's transcription.
func quantizeQ2_0(dst []byte, src []float32, _ int, _ []float32) { quantizeQ2_0Checked(dst, src) }

// quantizeQ2_0Checked is quantizeQ2_0 reporting whether every value was
// finite (checkedEncoder), from the block maxima it computes anyway.
func quantizeQ2_0Checked(dst []byte, src []float32) (finite bool) {
	var t [64]byte
	var top uint32
	for b := 0; b < len(src)/64; b++ {
		x := src[b*64 : (b+1)*64 : (b+1)*64]
		y := dst[b*q2_0Len : (b+1)*q2_0Len : (b+1)*q2_0Len]
		m := absMaxBits(x)
		top = max(top, m)
		d, th, ok := tritThreshold(m)
		if !ok {
			encodeQ2_0(y, x)
			continue
		}
		putF16(y, d)
		tritBytes(t[:], x, th)
		for j := 0; j < 8; j++ { // element 4i+k in bits 2k..2k+1 of byte i: w's byte k shifted down by 6k
			w := le64(t[8*j:])
			q := w | w>>6 | w>>12 | w>>18
			y[2+2*j] = uint8(q)
			y[3+2*j] = uint8(q >> 32)
		}
	}
	return top < 0x7F800000
}

// quantizeQ2_0Ref is encodeQ2_0 with roundf and the clamp element by element.
func quantizeQ2_0Ref(dst []byte, src []float32, _ int, _ []float32) { encodeQ2_0(dst, src) }

// encodeQ2_0 is ggml's quantize_row_q2_0_ref step by step.
func encodeQ2_0(dst []byte, src []float32) {
	for b := 0; b < len(src)/64; b++ {
		x := src[b*64 : (b+1)*64]
		y := dst[b*q2_0Len : (b+1)*q2_0Len]
		amax := absMax(x)
		var id float32
		if amax > 0 {
			id = 1 / amax
		}
		putF16(y, amax)
		for j := 0; j < 16; j++ {
			var q byte
			for k := 0; k < 4; k++ {
				v := clampI32(roundToInt(float32(x[4*j+k]*id))+1, 0, 3)
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
