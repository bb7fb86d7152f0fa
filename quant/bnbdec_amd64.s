//go:build amd64 && !noasm

#include "textflag.h"

// AVX-512 decoders of the bitsandbytes formats. Their Go twins and
// contracts are in bnbdec_amd64.go. Every value is one IEEE binary32
// product code·absmax (plus, for a nested absmax, one addition), rounded
// to nearest even as in the Go loops, then rounded once more to the output
// type with Wick's F32ToF16 / F32ToBF16 rules.

// VPERMB indices: dword lane d of the result takes packed byte d/2 (of the
// first or second 8 bytes of 16), so that with the shifts below its low
// four bits are the high nibble (even d) or the low nibble (odd d).
DATA d4idx0<>+0(SB)/8, $0x0000000000000000
DATA d4idx0<>+8(SB)/8, $0x0101010101010101
DATA d4idx0<>+16(SB)/8, $0x0202020202020202
DATA d4idx0<>+24(SB)/8, $0x0303030303030303
DATA d4idx0<>+32(SB)/8, $0x0404040404040404
DATA d4idx0<>+40(SB)/8, $0x0505050505050505
DATA d4idx0<>+48(SB)/8, $0x0606060606060606
DATA d4idx0<>+56(SB)/8, $0x0707070707070707
GLOBL d4idx0<>(SB), RODATA|NOPTR, $64
DATA d4idx1<>+0(SB)/8, $0x0808080808080808
DATA d4idx1<>+8(SB)/8, $0x0909090909090909
DATA d4idx1<>+16(SB)/8, $0x0a0a0a0a0a0a0a0a
DATA d4idx1<>+24(SB)/8, $0x0b0b0b0b0b0b0b0b
DATA d4idx1<>+32(SB)/8, $0x0c0c0c0c0c0c0c0c
DATA d4idx1<>+40(SB)/8, $0x0d0d0d0d0d0d0d0d
DATA d4idx1<>+48(SB)/8, $0x0e0e0e0e0e0e0e0e
DATA d4idx1<>+56(SB)/8, $0x0f0f0f0f0f0f0f0f
GLOBL d4idx1<>(SB), RODATA|NOPTR, $64
// dword shifts: 4 (high nibble first), 0
DATA d4shd<>+0(SB)/8, $0x0000000000000004
DATA d4shd<>+8(SB)/8, $0x0000000000000004
DATA d4shd<>+16(SB)/8, $0x0000000000000004
DATA d4shd<>+24(SB)/8, $0x0000000000000004
DATA d4shd<>+32(SB)/8, $0x0000000000000004
DATA d4shd<>+40(SB)/8, $0x0000000000000004
DATA d4shd<>+48(SB)/8, $0x0000000000000004
DATA d4shd<>+56(SB)/8, $0x0000000000000004
GLOBL d4shd<>(SB), RODATA|NOPTR, $64
// VPERMB indices for 32 word lanes: word w takes packed byte w/2 (bytes
// 4m..4m+3 all take byte m)
DATA d4idxw<>+0(SB)/8, $0x0101010100000000
DATA d4idxw<>+8(SB)/8, $0x0303030302020202
DATA d4idxw<>+16(SB)/8, $0x0505050504040404
DATA d4idxw<>+24(SB)/8, $0x0707070706060606
DATA d4idxw<>+32(SB)/8, $0x0909090908080808
DATA d4idxw<>+40(SB)/8, $0x0b0b0b0b0a0a0a0a
DATA d4idxw<>+48(SB)/8, $0x0d0d0d0d0c0c0c0c
DATA d4idxw<>+56(SB)/8, $0x0f0f0f0f0e0e0e0e
GLOBL d4idxw<>(SB), RODATA|NOPTR, $64
// word shifts: 4, 0
DATA d4shw<>+0(SB)/8, $0x0000000400000004
DATA d4shw<>+8(SB)/8, $0x0000000400000004
DATA d4shw<>+16(SB)/8, $0x0000000400000004
DATA d4shw<>+24(SB)/8, $0x0000000400000004
DATA d4shw<>+32(SB)/8, $0x0000000400000004
DATA d4shw<>+40(SB)/8, $0x0000000400000004
DATA d4shw<>+48(SB)/8, $0x0000000400000004
DATA d4shw<>+56(SB)/8, $0x0000000400000004
GLOBL d4shw<>(SB), RODATA|NOPTR, $64

