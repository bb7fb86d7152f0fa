package quant

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
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
		forIQ3Modes(p.typ, func(mode string) {
			for name, x := range inputs {
				iqDiffCheck(t, p, name+mode, x, 256, nil)
				iqDiffCheck(t, p, name+"+imatrix"+mode, x, 256, randomImatrix(rng, 256))
				iqDiffCheck(t, p, name+"+imatrix/rows of 512"+mode, x[:len(x)/512*512], 512, randomImatrix(rng, 512))
			}
		})
	}
}

// forIQ3Modes runs f once per IQ3 scale search (iq3Mode: the default,
// the event search, the lane search with its Go twins; and where AVX-512
// runs, the default with AVX-512 turned off) for the IQ3 types, once for
// other types; f gets a suffix naming the search.
func forIQ3Modes(typ Type, f func(mode string)) {
	if typ != IQ3_XXS && typ != IQ3_S {
		f("")
		return
	}
	defer func(old int) { iq3Mode = old }(iq3Mode)
	for mode, name := range []string{"", " [event search]", " [lane search, Go twins]"} {
		iq3Mode = mode
		f(name)
	}
	iq3Mode = 0
	if iq3LanesOn() {
		restore := setAVX512(false)
		f(" [AVX-512 off]")
		restore()
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
			forIQ3Modes(p.typ, func(mode string) { iqDiffCheck(t, p, "fuzz"+mode, x, 256, im) })
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

// iq3LaneFloat draws a float32 for the lane kernels' tests: mostly
// ordinary values, sometimes zeros, subnormals, huge values, ±Inf, NaN or
// negative values.
func iq3LaneFloat(rng *rand.Rand, scale float32) float32 {
	switch rng.IntN(24) {
	case 0:
		return 0
	case 1:
		return float32(math.Copysign(0, -1))
	case 2:
		return float32(math.Inf(1))
	case 3:
		return float32(math.NaN())
	case 4:
		return math.Float32frombits(rng.Uint32N(0x800000)) // subnormal
	case 5:
		return float32(rng.Float64() * 3e38)
	case 6:
		return -scale * float32(rng.Float64())
	case 7:
		return float32(math.Ldexp(rng.Float64(), rng.IntN(200)-100))
	case 8, 9, 10: // small integers: exact ties in the neighbour search
		return float32(rng.IntN(16)) * scale / 8
	}
	return scale * float32(rng.Float64())
}

// iq3LaneCase fills w with a random sub-block's candidates (ids as the
// search makes them for a random max, or arbitrary) and values.
func iq3LaneCase(rng *rand.Rand, w *iq3Lanes, xval *[32]float32) {
	sc := float32(math.Ldexp(1, rng.IntN(40)-20))
	for i := range xval {
		xval[i] = iq3LaneFloat(rng, sc)
	}
	max := abs32(xval[rng.IntN(32)])
	arbitrary := rng.IntN(4) == 0
	for c := range w.ids {
		id := float32(15) + float32(float32(c%31-15)*0.2)
		id /= max
		if arbitrary {
			id = iq3LaneFloat(rng, 1/sc)
		}
		if rng.IntN(8) == 0 { // a level boundary of element i: 0.5(id·x − 1) = l + 0.5
			i, l := rng.IntN(32), rng.IntN(9)
			if xval[i] != 0 {
				id = float32(2*l+2) / xval[i]
				for d := rng.IntN(5) - 2; d != 0; d -= sign(d) {
					id = nextFloat32(id, d > 0)
				}
			}
		}
		w.ids[c], w.scl[c] = id, 1/id
		if rng.IntN(6) == 0 {
			w.scl[c] = iq3LaneFloat(rng, sc)
		}
	}
	w.xv = *xval
	for i := range w.wv {
		w.wv[i] = iq3LaneFloat(rng, 1)
		if rng.IntN(3) == 0 {
			w.wv[i] = abs32(xval[i])
		}
	}
}

func sign(d int) int {
	if d < 0 {
		return -1
	}
	return 1
}

func nextFloat32(f float32, up bool) float32 {
	if up {
		return math.Nextafter32(f, float32(math.Inf(1)))
	}
	return math.Nextafter32(f, float32(math.Inf(-1)))
}

// TestIQ3LaneKernels compares the assembly kernels of the lane search
// with their Go twins, output for output (bit patterns, including the
// neighbour search's abort), on random, tie-prone and adversarial input.
func TestIQ3LaneKernels(t *testing.T) {
	if !iq3LanesOn() {
		t.Skip("no AVX-512 lane kernels here")
	}
	rng := rand.New(rand.NewPCG(31, 32))
	n := 20000
	if testing.Short() {
		n = 3000
	}
	var long [3]int // searches over lists of ≤ 16, 17..32 and more entries
	for trial := 0; trial < n; trial++ {
		tb := iq3Grid([]int{256, 512}[trial%2])
		var w iq3Lanes
		var xval [32]float32
		iq3LaneCase(rng, &w, &xval)
		got, want := w, w
		iq3LevelsAsm(&got, &xval, &tb.kmap)
		iq3LevelsGeneric(&want, &xval, &tb.kmap)
		if got.lv != want.lv || got.u != want.u || got.km != want.km {
			t.Fatalf("trial %d: levels differ:\nasm %v %v\ngo  %v %v\nids %v x %v", trial, got.lv, got.km, want.lv, want.km, w.ids, xval)
		}
		for k := 0; k < 8; k++ {
			for c := 0; c < 32; c++ {
				if u := got.u[k][c]; tb.kmap[u] < 0 {
					long[min(tb.nbCnt[u]/16, 2)]++
				}
			}
		}
		cmask := rng.Uint32()
		if rng.IntN(2) == 0 {
			cmask = 1<<(2*(rng.IntN(7)+9)+1) - 1
		}
		for k := 0; k < 8; k++ {
			okGot := iq3NeighboursAsm(&got, k, cmask, tb)
			okWant := iq3NeighboursGeneric(&want, k, cmask, tb)
			if okGot != okWant || got.lv != want.lv {
				t.Fatalf("trial %d group %d: neighbours differ (ok %v vs %v):\nasm %v\ngo  %v\nscl %v x %v w %v", trial, k, okGot, okWant, got.lv, want.lv, w.scl, w.xv, w.wv)
			}
		}
		var weight [32]float32
		for i := range weight {
			weight[i] = iq3LaneFloat(rng, 1)
		}
		if rng.IntN(2) == 0 {
			for i := range got.lv {
				for c := range got.lv[i] {
					got.lv[i][c] = int32(rng.IntN(8))
				}
			}
			want.lv = got.lv
		}
		iq3SumsAsm(&got, &weight, &xval)
		iq3SumsGeneric(&want, &weight, &xval)
		for c := 0; c < 32; c++ {
			if !sameFloat32(got.sqx[c], want.sqx[c]) || !sameFloat32(got.sq2[c], want.sq2[c]) {
				t.Fatalf("trial %d candidate %d: sums %v %v, want %v %v", trial, c, got.sqx[c], got.sq2[c], want.sqx[c], want.sq2[c])
			}
		}
	}
	t.Logf("searches by list length (≤16, ≤32, more): %v", long)
	if long[1] == 0 || long[2] == 0 {
		t.Errorf("searches by list length (≤16, ≤32, more): %v; the multi-chunk paths were not exercised", long)
	}
}

// TestIQ3NeighbourLists checks every neighbour list against ggml's way of
// making it (iq3xs_init_impl): sort all (distance, index) pairs, keep
// those up to the nwant-th distinct distance.
func TestIQ3NeighbourLists(t *testing.T) {
	for _, size := range []int{256, 512} {
		tb, nwant := iq3Grid(size), map[int]int{256: 2, 512: 3}[size]
		type pair struct{ d2, j int }
		for u := range tb.kmap {
			if tb.kmap[u] >= 0 {
				continue
			}
			var dist []pair
			for j, p := range tb.grid {
				d2 := 0
				for i := 0; i < 4; i++ {
					d := int(p[i]) - (2*(u>>(3*i)&7) + 1)
					d2 += d * d
				}
				dist = append(dist, pair{d2, j})
			}
			sort.Slice(dist, func(a, b int) bool {
				if dist[a].d2 != dist[b].d2 {
					return dist[a].d2 < dist[b].d2
				}
				return dist[a].j < dist[b].j
			})
			var want []uint16
			d2, nhave := dist[0].d2, 1
			for _, p := range dist {
				if p.d2 > d2 {
					if nhave == nwant {
						break
					}
					d2 = p.d2
					nhave++
				}
				want = append(want, uint16(p.j))
			}
			if got := tb.neighboursOf(u); !slices.Equal(got, want) {
				t.Fatalf("grid %d point %d: neighbours %v, want %v", size, u, got, want)
			}
		}
	}
}

// sameFloat32 compares bit patterns, except that all NaNs are the same: a
// NaN's payload depends on the operand order the compiler picks for a
// commutative operation (it differs under -race), and no NaN sum reaches
// the output (the search only compares them; a NaN final scale aborts).
func sameFloat32(a, b float32) bool {
	return math.Float32bits(a) == math.Float32bits(b) || (a != a && b != b)
}
