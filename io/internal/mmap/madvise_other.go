//go:build !linux

package mmap

// Without madvise in package syscall, Release and Prefetch do nothing.

func adviseDontNeed([]byte) error { return nil }

func adviseWillNeed([]byte) error { return nil }
