//go:build amd64 && !noasm

#include "textflag.h"

// AVX2 versions of the group-parallel searches of lanes.go: one group per
// YMM lane. No FMA: every product is rounded by VMULPS before an addition
// consumes it, and the operands keep ggml's order (Go's VEX operand order
// is Intel's reversed: VSUBPS A, B, D computes D = B - A).

#define BCAST32(c, x, y) MOVL $c, AX; VMOVD AX, x; VPBROADCASTD x, y

// Frame of qkxLanes8AVX2: per-lane state, 32 bytes each.
#define QS_MX 0
#define QS_XMIN 32
#define QS_SUMW 64
#define QS_SUMX 96
#define QS_BEST 128
#define QS_SCALE 160
#define QS_WINIS 192
#define QS_WINMIN 224
#define QS_OK 256
#define QS_DEG 288
#define QS_INITMIN 320

// QKX_ERR is the error loop of one candidate: for i < n,
// err += w[i] * f(((ts*l[i]) + tm) - x[i]), ts in Y3, tm in Y4, err in Y6,
// f given by the macro argument.
#define QKX_ERR(loop, F) \
loop: \
	VMULPS (BX), Y3, Y0 \
	VADDPS Y4, Y0, Y0 \
	VSUBPS (SI), Y0, Y0 \
	F \
	VMULPS (DI), Y0, Y0 \
	VADDPS Y0, Y6, Y6 \
	ADDQ R10, SI \
	ADDQ R10, DI \
	ADDQ $32, BX \
	DECQ CX \
	JNZ loop

#define QKX_SQUARE VMULPS Y0, Y0, Y0
#define QKX_ABS VANDPS Y5, Y0, Y0

// func qkxLanes8AVX2(xt, wt *float32, stride, n int, num *float32, ncand int, nmax float32,
//	mad, qkx3 bool, lf *[maxGroup * 8]float32, out *float32) (ok bool)
//
// Reference: qkxLanesGeneric for the 8 groups whose element i sits at
// xt[i*stride/4 + 0..7] (weights likewise in wt), n elements each,
// candidates num[0..ncand-1]. Results go to out[0:8] (scale), out[16:24]
// (theMin), out[32:40] (is), out[48:56] (min): the layout of qkxLanes.
//
// The level nearestInt(is*(x-min)) clamped to 0..nmax is computed in the
// float domain, ((t + 1.5·2²³) − 1.5·2²³) clamped by VMAXPS/VMINPS, which
// is the same float when |t| < 2²² (t not NaN). t is monotonic in x, so
// that holds for a group and candidate when it holds at the group's
// smallest and largest x; this is checked for every candidate of every
// group that ggml does not leave at once (max == min), and the function
// returns false, having computed nothing usable, if it ever fails (only
// for extreme data: the caller then runs the generic code).
TEXT ·qkxLanes8AVX2(SB), NOSPLIT, $352-73
	MOVQ xt+0(FP), SI
	MOVQ wt+8(FP), DI
	MOVQ stride+16(FP), R10
	MOVQ n+24(FP), CX
	BCAST32(0x4B400000, X15, Y15)  // Y15 = 1.5·2²³
	VBROADCASTSS nmax+48(FP), Y14  // Y14 = nmax
	VXORPS Y13, Y13, Y13           // Y13 = 0

	// min, max, sumW, sumX in element order
	VMOVUPS (SI), Y12              // min
	VMOVAPS Y12, Y1                // max
	VMOVUPS (DI), Y3               // sumW
	VMULPS Y12, Y3, Y4             // sumX = w*x
	DECQ CX
	JZ qkx8_stats_done
qkx8_stats:
	ADDQ R10, SI
	ADDQ R10, DI
	VMOVUPS (SI), Y0
	VMOVUPS (DI), Y2
	VMINPS Y12, Y0, Y12            // x < min ? x : min
	VMAXPS Y1, Y0, Y1              // x > max ? x : max
	VADDPS Y2, Y3, Y3
	VMULPS Y0, Y2, Y5
	VADDPS Y5, Y4, Y4
	DECQ CX
	JNZ qkx8_stats
qkx8_stats_done:
	VMOVUPS Y1, QS_MX(SP)
	VMOVUPS Y12, QS_XMIN(SP)
	VMOVUPS Y3, QS_SUMW(SP)
	VMOVUPS Y4, QS_SUMX(SP)
	VCMPPS $0x1E, Y13, Y12, Y5     // min > 0
	VANDNPS Y12, Y5, Y12           // then min = 0
	VMOVUPS Y12, QS_INITMIN(SP)
	MOVBLZX qkx3+53(FP), AX
	TESTL AX, AX
	JNZ qkx8_deg3
	VCMPPS $0x00, Y12, Y1, Y5      // max == min
	JMP qkx8_deg
qkx8_deg3:
	VCMPPS $0x12, Y12, Y1, Y5      // max <= min
qkx8_deg:
	VMOVUPS Y5, QS_DEG(SP)
	VPCMPEQD Y0, Y0, Y0
	VMOVUPS Y0, QS_OK(SP)

	MOVQ num+32(FP), R11
	MOVQ ncand+40(FP), DX
	XORQ R9, R9                    // candidate index

qkx8_cand:
	VMOVUPS QS_MX(SP), Y0
	VSUBPS Y12, Y0, Y0             // max - min
	VBROADCASTSS (R11)(R9*4), Y11
	VDIVPS Y0, Y11, Y11            // Y11 = is = num/(max - min)

	// the float-domain rounding is exact: |is*(x - min)| < 2²² at both ends
	VMULPS Y11, Y0, Y1             // is*(max - min)
	VMOVUPS QS_XMIN(SP), Y2
	VSUBPS Y12, Y2, Y2
	VMULPS Y11, Y2, Y2             // is*(xmin - min)
	BCAST32(0x7FFFFFFF, X5, Y5)
	VANDPS Y5, Y1, Y1
	VANDPS Y5, Y2, Y2
	BCAST32(0x4A800000, X5, Y5)    // 2²²
	VCMPPS $0x11, Y5, Y1, Y1       // < 2²² (ordered)
	VCMPPS $0x11, Y5, Y2, Y2
	VANDPS Y2, Y1, Y1
	VORPS QS_DEG(SP), Y1, Y1
	VANDPS QS_OK(SP), Y1, Y1
	VMOVUPS Y1, QS_OK(SP)

	// levels and sums
	MOVQ xt+0(FP), SI
	MOVQ wt+8(FP), DI
	MOVQ lf+56(FP), BX
	MOVQ n+24(FP), CX
	VXORPS Y10, Y10, Y10           // sumL
	VXORPS Y9, Y9, Y9              // sumL2
	VXORPS Y8, Y8, Y8              // sumXL
qkx8_sums:
	VMOVUPS (SI), Y0               // x
	VSUBPS Y12, Y0, Y1             // x - min
	VMULPS Y11, Y1, Y1             // is*(x - min)
	VADDPS Y15, Y1, Y1             // round half to even
	VSUBPS Y15, Y1, Y1
	VMAXPS Y13, Y1, Y1             // clamp to 0..nmax
	VMINPS Y14, Y1, Y1             // l
	VMOVUPS Y1, (BX)
	VMULPS (DI), Y1, Y2            // wl = w*l
	VADDPS Y2, Y10, Y10            // sumL += wl
	VMULPS Y1, Y2, Y3
	VADDPS Y3, Y9, Y9              // sumL2 += wl*l
	VMULPS Y0, Y2, Y2
	VADDPS Y2, Y8, Y8              // sumXL += wl*x
	ADDQ R10, SI
	ADDQ R10, DI
	ADDQ $32, BX
	DECQ CX
	JNZ qkx8_sums

	TESTQ R9, R9
	JNZ qkx8_fit
	// candidate 0, ggml's initial guess: scale 1/is, min as is, no fit
	BCAST32(0x3F800000, X3, Y3)
	VDIVPS Y11, Y3, Y3             // ts = 1/is
	VMOVAPS Y12, Y4                // tm = min
	VPCMPEQD Y7, Y7, Y7            // valid
	JMP qkx8_error
qkx8_fit:
	VMOVUPS QS_SUMW(SP), Y0
	VMOVUPS QS_SUMX(SP), Y1
	VMULPS Y9, Y0, Y2              // sumW*sumL2
	VMULPS Y10, Y10, Y3            // sumL*sumL
	VSUBPS Y3, Y2, Y2              // D
	VMULPS Y8, Y0, Y3              // sumW*sumXL
	VMULPS Y10, Y1, Y4             // sumX*sumL
	VSUBPS Y4, Y3, Y3
	VDIVPS Y2, Y3, Y3              // ts
	VMULPS Y1, Y9, Y4              // sumL2*sumX
	VMULPS Y8, Y10, Y5             // sumL*sumXL
	VSUBPS Y5, Y4, Y4
	VDIVPS Y2, Y4, Y4              // tm
	VCMPPS $0x1E, Y13, Y4, Y5      // tm > 0
	VDIVPS Y9, Y8, Y6              // sumXL/sumL2
	VBLENDVPS Y5, Y6, Y3, Y3       // ts = tm > 0 ? sumXL/sumL2 : ts
	VANDNPS Y4, Y5, Y4             // tm = tm > 0 ? 0 : tm
	VCMPPS $0x1E, Y13, Y2, Y7      // valid = D > 0

qkx8_error:
	MOVQ xt+0(FP), SI
	MOVQ wt+8(FP), DI
	MOVQ lf+56(FP), BX
	MOVQ n+24(FP), CX
	VXORPS Y6, Y6, Y6              // err
	MOVBLZX mad+52(FP), R8
	TESTL R8, R8
	JNZ qkx8_mad
	QKX_ERR(qkx8_sq, QKX_SQUARE)
	JMP qkx8_update
qkx8_mad:
	BCAST32(0x7FFFFFFF, X5, Y5)
	QKX_ERR(qkx8_madloop, QKX_ABS)

qkx8_update:
	VMOVUPS QS_BEST(SP), Y0
	VCMPPS $0x11, Y0, Y6, Y1       // err < best
	VANDPS Y7, Y1, Y1              // and valid
	TESTQ R9, R9
	JNZ qkx8_blend
	VPCMPEQD Y1, Y1, Y1            // candidate 0 always sets the best