// D4_ARGS loads the arguments the 4-bit decoders share: DI dst, SI
// packed, R8 absmax, R9 nblocks, R10 units of 16 packed bytes (32 values)
// per block, DX table.
#define D4_ARGS \
	MOVQ dst+0(FP), DI \
	MOVQ packed+8(FP), SI \
	MOVQ absmax+16(FP), R8 \
	MOVQ nblocks+24(FP), R9 \
	MOVQ blocksize+32(FP), R10 \
	SHRQ $5, R10 \
	MOVQ table+40(FP), DX

// D4F_VALUES decodes the 16 packed bytes at SI into 32 floats, Z1 (the
// first 16) and Z2, Z24 being the scaled table.
#define D4F_VALUES \
	VMOVDQU (SI), X0 \
	VPERMB Z0, Z21, Z1 \
	VPERMB Z0, Z22, Z2 \
	VPSRLVD Z23, Z1, Z1 \
	VPSRLVD Z23, Z2, Z2 \
	VPERMPS Z24, Z1, Z1 \
	VPERMPS Z24, Z2, Z2

// D4F_UNIT decodes 16 packed bytes at SI into 32 floats at DI (stored
// with STORE), Z24 the scaled table; it ends with DECQ CX.
#define D4F_UNIT(STORE) \
	D4F_VALUES \
	STORE Z1, (DI) \
	STORE Z2, 64(DI) \
	ADDQ $16, SI \
	ADDQ $128, DI \
	DECQ CX

// func decode4F32AVX512(dst *float32, packed *uint8, absmax *float32, nblocks, blocksize int, table *[16]float32, nt bool)
//
// Reference: decode4 on nblocks whole blocks of blocksize (a multiple of
// 32) values: for block b, a = absmax[b], and each packed byte p gives
// table[p>>4]·a, table[p&15]·a. The table is scaled once per block (the
// same products) and looked up with VPERMPS, which reads the low four bits
// of each index.
TEXT ·decode4F32AVX512(SB), NOSPLIT, $0-49
	D4_ARGS
	VMOVUPS (DX), Z20
	VMOVDQU64 d4idx0<>(SB), Z21
	VMOVDQU64 d4idx1<>(SB), Z22
	VMOVDQU64 d4shd<>(SB), Z23
	TESTQ R9, R9
	JZ d4f_done
	CMPB nt+48(FP), $0
	JNE d4f_ntblock
d4f_block:
	VMULPS.BCST (R8), Z20, Z24     // table·a
	MOVQ R10, CX
d4f_unit:
	D4F_UNIT(VMOVUPS)
	JNZ d4f_unit
	ADDQ $4, R8
	DECQ R9
	JNZ d4f_block
	JMP d4f_done
d4f_ntblock:
	VMULPS.BCST (R8), Z20, Z24
	MOVQ R10, CX
d4f_ntunit:
	D4F_UNIT(VMOVNTPS)
	JNZ d4f_ntunit
	ADDQ $4, R8
	DECQ R9
	JNZ d4f_ntblock
	SFENCE
d4f_done:
	VZEROUPPER
	RET

// HALF_CONSTS loads the constants of TO_HALF: Z31 = 0x80000000,
// Z30 = 0x7FC00000, Z29 = 0x7FFFFFFF, Z28 = 0x7F800000, Z27 = 0x7FFF,
// Z26 = 1, Z25 = 0x00400000.
#define HALF_CONSTS \
	MOVL $0x80000000, AX \
	VPBROADCASTD AX, Z31 \
	MOVL $0x7FC00000, AX \
	VPBROADCASTD AX, Z30 \
	MOVL $0x7FFFFFFF, AX \
	VPBROADCASTD AX, Z29 \
	MOVL $0x7F800000, AX \
	VPBROADCASTD AX, Z28 \
	MOVL $0x7FFF, AX \
	VPBROADCASTD AX, Z27 \
	MOVL $1, AX \
	VPBROADCASTD AX, Z26 \
	MOVL $0x00400000, AX \
	VPBROADCASTD AX, Z25

