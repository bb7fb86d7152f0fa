//go:build amd64 && !noasm

package quant

import "unsafe"

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

// selectKernels picks the assembly when the CPU and the OS support AVX2
// and F16C (hasAVX2, cpu_amd64.go), else the generic Go kernels.
func selectKernels() kernelSet {
	if hasAVX2 {
		return avx2Kernels
	}
	return genericKernels
}

var avx2Kernels = kernelSet{
	name:       "avx2",
	encodeF32:  func(dst []byte, src []float32) bool { return encodeF32AVX2(dst, src, false) },
	decodeF32:  copyBytesToF32,
	encodeF16:  func(dst []byte, src []float32) bool { return encodeF16AVX2(dst, src, false) },
	decodeF16:  func(dst []float32, src []byte) { decodeF16AVX2(dst, src, false) },
	encodeBF16: func(dst []byte, src []float32) bool { return encodeBF16AVX2(dst, src, false) },
	decodeBF16: func(dst []float32, src []byte) { decodeBF16AVX2(dst, src, false) },
	widenF16: func(dst []float32, src []uint16) {
		decodeF16AVX2(dst[:len(src)], u16Bytes(src), false)
	},
	widenBF16: func(dst []float32, src []uint16) {
		decodeBF16AVX2(dst[:len(src)], u16Bytes(src), false)
	},
	quantizeQ8_0:   quantizeQ8_0Blocks,
	dequantizeQ8_0: func(dst []float32, src []byte) { dequantizeQ8_0Stream(dst, src, false) },
	firstNonFinite: func(x []float32) int {
		for i := firstNonFiniteGroupAVX2(x); i < len(x); i++ {
			if isNonFinite(x[i]) {
				return i
			}
		}
		return -1
	},

	encodeF32NT:      func(dst []byte, src []float32) bool { return encodeF32AVX2(dst, src, true) },
	decodeF32NT:      copyBytesToF32NT,
	encodeF16NT:      func(dst []byte, src []float32) bool { return encodeF16AVX2(dst, src, true) },
	decodeF16NT:      func(dst []float32, src []byte) { decodeF16AVX2(dst, src, true) },
	encodeBF16NT:     func(dst []byte, src []float32) bool { return encodeBF16AVX2(dst, src, true) },
	decodeBF16NT:     func(dst []float32, src []byte) { decodeBF16AVX2(dst, src, true) },
	dequantizeQ8_0NT: func(dst []float32, src []byte) { dequantizeQ8_0Stream(dst, src, true) },
	errorLanes:       errorLanesAsm,
}

// f32Bytes views float32 values as their bytes, which on little-endian
// amd64 already are their little-endian encoding.
func f32Bytes(s []float32) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), 4*len(s))
}

// u16Bytes views native (little-endian) uint16 values as their bytes.
func u16Bytes(s []uint16) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), 2*len(s))
}

// F32 decoding is a memory copy (the encoder is one too, fused with the
// finiteness check, in copyF32AVX2).

func copyBytesToF32(dst []float32, src []byte) { copy(f32Bytes(dst), src[:4*len(dst)]) }

