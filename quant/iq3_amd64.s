//go:build amd64 && !noasm

#include "textflag.h"

// AVX-512 kernels of the lane-parallel IQ3 scale search (iq3SearchLanes in
// iq3.go, whose Go twins iq3LevelsGeneric, iq3NeighboursGeneric and
// iq3SumsGeneric they match bit for bit). Lane c of a vector is candidate
// scale c; each lane performs ggml's float32 operations in ggml's order
// (no FMA). Offsets into iq3Lanes: lv 0, u 4096, km 5120, scl 6272,
// sqx 6400, sq2 6528, xv 6656, wv 6784, ids 6144.

// q = 2l+1 for l = 0..7, twice
DATA iq3q<>+0(SB)/4, $0x3f800000
DATA iq3q<>+4(SB)/4, $0x40400000
DATA iq3q<>+8(SB)/4, $0x40a00000
DATA iq3q<>+12(SB)/4, $0x40e00000
DATA iq3q<>+16(SB)/4, $0x41100000
DATA iq3q<>+20(SB)/4, $0x41300000
DATA iq3q<>+24(SB)/4, $0x41500000
DATA iq3q<>+28(SB)/4, $0x41700000
DATA iq3q<>+32(SB)/4, $0x3f800000
DATA iq3q<>+36(SB)/4, $0x40400000
DATA iq3q<>+40(SB)/4, $0x40a00000
DATA iq3q<>+44(SB)/4, $0x40e00000
DATA iq3q<>+48(SB)/4, $0x41100000
DATA iq3q<>+52(SB)/4, $0x41300000
DATA iq3q<>+56(SB)/4, $0x41500000
DATA iq3q<>+60(SB)/4, $0x41700000
GLOBL iq3q<>(SB), RODATA|NOPTR, $64

// the element of each lane: 0×8 1×8, 2×8 3×8
DATA iq3sel<>+0(SB)/4, $0
DATA iq3sel<>+4(SB)/4, $0
DATA iq3sel<>+8(SB)/4, $0
DATA iq3sel<>+12(SB)/4, $0
DATA iq3sel<>+16(SB)/4, $0
DATA iq3sel<>+20(SB)/4, $0
DATA iq3sel<>+24(SB)/4, $0
DATA iq3sel<>+28(SB)/4, $0
DATA iq3sel<>+32(SB)/4, $1
DATA iq3sel<>+36(SB)/4, $1
DATA iq3sel<>+40(SB)/4, $1
DATA iq3sel<>+44(SB)/4, $1
DATA iq3sel<>+48(SB)/4, $1
DATA iq3sel<>+52(SB)/4, $1
DATA iq3sel<>+56(SB)/4, $1
DATA iq3sel<>+60(SB)/4, $1
DATA iq3sel<>+64(SB)/4, $2
DATA iq3sel<>+68(SB)/4, $2
DATA iq3sel<>+72(SB)/4, $2
DATA iq3sel<>+76(SB)/4, $2
DATA iq3sel<>+80(SB)/4, $2
DATA iq3sel<>+84(SB)/4, $2
DATA iq3sel<>+88(SB)/4, $2
DATA iq3sel<>+92(SB)/4, $2
DATA iq3sel<>+96(SB)/4, $3
DATA iq3sel<>+100(SB)/4, $3
DATA iq3sel<>+104(SB)/4, $3
DATA iq3sel<>+108(SB)/4, $3
DATA iq3sel<>+112(SB)/4, $3
DATA iq3sel<>+116(SB)/4, $3
DATA iq3sel<>+120(SB)/4, $3
DATA iq3sel<>+124(SB)/4, $3
GLOBL iq3sel<>(SB), RODATA|NOPTR, $128

DATA iq3maxf<>+0(SB)/4, $0x7f7fffff // FLT_MAX
GLOBL iq3maxf<>(SB), RODATA|NOPTR, $4

