//go:build linux && (amd64 || arm64)

package atomicfile

import (
	"os"
	"syscall"
	"unsafe"
)

// CopyFrom copies n bytes of src from srcOff to the file at off inside the
// kernel (copy_file_range(2)), without mapping or reading them into memory,
// and reports false (having copied nothing) where the system or the file
// systems cannot; the caller then writes the bytes itself. Like WriteAt it
// may be called from several goroutines at once.
func (a *File) CopyFrom(src *os.File, srcOff, n, off int64) (bool, error) {
	for done := int64(0); done < n; {
		so, do := srcOff+done, off+done
		r, _, e := syscall.Syscall6(sysCopyFileRange, src.Fd(), uintptr(unsafe.Pointer(&so)), a.f.Fd(), uintptr(unsafe.Pointer(&do)),
			uintptr(min(n-done, 1<<30)), 0)
		switch {
		case e == syscall.EINTR:
			continue
		case e != 0 && done == 0 && (e == syscall.ENOSYS || e == syscall.EXDEV || e == syscall.EINVAL || e == syscall.EOPNOTSUPP ||
			e == syscall.EBADF || e == syscall.EPERM):
			return false, nil
		case e != 0:
			return true, &os.PathError{Op: "copy_file_range", Path: a.dst, Err: e}
		case r == 0:
			return true, &os.PathError{Op: "copy_file_range", Path: a.dst, Err: syscall.EIO} // src shorter than announced
		}
		done += int64(r)
	}
	return true, nil
}

// syncFileRangeWrite is SYNC_FILE_RANGE_WRITE.
const syncFileRangeWrite = 2

// StartWriteback starts writing the bytes [off, off+n) to disk without
// waiting (sync_file_range(2) with SYNC_FILE_RANGE_WRITE), so that the sync
// in Commit has less left to wait for. It is only a hint; it may be called
// from several goroutines at once.
func (a *File) StartWriteback(off, n int64) {
	if n > 0 {
		_, _, _ = syscall.Syscall6(syscall.SYS_SYNC_FILE_RANGE, a.f.Fd(), uintptr(off), uintptr(n), syncFileRangeWrite, 0, 0)
	}
}
