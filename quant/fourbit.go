package quant

import "math"

// This file holds bitsandbytes' 4-bit quantization, NF4 and FP4
// (quantize_4bit / dequantize_4bit, spec blockwise.md §3), with the CUDA
// kernels' decision rules. Blocks, absmax, the reciprocal and the non-finite
// rules are those of the 8-bit quantizer (blockwise.go).

// nf4CodeRef is the CUDA NF4 rule: the number of thresholds x is strictly
// above (a value equal to a threshold gets the lower code; NaN gets 0). The
// kernel's decision tree over the sorted thresholds computes the same.
func nf4CodeRef(x float32) uint8 {
	var c uint8
	for _, t := range nf4ThresholdValues {
		if x > t {
			c++
		}
	}
	return c
}

// fp4CodeRef is the CUDA FP4 rule: sign bit set iff x < 0 (so -0.0 and NaN
// get sign 0), and the magnitude code whose rank in increasing value is the
// number of thresholds |x| is strictly above.
func fp4CodeRef(x float32) uint8 {
	var sign uint8
	if x < 0 {
		sign = 8
	}
	a := abs32(x)
	k := 0
	for _, t := range fp4ThresholdValues {
		if a > t {
			k++
		}
	}
	return sign | fp4MagnitudeOrder[k]
}

func (t FourBitType) rule() func(float32) uint8 { return fourBitTypes[t].rule }

func (t FourBitType) decider() *decider { return fourBitTypes[t].decider() }

// dequantTable is the table CUDA bitsandbytes dequantizes t with.
func (t FourBitType) dequantTable() *[16]float32 { return fourBitTypes[t].cudaDequant }

// cpuDequantTable is the table bitsandbytes' CPU path dequantizes t with
// (its AVX-512 kernel and its PyTorch fallback): QuantMap, FP4 code 8 +0.0.
func (t FourBitType) cpuDequantTable() *[16]float32 {
	if t == FP4 {
		return &fp4Table
	}
	return &nf4Table
}

func checkFourBitType(t FourBitType) error {
	if !t.valid() {
		return argErr("quant_type", "is %d; expected NF4 (%d) or FP4 (%d)", int(t), int(NF4), int(FP4))
	}
	return nil
}

// Quantize4Bit quantizes src to 4-bit codes of type typ, packed two per byte
// exactly as bitsandbytes' quantize_4bit does on CUDA: element 2j in the high
// nibble of packed[j], element 2j+1 in the low nibble; for odd n the last low
// nibble is padding, the code the value 0.0 gets in the last block (NF4 0111,
// FP4 0000, and 0000 for both when the last block is all zero). absmax[b] is
// max |x| over block b, in float32 (for double quantization pass it on to
// NestedOffset and QuantizeNested).
//
// blocksize is one of 32, 64, …, 4096. len(packed) must be (n+1)/2 and
// len(absmax) ceil(n/blocksize), n = src.Len(). An empty src is valid.
// opt.Imatrix must be nil. The result is identical for every opt.Threads.
func Quantize4Bit(packed []uint8, absmax []float32, src Input, typ FourBitType, blocksize int, opt Options) error {
	if err := fourBitArgs(packed, absmax, src.Len(), typ, blocksize, opt); err != nil || src.Len() == 0 {
		return err
	}
	enc := newFourBitEncoder(typ)
	return quantizeBlocks(src, absmax, blocksize, opt, typ.String(), opt.AllowNonFinite, func(lo, hi int, x []float32, s blockScale) {
		enc.block(packed[lo/2:(hi+1)/2], x, s)
	})
}

// fourBitEncoder writes the packed codes of one block as Quantize4Bit
// does; Quantize4Bit and Quantize4BitF32 share it.
type fourBitEncoder struct {
	typ  FourBitType
	rule func(float32) uint8
	nan  uint8    // the code of NaN
	dec  *decider // only needed where there is no vector kernel
}

