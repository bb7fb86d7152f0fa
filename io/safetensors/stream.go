package safetensors

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"sync/atomic"

	"github.com/wick-ml/wick/io/internal/atomicfile"
)

// TensorHeader describes a tensor of a file before its data exists.
type TensorHeader struct {
	Name  string
	DType DType
	Shape []int64 // row-major; nil or empty for a scalar
}

// StreamWriter writes a safetensors file whose header is known before its
// data: the header goes out first, built from the planned names, dtypes and
// shapes, then the tensors' bytes, in header order, in as many Write calls
// as the caller likes. It holds no tensor data. Create one with
// CreateStream (an atomic file) or NewStreamWriter (any io.Writer).
type StreamWriter struct {
	dst     io.Writer
	file    *atomicfile.File // nil for NewStreamWriter
	bw      *bufio.Writer
	heads   []TensorHeader
	sizes   []int64
	cur     int   // tensor being written
	left    int64 // bytes still owed to tensor cur
	written int64 // tensor data bytes written
	total   int64
	err     error // sticky
	header  int64 // bytes before the tensor data: 8 + the header's length
	at      *DataWriter
}

// NewStreamWriter validates the tensor descriptions (as Write does) and
// writes the header of a safetensors file holding them, in the order given,
// with the optional metadata, to w. The tensors' bytes follow through Write;
// Close checks that all of them came.
func NewStreamWriter(w io.Writer, tensors []TensorHeader, metadata map[string]string) (*StreamWriter, error) {
	header, sizes, err := encodeHeader(tensors, metadata)
	if err != nil {
		return nil, err
	}
	s := &StreamWriter{dst: w, bw: bufio.NewWriterSize(w, 1<<20), heads: tensors, sizes: sizes, header: 8 + int64(len(header))}
	for _, n := range sizes {
		s.total += n
	}
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(header)))
	s.bw.Write(n[:])
	if _, err := s.bw.Write(header); err != nil {
		return nil, err
	}
	if len(sizes) > 0 {
		s.left = sizes[0]
	}
	s.advance()
	return s, nil
}

// CreateStream starts the safetensors file path (see NewStreamWriter) as an
// atomic file: it appears at path only when Commit succeeds, and Abort (or
// any failed Commit) leaves nothing behind. It refuses to replace an
// existing file unless overwrite is set.
func CreateStream(path string, tensors []TensorHeader, metadata map[string]string, overwrite bool) (*StreamWriter, error) {
	if _, _, err := encodeHeader(tensors, metadata); err != nil {
		return nil, err
	}
	a, err := atomicfile.Create(path, overwrite)
	if err != nil {
		return nil, err
	}
	s, err := NewStreamWriter(a, tensors, metadata)
	if err != nil {
		a.Abort()
		return nil, err
	}
	s.file = a
	return s, nil
}

// advance moves past the tensors that are complete (and empty ones).
func (s *StreamWriter) advance() {
	for s.left == 0 && s.cur < len(s.heads) {
		s.cur++
		if s.cur < len(s.heads) {
			s.left = s.sizes[s.cur]
		}
	}
}

// DataWriter writes a StreamWriter's tensor data by position: for
// callers that fill the tensors out of order, from several goroutines.
type DataWriter struct {
	s       *StreamWriter
	written atomic.Int64
}

// DataWriter switches a writer made by CreateStream to positional writes:
// the header is written out now and the file's whole size reserved
// (fallocate where the system has it), and the tensor data comes through
// the returned DataWriter's WriteAt instead of Write (which fails from now
// on). Commit then checks that the byte count matches the header.
func (s *StreamWriter) DataWriter() (*DataWriter, error) {
	if s.err != nil {
		return nil, s.err
	}
	if s.file == nil || s.written != 0 || s.at != nil {
		return nil, fmt.Errorf("safetensors: DataWriter needs a StreamWriter made by CreateStream, before any Write")
	}
	if err := s.bw.Flush(); err != nil {
		s.err = err
		return nil, err
	}
	s.file.Preallocate(s.header + s.total)
	s.at = &DataWriter{s: s}
	return s.at, nil
}

// CopyAt copies n bytes of src from srcOff to offset off of the tensor
// data inside the kernel (copy_file_range on Linux), as WriteAt would write
// them. It reports false, having written nothing, where the system cannot
// copy so; the caller then writes the bytes with WriteAt.
func (d *DataWriter) CopyAt(src *os.File, srcOff, n, off int64) (bool, error) {
	s := d.s
	if off < 0 || off > s.total || n > s.total-off {
		return false, argErr("", s.lastName(), ErrSizeMismatch, "%d bytes at offset %d: past the %d bytes of tensor data the header announced",
			n, off, s.total)
	}
	ok, err := s.file.CopyFrom(src, srcOff, n, s.header+off)
	if ok && err == nil {
		d.written.Add(n)
	}
	return ok, err
}

