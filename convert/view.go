package convert

import (
	"fmt"
	"math/bits"
	"sync"
)

// A Part (plan.go) is a strided view of a source's row-major elements. The
// executor reads it through the source's 2-D flattening [R, C] (C = the last
// dimension): every dimension of a part must move either whole rows (its
// stride a multiple of C) or within a row (the columns the part reaches,
// Offset%C + Σ (n-1)·stride over those dimensions, stay below C). Python
// (python/wick/convert/view.py) always emits parts in this form. Views of
// this kind express everything the architecture adapters need: q/k
// permutations, head re-orderings, row and column slices (also strided, as
// gpt-oss' interleaved gate/up), per-head and whole-tensor transposes, and
// experts stacked from several sources (one part per source).
//
// A chunk of a part is read through a window: the rectangle of source rows
// and columns the chunk touches, copied (or, when it is a whole run of
// contiguous rows, viewed in place) and then gathered from with the part's
// strides rescaled to the window.

// maxViewDims bounds a part's rank (the plan check's limit).
const maxViewDims = 8

// viewDim is one dimension of an analysed part.
type viewDim struct {
	n      int64 // extent
	rowStr int64 // rows moved per index step (row dimensions)
	colStr int64 // columns moved per index step (column dimensions)
}

// view is a part analysed against its source's 2-D flattening.
type view struct {
	dims       []viewDim
	row0, col0 int64 // source row and column of element 0
	rows, cols int64 // the source's 2-D flattening
	n          int64 // elements
}

func checkShape(shape []int64) error {
	if len(shape) == 0 || len(shape) > maxViewDims {
		return fmt.Errorf("shape %v must have 1 to %d dimensions", shape, maxViewDims)
	}
	n := int64(1)
	for _, d := range shape {
		if d <= 0 || n > (1<<62)/d {
			return fmt.Errorf("shape %v has a dimension ≤ 0 or is too large", shape)
		}
		n *= d
	}
	return nil
}

func rowMajorStrides(shape []int64) []int64 {
	st := make([]int64, len(shape))
	s := int64(1)
	for i := len(shape) - 1; i >= 0; i-- {
		st[i] = s
		s *= shape[i]
	}
	return st
}

// parts returns the tensor's parts: Parts, or each source whole, in order.
func (t *Tensor) parts() []Part {
	if len(t.Parts) > 0 {
		return t.Parts
	}
	out := make([]Part, len(t.Sources))
	for i := range t.Sources {
		sh := t.Sources[i].logicalShape()
		out[i] = Part{Source: i, Shape: sh, Strides: rowMajorStrides(sh)}
	}
	return out
}

// checkParts checks that the parts are valid views of their sources whose
// elements are whole output rows and add up to the n elements of the tensor.
func (t *Tensor) checkParts(n int64) error {
	var total int64
	for i, p := range t.parts() {
		if p.Source < 0 || p.Source >= len(t.Sources) {
			return planErr(t.Name, "part %d names source %d of %d", i, p.Source, len(t.Sources))
		}
		v, err := analyzeView(p, t.Sources[p.Source].logicalShape())
		if err != nil {
			return planErr(t.Name, "part %d: %v", i, err)
		}
		if v.n%t.Shape[0] != 0 {
			return planErr(t.Name, "part %d has %d elements, not whole rows of %d", i, v.n, t.Shape[0])
		}
		total += v.n
	}
	if total != n {
		return planErr(t.Name, "sources hold %d elements; shape %v needs %d", total, t.Shape, n)
	}
	return nil
}