qkx8_blend:
	VBLENDVPS Y1, Y6, Y0, Y0
	VMOVUPS Y0, QS_BEST(SP)
	VMOVUPS QS_SCALE(SP), Y0
	VBLENDVPS Y1, Y3, Y0, Y0
	VMOVUPS Y0, QS_SCALE(SP)
	VMOVUPS QS_WINIS(SP), Y0
	VBLENDVPS Y1, Y11, Y0, Y0
	VMOVUPS Y0, QS_WINIS(SP)
	VMOVUPS QS_WINMIN(SP), Y0
	VBLENDVPS Y1, Y12, Y0, Y0
	VMOVUPS Y0, QS_WINMIN(SP)
	VBLENDVPS Y1, Y4, Y12, Y12     // the winner's min is the lane's min

	INCQ R9
	CMPQ R9, DX
	JLT qkx8_cand

	VMOVUPS QS_OK(SP), Y0
	VMOVMSKPS Y0, AX
	CMPL AX, $0xFF
	JNE qkx8_fail
	MOVQ out+64(FP), DI
	VMOVUPS QS_DEG(SP), Y5
	BCAST32(0x80000000, X6, Y6)
	VMOVUPS QS_SCALE(SP), Y0
	VANDNPS Y0, Y5, Y0             // ggml's early return: scale 0
	VMOVUPS Y0, 0(DI)
	VBLENDVPS Y5, QS_INITMIN(SP), Y12, Y0
	VXORPS Y6, Y0, Y0              // theMin = -min
	VMOVUPS Y0, 64(DI)
	VMOVUPS QS_WINIS(SP), Y0
	VANDNPS Y0, Y5, Y0
	VMOVUPS Y0, 128(DI)
	VMOVUPS QS_WINMIN(SP), Y0
	VANDNPS Y0, Y5, Y0
	VMOVUPS Y0, 192(DI)
	MOVB $1, ok+72(FP)
	VZEROUPPER
	RET
qkx8_fail:
	MOVB $0, ok+72(FP)
	VZEROUPPER
	RET

// func qkxLanes16AVX512(xt, wt *float32, n int, num *float32, ncand int, nmax float32,
//	mad, qkx3 bool, lf *[maxGroup * 16]float32, out *qkxLanes) (ok bool)
//
// Reference: qkxLanesGeneric with 16 lanes (one ZMM lane per group;
// element i of group k at xt[16i+k]), n elements per group, candidates
// num[0..ncand-1]. The rounding shortcut and its guard are those of
// qkxLanes8AVX2; it returns false when the guard fails.
//
// Registers: Z31 = 1.5·2²³, Z30 = nmax, Z29 = 0, Z28 = 0x7FFFFFFF,
// Z27 = max, Z26 = the smallest x, Z25 = sumW, Z24 = sumX, Z23 = best,
// Z22 = scale, Z21 = the winner's is, Z20 = the winner's min, Z19 = the
// initial min, Z18 = 2²², Z12 = min, Z11 = is, Z10/Z9/Z8 = sumL/sumL2/sumXL;
// K1 = groups ggml leaves at once, K2 = guard held so far, K5 = D > 0.
TEXT ·qkxLanes16AVX512(SB), NOSPLIT, $0-65
	MOVQ xt+0(FP), SI
	MOVQ wt+8(FP), DI
	MOVQ n+16(FP), CX
	MOVL $0x4B400000, AX
	VPBROADCASTD AX, Z31
	VBROADCASTSS nmax+40(FP), Z30
	VPXORD Z29, Z29, Z29
	MOVL $0x7FFFFFFF, AX
	VPBROADCASTD AX, Z28
	MOVL $0x4A800000, AX
	VPBROADCASTD AX, Z18

	VMOVUPS (SI), Z12              // min
	VMOVAPS Z12, Z27               // max
	VMOVUPS (DI), Z25              // sumW
	VMULPS Z12, Z25, Z24           // sumX = w*x
	DECQ CX
	JZ q16_stats_done
q16_stats:
	ADDQ $64, SI
	ADDQ $64, DI
	VMOVUPS (SI), Z0
	VMOVUPS (DI), Z2
	VMINPS Z12, Z0, Z12            // x < min ? x : min
	VMAXPS Z27, Z0, Z27            // x > max ? x : max
	VADDPS Z2, Z25, Z25
	VMULPS Z0, Z2, Z5
	VADDPS Z5, Z24, Z24
	DECQ CX
	JNZ q16_stats
q16_stats_done:
	VMOVAPS Z12, Z26
	VCMPPS $0x1E, Z29, Z12, K3     // min > 0
	VMOVAPS Z29, K3, Z12           // then min = 0
	VMOVAPS Z12, Z19
	MOVBLZX qkx3+45(FP), AX
	TESTL AX, AX
	JNZ q16_deg3
	VCMPPS $0x00, Z12, Z27, K1     // max == min
	JMP q16_deg
q16_deg3:
	VCMPPS $0x12, Z12, Z27, K1     // max <= min
q16_deg:
	KXNORW K2, K2, K2

	MOVQ num+24(FP), R11
	MOVQ ncand+32(FP), DX
	XORQ R9, R9

q16_cand:
	VSUBPS Z12, Z27, Z0            // max - min
	VBROADCASTSS (R11)(R9*4), Z11
	VDIVPS Z0, Z11, Z11            // is

	VMULPS Z11, Z0, Z1             // is*(max - min)
	VSUBPS Z12, Z26, Z2
	VMULPS Z11, Z2, Z2             // is*(xmin - min)
	VPANDD Z28, Z1, Z1
	VPANDD Z28, Z2, Z2
	VCMPPS $0x11, Z18, Z1, K3      // < 2²² (ordered)
	VCMPPS $0x11, Z18, Z2, K4
	KANDW K3, K4, K3
	KORW K1, K3, K3
	KANDW K3, K2, K2

	MOVQ xt+0(FP), SI
	MOVQ wt+8(FP), DI
	MOVQ lf+48(FP), BX
	MOVQ n+16(FP), CX
	VPXORD Z10, Z10, Z10
	VPXORD Z9, Z9, Z9
	VPXORD Z8, Z8, Z8
q16_sums:
	VMOVUPS (SI), Z0               // x
	VSUBPS Z12, Z0, Z1             // x - min
	VMULPS Z11, Z1, Z1             // is*(x - min)
	VADDPS Z31, Z1, Z1             // round half to even
	VSUBPS Z31, Z1, Z1
	VMAXPS Z29, Z1, Z1             // clamp to 0..nmax
	VMINPS Z30, Z1, Z1             // l
	VMOVUPS Z1, (BX)
	VMULPS (DI), Z1, Z2            // wl = w*l
	VADDPS Z2, Z10, Z10            // sumL += wl
	VMULPS Z1, Z2, Z3
	VADDPS Z3, Z9, Z9              // sumL2 += wl*l
	VMULPS Z0, Z2, Z2
	VADDPS Z2, Z8, Z8              // sumXL += wl*x
	ADDQ $64, SI
	ADDQ $64, DI
	ADDQ $64, BX
	DECQ CX
	JNZ q16_sums

	TESTQ R9, R9
	JNZ q16_fit
	MOVL $0x3F800000, AX
	VPBROADCASTD AX, Z3
	VDIVPS Z11, Z3, Z3             // ts = 1/is
	VMOVAPS Z12, Z4                // tm = min
	KXNORW K5, K5, K5              // valid
	JMP q16_error
q16_fit:
	VMULPS Z9, Z25, Z2             // sumW*sumL2
	VMULPS Z10, Z10, Z3            // sumL*sumL
	VSUBPS Z3, Z2, Z2              // D
	VMULPS Z8, Z25, Z3             // sumW*sumXL
	VMULPS Z10, Z24, Z4            // sumX*sumL
	VSUBPS Z4, Z3, Z3
	VDIVPS Z2, Z3, Z3              // ts
	VMULPS Z24, Z9, Z4             // sumL2*sumX
	VMULPS Z8, Z10, Z5             // sumL*sumXL
	VSUBPS Z5, Z4, Z4
	VDIVPS Z2, Z4, Z4              // tm
	VCMPPS $0x1E, Z29, Z4, K3      // tm > 0
	VDIVPS Z9, Z8, Z6              // sumXL/sumL2
	VMOVAPS Z6, K3, Z3             // then ts = sumXL/sumL2
	VMOVAPS Z29, K3, Z4            // and tm = 0
	VCMPPS $0x1E, Z29, Z2, K5      // valid = D > 0

q16_error:
	MOVQ xt+0(FP), SI
	MOVQ wt+8(FP), DI
	MOVQ lf+48(FP), BX
	MOVQ n+16(FP), CX
	VPXORD Z6, Z6, Z6              // err
	MOVBLZX mad+44(FP), R8
	TESTL R8, R8
	JNZ q16_mad
q16_sq:
	VMULPS (BX), Z3, Z0            // ts*l
	VADDPS Z4, Z0, Z0              // + tm
	VSUBPS (SI), Z0, Z0            // - x
	VMULPS Z0, Z0, Z0
	VMULPS (DI), Z0, Z0            // w*diff
	VADDPS Z0, Z6, Z6
	ADDQ $64, SI
	ADDQ $64, DI
	ADDQ $64, BX
	DECQ CX
	JNZ q16_sq
	JMP q16_update
q16_mad:
	VMULPS (BX), Z3, Z0
	VADDPS Z4, Z0, Z0
	VSUBPS (SI), Z0, Z0
	VPANDD Z28, Z0, Z0             // |diff|
	VMULPS (DI), Z0, Z0
	VADDPS Z0, Z6, Z6
	ADDQ $64, SI
	ADDQ $64, DI
	ADDQ $64, BX
	DECQ CX
	JNZ q16_mad

q16_update:
	VCMPPS $0x11, Z23, Z6, K3      // err < best
	KANDW K5, K3, K3               // and valid
	TESTQ R9, R9
	JNZ q16_blend
	KXNORW K3, K3, K3              // candidate 0 always sets the best
q16_blend:
	VMOVAPS Z6, K3, Z23
	VMOVAPS Z3, K3, Z22
	VMOVAPS Z11, K3, Z21
	VMOVAPS Z12, K3, Z20
	VMOVAPS Z4, K3, Z12            // the winner's min is the lane's min

	INCQ R9
	CMPQ R9, DX
	JLT q16_cand

	KORTESTW K2, K2
	JCC q16_fail                   // CF is set when every bit of K2 is
	MOVQ out+56(FP), DI
	VMOVAPS Z29, K1, Z22           // ggml's early return: scale 0,
	VMOVAPS Z19, K1, Z12           // min the initial one,
	VMOVAPS Z29, K1, Z21           // levels 0
	VMOVAPS Z29, K1, Z20
	MOVL $0x80000000, AX
	VPBROADCASTD AX, Z0
	VPXORD Z0, Z12, Z12            // theMin = -min
	VMOVUPS Z22, 0(DI)
	VMOVUPS Z12, 64(DI)
	VMOVUPS Z21, 128(DI)
	VMOVUPS Z20, 192(DI)
	MOVB $1, ok+64(FP)
	VZEROUPPER
	RET
q16_fail:
	MOVB $0, ok+64(FP)
	VZEROUPPER
	RET