// StartWriteback asks the system to start writing the data bytes [off,
// off+n) to disk now, without waiting, so that the sync at Commit has less
// left to do (a no-op where the system has no such call). It may be called
// from several goroutines at once.
func (d *DataWriter) StartWriteback(off, n int64) {
	d.s.file.StartWriteback(d.s.header+off, n)
}

// Offsets returns the start of each tensor's bytes within the data (the
// offset WriteAt takes), in header order.
func (s *StreamWriter) Offsets() []int64 {
	offs := make([]int64, len(s.sizes))
	var o int64
	for i, n := range s.sizes {
		offs[i] = o
		o += n
	}
	return offs
}

// WriteAt writes p at offset off of the tensor data (0 is the first byte
// of the first tensor). Each byte must be written exactly once; writing
// past the announced data is an error (ErrSizeMismatch). WriteAt may be
// called from several goroutines at once.
func (d *DataWriter) WriteAt(p []byte, off int64) (int, error) {
	s := d.s
	if off < 0 || off > s.total || int64(len(p)) > s.total-off {
		return 0, argErr("", s.lastName(), ErrSizeMismatch, "%d bytes at offset %d: past the %d bytes of tensor data the header announced",
			len(p), off, s.total)
	}
	n, err := s.file.WriteAt(p, s.header+off)
	d.written.Add(int64(n))
	return n, err
}

// Sizes returns the byte size of each tensor, in header order.
func (s *StreamWriter) Sizes() []int64 { return append([]int64(nil), s.sizes...) }

// Next returns the index of the tensor the next Write continues (len of the
// tensor list once all data is written) and the bytes it still needs.
func (s *StreamWriter) Next() (tensor int, left int64) { return s.cur, s.left }

// Write appends tensor data: the bytes of the tensors in header order, with
// no padding between them. Writing more than the header announced is an
// error (ErrSizeMismatch naming the file's last tensor).
func (s *StreamWriter) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if s.at != nil {
		return 0, fmt.Errorf("safetensors: Write after DataWriter")
	}
	if int64(len(p)) > s.total-s.written {
		s.err = argErr("", s.lastName(), ErrSizeMismatch, "%d bytes written past the %d bytes of tensor data the header announced",
			int64(len(p))-(s.total-s.written), s.total)
		return 0, s.err
	}
	n, err := s.bw.Write(p)
	s.written += int64(n)
	for k := int64(n); k > 0; {
		step := min(k, s.left)
		s.left -= step
		k -= step
		s.advance()
	}
	if err != nil {
		s.err = err
	}
	return n, err
}

func (s *StreamWriter) lastName() string {
	if len(s.heads) == 0 {
		return ""
	}
	return s.heads[len(s.heads)-1].Name
}

// Close flushes the data and checks that every tensor got all its bytes.
// For a writer made by CreateStream use Commit or Abort instead.
func (s *StreamWriter) Close() error {
	if s.err != nil {
		return s.err
	}
	if s.at != nil {
		if w := s.at.written.Load(); w != s.total {
			s.err = argErr("", s.lastName(), ErrSizeMismatch, "%d bytes of tensor data written by position, %d announced", w, s.total)
			return s.err
		}
		return nil
	}
	if s.written != s.total {
		h := s.heads[s.cur]
		s.err = argErr("", h.Name, ErrSizeMismatch, "%d of its %d bytes missing (%d bytes of tensor data written, %d announced)",
			s.left, s.sizes[s.cur], s.written, s.total)
		return s.err
	}
	if err := s.bw.Flush(); err != nil {
		s.err = err
		return err
	}
	return nil
}

// Commit checks and flushes the data (see Close) and puts the file in place
// (atomicfile's Commit). On any error the file is abandoned.
func (s *StreamWriter) Commit() error {
	if s.file == nil {
		return fmt.Errorf("safetensors: Commit on a StreamWriter not made by CreateStream")
	}
	if err := s.Close(); err != nil {
		s.file.Abort()
		return err
	}
	return s.file.Commit()
}

// Abort abandons a file made by CreateStream; a no-op after Commit.
func (s *StreamWriter) Abort() {
	if s.file != nil {
		s.file.Abort()
	}
	if s.err == nil {
		s.err = fmt.Errorf("safetensors: stream aborted")
	}
}
