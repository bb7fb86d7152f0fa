package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func fill(t *testing.T, d *Dir, name, text string) {
	t.Helper()
	f, err := Create(filepath.Join(d.Path(), name), false)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte(text))
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
}

func TestDirCommit(t *testing.T) {
	parent := t.TempDir()
	dst := filepath.Join(parent, "out")
	d, err := CreateDir(dst, false)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(d.Path()) != parent || d.Dest() != dst {
		t.Errorf("temporary directory %s, destination %s", d.Path(), d.Dest())
	}
	fill(t, d, "a.txt", "A")
	fill(t, d, "b.txt", "B")
	if _, err := os.Stat(dst); !errors.Is(err, fs.ErrNotExist) {
		t.Error("the destination exists before Commit")
	}
	if err := d.Commit(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "b.txt")); string(b) != "B" {
		t.Errorf("b.txt holds %q", b)
	}
	if names := entries(t, parent); len(names) != 1 || names[0] != "out" {
		t.Errorf("parent holds %v, want only out", names)
	}
	if err := d.Commit(); err == nil {
		t.Error("second Commit succeeded")
	}
	if _, err := CreateDir(dst, false); !errors.Is(err, fs.ErrExist) {
		t.Errorf("existing destination: %v, want fs.ErrExist", err)
	}
}

func TestDirOverwriteAndAbort(t *testing.T) {
	parent := t.TempDir()
	dst := filepath.Join(parent, "out")
	os.MkdirAll(filepath.Join(dst, "sub"), 0o755)
	os.WriteFile(filepath.Join(dst, "old.txt"), []byte("old"), 0o644)

	d, err := CreateDir(dst, true)
	if err != nil {
		t.Fatal(err)
	}
	fill(t, d, "new.txt", "new")
	if err := d.Abort(); err != nil {
		t.Fatal(err)
	}
	if names := entries(t, parent); len(names) != 1 {
		t.Errorf("Abort left %v", names)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "old.txt")); string(b) != "old" {
		t.Error("Abort touched the destination")
	}

	d, _ = CreateDir(dst, true)
	fill(t, d, "new.txt", "new")
	if err := d.Commit(); err != nil {
		t.Fatal(err)
	}
	if names := entries(t, dst); len(names) != 1 || names[0] != "new.txt" {
		t.Errorf("replaced directory holds %v, want only new.txt", names)
	}
	if names := entries(t, parent); len(names) != 1 {
		t.Errorf("parent holds %v after the replacement", names)
	}

	// a destination that appears while the directory is filled
	other := filepath.Join(parent, "other")
	d, _ = CreateDir(other, false)
	os.MkdirAll(filepath.Join(other, "x"), 0o755)
	if err := d.Commit(); err == nil {
		t.Error("Commit replaced a non-empty directory that appeared meanwhile")
	}
	if names := entries(t, parent); len(names) != 2 {
		t.Errorf("a failed Commit left %v", names)
	}
	file := filepath.Join(parent, "file")
	os.WriteFile(file, nil, 0o644)
	if _, err := CreateDir(file, true); err == nil {
		t.Error("CreateDir accepted a file as the directory to replace")
	}
}
