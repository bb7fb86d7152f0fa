package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestCommit(t *testing.T) {
	dir := t.TempDir()
	dst := filepath.Join(dir, "out.bin")
	a, err := Create(dst, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := filepath.Base(a.Name()); got[:9] != ".out.bin." || filepath.Ext(got) != ".tmp" || filepath.Dir(a.Name()) != dir {
		t.Errorf("temporary file %q is not .out.bin.*.tmp in %s", a.Name(), dir)
	}
	if _, err := os.Stat(dst); !errors.Is(err, fs.ErrNotExist) {
		t.Error("destination exists before Commit")
	}
	a.Write([]byte("hello"))
	if err := a.Commit(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(dst)
	if err != nil || string(b) != "hello" {
		t.Fatalf("got %q, %v", b, err)
	}
	if names := entries(t, dir); len(names) != 1 {
		t.Errorf("directory holds %v, want only out.bin", names)
	}
	if err := a.Commit(); err == nil {
		t.Error("second Commit succeeded")
	}
	if err := a.Abort(); err != nil {
		t.Error("Abort after Commit:", err)
	}
	if b, _ := os.ReadFile(dst); string(b) != "hello" {
		t.Error("Abort after Commit touched the destination")
	}
}

func TestAbortRemovesTemp(t *testing.T) {
	dir := t.TempDir()
	a, err := Create(filepath.Join(dir, "x"), false)
	if err != nil {
		t.Fatal(err)
	}
	a.Write([]byte("partial"))
	if err := a.Abort(); err != nil {
		t.Fatal(err)
	}
	if names := entries(t, dir); len(names) != 0 {
		t.Errorf("directory holds %v after Abort", names)
	}
}

func TestNoOverwrite(t *testing.T) {
	dir := t.TempDir()
	dst := filepath.Join(dir, "x")
	os.WriteFile(dst, []byte("old"), 0o644)
	if _, err := Create(dst, false); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Create over an existing file: %v, want fs.ErrExist", err)
	}
	// Appearing between Create and Commit.
	os.Remove(dst)
	a, err := Create(dst, false)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(dst, []byte("racer"), 0o644)
	a.Write([]byte("new"))
	if err := a.Commit(); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Commit over a file that appeared: %v, want fs.ErrExist", err)
	}
	if b, _ := os.ReadFile(dst); string(b) != "racer" {
		t.Errorf("destination is %q, want it untouched", b)
	}
	if names := entries(t, dir); len(names) != 1 {
		t.Errorf("directory holds %v, want the temporary file removed", names)
	}
}

func TestOverwrite(t *testing.T) {
	dir := t.TempDir()
	dst := filepath.Join(dir, "x")
	os.WriteFile(dst, []byte("old"), 0o600)
	a, err := Create(dst, true)
	if err != nil {
		t.Fatal(err)
	}
	a.Write([]byte("new"))
	if err := a.Commit(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(dst); string(b) != "new" {
		t.Errorf("destination is %q", b)
	}
	if st, _ := os.Stat(dst); st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", st.Mode().Perm())
	}
	if _, err := Create(dir, true); err == nil {
		t.Error("Create over a directory succeeded")
	}
}

func createAll(t *testing.T, dsts []string, overwrite bool) []*File {
	t.Helper()
	var files []*File
	for i, dst := range dsts {
		a, err := Create(dst, overwrite)
		if err != nil {
			t.Fatal(err)
		}
		a.Write([]byte{'0' + byte(i)})
		files = append(files, a)
	}
	return files
}

func TestCommitAll(t *testing.T) {
	dir := t.TempDir()
	dsts := []string{filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "c")}
	files := createAll(t, dsts, false)
	if names := entries(t, dir); len(names) != 3 {
		t.Fatalf("before CommitAll: %v, want three temporary files", names)
	}
	if err := CommitAll(files); err != nil {
		t.Fatal(err)
	}
	for i, dst := range dsts {
		if b, err := os.ReadFile(dst); err != nil || string(b) != string(rune('0'+i)) {
			t.Errorf("%s: %q, %v", dst, b, err)
		}
	}
	if names := entries(t, dir); len(names) != 3 {
		t.Errorf("directory holds %v, want only a, b, c", names)
	}
	if err := CommitAll(files); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("CommitAll twice: %v, want fs.ErrClosed", err)
	}
	if err := CommitAll(nil); err != nil {
		t.Errorf("CommitAll(nil): %v", err)
	}
}

// A destination that appears while the set is being written makes the
// whole set fail, whichever member it is: files[0] is published last, so
// when it is the one that clashes, the others are already in place and
// must be removed again.
func TestCommitAllRollsBack(t *testing.T) {
	for clash := 0; clash < 3; clash++ {
		dir := t.TempDir()
		dsts := []string{filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "c")}
		files := createAll(t, dsts, false)
		os.WriteFile(dsts[clash], []byte("racer"), 0o644)
		if err := CommitAll(files); !errors.Is(err, fs.ErrExist) {
			t.Fatalf("clash on %d: %v, want fs.ErrExist", clash, err)
		}
		names := entries(t, dir)
		if len(names) != 1 || names[0] != filepath.Base(dsts[clash]) {
			t.Errorf("clash on %d: directory holds %v, want only the racer's file", clash, names)
		}
		if b, _ := os.ReadFile(dsts[clash]); string(b) != "racer" {
			t.Errorf("clash on %d: the racer's file now holds %q", clash, b)
		}
	}
}

func TestCommitAllRefusesDoneFiles(t *testing.T) {
	dir := t.TempDir()
	files := createAll(t, []string{filepath.Join(dir, "a"), filepath.Join(dir, "b")}, false)
	files[1].Abort()
	if err := CommitAll(files); !errors.Is(err, fs.ErrClosed) {
		t.Fatalf("CommitAll with an aborted file: %v, want fs.ErrClosed", err)
	}
	if names := entries(t, dir); len(names) != 0 {
		t.Errorf("directory holds %v, want nothing", names)
	}
}

func TestCommitAllOverwrite(t *testing.T) {
	dir := t.TempDir()
	dsts := []string{filepath.Join(dir, "a"), filepath.Join(dir, "b")}
	for _, d := range dsts {
		os.WriteFile(d, []byte("old"), 0o600)
	}
	if err := CommitAll(createAll(t, dsts, true)); err != nil {
		t.Fatal(err)
	}
	for i, d := range dsts {
		if b, _ := os.ReadFile(d); string(b) != string(rune('0'+i)) {
			t.Errorf("%s holds %q", d, b)
		}
	}
}
