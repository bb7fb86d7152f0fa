//go:build !amd64 || noasm

package quant

// blockAbsmaxBF16Vec: without the AVX2 kernel the Go loop of
// BlockAbsmaxBF16 does every block.
func blockAbsmaxBF16Vec(absmax []float32, bits []uint16, blocksize int) (int, uint16) { return 0, 0 }

// blockMaxAbsBits: without the AVX2 kernel, the Go loop.
func blockMaxAbsBits(dst []uint32, x []float32, blocksize int) { blockMaxAbsBitsGo(dst, x, blocksize) }
