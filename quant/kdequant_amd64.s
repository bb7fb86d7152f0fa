//go:build amd64 && !noasm

#include "textflag.h"

// AVX-512 decoders of Q4_K and Q6_K super-blocks. References:
// dequantizeQ4_KRef and dequantizeQ6_KRef (kquants_ref.go), i.e. ggml's
// dequantize_row_q4_K / _q6_K: every value one float32 product (and for
// Q4_K one subtraction) of the same operands, in the same order. The fp16
// scales are widened with VCVTPH2PS and a signalling NaN made quiet, as
// getF16 does.

// F16_PAIR widens the fp16 values in the low words of X0 (VCVTPH2PS) and
// sets the quiet bit of NaNs (X15 = 0x00400000 in every lane).
#define F16_WIDEN \
	VCVTPH2PS X0, X0 \
	VCMPPS $3, X0, X0, X1 \
	VANDPS X15, X1, X1 \
	VORPS X1, X0, X0

// Q4K_CHUNK decodes qs chunk c (32 bytes): sub-block 2c from the low
// nibbles, 2c+1 from the high ones; the sub-block scales d·sc are at
// 0(SP)…, the mins dmin·m at 32(SP)….
#define Q4K_CHUNK(c) \
	VPMOVZXBD (16+32*c)(SI), Z0 \
	VPMOVZXBD (32+32*c)(SI), Z1 \
	VBROADCASTSS (8*c)(SP), Z5 \
	VBROADCASTSS (32+8*c)(SP), Z6 \
	VBROADCASTSS (4+8*c)(SP), Z7 \
	VBROADCASTSS (36+8*c)(SP), Z8 \
	VPANDD Z31, Z0, Z9 \
	VPANDD Z31, Z1, Z10 \
	VCVTDQ2PS Z9, Z9 \
	VCVTDQ2PS Z10, Z10 \
	VMULPS Z5, Z9, Z9 \
	VMULPS Z5, Z10, Z10 \
	VSUBPS Z6, Z9, Z9 \
	VSUBPS Z6, Z10, Z10 \
	VMOVUPS Z9, (256*c)(DI) \
	VMOVUPS Z10, (256*c+64)(DI) \
	VPSRLD $4, Z0, Z9 \
	VPSRLD $4, Z1, Z10 \
	VCVTDQ2PS Z9, Z9 \
	VCVTDQ2PS Z10, Z10 \
	VMULPS Z7, Z9, Z9 \
	VMULPS Z7, Z10, Z10 \
	VSUBPS Z8, Z9, Z9 \
	VSUBPS Z8, Z10, Z10 \
	VMOVUPS Z9, (256*c+128)(DI) \
	VMOVUPS Z10, (256*c+192)(DI)

// func dequantQ4_KAVX512(dst *float32, src *byte, nb int)
TEXT ·dequantQ4_KAVX512(SB), NOSPLIT, $64-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ nb+16(FP), R9
	MOVL $15, AX
	VPBROADCASTD AX, Z31
	MOVL $0x00400000, AX
	VMOVD AX, X15
	VPBROADCASTD X15, X15
q4kd_block:
	VMOVD (SI), X0                 // d, dmin
	F16_WIDEN
	VBROADCASTSS X0, Y2
	VSHUFPS $0x55, X0, X0, X3
	VBROADCASTSS X3, Y3
	VINSERTF64X4 $1, Y3, Z2, Z2    // d in lanes 0..7, dmin in 8..15
	// the 6-bit scales and mins (get_scale_min_k4), four bytes at a time
	MOVL 4(SI), AX
	MOVL 8(SI), BX
	MOVL 12(SI), CX
	MOVL AX, R10
	ANDL $0x3F3F3F3F, R10          // sc[0..3]
	MOVL BX, R11
	ANDL $0x3F3F3F3F, R11          // m[0..3]
	MOVL CX, R12
	ANDL $0x0F0F0F0F, R12
	SHRL $2, AX
	ANDL $0x30303030, AX
	ORL AX, R12                    // sc[4..7]
	MOVL CX, R13
	SHRL $4, R13
	ANDL $0x0F0F0F0F, R13
	SHRL $2, BX
	ANDL $0x30303030, BX
	ORL BX, R13                    // m[4..7]
	VMOVD R10, X4
	VPINSRD $1, R12, X4, X4
	VPINSRD $2, R11, X4, X4
	VPINSRD $3, R13, X4, X4
	VPMOVZXBD X4, Z4
	VCVTDQ2PS Z4, Z4
	VMULPS Z2, Z4, Z4              // d·sc, dmin·m
	VMOVUPS Z4, 0(SP)
	Q4K_CHUNK(0)
	Q4K_CHUNK(1)
	Q4K_CHUNK(2)
	Q4K_CHUNK(3)
	ADDQ $144, SI
	ADDQ $1024, DI
	DECQ R9
	JNZ q4kd_block
	VZEROUPPER
	RET

