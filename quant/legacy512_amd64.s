//go:build amd64 && !noasm

#include "textflag.h"

// AVX-512 block loops of Q4_0 and Q4_1 (no imatrix), 16 blocks at a time:
// the per-block reductions (largest magnitude, or min and max) of 16
// blocks are done together by a transposing tree of shuffles, and the
// scales for 16 blocks with one vector of divisions. References:
// q4_0BlocksGeneric and q4_1BlocksGeneric (legacy.go). Blocks whose exact
// value depends on which of equal elements comes first (a tie between
// the largest and the most negative element for Q4_0, a zero min or max
// for Q4_1: ggml keeps the first, with its sign) or whose inverse scale is
// not finite are flagged in special (bit b of special[g] for block b of
// group g); their bytes here are not final and the caller encodes them
// again with the reference code. Bit 16+b flags a negative level in block
// b (see NEG_LEVELS), which outside the flagged blocks means NaN or ±Inf
// input.

DATA l512perm<>+0(SB)/4, $0
DATA l512perm<>+4(SB)/4, $4
DATA l512perm<>+8(SB)/4, $8
DATA l512perm<>+12(SB)/4, $12
DATA l512perm<>+16(SB)/4, $1
DATA l512perm<>+20(SB)/4, $5
DATA l512perm<>+24(SB)/4, $9
DATA l512perm<>+28(SB)/4, $13
DATA l512perm<>+32(SB)/4, $2
DATA l512perm<>+36(SB)/4, $6
DATA l512perm<>+40(SB)/4, $10
DATA l512perm<>+44(SB)/4, $14
DATA l512perm<>+48(SB)/4, $3
DATA l512perm<>+52(SB)/4, $7
DATA l512perm<>+56(SB)/4, $11
DATA l512perm<>+60(SB)/4, $15
GLOBL l512perm<>(SB), RODATA|NOPTR, $64

// RED_L1 reduces blocks 2k and 2k+1 (at SI): LP gets their maxima, LN
// their minima, 8 partial values each (block 2k in the low 256 bits).
#define RED_L1(k, LP, LN) \
	VMOVUPS (256*k)(SI), Z0 \
	VMOVUPS (256*k+64)(SI), Z1 \
	VMOVUPS (256*k+128)(SI), Z2 \
	VMOVUPS (256*k+192)(SI), Z3 \
	VMAXPS Z1, Z0, Z4 \
	VMINPS Z1, Z0, Z5 \
	VMAXPS Z3, Z2, Z6 \
	VMINPS Z3, Z2, Z7 \
	VSHUFF32X4 $0x44, Z6, Z4, Z0 \
	VSHUFF32X4 $0xEE, Z6, Z4, Z1 \
	VMAXPS Z1, Z0, LP \
	VSHUFF32X4 $0x44, Z7, Z5, Z0 \
	VSHUFF32X4 $0xEE, Z7, Z5, Z1 \
	VMINPS Z1, Z0, LN

// RED_STEP combines A and B into D with OP after the shuffles SH $I1 and
// SH $I2 (see the reduction below).
#define RED_STEP(SH, I1, I2, OP, A, B, D) \
	SH $I1, B, A, Z0 \
	SH $I2, B, A, Z1 \
	OP Z1, Z0, D

// REDUCE16 leaves in Z16 the maximum and in Z17 the minimum of each of the
// 16 blocks at SI, block b in lane b: 128-bit lanes, then halves of them,
// then single values are combined until lane 4i+j holds block 4j+i, which
// VPERMPS puts in order. Clobbers Z0..Z15.
#define REDUCE16 \
	RED_L1(0, Z8, Z9) \
	RED_L1(1, Z10, Z11) \
	RED_L1(2, Z12, Z13) \
	RED_L1(3, Z14, Z15) \
	RED_STEP(VSHUFF32X4, 0x88, 0xDD, VMAXPS, Z8, Z10, Z8) \
	RED_STEP(VSHUFF32X4, 0x88, 0xDD, VMINPS, Z9, Z11, Z9) \
	RED_STEP(VSHUFF32X4, 0x88, 0xDD, VMAXPS, Z12, Z14, Z10) \
	RED_STEP(VSHUFF32X4, 0x88, 0xDD, VMINPS, Z13, Z15, Z11) \
	RED_L1(4, Z12, Z13) \
	RED_L1(5, Z14, Z15) \
	RED_STEP(VSHUFF32X4, 0x88, 0xDD, VMAXPS, Z12, Z14, Z12) \
	RED_STEP(VSHUFF32X4, 0x88, 0xDD, VMINPS, Z13, Z15, Z13) \
	RED_L1(6, Z14, Z15) \
	RED_L1(7, Z2, Z3) \
	VMOVAPS Z2, Z4 \
	VMOVAPS Z3, Z5 \
	RED_STEP(VSHUFF32X4, 0x88, 0xDD, VMAXPS, Z14, Z4, Z14) \
	RED_STEP(VSHUFF32X4, 0x88, 0xDD, VMINPS, Z15, Z5, Z15) \
	RED_STEP(VSHUFPS, 0x44, 0xEE, VMAXPS, Z8, Z10, Z8) \
	RED_STEP(VSHUFPS, 0x44, 0xEE, VMINPS, Z9, Z11, Z9) \
	RED_STEP(VSHUFPS, 0x44, 0xEE, VMAXPS, Z12, Z14, Z12) \
	RED_STEP(VSHUFPS, 0x44, 0xEE, VMINPS, Z13, Z15, Z13) \
	RED_STEP(VSHUFPS, 0x88, 0xDD, VMAXPS, Z8, Z12, Z16) \
	RED_STEP(VSHUFPS, 0x88, 0xDD, VMINPS, Z9, Z13, Z17) \
	VPERMPS Z16, Z31, Z16 \
	VPERMPS Z17, Z31, Z17

