package gguf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"unicode/utf8"

	"github.com/wick-ml/wick/io/internal/atomicfile"
	"github.com/wick-ml/wick/quant/ggmltype"
)

// Writer writes a GGUF file as a stream. Declare everything first — AddKV
// for the metadata, AddTensor for every tensor (name, type, dims) so that
// all offsets are known — then write each tensor's data in declaration
// order with WriteTensorData or Write, then Commit. The header goes out
// with the first data; the Writer holds no tensor data beyond its write
// buffer.
//
// A Writer from Create writes to a temporary file beside the destination
// (on Linux an unnamed one: nothing is left even if the process is killed)
// and puts it in place on Commit (after syncing file and directory); on any
// failure, on Abort, or when its context is done, it drops the temporary
// file. After an error every method returns that error. With WithSplit it
// writes a split model, several files that appear together.
//
// Files are little-endian GGUF v3, laid out as ggml and gguf-py lay them
// out: KVs and tensor infos in insertion order, dims exactly as given,
// data padded with zeros to the alignment after every tensor (the last
// included). A Writer is not safe for concurrent use.
type Writer struct {
	sink      sink
	bw        *bufio.Writer
	o         writerOptions
	kvs       []KV
	keys      map[string]bool
	tensors   []TensorInfo
	names     map[string]int // tensor name → index in tensors
	alignment int64
	header    bool        // header written
	split     *splitState // nil: a single file (see WithSplit)
	cur       int         // index of the tensor being written
	written   int64       // bytes of tensors[cur] written so far
	err       error       // sticky
}

// sink is where the bytes go: an atomic file or a caller's io.Writer.
type sink interface {
	io.Writer
	Commit() error
	Abort() error
}

type plainSink struct{ io.Writer }

func (plainSink) Commit() error { return nil }
func (plainSink) Abort() error  { return nil }

// Create starts writing a GGUF file at path (see Writer). Without the
// Overwrite option it fails with an error matching fs.ErrExist if path
// exists.
func Create(path string, opts ...WriterOption) (*Writer, error) {
	o, err := applyWriterOptions(opts)
	if err != nil {
		return nil, err
	}
	if err := o.ctx.Err(); err != nil {
		return nil, err
	}
	if o.split != nil { // the parts are created with the header
		s := &splitSink{prefix: path, overwrite: o.overwrite}
		w := newWriter(s, o)
		w.split = &splitState{limits: *o.split, sink: s}
		return w, nil
	}
	a, err := atomicfile.Create(path, o.overwrite)
	if err != nil {
		return nil, err
	}
	return newWriter(a, o), nil
}

// NewWriter writes a GGUF stream to w (see Writer): Commit flushes, Abort
// stops writing. Nothing is removed on failure; that is w's owner's job.
// The Overwrite option has no effect.
func NewWriter(w io.Writer, opts ...WriterOption) (*Writer, error) {
	o, err := applyWriterOptions(opts)
	if err != nil {
		return nil, err
	}
	if o.split != nil {
		return nil, argErr("", "", ErrInvalidOption, "WithSplit needs Create: a split model is several files")
	}
	return newWriter(plainSink{w}, o), nil
}

func newWriter(s sink, o writerOptions) *Writer {
	return &Writer{
		sink: s, bw: bufio.NewWriterSize(s, o.bufSize), o: o,
		keys: map[string]bool{}, names: map[string]int{}, alignment: DefaultAlignment,
	}
}

// check returns the sticky error, or aborts on a done context.
func (w *Writer) check() error {
	if w.err != nil {
		return w.err
	}
	if err := w.o.ctx.Err(); err != nil {
		return w.fail(err)
	}
	return nil
}

// fail aborts the output and makes err sticky.
func (w *Writer) fail(err error) error {
	if w.err == nil {
		w.err = err
		w.sink.Abort()
	}
	return err
}

