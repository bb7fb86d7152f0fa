//go:build amd64 && !noasm

#include "textflag.h"

// AVX-512 versions of the IQ1 split searches (iq1.go): 16 values of i2 per
// ZMM register, each lane computing exactly the float32 operations of
// iq1sSplit.pair / iq1mSplit.pair and iq1Beats (no FMA: every product is
// rounded by VMULPS before anything consumes it; for VEX/EVEX instructions
// Go's middle operand is the first source, so VSUBPS b, a, d is d = a − b).
// A compare with predicate 0x1E (GT_OQ) is false on NaN, like Go's >.
// The tables are padded so that a 16-lane load from any i2 ≤ bs stays
// inside them, and lanes past bs fail every test (their sumq2 is NaN).
//
// Where a chunk has a candidate that beats the best, its updates are
// replayed in ggml's order: the candidates' scale = sumqx/sumq2 and score =
// scale*sumqx are computed lane-wise (VDIVPS, VMULPS: the same roundings as
// the scalar code) and kept on the stack; the masks of the candidates that
// beat best are interleaved (PDEP) into one word in ggml's order (lane
// major, then x_p before x_m, or k = 0..3), whose lowest set bit is the
// next update; best becomes that candidate's score, the tests are redone,
// and the next set bit after it is taken, until none is left.
//
// Shortcut: with sumq2 finite and positive the test is monotone in
// best (a larger best fails at least where a smaller one fails: b·sumq2
// rounds monotonically). Let c* be the first candidate of highest score
// among those beating the best b0 in force at the chunk, and V the largest
// of b0 and the scores of the chunk's candidates before c* with sumq2 > 0.
// Whatever updates happen before c*, the best just before it is b0 or one
// of those scores, so at most V; if c* beats V, it is updated, and if then
// no candidate after it beats its score, it is the chunk's last update, and
// the chunk ends with c*'s scale and score, as the one-by-one replay would.
// Where a check fails, or a lane has sumq2 = +Inf or sumq2 > 0 with a NaN
// score (where monotonicity fails), the replay runs instead.

// Offsets in iq1sSplit (48 float32 per table, then the state).
#define S_SUMX 0
#define S_SUMW 192
#define S_CXP 384
#define S_CXM 576
#define S_CWP 768
#define S_CWM 960
#define S_AXP 1152
#define S_AXM 1344
#define S_AWP 1536
#define S_AWM 1728
#define S_XP1 1920
#define S_BEST 1924
#define S_SCALE 1928
#define S_BI1 1932
#define S_BI2 1936
#define S_SHIFT 1940

// S_RETEST sets K1 (x_p) and K2 (x_m) to the lanes beating best (Z28).
#define S_RETEST \
	VMULPS  Z3, Z28, Z7 \
	VMULPS  Z5, Z28, Z9 \
	VCMPPS  $0x1E, Z27, Z3, K1 \
	VCMPPS  $0x1E, Z7, Z6, K1, K1 \
	VCMPPS  $0x1E, Z27, Z5, K2 \
	VCMPPS  $0x1E, Z9, Z8, K2, K2

// S_ODD jumps to s_seq where a lane has sumq2 = +Inf (Z29), or sumq2 > 0
// and a NaN score.
#define S_ODD(s2, b) \
	VCMPPS $0x1E, Z27, s2, K5 \
	VCMPPS $0x03, b, b, K5, K6 \
	VCMPPS $0x00, Z29, s2, K7 \
	KORTESTW K6, K7 \
	JNZ s_seq

// HMAX sets every lane of z to the largest of its lanes (no NaN), t
// scratch.
#define HMAX(z, t) \
	VSHUFF32X4 $0x4E, z, z, t \
	VMAXPS t, z, z \
	VSHUFF32X4 $0xB1, z, z, t \
	VMAXPS t, z, z \
	VPERMILPS $0x4E, z, t \
	VMAXPS t, z, z \
	VPERMILPS $0xB1, z, t \
	VMAXPS t, z, z

// WINNER_AT sets, for the winning candidate in lane l* (R12) of row r*
// (R13: the shift or k): R9 its byte offset in the rows (64·r* + 4·l*), BX
// the bit of lane l*, R10 the lanes up to l*, R8 the lanes after it, R11
// the lanes from it. CX is clobbered.
#define WINNER_AT \
	MOVQ R13, R9 \
	SHLQ $6, R9 \
	LEAQ (R9)(R12*4), R9 \
	MOVQ R12, CX \
	MOVL $1, BX \
	SHLL CX, BX \
	LEAL -1(BX)(BX*1), R10 \
	MOVL R10, R8 \
	NOTL R8 \
	ANDL $0xFFFF, R8 \
	MOVL R8, R11 \
	ORL BX, R11