// NEG_LEVELS sets bit 16+b of R12 when a level of block b (Z0, Z1, after
// VCVTTPS2DQ and the clamp) is negative: for a block with finite id and
// input no level is (x·id + 8.5 and (x − min)·id + 0.5 lie in [0.5, 17)),
// while NaN or ±Inf input gives VCVTTPS2DQ's 0x80000000. The caller turns
// this into the finiteness report of the checked encoders.
#define NEG_LEVELS(b, skip) \
	VPORD Z1, Z0, Z6 \
	VPMOVD2M Z6, K6 \
	KORTESTW K6, K6 \
	JZ skip \
	ORL $(1<<(16+b)), R12 \
skip:

// Q40_BLOCK encodes block b of the group: id at 0(SP)…, fp16 d at 64(SP)….
#define Q40_BLOCK(b, skip) \
	VBROADCASTSS (4*b)(SP), Z5 \
	VMULPS (128*b)(SI), Z5, Z0 \
	VMULPS (128*b+64)(SI), Z5, Z1 \
	VADDPS Z30, Z0, Z0 \
	VADDPS Z30, Z1, Z1 \
	VCVTTPS2DQ Z0, Z0 \
	VCVTTPS2DQ Z1, Z1 \
	VPMINSD Z29, Z0, Z0 \
	VPMINSD Z29, Z1, Z1 \
	NEG_LEVELS(b, skip) \
	VPSLLD $4, Z1, Z1 \
	VPORD Z1, Z0, Z0 \
	VPMOVDB Z0, (18*b+2)(DI) \
	MOVWLZX (64+2*b)(SP), AX \
	MOVW AX, (18*b)(DI)

// func q4_0Blocks16AVX512(dst *byte, src *float32, ngroups int, special *uint32)
TEXT ·q4_0Blocks16AVX512(SB), NOSPLIT, $96-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ ngroups+16(FP), R9
	MOVQ special+24(FP), R8
	VMOVDQU32 l512perm<>(SB), Z31
	MOVL $0x41080000, AX           // 8.5
	VPBROADCASTD AX, Z30
	MOVL $15, AX
	VPBROADCASTD AX, Z29
	MOVL $0x80000000, AX
	VPBROADCASTD AX, Z28
	MOVL $0xC1000000, AX           // -8
	VPBROADCASTD AX, Z27
	MOVL $0x3F800000, AX           // 1
	VPBROADCASTD AX, Z26
	MOVL $0x7FFFFFFF, AX
	VPBROADCASTD AX, Z25
	MOVL $0x7F800000, AX
	VPBROADCASTD AX, Z24
	VPXORD Z23, Z23, Z23
q40_group:
	REDUCE16
	VPXORD Z28, Z17, Z18           // -min
	VCMPPS $0x1E, Z18, Z16, K1     // max > -min: the largest magnitude is max
	VMOVAPS Z17, Z19
	VMOVAPS Z16, K1, Z19           // signed largest magnitude
	VCMPPS $0x00, Z18, Z16, K2     // max == -min: which comes first decides
	VDIVPS Z27, Z19, Z20           // d = max / -8
	VCMPPS $0x04, Z23, Z20, K3     // d != 0
	VDIVPS Z20, Z26, Z21
	VMOVAPS.Z Z21, K3, Z21         // id = d != 0 ? 1/d : 0
	VPANDD Z25, Z21, Z22
	VPCMPEQD Z24, Z22, K4          // id = ±Inf
	KORW K4, K2, K2
	KMOVW K2, R12
	VMOVUPS Z21, 0(SP)
	VCVTPS2PH $0, Z20, 64(SP)
	Q40_BLOCK(0, q40_s0)
	Q40_BLOCK(1, q40_s1)
	Q40_BLOCK(2, q40_s2)
	Q40_BLOCK(3, q40_s3)
	Q40_BLOCK(4, q40_s4)
	Q40_BLOCK(5, q40_s5)
	Q40_BLOCK(6, q40_s6)
	Q40_BLOCK(7, q40_s7)
	Q40_BLOCK(8, q40_s8)
	Q40_BLOCK(9, q40_s9)
	Q40_BLOCK(10, q40_s10)
	Q40_BLOCK(11, q40_s11)
	Q40_BLOCK(12, q40_s12)
	Q40_BLOCK(13, q40_s13)
	Q40_BLOCK(14, q40_s14)
	Q40_BLOCK(15, q40_s15)
	MOVL R12, (R8)
	ADDQ $2048, SI
	ADDQ $288, DI
	ADDQ $4, R8
	DECQ R9
	JNZ q40_group
	VZEROUPPER
	RET

