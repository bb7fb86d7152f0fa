//go:build amd64 && !noasm

package quant

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// This file declares the AVX2 + F16C assembly kernels (kernels_amd64.s) and
// wraps them into a kernelSet. The routines process whole vector steps
// only; the wrappers finish the last few elements with the generic Go twins,
// which compute the same bits. The assembly uses no FMA instruction, and
// every float operation is a single IEEE binary32 operation rounded to
// nearest even, in the order the reference performs it.
//
// Each routine's doc comment is the Go loop it implements; the generic
// twins in float.go and q8_0.go are those loops as code. The routines with
// an nt argument write with non-temporal stores when it is true (dst must
// then start on a 32-byte boundary): same bytes, written past the cache.

// selectKernels picks the assembly when the CPU (and the OS, for the YMM
// registers) supports AVX2 and F16C, else the generic Go kernels.
func selectKernels() kernelSet {
	if cpu.X86.HasAVX2 && hasF16C() {
		return avx2Kernels
	}
	return genericKernels
}

// hasF16C reports CPUID.1:ECX.F16C[bit 29]. (golang.org/x/sys/cpu reports
// it only from versions that need Go 1.26.) The OS support for YMM state it
// needs is the one cpu.X86.HasAVX2 already checked.
func hasF16C() bool { return cpuid1ECX()&(1<<29) != 0 }

func cpuid1ECX() uint32

var avx2Kernels = kernelSet{
	name:       "avx2",
	encodeF32:  copyF32ToBytes,
	decodeF32:  copyBytesToF32,
	encodeF16:  func(dst []byte, src []float32) { encodeF16AVX2(dst, src, false) },
	decodeF16:  func(dst []float32, src []byte) { decodeF16AVX2(dst, src, false) },
	encodeBF16: func(dst []byte, src []float32) { encodeBF16AVX2(dst, src, false) },
	decodeBF16: func(dst []float32, src []byte) { decodeBF16AVX2(dst, src, false) },
	widenF16: func(dst []float32, src []uint16) {
		decodeF16AVX2(dst[:len(src)], u16Bytes(src), false)
	},
	widenBF16: func(dst []float32, src []uint16) {
		decodeBF16AVX2(dst[:len(src)], u16Bytes(src), false)
	},
	quantizeQ8_0:        func(dst []byte, src []float32) { quantizeQ8_0Checked(dst, src) },
	quantizeQ8_0Checked: quantizeQ8_0Checked,
	dequantizeQ8_0:      func(dst []float32, src []byte) { dequantizeQ8_0Stream(dst, src, false) },
	firstNonFinite: func(x []float32) int {
		for i := firstNonFiniteGroupAVX2(x); i < len(x); i++ {
			if isNonFinite(x[i]) {
				return i
			}
		}
		return -1
	},

	encodeF32NT:      copyF32ToBytesNT,
	decodeF32NT:      copyBytesToF32NT,
	encodeF16NT:      func(dst []byte, src []float32) { encodeF16AVX2(dst, src, true) },
	decodeF16NT:      func(dst []float32, src []byte) { decodeF16AVX2(dst, src, true) },
	encodeBF16NT:     func(dst []byte, src []float32) { encodeBF16AVX2(dst, src, true) },
	decodeBF16NT:     func(dst []float32, src []byte) { decodeBF16AVX2(dst, src, true) },
	dequantizeQ8_0NT: func(dst []float32, src []byte) { dequantizeQ8_0Stream(dst, src, true) },
}

// On little-endian amd64 a float32 slice already is its little-endian
// encoding: F32 "quantization" and its inverse are memory copies.

func f32Bytes(s []float32) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), 4*len(s))
}

func copyF32ToBytes(dst []byte, src []float32) { copy(dst[:4*len(src)], f32Bytes(src)) }
func copyBytesToF32(dst []float32, src []byte) { copy(f32Bytes(dst), src[:4*len(dst)]) }

func copyF32ToBytesNT(dst []byte, src []float32) { copyNT(dst[:4*len(src)], f32Bytes(src)) }
func copyBytesToF32NT(dst []float32, src []byte) { copyNT(f32Bytes(dst), src[:4*len(dst)]) }

// copyNT is copy(dst, src) for len(dst) == len(src), with non-temporal
// stores for the 32-byte aligned middle of dst.
func copyNT(dst, src []byte) {
	head := min(alignHead(dst, 1), len(dst))
	body := (len(dst) - head) &^ 127
	copy(dst[:head], src)
	if body > 0 {
		copyNTAVX2(dst[head:head+body], src[head:head+body])
	}
	copy(dst[head+body:], src[head+body:])
}

