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

// asmInstalled reports whether the assembly kernels replaced the generic
// ones at init.
func asmInstalled() bool { return useAVX2 }

// setAsm switches the assembly kernels on or off (when the CPU has them)
// and returns a function restoring the previous setting. For tests.
func setAsm(on bool) (restore func()) {
	old := useAVX2
	useAVX2 = on && hasAVX2
	return func() { useAVX2 = old }
}
