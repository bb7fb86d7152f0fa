package quant

import (
	"unsafe"

	"github.com/wick-ml/wick/internal/parallel"
)

// DType is the element encoding of an input buffer.
type DType int

// Input encodings Quantize accepts.
const (
	DTypeF32  DType = iota // float32
	DTypeF16               // IEEE binary16 bits
	DTypeBF16              // bfloat16 bits
)

// dtypeFunc marks an Input whose values a function produces (FuncInput).
// It is not an encoding callers pass in: DType reports such an input as
// DTypeF32, the type of the values the function writes.
const dtypeFunc DType = -1

// Input is a read-only view of the values to quantize. Make one with
// F32Input, F16Input, BF16Input or FuncInput; the zero Input is empty.
type Input struct {
	dtype DType
	f32   []float32
	u16   []uint16
	n     int                                   // FuncInput: the number of values
	fill  func(dst []float32, lo, hi int) error // FuncInput: the producer
}

// F32Input views float32 values.
func F32Input(x []float32) Input { return Input{dtype: DTypeF32, f32: x} }

// F16Input views IEEE binary16 values given as their bit patterns.
func F16Input(bits []uint16) Input { return Input{dtype: DTypeF16, u16: bits} }

// BF16Input views bfloat16 values given as their bit patterns.
func BF16Input(bits []uint16) Input { return Input{dtype: DTypeBF16, u16: bits} }

// FuncInput is an input of n float32 values that are produced on demand
// rather than held in memory, for sources that must be decoded first (FP8
// weights and their scales, say): the consumer asks for each piece of work
// just before it encodes it, so that the decoded values are still in cache
// and the whole tensor is never in memory as float32.
//
// fill writes values [lo, hi) into dst (len(dst) == hi-lo) and returns nil,
// or returns an error, which becomes the error of the call that asked (when
// several pieces fail, the lowest one's error, as for any error of a
// chunked call). It is called concurrently from the workers of Quantize (and
// of the other quantizers taking an Input) for disjoint ranges, each range
// inside one piece of work: Quantize calls it once per piece, whose length
// is ChunkLen of its unit. It must be safe for concurrent use. Input.Float32
// and Input.Float32Range call it once for the range asked for.
//
// The result of every quantizer is the one it gives for F32Input of the
// same values, with the same Options.
func FuncInput(n int, fill func(dst []float32, lo, hi int) error) Input {
	if n < 0 {
		n = 0
	}
	return Input{dtype: dtypeFunc, n: n, fill: fill}
}

// Len returns the number of values.
func (in Input) Len() int {
	switch in.dtype {
	case DTypeF32:
		return len(in.f32)
	case dtypeFunc:
		return in.n
	}
	return len(in.u16)
}

// DType returns the element encoding: that of the bits viewed, or DTypeF32
// for a FuncInput (its values are written as float32).
func (in Input) DType() DType {
	if in.dtype == dtypeFunc {
		return DTypeF32
	}
	return in.dtype
}

// floats returns values [lo, hi) as float32: the input itself when it is
// float32, otherwise converted (exactly) into scratch. A FuncInput has no
// values to return: the callers fill it per piece (fillChunk) instead.
func (in Input) floats(lo, hi int, scratch []float32) []float32 {
	switch in.dtype {
	case DTypeF16:
		out := scratch[:hi-lo]
		kern.widenF16(out, in.u16[lo:hi])
		return out
	case DTypeBF16:
		out := scratch[:hi-lo]
		kern.widenBF16(out, in.u16[lo:hi])
		return out
	case dtypeFunc:
		panic("quant: Input.floats on a FuncInput")
	default:
		return in.f32[lo:hi]
	}
}

// fillChunk asks a FuncInput for values [lo, hi) in scratch, grown to per
// values when it is too short, and returns them.
func (in Input) fillChunk(lo, hi, per int, scratch *[]float32) ([]float32, error) {
	if len(*scratch) < hi-lo {
		*scratch = make([]float32, max(per, hi-lo))
	}
	x := (*scratch)[:hi-lo]
	if err := in.fill(x, lo, hi); err != nil {
		return nil, err
	}
	return x, nil
}

// Float32 writes the values, converted exactly to float32, into dst, which
// must hold Len() values. The error is a FuncInput's fill error; the other
// inputs never fail.
func (in Input) Float32(dst []float32) error {
	return in.Float32Range(dst[:in.Len()], 0, in.Len())
}

// Float32Range writes values [lo, hi) of in, converted exactly to float32,
// into dst, which must hold hi-lo values. The error is a FuncInput's fill
// error; the other inputs never fail.
func (in Input) Float32Range(dst []float32, lo, hi int) error {
	if in.dtype == dtypeFunc {
		return in.fill(dst[:hi-lo], lo, hi)
	}
	copy(dst, in.floats(lo, hi, dst))
	return nil
}

