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
	var e0, e1, q0, q1, m float64
	i := 0
	for ; i+1 < len(x); i += 2 {
		a, b := float64(x[i]), float64(x[i+1])
		da, db := float64(y[i])-a, float64(y[i+1])-b
		e0 += float64(da * da) // float64(): no fused multiply-add (see TestNoFusedMultiplyAdd)
		e1 += float64(db * db)
		q0 += float64(a * a)
		q1 += float64(b * b)
		m = max(m, math.Abs(da), math.Abs(db))
	}
	for ; i < len(x); i++ {
		a := float64(x[i])
		d := float64(y[i]) - a
		e0 += float64(d * d)
		q0 += float64(a * a)
		m = max(m, math.Abs(d))
	}
	decodeBuffers.Put(bp)
	s.Merge(ErrorStats{N: int64(len(x)), SumSqErr: e0 + e1, SumSq: q0 + q1, MaxAbs: m})
}
