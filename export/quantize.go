package main

/*
#include "wick.h"
*/
import "C"

import (
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
		in, err := input("x", srcDType, unsafe.Pointer(src), n)
		if err != nil {
			return err
		}
		if nPerRow == 0 || uint64(nPerRow) > uint64(n) {
			return argError("x: row length %d must be between 1 and the element count %d", uint64(nPerRow), uint64(n))
		}
		out, err := view[byte]("out", unsafe.Pointer(dst), dstLen)
		if err != nil {
			return err
		}
		c := control{ctl}
		opt := c.options(C.int(threads))
		opt.AllowNonFinite = flags&flagAllowNonFinite != 0
		if imatrix != nil {
			if imatrixLen != nPerRow {
				return argError("imatrix: has %d entries; expected one per column, %d", uint64(imatrixLen), uint64(nPerRow))
			}
			if opt.Imatrix, err = view[float32]("imatrix", unsafe.Pointer(imatrix), imatrixLen); err != nil {
				return err
			}
		} else if imatrixLen != 0 {
			return argError("imatrix: NULL pointer for %d entries", uint64(imatrixLen))
		}
		c.setTotal(int64(n))
		_, err = quant.Quantize(quant.Type(typ), out, in, int(nPerRow), opt)
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
		out, err := view[float32]("out", unsafe.Pointer(dst), n)
		if err != nil {
			return err
		}
		data, err := view[byte]("data", unsafe.Pointer(src), srcLen)
		if err != nil {
			return err
		}
		c := control{ctl}
		c.setTotal(int64(n))
		return quant.Dequantize(quant.Type(typ), out, data, c.options(C.int(threads)))
	})
}