func newFourBitEncoder(typ FourBitType) fourBitEncoder {
	e := fourBitEncoder{typ: typ, rule: typ.rule()}
	e.nan = e.rule(float32(math.NaN()))
	if !haveAVX2 {
		e.dec = typ.decider()
	}
	return e
}

// block writes the codes of block x, scaled by s, into out (packed two per
// byte, high nibble first). The vector kernels (AVX-512 for NF4, then AVX2)
// evaluate the rule themselves, for any input; the rest (all of it without
// a vector unit, else fewer than 16 elements) goes to the decider when there
// is one and the block allows it, else to the rule.
func (e *fourBitEncoder) block(out []uint8, x []float32, s blockScale) {
	v := 0
	if e.typ == NF4 {
		v = encodeNF4Vec512(out, x, s.r)
	}
	v += encode4Vec(out[v/2:], x[v:], s.r, e.typ)
	switch {
	case s.fast && e.dec != nil:
		e.dec.encode4(out[v/2:], x[v:], s.r)
	case s.absmax == 0:
		// All ±0 (or NaN): x·r = 0·Inf = NaN everywhere.
		fillBytes(out[v/2:], e.nan<<4|e.nan)
	default:
		encode4Ref(out[v/2:], x[v:], s.r, e.rule)
	}
	if len(x)%2 == 1 {
		// The kernel pads the block with zeros and quantizes them too.
		out[len(out)-1] |= e.rule(0 * s.r)
	}
}

// fourBitArgs validates the arguments of the 4-bit quantizers.
func fourBitArgs(packed []uint8, absmax []float32, n int, typ FourBitType, blocksize int, opt Options) error {
	if err := checkFourBitType(typ); err != nil {
		return err
	}
	if err := checkBlocksize("blocksize", blocksize, blockSizes4); err != nil {
		return err
	}
	if err := checkNoImatrix(opt); err != nil {
		return err
	}
	if err := checkPackedLen(len(packed), n, "x"); err != nil {
		return err
	}
	return checkAbsmaxLen("absmax", len(absmax), n, blocksize, "x")
}

func checkPackedLen(got, n int, of string) error {
	if want := (n + 1) / 2; got != want {
		return argErr("packed", "has %d bytes; expected %d, two codes per byte for %d elements of %s", got, want, n, of)
	}
	return nil
}

// encode4Ref packs the codes of x·r two per byte, high nibble first; an odd
// last element leaves its low nibble 0. It is the reference twin of
// decider.encode4 and the path for blocks a decider does not cover.
func encode4Ref(dst []uint8, x []float32, r float32, rule func(float32) uint8) {
	for i, v := range x {
		c := rule(v * r)
		if i%2 == 0 {
			dst[i/2] = c << 4
		} else {
			dst[i/2] |= c
		}
	}
}

// encode4 is encode4Ref with the decider in place of the rule.
func (d *decider) encode4(dst []uint8, x []float32, r float32) {
	pairs := len(x) / 2
	if d.multi != nil {
		encode4Ref(dst, x, r, d.code)
		return
	}
	dst = dst[:(len(x)+1)/2]
	j := 0
	for ; j+2 <= pairs; j += 2 {
		v, o := x[2*j:2*j+4:2*j+4], dst[j:j+2:j+2]
		o[0] = d.pick(v[0]*r)<<4 | d.pick(v[1]*r)
		o[1] = d.pick(v[2]*r)<<4 | d.pick(v[3]*r)
	}
	for ; j < pairs; j++ {
		dst[j] = d.pick(x[2*j]*r)<<4 | d.pick(x[2*j+1]*r)
	}
	if len(x)%2 == 1 {
		dst[pairs] = d.code(x[2*pairs]*r) << 4
	}
}

