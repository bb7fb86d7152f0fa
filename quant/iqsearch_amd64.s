//go:build amd64 && !noasm

#include "textflag.h"

// AVX-512 kernels of the IQ1/IQ2 encoders; their generic twins and
// contracts are in iqsearch.go. No FMA is used: every product is rounded by
// VMULPS before a VADDPS/VSUBPS consumes it, and each lane does the generic
// twin's float32 operations in the same order (for VEX/EVEX instructions,
// Go's middle operand is the first source).

// iqSearchExpA/B expand the 8 coordinates to the 16 lanes 4·(i mod 4)+l
// of the error tables: lane → coordinate i (0..3 for A, 4..7 for B).
DATA iqSearchExpA<>+0(SB)/8, $0x0000000000000000
DATA iqSearchExpA<>+8(SB)/8, $0x0000000000000000
DATA iqSearchExpA<>+16(SB)/8, $0x0000000100000001
DATA iqSearchExpA<>+24(SB)/8, $0x0000000100000001
DATA iqSearchExpA<>+32(SB)/8, $0x0000000200000002
DATA iqSearchExpA<>+40(SB)/8, $0x0000000200000002
DATA iqSearchExpA<>+48(SB)/8, $0x0000000300000003
DATA iqSearchExpA<>+56(SB)/8, $0x0000000300000003
GLOBL iqSearchExpA<>(SB), RODATA|NOPTR, $64

DATA iqSearchExpB<>+0(SB)/8, $0x0000000400000004
DATA iqSearchExpB<>+8(SB)/8, $0x0000000400000004
DATA iqSearchExpB<>+16(SB)/8, $0x0000000500000005
DATA iqSearchExpB<>+24(SB)/8, $0x0000000500000005
DATA iqSearchExpB<>+32(SB)/8, $0x0000000600000006
DATA iqSearchExpB<>+40(SB)/8, $0x0000000600000006
DATA iqSearchExpB<>+48(SB)/8, $0x0000000700000007
DATA iqSearchExpB<>+56(SB)/8, $0x0000000700000007
GLOBL iqSearchExpB<>(SB), RODATA|NOPTR, $64

// iqSearchIota is the lane numbers 0..15.
DATA iqSearchIota<>+0(SB)/8, $0x0000000100000000
DATA iqSearchIota<>+8(SB)/8, $0x0000000300000002
DATA iqSearchIota<>+16(SB)/8, $0x0000000500000004
DATA iqSearchIota<>+24(SB)/8, $0x0000000700000006
DATA iqSearchIota<>+32(SB)/8, $0x0000000900000008
DATA iqSearchIota<>+40(SB)/8, $0x0000000B0000000A
DATA iqSearchIota<>+48(SB)/8, $0x0000000D0000000C
DATA iqSearchIota<>+56(SB)/8, $0x0000000F0000000E
GLOBL iqSearchIota<>(SB), RODATA|NOPTR, $64

// IQS_ARGS zeroes the result fails and loads the arguments both searches
// share: R8 tasks, BX n, R9 nib, R13 x, DI w, R12 lv.
#define IQS_ARGS \
	MOVQ $0, fails+56(FP) \
	MOVQ tasks+0(FP), R8 \
	MOVQ n+8(FP), BX \
	MOVQ nib+16(FP), R9 \
	MOVQ x+24(FP), R13 \
	MOVQ w+32(FP), DI \
	MOVQ lv+48(FP), R12

// WINNER_STORE stores the winning position AX in the task at R8, jumps to
// fail when it is negative (no neighbour below FLT_MAX), and otherwise, when
// lv (R12) is not nil, writes the winner's level word (its nibble word from
// SI, masked) to lv[lvoff] before it jumps to next.
#define WINNER_STORE(fail, next) \
	MOVL AX, 16(R8) \
	TESTL AX, AX \
	JS fail \
	TESTQ R12, R12 \
	JZ next \
	MOVL (SI)(AX*4), R11 \
	ANDL $0x33333333, R11 \
	MOVLQSX 12(R8), R10 \
	MOVL R11, (R12)(R10*4) \
	JMP next

