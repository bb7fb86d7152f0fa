//go:build !amd64 || noasm

package quant

// HasAVX2 reports whether this build's AVX2 kernels can run here: never in
// a build without the amd64 assembly.
func HasAVX2() bool { return false }

// HasAVX512 reports whether this build's AVX-512 kernels can run here:
// never in a build without the amd64 assembly.
func HasAVX512() bool { return false }
