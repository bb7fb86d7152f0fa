//go:build amd64 && !noasm

// AVX2 + F16C kernels. Each routine's contract and the Go loop it implements
// are in kernels_amd64.go. No FMA instruction is used anywhere: every float
// operation is one IEEE binary32 operation rounded to nearest even (MXCSR
// default), as in the reference. Operands are in Go order: sources first,
// destination last.

#include "textflag.h"

// BCAST32 broadcasts the 32-bit constant c into the YMM register r.
#define BCAST32(c, r, xr) MOVL $c, AX; VMOVD AX, xr; VPBROADCASTD xr, r

// FINITE(acc, accx, ret) stores into ret whether the largest magnitude
// bits, lane-wise in acc, are below those of +Inf (infBits in float.go);
// clobbers X0, X1, AX, BX.
#define FINITE(acc, accx, ret) \
	VEXTRACTI128 $1, acc, X0; \
	VPMAXUD X0, accx, X0; \
	VPSHUFD $0x4E, X0, X1; \
	VPMAXUD X1, X0, X0; \
	VPSHUFD $0xB1, X0, X1; \
	VPMAXUD X1, X0, X0; \
	VMOVD   X0, AX; \
	XORL    BX, BX; \
	CMPL    AX, $0x7F800000; \
	SETCS   BX; \
	MOVB    BX, ret

// The element-wise routines come in two loops that differ only in the
// store: VMOVDQU, or VMOVNTDQ (non-temporal, for outputs that would only
// evict useful cache lines; the caller aligns dst to 32 bytes, and SFENCE
// orders the stores before the routine returns). Each loop body is a macro
// taking the store instruction.

// func f32ToF16AVX2(dst []byte, src []float32, nt bool)
#define F16ENC_STEP(STORE) \
	VMOVUPS (SI), Y0; \
	VMOVUPS 32(SI), Y1; \
	VPAND   Y13, Y0, Y6 /* magnitudes, for the finiteness check */; \
	VPAND   Y13, Y1, Y7; \
	VPMAXUD Y6, Y12, Y12; \
	VPMAXUD Y7, Y12, Y12; \
	/* NaN lanes become sign|0x7FC00000, which VCVTPS2PH narrows to sign|0x7E00. */ \
	VCMPPS  $3, Y0, Y0, Y2 /* unordered with itself: NaN */; \
	VCMPPS  $3, Y1, Y1, Y3; \
	VANDPS  Y15, Y0, Y4; \
	VANDPS  Y15, Y1, Y5; \
	VORPS   Y14, Y4, Y4; \
	VORPS   Y14, Y5, Y5; \
	VBLENDVPS Y2, Y4, Y0, Y0 /* Y0 = NaN ? Y4 : Y0 */; \
	VBLENDVPS Y3, Y5, Y1, Y1; \
	VCVTPS2PH $0, Y0, X0 /* imm 0: round to nearest even */; \
	VCVTPS2PH $0, Y1, X1; \
	VINSERTI128 $1, X1, Y0, Y0; \
	STORE   Y0, (DI); \
	ADDQ $64, SI; \
	ADDQ $32, DI

TEXT ·f32ToF16AVX2(SB), NOSPLIT, $0-57
	MOVQ dst_base+0(FP), DI
	MOVQ src_base+24(FP), SI
	MOVQ src_len+32(FP), CX
	VPXOR Y12, Y12, Y12               // largest magnitude bits seen
	SHRQ $4, CX                       // steps of 16 values
	JZ   f16enc_done
	BCAST32(0x80000000, Y15, X15)     // sign bit
	BCAST32(0x7FC00000, Y14, X14)     // quiet NaN, empty payload
	BCAST32(0x7FFFFFFF, Y13, X13)     // magnitude mask
	CMPB nt+48(FP), $0
	JNE  f16enc_nt

f16enc_loop:
	F16ENC_STEP(VMOVDQU)
	DECQ CX
	JNZ  f16enc_loop
	JMP  f16enc_done

f16enc_nt:
	F16ENC_STEP(VMOVNTDQ)
	DECQ CX
	JNZ  f16enc_nt
	SFENCE

f16enc_done:
	FINITE(Y12, X12, finite+56(FP))
	VZEROUPPER
	RET

