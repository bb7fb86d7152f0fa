package convert

import (
	"fmt"
	"slices"
	"unsafe"

	"github.com/wick-ml/wick/convert/decode"
	"github.com/wick-ml/wick/internal/parallel"
	"github.com/wick-ml/wick/io/gguf"
	"github.com/wick-ml/wick/io/safetensors"
)

// sourceFile is an open input file of either format.
type sourceFile interface {
	data(tensor string) ([]byte, string, []int64, error) // bytes, dtype, row-major shape
	releaseRange(tensor string, off, n int64)
	Close() error
}

type stFile struct{ f *safetensors.File }

func (s stFile) data(name string) ([]byte, string, []int64, error) {
	info, err := s.f.Tensor(name)
	if err != nil {
		return nil, "", nil, err
	}
	b, err := s.f.Data(name)
	return b, info.DType.String(), info.Shape, err
}
func (s stFile) releaseRange(name string, off, n int64) { _ = s.f.ReleaseRange(name, off, n) }
func (s stFile) Close() error                           { return s.f.Close() }

type ggufFile struct{ f *gguf.Model }

func (g ggufFile) data(name string) ([]byte, string, []int64, error) {
	info, _, err := g.f.Tensor(name)
	if err != nil {
		return nil, "", nil, err
	}
	b, err := g.f.TensorData(name)
	return b, info.Type.String(), info.Shape(), err
}
func (g ggufFile) releaseRange(name string, off, n int64) { _ = g.f.ReleaseRange(name, off, n) }
func (g ggufFile) Close() error                           { return g.f.Close() }

// rowSource gives a source tensor's values as windows of its 2-D flattening
// [rows, cols] (cols = the last dimension of its logical shape).
type rowSource interface {
	// dtype is the element encoding read returns: the stored dtype of a
	// plain source, F32 for a decoded one.
	dtype() string
	// read returns the window's elements, rows of (w.c1-w.c0) elements.
	// The result may alias the mapped file or *buf (grown as needed); it is
	// valid until the next read.
	read(w window, buf *[]byte) ([]byte, error)
	// release tells the source that rows [r0, r1) are no longer needed.
	release(r0, r1 int64)
	// done releases everything the source read.
	done()
}

// plainSource is a stored tensor whose elements convert to float32 one by
// one (F32, F16, BF16 and the other safetensors number types).
type plainSource struct {
	f    sourceFile
	name string
	dt   string
	data []byte
	size int   // bytes per element
	cols int64 // last dimension
}

func (s *plainSource) dtype() string { return s.dt }

func (s *plainSource) read(w window, buf *[]byte) ([]byte, error) {
	rb := s.cols * int64(s.size)
	if w.c0 == 0 && w.c1 == s.cols {
		return s.data[w.r0*rb : w.r1*rb], nil
	}
	wb := (w.c1 - w.c0) * int64(s.size)
	out := grow(buf, int((w.r1-w.r0)*wb))
	for r := w.r0; r < w.r1; r++ {
		copy(out[(r-w.r0)*wb:], s.data[r*rb+w.c0*int64(s.size):r*rb+w.c1*int64(s.size)])
	}
	return out, nil
}

func (s *plainSource) release(r0, r1 int64) {
	rb := s.cols * int64(s.size)
	s.f.releaseRange(s.name, r0*rb, (r1-r0)*rb)
}

func (s *plainSource) done() { s.f.releaseRange(s.name, 0, int64(len(s.data))) }

// decodedSource is a quantized checkpoint tensor read through a decoder.
type decodedSource struct {
	rows decode.Rows
	cols int64
	drop func() // releases the stored tensors' pages
	// dropRows, if set, releases the pages of the main tensor that rows
	// [r0, r1) are read from (decode.MainRows)
	dropRows func(r0, r1 int64)
	f32      []float32
	threads  int // goroutines a read decodes on
}

func (s *decodedSource) dtype() string { return "F32" }

