package quant

import (
	"encoding/binary"
	"math"

	"github.com/wick-ml/wick/internal/half"
	"github.com/x448/float16"
)

// This file holds the float32 ↔ float16 and float32 ↔ bfloat16 conversions,
// bit-exact with ggml (spec ggml-quants.md §1). Every fp16 scale of every
// block format goes through F32ToF16.

// F32ToF16 converts f to IEEE binary16 bits the way ggml does: round to
// nearest, ties to even, gradual underflow, overflow to ±Inf, and every NaN
// to the canonical quiet NaN sign|0x7E00.
//
// It is a branch-light transcription of ggml's portable
// ggml_compute_fp32_to_fp16; f32ToF16Ref is the plain twin it is tested
// against over all 2³² inputs.
func F32ToF16(f float32) uint16 {
	const (
		scaleToInf  = float32(0x1.0p+112)
		scaleToZero = float32(0x1.0p-110)
	)
	w := math.Float32bits(f)
	// Scaling by 2^112 then 2^-110 rounds the mantissa to fp16 precision
	// for values that become subnormal and pushes overflowing values to Inf.
	base := float32(float32(abs32(f)*scaleToInf) * scaleToZero)
	shl1 := w + w
	sign := w & 0x80000000
	bias := shl1 & 0xFF000000
	if bias < 0x71000000 {
		bias = 0x71000000
	}
	base = float32(math.Float32frombits((bias>>1)+0x07800000) + base)
	bits := math.Float32bits(base)
	expBits := (bits >> 13) & 0x00007C00
	mantBits := bits & 0x00000FFF
	if shl1 > 0xFF000000 { // NaN
		return uint16(sign>>16) | 0x7E00
	}
	return uint16(sign>>16) | uint16(expBits+mantBits)
}

// f32ToF16Ref is the reference conversion: x448/float16's IEEE conversion
// with ggml's canonical NaN.
func f32ToF16Ref(f float32) uint16 {
	if f != f {
		return uint16(math.Float32bits(f)>>16)&0x8000 | 0x7E00
	}
	return float16.Fromfloat32(f).Bits()
}

// f16Table maps every binary16 bit pattern to its float32 value as ggml's
// ggml_compute_fp16_to_fp32 computes it (internal/half: exact, signalling
// NaNs come out quiet).
var f16Table = half.F16Table()

// F16ToF32 widens binary16 bits to float32 exactly as ggml does: every
// number exactly, NaNs with their sign and payload and the quiet bit set.
func F16ToF32(h uint16) float32 { return f16Table[h] }

// F32ToBF16 converts f to bfloat16 bits as ggml_compute_fp32_to_bf16 does:
// round to nearest even, no flush of subnormals, NaN forced quiet with its
// sign and top payload bits kept.
func F32ToBF16(f float32) uint16 {
	u := math.Float32bits(f)
	if u&0x7FFFFFFF > 0x7F800000 {
		return uint16(u>>16) | 0x0040
	}
	return uint16((u + 0x7FFF + (u>>16)&1) >> 16)
}

// BF16ToF32 widens bfloat16 bits to float32 exactly.
func BF16ToF32(h uint16) float32 { return half.BF16ToF32(h) }

func abs32(f float32) float32 { return math.Float32frombits(math.Float32bits(f) &^ 0x80000000) }

// absMax is the largest |v| in x, 0 for an empty or all-zero x; a NaN
// compares false and is skipped.
func absMax(x []float32) float32 {
	var amax float32
	for _, v := range x {
		if a := abs32(v); a > amax {
			amax = a
		}
	}
	return amax
}

// The generic slice kernels of the F32, F16 and BF16 types (see kernels.go
// for the contracts). Byte buffers are little-endian. The encoders report
// whether every value was finite, keeping the largest magnitude they saw.

func encodeF32Generic(dst []byte, src []float32) (finite bool) {
	dst = dst[:4*len(src)]
	var m uint32
	for i, v := range src {
		u := math.Float32bits(v)
		m = max(m, u&0x7FFFFFFF)
		binary.LittleEndian.PutUint32(dst[4*i:], u)
	}
	return m < infBits
}

func decodeF32Generic(dst []float32, src []byte) {
	src = src[:4*len(dst)]
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
	}
}

func encodeF16Generic(dst []byte, src []float32) (finite bool) {
	dst = dst[:2*len(src)]
	var m uint32
	for i, v := range src {
		m = max(m, math.Float32bits(v)&0x7FFFFFFF)
		binary.LittleEndian.PutUint16(dst[2*i:], F32ToF16(v))
	}
	return m < infBits
}

func decodeF16Generic(dst []float32, src []byte) {
	src = src[:2*len(dst)]
	for i := range dst {
		dst[i] = f16Table[binary.LittleEndian.Uint16(src[2*i:])]
	}
}

func encodeBF16Generic(dst []byte, src []float32) (finite bool) {
	dst = dst[:2*len(src)]
	var m uint32
	for i, v := range src {
		m = max(m, math.Float32bits(v)&0x7FFFFFFF)
		binary.LittleEndian.PutUint16(dst[2*i:], F32ToBF16(v))
	}
	return m < infBits
}

func decodeBF16Generic(dst []float32, src []byte) {
	src = src[:2*len(dst)]
	for i := range dst {
		dst[i] = BF16ToF32(binary.LittleEndian.Uint16(src[2*i:]))
	}
}

func widenF16Generic(dst []float32, src []uint16) {
	dst = dst[:len(src)]
	for i, h := range src {
		dst[i] = f16Table[h]
	}
}

func widenBF16Generic(dst []float32, src []uint16) {
	dst = dst[:len(src)]
	for i, h := range src {
		dst[i] = BF16ToF32(h)
	}
}

// infBits and isNonFinite state, in one place, the rule Quantize enforces:
// a value is non-finite (NaN or ±Inf) when its exponent bits are all ones,
// that is when its magnitude bits (sign cleared) are at least those of
// +Inf. Kernels that check as they encode keep the largest magnitude bits
// they see and compare them with infBits; the scans test each value.
const infBits = 0x7F800000

func isNonFinite(v float32) bool { return math.Float32bits(v)&0x7FFFFFFF >= infBits }

func firstNonFiniteGeneric(x []float32) int {
	for i, v := range x {
		if isNonFinite(v) {
			return i
		}
	}
	return -1
}