// Options tunes Quantize and Dequantize. The zero value is ready to use.
type Options struct {
	// Threads is the number of goroutines to use; ≤ 0 means GOMAXPROCS.
	// The output never depends on it.
	Threads int
	// Imatrix is an importance matrix: one non-negative weight per column
	// (len = nPerRow), or nil.
	Imatrix []float32
	// AllowNonFinite lets NaN and ±Inf through to the float types (F32, F16,
	// BF16), which convert them as IEEE does. ggml block types always reject
	// them. The bitsandbytes quantizers (QuantizeBlockwise, Quantize4Bit,
	// QuantizeNested) reject them unless it is set, and then behave as
	// bitsandbytes' CUDA kernels do.
	AllowNonFinite bool
	// Cancelled is polled between chunks of work; when it returns true the
	// call stops and returns ErrCancelled. Nil means never.
	Cancelled func() bool
	// Progress, if set, is called from worker goroutines with the number of
	// elements each finished chunk held. It must be safe for concurrent use.
	Progress func(elements int)
	// Stats, if set, receives the quantization error of a Quantize call
	// (added to what it already holds): each encoded slice is decoded again
	// while it is in cache and compared with its input. The figures do not
	// depend on Threads.
	Stats *ErrorStats
}

// chunkElements is the amount of work a worker takes at a time: small enough
// to balance load and to keep a converted chunk in cache, large enough that
// scheduling costs nothing.
const chunkElements = 1 << 14

// ChunkLen is the number of elements in each piece Quantize cuts its input
// into, unit being the type's block size, or the row length with an
// importance matrix (whose rows keep their identity). A FuncInput's fill is
// called once per piece. The pieces' error statistics are merged in piece
// order, so the figures do not depend on the thread count.
func ChunkLen(unit int) int { return max(1, chunkElements/unit) * unit }

// sliceElements is the size of the slices a chunk is processed in (8 KiB of
// float32, well inside L1).
const sliceElements = 1 << 11

