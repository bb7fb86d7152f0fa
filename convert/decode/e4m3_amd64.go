//go:build amd64 && !noasm

package decode

// cpuid and xgetbv are in cpu_amd64.s.
func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)
func xgetbv() (eax, edx uint32)

// hasAVX2 reports whether the CPU and the operating system support AVX2
// (with the YMM state saved by the OS).
var hasAVX2 = func() bool {
	maxID, _, _, _ := cpuid(0, 0)
	if maxID < 7 {
		return false
	}
	_, _, ecx1, _ := cpuid(1, 0)
	const (
		osxsave = 1 << 27
		avx     = 1 << 28
	)
	if ecx1&(osxsave|avx) != osxsave|avx {
		return false
	}
	if xcr0, _ := xgetbv(); xcr0&6 != 6 { // XMM and YMM state enabled
		return false
	}
	_, ebx7, _, _ := cpuid(7, 0)
	return ebx7&(1<<5) != 0
}()

// hasAVX512 reports whether the CPU and the operating system support
// AVX-512F (with the opmask and ZMM state saved by the OS).
var hasAVX512 = func() bool {
	if !hasAVX2 {
		return false
	}
	if xcr0, _ := xgetbv(); xcr0&0xE6 != 0xE6 {
		return false
	}
	_, ebx7, _, _ := cpuid(7, 0)
	return ebx7&(1<<16) != 0
}()

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
