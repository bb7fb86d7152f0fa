package gguf

import (
	"fmt"
	"slices"
)

// Model is a GGUF model: a single file, or every part of a split model
// (llama-gguf-split's output) read as one. It is safe for concurrent use;
// views from TensorData are valid until Close.
type Model struct {
	parts   []*File
	tensors []TensorInfo
	part    []int          // part index of tensors[i]
	names   map[string]int // tensor name → index in tensors
}

// OpenModel opens the GGUF model at path (each file as Open does, with the
// same options). When path is the first part of a split model (split.count
// greater than 1), it opens every part, named as llama.cpp names them
// (SplitPath with the prefix of path), and checks, as llama.cpp's loader
// does and a little more, that they form one model:
//
//   - split.count and split.no are UINT16 and split.tensors.count INT32;
//   - path's name ends in "-00001-of-<count>.gguf" (else the other parts
//     cannot be found);
//   - part k exists and has split.no = k (and split.count, if it has one,
//     equal to the first part's);
//   - no tensor is in two parts, and the parts hold split.tensors.count
//     tensors together.
//
// A missing part is an error matching fs.ErrNotExist that names it; an
// inconsistent one an *Error (class ErrFormat) wrapping ErrSplit. Any other
// file, including a later part of a split model, is opened alone.
// Metadata is the first part's (the split.* keys included); tensors are in
// part order.
func OpenModel(path string, opts ...Option) (*Model, error) {
	first, err := Open(path, opts...)
	if err != nil {
		return nil, err
	}
	m := &Model{parts: []*File{first}}
	ok := false
	defer func() {
		if !ok {
			m.Close()
		}
	}()
	count, err := splitKey[uint16](first, KeySplitCount, TypeUint16, false)
	if err != nil {
		return nil, err
	}
	if count > 1 {
		no, err := splitKey[uint16](first, KeySplitNo, TypeUint16, true)
		if err != nil {
			return nil, err
		}
		if no == 0 {
			if err := m.openParts(path, int(count), opts); err != nil {
				return nil, err
			}
		}
	}
	m.names = map[string]int{}
	for k, f := range m.parts {
		for _, t := range f.Tensors() {
			if j, dup := m.names[t.Name]; dup {
				return nil, splitErr(f.Path(), t.Name, "", "also in part %d (%s)", m.part[j]+1, m.parts[m.part[j]].Path())
			}
			m.names[t.Name] = len(m.tensors)
			m.tensors = append(m.tensors, t)
			m.part = append(m.part, k)
		}
	}
	if len(m.parts) > 1 {
		want, err := splitKey[int32](first, KeySplitTensorsCount, TypeInt32, true)
		if err != nil {
			return nil, err
		}
		if int(want) != len(m.tensors) {
			return nil, splitErr(path, "", KeySplitTensorsCount, "%d tensors, but the %d parts hold %d", want, len(m.parts), len(m.tensors))
		}
	}
	ok = true
	return m, nil
}

// openParts opens parts 1 … count−1 of the split model whose first part
// is path.
func (m *Model) openParts(path string, count int, opts []Option) error {
	prefix, ok := SplitPrefix(path, 0, count)
	if !ok {
		return splitErr(path, "", KeySplitCount, "the first of %d parts, but the name does not end in %q, so the other parts cannot be found", count, SplitPath("", 0, count))
	}
	for k := 1; k < count; k++ {
		name := SplitPath(prefix, k, count)
		f, err := Open(name, opts...)
		if err != nil {
			if _, isErr := err.(*Error); isErr {
				return err // names the part already
			}
			return fmt.Errorf("gguf: %s: part %d of %d of the split model: %w", path, k+1, count, err)
		}
		m.parts = append(m.parts, f)
		no, err := splitKey[uint16](f, KeySplitNo, TypeUint16, true)
		if err != nil {
			return err
		}
		if int(no) != k {
			return splitErr(name, "", KeySplitNo, "%d, but the file is named as part %d of %d (split.no counts from 0)", no, k+1, count)
		}
		if c, err := splitKey[uint16](f, KeySplitCount, TypeUint16, false); err != nil {
			return err
		} else if c != 0 && int(c) != count {
			return splitErr(name, "", KeySplitCount, "%d, but the first part (%s) says %d: the parts come from different splits", c, path, count)
		}
	}
	return nil
}

// splitKey reads a split.* key of type typ (0 when absent and not required).
func splitKey[T Elem](f *File, key string, typ ValueType, required bool) (T, error) {
	var zero T
	v, ok := f.Lookup(key)
	if !ok {
		if required {
			return zero, splitErr(f.Path(), "", key, "missing")
		}
		return zero, nil
	}
	x, ok := As[T](v)
	if !ok || v.Type() != typ {
		return zero, splitErr(f.Path(), "", key, "stored as %v; llama.cpp reads it as %v", v.Type(), typ)
	}
	return x, nil
}

func splitErr(path, tensor, key string, format string, a ...any) *Error {
	return &Error{Path: path, Tensor: tensor, Key: key, Offset: -1, Err: ErrSplit, Detail: fmt.Sprintf(format, a...), class: ErrFormat}
}

// Path returns the path the model was opened from (its first part).
func (m *Model) Path() string { return m.parts[0].Path() }

// Parts returns the files of the model: one, or every part of a split
// model in order. They are closed by Close.
func (m *Model) Parts() []*File { return slices.Clone(m.parts) }

// Metadata returns the first part's metadata in file order (see
// File.Metadata).
func (m *Model) Metadata() []KV { return m.parts[0].Metadata() }

// Lookup returns the value of a metadata key of the first part.
func (m *Model) Lookup(key string) (Value, bool) { return m.parts[0].Lookup(key) }

// Tensors returns the tensor infos of every part, in part then file order.
// Offsets are relative to the data section of the tensor's part.
func (m *Model) Tensors() []TensorInfo { return slices.Clone(m.tensors) }

// Tensor returns the info of the named tensor and the index of its part.
func (m *Model) Tensor(name string) (TensorInfo, int, error) {
	i, ok := m.names[name]
	if !ok {
		e := argErr(name, "", ErrTensorNotFound, "the model has %d tensors", len(m.tensors))
		e.Path = m.Path()
		return TensorInfo{}, 0, e
	}
	return m.tensors[i], m.part[i], nil
}

// TensorData returns the named tensor's bytes from its part (see
// File.TensorData).
func (m *Model) TensorData(name string) ([]byte, error) {
	_, k, err := m.Tensor(name)
	if err != nil {
		return nil, err
	}
	return m.parts[k].TensorData(name)
}

// ReleaseRange is File.ReleaseRange on the named tensor's part.
func (m *Model) ReleaseRange(name string, off, n int64) error {
	_, k, err := m.Tensor(name)
	if err != nil {
		return err
	}
	return m.parts[k].ReleaseRange(name, off, n)
}

// Close closes every part.
func (m *Model) Close() error {
	var first error
	for _, f := range m.parts {
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