// quantize4BitRef is the plain reference of Quantize4Bit for float32 input
// and valid arguments, non-finite values included (CUDA semantics).
func quantize4BitRef(packed []uint8, absmax []float32, x []float32, typ FourBitType, blocksize int) {
	rule := typ.rule()
	for b := 0; b*blocksize < len(x); b++ {
		lo, hi := b*blocksize, min((b+1)*blocksize, len(x))
		a := absmaxRef(x[lo:hi], hi-lo == blocksize)
		absmax[b] = a
		r := 1 / a
		for i := lo; i < hi; i++ {
			c := rule(x[i] * r)
			if i%2 == 0 {
				packed[i/2] = c << 4
			} else {
				packed[i/2] |= c
			}
		}
		if hi%2 == 1 {
			packed[hi/2] |= rule(0 * r) // the kernel's zero padding
		}
	}
}

// Dequantize4Bit reverses Quantize4Bit: dst[i] = f32(table[code_i] ·
// absmax[i/blocksize]), rounded to the encoding of dst, where code_i is the
// high nibble of packed[i/2] for even i and the low nibble for odd i, and
// table is the one CUDA bitsandbytes uses for typ (QuantMap, except that FP4
// code 8 gives -0.0). bitsandbytes' 4-bit dequantizers use these built-in
// tables, not the quant_map stored in a state.
//
// blocksize is one of 32, 64, …, 4096; len(packed) must be (n+1)/2 and
// len(absmax) ceil(n/blocksize), n = dst.Len(). For a double-quantized
// absmax, rebuild it with DequantizeNested first.
func Dequantize4Bit(dst Output, packed []uint8, absmax []float32, typ FourBitType, blocksize int, opt Options) error {
	if err := checkFourBitType(typ); err != nil {
		return err
	}
	return dequantize4Bit(dst, packed, absmax, typ.dequantTable(), blocksize, opt)
}

// Dequantize4BitCPU is Dequantize4Bit with the table of bitsandbytes' CPU
// path, QuantMap: FP4 code 8 gives +0.0, as bitsandbytes 0.50 computes on a
// CPU with AVX-512F at every block size and shape, and on any CPU for an odd
// last dimension (its PyTorch fallback). Its plain loop, which it runs on
// CPUs without AVX-512F for an even last dimension, gives -0.0 like CUDA:
// Dequantize4Bit reproduces that. NF4 is the same under both.
func Dequantize4BitCPU(dst Output, packed []uint8, absmax []float32, typ FourBitType, blocksize int, opt Options) error {
	if err := checkFourBitType(typ); err != nil {
		return err
	}
	return dequantize4Bit(dst, packed, absmax, typ.cpuDequantTable(), blocksize, opt)
}

func dequantize4Bit(dst Output, packed []uint8, absmax []float32, table *[16]float32, blocksize int, opt Options) error {
	if err := checkBlocksize("blocksize", blocksize, blockSizes4); err != nil {
		return err
	}
	n := dst.Len()
	if err := checkPackedLen(len(packed), n, "out"); err != nil {
		return err
	}
	if err := checkAbsmaxLen("absmax", len(absmax), n, blocksize, "out"); err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	per := decodeChunkFor(blocksize)
	stream := dst.stream()
	return forChunksCaller(n, per, opt, func(lo, hi int, scratch *[]float32) error {
		lo += decode4Fast(dst, lo, hi, packed, absmax, blocksize, table, stream)
		if lo == hi {
			return nil
		}
		if dst.dtype == DTypeF32 {
			decode4(dst.f32[lo:hi], packed, absmax, lo, blocksize, table)
			return nil
		}
		if !decode4HalfVec(dst, lo, hi, packed, absmax, blocksize, table, per, scratch) {
			decode4Half(dst, lo, hi, packed, absmax, blocksize, table)
		}
		return nil
	})
}

