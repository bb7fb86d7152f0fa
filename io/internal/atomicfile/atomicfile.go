// Package atomicfile writes files so that each appears at its destination
// complete or not at all, and so that a writer stopped at any moment, even by
// SIGKILL, leaves nothing behind (or, where the system cannot promise that,
// only names that a later writer recognises and removes).
//
// Create starts a file, Write fills it, Commit (or CommitAll, for several
// files that belong together) syncs it and puts it in place, Abort drops it.
//
// On Linux the data goes to an unnamed temporary file in the destination's
// directory (open(2) with O_TMPFILE): it has no name until Commit links it
// into place (linkat(2) of /proc/self/fd/N, which needs no privilege, unlike
// linkat with AT_EMPTY_PATH), so a killed writer leaves nothing at all.
// Replacing an existing file (overwrite) needs rename(2), which only takes a
// name: there Commit links the file under a temporary name and renames that
// over the destination at once, a window of two system calls. Elsewhere, and
// on file systems without O_TMPFILE (decided at run time, per Create), the
// data goes to a named temporary file beside the destination.
//
// Temporary names are ".<base>.wick-<host>-<pid>-<start>-<random>.tmp": host
// is a hash of the machine's identity and PID namespace, pid and start
// identify the writing process (start is its start time in clock ticks since
// boot where the system tells it, else 0). Create removes those in the
// destination's directory whose writer is gone: same host, and no process
// with that pid, or one that started at another time. Names of other
// machines (a shared network file system) and of live writers are left
// alone.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"
)

// File is a destination being written. It is not safe for concurrent use.
type File struct {
	f         *os.File
	dst       string
	tmp       string // the temporary name, "" while the file is unnamed
	unnamed   bool   // an O_TMPFILE file: linked into place by Commit
	overwrite bool
	done      bool
	placed    string // during CommitAll: the name the data got (dst or a temporary name)
	appended  int64  // bytes written by Write (at the file's offset, from 0)
	kicked    int64  // Write's bytes [0, kicked) have had their write-back started
}

// writebackEvery is how many bytes Write lets accumulate before it starts
// their write-back (StartWriteback), so that Commit's sync finds most of a
// big file already on its way to disk instead of all of it.
const writebackEvery = 32 << 20

// forceNamed makes Create use a named temporary file even where O_TMPFILE
// works (tests of the fallback).
var forceNamed = false

// Create starts writing dst. Unless overwrite is set, Create fails with an
// error matching fs.ErrExist if dst exists, and Commit fails the same way if
// dst appeared in the meantime. Create first removes the temporary files of
// dead writers in dst's directory (see the package comment).
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
	dir := filepath.Dir(dst)
	sweep(dir)
	if !forceNamed {
		f, err := openUnnamed(dir, dst)
		if err == nil {
			return &File{f: f, dst: dst, unnamed: true, overwrite: overwrite}, nil
		}
		if !errors.Is(err, errUnsupported) {
			return nil, err
		}
	}
	f, tmp, err := createNamed(dst)
	if err != nil {
		return nil, err
	}
	return &File{f: f, dst: dst, tmp: tmp, overwrite: overwrite}, nil
}

// Dest returns the destination path.
func (a *File) Dest() string { return a.dst }

// Write writes to the temporary file, and starts the write-back of every
// writebackEvery bytes it wrote (without waiting for it, see
// StartWriteback).
func (a *File) Write(p []byte) (int, error) {
	n, err := a.f.Write(p)
	a.appended += int64(n)
	if a.appended-a.kicked >= writebackEvery {
		a.StartWriteback(a.kicked, a.appended-a.kicked)
		a.kicked = a.appended
	}
	return n, err
}

// WriteAt writes to the temporary file at offset off (pwrite(2)). Unlike
// the rest of File, it may be called from several goroutines at once.
func (a *File) WriteAt(p []byte, off int64) (int, error) { return a.f.WriteAt(p, off) }

