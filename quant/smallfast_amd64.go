//go:build amd64 && !noasm

package quant

// absMaxBitsAVX2 is absMaxBitsGeneric over x[:n], n > 0 a multiple of 16
// (smallfast_amd64.s).
//
//go:noescape
func absMaxBitsAVX2(x *float32, n int) uint32

// tritBytesAVX2 is tritBytesGeneric over n elements, n > 0 a multiple of 32
// (smallfast_amd64.s).
//
//go:noescape
func tritBytesAVX2(t *byte, x *float32, n int, th uint32)

// absMaxBits is absMaxBitsGeneric, with AVX2 when the length allows.
func absMaxBits(x []float32) uint32 {
	if useAVX2 && len(x) > 0 && len(x)%16 == 0 {
		return absMaxBitsAVX2(&x[0], len(x))
	}
	return absMaxBitsGeneric(x)
}

// tritBytes is tritBytesGeneric, with AVX2 when the length allows.
func tritBytes(t []byte, x []float32, th uint32) {
	if useAVX2 && len(x) > 0 && len(x)%32 == 0 {
		_ = t[len(x)-1]
		tritBytesAVX2(&t[0], &x[0], len(x), th)
		return
	}
	tritBytesGeneric(t, x, th)
}

// mxfp4CodesAVX2 is mxfp4CodesGeneric (smallfast_amd64.s).
//
//go:noescape
func mxfp4CodesAVX2(y *byte, x *float32, thm1 *[8]uint32)

// mxfp4Codes is mxfp4CodesGeneric, with AVX2 when available.
func mxfp4Codes(y []byte, x []float32, thm1 *[8]uint32) {
	if useAVX2 {
		_, _ = y[15], x[31]
		mxfp4CodesAVX2(&y[0], &x[0], thm1)
		return
	}
	mxfp4CodesGeneric(y, x, thm1)
}

// q1SignsAVX2 is q1SignsGeneric (smallfast_amd64.s).
//
//go:noescape
func q1SignsAVX2(y *byte, x *float32)

// q1Signs is q1SignsGeneric, with AVX2 when available.
func q1Signs(y []byte, x []float32) {
	if useAVX2 {
		_, _ = y[15], x[127]
		q1SignsAVX2(&y[0], &x[0])
		return
	}
	q1SignsGeneric(y, x)
}
