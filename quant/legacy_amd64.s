//go:build amd64 && !noasm

#include "textflag.h"

// AVX2 block loops of the legacy types (no imatrix); each processes nb
// whole blocks of 32 floats. References: q4_0BlocksGeneric …
// q5_1BlocksGeneric in legacy.go, i.e. ggml's quantize_row_q4_0_ref …
// quantize_row_q5_1_ref. No FMA: x*id is rounded before the offset is
// added. Float→int conversion is VCVTTPS2DQ, whose result for NaN and
// out-of-range values (0x80000000) leaves the same low bits as C's
// conversion to int8/uint8 on x86; the levels are masked to their 4 or 5
// bits before packing. fp16 scales use VCVTPS2PH with round-to-nearest-
// even, which equals ggml's conversion for every non-NaN value (the scales
// here are never NaN).

#define BCAST32(c, x, y) MOVL $c, AX; VMOVD AX, x; VPBROADCASTD x, y

// SCALAR32(c, x) loads the float32 bits c into the low lane of x.
#define SCALAR32(c, x) MOVL $c, AX; VMOVD AX, x

// Constants (8 lanes each).
#define CONST8(name, v) \
	DATA name<>+0(SB)/4, $v; DATA name<>+4(SB)/4, $v; DATA name<>+8(SB)/4, $v; DATA name<>+12(SB)/4, $v; \
	DATA name<>+16(SB)/4, $v; DATA name<>+20(SB)/4, $v; DATA name<>+24(SB)/4, $v; DATA name<>+28(SB)/4, $v; \
	GLOBL name<>(SB), RODATA|NOPTR, $32

CONST8(cAbs, 0x7FFFFFFF)
CONST8(cNeg, 0x80000000)
CONST8(c8h, 0x41080000)   // 8.5
CONST8(c16h, 0x41840000)  // 16.5
CONST8(cHalf, 0x3F000000) // 0.5
CONST8(cI15, 15)
CONST8(cI31, 31)
CONST8(c0F, 0x0F)
CONST8(cFF, 0xFF)

// q80perm puts the dwords of VPACKUSWB's lane-interleaved result in order.
DATA q80perm<>+0(SB)/4, $0
DATA q80perm<>+4(SB)/4, $4
DATA q80perm<>+8(SB)/4, $1
DATA q80perm<>+12(SB)/4, $5
DATA q80perm<>+16(SB)/4, $2
DATA q80perm<>+20(SB)/4, $6
DATA q80perm<>+24(SB)/4, $3
DATA q80perm<>+28(SB)/4, $7
GLOBL q80perm<>(SB), RODATA|NOPTR, $32
CONST8(cHalfDown, 0x3EFFFFFF) // 0.49999997, the float just below 0.5

// LOAD4 loads the block at SI into Y0..Y3.
#define LOAD4 \
	VMOVUPS (SI), Y0 \
	VMOVUPS 32(SI), Y1 \
	VMOVUPS 64(SI), Y2 \
	VMOVUPS 96(SI), Y3

// MASK32(A, B, C, D) sets AX to the 32-bit mask of the sign bits of the
// four vectors (element e of the block ↔ bit e). Clobbers BX, R10, R11.
#define MASK32(A, B, C, D) \
	VMOVMSKPS A, AX \
	VMOVMSKPS B, BX \
	VMOVMSKPS C, R10 \
	VMOVMSKPS D, R11 \
	SHLL $8, BX \
	SHLL $16, R10 \
	SHLL $24, R11 \
	ORL BX, AX \
	ORL R10, AX \
	ORL R11, AX

