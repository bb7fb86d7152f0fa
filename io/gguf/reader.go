package gguf

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"unicode/utf8"

	"github.com/wick-ml/wick/io/internal/mmap"
	"github.com/wick-ml/wick/quant/ggmltype"
)

// Magic is the 4 bytes every GGUF file starts with.
const Magic = "GGUF"

// Version is the GGUF version the Writer writes.
const Version = 3

// DefaultAlignment is the alignment of tensor data when general.alignment
// is absent.
const DefaultAlignment = 32

// MaxDims is the most dimensions a tensor can have (GGML_MAX_DIMS).
const MaxDims = 4

// MaxNameLength is the longest tensor name ggml accepts, in bytes
// (GGML_MAX_NAME − 1).
const MaxNameLength = 63

// KeyAlignment is the metadata key that sets the alignment.
const KeyAlignment = "general.alignment"

// TensorInfo describes one tensor of a file.
type TensorInfo struct {
	Name string
	Type ggmltype.Type
	// Dims are the dimensions in ggml order, as stored in the file:
	// Dims[0] (ne[0]) is the row length, the contiguous axis. Missing
	// trailing dimensions are 1. Use Shape for row-major (NumPy) order.
	Dims []int64
	// Offset is the byte offset of the data from the start of the data
	// section (File.DataOffset).
	Offset int64
	// Size is the size of the data in bytes (without padding).
	Size int64
}

// NumElements returns the number of elements (1 for a tensor with no
// dimensions).
func (t TensorInfo) NumElements() int64 {
	n := int64(1)
	for _, d := range t.Dims {
		n *= d // cannot overflow: checked when read or added
	}
	return n
}

// Shape returns the dimensions in row-major order (the reverse of Dims).
func (t TensorInfo) Shape() []int64 {
	s := slices.Clone(t.Dims)
	slices.Reverse(s)
	return s
}

// tensorSize returns the element count and byte size of a tensor of type
// typ with dims (ggml order), or the sentinel error of the first check that
// fails. dims must be non-negative.
func tensorSize(typ ggmltype.Type, dims []int64) (nelem, nbytes int64, err error) {
	nelem = 1
	for _, d := range dims {
		hi, lo := bits.Mul64(uint64(nelem), uint64(d))
		if hi != 0 || lo > math.MaxInt64 {
			return 0, 0, ErrShapeOverflow
		}
		nelem = int64(lo)
	}
	tr, ok := typ.Info()
	if !ok {
		return 0, 0, ErrUnknownType
	}
	ne0 := int64(1)
	if len(dims) > 0 {
		ne0 = dims[0]
	}
	if ne0%int64(tr.BlockSize) != 0 {
		return 0, 0, ErrPartialBlock
	}
	if nelem == 0 {
		return 0, 0, nil
	}
	hi, lo := bits.Mul64(uint64(nelem/int64(tr.BlockSize)), uint64(tr.BlockBytes))
	if hi != 0 || lo > math.MaxInt64 {
		return 0, 0, ErrShapeOverflow
	}
	return nelem, int64(lo), nil
}

// alignUp rounds x up to a multiple of a (a power of two), or returns false
// on overflow.
func alignUp(x, a int64) (int64, bool) {
	if x > math.MaxInt64-(a-1) {
		return 0, false
	}
	return (x + a - 1) &^ (a - 1), true
}

// File is an open GGUF file: its validated metadata and tensor infos and a
// read-only view of its bytes. A File is safe for concurrent use; views
// returned by TensorData are valid until Close.
type File struct {
	path      string
	m         *mmap.File
	data      []byte
	version   uint32
	alignment int64
	dataStart int64
	kvs       []KV
	keys      map[string]int
	tensors   []TensorInfo
	names     map[string]int
	closed    bool
}

// Open opens and validates the GGUF file at path, memory-mapping it unless
// WithMmap(false) is given. Tensor data is not read: it is paged in when a
// view returned by TensorData is touched.
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

