package quant

import "math"

// This file holds LLM.int8's row-wise weight format, the one 8-bit
// transformers checkpoints store (load_in_8bit): bitsandbytes'
// int8_vectorwise_quant with threshold 0, as Int8Params quantizes a weight.
//
//	x      = the weight rounded to float16 (Int8Params quantizes a float16 copy)
//	SCB[r] = max |x| over row r, as float32
//	s      = f32(f32(1 / SCB[r]) · 127)
//	q      = round_half_even(f32(x · s))   as int8
//
// The scale is PyTorch's 127.0 / row_stats, which torch evaluates as
// row_stats.reciprocal() * 127 (two roundings: it differs from the correctly
// rounded quotient in the last bit for some maxima, and a value at half the
// row maximum then rounds to 63 instead of 64). bitsandbytes' CUDA kernel
// computes __fdividef(127, absmax), which the hardware evaluates as 127 times
// its approximate reciprocal: this is the same when that reciprocal is
// correctly rounded, the assumption Wick's 4-bit CUDA rules make too.
// A row of zeros has SCB 0, and 0·Inf is NaN, which both backends turn into
// the code 0.

// QuantizeInt8Rows quantizes src, rows of cols elements, to LLM.int8's
// row-wise format: one int8 code per element into dst and one scale (SCB)
// per row into scb, as bitsandbytes' int8_vectorwise_quant does for the
// float16 copy of the weight that Int8Params quantizes (see the top of
// llmint8.go). Values are rounded to float16 first; one that is not finite
// there (a float32 or bfloat16 value beyond ±65504, or NaN/±Inf in src) is
// an error, because bitsandbytes would silently zero its whole row.
//
// len(dst) must be src.Len(), len(scb) src.Len()/cols. opt.Imatrix must be
// nil. The result is identical for every opt.Threads.
func QuantizeInt8Rows(dst []int8, scb []float32, src Input, cols int, opt Options) error {
	if err := int8RowsArgs(len(dst), len(scb), src.Len(), cols, opt); err != nil || src.Len() == 0 {
		return err
	}
	per := max(1, chunkElements/cols) * cols
	return forChunks(src.Len(), per, opt, func(lo, hi int, scratch *[]float32) error {
		if len(*scratch) < per {
			*scratch = make([]float32, per)
		}
		x := (*scratch)[:hi-lo]
		if err := src.Float32Range(x, lo, hi); err != nil {
			return err
		}
		for r := lo; r < hi; r += cols {
			row := x[r-lo : r-lo+cols]
			if bad := roundRowF16(row); bad >= 0 {
				// row now holds the rounded values: report the input's
				var v [1]float32
				if err := src.Float32Range(v[:], r+bad, r+bad+1); err != nil {
					return err
				}
				return &NonFiniteError{Type: F16, Index: r + bad, Row: r / cols, Column: bad, Value: v[0]}
			}
			scb[r/cols] = encodeInt8Row(dst[r:r+cols], row)
		}
		return nil
	})
}

func int8RowsArgs(ndst, nscb, n, cols int, opt Options) error {
	if err := checkNoImatrix(opt); err != nil {
		return err
	}
	if opt.AllowNonFinite {
		return argErr("allow_non_finite", "is set; LLM.int8 quantization takes finite input only")
	}
	if cols <= 0 || n%cols != 0 {
		return argErr("x", "%d elements do not make whole rows of %d", n, cols)
	}
	if ndst != n {
		return argErr("out", "has %d entries; expected %d, one per element of x", ndst, n)
	}
	if nscb != n/cols {
		return argErr("scb", "has %d entries; expected %d, one per row of x", nscb, n/cols)
	}
	return nil
}

// roundRowF16 rounds x to float16 values in place (nearest, ties to even)
// and returns the index of the first value that is not finite afterwards,
// or -1.
func roundRowF16(x []float32) int {
	for i, v := range x {
		h := F32ToF16(v)
		if h&0x7C00 == 0x7C00 {
			return i
		}
		x[i] = F16ToF32(h)
	}
	return -1
}