// LEVEL computes element i's levels nearest_int(0.5·(id·x − 1)) clamped
// to 0..7 for the 32 candidates (ids in Z20, Z21) into LO, HI, and stores
// them in lv[4k+i] (BX = &lv[4k]).
#define LEVEL(i, LO, HI) \
	VBROADCASTSS (4*i)(SI), Z29 \
	VMULPS Z29, Z20, LO \
	VMULPS Z29, Z21, HI \
	VSUBPS Z22, LO, LO \
	VSUBPS Z22, HI, HI \
	VMULPS Z23, LO, LO \
	VMULPS Z23, HI, HI \
	VADDPS Z24, LO, LO \
	VADDPS Z24, HI, HI \
	VPANDD Z25, LO, LO \
	VPANDD Z25, HI, HI \
	VPSUBD Z26, LO, LO \
	VPSUBD Z26, HI, HI \
	VPMINSD Z27, LO, LO \
	VPMINSD Z27, HI, HI \
	VPMAXSD Z28, LO, LO \
	VPMAXSD Z28, HI, HI \
	VMOVDQU32 LO, (128*i)(BX) \
	VMOVDQU32 HI, (128*i+64)(BX)

// func iq3LevelsAVX512(w *iq3Lanes, xval *[32]float32, kmap *[4096]int32)
TEXT ·iq3LevelsAVX512(SB), NOSPLIT, $0-24
	MOVQ w+0(FP), DI
	MOVQ xval+8(FP), SI
	MOVQ kmap+16(FP), DX
	VMOVUPS 6144(DI), Z20
	VMOVUPS 6208(DI), Z21
	MOVL $0x3f800000, AX // 1
	VPBROADCASTD AX, Z22
	MOVL $0x3f000000, AX // 0.5
	VPBROADCASTD AX, Z23
	MOVL $0x4b400000, AX // 12582912
	VPBROADCASTD AX, Z24
	MOVL $0x007fffff, AX
	VPBROADCASTD AX, Z25
	MOVL $0x00400000, AX
	VPBROADCASTD AX, Z26
	MOVL $7, AX
	VPBROADCASTD AX, Z27
	VPXORD Z28, Z28, Z28
	MOVQ DI, BX          // &lv[4k]
	LEAQ 4096(DI), R9    // &u[k]
	MOVQ $8, CX

lvloop:
	LEVEL(0, Z0, Z1)
	LEVEL(1, Z2, Z3)
	LEVEL(2, Z4, Z5)
	LEVEL(3, Z6, Z7)
	VPSLLD $3, Z2, Z2
	VPSLLD $3, Z3, Z3
	VPSLLD $6, Z4, Z4
	VPSLLD $6, Z5, Z5
	VPSLLD $9, Z6, Z6
	VPSLLD $9, Z7, Z7
	VPORD Z2, Z0, Z0
	VPORD Z3, Z1, Z1
	VPORD Z4, Z0, Z0
	VPORD Z5, Z1, Z1
	VPORD Z6, Z0, Z0
	VPORD Z7, Z1, Z1
	VMOVDQU32 Z0, (R9)
	VMOVDQU32 Z1, 64(R9)
	KXNORW K1, K1, K1
	VPXORD Z8, Z8, Z8
	VPGATHERDD (DX)(Z0*4), K1, Z8
	KXNORW K2, K2, K2
	VPXORD Z9, Z9, Z9
	VPGATHERDD (DX)(Z1*4), K2, Z9
	VMOVDQU32 Z8, 1024(R9)
	VMOVDQU32 Z9, 1088(R9)
	ADDQ $16, SI
	ADDQ $512, BX
	ADDQ $128, R9
	DECQ CX
	JNZ lvloop
	VZEROUPPER
	RET

