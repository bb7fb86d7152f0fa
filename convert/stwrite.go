package convert

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
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
// Each safetensors file's header is written first, from the planned shapes,
// and then its data by position (see writeFile): a bitsandbytes weight is
// read (memory-mapped) and encoded a chunk of whole blocks at a time, by
// the worker threads, each chunk written in place as soon as it is done,
// its absmax (or absmax codes, or row scales) too. The header depends on
// the data through the length of a double-quantized weight's quant-state
// JSON (its nested offset, the mean of every block's absmax): a first pass
// over those weights computes their statistics (offset, double-quantized
// absmax, JSON) before the header is written. Parts in another file than
// their weight are kept in memory (or, LLM.int8 row scales in an earlier
// file, computed by a first pass). Memory stays at a few chunks per thread
// plus the absmax of the weights in their first pass.

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
	// kept for a part in a later file than the weight
	absmax  []float32 // 4-bit without double quantization, after encoding
	codes   []uint8   // 4-bit with double quantization, after encoding
	left    int       // parts of the state not yet written
	stats   quant.ErrorStats
	bytes   int64 // the weight's and its parts' bytes
	srcType string

	// while its file is written: where the codes, the absmax (or its
	// codes) and the row scales go in the data (-1: not in this file)
	offW, offA, offS int64
	jobsLeft         atomic.Int64
	parts            [][]quant.ErrorStats // per job, merged in order at the end
	// the first pass: absmax, from its first chunk to its last
	firstOnce sync.Once
	first     []float32
	statsLeft atomic.Int64
}

type stExec struct {
	*executor
	p      *Plan
	src    *sources
	groups map[string]*bnbGroup
	index  map[string]int // tensor name -> index in Plan.Tensors
	fileOf map[string]int // tensor name -> index in Plan.Files
	dw     *safetensors.DataWriter
	wb     chan [2]int64 // ranges of the data written, to start writing back
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
	x := &stExec{p: p, src: src, groups: map[string]*bnbGroup{}, index: map[string]int{}, fileOf: map[string]int{}}
	for i, f := range p.Files {
		for _, n := range f.Tensors {
			x.fileOf[n] = i
		}
	}
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
			g := &bnbGroup{w: t, index: i, int8: t.Type == "bnb.int8", cpu: t.Bnb.Rules == "cpu", bs: t.Bnb.Blocksize, typ: t.fourBit(),
				offW: -1, offA: -1, offS: -1}
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

	debugPhase("sources")
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
	debugPhase("other files")
	if err := dir.Commit(); err != nil {
		return nil, err
	}
	debugPhase("directory commit")
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
	for i := range x.p.Tensors {
		t := &x.p.Tensors[i]
		switch {
		case t.Type == "copy":
			total += elements(t.Shape)
		case isBnbWeight(t.Type):
			g := x.groups[t.Name]
			total += g.n
			if x.needsFirstPass(g) {
				total += g.n
			}
		}
	}
	return total
}

// needsFirstPass tells whether a weight's statistics are needed apart from
// its encoding: always with double quantization (the JSON's length), and
// for LLM.int8 when its row scales are in an earlier file than its codes
// (within a file every part is written by position, in any order).
func (x *stExec) needsFirstPass(g *bnbGroup) bool {
	if !g.int8 {
		return g.w.Bnb.DoubleQuant
	}
	for i := range x.p.Tensors {
		t := &x.p.Tensors[i]
		if t.Of == g.w.Name && t.Type == "bnb.scb" && x.fileOf[t.Name] < x.fileOf[g.w.Name] {
			return true
		}
	}
	return false
}