// Q6K_QUARTER decodes the 16 values of l = 16q…16q+15 in each of the four
// 32-value runs of half h (ql at SI+64h, qh at SI+128+32h, output at
// DI+512h); the group scales d·sc are at 0(SP)….
#define Q6K_QUARTER(h, q) \
	VPMOVZXBD (64*h+16*q)(SI), Z0 \
	VPMOVZXBD (64*h+32+16*q)(SI), Z1 \
	VPMOVZXBD (128+32*h+16*q)(SI), Z2 \
	VPANDD Z31, Z0, Z3 \
	VPSLLD $4, Z2, Z4 \
	VPANDD Z30, Z4, Z4 \
	VPORD Z4, Z3, Z3 \
	VPANDD Z31, Z1, Z5 \
	VPSLLD $2, Z2, Z4 \
	VPANDD Z30, Z4, Z4 \
	VPORD Z4, Z5, Z5 \
	VPSRLD $4, Z0, Z6 \
	VPANDD Z30, Z2, Z4 \
	VPORD Z4, Z6, Z6 \
	VPSRLD $4, Z1, Z7 \
	VPSRLD $2, Z2, Z4 \
	VPANDD Z30, Z4, Z4 \
	VPORD Z4, Z7, Z7 \
	VPSUBD Z29, Z3, Z3 \
	VPSUBD Z29, Z5, Z5 \
	VPSUBD Z29, Z6, Z6 \
	VPSUBD Z29, Z7, Z7 \
	VCVTDQ2PS Z3, Z3 \
	VCVTDQ2PS Z5, Z5 \
	VCVTDQ2PS Z6, Z6 \
	VCVTDQ2PS Z7, Z7 \
	VMULPS.BCST (4*(8*h+q))(SP), Z3, Z3 \
	VMULPS.BCST (4*(8*h+2+q))(SP), Z5, Z5 \
	VMULPS.BCST (4*(8*h+4+q))(SP), Z6, Z6 \
	VMULPS.BCST (4*(8*h+6+q))(SP), Z7, Z7 \
	VMOVUPS Z3, (512*h+64*q)(DI) \
	VMOVUPS Z5, (512*h+128+64*q)(DI) \
	VMOVUPS Z6, (512*h+256+64*q)(DI) \
	VMOVUPS Z7, (512*h+384+64*q)(DI)

// func dequantQ6_KAVX512(dst *float32, src *byte, nb int)
TEXT ·dequantQ6_KAVX512(SB), NOSPLIT, $64-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ nb+16(FP), R9
	MOVL $15, AX
	VPBROADCASTD AX, Z31
	MOVL $0x30, AX
	VPBROADCASTD AX, Z30
	MOVL $32, AX
	VPBROADCASTD AX, Z29
	MOVL $0x00400000, AX
	VMOVD AX, X15
	VPBROADCASTD X15, X15
q6kd_block:
	MOVWLZX 208(SI), AX
	VMOVD AX, X0
	F16_WIDEN
	VPMOVSXBD 192(SI), Z2
	VCVTDQ2PS Z2, Z2
	VBROADCASTSS X0, Z1
	VMULPS Z1, Z2, Z2
	VMOVUPS Z2, 0(SP)              // d·sc of the 16 groups
	Q6K_QUARTER(0, 0)
	Q6K_QUARTER(0, 1)
	Q6K_QUARTER(1, 0)
	Q6K_QUARTER(1, 1)
	ADDQ $210, SI
	ADDQ $1024, DI
	DECQ R9
	JNZ q6kd_block
	VZEROUPPER
	RET
