package convert

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/wick-ml/wick/convert/decode"
	"github.com/wick-ml/wick/io/gguf"
	"github.com/wick-ml/wick/io/safetensors"
	"github.com/wick-ml/wick/quant"
)

// Imatrix gives the importance-matrix weights of one tensor: one per
// column, or n_expert × columns for 3-D expert tensors (expert-major).
type Imatrix interface {
	Values(name string) ([]float32, error)
	Close() error
}

// Options tunes Execute. The zero value is ready to use.
type Options struct {
	// Threads is the number of quantization goroutines; ≤ 0 means
	// GOMAXPROCS. The output never depends on it.
	Threads int
	// Overwrite lets the output replace an existing file.
	Overwrite bool
	// Progress, if set, is called with the elements done so far, the total
	// and the index of the tensor being written. It may be called from
	// several goroutines at once.
	Progress func(done, total int64, tensor int)
	// OpenImatrix opens Plan.ImatrixFile; required when the plan has one.
	OpenImatrix func(path string) (Imatrix, error)
	// ChunkElements bounds the rows processed at a time (default 4M
	// elements): memory in flight is a few times this.
	ChunkElements int
}

// TensorReport is what was written for one tensor and how far its values
// moved (against the float32 widening of the source).
type TensorReport struct {
	Name      string  `json:"name"`
	Type      string  `json:"type"`
	Shape     []int64 `json:"shape"`
	Source    string  `json:"source_dtype"`
	Elements  int64   `json:"elements"`
	Bytes     int64   `json:"bytes"`
	RMSE      float64 `json:"rmse"`
	MaxAbsErr float64 `json:"max_abs_err"`
	SumSqErr  float64 `json:"sum_sq_err"`
	SumSq     float64 `json:"sum_sq"`
}

// Report describes a finished conversion.
type Report struct {
	Output   string         `json:"output"`
	Tensors  []TensorReport `json:"tensors"`
	Elements int64          `json:"elements"`
	Bytes    int64          `json:"bytes"` // tensor data bytes
	Seconds  float64        `json:"seconds"`
}

// NonFiniteError reports a NaN or ±Inf weight (the row counts across the
// tensor's sources, in output order).
type NonFiniteError struct {
	Row    int64
	Column int
	Value  float32
	Type   string
}

func (e *NonFiniteError) Error() string {
	return fmt.Sprintf("element %d of row %d is %v; %s needs finite values", e.Column, e.Row, e.Value, e.Type)
}

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

type ggufFile struct{ f *gguf.File }

func (g ggufFile) data(name string) ([]byte, string, []int64, error) {
	info, err := g.f.Tensor(name)
	if err != nil {
		return nil, "", nil, err
	}
	b, err := g.f.TensorData(name)
	return b, info.Type.String(), info.Shape(), err
}
func (g ggufFile) releaseRange(name string, off, n int64) { _ = g.f.ReleaseRange(name, off, n) }
func (g ggufFile) Close() error                           { return g.f.Close() }

