//go:build amd64 && !noasm

#include "textflag.h"
#include "maxabs_amd64.h"

// func blockAbsmaxBF16AVX2(absmax []float32, bits []uint16, blocksize int) uint16
// Per block: the unsigned maximum of bits[i] & 0x7fff over 32 values per
// step in two accumulators, reduced to one word (the complement's minimum,
// VPHMINPOSUW), stored as the float32 pattern m << 16. X14 keeps the
// maximum over all blocks.
TEXT ·blockAbsmaxBF16AVX2(SB), NOSPLIT, $0-58
	MOVQ absmax_base+0(FP), DI
	MOVQ absmax_len+8(FP), CX
	MOVQ bits_base+24(FP), SI
	MOVQ blocksize+48(FP), DX
	SHLQ $1, DX                   // bytes per block
	MOVL $0x7fff7fff, AX
	MOVD AX, X15
	VPBROADCASTD X15, Y15         // sign mask
	VPCMPEQW Y13, Y13, Y13        // all ones
	VPXOR X14, X14, X14
	TESTQ CX, CX
	JZ done

block:
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	MOVQ DX, BX

inner:
	VPAND (SI), Y15, Y2
	VPAND 32(SI), Y15, Y3
	VPMAXUW Y2, Y0, Y0
	VPMAXUW Y3, Y1, Y1
	ADDQ $64, SI
	SUBQ $64, BX
	JNZ inner

	VPMAXUW Y1, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPMAXUW X1, X0, X0
	VPMAXUW X0, X14, X14
	VPXOR X13, X0, X0
	VPHMINPOSUW X0, X0
	VMOVD X0, AX
	NOTL AX
	SHLL $16, AX
	MOVL AX, (DI)
	ADDQ $4, DI
	DECQ CX
	JNZ block

done:
	VPXOR X13, X14, X14
	VPHMINPOSUW X14, X14
	VMOVD X14, AX
	NOTL AX
	MOVW AX, ret+56(FP)
	VZEROUPPER
	RET

// func blockMaxAbsBitsAVX2(dst []uint32, x []float32, blocksize int)
// dst[b] = the unsigned maximum of x[i] & 0x7fffffff over block b, for
// len(dst) whole blocks of blocksize (a multiple of 32) values: maxAbsBits
// block by block, 32 values per step in four accumulators.
TEXT ·blockMaxAbsBitsAVX2(SB), NOSPLIT, $0-56
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), R10
	MOVQ x_base+24(FP), SI
	MOVQ blocksize+48(FP), DX
	SHRQ $5, DX
	TESTQ R10, R10
	JZ mdone
	TESTQ DX, DX
	JZ mdone
	MOVL $0x7fffffff, AX
	MOVD AX, X15
	VPBROADCASTD X15, Y15

mblock:
	MAXABS_ZERO
	MOVQ DX, CX

mloop:
	MAXABS_STEP(Y15)
	DECQ CX
	JNZ mloop

	MAXABS_REDUCE
	MOVL AX, (DI)
	ADDQ $4, DI
	DECQ R10
	JNZ mblock
	VZEROUPPER

mdone:
	RET