// decodeRowsPer is the least work a goroutine of a parallel read takes, in
// elements.
const decodeRowsPer = 1 << 16

func (s *decodedSource) read(w window, buf *[]byte) ([]byte, error) {
	n := int((w.r1 - w.r0) * s.cols)
	whole := w.c0 == 0 && w.c1 == s.cols
	var vals []float32
	if out := grow(buf, 4*n); whole && (n == 0 || uintptr(unsafe.Pointer(&out[0]))%4 == 0) {
		// straight into the caller's buffer, which lives across tensors
		vals = unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(out))), n)
	} else {
		if cap(s.f32) < n {
			s.f32 = make([]float32, n)
		}
		vals = s.f32[:n]
	}
	if err := s.decode(vals, w.r0, w.r1); err != nil {
		return nil, err
	}
	all := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(vals))), 4*n)
	if whole {
		return all, nil
	}
	wb := (w.c1 - w.c0) * 4
	out := grow(buf, int((w.r1-w.r0)*wb))
	for r := int64(0); r < w.r1-w.r0; r++ {
		copy(out[r*wb:], all[(r*s.cols+w.c0)*4:(r*s.cols+w.c1)*4])
	}
	return out, nil
}

// decode reads rows [r0, r1) into vals, split across s.threads goroutines
// (the decoders allow concurrent reads; the values do not depend on the
// split).
func (s *decodedSource) decode(vals []float32, r0, r1 int64) error {
	per := max(1, decodeRowsPer/int(s.cols))
	if s.threads <= 1 || int(r1-r0) < 2*per {
		return s.rows.ReadRows(vals, r0, r1)
	}
	per = max(per, int(r1-r0+int64(4*s.threads)-1)/(4*s.threads))
	c := int(s.cols)
	return parallel.Run(int(r1-r0), per, parallel.Options{Threads: s.threads}, func(lo, hi int, _ *[]float32) error {
		return s.rows.ReadRows(vals[lo*c:hi*c], r0+int64(lo), r0+int64(hi))
	})
}

func (s *decodedSource) release(r0, r1 int64) {
	if s.dropRows != nil {
		s.dropRows(r0, r1)
	}
}
func (s *decodedSource) done() { s.drop() }

func grow(buf *[]byte, n int) []byte {
	if cap(*buf) < n {
		*buf = make([]byte, n)
	}
	return (*buf)[:n]
}

// sources opens the files of a plan's sources (each once) and checks each
// source against what the plan expects.
type sources struct {
	p     *Plan
	files map[string]sourceFile
	// threads is the number of goroutines decoded sources read on (≤ 1:
	// the calling one)
	threads int
}

func (ss *sources) close() {
	for _, f := range ss.files {
		f.Close()
	}
}

func (ss *sources) file(format, name string) (sourceFile, error) {
	path := ss.p.path(name)
	key := format + ":" + path
	if f, ok := ss.files[key]; ok {
		return f, nil
	}
	var f sourceFile
	if format == "gguf" {
		g, err := gguf.OpenModel(path) // all parts of a split model
		if err != nil {
			return nil, err
		}
		f = ggufFile{g}
	} else {
		st, err := safetensors.Open(path)
		if err != nil {
			return nil, err
		}
		f = stFile{st}
	}
	ss.files[key] = f
	return f, nil
}

// stored returns a stored tensor's bytes after checking its dtype and shape.
func (ss *sources) stored(format, file, tensor, dtype string, shape []int64) (sourceFile, []byte, error) {
	f, err := ss.file(format, file)
	if err != nil {
		return nil, nil, err
	}
	data, dt, sh, err := f.data(tensor)
	if err != nil {
		return nil, nil, err
	}
	if dt != dtype || !slices.Equal(sh, shape) {
		return nil, nil, planErr("", "source %q in %s is %s %v; the plan expects %s %v", tensor, file, dt, sh, dtype, shape)
	}
	return f, data, nil
}