// writeFile writes one safetensors file of the plan.
//
// Every byte's place is known once the header is: the weights' first pass
// (the statistics the header and the parts written before the codes need)
// runs first, over all the weights that need it, in chunks spread over the
// threads; then the file's data is cut into jobs (a chunk of a weight, a
// piece of a copied tensor), which the threads take in file order and
// write by position (pwrite), each as soon as it is done. The small parts
// whose values are known beforehand are written first.
func (x *stExec) writeFile(dir *safetensors.ModelDir, f OutFile, sizes map[string]int64) error {
	here := map[string]bool{}
	for _, n := range f.Tensors {
		here[n] = true
	}
	// 1. the first pass of every double-quantized weight of this file, or
	// whose parts are in it, whose statistics are not known yet
	var first []*bnbGroup
	seen := map[*bnbGroup]bool{}
	for _, n := range f.Tensors {
		t := &x.p.Tensors[x.index[n]]
		g := x.groups[n]
		if g == nil && t.Of != "" {
			g = x.groups[t.Of]
		}
		if g == nil || seen[g] {
			continue
		}
		seen[g] = true
		if !g.int8 && g.w.Bnb.DoubleQuant && !g.haveStats {
			first = append(first, g)
		}
	}
	if err := x.firstPass(first); err != nil {
		return err
	}
	debugPhase("first pass")
	// LLM.int8 row scales in this file, of a weight in a later one
	for _, n := range f.Tensors {
		t := &x.p.Tensors[x.index[n]]
		if t.Type == "bnb.scb" && !here[t.Of] && x.fileOf[t.Of] > x.fileOf[n] {
			if err := x.ensureStats(x.groups[t.Of]); err != nil {
				return err
			}
		}
	}

	heads := make([]safetensors.TensorHeader, len(f.Tensors))
	for i, n := range f.Tensors {
		t := &x.p.Tensors[x.index[n]]
		d, _ := t.stDType()
		shape := t.Shape
		if t.Type == "bnb.quant_state" && x.groups[t.Of].w.Bnb.DoubleQuant {
			shape = []int64{int64(len(x.groups[t.Of].json))}
		}
		heads[i] = safetensors.TensorHeader{Name: t.Name, DType: d, Shape: shape}
	}
	sw, err := dir.CreateStream(f.Name, heads, f.Metadata)
	if err != nil {
		return err
	}
	defer sw.Abort()
	dw, err := sw.DataWriter()
	if err != nil {
		return err
	}
	x.dw = dw
	// Written data is sent to disk as it comes (by a goroutine of its own,
	// as the call may wait for the device), not all in Commit's sync.
	x.wb = make(chan [2]int64, 1024)
	wbDone := make(chan struct{})
	go func(wb <-chan [2]int64) {
		for r := range wb {
			dw.StartWriteback(r[0], r[1])
		}
		close(wbDone)
	}(x.wb)
	stopWriteback := func() {
		if x.wb != nil {
			close(x.wb)
			<-wbDone
			x.wb = nil
		}
	}
	defer stopWriteback()
	sz, offs := sw.Sizes(), sw.Offsets()

	// 2. the parts written from what is known, and the jobs
	var jobs []stJob
	opened := map[string]*os.File{}
	defer func() {
		for _, f := range opened {
			f.Close()
		}
	}()
	var weights []*bnbGroup
	for i, n := range f.Tensors {
		k := x.index[n]
		t := &x.p.Tensors[k]
		sizes[n] = sz[i]
		switch {
		case t.Type == "copy":
			s := t.Sources[0]
			sf, data, err := x.src.stored(s.Format, s.File, s.Tensor, s.DType, s.Shape)
			if err != nil {
				return fmt.Errorf("convert: tensor %q: %w", t.Name, err)
			}
			// copied inside the kernel from the file where it can be
			src, srcOff, err := x.copySource(sf, s.Tensor, opened)
			if err != nil {
				return fmt.Errorf("convert: tensor %q: %w", t.Name, err)
			}
			per := int64(4 * x.chunk)
			for lo := int64(0); lo < int64(len(data)); lo += per {
				jobs = append(jobs, stJob{kind: jobCopy, t: t, index: k, sf: sf, data: data, lo: lo, hi: min(int64(len(data)), lo+per), off: offs[i],
					src: src, srcOff: srcOff})
			}
		case isBnbWeight(t.Type):
			g := x.groups[n]
			g.bytes += sz[i]
			g.offW = offs[i]
			weights = append(weights, g)
		default:
			g := x.groups[t.Of]
			g.bytes += sz[i]
			if here[t.Of] && (t.Type == "bnb.absmax" || t.Type == "bnb.scb") {
				// written by the weight's jobs
				if t.Type == "bnb.absmax" {
					g.offA = offs[i]
				} else {
					g.offS = offs[i]
				}
				g.left--
				continue
			}
			if err := x.writeAux(t, g, offs[i]); err != nil {
				return err
			}
			g.left--
		}
	}
	// a weight's jobs, in the weight's place in the file order
	for _, g := range weights {
		var njobs int
		jobs, njobs = x.weightJobs(jobs, g)
		g.parts = make([][]quant.ErrorStats, njobs)
		g.jobsLeft.Store(int64(njobs))
	}
	jobs = interleave(jobs)

	// 3. the jobs
	debugPhase("header, known parts")
	err = x.runJobs(jobs)
	debugPhase("jobs")
	if err != nil {
		if errors.Is(err, quant.ErrCancelled) || x.ctx.Err() != nil {
			return quant.ErrCancelled
		}
		return err
	}
	for _, g := range weights {
		for _, ps := range g.parts {
			for _, p := range ps {
				g.stats.Merge(p)
			}
		}
		g.parts = nil
		g.encoded = true
		g.haveStats = g.haveStats || g.int8 // the row scales are kept when written later
		g.offW, g.offA, g.offS = -1, -1, -1
	}
	for _, g := range x.groups {
		x.maybeDrop(g)
	}
	stopWriteback()
	x.dw = nil
	defer debugPhase("commit")
	return sw.Commit()
}

