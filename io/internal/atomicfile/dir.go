package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// Dir is a destination directory being filled: its files are written into a
// new temporary directory beside it (".<base>.<random>.tmp"), which Commit
// renames into place, so the directory appears complete or not at all.
// Write each file inside with Create(filepath.Join(d.Path(), name), false)
// and commit it before committing the directory. It is not safe for
// concurrent use.
type Dir struct {
	tmp, dst  string
	overwrite bool
	done      bool
}

// CreateDir starts filling the directory dst. Unless overwrite is set it
// fails with an error matching fs.ErrExist if dst exists, and Commit fails
// the same way if dst appeared in the meantime. With overwrite, an existing
// dst is replaced as a whole at Commit (it must be a directory); deciding
// whether that is safe is the caller's business.
func CreateDir(dst string, overwrite bool) (*Dir, error) {
	if st, err := os.Lstat(dst); err == nil {
		if !overwrite {
			return nil, &fs.PathError{Op: "create", Path: dst, Err: fs.ErrExist}
		}
		if !st.IsDir() {
			return nil, &fs.PathError{Op: "create", Path: dst, Err: errors.New("exists and is not a directory")}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".*.tmp")
	if err != nil {
		return nil, err
	}
	return &Dir{tmp: tmp, dst: dst, overwrite: overwrite}, nil
}

// Path returns the temporary directory to write the files into.
func (d *Dir) Path() string { return d.tmp }

// Dest returns the destination path.
func (d *Dir) Dest() string { return d.dst }

// Commit syncs the temporary directory and renames it to the destination,
// then syncs the parent directory. With overwrite, an existing destination
// is first moved aside and removed once the new directory is in place (a
// crash in between leaves the old one under a ".<base>.<random>.old" name).
// On failure the temporary directory is removed and an old destination
// restored. Commit after Commit or Abort is an error.
func (d *Dir) Commit() (err error) {
	if d.done {
		return &fs.PathError{Op: "commit", Path: d.dst, Err: fs.ErrClosed}
	}
	d.done = true
	defer func() {
		if err != nil {
			os.RemoveAll(d.tmp)
		}
	}()
	if err := syncDir(d.tmp); err != nil {
		return err
	}
	if err := os.Chmod(d.tmp, 0o755); err != nil {
		return err
	}
	parent := filepath.Dir(d.dst)
	st, err := os.Lstat(d.dst)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// a directory that appeared since the check makes the rename fail
		// when it is not empty; an empty one is replaced
		if err := os.Rename(d.tmp, d.dst); err != nil {
			return err
		}
	case err != nil:
		return err
	case !d.overwrite:
		return &fs.PathError{Op: "commit", Path: d.dst, Err: fs.ErrExist}
	case !st.IsDir():
		return &fs.PathError{Op: "commit", Path: d.dst, Err: errors.New("exists and is not a directory")}
	default:
		old, err := os.MkdirTemp(parent, "."+filepath.Base(d.dst)+".*.old")
		if err != nil {
			return err
		}
		os.Remove(old) // only its unique name is needed
		if err := os.Rename(d.dst, old); err != nil {
			return err
		}
		if err := os.Rename(d.tmp, d.dst); err != nil {
			os.Rename(old, d.dst)
			return err
		}
		if err := os.RemoveAll(old); err != nil {
			return err
		}
	}
	return syncDir(parent)
}

// Abort removes the temporary directory and everything in it. It is a no-op
// after Commit or Abort.
func (d *Dir) Abort() error {
	if d.done {
		return nil
	}
	d.done = true
	return os.RemoveAll(d.tmp)
}