// open returns the row source of s: its stored bytes viewed as elements,
// or its decoder. A pass-through source (Decode.Output set) is opened with
// openRaw instead.
func (ss *sources) open(s Source) (rowSource, error) {
	f, data, err := ss.stored(s.Format, s.File, s.Tensor, s.DType, s.Shape)
	if err != nil {
		return nil, err
	}
	if s.Decode == nil {
		if s.Format == "gguf" && s.DType != "F32" && s.DType != "F16" && s.DType != "BF16" {
			return nil, planErr("", "source %q is %s; only F32, F16 and BF16 GGUF tensors can be converted", s.Tensor, s.DType)
		}
		size := elemSize(s.DType)
		if size == 0 {
			return nil, planErr("", "source %q has dtype %s, which has no float32 conversion", s.Tensor, s.DType)
		}
		return &plainSource{f: f, name: s.Tensor, dt: s.DType, data: data, size: size, cols: s.Shape[len(s.Shape)-1]}, nil
	}
	dec, release, err := ss.decoder(s, data)
	if err != nil {
		return nil, err
	}
	rows, ok := dec.(decode.Rows)
	if !ok {
		return nil, planErr("", "source %q: decode method %s yields encoded blocks, not values", s.Tensor, s.Decode.Method)
	}
	ds := &decodedSource{rows: rows, cols: s.Decode.Shape[len(s.Decode.Shape)-1], drop: release, threads: ss.threads}
	if m, ok := dec.(decode.MainRows); ok {
		ds.dropRows = func(r0, r1 int64) {
			off, n := m.MainRange(r0, r1)
			f.releaseRange(s.Tensor, off, n)
		}
	}
	return ds, nil
}

// openRaw returns the encoded rows of a pass-through source.
func (ss *sources) openRaw(s Source) (decode.RawRows, func(), error) {
	_, data, err := ss.stored(s.Format, s.File, s.Tensor, s.DType, s.Shape)
	if err != nil {
		return nil, nil, err
	}
	dec, release, err := ss.decoder(s, data)
	if err != nil {
		return nil, nil, err
	}
	raw, ok := dec.(decode.RawRows)
	if !ok {
		return nil, nil, planErr("", "source %q: decode method %s yields values, not %s blocks", s.Tensor, s.Decode.Method, s.Decode.Output)
	}
	return raw, release, nil
}

// decoder opens the auxiliary tensors of a decoded source and builds its
// decoder; release drops the pages of every stored tensor it reads.
func (ss *sources) decoder(s Source, data []byte) (any, func(), error) {
	main := decode.Tensor{Name: s.Tensor, File: s.File, DType: s.DType, Shape: s.Shape, Data: data}
	aux := map[string]decode.Tensor{}
	type page struct {
		f    sourceFile
		name string
		n    int64
	}
	f, _ := ss.file(s.Format, s.File)
	pages := []page{{f, s.Tensor, int64(len(data))}}
	for role, ref := range s.Decode.Aux {
		af, ad, err := ss.stored("safetensors", ref.File, ref.Tensor, ref.DType, ref.Shape)
		if err != nil {
			return nil, nil, fmt.Errorf("%s of %q: %w", role, s.Tensor, err)
		}
		aux[role] = decode.Tensor{Name: ref.Tensor, File: ref.File, DType: ref.DType, Shape: ref.Shape, Data: ad}
		pages = append(pages, page{af, ref.Tensor, int64(len(ad))})
	}
	dec, err := decode.New(*s.Decode, main, aux)
	if err != nil {
		return nil, nil, err
	}
	release := func() {
		for _, pg := range pages {
			pg.f.releaseRange(pg.name, 0, pg.n)
		}
	}
	return dec, release, nil
}

// elemSize is the byte size of one element of a source dtype that converts
// to float32 (whole bytes: not the packed sub-byte formats), or 0.
func elemSize(dtype string) int {
	d, ok := safetensors.ParseDType(dtype)
	if !ok || !d.CanDecode() || d.Bits()%8 != 0 {
		return 0
	}
	return d.Bits() / 8
}
