package main

/*
#include "wick.h"
*/
import "C"

import (
	"unsafe"

	"github.com/wick-ml/wick/quant"
)

// The bitsandbytes block-wise family (quant/blockwise.go, fourbit.go,
// nested.go). dtype codes are those of wick_info_json "src_dtypes"; rules
// 0 follows bitsandbytes' CUDA kernels, 1 its CPU path; quant_type is a
// quant.FourBitType (wick_info_json bnb.quant_types: 0 is nf4, 1 is fp4).

const (
	rulesCUDA = 0
	rulesCPU  = 1
)

// Code tables wick_bnb_table can copy out: the two dynamic maps, then the
// quant_map of each 4-bit type (tableFourBit + its quant.FourBitType).
const (
	tableDynamicSigned   = 0 // 256 entries: bitsandbytes' default 8-bit map
	tableDynamicUnsigned = 1 // 256 entries
	tableFourBit         = 2 // 16 entries each
)

// bnbTable returns table which (nil for an unknown id).
func bnbTable(which int) []float32 {
	switch {
	case which == tableDynamicSigned || which == tableDynamicUnsigned:
		t := quant.DynamicCode(which == tableDynamicSigned)
		return t[:]
	case which >= tableFourBit && which-tableFourBit < len(quant.FourBitTypes()):
		t := quant.FourBitType(which - tableFourBit).QuantMap()
		return t[:]
	}
	return nil
}

// bnbTables names the tables for wick_info_json: {"name": {"id", "size"}}.
func bnbTables() map[string]map[string]int {
	m := map[string]map[string]int{
		"dynamic_signed":   {"id": tableDynamicSigned, "size": len(bnbTable(tableDynamicSigned))},
		"dynamic_unsigned": {"id": tableDynamicUnsigned, "size": len(bnbTable(tableDynamicUnsigned))},
	}
	for _, t := range quant.FourBitTypes() {
		id := tableFourBit + int(t)
		m[t.String()] = map[string]int{"id": id, "size": len(bnbTable(id))}
	}
	return m
}

func bnbOptions(ctl *C.wick_ctl, threads C.int32_t, flags C.uint32_t, total C.size_t) (quant.Options, error) {
	if flags&^knownQuantizeFlags != 0 {
		return quant.Options{}, argError("flags: unknown bits %#x", uint32(flags&^knownQuantizeFlags))
	}
	c := control{ctl}
	c.setTotal(int64(total))
	opt := c.options(C.int(threads))
	opt.AllowNonFinite = flags&flagAllowNonFinite != 0
	return opt, nil
}

// codeTable views a caller's 256-entry table, or nil for NULL (the
// default table).
func codeTable(p *C.wick_cf32, n C.size_t) (*[256]float32, error) {
	if p == nil {
		if n != 0 {
			return nil, argError("code: NULL pointer for %d entries", uint64(n))
		}
		return nil, nil
	}
	if n != 256 {
		return nil, argError("code: has %d entries; expected 256", uint64(n))
	}
	return (*[256]float32)(unsafe.Pointer(p)), nil
}

func checkRules(rules C.int32_t) error {
	if rules != rulesCUDA && rules != rulesCPU {
		return argError("rules: %d is not 0 (cuda) or 1 (cpu)", int32(rules))
	}
	return nil
}

// wick_bnb_quantize_blockwise is bitsandbytes' quantize_blockwise: n values
// of src to n codes and ceil(n/blocksize) absmax. code is NULL (the signed
// dynamic map) or 256 floats.
//
//export wick_bnb_quantize_blockwise
func wick_bnb_quantize_blockwise(srcDType C.int32_t, src *C.wick_cbytes, n C.size_t, code *C.wick_cf32, codeLen C.size_t,
	blocksize C.int32_t, rules C.int32_t, flags C.uint32_t, codes *C.uint8_t, absmax *C.float, nAbsmax C.size_t,
	threads C.int32_t, ctl *C.wick_ctl, errBuf *C.char, errLen C.size_t) C.int {
	return guard(errBuf, errLen, func() error {
		in, err := input("x", srcDType, unsafe.Pointer(src), n)
		if err != nil {
			return err
		}
		q, err := view[uint8]("codes", unsafe.Pointer(codes), n)
		if err != nil {
			return err
		}
		a, err := view[float32]("absmax", unsafe.Pointer(absmax), nAbsmax)
		if err != nil {
			return err
		}
		if err := checkRules(rules); err != nil {
			return err
		}
		opt, err := bnbOptions(ctl, threads, flags, n)
		if err != nil {
			return err
		}
		table, err := codeTable(code, codeLen)
		if err != nil {
			return err
		}
		if rules == rulesCPU {
			return quant.QuantizeBlockwiseCPU(q, a, in, table, int(blocksize), opt)
		}
		return quant.QuantizeBlockwise(q, a, in, table, int(blocksize), opt)
	})
}