// Workspace offsets of qkxWork (bytes): xt, wt and lf of set 0 and 1, and
// the per-lane state of each set.
#define QW_XT0 0
#define QW_XT1 2048
#define QW_WT0 4096
#define QW_WT1 6144
#define QW_LF0 8192
#define QW_LF1 10240
#define QW_ST0 12288
#define QW_ST1 12864
// state fields, 64 bytes each
#define QF_MX 0
#define QF_XMIN 64
#define QF_SUMW 128
#define QF_SUMX 192
#define QF_BEST 256
#define QF_SCALE 320
#define QF_WINIS 384
#define QF_WINMIN 448
#define QF_INITMIN 512

// The macros below keep the workspace pointer in R12 and n in R13.

// Q2_STATS computes set s's min (into MIN), max, smallest x, sumW and sumX
// in element order and stores them in the state; T0..T4 are temporaries.
#define Q2_STATS(XT, WT, ST, loop, done, MIN, T0, T1, T2, T3, T4) \
	MOVQ R12, DI \
	MOVQ R13, CX \
	VMOVUPS XT(DI), MIN \
	VMOVAPS MIN, T1 \
	VMOVUPS WT(DI), T3 \
	VMULPS MIN, T3, T4 \
	DECQ CX \
	JZ done \
loop: \
	ADDQ $64, DI \
	VMOVUPS XT(DI), T0 \
	VMOVUPS WT(DI), T2 \
	VMINPS MIN, T0, MIN \
	VMAXPS T1, T0, T1 \
	VADDPS T2, T3, T3 \
	VMULPS T0, T2, T2 \
	VADDPS T2, T4, T4 \
	DECQ CX \
	JNZ loop \
done: \
	MOVQ R12, DI \
	VMOVUPS T1, (ST+QF_MX)(DI) \
	VMOVUPS MIN, (ST+QF_XMIN)(DI) \
	VMOVUPS T3, (ST+QF_SUMW)(DI) \
	VMOVUPS T4, (ST+QF_SUMX)(DI) \
	VCMPPS $0x1E, Z29, MIN, K3 \
	VMOVAPS Z29, K3, MIN \
	VMOVUPS MIN, (ST+QF_INITMIN)(DI)

// Q2_DEG sets KD to set s's groups ggml leaves at once: max == min
// (qkx2) or max <= min (qkx3), flag in R8.
#define Q2_DEG(ST, MIN, KD, T0, three, done) \
	VMOVUPS (ST+QF_MX)(DI), T0 \
	TESTL R8, R8 \
	JNZ three \
	VCMPPS $0x00, MIN, T0, KD \
	JMP done \
three: \
	VCMPPS $0x12, MIN, T0, KD \
done:

// Q2_IS computes set s's inverse scale IS = num[R9]/(max - min) and
// folds its guard into K2 (KD: the set's early-return groups). It also
// clears the bits of BX for the groups where some level could fall
// outside 0..nmax before clamping: the values is·(x − min) at the group's
// smallest and largest x (t is monotonic in x) must both lie strictly
// between −0.5 (Z4) and nmax + 0.5 (Z22), where rounding alone gives a
// level in 0..nmax.
#define Q2_IS(ST, MIN, IS, KD, T0, T1, T2) \
	VMOVUPS (ST+QF_MX)(DI), T0 \
	VSUBPS MIN, T0, T0 \
	VBROADCASTSS (R11)(R9*4), IS \
	VDIVPS T0, IS, IS \
	VMULPS IS, T0, T1 \
	VMOVUPS (ST+QF_XMIN)(DI), T2 \
	VSUBPS MIN, T2, T2 \
	VMULPS IS, T2, T2 \
	VCMPPS $0x11, Z22, T1, K3 \
	VCMPPS $0x1E, Z4, T1, K3, K3 \
	VCMPPS $0x11, Z22, T2, K3, K3 \
	VCMPPS $0x1E, Z4, T2, K3, K3 \
	KORW KD, K3, K3 \
	KMOVW K3, AX \
	ANDL AX, BX \
	VPANDD Z28, T1, T1 \
	VPANDD Z28, T2, T2 \
	VCMPPS $0x11, Z27, T1, K3 \
	VCMPPS $0x11, Z27, T2, K4 \
	KANDW K3, K4, K3 \
	KORW KD, K3, K3 \
	KANDW K3, K2, K2

// Q2_SUMS is one element of the level and sum loop for one set.
#define Q2_SUMS(XT, WT, LF, MIN, IS, SL, SL2, SXL, T0, T1, T2, T3) \
	VMOVUPS XT(DI), T0 \
	VSUBPS MIN, T0, T1 \
	VMULPS IS, T1, T1 \
	VADDPS Z31, T1, T1 \
	VSUBPS Z31, T1, T1 \
	VMAXPS Z29, T1, T1 \
	VMINPS Z30, T1, T1 \
	VMOVUPS T1, LF(DI) \
	VMULPS WT(DI), T1, T2 \
	VADDPS T2, SL, SL \
	VMULPS T1, T2, T3 \
	VADDPS T3, SL2, SL2 \
	VMULPS T0, T2, T2 \
	VADDPS T2, SXL, SXL

// Q2_SUMS_NC is Q2_SUMS without the clamp, for candidates whose levels
// all round into 0..nmax (see Q2_IS).
#define Q2_SUMS_NC(XT, WT, LF, MIN, IS, SL, SL2, SXL, T0, T1, T2, T3) \
	VMOVUPS XT(DI), T0 \
	VSUBPS MIN, T0, T1 \
	VMULPS IS, T1, T1 \
	VADDPS Z31, T1, T1 \
	VSUBPS Z31, T1, T1 \
	VMOVUPS T1, LF(DI) \
	VMULPS WT(DI), T1, T2 \
	VADDPS T2, SL, SL \
	VMULPS T1, T2, T3 \
	VADDPS T3, SL2, SL2 \
	VMULPS T0, T2, T2 \
	VADDPS T2, SXL, SXL

// Q2_FIT is ggml's fit for one set: TS, TM and KV (D > 0) from the sums.
#define Q2_FIT(ST, SL, SL2, SXL, TS, TM, KV, T0, T1, T2, T3) \
	VMOVUPS (ST+QF_SUMW)(DI), T0 \
	VMOVUPS (ST+QF_SUMX)(DI), T1 \
	VMULPS SL2, T0, T2 \
	VMULPS SL, SL, T3 \
	VSUBPS T3, T2, T2 \
	VMULPS SXL, T0, TS \
	VMULPS SL, T1, T3 \
	VSUBPS T3, TS, TS \
	VDIVPS T2, TS, TS \
	VMULPS T1, SL2, TM \
	VMULPS SXL, SL, T3 \
	VSUBPS T3, TM, TM \
	VDIVPS T2, TM, TM \
	VCMPPS $0x1E, Z29, TM, K3 \
	VDIVPS SL2, SXL, T3 \
	VMOVAPS T3, K3, TS \
	VMOVAPS Z29, K3, TM \
	VCMPPS $0x1E, Z29, T2, KV

// Q2_ERR is one element of the error loop for one set, F the error
// function (square or absolute value) of T0.
#define Q2_ERR(XT, WT, LF, TS, TM, ERR, T0, F) \
	VMULPS LF(DI), TS, T0 \
	VADDPS TM, T0, T0 \
	VSUBPS XT(DI), T0, T0 \
	F \
	VMULPS WT(DI), T0, T0 \
	VADDPS T0, ERR, ERR

#define Q2_SQ_A VMULPS Z0, Z0, Z0
#define Q2_SQ_B VMULPS Z18, Z18, Z18
#define Q2_ABS_A VPANDD Z28, Z0, Z0
#define Q2_ABS_B VPANDD Z28, Z18, Z18

// Q2_UPDATE keeps set s's candidate where KW (the lanes that take it)
// is set.
#define Q2_UPDATE(ST, MIN, IS, TS, TM, ERR, KW, T0) \
	VMOVUPS (ST+QF_BEST)(DI), T0 \
	VMOVAPS ERR, KW, T0 \
	VMOVUPS T0, (ST+QF_BEST)(DI) \
	VMOVUPS (ST+QF_SCALE)(DI), T0 \
	VMOVAPS TS, KW, T0 \
	VMOVUPS T0, (ST+QF_SCALE)(DI) \
	VMOVUPS (ST+QF_WINIS)(DI), T0 \
	VMOVAPS IS, KW, T0 \
	VMOVUPS T0, (ST+QF_WINIS)(DI) \
	VMOVUPS (ST+QF_WINMIN)(DI), T0 \
	VMOVAPS MIN, KW, T0 \
	VMOVUPS T0, (ST+QF_WINMIN)(DI) \
	VMOVAPS TM, KW, MIN

// Q2_OUT writes set s's results (the qkxLanes layout) at OUT(R10).
#define Q2_OUT(ST, OUT, MIN, KD, T0) \
	VMOVUPS (ST+QF_SCALE)(DI), T0 \
	VMOVAPS Z29, KD, T0 \
	VMOVUPS T0, (OUT+0)(R10) \
	VMOVUPS (ST+QF_INITMIN)(DI), T0 \
	VMOVAPS T0, KD, MIN \
	VPXORD Z26, MIN, MIN \
	VMOVUPS MIN, (OUT+64)(R10) \
	VMOVUPS (ST+QF_WINIS)(DI), T0 \
	VMOVAPS Z29, KD, T0 \
	VMOVUPS T0, (OUT+128)(R10) \
	VMOVUPS (ST+QF_WINMIN)(DI), T0 \
	VMOVAPS Z29, KD, T0 \
	VMOVUPS T0, (OUT+192)(R10)