// ABSMAX_FIRST leaves in X9 the first element of the block with the
// largest magnitude (sign kept), +0 for an all-zero block, like ggml's
// scan `if (amax < fabsf(v)) { amax = fabsf(v); max = v; }`. With
// M+ = max(x) and M- = min(x): if M+ > -M- the answer is M+, if M+ < -M- it
// is M-; only when M+ == -M- (both signs reach the largest magnitude, or
// the block is all zero) does the position matter, and that rare case
// takes the exact scan for the first index. Clobbers Y4..Y9, AX, BX, R10,
// R11.
#define ABSMAX_FIRST(tie, done) \
	VMAXPS Y1, Y0, Y8 \
	VMAXPS Y3, Y2, Y9 \
	VMAXPS Y9, Y8, Y8 \
	VMINPS Y1, Y0, Y4 \
	VMINPS Y3, Y2, Y5 \
	VMINPS Y5, Y4, Y4 \
	VPERM2F128 $1, Y8, Y8, Y9 \
	VPERM2F128 $1, Y4, Y4, Y5 \
	VMAXPS Y9, Y8, Y8 \
	VMINPS Y5, Y4, Y4 \
	VPERMILPS $0x4E, Y8, Y9 \
	VPERMILPS $0x4E, Y4, Y5 \
	VMAXPS Y9, Y8, Y8 \
	VMINPS Y5, Y4, Y4 \
	VPERMILPS $0xB1, Y8, Y9 \
	VPERMILPS $0xB1, Y4, Y5 \
	VMAXPS X9, X8, X8 \
	VMINPS X5, X4, X4 \
	VXORPS cNeg<>(SB), X4, X5 \
	VCMPSS $0x1E, X5, X8, X6 \
	VBLENDVPS X6, X8, X4, X9 \
	VUCOMISS X5, X8 \
	JNE done \
	VXORPS X9, X9, X9 \
	VUCOMISS X9, X8 \
	JE done \
	VANDPS cAbs<>(SB), Y0, Y4 \
	VANDPS cAbs<>(SB), Y1, Y5 \
	VANDPS cAbs<>(SB), Y2, Y6 \
	VANDPS cAbs<>(SB), Y3, Y7 \
	VANDPS cAbs<>(SB), X8, X8 \
	VBROADCASTSS X8, Y8 \
	VPCMPEQD Y8, Y4, Y4 \
	VPCMPEQD Y8, Y5, Y5 \
	VPCMPEQD Y8, Y6, Y6 \
	VPCMPEQD Y8, Y7, Y7 \
	MASK32(Y4, Y5, Y6, Y7) \
	BSFL AX, AX \
	VMOVSS (SI)(AX*4), X9 \
done:

// HMIN / HMAX reduce Y8 to its minimum / maximum in every lane.
#define HREDUCE(OP) \
	VPERM2F128 $1, Y8, Y8, Y9 \
	OP Y9, Y8, Y8 \
	VPERMILPS $0x4E, Y8, Y9 \
	OP Y9, Y8, Y8 \
	VPERMILPS $0xB1, Y8, Y9 \
	OP Y9, Y8, Y8

// FIRST_ZERO(X) replaces the zero in X (±0) by the first element of the
// block equal to zero, so that its sign is the one ggml's sequential
// min/max scan keeps. Clobbers Y4..Y7, AX, BX, R10, R11.
#define FIRST_ZERO(X, label) \
	VXORPS Y4, Y4, Y4 \
	VUCOMISS X4, X \
	JNE label \
	VCMPPS $0, Y4, Y0, Y5 \
	VCMPPS $0, Y4, Y1, Y6 \
	VCMPPS $0, Y4, Y2, Y7 \
	VCMPPS $0, Y4, Y3, Y4 \
	MASK32(Y5, Y6, Y7, Y4) \
	BSFL AX, AX \
	VMOVSS (SI)(AX*4), X \
label:

// MINMAX leaves the block's min in X10 and max in X11 (ggml: strict
// comparisons from ±FLT_MAX, so among equal values the first one). Both
// are reduced together, the min as the max of the negated values.
#define MINMAX(l1, l2) \
	VMINPS Y1, Y0, Y8 \
	VMINPS Y3, Y2, Y9 \
	VMINPS Y9, Y8, Y8 \
	VMAXPS Y1, Y0, Y4 \
	VMAXPS Y3, Y2, Y5 \
	VMAXPS Y5, Y4, Y4 \
	VXORPS cNeg<>(SB), Y8, Y8 \
	VPERM2F128 $0x20, Y8, Y4, Y5 \
	VPERM2F128 $0x31, Y8, Y4, Y6 \
	VMAXPS Y6, Y5, Y5 \
	VPERMILPS $0x4E, Y5, Y6 \
	VMAXPS Y6, Y5, Y5 \
	VPERMILPS $0xB1, Y5, Y6 \
	VMAXPS Y6, Y5, Y5 \
	VMOVAPS X5, X11 \
	VEXTRACTF128 $1, Y5, X10 \
	VXORPS cNeg<>(SB), X10, X10 \
	FIRST_ZERO(X10, l1) \
	FIRST_ZERO(X11, l2)

// INV_SCALE sets Y12 to the broadcast of (X9 != 0 ? 1/X9 : 0).
#define INV_SCALE \
	SCALAR32(0x3F800000, X12) \
	VDIVSS X9, X12, X12 \
	VXORPS X13, X13, X13 \
	VCMPSS $4, X13, X9, X13 \
	VANDPS X13, X12, X12 \
	VBROADCASTSS X12, Y12

