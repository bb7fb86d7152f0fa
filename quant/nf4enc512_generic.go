//go:build !amd64 || noasm

package quant

// encodeNF4Vec512: without the AVX-512 kernel nothing is done here.
func encodeNF4Vec512(dst []uint8, x []float32, r float32) int { return 0 }

// encodeNF4Blocks512: without the AVX-512 kernel nothing is done here.
func encodeNF4Blocks512(dst []uint8, x []float32, r []float32, blocksize int) bool { return false }

// haveNF4Blocks512 reports false: there is no AVX-512 kernel here.
func haveNF4Blocks512(blocksize int) bool { return false }