// func qkxLanes2x16AVX512(ws *qkxWork, n int, num *float32, ncand int, nmax float32,
//	mad, qkx3 bool, out *[2]qkxLanes) (ok bool)
//
// Reference: qkxLanesGeneric with 16 lanes on each of the two sets of ws
// (xt, wt; n elements per group), results in out[0] and out[1]. The two
// sets run interleaved so that each hides the other's latencies. The
// rounding shortcut and its guard are those of qkxLanes8AVX2; the function
// returns false, leaving out unset, when the guard fails for any group.
//
// Registers: Z31 = 1.5·2²³, Z30 = nmax, Z29 = 0, Z28 = 0x7FFFFFFF,
// Z27 = 2²², Z26 = the sign bit; set 0: Z12 min, Z11 is, Z10/Z9/Z8 sums,
// Z5 ts, Z6 tm, Z7 err, K1 early-return groups, K5 D > 0; set 1: Z17 min,
// Z16 is, Z15/Z14/Z13 sums, Z23 ts, Z24 tm, Z25 err, K7, K6; K2: the guard.
TEXT ·qkxLanes2x16AVX512(SB), NOSPLIT, $0-49
	MOVL $0x4B400000, AX
	VPBROADCASTD AX, Z31
	VBROADCASTSS nmax+32(FP), Z30
	VPXORD Z29, Z29, Z29
	MOVL $0x7FFFFFFF, AX
	VPBROADCASTD AX, Z28
	MOVL $0x4A800000, AX
	VPBROADCASTD AX, Z27
	MOVL $0x80000000, AX
	VPBROADCASTD AX, Z26
	MOVL $0x3F000000, AX           // 0.5
	VPBROADCASTD AX, Z22
	VADDPS Z22, Z30, Z22           // nmax + 0.5
	MOVQ ws+0(FP), R12
	MOVQ n+8(FP), R13

	Q2_STATS(QW_XT0, QW_WT0, QW_ST0, q2_st0, q2_st0_done, Z12, Z0, Z1, Z2, Z3, Z4)
	Q2_STATS(QW_XT1, QW_WT1, QW_ST1, q2_st1, q2_st1_done, Z17, Z0, Z1, Z2, Z3, Z4)
	MOVBLZX qkx3+37(FP), R8
	Q2_DEG(QW_ST0, Z12, K1, Z0, q2_deg0_3, q2_deg0)
	Q2_DEG(QW_ST1, Z17, K7, Z0, q2_deg1_3, q2_deg1)
	KXNORW K2, K2, K2
	MOVL $0xBF000000, AX           // -0.5
	VPBROADCASTD AX, Z4

	MOVQ num+16(FP), R11
	XORQ R9, R9

q2_cand:
	MOVQ ws+0(FP), DI
	MOVL $0xFFFF, BX
	Q2_IS(QW_ST0, Z12, Z11, K1, Z0, Z1, Z2)
	Q2_IS(QW_ST1, Z17, Z16, K7, Z0, Z1, Z2)
	MOVQ n+8(FP), CX
	VPXORD Z10, Z10, Z10
	VPXORD Z9, Z9, Z9
	VPXORD Z8, Z8, Z8
	VPXORD Z15, Z15, Z15
	VPXORD Z14, Z14, Z14
	VPXORD Z13, Z13, Z13
	CMPL BX, $0xFFFF
	JEQ q2_sums_nc
q2_sums:
	Q2_SUMS(QW_XT0, QW_WT0, QW_LF0, Z12, Z11, Z10, Z9, Z8, Z0, Z1, Z2, Z3)
	Q2_SUMS(QW_XT1, QW_WT1, QW_LF1, Z17, Z16, Z15, Z14, Z13, Z18, Z19, Z20, Z21)
	ADDQ $64, DI
	DECQ CX
	JNZ q2_sums
	JMP q2_sums_done
q2_sums_nc:
	Q2_SUMS_NC(QW_XT0, QW_WT0, QW_LF0, Z12, Z11, Z10, Z9, Z8, Z0, Z1, Z2, Z3)
	Q2_SUMS_NC(QW_XT1, QW_WT1, QW_LF1, Z17, Z16, Z15, Z14, Z13, Z18, Z19, Z20, Z21)
	ADDQ $64, DI
	DECQ CX
	JNZ q2_sums_nc
q2_sums_done:

	MOVQ ws+0(FP), DI
	TESTQ R9, R9
	JNZ q2_fit
	// candidate 0, ggml's initial guess: scale 1/is, min as is, no fit
	MOVL $0x3F800000, AX
	VPBROADCASTD AX, Z0
	VDIVPS Z11, Z0, Z5
	VDIVPS Z16, Z0, Z23
	VMOVAPS Z12, Z6
	VMOVAPS Z17, Z24
	KXNORW K5, K5, K5
	KXNORW K6, K6, K6
	JMP q2_error
q2_fit:
	Q2_FIT(QW_ST0, Z10, Z9, Z8, Z5, Z6, K5, Z0, Z1, Z2, Z3)
	Q2_FIT(QW_ST1, Z15, Z14, Z13, Z23, Z24, K6, Z18, Z19, Z20, Z21)

q2_error:
	MOVQ n+8(FP), CX
	VPXORD Z7, Z7, Z7
	VPXORD Z25, Z25, Z25
	MOVBLZX mad+36(FP), AX
	TESTL AX, AX
	JNZ q2_mad
q2_sq:
	Q2_ERR(QW_XT0, QW_WT0, QW_LF0, Z5, Z6, Z7, Z0, Q2_SQ_A)
	Q2_ERR(QW_XT1, QW_WT1, QW_LF1, Z23, Z24, Z25, Z18, Q2_SQ_B)
	ADDQ $64, DI
	DECQ CX
	JNZ q2_sq
	JMP q2_update
q2_mad:
	Q2_ERR(QW_XT0, QW_WT0, QW_LF0, Z5, Z6, Z7, Z0, Q2_ABS_A)
	Q2_ERR(QW_XT1, QW_WT1, QW_LF1, Z23, Z24, Z25, Z18, Q2_ABS_B)
	ADDQ $64, DI
	DECQ CX
	JNZ q2_mad

q2_update:
	MOVQ ws+0(FP), DI
	VCMPPS $0x11, (QW_ST0+QF_BEST)(DI), Z7, K3   // err < best
	KANDW K5, K3, K3                             // and D > 0
	VCMPPS $0x11, (QW_ST1+QF_BEST)(DI), Z25, K4
	KANDW K6, K4, K4
	TESTQ R9, R9
	JNZ q2_blend
	KXNORW K3, K3, K3              // candidate 0 always sets the best
	KXNORW K4, K4, K4
q2_blend:
	Q2_UPDATE(QW_ST0, Z12, Z11, Z5, Z6, Z7, K3, Z0)
	Q2_UPDATE(QW_ST1, Z17, Z16, Z23, Z24, Z25, K4, Z18)

	INCQ R9
	CMPQ R9, ncand+24(FP)
	JLT q2_cand

	KORTESTW K2, K2
	JCC q2_fail                    // CF is set when every bit of K2 is
	MOVQ out+40(FP), R10
	Q2_OUT(QW_ST0, 0, Z12, K1, Z0)
	Q2_OUT(QW_ST1, 256, Z17, K7, Z0)
	MOVB $1, ok+48(FP)
	VZEROUPPER
	RET
q2_fail:
	MOVB $0, ok+48(FP)
	VZEROUPPER
	RET

// TRANSPOSE8 transposes the 8×8 floats in Y0..Y7 (row r in Yr) into
// Y8..Y15 (column c in Y(8+c)).
#define TRANSPOSE8 \
	VUNPCKLPS Y1, Y0, Y8 \
	VUNPCKHPS Y1, Y0, Y9 \
	VUNPCKLPS Y3, Y2, Y10 \
	VUNPCKHPS Y3, Y2, Y11 \
	VUNPCKLPS Y5, Y4, Y12 \
	VUNPCKHPS Y5, Y4, Y13 \
	VUNPCKLPS Y7, Y6, Y14 \
	VUNPCKHPS Y7, Y6, Y15 \
	VSHUFPS $0x44, Y10, Y8, Y0 \
	VSHUFPS $0xEE, Y10, Y8, Y1 \
	VSHUFPS $0x44, Y11, Y9, Y2 \
	VSHUFPS $0xEE, Y11, Y9, Y3 \
	VSHUFPS $0x44, Y14, Y12, Y4 \
	VSHUFPS $0xEE, Y14, Y12, Y5 \
	VSHUFPS $0x44, Y15, Y13, Y6 \
	VSHUFPS $0xEE, Y15, Y13, Y7 \
	VPERM2F128 $0x20, Y4, Y0, Y8 \
	VPERM2F128 $0x20, Y5, Y1, Y9 \
	VPERM2F128 $0x20, Y6, Y2, Y10 \
	VPERM2F128 $0x20, Y7, Y3, Y11 \
	VPERM2F128 $0x31, Y4, Y0, Y12 \
	VPERM2F128 $0x31, Y5, Y1, Y13 \
	VPERM2F128 $0x31, Y6, Y2, Y14 \
	VPERM2F128 $0x31, Y7, Y3, Y15

// func transposeGroupsAVX2(dst, src *float32, groups, n int)
//
// Reference: transposeGroups with lanes = 16, groups and n multiples of 8
// (dst already offset by the lane offset):
//	for j < groups, i < n: dst[16i+j] = src[nj+i]
TEXT ·transposeGroupsAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ groups+16(FP), R8
	MOVQ n+24(FP), R9
	SHLQ $2, R9                    // row stride of src in bytes
	XORQ R10, R10                  // j
tg_groups:
	XORQ R11, R11                  // i
	MOVQ SI, AX                    // &src[n*j]
	MOVQ DI, DX                    // &dst[j]
tg_block:
	MOVQ AX, BX
	VMOVUPS (BX), Y0
	ADDQ R9, BX
	VMOVUPS (BX), Y1
	ADDQ R9, BX
	VMOVUPS (BX), Y2
	ADDQ R9, BX
	VMOVUPS (BX), Y3
	ADDQ R9, BX
	VMOVUPS (BX), Y4
	ADDQ R9, BX
	VMOVUPS (BX), Y5
	ADDQ R9, BX
	VMOVUPS (BX), Y6
	ADDQ R9, BX
	VMOVUPS (BX), Y7
	TRANSPOSE8
	VMOVUPS Y8, 0(DX)
	VMOVUPS Y9, 64(DX)
	VMOVUPS Y10, 128(DX)
	VMOVUPS Y11, 192(DX)
	VMOVUPS Y12, 256(DX)
	VMOVUPS Y13, 320(DX)
	VMOVUPS Y14, 384(DX)
	VMOVUPS Y15, 448(DX)
	ADDQ $32, AX
	ADDQ $512, DX
	ADDQ $8, R11
	CMPQ R11, n+24(FP)
	JLT tg_block
	MOVQ R9, BX
	SHLQ $3, BX
	ADDQ BX, SI                    // next 8 groups
	ADDQ $32, DI
	ADDQ $8, R10
	CMPQ R10, R8
	JLT tg_groups
	VZEROUPPER
	RET

// func groupWeightsAVX2(wt, xt *float32, n int, kind int)
//
// Reference: groupWeightsGeneric for 8 lanes at row stride 64 bytes:
// kind 0: w = |x|; kind 1: w = sqrt((Σ x² in element order)/n) + |x|.
TEXT ·groupWeightsAVX2(SB), NOSPLIT, $0-32
	MOVQ wt+0(FP), DI
	MOVQ xt+8(FP), SI
	MOVQ n+16(FP), CX
	BCAST32(0x7FFFFFFF, X15, Y15)
	VXORPS Y14, Y14, Y14           // the average: 0 for kind 0
	MOVQ kind+24(FP), AX
	TESTQ AX, AX
	JZ gw_weights
	VXORPS Y0, Y0, Y0
	MOVQ SI, BX
	MOVQ CX, DX