// decode4 writes y[i] = table[code of element lo+i] · absmax of its block,
// for lo and blocksize even.
func decode4(y []float32, packed []uint8, absmax []float32, lo, blocksize int, table *[16]float32) {
	for i := 0; i < len(y); {
		b := (lo + i) / blocksize
		e := min(len(y), (b+1)*blocksize-lo)
		a := absmax[b]
		yb := y[i:e]
		pb := packed[(lo+i)/2 : (lo+e+1)/2]
		j := 2 * decode4Vec(yb, pb[:len(yb)/2], a, table)
		for ; j+1 < len(yb); j += 2 {
			p := pb[j/2]
			yb[j] = table[p>>4] * a
			yb[j+1] = table[p&0x0F] * a
		}
		if j < len(yb) {
			yb[j] = table[pb[j/2]>>4] * a
		}
		i = e
	}
}

// decode4Half is decode4 for the 16-bit outputs dst[lo:hi], through a table
// of the 16 outputs of each block, each rounded once: the reference the
// vectorised path of Dequantize4Bit is tested against.
func decode4Half(dst Output, lo, hi int, packed []uint8, absmax []float32, blocksize int, table *[16]float32) {
	y := dst.u16[lo:hi]
	var lut [16]uint16
	for i := 0; i < len(y); {
		b := (lo + i) / blocksize
		e := min(len(y), (b+1)*blocksize-lo)
		a := absmax[b]
		for k := range lut {
			lut[k] = dst.toHalf(table[k] * a)
		}
		yb := y[i:e]
		pb := packed[(lo+i)/2 : (lo+e+1)/2]
		j := 0
		for ; j+1 < len(yb); j += 2 {
			p := pb[j/2]
			yb[j] = lut[p>>4]
			yb[j+1] = lut[p&0x0F]
		}
		if j < len(yb) {
			yb[j] = lut[pb[j/2]>>4]
		}
		i = e
	}
}

// Dequantize4BitRange decodes the elements [lo, lo+len(dst)) of a 4-bit
// tensor of n elements (packed and absmax are the whole tensor's, as for
// Dequantize4Bit): dst receives exactly what Dequantize4Bit writes there
// for an output of dtype round (DTypeF32, DTypeF16 or DTypeBF16), widened
// back to float32. It runs on the calling goroutine, so that a caller
// decoding a large tensor in pieces controls the parallelism; it is safe
// to call concurrently.
//
// With cpu set it decodes with the table of Dequantize4BitCPU (FP4 code 8
// gives +0, as bitsandbytes 0.50 on a CPU with AVX-512F and its PyTorch
// fallback), else with Dequantize4Bit's (-0, as CUDA).
func Dequantize4BitRange(dst []float32, packed []uint8, absmax []float32, typ FourBitType, blocksize, n, lo int, round DType, cpu bool) error {
	if err := checkFourBitType(typ); err != nil {
		return err
	}
	if err := checkBlocksize("blocksize", blocksize, blockSizes4); err != nil {
		return err
	}
	if err := checkPackedLen(len(packed), n, "out"); err != nil {
		return err
	}
	if err := checkAbsmaxLen("absmax", len(absmax), n, blocksize, "out"); err != nil {
		return err
	}
	if lo < 0 || lo+len(dst) > n {
		return argErr("lo", "elements [%d, %d) are outside the tensor's %d", lo, lo+len(dst), n)
	}
	if round != DTypeF32 && round != DTypeF16 && round != DTypeBF16 {
		return argErr("round", "is %v; expected float32, float16 or bfloat16", round)
	}
	if len(dst) == 0 {
		return nil
	}
	table := typ.dequantTable()
	if cpu {
		table = typ.cpuDequantTable()
	}
	y := dst
	if lo%2 == 1 {
		y[0] = table[packed[lo/2]&0x0F] * absmax[lo/blocksize]
		y, lo = y[1:], lo+1
	}
	decode4(y, packed, absmax, lo, blocksize, table)
	switch round {
	case DTypeBF16:
		for i, v := range dst {
			dst[i] = BF16ToF32(F32ToBF16(v))
		}
	case DTypeF16:
		for i, v := range dst {
			dst[i] = F16ToF32(F32ToF16(v))
		}
	}
	return nil
}