// maybeDrop frees what a weight kept once it and all its parts are written.
func (x *stExec) maybeDrop(g *bnbGroup) {
	if g.encoded && g.left == 0 {
		g.absmax, g.codes, g.nestedAbsmax, g.scb, g.json = nil, nil, nil, nil, nil
	}
}

// debugPhase marks the end of a phase of writeFile (for tests timing them).
var debugPhase = func(string) {}

// Job kinds.
const (
	jobCopy  = iota // bytes [lo, hi) of a copied tensor
	jobStats        // the first pass over elements [lo, hi) of a weight
	job4Bit         // 4-bit codes of elements [lo, hi)
	jobInt8         // LLM.int8 codes of elements [lo, hi) (whole rows)
)

// stJob is a piece of work of the parallel passes.
type stJob struct {
	kind   int
	t      *Tensor // copy
	index  int     // the tensor's index in Plan.Tensors
	sf     sourceFile
	data   []byte   // copy: the stored bytes
	src    *os.File // copy: the source file, to copy from inside the kernel
	srcOff int64    // copy: where the tensor's bytes start in src
	g      *bnbGroup
	part   int   // the job's index within its weight
	lo, hi int64 // elements (bytes for a copy)
	off    int64 // copy: where the tensor's bytes start in the data
}

// interleave orders the jobs: the weights' chunks in file order (the first
// failing one gives the error), the copies spread evenly among them, so
// that the threads encode while a copy's write holds the file.
func interleave(jobs []stJob) []stJob {
	var copies, enc []stJob
	for _, j := range jobs {
		if j.kind == jobCopy {
			copies = append(copies, j)
		} else {
			enc = append(enc, j)
		}
	}
	slices.SortStableFunc(enc, func(a, b stJob) int { return cmp.Compare(a.pos(), b.pos()) })
	if len(copies) == 0 || len(enc) == 0 {
		return append(copies, enc...)
	}
	out := make([]stJob, 0, len(jobs))
	c := 0
	for i, j := range enc {
		// copies due by the time i+1 of the len(enc) chunks are handed out
		for ; c < len(copies) && int64(c)*int64(len(enc)) <= int64(i)*int64(len(copies)); c++ {
			out = append(out, copies[c])
		}
		out = append(out, j)
	}
	return append(out, copies[c:]...)
}

// pos orders the jobs: by where they write in the file.
func (j *stJob) pos() int64 {
	switch j.kind {
	case jobCopy:
		return j.off + j.lo
	case jobStats:
		return 0
	}
	return j.g.offW + j.lo*j.g.outBytes()/max(1, j.g.n)
}

// outBytes is the byte size of a weight's codes.
func (g *bnbGroup) outBytes() int64 {
	if g.int8 {
		return g.n
	}
	return (g.n + 1) / 2
}