// TO_F16 rounds the 16 floats of Z0 to float16 as F32ToF16 does (NaN:
// sign | 0x7E00, through sign | 0x7FC00000), leaving the words in Y0.
#define TO_F16 \
	VCMPPS $3, Z0, Z0, K7 \
	VPANDD Z31, Z0, Z1 \
	VPORD Z30, Z1, Z1 \
	VMOVAPS Z1, K7, Z0 \
	VCVTPS2PH $0, Z0, Y0

// TO_BF16 rounds the 16 floats of Z0 to bfloat16 as F32ToBF16 does
// ((u + 0x7FFF + (u>>16 & 1)) >> 16; NaN: (u | 0x00400000) >> 16),
// leaving the words in Y0.
#define TO_BF16 \
	VPANDD Z29, Z0, Z1 \
	VPCMPUD $6, Z28, Z1, K7 \
	VPSRLD $16, Z0, Z1 \
	VPANDD Z26, Z1, Z1 \
	VPADDD Z27, Z1, Z1 \
	VPADDD Z0, Z1, Z1 \
	VPORD Z25, Z0, K7, Z1 \
	VPSRLD $16, Z1, Z0 \
	VPMOVDW Z0, Y0

// D4H_VALUES decodes the 16 packed bytes at SI into 32 half values in Z1,
// Z24 being the table of rounded values.
#define D4H_VALUES \
	VMOVDQU (SI), X0 \
	VPERMB Z0, Z21, Z1 \
	VPSRLVW Z22, Z1, Z1 \
	VPERMW Z24, Z1, Z1

// D4H_UNIT decodes 16 packed bytes at SI into 32 half values at DI
// (stored with STORE), Z24 the table; it ends with DECQ CX.
#define D4H_UNIT(STORE) \
	D4H_VALUES \
	STORE Z1, (DI) \
	ADDQ $16, SI \
	ADDQ $64, DI \
	DECQ CX

// func decode4HalfAVX512(dst *uint16, packed *uint8, absmax *float32, nblocks, blocksize int, table *[16]float32, bf16, nt bool)
//
// Reference: decode4Half on nblocks whole blocks of blocksize (a multiple
// of 32) values: the 16 outputs table[c]·a of each block are rounded once
// (TO_F16 / TO_BF16) into a word table, duplicated to 32 entries, and
// looked up with VPERMW, which reads the low five bits of each index.
TEXT ·decode4HalfAVX512(SB), NOSPLIT, $0-50
	D4_ARGS
	MOVBLZX bf16+48(FP), R11
	HALF_CONSTS
	VMOVUPS (DX), Z20
	VMOVDQU64 d4idxw<>(SB), Z21
	VMOVDQU64 d4shw<>(SB), Z22
	TESTQ R9, R9
	JZ d4h_done
d4h_block:
	VMULPS.BCST (R8), Z20, Z0      // table·a
	TESTQ R11, R11
	JNZ d4h_bf16
	TO_F16
	JMP d4h_table
d4h_bf16:
	TO_BF16
d4h_table:
	VINSERTI64X4 $1, Y0, Z0, Z24   // 32 entries: the 16, twice
	MOVQ R10, CX
	CMPB nt+49(FP), $0
	JNE d4h_ntunit
d4h_unit:
	D4H_UNIT(VMOVDQU16)
	JNZ d4h_unit
	JMP d4h_next
d4h_ntunit:
	D4H_UNIT(VMOVNTDQ)
	JNZ d4h_ntunit
d4h_next:
	ADDQ $4, R8
	DECQ R9
	JNZ d4h_block
	SFENCE
d4h_done:
	VZEROUPPER
	RET