func copyBytesToF32NT(dst []float32, src []byte) {
	d := f32Bytes(dst)
	head := min(alignHead(d, 1), len(d))
	body := (len(d) - head) &^ 127
	copy(d[:head], src)
	if body > 0 {
		copyNTAVX2(d[head:head+body], src[head:head+body])
	}
	copy(d[head+body:], src[head+body:len(d)])
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

// vecStep is the element count the conversion routines handle per step; the
// wrappers below pass them a multiple of it.
const vecStep = 16

// The encoder wrappers run the assembly on whole steps and the generic
// twins on the rest, and combine their finiteness reports. With nt, the
// assembly writes with non-temporal stores and so must start on a 32-byte
// boundary of dst: the generic code does the elements before it (or
// everything, when dst cannot be aligned). The decoders do the same
// without a report.

func encodeF32AVX2(dst []byte, src []float32, nt bool) bool {
	dst = dst[:4*len(src)]
	head := 0
	finite := true
	if nt {
		head = min(alignHead(dst, 4), len(src))
		finite = encodeF32Generic(dst[:4*head], src[:head])
	}
	n := (len(src) - head) &^ 31
	if n > 0 && !copyF32AVX2(dst[4*head:], src[head:head+n], nt) {
		finite = false
	}
	return encodeF32Generic(dst[4*(head+n):], src[head+n:]) && finite
}

func encodeF16AVX2(dst []byte, src []float32, nt bool) bool {
	dst = dst[:2*len(src)]
	head := 0
	finite := true
	if nt {
		head = min(alignHead(dst, 2), len(src))
		finite = encodeF16Generic(dst[:2*head], src[:head])
	}
	n := (len(src) - head) &^ (vecStep - 1)
	if n > 0 && !f32ToF16AVX2(dst[2*head:], src[head:head+n], nt) {
		finite = false
	}
	return encodeF16Generic(dst[2*(head+n):], src[head+n:]) && finite
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

func encodeBF16AVX2(dst []byte, src []float32, nt bool) bool {
	dst = dst[:2*len(src)]
	head := 0
	finite := true
	if nt {
		head = min(alignHead(dst, 2), len(src))
		finite = encodeBF16Generic(dst[:2*head], src[:head])
	}
	n := (len(src) - head) &^ (vecStep - 1)
	if n > 0 && !f32ToBF16AVX2(dst[2*head:], src[head:head+n], nt) {
		finite = false
	}
	return encodeBF16Generic(dst[2*(head+n):], src[head+n:]) && finite
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

// quantizeQ8_0Blocks encodes whole blocks and reports whether every value
// was finite.
func quantizeQ8_0Blocks(dst []byte, src []float32) bool {
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

// copyF32AVX2 is
//
//	for i, v := range src {
//		binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(v))
//	}
//	return every abs32(v) below +Inf
//
// that is, a copy that keeps the largest magnitude bits it sees (see
// infBits). len(src) must be a multiple of 32 and len(dst) ≥ 4·len(src).
//
//go:noescape
func copyF32AVX2(dst []byte, src []float32, nt bool) (finite bool)

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
//	return every abs32(v) below +Inf
//
// with VCVTPS2PH (round to nearest even) after replacing every NaN lane by
// sign|0x7FC00000, which F16C turns into ggml's canonical sign|0x7E00.
// len(src) must be a multiple of 16 and len(dst) ≥ 2·len(src).
//
//go:noescape
func f32ToF16AVX2(dst []byte, src []float32, nt bool) (finite bool)

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
//	return every abs32(v) below +Inf
//
// in 32-bit integer lanes. len(src) must be a multiple of 16 and
// len(dst) ≥ 2·len(src).
//
//go:noescape
func f32ToBF16AVX2(dst []byte, src []float32, nt bool) (finite bool)

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
// the same 0. The maximum is taken on the magnitude bits as unsigned
// integers, which for finite floats is their numeric order; it returns
// whether every block's maximum was below infBits (every value finite).
// When one was not, the bytes written are meaningless (Quantize reports an
// error). len(src) must be a positive multiple of 32 and
// len(dst) ≥ 34·len(src)/32.
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

// errorLanesAVX2 is errorLanesGeneric (stats.go) for the first len(x) &^ 7
// elements: per 8 elements, x and y widened to float64 (two YMM halves,
// lanes 0–3 and 4–7), d = y − x, acc_e += d·d, acc_q += x·x (VMULPD then
// VADDPD, never fused), acc_m = MAXPD(|d|, acc_m).
//
//go:noescape
func errorLanesAVX2(x, y []float32, acc *[24]float64)

// errorLanesAVX512 is errorLanesAVX2 with the eight float64 lanes in one
// ZMM register: the same lanes, operations and order, so the same bits,
// in half the instructions.
//
//go:noescape
func errorLanesAVX512(x, y []float32, acc *[24]float64)

// errorLanesAsm is the AVX2 kernel set's errorLanes: the AVX-512 kernel
// when useAVX512, else the AVX2 one.
func errorLanesAsm(x, y []float32, acc *[24]float64) {
	if useAVX512 {
		errorLanesAVX512(x, y, acc)
		return
	}
	errorLanesAVX2(x, y, acc)
}
