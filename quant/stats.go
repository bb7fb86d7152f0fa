package quant

import (
	"math"
	"sync"
)

// ErrorStats summarises the error of quantized values against their
// source: Quantize fills it when Options.Stats is set. Sums are float64,
// accumulated in a fixed order, so the figures are reproducible.
type ErrorStats struct {
	N        int64   // values compared
	SumSqErr float64 // Σ (decoded − x)²
	SumSq    float64 // Σ x²
	MaxAbs   float64 // max |decoded − x|
}

// Merge adds o into s.
func (s *ErrorStats) Merge(o ErrorStats) {
	s.N += o.N
	s.SumSqErr += o.SumSqErr
	s.SumSq += o.SumSq
	s.MaxAbs = max(s.MaxAbs, o.MaxAbs)
}

// RMSE is the root mean square error (0 for no values).
func (s ErrorStats) RMSE() float64 {
	if s.N == 0 {
		return 0
	}
	return math.Sqrt(s.SumSqErr / float64(s.N))
}

// SNR is the signal-to-noise ratio in decibels, 10·log10(Σx² / Σerr²):
// +Inf for an exact encoding, NaN when there is neither signal nor error.
func (s ErrorStats) SNR() float64 {
	if s.SumSqErr == 0 {
		if s.SumSq == 0 {
			return math.NaN()
		}
		return math.Inf(1)
	}
	return 10 * math.Log10(s.SumSq/s.SumSqErr)
}

// errorLanesGeneric accumulates every element of x (element i in lane i%8,
// in order) into acc; kernelSet.errorLanes does the same for the first
// len(x)&^7 elements, and the caller finishes the tail (whose elements fall
// in lanes 0… again) with this function.
func errorLanesGeneric(x, y []float32, acc *[24]float64) {
	for i := range x {
		l := i % 8
		a := float64(x[i])
		d := float64(y[i]) - a
		acc[l] += float64(d * d) // float64(): no fused multiply-add (see TestNoFusedMultiplyAdd)
		acc[8+l] += float64(a * a)
		if d = math.Abs(d); d > acc[16+l] {
			acc[16+l] = d
		}
	}
}

// reduceErrorLanes adds the lanes in a fixed order: Σerr² as two halves,
// Σx² as two halves, and the largest |error|.
func reduceErrorLanes(acc *[24]float64) (e0, e1, q0, q1, m float64) {
	e0 = (acc[0] + acc[1]) + (acc[2] + acc[3])
	e1 = (acc[4] + acc[5]) + (acc[6] + acc[7])
	q0 = (acc[8] + acc[9]) + (acc[10] + acc[11])
	q1 = (acc[12] + acc[13]) + (acc[14] + acc[15])
	for _, v := range acc[16:] {
		if v > m {
			m = v
		}
	}
	return
}

// decodeBuffers recycles the buffers the error statistics decode into.
var decodeBuffers = sync.Pool{New: func() any { return new([]float32) }}

// add decodes out (the encoding of x as tr) and accumulates the error.
func (s *ErrorStats) add(tr Traits, x []float32, out []byte) {
	bp := decodeBuffers.Get().(*[]float32)
	if cap(*bp) < len(x) {
		*bp = make([]float32, len(x))
	}
	y := (*bp)[:len(x)]
	tr.dequantize(y, out)
	var acc [24]float64
	kern.errorLanes(x, y, &acc)
	errorLanesGeneric(x[len(x)&^7:], y[len(x)&^7:], &acc) // the tail
	e0, e1, q0, q1, m := reduceErrorLanes(&acc)
	decodeBuffers.Put(bp)
	s.Merge(ErrorStats{N: int64(len(x)), SumSqErr: e0 + e1, SumSq: q0 + q1, MaxAbs: m})
}