// S_BEFORE takes into Z15 the scores b of the candidates of shift s
// (0: x_p) before c* (the lanes before l*, and l* itself if s < s*) with
// sumq2 s2 > 0.
#define S_BEFORE(s, s2, b) \
	MOVL R10, AX \
	SHRL $1, AX \
	CMPQ R13, $s \
	CMOVLGT R10, AX \
	KMOVW AX, K5 \
	VCMPPS $0x1E, Z27, s2, K5, K6 \
	VMAXPS b, Z15, K6, Z15

// S_AFTER jumps to s_seq if a candidate of shift s after c* (the lanes
// after l*, and l* itself if s > s*) beats c*'s score (Z17).
#define S_AFTER(s, s2, sq) \
	MOVL R8, AX \
	CMPQ R13, $s \
	CMOVLLT R11, AX \
	KMOVW AX, K5 \
	VMULPS s2, Z17, Z18 \
	VCMPPS $0x1E, Z27, s2, K5, K6 \
	VCMPPS $0x1E, Z18, sq, K6, K6 \
	KORTESTW K6, K6 \
	JNZ s_seq

// func iq1sSearchAVX512(t *iq1sSplit)
//
// Reference: iq1sSearchGeneric. For i1 = 0..32, i2 = i1..32:
//	b = (sumx[i2]-sumx[i1])*xp1; bw = ((sumw[i2]-sumw[i1])*xp1)*xp1
//	x_p: sumqx = (axp[i1]+b)+cxp[i2]; sumq2 = (awp[i1]+bw)+cwp[i2]
//	x_m: sumqx = (axm[i1]-b)+cxm[i2]; sumq2 = (awm[i1]+bw)+cwm[i2]
//	each in turn: if sumq2 > 0 && sumqx*sumqx > best*sumq2 {
//		scale = sumqx/sumq2; best = scale*sumqx; bi1, bi2, shift = i1, i2, ±1 }
TEXT ·iq1sSearchAVX512(SB), NOSPLIT, $512-8
	MOVQ t+0(FP), DI
	XORQ SI, SI                      // i1
	XORQ DX, DX                      // i2
	VBROADCASTSS S_BEST(DI), Z28
	VBROADCASTSS S_XP1(DI), Z26
	VPXORD Z27, Z27, Z27

s_row:
	VBROADCASTSS S_SUMX(DI)(SI*4), Z20
	VBROADCASTSS S_SUMW(DI)(SI*4), Z21
	VBROADCASTSS S_AXP(DI)(SI*4), Z22
	VBROADCASTSS S_AXM(DI)(SI*4), Z23
	VBROADCASTSS S_AWP(DI)(SI*4), Z24
	VBROADCASTSS S_AWM(DI)(SI*4), Z25

s_chunk:
	VMOVUPS S_SUMX(DI)(DX*4), Z0
	VSUBPS  Z20, Z0, Z0              // sumx[i2] - sumx[i1]
	VMULPS  Z26, Z0, Z0              // b
	VMOVUPS S_SUMW(DI)(DX*4), Z1
	VSUBPS  Z21, Z1, Z1              // sumw[i2] - sumw[i1]
	VMULPS  Z26, Z1, Z1
	VMULPS  Z26, Z1, Z1              // bw
	VADDPS  Z0, Z22, Z2              // axp + b
	VADDPS  S_CXP(DI)(DX*4), Z2, Z2  // sumqx of x_p
	VADDPS  Z1, Z24, Z3              // awp + bw
	VADDPS  S_CWP(DI)(DX*4), Z3, Z3  // sumq2 of x_p
	VSUBPS  Z0, Z23, Z4              // axm - b
	VADDPS  S_CXM(DI)(DX*4), Z4, Z4  // sumqx of x_m
	VADDPS  Z1, Z25, Z5              // awm + bw
	VADDPS  S_CWM(DI)(DX*4), Z5, Z5  // sumq2 of x_m
	VMULPS  Z2, Z2, Z6               // sumqx*sumqx
	VMULPS  Z4, Z4, Z8
	S_RETEST
	KORTESTW K1, K2
	JNZ     s_hit