// PUT_F16(X, off) stores fp16(X) at off(DI).
#define PUT_F16(X, off) \
	VCVTPS2PH $0, X, X13 \
	VMOVD X13, AX \
	MOVW AX, off(DI)

// QUANT(Y, OFF, MAXQ): Y = min(MAXQ, int32(Y*Y12 + OFF)).
//
// No mask is needed before packing: with a finite id the levels are in
// 0..MAXQ, and the only other result, 0x80000000 from VCVTTPS2DQ for NaN or
// ±Inf, has zero low bits like C's conversion and packs to 0 (unsigned
// saturation). It occurs either for every element of a block (id = ±Inf)
// or next to levels that are all 0 (Q4_1/Q5_1 with max − min = +Inf, id =
// 0), so OR-ing two levels into a byte never loses a nonzero nibble.
#define QUANT(Y, OFF, MAXQ) \
	VMULPS Y12, Y, Y \
	VADDPS OFF, Y, Y \
	VCVTTPS2DQ Y, Y \
	VPMINSD MAXQ, Y, Y

// Q8_ROUND(Y): Y = int32(trunc(v + copysign(0.49999997, v))) & 0xFF with
// v = Y*Y12 (= roundf(x*id) cut to 8 bits). Needs Y14 = sign mask,
// Y11 = 0.49999997, Y10 = 0xFF; clobbers Y13.
#define Q8_ROUND(Y) \
	VMULPS Y12, Y, Y \
	VANDPS Y14, Y, Y13 \
	VORPS Y11, Y13, Y13 \
	VADDPS Y13, Y, Y \
	VCVTTPS2DQ Y, Y \
	VPAND Y10, Y, Y

// QUANT_NOMIN(Y, OFF): Y = int32(Y*Y12 + OFF) (see QUANT).
#define QUANT_NOMIN(Y, OFF) \
	VMULPS Y12, Y, Y \
	VADDPS OFF, Y, Y \
	VCVTTPS2DQ Y, Y

// PUT_F16_PAIR stores fp16(X9) at 0(DI) and fp16(X10) at 2(DI).
#define PUT_F16_PAIR \
	VUNPCKLPS X10, X9, X13 \
	VCVTPS2PH $0, X13, X13 \
	VMOVD X13, AX \
	MOVL AX, (DI)

// PACK_NIBBLES(off) stores 16 bytes at off(DI): byte j = q[j] | q[j+16]<<4,
// with the 4-bit levels of elements 0-7, 8-15, 16-23, 24-31 in Y0..Y3.
#define PACK_NIBBLES(off) \
	VPSLLD $4, Y2, Y2 \
	VPOR Y2, Y0, Y0 \
	VPSLLD $4, Y3, Y3 \
	VPOR Y3, Y1, Y1 \
	VPACKUSDW Y1, Y0, Y0 \
	VPERMQ $0xD8, Y0, Y0 \
	VEXTRACTI128 $1, Y0, X1 \
	VPACKUSWB X1, X0, X0 \
	VMOVDQU X0, off(DI)

// QH_BITS stores at off(DI) the u32 whose bit e is bit 4 of level e
// (levels in Y0..Y3), then keeps only the low nibbles in Y0..Y3.
#define QH_BITS(off) \
	VPSLLD $27, Y0, Y4 \
	VPSLLD $27, Y1, Y5 \
	VPSLLD $27, Y2, Y6 \
	VPSLLD $27, Y3, Y7 \
	MASK32(Y4, Y5, Y6, Y7) \
	MOVL AX, off(DI) \
	VPAND c0F<>(SB), Y0, Y0 \
	VPAND c0F<>(SB), Y1, Y1 \
	VPAND c0F<>(SB), Y2, Y2 \
	VPAND c0F<>(SB), Y3, Y3

// func q4_0BlocksAVX2(dst *byte, src *float32, nb int)
//
// Reference: q4_0BlocksGeneric. Per block: max = first x with the largest
// |x|; d = max/-8; id = d != 0 ? 1/d : 0; y = fp16(d);
// q[j] = min(15, int(x[j]*id + 8.5)); byte j = q[j] | q[j+16]<<4.
TEXT ·q4_0BlocksAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ nb+16(FP), CX
	TESTQ CX, CX
	JZ q40_end
	VMOVUPS c8h<>(SB), Y10
	VMOVUPS cI15<>(SB), Y11
