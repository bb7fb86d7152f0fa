package quant

import "unsafe"

// This file names the slice kernels the type table and the driver call, and
// holds the one choice between their implementations.
//
// Every kernel exists as plain Go (the "generic" twins, in float.go and
// q8_0.go, compiled on every platform so that tests can compare them with
// the assembly) and, on amd64, as AVX2 + F16C assembly (kernels_amd64.go /
// kernels_amd64.s). selectKernels, defined once per build in
// kernels_amd64.go or kernels_generic.go, picks the set at start-up from the
// CPU's features; the noasm build tag forces the generic set. The generic
// twins are themselves tested against the plain reference functions
// (f32ToF16Ref, quantizeQ8_0Ref), which stay the oracles.

// kernelSet is one implementation of every slice kernel. Contracts (the
// callers check them; kernels may panic or misbehave when they are broken):
//
//   - encode*: len(dst) ≥ size × len(src); decode*: len(src) ≥ size × len(dst),
//     where size is 4 (F32) or 2 (F16, BF16); byte buffers are little-endian.
//   - widen*: len(dst) ≥ len(src); src holds native uint16 bit patterns.
//   - quantizeQ8_0: len(src) a multiple of 32, len(dst) ≥ 34 per block;
//     dequantizeQ8_0: len(dst) a multiple of 32, len(src) ≥ 34 per block.
//   - The encoders (encode*, quantizeQ8_0) take any input and report
//     whether every value was finite (see infBits), so that Quantize need
//     not scan first. The bytes they write for non-finite input are IEEE's
//     for the float types, and meaningless for Q8_0 (Quantize rejects it).
//
// All of them are bit-exact with ggml (spec ggml-quants.md §1, §3.1), which
// the differential tests check set against set.
type kernelSet struct {
	name string // "avx2" or "generic", for test and benchmark names

	encodeF32  func(dst []byte, src []float32) (finite bool)
	decodeF32  func(dst []float32, src []byte)
	encodeF16  func(dst []byte, src []float32) (finite bool)
	decodeF16  func(dst []float32, src []byte)
	encodeBF16 func(dst []byte, src []float32) (finite bool)
	decodeBF16 func(dst []float32, src []byte)
	widenF16   func(dst []float32, src []uint16)
	widenBF16  func(dst []float32, src []uint16)

	quantizeQ8_0   func(dst []byte, src []float32) (finite bool)
	dequantizeQ8_0 func(dst []float32, src []byte)

	// firstNonFinite returns the index of the first NaN or ±Inf in x, or -1.
	firstNonFinite func(x []float32) int

	// errorLanes accumulates the error of y against x (len(y) ≥ len(x)) over
	// the first len(x) &^ 7 elements, in 8 lanes (element i goes to lane
	// i % 8, in order) of float64: acc[0:8] Σ(y−x)², acc[8:16] Σx²,
	// acc[16:24] max|y−x| (as MAXPD: a NaN difference leaves the lane as it
	// was; the NaN shows in the sum). See ErrorStats.
	errorLanes func(x, y []float32, acc *[24]float64)

	// Streaming variants (nil when a set has none): the same results,
	// written with non-temporal stores that bypass the cache, for outputs
	// too large to be read back from it (see streamBytes).
	encodeF32NT, encodeF16NT, encodeBF16NT                   func(dst []byte, src []float32) (finite bool)
	decodeF32NT, decodeF16NT, decodeBF16NT, dequantizeQ8_0NT func(dst []float32, src []byte)
}

// genericKernels is the portable Go implementation of every kernel.
var genericKernels = kernelSet{
	name:           "generic",
	encodeF32:      encodeF32Generic,
	decodeF32:      decodeF32Generic,
	encodeF16:      encodeF16Generic,
	decodeF16:      decodeF16Generic,
	encodeBF16:     encodeBF16Generic,
	decodeBF16:     decodeBF16Generic,
	widenF16:       widenF16Generic,
	widenBF16:      widenBF16Generic,
	quantizeQ8_0:   quantizeQ8_0Generic,
	dequantizeQ8_0: dequantizeQ8_0Generic,
	firstNonFinite: firstNonFiniteGeneric,
	errorLanes:     func(x, y []float32, acc *[24]float64) { errorLanesGeneric(x[:len(x)&^7], y, acc) },
}