// func f16ToF32AVX2(dst []float32, src []byte, nt bool)
#define F16DEC_STEP(STORE) \
	VCVTPH2PS (SI), Y0; \
	VCVTPH2PS 16(SI), Y1; \
	/* VCVTPH2PS keeps a signalling NaN signalling; ggml's conversion quiets it. */ \
	VCMPPS  $3, Y0, Y0, Y2 /* NaN lanes */; \
	VCMPPS  $3, Y1, Y1, Y3; \
	VANDPS  Y15, Y2, Y2; \
	VANDPS  Y15, Y3, Y3; \
	VORPS   Y2, Y0, Y0; \
	VORPS   Y3, Y1, Y1; \
	STORE   Y0, (DI); \
	STORE   Y1, 32(DI); \
	ADDQ $32, SI; \
	ADDQ $64, DI

TEXT ·f16ToF32AVX2(SB), NOSPLIT, $0-49
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), CX
	MOVQ src_base+24(FP), SI
	SHRQ $4, CX
	JZ   f16dec_done
	BCAST32(0x00400000, Y15, X15)     // the quiet bit
	CMPB nt+48(FP), $0
	JNE  f16dec_nt

f16dec_loop:
	F16DEC_STEP(VMOVUPS)
	DECQ CX
	JNZ  f16dec_loop
	VZEROUPPER
	RET

f16dec_nt:
	F16DEC_STEP(VMOVNTPS)
	DECQ CX
	JNZ  f16dec_nt
	SFENCE
	VZEROUPPER

f16dec_done:
	RET

// func f32ToBF16AVX2(dst []byte, src []float32, nt bool)
#define BF16ENC_STEP(STORE) \
	VMOVDQU (SI), Y0; \
	VMOVDQU 32(SI), Y1; \
	/* rounded: u + 0x7FFF + ((u >> 16) & 1) */ \
	VPSRLD  $16, Y0, Y2; \
	VPSRLD  $16, Y1, Y3; \
	VPAND   Y13, Y2, Y2; \
	VPAND   Y13, Y3, Y3; \
	VPADDD  Y12, Y2, Y2; \
	VPADDD  Y12, Y3, Y3; \
	VPADDD  Y0, Y2, Y2; \
	VPADDD  Y1, Y3, Y3; \
	/* NaN: u | 0x00400000 */ \
	VPAND   Y15, Y0, Y4; \
	VPAND   Y15, Y1, Y5; \
	VPMAXUD Y4, Y10, Y10 /* largest magnitude, for the finiteness check */; \
	VPMAXUD Y5, Y10, Y10; \
	VPCMPGTD Y14, Y4, Y4 /* |u| > 0x7F800000 (signed compare of non-negative values) */; \
	VPCMPGTD Y14, Y5, Y5; \
	VPOR    Y11, Y0, Y0; \
	VPOR    Y11, Y1, Y1; \
	VPBLENDVB Y4, Y0, Y2, Y2 /* Y2 = NaN ? Y0 : Y2 */; \
	VPBLENDVB Y5, Y1, Y3, Y3; \
	VPSRLD  $16, Y2, Y2; \
	VPSRLD  $16, Y3, Y3; \
	VPACKUSDW Y3, Y2, Y2 /* 16-bit lanes, 64-bit groups in order 0 2 1 3 */; \
	VPERMQ  $0xD8, Y2, Y2; \
	STORE   Y2, (DI); \
	ADDQ $64, SI; \
	ADDQ $32, DI

TEXT ·f32ToBF16AVX2(SB), NOSPLIT, $0-57
	MOVQ dst_base+0(FP), DI
	MOVQ src_base+24(FP), SI
	MOVQ src_len+32(FP), CX
	VPXOR Y10, Y10, Y10               // largest magnitude bits seen
	SHRQ $4, CX
	JZ   bf16enc_done
	BCAST32(0x7FFFFFFF, Y15, X15)     // magnitude mask
	BCAST32(0x7F800000, Y14, X14)     // +Inf: magnitudes above it are NaN
	BCAST32(0x00000001, Y13, X13)
	BCAST32(0x00007FFF, Y12, X12)
	BCAST32(0x00400000, Y11, X11)     // the quiet bit
	CMPB nt+48(FP), $0
	JNE  bf16enc_nt