// encodeInt8Row writes the codes of one row of finite float16 values and
// returns its scale (max |x|).
func encodeInt8Row(dst []int8, x []float32) float32 {
	var m uint32
	for _, v := range x {
		m = max(m, math.Float32bits(v)&0x7FFFFFFF)
	}
	a := math.Float32frombits(m)
	if a == 0 {
		clear(dst)
		return 0
	}
	s := (1 / a) * 127
	for i, v := range x {
		dst[i] = int8(math.RoundToEven(float64(v * s)))
	}
	return a
}

// quantizeInt8RowsRef is the plain reference of QuantizeInt8Rows for
// float32 input with finite float16 roundings: the PyTorch expressions of
// bitsandbytes' CPU backend, element by element.
func quantizeInt8RowsRef(dst []int8, scb []float32, x []float32, cols int) {
	for r := 0; r*cols < len(x); r++ {
		row := make([]float32, cols)
		var a float32
		for i := range row {
			row[i] = F16ToF32(F32ToF16(x[r*cols+i]))
			a = max(a, abs32(row[i]))
		}
		scb[r] = a
		recip := 1 / a
		scale := recip * 127
		for i, v := range row {
			p := v * scale // NaN for a zero row: the code is then 0
			if p != p {
				dst[r*cols+i] = 0
				continue
			}
			dst[r*cols+i] = int8(math.RoundToEven(float64(p)))
		}
	}
}

// int8Recip is f32(7.874015718698502e-3), the reciprocal of 127 that
// bitsandbytes' int8_vectorwise_dequant multiplies by.
const int8Recip = float32(7.874015718698502e-3)

// DequantizeInt8Rows reverses QuantizeInt8Rows as bitsandbytes'
// int8_vectorwise_dequant does: dst[i] = f32(f32(q[i] · scb[r]) ·
// f32(1/127)) for row r (then rounded to dst's encoding).
func DequantizeInt8Rows(dst Output, q []int8, scb []float32, cols int, opt Options) error {
	n := dst.Len()
	if cols <= 0 || n%cols != 0 {
		return argErr("out", "%d elements do not make whole rows of %d", n, cols)
	}
	if len(q) != n {
		return argErr("codes", "has %d entries; expected %d, one per element of out", len(q), n)
	}
	if len(scb) != n/cols {
		return argErr("scb", "has %d entries; expected %d, one per row of out", len(scb), n/cols)
	}
	if n == 0 {
		return nil
	}
	per := max(1, chunkElements/cols) * cols
	return forChunks(n, per, opt, func(lo, hi int, _ *[]float32) error {
		for i := lo; i < hi; i++ {
			v := float32(float32(q[i])*scb[i/cols]) * int8Recip
			if dst.dtype == DTypeF32 {
				dst.f32[i] = v
			} else {
				dst.u16[i] = dst.toHalf(v)
			}
		}
		return nil
	})
}

// Int8RowScales writes the row scales QuantizeInt8Rows would store for src
// (rows of cols elements) without encoding anything: scb[r] = the float16
// rounding of max |x| over row r (rounding is monotonic, so this is the
// largest rounded value), as float32. Errors are those of
// QuantizeInt8Rows, for the same inputs.
func Int8RowScales(scb []float32, src Input, cols int, opt Options) error {
	n := src.Len()
	if err := int8RowsArgs(n, len(scb), n, cols, opt); err != nil || n == 0 {
		return err
	}
	per := max(1, chunkElements/cols) * cols
	return forChunks(n, per, opt, func(lo, hi int, scratch *[]float32) error {
		x, err := chunkFloats(src, lo, hi, per, scratch)
		if err != nil {
			return err
		}
		for r := lo; r < hi; r += cols {
			row := x[r-lo : r-lo+cols]
			m, v := maxAbsBitsVec(row)
			m = max(m, maxAbsBits(row[v:]))
			h := F32ToF16(math.Float32frombits(m))
			if m >= 0x7F800000 || h&0x7C00 == 0x7C00 {
				bad := roundRowF16(append([]float32(nil), row...))
				return &NonFiniteError{Type: F16, Index: r + bad, Row: r / cols, Column: bad, Value: row[bad]}
			}
			scb[r/cols] = F16ToF32(h)
		}
		return nil
	})
}
