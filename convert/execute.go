package convert

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
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
// moved (against the float32 widening of the source). Its JSON form is the
// report schema the Python package reads (python/wick/convert/report.py
// takes its field names from these tags and restates none).
type TensorReport struct {
	Name      string  `json:"name"`
	Type      string  `json:"type"`
	Shape     []int64 `json:"shape"` // ggml order: Shape[0] is the row length
	Source    string  `json:"source_dtype"`
	Elements  int64   `json:"elements"`
	Bytes     int64   `json:"bytes"`
	RMSE      Float   `json:"rmse"`
	MaxAbsErr Float   `json:"max_abs_err"`
	SumSqErr  Float   `json:"sum_sq_err"`
	SumSq     Float   `json:"sum_sq"`
}

// Report describes a finished conversion. Marshalled as JSON it is what
// wick_convert returns.
type Report struct {
	Output    string         `json:"output"`
	Target    string         `json:"target"` // the plan's target, as given
	Files     []string       `json:"files"`  // Output, or the parts of a split model
	Tensors   []TensorReport `json:"tensors"`
	Elements  int64          `json:"elements"`
	Bytes     int64          `json:"bytes"`      // tensor data bytes
	FileBytes int64          `json:"file_bytes"` // the files: metadata, tensor data, padding
	Seconds   float64        `json:"seconds"`
}

// Float is a float64 whose JSON form is a number, or the string "nan",
// "inf" or "-inf" (which JSON numbers cannot express), as in the metadata
// JSON of io/gguf.
type Float float64

