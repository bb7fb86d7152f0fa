//go:build amd64 && !noasm

#include "textflag.h"

// AVX2 versions of the lane primitives of search.go. No FMA is used: every
// product is rounded by VMULPS before any VADDPS/VSUBPS consumes it, and the
// operands keep ggml's order (for VEX instructions, Go's middle operand is
// the first source). Each routine's header comment repeats the Go loop it
// implements.

// BCAST32 broadcasts the 32-bit constant c into the YMM register y,
// through the general register AX.
#define BCAST32(c, x, y) MOVL $c, AX; VMOVD AX, x; VPBROADCASTD x, y

// func qkxEval8AVX2(x, w *float32, n int, num *[8]float32, rng, min float32, nmax int32,
//	sumW, sumX float32, mad, first bool, Lf *[256]float32, res *[3][8]float32)
//
// Reference: qkxEval8Generic. Per lane k (one YMM lane), is = num[k]/rng:
//	for i < n: l = clamp(nearestInt(is*(x[i]-min)), 0, nmax); Lf[8i+k] = l
//	           sumL += w[i]*l; sumL2 += (w[i]*l)*l; sumXL += (w[i]*l)*x[i]
//	D = sumW*sumL2 - sumL*sumL
//	ts = (sumW*sumXL - sumX*sumL)/D; tm = (sumL2*sumX - sumL*sumXL)/D
//	if tm > 0 { tm = 0; ts = sumXL/sumL2 }
//	if first && k == 0 { ts = 1/is; tm = min; D treated as positive }
//	for i < n: diff = ((ts*l)+tm) - x[i]; err += w[i]*(mad ? |diff| : diff*diff)
//	if !(D > 0) { err = +Inf }
//	res[0][k], res[1][k], res[2][k] = ts, tm, err
TEXT ·qkxEval8AVX2(SB), NOSPLIT, $0-72
	MOVQ x+0(FP), DI
	MOVQ w+8(FP), DX
	MOVQ n+16(FP), CX
	MOVQ num+24(FP), AX
	VMOVUPS (AX), Y0
	VBROADCASTSS rng+32(FP), Y1
	VDIVPS Y1, Y0, Y0              // Y0 = is = num/rng
	BCAST32(0x4B400000, X1, Y1)    // Y1 = 12582912.0
	MOVL nmax+40(FP), AX
	VMOVD AX, X2
	VPBROADCASTD X2, Y2            // Y2 = nmax
	VXORPS Y3, Y3, Y3              // Y3 = 0
	VXORPS Y4, Y4, Y4              // Y4 = sumL
	VXORPS Y5, Y5, Y5              // Y5 = sumL2
	VXORPS Y6, Y6, Y6              // Y6 = sumXL
	BCAST32(0x007FFFFF, X11, Y11)
	BCAST32(0x00400000, X12, Y12)
	VBROADCASTSS min+36(FP), Y13   // Y13 = min
	MOVQ Lf+56(FP), BX
	XORQ R8, R8
	MOVQ BX, R9