// ERRADD adds the error of coordinate i (nibble i of the words in Z13,
// looked up in table tab) to the running sums Z14.
#define ERRADD(sh, tab) \
	VPSRLD $sh, Z13, Z15 \
	VPERMPS tab, Z15, Z15 \
	VADDPS Z15, Z14, Z14

// D2SUM sums the errors of the 8 coordinates of the words in Z13 into Z14,
// in coordinate order: e0 from EA (Z8, nibbles 0–3), then EB (Z9).
#define D2SUM \
	VPERMPS Z8, Z13, Z14 \
	ERRADD(4, Z8) \
	ERRADD(8, Z8) \
	ERRADD(12, Z8) \
	ERRADD(16, Z9) \
	ERRADD(20, Z9) \
	ERRADD(24, Z9) \
	ERRADD(28, Z9)

// ERRADD2 is ERRADD on two chunks at once: words Z13, sums Z14 and words
// Z26, sums Z27.
#define ERRADD2(sh, tab) \
	VPSRLD $sh, Z13, Z15 \
	VPSRLD $sh, Z26, Z28 \
	VPERMPS tab, Z15, Z15 \
	VPERMPS tab, Z28, Z28 \
	VADDPS Z15, Z14, Z14 \
	VADDPS Z28, Z27, Z27

// HMIN puts the smallest lane of src (no NaN) in every lane of dst.
#define HMIN(src, dst, tmp) \
	VSHUFF32X4 $0x4E, src, src, dst \
	VMINPS dst, src, dst \
	VSHUFF32X4 $0xB1, dst, dst, tmp \
	VMINPS tmp, dst, dst \
	VPERMILPS $0x4E, dst, tmp \
	VMINPS tmp, dst, dst \
	VPERMILPS $0xB1, dst, tmp \
	VMINPS tmp, dst, dst

// func iqSearchAVX512(tasks *iqTask, n int, nib *uint32, x, w *float32, xg *[4]float32, lv *uint32) (fails int)
//
// Reference: iqSearchGeneric. Per task: the error tables EA (Z8), EB (Z9)
// hold e[i][l] = (w_i·(s·xg[l] − x_i))·(s·xg[l] − x_i) at lane 4·(i mod 4)+l;
// 16 neighbours at a time, d2 = e0 + e1 + … + e7 in coordinate order by
// VPERMPS lookups of the nibble words; per lane, the first position of the
// lane's smallest d2 < FLT_MAX (strict <, so NaN never enters); then the
// smallest such value over lanes and, among the lanes holding it, the
// smallest position: ggml's first best in list order (for a list of at
// most 16 or 32, the first lane holding the smallest, in chunk 0 first). The winner's level word
// goes to lv[lvoff] when lv is not nil.
TEXT ·iqSearchAVX512(SB), NOSPLIT, $0-64
	IQS_ARGS
	MOVQ xg+40(FP), AX
	VBROADCASTF32X4 (AX), Z22      // xg[0..3] in every 128-bit lane
	TESTQ BX, BX
	JLE search_done
	VMOVDQU32 iqSearchExpA<>(SB), Z20
	VMOVDQU32 iqSearchExpB<>(SB), Z21
	VMOVDQU32 iqSearchIota<>(SB), Z24
	MOVL $0x7F7FFFFF, AX           // FLT_MAX
	VPBROADCASTD AX, Z23
	MOVL $16, AX
	VPBROADCASTD AX, Z25

