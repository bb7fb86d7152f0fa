// Package atomicfile writes a file so that it appears at its destination
// complete or not at all: data goes to a temporary file in the same
// directory, which Commit syncs and renames into place and Abort removes.
package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// File is a destination being written. It is not safe for concurrent use.
type File struct {
	f         *os.File
	dst       string
	overwrite bool
	done      bool
}

// Create starts writing dst. The data goes to a new temporary file
// ".<base>.<random>.tmp" beside dst. Unless overwrite is set, Create fails
// with an error matching fs.ErrExist if dst exists, and Commit fails the
// same way if dst appeared in the meantime.
func Create(dst string, overwrite bool) (*File, error) {
	if st, err := os.Lstat(dst); err == nil {
		if !overwrite {
			return nil, &fs.PathError{Op: "create", Path: dst, Err: fs.ErrExist}
		}
		if st.IsDir() {
			return nil, &fs.PathError{Op: "create", Path: dst, Err: errors.New("is a directory")}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	f, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".*.tmp")
	if err != nil {
		return nil, err
	}
	return &File{f: f, dst: dst, overwrite: overwrite}, nil
}

// Name returns the path of the temporary file.
func (a *File) Name() string { return a.f.Name() }

// Write writes to the temporary file.
func (a *File) Write(p []byte) (int, error) { return a.f.Write(p) }

// Commit syncs the temporary file, renames it to the destination and syncs
// the directory. On failure the temporary file is removed (unless the
// rename already happened: then only the directory sync failed, and the
// error says so). Commit after Commit or Abort is an error.
func (a *File) Commit() (err error) {
	if a.done {
		return &fs.PathError{Op: "commit", Path: a.dst, Err: fs.ErrClosed}
	}
	a.done = true
	tmp := a.f.Name()
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	if err := a.prepare(); err != nil {
		return err
	}
	if err := a.publish(tmp); err != nil {
		return err
	}
	return syncDir(filepath.Dir(a.dst))
}

// prepare makes the temporary file's data durable and closes it: the part
// of Commit that comes before the destination name appears.
func (a *File) prepare() error {
	if err := a.f.Chmod(0o644); err != nil {
		a.f.Close()
		return err
	}
	if err := a.f.Sync(); err != nil {
		a.f.Close()
		return err
	}
	return a.f.Close()
}

// publish moves tmp to the destination, refusing to replace an existing
// file unless overwrite is set.
func (a *File) publish(tmp string) error {
	if a.overwrite {
		return os.Rename(tmp, a.dst)
	}
	// A hard link fails atomically if the destination exists.
	err := os.Link(tmp, a.dst)
	if err == nil {
		return os.Remove(tmp)
	}
	if errors.Is(err, fs.ErrExist) {
		return &fs.PathError{Op: "commit", Path: a.dst, Err: fs.ErrExist}
	}
	// No hard links on this file system: check, then rename.
	if _, err := os.Lstat(a.dst); err == nil {
		return &fs.PathError{Op: "commit", Path: a.dst, Err: fs.ErrExist}
	}
	return os.Rename(tmp, a.dst)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return &fs.PathError{Op: "sync directory", Path: dir, Err: err}
	}
	return nil
}

// Abort closes and removes the temporary file. It is a no-op after Commit
// or Abort.
func (a *File) Abort() error {
	if a.done {
		return nil
	}
	a.done = true
	a.f.Close()
	if err := os.Remove(a.f.Name()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