qkx_sums:
	VBROADCASTSS (DI)(R8*4), Y10   // x
	VSUBPS Y13, Y10, Y7            // x - min
	VMULPS Y7, Y0, Y7              // is*(x-min)
	VADDPS Y1, Y7, Y7              // nearestInt: + 1.5*2^23,
	VPAND Y11, Y7, Y7              //   low 23 bits,
	VPSUBD Y12, Y7, Y7             //   - 0x400000
	VPMINSD Y2, Y7, Y7
	VPMAXSD Y3, Y7, Y7
	VCVTDQ2PS Y7, Y7               // l
	VMOVUPS Y7, (R9)
	VBROADCASTSS (DX)(R8*4), Y8
	VMULPS Y7, Y8, Y8              // wl = w*l
	VADDPS Y8, Y4, Y4              // sumL += wl
	VMULPS Y7, Y8, Y9
	VADDPS Y9, Y5, Y5              // sumL2 += wl*l
	VMULPS Y10, Y8, Y10
	VADDPS Y10, Y6, Y6             // sumXL += wl*x
	ADDQ $32, R9
	INCQ R8
	CMPQ R8, CX
	JLT qkx_sums

	VBROADCASTSS sumW+44(FP), Y13
	VBROADCASTSS sumX+48(FP), Y14
	VMULPS Y5, Y13, Y7             // sumW*sumL2
	VMULPS Y4, Y4, Y8              // sumL*sumL
	VSUBPS Y8, Y7, Y7              // Y7 = D
	VMULPS Y6, Y13, Y8             // sumW*sumXL
	VMULPS Y4, Y14, Y9             // sumX*sumL
	VSUBPS Y9, Y8, Y8
	VDIVPS Y7, Y8, Y8              // Y8 = ts
	VMULPS Y14, Y5, Y9             // sumL2*sumX
	VMULPS Y6, Y4, Y10             // sumL*sumXL
	VSUBPS Y10, Y9, Y9
	VDIVPS Y7, Y9, Y9              // Y9 = tm
	VCMPPS $0x1E, Y3, Y9, Y10      // tm > 0 (ordered)
	VDIVPS Y5, Y6, Y11             // sumXL/sumL2
	VBLENDVPS Y10, Y11, Y8, Y8     // ts = tm > 0 ? sumXL/sumL2 : ts
	VANDNPS Y9, Y10, Y9            // tm = tm > 0 ? +0 : tm
	VCMPPS $0x1E, Y3, Y7, Y7       // Y7 = D > 0

	MOVBLZX first+53(FP), AX
	TESTL AX, AX
	JZ qkx_err
	BCAST32(0x3F800000, X10, Y10)
	VDIVPS Y0, Y10, Y10            // 1/is
	VBROADCASTSS min+36(FP), Y11
	MOVL $-1, AX
	VMOVD AX, X12                  // lane 0 only
	VBLENDVPS Y12, Y10, Y8, Y8     // ts[0] = 1/is[0]
	VBLENDVPS Y12, Y11, Y9, Y9     // tm[0] = min
	VORPS Y12, Y7, Y7              // lane 0 valid

qkx_err:
	VXORPS Y4, Y4, Y4              // Y4 = err
	XORQ R8, R8
	MOVQ BX, R9
	MOVBLZX mad+52(FP), AX
	TESTL AX, AX
	JNZ qkx_mad

qkx_sq:
	VMULPS (R9), Y8, Y11           // ts*l
	VADDPS Y9, Y11, Y11            // + tm
	VBROADCASTSS (DI)(R8*4), Y12
	VSUBPS Y12, Y11, Y11           // - x
	VMULPS Y11, Y11, Y11           // diff*diff
	VBROADCASTSS (DX)(R8*4), Y12
	VMULPS Y11, Y12, Y11           // w*diff
	VADDPS Y11, Y4, Y4
	ADDQ $32, R9
	INCQ R8
	CMPQ R8, CX
	JLT qkx_sq
	JMP qkx_done

qkx_mad:
	BCAST32(0x7FFFFFFF, X13, Y13)
qkx_madloop:
	VMULPS (R9), Y8, Y11           // ts*l
	VADDPS Y9, Y11, Y11            // + tm
	VBROADCASTSS (DI)(R8*4), Y12
	VSUBPS Y12, Y11, Y11           // - x
	VANDPS Y13, Y11, Y11           // |diff|
	VBROADCASTSS (DX)(R8*4), Y12
	VMULPS Y11, Y12, Y11           // w*|diff|
	VADDPS Y11, Y4, Y4
	ADDQ $32, R9
	INCQ R8
	CMPQ R8, CX
	JLT qkx_madloop

qkx_done:
	BCAST32(0x7F800000, X12, Y12)  // +Inf
	VBLENDVPS Y7, Y4, Y12, Y4      // err = D > 0 ? err : +Inf
	MOVQ res+64(FP), AX
	VMOVUPS Y8, (AX)
	VMOVUPS Y9, 32(AX)
	VMOVUPS Y4, 64(AX)
	VZEROUPPER
	RET