gw_sq:
	VMOVUPS (BX), Y1
	VMULPS Y1, Y1, Y1
	VADDPS Y1, Y0, Y0              // Σ x², in order
	ADDQ $64, BX
	DECQ DX
	JNZ gw_sq
	VCVTSI2SSQ CX, X1, X1
	VBROADCASTSS X1, Y1
	VDIVPS Y1, Y0, Y0              // / n
	VSQRTPS Y0, Y14
gw_weights:
	VANDPS (SI), Y15, Y0           // |x|
	VADDPS Y0, Y14, Y0             // av + |x|
	VMOVUPS Y0, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNZ gw_weights
	VZEROUPPER
	RET

// Workspace offsets of qxWork (bytes).
#define XW_XT0 0
#define XW_XT1 2048
#define XW_WT0 4096
#define XW_WT1 6144
#define XW_WX0 8192
#define XW_WX1 10240

// QX_PRO scans one set of the qx workspace (R12, n in R13): MX = the first
// x of largest magnitude per lane (AMAX its magnitude), and wx = w*x.
#define QX_PRO(XT, WT, WX, MX, AMAX, loop, T0, T1) \
	MOVQ R12, DI \
	MOVQ R13, CX \
	VPXORD MX, MX, MX \
	VPXORD AMAX, AMAX, AMAX \
loop: \
	VMOVUPS XT(DI), T0 \
	VPANDD Z28, T0, T1 \
	VCMPPS $0x1E, AMAX, T1, K3 \
	VMOVAPS T1, K3, AMAX \
	VMOVAPS T0, K3, MX \
	VMULPS WT(DI), T0, T0 \
	VMOVUPS T0, WX(DI) \
	ADDQ $64, DI \
	DECQ CX \
	JNZ loop

// QX_SUMS is one element of the sum loop of one set.
#define QX_SUMS(XT, WT, WX, IS, SLX, SL2, T0, T1, T2) \
	VMULPS XT(DI), IS, T0 \
	VADDPS Z31, T0, T0 \
	VSUBPS Z31, T0, T0 \
	VMAXPS Z29, T0, T0 \
	VMINPS Z30, T0, T0 \
	VMULPS WX(DI), T0, T1 \
	VADDPS T1, SLX, SLX \
	VMULPS WT(DI), T0, T2 \
	VMULPS T0, T2, T2 \
	VADDPS T2, SL2, SL2

// QX_FIRST sets one set's scale, best and winner from candidate 0.
#define QX_FIRST(IS, SLX, SL2, BEST, SCALE, WIN, T0) \
	VPXORD T0, T0, T0 \
	VCMPPS $0x04, T0, SL2, K3 \
	VDIVPS SL2, SLX, SCALE \
	VMOVAPS.Z SCALE, K3, SCALE \
	VMULPS SLX, SCALE, BEST \
	VMOVAPS IS, WIN

// QX_NEXT takes one set's candidate where suml2 > 0 and
// sumlx*sumlx > best*suml2.
#define QX_NEXT(IS, SLX, SL2, BEST, SCALE, WIN, T0, T1) \
	VPXORD T0, T0, T0 \
	VCMPPS $0x1E, T0, SL2, K3 \
	VMULPS SLX, SLX, T0 \
	VMULPS SL2, BEST, T1 \
	VCMPPS $0x1E, T1, T0, K4 \
	KANDW K4, K3, K3 \
	VDIVPS SL2, SLX, T0 \
	VMOVAPS T0, K3, SCALE \
	VMULPS SLX, T0, T1 \
	VMOVAPS T1, K3, BEST \
	VMOVAPS IS, K3, WIN

// func qxLanes2x16AVX512(ws *qxWork, n int, nmax int32, num *[24]float32, out *[2]qxLanes)
//
// Reference: qxLanesGeneric on both sets of ws (16 groups each, one per
// ZMM lane, run interleaved), results in out[0] and out[1]. Here
// |is*x| ≤ (nmax+1)·(1+2⁻²³)² for every group ggml does not leave at once
// (|x| ≤ |max| and |num| ≤ nmax+1), so nearest_int's round-half-even is
// computed in the float domain — (t + 1.5·2²³) − 1.5·2²³ is exact for
// |t| < 2²² — and the clamp with VMAXPS/VMINPS, as in qxSearchAVX2; the
// other groups' results are overwritten at the end.
//
// Registers: Z31 = 1.5·2²³, Z30 = nmax-1, Z29 = -nmax, Z28 = 0x7FFFFFFF;
// set 0: Z27 max, Z11 is, Z10 sumlx, Z9 suml2, Z8 best, Z7 scale, Z6 the
// winner's is; set 1: Z26, Z16, Z15, Z14, Z13, Z12, Z25; K1/K7 the groups
// below GROUP_MAX_EPS.
TEXT ·qxLanes2x16AVX512(SB), NOSPLIT, $0-40
	MOVQ ws+0(FP), R12
	MOVQ n+8(FP), R13
	MOVL $0x4B400000, AX
	VPBROADCASTD AX, Z31
	MOVL nmax+16(FP), AX
	LEAL -1(AX), BX
	VPBROADCASTD BX, Z30
	VCVTDQ2PS Z30, Z30             // nmax-1
	NEGL AX
	VPBROADCASTD AX, Z29
	VCVTDQ2PS Z29, Z29             // -nmax
	MOVL $0x7FFFFFFF, AX
	VPBROADCASTD AX, Z28

	QX_PRO(XW_XT0, XW_WT0, XW_WX0, Z27, Z5, qx2_pro0, Z0, Z1)
	QX_PRO(XW_XT1, XW_WT1, XW_WX1, Z26, Z24, qx2_pro1, Z0, Z1)
	MOVL $0x26901D7D, AX           // 1e-15
	VPBROADCASTD AX, Z0
	VCMPPS $0x11, Z0, Z5, K1       // amax < 1e-15 (ordered)
	VCMPPS $0x11, Z0, Z24, K7

	MOVQ num+24(FP), R11
	XORQ R9, R9
qx2_cand:
	VBROADCASTSS (R11)(R9*4), Z11
	VMOVAPS Z11, Z16
	VDIVPS Z27, Z11, Z11           // is = num/max
	VDIVPS Z26, Z16, Z16
	VPXORD Z10, Z10, Z10
	VPXORD Z9, Z9, Z9
	VPXORD Z15, Z15, Z15
	VPXORD Z14, Z14, Z14
	MOVQ R12, DI
	MOVQ R13, CX
qx2_sums:
	QX_SUMS(XW_XT0, XW_WT0, XW_WX0, Z11, Z10, Z9, Z0, Z1, Z2)
	QX_SUMS(XW_XT1, XW_WT1, XW_WX1, Z16, Z15, Z14, Z17, Z18, Z19)
	ADDQ $64, DI
	DECQ CX
	JNZ qx2_sums
	TESTQ R9, R9
	JNZ qx2_next
	QX_FIRST(Z11, Z10, Z9, Z8, Z7, Z6, Z0)
	QX_FIRST(Z16, Z15, Z14, Z13, Z12, Z25, Z17)
	JMP qx2_loop
qx2_next:
	QX_NEXT(Z11, Z10, Z9, Z8, Z7, Z6, Z0, Z1)
	QX_NEXT(Z16, Z15, Z14, Z13, Z12, Z25, Z17, Z18)
qx2_loop:
	INCQ R9
	CMPQ R9, $19
	JLT qx2_cand

	MOVQ out+32(FP), DI
	VPXORD Z0, Z0, Z0
	VMOVAPS Z0, K1, Z7             // groups below GROUP_MAX_EPS: 0, 0
	VMOVAPS Z0, K1, Z6
	VMOVAPS Z0, K7, Z12
	VMOVAPS Z0, K7, Z25
	VMOVUPS Z7, 0(DI)
	VMOVUPS Z6, 64(DI)
	KMOVW K1, AX
	MOVL AX, 128(DI)
	VMOVUPS Z12, 132(DI)
	VMOVUPS Z25, 196(DI)
	KMOVW K7, AX
	MOVL AX, 260(DI)
	VZEROUPPER
	RET

// func qxLanes8AVX2(xt, wt, wx *float32, n int, nmax int32, num *[24]float32, out *float32) (zero uint32)
//
// Reference: qxLanesGeneric for the 8 groups (one per YMM lane) at xt and
// wt (row stride 64 bytes); wx is scratch of the same layout. Writes the
// scale at out[0:8] and is at out[16:24] and returns the zero bits of the
// 8 groups. Same float-domain rounding as qxLanes2x16AVX512.
TEXT ·qxLanes8AVX2(SB), NOSPLIT, $0-60
	MOVQ xt+0(FP), SI
	MOVQ wt+8(FP), DX
	MOVQ wx+16(FP), R10
	MOVQ n+24(FP), R13
	BCAST32(0x7FFFFFFF, X15, Y15)
	VXORPS Y14, Y14, Y14           // max
	VXORPS Y13, Y13, Y13           // amax
	XORQ R8, R8
	MOVQ R13, CX
qx8_pro:
	VMOVUPS (SI)(R8*1), Y0
	VANDPS Y15, Y0, Y1
	VCMPPS $0x1E, Y13, Y1, Y2      // |x| > amax
	VBLENDVPS Y2, Y1, Y13, Y13
	VBLENDVPS Y2, Y0, Y14, Y14
	VMULPS (DX)(R8*1), Y0, Y0      // w*x
	VMOVUPS Y0, (R10)(R8*1)
	ADDQ $64, R8
	DECQ CX
	JNZ qx8_pro
	BCAST32(0x26901D7D, X0, Y0)    // 1e-15
	VCMPPS $0x11, Y0, Y13, Y13     // Y13 = amax < 1e-15
	VMOVMSKPS Y13, AX
	MOVL AX, zero+56(FP)

	BCAST32(0x4B400000, X12, Y12)  // Y12 = 1.5·2²³
	MOVL nmax+32(FP), AX
	LEAL -1(AX), BX
	VMOVD BX, X11
	VPBROADCASTD X11, Y11
	VCVTDQ2PS Y11, Y11             // Y11 = nmax-1
	NEGL AX
	VMOVD AX, X10
	VPBROADCASTD X10, Y10
	VCVTDQ2PS Y10, Y10             // Y10 = -nmax
	MOVQ num+40(FP), R11
	XORQ R9, R9
qx8_cand:
	VBROADCASTSS (R11)(R9*4), Y9
	VDIVPS Y14, Y9, Y9             // Y9 = is
	VXORPS Y8, Y8, Y8              // sumlx
	VXORPS Y7, Y7, Y7              // suml2
	XORQ R8, R8
	MOVQ R13, CX
