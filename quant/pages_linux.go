//go:build linux

package quant

import (
	"os"
	"syscall"
	"unsafe"
)

var pageSize = uintptr(os.Getpagesize())

// unfaulted reports whether the n bytes at p look freshly mapped: no whole
// page of them but the first is resident yet, as for a large array that
// malloc has just taken from a new mmap (it keeps its chunk header in the
// first page, so that one may be). A range that mincore cannot tell about
// counts as resident: the answer is false when in doubt.
//
// Writing such memory faults each page in, and the kernel zeroes it just
// before the writer's first store, so its lines are in cache: plain
// stores then run at cache speed, while non-temporal stores evict the
// zeroed lines and write each line to memory a second time (NF4 →
// float32, 32 MiB: 7.5 ms with streaming stores, 3 ms with plain ones;
// bench/README.md).
func unfaulted(p unsafe.Pointer, n int) bool {
	if n <= 0 {
		return false
	}
	start, end := uintptr(p), uintptr(p)+uintptr(n)
	from := (start+pageSize-1)&^(pageSize-1) + pageSize // the second whole page
	to := end &^ (pageSize - 1)                         // after the last whole page
	if to <= from {
		return false // fewer than two whole pages
	}
	var vec [4096]byte // one byte per page: 16 MiB of 4 KiB pages per call
	for at := from; at < to; {
		pages := min((to-at)/pageSize, uintptr(len(vec)))
		_, _, e := syscall.Syscall(syscall.SYS_MINCORE, at, pages*pageSize, uintptr(unsafe.Pointer(&vec[0])))
		if e != 0 {
			return false
		}
		for _, v := range vec[:pages] {
			if v&1 != 0 {
				return false
			}
		}
		at += pages * pageSize
	}
	return true
}
