package convert

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// randomView builds a random view of a source of the given shape the way
// python/wick/convert/view.py does: from the identity, by transposing two
// dimensions, slicing one (with a step) and splitting one in two. Each of
// these keeps every dimension a row or a column dimension.
func randomView(rng *rand.Rand, shape []int64) Part {
	p := Part{Shape: append([]int64(nil), shape...), Strides: rowMajorStrides(shape)}
	for range 1 + rng.IntN(4) {
		nd := len(p.Shape)
		switch rng.IntN(3) {
		case 0: // transpose
			a, b := rng.IntN(nd), rng.IntN(nd)
			p.Shape[a], p.Shape[b] = p.Shape[b], p.Shape[a]
			p.Strides[a], p.Strides[b] = p.Strides[b], p.Strides[a]
		case 1: // slice start:stop:step
			j := rng.IntN(nd)
			n := p.Shape[j]
			start := rng.Int64N(n)
			step := 1 + rng.Int64N(3)
			count := (n - start + step - 1) / step
			count = 1 + rng.Int64N(count)
			p.Offset += start * p.Strides[j]
			p.Shape[j] = count
			p.Strides[j] *= step
		case 2: // split a dimension of even extent in two
			j := rng.IntN(nd)
			if p.Shape[j]%2 != 0 || nd == maxViewDims {
				continue
			}
			n, s := p.Shape[j], p.Strides[j]
			p.Shape = append(p.Shape[:j], append([]int64{2, n / 2}, p.Shape[j+1:]...)...)
			p.Strides = append(p.Strides[:j], append([]int64{s * (n / 2), s}, p.Strides[j+1:]...)...)
		}
	}
	return p
}

func TestViewGatherMatchesDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for iter := range 3000 {
		var shape []int64
		for range 1 + rng.IntN(3) {
			shape = append(shape, 1+rng.Int64N(12))
		}
		size := []int{1, 2, 4, 8}[rng.IntN(4)]
		n := elements(shape)
		data := make([]byte, int(n)*size)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		p := randomView(rng, shape)
		v, err := analyzeView(p, shape)
		if err != nil {
			t.Fatalf("iter %d: view %+v of %v: %v", iter, p, shape, err)
		}
		if v.n != elements(p.Shape) {
			t.Fatalf("iter %d: %d elements, want %d", iter, v.n, elements(p.Shape))
		}
		src := &plainSource{data: data, size: size, cols: shape[len(shape)-1]}
		want := make([]byte, int(v.n)*size)
		gatherRef(want, data, size, p, 0, v.n)
		// random chunks, each through its own window
		var buf []byte
		got := make([]byte, 0, len(want))
		for e0 := int64(0); e0 < v.n; {
			e1 := min(v.n, e0+1+rng.Int64N(v.n))
			w := v.window(e0, e1)
			if w.r0 < 0 || w.r1 > v.rows || w.c0 < 0 || w.c1 > v.cols || w.r0 >= w.r1 || w.c0 >= w.c1 {
				t.Fatalf("iter %d: window %+v outside the source %dx%d", iter, w, v.rows, v.cols)
			}
			win, err := src.read(w, &buf)
			if err != nil {
				t.Fatal(err)
			}
			chunk := make([]byte, int(e1-e0)*size)
			v.gather(chunk, win, w, size, e0, e1)
			got = append(got, chunk...)
			e0 = e1
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("iter %d: view %+v of %v gathers differently from its definition", iter, p, shape)
		}
		if v.contiguous() {
			off := int(p.Offset) * size
			if !bytes.Equal(want, data[off:off+len(want)]) {
				t.Fatalf("iter %d: view %+v called contiguous but is not", iter, p)
			}
		}
	}
}

func TestViewRejectsDimensionsAcrossRows(t *testing.T) {
	for _, tc := range []struct {
		p     Part
		shape []int64
	}{
		{Part{Shape: []int64{6}, Strides: []int64{1}}, []int64{2, 3}},            // a flat view of two rows
		{Part{Shape: []int64{2, 2}, Strides: []int64{2, 1}}, []int64{2, 3}},      // stride 2 in rows of 3
		{Part{Shape: []int64{3}, Strides: []int64{1}, Offset: 1}, []int64{2, 3}}, // starts mid-row, runs on
		{Part{Shape: []int64{2}, Strides: []int64{-3}, Offset: 3}, []int64{2, 3}},
		{Part{Shape: []int64{7}, Strides: []int64{1}}, []int64{6}},
	} {
		if _, err := analyzeView(tc.p, tc.shape); err == nil {
			t.Errorf("view %+v of %v accepted", tc.p, tc.shape)
		}
	}
}