s_cont:
	ADDQ $16, DX
	CMPQ DX, $32
	JLE  s_chunk
	INCQ SI
	MOVQ SI, DX
	CMPQ SI, $32
	JLE  s_row
	VMOVSS X28, S_BEST(DI)
	VZEROUPPER
	RET

s_hit:
	VDIVPS  Z3, Z2, Z10              // scale of x_p
	VMULPS  Z2, Z10, Z11             // its score
	VDIVPS  Z5, Z4, Z12              // scale of x_m
	VMULPS  Z4, Z12, Z13             // its score
	VMOVUPS Z10, 0(SP)               // scales [shift][lane]
	VMOVUPS Z12, 64(SP)
	VMOVUPS Z11, 128(SP)             // scores [shift][lane]
	VMOVUPS Z13, 192(SP)
	VMOVUPS Z3, 256(SP)              // sumq2 [shift][lane]
	VMOVUPS Z5, 320(SP)
	VMOVUPS Z6, 384(SP)              // sumqx*sumqx [shift][lane]
	VMOVUPS Z8, 448(SP)

	// The shortcut (see "Shortcut" above), with x_p and x_m as the
	// candidates of a lane.
	MOVL $0x7F800000, AX
	VPBROADCASTD AX, Z29             // +Inf
	S_ODD(Z3, Z11)
	S_ODD(Z5, Z13)
	MOVL $0xFF800000, AX
	VPBROADCASTD AX, Z14             // -Inf
	VMAXPS Z11, Z14, K1, Z14
	VMAXPS Z13, Z14, K2, Z14
	HMAX(Z14, Z15)                   // highest score beating best
	VCMPPS  $0x00, Z14, Z11, K1, K5
	KMOVW   K5, AX
	MOVL    $0x55555555, R8
	PDEPL   R8, AX, AX
	VCMPPS  $0x00, Z14, Z13, K2, K5
	KMOVW   K5, BX
	MOVL    $0xAAAAAAAA, R8
	PDEPL   R8, BX, BX
	ORL     BX, AX
	TESTL   AX, AX
	JZ      s_seq
	TZCNTL  AX, AX                   // c* = 2·lane + shift
	MOVQ    AX, R12
	SHRQ    $1, R12                  // its lane l*
	MOVQ    AX, R13
	ANDQ    $1, R13                  // its shift s* (0: x_p)
	WINNER_AT
	VMOVAPS Z28, Z15
	S_BEFORE(0, Z3, Z11)
	S_BEFORE(1, Z5, Z13)
	HMAX(Z15, Z16)                   // V
	VBROADCASTSS 256(SP)(R9*1), Z16
	VMULPS  Z16, Z15, Z16            // V·sumq2 of c*
	VBROADCASTSS 384(SP)(R9*1), Z17
	VCMPPS  $0x1E, Z16, Z17, K5
	KORTESTW K5, K5
	JZ      s_seq                    // c* does not beat V
	VBROADCASTSS 128(SP)(R9*1), Z17  // c*'s score
	S_AFTER(0, Z3, Z6)
	S_AFTER(1, Z5, Z8)
	VMOVAPS Z17, Z28                 // best = c*'s score
	MOVL    0(SP)(R9*1), R10
	MOVL    R10, S_SCALE(DI)
	MOVL    SI, S_BI1(DI)
	MOVQ    R12, AX
	ADDQ    DX, AX
	MOVL    AX, S_BI2(DI)
	SHLL    $1, R13
	NEGL    R13
	INCL    R13                      // 1 - 2·shift
	MOVL    R13, S_SHIFT(DI)
	JMP     s_cont

s_seq:
	MOVQ    $-1, R11                 // last candidate replayed (2·lane + shift)

s_word:
	// bit 2·lane+s of AX: candidate (lane, s) beats best, in ggml's order
	KMOVW   K1, AX
	MOVL    $0x55555555, R8
	PDEPL   R8, AX, AX
	KMOVW   K2, BX
	MOVL    $0xAAAAAAAA, R8
	PDEPL   R8, BX, BX
	ORL     BX, AX
	LEAQ    1(R11), CX
	CMPQ    CX, $32
	JGE     s_cont
	SHRL    CX, AX                   // candidates after the last replayed
	TESTL   AX, AX
	JZ      s_cont
	TZCNTL  AX, AX
	ADDQ    CX, AX
	MOVQ    AX, R11                  // the next candidate that beats best
	MOVQ    AX, R8
	ANDQ    $1, R8                   // shift: 0 for x_p, 1 for x_m
	SHRQ    $1, AX                   // lane
	MOVQ    R8, R9
	SHLQ    $6, R9
	LEAQ    (R9)(AX*4), R9           // its offset in the scale and score rows
	VBROADCASTSS 128(SP)(R9*1), Z28  // best = its score
	MOVL    0(SP)(R9*1), R10
	MOVL    R10, S_SCALE(DI)
	MOVL    SI, S_BI1(DI)
	ADDQ    DX, AX
	MOVL    AX, S_BI2(DI)
	SHLL    $1, R8
	NEGL    R8
	INCL    R8                       // 1 - 2·shift
	MOVL    R8, S_SHIFT(DI)
	S_RETEST
	JMP     s_word

