package quant

import (
	"math"
	"math/rand"
	"strconv"
	"testing"
)

// TestFloorLog2fThresholds: floorLog2f agrees with glibc's floorf(log2f(x))
// on both sides of every threshold the golden generator found by bisecting
// libm's log2f, i.e. (log2f being monotonic) on every positive float32.
func TestFloorLog2fThresholds(t *testing.T) {
	gf := loadGolden(t)
	th := gf.Log2fFloor
	if len(th.Bits) != 277 || th.FromK != -149 {
		t.Fatalf("golden thresholds: %d from %d, want 277 from -149", len(th.Bits), th.FromK)
	}
	for i, h := range th.Bits {
		k := float32(th.FromK + i)
		b, err := strconv.ParseUint(h, 16, 32)
		if err != nil {
			t.Fatal(err)
		}
		x := math.Float32frombits(uint32(b))
		for _, f := range []func(float32) float32{floorLog2f, floorLog2fFast} {
			if got, below := f(x), f(math.Float32frombits(uint32(b-1))); got < k || b > 1 && below >= k {
				t.Errorf("k=%v: floorLog2f(fast) is %v at the threshold %g and %v below it", k, got, x, below)
			}
		}
		if got := floorLog2f(x); got < k {
			t.Errorf("floorLog2f(%g) = %v, libm gives ≥ %v", x, got, k)
		}
		if b > 1 {
			below := math.Float32frombits(uint32(b - 1))
			if got := floorLog2f(below); got >= k {
				t.Errorf("floorLog2f(%g) = %v, libm gives < %v", below, got, k)
			}
		}
		// the thresholds that are not powers of two are where log2f rounds
		// up to k: name a few in the log
		if b&0x7FFFFF != 0 && i%40 == 0 {
			t.Logf("k=%v: from %g", k, x)
		}
	}
}

// TestBestIndexFP4Differential: the two-candidate search gives the
// reference's code for every scale ggml's encoders can produce (all 256
// E8M0 scales, all 256 UE4M3 scales) and inputs around every code value,
// midpoint and the edges of the fast path, plus random ones.
func TestBestIndexFP4Differential(t *testing.T) {
	var scales []float32
	for i := 0; i < 256; i++ {
		scales = append(scales, e8m0Half(uint8(i)), ue4m3HalfTable[i])
	}
	r := rand.New(rand.NewSource(7))
	n := 0
	check := func(x, e float32) {
		n++
		want := bestIndexFP4Ref(x, e)
		if got := bestIndexFP4(x, e); got != want {
			t.Fatalf("bestIndexFP4(%g, %g) = %d, reference %d", x, e, got, want)
		}
		g := newFP4Grid(e)
		if abs32(x) <= g.limit { // what pack hands to code and codePow2
			if got := uint8(g.code(x)); got != want {
				t.Fatalf("code(%g) with scale %g = %d, reference %d", x, e, got, want)
			}
			if got := uint8(g.codePow2(x)); g.inv != 0 && got != want {
				t.Fatalf("codePow2(%g) with scale %g = %d, reference %d", x, e, got, want)
			}
		}
	}
	for _, e := range scales {
		var pts []float32
		for _, k := range fp4Magnitudes {
			pts = append(pts, float32(k*e))
		}
		for i := 0; i+1 < len(fp4Magnitudes); i++ {
			pts = append(pts, float32((fp4Magnitudes[i]+fp4Magnitudes[i+1])/2*e))
		}
		pts = append(pts, 16*e, 20*e, 1e30, math.MaxFloat32, math.SmallestNonzeroFloat32, 0)
		for _, p := range pts {
			for _, v := range []float32{p, math.Nextafter32(p, 0), math.Nextafter32(p, math.MaxFloat32),
				math.Nextafter32(math.Nextafter32(p, 0), 0)} {
				check(v, e)
				check(-v, e)
			}
		}
		for i := 0; i < 2000; i++ {
			v := float32(r.Float64()*17) * e
			check(v, e)
			check(-v, e)
			check(math.Float32frombits(r.Uint32()&0x7F7FFFFF), e)
		}
	}
	t.Logf("%d (x, scale) pairs", n)
}