// wick_bnb_dequantize_blockwise is bitsandbytes' dequantize_blockwise into
// n values of out_dtype.
//
//export wick_bnb_dequantize_blockwise
func wick_bnb_dequantize_blockwise(codes *C.wick_cbytes, n C.size_t, absmax *C.wick_cf32, nAbsmax C.size_t,
	code *C.wick_cf32, codeLen C.size_t, blocksize C.int32_t, outDType C.int32_t, out *C.uint8_t,
	threads C.int32_t, ctl *C.wick_ctl, errBuf *C.char, errLen C.size_t) C.int {
	return guard(errBuf, errLen, func() error {
		q, err := view[uint8]("codes", unsafe.Pointer(codes), n)
		if err != nil {
			return err
		}
		a, err := view[float32]("absmax", unsafe.Pointer(absmax), nAbsmax)
		if err != nil {
			return err
		}
		dst, err := output("out", outDType, unsafe.Pointer(out), n)
		if err != nil {
			return err
		}
		table, err := codeTable(code, codeLen)
		if err != nil {
			return err
		}
		opt, _ := bnbOptions(ctl, threads, 0, n)
		return quant.DequantizeBlockwise(dst, q, a, table, int(blocksize), opt)
	})
}

// wick_bnb_quantize_4bit is bitsandbytes' quantize_4bit: n values to
// (n+1)/2 packed bytes and ceil(n/blocksize) absmax.
//
//export wick_bnb_quantize_4bit
func wick_bnb_quantize_4bit(srcDType C.int32_t, src *C.wick_cbytes, n C.size_t, quantType C.int32_t,
	blocksize C.int32_t, rules C.int32_t, flags C.uint32_t, packed *C.uint8_t, nPacked C.size_t,
	absmax *C.float, nAbsmax C.size_t, threads C.int32_t, ctl *C.wick_ctl, errBuf *C.char, errLen C.size_t) C.int {
	return guard(errBuf, errLen, func() error {
		in, err := input("x", srcDType, unsafe.Pointer(src), n)
		if err != nil {
			return err
		}
		p, err := view[uint8]("packed", unsafe.Pointer(packed), nPacked)
		if err != nil {
			return err
		}
		a, err := view[float32]("absmax", unsafe.Pointer(absmax), nAbsmax)
		if err != nil {
			return err
		}
		if err := checkRules(rules); err != nil {
			return err
		}
		opt, err := bnbOptions(ctl, threads, flags, n)
		if err != nil {
			return err
		}
		if rules == rulesCPU {
			return quant.Quantize4BitCPU(p, a, in, quant.FourBitType(quantType), int(blocksize), opt)
		}
		return quant.Quantize4Bit(p, a, in, quant.FourBitType(quantType), int(blocksize), opt)
	})
}

// wick_bnb_dequantize_4bit is bitsandbytes' dequantize_4bit into n values
// of out_dtype, with the tables of its CUDA kernels (rules 0) or of its CPU
// path (rules 1: FP4 code 8 is +0.0; see quant.Dequantize4BitCPU).
//
//export wick_bnb_dequantize_4bit
func wick_bnb_dequantize_4bit(packed *C.wick_cbytes, nPacked C.size_t, n C.size_t, absmax *C.wick_cf32, nAbsmax C.size_t,
	quantType C.int32_t, blocksize C.int32_t, rules C.int32_t, outDType C.int32_t, out *C.uint8_t,
	threads C.int32_t, ctl *C.wick_ctl, errBuf *C.char, errLen C.size_t) C.int {
	return guard(errBuf, errLen, func() error {
		if err := checkRules(rules); err != nil {
			return err
		}
		p, err := view[uint8]("packed", unsafe.Pointer(packed), nPacked)
		if err != nil {
			return err
		}
		a, err := view[float32]("absmax", unsafe.Pointer(absmax), nAbsmax)
		if err != nil {
			return err
		}
		dst, err := output("out", outDType, unsafe.Pointer(out), n)
		if err != nil {
			return err
		}
		opt, _ := bnbOptions(ctl, threads, 0, n)
		if rules == rulesCPU {
			return quant.Dequantize4BitCPU(dst, p, a, quant.FourBitType(quantType), int(blocksize), opt)
		}
		return quant.Dequantize4Bit(dst, p, a, quant.FourBitType(quantType), int(blocksize), opt)
	})
}

