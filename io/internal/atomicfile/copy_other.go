//go:build !linux || !(amd64 || arm64)

package atomicfile

import "os"

// CopyFrom reports false: no in-kernel copy here (see copy_linux.go).
func (a *File) CopyFrom(src *os.File, srcOff, n, off int64) (bool, error) { return false, nil }

// StartWriteback is a no-op here (see copy_linux.go).
func (a *File) StartWriteback(off, n int64) {}