qx8_sums:
	VMULPS (SI)(R8*1), Y9, Y0      // is*x
	VADDPS Y12, Y0, Y0
	VSUBPS Y12, Y0, Y0
	VMAXPS Y10, Y0, Y0
	VMINPS Y11, Y0, Y0             // l
	VMULPS (R10)(R8*1), Y0, Y1     // (w*x)*l
	VADDPS Y1, Y8, Y8
	VMULPS (DX)(R8*1), Y0, Y2      // w*l
	VMULPS Y0, Y2, Y2              // (w*l)*l
	VADDPS Y2, Y7, Y7
	ADDQ $64, R8
	DECQ CX
	JNZ qx8_sums
	VXORPS Y0, Y0, Y0
	TESTQ R9, R9
	JNZ qx8_next
	VCMPPS $0x04, Y0, Y7, Y1       // suml2 != 0 (or NaN)
	VDIVPS Y7, Y8, Y6
	VANDPS Y1, Y6, Y6              // Y6 = scale
	VMULPS Y8, Y6, Y5              // Y5 = best = scale*sumlx
	VMOVAPS Y9, Y4                 // Y4 = the winner's is
	JMP qx8_loop
qx8_next:
	VCMPPS $0x1E, Y0, Y7, Y1       // suml2 > 0
	VMULPS Y8, Y8, Y2              // sumlx*sumlx
	VMULPS Y7, Y5, Y3              // best*suml2
	VCMPPS $0x1E, Y3, Y2, Y2
	VANDPS Y2, Y1, Y1
	VDIVPS Y7, Y8, Y2              // sumlx/suml2
	VBLENDVPS Y1, Y2, Y6, Y6
	VMULPS Y8, Y2, Y3              // scale*sumlx
	VBLENDVPS Y1, Y3, Y5, Y5
	VBLENDVPS Y1, Y9, Y4, Y4
qx8_loop:
	INCQ R9
	CMPQ R9, $19
	JLT qx8_cand

	MOVQ out+48(FP), DI
	VANDNPS Y6, Y13, Y6            // groups below GROUP_MAX_EPS: 0, 0
	VANDNPS Y4, Y13, Y4
	VMOVUPS Y6, 0(DI)
	VMOVUPS Y4, 64(DI)
	VZEROUPPER
	RET

// func requantGroupsAVX2(out *uint8, x, ml, dl *float32, groups, groupLen int, lo, hi, off int32)
//
// Reference: requantGroupsGeneric, groupLen a multiple of 8: for every
// group g < groups with dl[g] != 0 and i in the group,
//	out[i] = uint8(clamp(nearestInt((x[i]+ml[g])/dl[g]), lo, hi) + off)
TEXT ·requantGroupsAVX2(SB), NOSPLIT, $0-60
	MOVQ out+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ ml+16(FP), R10
	MOVQ dl+24(FP), R11
	MOVQ groups+32(FP), R12
	MOVQ groupLen+40(FP), R13
	MOVL lo+48(FP), AX
	VMOVD AX, X2
	VPBROADCASTD X2, Y2
	MOVL hi+52(FP), AX
	VMOVD AX, X3
	VPBROADCASTD X3, Y3
	MOVL off+56(FP), AX
	VMOVD AX, X4
	VPBROADCASTD X4, Y4
	BCAST32(0x4B400000, X5, Y5)
	BCAST32(0x007FFFFF, X6, Y6)
	BCAST32(0x00400000, X7, Y7)
	VXORPS X9, X9, X9
rg_group:
	VMOVSS (R11), X1
	VUCOMISS X9, X1
	JNE rg_do
	JPS rg_do                      // NaN: not 0
	JMP rg_next
rg_do:
	VBROADCASTSS (R11), Y1         // dl
	VBROADCASTSS (R10), Y0         // ml
	XORQ R8, R8
rg_loop:
	VMOVUPS (SI)(R8*4), Y8
	VADDPS Y0, Y8, Y8              // x + ml
	VDIVPS Y1, Y8, Y8              // / dl
	VADDPS Y5, Y8, Y8              // nearestInt
	VPAND Y6, Y8, Y8
	VPSUBD Y7, Y8, Y8
	VPMINSD Y3, Y8, Y8
	VPMAXSD Y2, Y8, Y8
	VPADDD Y4, Y8, Y8
	VEXTRACTI128 $1, Y8, X10
	VPACKUSDW X10, X8, X8
	VPACKUSWB X8, X8, X8
	MOVQ X8, (DI)(R8*1)
	ADDQ $8, R8
	CMPQ R8, R13
	JLT rg_loop
rg_next:
	LEAQ (SI)(R13*4), SI
	ADDQ R13, DI
	ADDQ $4, R10
	ADDQ $4, R11
	DECQ R12
	JNZ rg_group
	VZEROUPPER
	RET

// Q3_NEAREST turns the floats in Z into clamp(nearestInt(Z), -4, 3)
// (int32): Z31 = 12582912.0, Z30 = 0x007FFFFF, Z29 = 0x00400000,
// Z28 = -4, Z27 = 3.
#define Q3_NEAREST(Z) \
	VADDPS Z31, Z, Z \
	VPANDD Z30, Z, Z \
	VPSUBD Z29, Z, Z \
	VPMINSD Z27, Z, Z \
	VPMAXSD Z28, Z, Z

// Q3_BOUNDS stores, where KM is set, the bounds lo and hi
// of level L (int32, F its float) at LO and HI: with ε = 2⁻¹⁶,
//	lo = L - 0.5 + ε (−2²¹ for L = −4), hi = L + 0.5 − ε (2²¹ for L = 3).
// If p > fl(lo·s) and p < fl(hi·s) with s > 2⁻¹⁰⁰, the products are normal
// and within 2⁻²⁴ relative of lo·s and hi·s, so the exact p/s lies in
// (L − 0.5 + ε/2, L + 0.5 − ε/2) (in (−2²², 2²²) at the ends) and its
// rounded value too: nearest_int gives L (at the ends, a value that clamps
// to L), the level does not change. Z22 = 0.5 − ε, Z18 = 2²¹; F receives
// L as float; T0, T1, K4, K5 and AX are scratch.
#define Q3_BOUNDS(L, F, KM, LO, HI, T0, T1) \
	MOVL $-4, AX \
	VPBROADCASTD AX, T0 \
	VPCMPEQD T0, L, K4 \
	MOVL $3, AX \
	VPBROADCASTD AX, T0 \
	VPCMPEQD T0, L, K5 \
	VCVTDQ2PS L, F \
	VSUBPS Z22, F, T0 \
	VPXORD T1, T1, T1 \
	VSUBPS Z18, T1, K4, T0 \
	VMOVUPS T0, KM, LO \
	VADDPS Z22, F, T0 \
	VMOVAPS Z18, K5, T0 \
	VMOVUPS T0, KM, HI

// func q3Quants16AVX512(ws *q3Work)
//
// Reference: makeQ3QuantsLanesGeneric (make_q3_quants, n = 16, nmax = 4,
// for 16 groups, one per ZMM lane), as q3Quants8AVX2 does for 8. q3Work:
// xt at 0, w at 1024, wx at 2048, lt at 3072, scale at 4096, a at 4160
// and b at 5184: the products wx*l and (w*l)*l of each element's current
// level, kept from the sums and updated with the level.
TEXT ·q3Quants16AVX512(SB), NOSPLIT, $0-8
	MOVQ ws+0(FP), DI
	MOVL $0x4B400000, AX
	VPBROADCASTD AX, Z31
	MOVL $0x007FFFFF, AX
	VPBROADCASTD AX, Z30
	MOVL $0x00400000, AX
	VPBROADCASTD AX, Z29
	MOVL $-4, AX
	VPBROADCASTD AX, Z28
	MOVL $3, AX
	VPBROADCASTD AX, Z27
	MOVL $0x7FFFFFFF, AX
	VPBROADCASTD AX, Z26
	VPXORD Z25, Z25, Z25
	MOVL $0x3EFFFF00, AX           // 0.5 - 2^-16
	VPBROADCASTD AX, Z22
	MOVL $0x0D800000, AX           // 2^-100
	VPBROADCASTD AX, Z21
	MOVL $0x4A000000, AX           // 2^21
	VPBROADCASTD AX, Z18

	VPXORD Z24, Z24, Z24           // amax
	VPXORD Z1, Z1, Z1              // max
	XORQ R8, R8
q3z_max:
	VMOVUPS (DI)(R8*1), Z2
	VPANDD Z26, Z2, Z3
	VCMPPS $0x1E, Z24, Z3, K1      // |x| > amax
	VMOVAPS Z3, K1, Z24
	VMOVAPS Z2, K1, Z1
	ADDQ $64, R8
	CMPQ R8, $1024
	JLT q3z_max
	MOVL $0xC0800000, AX           // -4.0
	VPBROADCASTD AX, Z2
	VDIVPS Z1, Z2, Z1              // iscale = -4/max

	VPXORD Z5, Z5, Z5              // sumlx
	VPXORD Z6, Z6, Z6              // suml2
	KXNORW K6, K6, K6
	XORQ R8, R8
q3z_init:
	VMOVUPS (DI)(R8*1), Z2         // x
	VMULPS Z2, Z1, Z3              // iscale*x
	Q3_NEAREST(Z3)
	VMOVDQU32 Z3, 3072(DI)(R8*1)
	Q3_BOUNDS(Z3, Z11, K6, 6208(DI)(R8*1), 7232(DI)(R8*1), Z9, Z10)
	VCVTDQ2PS Z3, Z3               // l
	VMULPS Z2, Z2, Z4              // w = x*x
	VMOVUPS Z4, 1024(DI)(R8*1)
	VMULPS Z2, Z4, Z7              // wx = w*x
	VMOVUPS Z7, 2048(DI)(R8*1)
	VMULPS Z3, Z7, Z8
	VMOVUPS Z8, 4160(DI)(R8*1)     // a = wx*l
	VADDPS Z8, Z5, Z5              // sumlx += wx*l
	VMULPS Z3, Z4, Z8
	VMULPS Z3, Z8, Z8
	VMOVUPS Z8, 5184(DI)(R8*1)     // b = (w*l)*l
	VADDPS Z8, Z6, Z6              // suml2 += (w*l)*l
	ADDQ $64, R8
	CMPQ R8, $1024
	JLT q3z_init

	MOVQ $5, R9
q3z_sweep:
	KXORW K7, K7, K7               // changed
	VMULPS Z5, Z5, Z23             // sumlx*sumlx
	XORQ R8, R8
