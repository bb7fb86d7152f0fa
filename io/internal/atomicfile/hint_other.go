//go:build !linux

package atomicfile

// Preallocate is a no-op off Linux (see hint_linux.go).
func (a *File) Preallocate(size int64) {}
