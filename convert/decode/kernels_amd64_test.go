//go:build amd64 && !noasm

package decode

// kernelSettings are the kernel choices a test runs under: the AVX-512 and
// AVX2 kernels (where the CPU has them), AVX2 alone, and the generic one.
func kernelSettings() []func() (restore func()) {
	set := func(avx2, avx512 bool) func() (restore func()) {
		return func() func() {
			old2, old512 := useAVX2, useAVX512
			useAVX2, useAVX512 = avx2 && hasAVX2, avx512 && hasAVX512
			return func() { useAVX2, useAVX512 = old2, old512 }
		}
	}
	return []func() func(){set(true, true), set(true, false), set(false, false)}
}
