package quant

import (
	"fmt"
	"math"
	"strings"
	"unsafe"
)

// This file holds bitsandbytes' 8-bit block-wise quantization
// (quantize_blockwise / dequantize_blockwise, spec blockwise.md §2) and the
// pieces the 4-bit and nested quantizers share with it.
//
// Wick reproduces the decision rules of bitsandbytes' CUDA kernels
// ("canonical" rules, spec §0), which is what nearly every published
// bitsandbytes checkpoint was quantized with:
//
//   - The tensor is flat; blocks are consecutive runs of blocksize elements
//     (they ignore rows); the last block may be partial.
//   - absmax = max |x| over the block, r = f32(1/absmax) (correctly rounded;
//     CUDA uses an approximate reciprocal that differs in the last bit for
//     some absmax values, which was measured to change no code in 12.8 M
//     normal weights), x_n = f32(x·r).
//   - The code is found by the CUDA kernel's search (searchCodeRef).
//
// Non-finite inputs are rejected unless Options.AllowNonFinite is set; then
// they behave as on CUDA (spec §2.7, §3.7): NaN is ignored by the maximum and
// gets code 0; a block holding ±Inf has absmax +Inf, so r = 0 and its finite
// elements get the code of 0.0 and its infinite ones code 0; a full block of
// NaN stores absmax -MaxFloat32, a partial last block of NaN absmax 0 (the
// kernel's padding zeros take part in its maximum). A block whose elements
// are all ±0 stores absmax 0, r = +Inf, x_n = NaN and therefore code 0 for
// every element, as on CUDA.
//
// Subnormal inputs follow IEEE arithmetic. CUDA, built with fast-math,
// flushes subnormal inputs, reciprocals and products to zero. The results
// differ only for blocks whose absmax is subnormal (CUDA: absmax 0, codes 0)
// or above 2^126 (CUDA: r = 0, every element the code of 0.0), in the
// sign bit FP4 gives to subnormal negative inputs (1000 here, 0000 on CUDA;
// both dequantize to ±0), and in subnormal dequantized values (CUDA: ±0).

// blockSizes8 are the block sizes QuantizeBlockwise accepts: bitsandbytes'
// CUDA set 64…4096, plus 32, which the same rules handle unchanged (CUDA
// bitsandbytes accepts 32 for 4-bit quantization only).
var blockSizes8 = []int{32, 64, 128, 256, 512, 1024, 2048, 4096}

// BlockSizes returns the block sizes QuantizeBlockwise and Quantize4Bit
// accept, ascending.
func BlockSizes() []int { return append([]int(nil), blockSizes8...) }

// blockSizes4 are the block sizes bitsandbytes accepts for 4-bit
// quantization, on every backend.
var blockSizes4 = blockSizes8

// Output is a writable view of dequantized values. Make one with F32Output,
// F16Output or BF16Output.
type Output struct {
	dtype DType
	f32   []float32
	u16   []uint16
}

// F32Output views dst as float32 outputs.
func F32Output(dst []float32) Output { return Output{dtype: DTypeF32, f32: dst} }

// F16Output views dst as IEEE binary16 outputs, written as bit patterns.
// Values are rounded from float32 to nearest, ties to even, as CUDA
// bitsandbytes does when it writes half outputs (with F32ToF16, so a NaN,
// possible only when an absmax is non-finite, becomes ggml's 0x7E00 with
// its sign where CUDA writes 0x7FFF).
func F16Output(dst []uint16) Output { return Output{dtype: DTypeF16, u16: dst} }

// BF16Output views dst as bfloat16 outputs, written as bit patterns, rounded
// from float32 to nearest, ties to even (with F32ToBF16).
func BF16Output(dst []uint16) Output { return Output{dtype: DTypeBF16, u16: dst} }

// Len returns the number of values the output holds.
func (o Output) Len() int {
	if o.dtype == DTypeF32 {
		return len(o.f32)
	}
	return len(o.u16)
}

// elemSize returns the bytes of one output value.
func (o Output) elemSize() int {
	if o.dtype == DTypeF32 {
		return 4
	}
	return 2
}

// DType returns the element encoding.
func (o Output) DType() DType { return o.dtype }

