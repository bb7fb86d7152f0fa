package mmap

import "syscall"

// The mapping starts on a page boundary, so a page-aligned sub-slice has a
// page-aligned address, as madvise requires.
func adviseDontNeed(b []byte) error { return syscall.Madvise(b, syscall.MADV_DONTNEED) }

func adviseWillNeed(b []byte) error { return syscall.Madvise(b, syscall.MADV_WILLNEED) }
