package main

/*
#include "wick.h"
*/
import "C"

import (
	"math"
	"unsafe"

	"github.com/wick-ml/wick/quant"
)

// view turns a caller's (pointer, count) into a Go slice of n elements of T
// without copying, after checking that the byte size fits an int and that
// the pointer is not NULL when n > 0. The slice must not outlive the call.
func view[T any](arg string, p unsafe.Pointer, n C.size_t) ([]T, error) {
	var zero T
	size := int(unsafe.Sizeof(zero))
	if uint64(n) > uint64(math.MaxInt/size) {
		return nil, argError("%s: %d elements is more than this platform can address", arg, uint64(n))
	}
	if n == 0 {
		return nil, nil
	}
	if p == nil {
		return nil, argError("%s: NULL pointer for %d elements", arg, uint64(n))
	}
	return unsafe.Slice((*T)(p), int(n)), nil
}

// input views n values of the given source dtype code.
func input(arg string, dtype C.int32_t, p unsafe.Pointer, n C.size_t) (quant.Input, error) {
	switch quant.DType(dtype) {
	case quant.DTypeF32:
		x, err := view[float32](arg, p, n)
		return quant.F32Input(x), err
	case quant.DTypeF16:
		x, err := view[uint16](arg, p, n)
		return quant.F16Input(x), err
	case quant.DTypeBF16:
		x, err := view[uint16](arg, p, n)
		return quant.BF16Input(x), err
	}
	return quant.Input{}, argError("%s: unknown dtype code %d", arg, int32(dtype))
}

// output views n writable values of the given dtype code.
func output(arg string, dtype C.int32_t, p unsafe.Pointer, n C.size_t) (quant.Output, error) {
	switch quant.DType(dtype) {
	case quant.DTypeF32:
		x, err := view[float32](arg, p, n)
		return quant.F32Output(x), err
	case quant.DTypeF16:
		x, err := view[uint16](arg, p, n)
		return quant.F16Output(x), err
	case quant.DTypeBF16:
		x, err := view[uint16](arg, p, n)
		return quant.BF16Output(x), err
	}
	return quant.Output{}, argError("%s: unknown dtype code %d", arg, int32(dtype))
}
