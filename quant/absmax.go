package quant

// Absmax4Bit writes the absmax that Quantize4Bit stores for src (one per
// block of blocksize flat elements), without encoding anything: a first
// pass for callers that need a state's statistics (the nested offset, the
// double-quantized absmax) before its codes. Arguments and errors are those
// of Quantize4Bit; for every input it accepts, the values are the ones
// Quantize4Bit writes.
func Absmax4Bit(absmax []float32, src Input, blocksize int, opt Options) error {
	if err := absmaxArgs(absmax, src.Len(), blocksize, opt); err != nil || src.Len() == 0 {
		return err
	}
	return quantizeBlocks(src, absmax, blocksize, opt, "4-bit", opt.AllowNonFinite, func(int, int, []float32, blockScale) {})
}

// Absmax4BitCPU is Absmax4Bit for Quantize4BitCPU: the same maxima, except
// that a partial last block stores max(absmax, 1e-38) as PyTorch's path
// does. Non-finite input is always an error.
func Absmax4BitCPU(absmax []float32, src Input, blocksize int, opt Options) error {
	if err := checkFiniteOnly(opt); err != nil {
		return err
	}
	if err := absmaxArgs(absmax, src.Len(), blocksize, opt); err != nil || src.Len() == 0 {
		return err
	}
	return quantizeBlocks(src, absmax, blocksize, opt, "4-bit", false, func(lo, hi int, _ []float32, s blockScale) {
		if hi-lo != blocksize {
			absmax[lo/blocksize] = max(s.absmax, cpuTinyAbsmax)
		}
	})
}

func absmaxArgs(absmax []float32, n, blocksize int, opt Options) error {
	if err := checkBlocksize("blocksize", blocksize, blockSizes4); err != nil {
		return err
	}
	if err := checkNoImatrix(opt); err != nil {
		return err
	}
	return checkAbsmaxLen("absmax", len(absmax), n, blocksize, "x")
}
