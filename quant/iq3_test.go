package quant

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// Tests of the IQ3_XXS, IQ3_S and IQ4_XS encoders beyond the golden file
// (golden_random_test.go): the tables against ggml-common.h, and every fast
// encoder against its reference twin.

var iqKernelPairs = []kernelPair{
	{IQ4_XS, quantizeIQ4_XS, quantizeIQ4_XSRef},
	{IQ3_XXS, quantizeIQ3_XXS, quantizeIQ3_XXSRef},
	{IQ3_S, quantizeIQ3_S, quantizeIQ3_SRef},
}

// TestIQ3Tables checks entries of the grids built like iq3xs_init_impl
// against ggml-common.h's decoder tables iq3xxs_grid and iq3s_grid (first
// and last rows copied from the pinned source), and ksigns_iq2xs.
func TestIQ3Tables(t *testing.T) {
	xxs := map[int]uint32{0: 0x04040404, 1: 0x04040414, 2: 0x04040424, 3: 0x04040c0c, 4: 0x04040c1c, 5: 0x04040c3e,
		6: 0x04041404, 7: 0x04041414, 248: 0x3e1c1c1c, 249: 0x3e1c3404, 250: 0x3e24140c, 251: 0x3e24240c,
		252: 0x3e2c0404, 253: 0x3e2c0414, 254: 0x3e2c1424, 255: 0x3e341c04}
	g := iq3Grid(256)
	for k, want := range xxs {
		var b [4]byte
		for i := range b {
			b[i] = iq3xxsDecodeLevel[g.grid[k][i]>>1]
		}
		if got := binary.LittleEndian.Uint32(b[:]); got != want {
			t.Errorf("iq3xxs_grid[%d] = %#08x, want %#08x", k, got, want)
		}
	}
	s := map[int]uint32{0: 0x01010101, 1: 0x01010103, 2: 0x01010105, 3: 0x0101010b, 4: 0x0101010f, 5: 0x01010301,
		6: 0x01010303, 7: 0x01010305, 504: 0x0f090307, 505: 0x0f090501, 506: 0x0f090b01, 507: 0x0f0b0505,
		508: 0x0f0b0905, 509: 0x0f0d0105, 510: 0x0f0d0703, 511: 0x0f0f0101}
	g = iq3Grid(512)
	for k, want := range s {
		var b [4]byte
		for i := range b {
			b[i] = byte(g.grid[k][i])
		}
		if got := binary.LittleEndian.Uint32(b[:]); got != want {
			t.Errorf("iq3s_grid[%d] = %#08x, want %#08x", k, got, want)
		}
	}
	for i, want := range map[int]uint8{0: 0, 1: 129, 2: 130, 3: 3, 15: 15, 16: 144, 127: 255} {
		if ksignsIQ2XS[i] != want {
			t.Errorf("ksigns_iq2xs[%d] = %d, want %d", i, ksignsIQ2XS[i], want)
		}
	}
	// every off-grid point has neighbours, every kmap entry is consistent
	for _, size := range []int{256, 512} {
		g := iq3Grid(size)
		on := 0
		for u, m := range g.kmap {
			if m >= 0 {
				on++
				continue
			}
			if len(g.neighboursOf(u)) == 0 {
				t.Errorf("grid %d: point %d has no neighbours", size, u)
			}
		}
		if on != size {
			t.Errorf("grid %d: %d points on the grid", size, on)
		}
	}
}

// runKernel calls f and returns its *AbortError, if it panics with one.
func runKernel(f quantizeFunc, dst []byte, x []float32, nPerRow int, im []float32) (err *AbortError) {
	defer func() {
		if r := recover(); r != nil {
			e, ok := r.(*AbortError)
			if !ok {
				panic(r)
			}
			err = e
		}
	}()
	f(dst, x, nPerRow, im)
	return nil
}

func iqDiffCheck(t *testing.T, p kernelPair, what string, x []float32, nPerRow int, im []float32) {
	t.Helper()
	tr, _ := TraitsOf(p.typ)
	n := len(x) / tr.BlockSize * tr.BlockBytes
	got, want := make([]byte, n), make([]byte, n)
	errGot := runKernel(p.fast, got, x, nPerRow, im)
	errWant := runKernel(p.ref, want, x, nPerRow, im)
	switch {
	case (errGot == nil) != (errWant == nil):
		t.Errorf("%s fast vs reference (%s): abort %v vs %v", tr.Name, what, errGot, errWant)
	case errGot != nil:
		if errGot.Block != errWant.Block || errGot.What != errWant.What {
			t.Errorf("%s fast vs reference (%s): abort %+v vs %+v", tr.Name, what, errGot, errWant)
		}
	case !bytes.Equal(got, want):
		reportBlockMismatch(t, fmt.Sprintf("%s fast vs reference (%s)", tr.Name, what), tr, got, want)
	}
}

func TestIQKernelsFastMatchReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	rows := 16
	if testing.Short() {
		rows = 4
	}
	inputs := map[string][]float32{"adversarial": adversarialRows(rng, rows)}
	for _, d := range []string{"normal", "heavy", "outliers", "nearzero", "ints", "wide", "huge", "adversarial"} {
		inputs[d+"/golden"] = goldenBits(d, rng.Uint64(), rows, 256)
	}
	inputs["random"] = randomBlocks(rng, 8*rows)
	// large values: the bound of the IQ3 neighbour model (S < 2^100) holds
	// for some candidate scales of a sub-block and not for others
	big := goldenBits("normal", rng.Uint64(), 4*rows, 256)
	for i := range big {
		big[i] *= float32(math.Ldexp(1, 30+i/256%12))
	}
	inputs["large"] = big
	for _, p := range iqKernelPairs {
		for name, x := range inputs {
			iqDiffCheck(t, p, name, x, 256, nil)
			iqDiffCheck(t, p, name+"+imatrix", x, 256, randomImatrix(rng, 256))
			iqDiffCheck(t, p, name+"+imatrix/rows of 512", x[:len(x)/512*512], 512, randomImatrix(rng, 512))
		}
	}
}

// FuzzIQKernels: random rows from a seed, with and without an importance
// matrix.
func FuzzIQKernels(f *testing.F) {
	f.Add(uint64(1), uint64(2), uint8(0))
	f.Add(uint64(3), uint64(4), uint8(5))
	f.Fuzz(func(t *testing.T, a, b uint64, mode uint8) {
		rng := rand.New(rand.NewPCG(a, b))
		var x []float32
		switch mode % 3 {
		case 0:
			x = adversarialRows(rng, 1)
		case 1:
			x = randomBlocks(rng, 8)
		default:
			x = goldenBits([]string{"normal", "heavy", "outliers", "nearzero", "ints", "wide", "huge", "adversarial"}[rng.IntN(8)], a, 1, 256)
		}
		var im []float32
		if mode&4 != 0 {
			im = randomImatrix(rng, 256)
		}
		for _, p := range iqKernelPairs {
			iqDiffCheck(t, p, "fuzz", x, 256, im)
		}
	})
}

// TestIQ3AbortError: input ggml aborts on comes back from Quantize as an
// *AbortError naming the block.
func TestIQ3AbortError(t *testing.T) {
	x := make([]float32, 3*256)
	for i := range x {
		x[i] = float32(i%7) - 3
	}
	for i := 512; i < 768; i++ {
		x[i] = 3e38 * float32(i%3-1)
	}
	for _, typ := range []Type{IQ3_XXS, IQ3_S} {
		tr, _ := TraitsOf(typ)
		_, err := Quantize(typ, make([]byte, 3*tr.BlockBytes), F32Input(x), 768, Options{})
		var ae *AbortError
		if !errors.As(err, &ae) || ae.Block != 2 || ae.Type != typ {
			t.Errorf("%s: %v, want an AbortError for block 2", tr.Name, err)
		}
	}
}

func benchKernel(b *testing.B, f quantizeFunc, typ Type, withIm bool) {
	x := goldenBits("normal", 12345, 64, 4096)
	var im []float32
	if withIm {
		im = goldenImatrix(678, 4096)
	}
	tr, _ := TraitsOf(typ)
	out := make([]byte, len(x)/tr.BlockSize*tr.BlockBytes)
	f(out[:tr.BlockBytes], x[:tr.BlockSize], tr.BlockSize, nil) // builds the tables
	b.SetBytes(int64(4 * len(x)))
	c0, n := processCPUSeconds(), 0
	for b.Loop() {
		f(out, x, 4096, im)
		n++
	}
	if c := processCPUSeconds() - c0; c > 0 {
		b.ReportMetric(float64(4*len(x))*float64(n)/c/1e6, "cpuMB/s")
	}
}

// BenchmarkIQKernels: the encoders on one thread, fast and reference.
func BenchmarkIQKernels(b *testing.B) {
	for _, p := range iqKernelPairs {
		tr, _ := TraitsOf(p.typ)
		for _, withIm := range []bool{false, true} {
			suffix := ""
			if withIm {
				suffix = "+imatrix"
			}
			b.Run(tr.Name+suffix+"/fast", func(b *testing.B) { benchKernel(b, p.fast, p.typ, withIm) })
			b.Run(tr.Name+suffix+"/ref", func(b *testing.B) { benchKernel(b, p.ref, p.typ, withIm) })
			if p.typ == IQ3_XXS || p.typ == IQ3_S { // the other searches
				for mode, name := range map[int]string{1: "event", 2: "lanesgo"} {
					b.Run(tr.Name+suffix+"/"+name, func(b *testing.B) {
						defer func(old int) { iq3Mode = old }(iq3Mode)
						iq3Mode = mode
						benchKernel(b, p.fast, p.typ, withIm)
					})
				}
			}
		}
	}
}