// func decode8AVX512(dst unsafe.Pointer, codes *uint8, absmax *float32, n, first, blocksize int,
//	code *[256]float32, kind int, offset float32, nested bool)
//
// Reference: decodeCodes / decodeCodesHalf (kind 0: float32 output, 1:
// float16, 2: bfloat16) and, with nested, DequantizeNested (float32
// output): for i < n, element first+i of the block run starting at
// absmax[0] (first < blocksize),
//	v = code[codes[i]] · absmax[(first+i)/blocksize]   (+ offset when nested)
// Codes are looked up with VGATHERDPS, 16 at a time, a block's tail with
// masks.
TEXT ·decode8AVX512(SB), NOSPLIT, $0-69
	MOVQ dst+0(FP), DI
	MOVQ codes+8(FP), SI
	MOVQ absmax+16(FP), R8
	MOVQ n+24(FP), R9
	MOVQ first+32(FP), R12
	MOVQ blocksize+40(FP), R10
	MOVQ code+48(FP), DX
	MOVQ kind+56(FP), R11
	VBROADCASTSS offset+64(FP), Z23
	MOVBLZX nested+68(FP), R13
	HALF_CONSTS
	DECQ R11                       // TO_HALF's flag: 0 float16, else bfloat16
	TESTQ R9, R9
	JZ d8_done
d8_block:
	VBROADCASTSS (R8), Z20         // a
	MOVQ R10, CX
	SUBQ R12, CX                   // values left in this block
	XORQ R12, R12
	CMPQ CX, R9
	JLE d8_run
	MOVQ R9, CX
d8_run:
	SUBQ CX, R9
d8_vec:
	CMPQ CX, $16
	JLT d8_tail
	VPMOVZXBD (SI), Z2
	KXNORW K1, K1, K1
	VPXORD Z0, Z0, Z0              // no merge with the last result: gathers overlap
	VGATHERDPS (DX)(Z2*4), K1, Z0
	VMULPS Z20, Z0, Z0
	TESTQ R13, R13
	JZ d8_store
	VADDPS Z23, Z0, Z0
d8_store:
	CMPQ R11, $-1
	JNE d8_half
	VMOVUPS Z0, (DI)
	ADDQ $64, DI
	JMP d8_next
d8_half:
	TESTQ R11, R11
	JNZ d8_bf
	TO_F16
	JMP d8_hstore
d8_bf:
	TO_BF16
d8_hstore:
	VMOVDQU Y0, (DI)
	ADDQ $32, DI
d8_next:
	ADDQ $16, SI
	SUBQ $16, CX
	JMP d8_vec
d8_tail:
	TESTQ CX, CX
	JZ d8_endblock
	MOVL $1, AX
	SHLL CX, AX
	DECL AX
	KMOVW AX, K2                   // the CX lanes left
	VPXORD Z2, Z2, Z2
	VPMOVZXBD (SI), K2, Z2         // masked: reads only CX bytes
	KMOVW K2, K1
	VPXORD Z0, Z0, Z0
	VGATHERDPS (DX)(Z2*4), K1, Z0
	VMULPS Z20, Z0, Z0
	TESTQ R13, R13
	JZ d8_tstore
	VADDPS Z23, Z0, Z0
d8_tstore:
	CMPQ R11, $-1
	JNE d8_thalf
	VMOVUPS Z0, K2, (DI)
	LEAQ (DI)(CX*4), DI
	JMP d8_tnext
d8_thalf:
	TESTQ R11, R11
	JNZ d8_tbf
	TO_F16
	JMP d8_thstore
d8_tbf:
	TO_BF16
d8_thstore:
	VMOVDQU16 Z0, K2, (DI)
	LEAQ (DI)(CX*2), DI
d8_tnext:
	ADDQ CX, SI
d8_endblock:
	ADDQ $4, R8
	TESTQ R9, R9
	JNZ d8_block
d8_done:
	VZEROUPPER
	RET

// func decode8RunAVX2(dst unsafe.Pointer, codes *uint8, n int, a float32, code *[256]float32, kind int, offset float32, nested bool)
//
// Reference: decodeCodes / decodeCodesHalf / dequantizeNested on a run of
// n (a multiple of 8) codes of one block, scale a: v = code[c]·a (+ offset
// when nested), stored as float32 (kind 0), float16 (1) or bfloat16 (2)
// with F32ToF16 / F32ToBF16's rounding. VGATHERDPS looks the codes up, 8 at
// a time.
TEXT ·decode8RunAVX2(SB), NOSPLIT, $0-53
	MOVQ dst+0(FP), DI
	MOVQ codes+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $3, CX
	JZ d8r_done
	VBROADCASTSS a+24(FP), Y8
	MOVQ code+32(FP), DX
	MOVQ kind+40(FP), R11
	VBROADCASTSS offset+48(FP), Y9
	MOVBLZX nested+52(FP), R13
	MOVL $0x80000000, AX
	VMOVD AX, X15
	VPBROADCASTD X15, Y15          // sign bit
	MOVL $0x7FC00000, AX
	VMOVD AX, X14
	VPBROADCASTD X14, Y14          // quiet NaN
	MOVL $0x7FFFFFFF, AX
	VMOVD AX, X13
	VPBROADCASTD X13, Y13
	MOVL $0x7F800000, AX
	VMOVD AX, X12
	VPBROADCASTD X12, Y12
	MOVL $0x7FFF, AX
	VMOVD AX, X11
	VPBROADCASTD X11, Y11
	MOVL $1, AX
	VMOVD AX, X10
	VPBROADCASTD X10, Y10