bf16enc_loop:
	BF16ENC_STEP(VMOVDQU)
	DECQ CX
	JNZ  bf16enc_loop
	JMP  bf16enc_done

bf16enc_nt:
	BF16ENC_STEP(VMOVNTDQ)
	DECQ CX
	JNZ  bf16enc_nt
	SFENCE

bf16enc_done:
	FINITE(Y10, X10, finite+56(FP))
	VZEROUPPER
	RET

// func bf16ToF32AVX2(dst []float32, src []byte, nt bool)
#define BF16DEC_STEP(STORE) \
	VPMOVZXWD (SI), Y0; \
	VPMOVZXWD 16(SI), Y1; \
	VPSLLD $16, Y0, Y0; \
	VPSLLD $16, Y1, Y1; \
	STORE  Y0, (DI); \
	STORE  Y1, 32(DI); \
	ADDQ $32, SI; \
	ADDQ $64, DI

TEXT ·bf16ToF32AVX2(SB), NOSPLIT, $0-49
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), CX
	MOVQ src_base+24(FP), SI
	SHRQ $4, CX
	JZ   bf16dec_done
	CMPB nt+48(FP), $0
	JNE  bf16dec_nt

bf16dec_loop:
	BF16DEC_STEP(VMOVDQU)
	DECQ CX
	JNZ  bf16dec_loop
	VZEROUPPER
	RET

bf16dec_nt:
	BF16DEC_STEP(VMOVNTDQ)
	DECQ CX
	JNZ  bf16dec_nt
	SFENCE
	VZEROUPPER

bf16dec_done:
	RET

// func copyF32AVX2(dst []byte, src []float32, nt bool) (finite bool)
#define COPY_STEP(STORE) \
	VMOVDQU (SI), Y0; \
	VMOVDQU 32(SI), Y1; \
	VMOVDQU 64(SI), Y2; \
	VMOVDQU 96(SI), Y3; \
	VPAND   Y15, Y0, Y4 /* magnitudes */; \
	VPAND   Y15, Y1, Y5; \
	VPAND   Y15, Y2, Y6; \
	VPAND   Y15, Y3, Y7; \
	VPMAXUD Y5, Y4, Y4; \
	VPMAXUD Y7, Y6, Y6; \
	VPMAXUD Y6, Y4, Y4; \
	VPMAXUD Y4, Y12, Y12; \
	STORE   Y0, (DI); \
	STORE   Y1, 32(DI); \
	STORE   Y2, 64(DI); \
	STORE   Y3, 96(DI); \
	ADDQ $128, SI; \
	ADDQ $128, DI

TEXT ·copyF32AVX2(SB), NOSPLIT, $0-57
	MOVQ dst_base+0(FP), DI
	MOVQ src_base+24(FP), SI
	MOVQ src_len+32(FP), CX
	VPXOR Y12, Y12, Y12               // largest magnitude bits seen
	SHRQ $5, CX                       // steps of 32 values
	JZ   copy_done
	BCAST32(0x7FFFFFFF, Y15, X15)     // magnitude mask
	CMPB nt+48(FP), $0
	JNE  copy_nt

copy_loop:
	COPY_STEP(VMOVDQU)
	DECQ CX
	JNZ  copy_loop
	JMP  copy_done

copy_nt:
	COPY_STEP(VMOVNTDQ)
	DECQ CX
	JNZ  copy_nt
	SFENCE

copy_done:
	FINITE(Y12, X12, finite+56(FP))
	VZEROUPPER
	RET

// func copyNTAVX2(dst, src []byte)
TEXT ·copyNTAVX2(SB), NOSPLIT, $0-48
	MOVQ dst_base+0(FP), DI
	MOVQ src_base+24(FP), SI
	MOVQ src_len+32(FP), CX
	SHRQ $7, CX
	JZ   copynt_done

copynt_loop:
	VMOVDQU (SI), Y0
	VMOVDQU 32(SI), Y1
	VMOVDQU 64(SI), Y2
	VMOVDQU 96(SI), Y3
	VMOVNTDQ Y0, (DI)
	VMOVNTDQ Y1, 32(DI)
	VMOVNTDQ Y2, 64(DI)
	VMOVNTDQ Y3, 96(DI)
	ADDQ $128, SI
	ADDQ $128, DI
	DECQ CX
	JNZ  copynt_loop
	SFENCE
	VZEROUPPER

