//go:build amd64 && !noasm

package quant

// cpuid and xgetbv are in cpu_amd64.s.
func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)
func xgetbv() (eax, edx uint32)

// hasAVX2 reports whether the CPU and the operating system support the
// instructions the assembly kernels use: AVX2 (with the YMM state saved by
// the OS), SSE4.1 and F16C. FMA is deliberately never used.
var hasAVX2 = func() bool {
	maxID, _, _, _ := cpuid(0, 0)
	if maxID < 7 {
		return false
	}
	_, _, ecx1, _ := cpuid(1, 0)
	const (
		sse41   = 1 << 19
		osxsave = 1 << 27
		avx     = 1 << 28
		f16c    = 1 << 29
	)
	if ecx1&(sse41|osxsave|avx|f16c) != sse41|osxsave|avx|f16c {
		return false
	}
	if xcr0, _ := xgetbv(); xcr0&6 != 6 { // XMM and YMM state enabled
		return false
	}
	_, ebx7, _, _ := cpuid(7, 0)
	return ebx7&(1<<5) != 0 // AVX2
}()

// hasAVX512 reports whether the CPU and the operating system support the
// AVX-512 subsets the AVX-512 kernels use: F, BW, DQ, VL and VBMI (VPERMB),
// with the opmask and ZMM state saved by the OS. FMA is never used.
var hasAVX512 = func() bool {
	if !hasAVX2 {
		return false
	}
	if xcr0, _ := xgetbv(); xcr0&0xE6 != 0xE6 { // XMM, YMM, opmask, ZMM0-15 upper halves, ZMM16-31
		return false
	}
	_, ebx7, ecx7, _ := cpuid(7, 0)
	const (
		f    = 1 << 16
		dq   = 1 << 17
		bw   = 1 << 30
		vl   = 1 << 31
		vbmi = 1 << 1 // in ECX
	)
	return ebx7&(f|dq|bw|vl) == f|dq|bw|vl && ecx7&vbmi != 0
}()

// useAVX512 selects the AVX-512 kernels where there are some; tests may
// clear it to exercise the AVX2 kernels on an AVX-512 machine.
var useAVX512 = hasAVX512

// asmInstalled reports whether the assembly kernels replaced the generic
// ones at init.
func asmInstalled() bool { return useAVX2 }

// setAsm switches the assembly kernels on or off (when the CPU has them)
// and returns a function restoring the previous setting. For tests.
func setAsm(on bool) (restore func()) {
	old, old512 := useAVX2, useAVX512
	useAVX2 = on && hasAVX2
	useAVX512 = on && hasAVX512
	return func() { useAVX2, useAVX512 = old, old512 }
}

// setAVX512 switches the AVX-512 kernels alone on or off (when the CPU has
// them), leaving the AVX2 ones, and returns a function restoring the
// previous setting. For tests.
func setAVX512(on bool) (restore func()) {
	old := useAVX512
	useAVX512 = on && hasAVX512 && useAVX2
	return func() { useAVX512 = old }
}

// HasAVX2 reports whether this build's AVX2 kernels can run here (see
// hasAVX2), for other packages' assembly.
func HasAVX2() bool { return hasAVX2 }

// HasAVX512 reports whether this build's AVX-512 kernels can run here (F,
// BW, DQ, VL and VBMI; see hasAVX512), for other packages' assembly.
func HasAVX512() bool { return hasAVX512 }