// Q41_BLOCK encodes block b of the group: id at 0(SP)…, min at 64(SP)…,
// fp16 d at 128(SP)…, fp16 min at 160(SP)….
#define Q41_BLOCK(b, skip) \
	VBROADCASTSS (4*b)(SP), Z5 \
	VBROADCASTSS (64+4*b)(SP), Z7 \
	VMOVUPS (128*b)(SI), Z0 \
	VMOVUPS (128*b+64)(SI), Z1 \
	VSUBPS Z7, Z0, Z0 \
	VSUBPS Z7, Z1, Z1 \
	VMULPS Z5, Z0, Z0 \
	VMULPS Z5, Z1, Z1 \
	VADDPS Z30, Z0, Z0 \
	VADDPS Z30, Z1, Z1 \
	VCVTTPS2DQ Z0, Z0 \
	VCVTTPS2DQ Z1, Z1 \
	VPMINSD Z29, Z0, Z0 \
	VPMINSD Z29, Z1, Z1 \
	NEG_LEVELS(b, skip) \
	VPSLLD $4, Z1, Z1 \
	VPORD Z1, Z0, Z0 \
	VPMOVDB Z0, (20*b+4)(DI) \
	MOVWLZX (128+2*b)(SP), AX \
	MOVW AX, (20*b)(DI) \
	MOVWLZX (160+2*b)(SP), AX \
	MOVW AX, (20*b+2)(DI)

// func q4_1Blocks16AVX512(dst *byte, src *float32, ngroups int, special *uint32)
TEXT ·q4_1Blocks16AVX512(SB), NOSPLIT, $192-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ ngroups+16(FP), R9
	MOVQ special+24(FP), R8
	VMOVDQU32 l512perm<>(SB), Z31
	MOVL $0x3F000000, AX           // 0.5
	VPBROADCASTD AX, Z30
	MOVL $15, AX
	VPBROADCASTD AX, Z29
	MOVL $0x41700000, AX           // 15.0
	VPBROADCASTD AX, Z27
	MOVL $0x3F800000, AX           // 1
	VPBROADCASTD AX, Z26
	MOVL $0x7FFFFFFF, AX
	VPBROADCASTD AX, Z25
	MOVL $0x7F800000, AX
	VPBROADCASTD AX, Z24
	VPXORD Z23, Z23, Z23
q41_group:
	REDUCE16
	VSUBPS Z17, Z16, Z18           // max - min
	VDIVPS Z27, Z18, Z20           // d = (max - min) / 15
	VCMPPS $0x04, Z23, Z20, K3     // d != 0
	VDIVPS Z20, Z26, Z21
	VMOVAPS.Z Z21, K3, Z21         // id
	VCMPPS $0x00, Z23, Z16, K1     // max == ±0
	VCMPPS $0x00, Z23, Z17, K2     // min == ±0
	KORW K1, K2, K2
	VPANDD Z25, Z21, Z22
	VPCMPUD $5, Z24, Z22, K4       // |id| >= Inf (not finite)
	KORW K4, K2, K2
	VPANDD Z25, Z18, Z22
	VPCMPUD $5, Z24, Z22, K4       // max - min not finite
	KORW K4, K2, K2
	KMOVW K2, R12
	VMOVUPS Z21, 0(SP)
	VMOVUPS Z17, 64(SP)
	VCVTPS2PH $0, Z20, 128(SP)
	VCVTPS2PH $0, Z17, 160(SP)
	Q41_BLOCK(0, q41_s0)
	Q41_BLOCK(1, q41_s1)
	Q41_BLOCK(2, q41_s2)
	Q41_BLOCK(3, q41_s3)
	Q41_BLOCK(4, q41_s4)
	Q41_BLOCK(5, q41_s5)
	Q41_BLOCK(6, q41_s6)
	Q41_BLOCK(7, q41_s7)
	Q41_BLOCK(8, q41_s8)
	Q41_BLOCK(9, q41_s9)
	Q41_BLOCK(10, q41_s10)
	Q41_BLOCK(11, q41_s11)
	Q41_BLOCK(12, q41_s12)
	Q41_BLOCK(13, q41_s13)
	Q41_BLOCK(14, q41_s14)
	Q41_BLOCK(15, q41_s15)
	MOVL R12, (R8)
	ADDQ $2048, SI
	ADDQ $320, DI
	ADDQ $4, R8
	DECQ R9
	JNZ q41_group
	VZEROUPPER
	RET