// QX_LANES does one 8-lane block g of qxSearchAVX2 for the element whose
// x, w, w*x are broadcast in Y9, Y10, Y11: accumulators LX and L2.
// Here |is*x| ≤ (nmax+1)·(1+2⁻²³)² because |x| ≤ |max| and
// |num| ≤ nmax+1, so nearest_int's round-half-even is computed in the float
// domain — (t + 1.5·2²³) − 1.5·2²³ is exact for |t| < 2²² — and the clamp
// with VMINPS/VMAXPS (no NaN can occur): the level l is the same float as
// float(clamp(nearestInt(t), -nmax, nmax-1)).
#define QX_LANES(g, LX, L2) \
	VMULPS (g*32)(R11), Y9, Y12 \
	VADDPS Y6, Y12, Y12 \
	VSUBPS Y6, Y12, Y12 \
	VMINPS Y7, Y12, Y12 \
	VMAXPS Y8, Y12, Y12 \
	VMULPS Y12, Y11, Y15 \
	VADDPS Y15, LX, LX \
	VMULPS Y12, Y10, Y15 \
	VMULPS Y12, Y15, Y15 \
	VADDPS Y15, L2, L2

// QX_ELEMENTS runs the sum loop of qxSearchAVX2 over i < CX; WEIGHT
// leaves w[i] in Y10 given x[i] in Y9.
#define QX_ELEMENTS(loop, WEIGHT) \
loop: \
	VBROADCASTSS (SI)(R8*4), Y9 \
	WEIGHT \
	VMULPS Y9, Y10, Y11 \
	QX_LANES(0, Y0, Y3) \
	QX_LANES(1, Y1, Y4) \
	QX_LANES(2, Y2, Y5) \
	INCQ R8 \
	CMPQ R8, CX \
	JLT loop

#define QX_W_IMATRIX VBROADCASTSS (DI)(R8*4), Y10
#define QX_W_SQUARE VMULPS Y9, Y9, Y10

// func qxSearchAVX2(x, qw *float32, n int, num *[24]float32, nmax int32, sums *[48]float32) (max float32, ok bool)
//
// Reference: qxSearchGeneric, n a multiple of 8 and |num[k]| ≤ nmax+1 (as
// make_qx_quants' candidates are):
//	max = first x with the largest |x|; if max|x| < 1e-15 { return max, false }
//	per lane k, is[k] = num[k]/max; w[i] = qw[i] (or x[i]*x[i] if qw == nil):
//	for i < n: l = clamp(nearestInt(is[k]*x[i]), -nmax, nmax-1)
//	           sumLX += (w[i]*x[i])*l; sumL2 += (w[i]*l)*l
//	sums[k], sums[24+k] = sumLX, sumL2
TEXT ·qxSearchAVX2(SB), NOSPLIT, $96-53
	MOVQ x+0(FP), SI
	MOVQ qw+8(FP), DI
	MOVQ n+16(FP), CX
	BCAST32(0x7FFFFFFF, X15, Y15)
	VPXOR Y0, Y0, Y0
	XORQ R8, R8
qxs_amax:
	VANDPS (SI)(R8*4), Y15, Y1
	VPMAXUD Y1, Y0, Y0
	ADDQ $8, R8
	CMPQ R8, CX
	JLT qxs_amax
	VPERM2I128 $1, Y0, Y0, Y1
	VPMAXUD Y1, Y0, Y0
	VPSHUFD $0x4E, Y0, Y1
	VPMAXUD Y1, Y0, Y0
	VPSHUFD $0xB1, Y0, Y1
	VPMAXUD Y1, Y0, Y0             // Y0 = max |x| in every lane
	MOVL $0x26901D7D, AX           // 1e-15
	VMOVD AX, X1
	VUCOMISS X1, X0
	JCS qxs_zero                   // max|x| < 1e-15
	XORQ R8, R8
qxs_first:
	VANDPS (SI)(R8*4), Y15, Y1
	VPCMPEQD Y0, Y1, Y1
	VMOVMSKPS Y1, AX
	TESTL AX, AX
	JNZ qxs_found
	ADDQ $8, R8
	JMP qxs_first
