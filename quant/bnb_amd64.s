//go:build amd64 && !noasm

#include "textflag.h"
#include "maxabs_amd64.h"

// AVX2 kernels of the bitsandbytes quantizers. Their Go twins and the
// contracts are in bnb_amd64.go.

DATA absMask<>+0(SB)/4, $0x7fffffff
GLOBL absMask<>(SB), RODATA|NOPTR, $4

DATA eight<>+0(SB)/4, $8
GLOBL eight<>(SB), RODATA|NOPTR, $4

// Byte multipliers for VPMADDUBSW: code[2j]·16 + code[2j+1].
DATA nibbleMul<>+0(SB)/8, $0x0110011001100110
DATA nibbleMul<>+8(SB)/8, $0x0110011001100110
GLOBL nibbleMul<>(SB), RODATA|NOPTR, $16

// func maxAbsBitsAVX2(x []float32) uint32
// Unsigned maximum of x[i] & 0x7fffffff over 32 elements per iteration, in
// four accumulators.
TEXT ·maxAbsBitsAVX2(SB), NOSPLIT, $0-28
	MOVQ x_base+0(FP), SI
	MOVQ x_len+8(FP), CX
	SHRQ $5, CX
	VPBROADCASTD absMask<>(SB), Y4
	MAXABS_ZERO
	TESTQ CX, CX
	JZ reduce

loop:
	MAXABS_STEP(Y4)
	DECQ CX
	JNZ loop

reduce:
	MAXABS_REDUCE
	MOVL AX, ret+24(FP)
	VZEROUPPER
	RET

// One threshold for 16 lanes (Y0, Y1): count the lanes strictly above it
// (ordered compare: NaN is never above) into Y2, Y3.
#define COUNT(off) \
	VCMPPS $0x1e, off(R8), Y0, Y4 \
	VCMPPS $0x1e, off(R8), Y1, Y5 \
	VPSUBD Y4, Y2, Y2 \
	VPSUBD Y5, Y3, Y3

// Pack the 16 codes in the dword lanes of Y2, Y3 into 8 bytes at (DI), two
// per byte, the first in the high nibble.
#define PACK \
	VPACKUSDW Y3, Y2, Y2 \
	VPERMQ $0xd8, Y2, Y2 \
	VEXTRACTI128 $1, Y2, X3 \
	VPACKUSWB X3, X2, X2 \
	VPMADDUBSW X14, X2, X2 \
	VPACKUSWB X2, X2, X2 \
	VMOVQ X2, (DI)

// func encodeNF4AVX2(dst []uint8, x []float32, r float32, thr *[15][8]float32)
TEXT ·encodeNF4AVX2(SB), NOSPLIT, $0-64
	MOVQ dst_base+0(FP), DI
	MOVQ x_base+24(FP), SI
	MOVQ x_len+32(FP), CX
	MOVQ thr+56(FP), R8
	SHRQ $4, CX
	JZ nf4done
	VBROADCASTSS r+48(FP), Y15
	VMOVDQU nibbleMul<>(SB), X14

nf4loop:
	VMULPS (SI), Y15, Y0
	VMULPS 32(SI), Y15, Y1
	VPXOR Y2, Y2, Y2
	VPXOR Y3, Y3, Y3
	COUNT(0)
	COUNT(32)
	COUNT(64)
	COUNT(96)
	COUNT(128)
	COUNT(160)
	COUNT(192)
	COUNT(224)
	COUNT(256)
	COUNT(288)
	COUNT(320)
	COUNT(352)
	COUNT(384)
	COUNT(416)
	COUNT(448)
	PACK
	ADDQ $64, SI
	ADDQ $8, DI
	DECQ CX
	JNZ nf4loop
	VZEROUPPER

nf4done:
	RET

// func encodeFP4AVX2(dst []uint8, x []float32, r float32, thr *[7][8]float32, order *[8]uint32)
// sign = x_n < 0 (ordered: -0.0 and NaN are not), magnitude code =
// order[number of thresholds |x_n| is strictly above].
TEXT ·encodeFP4AVX2(SB), NOSPLIT, $0-72
	MOVQ dst_base+0(FP), DI
	MOVQ x_base+24(FP), SI
	MOVQ x_len+32(FP), CX
	MOVQ thr+56(FP), R8
	MOVQ order+64(FP), R9
	SHRQ $4, CX
	JZ fp4done
	VBROADCASTSS r+48(FP), Y15
	VMOVDQU nibbleMul<>(SB), X14
	VPBROADCASTD absMask<>(SB), Y13
	VPBROADCASTD eight<>(SB), Y11
	VMOVDQU (R9), Y12
	VPXOR Y10, Y10, Y10