// Offsets in iq1mSplit (32 float32 per table, then the state).
#define M_PX0 0
#define M_PX1 128
#define M_C2P0 256
#define M_C2P1 384
#define M_C2M0 512
#define M_C2M1 640
#define M_K1P0 768
#define M_K1P1 896
#define M_K1M0 1024
#define M_K1M1 1152
#define M_TP0 1280
#define M_TP1 1284
#define M_TM0 1288
#define M_TM1 1292
#define M_BEST 1296
#define M_SCALE 1300
#define M_BI1 1304
#define M_BI2 1308
#define M_K 1312

// M_TEST sets k to the lanes where the candidate with sumqx*sumqx in sq
// and sumq2 in s2 beats best (Z30), with Z31 = 0 and tmp scratch.
#define M_TEST(sq, s2, tmp, k) \
	VMULPS s2, Z30, tmp \
	VCMPPS $0x1E, Z31, s2, k \
	VCMPPS $0x1E, tmp, sq, k, k

// M_RETEST redoes the four tests (K1..K4) against the current best, with
// Z22..Z25 (the row's constants, reloaded after the replay) as scratch.
#define M_RETEST \
	M_TEST(Z18, Z14, Z22, K1) \
	M_TEST(Z19, Z15, Z23, K2) \
	M_TEST(Z0, Z16, Z24, K3) \
	M_TEST(Z1, Z17, Z25, K4)

// M_ODD jumps to m_seq where a lane has sumq2 = +Inf (Z20), or sumq2 > 0
// and a NaN score.
#define M_ODD(s2, b) \
	VCMPPS $0x1E, Z31, s2, K5 \
	VCMPPS $0x03, b, b, K5, K6 \
	VCMPPS $0x00, Z20, s2, K7 \
	KORTESTW K6, K7 \
	JNZ m_seq

// M_BEFORE takes into Z22 the scores b of the candidates k before c* (the
// lanes before l*, and l* itself if k < k*) with sumq2 s2 > 0.
#define M_BEFORE(k, s2, b) \
	MOVL R10, AX \
	SHRL $1, AX \
	CMPQ R13, $k \
	CMOVLGT R10, AX \
	KMOVW AX, K5 \
	VCMPPS $0x1E, Z31, s2, K5, K6 \
	VMAXPS b, Z22, K6, Z22

// M_AFTER jumps to m_seq if a candidate k after c* (the lanes after l*,
// and l* itself if k > k*) beats c*'s score (Z24).
#define M_AFTER(k, s2, sq) \
	MOVL R8, AX \
	CMPQ R13, $k \
	CMOVLLT R11, AX \
	KMOVW AX, K5 \
	VMULPS s2, Z24, Z25 \
	VCMPPS $0x1E, Z31, s2, K5, K6 \
	VCMPPS $0x1E, Z25, sq, K6, K6 \
	KORTESTW K6, K6 \
	JNZ m_seq

// M_ROW broadcasts the terms of i1 = SI into every lane: px0[i1], px1[i1]
// (Z20, Z21) and k1p0, k1p1, k1m0, k1m1[i1] (Z22–Z25).
#define M_ROW \
	VBROADCASTSS M_PX0(DI)(SI*4), Z20 \
	VBROADCASTSS M_PX1(DI)(SI*4), Z21 \
	VBROADCASTSS M_K1P0(DI)(SI*4), Z22 \
	VBROADCASTSS M_K1P1(DI)(SI*4), Z23 \
	VBROADCASTSS M_K1M0(DI)(SI*4), Z24 \
	VBROADCASTSS M_K1M1(DI)(SI*4), Z25

