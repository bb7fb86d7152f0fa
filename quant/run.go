package quant

import "github.com/wick-ml/wick/internal/parallel"

// DType is the element encoding of an input buffer.
type DType int

// Input encodings Quantize accepts.
const (
	DTypeF32  DType = iota // float32
	DTypeF16               // IEEE binary16 bits
	DTypeBF16              // bfloat16 bits
)

// Input is a read-only view of the values to quantize. Make one with
// F32Input, F16Input or BF16Input; the zero Input is empty.
type Input struct {
	dtype DType
	f32   []float32
	u16   []uint16
}

// F32Input views float32 values.
func F32Input(x []float32) Input { return Input{dtype: DTypeF32, f32: x} }

// F16Input views IEEE binary16 values given as their bit patterns.
func F16Input(bits []uint16) Input { return Input{dtype: DTypeF16, u16: bits} }

// BF16Input views bfloat16 values given as their bit patterns.
func BF16Input(bits []uint16) Input { return Input{dtype: DTypeBF16, u16: bits} }

// Len returns the number of values.
func (in Input) Len() int {
	if in.dtype == DTypeF32 {
		return len(in.f32)
	}
	return len(in.u16)
}

// DType returns the element encoding.
func (in Input) DType() DType { return in.dtype }

// floats returns values [lo, hi) as float32: the input itself when it is
// float32, otherwise converted (exactly) into scratch.
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
	default:
		return in.f32[lo:hi]
	}
}

// Float32 writes the values, converted exactly to float32, into dst, which
// must hold Len() values.
func (in Input) Float32(dst []float32) {
	copy(dst, in.floats(0, in.Len(), dst))
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
// importance matrix (whose rows keep their identity). The pieces' error
// statistics are merged in piece order, so a caller that quantizes the same
// pieces itself (convert decodes a quantized source piece by piece) gets
// the same figures.
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
	step := per
	var encode func(dst []byte, src []float32) (finite bool)
	if opt.Imatrix == nil {
		encode = checkedEncoder(t, need >= streamBytes && opt.Stats == nil)
		if encode == nil || src.dtype != DTypeF32 {
			step = max(1, sliceElements/tr.BlockSize) * tr.BlockSize
		}
	}
	err := forChunksCaller(n, per, opt, func(lo, hi int, scratch *[]float32) error {
		if src.dtype != DTypeF32 && len(*scratch) < step {
			*scratch = make([]float32, step)
		}
		for s := lo; s < hi; s += step {
			e := min(s+step, hi)
			x := src.floats(s, e, *scratch)
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
	dequantize := decoder(t, tr, 4*n >= streamBytes)
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