// Parse validates the GGUF file held in data. The File refers to data (no
// copy); it must not change while the File is used.
func Parse(data []byte, opts ...Option) (*File, error) {
	o, err := applyOptions(opts)
	if err != nil {
		return nil, err
	}
	return parse(data, "", o)
}

// decoder reads the header, KV section and tensor infos. Every length and
// count is checked against the bytes left (and the caps) before it is
// used, and memory is allocated only for bytes actually decoded (see
// capHint), so allocations stay proportional to the header's size.
type decoder struct {
	b    []byte
	off  int64
	path string
	o    options
	// context for errors
	key, tensor string
}

func (d *decoder) fail(class, err error, at int64, format string, a ...any) *Error {
	return &Error{Path: d.path, Tensor: d.tensor, Key: d.key, Offset: at, Err: err, Detail: fmt.Sprintf(format, a...), class: class}
}

func (d *decoder) left() int64 { return int64(len(d.b)) - d.off }

// take returns the next n bytes of a fixed-size field.
func (d *decoder) take(n int64, what string) ([]byte, error) {
	if n > d.left() {
		return nil, d.fail(ErrFormat, ErrTruncated, d.off, "%s needs %d bytes, %d left", what, n, d.left())
	}
	b := d.b[d.off : d.off+n]
	d.off += n
	return b, nil
}

