package safetensors

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func streamTensors() []Tensor {
	return []Tensor{
		{Name: "a.weight", DType: F32, Shape: []int64{2, 3}, Data: bytes.Repeat([]byte{1, 2, 3, 4}, 6)},
		{Name: "empty", DType: BF16, Shape: []int64{0, 7}},
		{Name: "scalar", DType: U8, Data: []byte{9}},
		{Name: "a.weight.absmax", DType: U8, Shape: []int64{5}, Data: []byte{5, 6, 7, 8, 9}},
		{Name: "tail", DType: I8, Shape: []int64{3}, Data: []byte{0xff, 0, 1}},
	}
}

func heads(ts []Tensor) []TensorHeader {
	h := make([]TensorHeader, len(ts))
	for i, t := range ts {
		h[i] = TensorHeader{Name: t.Name, DType: t.DType, Shape: t.Shape}
	}
	return h
}

// The streamed file is byte for byte the file Write makes, whatever the
// pieces the data arrives in.
func TestStreamWriterMatchesWrite(t *testing.T) {
	ts := streamTensors()
	meta := map[string]string{"format": "pt"}
	var want bytes.Buffer
	if err := Write(&want, ts, meta); err != nil {
		t.Fatal(err)
	}
	var data []byte
	for _, x := range ts {
		data = append(data, x.Data...)
	}
	for _, piece := range []int{1, 2, 7, len(data)} {
		var got bytes.Buffer
		s, err := NewStreamWriter(&got, heads(ts), meta)
		if err != nil {
			t.Fatal(err)
		}
		if sz := s.Sizes(); len(sz) != 5 || sz[0] != 24 || sz[1] != 0 || sz[4] != 3 {
			t.Errorf("Sizes %v", sz)
		}
		for i := 0; i < len(data); i += piece {
			if i == 24 {
				if k, left := s.Next(); k != 2 || left != 1 {
					t.Errorf("after a.weight Next() = %d, %d; want 2, 1 (the empty tensor skipped)", k, left)
				}
			}
			if _, err := s.Write(data[i:min(i+piece, len(data))]); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Fatalf("pieces of %d: the streamed file differs from Write's", piece)
		}
	}
}

func TestStreamWriterSizeErrors(t *testing.T) {
	ts := streamTensors()
	var buf bytes.Buffer
	s, _ := NewStreamWriter(&buf, heads(ts), nil)
	if _, err := s.Write(make([]byte, 28)); err != nil {
		t.Fatal(err)
	}
	err := s.Close()
	var e *Error
	if !errors.Is(err, ErrSizeMismatch) || !errors.As(err, &e) || e.Tensor != "a.weight.absmax" {
		t.Errorf("short data: %v, want ErrSizeMismatch naming a.weight.absmax", err)
	}
	s, _ = NewStreamWriter(&buf, heads(ts), nil)
	if _, err := s.Write(make([]byte, 34)); !errors.Is(err, ErrSizeMismatch) {
		t.Errorf("too much data: %v", err)
	}
	if _, err := s.Write([]byte{1}); err == nil {
		t.Error("a write after an error succeeded")
	}
	bad := heads(ts)
	bad[1].Name = "a.weight"
	if _, err := NewStreamWriter(&buf, bad, nil); !errors.Is(err, ErrDuplicateName) {
		t.Errorf("duplicate name: %v", err)
	}
}

func TestCreateStreamIsAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	ts := streamTensors()
	s, err := CreateStream(path, heads(ts), map[string]string{"format": "pt"}, false)
	if err != nil {
		t.Fatal(err)
	}
	s.Write(ts[0].Data)
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Error("the file exists before Commit")
	}
	if err := s.Commit(); !errors.Is(err, ErrSizeMismatch) {
		t.Errorf("Commit with missing data: %v", err)
	}
	if es, _ := os.ReadDir(dir); len(es) != 0 {
		t.Errorf("a failed Commit left %v", es)
	}
	s, _ = CreateStream(path, heads(ts), nil, false)
	for _, x := range ts {
		s.Write(x.Data)
	}
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if d, _ := f.Data("tail"); !bytes.Equal(d, ts[4].Data) {
		t.Errorf("tail %v", d)
	}
	if _, err := CreateStream(path, heads(ts), nil, false); !errors.Is(err, fs.ErrExist) {
		t.Errorf("an existing file: %v, want fs.ErrExist", err)
	}
	s, _ = CreateStream(path, heads(ts), nil, true)
	s.Abort()
	if es, _ := os.ReadDir(dir); len(es) != 1 {
		t.Errorf("Abort left %v", es)
	}
}

// Positional writes, in any order and from several goroutines, make the
// same file as Write; a missing or excess byte count is an error.
func TestDataWriter(t *testing.T) {
	ts := streamTensors()
	meta := map[string]string{"format": "pt"}
	var want bytes.Buffer
	if err := Write(&want, ts, meta); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "m.safetensors")
	s, err := CreateStream(path, heads(ts), meta, false)
	if err != nil {
		t.Fatal(err)
	}
	dw, err := s.DataWriter()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DataWriter(); err == nil {
		t.Error("a second DataWriter")
	}
	if _, err := s.Write([]byte{1}); err == nil {
		t.Error("Write after DataWriter succeeded")
	}
	offs := s.Offsets()
	if len(offs) != 5 || offs[0] != 0 || offs[3] != 25 || offs[4] != 30 {
		t.Errorf("Offsets %v", offs)
	}
	// a.weight copied from a file inside the kernel (where the system can)
	srcPath := filepath.Join(dir, "src")
	os.WriteFile(srcPath, append([]byte("xyz"), ts[0].Data...), 0o644)
	src, err := os.Open(srcPath)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	copied, err := dw.CopyAt(src, 3, int64(len(ts[0].Data)), offs[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dw.CopyAt(src, 0, 2, 32); !errors.Is(err, ErrSizeMismatch) {
		t.Errorf("a copy past the end: %v", err)
	}
	var wg sync.WaitGroup
	for i := len(ts) - 1; i >= 0; i-- { // last tensor first, one byte per goroutine
		if i == 0 && copied {
			continue
		}
		for k := range ts[i].Data {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := dw.WriteAt(ts[i].Data[k:k+1], offs[i]+int64(k)); err != nil {
					t.Error(err)
				}
				dw.StartWriteback(offs[i]+int64(k), 1)
			}()
		}
	}
	wg.Wait()
	if _, err := dw.WriteAt([]byte{1, 2}, 32); !errors.Is(err, ErrSizeMismatch) {
		t.Errorf("past the end: %v", err)
	}
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, want.Bytes()) {
		t.Error("the file written by position differs from Write's")
	}

	// a byte missing
	path2 := filepath.Join(dir, "short.safetensors")
	s, _ = CreateStream(path2, heads(ts), meta, false)
	dw, _ = s.DataWriter()
	dw.WriteAt(make([]byte, 32), 0)
	if err := s.Commit(); !errors.Is(err, ErrSizeMismatch) {
		t.Errorf("a byte missing: %v", err)
	}
	if _, err := os.Stat(path2); !errors.Is(err, fs.ErrNotExist) {
		t.Error("a failed Commit left the file")
	}

	// only for files
	s, _ = NewStreamWriter(&bytes.Buffer{}, heads(ts), meta)
	if _, err := s.DataWriter(); err == nil {
		t.Error("DataWriter on a plain io.Writer")
	}
}
