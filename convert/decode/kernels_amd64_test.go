//go:build amd64 && !noasm

package decode

// kernelSettings are the kernel choices a test runs under: the assembly
// kernel (when the CPU has AVX2) and the generic one.
func kernelSettings() []func() (restore func()) {
	set := func(on bool) func() (restore func()) {
		return func() func() {
			old := useAVX2
			useAVX2 = on && hasAVX2
			return func() { useAVX2 = old }
		}
	}
	return []func() func(){set(true), set(false)}
}