func (d *decoder) u32(what string) (uint32, error) {
	b, err := d.take(4, what)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (d *decoder) u64(what string) (uint64, error) {
	b, err := d.take(8, what)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

// str reads a string (u64 length + bytes), copying it out of the file.
// what names it in errors.
func (d *decoder) str(what string) (string, error) {
	at := d.off
	if d.left() < 8 {
		return "", d.fail(ErrFormat, ErrTruncated, at, "the length of %s needs 8 bytes, %d left", what, d.left())
	}
	n := binary.LittleEndian.Uint64(d.b[d.off:])
	d.off += 8
	if n > uint64(d.left()) {
		return "", d.fail(ErrFormat, ErrStringTooLong, at, "%s of %d bytes, only %d left in the file", what, n, d.left())
	}
	if n > uint64(d.o.maxString) {
		return "", d.fail(ErrLimit, ErrStringTooLong, at, "%s of %d bytes, over the cap of %d", what, n, d.o.maxString)
	}
	s := string(d.b[d.off : d.off+int64(n)])
	d.off += int64(n)
	return s, nil
}

// value reads a value of type t; depth is the array nesting level of the
// value (1 for an array that is a KV's value).
func (d *decoder) value(t ValueType, depth int) (Value, error) {
	at := d.off
	if !t.Valid() {
		return Value{}, d.fail(ErrFormat, ErrUnknownValueType, at-4, "type id %d (valid: 0..12)", uint32(t))
	}
	switch t {
	case TypeString:
		s, err := d.str("string")
		return String(s), err
	case TypeArray:
		return d.array(depth)
	}
	b, err := d.take(int64(fixedSize[t]), "the value")
	if err != nil {
		return Value{}, err
	}
	return decodeScalar(t, b), nil
}

// array reads an array's element type, count and elements.
func (d *decoder) array(depth int) (Value, error) {
	at := d.off
	et, err := d.u32("array element type")
	if err != nil {
		return Value{}, err
	}
	elem := ValueType(et)
	if !elem.Valid() {
		return Value{}, d.fail(ErrFormat, ErrUnknownValueType, at, "array element type id %d (valid: 0..12)", et)
	}
	n, err := d.u64("array count")
	if err != nil {
		return Value{}, err
	}
	if max := uint64(d.left()) / uint64(elem.minSize()); n > max {
		return Value{}, d.fail(ErrFormat, ErrArrayTooLong, at, "%d %s elements need at least %d bytes each, only %d bytes left", n, elem, elem.minSize(), d.left())
	}
	if n > uint64(d.o.maxArray) {
		return Value{}, d.fail(ErrLimit, ErrArrayTooLong, at, "%d elements, over the cap of %d", n, d.o.maxArray)
	}
	count := int(n)
	switch elem {
	case TypeString:
		xs := make([]string, 0, d.stringsPresent(count))
		for range count {
			s, err := d.str("a string of the array")
			if err != nil {
				return Value{}, err
			}
			xs = append(xs, s)
		}
		return Value{typ: TypeArray, elem: TypeString, v: xs}, nil
	case TypeArray:
		if depth+1 > d.o.maxDepth {
			return Value{}, d.fail(ErrLimit, ErrNestingTooDeep, at, "array of arrays at depth %d, over the cap of %d", depth+1, d.o.maxDepth)
		}
		xs := make([]Value, 0, capHint(n))
		for range count {
			v, err := d.array(depth + 1)
			if err != nil {
				return Value{}, err
			}
			xs = append(xs, v)
		}
		return Value{typ: TypeArray, elem: TypeArray, v: xs}, nil
	}
	b, err := d.take(int64(count)*int64(fixedSize[elem]), "array data") // bounded above
	if err != nil {
		return Value{}, err
	}
	return Value{typ: TypeArray, elem: elem, v: decodeSlice(elem, b, count)}, nil
}

// stringsPresent counts how many of the next n strings are wholly present
// in the file, without decoding them: the exact capacity for a string array.
func (d *decoder) stringsPresent(n int) int {
	off, size := d.off, int64(len(d.b))
	for i := range n {
		if size-off < 8 {
			return i
		}
		l := binary.LittleEndian.Uint64(d.b[off:])
		off += 8
		if l > uint64(size-off) {
			return i
		}
		off += int64(l)
	}
	return n
}

// capHint is the initial capacity for n declared items whose encodings
// have not been read yet. A declared count only bounds what the bytes left
// could hold (and those may be gigabytes of tensor data), so memory grows
// with the items actually decoded instead of trusting it.
func capHint(n uint64) int { return int(min(n, 1024)) }

// decodeScalar decodes one little-endian value of scalar type t from b.
func decodeScalar(t ValueType, b []byte) Value {
	le := binary.LittleEndian
	switch t {
	case TypeUint8:
		return Uint8(b[0])
	case TypeInt8:
		return Int8(int8(b[0]))
	case TypeUint16:
		return Uint16(le.Uint16(b))
	case TypeInt16:
		return Int16(int16(le.Uint16(b)))
	case TypeUint32:
		return Uint32(le.Uint32(b))
	case TypeInt32:
		return Int32(int32(le.Uint32(b)))
	case TypeFloat32:
		return Float32(math.Float32frombits(le.Uint32(b)))
	case TypeBool:
		return Bool(b[0] != 0) // ggml: any non-zero byte is true
	case TypeUint64:
		return Uint64(le.Uint64(b))
	case TypeInt64:
		return Int64(int64(le.Uint64(b)))
	}
	return Float64(math.Float64frombits(le.Uint64(b)))
}

// decodeSlice decodes n little-endian values of scalar type t from b
// (len(b) = n × size) into a new slice of the matching Go type.
func decodeSlice(t ValueType, b []byte, n int) any {
	size := fixedSize[t]
	switch t {
	case TypeUint8:
		return slices.Clone(b)
	case TypeBool:
		xs := make([]bool, n)
		for i := range xs {
			xs[i] = b[i] != 0
		}
		return xs
	}
	le := binary.LittleEndian
	switch t {
	case TypeInt8:
		return decodeEach(b, n, size, func(b []byte) int8 { return int8(b[0]) })
	case TypeUint16:
		return decodeEach(b, n, size, le.Uint16)
	case TypeInt16:
		return decodeEach(b, n, size, func(b []byte) int16 { return int16(le.Uint16(b)) })
	case TypeUint32:
		return decodeEach(b, n, size, le.Uint32)
	case TypeInt32:
		return decodeEach(b, n, size, func(b []byte) int32 { return int32(le.Uint32(b)) })
	case TypeFloat32:
		return decodeEach(b, n, size, func(b []byte) float32 { return math.Float32frombits(le.Uint32(b)) })
	case TypeUint64:
		return decodeEach(b, n, size, le.Uint64)
	case TypeInt64:
		return decodeEach(b, n, size, func(b []byte) int64 { return int64(le.Uint64(b)) })
	}
	return decodeEach(b, n, size, func(b []byte) float64 { return math.Float64frombits(le.Uint64(b)) })
}

func decodeEach[T Elem](b []byte, n, size int, dec func([]byte) T) []T {
	xs := make([]T, n)
	for i := range xs {
		xs[i] = dec(b[i*size:])
	}
	return xs
}

// parse runs the validation checklist over a whole file.
func parse(data []byte, path string, o options) (*File, error) {
	d := &decoder{b: data, path: path, o: o}
	// 1. Magic and version.
	magic, err := d.take(4, "magic")
	if err != nil {
		return nil, err
	}
	if string(magic) != Magic {
		return nil, d.fail(ErrFormat, ErrBadMagic, 0, "starts with %q, want %q", magic, Magic)
	}
	version, err := d.u32("version")
	if err != nil {
		return nil, err
	}
	switch {
	case version&0xFFFF == 0 && version != 0:
		return nil, d.fail(ErrFormat, ErrBigEndian, 4, "version field %#08x is a byte-swapped version %d", version, bits.ReverseBytes32(version))
	case version != 2 && version != 3:
		return nil, d.fail(ErrFormat, ErrUnsupportedVersion, 4, "version %d; Wick reads versions 2 and 3", version)
	}
	// 2. Counts, bounded by the bytes left before anything is allocated.
	nTensors, err := d.u64("tensor count")
	if err != nil {
		return nil, err
	}
	nKV, err := d.u64("metadata KV count")
	if err != nil {
		return nil, err
	}
	const minKV, minTensor = 8 + 1 + 4 + 1, 8 + 4 + 4 + 8
	if nKV > uint64(d.left())/minKV {
		return nil, d.fail(ErrFormat, ErrBadCount, 16, "%d metadata KVs need at least %d bytes each, %d bytes left", nKV, minKV, d.left())
	}
	if nTensors > uint64(d.left())/minTensor {
		return nil, d.fail(ErrFormat, ErrBadCount, 8, "%d tensor infos need at least %d bytes each, %d bytes left", nTensors, minTensor, d.left())
	}
	f := &File{path: path, data: data, version: version, alignment: DefaultAlignment}
	// 3. Metadata.
	f.kvs = make([]KV, 0, capHint(nKV))
	f.keys = make(map[string]int, capHint(nKV))
	for i := range int(nKV) {
		at := d.off
		key, err := d.str("the key")
		if err != nil {
			return nil, err
		}
		d.key = key
		if key == "" {
			return nil, d.fail(ErrFormat, ErrInvalidKey, at, "KV %d has an empty key", i)
		}
		if !utf8.ValidString(key) {
			return nil, d.fail(ErrFormat, ErrInvalidKey, at, "KV %d: the key is not valid UTF-8", i)
		}
		if _, dup := f.keys[key]; dup {
			return nil, d.fail(ErrFormat, ErrDuplicateKey, at, "KV %d repeats KV %d", i, f.keys[key])
		}
		t, err := d.u32("value type")
		if err != nil {
			return nil, err
		}
		v, err := d.value(ValueType(t), 1)
		if err != nil {
			return nil, err
		}
		f.keys[key] = len(f.kvs)
		f.kvs = append(f.kvs, KV{Key: key, Value: v})
		if key == KeyAlignment {
			a, ok := As[uint32](v)
			if !ok {
				return nil, d.fail(ErrFormat, ErrBadAlignment, at, "stored as %v, must be UINT32", v.Type())
			}
			if a == 0 || a&(a-1) != 0 {
				return nil, d.fail(ErrFormat, ErrBadAlignment, at, "%d is not a non-zero power of two", a)
			}
			f.alignment = int64(a)
		}
		d.key = ""
	}
	// 4. Tensor infos.
	f.tensors = make([]TensorInfo, 0, capHint(nTensors))
	f.names = make(map[string]int, capHint(nTensors))
	for i := range int(nTensors) {
		at := d.off
		name, err := d.str("the tensor name")
		if err != nil {
			return nil, err
		}
		d.tensor = name
		if len(name) > MaxNameLength {
			return nil, d.fail(ErrFormat, ErrNameTooLong, at, "%d bytes, ggml allows at most %d", len(name), MaxNameLength)
		}
		if !utf8.ValidString(name) {
			return nil, d.fail(ErrFormat, ErrInvalidName, at, "tensor %d: the name is not valid UTF-8", i)
		}
		if j, dup := f.names[name]; dup {
			return nil, d.fail(ErrFormat, ErrDuplicateTensor, at, "tensor %d repeats tensor %d", i, j)
		}
		at = d.off
		nDims, err := d.u32("n_dims")
		if err != nil {
			return nil, err
		}
		if nDims > MaxDims {
			return nil, d.fail(ErrFormat, ErrTooManyDims, at, "%d dimensions, at most %d", nDims, MaxDims)
		}
		dims := make([]int64, nDims)
		for j := range dims {
			at := d.off
			v, err := d.u64("dimension")
			if err != nil {
				return nil, err
			}
			if v > math.MaxInt64 {
				return nil, d.fail(ErrFormat, ErrBadDim, at, "ne[%d] = %d is negative as int64", j, v)
			}
			dims[j] = int64(v)
		}
		at = d.off
		typ, err := d.u32("type")
		if err != nil {
			return nil, err
		}
		_, size, serr := tensorSize(ggmltype.Type(typ), dims)
		if serr != nil {
			return nil, d.fail(ErrFormat, serr, at, "%s", sizeDetail(serr, ggmltype.Type(typ), dims))
		}
		offset, err := d.u64("offset")
		if err != nil {
			return nil, err
		}
		if offset > math.MaxInt64 {
			return nil, d.fail(ErrFormat, ErrOutOfBounds, d.off-8, "offset %d beyond any file", offset)
		}
		f.names[name] = len(f.tensors)
		f.tensors = append(f.tensors, TensorInfo{Name: name, Type: ggmltype.Type(typ), Dims: dims, Offset: int64(offset), Size: size})
		d.tensor = ""
	}
	// 5. Data section: aligned start; tensors follow each other exactly,
	// each padded to the alignment, all inside the file.
	start, _ := alignUp(d.off, f.alignment) // d.off ≤ len(data): cannot overflow
	f.dataStart = start
	if len(f.tensors) > 0 && start > int64(len(data)) {
		return nil, d.fail(ErrFormat, ErrOutOfBounds, d.off, "the data section would start at %d, after the end of the file (%d bytes)", start, len(data))
	}
	expected := int64(0)
	for _, t := range f.tensors {
		d.tensor = t.Name
		switch {
		case t.Offset%f.alignment != 0:
			return nil, d.fail(ErrFormat, ErrMisaligned, -1, "offset %d is not a multiple of the alignment %d", t.Offset, f.alignment)
		case t.Offset < expected:
			return nil, d.fail(ErrFormat, ErrOverlap, -1, "offset %d, but the previous tensor's data ends at %d", t.Offset, expected)
		case t.Offset > expected:
			return nil, d.fail(ErrFormat, ErrGap, -1, "offset %d, expected %d", t.Offset, expected)
		case t.Size > int64(len(data))-start-t.Offset:
			return nil, d.fail(ErrFormat, ErrOutOfBounds, -1, "%d bytes at file offset %d end beyond the file (%d bytes)", t.Size, start+t.Offset, len(data))
		}
		padded, ok := alignUp(t.Size, f.alignment)
		if !ok {
			return nil, d.fail(ErrFormat, ErrShapeOverflow, -1, "%d bytes overflow when padded", t.Size)
		}
		expected += padded // ≤ len(data) + alignment: cannot overflow
	}
	return f, nil
}

// sizeDetail explains a tensorSize failure.
func sizeDetail(err error, typ ggmltype.Type, dims []int64) string {
	switch err {
	case ErrUnknownType:
		return fmt.Sprintf("type id %d is not a ggml type Wick knows", uint32(typ))
	case ErrPartialBlock:
		tr, _ := typ.Info()
		ne0 := int64(1) // a tensor without dims has ne[0] = 1
		if len(dims) > 0 {
			ne0 = dims[0]
		}
		return fmt.Sprintf("ne[0] = %d is not a multiple of the %v block size %d", ne0, typ, tr.BlockSize)
	}
	return fmt.Sprintf("dims %v of %v", dims, typ)
}

// Path returns the path the file was opened from ("" for Parse).
func (f *File) Path() string { return f.path }

// Version returns the file's GGUF version (2 or 3).
func (f *File) Version() uint32 { return f.version }

// Alignment returns the alignment of tensor data (general.alignment, or 32).
func (f *File) Alignment() int { return int(f.alignment) }

// DataOffset returns the file offset where the tensor data section starts.
func (f *File) DataOffset() int64 { return f.dataStart }

// Metadata returns the metadata in file order. The slice is a copy; the
// values share their contents with the File and must not be modified.
func (f *File) Metadata() []KV { return slices.Clone(f.kvs) }

// Lookup returns the value of a metadata key.
func (f *File) Lookup(key string) (Value, bool) {
	i, ok := f.keys[key]
	if !ok {
		return Value{}, false
	}
	return f.kvs[i].Value, true
}

// Tensors returns the tensor infos in file order (which is also the order
// of their data).
func (f *File) Tensors() []TensorInfo { return slices.Clone(f.tensors) }

// Tensor returns the info of the named tensor.
func (f *File) Tensor(name string) (TensorInfo, error) {
	i, ok := f.names[name]
	if !ok {
		e := argErr(name, "", ErrTensorNotFound, "the file has %d tensors", len(f.tensors))
		e.Path = f.path
		return TensorInfo{}, e
	}
	return f.tensors[i], nil
}

// TensorData returns the named tensor's bytes (without padding): a
// zero-copy, read-only view of the mapping, valid until Close.
func (f *File) TensorData(name string) ([]byte, error) {
	t, err := f.Tensor(name)
	if err != nil {
		return nil, err
	}
	if f.closed {
		return nil, argErr(name, "", ErrClosed, "TensorData after Close")
	}
	lo := f.dataStart + t.Offset
	hi := lo + t.Size
	return f.data[lo:hi:hi], nil
}

// Release tells the kernel that the named tensor's bytes will not be read
// again soon, so their pages can leave the resident set (madvise
// MADV_DONTNEED). Views stay valid. A no-op for a file read into memory,
// and off Linux.
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

// Prefetch tells the kernel that the named tensor's bytes will be read soon.
func (f *File) Prefetch(name string) error {
	return f.advise(name, (*mmap.File).Prefetch)
}

func (f *File) advise(name string, fn func(*mmap.File, int, int) error) error {
	t, err := f.Tensor(name)
	if err != nil {
		return err
	}
	if f.closed {
		return argErr(name, "", ErrClosed, "use after Close")
	}
	if f.m == nil {
		return nil
	}
	return fn(f.m, int(f.dataStart+t.Offset), int(t.Size))
}

// Close releases the mapping; views from TensorData must not be used
// afterwards. Metadata values stay valid.
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