copynt_done:
	RET

// func quantizeQ8_0AVX2(dst []byte, src []float32)
//
// Blocks go in pairs: the lower 128-bit lane serves block A, the upper one
// block B, so the two share the horizontal maximum, the divisions and the
// fp16 conversion. The loop is software-pipelined: while it computes the
// quants of one pair it already runs the long dependency chain (maximum,
// two divisions) of the next. A last odd block goes alone.
//
// id = 1/d is replaced by 0 unless it is below +Inf: for d = 0, as in the
// reference, and for the tiny blocks whose 1/d overflows, where every x·id
// would be ±Inf or NaN and ggml's x86-64 conversion makes every quant 0,
// which x·0 gives too. All quants are then within ±127, so the saturating
// packs are exact.
//
// The maximum is taken on the sign-cleared bit patterns as unsigned
// integers: for finite floats that order is the numeric order.

DATA q8c127<>+0(SB)/8, $0x42FE000042FE0000
DATA q8c127<>+8(SB)/8, $0x42FE000042FE0000
DATA q8c127<>+16(SB)/8, $0x42FE000042FE0000
DATA q8c127<>+24(SB)/8, $0x42FE000042FE0000
GLOBL q8c127<>(SB), RODATA|NOPTR, $32

DATA q8cOne<>+0(SB)/8, $0x3F8000003F800000
DATA q8cOne<>+8(SB)/8, $0x3F8000003F800000
DATA q8cOne<>+16(SB)/8, $0x3F8000003F800000
DATA q8cOne<>+24(SB)/8, $0x3F8000003F800000
GLOBL q8cOne<>(SB), RODATA|NOPTR, $32

DATA q8cInf<>+0(SB)/8, $0x7F8000007F800000
DATA q8cInf<>+8(SB)/8, $0x7F8000007F800000
DATA q8cInf<>+16(SB)/8, $0x7F8000007F800000
DATA q8cInf<>+24(SB)/8, $0x7F8000007F800000
GLOBL q8cInf<>(SB), RODATA|NOPTR, $32

// Q8_AMAX(off, r): r = lane-wise maximum of |x| over the block at off(SI);
// clobbers Y0-Y3.
#define Q8_AMAX(off, r) \
	VPAND   off(SI), Y15, Y0; \
	VPAND   off+32(SI), Y15, Y1; \
	VPAND   off+64(SI), Y15, Y2; \
	VPAND   off+96(SI), Y15, Y3; \
	VPMAXUD Y1, Y0, Y0; \
	VPMAXUD Y3, Y2, Y2; \
	VPMAXUD Y2, Y0, r

// Q8_PAIR_IDS(off, out, idA, idB): for the blocks at off(SI) and
// off+128(SI), stores fp16(d) at out(DI) and out+34(DI) and leaves their id
// in every lane of idA and idB; clobbers Y0-Y3.
#define Q8_PAIR_IDS(off, out, idA, idB) \
	Q8_AMAX(off, idA); \
	Q8_AMAX(off+128, idB); \
	VPERM2I128 $0x20, idB, idA, Y0 /* A.lo | B.lo */; \
	VPERM2I128 $0x31, idB, idA, Y1 /* A.hi | B.hi */; \
	VPMAXUD Y1, Y0, Y0; \
	VPSHUFD $0x4E, Y0, Y1; \
	VPMAXUD Y1, Y0, Y0; \
	VPSHUFD $0xB1, Y0, Y1; \
	VPMAXUD Y1, Y0, Y0 /* amax: of A in the low lane, of B in the high one */; \
	VPMAXUD Y0, Y14, Y14 /* the largest magnitude so far */; \
	VDIVPS  q8c127<>(SB), Y0, Y0 /* d = amax / 127 */; \
	VCVTPS2PH $0, Y0, X1 /* fp16(d): A in word 0, B in word 4 */; \
	VPEXTRW $0, X1, AX; \
	MOVW    AX, out(DI); \
	VPEXTRW $4, X1, AX; \
	MOVW    AX, out+34(DI); \
	VMOVUPS q8cOne<>(SB), Y1; \
	VDIVPS  Y0, Y1, Y1 /* 1 / d */; \
	VCMPPS  $0x11, q8cInf<>(SB), Y1, Y2 /* 1/d < +Inf (LT_OQ) */; \
	VANDPS  Y2, Y1, Y1 /* id */; \
	VPERM2F128 $0x00, Y1, Y1, idA; \
	VPERM2F128 $0x11, Y1, Y1, idB

