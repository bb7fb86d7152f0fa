//go:build !amd64 || noasm

package quant

// blockAbsmaxBF16Vec: without the AVX2 kernel the Go loop of
// BlockAbsmaxBF16 does every block.
func blockAbsmaxBF16Vec(absmax []float32, bits []uint16, blocksize int) (int, uint16) { return 0, 0 }
