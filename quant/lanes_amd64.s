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