// Execute writes the GGUF file the plan describes to out and returns the
// report. The file is written to a temporary file beside out and renamed
// into place on success; on any error or cancellation (ctx) nothing is left
// behind.
func Execute(ctx context.Context, p *Plan, out string, opt Options) (rep *Report, err error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	start := time.Now()
	files := map[string]sourceFile{}
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	open := func(s Source) (sourceFile, error) {
		path := p.path(s.File)
		key := s.Format + ":" + path
		if f, ok := files[key]; ok {
			return f, nil
		}
		var f sourceFile
		if s.Format == "gguf" {
			g, err := gguf.Open(path)
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
		files[key] = f
		return f, nil
	}
	// Open and check every source before writing anything.
	var total int64
	for _, t := range p.Tensors {
		total += elements(t.Shape)
		for _, s := range t.Sources {
			f, err := open(s)
			if err != nil {
				return nil, fmt.Errorf("convert: tensor %q: %w", t.Name, err)
			}
			_, dtype, shape, err := f.data(s.Tensor)
			if err != nil {
				return nil, fmt.Errorf("convert: tensor %q: %w", t.Name, err)
			}
			if dtype != s.DType || !equalShape(shape, s.Shape) {
				return nil, planErr(t.Name, "source %q in %s is %s %v; the plan expects %s %v",
					s.Tensor, s.File, dtype, shape, s.DType, s.Shape)
			}
			if s.Format == "gguf" && dtype != "F32" && dtype != "F16" && dtype != "BF16" {
				return nil, planErr(t.Name, "source %q is %s; only F32, F16 and BF16 GGUF tensors can be converted", s.Tensor, dtype)
			}
			if s.Decode != nil {
				// validated now, before anything is written; made again when
				// the tensor is written, so that no decoder's tables outlive it
				if _, err := newDecoder(s, p, open); err != nil {
					return nil, fmt.Errorf("convert: tensor %q: %w", t.Name, err)
				}
			}
		}
	}
	var im Imatrix
	if p.ImatrixFile != nil {
		if opt.OpenImatrix == nil {
			return nil, planErr("", "the plan names an imatrix file but no reader was given")
		}
		if im, err = opt.OpenImatrix(*p.ImatrixFile); err != nil {
			return nil, err
		}
		defer im.Close()
	}

	wopts := []gguf.WriterOption{gguf.WithContext(ctx)}
	if opt.Overwrite {
		wopts = append(wopts, gguf.Overwrite())
	}
	w, err := gguf.Create(out, wopts...)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			w.Abort()
		}
	}()
	for _, kv := range p.Metadata {
		if err := w.AddKV(kv.Key, kv.Value); err != nil {
			return nil, err
		}
	}
	for _, t := range p.Tensors {
		tr, _ := quant.Lookup(t.Type)
		if err := w.AddTensor(t.Name, tr.Type, t.Shape); err != nil {
			return nil, err
		}
	}

	chunk := opt.ChunkElements
	if chunk <= 0 {
		chunk = 4 << 20
	}
	var done atomic.Int64
	x := &executor{ctx: ctx, opt: opt, chunk: chunk, out: newPipeline(w), im: im, done: &done, total: total}
	defer x.out.stop()
	rep = &Report{Output: out}
	for i, t := range p.Tensors {
		x.tensor = i
		tr, err := x.write(p, t, open)
		if err != nil {
			return nil, err
		}
		rep.Tensors = append(rep.Tensors, tr)
		rep.Elements += tr.Elements
		rep.Bytes += tr.Bytes
	}
	if err := x.out.flush(); err != nil {
		return nil, err
	}
	if err := w.Commit(); err != nil {
		return nil, err
	}
	rep.Seconds = time.Since(start).Seconds()
	return rep, nil
}

