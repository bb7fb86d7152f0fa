package quant

import "math"

// BlockAbsmaxBF16 writes into absmax the largest magnitude of each block
// of blocksize bfloat16 values (given as their bit patterns; the last block
// may be partial), as float32: for finite input, exactly the absmax that
// Absmax4Bit and Quantize4Bit store for BF16Input(bits), computed on the
// bit patterns without widening the values. It reports false when bits
// holds a NaN or ±Inf (absmax is then partly written and meaningless): run
// Absmax4Bit for its error, or its values with Options.AllowNonFinite.
//
// blocksize is one of 32, 64, …, 4096; len(absmax) must be
// ceil(len(bits)/blocksize). It runs on the calling goroutine.
func BlockAbsmaxBF16(absmax []float32, bits []uint16, blocksize int) (bool, error) {
	if err := checkBlocksize("blocksize", blocksize, blockSizes4); err != nil {
		return false, err
	}
	if err := checkAbsmaxLen("absmax", len(absmax), len(bits), blocksize, "bits"); err != nil {
		return false, err
	}
	full := len(bits) / blocksize
	done, m := blockAbsmaxBF16Vec(absmax[:full], bits[:full*blocksize], blocksize)
	for b := done; b < len(absmax); b++ {
		hi := min(len(bits), (b+1)*blocksize)
		a, ok := absmaxBF16Ref(bits[b*blocksize : hi])
		if !ok {
			return false, nil
		}
		absmax[b] = a
	}
	return m < 0x7F80, nil
}

// absmaxBF16Ref is the reference of one block: the largest sign-cleared bit
// pattern, widened; false for a NaN or ±Inf (patterns from 0x7F80 on).
func absmaxBF16Ref(bits []uint16) (float32, bool) {
	var m uint16
	for _, b := range bits {
		m = max(m, b&0x7FFF)
	}
	return bf16Float(m), m < 0x7F80
}

func bf16Float(m uint16) float32 { return math.Float32frombits(uint32(m) << 16) }

// blockMaxAbsBitsGo is blockMaxAbsBits' Go twin: maxAbsBits block by block.
func blockMaxAbsBitsGo(dst []uint32, x []float32, blocksize int) {
	for b := range dst {
		dst[b] = maxAbsBits(x[b*blocksize : (b+1)*blocksize])
	}
}