search_task:
	MOVLQSX 0(R8), SI
	LEAQ (R9)(SI*4), SI            // the list's nibble words
	MOVL -4(SI), CX                // its length
	MOVL $-1, AX
	TESTQ CX, CX
	JLE search_store
	VBROADCASTSS 4(R8), Z0         // scale
	MOVLQSX 8(R8), R11
	VMOVUPS (R13)(R11*4), Y1       // x[0..7]
	VMOVUPS (DI)(R11*4), Y2        // w[0..7]
	VMULPS Z22, Z0, Z3             // sq = scale·xg[l]
	VPERMPS Z1, Z20, Z4            // x_i, coordinates 0..3
	VPERMPS Z1, Z21, Z5            // x_i, coordinates 4..7
	VPERMPS Z2, Z20, Z6            // w_i
	VPERMPS Z2, Z21, Z7
	VSUBPS Z4, Z3, Z4              // diff = sq − x
	VSUBPS Z5, Z3, Z5
	VMULPS Z4, Z6, Z6              // w·diff
	VMULPS Z5, Z7, Z7
	VMULPS Z4, Z6, Z8              // EA = (w·diff)·diff
	VMULPS Z5, Z7, Z9              // EB
	CMPQ CX, $16
	JGT search_two
	MOVL $0xFFFF, AX               // one chunk: no positions to track
	BZHIL CX, AX, AX
	KMOVW AX, K1
	VMOVDQU32.Z (SI), K1, Z13
	D2SUM
	VCMPPS $0x11, Z23, Z14, K1, K2 // d2 < FLT_MAX (LT_OQ), in the list
	VMOVAPS Z23, Z10
	VMOVAPS Z14, K2, Z10           // the candidates, FLT_MAX elsewhere
	HMIN(Z10, Z16, Z17)
	VCMPPS $0x00, Z16, Z10, K2, K3 // the candidates holding the smallest
	KMOVW K3, R11
	MOVL $-1, AX
	TZCNTL R11, R10
	TESTL R11, R11
	CMOVLNE R10, AX
	JMP search_store

search_two:
	CMPQ CX, $32
	JGT search_long
	MOVQ CX, R10                   // two chunks side by side: the first
	SUBQ $16, R10                  // lane of the smallest in chunk 0, or
	MOVL $0xFFFF, AX               // else in chunk 1
	BZHIL R10, AX, AX
	KMOVW AX, K1
	VMOVDQU32 (SI), Z13
	VMOVDQU32.Z 64(SI), K1, Z26
	VPERMPS Z8, Z13, Z14           // d2 = e0
	VPERMPS Z8, Z26, Z27
	ERRADD2(4, Z8)
	ERRADD2(8, Z8)
	ERRADD2(12, Z8)
	ERRADD2(16, Z9)
	ERRADD2(20, Z9)
	ERRADD2(24, Z9)
	ERRADD2(28, Z9)
	VCMPPS $0x11, Z23, Z14, K2     // chunk 0: d2 < FLT_MAX (LT_OQ)
	VCMPPS $0x11, Z23, Z27, K1, K4 // chunk 1: the same, in the list
	VMOVAPS Z23, Z10
	VMOVAPS Z14, K2, Z10
	VMOVAPS Z23, Z29
	VMOVAPS Z27, K4, Z29
	VMINPS Z29, Z10, Z30
	HMIN(Z30, Z16, Z17)
	VCMPPS $0x00, Z16, Z10, K2, K3
	KMOVW K3, R11
	TESTL R11, R11
	JZ search_two_b
	TZCNTL R11, AX
	JMP search_store

search_two_b:
	VCMPPS $0x00, Z16, Z29, K4, K5
	KMOVW K5, R11
	MOVL $-1, AX
	TZCNTL R11, R10
	ADDL $16, R10
	TESTL R11, R11
	CMOVLNE R10, AX
	JMP search_store

search_long:
	VMOVAPS Z23, Z10               // per-lane best d2
	VPXORD Z11, Z11, Z11           // per-lane best position
	VMOVDQA32 Z24, Z12             // positions of this chunk
	XORQ DX, DX

search_chunk:
	MOVQ CX, R10
	SUBQ DX, R10
	CMPQ R10, $16
	JLE search_mask
	MOVQ $16, R10

search_mask:
	MOVL $0xFFFF, AX
	BZHIL R10, AX, AX
	KMOVW AX, K1
	VMOVDQU32.Z (SI)(DX*4), K1, Z13
	D2SUM
	VCMPPS $0x11, Z10, Z14, K1, K2 // d2 < best (LT_OQ), in the list
	VMOVAPS Z14, K2, Z10
	VMOVDQA32 Z12, K2, Z11
	VPADDD Z25, Z12, Z12
	ADDQ $16, DX
	CMPQ DX, CX
	JLT search_chunk

	// smallest best over lanes
	HMIN(Z10, Z16, Z17)
	VCMPPS $0x00, Z16, Z10, K2     // lanes holding it
	VCMPPS $0x11, Z23, Z10, K2, K2 // that found one below FLT_MAX
	MOVL $-1, AX
	KORTESTW K2, K2
	JZ search_store
	VPTERNLOGD $0xFF, Z18, Z18, Z18 // all ones: no position
	VMOVDQA32 Z11, K2, Z18
	VSHUFI32X4 $0x4E, Z18, Z18, Z16
	VPMINUD Z16, Z18, Z18
	VSHUFI32X4 $0xB1, Z18, Z18, Z16
	VPMINUD Z16, Z18, Z18
	VPSHUFD $0x4E, Z18, Z16
	VPMINUD Z16, Z18, Z18
	VPSHUFD $0xB1, Z18, Z16
	VPMINUD Z16, Z18, Z18
	VMOVD X18, AX