qxs_found:
	BSFL AX, AX
	ADDQ R8, AX
	VMOVSS (SI)(AX*4), X2          // max
	VMOVSS X2, max+48(FP)
	MOVB $1, ok+52(FP)
	VBROADCASTSS X2, Y2
	MOVQ num+24(FP), R11
	VMOVUPS (R11), Y1
	VDIVPS Y2, Y1, Y1
	VMOVUPS Y1, 0(SP)
	VMOVUPS 32(R11), Y1
	VDIVPS Y2, Y1, Y1
	VMOVUPS Y1, 32(SP)
	VMOVUPS 64(R11), Y1
	VDIVPS Y2, Y1, Y1
	VMOVUPS Y1, 64(SP)
	LEAQ 0(SP), R11                // R11 = is
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	MOVL nmax+32(FP), R9
	BCAST32(0x4B400000, X6, Y6)
	LEAL -1(R9), BX
	VMOVD BX, X7
	VPBROADCASTD X7, Y7
	VCVTDQ2PS Y7, Y7               // nmax-1
	NEGL R9
	VMOVD R9, X8
	VPBROADCASTD X8, Y8
	VCVTDQ2PS Y8, Y8               // -nmax
	XORQ R8, R8
	TESTQ DI, DI
	JZ qxs_square
	QX_ELEMENTS(qxs_loop_im, QX_W_IMATRIX)
	JMP qxs_store
qxs_square:
	QX_ELEMENTS(qxs_loop_sq, QX_W_SQUARE)
qxs_store:
	MOVQ sums+40(FP), BX
	VMOVUPS Y0, (BX)
	VMOVUPS Y1, 32(BX)
	VMOVUPS Y2, 64(BX)
	VMOVUPS Y3, 96(BX)
	VMOVUPS Y4, 128(BX)
	VMOVUPS Y5, 160(BX)
	VZEROUPPER
	RET
qxs_zero:
	MOVL $0, max+48(FP)
	MOVB $0, ok+52(FP)
	VZEROUPPER
	RET

// func roundScaledAVX2(out *uint8, x *float32, n int, iscale float32, lo, hi, off int32)
//
// Reference: roundScaledGeneric, n a multiple of 8:
//	for i < n: out[i] = uint8(clamp(nearestInt(iscale*x[i]), lo, hi) + off)
TEXT ·roundScaledAVX2(SB), NOSPLIT, $0-40
	MOVQ out+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS iscale+24(FP), Y0
	MOVL lo+28(FP), AX
	VMOVD AX, X2
	VPBROADCASTD X2, Y2
	MOVL hi+32(FP), AX
	VMOVD AX, X3
	VPBROADCASTD X3, Y3
	MOVL off+36(FP), AX
	VMOVD AX, X4
	VPBROADCASTD X4, Y4
	BCAST32(0x4B400000, X5, Y5)
	BCAST32(0x007FFFFF, X6, Y6)
	BCAST32(0x00400000, X7, Y7)
	XORQ R8, R8
rs_loop:
	VMOVUPS (SI)(R8*4), Y8
	VMULPS Y8, Y0, Y8              // iscale*x
	VADDPS Y5, Y8, Y8              // nearestInt
	VPAND Y6, Y8, Y8
	VPSUBD Y7, Y8, Y8
	VPMINSD Y3, Y8, Y8
	VPMAXSD Y2, Y8, Y8
	VPADDD Y4, Y8, Y8
	VEXTRACTI128 $1, Y8, X9
	VPACKUSDW X9, X8, X8
	VPACKUSWB X8, X8, X8
	MOVQ X8, (DI)(R8*1)
	ADDQ $8, R8
	CMPQ R8, CX
	JLT rs_loop
	VZEROUPPER
	RET

