//go:build unix

package atomicfile

import "syscall"

// processExists reports whether a process pid exists (kill(pid, 0): EPERM
// means it exists but belongs to someone else); known is false if that
// cannot be told.
func processExists(pid int) (exists, known bool) {
	switch err := syscall.Kill(pid, 0); err {
	case nil, syscall.EPERM:
		return true, true
	case syscall.ESRCH:
		return false, true
	}
	return false, false
}