// TestIQ3NeighbourModel drives the neighbour search's real-valued model
// directly: for random groups and off-grid points, scales falling by about
// 1% a step (as in the scale search) across the range where the model's
// bound S < 2^100 starts to hold, and random jumps back up; every answer
// must be ggml's (iq3BestNeighbourRef).
func TestIQ3NeighbourModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, size := range []int{256, 512} {
		tb := iq3Grid(size)
		var off []int
		for u, m := range tb.kmap {
			if m < 0 {
				off = append(off, u)
			}
		}
		var s iq3Scratch
		for trial := 0; trial < 300; trial++ {
			mag := math.Ldexp(1, rng.IntN(80)-40)
			for i := range s.xval {
				s.xval[i] = float32(rng.Float64() * mag)
				s.waux[i] = float32(rng.Float64() * mag)
				if rng.IntN(10) == 0 {
					s.waux[i] = 0
				}
			}
			s.prepareNeighbours()
			k, u := rng.IntN(8), off[rng.IntN(len(off))]
			sc := float32(mag * (1 + rng.Float64()))
			for step := 0; step < 200; step++ {
				if rng.IntN(50) == 0 {
					sc *= 1.5
				}
				sq := iq3ScaledLevels(sc)
				got := abortsAs(func() int { return s.neighbour(tb, k, u, sc, &sq) })
				want := abortsAs(func() int {
					var L [4]int8
					return iq3BestNeighbourRef(tb, tb.neighboursOf(u), s.xval[4*k:4*k+4], s.waux[4*k:4*k+4], sc, L[:])
				})
				if got != want {
					t.Fatalf("grid %d, point %d, scale %v (step %d): neighbour %d, ggml's %d", size, u, sc, step, got, want)
				}
				sc *= 0.987
			}
		}
	}
}

// TestIQ3NeighbourModelSearch drives the neighbour search's real-valued model
// directly, the way the scale search does: for random groups (magnitudes
// 2⁻⁴⁰..2⁴⁰, so that the model's bound S < 2¹⁰⁰ holds for some and not
// for others, zero weights, a negative value as IQ3_XXS's sign flip leaves)
// and the candidate ids of a search, and then a scale off the sequence (the
// refinement), every answer for a point off the grid must be ggml's
// (iq3BestNeighbourRef).
func TestIQ3NeighbourModelSearch(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, size := range []int{256, 512} {
		tb := iq3Grid(size)
		var s iq3Scratch
		checked := 0
		for trial := 0; trial < 400; trial++ {
			mag := math.Ldexp(1, rng.IntN(80)-40)
			var max float32
			for i := range s.xval {
				s.xval[i] = float32(rng.Float64() * mag)
				s.waux[i] = float32(rng.Float64() * mag)
				if rng.IntN(10) == 0 {
					s.waux[i] = 0
				}
				if rng.IntN(40) == 0 {
					s.xval[i] = -s.xval[i]
				}
				max = cmax(max, s.xval[i])
			}
			s.prepareNeighbours()
			check := func(k int, id, sc float32) {
				u := 0
				for i := 0; i < 4; i++ {
					u |= iq3Level(id, s.xval[4*k+i]) << (3 * i)
				}
				if tb.kmap[u] >= 0 {
					return
				}
				sq := iq3ScaledLevels(sc)
				got := abortsAs(func() int { return s.neighbour(tb, k, u, sc, &sq) })
				ref := abortsAs(func() int {
					var L [4]int8
					return iq3BestNeighbourRef(tb, tb.neighboursOf(u), s.xval[4*k:4*k+4], s.waux[4*k:4*k+4], sc, L[:])
				})
				if got != ref {
					t.Fatalf("grid %d, point %d, scale %v: neighbour %d, ggml's %d", size, u, sc, got, ref)
				}
				checked++
			}
			for is := -15; is <= 15; is++ {
				id := float32(15) + float32(float32(is)*0.2)
				id /= max
				for k := 0; k < 8; k++ {
					check(k, id, 1/id)
				}
			}
			sc := float32(float64(max) / (10 + 10*rng.Float64())) // a refinement's scale
			for k := 0; k < 8; k++ {
				check(k, 1/sc, sc)
			}
		}
		if checked < 10000 {
			t.Errorf("grid %d: only %d searches checked", size, checked)
		}
	}
}

// abortsAs returns f(), or -1 if f panics with an *AbortError.
func abortsAs(f func() int) (r int) {
	defer func() {
		if e := recover(); e != nil {
			if _, ok := e.(*AbortError); !ok {
				panic(e)
			}
			r = -1
		}
	}()
	return f()
}
