//go:build !amd64 || noasm

package decode

// kernelSettings are the kernel choices a test runs under: only the generic
// one here.
func kernelSettings() []func() (restore func()) {
	return []func() func(){func() func() { return func() {} }}
}
