//go:build amd64 && !noasm

package quant

// blockAbsmaxBF16AVX2 writes absmax[b] = the largest bits[i] & 0x7FFF of
// block b, shifted into a float32's place, for len(absmax) whole blocks of
// blocksize (a multiple of 32) values, and returns the largest of those
// patterns. Its Go twin is absmaxBF16Ref (absmaxbf16_test.go compares them).
//
//go:noescape
func blockAbsmaxBF16AVX2(absmax []float32, bits []uint16, blocksize int) uint16

// blockAbsmaxBF16Vec runs the vector kernel over the whole blocks of bits
// and returns the blocks done (0 without AVX2) and their largest pattern.
func blockAbsmaxBF16Vec(absmax []float32, bits []uint16, blocksize int) (int, uint16) {
	if !useAVX2 || blocksize%32 != 0 || len(absmax) == 0 {
		return 0, 0
	}
	return len(absmax), blockAbsmaxBF16AVX2(absmax, bits[:len(absmax)*blocksize], blocksize)
}

// blockMaxAbsBitsAVX2 writes dst[b] = maxAbsBits(block b of x) for len(dst)
// whole blocks of blocksize (a multiple of 32) values.
//
//go:noescape
func blockMaxAbsBitsAVX2(dst []uint32, x []float32, blocksize int)

// blockMaxAbsBits writes dst[b] = maxAbsBits(x[b·blocksize:(b+1)·blocksize])
// for len(dst) whole blocks, with the vector kernel where it applies.
func blockMaxAbsBits(dst []uint32, x []float32, blocksize int) {
	if useAVX2 && blocksize%32 == 0 && len(dst) > 0 {
		_ = x[len(dst)*blocksize-1]
		blockMaxAbsBitsAVX2(dst, x, blocksize)
		return
	}
	blockMaxAbsBitsGo(dst, x, blocksize)
}