// Q8_QUANTS(off, id, out): the 32 quants of the block at off(SI), scaled by
// the id in every lane of id, stored at out(DI); clobbers Y0-Y7.
#define Q8_QUANTS(off, id, out) \
	VMULPS  off(SI), id, Y0 /* v = x * id */; \
	VMULPS  off+32(SI), id, Y1; \
	VMULPS  off+64(SI), id, Y2; \
	VMULPS  off+96(SI), id, Y3; \
	VANDNPS Y0, Y15, Y4 /* sign bits of v */; \
	VANDNPS Y1, Y15, Y5; \
	VANDNPS Y2, Y15, Y6; \
	VANDNPS Y3, Y15, Y7; \
	VORPS   Y11, Y4, Y4 /* copysign(0.49999997, v) */; \
	VORPS   Y11, Y5, Y5; \
	VORPS   Y11, Y6, Y6; \
	VORPS   Y11, Y7, Y7; \
	VADDPS  Y4, Y0, Y0; \
	VADDPS  Y5, Y1, Y1; \
	VADDPS  Y6, Y2, Y2; \
	VADDPS  Y7, Y3, Y3; \
	VCVTTPS2DQ Y0, Y0 /* truncate */; \
	VCVTTPS2DQ Y1, Y1; \
	VCVTTPS2DQ Y2, Y2; \
	VCVTTPS2DQ Y3, Y3; \
	VPACKSSDW Y1, Y0, Y0 /* per 128-bit lane: x0 x1 (8 words) */; \
	VPACKSSDW Y3, Y2, Y2; \
	VPACKSSWB Y2, Y0, Y0 /* per lane: 4-byte groups 0 8 16 24 | 4 12 20 28 */; \
	VPERMD  Y0, Y10, Y0; \
	VMOVDQU Y0, out(DI)

TEXT ·quantizeQ8_0AVX2(SB), NOSPLIT, $0-49
	MOVQ dst_base+0(FP), DI
	MOVQ src_base+24(FP), SI
	MOVQ src_len+32(FP), CX
	VPXOR Y14, Y14, Y14               // largest magnitude bits seen
	SHRQ $5, CX                       // blocks
	JZ   q8enc_end
	BCAST32(0x7FFFFFFF, Y15, X15)     // magnitude mask
	BCAST32(0x3EFFFFFF, Y11, X11)     // 0.49999997 = 0.5 - 2^-25
	// VPERMD indices that put the four 32-bit groups of each block back in
	// order after the in-lane packs: 0 4 1 5 2 6 3 7.
	MOVQ $0x0000000400000000, AX
	VMOVQ AX, X10
	MOVQ $0x0000000500000001, AX
	VPINSRQ $1, AX, X10, X10
	MOVQ $0x0000000600000002, AX
	VMOVQ AX, X9
	MOVQ $0x0000000700000003, AX
	VPINSRQ $1, AX, X9, X9
	VINSERTI128 $1, X9, Y10, Y10
	MOVQ CX, DX
	SHRQ $1, CX                       // pairs of blocks
	JZ   q8enc_single
	Q8_PAIR_IDS(0, 0, Y8, Y9)         // the first pair's ids
	DECQ CX
	JZ   q8enc_last_pair

q8enc_pair:
	Q8_PAIR_IDS(256, 68, Y12, Y13)    // the next pair's ids, ahead
	Q8_QUANTS(0, Y8, 2)
	Q8_QUANTS(128, Y9, 36)
	VMOVAPS Y12, Y8
	VMOVAPS Y13, Y9
	ADDQ $256, SI
	ADDQ $68, DI
	DECQ CX
	JNZ  q8enc_pair

q8enc_last_pair:
	Q8_QUANTS(0, Y8, 2)
	Q8_QUANTS(128, Y9, 36)
	ADDQ $256, SI
	ADDQ $68, DI