// chunkUnit is the elements a chunk of a weight is a multiple of: whole
// rows for LLM.int8, whole blocks for 4-bit (whole nested blocks, 256
// blocks, with double quantization).
func (g *bnbGroup) chunkUnit(first bool) int64 {
	switch {
	case g.int8:
		return g.cols
	case g.w.Bnb.DoubleQuant && !first:
		return int64(g.bs) * quant.NestedBlocksize4Bit
	}
	return int64(g.bs)
}

// chunks appends the chunks of a weight as jobs of kind.
func (x *stExec) chunks(jobs []stJob, g *bnbGroup, kind int, first bool) ([]stJob, int) {
	unit := g.chunkUnit(first)
	per := max(unit, int64(x.chunk)/unit*unit)
	k := 0
	for lo := int64(0); lo < g.n; lo += per {
		jobs = append(jobs, stJob{kind: kind, g: g, index: g.index, part: k, lo: lo, hi: min(g.n, lo+per)})
		k++
	}
	return jobs, k
}

func (x *stExec) weightJobs(jobs []stJob, g *bnbGroup) ([]stJob, int) {
	if g.int8 {
		if g.offS < 0 && !g.haveStats {
			g.scb = make([]float32, g.n/g.cols) // for a later file
		}
		return x.chunks(jobs, g, jobInt8, false)
	}
	if g.offA < 0 { // for a later file
		blocks := (g.n + int64(g.bs) - 1) / int64(g.bs)
		if g.w.Bnb.DoubleQuant {
			g.codes = make([]uint8, blocks)
		} else {
			g.absmax = make([]float32, blocks)
		}
	}
	return x.chunks(jobs, g, job4Bit, false)
}

// stWorker is what a thread of the parallel passes owns.
type stWorker struct {
	executor // buffers of its own; the options, progress and context shared
	x        *stExec
	g        *bnbGroup // the weight rs reads
	rs       rowSource
	xs, ys   []float32
	absmax   []float32
	decAbs   []float32
	nested   []float32
	scb      []float32
	packed   []uint8
	codes    []uint8
}

// runJobs runs jobs on the threads, taken in order; the error is the one of
// the first failed job.
func (x *stExec) runJobs(jobs []stJob) error {
	if len(jobs) == 0 {
		return nil
	}
	threads := x.opt.Threads
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	threads = min(threads, len(jobs))
	pool := make(chan *stWorker, threads)
	for range threads {
		w := &stWorker{executor: *x.executor, x: x}
		w.win, w.stage, w.f32 = nil, nil, nil
		pool <- w
	}
	return parallel.Run(len(jobs), 1, parallel.Options{Threads: threads, Cancelled: x.cancelled}, func(lo, _ int, _ *[]float32) error {
		w := <-pool
		defer func() { pool <- w }()
		j := &jobs[lo]
		w.tensor = j.index
		switch j.kind {
		case jobCopy:
			return w.copyPiece(j)
		case jobStats:
			return w.absmaxPass(j)
		case job4Bit:
			return w.encode4Bit(j)
		}
		return w.encodeInt8(j)
	})
}

// source returns the worker's reader of g's source (one per worker: the
// readers of decoded sources hold buffers).
func (w *stWorker) source(g *bnbGroup) (rowSource, error) {
	if w.g != g {
		rs, err := w.x.src.open(g.w.Sources[0])
		if err != nil {
			return nil, err
		}
		w.g, w.rs = g, rs
	}
	return w.rs, nil
}

// flatChunk returns elements [e0, e1) of a source of cols columns as quant
// input (in place where possible).
func (x *executor) flatChunk(rs rowSource, cols, e0, e1 int64) (quant.Input, error) {
	raw, err := x.flatRaw(rs, cols, e0, e1)
	if err != nil {
		return quant.Input{}, err
	}
	return x.input(raw, rs.dtype(), nil)
}