// wick_bnb_nested_offset writes the double-quantization offset of n absmax
// values (their mean, see quant.NestedOffset) to *offset.
//
//export wick_bnb_nested_offset
func wick_bnb_nested_offset(absmax *C.wick_cf32, n C.size_t, offset *C.float, errBuf *C.char, errLen C.size_t) C.int {
	return guard(errBuf, errLen, func() error {
		a, err := view[float32]("absmax", unsafe.Pointer(absmax), n)
		if err != nil {
			return err
		}
		if offset == nil {
			return argError("offset: NULL pointer")
		}
		*offset = C.float(quant.NestedOffset(a))
		return nil
	})
}

// wick_bnb_quantize_nested double-quantizes n absmax values around offset
// into n codes and ceil(n/nested_blocksize) nested absmax.
//
//export wick_bnb_quantize_nested
func wick_bnb_quantize_nested(absmax *C.wick_cf32, n C.size_t, offset C.float, nestedBlocksize C.int32_t,
	rules C.int32_t, flags C.uint32_t, codes *C.uint8_t, nestedAbsmax *C.float, nNested C.size_t,
	threads C.int32_t, errBuf *C.char, errLen C.size_t) C.int {
	return guard(errBuf, errLen, func() error {
		a, err := view[float32]("absmax", unsafe.Pointer(absmax), n)
		if err != nil {
			return err
		}
		q, err := view[uint8]("codes", unsafe.Pointer(codes), n)
		if err != nil {
			return err
		}
		na, err := view[float32]("nested_absmax", unsafe.Pointer(nestedAbsmax), nNested)
		if err != nil {
			return err
		}
		if err := checkRules(rules); err != nil {
			return err
		}
		opt, err := bnbOptions(nil, threads, flags, n)
		if err != nil {
			return err
		}
		if rules == rulesCPU {
			return quant.QuantizeNestedCPU(q, na, a, float32(offset), int(nestedBlocksize), opt)
		}
		return quant.QuantizeNested(q, na, a, float32(offset), int(nestedBlocksize), opt)
	})
}

// wick_bnb_dequantize_nested rebuilds n absmax values from their codes, the
// nested absmax and the offset. code is NULL (the signed dynamic map) or the
// state's 256-entry nested_quant_map.
//
//export wick_bnb_dequantize_nested
func wick_bnb_dequantize_nested(codes *C.wick_cbytes, n C.size_t, nestedAbsmax *C.wick_cf32, nNested C.size_t,
	offset C.float, code *C.wick_cf32, codeLen C.size_t, nestedBlocksize C.int32_t, absmax *C.float, errBuf *C.char, errLen C.size_t) C.int {
	return guard(errBuf, errLen, func() error {
		q, err := view[uint8]("codes", unsafe.Pointer(codes), n)
		if err != nil {
			return err
		}
		na, err := view[float32]("nested_absmax", unsafe.Pointer(nestedAbsmax), nNested)
		if err != nil {
			return err
		}
		a, err := view[float32]("absmax", unsafe.Pointer(absmax), n)
		if err != nil {
			return err
		}
		table, err := codeTable(code, codeLen)
		if err != nil {
			return err
		}
		return quant.DequantizeNested(a, q, na, float32(offset), table, int(nestedBlocksize))
	})
}

// wick_bnb_table copies a built-in code table (an id of wick_info_json's
// bnb.tables) into out, which holds n floats (its size: 256 or 16).
//
//export wick_bnb_table
func wick_bnb_table(which C.int32_t, out *C.float, n C.size_t, errBuf *C.char, errLen C.size_t) C.int {
	return guard(errBuf, errLen, func() error {
		table := bnbTable(int(which))
		if table == nil {
			return argError("which: %d is not a table id (see wick_info_json bnb.tables)", int32(which))
		}
		dst, err := view[float32]("out", unsafe.Pointer(out), n)
		if err != nil {
			return err
		}
		if len(dst) != len(table) {
			return argError("out: holds %d floats; table %d has %d", len(dst), int32(which), len(table))
		}
		copy(dst, table)
		return nil
	})
}