// kern is the kernel set in use, chosen once at start-up.
var kern = selectKernels()

// kernelSets returns every kernel set this build and CPU can run, the one in
// use first. Tests and benchmarks compare them.
func kernelSets() []kernelSet {
	sets := []kernelSet{kern}
	if kern.name != genericKernels.name {
		sets = append(sets, genericKernels)
	}
	return sets
}

// The table's element-wise "quantizers": rows and the importance matrix do
// not matter to them. (Quantize calls the kernels through checkedEncoder.)

func quantizeF32(dst []byte, src []float32, _ int, _ []float32)  { kern.encodeF32(dst, src) }
func quantizeF16(dst []byte, src []float32, _ int, _ []float32)  { kern.encodeF16(dst, src) }
func quantizeBF16(dst []byte, src []float32, _ int, _ []float32) { kern.encodeBF16(dst, src) }
func dequantizeF32(dst []float32, src []byte)                    { kern.decodeF32(dst, src) }
func dequantizeF16(dst []float32, src []byte)                    { kern.decodeF16(dst, src) }
func dequantizeBF16(dst []float32, src []byte)                   { kern.decodeBF16(dst, src) }

// quantizeQ8_0 encodes Q8_0 blocks (Q8_0 ignores the importance matrix, as
// ggml does).
func quantizeQ8_0(dst []byte, src []float32, _ int, _ []float32) { kern.quantizeQ8_0(dst, src) }
func dequantizeQ8_0(dst []float32, src []byte)                   { kern.dequantizeQ8_0(dst, src) }

// firstNonFinite returns the index of the first NaN or ±Inf in x, or -1.
func firstNonFinite(x []float32) int { return kern.firstNonFinite(x) }

// streamBytes is the output size from which Quantize and Dequantize use the
// streaming kernels: larger than the caches a core can count on, so the
// output would only evict the input (the same threshold as Go's memmove).
const streamBytes = 1 << 20

// streamTo reports whether a kernel writing the n bytes at p should use
// non-temporal stores: when they are streamBytes or more and already
// mapped. Such an output is usually not in cache (a buffer that the
// allocator hands back), and plain stores would read each line before
// writing it; streaming stores write whole lines without reading them.
// Memory that is not mapped yet (unfaulted) is the opposite case: the
// kernel zeroes each page at its first store, so its lines are in cache
// and plain stores are the fast ones. The choice never changes a byte of
// the output, only its speed.
func streamTo(p unsafe.Pointer, n int) bool {
	return n >= streamBytes && !unfaulted(p, n)
}

// checkedEncoder returns the kernel that encodes type t and reports whether
// every value was finite (the streaming one if stream and the set has it),
// or nil when t has none: Quantize then scans and calls the table's kernel.
func checkedEncoder(t Type, stream bool) func(dst []byte, src []float32) (finite bool) {
	var f, nt func(dst []byte, src []float32) bool
	switch t {
	case F32:
		f, nt = kern.encodeF32, kern.encodeF32NT
	case F16:
		f, nt = kern.encodeF16, kern.encodeF16NT
	case BF16:
		f, nt = kern.encodeBF16, kern.encodeBF16NT
	case Q8_0:
		f = kern.quantizeQ8_0
	case Q4_0, Q4_1:
		f = legacyCheckedEncoder(t)
	case TQ1_0:
		f = quantizeTQ1_0Checked
	case TQ2_0:
		f = quantizeTQ2_0Checked
	case Q1_0:
		f = quantizeQ1_0Checked
	case Q2_0:
		f = quantizeQ2_0Checked
	case MXFP4:
		f = quantizeMXFP4Checked
	}
	if f == nil {
		return nil
	}
	if stream && nt != nil {
		return nt
	}
	return f
}

// decoder returns the kernel that decodes type t: the table's, or its
// streaming variant when stream and the set has one.
func decoder(t Type, tr Traits, stream bool) func(dst []float32, src []byte) {
	if stream {
		var nt func(dst []float32, src []byte)
		switch t {
		case F32:
			nt = kern.decodeF32NT
		case F16:
			nt = kern.decodeF16NT
		case BF16:
			nt = kern.decodeBF16NT
		case Q8_0:
			nt = kern.dequantizeQ8_0NT
		}
		if nt != nil {
			return nt
		}
	}
	return tr.dequantize
}