// func iq3NeighboursAVX512(w *iq3Lanes, k int, cmask uint32, off, cnt *[4096]int32, idx *byte) int
//
// For each candidate c in cmask whose group-k point is off the grid: the
// 32 distance terms (waux·(sc·q − x))·(sc·q − x) of the group's 4
// coordinates and 8 levels (Z2: coordinates 0 and 1, Z3: 2 and 3), then
// per chunk of 16 neighbours the distances ((t0 + t1) + t2) + t3 through
// VPERMI2PS, NaN and lanes past the list's end set to +Inf, kept on the
// stack; the smallest distance m, and the first neighbour (list order)
// equal to m is ggml's choice (its strict < keeps the first of equal
// distances). m ≥ FLT_MAX means ggml finds none: return 1.
TEXT ·iq3NeighboursAVX512(SB), NOSPLIT, $256-56
	MOVQ w+0(FP), DI
	MOVQ k+8(FP), AX
	MOVL cmask+16(FP), R10
	MOVQ off+24(FP), R11
	MOVQ cnt+32(FP), R12
	MOVQ idx+40(FP), R13
	MOVQ AX, BX
	SHLQ $7, BX
	LEAQ 4096(DI)(BX*1), R14 // &u[k]; km[k] is 1024 further
	MOVQ AX, BX
	SHLQ $9, BX
	LEAQ (DI)(BX*1), SI      // &lv[4k]
	MOVQ AX, BX
	SHLQ $4, BX
	LEAQ 6656(DI)(BX*1), BX  // &xv[4k]
	VMOVUPS iq3sel<>(SB), Z6
	VMOVUPS iq3sel<>+64(SB), Z7
	VMOVUPS (BX), X8
	VMOVUPS 128(BX), X9
	VPERMPS Z8, Z6, Z10      // x0×8 x1×8
	VPERMPS Z8, Z7, Z11      // x2×8 x3×8
	VPERMPS Z9, Z6, Z12      // waux likewise
	VPERMPS Z9, Z7, Z13
	VMOVUPS iq3q<>(SB), Z14
	MOVL $0x7f800000, AX
	VPBROADCASTD AX, Z15     // +Inf
	VMOVDQU32 1024(R14), Z0
	VPMOVD2M Z0, K1
	KMOVW K1, AX
	VMOVDQU32 1088(R14), Z0
	VPMOVD2M Z0, K1
	KMOVW K1, BX
	SHLL $16, BX
	ORL BX, AX
	ANDL AX, R10

next:
	TESTL R10, R10
	JZ done
	TZCNTL R10, CX
	BLSRL R10, R10
	MOVL (R14)(CX*4), AX     // u
	VBROADCASTSS 6272(DI)(CX*4), Z0
	VMULPS Z14, Z0, Z0       // sc·q
	VSUBPS Z10, Z0, Z1
	VMULPS Z1, Z12, Z2
	VMULPS Z1, Z2, Z2        // T01
	VSUBPS Z11, Z0, Z1
	VMULPS Z1, Z13, Z3
	VMULPS Z1, Z3, Z3        // T23
	MOVLQSX (R11)(AX*4), R8
	ADDQ R13, R8
	MOVQ R8, DX              // the list's first chunk
	MOVL (R12)(AX*4), R9     // entries left
	VMOVAPS Z15, Z4          // running minimum
	XORQ BX, BX

