package atomicfile

import "syscall"

// Preallocate reserves size bytes for the file (fallocate(2)), which makes
// the writes that fill it cheaper and keeps it in one piece on disk. It is
// only a hint: file systems without fallocate are left as they are.
func (a *File) Preallocate(size int64) {
	if size > 0 {
		_ = syscall.Fallocate(int(a.f.Fd()), 0, 0, size)
	}
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