// func imatrixWeightsAVX2(w, x, qw *float32, n int, sigma2 float32)
//
// Reference: imatrixWeightsGeneric, n a multiple of 8:
//	for j < n: w[j] = qw[j] * sqrt(sigma2 + x[j]*x[j])
TEXT ·imatrixWeightsAVX2(SB), NOSPLIT, $0-36
	MOVQ w+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ qw+16(FP), DX
	MOVQ n+24(FP), CX
	VBROADCASTSS sigma2+32(FP), Y0
	XORQ R8, R8
iw_loop:
	VMOVUPS (SI)(R8*4), Y1
	VMULPS Y1, Y1, Y1              // x*x
	VADDPS Y1, Y0, Y1              // sigma2 + x*x
	VSQRTPS Y1, Y1
	VMOVUPS (DX)(R8*4), Y2
	VMULPS Y1, Y2, Y1              // qw * sqrt(...)
	VMOVUPS Y1, (DI)(R8*4)
	ADDQ $8, R8
	CMPQ R8, CX
	JLT iw_loop
	VZEROUPPER
	RET

// IQ4_INDEX computes in Y13 the IQ4_NL level index (0..15) of the 8 values
// in Y4, as the number of level midpoints m with !(v < m) (NaN counts every
// midpoint), by a branch-free binary search over the midpoint tables:
// Y8 = mid[7], Y9 = mid[3], Y10 = mid[11], Y11 = mid[1,5,9,13],
// Y12 = mid[0,2,...,14]. Clobbers Y5, Y14.
#define IQ4_INDEX \
	VCMPPS $0x15, Y8, Y4, Y5 \
	VBLENDVPS Y5, Y10, Y9, Y14 \
	VPSRLD $31, Y5, Y5 \
	VPSLLD $3, Y5, Y13 \
	VCMPPS $0x15, Y14, Y4, Y14 \
	VPSRLD $31, Y14, Y14 \
	VPSLLD $2, Y14, Y14 \
	VPADDD Y14, Y13, Y13 \
	VPSRLD $2, Y13, Y14 \
	VPERMPS Y11, Y14, Y14 \
	VCMPPS $0x15, Y14, Y4, Y14 \
	VPSRLD $31, Y14, Y14 \
	VPSLLD $1, Y14, Y14 \
	VPADDD Y14, Y13, Y13 \
	VPSRLD $1, Y13, Y14 \
	VPERMPS Y12, Y14, Y14 \
	VCMPPS $0x15, Y14, Y4, Y14 \
	VPSRLD $31, Y14, Y14 \
	VPADDD Y14, Y13, Y13

// IQ4_TABLES loads the midpoint tables used by IQ4_INDEX and the level
// tables (Y6 = levels 0..7, Y7 = levels 8..15) from iq4nlAsmTables.
#define IQ4_TABLES \
	MOVQ $·iq4nlAsmTables(SB), AX \
	VMOVUPS (AX), Y6 \
	VMOVUPS 32(AX), Y7 \
	VBROADCASTSS 64(AX), Y8 \
	VBROADCASTSS 96(AX), Y9 \
	VBROADCASTSS 100(AX), Y10 \
	VMOVUPS 128(AX), Y11 \
	VMOVUPS 160(AX), Y12

// func iq4nlSums16AVX2(x, w *float32, id *[16]float32, sums *[32]float32)
//
// Reference: iq4nlSumsGeneric with n = 32 and 16 lanes. Per lane k:
//	for i < 32: q = kvalues[bestIndexIQ4NL(id[k]*x[i])]
//	            sumQX += (w[i]*q)*x[i]; sumQ2 += (w[i]*q)*q
//	sums[k], sums[16+k] = sumQX, sumQ2
TEXT ·iq4nlSums16AVX2(SB), NOSPLIT, $0-32
	IQ4_TABLES
	MOVQ x+0(FP), SI
	MOVQ w+8(FP), DI
	MOVQ id+16(FP), DX
	MOVQ sums+24(FP), BX
	XORQ R10, R10                  // lane block 0, 1

iq4_block:
	VMOVUPS (DX)(R10*1), Y2        // id
	VXORPS Y0, Y0, Y0              // sumQX
	VXORPS Y1, Y1, Y1              // sumQ2
	XORQ R8, R8