search_store:
	WINNER_STORE(search_fail, search_next)

search_fail:
	INCQ fails+56(FP)

search_next:
	ADDQ $20, R8
	DECQ BX
	JNZ search_task

search_done:
	VZEROUPPER
	RET

// LEVEL computes the levels of element i for the 16 scales in Z0 and ORs
// them into the level words Z13 (<< 4i) and the packed indices Z12 (<< 2i).
#define LEVEL(i) \
	VBROADCASTSS (4*i)(SI), Z11 \
	VMULPS Z11, Z0, Z11 \
	VSUBPS Z2, Z11, Z11 \
	VMULPS Z5, Z11, Z11 \
	VADDPS Z6, Z11, Z11 \
	VPANDD Z7, Z11, Z11 \
	VPSUBD Z8, Z11, Z11 \
	VPMAXSD Z9, Z11, Z11 \
	VPMINSD Z10, Z11, Z11 \
	VPSLLD $(4*i), Z11, Z14 \
	VPORD Z14, Z13, Z13 \
	VPSLLD $(2*i), Z11, Z11 \
	VPORD Z11, Z12, Z12

// func iq2Levels16AVX512(x *float32, n int, num *[16]float32, div float32, id, sc *[16]float32, lv *[4][16]uint32, u *[4][16]int32)
//
// Reference: iq2LevelsGeneric. id = num/div, sc = 1/id; per lane,
// l = clamp(nearestInt(0.5·(id·x − 1)), 0, 2) with nearestInt's magic add
// (+1.5·2^23, low 23 bits, −2^22); lv[k] = Σ l_{8k+i} << 4i,
// u[k] = Σ l_{8k+i} << 2i.
TEXT ·iq2Levels16AVX512(SB), NOSPLIT, $0-64
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	MOVQ num+16(FP), AX
	VMOVUPS (AX), Z0
	VBROADCASTSS div+24(FP), Z1
	VDIVPS Z1, Z0, Z0              // id = num/div
	MOVQ id+32(FP), AX
	VMOVUPS Z0, (AX)
	MOVL $0x3F800000, AX           // 1
	VPBROADCASTD AX, Z2
	VDIVPS Z0, Z2, Z3              // 1/id
	MOVQ sc+40(FP), AX
	VMOVUPS Z3, (AX)
	MOVL $0x3F000000, AX           // 0.5
	VPBROADCASTD AX, Z5
	MOVL $0x4B400000, AX           // 12582912
	VPBROADCASTD AX, Z6
	MOVL $0x007FFFFF, AX
	VPBROADCASTD AX, Z7
	MOVL $0x00400000, AX
	VPBROADCASTD AX, Z8
	VPXORD Z9, Z9, Z9
	MOVL $2, AX
	VPBROADCASTD AX, Z10
	MOVQ lv+48(FP), DI
	MOVQ u+56(FP), DX

levels_group:
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	LEVEL(0)
	LEVEL(1)
	LEVEL(2)
	LEVEL(3)
	LEVEL(4)
	LEVEL(5)
	LEVEL(6)
	LEVEL(7)
	VMOVDQU32 Z12, (DX)
	VMOVDQU32 Z13, (DI)
	ADDQ $32, SI
	ADDQ $64, DI
	ADDQ $64, DX
	SUBQ $8, CX
	JG levels_group
	VZEROUPPER
	RET

