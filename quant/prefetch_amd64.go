//go:build amd64 && !noasm

package quant

// prefetch1K hints the CPU to bring the 1 KiB at addr (sixteen cache lines)
// into L1. It reads nothing observable and never faults, so addr may lie
// past the end of a slice or even be unmapped; it is a uintptr so that the
// garbage collector and checkptr never see it as a pointer.
//
//go:noescape
func prefetch1K(addr uintptr)