// func iq1mSearchAVX512(t *iq1mSplit)
//
// Reference: iq1mSearchGeneric. For i1 = 0..16, i2 = i1..16:
//	sx0 = px0[i1]+px0[i2]; sx1 = px1[i1]+px1[i2]
//	qxP0 = tp0-sx0; qxM0 = tm0-sx0; qxP1 = tp1-sx1; qxM1 = tm1-sx1
//	q2P0 = k1p0[i1]+c2p0[i2]; q2M0 = k1m0[i1]+c2m0[i2]
//	q2P1 = k1p1[i1]+c2p1[i2]; q2M1 = k1m1[i1]+c2m1[i2]
//	candidates k = 0..3 in turn: (qxP0+qxP1, q2P0+q2P1), (qxP0+qxM1, q2P0+q2M1),
//	    (qxM0+qxP1, q2M0+q2P1), (qxM0+qxM1, q2M0+q2M1), each:
//	if sumq2 > 0 && sumqx*sumqx > best*sumq2 {
//		scale = sumqx/sumq2; best = scale*sumqx; bi1, bi2, k = i1, i2, k }
TEXT ·iq1mSearchAVX512(SB), $1024-8
	MOVQ t+0(FP), DI
	XORQ SI, SI                      // i1
	XORQ DX, DX                      // i2
	VBROADCASTSS M_BEST(DI), Z30
	VBROADCASTSS M_TP0(DI), Z26
	VBROADCASTSS M_TP1(DI), Z27
	VBROADCASTSS M_TM0(DI), Z28
	VBROADCASTSS M_TM1(DI), Z29
	VPXORD Z31, Z31, Z31

m_row:
	M_ROW

m_chunk:
	VADDPS M_PX0(DI)(DX*4), Z20, Z0  // sx0
	VADDPS M_PX1(DI)(DX*4), Z21, Z1  // sx1
	VSUBPS Z0, Z26, Z2               // qxP0
	VSUBPS Z0, Z28, Z3               // qxM0
	VSUBPS Z1, Z27, Z4               // qxP1
	VSUBPS Z1, Z29, Z5               // qxM1
	VADDPS M_C2P0(DI)(DX*4), Z22, Z6 // q2P0
	VADDPS M_C2M0(DI)(DX*4), Z24, Z7 // q2M0
	VADDPS M_C2P1(DI)(DX*4), Z23, Z8 // q2P1
	VADDPS M_C2M1(DI)(DX*4), Z25, Z9 // q2M1
	VADDPS Z4, Z2, Z10               // sumqx, k = 0
	VADDPS Z5, Z2, Z11               // k = 1
	VADDPS Z4, Z3, Z12               // k = 2
	VADDPS Z5, Z3, Z13               // k = 3
	VADDPS Z8, Z6, Z14               // sumq2, k = 0
	VADDPS Z9, Z6, Z15
	VADDPS Z8, Z7, Z16
	VADDPS Z9, Z7, Z17
	VMULPS Z10, Z10, Z18             // sumqx*sumqx
	VMULPS Z11, Z11, Z19
	VMULPS Z12, Z12, Z0
	VMULPS Z13, Z13, Z1
	M_TEST(Z18, Z14, Z2, K1)
	M_TEST(Z19, Z15, Z3, K2)
	M_TEST(Z0, Z16, Z4, K3)
	M_TEST(Z1, Z17, Z5, K4)
	KORW K1, K2, K5
	KORW K3, K4, K6
	KORTESTW K5, K6
	JNZ  m_hit

m_cont:
	ADDQ $16, DX
	CMPQ DX, $16
	JLE  m_chunk
	INCQ SI
	MOVQ SI, DX
	CMPQ SI, $16
	JLE  m_row
	VMOVSS X30, M_BEST(DI)
	VZEROUPPER
	RET