iq4_loop:
	VBROADCASTSS (SI)(R8*4), Y3    // x
	VMULPS Y3, Y2, Y4              // id*x
	IQ4_INDEX
	VPERMPS Y6, Y13, Y14           // levels[idx & 7]
	VPERMPS Y7, Y13, Y15           // levels[8 + idx & 7]
	VPSLLD $28, Y13, Y13           // bit 3 of idx to the sign
	VBLENDVPS Y13, Y15, Y14, Y14   // q
	VBROADCASTSS (DI)(R8*4), Y5    // w
	VMULPS Y14, Y5, Y5             // wq = w*q
	VMULPS Y3, Y5, Y15             // wq*x
	VADDPS Y15, Y0, Y0
	VMULPS Y14, Y5, Y15            // wq*q
	VADDPS Y15, Y1, Y1
	INCQ R8
	CMPQ R8, $32
	JLT iq4_loop

	VMOVUPS Y0, (BX)(R10*1)
	VMOVUPS Y1, 64(BX)(R10*1)
	ADDQ $32, R10
	CMPQ R10, $64
	JLT iq4_block
	VZEROUPPER
	RET

// func iq4nlIndex32AVX2(out *uint8, x *float32, id float32)
//
// Reference: iq4nlIndexGeneric with 32 values:
//	for i < 32: out[i] = bestIndexIQ4NL(id*x[i])
TEXT ·iq4nlIndex32AVX2(SB), NOSPLIT, $0-20
	IQ4_TABLES
	MOVQ out+0(FP), DI
	MOVQ x+8(FP), SI
	VBROADCASTSS id+16(FP), Y2
	XORQ R8, R8

iq4i_loop:
	VMOVUPS (SI)(R8*4), Y3
	VMULPS Y3, Y2, Y4              // id*x
	IQ4_INDEX
	VEXTRACTI128 $1, Y13, X14
	VPACKUSDW X14, X13, X13
	VPACKUSWB X13, X13, X13
	MOVQ X13, (DI)(R8*1)
	ADDQ $8, R8
	CMPQ R8, $32
	JLT iq4i_loop
	VZEROUPPER
	RET

// func requantAVX2(out *uint8, x *float32, n int, add, div float32, lo, hi, off int32)
//
// Reference: requantGeneric, n a multiple of 8:
//	for i < n: out[i] = uint8(clamp(nearestInt((x[i]+add)/div), lo, hi) + off)
TEXT ·requantAVX2(SB), NOSPLIT, $0-44
	MOVQ out+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS add+24(FP), Y0
	VBROADCASTSS div+28(FP), Y1
	MOVL lo+32(FP), AX
	VMOVD AX, X2
	VPBROADCASTD X2, Y2
	MOVL hi+36(FP), AX
	VMOVD AX, X3
	VPBROADCASTD X3, Y3
	MOVL off+40(FP), AX
	VMOVD AX, X4
	VPBROADCASTD X4, Y4
	BCAST32(0x4B400000, X5, Y5)
	BCAST32(0x007FFFFF, X6, Y6)
	BCAST32(0x00400000, X7, Y7)
	XORQ R8, R8

rq_loop:
	VMOVUPS (SI)(R8*4), Y8
	VADDPS Y0, Y8, Y8              // x + add
	VDIVPS Y1, Y8, Y8              // / div
	VADDPS Y5, Y8, Y8              // nearestInt
	VPAND Y6, Y8, Y8
	VPSUBD Y7, Y8, Y8
	VPMINSD Y3, Y8, Y8
	VPMAXSD Y2, Y8, Y8
	VPADDD Y4, Y8, Y8
	VEXTRACTI128 $1, Y8, X9
	VPACKUSDW X9, X8, X8
	VPACKUSWB X8, X8, X8
	MOVQ X8, (DI)(R8*1)
	ADDQ $8, R8
	CMPQ R8, CX
	JLT rq_loop
	VZEROUPPER
	RET