// alignHead returns the number of elements of size bytes to skip from the
// start of b for the rest to begin on a 32-byte boundary, or len(b) when
// that is impossible (b not aligned to size).
func alignHead(b []byte, size int) int {
	if len(b) == 0 {
		return 0
	}
	a := int(uintptr(unsafe.Pointer(unsafe.SliceData(b))) % 32)
	if a%size != 0 {
		return len(b)
	}
	return (32 - a) % 32 / size
}

// u16Bytes views native (little-endian) uint16 values as their bytes.
func u16Bytes(s []uint16) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), 2*len(s))
}

// vecStep is the element count the conversion routines handle per step; the
// wrappers below pass them a multiple of it.
const vecStep = 16

// The wrappers run the assembly on whole steps and the generic twins on
// the rest. With nt, the assembly writes with non-temporal stores and so
// must start on a 32-byte boundary of dst: the generic code does the
// elements before it (or everything, when dst cannot be aligned).

func encodeF16AVX2(dst []byte, src []float32, nt bool) {
	dst = dst[:2*len(src)]
	head := 0
	if nt {
		head = min(alignHead(dst, 2), len(src))
		encodeF16Generic(dst[:2*head], src[:head])
	}
	n := (len(src) - head) &^ (vecStep - 1)
	if n > 0 {
		f32ToF16AVX2(dst[2*head:], src[head:head+n], nt)
	}
	encodeF16Generic(dst[2*(head+n):], src[head+n:])
}

func decodeF16AVX2(dst []float32, src []byte, nt bool) {
	src = src[:2*len(dst)]
	head := 0
	if nt {
		head = min(alignHead(f32Bytes(dst), 4), len(dst))
		decodeF16Generic(dst[:head], src)
	}
	n := (len(dst) - head) &^ (vecStep - 1)
	if n > 0 {
		f16ToF32AVX2(dst[head:head+n], src[2*head:], nt)
	}
	decodeF16Generic(dst[head+n:], src[2*(head+n):])
}

func encodeBF16AVX2(dst []byte, src []float32, nt bool) {
	dst = dst[:2*len(src)]
	head := 0
	if nt {
		head = min(alignHead(dst, 2), len(src))
		encodeBF16Generic(dst[:2*head], src[:head])
	}
	n := (len(src) - head) &^ (vecStep - 1)
	if n > 0 {
		f32ToBF16AVX2(dst[2*head:], src[head:head+n], nt)
	}
	encodeBF16Generic(dst[2*(head+n):], src[head+n:])
}

func decodeBF16AVX2(dst []float32, src []byte, nt bool) {
	src = src[:2*len(dst)]
	head := 0
	if nt {
		head = min(alignHead(f32Bytes(dst), 4), len(dst))
		decodeBF16Generic(dst[:head], src)
	}
	n := (len(dst) - head) &^ (vecStep - 1)
	if n > 0 {
		bf16ToF32AVX2(dst[head:head+n], src[2*head:], nt)
	}
	decodeBF16Generic(dst[head+n:], src[2*(head+n):])
}

// quantizeQ8_0Checked encodes whole blocks and reports whether every value
// was finite.
func quantizeQ8_0Checked(dst []byte, src []float32) bool {
	nb := len(src) / q8_0Block
	_ = dst[:nb*q8_0Bytes] // the assembly writes nb blocks: check first
	if nb == 0 {
		return true
	}
	return quantizeQ8_0AVX2(dst, src[:nb*q8_0Block])
}

// dequantizeQ8_0Stream decodes whole blocks; with nt it streams only when
// dst starts on a 32-byte boundary (a block is 128 bytes of output, so all
// blocks then do).
func dequantizeQ8_0Stream(dst []float32, src []byte, nt bool) {
	nb := len(dst) / q8_0Block
	_ = src[:nb*q8_0Bytes]
	if nt && alignHead(f32Bytes(dst), 4) != 0 {
		nt = false
	}
	if nb > 0 {
		dequantizeQ8_0AVX2(dst[:nb*q8_0Block], src, nt)
	}
}

// copyNTAVX2 copies len(src) bytes, a multiple of 128, to dst, which must
// start on a 32-byte boundary, with non-temporal stores: copy(dst, src).
//
//go:noescape
func copyNTAVX2(dst, src []byte)