q3z_elem:
	VSUBPS 4160(DI)(R8*1), Z5, Z10 // slx = sumlx - wx*fl (a)
	VSUBPS 5184(DI)(R8*1), Z6, Z11 // sl2 = suml2 - (w*fl)*fl (b)
	VMULPS (DI)(R8*1), Z11, Z12    // p = x*sl2
	// Without dividing: where slx > 2^-100 and lo·slx < p < hi·slx the
	// quotient rounds to the current level (see Q3_BOUNDS), and where
	// !(slx > 0) ggml changes nothing; if that holds in every lane, so
	// does "no change" for the element.
	VMULPS 6208(DI)(R8*1), Z10, Z16
	VMULPS 7232(DI)(R8*1), Z10, Z17
	VCMPPS $0x1E, Z21, Z10, K2     // slx > 2^-100
	VCMPPS $0x1E, Z16, Z12, K2, K2 // and p > lo·slx
	VCMPPS $0x11, Z17, Z12, K2, K2 // and p < hi·slx
	VCMPPS $0x1E, Z25, Z10, K3     // slx > 0
	KANDNW K3, K2, K3              // lanes that might change: slx > 0 and not certain
	KORTESTW K3, K3
	JZ q3z_next
	VDIVPS Z10, Z12, Z12           // (x*sl2)/slx
	Q3_NEAREST(Z12)                // new
	VPCMPD $4, 3072(DI)(R8*1), Z12, K2 // new != l
	VCMPPS $0x1E, Z25, Z10, K2, K2 // and slx > 0
	// A level that would change is rare (in about one element in six
	// some lane has one), and nearly always taken: branch on it, so that
	// neither the rest of the test nor the update delays the next element
	// (which depends on this one's sums only when it changes them).
	KORTESTW K2, K2
	JZ q3z_next
	VMOVUPS 1024(DI)(R8*1), Z4     // w
	VMOVUPS 2048(DI)(R8*1), Z7     // wx
	VCVTDQ2PS Z12, Z13             // fn
	VMULPS Z13, Z7, Z19            // wx*fn
	VADDPS Z19, Z10, Z14           // slx2 = slx + wx*fn
	VMULPS Z13, Z4, Z20
	VMULPS Z13, Z20, Z20           // (w*fn)*fn
	VADDPS Z20, Z11, Z15           // sl22 = sl2 + (w*fn)*fn
	VCMPPS $0x1E, Z25, Z15, K2, K3 // and sl22 > 0
	VMULPS Z14, Z14, Z16
	VMULPS Z6, Z16, Z16            // (slx2*slx2)*suml2
	VMULPS Z15, Z23, Z17           // (sumlx*sumlx)*sl22
	VCMPPS $0x1E, Z17, Z16, K3, K3 // accept
	KORTESTW K3, K3
	JZ q3z_next
	VMOVDQU32 Z12, K3, 3072(DI)(R8*1)
	VMOVUPS Z19, K3, 4160(DI)(R8*1) // a = wx*fn
	VMOVUPS Z20, K3, 5184(DI)(R8*1) // b = (w*fn)*fn
	KMOVW K3, K1
	Q3_BOUNDS(Z12, Z13, K1, 6208(DI)(R8*1), 7232(DI)(R8*1), Z16, Z17)
	VMOVAPS Z14, K3, Z5
	VMOVAPS Z15, K3, Z6
	KORW K3, K7, K7
	VMULPS Z5, Z5, Z23
q3z_next:
	ADDQ $64, R8
	CMPQ R8, $1024
	JLT q3z_elem
	KORTESTW K7, K7
	JZ q3z_done
	DECQ R9
	JNZ q3z_sweep

q3z_done:
	VCMPPS $0x1E, Z25, Z6, K1      // suml2 > 0
	VDIVPS Z6, Z5, Z0
	VMOVAPS.Z Z0, K1, Z0           // sumlx/suml2, or 0
	MOVL $0x26901D7D, AX           // 1e-15
	VPBROADCASTD AX, Z1
	VCMPPS $0x11, Z1, Z24, K2      // amax < 1e-15 (ordered)
	VMOVAPS Z25, K2, Z0
	VMOVUPS Z0, 4096(DI)
	MOVL $4, AX
	VPBROADCASTD AX, Z1
	XORQ R8, R8
q3z_fin:
	VMOVDQU32 3072(DI)(R8*1), Z8
	VPADDD Z1, Z8, Z8
	VMOVDQA32 Z25, K2, Z8          // all-zero groups: level 0
	VMOVDQU32 Z8, 3072(DI)(R8*1)
	ADDQ $64, R8
	CMPQ R8, $1024
	JLT q3z_fin
	VZEROUPPER
	RET

// func groupWeights2x16AVX512(ws *qkxWork, sets, n, kind int)
//
// Reference: groupWeightsGeneric on the 16 lanes of each of the first
// `sets` (1 or 2) sets of ws, kind 0: w = |x|; kind 1: w = sqrt((Σ x² in
// element order)/n) + |x|. The two sets' sums run as two independent
// chains.
TEXT ·groupWeights2x16AVX512(SB), NOSPLIT, $0-32
	MOVQ ws+0(FP), DI
	MOVQ sets+8(FP), R8
	MOVQ n+16(FP), CX
	MOVL $0x7FFFFFFF, AX
	VPBROADCASTD AX, Z31
	VPXORD Z10, Z10, Z10           // set 0's average (0 for kind 0)
	VPXORD Z11, Z11, Z11           // set 1's
	MOVQ kind+24(FP), AX
	TESTQ AX, AX
	JZ gw2_weights
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	MOVQ DI, SI
	MOVQ CX, DX
gw2_sq:
	VMOVUPS QW_XT0(SI), Z2
	VMOVUPS QW_XT1(SI), Z3
	VMULPS Z2, Z2, Z2
	VMULPS Z3, Z3, Z3
	VADDPS Z2, Z0, Z0              // Σ x², in order
	VADDPS Z3, Z1, Z1
	ADDQ $64, SI
	DECQ DX
	JNZ gw2_sq
	VCVTSI2SSQ CX, X2, X2
	VBROADCASTSS X2, Z2
	VDIVPS Z2, Z0, Z0              // / n
	VDIVPS Z2, Z1, Z1
	VSQRTPS Z0, Z10
	VSQRTPS Z1, Z11
gw2_weights:
	CMPQ R8, $2
	JEQ gw2_two
gw2_one:
	VPANDD QW_XT0(DI), Z31, Z0     // |x|
	VADDPS Z0, Z10, Z0             // av + |x|
	VMOVUPS Z0, QW_WT0(DI)
	ADDQ $64, DI
	DECQ CX
	JNZ gw2_one
	VZEROUPPER
	RET
gw2_two:
	VPANDD QW_XT0(DI), Z31, Z0
	VPANDD QW_XT1(DI), Z31, Z1
	VADDPS Z0, Z10, Z0
	VADDPS Z1, Z11, Z1
	VMOVUPS Z0, QW_WT0(DI)
	VMOVUPS Z1, QW_WT1(DI)
	ADDQ $64, DI
	DECQ CX
	JNZ gw2_two
	VZEROUPPER
	RET

// func requantGroupsAVX512(out *uint8, x, ml, dl *float32, groups, groupLen int, lo, hi, off int32)
//
// Reference: requantGroupsGeneric, groupLen a multiple of 16 (16 values per
// ZMM, narrowed to bytes by VPMOVDB): for every group g with dl[g] != 0,
//	out[i] = uint8(clamp(nearestInt((x[i]+ml[g])/dl[g]), lo, hi) + off)
TEXT ·requantGroupsAVX512(SB), NOSPLIT, $0-60
	MOVQ out+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ ml+16(FP), R10
	MOVQ dl+24(FP), R11
	MOVQ groups+32(FP), R12
	MOVQ groupLen+40(FP), R13
	MOVL lo+48(FP), AX
	VPBROADCASTD AX, Z2
	MOVL hi+52(FP), AX
	VPBROADCASTD AX, Z3
	MOVL off+56(FP), AX
	VPBROADCASTD AX, Z4
	MOVL $0x4B400000, AX
	VPBROADCASTD AX, Z5
	MOVL $0x007FFFFF, AX
	VPBROADCASTD AX, Z6
	MOVL $0x00400000, AX
	VPBROADCASTD AX, Z7
	VXORPS X9, X9, X9
rg5_group:
	VMOVSS (R11), X1
	VUCOMISS X9, X1
	JNE rg5_do
	JPS rg5_do                     // NaN: not 0
	JMP rg5_next
rg5_do:
	VBROADCASTSS (R11), Z1         // dl
	VBROADCASTSS (R10), Z0         // ml
	XORQ R8, R8
rg5_loop:
	VADDPS (SI)(R8*4), Z0, Z8      // x + ml
	VDIVPS Z1, Z8, Z8              // / dl
	VADDPS Z5, Z8, Z8              // nearestInt
	VPANDD Z6, Z8, Z8
	VPSUBD Z7, Z8, Z8
	VPMINSD Z3, Z8, Z8
	VPMAXSD Z2, Z8, Z8
	VPADDD Z4, Z8, Z8
	VPMOVDB Z8, (DI)(R8*1)
	ADDQ $16, R8
	CMPQ R8, R13
	JLT rg5_loop
rg5_next:
	LEAQ (SI)(R13*4), SI
	ADDQ R13, DI
	ADDQ $4, R10
	ADDQ $4, R11
	DECQ R12
	JNZ rg5_group
	VZEROUPPER
	RET

// The fused requantization kernels (requantPackQ4KAVX512,
// requantPackQ6KAVX512) compute ggml's level nearestInt((x+ml)/dl) without
// the division where it cannot matter. q = (x+ml)·r, with r = 1/dl
// rounded once per group, is within 3.0001·2⁻²⁴·|q| of the rounded
// quotient f = (x+ml)/dl (three roundings of relative error ≤ 2⁻²⁴;
// 1/dl is a normal number for every dl a K-quant produces, and a NaN or
// infinite q fails the test below). When |q| < 256 that is below
// 4.6·10⁻⁵, so q ∓ 2⁻¹³, each rounded within 2⁻¹⁶, bracket f; rounding to
// nearest even is monotonic, so when VCVTPS2DQ gives both ends the same
// integer, f rounds to it too, and that is nearestInt(f) (ggml's 1.5·2²³
// trick equals round-to-nearest-even for |f| < 2²²). Four vectors are
// tried at a time; if some lane fails (|q| ≥ 256, NaN, a half-integer
// within 2⁻¹³ of q: about 1.6% of the fours on N(0, 1) data), the four are
// computed again with the division and ggml's trick (RQS).
// Constants: Z5..Z7 ggml's rounding trick, Z15 = 2⁻¹³, Z16 = 256,
// Z17 = -256.

// RQF sets dst to nearestInt((x+ml)·r) of the 16 values at xoff(SI) (ml in
// a register, r broadcast from rm), clearing the lanes of K7 where that is
// not proven to be nearestInt((x+ml)/dl). Scratch: Z19, Z20.
#define RQF(xoff, ml, rm, dst) \
	VBROADCASTSS rm, Z20 \
	VADDPS xoff(SI), ml, Z19 \
	VMULPS Z20, Z19, Z19 \
	VSUBPS Z15, Z19, dst \
	VADDPS Z15, Z19, Z20 \
	VCVTPS2DQ dst, dst \
	VCVTPS2DQ Z20, Z20 \
	VPCMPEQD Z20, dst, K7, K7 \
	VCMPPS $0x11, Z16, Z19, K7, K7 \
	VCMPPS $0x1e, Z17, Z19, K7, K7

