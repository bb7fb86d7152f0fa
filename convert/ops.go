package convert

import (
	"fmt"
	"math"

	"github.com/wick-ml/wick/quant"
)

// The element-wise operations a plan may apply to a tensor's values after
// they are read (and gathered through its parts), in list order, on float32
// values. They reproduce what llama.cpp's converter does with torch to some
// tensors (Gemma's norm weights + 1, -exp(A_log) of linear-attention layers,
// rounding through a half-precision intermediate), operation by operation:
// each result is rounded to float32, and an adapter that must mimic torch
// arithmetic on float16 tensors follows an operation with {"op": "round",
// "dtype": "F16"}. python/wick/convert/plan.py's apply_ops is the numpy twin
// (tests/test_convert_ops.py compares the two).
//
//	add   x + float32(value)
//	mul   x * float32(value)
//	neg   -x
//	exp   float32(exp(float64(x))): e^x correctly rounded except in rare
//	      near-ties (torch's vectorised expf is within 1 ulp, so a value may
//	      differ from the converter's by 1 ulp; the adapters using it say so)
//	round x rounded to dtype ("F16" or "BF16", round-to-nearest-even,
//	      overflow to ±Inf, NaN kept) and widened back
var opTable = map[string]struct {
	needsValue, needsDType bool
	apply                  func(x []float32, op Op)
}{
	"add": {needsValue: true, apply: func(x []float32, op Op) {
		c := float32(op.Value)
		for i := range x {
			x[i] += c
		}
	}},
	"mul": {needsValue: true, apply: func(x []float32, op Op) {
		c := float32(op.Value)
		for i := range x {
			x[i] *= c
		}
	}},
	"neg": {apply: func(x []float32, _ Op) {
		for i := range x {
			x[i] = -x[i]
		}
	}},
	"exp": {apply: func(x []float32, _ Op) {
		for i := range x {
			x[i] = float32(math.Exp(float64(x[i])))
		}
	}},
	"round": {needsDType: true, apply: func(x []float32, op Op) {
		if op.DType == "F16" {
			for i := range x {
				x[i] = quant.F16ToF32(quant.F32ToF16(x[i]))
			}
			return
		}
		for i := range x {
			x[i] = quant.BF16ToF32(quant.F32ToBF16(x[i]))
		}
	}},
}

func checkOp(op Op) error {
	o, ok := opTable[op.Op]
	if !ok {
		return fmt.Errorf("unknown operation %q", op.Op)
	}
	if o.needsValue && (math.IsNaN(op.Value) || math.IsInf(op.Value, 0)) {
		return fmt.Errorf("operation %q needs a finite value, got %v", op.Op, op.Value)
	}
	if o.needsDType && op.DType != "F16" && op.DType != "BF16" {
		return fmt.Errorf("operation %q needs dtype F16 or BF16, got %q", op.Op, op.DType)
	}
	return nil
}

// applyOps applies ops to x in place.
func applyOps(x []float32, ops []Op) {
	for _, op := range ops {
		opTable[op.Op].apply(x, op)
	}
}