func equalShape(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

type executor struct {
	ctx    context.Context
	opt    Options
	chunk  int
	out    *pipeline
	im     Imatrix
	done   *atomic.Int64
	total  int64
	tensor int
	stage  []byte // rows copied in source order (permutations, misaligned data)
	f32    []float32
}

// pipeline writes encoded chunks on its own goroutine, in order, while the
// next chunk is being quantized: two buffers take turns, so a buffer is
// reused only after its bytes were written. Only that goroutine calls the
// GGUF writer's Write.
type pipeline struct {
	jobs    chan []byte
	acks    chan error
	bufs    [2][]byte
	next    int // buffer to fill next
	pending int // chunks sent and not yet acknowledged
	err     error
}

func newPipeline(w *gguf.Writer) *pipeline {
	p := &pipeline{jobs: make(chan []byte, 2), acks: make(chan error, 2)}
	go func() {
		for b := range p.jobs {
			_, err := w.Write(b)
			p.acks <- err
		}
	}()
	return p
}

// wait collects one acknowledgement.
func (p *pipeline) wait() {
	if err := <-p.acks; err != nil && p.err == nil {
		p.err = err
	}
	p.pending--
}

// buffer returns a buffer of n bytes that no pending write uses.
func (p *pipeline) buffer(n int) []byte {
	if p.pending == len(p.bufs) {
		p.wait()
	}
	b := p.bufs[p.next]
	if cap(b) < n {
		b = make([]byte, n)
		p.bufs[p.next] = b
	}
	return b[:n]
}

// send queues the buffer last returned by buffer for writing.
func (p *pipeline) send(b []byte) error {
	if p.err != nil {
		return p.err
	}
	p.jobs <- b
	p.pending++
	p.next = (p.next + 1) % len(p.bufs)
	return nil
}

// flush waits until every queued chunk is written.
func (p *pipeline) flush() error {
	for p.pending > 0 {
		p.wait()
	}
	return p.err
}

// stop ends the writing goroutine (after the queued chunks).
func (p *pipeline) stop() {
	if p.jobs != nil {
		close(p.jobs)
		for p.pending > 0 {
			p.wait()
		}
		p.jobs = nil
	}
}

func (x *executor) cancelled() bool { return x.ctx.Err() != nil }

func (x *executor) progress(n int) {
	d := x.done.Add(int64(n))
	if x.opt.Progress != nil {
		x.opt.Progress(d, x.total, x.tensor)
	}
}

// write quantizes and writes one tensor.
func (x *executor) write(p *Plan, t Tensor, open func(Source) (sourceFile, error)) (TensorReport, error) {
	tr, _ := quant.Lookup(t.Type)
	n0 := int(t.Shape[0])
	rowBytes, _ := tr.RowBytes(n0)
	rep := TensorReport{Name: t.Name, Type: tr.Name, Shape: t.Shape, Elements: elements(t.Shape), Bytes: t.NBytes}
	var stats quant.ErrorStats
	fail := func(err error) (TensorReport, error) {
		if errors.Is(err, quant.ErrCancelled) || x.ctx.Err() != nil {
			return rep, quant.ErrCancelled
		}
		return rep, fmt.Errorf("convert: tensor %q: %w", t.Name, err)
	}

	var imatrix []float32
	if t.Imatrix != nil {
		v, err := x.im.Values(*t.Imatrix)
		if err != nil {
			return fail(err)
		}
		imatrix = v
	}
	// rows of one expert share an imatrix slice; a chunk never straddles two
	expertRows := int64(1) << 62
	if imatrix != nil {
		switch {
		case len(imatrix) == n0:
		case len(t.Shape) == 3 && int64(len(imatrix)) == int64(n0)*t.Shape[2]:
			expertRows = t.Shape[1]
		default:
			return fail(fmt.Errorf("imatrix entry %q has %d values; the tensor needs %d per column row (ne[0] = %d)",
				*t.Imatrix, len(imatrix), n0, n0))
		}
	}
	imFor := func(row int64) []float32 {
		if imatrix == nil {
			return nil
		}
		if len(imatrix) == n0 {
			return imatrix
		}
		e := row / expertRows
		return imatrix[e*int64(n0) : (e+1)*int64(n0)]
	}
	permute := 0
	for _, tf := range t.Transforms {
		if tf.Op == "permute_qk" {
			permute = tf.NHead
		}
	}

	maxRows := max(1, x.chunk/n0)
	encode := func(in quant.Input, firstRow int64) error {
		rows := in.Len() / n0
		buf := x.out.buffer(rows * rowBytes)
		opt := quant.Options{Threads: x.opt.Threads, Imatrix: imFor(firstRow), Stats: &stats,
			Cancelled: x.cancelled, Progress: x.progress}
		if _, err := quant.Quantize(tr.Type, buf, in, n0, opt); err != nil {
			var nf *quant.NonFiniteError
			if errors.As(err, &nf) {
				return &NonFiniteError{Row: firstRow + int64(nf.Row), Column: nf.Column, Value: nf.Value, Type: tr.Name}
			}
			return err
		}
		return x.out.send(buf)
	}

	var outRow int64
	if t.Data != nil {
		vals := make([]float32, len(t.Data.Base64)/4)
		for i := range vals {
			vals[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.Data.Base64[4*i:]))
		}
		rep.Source = "F32"
		for r := 0; r < len(vals)/n0; r += maxRows {
			hi := min(len(vals)/n0, r+maxRows)
			if err := encode(quant.F32Input(vals[r*n0:hi*n0]), int64(r)); err != nil {
				return fail(err)
			}
		}
	}
	for _, s := range t.Sources {
		if s.Decode != nil {
			n, err := x.writeDecoded(p, s, open, outRow, maxRows, expertRows, permute, encode)
			if err != nil {
				return fail(err)
			}
			rep.Source = s.DType
			outRow += n
			continue
		}
		f, err := open(s)
		if err != nil {
			return fail(err)
		}
		data, dtype, _, err := f.data(s.Tensor)
		if err != nil {
			return fail(err)
		}
		rep.Source = dtype
		size := elemSize(dtype)
		if size == 0 {
			return fail(fmt.Errorf("source %q has dtype %s, which has no float32 conversion", s.Tensor, dtype))
		}
		rows := int64(len(data)) / int64(size*n0)
		heads := permute
		for r := int64(0); r < rows; {
			hi := min(rows, r+int64(maxRows))
			if e := (outRow + r) / expertRows; (outRow+hi-1)/expertRows != e {
				hi = (e+1)*expertRows - outRow
			}
			var rowBytesIn = int64(size * n0)
			var chunk []byte
			if heads > 0 {
				chunk = x.permuted(data, r, hi, rows, heads, int(rowBytesIn))
			} else {
				chunk = data[r*rowBytesIn : hi*rowBytesIn]
			}
			in, err := x.input(chunk, dtype)
			if err != nil {
				return fail(err)
			}
			if err := encode(in, outRow+r); err != nil {
				return fail(err)
			}
			if heads == 0 {
				f.releaseRange(s.Tensor, r*rowBytesIn, (hi-r)*rowBytesIn)
			}
			r = hi
		}
		if heads > 0 {
			f.releaseRange(s.Tensor, 0, int64(len(data)))
		}
		outRow += rows
	}
	rep.RMSE = stats.RMSE()
	rep.MaxAbsErr = stats.MaxAbs
	rep.SumSqErr = stats.SumSqErr
	rep.SumSq = stats.SumSq
	return rep, nil
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

// permuted copies rows [lo, hi) of the output order into x.stage: output
// row r of a matrix of `rows` rows in `heads` heads of D rows comes from
// source row h·D + (k%2)·D/2 + k/2, with h = r/D, k = r%D (Hugging Face's
// rotate-half layout to ggml's interleaved pairs).
func (x *executor) permuted(data []byte, lo, hi, rows int64, heads, rowBytes int) []byte {
	d := rows / int64(heads)
	need := int(hi-lo) * rowBytes
	if cap(x.stage) < need {
		x.stage = make([]byte, need)
	}
	buf := x.stage[:need]
	for r := lo; r < hi; r++ {
		h, k := r/d, r%d
		src := h*d + (k%2)*(d/2) + k/2
		copy(buf[int(r-lo)*rowBytes:], data[src*int64(rowBytes):(src+1)*int64(rowBytes)])
	}
	return buf
}

// input views chunk (little-endian values of dtype) as quant input: in
// place for F32, F16 and BF16 when aligned, else converted to float32.
func (x *executor) input(chunk []byte, dtype string) (quant.Input, error) {
	aligned := func(a uintptr) bool { return len(chunk) == 0 || uintptr(unsafe.Pointer(&chunk[0]))%a == 0 }
	switch {
	case dtype == "F32" && aligned(4):
		return quant.F32Input(unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(chunk))), len(chunk)/4)), nil
	case dtype == "F16" && aligned(2):
		return quant.F16Input(unsafe.Slice((*uint16)(unsafe.Pointer(unsafe.SliceData(chunk))), len(chunk)/2)), nil
	case dtype == "BF16" && aligned(2):
		return quant.BF16Input(unsafe.Slice((*uint16)(unsafe.Pointer(unsafe.SliceData(chunk))), len(chunk)/2)), nil
	}
	d, ok := safetensors.ParseDType(dtype)
	if !ok {
		return quant.Input{}, fmt.Errorf("unknown source dtype %s", dtype)
	}
	n := len(chunk) / elemSize(dtype)
	if cap(x.f32) < n {
		x.f32 = make([]float32, n)
	}
	if _, err := safetensors.DecodeFloat32(x.f32[:n], chunk, d); err != nil {
		return quant.Input{}, err
	}
	return quant.F32Input(x.f32[:n]), nil
}

