package safetensors

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"maps"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/wick-ml/wick/io/internal/atomicfile"
)

// Tensor is one tensor to write: its bytes in row-major order, little-endian.
type Tensor struct {
	Name  string
	DType DType
	Shape []int64 // row-major; nil or empty for a scalar
	Data  []byte  // exactly the size shape and dtype imply
}

// Write writes a safetensors file holding tensors, in the order given, and
// the optional metadata (the header's __metadata__; nil for none) to w.
// Everything is validated before the first byte is written.
//
// The header lists __metadata__ first (its keys sorted), then the tensors
// in order, and is padded with spaces to a multiple of 8 bytes, as the
// reference writer does. Unlike the reference writer, Write does not
// reorder tensors; put wide dtypes first to keep every tensor aligned to
// its element size.
func Write(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	header, err := buildHeader(tensors, metadata)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(header)))
	bw.Write(n[:])
	bw.Write(header)
	for _, t := range tensors {
		bw.Write(t.Data)
	}
	return bw.Flush()
}

// WriteFile writes a safetensors file (see Write) to path atomically: to a
// temporary file in the same directory (unnamed on Linux), synced and put in place. It
// refuses to replace an existing file unless overwrite is set.
func WriteFile(path string, tensors []Tensor, metadata map[string]string, overwrite bool) error {
	if _, err := buildHeader(tensors, metadata); err != nil {
		return err
	}
	a, err := atomicfile.Create(path, overwrite)
	if err != nil {
		return err
	}
	if err := Write(a, tensors, metadata); err != nil {
		a.Abort()
		return err
	}
	return a.Commit()
}

// buildHeader validates the tensors and returns the padded JSON header.
func buildHeader(tensors []Tensor, metadata map[string]string) ([]byte, error) {
	heads := make([]TensorHeader, len(tensors))
	for i, t := range tensors {
		heads[i] = TensorHeader{Name: t.Name, DType: t.DType, Shape: t.Shape}
	}
	header, sizes, err := encodeHeader(heads, metadata)
	if err != nil {
		return nil, err
	}
	for i, t := range tensors {
		if sizes[i] != int64(len(t.Data)) {
			return nil, argErr("", t.Name, ErrSizeMismatch, "shape %v of %v needs %d bytes, got %d", t.Shape, t.DType, sizes[i], len(t.Data))
		}
	}
	return header, nil
}

// encodeHeader validates the tensor descriptions and returns the padded JSON
// header and the byte size of each tensor.
func encodeHeader(tensors []TensorHeader, metadata map[string]string) ([]byte, []int64, error) {
	sizes := make([]int64, len(tensors))
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	str := func(s string) {
		enc.Encode(s) // cannot fail for a string
		buf.Truncate(buf.Len() - 1)
	}
	buf.WriteByte('{')
	if metadata != nil {
		buf.WriteString(`"__metadata__":{`)
		for i, k := range slices.Sorted(maps.Keys(metadata)) {
			v := metadata[k]
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				return nil, nil, argErr("", "", ErrInvalidMetadata, "key %q or its value is not valid UTF-8", k)
			}
			if i > 0 {
				buf.WriteByte(',')
			}
			str(k)
			buf.WriteByte(':')
			str(v)
		}
		buf.WriteByte('}')
	}
	seen := make(map[string]bool, len(tensors))
	offset := int64(0)
	for i, t := range tensors {
		if t.Name == "__metadata__" || !utf8.ValidString(t.Name) {
			return nil, nil, argErr("", t.Name, ErrInvalidName, "tensor %d: names must be valid UTF-8 and not __metadata__", i)
		}
		if seen[t.Name] {
			return nil, nil, argErr("", t.Name, ErrDuplicateName, "tensor %d repeats the name", i)
		}
		seen[t.Name] = true
		if !t.DType.Valid() {
			return nil, nil, argErr("", t.Name, ErrUnknownDType, "%v", t.DType)
		}
		for j, d := range t.Shape {
			if d < 0 {
				return nil, nil, argErr("", t.Name, ErrInvalidShape, "shape[%d] = %d is negative", j, d)
			}
		}
		size, err := shapeBytes(t.DType, t.Shape)
		if err != nil {
			return nil, nil, argErr("", t.Name, err, "shape %v of %v", t.Shape, t.DType)
		}
		sizes[i] = size
		if metadata != nil || i > 0 {
			buf.WriteByte(',')
		}
		str(t.Name)
		buf.WriteString(`:{"dtype":"`)
		buf.WriteString(t.DType.String())
		buf.WriteString(`","shape":[`)
		for j, d := range t.Shape {
			if j > 0 {
				buf.WriteByte(',')
			}
			buf.WriteString(strconv.FormatInt(d, 10))
		}
		buf.WriteString(`],"data_offsets":[`)
		buf.WriteString(strconv.FormatInt(offset, 10))
		buf.WriteByte(',')
		offset += size
		buf.WriteString(strconv.FormatInt(offset, 10))
		buf.WriteString("]}")
	}
	buf.WriteByte('}')
	for buf.Len()%8 != 0 {
		buf.WriteByte(' ')
	}
	return buf.Bytes(), sizes, nil
}
