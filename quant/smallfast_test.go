package quant

import (
	"errors"
	"math"
	"math/rand"
	"testing"
)

// TestSmallFastKernels: absMaxBits, tritBytes and q1Signs (assembly where
// the build has it) agree with their Go loops on random bit patterns (NaN, infinities,
// subnormals and signed zeros included) at every length and threshold.
func TestSmallFastKernels(t *testing.T) {
	r := rand.New(rand.NewSource(11))
	for iter := 0; iter < 2000; iter++ {
		n := 32 * (1 + r.Intn(9))
		if iter%3 == 0 {
			n = 16 * (1 + r.Intn(20))
		}
		x := make([]float32, n)
		for i := range x {
			switch r.Intn(8) {
			case 0:
				x[i] = math.Float32frombits(r.Uint32())
			case 1:
				x[i] = math.Float32frombits(r.Uint32() & 0x807FFFFF) // subnormal or zero
			case 2:
				x[i] = float32(math.Copysign(0, float64(r.Intn(2)*2-1)))
			default:
				x[i] = float32(r.NormFloat64())
			}
		}
		if n >= 128 {
			got, want := make([]byte, 16), make([]byte, 16)
			q1Signs(got, x)
			q1SignsGeneric(want, x)
			if string(got) != string(want) {
				t.Fatalf("q1Signs = %x, Go loop %x", got, want)
			}
		}
		if got, want := absMaxBits(x), absMaxBitsGeneric(x); got != want {
			t.Fatalf("absMaxBits(n=%d) = %#x, Go loop %#x", n, got, want)
		}
		th := uint32(1 + r.Intn(0x7FFFFFFF))
		if iter%2 == 0 {
			th = math.Float32bits(abs32(x[r.Intn(n)])) + uint32(r.Intn(3)) // at and beside an element
			th = min(max(th, 1), 0x7FFFFFFF)
		}
		got, want := make([]byte, n), make([]byte, n)
		tritBytes(got, x, th)
		tritBytesGeneric(want, x, th)
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("tritBytes(n=%d, th=%#x)[%d] (x=%g) = %d, Go loop %d", n, th, i, x[i], got[i], want[i])
			}
		}
	}
}

// TestTritThreshold: tritAt with the threshold of a block agrees with
// roundTrit(float32(v·id)) for the elements around ±d/2 and the block
// maximum, over random maxima of every binade (id = 1/d finite).
func TestTritThreshold(t *testing.T) {
	r := rand.New(rand.NewSource(12))
	for iter := 0; iter < 200000; iter++ {
		m := r.Uint32()%0x7F7FFFFF + 1
		d, th, ok := tritThreshold(m)
		id := 1 / d
		if !fastTrits(id) {
			if ok {
				t.Fatalf("threshold for d=%g although 1/d overflows", d)
			}
			continue
		}
		if !ok {
			t.Fatalf("no threshold for d=%g", d)
		}
		h := math.Float32bits(float32(d * 0.5))
		for _, c := range []uint32{h - 2, h - 1, h, h + 1, h + 2, th - 1, th, m - 1, m, r.Uint32() % (m + 1)} {
			for _, v := range []float32{math.Float32frombits(c), -math.Float32frombits(c)} {
				if got, want := tritAt(v, th), roundTrit(float32(v*id)); int32(got) != want {
					t.Fatalf("d=%g x=%g: tritAt %d, roundTrit %d", d, v, got, want)
				}
			}
		}
	}
}