m_hit:
	VDIVPS  Z14, Z10, Z2             // scales
	VDIVPS  Z15, Z11, Z3
	VDIVPS  Z16, Z12, Z4
	VDIVPS  Z17, Z13, Z5
	VMULPS  Z10, Z2, Z6              // scores
	VMULPS  Z11, Z3, Z7
	VMULPS  Z12, Z4, Z8
	VMULPS  Z13, Z5, Z9
	VMOVUPS Z2, 0(SP)                // scales [k][lane]
	VMOVUPS Z3, 64(SP)
	VMOVUPS Z4, 128(SP)
	VMOVUPS Z5, 192(SP)
	VMOVUPS Z6, 256(SP)              // scores [k][lane]
	VMOVUPS Z7, 320(SP)
	VMOVUPS Z8, 384(SP)
	VMOVUPS Z9, 448(SP)
	VMOVUPS Z14, 512(SP)             // sumq2 [k][lane]
	VMOVUPS Z15, 576(SP)
	VMOVUPS Z16, 640(SP)
	VMOVUPS Z17, 704(SP)
	VMOVUPS Z18, 768(SP)             // sumqx*sumqx [k][lane]
	VMOVUPS Z19, 832(SP)
	VMOVUPS Z0, 896(SP)
	VMOVUPS Z1, 960(SP)

	// Shortcut (see "Shortcut" above): c* = the first candidate of
	// highest score among those beating best (b0, Z30); V = the largest
	// of b0 and the scores of the candidates before c* with sumq2 > 0.
	// If c* beats V and no candidate after c* beats c*'s score, c* is the
	// chunk's last update whatever came before it. Otherwise, or with a
	// sumq2 of +Inf or a NaN score (where the test is not monotone in
	// best), the updates are replayed one by one (m_seq).
	MOVL $0x7F800000, AX
	VPBROADCASTD AX, Z20             // +Inf
	M_ODD(Z14, Z6)
	M_ODD(Z15, Z7)
	M_ODD(Z16, Z8)
	M_ODD(Z17, Z9)
	MOVL $0xFF800000, AX
	VPBROADCASTD AX, Z21             // -Inf
	VMAXPS Z6, Z21, K1, Z21
	VMAXPS Z7, Z21, K2, Z21
	VMAXPS Z8, Z21, K3, Z21
	VMAXPS Z9, Z21, K4, Z21
	HMAX(Z21, Z22)                   // highest score beating best
	VCMPPS  $0x00, Z21, Z6, K1, K5
	KMOVW   K5, AX
	MOVQ    $0x1111111111111111, R8
	PDEPQ   R8, AX, AX
	VCMPPS  $0x00, Z21, Z7, K2, K5
	KMOVW   K5, BX
	MOVQ    $0x2222222222222222, R8
	PDEPQ   R8, BX, BX
	ORQ     BX, AX
	VCMPPS  $0x00, Z21, Z8, K3, K5
	KMOVW   K5, BX
	MOVQ    $0x4444444444444444, R8
	PDEPQ   R8, BX, BX
	ORQ     BX, AX
	VCMPPS  $0x00, Z21, Z9, K4, K5
	KMOVW   K5, BX
	MOVQ    $0x8888888888888888, R8
	PDEPQ   R8, BX, BX
	ORQ     BX, AX
	TESTQ   AX, AX
	JZ      m_seq
	TZCNTQ  AX, AX                   // c* = 4·lane + k
	MOVQ    AX, R12
	SHRQ    $2, R12                  // its lane l*
	MOVQ    AX, R13
	ANDQ    $3, R13                  // its k*
	WINNER_AT
	VMOVAPS Z30, Z22
	M_BEFORE(0, Z14, Z6)
	M_BEFORE(1, Z15, Z7)
	M_BEFORE(2, Z16, Z8)
	M_BEFORE(3, Z17, Z9)
	HMAX(Z22, Z23)                   // V
	VBROADCASTSS 512(SP)(R9*1), Z23
	VMULPS  Z23, Z22, Z23            // V·sumq2 of c*
	VBROADCASTSS 768(SP)(R9*1), Z24
	VCMPPS  $0x1E, Z23, Z24, K5
	KORTESTW K5, K5
	JZ      m_seq                    // c* does not beat V
	VBROADCASTSS 256(SP)(R9*1), Z24  // c*'s score
	M_AFTER(0, Z14, Z18)
	M_AFTER(1, Z15, Z19)
	M_AFTER(2, Z16, Z0)
	M_AFTER(3, Z17, Z1)
	VMOVAPS Z24, Z30                 // best = c*'s score
	MOVL    0(SP)(R9*1), R10
	MOVL    R10, M_SCALE(DI)
	MOVL    SI, M_BI1(DI)
	MOVQ    R12, AX
	ADDQ    DX, AX
	MOVL    AX, M_BI2(DI)
	MOVL    R13, M_K(DI)
	JMP     m_reload

m_seq:
	MOVQ    $-1, R11                 // last candidate replayed (4·lane + k)