d8r_loop:
	VPMOVZXBD (SI), Y2
	VPCMPEQD Y3, Y3, Y3
	VXORPS Y0, Y0, Y0
	VGATHERDPS Y3, (DX)(Y2*4), Y0
	VMULPS Y8, Y0, Y0              // code·a
	TESTQ R13, R13
	JZ d8r_store
	VADDPS Y9, Y0, Y0              // + offset
d8r_store:
	CMPQ R11, $1
	JEQ d8r_f16
	JGT d8r_bf16
	VMOVUPS Y0, (DI)
	ADDQ $32, DI
	JMP d8r_next
d8r_f16:
	VCMPPS $3, Y0, Y0, Y1          // NaN lanes become sign | 0x7FC00000
	VANDPS Y15, Y0, Y4
	VORPS Y14, Y4, Y4
	VBLENDVPS Y1, Y4, Y0, Y0
	VCVTPS2PH $0, Y0, X0
	VMOVDQU X0, (DI)
	ADDQ $16, DI
	JMP d8r_next
d8r_bf16:
	VPAND Y13, Y0, Y1
	VPCMPGTD Y12, Y1, Y1           // NaN: |u| > 0x7F800000
	VPSRLD $16, Y0, Y4
	VPAND Y10, Y4, Y4
	VPADDD Y11, Y4, Y4
	VPADDD Y0, Y4, Y4              // u + 0x7FFF + (u>>16 & 1)
	MOVL $0x00400000, AX
	VMOVD AX, X5
	VPBROADCASTD X5, Y5
	VPOR Y5, Y0, Y5                // u | 0x00400000
	VBLENDVPS Y1, Y5, Y4, Y4
	VPSRLD $16, Y4, Y4
	VEXTRACTI128 $1, Y4, X5
	VPACKUSDW X5, X4, X4
	VMOVDQU X4, (DI)
	ADDQ $16, DI
d8r_next:
	ADDQ $8, SI
	DECQ CX
	JNZ d8r_loop
d8r_done:
	VZEROUPPER
	RET

// Dword and word indices 0, 1, 2, … for the shifted stores below.
DATA d4iota<>+0(SB)/8, $0x0000000100000000
DATA d4iota<>+8(SB)/8, $0x0000000300000002
DATA d4iota<>+16(SB)/8, $0x0000000500000004
DATA d4iota<>+24(SB)/8, $0x0000000700000006
DATA d4iota<>+32(SB)/8, $0x0000000900000008
DATA d4iota<>+40(SB)/8, $0x0000000b0000000a
DATA d4iota<>+48(SB)/8, $0x0000000d0000000c
DATA d4iota<>+56(SB)/8, $0x0000000f0000000e
GLOBL d4iota<>(SB), RODATA|NOPTR, $64
DATA d4iotaw<>+0(SB)/8, $0x0003000200010000
DATA d4iotaw<>+8(SB)/8, $0x0007000600050004
DATA d4iotaw<>+16(SB)/8, $0x000b000a00090008
DATA d4iotaw<>+24(SB)/8, $0x000f000e000d000c
DATA d4iotaw<>+32(SB)/8, $0x0013001200110010
DATA d4iotaw<>+40(SB)/8, $0x0017001600150014
DATA d4iotaw<>+48(SB)/8, $0x001b001a00190018
DATA d4iotaw<>+56(SB)/8, $0x001f001e001d001c
GLOBL d4iotaw<>(SB), RODATA|NOPTR, $64

