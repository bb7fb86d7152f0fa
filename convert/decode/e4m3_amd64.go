//go:build amd64 && !noasm

package decode

import "github.com/wick-ml/wick/quant"

// hasAVX2 and hasAVX512 say whether the CPU runs the kernels below (the
// AVX-512 one needs only AVX-512F, but quant's test for its own, larger
// set of subsets is the one place the CPU is asked).
var hasAVX2, hasAVX512 = quant.HasAVX2(), quant.HasAVX512()

// useAVX2 and useAVX512 select the assembly kernels; tests clear them to
// run the others.
var useAVX2, useAVX512 = hasAVX2, hasAVX512

//go:noescape
func e4m3BlocksAVX2(dst *float32, src *byte, n int, scales *float32, cb int, sub *[8]float32)

//go:noescape
func e4m3BlocksAVX512(dst *float32, src *byte, n int, scales *float32, cb int, sub *[16]float32)

// e4m3Sub holds the values of the subnormal e4m3 codes, m · 2^-9 (and
// eight unused entries for the sixteen-lane kernel's table).
var e4m3Sub = [16]float32{0, 1.0 / 512, 2.0 / 512, 3.0 / 512, 4.0 / 512, 5.0 / 512, 6.0 / 512, 7.0 / 512}

// e4m3Blocks writes y[k] = e4m3(src[k]) · scales[k/cb] (cb a multiple of
// 8, len(src) == len(y), len(scales) == ceil(len(y)/cb)), bit for bit as
// e4m3BlocksGeneric does.
func e4m3Blocks(y []float32, src []byte, scales []float32, cb int) {
	n := len(y)
	if !useAVX2 || n < 8 || anyNaN(scales) {
		// a NaN scale times a NaN code: the generic loop decides which
		// NaN comes out
		e4m3BlocksGeneric(y, src, scales, cb)
		return
	}
	src = src[:n]
	_ = scales[(n-1)/cb]
	if useAVX512 && cb%16 == 0 && n >= 16 {
		e4m3BlocksAVX512(&y[0], &src[0], n, &scales[0], cb, &e4m3Sub)
		m := n &^ 15
		if m == n {
			return
		}
		// the rest lies within one block: block edges are multiples of 16
		y, src, scales = y[m:], src[m:], scales[m/cb:]
		n -= m
		if n < 8 {
			e4m3BlocksGeneric(y, src, scales, cb)
			return
		}
	}
	e4m3BlocksAVX2(&y[0], &src[0], n, &scales[0], cb, (*[8]float32)(e4m3Sub[:8]))
	if m := n &^ 7; m < n {
		// within one block: block edges are multiples of 8
		e4m3BlocksGeneric(y[m:], src[m:], scales[m/cb:], cb)
	}
}

func anyNaN(x []float32) bool {
	for _, v := range x {
		if v != v {
			return true
		}
	}
	return false
}