// rowsOf is a decoded source whose element (r, c) is r·cols + c.
type rowsOf struct{ cols int64 }

func (s rowsOf) ReadRows(dst []float32, r0, r1 int64) error {
	for i := range dst {
		dst[i] = float32(r0*s.cols + int64(i))
	}
	return nil
}

// TestRowMapMatchesDefinition: a view rowMap accepts is, row by row, whole
// source rows in order (by the definition of a Part, through gatherRef),
// reading any range of its rows gives them, and filling any range of its
// elements gives those; the views that are whole rows by that definition
// and that rowMap refuses are only the ones that split a row across
// dimensions it does not recognise (none here).
func TestRowMapMatchesDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 9))
	accepted, rejected := 0, 0
	for iter := range 3000 {
		var shape []int64
		for range 1 + rng.IntN(3) {
			shape = append(shape, 1+rng.Int64N(12))
		}
		n := elements(shape)
		cols := shape[len(shape)-1]
		data := make([]byte, 4*int(n)) // element i holds i
		for i := range n {
			binary.LittleEndian.PutUint32(data[4*i:], uint32(i))
		}
		p := randomView(rng, shape)
		v, err := analyzeView(p, shape)
		if err != nil {
			t.Fatal(err)
		}
		want := make([]byte, 4*int(v.n))
		gatherRef(want, data, 4, p, 0, v.n)
		elem := func(e int64) int64 { return int64(binary.LittleEndian.Uint32(want[4*e:])) }
		// by the definition: every run of cols elements is a source row
		whole := v.n%cols == 0
		for q := int64(0); whole && q < v.n/cols; q++ {
			for c := range cols {
				if elem(q*cols+c) != elem(q*cols)+c || elem(q*cols)%cols != 0 {
					whole = false
					break
				}
			}
		}
		m := v.rowMap()
		if m == nil {
			rejected++
			if whole && v.n > cols {
				// rows reached through a split inner dimension only
				t.Logf("iter %d: view %+v of %v is whole rows but refused", iter, p, shape)
			}
			continue
		}
		accepted++
		if !whole {
			t.Fatalf("iter %d: view %+v of %v accepted but not whole rows", iter, p, shape)
		}
		m.src = &decodedSource{rows: rowsOf{cols}, cols: cols}
		a := rng.Int64N(v.n / cols)
		b := a + 1 + rng.Int64N(v.n/cols-a)
		got := make([]float32, (b-a)*cols)
		if err := m.read(got, a, b); err != nil {
			t.Fatal(err)
		}
		for i, x := range got {
			if int64(x) != elem(a*cols+int64(i)) {
				t.Fatalf("iter %d: view %+v of %v: rows [%d, %d) element %d = %v, want %d", iter, p, shape, a, b, i, x, elem(a*cols+int64(i)))
			}
		}
		// fill: any range of elements, whole rows or not
		e0 := rng.Int64N(v.n)
		e1 := e0 + 1 + rng.Int64N(v.n-e0)
		got = make([]float32, e1-e0+1)
		got[e1-e0] = -1 // fill writes e1-e0 values, no more
		if err := m.fill(got[:e1-e0], e0, e1); err != nil {
			t.Fatal(err)
		}
		for i, x := range got[:e1-e0] {
			if int64(x) != elem(e0+int64(i)) {
				t.Fatalf("iter %d: view %+v of %v: fill [%d, %d) element %d = %v, want %d", iter, p, shape, e0, e1, i, x, elem(e0+int64(i)))
			}
		}
		if got[e1-e0] != -1 {
			t.Fatalf("iter %d: fill [%d, %d) wrote past its range", iter, e0, e1)
		}
	}
	if accepted < 300 || rejected < 300 {
		t.Fatalf("accepted %d views, refused %d: the test covers too little", accepted, rejected)
	}
}