// flatRaw returns elements [e0, e1) of a source of cols columns as the
// source gives them (rs.dtype()), in place where possible.
func (x *executor) flatRaw(rs rowSource, cols, e0, e1 int64) ([]byte, error) {
	r0, r1 := e0/cols, (e1+cols-1)/cols
	win, err := rs.read(window{r0: r0, r1: r1, c0: 0, c1: cols}, &x.win)
	if err != nil {
		return nil, err
	}
	size := int64(elemSize(rs.dtype()))
	off := (e0 - r0*cols) * size
	return win[off : off+(e1-e0)*size], nil
}

// writeAt writes b at off of the file's data, and has it written back.
func (x *stExec) writeAt(b []byte, off int64) error {
	if _, err := x.dw.WriteAt(b, off); err != nil {
		return err
	}
	x.writeback(off, int64(len(b)))
	return nil
}

// writeback has bytes [off, off+n) of the data written back (large
// ranges; only a hint).
func (x *stExec) writeback(off, n int64) {
	if n >= 1<<16 {
		select {
		case x.wb <- [2]int64{off, n}:
		default:
		}
	}
}

// noKernelCopy makes copies go through WriteAt (for tests of that path).
var noKernelCopy = false

// copySource opens (once, into opened) the file of a stored tensor for
// copies inside the kernel and returns it with the tensor's offset in it;
// nil when the source is not a safetensors file.
func (x *stExec) copySource(sf sourceFile, tensor string, opened map[string]*os.File) (*os.File, int64, error) {
	st, ok := sf.(stFile)
	if !ok {
		return nil, 0, nil
	}
	info, err := st.f.Tensor(tensor)
	if err != nil {
		return nil, 0, err
	}
	f := opened[st.f.Path()]
	if f == nil {
		if f, err = os.Open(st.f.Path()); err != nil {
			return nil, 0, err
		}
		opened[st.f.Path()] = f
	}
	return f, 8 + st.f.HeaderSize() + info.DataOffsets[0], nil
}

func (w *stWorker) copyPiece(j *stJob) error {
	x := w.x
	copied := false
	if j.src != nil && !noKernelCopy {
		ok, err := x.dw.CopyAt(j.src, j.srcOff+j.lo, j.hi-j.lo, j.off+j.lo)
		if err != nil {
			return err
		}
		copied = ok
		if ok {
			x.writeback(j.off+j.lo, j.hi-j.lo)
		}
	}
	if !copied {
		if err := x.writeAt(j.data[j.lo:j.hi], j.off+j.lo); err != nil {
			return err
		}
	}
	s := j.t.Sources[0]
	j.sf.releaseRange(s.Tensor, j.lo, j.hi-j.lo)
	w.progress(int(elements(j.t.Shape) * (j.hi - j.lo) / int64(len(j.data))))
	return nil
}

// read returns the elements of a job as quant input.
func (w *stWorker) read(j *stJob) (quant.Input, error) {
	rs, err := w.source(j.g)
	if err != nil {
		return quant.Input{}, err
	}
	return w.flatChunk(rs, j.g.cols, j.lo, j.hi)
}

// done releases the job's source pages and reports its progress; after the
// last job of its weight, all of the weight's pages.
func (w *stWorker) done(j *stJob, left *atomic.Int64) bool {
	w.rs.release(j.lo/j.g.cols, j.hi/j.g.cols)
	w.progress(int(j.hi - j.lo))
	if left.Add(-1) == 0 {
		w.rs.done()
		return true
	}
	return false
}

// firstPass computes the statistics of the 4-bit weights gs (absmax, the
// nested offset and absmax, the quant-state JSON), their chunks spread over
// the threads.
func (x *stExec) firstPass(gs []*bnbGroup) error {
	var jobs []stJob
	for _, g := range gs {
		var k int
		jobs, k = x.chunks(jobs, g, jobStats, true)
		g.statsLeft.Store(int64(k))
	}
	err := x.runJobs(jobs)
	for _, g := range gs {
		g.first = nil
	}
	return err
}

