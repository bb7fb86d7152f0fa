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
