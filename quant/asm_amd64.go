//go:build !noasm

package quant

// asmInstalled reports whether the assembly kernels replaced the generic
// ones at init.
func asmInstalled() bool { return useAVX2 }