// SUM adds element j of the group in Z7 (level word lanes) to the sums.
#define SUM(j) \
	VPSRLD $(4*j), Z7, Z3 \
	VPANDD Z8, Z3, Z3 \
	VBROADCASTF32X4 (16*j)(BX), Z4 \
	VPERMPS Z4, Z3, Z5 \
	VPADDD Z3, Z3, Z3 \
	VPADDD Z2, Z3, Z3 \
	VCVTDQ2PS Z3, Z3 \
	VBROADCASTSS (4*j)(DX), Z6 \
	VMULPS Z3, Z6, Z6 \
	VADDPS Z6, Z0, Z0 \
	VADDPS Z5, Z1, Z1

// func iq2Sums16AVX512(lv *[4][16]uint32, n int, wx *[32]float32, wq2 *[32][4]float32, out *[2][16]float32)
//
// Reference: iq2SumsGeneric. Per lane, over i < n (a multiple of 8) in
// order, l = bits 4(i mod 8) of the level word lv[i/8], q = 2l+1:
// sumqx += wx[i]·q; sumq2 += wq2[i][l] (a VPERMPS lookup in the row).
TEXT ·iq2Sums16AVX512(SB), NOSPLIT, $0-40
	MOVQ lv+0(FP), SI
	MOVQ n+8(FP), CX
	MOVQ wx+16(FP), DX
	MOVQ wq2+24(FP), BX
	VPXORD Z0, Z0, Z0              // sumqx
	VPXORD Z1, Z1, Z1              // sumq2
	MOVL $1, AX
	VPBROADCASTD AX, Z2
	MOVL $3, AX
	VPBROADCASTD AX, Z8

sums_group:
	VMOVDQU32 (SI), Z7
	SUM(0)
	SUM(1)
	SUM(2)
	SUM(3)
	SUM(4)
	SUM(5)
	SUM(6)
	SUM(7)
	ADDQ $64, SI
	ADDQ $32, DX
	ADDQ $128, BX
	SUBQ $8, CX
	JG sums_group
	MOVQ out+32(FP), AX
	VMOVUPS Z0, (AX)
	VMOVUPS Z1, 64(AX)
	VZEROUPPER
	RET

// func qpMse16AVX512(x, qw *float32, n int, is, sc *[16]float32, nmax int32, mse *[16]float32)
//
// Reference: qpMseGeneric. Per lane, over i < n in order:
// l = nearestInt(is·x) (magic add), l & 255 in lane 0, min(l, nmax) in the
// others; diff = x − sc·l; mse += (qw·diff)·diff.
TEXT ·qpMse16AVX512(SB), NOSPLIT, $0-56
	MOVQ x+0(FP), SI
	MOVQ qw+8(FP), DI
	MOVQ n+16(FP), CX
	MOVQ is+24(FP), AX
	VMOVUPS (AX), Z0               // is
	MOVQ sc+32(FP), AX
	VMOVUPS (AX), Z1               // sc
	MOVL nmax+40(FP), AX
	VPBROADCASTD AX, Z2
	MOVL $0x4B400000, AX           // 12582912
	VPBROADCASTD AX, Z6
	MOVL $0x007FFFFF, AX
	VPBROADCASTD AX, Z7
	MOVL $0x00400000, AX
	VPBROADCASTD AX, Z8
	MOVL $255, AX
	VPBROADCASTD AX, Z9
	MOVL $1, AX
	KMOVW AX, K1                   // lane 0
	VPXORD Z10, Z10, Z10           // mse

qpmse_loop:
	VBROADCASTSS (SI), Z11         // x
	VBROADCASTSS (DI), Z12         // qw
	VMULPS Z11, Z0, Z13            // is·x
	VADDPS Z6, Z13, Z13
	VPANDD Z7, Z13, Z13
	VPSUBD Z8, Z13, Z13            // l
	VPANDD Z9, Z13, Z14            // l & 255
	VPMINSD Z2, Z13, Z13           // min(l, nmax)
	VMOVDQA32 Z14, K1, Z13
	VCVTDQ2PS Z13, Z13
	VMULPS Z13, Z1, Z13            // sc·l
	VSUBPS Z13, Z11, Z13           // diff = x − sc·l
	VMULPS Z13, Z12, Z14           // qw·diff
	VMULPS Z13, Z14, Z14           // (qw·diff)·diff
	VADDPS Z14, Z10, Z10
	ADDQ $4, SI
	ADDQ $4, DI
	DECQ CX
	JNZ qpmse_loop
	MOVQ mse+48(FP), AX
	VMOVUPS Z10, (AX)
	VZEROUPPER
	RET

