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

// Source element encodings of wick_quantize (the values of quant.DType).
var srcDTypeNames = map[string]int{
	"float32":  int(quant.DTypeF32),
	"float16":  int(quant.DTypeF16),
	"bfloat16": int(quant.DTypeBF16),
}

// Flags of wick_quantize.
const (
	flagAllowNonFinite = 1 << 0 // let NaN/Inf through to F32/F16/BF16
	knownQuantizeFlags = flagAllowNonFinite
)

// elemCount converts a C count to int, refusing sizes whose byte length
// (count × elemSize) would not fit in an int.
func elemCount(arg string, n C.size_t, elemSize int) (int, error) {
	if uint64(n) > uint64(math.MaxInt/elemSize) {
		return 0, argError("%s: %d elements is more than this platform can address", arg, uint64(n))
	}
	return int(n), nil
}

// wick_quantize encodes n source values (rows of n_per_row) as ggml type
// `type` into dst. src_dtype says how src is encoded (see wick_info_json
// "src_dtypes"). imatrix is NULL or holds n_per_row weights. dst_len must be
// at least the encoded size. threads ≤ 0 uses every available core.
//
//export wick_quantize
func wick_quantize(typ C.int32_t, srcDType C.int32_t, src *C.wick_cbytes, n C.size_t, nPerRow C.size_t,
	imatrix *C.wick_cf32, imatrixLen C.size_t, flags C.uint32_t,
	dst *C.uint8_t, dstLen C.size_t, threads C.int32_t, ctl *C.wick_ctl,
	errBuf *C.char, errLen C.size_t) C.int {
	return guard(errBuf, errLen, func() error {
		if flags&^knownQuantizeFlags != 0 {
			return argError("flags: unknown bits %#x", uint32(flags&^knownQuantizeFlags))
		}
		elemSize := 4
		if quant.DType(srcDType) != quant.DTypeF32 {
			elemSize = 2
		}
		count, err := elemCount("x", n, elemSize)
		if err != nil {
			return err
		}
		if count > 0 && src == nil {
			return argError("x: NULL pointer for %d elements", count)
		}
		if nPerRow == 0 || uint64(nPerRow) > uint64(count) {
			return argError("x: row length %d must be between 1 and the element count %d", uint64(nPerRow), count)
		}
		if dstLen > 0 && dst == nil {
			return argError("out: NULL pointer for %d bytes", uint64(dstLen))
		}
		var in quant.Input
		switch quant.DType(srcDType) {
		case quant.DTypeF32:
			in = quant.F32Input(unsafe.Slice((*float32)(unsafe.Pointer(src)), count))
		case quant.DTypeF16:
			in = quant.F16Input(unsafe.Slice((*uint16)(unsafe.Pointer(src)), count))
		case quant.DTypeBF16:
			in = quant.BF16Input(unsafe.Slice((*uint16)(unsafe.Pointer(src)), count))
		default:
			return argError("x: unknown source dtype code %d", int32(srcDType))
		}
		c := control{ctl}
		opt := c.options(C.int(threads))
		opt.AllowNonFinite = flags&flagAllowNonFinite != 0
		if imatrix != nil {
			if imatrixLen != nPerRow {
				return argError("imatrix: has %d entries; expected one per column, %d", uint64(imatrixLen), uint64(nPerRow))
			}
			opt.Imatrix = unsafe.Slice((*float32)(unsafe.Pointer(imatrix)), int(imatrixLen))
		} else if imatrixLen != 0 {
			return argError("imatrix: NULL pointer for %d entries", uint64(imatrixLen))
		}
		out, err := elemCount("out", dstLen, 1)
		if err != nil {
			return err
		}
		c.setTotal(int64(count))
		_, err = quant.Quantize(quant.Type(typ), unsafe.Slice((*byte)(unsafe.Pointer(dst)), out), in, int(nPerRow), opt)
		return err
	})
}

// wick_dequantize decodes n values of ggml type `type` from src (src_len
// bytes, at least the encoded size of n values) into the float32 array dst.
//
//export wick_dequantize
func wick_dequantize(typ C.int32_t, src *C.wick_cbytes, srcLen C.size_t, dst *C.float, n C.size_t,
	threads C.int32_t, ctl *C.wick_ctl, errBuf *C.char, errLen C.size_t) C.int {
	return guard(errBuf, errLen, func() error {
		count, err := elemCount("out", n, 4)
		if err != nil {
			return err
		}
		if count > 0 && dst == nil {
			return argError("out: NULL pointer for %d elements", count)
		}
		nsrc, err := elemCount("data", srcLen, 1)
		if err != nil {
			return err
		}
		if nsrc > 0 && src == nil {
			return argError("data: NULL pointer for %d bytes", nsrc)
		}
		c := control{ctl}
		c.setTotal(int64(count))
		return quant.Dequantize(quant.Type(typ),
			unsafe.Slice((*float32)(unsafe.Pointer(dst)), count),
			unsafe.Slice((*byte)(unsafe.Pointer(src)), nsrc),
			c.options(C.int(threads)))
	})
}
