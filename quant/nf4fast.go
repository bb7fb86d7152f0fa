package quant

import "math"

// Quantize4BitF32 is Quantize4Bit(packed, absmax, F32Input(x), typ,
// blocksize, Options{Threads: 1}) for finite x, run on the calling
// goroutine without the parallel driver and its scratch copies, and for
// NF4 whole blocks in groups by the multi-block AVX-512 encoder where the
// CPU has one (the rest as Quantize4Bit encodes each block). It reports false when
// x holds a NaN or ±Inf: packed and absmax are then partly written, and
// Quantize4Bit gives the error (or, with Options.AllowNonFinite, the
// codes). Arguments are checked as Quantize4Bit checks them.
func Quantize4BitF32(packed []uint8, absmax []float32, x []float32, typ FourBitType, blocksize int) (bool, error) {
	if err := fourBitArgs(packed, absmax, len(x), typ, blocksize, Options{}); err != nil {
		return false, err
	}
	enc := newFourBitEncoder(typ)
	lo := 0
	if typ == NF4 && haveNF4Blocks512(blocksize) {
		// whole blocks in groups: their maxima (scaleBlock's, for finite
		// values) by one vector call, the codes by the AVX-512 kernel
		var r [256]float32
		var m [256]uint32
		for full := len(x) / blocksize * blocksize; lo < full; {
			g := min(len(r), (full-lo)/blocksize)
			blockMaxAbsBits(m[:g], x[lo:lo+g*blocksize], blocksize)
			for k := range g {
				if m[k] >= 0x7F800000 {
					return false, nil
				}
				a := math.Float32frombits(m[k])
				absmax[lo/blocksize+k] = a
				r[k] = 1 / a
			}
			encodeNF4Blocks512(packed[lo/2:(lo+g*blocksize)/2], x[lo:lo+g*blocksize], r[:g], blocksize)
			lo += g * blocksize
		}
	}
	for ; lo < len(x); lo += blocksize {
		hi := min(lo+blocksize, len(x))
		xb := x[lo:hi]
		s, bad := scaleBlock(xb, hi-lo == blocksize, false)
		if bad >= 0 {
			return false, nil
		}
		absmax[lo/blocksize] = s.absmax
		enc.block(packed[lo/2:(hi+1)/2], xb, s)
	}
	return true, nil
}