// stream reports whether the decoders should write o with non-temporal
// stores (streamTo).
func (o Output) stream() bool {
	p := unsafe.Pointer(unsafe.SliceData(o.u16))
	if o.dtype == DTypeF32 {
		p = unsafe.Pointer(unsafe.SliceData(o.f32))
	}
	return streamTo(p, o.Len()*o.elemSize())
}

// toHalf rounds f to the 16-bit encoding of o (nearest, ties to even).
func (o Output) toHalf(f float32) uint16 {
	if o.dtype == DTypeBF16 {
		return F32ToBF16(f)
	}
	return F32ToF16(f)
}

// BlockwiseNonFiniteError reports a NaN or ±Inf input to a bitsandbytes
// block-wise quantizer called without Options.AllowNonFinite.
type BlockwiseNonFiniteError struct {
	Format string // "8-bit block-wise", "nf4" or "fp4"
	Index  int    // flat index of the first non-finite element
	Block  int    // Index / blocksize
	Value  float32
}

// Error describes the element and how to allow it.
func (e *BlockwiseNonFiniteError) Error() string {
	return fmt.Sprintf("quant: x: element %d (block %d) is %v; %s quantization needs finite input (allow_non_finite=True, Options.AllowNonFinite in Go, selects bitsandbytes' CUDA behaviour)",
		e.Index, e.Block, e.Value, e.Format)
}

func checkBlocksize(arg string, blocksize int, allowed []int) error {
	for _, b := range allowed {
		if blocksize == b {
			return nil
		}
	}
	s := make([]string, len(allowed))
	for i, b := range allowed {
		s[i] = fmt.Sprint(b)
	}
	return argErr(arg, "is %d; expected one of %s", blocksize, strings.Join(s, ", "))
}

// checkCode validates an 8-bit code table for quantization: every entry
// finite and the entries in ascending order (equal neighbours allowed, as in
// bitsandbytes' zero-padded linear and normal maps). bitsandbytes itself
// checks only that the table is float32; its search silently assumes the
// order.
func checkCode(code *[256]float32, sorted bool) error {
	for i, c := range code {
		if math.IsNaN(float64(c)) || math.IsInf(float64(c), 0) {
			return argErr("code", "entry %d is %v; expected finite values", i, c)
		}
		if sorted && i > 0 && c < code[i-1] {
			return argErr("code", "entry %d (%v) is less than entry %d (%v); expected ascending values", i, c, i-1, code[i-1])
		}
	}
	return nil
}

func checkNoImatrix(opt Options) error {
	if opt.Imatrix != nil {
		return argErr("imatrix", "has %d entries; bitsandbytes block-wise quantization takes none (expected nil)", len(opt.Imatrix))
	}
	return nil
}

// numBlocks returns ceil(n / blocksize).
func numBlocks(n, blocksize int) int { return (n + blocksize - 1) / blocksize }

// chunkFor returns the work unit of the parallel driver: whole blocks,
// about chunkElements values.
func chunkFor(blocksize int) int { return max(1, chunkElements/blocksize) * blocksize }

// decodeChunk is the bitsandbytes decoders' work unit, in values: four
// times chunkElements, because a chunk of streamed output takes only a
// microsecond or two and each claim moves the cache line of the shared
// counter between the cores (about a tenth of a microsecond); 64 Ki values
// keep that near 1% while a late thread waits at most a chunk (5-20 us).
const decodeChunk = 4 * chunkElements

// decodeChunkFor is decodeChunk rounded down to whole blocks (at least one).
func decodeChunkFor(blocksize int) int { return max(1, decodeChunk/blocksize) * blocksize }

// QuantizeBlockwise quantizes src to one 8-bit code index per element, as
// bitsandbytes' quantize_blockwise does on CUDA: codes[i] is the index of
// the entry of code nearest to src[i]/absmax of its block (ties to the even
// index), absmax[b] is max |x| over block b.
//
// code is the table (256 ascending finite values; nil means the signed
// dynamic map, bitsandbytes' default). blocksize is one of 32, 64, …, 4096.
// len(codes) must equal src.Len() and len(absmax) must equal
// ceil(src.Len()/blocksize). An empty src is valid and writes nothing.
//
// opt.Imatrix must be nil. The result is identical for every opt.Threads.
// On error (including ErrCancelled) codes and absmax are partly written.
func QuantizeBlockwise(codes []uint8, absmax []float32, src Input, code *[256]float32, blocksize int, opt Options) error {
	if err := checkBlocksize("blocksize", blocksize, blockSizes8); err != nil {
		return err
	}
	code, err := blockwiseArgs(codes, absmax, src.Len(), code, blocksize, opt)
	if err != nil || src.Len() == 0 {
		return err
	}
	dec := codeDecider(code, src.Len())
	nan := searchCodeRef(code, float32(math.NaN()))
	return quantizeBlocks(src, absmax, blocksize, opt, "8-bit block-wise", opt.AllowNonFinite, func(lo, hi int, x []float32, s blockScale) {
		switch {
		case s.fast && dec != nil:
			dec.encode(codes[lo:hi], x, s.r)
		case s.absmax == 0:
			// All ±0 (or NaN): x·r = 0·Inf = NaN everywhere.
			fillBytes(codes[lo:hi], nan)
		default:
			encodeCodeRef(codes[lo:hi], x, s.r, code)
		}
	})
}