// func decode4F32ShiftNT(dst *float32, packed *uint8, absmax *float32, nblocks, blocksize int, table *[16]float32)
//
// decode4F32AVX512 with non-temporal stores for a dst that is not 64-byte
// aligned (dst = P + 4m, P aligned, 0 < m < 16). The values are computed
// as there, 16 at a time (v0, v1, …, v_k for element 16k on); the line at
// P + 64t holds the last m values of v_{t-1} and the first 16-m of v_t,
// which one VPERMT2PS puts together (index i + 16 - m). The first line
// (before dst) and the last (after the run) are written with masked plain
// stores of only the run's lanes, every line between them with VMOVNTPS.
TEXT ·decode4F32ShiftNT(SB), NOSPLIT, $0-48
	D4_ARGS
	TESTQ R9, R9
	JZ d4s_done
	VMOVUPS (DX), Z20
	VMOVDQU64 d4idx0<>(SB), Z21
	VMOVDQU64 d4idx1<>(SB), Z22
	VMOVDQU64 d4shd<>(SB), Z23
	MOVQ DI, CX
	ANDQ $63, CX
	SHRQ $2, CX                    // m
	ANDQ $-64, DI                  // P
	MOVL $16, AX
	SUBL CX, AX
	VPBROADCASTD AX, Z25
	VPADDD d4iota<>(SB), Z25, Z25  // i + 16 - m
	MOVL $1, AX
	SHLL CX, AX
	DECL AX
	KMOVW AX, K4                   // lanes < m: the last line
	NOTL AX
	KMOVW AX, K3                   // lanes ≥ m: the first line
	VPXORD Z27, Z27, Z27           // v_{t-1}
	MOVL $1, R11                   // the first line is still to write
d4s_block:
	VMULPS.BCST (R8), Z20, Z24     // table·a
	MOVQ R10, CX
d4s_unit:
	D4F_VALUES
	VMOVAPS Z27, Z3
	VPERMT2PS Z1, Z25, Z3          // line: v_{t-1} high lanes, v_t low lanes
	TESTL R11, R11
	JNZ d4s_first
	VMOVNTPS Z3, (DI)
d4s_second:
	VMOVAPS Z1, Z4
	VPERMT2PS Z2, Z25, Z4
	VMOVNTPS Z4, 64(DI)
	VMOVAPS Z2, Z27
	ADDQ $16, SI
	ADDQ $128, DI
	DECQ CX
	JNZ d4s_unit
	ADDQ $4, R8
	DECQ R9
	JNZ d4s_block
	VMOVAPS Z27, Z3
	VPERMT2PS Z27, Z25, Z3         // lanes < m: the last m values
	VMOVUPS Z3, K4, (DI)
	SFENCE
d4s_done:
	VZEROUPPER
	RET
d4s_first:
	VMOVUPS Z3, K3, (DI)
	XORL R11, R11
	JMP d4s_second

// func decode4HalfShiftNT(dst *uint16, packed *uint8, absmax *float32, nblocks, blocksize int, table *[16]float32, bf16 bool)
//
// decode4HalfAVX512 with non-temporal stores for a dst that is not 64-byte
// aligned (dst = P + 2m, P aligned, 0 < m < 32), as decode4F32ShiftNT does
// it: each 32-value result joins the last m words of the one before it
// (VPERMT2W, index i + 32 - m) to fill the aligned line at P + 64t; the
// first and last lines are masked plain stores.
TEXT ·decode4HalfShiftNT(SB), NOSPLIT, $0-49
	D4_ARGS
	MOVBLZX bf16+48(FP), R12
	TESTQ R9, R9
	JZ d4hs_done
	HALF_CONSTS
	VMOVUPS (DX), Z20
	VMOVDQU64 d4idxw<>(SB), Z21
	VMOVDQU64 d4shw<>(SB), Z22
	MOVQ DI, CX
	ANDQ $63, CX
	SHRQ $1, CX                    // m
	ANDQ $-64, DI                  // P
	MOVL $32, AX
	SUBL CX, AX
	VPBROADCASTW AX, Z19
	VPADDW d4iotaw<>(SB), Z19, Z19 // i + 32 - m
	MOVL $1, AX
	SHLL CX, AX
	DECL AX
	KMOVD AX, K4                   // lanes < m: the last line
	NOTL AX
	KMOVD AX, K3                   // lanes ≥ m: the first line
	VPXORD Z18, Z18, Z18           // the previous 32 values
	MOVL $1, R11