m_word:
	// bit 4·lane+k of AX: candidate (lane, k) beats best, in ggml's order
	KMOVW   K1, AX
	MOVQ    $0x1111111111111111, R8
	PDEPQ   R8, AX, AX
	KMOVW   K2, BX
	MOVQ    $0x2222222222222222, R8
	PDEPQ   R8, BX, BX
	ORQ     BX, AX
	KMOVW   K3, BX
	MOVQ    $0x4444444444444444, R8
	PDEPQ   R8, BX, BX
	ORQ     BX, AX
	KMOVW   K4, BX
	MOVQ    $0x8888888888888888, R8
	PDEPQ   R8, BX, BX
	ORQ     BX, AX
	LEAQ    1(R11), CX
	CMPQ    CX, $64
	JGE     m_reload
	SHRQ    CX, AX                   // candidates after the last replayed
	TESTQ   AX, AX
	JZ      m_reload
	TZCNTQ  AX, AX
	ADDQ    CX, AX
	MOVQ    AX, R11                  // the next candidate that beats best
	MOVQ    AX, R8
	ANDQ    $3, R8                   // k
	SHRQ    $2, AX                   // lane
	MOVQ    R8, R9
	SHLQ    $6, R9
	LEAQ    (R9)(AX*4), R9           // its offset in the scale and score rows
	VBROADCASTSS 256(SP)(R9*1), Z30  // best = its score
	MOVL    0(SP)(R9*1), R10
	MOVL    R10, M_SCALE(DI)
	MOVL    SI, M_BI1(DI)
	ADDQ    DX, AX
	MOVL    AX, M_BI2(DI)
	MOVL    R8, M_K(DI)
	M_RETEST
	JMP     m_word

m_reload:
	M_ROW
	JMP m_cont

// func iq1NeighbourAVX512(lv, nb *uint16, n int, e *[32]float32) int
//
// Reference: iq1NeighbourGeneric. 16 neighbours per ZMM register: lane k's
// level of coordinate i, (lv[k]>>2i)&3 + 4(i%4), looks up e (e[0..15] for
// i < 4, e[16..31] for i ≥ 4) with VPERMPS, and the 8 errors are summed in
// coordinate order. Lanes past n and NaN sums become +Inf (never below
// FLT_MAX, like NaN in the scalar test). The chunk's minimum replaces the
// best if strictly smaller, its first lane giving the index: the first
// minimum in list order, as the sequential strict < keeps it.
TEXT ·iq1NeighbourAVX512(SB), NOSPLIT, $0-40
	MOVQ lv+0(FP), DI
	MOVQ nb+8(FP), SI
	MOVQ n+16(FP), R10
	MOVQ e+24(FP), DX
	VMOVUPS 0(DX), Z30
	VMOVUPS 64(DX), Z31
	MOVL $3, AX
	VPBROADCASTD AX, Z29
	MOVL $4, AX
	VPBROADCASTD AX, Z24
	MOVL $8, AX
	VPBROADCASTD AX, Z25
	MOVL $12, AX
	VPBROADCASTD AX, Z26
	MOVL $0x7F800000, AX             // +Inf
	VPBROADCASTD AX, Z28
	MOVL $0x7F7FFFFF, AX             // FLT_MAX: the best so far
	VPBROADCASTD AX, Z27
	MOVQ $-1, AX                     // index
	XORQ BX, BX                      // chunk start

nb_loop:
	MOVQ R10, CX
	SUBQ BX, CX                      // neighbours left
	JLE  nb_done
	MOVL $0xFFFF, R9
	CMPQ CX, $16
	JGE  nb_full
	MOVL $1, R9
	SHLL CX, R9
	DECL R9                          // (1<<left)-1