// NEAREST_CLAMP turns the floats in Y into clamp(nearestInt(Y), lo, hi)
// (int32): Y12 = 12582912.0, Y13 = 0x007FFFFF, Y14 = 0x00400000,
// LO/HI = the bounds.
#define NEAREST_CLAMP(Y, LO, HI) \
	VADDPS Y12, Y, Y \
	VPAND Y13, Y, Y \
	VPSUBD Y14, Y, Y \
	VPMINSD HI, Y, Y \
	VPMAXSD LO, Y, Y

// func q3Quants8AVX2(xt *[16][8]float32, lt *[16][8]int32, scale *[8]float32)
//
// Reference: makeQ3Quants8Generic (make_q3_quants, n = 16, nmax = 4, for
// 8 groups, one per lane). Per lane:
//	max = first x with the largest |x|; iscale = -4/max
//	for i: l[i] = clamp(nearestInt(iscale*x), -4, 3); w = x*x
//	       sumlx += (w*x)*l; suml2 += (w*l)*l
//	up to 5 sweeps, while some lane changed:
//	  for i: slx = sumlx - (w*x)*l; sl2 = suml2 - (w*l)*l
//	         new = clamp(nearestInt((x*sl2)/slx), -4, 3)
//	         slx2 = slx + (w*x)*new; sl22 = sl2 + (w*new)*new
//	         if slx > 0 && new != l && sl22 > 0 &&
//	            (slx2*slx2)*suml2 > (sumlx*sumlx)*sl22 { l, sumlx, suml2 = new, slx2, sl22 }
//	scale = suml2 > 0 ? sumlx/suml2 : 0; l += 4
//	amax < 1e-15: scale = 0, l = 0
TEXT ·q3Quants8AVX2(SB), NOSPLIT, $0-24
	MOVQ xt+0(FP), SI
	MOVQ lt+8(FP), DI
	BCAST32(0x7FFFFFFF, X15, Y15)
	BCAST32(0x4B400000, X12, Y12)
	BCAST32(0x007FFFFF, X13, Y13)
	BCAST32(0x00400000, X14, Y14)

	// max, amax
	VXORPS Y0, Y0, Y0              // amax
	VXORPS Y1, Y1, Y1              // max
	XORQ R8, R8
q3_max:
	VMOVUPS (SI)(R8*1), Y2
	VANDPS Y15, Y2, Y3
	VCMPPS $0x1E, Y0, Y3, Y4       // |x| > amax
	VBLENDVPS Y4, Y3, Y0, Y0
	VBLENDVPS Y4, Y2, Y1, Y1
	ADDQ $32, R8
	CMPQ R8, $512
	JLT q3_max

	BCAST32(0xC0800000, X2, Y2)    // -4.0
	VDIVPS Y1, Y2, Y1              // Y1 = iscale = -4/max
	BCAST32(0xFFFFFFFC, X10, Y10)  // -4 (int)
	BCAST32(0x00000003, X11, Y11)  // 3

	// initial levels and sums
	VXORPS Y5, Y5, Y5              // sumlx
	VXORPS Y6, Y6, Y6              // suml2
	XORQ R8, R8
q3_init:
	VMOVUPS (SI)(R8*1), Y2         // x
	VMULPS Y2, Y1, Y3              // iscale*x
	NEAREST_CLAMP(Y3, Y10, Y11)
	VMOVDQU Y3, (DI)(R8*1)
	VCVTDQ2PS Y3, Y3               // l
	VMULPS Y2, Y2, Y4              // w = x*x
	VMULPS Y2, Y4, Y7              // w*x
	VMULPS Y3, Y7, Y7              // (w*x)*l
	VADDPS Y7, Y5, Y5
	VMULPS Y3, Y4, Y7              // w*l
	VMULPS Y3, Y7, Y7              // (w*l)*l
	VADDPS Y7, Y6, Y6
	ADDQ $32, R8
	CMPQ R8, $512
	JLT q3_init

	MOVQ scale+16(FP), DX
	VMOVUPS Y0, (DX)               // keep amax for the end

	MOVQ $5, R9
q3_sweep:
	VXORPS Y9, Y9, Y9              // changed
	XORQ R8, R8
