package quant

// AddDiff accumulates the error of decoded values y against their source x
// (len(y) == len(x)) into s, in the fixed order Quantize's statistics use,
// so the figures do not depend on how a caller cuts its work as long as it
// merges the pieces in order.
func (s *ErrorStats) AddDiff(x, y []float32) {
	y = y[:len(x)]
	var acc [24]float64
	kern.errorLanes(x, y, &acc)
	errorLanesGeneric(x[len(x)&^7:], y[len(x)&^7:], &acc)
	e0, e1, q0, q1, m := reduceErrorLanes(&acc)
	s.Merge(ErrorStats{N: int64(len(x)), SumSqErr: e0 + e1, SumSq: q0 + q1, MaxAbs: m})
}