nb_full:
	KMOVW R9, K1                     // lanes in the list
	VPMOVZXWD (DI)(BX*2), Z0         // packed levels
	VPANDD  Z29, Z0, Z1
	VPERMPS Z30, Z1, Z2              // d2 = e(coordinate 0)
	VPSRLD  $2, Z0, Z1
	VPANDD  Z29, Z1, Z1
	VPORD   Z24, Z1, Z1
	VPERMPS Z30, Z1, Z3
	VADDPS  Z3, Z2, Z2
	VPSRLD  $4, Z0, Z1
	VPANDD  Z29, Z1, Z1
	VPORD   Z25, Z1, Z1
	VPERMPS Z30, Z1, Z3
	VADDPS  Z3, Z2, Z2
	VPSRLD  $6, Z0, Z1
	VPANDD  Z29, Z1, Z1
	VPORD   Z26, Z1, Z1
	VPERMPS Z30, Z1, Z3
	VADDPS  Z3, Z2, Z2
	VPSRLD  $8, Z0, Z1
	VPANDD  Z29, Z1, Z1
	VPERMPS Z31, Z1, Z3
	VADDPS  Z3, Z2, Z2
	VPSRLD  $10, Z0, Z1
	VPANDD  Z29, Z1, Z1
	VPORD   Z24, Z1, Z1
	VPERMPS Z31, Z1, Z3
	VADDPS  Z3, Z2, Z2
	VPSRLD  $12, Z0, Z1
	VPANDD  Z29, Z1, Z1
	VPORD   Z25, Z1, Z1
	VPERMPS Z31, Z1, Z3
	VADDPS  Z3, Z2, Z2
	VPSRLD  $14, Z0, Z1
	VPANDD  Z29, Z1, Z1
	VPORD   Z26, Z1, Z1
	VPERMPS Z31, Z1, Z3
	VADDPS  Z3, Z2, Z2               // d2, coordinates 0..7 in order
	VCMPPS  $0x03, Z2, Z2, K2        // NaN
	KNOTW   K1, K3
	KORW    K2, K3, K2
	VMOVAPS Z28, K2, Z2              // NaN and lanes past n: +Inf
	VSHUFF32X4 $0x4E, Z2, Z2, Z3     // minimum over the 16 lanes
	VMINPS  Z3, Z2, Z3
	VSHUFF32X4 $0xB1, Z3, Z3, Z4
	VMINPS  Z4, Z3, Z3
	VPERMILPS $0x4E, Z3, Z4
	VMINPS  Z4, Z3, Z3
	VPERMILPS $0xB1, Z3, Z4
	VMINPS  Z4, Z3, Z3
	VCMPPS  $0x11, Z27, Z3, K4       // minimum < best (LT_OQ)
	KORTESTW K4, K4
	JZ      nb_next
	VMOVAPS Z3, Z27
	VCMPPS  $0x00, Z3, Z2, K5        // lanes equal to the minimum (EQ_OQ)
	KMOVW   K5, R9
	TZCNTL  R9, R9
	ADDQ    BX, R9
	MOVWQZX (SI)(R9*2), AX

nb_next:
	ADDQ $16, BX
	JMP  nb_loop

nb_done:
	MOVQ AX, ret+32(FP)
	VZEROUPPER
	RET

// func iq1RankAVX512(idx *int, x *float32, n int) bool
//
// Reference: iq1SortedIndex for n = 16 or 32 values without NaN (it
// reports false, writing nothing, if x has a NaN). Without NaN, < is a
// strict weak order (±0 equivalent) and the stable sort puts x[i] at rank
// #{j : x[j] < x[i]} + #{j < i : x[j] == x[i]}: idx[rank] = i. For n = 16
// the upper 16 values are +Inf, which no x[i] exceeds and which count as
// equal only after every i < 16.
TEXT ·iq1RankAVX512(SB), NOSPLIT, $0-25
	MOVQ idx+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	VMOVUPS (SI), Z0
	MOVL $0x7F800000, AX
	VPBROADCASTD AX, Z1              // +Inf
	CMPQ CX, $32
	JNE  rk_check
	VMOVUPS 64(SI), Z1

rk_check:
	VCMPPS $0x03, Z0, Z0, K1         // NaN
	VCMPPS $0x03, Z1, Z1, K2
	KORTESTW K1, K2
	JNZ  rk_nan
	XORQ R8, R8                      // i

rk_loop:
	VBROADCASTSS (SI)(R8*4), Z2
	VCMPPS $0x11, Z2, Z0, K1         // x[j] < x[i], j < 16
	VCMPPS $0x11, Z2, Z1, K2         // j ≥ 16
	VCMPPS $0x00, Z2, Z0, K3         // x[j] == x[i]
	VCMPPS $0x00, Z2, Z1, K4
	KMOVW  K1, AX
	KMOVW  K2, BX
	SHLL   $16, BX
	ORL    BX, AX
	KMOVW  K3, R9
	KMOVW  K4, BX
	SHLL   $16, BX
	ORL    BX, R9
	MOVL   $1, R10
	MOVQ   R8, CX
	SHLL   CX, R10
	DECL   R10                       // j < i
	ANDL   R10, R9
	POPCNTL AX, AX
	POPCNTL R9, R9
	ADDL   R9, AX
	MOVQ   R8, (DI)(AX*8)
	INCQ   R8
	CMPQ   R8, n+16(FP)
	JLT    rk_loop
	MOVB $1, ret+24(FP)
	VZEROUPPER
	RET

rk_nan:
	MOVB $0, ret+24(FP)
	VZEROUPPER
	RET
