package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"strconv"
	"syscall"
	"unsafe"
)

// Linux constants the syscall package does not export on every
// architecture. O_TMPFILE is __O_TMPFILE (020000000 on every architecture Go
// supports) together with O_DIRECTORY, whose value varies.
const (
	oTmpfile        = 0o20000000 | syscall.O_DIRECTORY
	atFDCWD         = -0x64
	atSymlinkFollow = 0x400
)

// openUnnamed opens an unnamed temporary file in dir (O_TMPFILE), or
// returns errUnsupported if the kernel or the file system has none, or if
// /proc/self/fd, through which linkUnnamed names it, is not there.
func openUnnamed(dir, dst string) (*os.File, error) {
	fd, err := syscall.Open(dir, oTmpfile|syscall.O_RDWR|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		switch err {
		case syscall.EOPNOTSUPP, syscall.EISDIR, syscall.EINVAL, syscall.ENOSYS:
			// EISDIR, EINVAL: kernels before 3.11 (O_TMPFILE unknown);
			// EOPNOTSUPP: a file system without it (NFS, FUSE, ...).
			return nil, errUnsupported
		}
		return nil, &fs.PathError{Op: "create", Path: dst, Err: err}
	}
	f := os.NewFile(uintptr(fd), dst)
	if _, err := os.Stat(procPath(fd)); err != nil {
		f.Close()
		return nil, errUnsupported
	}
	return f, nil
}

func procPath(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

// linkUnnamed gives the unnamed file f the name path; an error matching
// fs.ErrExist if path exists. It links /proc/self/fd/N with
// AT_SYMLINK_FOLLOW, which, unlike linkat(fd, "", ..., AT_EMPTY_PATH),
// needs no CAP_DAC_READ_SEARCH.
func linkUnnamed(f *os.File, path string) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var lerr error
	cerr := rc.Control(func(fd uintptr) {
		lerr = linkat(atFDCWD, procPath(int(fd)), atFDCWD, path, atSymlinkFollow)
	})
	if cerr != nil {
		return cerr
	}
	if lerr != nil {
		if errors.Is(lerr, syscall.EEXIST) {
			return &fs.PathError{Op: "link", Path: path, Err: fs.ErrExist}
		}
		return &fs.PathError{Op: "link", Path: path, Err: lerr}
	}
	return nil
}

func linkat(olddirfd int, oldpath string, newdirfd int, newpath string, flags int) error {
	o, err := syscall.BytePtrFromString(oldpath)
	if err != nil {
		return err
	}
	n, err := syscall.BytePtrFromString(newpath)
	if err != nil {
		return err
	}
	_, _, e := syscall.Syscall6(syscall.SYS_LINKAT, uintptr(olddirfd), uintptr(unsafe.Pointer(o)),
		uintptr(newdirfd), uintptr(unsafe.Pointer(n)), uintptr(flags), 0)
	if e != 0 {
		return e
	}
	return nil
}