// blockwiseArgs validates what the 8-bit quantizers share (all but the
// block size) and returns the code table to use.
func blockwiseArgs(codes []uint8, absmax []float32, n int, code *[256]float32, blocksize int, opt Options) (*[256]float32, error) {
	if code == nil {
		code = &dynamicSigned
	} else if err := checkCode(code, true); err != nil {
		return nil, err
	}
	if err := checkNoImatrix(opt); err != nil {
		return nil, err
	}
	if len(codes) != n {
		return nil, argErr("codes", "has %d entries; expected %d, one per element of x", len(codes), n)
	}
	return code, checkAbsmaxLen("absmax", len(absmax), n, blocksize, "x")
}

func checkAbsmaxLen(arg string, got, n, blocksize int, of string) error {
	if nb := numBlocks(n, blocksize); got != nb {
		return argErr(arg, "has %d entries; expected %d, one per block of %d elements of %s", got, nb, blocksize, of)
	}
	return nil
}

// quantizeBlocks is the driver of the block-wise quantizers. It cuts src
// into chunks of whole blocks for forChunks, widens half inputs, scales each
// block (scaleBlock), stores its absmax and hands it to encode with its flat
// range [lo, hi). A non-finite element stops the work with a
// *BlockwiseNonFiniteError naming format, unless allowNonFinite.
func quantizeBlocks(src Input, absmax []float32, blocksize int, opt Options, format string, allowNonFinite bool,
	encode func(lo, hi int, x []float32, s blockScale)) error {
	per := chunkFor(blocksize)
	return forChunks(src.Len(), per, opt, func(lo, hi int, scratch *[]float32) error {
		x, err := chunkFloats(src, lo, hi, per, scratch)
		if err != nil {
			return err
		}
		for b := lo; b < hi; b += blocksize {
			e := min(b+blocksize, hi)
			xb := x[b-lo : e-lo]
			s, bad := scaleBlock(xb, e-b == blocksize, allowNonFinite)
			if bad >= 0 {
				return &BlockwiseNonFiniteError{Format: format, Index: b + bad, Block: b / blocksize, Value: xb[bad]}
			}
			absmax[b/blocksize] = s.absmax
			encode(b, e, xb, s)
		}
		return nil
	})
}

func fillBytes(b []byte, v byte) {
	for i := range b {
		b[i] = v
	}
}

// chunkFloats returns src[lo:hi] as float32 values, converted into scratch
// (grown to per values when needed) for half inputs: by the vector kernel
// where there is one, the rest by Input.floats; a FuncInput fills scratch,
// and its error is the only one returned.
func chunkFloats(src Input, lo, hi, per int, scratch *[]float32) ([]float32, error) {
	switch src.dtype {
	case DTypeF32:
		return src.f32[lo:hi], nil
	case dtypeFunc:
		return src.fillChunk(lo, hi, per, scratch)
	}
	if len(*scratch) < hi-lo {
		*scratch = make([]float32, per)
	}
	return src.floats(lo, hi, *scratch), nil
}

// blockScale is the normalization of one block.
type blockScale struct {
	absmax float32 // what bitsandbytes stores
	r      float32 // f32(1/absmax)
	// fast is set when every element of the block and r are finite and
	// r ≠ 0, so that every x·r is finite and a decider may be used.
	fast bool
}