// analyzeView checks part p against a source of the given shape and splits
// its dimensions into row and column dimensions.
func analyzeView(p Part, srcShape []int64) (*view, error) {
	if err := checkShape(p.Shape); err != nil {
		return nil, err
	}
	if len(p.Strides) != len(p.Shape) {
		return nil, fmt.Errorf("%d strides for %d dimensions", len(p.Strides), len(p.Shape))
	}
	total := elements(srcShape)
	cols := srcShape[len(srcShape)-1]
	if p.Offset < 0 || p.Offset >= total {
		return nil, fmt.Errorf("offset %d is outside the source's %d elements", p.Offset, total)
	}
	v := &view{row0: p.Offset / cols, col0: p.Offset % cols, rows: total / cols, cols: cols, n: elements(p.Shape)}
	last, colReach := p.Offset, v.col0
	for j, n := range p.Shape {
		s := p.Strides[j]
		if s < 0 {
			return nil, fmt.Errorf("stride %d is negative", s)
		}
		hi, lo := bits.Mul64(uint64(n-1), uint64(s))
		if hi != 0 || lo > uint64(total) {
			return nil, fmt.Errorf("dimension %d (extent %d, stride %d) reaches beyond the source's %d elements", j, n, s, total)
		}
		last += int64(lo)
		d := viewDim{n: n}
		switch {
		case n == 1:
		case s%cols == 0:
			d.rowStr = s / cols
		default:
			d.colStr = s
			colReach += (n - 1) * s
		}
		v.dims = append(v.dims, d)
	}
	if last >= total {
		return nil, fmt.Errorf("the view reaches element %d of a source of %d", last, total)
	}
	if colReach >= cols {
		return nil, fmt.Errorf("shape %v strides %v offset %d: a dimension crosses the rows of the source's %d columns "+
			"(each dimension must move whole rows or stay within a row)", p.Shape, p.Strides, p.Offset, cols)
	}
	return v, nil
}

// contiguous reports whether the view is the source's elements
// [offset, offset+n) in order (so chunks can be read in place).
func (v *view) contiguous() bool {
	want := int64(1)
	for j := len(v.dims) - 1; j >= 0; j-- {
		d := v.dims[j]
		if d.n == 1 {
			continue
		}
		if d.colStr*1+d.rowStr*v.cols != want {
			return false
		}
		want *= d.n
	}
	return true
}

// rowMap is a view whose every cols consecutive elements are one whole
// source row, in order (a whole tensor, a row slice, a q/k permutation, a
// head re-ordering: anything but column slices and transposes), read from
// a decoded source row by row.
type rowMap struct {
	v    *view
	cols int64
	rows []viewDim // the dimensions that move whole rows
	src  *decodedSource
}

// rowMap returns the view as a rowMap, or nil when it is not one.
func (v *view) rowMap() *rowMap {
	if v.col0 != 0 || v.cols <= 0 || v.n%v.cols != 0 {
		return nil
	}
	// the innermost dimensions make up one row, contiguously
	want, j := int64(1), len(v.dims)-1
	for ; j >= 0 && want < v.cols; j-- {
		d := v.dims[j]
		if d.n == 1 {
			continue
		}
		if d.rowStr != 0 || d.colStr != want {
			return nil
		}
		want *= d.n
	}
	if want != v.cols {
		return nil
	}
	for _, d := range v.dims[:j+1] {
		if d.colStr != 0 {
			return nil
		}
	}
	return &rowMap{v: v, cols: v.cols, rows: v.dims[:j+1]}
}

// sourceRow returns the source row of row q of the view.
func (m *rowMap) sourceRow(q int64) int64 {
	r := m.v.row0
	for j := len(m.rows) - 1; j >= 0; j-- {
		d := m.rows[j]
		r += q % d.n * d.rowStr
		q /= d.n
	}
	return r
}

// read decodes rows [a, b) of the view into dst, runs of consecutive source
// rows at a time.
func (m *rowMap) read(dst []float32, a, b int64) error {
	for q := a; q < b; {
		r0 := m.sourceRow(q)
		e := q + 1
		for e < b && m.sourceRow(e) == r0+(e-q) {
			e++
		}
		if err := m.src.rows.ReadRows(dst[(q-a)*m.cols:(e-a)*m.cols], r0, r0+(e-q)); err != nil {
			return err
		}
		q = e
	}
	return nil
}

// fill writes elements [e0, e1) of the view into dst: it decodes the view
// rows holding them, straight into dst when the range is made of whole rows,
// else into a pooled buffer it copies the range from. It is safe for
// concurrent use (the decoders' ReadRows are), as quant.FuncInput asks.
func (m *rowMap) fill(dst []float32, e0, e1 int64) error {
	a, b := e0/m.cols, (e1+m.cols-1)/m.cols // the view's rows holding [e0, e1)
	if e0 == a*m.cols && e1 == b*m.cols {
		return m.read(dst[:e1-e0], a, b)
	}
	need := int((b - a) * m.cols)
	p := rowScratch.Get().(*[]float32)
	defer rowScratch.Put(p)
	if cap(*p) < need {
		*p = make([]float32, need)
	}
	buf := (*p)[:need]
	if err := m.read(buf, a, b); err != nil {
		return err
	}
	copy(dst[:e1-e0], buf[e0-a*m.cols:])
	return nil
}