// iqSearchPair01..67 expand the 8 coordinates to the 8 lanes 4·(i mod 2)+l
// of the AVX2 error tables of the coordinate pairs (0,1), (2,3), (4,5),
// (6,7).
DATA iqSearchPair<>+0(SB)/8, $0x0000000000000000
DATA iqSearchPair<>+8(SB)/8, $0x0000000000000000
DATA iqSearchPair<>+16(SB)/8, $0x0000000100000001
DATA iqSearchPair<>+24(SB)/8, $0x0000000100000001
DATA iqSearchPair<>+32(SB)/8, $0x0000000200000002
DATA iqSearchPair<>+40(SB)/8, $0x0000000200000002
DATA iqSearchPair<>+48(SB)/8, $0x0000000300000003
DATA iqSearchPair<>+56(SB)/8, $0x0000000300000003
DATA iqSearchPair<>+64(SB)/8, $0x0000000400000004
DATA iqSearchPair<>+72(SB)/8, $0x0000000400000004
DATA iqSearchPair<>+80(SB)/8, $0x0000000500000005
DATA iqSearchPair<>+88(SB)/8, $0x0000000500000005
DATA iqSearchPair<>+96(SB)/8, $0x0000000600000006
DATA iqSearchPair<>+104(SB)/8, $0x0000000600000006
DATA iqSearchPair<>+112(SB)/8, $0x0000000700000007
DATA iqSearchPair<>+120(SB)/8, $0x0000000700000007
GLOBL iqSearchPair<>(SB), RODATA|NOPTR, $128

// PAIRTAB builds the error table of a coordinate pair in dst from the
// expansion at off: e = (w·(sq − x))·(sq − x), with x in Y1, w in Y2, sq in
// Y3 (clobbers Y8, Y9).
#define PAIRTAB(off, dst) \
	VMOVDQU iqSearchPair<>+off(SB), Y8 \
	VPERMPS Y1, Y8, Y9 \
	VPERMPS Y2, Y8, Y8 \
	VSUBPS Y9, Y3, Y9 \
	VMULPS Y9, Y8, Y8 \
	VMULPS Y9, Y8, dst

// ERRADD8 adds the error of the coordinate whose nibble is at bit sh of
// the words in Y8, looked up in table tab, to the sums in Y9.
#define ERRADD8(sh, tab) \
	VPSRLD $sh, Y8, Y10 \
	VPERMPS tab, Y10, Y10 \
	VADDPS Y10, Y9, Y9

// D2CHUNK8 computes the sums d2 of the 8 words in Y8 into Y9.
#define D2CHUNK8 \
	VPERMPS Y4, Y8, Y9 \
	ERRADD8(4, Y4) \
	ERRADD8(8, Y5) \
	ERRADD8(12, Y5) \
	ERRADD8(16, Y6) \
	ERRADD8(20, Y6) \
	ERRADD8(24, Y7) \
	ERRADD8(28, Y7)

// HMIN8 puts the smallest lane of src (no NaN) in every lane of Y1.
#define HMIN8(src) \
	VPERM2F128 $0x01, src, src, Y1 \
	VMINPS Y1, src, Y1 \
	VPERMILPS $0x4E, Y1, Y2 \
	VMINPS Y2, Y1, Y1 \
	VPERMILPS $0xB1, Y1, Y2 \
	VMINPS Y2, Y1, Y1

// func iqSearchAVX2(tasks *iqTask, n int, nib *uint32, x, w *float32, xg *[4]float32, lv *uint32) (fails int)
//
// Reference: iqSearchGeneric. iqSearchAVX512 on 8 lanes: the error tables
// of the coordinate pairs (Y4..Y7, lane 4·(i mod 2)+l, which the low three
// bits of nibble i select), 8 neighbours at a time, d2 = e0 + … + e7 in
// coordinate order; for a list of at most 8 the first lane holding the
// smallest d2 < FLT_MAX, otherwise per lane the first position of the
// lane's smallest (strict <), then the smallest position among the lanes
// holding the overall smallest.
TEXT ·iqSearchAVX2(SB), NOSPLIT, $0-64
	IQS_ARGS
	TESTQ BX, BX
	JLE avx2_done
	MOVL $0x7F7FFFFF, AX           // FLT_MAX
	VMOVD AX, X14
	VPBROADCASTD X14, Y14