// Commit syncs the file, puts it at its destination and syncs the
// directory. On failure nothing is left (unless only the final directory
// sync failed: then the file is in place and the error says so). Commit
// after Commit or Abort is an error.
func (a *File) Commit() error { return CommitAll(a) }

// Abort drops the file: closes it and removes its temporary name, if it has
// one. It is a no-op after Commit or Abort.
func (a *File) Abort() error {
	if a.done {
		return nil
	}
	a.done = true
	a.f.Close()
	if a.tmp != "" {
		if err := os.Remove(a.tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// CommitAll commits several files that belong together (each as Commit
// does): first every file is synced, then each is put in place, then the
// directories are synced. Files are put in place in reverse order, so that
// files[0], the one a reader opens first (the first part of a split GGUF
// model), appears last: no files[0] exists without all the others. If one
// cannot be put in place (a destination that appeared meanwhile, say), the
// ones already put in place that did not replace a file are removed again
// and the rest are aborted, so that none or all appear. Replacing files
// (overwrite) happens last, one rename each; a rename that fails there
// after others succeeded cannot bring the replaced files back, and the
// error says which file failed. A process killed in the middle leaves the
// files placed so far, never files[0] alone (and, for files being replaced,
// at most one temporary name each, which a later Create removes). A file
// already committed or aborted makes CommitAll abort all and fail.
func CommitAll(files ...*File) (err error) {
	for _, a := range files {
		if a.done {
			for _, b := range files {
				b.Abort()
			}
			return &fs.PathError{Op: "commit", Path: a.dst, Err: fs.ErrClosed}
		}
	}
	for _, a := range files {
		a.done = true
	}
	defer func() {
		for _, a := range files {
			a.f.Close()
			if err != nil && a.tmp != "" {
				os.Remove(a.tmp)
			}
		}
	}()
	for _, a := range files {
		if err := a.f.Chmod(0o644); err != nil {
			return err
		}
		if err := a.f.Sync(); err != nil {
			return err
		}
	}
	// New files go straight to their destination (a hard link, which fails
	// if the destination exists); files that replace one get a temporary
	// name for the rename below.
	var created []string
	undo := func() {
		for _, p := range created {
			os.Remove(p)
		}
	}
	for i := len(files) - 1; i >= 0; i-- {
		a := files[i]
		if err := a.place(); err != nil {
			undo()
			return err
		}
		if !a.overwrite {
			created = append(created, a.dst)
		}
	}
	replaced := 0
	for i := len(files) - 1; i >= 0; i-- {
		a := files[i]
		if !a.overwrite {
			continue
		}
		if err := os.Rename(a.tmp, a.dst); err != nil {
			if replaced == 0 {
				undo()
			}
			return err
		}
		a.tmp = ""
		replaced++
	}
	dirs := map[string]bool{}
	for _, a := range files {
		dir := filepath.Dir(a.dst)
		if !dirs[dir] {
			dirs[dir] = true
			if err := syncDir(dir); err != nil {
				return err
			}
		}
	}
	return nil
}

// place gives the synced data its name: the destination itself for a new
// file (failing if it exists), a temporary name for a file that replaces
// another (renamed over it by CommitAll).
func (a *File) place() error {
	if a.unnamed {
		if !a.overwrite {
			err := linkUnnamed(a.f, a.dst)
			if errors.Is(err, fs.ErrExist) {
				return &fs.PathError{Op: "commit", Path: a.dst, Err: fs.ErrExist}
			}
			return err
		}
		for range 100 {
			tmp := filepath.Join(filepath.Dir(a.dst), tempName(filepath.Base(a.dst)))
			err := linkUnnamed(a.f, tmp)
			if err == nil {
				a.tmp = tmp
				return nil
			}
			if !errors.Is(err, fs.ErrExist) {
				return err
			}
		}
		return &fs.PathError{Op: "commit", Path: a.dst, Err: errors.New("no free temporary name")}
	}
	if a.overwrite {
		return nil // a.tmp is renamed over the destination
	}
	// A hard link fails atomically if the destination exists.
	err := os.Link(a.tmp, a.dst)
	if err == nil {
		os.Remove(a.tmp)
		a.tmp = ""
		return nil
	}
	if errors.Is(err, fs.ErrExist) {
		return &fs.PathError{Op: "commit", Path: a.dst, Err: fs.ErrExist}
	}
	// No hard links on this file system: check, then rename.
	if _, err := os.Lstat(a.dst); err == nil {
		return &fs.PathError{Op: "commit", Path: a.dst, Err: fs.ErrExist}
	}
	if err := os.Rename(a.tmp, a.dst); err != nil {
		return err
	}
	a.tmp = ""
	return nil
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

// errUnsupported: no unnamed temporary files here (openUnnamed).
var errUnsupported = errors.New("atomicfile: unnamed temporary files are not supported here")

// createNamed creates a new temporary file with a recognisable name beside
// dst.
func createNamed(dst string) (*os.File, string, error) {
	dir, base := filepath.Split(dst)
	for range 10000 {
		tmp := filepath.Join(dir, tempName(base))
		f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			return f, tmp, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, "", err
		}
	}
	return nil, "", &fs.PathError{Op: "create", Path: dst, Err: errors.New("no free temporary name")}
}

// Temporary names: ".<base>.wick-<host>-<pid>-<start>-<random>.tmp".
const (
	tempMarker = ".wick-"
	tempSuffix = ".tmp"
	maxBase    = 120 // bytes of the destination's name kept in a temporary name (NAME_MAX is 255)
)

// tempName returns a new temporary name for a file called base.
func tempName(base string) string {
	if len(base) > maxBase {
		cut := maxBase
		for cut > 0 && !utf8.RuneStart(base[cut]) {
			cut--
		}
		base = base[:cut]
	}
	return fmt.Sprintf(".%s%s%s-%d-%d-%08x%s", base, tempMarker, hostToken(), os.Getpid(), selfStart(), rand.Uint32(), tempSuffix)
}

// writer is who made a temporary file, as its name says.
type writer struct {
	host  string
	pid   int
	start uint64
}

// parseTempName reads the writer out of a temporary name; false if name is
// not one.
func parseTempName(name string) (writer, bool) {
	if !strings.HasPrefix(name, ".") || !strings.HasSuffix(name, tempSuffix) {
		return writer{}, false
	}
	i := strings.LastIndex(name, tempMarker)
	if i < 1 {
		return writer{}, false
	}
	fields := strings.Split(name[i+len(tempMarker):len(name)-len(tempSuffix)], "-")
	if len(fields) != 4 || len(fields[0]) != 8 || len(fields[3]) != 8 {
		return writer{}, false
	}
	for _, f := range []string{fields[0], fields[3]} {
		if _, err := strconv.ParseUint(f, 16, 32); err != nil {
			return writer{}, false
		}
	}
	pid, err := strconv.Atoi(fields[1])
	if err != nil || pid <= 0 {
		return writer{}, false
	}
	start, err := strconv.ParseUint(fields[2], 10, 64)
	if err != nil {
		return writer{}, false
	}
	return writer{host: fields[0], pid: pid, start: start}, true
}

// dead reports whether w is known to be gone: a writer of this host (and
// PID namespace) whose process no longer exists, or whose pid now belongs
// to a process that started at another time.
func (w writer) dead() bool {
	if w.host != hostToken() {
		return false
	}
	if w.pid == os.Getpid() {
		return w.start != selfStart()
	}
	exists, known := processExists(w.pid)
	if !known {
		return false
	}
	if !exists {
		return true
	}
	if w.start == 0 {
		return false
	}
	start, ok := processStart(w.pid)
	return ok && start != w.start
}

// sweep removes the temporary files of dead writers in dir. It is best
// effort: errors (a directory it cannot read, a file another user owns)
// are ignored.
func sweep(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		if w, ok := parseTempName(e.Name()); ok && w.dead() {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// hash8 is 8 hex digits of the FNV-1a hash of s.
func hash8(s string) string {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return fmt.Sprintf("%08x", h)
}