// rowScratch holds the buffers rowMap.fill decodes partly used rows into.
var rowScratch = sync.Pool{New: func() any { return new([]float32) }}

// window is the rectangle of source rows and columns that elements
// [e0, e1) of the view touch.
type window struct{ r0, r1, c0, c1 int64 } // half-open

func (w window) size() int64 { return (w.r1 - w.r0) * (w.c1 - w.c0) }

// unravel writes the multi-index of element e into idx.
func (v *view) unravel(e int64, idx []int64) {
	for j := len(v.dims) - 1; j >= 0; j-- {
		n := v.dims[j].n
		idx[j] = e % n
		e /= n
	}
}

// window returns the source rectangle elements [e0, e1) touch: a box over
// the multi-indices (dimensions outside the first one where the first and
// last element differ are taken whole), which bounds the touched rows and
// columns from above and is exact for the views adapters make.
func (v *view) window(e0, e1 int64) window {
	var a, b [maxViewDims]int64
	v.unravel(e0, a[:len(v.dims)])
	v.unravel(e1-1, b[:len(v.dims)])
	w := window{r0: v.row0, r1: v.row0, c0: v.col0, c1: v.col0}
	split := false
	for j, d := range v.dims {
		lo, hi := a[j], b[j]
		if split {
			lo, hi = 0, d.n-1
		} else if lo != hi {
			split = true
		}
		w.r0 += lo * d.rowStr
		w.r1 += hi * d.rowStr
		w.c0 += lo * d.colStr
		w.c1 += hi * d.colStr
	}
	w.r1++
	w.c1++
	return w
}

// gather copies elements [e0, e1) of the view from win, the window w of the
// source read as rows of (w.c1-w.c0) elements of size bytes each, into dst.
func (v *view) gather(dst, win []byte, w window, size int, e0, e1 int64) {
	wc := w.c1 - w.c0
	var idx, str [maxViewDims]int64
	nd := len(v.dims)
	v.unravel(e0, idx[:nd])
	base := (v.row0-w.r0)*wc + (v.col0 - w.c0)
	off := base
	for j, d := range v.dims {
		str[j] = d.rowStr*wc + d.colStr
		off += idx[j] * str[j]
	}
	inner := v.dims[nd-1].n
	s := str[nd-1]
	p := 0
	for e := e0; e < e1; {
		// the rest of the innermost dimension, or what is left
		run := min(inner-idx[nd-1], e1-e)
		switch {
		case s == 1:
			p += copy(dst[p:], win[int(off)*size:int(off+run)*size])
		case size == 2:
			for k := int64(0); k < run; k++ {
				o := int(off+k*s) * 2
				dst[p], dst[p+1] = win[o], win[o+1]
				p += 2
			}
		case size == 4:
			for k := int64(0); k < run; k++ {
				o := int(off+k*s) * 4
				copy(dst[p:p+4], win[o:o+4])
				p += 4
			}
		default:
			for k := int64(0); k < run; k++ {
				o := int(off+k*s) * size
				p += copy(dst[p:p+size], win[o:o+size])
			}
		}
		e += run
		// advance the odometer past the run
		idx[nd-1] += run
		off += run * s
		for j := nd - 1; j > 0 && idx[j] == v.dims[j].n; j-- {
			off -= idx[j] * str[j]
			idx[j] = 0
			idx[j-1]++
			off += str[j-1]
		}
	}
}

// gatherRef is the reference twin of reading elements [e0, e1) of the view
// straight from the source's bytes (all of it, row-major), one element at a
// time by the definition of a Part.
func gatherRef(dst []byte, src []byte, size int, p Part, e0, e1 int64) {
	idx := make([]int64, len(p.Shape))
	for e := e0; e < e1; e++ {
		r := e
		for j := len(p.Shape) - 1; j >= 0; j-- {
			idx[j] = r % p.Shape[j]
			r /= p.Shape[j]
		}
		f := p.Offset
		for j := range idx {
			f += idx[j] * p.Strides[j]
		}
		copy(dst[int(e-e0)*size:], src[int(f)*size:int(f+1)*size])
	}
}