// MarshalJSON encodes f as described above (the shortest decimal that
// parses back to f).
func (f Float) MarshalJSON() ([]byte, error) {
	v := float64(f)
	switch {
	case math.IsNaN(v):
		return []byte(`"nan"`), nil
	case math.IsInf(v, 1):
		return []byte(`"inf"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-inf"`), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

// NonFiniteError reports a NaN or ±Inf weight (the row counts across the
// tensor's sources, in output order).
type NonFiniteError struct {
	Row    int64
	Column int
	Value  float32
	Type   string
}

// InvalidDataError reports encoded data llama-quantize would refuse
// ("quantized data validation failed"): a value or block scale that came
// out infinite (a weight beyond the float16 range in an F16 tensor, or a
// block whose float16 scale overflows).
type InvalidDataError struct {
	Row  int64
	What string
	Type string
}

func (e *InvalidDataError) Error() string {
	return fmt.Sprintf("row %d encodes to %s in %s, which llama-quantize refuses (\"quantized data validation failed\"): "+
		"the weights are too large for the type", e.Row, e.What, e.Type)
}

func (e *NonFiniteError) Error() string {
	return fmt.Sprintf("element %d of row %d is %v; %s needs finite values", e.Column, e.Row, e.Value, e.Type)
}

// Execute writes the GGUF file the plan describes to out and returns the
// report. The file is written to a temporary file beside out (an unnamed
// one on Linux, which even SIGKILL cannot leave behind) and put in place on
// success; on any error or cancellation (ctx) nothing is left behind. With
// Plan.Split, out less a ".gguf" suffix names the parts, which appear
// together (Report.Output is then the first).
func Execute(ctx context.Context, p *Plan, out string, opt Options) (rep *Report, err error) {
	if p.Format == FormatSafetensors {
		return executeSafetensors(ctx, p, out, opt) // a model directory (stwrite.go)
	}
	if err := p.check(); err != nil {
		return nil, err
	}
	start := time.Now()
	src := &sources{p: p, files: map[string]sourceFile{}, threads: opt.Threads}
	if src.threads <= 0 {
		src.threads = runtime.GOMAXPROCS(0)
	}
	defer src.close()
	// Open and check every source before writing anything.
	var total int64
	for _, t := range p.Tensors {
		total += elements(t.Shape)
		for _, s := range t.Sources {
			var err error
			if s.Decode != nil && s.Decode.Output != "" {
				_, _, err = src.openRaw(s)
			} else {
				_, err = src.open(s)
			}
			if err != nil {
				var pe *PlanError
				if errors.As(err, &pe) && pe.Tensor == "" {
					pe.Tensor = t.Name
					return nil, pe
				}
				return nil, fmt.Errorf("convert: tensor %q: %w", t.Name, err)
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
	target := out
	if s := p.Split; s != nil {
		wopts = append(wopts, gguf.WithSplit(gguf.Split{MaxBytes: s.MaxBytes, MaxTensors: s.MaxTensors}))
		target = strings.TrimSuffix(out, ".gguf")
	}
	w, err := gguf.Create(target, wopts...)
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
	// The header now: existing parts or split limits too small fail before any work.
	if _, err := w.Write(nil); err != nil {
		return nil, err
	}

	chunk := opt.ChunkElements
	if chunk <= 0 {
		chunk = 4 << 20
	}
	var done atomic.Int64
	x := &executor{ctx: ctx, opt: opt, chunk: chunk, out: newPipeline(w), im: im, done: &done, total: total,
		validate: p.validates()}
	defer x.out.stop()
	rep = &Report{Output: out, Target: p.Target}
	for i, t := range p.Tensors {
		x.tensor = i
		tr, err := x.write(t, src)
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
	rep.Files = []string{out}
	if p.Split != nil {
		rep.Files = w.SplitPaths()
		rep.Output = rep.Files[0]
	}
	for _, f := range rep.Files {
		if fi, err := os.Stat(f); err == nil {
			rep.FileBytes += fi.Size()
		}
	}
	rep.Seconds = time.Since(start).Seconds()
	return rep, nil
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
	// validate checks encoded chunks as llama-quantize does (Plan.validates)
	validate bool
	win      []byte    // source windows that are copied (see view.go)
	stage    []byte    // gathered chunks
	f32      []float32 // chunks converted to float32
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

func newPipeline(w interface{ Write([]byte) (int, error) }) *pipeline {
	jobs, acks := make(chan []byte, 2), make(chan error, 2)
	p := &pipeline{jobs: jobs, acks: acks}
	go func() { // the channels, not p's fields, which stop() clears
		for b := range jobs {
			_, err := w.Write(b)
			acks <- err
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
func (x *executor) write(t Tensor, src *sources) (TensorReport, error) {
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

	if len(t.Sources) == 1 && t.Sources[0].Decode != nil && t.Sources[0].Decode.Output != "" {
		return x.passThrough(t, src, rep, rowBytes)
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

	maxRows := int64(max(1, x.chunk/n0))
	// encode quantizes the rows of in (firstRow the first), validates them
	// and queues them.
	encode := func(in quant.Input, firstRow int64) error {
		buf := x.out.buffer(in.Len() / n0 * rowBytes)
		opt := quant.Options{Threads: x.opt.Threads, Imatrix: imFor(firstRow), Stats: &stats,
			Cancelled: x.cancelled, Progress: x.progress}
		if _, err := quant.Quantize(tr.Type, buf, in, n0, opt); err != nil {
			var nf *quant.NonFiniteError
			if errors.As(err, &nf) {
				return &NonFiniteError{Row: firstRow + int64(nf.Row), Column: nf.Column, Value: nf.Value, Type: tr.Name}
			}
			return err
		}
		if x.validate {
			var bad *quant.InvalidDataError
			if err := quant.ValidateRows(tr.Type, buf); errors.As(err, &bad) {
				perRow := int64(rowBytes / tr.BlockBytes)
				if tr.BlockSize == 1 {
					perRow = int64(n0)
				}
				return &InvalidDataError{Row: firstRow + bad.Block/perRow, What: bad.What, Type: tr.Name}
			} else if err != nil {
				return err
			}
		}
		return x.out.send(buf)
	}

	if t.Data != nil {
		vals := make([]float32, len(t.Data.Base64)/4)
		for i := range vals {
			vals[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.Data.Base64[4*i:]))
		}
		applyOps(vals, t.Ops)
		rep.Source = "F32"
		for r := int64(0); r < int64(len(vals)/n0); r += maxRows {
			hi := min(int64(len(vals)/n0), r+maxRows)
			if err := encode(quant.F32Input(vals[r*int64(n0):hi*int64(n0)]), r); err != nil {
				return fail(err)
			}
		}
	}

	opened := make([]rowSource, len(t.Sources))
	defer func() {
		for _, s := range opened {
			if s != nil {
				s.done()
			}
		}
	}()
	var outRow int64
	for _, part := range t.parts() {
		s := t.Sources[part.Source]
		if opened[part.Source] == nil {
			rs, err := src.open(s)
			if err != nil {
				return fail(err)
			}
			opened[part.Source] = rs
		}
		rs := opened[part.Source]
		rep.Source = s.DType
		if s.Decode != nil {
			rep.Source = s.Decode.Method
		}
		v, err := analyzeView(part, s.logicalShape())
		if err != nil {
			return fail(err)
		}
		dtype := rs.dtype()
		size := elemSize(dtype)
		contiguous := v.contiguous()
		// a decoded source whose view is made of whole source rows is
		// decoded piece by piece where it is quantized, when its decoder
		// reads a few rows as fast as many (decode.MainRows: row-major
		// storage; GPTQ's transposed tiles are read whole chunks at a time)
		var fused *rowMap
		if ds, ok := rs.(*decodedSource); ok && ds.dropRows != nil && fuseDecoded && len(t.Ops) == 0 && n0%tr.BlockSize == 0 {
			if fused = v.rowMap(); fused != nil {
				fused.src = ds
			}
		}
		rows := v.n / int64(n0)
		for r := int64(0); r < rows; {
			hi := min(rows, r+maxRows)
			if e := (outRow + r) / expertRows; (outRow+hi-1)/expertRows != e {
				hi = (e+1)*expertRows - outRow
			}
			// a window larger than two chunks (a view that reads far
			// apart) is read in smaller pieces
			w := v.window(r*int64(n0), hi*int64(n0))
			for hi-r > 1 && w.size() > 2*int64(x.chunk)+v.cols {
				hi = r + (hi-r)/2
				w = v.window(r*int64(n0), hi*int64(n0))
			}
			n := (hi - r) * int64(n0)
			if fused != nil {
				e0 := r * int64(n0)
				in := quant.FuncInput(int(n), func(dst []float32, lo, hi int) error {
					return fused.fill(dst, e0+int64(lo), e0+int64(hi))
				})
				if err := encode(in, outRow+r); err != nil {
					return fail(err)
				}
				if contiguous {
					rs.release(w.r0, w.r1)
				}
				r = hi
				continue
			}
			win, err := rs.read(w, &x.win)
			if err != nil {
				return fail(err)
			}
			var chunk []byte
			if contiguous && w.c0 == 0 && w.c1 == v.cols && w.size() == n {
				chunk = win // the window is the chunk: read in place
			} else {
				chunk = grow(&x.stage, int(n)*size)
				v.gather(chunk, win, w, size, r*int64(n0), hi*int64(n0))
			}
			in, err := x.input(chunk, dtype, t.Ops)
			if err != nil {
				return fail(err)
			}
			if err := encode(in, outRow+r); err != nil {
				return fail(err)
			}
			if contiguous {
				rs.release(w.r0, w.r1)
			}
			r = hi
		}
		outRow += rows
	}
	rep.RMSE = Float(stats.RMSE())
	rep.MaxAbsErr = Float(stats.MaxAbs)
	rep.SumSqErr = Float(stats.SumSqErr)
	rep.SumSq = Float(stats.SumSq)
	return rep, nil
}

// fuseDecoded lets the executor decode a chunk of a decoded source piece by
// piece inside the quantization (a quant.FuncInput reading the view's rows
// with rowMap.fill); tests clear it to compare with decoding the whole chunk
// first.
var fuseDecoded = true

// passThrough writes a tensor whose encoded blocks come from its source as
// they are (a lossless re-layout, such as MXFP4 checkpoint blocks to GGUF
// MXFP4): no values are computed, so the report has no error figures.
func (x *executor) passThrough(t Tensor, src *sources, rep TensorReport, rowBytes int) (TensorReport, error) {
	s := t.Sources[0]
	raw, release, err := src.openRaw(s)
	if err != nil {
		return rep, fmt.Errorf("convert: tensor %q: %w", t.Name, err)
	}
	defer release()
	rep.Source = s.Decode.Method
	n0 := t.Shape[0]
	rows := elements(t.Shape) / n0
	tr, _ := quant.Lookup(t.Type)
	order, blocks, err := t.passThroughLayout(int64(tr.BlockSize)) // nil: in order
	if err != nil {
		return rep, fmt.Errorf("convert: tensor %q: %w", t.Name, err)
	}
	rb := int64(rowBytes)
	if blocks != nil {
		return x.passThroughBlocks(t, raw, rep, order, blocks, tr.BlockBytes)
	}
	maxRows := int64(max(1, x.chunk/int(n0)))
	for r := int64(0); r < rows; r += maxRows {
		if x.cancelled() {
			return rep, quant.ErrCancelled
		}
		hi := min(rows, r+maxRows)
		buf := x.out.buffer(int(hi-r) * rowBytes)
		if order == nil {
			if err := raw.ReadRawRows(buf, r, hi); err != nil {
				return rep, fmt.Errorf("convert: tensor %q: %w", t.Name, err)
			}
		} else {
			for k := r; k < hi; k++ {
				if err := raw.ReadRawRows(buf[(k-r)*rb:(k-r+1)*rb], order[k], order[k]+1); err != nil {
					return rep, fmt.Errorf("convert: tensor %q: %w", t.Name, err)
				}
			}
		}
		if err := x.out.send(buf); err != nil {
			return rep, err
		}
		x.progress(int((hi - r) * n0))
	}
	return rep, nil
}

// passThroughBlocks writes a pass-through tensor whose rows gather blocks
// of their source rows (passThroughLayout): each source row is read whole,
// then its blocks are copied in the gathered order.
func (x *executor) passThroughBlocks(t Tensor, raw decode.RawRows, rep TensorReport, order, blocks []int64, blockBytes int) (TensorReport, error) {
	shape := t.Sources[0].logicalShape()
	cols := shape[len(shape)-1]
	tr, _ := quant.Lookup(t.Type)
	srcBytes, err := tr.RowBytes(int(cols))
	if err != nil {
		return rep, fmt.Errorf("convert: tensor %q: %w", t.Name, err)
	}
	n0 := t.Shape[0]
	rows := elements(t.Shape) / n0
	rowBytes := len(blocks) * blockBytes
	scratch := make([]byte, srcBytes)
	maxRows := int64(max(1, x.chunk/int(n0)))
	for r := int64(0); r < rows; r += maxRows {
		if x.cancelled() {
			return rep, quant.ErrCancelled
		}
		hi := min(rows, r+maxRows)
		buf := x.out.buffer(int(hi-r) * rowBytes)
		for k := r; k < hi; k++ {
			src := k
			if order != nil {
				src = order[k]
			}
			if err := raw.ReadRawRows(scratch, src, src+1); err != nil {
				return rep, fmt.Errorf("convert: tensor %q: %w", t.Name, err)
			}
			dst := buf[(k-r)*int64(rowBytes):]
			for j, b := range blocks {
				copy(dst[j*blockBytes:(j+1)*blockBytes], scratch[int(b)*blockBytes:(int(b)+1)*blockBytes])
			}
		}
		if err := x.out.send(buf); err != nil {
			return rep, err
		}
		x.progress(int((hi - r) * n0))
	}
	return rep, nil
}

// input views chunk (little-endian values of dtype) as quant input: in
// place for F32, F16 and BF16 when aligned and no operation applies, else
// converted to float32 (and the operations applied).
func (x *executor) input(chunk []byte, dtype string, ops []Op) (quant.Input, error) {
	aligned := func(a uintptr) bool { return len(chunk) == 0 || uintptr(unsafe.Pointer(&chunk[0]))%a == 0 }
	var in quant.Input
	switch {
	case dtype == "F32" && aligned(4):
		in = quant.F32Input(unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(chunk))), len(chunk)/4))
	case dtype == "F16" && aligned(2):
		in = quant.F16Input(unsafe.Slice((*uint16)(unsafe.Pointer(unsafe.SliceData(chunk))), len(chunk)/2))
	case dtype == "BF16" && aligned(2):
		in = quant.BF16Input(unsafe.Slice((*uint16)(unsafe.Pointer(unsafe.SliceData(chunk))), len(chunk)/2))
	default:
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
		applyOps(x.f32[:n], ops)
		return quant.F32Input(x.f32[:n]), nil
	}
	if len(ops) == 0 {
		return in, nil
	}
	// the chunk may be the mapped file itself: compute in a copy
	n := in.Len()
	if cap(x.f32) < n {
		x.f32 = make([]float32, n)
	}
	vals := x.f32[:n]
	if err := in.Float32(vals); err != nil {
		return quant.Input{}, err
	}
	applyOps(vals, ops)
	return quant.F32Input(vals), nil
}