// AddKV appends a metadata key-value pair. Keys must be non-empty, valid
// UTF-8 and unique. general.alignment must be a UINT32 power of two; it sets
// the alignment of the data.
func (w *Writer) AddKV(key string, v Value) error {
	if err := w.check(); err != nil {
		return err
	}
	if w.header {
		return argErr("", key, ErrHeaderWritten, "AddKV after tensor data")
	}
	if key == "" || !utf8.ValidString(key) {
		return argErr("", key, ErrInvalidKey, "keys must be non-empty UTF-8")
	}
	if w.keys[key] {
		return argErr("", key, ErrDuplicateKey, "already added")
	}
	if err := w.checkValue(key, v, 1); err != nil {
		return err
	}
	if key == KeyAlignment {
		a, ok := As[uint32](v)
		if !ok || a == 0 || a&(a-1) != 0 {
			return argErr("", key, ErrBadAlignment, "%v %v; need a UINT32 non-zero power of two", v.Type(), v)
		}
		w.alignment = int64(a)
	}
	w.keys[key] = true
	w.kvs = append(w.kvs, KV{Key: key, Value: v})
	return nil
}

func (w *Writer) checkValue(key string, v Value, depth int) error {
	if !v.IsValid() {
		return argErr("", key, ErrInvalidValue, "the zero Value")
	}
	if v.Type() != TypeArray || v.ElemType() != TypeArray {
		return nil
	}
	if !w.o.nested {
		return argErr("", key, ErrInvalidValue, "array of arrays (ggml rejects them; see AllowNestedArrays)")
	}
	for i, e := range v.v.([]Value) {
		if e.Type() != TypeArray || !e.IsValid() {
			return argErr("", key, ErrInvalidValue, "element %d of an array of arrays is %v, not an array", i, e.Type())
		}
		if err := w.checkValue(key, e, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// AddTensor declares a tensor: its name (UTF-8, at most 63 bytes, unique), type
// and dims in ggml order (dims[0] is the row length and must be a multiple
// of the type's block size; at most 4 dims, each ≥ 0). Tensors' data must
// then be written in the order they were declared.
func (w *Writer) AddTensor(name string, typ ggmltype.Type, dims []int64) error {
	if err := w.check(); err != nil {
		return err
	}
	if w.header {
		return argErr(name, "", ErrHeaderWritten, "AddTensor after tensor data")
	}
	if len(name) > MaxNameLength {
		return argErr(name, "", ErrNameTooLong, "%d bytes, ggml allows at most %d", len(name), MaxNameLength)
	}
	if !utf8.ValidString(name) {
		return argErr(name, "", ErrInvalidName, "not valid UTF-8")
	}
	if _, dup := w.names[name]; dup {
		return argErr(name, "", ErrDuplicateTensor, "already added")
	}
	if len(dims) > MaxDims {
		return argErr(name, "", ErrTooManyDims, "%d dimensions, at most %d", len(dims), MaxDims)
	}
	for j, d := range dims {
		if d < 0 {
			return argErr(name, "", ErrBadDim, "ne[%d] = %d is negative", j, d)
		}
	}
	_, size, err := tensorSize(typ, dims)
	if err != nil {
		return argErr(name, "", err, "%s", sizeDetail(err, typ, dims))
	}
	w.names[name] = len(w.tensors)
	w.tensors = append(w.tensors, TensorInfo{Name: name, Type: typ, Dims: append([]int64(nil), dims...), Size: size})
	return nil
}

// writeHeader computes offsets and writes magic, counts, KVs, tensor infos
// and the padding before the data section.
func (w *Writer) writeHeader() error {
	if w.split != nil {
		return w.startSplit()
	}
	b, err := encodeHeader(w.kvs, w.tensors, w.alignment)
	if err != nil {
		return w.fail(err)
	}
	w.header = true
	return w.emitHeader(b)
}

// encodeHeader sets the tensors' offsets and encodes magic, counts, KVs and
// tensor infos.
func encodeHeader(kvs []KV, tensors []TensorInfo, alignment int64) ([]byte, error) {
	off := int64(0)
	for i := range tensors {
		tensors[i].Offset = off
		padded, ok := alignUp(tensors[i].Size, alignment)
		if !ok || padded > math.MaxInt64-off {
			return nil, argErr(tensors[i].Name, "", ErrShapeOverflow, "the data section would exceed 2^63 bytes")
		}
		off += padded
	}
	var b []byte
	b = append(b, Magic...)
	b = binary.LittleEndian.AppendUint32(b, Version)
	b = binary.LittleEndian.AppendUint64(b, uint64(len(tensors)))
	b = binary.LittleEndian.AppendUint64(b, uint64(len(kvs)))
	for _, kv := range kvs {
		b = appendString(b, kv.Key)
		b = binary.LittleEndian.AppendUint32(b, uint32(kv.Value.Type()))
		b = appendValue(b, kv.Value)
	}
	for _, t := range tensors {
		b = appendString(b, t.Name)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(t.Dims)))
		for _, d := range t.Dims {
			b = binary.LittleEndian.AppendUint64(b, uint64(d))
		}
		b = binary.LittleEndian.AppendUint32(b, uint32(t.Type))
		b = binary.LittleEndian.AppendUint64(b, uint64(t.Offset))
	}
	return b, nil
}

// emitHeader writes an encoded header and the padding after it.
func (w *Writer) emitHeader(b []byte) error {
	if _, err := w.bw.Write(b); err != nil {
		return w.fail(err)
	}
	if err := w.pad(int64(len(b))); err != nil {
		return err
	}
	w.skipEmpty()
	return nil
}

var zeros [4096]byte

// pad writes zeros from n up to the next multiple of the alignment.
func (w *Writer) pad(n int64) error {
	padded, _ := alignUp(n, w.alignment) // n is a real size: cannot overflow
	for left := padded - n; left > 0; {
		k := min(left, int64(len(zeros)))
		if _, err := w.bw.Write(zeros[:k]); err != nil {
			return w.fail(err)
		}
		left -= k
	}
	return nil
}

// skipEmpty moves past zero-byte tensors, which have no data to write.
func (w *Writer) skipEmpty() {
	for w.cur < len(w.tensors) && w.tensors[w.cur].Size == 0 {
		w.cur++
	}
}

func appendBool(b []byte, x bool) []byte {
	if x {
		return append(b, 1)
	}
	return append(b, 0)
}

func appendString(b []byte, s string) []byte {
	b = binary.LittleEndian.AppendUint64(b, uint64(len(s)))
	return append(b, s...)
}

// appendValue encodes v without its type tag.
func appendValue(b []byte, v Value) []byte {
	le := binary.LittleEndian
	switch x := v.v.(type) {
	case uint8:
		return append(b, x)
	case int8:
		return append(b, byte(x))
	case uint16:
		return le.AppendUint16(b, x)
	case int16:
		return le.AppendUint16(b, uint16(x))
	case uint32:
		return le.AppendUint32(b, x)
	case int32:
		return le.AppendUint32(b, uint32(x))
	case float32:
		return le.AppendUint32(b, math.Float32bits(x))
	case bool:
		return appendBool(b, x)
	case string:
		return appendString(b, x)
	case uint64:
		return le.AppendUint64(b, x)
	case int64:
		return le.AppendUint64(b, uint64(x))
	case float64:
		return le.AppendUint64(b, math.Float64bits(x))
	}
	// An array: element type, count, then the elements untagged.
	b = le.AppendUint32(b, uint32(v.elem))
	b = le.AppendUint64(b, uint64(v.Len()))
	return appendElems(b, v)
}

// appendElems encodes the elements of an array.
func appendElems(b []byte, v Value) []byte {
	le := binary.LittleEndian
	switch x := v.v.(type) {
	case []uint8:
		return append(b, x...)
	case []Value:
		return appendEach(b, x, appendValue)
	case []int8:
		return appendEach(b, x, func(b []byte, e int8) []byte { return append(b, byte(e)) })
	case []uint16:
		return appendEach(b, x, le.AppendUint16)
	case []int16:
		return appendEach(b, x, func(b []byte, e int16) []byte { return le.AppendUint16(b, uint16(e)) })
	case []uint32:
		return appendEach(b, x, le.AppendUint32)
	case []int32:
		return appendEach(b, x, func(b []byte, e int32) []byte { return le.AppendUint32(b, uint32(e)) })
	case []float32:
		return appendEach(b, x, func(b []byte, e float32) []byte { return le.AppendUint32(b, math.Float32bits(e)) })
	case []bool:
		return appendEach(b, x, appendBool)
	case []string:
		return appendEach(b, x, appendString)
	case []uint64:
		return appendEach(b, x, le.AppendUint64)
	case []int64:
		return appendEach(b, x, func(b []byte, e int64) []byte { return le.AppendUint64(b, uint64(e)) })
	case []float64:
		return appendEach(b, x, func(b []byte, e float64) []byte { return le.AppendUint64(b, math.Float64bits(e)) })
	}
	panic(fmt.Sprintf("gguf: unencodable array %T", v.v)) // unreachable: constructors make only the types above
}

func appendEach[T any](b []byte, xs []T, enc func([]byte, T) []byte) []byte {
	for _, x := range xs {
		b = enc(b, x)
	}
	return b
}

// WriteTensorData writes the whole data of the named tensor, which must be
// the next one in declaration order, followed by its padding. len(data)
// must be the tensor's size.
func (w *Writer) WriteTensorData(name string, data []byte) error {
	if err := w.check(); err != nil {
		return err
	}
	if !w.header {
		if err := w.writeHeader(); err != nil {
			return err
		}
	}
	if i, ok := w.names[name]; ok && w.tensors[i].Size == 0 && len(data) == 0 {
		return nil // a zero-byte tensor has no data to write
	}
	if w.cur >= len(w.tensors) {
		return w.fail(argErr(name, "", ErrWrongTensor, "every declared tensor's data is written"))
	}
	t := w.tensors[w.cur]
	if t.Name != name {
		return w.fail(argErr(name, "", ErrWrongTensor, "the next tensor is %q", t.Name))
	}
	if w.written != 0 || int64(len(data)) != t.Size {
		return w.fail(argErr(name, "", ErrSizeMismatch, "%d bytes given (%d already written), the tensor has %d", len(data), w.written, t.Size))
	}
	_, err := w.Write(data)
	return err
}

// Write streams tensor data: bytes fill the declared tensors in order,
// each followed by its padding once complete. Writing more than the
// declared tensors hold fails with ErrSizeMismatch.
func (w *Writer) Write(p []byte) (int, error) {
	if err := w.check(); err != nil {
		return 0, err
	}
	if !w.header {
		if err := w.writeHeader(); err != nil {
			return 0, err
		}
	}
	done := 0
	for len(p) > 0 {
		if w.cur >= len(w.tensors) {
			return done, w.fail(argErr("", "", ErrSizeMismatch, "%d bytes beyond the declared tensors", len(p)))
		}
		t := w.tensors[w.cur]
		n := int(min(int64(len(p)), t.Size-w.written))
		if _, err := w.bw.Write(p[:n]); err != nil {
			return done, w.fail(err)
		}
		done += n
		p = p[n:]
		w.written += int64(n)
		if w.written == t.Size {
			if err := w.pad(t.Size); err != nil {
				return done, err
			}
			w.cur++
			w.written = 0
			w.skipEmpty()
			if err := w.nextParts(); err != nil {
				return done, err
			}
		}
	}
	return done, nil
}

// Next returns the tensor whose data comes next and how many of its bytes
// are already written, or false when all data is written.
func (w *Writer) Next() (TensorInfo, int64, bool) {
	i := w.cur
	if !w.header {
		// Zero-byte tensors at the front are skipped when the header goes out.
		for i < len(w.tensors) && w.tensors[i].Size == 0 {
			i++
		}
	}
	if i >= len(w.tensors) {
		return TensorInfo{}, 0, false
	}
	return w.tensors[i], w.written, true
}

// Commit writes the header if no data was written yet, requires that every
// declared tensor's data was written, flushes, and (for Create) syncs and
// puts the file in place. On failure the temporary file is dropped.
func (w *Writer) Commit() error {
	if err := w.check(); err != nil {
		return err
	}
	if !w.header {
		if err := w.writeHeader(); err != nil {
			return err
		}
	}
	if w.cur < len(w.tensors) {
		t := w.tensors[w.cur]
		return w.fail(argErr(t.Name, "", ErrIncomplete, "%d of its %d bytes written; %d tensors follow", w.written, t.Size, len(w.tensors)-w.cur-1))
	}
	if err := w.bw.Flush(); err != nil {
		return w.fail(err)
	}
	w.err = argErr("", "", ErrClosed, "the Writer was committed")
	return w.sink.Commit()
}

// Abort stops writing and removes the temporary file (for Create). It is a
// no-op after Commit or a failure.
func (w *Writer) Abort() error {
	if w.err != nil {
		return nil
	}
	w.err = argErr("", "", ErrClosed, "the Writer was aborted")
	return w.sink.Abort()
}
