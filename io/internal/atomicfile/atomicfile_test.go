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
