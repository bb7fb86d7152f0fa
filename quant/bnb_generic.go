//go:build !amd64 || noasm

package quant

// Without the AVX2 kernels of bnb_amd64.s, the Go code does all the work.

const haveAVX2 = false

func maxAbsBitsVec(x []float32) (uint32, int) { return 0, 0 }

func encode4Vec(dst []uint8, x []float32, r float32, typ FourBitType) int { return 0 }

func encodeTableVec(dst []uint8, x []float32, r float32, tab *[1 << 16]uint32) int { return 0 }

func decode4Vec(dst []float32, packed []uint8, a float32, table *[16]float32) int { return 0 }

func decode4HalfVec(dst Output, lo, hi int, packed []uint8, absmax []float32, blocksize int, table *[16]float32,
	per int, scratch *[]float32) bool {
	return false
}

func decode4Fast(dst Output, lo, hi int, packed []uint8, absmax []float32, blocksize int, table *[16]float32, stream bool) int {
	return 0
}

func decode8Fast(dst Output, lo, hi int, q []uint8, absmax []float32, blocksize int, code *[256]float32, stream bool) bool {
	return false
}

func dequantizeNestedFast(absmax []float32, codes []uint8, nestedAbsmax []float32, offset float32, code *[256]float32, nestedBlocksize int) bool {
	return false
}