// Quantize encodes the values of src, laid out as rows of nPerRow elements,
// into dst as type t, and returns the number of bytes written. dst must hold
// at least len(src)/nPerRow rows of t. The result is identical for every
// Options.Threads.
func Quantize(t Type, dst []byte, src Input, nPerRow int, opt Options) (int, error) {
	tr, ok := TraitsOf(t)
	if !ok {
		return 0, argErr("type", "unknown ggml type id %d", uint32(t))
	}
	if !tr.CanQuantize() {
		return 0, &UnsupportedError{Type: t, Op: "quantize"}
	}
	n := src.Len()
	if n == 0 {
		return 0, argErr("x", "is empty; expected at least one row of %d elements", tr.BlockSize)
	}
	if nPerRow <= 0 || nPerRow%tr.BlockSize != 0 {
		return 0, argErr("x", "row length %d is not a positive multiple of the %s block size %d", nPerRow, tr.Name, tr.BlockSize)
	}
	if n%nPerRow != 0 {
		return 0, argErr("x", "%d elements do not make whole rows of %d", n, nPerRow)
	}
	if opt.Imatrix != nil && len(opt.Imatrix) != nPerRow {
		return 0, argErr("imatrix", "has %d entries; expected one per column, %d", len(opt.Imatrix), nPerRow)
	}
	if opt.Imatrix == nil && RequiresImatrix(t) {
		return 0, argErr("imatrix", "is required to quantize to %s (ggml refuses IQ2_XXS, IQ2_XS and IQ1_S without an importance matrix)", tr.Name)
	}
	if i := firstNonFinite(opt.Imatrix); i >= 0 {
		// llama-quantize rejects such an imatrix too
		return 0, argErr("imatrix", "entry %d is %v; expected finite weights", i, opt.Imatrix[i])
	}
	need := n / tr.BlockSize * tr.BlockBytes
	if len(dst) < need {
		return 0, argErr("out", "holds %d bytes; expected at least %d for %d %s values", len(dst), need, n, tr.Name)
	}
	checkFinite := !(tr.Float && opt.AllowNonFinite)

	// Without an importance matrix every block of every type is independent
	// (spec §0.1), so the work is cut into chunks of whole blocks whatever
	// the rows are. With one, rows keep their identity (row statistics
	// enter the math), so chunks are made of whole rows.
	unit := tr.BlockSize
	if opt.Imatrix != nil {
		unit = nPerRow
	}
	per := ChunkLen(unit)
	var parts []ErrorStats // per chunk, merged in chunk order below
	if opt.Stats != nil {
		if !tr.CanDequantize() {
			return 0, &UnsupportedError{Type: t, Op: "dequantize"}
		}
		parts = make([]ErrorStats, (n+per-1)/per)
	}
	// The element-wise types and Q8_0 have kernels that check finiteness
	// as they encode (checkedEncoder); the others get a scan first.
	//
	// A chunk is widened (F16/BF16 input), scanned and encoded slice by
	// slice: the widening and the scan leave a slice in L1 just before the
	// kernel reads it, so neither costs an extra trip to memory. A checked
	// kernel on float32 input takes the whole chunk at once. With an
	// importance matrix the kernel needs whole rows: one slice per chunk.
	// A FuncInput fills the whole chunk into the worker's scratch first (one
	// call of fill per chunk: a decoder reads its rows once) and is then
	// float32 input.
	step := per
	var encode func(dst []byte, src []float32) (finite bool)
	f32Chunks := src.dtype == DTypeF32 || src.dtype == dtypeFunc // chunks are float32 slices
	if opt.Imatrix == nil {
		encode = checkedEncoder(t, opt.Stats == nil && streamTo(unsafe.Pointer(unsafe.SliceData(dst)), need))
		if encode == nil || !f32Chunks {
			step = max(1, sliceElements/tr.BlockSize) * tr.BlockSize
		}
	}
	err := forChunksCaller(n, per, opt, func(lo, hi int, scratch *[]float32) error {
		// chunk[s-base:e-base] is slice [s, e) when the input is float32
		chunk, base := src.f32, 0
		switch src.dtype {
		case DTypeF32:
		case dtypeFunc:
			x, err := src.fillChunk(lo, hi, per, scratch)
			if err != nil {
				return err
			}
			chunk, base = x, lo
		default:
			if len(*scratch) < step {
				*scratch = make([]float32, step)
			}
		}
		for s := lo; s < hi; s += step {
			e := min(s+step, hi)
			var x []float32
			if f32Chunks {
				x = chunk[s-base : e-base]
			} else {
				x = src.floats(s, e, *scratch)
			}
			out := dst[s/tr.BlockSize*tr.BlockBytes : e/tr.BlockSize*tr.BlockBytes]
			if encode != nil {
				if encode(out, x) || !checkFinite {
					if parts != nil {
						parts[lo/per].add(tr, x, out)
					}
					continue
				}
			} else if !checkFinite || firstNonFinite(x) < 0 {
				rowLen := e - s
				if opt.Imatrix != nil {
					rowLen = nPerRow
				}
				if err := encodeOrAbort(tr, out, x, rowLen, opt.Imatrix); err != nil {
					err.Block += s / tr.BlockSize
					return err
				}
				if parts != nil {
					parts[lo/per].add(tr, x, out)
				}
				continue
			}
			// x holds a non-finite value: report the first.
			i := firstNonFinite(x)
			if i < 0 {
				panic("quant: an encoder reported a non-finite value that the scan does not see")
			}
			at := s + i
			return &NonFiniteError{Type: t, Index: at, Row: at / nPerRow, Column: at % nPerRow, Value: x[i]}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for i := range parts {
		opt.Stats.Merge(parts[i])
	}
	return need, nil
}

// Dequantize decodes len(dst) values of type t from src into dst. src must
// hold at least the encoded size of len(dst) values.
func Dequantize(t Type, dst []float32, src []byte, opt Options) error {
	tr, ok := TraitsOf(t)
	if !ok {
		return argErr("type", "unknown ggml type id %d", uint32(t))
	}
	if !tr.CanDequantize() {
		return &UnsupportedError{Type: t, Op: "dequantize"}
	}
	n := len(dst)
	if n == 0 {
		return argErr("shape", "has no elements; expected at least one block of %d", tr.BlockSize)
	}
	if n%tr.BlockSize != 0 {
		return argErr("shape", "%d elements are not a whole number of %s blocks of %d", n, tr.Name, tr.BlockSize)
	}
	need := n / tr.BlockSize * tr.BlockBytes
	if len(src) < need {
		return argErr("data", "holds %d bytes; expected at least %d for %d %s values", len(src), need, n, tr.Name)
	}
	per := max(1, chunkElements/tr.BlockSize) * tr.BlockSize
	dequantize := decoder(t, tr, streamTo(unsafe.Pointer(unsafe.SliceData(dst)), 4*n))
	return forChunks(n, per, opt, func(lo, hi int, _ *[]float32) error {
		dequantize(dst[lo:hi], src[lo/tr.BlockSize*tr.BlockBytes:hi/tr.BlockSize*tr.BlockBytes])
		return nil
	})
}

// forChunks runs work over [0, n) in chunks of per elements on up to
// opt.Threads goroutines; see parallel.Run for the guarantees.
func forChunks(n, per int, opt Options, work func(lo, hi int, scratch *[]float32) error) error {
	return parallel.Run(n, per, opt.parallel(), work)
}

// forChunksCaller is forChunks on parallel.RunCaller: the calling goroutine
// works beside pooled helpers. For Quantize and the bitsandbytes decoders,
// whose calls from C can last a millisecond or less.
func forChunksCaller(n, per int, opt Options, work func(lo, hi int, scratch *[]float32) error) error {
	return parallel.RunCaller(n, per, opt.parallel(), work)
}

// parallel is the part of opt that parallel.Run and RunCaller take.
func (opt Options) parallel() parallel.Options {
	return parallel.Options{Threads: opt.Threads, Cancelled: opt.Cancelled, Progress: opt.Progress}
}