avx2_task:
	MOVLQSX 0(R8), SI
	LEAQ (R9)(SI*4), SI            // the list's nibble words
	MOVL -4(SI), CX                // its length
	MOVL $-1, AX
	TESTQ CX, CX
	JLE avx2_store
	VBROADCASTSS 4(R8), Y0         // scale
	MOVQ xg+40(FP), AX
	VBROADCASTF128 (AX), Y3        // xg[0..3] in both halves
	VMULPS Y3, Y0, Y3              // sq = scale·xg[l]
	MOVLQSX 8(R8), R11
	VMOVUPS (R13)(R11*4), Y1       // x[0..7]
	VMOVUPS (DI)(R11*4), Y2        // w[0..7]
	PAIRTAB(0, Y4)
	PAIRTAB(32, Y5)
	PAIRTAB(64, Y6)
	PAIRTAB(96, Y7)
	CMPQ CX, $8
	JGT avx2_long
	VMOVD CX, X15                  // one chunk: the first lane of the smallest
	VPBROADCASTD X15, Y15
	VPCMPGTD iqSearchIota<>(SB), Y15, Y15 // lane < n
	VPMASKMOVD (SI), Y15, Y8
	D2CHUNK8
	VCMPPS $0x11, Y14, Y9, Y10     // d2 < FLT_MAX (LT_OQ)
	VPAND Y15, Y10, Y10            // in the list
	VBLENDVPS Y10, Y9, Y14, Y11    // the candidates, FLT_MAX elsewhere
	HMIN8(Y11)
	VCMPPS $0x00, Y1, Y11, Y12
	VPAND Y10, Y12, Y12            // the candidates holding the smallest
	VMOVMSKPS Y12, R11
	MOVL $-1, AX
	TZCNTL R11, R10
	TESTL R11, R11
	CMOVLNE R10, AX
	JMP avx2_store

avx2_long:
	VMOVAPS Y14, Y11               // per-lane best d2
	VPXOR Y12, Y12, Y12            // per-lane best position
	VMOVDQU iqSearchIota<>(SB), Y13 // positions of this chunk
	MOVL $8, AX
	VMOVD AX, X0
	VPBROADCASTD X0, Y0
	XORQ DX, DX

avx2_chunk:
	MOVQ CX, R10
	SUBQ DX, R10
	VMOVD R10, X15
	VPBROADCASTD X15, Y15
	VPCMPGTD iqSearchIota<>(SB), Y15, Y15 // lane < remaining
	VPMASKMOVD (SI)(DX*4), Y15, Y8
	D2CHUNK8
	VCMPPS $0x11, Y11, Y9, Y10     // d2 < best (LT_OQ)
	VPAND Y15, Y10, Y10            // in the list
	VBLENDVPS Y10, Y9, Y11, Y11
	VBLENDVPS Y10, Y13, Y12, Y12
	VPADDD Y0, Y13, Y13
	ADDQ $8, DX
	CMPQ DX, CX
	JLT avx2_chunk

	HMIN8(Y11)
	VCMPPS $0x00, Y1, Y11, Y10     // lanes holding the smallest
	VCMPPS $0x11, Y14, Y11, Y2     // that found one below FLT_MAX
	VPAND Y2, Y10, Y10
	MOVL $-1, AX
	VMOVMSKPS Y10, R11
	TESTL R11, R11
	JZ avx2_store
	VPCMPEQD Y3, Y3, Y3            // all ones: no position
	VBLENDVPS Y10, Y12, Y3, Y3
	VPERM2I128 $0x01, Y3, Y3, Y1
	VPMINUD Y1, Y3, Y3
	VPSHUFD $0x4E, Y3, Y1
	VPMINUD Y1, Y3, Y3
	VPSHUFD $0xB1, Y3, Y1
	VPMINUD Y1, Y3, Y3
	VMOVD X3, AX

avx2_store:
	WINNER_STORE(avx2_fail, avx2_next)

avx2_fail:
	INCQ fails+56(FP)

avx2_next:
	ADDQ $20, R8
	DECQ BX
	JNZ avx2_task

avx2_done:
	VZEROUPPER
	RET
