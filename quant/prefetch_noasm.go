//go:build !amd64 || noasm

package quant

// prefetch1K is a no-op without assembly (see prefetch_amd64.go).
func prefetch1K(addr uintptr) {}