// TestSmallCheckedEncoders: the checked encoders of TQ1_0, TQ2_0, Q1_0,
// Q2_0 and MXFP4 report a NaN or an infinity anywhere in the input, and only then;
// Quantize turns that into a NonFiniteError naming the element.
func TestSmallCheckedEncoders(t *testing.T) {
	r := rand.New(rand.NewSource(13))
	x := make([]float32, 2048)
	for _, typ := range []Type{TQ1_0, TQ2_0, Q1_0, Q2_0, MXFP4} {
		tr := mustTraits(typ)
		enc := checkedEncoder(typ, false)
		if enc == nil {
			t.Fatalf("%s has no checked encoder", tr.Name)
		}
		out := make([]byte, len(x)/tr.BlockSize*tr.BlockBytes)
		for iter := 0; iter < 50; iter++ {
			for i := range x {
				x[i] = float32(r.NormFloat64())
			}
			if iter%10 == 9 { // finite values whose block sums overflow (Q1_0)
				for i := range 256 {
					x[i] = math.MaxFloat32
				}
			}
			if !enc(out, x) {
				t.Fatalf("%s: finite input reported non-finite", tr.Name)
			}
			at := r.Intn(len(x))
			x[at] = []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))}[iter%3]
			if enc(out, x) {
				t.Fatalf("%s: %v at %d not reported", tr.Name, x[at], at)
			}
			_, err := Quantize(typ, out, F32Input(x), 1024, Options{})
			var nf *NonFiniteError
			if !errors.As(err, &nf) || nf.Index != at {
				t.Fatalf("%s: Quantize with %v at %d: %v", tr.Name, x[at], at, err)
			}
		}
	}
}

// TestMXFP4Codes: for every E8M0 scale with a limit, the codes from the
// thresholds (mxfp4Codes, assembly where the build has it, and
// mxfp4CodesGeneric) equal ggml's 16-code search on groups within the
// limit, elements drawn at, beside and between the thresholds.
func TestMXFP4Codes(t *testing.T) {
	r := rand.New(rand.NewSource(14))
	th := mxfp4Thresholds()
	x := make([]float32, 32)
	got, gen := make([]byte, 16), make([]byte, 16)
	for e := range 256 {
		g := &mxfp4Grids[e]
		if g.limit < 0 {
			continue
		}
		top := math.Float32bits(g.limit)
		for iter := 0; iter < 40; iter++ {
			for i := range x {
				var b uint32
				switch r.Intn(3) {
				case 0:
					k := 1 + r.Intn(7)
					b = min(th[e][k]+uint32(r.Intn(3)), top) // at and beside a threshold
				case 1:
					b = r.Uint32() % (top + 1)
				default:
					b = math.Float32bits(float32(r.Float64()) * g.limit)
				}
				x[i] = math.Float32frombits(b | uint32(r.Intn(2))<<31)
			}
			mxfp4Codes(got, x, &th[e])
			mxfp4CodesGeneric(gen, x, &th[e])
			for j := range got {
				want := bestIndexFP4Ref(x[j], g.e) | bestIndexFP4Ref(x[j+16], g.e)<<4
				if got[j] != want || gen[j] != want {
					t.Fatalf("scale byte %d, byte %d (x=%g, %g): codes %#x, Go loop %#x, ggml %#x",
						e, j, x[j], x[j+16], got[j], gen[j], want)
				}
			}
		}
	}
}

// TestSmallTypesNonFiniteBlocks: blocks holding NaN or ±Inf (which
// Quantize rejects, but the kernels must still treat as ggml does) get the
// reference twins' bytes from the fast encoders. (An infinite MXFP4 block
// maximum used to index past floorLog2fFast's table; llama.cpp writes that
// block as exponent 0 with every code 0, as quantizeMXFP4Ref does.)
func TestSmallTypesNonFiniteBlocks(t *testing.T) {
	r := rand.New(rand.NewSource(15))
	x := make([]float32, 4096)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	for i := 0; i < len(x); i += 64 + r.Intn(400) {
		x[i] = []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))}[r.Intn(3)]
	}
	for _, c := range []struct {
		typ       Type
		fast, ref quantizeFunc
	}{
		{TQ1_0, quantizeTQ1_0, quantizeTQ1_0Ref}, {TQ2_0, quantizeTQ2_0, quantizeTQ2_0Ref},
		{Q2_0, quantizeQ2_0, quantizeQ2_0Ref}, {MXFP4, quantizeMXFP4, quantizeMXFP4Ref},
	} {
		tr := mustTraits(c.typ)
		a := make([]byte, len(x)/tr.BlockSize*tr.BlockBytes)
		b := make([]byte, len(a))
		c.fast(a, x, len(x), nil)
		c.ref(b, x, len(x), nil)
		for k := range a {
			if a[k] != b[k] {
				t.Fatalf("%s: block %d differs from the reference", tr.Name, k/tr.BlockBytes)
			}
		}
	}
}
