package safetensors

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"maps"
	"math"
	"slices"
	"unicode/utf8"

	"github.com/wick-ml/wick/io/internal/mmap"
)

// TensorInfo describes one tensor of a file.
type TensorInfo struct {
	Name  string
	DType DType
	// Shape in row-major order (the last axis is contiguous), as written in
	// the header. Every entry is ≥ 0; an empty shape is a scalar.
	Shape []int64
	// DataOffsets is [begin, end): the tensor's byte range relative to the
	// start of the data section, as written in the header.
	DataOffsets [2]int64
}

// Size returns the tensor's size in bytes.
func (t TensorInfo) Size() int64 { return t.DataOffsets[1] - t.DataOffsets[0] }

// NumElements returns the number of elements (the product of Shape; 1 for
// a scalar).
func (t TensorInfo) NumElements() int64 {
	n := int64(1)
	for _, d := range t.Shape {
		n *= d // cannot overflow: checked when the file was opened
	}
	return n
}

// File is an open safetensors file: its validated header and a read-only
// view of its bytes. A File is safe for concurrent use; views returned by
// Data are valid until Close.
type File struct {
	path      string
	m         *mmap.File // nil for Parse
	data      []byte     // the whole file
	dataStart int64      // 8 + header length
	tensors   []TensorInfo
	byName    map[string]int
	metadata  map[string]string
	closed    bool
}

// Open opens and validates the safetensors file at path. It memory-maps the
// file unless WithMmap(false) is given. Nothing of the data section is read:
// tensor bytes are paged in when a view returned by Data is touched.
func Open(path string, opts ...Option) (*File, error) {
	o, err := applyOptions(opts)
	if err != nil {
		return nil, err
	}
	m, err := mmap.Open(path, o.mmap)
	if err != nil {
		return nil, err
	}
	f, err := parse(m.Bytes(), path, o)
	if err != nil {
		m.Close()
		return nil, err
	}
	f.m = m
	return f, nil
}

// Parse validates the safetensors file held in data. The File refers to
// data (no copy); it must not change while the File is used.
func Parse(data []byte, opts ...Option) (*File, error) {
	o, err := applyOptions(opts)
	if err != nil {
		return nil, err
	}
	return parse(data, "", o)
}

// parse runs the validation checklist. Every declared length, count and
// offset is checked against caps, overflow and the bytes present before it
// is used, and before any view is handed out.
func parse(data []byte, path string, o options) (*File, error) {
	size := int64(len(data))
	// 1. The 8-byte little-endian header length.
	if size < 8 {
		return nil, formatErr(path, "", ErrTruncated, "the file has %d bytes; the header length alone needs 8", size)
	}
	n := binary.LittleEndian.Uint64(data)
	// 2. Cap, then bounds (no addition that could overflow).
	if n > uint64(o.maxHeader) {
		return nil, newErr(ErrLimit, path, "", ErrHeaderTooLarge, "the header declares %d bytes, over the cap of %d", n, o.maxHeader)
	}
	if n > uint64(size-8) {
		return nil, formatErr(path, "", ErrTruncated, "the header declares %d bytes but only %d follow", n, size-8)
	}
	header := data[8 : 8+n]
	dataStart := 8 + int64(n)
	dataLen := size - dataStart
	// 3. Text and JSON.
	if !utf8.Valid(header) {
		return nil, formatErr(path, "", ErrInvalidUTF8, "at byte %d of the header", 8+firstInvalidUTF8(header))
	}
	entries, metadata, err := parseHeader(header, path)
	if err != nil {
		return nil, err
	}
	// 4. Per tensor: element count and byte size with overflow checks,
	// offsets ordered, size equal to the range.
	tensors := make([]TensorInfo, len(entries))
	for i, e := range entries {
		t := &tensors[i]
		t.Name, t.DType = e.name, e.dtype
		t.Shape = make([]int64, len(e.shape))
		for j, d := range e.shape {
			if d > math.MaxInt64 {
				return nil, formatErr(path, e.name, ErrShapeOverflow, "shape[%d] = %d is over 2^63-1", j, d)
			}
			t.Shape[j] = int64(d)
		}
		nbytes, err := shapeBytes(e.dtype, t.Shape)
		if err != nil {
			return nil, formatErr(path, e.name, err, "shape %v of %v", e.shape, e.dtype)
		}
		begin, end := e.offsets[0], e.offsets[1]
		if begin > end {
			return nil, formatErr(path, e.name, ErrInvalidOffsets, "data_offsets [%d, %d]", begin, end)
		}
		if end-begin != uint64(nbytes) {
			return nil, formatErr(path, e.name, ErrSizeMismatch, "shape %v of %v needs %d bytes, data_offsets [%d, %d] hold %d", e.shape, e.dtype, nbytes, begin, end, end-begin)
		}
		if end > uint64(dataLen) {
			return nil, formatErr(path, e.name, ErrOutOfBounds, "data_offsets [%d, %d] end beyond the data section of %d bytes (file size %d)", begin, end, dataLen, size)
		}
		t.DataOffsets = [2]int64{int64(begin), int64(end)}
	}
	// 5. Layout: sorted by offsets, the ranges must tile the data section
	// exactly: no overlap, no gap.
	order := make([]int, len(tensors))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		x, y := tensors[a].DataOffsets, tensors[b].DataOffsets
		return cmp.Or(cmp.Compare(x[0], y[0]), cmp.Compare(x[1], y[1]))
	})
	pos := int64(0)
	for _, i := range order {
		t := &tensors[i]
		begin, end := t.DataOffsets[0], t.DataOffsets[1]
		switch {
		case begin < pos:
			return nil, formatErr(path, t.Name, ErrOverlap, "its bytes [%d, %d) overlap those of the previous tensor, which end at %d", begin, end, pos)
		case begin > pos:
			return nil, formatErr(path, t.Name, ErrGap, "bytes [%d, %d) of the data section belong to no tensor", pos, begin)
		}
		pos = end
	}
	if pos != dataLen {
		return nil, formatErr(path, "", ErrGap, "bytes [%d, %d) at the end of the data section belong to no tensor", pos, dataLen)
	}
	// 6. Only now hand out anything.
	f := &File{
		path:      path,
		data:      data,
		dataStart: dataStart,
		tensors:   make([]TensorInfo, len(tensors)),
		byName:    make(map[string]int, len(tensors)),
		metadata:  metadata,
	}
	for k, i := range order {
		f.tensors[k] = tensors[i]
		f.byName[tensors[i].Name] = k
	}
	return f, nil
}

func firstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}

// Path returns the path the file was opened from ("" for Parse).
func (f *File) Path() string { return f.path }

// Tensors returns the tensors in file order: by increasing data offset,
// which is also the order their bytes are laid out in. The slice is a copy;
// the Shape slices are shared and must not be modified.
func (f *File) Tensors() []TensorInfo { return slices.Clone(f.tensors) }

// Tensor returns the description of the named tensor.
func (f *File) Tensor(name string) (TensorInfo, error) {
	i, ok := f.byName[name]
	if !ok {
		return TensorInfo{}, argErr(f.path, name, ErrTensorNotFound, "the file has %d tensors", len(f.tensors))
	}
	return f.tensors[i], nil
}

// Metadata returns a copy of the header's __metadata__ map (nil when the
// header has none).
func (f *File) Metadata() map[string]string { return maps.Clone(f.metadata) }

// HeaderSize returns the length of the JSON header in bytes; the data
// section starts at file offset 8 + HeaderSize.
func (f *File) HeaderSize() int64 { return f.dataStart - 8 }

// Data returns the bytes of the named tensor: a zero-copy view of the
// mapping (or buffer), read-only, valid until Close. Writing to it faults
// when the file is mapped.
func (f *File) Data(name string) ([]byte, error) {
	t, err := f.Tensor(name)
	if err != nil {
		return nil, err
	}
	if f.closed {
		return nil, argErr(f.path, name, ErrClosed, "Data after Close")
	}
	lo := f.dataStart + t.DataOffsets[0]
	hi := f.dataStart + t.DataOffsets[1]
	return f.data[lo:hi:hi], nil
}

// Float32 returns the named tensor converted to float32 in a new slice
// (see DecodeFloat32 for the conversion rules).
func (f *File) Float32(name string) ([]float32, error) {
	t, err := f.Tensor(name)
	if err != nil {
		return nil, err
	}
	if !t.DType.CanDecode() {
		return nil, argErr(f.path, name, ErrNotConvertible, "%v has no float32 conversion", t.DType)
	}
	b, err := f.Data(name)
	if err != nil {
		return nil, err
	}
	dst := make([]float32, t.NumElements())
	if _, err := DecodeFloat32(dst, b, t.DType); err != nil {
		return nil, fmt.Errorf("safetensors: %s: tensor %q: %w", f.path, name, err)
	}
	return dst, nil
}

// Release tells the kernel that the named tensor's bytes will not be read
// again soon, so that its pages leave the process's resident set (madvise
// MADV_DONTNEED over the pages the tensor touches). Views stay valid and
// readable: touching them again re-reads the file. Call it once a tensor
// has been consumed to keep the memory of a long conversion bounded. It is
// a no-op when the file was read into memory, and off Linux.
func (f *File) Release(name string) error {
	return f.advise(name, (*mmap.File).Release)
}

// ReleaseRange is Release for bytes [off, off+n) of the named tensor's
// data only (clamped to the tensor), so that a long pass over one large
// tensor can drop what it has consumed as it goes.
func (f *File) ReleaseRange(name string, off, n int64) error {
	return f.advise(name, func(m *mmap.File, start, size int) error {
		lo := min(max(off, 0), int64(size))
		hi := min(max(off+n, lo), int64(size))
		return m.Release(start+int(lo), int(hi-lo))
	})
}

// Prefetch tells the kernel that the named tensor's bytes will be read
// soon (madvise MADV_WILLNEED). It is a no-op when the file was read into
// memory, and off Linux.
func (f *File) Prefetch(name string) error {
	return f.advise(name, (*mmap.File).Prefetch)
}

func (f *File) advise(name string, fn func(*mmap.File, int, int) error) error {
	t, err := f.Tensor(name)
	if err != nil {
		return err
	}
	if f.closed {
		return argErr(f.path, name, ErrClosed, "use after Close")
	}
	if f.m == nil {
		return nil
	}
	return fn(f.m, int(f.dataStart+t.DataOffsets[0]), int(t.Size()))
}

// Close releases the mapping. Views returned by Data must not be used
// afterwards.
func (f *File) Close() error {
	if f.closed {
		return nil
	}
	f.closed = true
	f.data = nil
	if f.m != nil {
		return f.m.Close()
	}
	return nil
}