d4hs_block:
	VMULPS.BCST (R8), Z20, Z0      // table·a
	TESTQ R12, R12
	JNZ d4hs_bf16
	TO_F16
	JMP d4hs_table
d4hs_bf16:
	TO_BF16
d4hs_table:
	VINSERTI64X4 $1, Y0, Z0, Z24   // 32 entries: the 16, twice
	MOVQ R10, CX
d4hs_unit:
	D4H_VALUES
	VMOVDQA64 Z18, Z3
	VPERMT2W Z1, Z19, Z3
	TESTL R11, R11
	JNZ d4hs_first
	VMOVNTDQ Z3, (DI)
d4hs_next:
	VMOVDQA64 Z1, Z18
	ADDQ $16, SI
	ADDQ $64, DI
	DECQ CX
	JNZ d4hs_unit
	ADDQ $4, R8
	DECQ R9
	JNZ d4hs_block
	VMOVDQA64 Z18, Z3
	VPERMT2W Z18, Z19, Z3          // lanes < m: the last m values
	VMOVDQU16 Z3, K4, (DI)
	SFENCE
d4hs_done:
	VZEROUPPER
	RET
d4hs_first:
	VMOVDQU16 Z3, K3, (DI)
	XORL R11, R11
	JMP d4hs_next

// func decode8NT(dst unsafe.Pointer, codes *uint8, absmax *float32, n, first, blocksize int, code *[256]float32, kind int)
//
// decode8AVX512 (not nested) with non-temporal stores: dst is 64-byte
// aligned for float32 output (kind 0), 32-byte aligned for float16 (1) or
// bfloat16 (2); n is a multiple of 16 and blocksize at least 16. The
// vectors of 16 values run on the output's grid, not the blocks': one that
// holds the end of a block takes the next block's scale in the lanes past
// it (a merge-masked broadcast), so each value is still
// code[codes[i]]·absmax of its own block.
TEXT ·decode8NT(SB), NOSPLIT, $0-64
	MOVQ dst+0(FP), DI
	MOVQ codes+8(FP), SI
	MOVQ absmax+16(FP), R8
	MOVQ n+24(FP), R9
	MOVQ first+32(FP), BX
	MOVQ blocksize+40(FP), R10
	MOVQ code+48(FP), DX
	MOVQ kind+56(FP), R11
	SHRQ $4, R9                    // vectors
	JZ d8n_done
	HALF_CONSTS
	NEGQ BX
	ADDQ R10, BX                   // values left in the current block
d8n_vec:
	VPMOVZXBD (SI), Z2
	KXNORW K1, K1, K1
	VPXORD Z0, Z0, Z0              // no merge with the last result: gathers overlap
	VGATHERDPS (DX)(Z2*4), K1, Z0
	CMPQ BX, $16
	JLT d8n_straddle
	VBROADCASTSS (R8), Z20
	SUBQ $16, BX
	JNZ d8n_mul
	ADDQ $4, R8                    // the block ends with this vector
	MOVQ R10, BX
	JMP d8n_mul
d8n_straddle:                      // BX (1..15) lanes of this block, the rest of the next
	VBROADCASTSS 4(R8), Z20
	MOVQ BX, CX
	MOVL $1, AX
	SHLL CX, AX
	DECL AX
	KMOVW AX, K2
	VBROADCASTSS (R8), K2, Z20
	ADDQ $4, R8
	ADDQ R10, BX
	SUBQ $16, BX
d8n_mul:
	VMULPS Z20, Z0, Z0
	TESTQ R11, R11
	JNZ d8n_half
	VMOVNTPS Z0, (DI)
	ADDQ $64, DI
	JMP d8n_next
d8n_half:
	CMPQ R11, $1
	JNE d8n_bf
	TO_F16
	JMP d8n_hstore
d8n_bf:
	TO_BF16
d8n_hstore:
	VMOVNTDQ Y0, (DI)
	ADDQ $32, DI
d8n_next:
	ADDQ $16, SI
	DECQ R9
	JNZ d8n_vec
	SFENCE
d8n_done:
	VZEROUPPER
	RET