// scaleBlock computes the normalization of block x (full: x has blocksize
// elements). It returns the index within x of the first non-finite element
// if there is one and allowNonFinite is false, else -1.
func scaleBlock(x []float32, full, allowNonFinite bool) (blockScale, int) {
	m, v := maxAbsBitsVec(x)
	m = max(m, maxAbsBits(x[v:]))
	if m < 0x7F800000 {
		a := math.Float32frombits(m)
		r := 1 / a
		return blockScale{absmax: a, r: r, fast: a != 0 && r <= math.MaxFloat32}, -1
	}
	if !allowNonFinite {
		return blockScale{}, firstNonFinite(x)
	}
	a := absmaxRef(x, full)
	return blockScale{absmax: a, r: 1 / a}, -1
}

// maxAbsBits returns the largest |x| of x as a bit pattern: the absolute
// maximum when it is below 0x7F800000, and ≥ 0x7F800000 when x holds a NaN or
// ±Inf. For finite floats the order of the sign-cleared bit patterns is the
// numeric order; four accumulators break the dependency chain.
func maxAbsBits(x []float32) uint32 {
	var m0, m1, m2, m3 uint32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		v := x[i : i+4 : i+4]
		m0 = max(m0, math.Float32bits(v[0])&0x7FFFFFFF)
		m1 = max(m1, math.Float32bits(v[1])&0x7FFFFFFF)
		m2 = max(m2, math.Float32bits(v[2])&0x7FFFFFFF)
		m3 = max(m3, math.Float32bits(v[3])&0x7FFFFFFF)
	}
	for ; i < len(x); i++ {
		m0 = max(m0, math.Float32bits(x[i])&0x7FFFFFFF)
	}
	return max(max(m0, m1), max(m2, m3))
}

// absmaxRef is the CUDA kernel's block maximum, fmaxf over |x| starting from
// -MaxFloat32: NaN elements are skipped, so a full block of NaN keeps
// -MaxFloat32. In a partial last block the kernel also sees the zeros it
// pads the block with, so the maximum there is at least 0.
func absmaxRef(x []float32, full bool) float32 {
	m := float32(-math.MaxFloat32)
	if !full {
		m = 0
	}
	for _, v := range x {
		if a := abs32(v); a > m { // a NaN compares false and is skipped
			m = a
		}
	}
	return m
}

// searchCodeRef is the CUDA kernel's code search (dQuantize, round to
// nearest), transcribed step by step: a 7-step binary search from index 127
// that goes up while x > code[pivot], ending at an even pivot p bracketed by
// p-1 and p+1, then one comparison with the float32 midpoint on x's side.
// For a strictly ascending table it returns the nearest entry with
// float32 midpoints, a tie on a midpoint going to the even index; below
// code[0] it returns 0, above code[255] 255, and for NaN 0. For tables with
// equal neighbours this function is the definition.
func searchCodeRef(code *[256]float32, x float32) uint8 {
	pivot, lowerPivot, upperPivot := 127, 0, 255
	lower, upper := float32(-1), float32(1)
	val := code[pivot]
	for step := 64; step > 0; step >>= 1 {
		if x > val {
			lowerPivot, lower = pivot, val
			pivot += step
		} else {
			upperPivot, upper = pivot, val
			pivot -= step
		}
		val = code[pivot]
	}
	if upperPivot == 255 {
		upper = code[255]
	}
	if lowerPivot == 0 {
		lower = code[0]
	}
	if x > val {
		if x > (upper+val)*0.5 {
			return uint8(upperPivot)
		}
		return uint8(pivot)
	}
	if x < (lower+val)*0.5 {
		return uint8(lowerPivot)
	}
	return uint8(pivot)
}

// encodeCodeRef writes the code index of every x·r: the reference twin of
// decider.encode, and the path for blocks a decider does not cover.
func encodeCodeRef(dst []uint8, x []float32, r float32, code *[256]float32) {
	for i, v := range x {
		dst[i] = searchCodeRef(code, v*r)
	}
}

// encode writes the code of every x·r, for a block whose scale is fast.
func (d *decider) encode(dst []uint8, x []float32, r float32) {
	dst = dst[:len(x)]
	if d.multi != nil {
		for i, v := range x {
			dst[i] = d.code(v * r)
		}
		return
	}
	i := encodeTableVec(dst, x, r, &d.tab)
	for ; i+4 <= len(x); i += 4 {
		v, o := x[i:i+4:i+4], dst[i:i+4:i+4]
		o[0] = d.pick(v[0] * r)
		o[1] = d.pick(v[1] * r)
		o[2] = d.pick(v[2] * r)
		o[3] = d.pick(v[3] * r)
	}
	for ; i < len(x); i++ {
		dst[i] = d.pick(x[i] * r)
	}
}

