package quant

import (
	"encoding/binary"
	"math"
)

// Q8_0 block (34 bytes, 32 elements): fp16 scale d, then 32 int8 quants.
// Spec ggml-quants.md §3.1:
//
//	amax = max |x|; d = amax/127; id = d != 0 ? 1/d : 0
//	q[e] = roundf(x[e]*id)   (round half away from zero; id from the fp32 d)
const (
	q8_0Block = 32
	q8_0Bytes = 34
)

// quantizeQ8_0Ref is the reference Q8_0 encoder: a line-by-line
// transcription of ggml's quantize_row_q8_0_ref. Every Q8_0 kernel must
// produce the same bytes for every finite input.
func quantizeQ8_0Ref(dst []byte, src []float32, _ int, _ []float32) {
	for b := 0; b < len(src)/q8_0Block; b++ {
		x := src[b*q8_0Block : (b+1)*q8_0Block]
		y := dst[b*q8_0Bytes : (b+1)*q8_0Bytes]
		var amax float32
		for _, v := range x {
			if a := abs32(v); a > amax {
				amax = a
			}
		}
		d := amax / 127
		var id float32
		if d != 0 {
			id = 1 / d
		}
		binary.LittleEndian.PutUint16(y, F32ToF16(d))
		for j, v := range x {
			q := math.Round(float64(float32(v * id))) // roundf
			if math.IsInf(q, 0) || math.IsNaN(q) {
				q = 0 // (int8_t) of ±Inf/NaN on x86-64 ggml; see q8Byte
			}
			y[2+j] = byte(int8(q))
		}
	}
}

// quantizeQ8_0Generic is quantizeQ8_0Ref made faster, in portable Go: the
// absolute maximum is taken on the sign-cleared bit patterns (for finite
// floats their integer order is their numeric order), and roundf(v) for
// |v| ≤ 128 is computed as trunc(float64(v) ± 0.5), which is exact because a
// float32 in that range plus one half is representable in float64.
//
// It reports whether every value was finite (see infBits); when one was
// not, the bytes are meaningless and the caller reports an error.
//
// A block whose amax is below 127·2⁻¹²⁸ has id = 1/d = +Inf, so x·id is ±Inf
// or NaN (for x = 0). ggml, compiled for x86-64, converts those with
// cvttss2si, whose out-of-range result 0x80000000 keeps 0 in its low byte
// (checked with llama.cpp's ggml_quantize_chunk: such blocks are all zero).
// q8Byte states that explicitly rather than relying on how the platform
// converts out-of-range floats.
func quantizeQ8_0Generic(dst []byte, src []float32) (finite bool) {
	nb := len(src) / q8_0Block
	dst = dst[:nb*q8_0Bytes]
	var all uint32 // the largest magnitude bits seen
	for b := 0; b < nb; b++ {
		x := (*[q8_0Block]float32)(src[b*q8_0Block:])
		y := (*[q8_0Bytes]byte)(dst[b*q8_0Bytes:])
		var m0, m1, m2, m3 uint32
		for j := 0; j < q8_0Block; j += 4 {
			m0 = max(m0, math.Float32bits(x[j])&0x7FFFFFFF)
			m1 = max(m1, math.Float32bits(x[j+1])&0x7FFFFFFF)
			m2 = max(m2, math.Float32bits(x[j+2])&0x7FFFFFFF)
			m3 = max(m3, math.Float32bits(x[j+3])&0x7FFFFFFF)
		}
		amaxBits := max(max(m0, m1), max(m2, m3))
		all = max(all, amaxBits)
		amax := math.Float32frombits(amaxBits)
		d := amax / 127
		var id float32
		if d != 0 {
			id = 1 / d
		}
		h := F32ToF16(d)
		y[0] = byte(h)
		y[1] = byte(h >> 8)
		for j := 0; j < q8_0Block; j++ {
			y[2+j] = q8Byte(float32(x[j] * id))
		}
	}
	return all < infBits
}

// q8Byte is (int8_t)roundf(v) as ggml's x86-64 build computes it: round half
// away from zero, then the low byte of the 32-bit conversion, which is 0 for
// ±Inf and NaN.
func q8Byte(v float32) byte {
	f := float64(v)
	if !(math.Abs(f) < 1<<31) {
		return 0
	}
	return byte(int32(f + math.Copysign(0.5, f)))
}

func dequantizeQ8_0Generic(dst []float32, src []byte) {
	nb := len(dst) / q8_0Block
	src = src[:nb*q8_0Bytes]
	for b := 0; b < nb; b++ {
		y := (*[q8_0Bytes]byte)(src[b*q8_0Bytes:])
		x := (*[q8_0Block]float32)(dst[b*q8_0Block:])
		d := f16Table[uint16(y[0])|uint16(y[1])<<8]
		for j := range x {
			x[j] = float32(int8(y[2+j])) * d
		}
	}
}
