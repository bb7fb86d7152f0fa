//go:build !linux

package quant

import "unsafe"

// unfaulted reports whether the n bytes at p look freshly mapped (see
// pages_linux.go). Without mincore it cannot tell and says no, so large
// outputs keep their streaming stores.
func unfaulted(p unsafe.Pointer, n int) bool { return false }