q40_loop:
	LOAD4
	ABSMAX_FIRST(q40_tie, q40_max)
	SCALAR32(0xC1000000, X13)      // -8
	VDIVSS X13, X9, X9             // d = max / -8
	PUT_F16(X9, 0)
	INV_SCALE
	QUANT(Y0, Y10, Y11)
	QUANT(Y1, Y10, Y11)
	QUANT(Y2, Y10, Y11)
	QUANT(Y3, Y10, Y11)
	PACK_NIBBLES(2)
	ADDQ $128, SI
	ADDQ $18, DI
	DECQ CX
	JNZ q40_loop
q40_end:
	VZEROUPPER
	RET

// func q5_0BlocksAVX2(dst *byte, src *float32, nb int)
//
// Reference: q5_0BlocksGeneric. Per block: d = max/-16;
// q[j] = min(31, int(x[j]*id + 16.5)); qh bit j = bit 4 of q[j];
// byte j = (q[j] & 15) | (q[j+16] & 15)<<4.
TEXT ·q5_0BlocksAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ nb+16(FP), CX
	TESTQ CX, CX
	JZ q50_end
	VMOVUPS c16h<>(SB), Y10
	VMOVUPS cI31<>(SB), Y11
q50_loop:
	LOAD4
	ABSMAX_FIRST(q50_tie, q50_max)
	SCALAR32(0xC1800000, X13)      // -16
	VDIVSS X13, X9, X9             // d = max / -16
	PUT_F16(X9, 0)
	INV_SCALE
	QUANT(Y0, Y10, Y11)
	QUANT(Y1, Y10, Y11)
	QUANT(Y2, Y10, Y11)
	QUANT(Y3, Y10, Y11)
	QH_BITS(2)
	PACK_NIBBLES(6)
	ADDQ $128, SI
	ADDQ $22, DI
	DECQ CX
	JNZ q50_loop
q50_end:
	VZEROUPPER
	RET

// func q4_1BlocksAVX2(dst *byte, src *float32, nb int)
//
// Reference: q4_1BlocksGeneric. Per block: min, max (first of equal
// values); d = (max-min)/15; id = d != 0 ? 1/d : 0; y = fp16(d), fp16(min);
// q[j] = min(15, int((x[j]-min)*id + 0.5)).
TEXT ·q4_1BlocksAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ nb+16(FP), CX
	TESTQ CX, CX
	JZ q41_end
	VMOVUPS cHalf<>(SB), Y14
	VMOVUPS cI15<>(SB), Y15
q41_loop:
	LOAD4
	MINMAX(q41_z1, q41_z2)
	VSUBSS X10, X11, X9            // max - min
	SCALAR32(0x41700000, X12)      // 15
	VDIVSS X12, X9, X9             // d
	PUT_F16_PAIR
	INV_SCALE
	VBROADCASTSS X10, Y10          // min
	VSUBPS Y10, Y0, Y0             // x - min
	VSUBPS Y10, Y1, Y1
	VSUBPS Y10, Y2, Y2
	VSUBPS Y10, Y3, Y3
	QUANT(Y0, Y14, Y15)
	QUANT(Y1, Y14, Y15)
	QUANT(Y2, Y14, Y15)
	QUANT(Y3, Y14, Y15)
	PACK_NIBBLES(4)
	ADDQ $128, SI
	ADDQ $20, DI
	DECQ CX
	JNZ q41_loop
q41_end:
	VZEROUPPER
	RET

// func q5_1BlocksAVX2(dst *byte, src *float32, nb int)
//
// Reference: q5_1BlocksGeneric. Per block: d = (max-min)/31;
// q[j] = uint8(int((x[j]-min)*id + 0.5)); qh and nibbles as Q5_0.
TEXT ·q5_1BlocksAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ nb+16(FP), CX
	TESTQ CX, CX
	JZ q51_end
	VMOVUPS cHalf<>(SB), Y14
q51_loop:
	LOAD4
	MINMAX(q51_z1, q51_z2)
	VSUBSS X10, X11, X9            // max - min
	SCALAR32(0x41F80000, X12)      // 31
	VDIVSS X12, X9, X9             // d
	PUT_F16_PAIR
	INV_SCALE
	VBROADCASTSS X10, Y10          // min
	VSUBPS Y10, Y0, Y0             // x - min
	VSUBPS Y10, Y1, Y1
	VSUBPS Y10, Y2, Y2
	VSUBPS Y10, Y3, Y3
	QUANT_NOMIN(Y0, Y14)
	QUANT_NOMIN(Y1, Y14)
	QUANT_NOMIN(Y2, Y14)
	QUANT_NOMIN(Y3, Y14)
	QH_BITS(4)
	PACK_NIBBLES(8)
	ADDQ $128, SI
	ADDQ $24, DI
	DECQ CX
	JNZ q51_loop
q51_end:
	VZEROUPPER
	RET