// TestSmallTypesFastMatchReference: the fast encoders of TQ1_0, TQ2_0,
// Q1_0, Q2_0, MXFP4 and NVFP4 write their reference twins' bytes on every
// input distribution of the golden generator and on rows of exact ties
// (x·id = ±0.5), near-ties of arbitrary maxima, signed zeros, subnormal
// blocks (1/d overflows) and maxima just below powers of two.
func TestSmallTypesFastMatchReference(t *testing.T) {
	var rows [][]float32
	for i, dist := range []string{"normal", "heavy", "outliers", "nearzero", "ints", "wide", "huge", "tiny", "edges"} {
		rows = append(rows, goldenBits(dist, uint64(1000+i), 4, 1024))
	}
	r := rand.New(rand.NewSource(3))
	special := make([]float32, 4096)
	for i := range special {
		switch i / 256 % 6 {
		case 0: // ties: max 2^k, elements ±2^(k-1)
			k := r.Intn(60) - 30
			special[i] = float32(math.Ldexp(float64(1-2*r.Intn(2)), k-1))
			if i%256 == 0 {
				special[i] = float32(math.Ldexp(1, k))
			}
		case 1: // signed zeros and one value
			special[i] = float32(math.Copysign(0, float64(1-2*r.Intn(2))))
			if i%256 == 7 {
				special[i] = -3
			}
		case 2: // subnormal blocks
			special[i] = math.Float32frombits(r.Uint32() & 0x801FFFFF)
		case 3: // near the largest float
			special[i] = math.Float32frombits(r.Uint32()&0x80FFFFFF | 0x7E800000)
		default:
			special[i] = float32(r.NormFloat64()) * float32(math.Ldexp(1, r.Intn(40)-20))
		}
	}
	// near-ties of arbitrary maxima: each 64 elements start with the block
	// maximum d (one per 256), the rest lie within a few ulps of ±d/2
	nearHalf := make([]float32, 4096)
	for i := range nearHalf {
		if i%256 == 0 {
			nearHalf[i] = float32(r.NormFloat64()) * float32(math.Ldexp(1, r.Intn(200)-100))
		}
		d := abs32(nearHalf[i/256*256])
		if i%64 == 0 {
			nearHalf[i] = d
			continue
		}
		nearHalf[i] = math.Float32frombits(uint32(int32(math.Float32bits(d*0.5)) + int32(r.Intn(7)-3)))
		if r.Intn(2) == 0 {
			nearHalf[i] = -nearHalf[i]
		}
	}
	rows = append(rows, special, nearHalf)
	for _, c := range []struct {
		name      string
		fast, ref quantizeFunc
	}{
		{"TQ1_0", quantizeTQ1_0, quantizeTQ1_0Ref}, {"TQ2_0", quantizeTQ2_0, quantizeTQ2_0Ref},
		{"Q1_0", quantizeQ1_0, quantizeQ1_0Ref}, {"Q2_0", quantizeQ2_0, quantizeQ2_0Ref},
		{"MXFP4", quantizeMXFP4, quantizeMXFP4Ref}, {"NVFP4", quantizeNVFP4, quantizeNVFP4Ref},
	} {
		tr, _ := Lookup(c.name)
		for i, x := range rows {
			a := make([]byte, len(x)/tr.BlockSize*tr.BlockBytes)
			b := make([]byte, len(a))
			c.fast(a, x, len(x), nil)
			c.ref(b, x, len(x), nil)
			for k := range a {
				if a[k] != b[k] {
					blk := k / tr.BlockBytes
					t.Errorf("%s row %d: block %d differs from the reference (%v…)", c.name, i, blk,
						x[blk*tr.BlockSize:blk*tr.BlockSize+4])
					break
				}
			}
		}
	}
}

// TestFloorLog2fFast: the exponent-and-threshold twin of floorLog2f agrees
// with it on every power of two, its neighbours and random floats.
func TestFloorLog2fFast(t *testing.T) {
	check := func(b uint32) {
		x := math.Float32frombits(b)
		if got, want := floorLog2fFast(x), floorLog2f(x); got != want {
			t.Fatalf("floorLog2fFast(%g) = %v, floorLog2f %v", x, got, want)
		}
	}
	for k := -149; k <= 127; k++ {
		p := math.Float32bits(float32(math.Ldexp(1, k)))
		for d := uint32(0); d < 64; d++ {
			if p > d {
				check(p - d)
			}
			if p+d < 0x7F800000 {
				check(p + d)
			}
		}
	}
	r := rand.New(rand.NewSource(5))
	for i := 0; i < 1_000_000; i++ {
		check(r.Uint32()%0x7F7FFFFF + 1)
	}
}