// newDecoder opens a decoded source's main and auxiliary tensors and makes
// its decoder (package decode validates everything).
func newDecoder(s Source, p *Plan, open func(Source) (sourceFile, error)) (any, error) {
	tensor := func(file, name string) (decode.Tensor, error) {
		f, err := open(Source{File: file, Tensor: name})
		if err != nil {
			return decode.Tensor{}, err
		}
		data, dtype, shape, err := f.data(name)
		if err != nil {
			return decode.Tensor{}, err
		}
		return decode.Tensor{Name: name, File: file, DType: dtype, Shape: shape, Data: data}, nil
	}
	main, err := tensor(s.File, s.Tensor)
	if err != nil {
		return nil, err
	}
	aux := map[string]decode.Tensor{}
	for role, r := range s.Decode.Aux {
		if aux[role], err = tensor(r.File, r.Tensor); err != nil {
			return nil, err
		}
	}
	return decode.New(*s.Decode, main, aux)
}

// writeDecoded encodes the rows of a decoded source (in the q/k permuted
// order when heads > 0) and returns how many rows it wrote.
func (x *executor) writeDecoded(p *Plan, s Source, open func(Source) (sourceFile, error), outRow int64, maxRows int,
	expertRows int64, heads int, encode func(quant.Input, int64) error) (int64, error) {
	d, err := newDecoder(s, p, open)
	if err != nil {
		return 0, err
	}
	shape := s.Decode.Shape
	n0 := shape[len(shape)-1]
	total := elements(shape) / n0
	if raw, ok := d.(decode.RawRows); ok && s.Decode.Output != "" {
		return total, x.writeRaw(raw, total, n0, maxRows, heads)
	}
	rows, ok := d.(decode.Rows)
	if !ok {
		return 0, fmt.Errorf("source %q: no float decoder", s.Tensor)
	}
	for r := int64(0); r < total; {
		hi := min(total, r+int64(maxRows))
		if e := (outRow + r) / expertRows; (outRow+hi-1)/expertRows != e {
			hi = (e+1)*expertRows - outRow
		}
		need := int((hi - r) * n0)
		if cap(x.f32) < need {
			x.f32 = make([]float32, need)
		}
		buf := x.f32[:need]
		if heads > 0 {
			dh := total / int64(heads)
			for k := r; k < hi; k++ {
				h, j := k/dh, k%dh
				src := h*dh + (j%2)*(dh/2) + j/2
				if err := rows.ReadRows(buf[(k-r)*n0:(k-r+1)*n0], src, src+1); err != nil {
					return 0, err
				}
			}
		} else if err := rows.ReadRows(buf, r, hi); err != nil {
			return 0, err
		}
		if err := encode(quant.F32Input(buf), outRow+r); err != nil {
			return 0, err
		}
		r = hi
	}
	return total, nil
}

// writeRaw copies already-encoded rows (a lossless pass-through) to the
// output, in the q/k permuted order when heads > 0.
func (x *executor) writeRaw(raw decode.RawRows, total, n0 int64, maxRows, heads int) error {
	rb := int64(raw.RowBytes())
	for r := int64(0); r < total; {
		hi := min(total, r+int64(maxRows))
		buf := x.out.buffer(int((hi - r) * rb))
		if heads > 0 {
			dh := total / int64(heads)
			for k := r; k < hi; k++ {
				h, j := k/dh, k%dh
				src := h*dh + (j%2)*(dh/2) + j/2
				if err := raw.ReadRawRows(buf[(k-r)*rb:(k-r+1)*rb], src, src+1); err != nil {
					return err
				}
			}
		} else if err := raw.ReadRawRows(buf, r, hi); err != nil {
			return err
		}
		if err := x.out.send(buf); err != nil {
			return err
		}
		x.progress(int((hi - r) * n0))
		if x.cancelled() {
			return quant.ErrCancelled
		}
		r = hi
	}
	return nil
}