// f32ToF16AVX2 is
//
//	for i, v := range src {
//		binary.LittleEndian.PutUint16(dst[2*i:], F32ToF16(v))
//	}
//
// with VCVTPS2PH (round to nearest even) after replacing every NaN lane by
// sign|0x7FC00000, which F16C turns into ggml's canonical sign|0x7E00.
// len(src) must be a multiple of 16 and len(dst) ≥ 2·len(src).
//
//go:noescape
func f32ToF16AVX2(dst []byte, src []float32, nt bool)

// f16ToF32AVX2 is
//
//	for i := range dst {
//		dst[i] = F16ToF32(binary.LittleEndian.Uint16(src[2*i:]))
//	}
//
// with VCVTPH2PS (exact), then the quiet bit set in NaN lanes, as ggml's
// conversion and f16Table do (VCVTPH2PS alone keeps a signalling NaN
// signalling). len(dst) must be a multiple of 16 and len(src) ≥ 2·len(dst).
//
//go:noescape
func f16ToF32AVX2(dst []float32, src []byte, nt bool)

// f32ToBF16AVX2 is
//
//	for i, v := range src {
//		u := math.Float32bits(v)
//		if u&0x7FFFFFFF > 0x7F800000 {
//			u |= 0x00400000 // NaN: quiet, sign and top payload kept
//		} else {
//			u += 0x7FFF + (u>>16)&1 // round to nearest even
//		}
//		binary.LittleEndian.PutUint16(dst[2*i:], uint16(u>>16))
//	}
//
// in 32-bit integer lanes. len(src) must be a multiple of 16 and
// len(dst) ≥ 2·len(src).
//
//go:noescape
func f32ToBF16AVX2(dst []byte, src []float32, nt bool)

// bf16ToF32AVX2 is
//
//	for i := range dst {
//		dst[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(src[2*i:])) << 16)
//	}
//
// len(dst) must be a multiple of 16 and len(src) ≥ 2·len(dst).
//
//go:noescape
func bf16ToF32AVX2(dst []float32, src []byte, nt bool)

// quantizeQ8_0AVX2 is, for each block b of 32 values x = src[32b:32b+32]
// written to y = dst[34b:34b+34],
//
//	amax := max over j of abs32(x[j])
//	d := amax / 127
//	id := 1 / d
//	if !(id < +Inf) { // d == 0, or 1/d overflows (amax < 127·2⁻¹²⁸)
//		id = 0
//	}
//	binary.LittleEndian.PutUint16(y, F32ToF16(d)) // VCVTPS2PH: d is finite and ≥ 0
//	for j := range x {
//		v := x[j] * id
//		y[2+j] = byte(int8(int32(v + copysign(0.49999997, v)))) // = roundf(v) for |v| ≤ 128
//	}
//
// with every float operation rounded to float32; the int32 conversion
// truncates. Where the reference's id overflows to +Inf, each x·id is ±Inf
// or NaN, which ggml's x86-64 build (and q8Byte) converts to 0: x·0 gives
// the same 0. It returns whether every value was finite (every amax below
// +Inf: the rule of isNonFinite, read off the block maxima). When one was
// not, the bytes written are meaningless (the driver reports an error). len(src)
// must be a positive multiple of 32 and len(dst) ≥ 34·len(src)/32.
//
//go:noescape
func quantizeQ8_0AVX2(dst []byte, src []float32) (finite bool)

// dequantizeQ8_0AVX2 is, for each block b of y = src[34b:34b+34] decoded
// into x = dst[32b:32b+32],
//
//	d := F16ToF32(binary.LittleEndian.Uint16(y))
//	for j := range x {
//		x[j] = float32(int8(y[2+j])) * d
//	}
//
// len(dst) must be a positive multiple of 32 and len(src) ≥ 34·len(dst)/32.
//
//go:noescape
func dequantizeQ8_0AVX2(dst []float32, src []byte, nt bool)

// firstNonFiniteGroupAVX2 returns the start of the first group of 32 values
// x[32k:32k+32] that holds a NaN or ±Inf (exponent bits all ones, the rule
// of isNonFinite), or len(x) rounded down to a multiple of 32 when no whole
// group does. It is
//
//	for g := 0; g+32 <= len(x); g += 32 {
//		for _, v := range x[g : g+32] {
//			if isNonFinite(v) {
//				return g
//			}
//		}
//	}
//	return len(x) &^ 31
//
//go:noescape
func firstNonFiniteGroupAVX2(x []float32) int