fp4loop:
	VMULPS (SI), Y15, Y0
	VMULPS 32(SI), Y15, Y1
	VCMPPS $0x11, Y10, Y0, Y6
	VCMPPS $0x11, Y10, Y1, Y7
	VPAND Y11, Y6, Y6
	VPAND Y11, Y7, Y7
	VPAND Y13, Y0, Y0
	VPAND Y13, Y1, Y1
	VPXOR Y2, Y2, Y2
	VPXOR Y3, Y3, Y3
	COUNT(0)
	COUNT(32)
	COUNT(64)
	COUNT(96)
	COUNT(128)
	COUNT(160)
	COUNT(192)
	VPERMD Y12, Y2, Y2
	VPERMD Y12, Y3, Y3
	VPOR Y6, Y2, Y2
	VPOR Y7, Y3, Y3
	PACK
	ADDQ $64, SI
	ADDQ $8, DI
	DECQ CX
	JNZ fp4loop
	VZEROUPPER

fp4done:
	RET

DATA low16<>+0(SB)/4, $0xffff
GLOBL low16<>(SB), RODATA|NOPTR, $4

DATA lowByte<>+0(SB)/4, $0xff
GLOBL lowByte<>(SB), RODATA|NOPTR, $4

// Decider lookup for 8 lanes: x_n in Y(x), table entries gathered into
// Y(e) (mask register Y(m), indices Y(h)), code left in the dword lanes of
// Y(e): e >> (key(x_n) > e>>16 ? 8 : 0) & 0xff.
#define LOOKUP(x, h, m, e, k, t) \
	VPSRLD $16, x, h \
	VPCMPEQD m, m, m \
	VPGATHERDD m, (R8)(h*4), e \
	VPSRAD $31, x, k \
	VPXOR k, x, k \
	VPAND Y14, k, k \
	VPSRLD $16, e, t \
	VPCMPGTD t, k, k \
	VPAND Y13, k, k \
	VPSRLVD k, e, e \
	VPAND Y12, e, e

// func encodeTableAVX2(dst []uint8, x []float32, r float32, tab *[1 << 16]uint32)
TEXT ·encodeTableAVX2(SB), NOSPLIT, $0-64
	MOVQ dst_base+0(FP), DI
	MOVQ x_base+24(FP), SI
	MOVQ x_len+32(FP), CX
	MOVQ tab+56(FP), R8
	SHRQ $4, CX
	JZ tabdone
	VBROADCASTSS r+48(FP), Y15
	VPBROADCASTD low16<>(SB), Y14
	VPBROADCASTD eight<>(SB), Y13
	VPBROADCASTD lowByte<>(SB), Y12

tabloop:
	VMULPS (SI), Y15, Y0
	VMULPS 32(SI), Y15, Y1
	LOOKUP(Y0, Y2, Y3, Y4, Y5, Y6)
	LOOKUP(Y1, Y7, Y8, Y9, Y10, Y11)
	VPACKUSDW Y9, Y4, Y4
	VPERMQ $0xd8, Y4, Y4
	VEXTRACTI128 $1, Y4, X5
	VPACKUSWB X5, X4, X4
	VMOVDQU X4, (DI)
	ADDQ $64, SI
	ADDQ $16, DI
	DECQ CX
	JNZ tabloop
	VZEROUPPER

tabdone:
	RET

// func decode4AVX2(dst []float32, packed []uint8, a float32, table *[16]float32)
// Reference (decode4's loop): for j < 2·(len(packed) &^ 3), p = packed[j/2]:
//   dst[j] = table[p>>4]·a (even j), dst[j] = table[p&15]·a (odd j).
// Per 4 bytes: VPMOVZXBQ widens them to 4 qwords; (p>>4) | (p&15)<<32 gives
// the 8 dword indices in output order; VPERMPS looks them up in the table's
// two halves and VBLENDVPS picks by bit 3 (moved to the sign bit); VMULPS by
// a, one rounding as in Go.
TEXT ·decode4AVX2(SB), NOSPLIT, $0-64
	MOVQ dst_base+0(FP), DI
	MOVQ packed_base+24(FP), SI
	MOVQ packed_len+32(FP), CX
	MOVQ table+56(FP), DX
	SHRQ $2, CX
	JZ   d4_done
	VBROADCASTSS a+48(FP), Y7
	VMOVUPS 0(DX), Y5             // table[0:8]
	VMOVUPS 32(DX), Y6            // table[8:16]
	VPBROADCASTQ lowNibble64<>(SB), Y8
d4_loop:
	VPMOVZXBQ 0(SI), Y0           // p0..p3 as qwords
	VPSRLQ $4, Y0, Y1             // p >> 4 (low dword)
	VPAND Y8, Y0, Y2              // p & 15
	VPSLLQ $32, Y2, Y2            // to the high dword
	VPOR Y1, Y2, Y0               // indices in output order
	VPERMPS Y5, Y0, Y1            // table[idx & 7]
	VPERMPS Y6, Y0, Y2            // table[8 + idx & 7]
	VPSLLD $28, Y0, Y3            // bit 3 to the sign bit
	VBLENDVPS Y3, Y2, Y1, Y1      // bit 3 set: the high half
	VMULPS Y7, Y1, Y1
	VMOVUPS Y1, 0(DI)
	ADDQ $4, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  d4_loop
	VZEROUPPER
d4_done:
	RET

DATA lowNibble64<>+0(SB)/8, $0x0f
GLOBL lowNibble64<>(SB), RODATA|NOPTR, $8
