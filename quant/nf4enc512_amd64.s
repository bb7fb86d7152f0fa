//go:build amd64 && !noasm

#include "textflag.h"

// Byte multipliers for VPMADDUBSW: code[2j]·16 + code[2j+1] (the same
// pattern as bnb_amd64.s's, 32 bytes).
DATA nf4Mul512<>+0(SB)/8, $0x0110011001100110
DATA nf4Mul512<>+8(SB)/8, $0x0110011001100110
DATA nf4Mul512<>+16(SB)/8, $0x0110011001100110
DATA nf4Mul512<>+24(SB)/8, $0x0110011001100110
GLOBL nf4Mul512<>(SB), RODATA|NOPTR, $32

// One step of the search for 16 lanes: c += step where x > thr[c + step - 1]
// (ordered compare, greater-than: NaN is never above).
#define STEP(x, c, off, step) \
	VPADDD off, c, Z20 \
	VPERMPS Z14, Z20, Z21 \
	VCMPPS $0x1e, Z21, x, K1 \
	VPADDD step, c, K1, c

// NF4_CONSTS loads the search's constants from the thresholds at R8: Z14
// the thresholds, Y13 the byte multipliers, Z8/Z4/Z2/Z1 the steps, Z3 and
// Z0 the offsets 3 and 0, Z7 thr[7] in every lane.
#define NF4_CONSTS \
	VMOVUPS (R8), Z14 \
	VMOVDQU nf4Mul512<>(SB), Y13 \
	MOVL $8, AX \
	VPBROADCASTD AX, Z8 \
	MOVL $4, AX \
	VPBROADCASTD AX, Z4 \
	MOVL $2, AX \
	VPBROADCASTD AX, Z2 \
	MOVL $1, AX \
	VPBROADCASTD AX, Z1 \
	MOVL $3, AX \
	VPBROADCASTD AX, Z3 \
	VPXORD Z0, Z0, Z0 \
	MOVL $7, AX \
	VPBROADCASTD AX, Z7 \
	VPERMPS Z14, Z7, Z7

// NF4_UNIT encodes the 32 floats at SI, scaled by Z15, into 16 bytes at DI
// (two searches of 16 lanes side by side: the first step against thr[7],
// then STEP) and advances SI and DI.
#define NF4_UNIT \
	VMULPS (SI), Z15, Z10 \
	VMULPS 64(SI), Z15, Z11 \
	VPXORD Z16, Z16, Z16 \
	VPXORD Z17, Z17, Z17 \
	VCMPPS $0x1e, Z7, Z10, K1 \
	VPADDD Z8, Z16, K1, Z16 \
	VCMPPS $0x1e, Z7, Z11, K2 \
	VPADDD Z8, Z17, K2, Z17 \
	STEP(Z10, Z16, Z3, Z4) \
	STEP(Z11, Z17, Z3, Z4) \
	STEP(Z10, Z16, Z1, Z2) \
	STEP(Z11, Z17, Z1, Z2) \
	STEP(Z10, Z16, Z0, Z1) \
	STEP(Z11, Z17, Z0, Z1) \
	VPMOVDB Z16, X18 \
	VPMOVDB Z17, X19 \
	VINSERTI32X4 $1, X19, Y18, Y18 \
	VPMADDUBSW Y13, Y18, Y18 \
	VPMOVWB Y18, X18 \
	VMOVDQU32 X18, (DI) \
	ADDQ $128, SI \
	ADDQ $16, DI

// func encodeNF4AVX512(dst []uint8, x []float32, r float32, thr *[16]float32)
// For the first len(x) &^ 31 elements: code = the number of the 15 sorted
// thresholds x[i]·r is strictly above, found by a binary search (steps 8,
// 4, 2, 1 over the thresholds in Z14), packed two per byte, high nibble
// first.
TEXT ·encodeNF4AVX512(SB), NOSPLIT, $0-64
	MOVQ dst_base+0(FP), DI
	MOVQ x_base+24(FP), SI
	MOVQ x_len+32(FP), CX
	MOVQ thr+56(FP), R8
	SHRQ $5, CX
	JZ done
	VBROADCASTSS r+48(FP), Z15
	NF4_CONSTS

loop:
	NF4_UNIT
	DECQ CX
	JNZ loop
	VZEROUPPER

done:
	RET

// func encodeNF4BlocksAVX512(dst []uint8, x []float32, r []float32, blocksize int, thr *[16]float32)
// encodeNF4AVX512 for len(r) whole blocks of blocksize (a multiple of 32)
// elements, block b scaled by r[b].
TEXT ·encodeNF4BlocksAVX512(SB), NOSPLIT, $0-88
	MOVQ dst_base+0(FP), DI
	MOVQ x_base+24(FP), SI
	MOVQ r_base+48(FP), R9
	MOVQ r_len+56(FP), R10
	MOVQ blocksize+72(FP), DX
	MOVQ thr+80(FP), R8
	SHRQ $5, DX
	TESTQ R10, R10
	JZ bdone
	TESTQ DX, DX
	JZ bdone
	NF4_CONSTS

bblock:
	VBROADCASTSS (R9), Z15
	MOVQ DX, CX

bloop:
	NF4_UNIT
	DECQ CX
	JNZ bloop

	ADDQ $4, R9
	DECQ R10
	JNZ bblock
	VZEROUPPER

bdone:
	RET
