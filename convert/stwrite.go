package convert

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/wick-ml/wick/internal/parallel"
	"github.com/wick-ml/wick/io/safetensors"
	"github.com/wick-ml/wick/quant"
)

// This file executes FormatSafetensors plans (stplan.go): it writes a model
// directory into a temporary directory beside the output, file by file, and
// renames it into place when everything succeeded.
//
// Each safetensors file's header is written first, from the planned shapes;
// then every tensor's bytes, streamed chunk by chunk. A bitsandbytes weight
// is read (memory-mapped) and encoded a chunk of whole blocks at a time.
// Some parts of its state come before its codes in a file (the order
// transformers writes puts F32 tensors first) or shape the header (the
// length of the quant-state JSON depends on the nested offset, the mean of
// every block's absmax): for those weights a first pass over the source
// computes the statistics (absmax, offset and double-quantized absmax of a
// 4-bit weight; the row scales of an LLM.int8 one) before the file's header
// is written. Memory stays at a few chunks plus, per weight being written,
// its absmax (1/16 of its packed size with double quantization).

// bnbGroup is a bitsandbytes weight and what its state parts need.
type bnbGroup struct {
	w     *Tensor
	index int   // in Plan.Tensors
	n     int64 // elements
	cols  int64 // last dimension of the source
	typ   quant.FourBitType
	int8  bool
	cpu   bool
	bs    int

	haveStats    bool
	offset       float32
	nestedAbsmax []float32 // 4-bit, double quantization
	scb          []float32 // int8
	json         []byte    // 4-bit: the quant-state JSON, once known

	encoded bool
	absmax  []float32 // 4-bit without double quantization, after encoding
	codes   []uint8   // 4-bit with double quantization, after encoding
	left    int       // parts of the state not yet written
	stats   quant.ErrorStats
	bytes   int64 // the weight's and its parts' bytes
	srcType string
}

type stExec struct {
	*executor
	p       *Plan
	src     *sources
	groups  map[string]*bnbGroup
	index   map[string]int // tensor name -> index in Plan.Tensors
	xs, ys  []float32      // a chunk widened, and decoded again
	dec     []uint16
	scratch struct {
		absmax, absD []float32
	}
}