// absmaxPass is a chunk of a weight's first pass; the last one finishes the
// weight's statistics.
func (w *stWorker) absmaxPass(j *stJob) error {
	g, x := j.g, w.x
	rs, err := w.source(g)
	if err != nil {
		return err
	}
	raw, err := w.flatRaw(rs, g.cols, j.lo, j.hi)
	if err != nil {
		return err
	}
	bs := int64(g.bs)
	// absmax is kept from the weight's first chunk to its last only
	g.firstOnce.Do(func() { g.first = make([]float32, (g.n+bs-1)/bs) })
	a := g.first[j.lo/bs : (j.hi+bs-1)/bs]
	// bfloat16 (CUDA rules): the maxima of the bit patterns, unless a value
	// is not finite, for which Absmax4Bit gives the error
	ok := false
	if rs.dtype() == "BF16" && !g.cpu && uintptr(unsafe.Pointer(unsafe.SliceData(raw)))%2 == 0 {
		bits := unsafe.Slice((*uint16)(unsafe.Pointer(unsafe.SliceData(raw))), len(raw)/2)
		if ok, err = quant.BlockAbsmaxBF16(a, bits, g.bs); err != nil {
			return x.tensorErr(g, j.lo, err)
		}
	}
	if !ok {
		in, err := w.input(raw, rs.dtype(), nil)
		if err != nil {
			return err
		}
		opt := quant.Options{Threads: 1}
		if g.cpu {
			err = quant.Absmax4BitCPU(a, in, g.bs, opt)
		} else {
			err = quant.Absmax4Bit(a, in, g.bs, opt)
		}
		if err != nil {
			return x.tensorErr(g, j.lo, err)
		}
	}
	if w.done(j, &g.statsLeft) {
		err := x.finishStats(g, g.first)
		g.first = nil
		return err
	}
	return nil
}

