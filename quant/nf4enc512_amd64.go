//go:build amd64 && !noasm

package quant

import "math"

// encodeNF4AVX512 writes the NF4 codes of x[i]·r (nf4CodeRef, for every
// input, NaN and ±Inf included) for the first len(x) &^ 31 elements, packed
// two per byte, high nibble first, into dst. thr holds the 15 NF4
// thresholds and one more, larger, that the search never reads.
//
//go:noescape
func encodeNF4AVX512(dst []uint8, x []float32, r float32, thr *[16]float32)

// encodeNF4BlocksAVX512 is encodeNF4AVX512 for len(r) whole blocks of
// blocksize (a multiple of 32) elements of x, block b scaled by r[b].
//
//go:noescape
func encodeNF4BlocksAVX512(dst []uint8, x []float32, r []float32, blocksize int, thr *[16]float32)

var nf4Thresholds16 = func() (t [16]float32) {
	copy(t[:], nf4ThresholdValues[:])
	t[15] = float32(math.Inf(1))
	return t
}()

// encodeNF4Vec512 encodes a leading part of x (a multiple of 32 elements)
// with the AVX-512 kernel and returns its length (0 without AVX-512).
func encodeNF4Vec512(dst []uint8, x []float32, r float32) int {
	n := len(x) &^ 31
	if !useAVX512 || n == 0 {
		return 0
	}
	_ = dst[n/2-1]
	encodeNF4AVX512(dst[:n/2], x[:n], r, &nf4Thresholds16)
	return n
}

// encodeNF4Blocks512 encodes len(r) whole blocks of x, block b scaled by
// r[b], with the AVX-512 kernel, and reports whether it could (AVX-512,
// blocksize a multiple of 32).
func encodeNF4Blocks512(dst []uint8, x []float32, r []float32, blocksize int) bool {
	if !useAVX512 || blocksize%32 != 0 {
		return false
	}
	n := len(r) * blocksize
	if n == 0 {
		return true
	}
	_, _ = dst[n/2-1], x[n-1]
	encodeNF4BlocksAVX512(dst[:n/2], x[:n], r, blocksize, &nf4Thresholds16)
	return true
}

// haveNF4Blocks512 reports whether encodeNF4Blocks512 encodes blocks of
// blocksize.
func haveNF4Blocks512(blocksize int) bool { return useAVX512 && blocksize%32 == 0 }