q3_elem:
	VMOVUPS (SI)(R8*1), Y2         // x
	VMOVDQU (DI)(R8*1), Y8         // l (int)
	VCVTDQ2PS Y8, Y3               // fl
	VMULPS Y2, Y2, Y4              // w = x*x
	VMULPS Y2, Y4, Y7              // wx = w*x
	VMULPS Y3, Y7, Y1              // wx*fl
	VSUBPS Y1, Y5, Y1              // slx = sumlx - wx*fl
	VMULPS Y3, Y4, Y0              // w*fl
	VMULPS Y3, Y0, Y0              // (w*fl)*fl
	VSUBPS Y0, Y6, Y0              // sl2 = suml2 - (w*fl)*fl
	VMULPS Y0, Y2, Y3              // x*sl2
	VDIVPS Y1, Y3, Y3              // (x*sl2)/slx
	NEAREST_CLAMP(Y3, Y10, Y11)    // new
	VPCMPEQD Y8, Y3, Y15           // new == l
	VCVTDQ2PS Y3, Y2               // fn
	VMULPS Y2, Y7, Y7              // wx*fn
	VADDPS Y7, Y1, Y7              // slx2 = slx + wx*fn
	VMULPS Y2, Y4, Y4              // w*fn
	VMULPS Y2, Y4, Y4              // (w*fn)*fn
	VADDPS Y4, Y0, Y4              // sl22 = sl2 + (w*fn)*fn
	VXORPS Y2, Y2, Y2
	VCMPPS $0x1E, Y2, Y1, Y1       // slx > 0
	VCMPPS $0x1E, Y2, Y4, Y0       // sl22 > 0
	VANDPS Y0, Y1, Y1
	VANDNPS Y1, Y15, Y1            // and new != l
	VMULPS Y7, Y7, Y0              // slx2*slx2
	VMULPS Y6, Y0, Y0              // (slx2*slx2)*suml2
	VMULPS Y5, Y5, Y2              // sumlx*sumlx
	VMULPS Y4, Y2, Y2              // (sumlx*sumlx)*sl22
	VCMPPS $0x1E, Y2, Y0, Y0       // a > b
	VANDPS Y0, Y1, Y1              // accept
	// Acceptances are rare: branch around the update so that, when no
	// lane accepts, the next element does not wait for this one's long
	// dependency chain (the CPU predicts the branch, as it does for ggml).
	VMOVMSKPS Y1, AX
	TESTL AX, AX
	JZ q3_next
	VBLENDVPS Y1, Y3, Y8, Y8
	VMOVDQU Y8, (DI)(R8*1)
	VBLENDVPS Y1, Y7, Y5, Y5
	VBLENDVPS Y1, Y4, Y6, Y6
	VORPS Y1, Y9, Y9
q3_next:
	ADDQ $32, R8
	CMPQ R8, $512
	JLT q3_elem
	VPTEST Y9, Y9
	JZ q3_done
	DECQ R9
	JNZ q3_sweep

q3_done:
	VXORPS Y2, Y2, Y2
	VCMPPS $0x1E, Y2, Y6, Y0       // suml2 > 0
	VDIVPS Y6, Y5, Y1              // sumlx/suml2
	VANDPS Y0, Y1, Y1
	VMOVUPS (DX), Y3               // amax
	BCAST32(0x26901D7D, X4, Y4)    // 1e-15
	VCMPPS $0x11, Y4, Y3, Y4       // amax < 1e-15 (ordered)
	VANDNPS Y1, Y4, Y1
	VMOVUPS Y1, (DX)
	BCAST32(0x00000004, X5, Y5)
	XORQ R8, R8
q3_fin:
	VMOVDQU (DI)(R8*1), Y8
	VPADDD Y5, Y8, Y8
	VPANDN Y8, Y4, Y8              // all-zero groups: level 0
	VMOVDQU Y8, (DI)(R8*1)
	ADDQ $32, R8
	CMPQ R8, $512
	JLT q3_fin
	VZEROUPPER
	RET