q8enc_single:
	ANDQ $1, DX
	JZ   q8enc_end
	Q8_AMAX(0, Y8)
	VEXTRACTI128 $1, Y8, X1
	VPMAXUD X1, X8, X0
	VPSHUFD $0x4E, X0, X1
	VPMAXUD X1, X0, X0
	VPSHUFD $0xB1, X0, X1
	VPMAXUD X1, X0, X0                // amax in every lane
	VPMAXUD Y0, Y14, Y14
	VDIVPS  q8c127<>(SB), X0, X0      // d = amax / 127
	VCVTPS2PH $0, X0, X1
	VPEXTRW $0, X1, AX
	MOVW    AX, (DI)
	VMOVUPS q8cOne<>(SB), X1
	VDIVPS  X0, X1, X1                // 1 / d
	VCMPPS  $0x11, q8cInf<>(SB), X1, X2 // 1/d < +Inf
	VANDPS  X2, X1, X1
	VINSERTF128 $1, X1, Y1, Y8        // id in all 8 lanes
	Q8_QUANTS(0, Y8, 2)

q8enc_end:
	FINITE(Y14, X14, finite+48(FP))
	VZEROUPPER
	RET

// func dequantizeQ8_0AVX2(dst []float32, src []byte, nt bool)
#define Q8DEC_STEP(STORE) \
	MOVWLZX (SI), AX; \
	VMOVD   AX, X0; \
	VCVTPH2PS X0, X0; \
	VBROADCASTSS X0, Y0 /* d */; \
	VPMOVSXBD 2(SI), Y1; \
	VPMOVSXBD 10(SI), Y2; \
	VPMOVSXBD 18(SI), Y3; \
	VPMOVSXBD 26(SI), Y4; \
	VCVTDQ2PS Y1, Y1; \
	VCVTDQ2PS Y2, Y2; \
	VCVTDQ2PS Y3, Y3; \
	VCVTDQ2PS Y4, Y4; \
	VMULPS  Y0, Y1, Y1; \
	VMULPS  Y0, Y2, Y2; \
	VMULPS  Y0, Y3, Y3; \
	VMULPS  Y0, Y4, Y4; \
	STORE   Y1, (DI); \
	STORE   Y2, 32(DI); \
	STORE   Y3, 64(DI); \
	STORE   Y4, 96(DI); \
	ADDQ $34, SI; \
	ADDQ $128, DI

TEXT ·dequantizeQ8_0AVX2(SB), NOSPLIT, $0-49
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), CX
	MOVQ src_base+24(FP), SI
	SHRQ $5, CX
	JZ   q8dec_done
	CMPB nt+48(FP), $0
	JNE  q8dec_nt

q8dec_loop:
	Q8DEC_STEP(VMOVUPS)
	DECQ CX
	JNZ  q8dec_loop
	VZEROUPPER
	RET

q8dec_nt:
	Q8DEC_STEP(VMOVNTPS)
	DECQ CX
	JNZ  q8dec_nt
	SFENCE
	VZEROUPPER

q8dec_done:
	RET

// func firstNonFiniteGroupAVX2(x []float32) int
TEXT ·firstNonFiniteGroupAVX2(SB), NOSPLIT, $0-32
	MOVQ x_base+0(FP), SI
	MOVQ x_len+8(FP), CX
	ANDQ $-32, CX
	XORQ BX, BX
	CMPQ BX, CX
	JEQ  nf_done
	BCAST32(0x7F800000, Y15, X15)     // exponent bits

nf_loop:
	VPAND   (SI)(BX*4), Y15, Y0
	VPAND   32(SI)(BX*4), Y15, Y1
	VPAND   64(SI)(BX*4), Y15, Y2
	VPAND   96(SI)(BX*4), Y15, Y3
	VPCMPEQD Y15, Y0, Y0
	VPCMPEQD Y15, Y1, Y1
	VPCMPEQD Y15, Y2, Y2
	VPCMPEQD Y15, Y3, Y3
	VPOR    Y1, Y0, Y0
	VPOR    Y3, Y2, Y2
	VPOR    Y2, Y0, Y0
	VPTEST  Y0, Y0
	JNZ     nf_found
	ADDQ $32, BX
	CMPQ BX, CX
	JNE  nf_loop

nf_found:
	VZEROUPPER

nf_done:
	MOVQ BX, ret+24(FP)
	RET

