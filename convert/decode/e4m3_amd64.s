//go:build amd64 && !noasm

#include "textflag.h"

// E4M3_ARGS loads the arguments both kernels share: DI dst, SI src, CX n,
// R8 scales, R9 cb, AX sub.
#define E4M3_ARGS \
	MOVQ dst+0(FP), DI \
	MOVQ src+8(FP), SI \
	MOVQ n+16(FP), CX \
	MOVQ scales+24(FP), R8 \
	MOVQ cb+32(FP), R9 \
	MOVQ sub+40(FP), AX

// NEXT_BLOCK broadcasts the next block's scale into SCALE and sets DX to
// the groups of that block still to do (at most the CX left, which it
// counts down by them).
#define NEXT_BLOCK(SCALE) \
	VBROADCASTSS (R8), SCALE \
	ADDQ $4, R8 \
	MOVQ R9, DX \
	CMPQ DX, CX \
	CMOVQGT CX, DX \
	SUBQ DX, CX

// func e4m3BlocksAVX2(dst *float32, src *byte, n int, scales *float32, cb int, sub *[8]float32)
//
// dst[k] = f32(e4m3 code src[k]) · scales[k/cb] for k < n &^ 7; cb > 0 is a
// multiple of 8, no scale is NaN and sub[m] = m · 2^-9 (the subnormal
// codes' values). A code's float32 value is built without a table in
// memory and without touching a subnormal float (an operation on one costs
// a microcode assist): with mag = the code's 7 magnitude bits shifted into
// bits 20..26 (exponent and mantissa, as float32's),
//
//   - normal codes (exponent 1..15): mag + (120 << 23), the exponent
//     re-biased from 7 to 127; exact;
//   - subnormal codes (exponent 0): sub[mantissa], picked by VPERMPS;
//   - NaN codes (0x7f, 0xff): 0x7ff00000, the table's pattern;
//
// then the sign ORed in and one multiplication by the block's scale: the
// same single rounding as table[code] · scale (a quiet NaN times a number
// that is not NaN is that NaN, bit for bit).
TEXT ·e4m3BlocksAVX2(SB), NOSPLIT, $0-48
	E4M3_ARGS
	VMOVUPS (AX), Y9            // subnormal values
	SHRQ $3, CX                 // groups of 8 left
	SHRQ $3, R9                 // groups per block
	MOVL $0x07f00000, AX        // magnitude bits
	VMOVD AX, X13
	VPBROADCASTD X13, Y13
	MOVL $0x3c000000, AX        // exponent bias 127 - 7
	VMOVD AX, X14
	VPBROADCASTD X14, Y14
	MOVL $0x00800000, AX        // mag below this: exponent 0, subnormal
	VMOVD AX, X12
	VPBROADCASTD X12, Y12
	MOVL $0x7ff00000, AX        // a NaN code's magnitude as float32
	VMOVD AX, X10
	VPBROADCASTD X10, Y10
	MOVL $0x80000000, AX        // sign
	VMOVD AX, X8
	VPBROADCASTD X8, Y8

block:
	TESTQ CX, CX
	JZ    done
	NEXT_BLOCK(Y11)

group:
	VPMOVSXBD (SI), Y0          // sign in bits 7..31
	VPSLLD    $20, Y0, Y1
	VPAND     Y13, Y1, Y1       // mag
	VPADDD    Y14, Y1, Y2       // normal value
	VPERMPS   Y9, Y0, Y3        // subnormal value (index: the low 3 bits)
	VPCMPGTD  Y1, Y12, Y4       // subnormal lanes
	VBLENDVPS Y4, Y3, Y2, Y2
	VPCMPEQD  Y13, Y1, Y5       // NaN lanes
	VBLENDVPS Y5, Y10, Y2, Y2
	VPAND     Y8, Y0, Y0
	VPOR      Y0, Y2, Y2        // signed value
	VMULPS    Y11, Y2, Y2
	VMOVUPS   Y2, (DI)
	ADDQ      $8, SI
	ADDQ      $32, DI
	DECQ      DX
	JNZ       group
	JMP       block

done:
	VZEROUPPER
	RET

// func e4m3BlocksAVX512(dst *float32, src *byte, n int, scales *float32, cb int, sub *[16]float32)
//
// e4m3BlocksAVX2 sixteen codes at a time (k < n &^ 15; cb a multiple of
// 16), the same construction with opmasks: VPERMPS on sixteen lanes takes
// the low 4 bits of the code as index, which for a subnormal code (exponent
// 0) is its mantissa, so sub[8:] is never picked.
TEXT ·e4m3BlocksAVX512(SB), NOSPLIT, $0-48
	E4M3_ARGS
	VMOVUPS (AX), Z9            // subnormal values
	SHRQ $4, CX                 // groups of 16 left
	SHRQ $4, R9                 // groups per block
	MOVL $0x07f00000, AX        // magnitude bits
	VPBROADCASTD AX, Z13
	MOVL $0x3c000000, AX        // exponent bias 127 - 7
	VPBROADCASTD AX, Z14
	MOVL $0x00800000, AX        // mag below this: exponent 0, subnormal
	VPBROADCASTD AX, Z12
	MOVL $0x7ff00000, AX        // a NaN code's magnitude as float32
	VPBROADCASTD AX, Z10
	MOVL $0x80000000, AX        // sign
	VPBROADCASTD AX, Z8

block512:
	TESTQ CX, CX
	JZ    done512
	NEXT_BLOCK(Z11)

group512:
	VPMOVSXBD  (SI), Z0         // sign in bits 7..31
	VPSLLD     $20, Z0, Z1
	VPANDD     Z13, Z1, Z1      // mag
	VPADDD     Z14, Z1, Z2      // normal value
	VPCMPUD    $1, Z12, Z1, K1  // mag < 0x00800000: subnormal lanes
	VPERMPS    Z9, Z0, K1, Z2   // their values (index: the low 4 bits)
	VPCMPEQD   Z13, Z1, K2      // NaN lanes
	VMOVAPS    Z10, K2, Z2
	VPTERNLOGD $0xF8, Z8, Z0, Z2 // Z2 | Z0&sign
	VMULPS     Z11, Z2, Z2
	VMOVUPS    Z2, (DI)
	ADDQ       $16, SI
	ADDQ       $64, DI
	DECQ       DX
	JNZ        group512
	JMP        block512

done512:
	VZEROUPPER
	RET
