//go:build !amd64 || noasm

package quant

// asmInstalled reports whether the assembly kernels replaced the generic
// ones at init: never in this build.
func asmInstalled() bool { return false }