// quantizeBlockwiseRef is the plain reference of QuantizeBlockwise for
// float32 input and valid arguments, non-finite values included (CUDA
// semantics): one block at a time, the CUDA maximum, the reciprocal, the
// search. The fast path must match it exactly.
func quantizeBlockwiseRef(codes []uint8, absmax []float32, x []float32, code *[256]float32, blocksize int) {
	for b := 0; b*blocksize < len(x); b++ {
		lo, hi := b*blocksize, min((b+1)*blocksize, len(x))
		a := absmaxRef(x[lo:hi], hi-lo == blocksize)
		absmax[b] = a
		r := 1 / a
		for i := lo; i < hi; i++ {
			codes[i] = searchCodeRef(code, x[i]*r)
		}
	}
}

// DequantizeBlockwise reverses QuantizeBlockwise: dst[i] =
// f32(code[codes[i]] · absmax[i/blocksize]), rounded to the encoding of dst,
// exactly as bitsandbytes computes it on every backend.
//
// code is the table the data was quantized with: pass the quant_map stored
// with it (nil means the signed dynamic map). Its entries must be finite;
// they need not be sorted. blocksize may be any positive value (bitsandbytes'
// CPU backend writes states with any block size). len(codes) must equal
// dst.Len() and len(absmax) must equal ceil(dst.Len()/blocksize). For a
// double-quantized absmax, rebuild it with DequantizeNested first.
func DequantizeBlockwise(dst Output, codes []uint8, absmax []float32, code *[256]float32, blocksize int, opt Options) error {
	if blocksize <= 0 {
		return argErr("blocksize", "is %d; expected a positive block size", blocksize)
	}
	if code == nil {
		code = &dynamicSigned
	} else if err := checkCode(code, false); err != nil {
		return err
	}
	n := dst.Len()
	if len(codes) != n {
		return argErr("codes", "has %d entries; expected %d, one per element of out", len(codes), n)
	}
	if err := checkAbsmaxLen("absmax", len(absmax), n, blocksize, "out"); err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	// Any cut works: each element finds its own block.
	per := decodeChunk
	stream := dst.stream()
	return forChunksCaller(n, per, opt, func(lo, hi int, _ *[]float32) error {
		if decode8Fast(dst, lo, hi, codes[lo:hi], absmax, blocksize, code, stream) {
			return nil
		}
		if dst.dtype == DTypeF32 {
			decodeCodes(dst.f32[lo:hi], codes[lo:hi], absmax, lo, blocksize, code)
		} else {
			decodeCodesHalf(dst, lo, hi, codes[lo:hi], absmax, blocksize, code)
		}
		return nil
	})
}

// decodeCodes writes y[i] = code[q[i]] · absmax[(lo+i)/blocksize].
func decodeCodes(y []float32, q []uint8, absmax []float32, lo, blocksize int, code *[256]float32) {
	q = q[:len(y)]
	for i := 0; i < len(y); {
		b := (lo + i) / blocksize
		e := min(len(y), (b+1)*blocksize-lo)
		a := absmax[b]
		yb, qb := y[i:e], q[i:e]
		for j, c := range qb {
			yb[j] = code[c] * a
		}
		i = e
	}
}

// decodeCodesHalf is decodeCodes for the 16-bit outputs dst[lo:hi]. A block
// of 512 elements or more is decoded through a table of its 256 possible
// outputs, each rounded once, which gives the same bits.
func decodeCodesHalf(dst Output, lo, hi int, q []uint8, absmax []float32, blocksize int, code *[256]float32) {
	y := dst.u16[lo:hi]
	q = q[:len(y)]
	var lut [256]uint16
	for i := 0; i < len(y); {
		b := (lo + i) / blocksize
		e := min(len(y), (b+1)*blocksize-lo)
		a := absmax[b]
		yb, qb := y[i:e], q[i:e]
		if len(yb) >= 512 {
			for k := range lut {
				lut[k] = dst.toHalf(code[k] * a)
			}
			for j, c := range qb {
				yb[j] = lut[c]
			}
		} else {
			for j, c := range qb {
				yb[j] = dst.toHalf(code[c] * a)
			}
		}
		i = e
	}
}
