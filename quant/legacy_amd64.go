//go:build amd64 && !noasm

package quant

import "math/bits"

//go:noescape
func q4_0BlocksAVX2(dst *byte, src *float32, nb int)

//go:noescape
func q4_1BlocksAVX2(dst *byte, src *float32, nb int)

//go:noescape
func q5_0BlocksAVX2(dst *byte, src *float32, nb int)

//go:noescape
func q5_1BlocksAVX2(dst *byte, src *float32, nb int)

// legacyBlocks runs an assembly block loop over the whole blocks of src.
func legacyBlocks(asm func(*byte, *float32, int), generic func([]byte, []float32), blockLen int, dst []byte, src []float32) {
	nb := len(src) / qk4
	if !useAVX2 || nb == 0 {
		generic(dst, src)
		return
	}
	_ = dst[nb*blockLen-1]
	asm(&dst[0], &src[0], nb)
}

func q4_0Blocks(dst []byte, src []float32) {
	n, _ := legacyBlocks16(q4_0Blocks16AVX512, q4_0BlockRef, q4_0Len, dst, src)
	legacyBlocks(q4_0BlocksAVX2, q4_0BlocksGeneric, q4_0Len, dst[n*q4_0Len:], src[n*qk4:])
}

func q4_1Blocks(dst []byte, src []float32) {
	n, _ := legacyBlocks16(q4_1Blocks16AVX512, q4_1BlockRef, q4_1Len, dst, src)
	legacyBlocks(q4_1BlocksAVX2, q4_1BlocksGeneric, q4_1Len, dst[n*q4_1Len:], src[n*qk4:])
}

// q4_0Checked and q4_1Checked encode whole blocks like q4_0Blocks and
// q4_1Blocks and report whether every value was finite, so that Quantize
// needs no separate scan of the input (checkedEncoder, with AVX-512).
func q4_0Checked(dst []byte, src []float32) bool {
	n, finite := legacyBlocks16(q4_0Blocks16AVX512, q4_0BlockRef, q4_0Len, dst, src)
	src = src[n*qk4 : len(src)/qk4*qk4]
	if finite && firstNonFinite(src) >= 0 {
		return false
	}
	q4_0Blocks(dst[n*q4_0Len:], src)
	return finite
}

func q4_1Checked(dst []byte, src []float32) bool {
	n, finite := legacyBlocks16(q4_1Blocks16AVX512, q4_1BlockRef, q4_1Len, dst, src)
	src = src[n*qk4 : len(src)/qk4*qk4]
	if finite && firstNonFinite(src) >= 0 {
		return false
	}
	q4_1Blocks(dst[n*q4_1Len:], src)
	return finite
}

// q4_0Blocks16AVX512 and q4_1Blocks16AVX512 (legacy512_amd64.s) encode
// ngroups groups of 16 blocks; for each group g, bit b of special[g] flags
// a block b they leave to the reference code and bit 16+b a block with a
// negative level (NaN or ±Inf input, outside the flagged blocks).
//
//go:noescape
func q4_0Blocks16AVX512(dst *byte, src *float32, ngroups int, special *uint32)

//go:noescape
func q4_1Blocks16AVX512(dst *byte, src *float32, ngroups int, special *uint32)

// legacyBlocks16 encodes the first blocks of src in groups of 16 with an
// AVX-512 kernel, re-encoding the blocks it flags with ref, and returns how
// many blocks it did (a multiple of 16; 0 without AVX-512) and whether
// every value of those was finite.
func legacyBlocks16(asm func(*byte, *float32, int, *uint32), ref func(y []byte, x []float32), blockLen int,
	dst []byte, src []float32) (int, bool) {
	ng := len(src) / qk4 / 16
	if !useAVX512 || ng == 0 {
		return 0, true
	}
	finite := true
	var special [64]uint32
	for g0 := 0; g0 < ng; g0 += len(special) {
		n := min(len(special), ng-g0)
		b0 := 16 * g0
		_, _ = dst[(b0+16*n)*blockLen-1], src[(b0+16*n)*qk4-1]
		asm(&dst[b0*blockLen], &src[b0*qk4], n, &special[0])
		for g, m := range special[:n] {
			flagged := uint16(m)
			if uint16(m>>16)&^flagged != 0 {
				finite = false
			}
			for ; flagged != 0; flagged &= flagged - 1 {
				b := b0 + 16*g + bits.TrailingZeros16(flagged)
				x := src[b*qk4 : (b+1)*qk4]
				if firstNonFinite(x) >= 0 {
					finite = false
				}
				ref(dst[b*blockLen:(b+1)*blockLen], x)
			}
		}
	}
	return 16 * ng, finite
}

func q5_0Blocks(dst []byte, src []float32) {
	legacyBlocks(q5_0BlocksAVX2, q5_0BlocksGeneric, q5_0Len, dst, src)
}

func q5_1Blocks(dst []byte, src []float32) {
	legacyBlocks(q5_1BlocksAVX2, q5_1BlocksGeneric, q5_1Len, dst, src)
}

// legacyCheckedEncoder returns the checked encoder of t (Q4_0 or Q4_1) when
// the AVX-512 kernels are in use, else nil (see checkedEncoder).
func legacyCheckedEncoder(t Type) func(dst []byte, src []float32) bool {
	if !useAVX512 {
		return nil
	}
	switch t {
	case Q4_0:
		return q4_0Checked
	case Q4_1:
		return q4_1Checked
	}
	return nil
}