chunk:
	VPMOVZXBD (R8), Z6
	VPMOVZXBD 16(R8), Z7
	VPMOVZXBD 32(R8), Z8
	VPMOVZXBD 48(R8), Z9
	VPERMI2PS Z3, Z2, Z6
	VPERMI2PS Z3, Z2, Z7
	VPERMI2PS Z3, Z2, Z8
	VPERMI2PS Z3, Z2, Z9
	VADDPS Z7, Z6, Z6
	VADDPS Z8, Z6, Z6
	VADDPS Z9, Z6, Z6
	MOVL $0xffff, AX
	BZHIL R9, AX, AX         // lanes within the list
	KMOVW AX, K2
	VCMPPS $7, Z6, Z6, K2, K3 // and not NaN
	VBLENDMPS Z6, Z15, K3, Z6
	VMOVUPS Z6, (SP)(BX*1)
	VMINPS Z6, Z4, Z4
	ADDQ $64, R8
	ADDQ $64, BX
	SUBL $16, R9
	JGT chunk

	VSHUFF32X4 $0x4e, Z4, Z4, Z5
	VMINPS Z5, Z4, Z4
	VSHUFF32X4 $0xb1, Z4, Z4, Z5
	VMINPS Z5, Z4, Z4
	VPERMILPS $0x4e, Z4, Z5
	VMINPS Z5, Z4, Z4
	VPERMILPS $0xb1, Z4, Z5
	VMINPS Z5, Z4, Z4
	VUCOMISS iq3maxf<>(SB), X4
	JCC abort                // not below FLT_MAX: no neighbour
	XORQ BX, BX

find:
	VCMPPS $0, (SP)(BX*1), Z4, K1
	KMOVW K1, AX
	TESTL AX, AX
	JNZ found
	ADDQ $64, BX
	ADDQ $64, DX
	JMP find

found:
	TZCNTL AX, AX
	ADDQ AX, DX
	MOVBLZX (DX), BX
	MOVL BX, (SI)(CX*4)
	MOVBLZX 16(DX), BX
	SUBL $8, BX
	MOVL BX, 128(SI)(CX*4)
	MOVBLZX 32(DX), BX
	SUBL $16, BX
	MOVL BX, 256(SI)(CX*4)
	MOVBLZX 48(DX), BX
	SUBL $24, BX
	MOVL BX, 384(SI)(CX*4)
	JMP next

done:
	VZEROUPPER
	MOVQ $0, ret+48(FP)
	RET

abort:
	VZEROUPPER
	MOVQ $1, ret+48(FP)
	RET

// func iq3SumsAVX512(w *iq3Lanes, weight, xval *[32]float32)
//
// sqx[c] = Σ_i (w_i·x_i)·q and sq2[c] = Σ_i (w_i·q)·q with q = 2·lv[i][c] + 1,
// added in index order from zero.
TEXT ·iq3SumsAVX512(SB), NOSPLIT, $0-24
	MOVQ w+0(FP), DI
	MOVQ weight+8(FP), SI
	MOVQ xval+16(FP), DX
	MOVQ DI, R8
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	MOVL $1, AX
	VPBROADCASTD AX, Z15
	MOVQ $32, CX

sumloop:
	VBROADCASTSS (SI), Z4    // w
	VBROADCASTSS (DX), Z5
	VMULPS Z5, Z4, Z5        // w·x
	VMOVDQU32 (R8), Z6
	VMOVDQU32 64(R8), Z7
	VPADDD Z6, Z6, Z6
	VPADDD Z7, Z7, Z7
	VPADDD Z15, Z6, Z6
	VPADDD Z15, Z7, Z7
	VCVTDQ2PS Z6, Z6         // q
	VCVTDQ2PS Z7, Z7
	VMULPS Z6, Z5, Z8        // (w·x)·q
	VMULPS Z7, Z5, Z9
	VMULPS Z6, Z4, Z10       // (w·q)·q
	VMULPS Z7, Z4, Z11
	VMULPS Z6, Z10, Z10
	VMULPS Z7, Z11, Z11
	VADDPS Z8, Z0, Z0
	VADDPS Z9, Z1, Z1
	VADDPS Z10, Z2, Z2
	VADDPS Z11, Z3, Z3
	ADDQ $4, SI
	ADDQ $4, DX
	ADDQ $128, R8
	DECQ CX
	JNZ sumloop
	VMOVUPS Z0, 6400(DI)
	VMOVUPS Z1, 6464(DI)
	VMOVUPS Z2, 6528(DI)
	VMOVUPS Z3, 6592(DI)
	VZEROUPPER
	RET