// finishStats computes a 4-bit weight's nested offset, nested absmax and
// quant-state JSON from its absmax.
func (x *stExec) finishStats(g *bnbGroup, absmax []float32) error {
	if g.cpu {
		g.offset = quant.TorchMeanF32(absmax, quant.TorchMeanLanes, max(1, g.w.Bnb.TorchThreads))
	} else {
		g.offset = quant.NestedOffset(absmax)
	}
	codes := make([]uint8, len(absmax))
	g.nestedAbsmax = make([]float32, (len(absmax)+quant.NestedBlocksize4Bit-1)/quant.NestedBlocksize4Bit)
	if err := x.nested(g, codes, g.nestedAbsmax, absmax, quant.Options{Threads: 1}); err != nil {
		return x.tensorErr(g, 0, err)
	}
	q := g.w.quantStateSpec(x)
	g.json = []byte(q.JSON[:q.OffsetAt] + pyFloatRepr(float64(g.offset)) + q.JSON[q.OffsetAt:])
	g.haveStats = true
	return nil
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

// ensureStats computes the row scales of an LLM.int8 weight whose SCB is
// written in an earlier file than its codes, reading the source once.
func (x *stExec) ensureStats(g *bnbGroup) error {
	if g.haveStats {
		return nil
	}
	saved := x.tensor
	x.tensor = g.index
	defer func() { x.tensor = saved }()
	rs, err := x.src.open(g.w.Sources[0])
	if err != nil {
		return err
	}
	defer rs.done()
	opt := x.qopt()
	g.scb = make([]float32, g.n/g.cols)
	per := max(g.cols, int64(x.chunk)/g.cols*g.cols)
	for e0 := int64(0); e0 < g.n; e0 += per {
		if x.cancelled() {
			return quant.ErrCancelled
		}
		e1 := min(g.n, e0+per)
		in, err := x.flatChunk(rs, g.cols, e0, e1)
		if err != nil {
			return err
		}
		if err := quant.Int8RowScales(g.scb[e0/g.cols:e1/g.cols], in, int(g.cols), opt); err != nil {
			return x.tensorErr(g, e0, err)
		}
		rs.release(e0/g.cols, e1/g.cols)
		x.progress(int(e1 - e0))
	}
	g.haveStats = true
	return nil
}

func (x *stExec) qopt() quant.Options {
	return quant.Options{Threads: x.opt.Threads, Cancelled: x.cancelled}
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

func (x *stExec) nested(g *bnbGroup, codes []uint8, nestedAbsmax, absmax []float32, opt quant.Options) error {
	if g.cpu {
		return quant.QuantizeNestedCPU(codes, nestedAbsmax, absmax, g.offset, quant.NestedBlocksize4Bit, opt)
	}
	return quant.QuantizeNested(codes, nestedAbsmax, absmax, g.offset, quant.NestedBlocksize4Bit, opt)
}

// statsPiece is the elements of the pieces whose error statistics are
// merged in order (the report's figures do not depend on the threads).
func statsPiece(bs int) int64 { return int64(max(bs, (1<<15)/bs*bs)) }

// encode4Bit encodes a chunk of a 4-bit weight and writes its codes and
// absmax (or absmax codes): in sub-chunks of whole pieces (and whole nested
// blocks), each widened once and encoded, its absmax double-quantized, and
// decoded again for the error statistics while it is in cache.
func (w *stWorker) encode4Bit(j *stJob) error {
	g, x := j.g, w.x
	in, err := w.read(j)
	if err != nil {
		return err
	}
	nestedQ := g.w.Bnb.DoubleQuant
	bs := int64(g.bs)
	n := j.hi - j.lo
	b0, b1 := j.lo/bs, (j.hi+bs-1)/bs
	packed := grow(&w.packed, int(n+1)/2)
	absmax := growF32(&w.absmax, int(b1-b0))
	var codes []uint8
	if nestedQ {
		codes = grow(&w.codes, int(b1-b0))
	}
	piece := statsPiece(g.bs)
	sub := lcm(g.chunkUnit(false), piece)
	parts := make([]quant.ErrorStats, (n+piece-1)/piece)
	opt := quant.Options{Threads: 1}
	for s0 := int64(0); s0 < n; s0 += sub {
		s1 := min(n, s0+sub)
		xs := growF32(&w.xs, int(s1-s0))
		if err := in.Float32Range(xs, int(s0), int(s1)); err != nil {
			return x.tensorErr(g, j.lo+s0, err)
		}
		ab := absmax[s0/bs : (s1+bs-1)/bs]
		pk := packed[s0/2 : (s1+1)/2]
		ok := false
		if !g.cpu {
			// finite values (else Quantize4Bit gives the error)
			if ok, err = quant.Quantize4BitF32(pk, ab, xs, g.typ, g.bs); err != nil {
				return x.tensorErr(g, j.lo+s0, err)
			}
		}
		switch {
		case ok:
		case g.cpu:
			err = quant.Quantize4BitCPU(pk, ab, quant.F32Input(xs), g.typ, g.bs, opt)
		default:
			err = quant.Quantize4Bit(pk, ab, quant.F32Input(xs), g.typ, g.bs, opt)
		}
		if err != nil {
			return x.tensorErr(g, j.lo+s0, err)
		}
		dec := ab
		if nestedQ {
			cb := codes[s0/bs : (s1+bs-1)/bs]
			nb0 := (b0 + s0/bs) / quant.NestedBlocksize4Bit
			nb1 := nb0 + (int64(len(ab))+quant.NestedBlocksize4Bit-1)/quant.NestedBlocksize4Bit
			nested := growF32(&w.nested, int(nb1-nb0))
			if err := x.nested(g, cb, nested, ab, opt); err != nil {
				return x.tensorErr(g, j.lo+s0, err)
			}
			if !slices.Equal(nested, g.nestedAbsmax[nb0:nb1]) {
				return fmt.Errorf("convert: tensor %q: internal error: the double-quantized absmax of the second pass differs from the first's", g.w.Name)
			}
			dec = growF32(&w.decAbs, len(ab))
			if err := quant.DequantizeNested(dec, cb, nested, g.offset, nil, quant.NestedBlocksize4Bit); err != nil {
				return x.tensorErr(g, j.lo+s0, err)
			}
		}
		ys := growF32(&w.ys, int(s1-s0))
		if err := quant.Dequantize4Bit(quant.F32Output(ys), pk, dec, g.typ, g.bs, opt); err != nil {
			return x.tensorErr(g, j.lo+s0, err)
		}
		for p0 := s0; p0 < s1; p0 += piece {
			p1 := min(s1, p0+piece)
			parts[p0/piece].AddDiff(xs[p0-s0:p1-s0], ys[p0-s0:p1-s0])
		}
	}
	g.parts[j.part] = parts
	if err := x.writeAt(packed, g.offW+j.lo/2); err != nil {
		return err
	}
	switch {
	case nestedQ && g.offA < 0:
		copy(g.codes[b0:b1], codes)
	case nestedQ:
		_, err = x.dw.WriteAt(codes, g.offA+b0)
	case g.offA < 0:
		copy(g.absmax[b0:b1], absmax)
	default:
		_, err = x.dw.WriteAt(f32View(absmax), g.offA+4*b0)
	}
	if err != nil {
		return err
	}
	w.done(j, &g.jobsLeft)
	return nil
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func lcm(a, b int64) int64 { return a / gcd(a, b) * b }

func growF32(buf *[]float32, n int) []float32 {
	if cap(*buf) < n {
		*buf = make([]float32, n)
	}
	return (*buf)[:n]
}

// encodeInt8 encodes a chunk of an LLM.int8 weight and writes its codes
// and row scales.
func (w *stWorker) encodeInt8(j *stJob) error {
	g, x := j.g, w.x
	in, err := w.read(j)
	if err != nil {
		return err
	}
	r0, r1 := j.lo/g.cols, j.hi/g.cols
	opt := quant.Options{Threads: 1}
	xs := growF32(&w.xs, in.Len())
	if err := in.Float32(xs); err != nil {
		return x.tensorErr(g, j.lo, err)
	}
	buf := grow(&w.packed, int(j.hi-j.lo))
	q := unsafe.Slice((*int8)(unsafe.Pointer(unsafe.SliceData(buf))), len(buf))
	scb := growF32(&w.scb, int(r1-r0))
	if err := quant.QuantizeInt8Rows(q, scb, quant.F32Input(xs), int(g.cols), opt); err != nil {
		return x.tensorErr(g, j.lo, err)
	}
	if g.haveStats && !slices.Equal(scb, g.scb[r0:r1]) {
		return fmt.Errorf("convert: tensor %q: internal error: the row scales of the second pass differ from the first's", g.w.Name)
	}
	ys := growF32(&w.ys, len(xs))
	if err := quant.DequantizeInt8Rows(quant.F32Output(ys), q, scb, int(g.cols), opt); err != nil {
		return x.tensorErr(g, j.lo, err)
	}
	const piece = 1 << 16
	parts := make([]quant.ErrorStats, (len(xs)+piece-1)/piece)
	for lo := 0; lo < len(xs); lo += piece {
		hi := min(len(xs), lo+piece)
		parts[lo/piece].AddDiff(xs[lo:hi], ys[lo:hi])
	}
	g.parts[j.part] = parts
	if err := x.writeAt(buf, g.offW+j.lo); err != nil {
		return err
	}
	switch {
	case g.offS >= 0:
		if _, err := x.dw.WriteAt(f32View(scb), g.offS+4*r0); err != nil {
			return err
		}
	case !g.haveStats:
		copy(g.scb[r0:r1], scb) // for a later file
	}
	w.done(j, &g.jobsLeft)
	return nil
}

func f32View(v []float32) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), 4*len(v))
}

// writeAux writes a part of a weight's state whose values are known (or
// kept from a weight written to an earlier file) at off.
func (x *stExec) writeAux(t *Tensor, g *bnbGroup, off int64) error {
	var b []byte
	switch t.Type {
	case "bnb.absmax":
		if g.w.Bnb.DoubleQuant {
			b = g.codes
		} else {
			b = f32View(g.absmax)
		}
	case "bnb.quant_map":
		m := g.typ.QuantMap()
		b = f32View(m[:])
	case "bnb.nested_absmax":
		b = f32View(g.nestedAbsmax)
	case "bnb.nested_quant_map":
		m := quant.DynamicCode(true)
		b = f32View(m[:])
	case "bnb.quant_state":
		b = []byte(t.QuantState.JSON)
		if g.w.Bnb.DoubleQuant {
			b = g.json
		}
	case "bnb.scb":
		b = f32View(g.scb)
	case "bnb.weight_format":
		b = []byte{0}
	default:
		return planErr(t.Name, "unknown tensor type %q", t.Type)
	}
	_, err := x.dw.WriteAt(b, off)
	return err
}
