// Steps of the AVX2 maxima of float32 magnitudes (|x| as its bit pattern,
// x & 0x7fffffff, compared as unsigned integers), shared by
// maxAbsBitsAVX2 (bnb_amd64.s) and blockMaxAbsBitsAVX2
// (absmaxbf16_amd64.s). Four accumulators, Y0–Y3; Y5–Y8 scratch.

// MAXABS_ZERO clears the accumulators.
#define MAXABS_ZERO \
	VPXOR Y0, Y0, Y0 \
	VPXOR Y1, Y1, Y1 \
	VPXOR Y2, Y2, Y2 \
	VPXOR Y3, Y3, Y3

// MAXABS_STEP folds the magnitudes (mask: 0x7fffffff in every lane) of the
// 32 float32 at SI into the accumulators and advances SI by 128 bytes.
#define MAXABS_STEP(mask) \
	VPAND (SI), mask, Y5 \
	VPAND 32(SI), mask, Y6 \
	VPAND 64(SI), mask, Y7 \
	VPAND 96(SI), mask, Y8 \
	VPMAXUD Y5, Y0, Y0 \
	VPMAXUD Y6, Y1, Y1 \
	VPMAXUD Y7, Y2, Y2 \
	VPMAXUD Y8, Y3, Y3 \
	ADDQ $128, SI

// MAXABS_REDUCE leaves the largest of the accumulators' lanes in AX (X1
// scratch).
#define MAXABS_REDUCE \
	VPMAXUD Y1, Y0, Y0 \
	VPMAXUD Y3, Y2, Y2 \
	VPMAXUD Y2, Y0, Y0 \
	VEXTRACTI128 $1, Y0, X1 \
	VPMAXUD X1, X0, X0 \
	VPSHUFD $0x4e, X0, X1 \
	VPMAXUD X1, X0, X0 \
	VPSHUFD $0xb1, X0, X1 \
	VPMAXUD X1, X0, X0 \
	VMOVD X0, AX