// RQS sets dst to nearestInt((x+ml)/dl) as ggml computes it (dl broadcast
// from dm). Scratch: Z20.
#define RQS(xoff, ml, dm, dst) \
	VBROADCASTSS dm, Z20 \
	VADDPS xoff(SI), ml, dst \
	VDIVPS Z20, dst, dst \
	VADDPS Z5, dst, dst \
	VPANDD Z6, dst, dst \
	VPSUBD Z7, dst, dst

// RQ_CONSTS loads Z5..Z7 and Z15..Z17 (see above) and sets the first 16
// (reg = Z1) or 8 (reg = Y1) floats at R12 to 1/dl (dl at R11).
#define RQ_CONSTS(reg) \
	MOVL $0x4B400000, AX \
	VPBROADCASTD AX, Z5 \
	MOVL $0x007FFFFF, AX \
	VPBROADCASTD AX, Z6 \
	MOVL $0x00400000, AX \
	VPBROADCASTD AX, Z7 \
	MOVL $0x39000000, AX \
	VPBROADCASTD AX, Z15 \
	MOVL $0x43800000, AX \
	VPBROADCASTD AX, Z16 \
	MOVL $0xC3800000, AX \
	VPBROADCASTD AX, Z17 \
	MOVL $0x3F800000, AX \
	VPBROADCASTD AX, reg \
	VDIVPS (R11), reg, reg \
	VMOVUPS reg, (R12)

// func requantPackQ4KAVX512(qs *[128]byte, x *float32, ml, dl, rcp *[8]float32)
//
// Reference: requantPackQ4KGeneric (requantGroupsGeneric with groups of 32,
// levels 0..15, then packQ4K) for a super-block none of whose dl is 0 (rcp:
// scratch): groups 2c and 2c+1 are requantized together, element l of the
// second shifted into the high nibble of element l of the first, and the
// 32 bytes stored as qs[32c:32c+32] by two VPMOVDB.
TEXT ·requantPackQ4KAVX512(SB), NOSPLIT, $0-40
	MOVQ qs+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ ml+16(FP), R10
	MOVQ dl+24(FP), R11
	MOVQ rcp+32(FP), R12
	RQ_CONSTS(Y1)
	VPXORD Z2, Z2, Z2
	MOVL $15, AX
	VPBROADCASTD AX, Z3
	MOVQ $4, CX
rp4_loop:
	VBROADCASTSS (R10), Z0         // group 2c
	VBROADCASTSS 4(R10), Z10       // group 2c+1
	KXNORW K7, K7, K7
	RQF(0, Z0, (R12), Z8)
	RQF(64, Z0, (R12), Z9)
	RQF(128, Z10, 4(R12), Z12)
	RQF(192, Z10, 4(R12), Z13)
	KORTESTW K7, K7
	JCC rp4_slow                   // some lane not proven
rp4_pack:
	VPMINSD Z3, Z8, Z8
	VPMAXSD Z2, Z8, Z8
	VPMINSD Z3, Z9, Z9
	VPMAXSD Z2, Z9, Z9
	VPMINSD Z3, Z12, Z12
	VPMAXSD Z2, Z12, Z12
	VPMINSD Z3, Z13, Z13
	VPMAXSD Z2, Z13, Z13
	VPSLLD $4, Z12, Z12
	VPORD Z12, Z8, Z8
	VPMOVDB Z8, (DI)
	VPSLLD $4, Z13, Z13
	VPORD Z13, Z9, Z9
	VPMOVDB Z9, 16(DI)
	ADDQ $256, SI
	ADDQ $32, DI
	ADDQ $8, R10
	ADDQ $8, R11
	ADDQ $8, R12
	DECQ CX
	JNZ rp4_loop
	VZEROUPPER
	RET
rp4_slow:
	RQS(0, Z0, (R11), Z8)
	RQS(64, Z0, (R11), Z9)
	RQS(128, Z10, 4(R11), Z12)
	RQS(192, Z10, 4(R11), Z13)
	JMP rp4_pack

// PQ6 clamps the four vectors of levels Z8..Z11 (l0..l3) to -32..31, adds
// 32, and stores l0&15 | l2<<4 at qlo(DI), l1&15 | l3<<4 at qlo2(DI) and
// their top two bits l0>>4 | (l1>>4)<<2 | (l2>>4)<<4 | (l3>>4)<<6 at
// qho(R9) (packQ6K's bytes; VPMOVDB keeps the low 8 bits of each lane).
#define PQ6(qlo, qlo2, qho) \
	VPMINSD Z3, Z8, Z8 \
	VPMAXSD Z2, Z8, Z8 \
	VPADDD Z4, Z8, Z8 \
	VPMINSD Z3, Z9, Z9 \
	VPMAXSD Z2, Z9, Z9 \
	VPADDD Z4, Z9, Z9 \
	VPMINSD Z3, Z10, Z10 \
	VPMAXSD Z2, Z10, Z10 \
	VPADDD Z4, Z10, Z10 \
	VPMINSD Z3, Z11, Z11 \
	VPMAXSD Z2, Z11, Z11 \
	VPADDD Z4, Z11, Z11 \
	VPSLLD $4, Z10, Z12 \
	VPANDD Z14, Z8, Z13 \
	VPORD Z12, Z13, Z13 \
	VPMOVDB Z13, qlo(DI) \
	VPSLLD $4, Z11, Z12 \
	VPANDD Z14, Z9, Z13 \
	VPORD Z12, Z13, Z13 \
	VPMOVDB Z13, qlo2(DI) \
	VPSRLD $4, Z8, Z12 \
	VPSRLD $2, Z9, Z13 \
	VPANDD Z0, Z13, Z13 \
	VPORD Z13, Z12, Z12 \
	VPANDD Z1, Z10, Z13 \
	VPORD Z13, Z12, Z12 \
	VPSLLD $2, Z11, Z13 \
	VPANDD Z21, Z13, Z13 \
	VPORD Z13, Z12, Z12 \
	VPMOVDB Z12, qho(R9)

// func requantPackQ6KAVX512(ql *[128]byte, qh *[64]byte, x *float32, dl, rcp *[16]float32)
//
// Reference: requantPackQ6KGeneric (requantGroupsGeneric with groups of
// 16, ml = 0, levels -32..31 + 32, then packQ6K) for a super-block none of
// whose dl is 0 (rcp: scratch): levels 128h+l, +32, +64, +96 (l < 32, 16
// at a time) are computed side by side and packed in registers. ml = 0 is
// added like any other (x + 0 differs from x only for x = -0).
TEXT ·requantPackQ6KAVX512(SB), NOSPLIT, $0-40
	MOVQ ql+0(FP), DI
	MOVQ qh+8(FP), R9
	MOVQ x+16(FP), SI
	MOVQ dl+24(FP), R11
	MOVQ rcp+32(FP), R12
	RQ_CONSTS(Z1)
	MOVL $-32, AX
	VPBROADCASTD AX, Z2
	MOVL $31, AX
	VPBROADCASTD AX, Z3
	MOVL $32, AX
	VPBROADCASTD AX, Z4
	MOVL $0x0F, AX
	VPBROADCASTD AX, Z14
	MOVL $0x0C, AX
	VPBROADCASTD AX, Z0
	MOVL $0x30, AX
	VPBROADCASTD AX, Z1
	MOVL $0xC0, AX
	VPBROADCASTD AX, Z21
	VPXORD Z18, Z18, Z18           // ml
	KXNORW K7, K7, K7
	RQF(0, Z18, 0(R12), Z8)
	RQF(128, Z18, 8(R12), Z9)
	RQF(256, Z18, 16(R12), Z10)
	RQF(384, Z18, 24(R12), Z11)
	KORTESTW K7, K7
	JCC rp6_slow0
rp6_pack0:
	PQ6(0, 32, 0)
	KXNORW K7, K7, K7
	RQF(64, Z18, 4(R12), Z8)
	RQF(192, Z18, 12(R12), Z9)
	RQF(320, Z18, 20(R12), Z10)
	RQF(448, Z18, 28(R12), Z11)
	KORTESTW K7, K7
	JCC rp6_slow1
rp6_pack1:
	PQ6(16, 48, 16)
	KXNORW K7, K7, K7
	RQF(512, Z18, 32(R12), Z8)
	RQF(640, Z18, 40(R12), Z9)
	RQF(768, Z18, 48(R12), Z10)
	RQF(896, Z18, 56(R12), Z11)
	KORTESTW K7, K7
	JCC rp6_slow2
rp6_pack2:
	PQ6(64, 96, 32)
	KXNORW K7, K7, K7
	RQF(576, Z18, 36(R12), Z8)
	RQF(704, Z18, 44(R12), Z9)
	RQF(832, Z18, 52(R12), Z10)
	RQF(960, Z18, 60(R12), Z11)
	KORTESTW K7, K7
	JCC rp6_slow3
rp6_pack3:
	PQ6(80, 112, 48)
	VZEROUPPER
	RET
rp6_slow0:
	RQS(0, Z18, 0(R11), Z8)
	RQS(128, Z18, 8(R11), Z9)
	RQS(256, Z18, 16(R11), Z10)
	RQS(384, Z18, 24(R11), Z11)
	JMP rp6_pack0
rp6_slow1:
	RQS(64, Z18, 4(R11), Z8)
	RQS(192, Z18, 12(R11), Z9)
	RQS(320, Z18, 20(R11), Z10)
	RQS(448, Z18, 28(R11), Z11)
	JMP rp6_pack1
rp6_slow2:
	RQS(512, Z18, 32(R11), Z8)
	RQS(640, Z18, 40(R11), Z9)
	RQS(768, Z18, 48(R11), Z10)
	RQS(896, Z18, 56(R11), Z11)
	JMP rp6_pack2
rp6_slow3:
	RQS(576, Z18, 36(R11), Z8)
	RQS(704, Z18, 44(R11), Z9)
	RQS(832, Z18, 52(R11), Z10)
	RQS(960, Z18, 60(R11), Z11)
	JMP rp6_pack3

// func squaresAVX2(w, x *float32, n int)
//
// Reference: squaresGeneric, w[i] = x[i]·x[i] for i < n (n a positive
// multiple of 8), one VMULPS per 8 values.
TEXT ·squaresAVX2(SB), NOSPLIT, $0-24
	MOVQ w+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $3, CX
sq_loop:
	VMOVUPS (SI), Y0
	VMULPS Y0, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ sq_loop
	VZEROUPPER
	RET
