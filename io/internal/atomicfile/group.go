package atomicfile

import (
	"io/fs"
	"os"
	"path/filepath"
)

// CommitAll commits files (from Create) as one set: after it returns, either
// every destination holds its new file or, on error, none of them does and
// no temporary file is left.
//
// It works in three steps. First every temporary file is synced and closed
// (the slow part; no destination name exists yet, so an error, a Ctrl-C or
// a kill up to here leaves no destination). Then the files are published
// (linked or renamed into place) in reverse order, so that files[0], the
// file a reader opens first (the first part of a split GGUF model), appears
// last: whatever happens, no files[0] exists without all the others. If a
// publication fails, the destinations already published are removed again
// and the remaining temporary files too. Last, each directory is synced
// once; if that fails, every file is in place and the error says so.
//
// With overwrite, a failed publication leaves no file under the names
// already published: the files they replaced are gone. A process killed
// during the publication step (a few link or rename calls, after all the
// data is on disk) can leave some of files[1:] in place, never files[0].
//
// Every file must be uncommitted and not aborted; otherwise CommitAll
// aborts them all and fails. CommitAll of no files does nothing.
func CommitAll(files []*File) (err error) {
	for _, a := range files {
		if a.done {
			abortAll(files)
			return &fs.PathError{Op: "commit", Path: a.dst, Err: fs.ErrClosed}
		}
	}
	for _, a := range files {
		a.done = true
	}
	// 1. Durable data, nothing visible.
	for i, a := range files {
		if err := a.prepare(); err != nil {
			for _, b := range files[i+1:] {
				b.f.Close()
			}
			removeTemps(files)
			return err
		}
	}
	// 2. Publish, files[0] last.
	for i := len(files) - 1; i >= 0; i-- {
		a := files[i]
		if err := a.publish(a.f.Name()); err != nil {
			if ours(a) { // linked, then the temporary name could not be removed
				os.Remove(a.dst)
			}
			for _, b := range files[i+1:] {
				os.Remove(b.dst)
			}
			removeTemps(files[:i+1])
			return err
		}
	}
	// 3. The directory entries.
	synced := map[string]bool{}
	for _, a := range files {
		dir := filepath.Dir(a.dst)
		if synced[dir] {
			continue
		}
		synced[dir] = true
		if err := syncDir(dir); err != nil {
			return err
		}
	}
	return nil
}

// ours reports whether a's destination is a's temporary file (a hard link
// to it), not a file someone else put there.
func ours(a *File) bool {
	d, err := os.Lstat(a.dst)
	if err != nil {
		return false
	}
	t, err := os.Lstat(a.f.Name())
	return err == nil && os.SameFile(d, t)
}

// abortAll aborts every file that is not done yet.
func abortAll(files []*File) {
	for _, a := range files {
		a.Abort()
	}
}

// removeTemps removes the temporary files (already closed).
func removeTemps(files []*File) {
	for _, a := range files {
		os.Remove(a.f.Name()) // the caller reports the first error
	}
}
