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
