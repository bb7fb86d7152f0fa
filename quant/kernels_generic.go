//go:build !amd64 || noasm

package quant

// selectKernels: without assembly (another architecture, or the noasm build
// tag) the generic Go kernels are the only ones.
func selectKernels() kernelSet { return genericKernels }
