//go:build amd64 && !noasm

// AVX2 kernels of the small types' fast encoders (smallfast_amd64.go has
// their contracts; absMaxBitsGeneric and tritBytesGeneric in smallfast.go
// are the Go loops they implement). Integer instructions only: no float
// arithmetic, no FMA.

#include "textflag.h"

// func absMaxBitsAVX2(x *float32, n int) uint32
// n > 0, a multiple of 16.
TEXT ·absMaxBitsAVX2(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	MOVL $0x7FFFFFFF, AX
	VMOVD AX, X0
	VPBROADCASTD X0, Y0
	VPXOR Y1, Y1, Y1
	VPXOR Y2, Y2, Y2

absloop:
	VPAND   (SI), Y0, Y3
	VPAND   32(SI), Y0, Y4
	VPMAXUD Y3, Y1, Y1
	VPMAXUD Y4, Y2, Y2
	ADDQ    $64, SI
	SUBQ    $16, CX
	JNZ     absloop

	VPMAXUD      Y2, Y1, Y1
	VEXTRACTI128 $1, Y1, X2
	VPMAXUD      X2, X1, X1
	VPSHUFD      $0x4E, X1, X2
	VPMAXUD      X2, X1, X1
	VPSHUFD      $0xB1, X1, X2
	VPMAXUD      X2, X1, X1
	VMOVD        X1, AX
	VZEROUPPER
	MOVL         AX, ret+16(FP)
	RET

// permutation gathering the dwords of VPACKSSDW+VPACKUSWB back in order
DATA tritPerm<>+0(SB)/4, $0
DATA tritPerm<>+4(SB)/4, $4
DATA tritPerm<>+8(SB)/4, $1
DATA tritPerm<>+12(SB)/4, $5
DATA tritPerm<>+16(SB)/4, $2
DATA tritPerm<>+20(SB)/4, $6
DATA tritPerm<>+24(SB)/4, $3
DATA tritPerm<>+28(SB)/4, $7
GLOBL tritPerm<>(SB), RODATA|NOPTR, $32

// func tritBytesAVX2(t *byte, x *float32, n int, th uint32)
// n > 0, a multiple of 32; 1 ≤ th ≤ 0x7FFFFFFF. t[i] = 1 + g − 2·(g∧s) with
// g = [bits(|x[i]|) ≥ th], s = [x[i] < 0 by its sign bit].
TEXT ·tritBytesAVX2(SB), NOSPLIT, $0-28
	MOVQ t+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	MOVL th+24(FP), AX
	DECL AX
	VMOVD AX, X0
	VPBROADCASTD X0, Y0          // th − 1
	MOVL $0x7FFFFFFF, AX
	VMOVD AX, X1
	VPBROADCASTD X1, Y1          // magnitude mask
	MOVL $1, AX
	VMOVD AX, X2
	VPBROADCASTD X2, Y2          // 1
	VMOVDQU tritPerm<>(SB), Y15

tritloop:
	// four groups of eight: Y3..Y6 ← trit + 1 as dwords
	VMOVDQU (SI), Y7
	VPAND   Y1, Y7, Y3
	VPCMPGTD Y0, Y3, Y3          // g: −1 where |x| ≥ th
	VPSRAD  $31, Y7, Y7          // s: −1 where negative
	VPAND   Y7, Y3, Y7
	VPADDD  Y7, Y7, Y7           // −2·(g∧s)
	VPSUBD  Y3, Y2, Y3           // 1 + g
	VPADDD  Y7, Y3, Y3

	VMOVDQU 32(SI), Y7
	VPAND   Y1, Y7, Y4
	VPCMPGTD Y0, Y4, Y4
	VPSRAD  $31, Y7, Y7
	VPAND   Y7, Y4, Y7
	VPADDD  Y7, Y7, Y7
	VPSUBD  Y4, Y2, Y4
	VPADDD  Y7, Y4, Y4

	VMOVDQU 64(SI), Y7
	VPAND   Y1, Y7, Y5
	VPCMPGTD Y0, Y5, Y5
	VPSRAD  $31, Y7, Y7
	VPAND   Y7, Y5, Y7
	VPADDD  Y7, Y7, Y7
	VPSUBD  Y5, Y2, Y5
	VPADDD  Y7, Y5, Y5

	VMOVDQU 96(SI), Y7
	VPAND   Y1, Y7, Y6
	VPCMPGTD Y0, Y6, Y6
	VPSRAD  $31, Y7, Y7
	VPAND   Y7, Y6, Y7
	VPADDD  Y7, Y7, Y7
	VPSUBD  Y6, Y2, Y6
	VPADDD  Y7, Y6, Y6

	VPACKSSDW Y4, Y3, Y3         // per lane: Y3 words, Y4 words
	VPACKSSDW Y6, Y5, Y5
	VPACKUSWB Y5, Y3, Y3         // dwords: g0a g1a g2a g3a | g0b g1b g2b g3b
	VPERMD    Y3, Y15, Y3
	VMOVDQU   Y3, (DI)

	ADDQ $128, SI
	ADDQ $32, DI
	SUBQ $32, CX
	JNZ  tritloop
	VZEROUPPER
	RET

// func mxfp4CodesAVX2(y *byte, x *float32, thm1 *[8]uint32)
// One MXFP4 group of 32: mxfp4CodesGeneric.
TEXT ·mxfp4CodesAVX2(SB), NOSPLIT, $0-24
	MOVQ y+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ thm1+16(FP), BX
	VPBROADCASTD 4(BX), Y8
	VPBROADCASTD 8(BX), Y9
	VPBROADCASTD 12(BX), Y10
	VPBROADCASTD 16(BX), Y11
	VPBROADCASTD 20(BX), Y12
	VPBROADCASTD 24(BX), Y13
	VPBROADCASTD 28(BX), Y14
	MOVL $0x7FFFFFFF, AX
	VMOVD AX, X0
	VPBROADCASTD X0, Y0           // magnitude mask
	MOVL $8, AX
	VMOVD AX, X1
	VPBROADCASTD X1, Y1           // 8
	VPXOR Y2, Y2, Y2              // 0

#define FP4CODES(off, r) \
	VMOVDQU  off(SI), Y7; \
	VPAND    Y0, Y7, Y6; \
	VPXOR    r, r, r; \
	VPCMPGTD Y8, Y6, Y5; VPSUBD Y5, r, r; \
	VPCMPGTD Y9, Y6, Y5; VPSUBD Y5, r, r; \
	VPCMPGTD Y10, Y6, Y5; VPSUBD Y5, r, r; \
	VPCMPGTD Y11, Y6, Y5; VPSUBD Y5, r, r; \
	VPCMPGTD Y12, Y6, Y5; VPSUBD Y5, r, r; \
	VPCMPGTD Y13, Y6, Y5; VPSUBD Y5, r, r; \
	VPCMPGTD Y14, Y6, Y5; VPSUBD Y5, r, r; \
	VPSRAD   $31, Y7, Y7; \
	VPCMPGTD Y2, r, Y5; \
	VPAND    Y7, Y5, Y5; \
	VPAND    Y1, Y5, Y5; \
	VPOR     Y5, r, r

	FP4CODES(0, Y3)
	FP4CODES(32, Y4)
	FP4CODES(64, Y15)
	VPSLLD $4, Y15, Y15
	VPOR   Y15, Y3, Y3            // bytes 0..7: element j low, j+16 high
	FP4CODES(96, Y15)
	VPSLLD $4, Y15, Y15
	VPOR   Y15, Y4, Y4            // bytes 8..15
	VPACKUSDW Y4, Y3, Y3
	VPACKUSWB Y3, Y3, Y3          // dwords: b0a b1a b0a b1a | b0b b1b b0b b1b
	VMOVDQU   tritPerm<>(SB), Y15 // 0 4 1 5 …
	VPERMD    Y3, Y15, Y3
	VMOVDQU   X3, (DI)
	VZEROUPPER
	RET

// func q1SignsAVX2(y *byte, x *float32)
// One Q1_0 block: q1SignsGeneric (bit k of byte j set when x[8j+k] ≥ 0,
// an ordered comparison: false for NaN, true for −0).
TEXT ·q1SignsAVX2(SB), NOSPLIT, $0-16
	MOVQ   y+0(FP), DI
	MOVQ   x+8(FP), SI
	VXORPS Y0, Y0, Y0
	MOVQ   $16, CX

q1loop:
	VMOVUPS   (SI), Y1
	VCMPPS    $0x1D, Y0, Y1, Y1 // GE_OQ: Y1 ≥ 0
	VMOVMSKPS Y1, AX
	MOVB      AX, (DI)
	ADDQ      $32, SI
	INCQ      DI
	DECQ      CX
	JNZ       q1loop
	VZEROUPPER
	RET