// executeSafetensors writes the model directory a FormatSafetensors plan
// describes to out.
func executeSafetensors(ctx context.Context, p *Plan, out string, opt Options) (rep *Report, err error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	start := time.Now()
	src := &sources{p: p, files: map[string]sourceFile{}}
	defer src.close()
	x := &stExec{p: p, src: src, groups: map[string]*bnbGroup{}, index: map[string]int{}}
	for i := range p.Tensors {
		t := &p.Tensors[i]
		x.index[t.Name] = i
		for _, s := range t.Sources {
			var err error
			if t.Type == "copy" {
				_, _, err = src.stored(s.Format, s.File, s.Tensor, s.DType, s.Shape)
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
	for i := range p.Tensors {
		t := &p.Tensors[i]
		if isBnbWeight(t.Type) {
			g := &bnbGroup{w: t, index: i, int8: t.Type == "bnb.int8", cpu: t.Bnb.Rules == "cpu", bs: t.Bnb.Blocksize, typ: t.fourBit()}
			shape := t.Sources[0].logicalShape()
			g.n, g.cols = elements(shape), shape[len(shape)-1]
			g.srcType = t.Sources[0].DType
			if t.Sources[0].Decode != nil {
				g.srcType = t.Sources[0].Decode.Method
			}
			x.groups[t.Name] = g
		}
	}
	for i := range p.Tensors {
		if t := &p.Tensors[i]; t.Of != "" {
			x.groups[t.Of].left++
		}
	}
	if err := checkReplace(out, p, opt.Overwrite); err != nil {
		return nil, err
	}

	chunk := opt.ChunkElements
	if chunk <= 0 {
		chunk = 4 << 20
	}
	var done atomic.Int64
	x.executor = &executor{ctx: ctx, opt: opt, chunk: chunk, done: &done, total: x.work()}

	dir, err := safetensors.CreateModelDir(out, opt.Overwrite)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			dir.Abort()
			if errors.Is(err, quant.ErrCancelled) || ctx.Err() != nil {
				err = quant.ErrCancelled
			}
		}
	}()
	sizes := map[string]int64{}
	weightMap := map[string]string{}
	for _, f := range p.Files {
		switch f.Kind {
		case "safetensors":
			if err := x.writeFile(dir, f, sizes); err != nil {
				return nil, err
			}
			for _, n := range f.Tensors {
				weightMap[n] = f.Name
			}
		case "text":
			if err := dir.WriteFile(f.Name, []byte(*f.Text)); err != nil {
				return nil, err
			}
		case "copy":
			if err := dir.CopyFile(f.Name, p.path(f.Source)); err != nil {
				return nil, err
			}
		case "index":
			var total int64
			for n := range weightMap {
				total += sizes[n]
			}
			if len(weightMap) != len(p.Tensors) {
				return nil, planErr("", "index file %s comes before the safetensors files it indexes", f.Name)
			}
			if err := dir.WriteFile(f.Name, indexJSON(f.Index.TotalParameters, total, weightMap)); err != nil {
				return nil, err
			}
		}
	}
	if err := dir.Commit(); err != nil {
		return nil, err
	}
	rep = &Report{Output: out, Target: p.Target}
	for _, f := range p.Files {
		path := filepath.Join(out, f.Name)
		rep.Files = append(rep.Files, path)
		if fi, err := os.Stat(path); err == nil {
			rep.FileBytes += fi.Size()
		}
	}
	for i := range p.Tensors {
		t := &p.Tensors[i]
		var tr TensorReport
		switch {
		case t.Type == "copy":
			s := t.Sources[0]
			tr = TensorReport{Name: t.Name, Type: t.DType, Shape: reversed(t.Shape), Source: s.DType,
				Elements: elements(t.Shape), Bytes: sizes[t.Name]}
		case isBnbWeight(t.Type):
			g := x.groups[t.Name]
			tr = TensorReport{Name: t.Name, Type: bnbTypeName(t.Type), Shape: reversed(t.Sources[0].logicalShape()),
				Source: g.srcType, Elements: g.n, Bytes: g.bytes, RMSE: Float(g.stats.RMSE()), MaxAbsErr: Float(g.stats.MaxAbs),
				SumSqErr: Float(g.stats.SumSqErr), SumSq: Float(g.stats.SumSq)}
		default:
			continue
		}
		rep.Tensors = append(rep.Tensors, tr)
		rep.Elements += tr.Elements
		rep.Bytes += tr.Bytes
	}
	rep.Seconds = time.Since(start).Seconds()
	return rep, nil
}

func bnbTypeName(typ string) string {
	switch typ {
	case "bnb.nf4":
		return "NF4"
	case "bnb.fp4":
		return "FP4"
	}
	return "INT8"
}

func reversed(s []int64) []int64 {
	r := slices.Clone(s)
	slices.Reverse(r)
	return r
}

// checkReplace refuses to replace what is not a model directory: an
// existing output must be an empty directory or one holding a config.json,
// and never the model directory itself.
func checkReplace(out string, p *Plan, overwrite bool) error {
	st, err := os.Stat(out)
	if err != nil || !overwrite {
		return nil // CreateDir reports a missing parent or an existing output
	}
	if !st.IsDir() {
		return fmt.Errorf("convert: %s exists and is not a directory; refusing to replace it with a model directory", out)
	}
	if p.ModelDir != nil {
		if ms, err := os.Stat(*p.ModelDir); err == nil && os.SameFile(ms, st) {
			return fmt.Errorf("convert: %s is the model directory being converted; refusing to replace it", out)
		}
	}
	entries, err := os.ReadDir(out)
	if err != nil {
		return err
	}
	if len(entries) == 0 {
		return nil
	}
	if _, err := os.Stat(filepath.Join(out, "config.json")); err != nil {
		return fmt.Errorf("convert: %s is a directory without config.json; refusing to replace it (remove it, or choose another output)", out)
	}
	return nil
}

// work is the progress total: every element read, the first passes too.
func (x *stExec) work() int64 {
	var total int64
	pos := map[string]int{}
	k := 0
	for _, f := range x.p.Files {
		for _, n := range f.Tensors {
			pos[n] = k
			k++
		}
	}
	for i := range x.p.Tensors {
		t := &x.p.Tensors[i]
		switch {
		case t.Type == "copy":
			total += elements(t.Shape)
		case isBnbWeight(t.Type):
			g := x.groups[t.Name]
			total += g.n
			if x.needsFirstPass(g, pos) {
				total += g.n
			}
		}
	}
	return total
}

// needsFirstPass tells whether a weight's statistics are needed before it
// is encoded: always with double quantization (the JSON's length), and for
// LLM.int8 when its row scales are written before its codes.
func (x *stExec) needsFirstPass(g *bnbGroup, pos map[string]int) bool {
	if !g.int8 {
		return g.w.Bnb.DoubleQuant
	}
	for i := range x.p.Tensors {
		t := &x.p.Tensors[i]
		if t.Of == g.w.Name && t.Type == "bnb.scb" && pos[t.Name] < pos[g.w.Name] {
			return true
		}
	}
	return false
}

// writeFile writes one safetensors file of the plan.
func (x *stExec) writeFile(dir *safetensors.ModelDir, f OutFile, sizes map[string]int64) error {
	heads := make([]safetensors.TensorHeader, len(f.Tensors))
	for i, n := range f.Tensors {
		t := &x.p.Tensors[x.index[n]]
		d, _ := t.stDType()
		shape := t.Shape
		if t.Type == "bnb.quant_state" && x.groups[t.Of].w.Bnb.DoubleQuant {
			g := x.groups[t.Of]
			if err := x.ensureStats(g); err != nil {
				return err
			}
			shape = []int64{int64(len(g.json))}
		}
		heads[i] = safetensors.TensorHeader{Name: t.Name, DType: d, Shape: shape}
	}
	sw, err := dir.CreateStream(f.Name, heads, f.Metadata)
	if err != nil {
		return err
	}
	x.out = newPipeline(sw)
	defer func() {
		x.out.stop()
		sw.Abort()
	}()
	for i, n := range f.Tensors {
		k := x.index[n]
		x.tensor = k
		t := &x.p.Tensors[k]
		size := sw.Sizes()[i]
		sizes[n] = size
		var err error
		switch {
		case t.Type == "copy":
			err = x.copyTensor(t)
		case isBnbWeight(t.Type):
			g := x.groups[n]
			g.bytes += size
			if g.int8 {
				err = x.encodeInt8(g)
			} else {
				err = x.encode4Bit(g)
			}
			g.encoded = true
			x.maybeDrop(g)
		default:
			g := x.groups[t.Of]
			g.bytes += size
			err = x.writeAux(t, g)
			g.left--
			x.maybeDrop(g)
		}
		if err != nil {
			if errors.Is(err, quant.ErrCancelled) || x.ctx.Err() != nil {
				return quant.ErrCancelled
			}
			return err
		}
	}
	if err := x.out.flush(); err != nil {
		return err
	}
	return sw.Commit()
}

// maybeDrop frees what a weight kept once it and all its parts are written.
func (x *stExec) maybeDrop(g *bnbGroup) {
	if g.encoded && g.left == 0 {
		g.absmax, g.codes, g.nestedAbsmax, g.scb, g.json = nil, nil, nil, nil, nil
	}
}

// send queues a copy of b for writing, in pieces of at most a chunk.
func (x *stExec) send(b []byte) error {
	for len(b) > 0 {
		n := min(len(b), 4*x.chunk)
		buf := x.out.buffer(n)
		copy(buf, b[:n])
		if err := x.out.send(buf); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

func (x *stExec) copyTensor(t *Tensor) error {
	s := t.Sources[0]
	f, data, err := x.src.stored(s.Format, s.File, s.Tensor, s.DType, s.Shape)
	if err != nil {
		return fmt.Errorf("convert: tensor %q: %w", t.Name, err)
	}
	n := elements(t.Shape)
	per := int64(4 * x.chunk)
	for off := int64(0); off < int64(len(data)); off += per {
		if x.cancelled() {
			return quant.ErrCancelled
		}
		end := min(int64(len(data)), off+per)
		if err := x.send(data[off:end]); err != nil {
			return err
		}
		f.releaseRange(s.Tensor, off, end-off)
		if len(data) > 0 {
			x.progress(int(n * (end - off) / int64(len(data))))
		}
	}
	return nil
}

// flatChunk returns elements [e0, e1) of a source of cols columns as quant
// input (in place where possible).
func (x *stExec) flatChunk(rs rowSource, cols, e0, e1 int64) (quant.Input, error) {
	r0, r1 := e0/cols, (e1+cols-1)/cols
	win, err := rs.read(window{r0: r0, r1: r1, c0: 0, c1: cols}, &x.win)
	if err != nil {
		return quant.Input{}, err
	}
	size := int64(elemSize(rs.dtype()))
	off := (e0 - r0*cols) * size
	return x.input(win[off:off+(e1-e0)*size], rs.dtype(), nil)
}

// widen returns the chunk's values as float32 in x.xs.
func (x *stExec) widen(in quant.Input) []float32 {
	n := in.Len()
	if cap(x.xs) < n {
		x.xs = make([]float32, n)
	}
	xs := x.xs[:n]
	in.Float32(xs)
	return xs
}

// eachChunk reads a weight's source in chunks of whole units (elements
// [e0, e1), e0 a multiple of unit) and hands each to fn as quant input (in
// place where the source allows); pages are released as it goes.
func (x *stExec) eachChunk(g *bnbGroup, unit int64, fn func(e0, e1 int64, in quant.Input) error) error {
	rs, err := x.src.open(g.w.Sources[0])
	if err != nil {
		return err
	}
	defer rs.done()
	per := max(unit, int64(x.chunk)/unit*unit)
	for e0 := int64(0); e0 < g.n; e0 += per {
		if x.cancelled() {
			return quant.ErrCancelled
		}
		e1 := min(g.n, e0+per)
		in, err := x.flatChunk(rs, g.cols, e0, e1)
		if err != nil {
			return err
		}
		if err := fn(e0, e1, in); err != nil {
			return err
		}
		rs.release(e0/g.cols, e1/g.cols)
		x.progress(int(e1 - e0))
	}
	return nil
}

func (x *stExec) qopt() quant.Options {
	return quant.Options{Threads: x.opt.Threads, Cancelled: x.cancelled}
}

// tensorErr names the tensor, and turns the quantizers' non-finite errors
// into NonFiniteError.
func (x *stExec) tensorErr(g *bnbGroup, e0 int64, err error) error {
	var bnf *quant.BlockwiseNonFiniteError
	var nf *quant.NonFiniteError
	switch {
	case errors.Is(err, quant.ErrCancelled):
		return err
	case errors.As(err, &bnf):
		at := e0 + int64(bnf.Index)
		return fmt.Errorf("convert: tensor %q: %w", g.w.Name, &NonFiniteError{Row: at / g.cols, Column: int(at % g.cols), Value: bnf.Value, Type: bnbTypeName(g.w.Type)})
	case errors.As(err, &nf):
		at := e0 + int64(nf.Index)
		return fmt.Errorf("convert: tensor %q: %w", g.w.Name, &NonFiniteError{Row: at / g.cols, Column: int(at % g.cols), Value: nf.Value,
			Type: "LLM.int8, which quantizes the weights rounded to float16 (largest 65504),"})
	}
	return fmt.Errorf("convert: tensor %q: %w", g.w.Name, err)
}

// ensureStats runs the first pass over a weight if its statistics are not
// known yet.
func (x *stExec) ensureStats(g *bnbGroup) error {
	if g.haveStats {
		return nil
	}
	saved := x.tensor
	x.tensor = g.index
	defer func() { x.tensor = saved }()
	opt := x.qopt()
	if g.int8 {
		g.scb = make([]float32, g.n/g.cols)
		err := x.eachChunk(g, g.cols, func(e0, e1 int64, in quant.Input) error {
			err := quant.Int8RowScales(g.scb[e0/g.cols:e1/g.cols], in, int(g.cols), opt)
			if err != nil {
				return x.tensorErr(g, e0, err)
			}
			return nil
		})
		g.haveStats = err == nil
		return err
	}
	bs := int64(g.bs)
	absmax := make([]float32, (g.n+bs-1)/bs)
	err := x.eachChunk(g, bs, func(e0, e1 int64, in quant.Input) error {
		a := absmax[e0/bs : (e1+bs-1)/bs]
		var err error
		if g.cpu {
			err = quant.Absmax4BitCPU(a, in, g.bs, opt)
		} else {
			err = quant.Absmax4Bit(a, in, g.bs, opt)
		}
		if err != nil {
			return x.tensorErr(g, e0, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if g.cpu {
		g.offset = quant.TorchMeanF32(absmax, quant.TorchMeanLanes, max(1, g.w.Bnb.TorchThreads))
	} else {
		g.offset = quant.NestedOffset(absmax)
	}
	codes := make([]uint8, len(absmax))
	g.nestedAbsmax = make([]float32, (len(absmax)+quant.NestedBlocksize4Bit-1)/quant.NestedBlocksize4Bit)
	if err := x.nested(g, codes, g.nestedAbsmax, absmax); err != nil {
		return x.tensorErr(g, 0, err)
	}
	q := g.w.quantStateSpec(x)
	g.json = []byte(q.JSON[:q.OffsetAt] + pyFloatRepr(float64(g.offset)) + q.JSON[q.OffsetAt:])
	g.haveStats = true
	return nil
}

// quantStateSpec returns the quant-state JSON spec of a 4-bit weight.
func (t *Tensor) quantStateSpec(x *stExec) *QuantStateSpec {
	for i := range x.p.Tensors {
		if a := &x.p.Tensors[i]; a.Of == t.Name && a.Type == "bnb.quant_state" {
			return a.QuantState
		}
	}
	return &QuantStateSpec{OffsetAt: 0}
}

func (x *stExec) nested(g *bnbGroup, codes []uint8, nestedAbsmax, absmax []float32) error {
	opt := x.qopt()
	if g.cpu {
		return quant.QuantizeNestedCPU(codes, nestedAbsmax, absmax, g.offset, quant.NestedBlocksize4Bit, opt)
	}
	return quant.QuantizeNested(codes, nestedAbsmax, absmax, g.offset, quant.NestedBlocksize4Bit, opt)
}

// encode4Bit streams a 4-bit weight's packed codes and keeps its absmax
// (or, with double quantization, its absmax codes) for the parts after it.
func (x *stExec) encode4Bit(g *bnbGroup) error {
	nestedQ := g.w.Bnb.DoubleQuant
	if nestedQ {
		if err := x.ensureStats(g); err != nil {
			return err
		}
	}
	bs := int64(g.bs)
	blocks := (g.n + bs - 1) / bs
	unit := bs
	if nestedQ {
		unit = bs * quant.NestedBlocksize4Bit // a chunk's absmax make whole nested blocks
		g.codes = make([]uint8, blocks)
	} else {
		g.absmax = make([]float32, blocks)
	}
	opt := x.qopt()
	return x.eachChunk(g, unit, func(e0, e1 int64, in quant.Input) error {
		b0, b1 := e0/bs, (e1+bs-1)/bs
		var absmax []float32
		if nestedQ {
			absmax = growF32(&x.scratch.absmax, int(b1-b0))
		} else {
			absmax = g.absmax[b0:b1]
		}
		packed := x.out.buffer(int(e1-e0+1) / 2)
		var err error
		if g.cpu {
			err = quant.Quantize4BitCPU(packed, absmax, in, g.typ, g.bs, opt)
		} else {
			err = quant.Quantize4Bit(packed, absmax, in, g.typ, g.bs, opt)
		}
		if err != nil {
			return x.tensorErr(g, e0, err)
		}
		decAbs := absmax
		if nestedQ {
			nb0 := b0 / quant.NestedBlocksize4Bit
			nb1 := (b1 + quant.NestedBlocksize4Bit - 1) / quant.NestedBlocksize4Bit
			nested := make([]float32, nb1-nb0)
			if err := x.nested(g, g.codes[b0:b1], nested, absmax); err != nil {
				return x.tensorErr(g, e0, err)
			}
			if !slices.Equal(nested, g.nestedAbsmax[nb0:nb1]) {
				return fmt.Errorf("convert: tensor %q: internal error: the double-quantized absmax of the second pass differs from the first's", g.w.Name)
			}
			decAbs = growF32(&x.scratch.absD, len(absmax))
			if err := quant.DequantizeNested(decAbs, g.codes[b0:b1], nested, g.offset, nil, quant.NestedBlocksize4Bit); err != nil {
				return x.tensorErr(g, e0, err)
			}
		}
		if err := x.stats4Bit(g, packed, decAbs, in); err != nil {
			return x.tensorErr(g, e0, err)
		}
		return x.out.send(packed)
	})
}

func growF32(buf *[]float32, n int) []float32 {
	if cap(*buf) < n {
		*buf = make([]float32, n)
	}
	return (*buf)[:n]
}

// stats4Bit decodes a chunk (to float32) and adds its error against the
// source values to the weight's statistics: in pieces of whole blocks, each
// widened and decoded while it is in cache, on the worker threads, merged
// in order, so the figures do not depend on the thread count.
func (x *stExec) stats4Bit(g *bnbGroup, packed []uint8, absmax []float32, in quant.Input) error {
	bs := g.bs
	piece := max(bs, (1<<15)/bs*bs)
	n := in.Len()
	parts := make([]quant.ErrorStats, (n+piece-1)/piece)
	err := parallel.Run(n, piece, parallel.Options{Threads: x.opt.Threads, Cancelled: x.cancelled}, func(lo, hi int, scratch *[]float32) error {
		if len(*scratch) < 2*piece {
			*scratch = make([]float32, 2*piece)
		}
		xs, ys := (*scratch)[:hi-lo], (*scratch)[piece:piece+hi-lo]
		in.Float32Range(xs, lo, hi)
		err := quant.Dequantize4Bit(quant.F32Output(ys), packed[lo/2:(hi+1)/2], absmax[lo/bs:(hi+bs-1)/bs], g.typ, bs, quant.Options{Threads: 1})
		if err != nil {
			return err
		}
		parts[lo/piece].AddDiff(xs, ys)
		return nil
	})
	for _, p := range parts {
		g.stats.Merge(p)
	}
	return err
}

// addStats accumulates the error of ys against xs in fixed pieces, on the
// worker threads, merged in order: the figures do not depend on threads.
func (x *stExec) addStats(s *quant.ErrorStats, xs, ys []float32) error {
	const piece = 1 << 16
	parts := make([]quant.ErrorStats, (len(xs)+piece-1)/piece)
	err := parallel.Run(len(xs), piece, parallel.Options{Threads: x.opt.Threads, Cancelled: x.cancelled}, func(lo, hi int, _ *[]float32) error {
		parts[lo/piece].AddDiff(xs[lo:hi], ys[lo:hi])
		return nil
	})
	for _, p := range parts {
		s.Merge(p)
	}
	return err
}

// encodeInt8 streams an LLM.int8 weight's codes.
func (x *stExec) encodeInt8(g *bnbGroup) error {
	known := g.haveStats
	if !known {
		g.scb = make([]float32, g.n/g.cols)
	}
	opt := x.qopt()
	var scb []float32
	err := x.eachChunk(g, g.cols, func(e0, e1 int64, in quant.Input) error {
		r0, r1 := e0/g.cols, e1/g.cols
		xs := x.widen(in)
		buf := x.out.buffer(int(e1 - e0))
		q := unsafe.Slice((*int8)(unsafe.Pointer(unsafe.SliceData(buf))), len(buf))
		scb = growF32(&scb, int(r1-r0))
		if err := quant.QuantizeInt8Rows(q, scb, quant.F32Input(xs), int(g.cols), opt); err != nil {
			return x.tensorErr(g, e0, err)
		}
		if known && !slices.Equal(scb, g.scb[r0:r1]) {
			return fmt.Errorf("convert: tensor %q: internal error: the row scales of the second pass differ from the first's", g.w.Name)
		}
		copy(g.scb[r0:r1], scb)
		ys := growF32(&x.ys, len(xs))
		if err := quant.DequantizeInt8Rows(quant.F32Output(ys), q, scb, int(g.cols), opt); err != nil {
			return x.tensorErr(g, e0, err)
		}
		if err := x.addStats(&g.stats, xs, ys); err != nil {
			return err
		}
		return x.out.send(buf)
	})
	g.haveStats = err == nil
	return err
}

func f32View(v []float32) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), 4*len(v))
}

// writeAux writes a part of a weight's state.
func (x *stExec) writeAux(t *Tensor, g *bnbGroup) error {
	switch t.Type {
	case "bnb.absmax":
		if g.w.Bnb.DoubleQuant {
			return x.send(g.codes)
		}
		return x.send(f32View(g.absmax))
	case "bnb.quant_map":
		m := g.typ.QuantMap()
		return x.send(f32View(m[:]))
	case "bnb.nested_absmax":
		if err := x.ensureStats(g); err != nil {
			return err
		}
		return x.send(f32View(g.nestedAbsmax))
	case "bnb.nested_quant_map":
		m := quant.DynamicCode(true)
		return x.send(f32View(m[:]))
	case "bnb.quant_state":
		if !g.w.Bnb.DoubleQuant {
			return x.send([]byte(t.QuantState.JSON))
		}
		if err := x.ensureStats(g); err != nil {
			return err
		}
		return x.send(g.json)
	case "bnb.scb":
		if err := x.ensureStats(g); err != nil {
			return err
		}
		return x.send(f32View(g.scb))
	case "bnb.weight_format":
		return x.send([]byte{0})
	}
	return planErr(t.Name, "unknown tensor type %q", t.Type)
}
