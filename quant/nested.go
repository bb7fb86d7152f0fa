package quant

// This file holds bitsandbytes' double ("nested") quantization of absmax
// (compress_statistics=True for 4-bit, nested=True for 8-bit; spec
// blockwise.md §4):
//
//	offset   = mean(absmax)                                  (NestedOffset)
//	codes, nested_absmax = 8-bit block-wise quantization of
//	           f32(absmax[i] - offset) with the signed dynamic map (QuantizeNested)
//	absmax'[i] = f32(f32(code[codes[i]] · nested_absmax[i/nb]) + offset)
//	                                                         (DequantizeNested)
//
// The nested block size nb is 256 for 4-bit states and the outer block size
// for 8-bit states.

// NestedBlocksize4Bit is the block size bitsandbytes uses to double-quantize
// the absmax of a 4-bit state.
const NestedBlocksize4Bit = 256

// NestedOffset returns the offset bitsandbytes subtracts from absmax before
// double quantization: the mean of absmax, summed in float64 in index order,
// divided by len(absmax) and rounded once to float32 (0 when absmax is
// empty).
//
// bitsandbytes computes the mean with PyTorch's float32 mean, whose
// summation order depends on the device and its vector width, so its offset
// can differ from this one (and between its own backends) by about one ulp
// (spec §4.3). Everything after the offset is exact: to reproduce a
// bitsandbytes state bit for bit, pass its offset to QuantizeNested.
func NestedOffset(absmax []float32) float32 {
	if len(absmax) == 0 {
		return 0
	}
	var s float64
	for _, a := range absmax {
		s += float64(a)
	}
	return float32(s / float64(len(absmax)))
}

// QuantizeNested double-quantizes absmax around offset: it quantizes the
// values f32(absmax[i] - offset) block-wise, with blocks of nestedBlocksize
// (one of 32, 64, …, 4096) and the signed dynamic map, into codes (one per
// absmax entry) and nestedAbsmax (one per nested block), as bitsandbytes'
// quantize_4bit(compress_statistics=True) and quantize_blockwise(nested=True)
// do. offset is normally NestedOffset(absmax), or the nested_offset of a
// bitsandbytes state being reproduced.
//
// Without opt.AllowNonFinite, offset and the centered values must be finite.
// opt.Progress is not called (the work is 1/blocksize of the tensor's).
func QuantizeNested(codes []uint8, nestedAbsmax []float32, absmax []float32, offset float32, nestedBlocksize int, opt Options) error {
	if err := checkBlocksize("nested_blocksize", nestedBlocksize, blockSizes8); err != nil {
		return err
	}
	centered, err := centerAbsmax(codes, nestedAbsmax, absmax, offset, nestedBlocksize, opt)
	if err != nil {
		return err
	}
	opt.Progress = nil
	return QuantizeBlockwise(codes, nestedAbsmax, F32Input(centered), nil, nestedBlocksize, opt)
}

// centerAbsmax validates the arguments of the nested quantizers and returns
// the values f32(absmax[i] - offset) they quantize, which must be finite
// unless opt.AllowNonFinite.
func centerAbsmax(codes []uint8, nestedAbsmax []float32, absmax []float32, offset float32, nestedBlocksize int, opt Options) ([]float32, error) {
	if err := checkNoImatrix(opt); err != nil {
		return nil, err
	}
	if err := checkNestedLens(len(codes), len(nestedAbsmax), len(absmax), nestedBlocksize); err != nil {
		return nil, err
	}
	centered := make([]float32, len(absmax))
	for i, a := range absmax {
		centered[i] = a - offset
		if !opt.AllowNonFinite && !isFinite32(centered[i]) {
			if !isFinite32(offset) {
				return nil, argErr("offset", "is %v; expected a finite value", offset)
			}
			return nil, argErr("absmax", "entry %d is %v; expected finite values (allow_non_finite=True, Options.AllowNonFinite in Go, selects bitsandbytes' CUDA behaviour)", i, a)
		}
	}
	return centered, nil
}

func checkNestedLens(codes, nestedAbsmax, absmax, nestedBlocksize int) error {
	if codes != absmax {
		return argErr("codes", "has %d entries; expected %d, one per absmax entry", codes, absmax)
	}
	return checkAbsmaxLen("nested_absmax", nestedAbsmax, absmax, nestedBlocksize, "absmax")
}

// DequantizeNested rebuilds a double-quantized absmax exactly as
// bitsandbytes does: absmax[i] = f32(f32(code[codes[i]] ·
// nestedAbsmax[i/nestedBlocksize]) + offset), two roundings, never a fused
// multiply-add. code is the state's nested_quant_map (nil means the signed
// dynamic map); nestedBlocksize may be any positive value.
func DequantizeNested(absmax []float32, codes []uint8, nestedAbsmax []float32, offset float32, code *[256]float32, nestedBlocksize int) error {
	if nestedBlocksize <= 0 {
		return argErr("nested_blocksize", "is %d; expected a positive block size", nestedBlocksize)
	}
	if code == nil {
		code = &dynamicSigned
	} else if err := checkCode(code, false); err != nil {
		return err
	}
	if err := checkNestedLens(len(codes), len(nestedAbsmax), len(absmax), nestedBlocksize); err != nil {
		return err
	}
	if !dequantizeNestedFast(absmax, codes, nestedAbsmax, offset, code, nestedBlocksize) {
		dequantizeNested(absmax, codes, nestedAbsmax, offset, code, nestedBlocksize)
	}
	return nil
}

// dequantizeNested is dequantizeNestedRef block by block, without a
// division per value.
func dequantizeNested(absmax []float32, codes []uint8, nestedAbsmax []float32, offset float32, code *[256]float32, nestedBlocksize int) {
	absmax = absmax[:len(codes)]
	for lo := 0; lo < len(codes); lo += nestedBlocksize {
		hi := min(lo+nestedBlocksize, len(codes))
		a := nestedAbsmax[lo/nestedBlocksize]
		for i, c := range codes[lo:hi] {
			absmax[lo+i] = float32(code[c]*a) + offset
		}
	}
}

// dequantizeNestedRef is DequantizeNested's definition: absmax[i] =
// (code[codes[i]]·nestedAbsmax[i/nestedBlocksize]) + offset, two roundings.
func dequantizeNestedRef(absmax []float32, codes []uint8, nestedAbsmax []float32, offset float32, code *[256]float32, nestedBlocksize int) {
	for i, c := range codes {
		absmax[i] = float32(code[c]*nestedAbsmax[i/nestedBlocksize]) + offset
	}
}
