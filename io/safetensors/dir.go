package safetensors

import (
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/wick-ml/wick/io/internal/atomicfile"
)

// ModelDir is a model directory being written (safetensors shards, their
// index, config and tokenizer files): every file goes into a temporary
// directory beside the destination, and the directory appears complete at
// Commit, or not at all.
type ModelDir struct {
	d *atomicfile.Dir
}

// CreateModelDir starts the directory dst. Unless overwrite is set it fails
// with an error matching fs.ErrExist if dst exists; with overwrite an
// existing directory is replaced as a whole at Commit.
func CreateModelDir(dst string, overwrite bool) (*ModelDir, error) {
	d, err := atomicfile.CreateDir(dst, overwrite)
	if err != nil {
		return nil, err
	}
	return &ModelDir{d: d}, nil
}

func (m *ModelDir) path(name string) (string, error) {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\\x00") {
		return "", argErr("", "", ErrInvalidName, "file name %q is not a plain file name", name)
	}
	return filepath.Join(m.d.Path(), name), nil
}

// CreateStream starts the safetensors file name in the directory (see
// CreateStream); commit it before the directory.
func (m *ModelDir) CreateStream(name string, tensors []TensorHeader, metadata map[string]string) (*StreamWriter, error) {
	p, err := m.path(name)
	if err != nil {
		return nil, err
	}
	return CreateStream(p, tensors, metadata, false)
}

// WriteFile writes the file name with the given content.
func (m *ModelDir) WriteFile(name string, data []byte) error {
	p, err := m.path(name)
	if err != nil {
		return err
	}
	f, err := atomicfile.Create(p, false)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Abort()
		return err
	}
	return f.Commit()
}

// CopyFile writes the file name with the content of the file src.
func (m *ModelDir) CopyFile(name, src string) error {
	p, err := m.path(name)
	if err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	f, err := atomicfile.Create(p, false)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, in); err != nil {
		f.Abort()
		return err
	}
	return f.Commit()
}

// Commit puts the directory in place (see atomicfile's Dir.Commit).
func (m *ModelDir) Commit() error { return m.d.Commit() }

// Abort removes everything written; a no-op after Commit.
func (m *ModelDir) Abort() error { return m.d.Abort() }