// Clears the sign of float64 lanes.
DATA absMask64<>+0(SB)/8, $0x7FFFFFFFFFFFFFFF
DATA absMask64<>+8(SB)/8, $0x7FFFFFFFFFFFFFFF
DATA absMask64<>+16(SB)/8, $0x7FFFFFFFFFFFFFFF
DATA absMask64<>+24(SB)/8, $0x7FFFFFFFFFFFFFFF
GLOBL absMask64<>(SB), RODATA|NOPTR, $32

// func errorLanesAVX2(x, y []float32, acc *[24]float64)
// Reference (errorLanesGeneric): for i < len(x)&^7, l = i%8:
//   a := float64(x[i]); d := float64(y[i]) - a
//   acc[l] += d*d; acc[8+l] += a*a; if |d| > acc[16+l] { acc[16+l] = |d| }
// Lanes 0–3 are the low YMM half (Y0 sums, Y2 squares, Y4 maxima), 4–7 the high.
TEXT ·errorLanesAVX2(SB), NOSPLIT, $0-56
	MOVQ x_base+0(FP), SI
	MOVQ x_len+8(FP), CX
	MOVQ y_base+24(FP), DI
	MOVQ acc+48(FP), DX
	SHRQ $3, CX
	JZ   el_done
	VMOVUPD 0(DX), Y0
	VMOVUPD 32(DX), Y1
	VMOVUPD 64(DX), Y2
	VMOVUPD 96(DX), Y3
	VMOVUPD 128(DX), Y4
	VMOVUPD 160(DX), Y5
	VMOVUPD absMask64<>(SB), Y15
el_loop:
	VCVTPS2PD 0(SI), Y6
	VCVTPS2PD 16(SI), Y7
	VCVTPS2PD 0(DI), Y8
	VCVTPS2PD 16(DI), Y9
	VSUBPD Y6, Y8, Y8
	VSUBPD Y7, Y9, Y9
	VMULPD Y8, Y8, Y10
	VADDPD Y10, Y0, Y0
	VMULPD Y9, Y9, Y11
	VADDPD Y11, Y1, Y1
	VMULPD Y6, Y6, Y12
	VADDPD Y12, Y2, Y2
	VMULPD Y7, Y7, Y13
	VADDPD Y13, Y3, Y3
	VANDPD Y15, Y8, Y8
	VANDPD Y15, Y9, Y9
	VMAXPD Y4, Y8, Y4
	VMAXPD Y5, Y9, Y5
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  el_loop
	VMOVUPD Y0, 0(DX)
	VMOVUPD Y1, 32(DX)
	VMOVUPD Y2, 64(DX)
	VMOVUPD Y3, 96(DX)
	VMOVUPD Y4, 128(DX)
	VMOVUPD Y5, 160(DX)
	VZEROUPPER
el_done:
	RET

// func errorLanesAVX512(x, y []float32, acc *[24]float64)
// Reference: errorLanesGeneric for the first len(x)&^7 elements, the same
// lanes as errorLanesAVX2: one ZMM holds lanes 0–7 as float64 (Z0 sums of
// d², Z1 sums of x², Z2 maxima of |d|), so each lane adds its elements in
// the same order with the same operations.
TEXT ·errorLanesAVX512(SB), NOSPLIT, $0-56
	MOVQ x_base+0(FP), SI
	MOVQ x_len+8(FP), CX
	MOVQ y_base+24(FP), DI
	MOVQ acc+48(FP), DX
	SHRQ $3, CX
	JZ   el5_done
	VMOVUPD 0(DX), Z0
	VMOVUPD 64(DX), Z1
	VMOVUPD 128(DX), Z2
	MOVQ $0x7FFFFFFFFFFFFFFF, AX
	VPBROADCASTQ AX, Z15
el5_loop:
	VCVTPS2PD 0(SI), Z6
	VCVTPS2PD 0(DI), Z8
	VSUBPD Z6, Z8, Z8
	VMULPD Z8, Z8, Z10
	VADDPD Z10, Z0, Z0
	VMULPD Z6, Z6, Z12
	VADDPD Z12, Z1, Z1
	VPANDQ Z15, Z8, Z8
	VMAXPD Z2, Z8, Z2
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  el5_loop
	VMOVUPD Z0, 0(DX)
	VMOVUPD Z1, 64(DX)
	VMOVUPD Z2, 128(DX)
	VZEROUPPER
el5_done:
	RET
