package quant

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// Differential tests: every fast encoder against its reference twin, on
// random and adversarial rows, with and without an importance matrix.

type kernelPair struct {
	typ       Type
	fast, ref quantizeFunc
}

var kernelPairs = []kernelPair{
	{Q4_0, quantizeQ4_0, quantizeQ4_0Ref},
	{Q4_1, quantizeQ4_1, quantizeQ4_1Ref},
	{Q5_0, quantizeQ5_0, quantizeQ5_0Ref},
	{Q5_1, quantizeQ5_1, quantizeQ5_1Ref},
	{Q2_K, quantizeQ2_K, quantizeQ2_KRef},
	{Q3_K, quantizeQ3_K, quantizeQ3_KRef},
	{Q4_K, quantizeQ4_K, quantizeQ4_KRef},
	{Q5_K, quantizeQ5_K, quantizeQ5_KRef},
	{Q6_K, quantizeQ6_K, quantizeQ6_KRef},
	{IQ4_NL, quantizeIQ4_NL, quantizeIQ4_NLRef},
}

// adversarialRows returns 256-element rows built from hostile 16-element
// groups: zeros of both signs, constant groups, exact ties, tiny, subnormal
// and huge values, single outliers, alternating signs, near-ties around
// halves, and mixtures of all of these within one super-block.
func adversarialRows(rng *rand.Rand, nrows int) []float32 {
	group := func(kind int) []float32 {
		g := make([]float32, 16)
		c := float32(rng.NormFloat64())
		for i := range g {
			switch kind {
			case 0: // zeros
			case 1:
				g[i] = float32(math.Copysign(0, -1))
			case 2: // constant
				g[i] = c
			case 3: // constant negative, tiny
				g[i] = -1e-30
			case 4: // smallest subnormals
				g[i] = math.Float32frombits(uint32(rng.IntN(8)) | uint32(rng.IntN(2))<<31)
			case 5: // subnormal range
				g[i] = float32(rng.NormFloat64() * 1e-39)
			case 6: // around GROUP_MAX_EPS
				g[i] = float32(rng.NormFloat64() * 1e-15)
			case 7: // huge
				g[i] = float32(rng.NormFloat64() * 1e37)
			case 8: // near the float32 maximum, mixed signs
				g[i] = math.MaxFloat32 * float32(1-2*rng.IntN(2)) / float32(rng.IntN(3)+1)
			case 9: // integers: exact ties after scaling
				g[i] = float32(rng.IntN(17) - 8)
			case 10: // halves
				g[i] = float32(rng.IntN(33)-16) / 2
			case 11: // one outlier
				if i == rng.IntN(16) {
					g[i] = float32(rng.NormFloat64() * 1000)
				} else {
					g[i] = float32(rng.NormFloat64() * 1e-3)
				}
			case 12: // one ulp around k + 0.5
				v := float32(rng.IntN(16)) + 0.5
				g[i] = math.Nextafter32(v, float32(rng.IntN(2)*100-50))
			case 13: // all positive
				g[i] = float32(1 + rng.Float64())
			case 14: // all negative
				g[i] = float32(-1 - rng.Float64())
			case 15: // alternating extremes
				g[i] = float32(1 - 2*(i&1))
			default: // plain normal
				g[i] = float32(rng.NormFloat64())
			}
		}
		return g
	}
	x := make([]float32, 0, 256*nrows)
	for len(x) < 256*nrows {
		if rng.IntN(4) == 0 { // a whole super-block of one kind
			k := rng.IntN(17)
			for range 16 {
				x = append(x, group(k)...)
			}
			continue
		}
		x = append(x, group(rng.IntN(17))...)
	}
	return x
}

// randomImatrix returns importance weights: mostly positive, with zeros,
// tiny and large entries.
func randomImatrix(rng *rand.Rand, n int) []float32 {
	w := make([]float32, n)
	for i := range w {
		switch rng.IntN(20) {
		case 0:
			w[i] = 0
		case 1:
			w[i] = 1e-30
		case 2:
			w[i] = 1e20
		default:
			w[i] = float32(rng.Float64()*4 + 0.01)
		}
	}
	return w
}

func diffCheck(t *testing.T, p kernelPair, what string, x []float32, nPerRow int, im []float32) {
	t.Helper()
	tr, _ := TraitsOf(p.typ)
	n := len(x) / tr.BlockSize * tr.BlockBytes
	got, want := make([]byte, n), make([]byte, n)
	p.fast(got, x, nPerRow, im)
	p.ref(want, x, nPerRow, im)
	if !bytes.Equal(got, want) {
		reportBlockMismatch(t, fmt.Sprintf("%s fast vs reference (%s)", tr.Name, what), tr, got, want)
	}
}

func TestKernelsFastMatchReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	rows := 24
	if testing.Short() {
		rows = 6
	}
	inputs := map[string][]float32{"adversarial": adversarialRows(rng, rows)}
	for _, d := range []string{"normal", "heavy", "outliers", "nearzero", "ints", "wide", "huge"} {
		inputs[d] = goldenBits(d, rng.Uint64(), rows, 256)
	}
	inputs["random"] = randomBlocks(rng, 8*rows)
	for _, p := range kernelPairs {
		for name, x := range inputs {
			diffCheck(t, p, name, x, 256, nil)
			diffCheck(t, p, name+"+imatrix", x, 256, randomImatrix(rng, 256))
			diffCheck(t, p, name+"+imatrix/rows of 512", x[:len(x)/512*512], 512, randomImatrix(rng, 512))
		}
	}
}

// FuzzKernels: random rows from a seed, every type, with and without an
// importance matrix.
func FuzzKernels(f *testing.F) {
	f.Add(uint64(1), uint64(2), uint8(0))
	f.Add(uint64(3), uint64(4), uint8(1))
	f.Fuzz(func(t *testing.T, a, b uint64, mode uint8) {
		rng := rand.New(rand.NewPCG(a, b))
		var x []float32
		switch mode % 3 {
		case 0:
			x = adversarialRows(rng, 1)
		case 1:
			x = randomBlocks(rng, 8)
		default:
			x = goldenBits([]string{"normal", "heavy", "outliers", "nearzero", "ints", "wide", "huge"}[rng.IntN(7)], a, 1, 256)
		}
		var im []float32
		if mode&4 != 0 {
			im = randomImatrix(rng, 256)
		}
		for _, p := range kernelPairs {
			diffCheck(t, p, "fuzz", x, 256, im)
		}
	})
}

// TestBestIndexIQ4NL: the branch-free level lookup equals ggml's binary
// search for every float32 (every 97th one with -short).
func TestBestIndexIQ4NL(t *testing.T) {
	step := uint64(1)
	if testing.Short() {
		step = 97
	}
	for u := uint64(0); u < 1<<32; u += step {
		x := math.Float32frombits(uint32(u))
		if got, want := bestIndexIQ4NL(x), bestIndexIQ4NLRef(x); got != want {
			t.Fatalf("x = %v (%08x): %d, ggml's search %d", x, u, got, want)
		}
	}
}

// TestNearestInt pins nearest_int's rounding (half to even) and its
// out-of-range behaviour, which the kernels rely on.
func TestNearestInt(t *testing.T) {
	for _, c := range []struct {
		in   float32
		want int32
	}{{2.5, 2}, {3.5, 4}, {-2.5, -2}, {-3.5, -4}, {0.49999997, 0}, {1e6 + 0.5, 1e6}, {float32(math.Copysign(0, -1)), 0},
		{float32(math.Inf(1)), -4194304}, {float32(math.NaN()), 0}} {
		if got := nearestInt(c.in); got != c.want {
			t.Errorf("nearestInt(%v) = %d, want %d", c.in, got, c.want)
		}
	}
}

// TestAdversarialRowsFinite: the generator itself only makes valid input.
func TestAdversarialRowsFinite(t *testing.T) {
	x := adversarialRows(rand.New(rand.NewPCG(1, 1)), 64)
	if i := firstNonFinite(x); i >= 0 {
		t.Fatalf("element %d is %v", i, x[i])
	}
}

// TestLegacyAsmMatchesGeneric compares the installed legacy block loops
// (assembly on AVX2) with the generic Go loops on hostile blocks, including
// blocks whose min or max is a zero of either sign.
func TestLegacyAsmMatchesGeneric(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	x := adversarialRows(rng, 64)
	x = append(x, randomBlocks(rng, 4000)...)
	for b := 0; b < 400; b++ { // ties of +max and -max in either order
		blk := make([]float32, 32)
		for i := range blk {
			blk[i] = float32(rng.IntN(9) - 4)
		}
		blk[rng.IntN(32)], blk[rng.IntN(32)] = 4, -4
		x = append(x, blk...)
	}
	for b := 0; b < 400; b++ { // zeros of both signs mixed with positives / negatives
		blk := make([]float32, 32)
		for i := range blk {
			switch rng.IntN(4) {
			case 0:
				blk[i] = 0
			case 1:
				blk[i] = float32(math.Copysign(0, -1))
			case 2:
				blk[i] = float32(rng.Float64())
			default:
				if b%2 == 0 {
					blk[i] = -float32(rng.Float64())
				}
			}
		}
		x = append(x, blk...)
	}
	for _, c := range []struct {
		name          string
		inst, generic func([]byte, []float32)
		blockLen      int
	}{
		{"Q4_0", q4_0Blocks, q4_0BlocksGeneric, q4_0Len},
		{"Q4_1", q4_1Blocks, q4_1BlocksGeneric, q4_1Len},
		{"Q5_0", q5_0Blocks, q5_0BlocksGeneric, q5_0Len},
		{"Q5_1", q5_1Blocks, q5_1BlocksGeneric, q5_1Len},
	} {
		want := make([]byte, len(x)/32*c.blockLen)
		c.generic(want, x)
		for _, avx512 := range []bool{true, false} { // the AVX-512 kernels where the CPU has them, and AVX2
			restore := setAVX512(avx512)
			got := make([]byte, len(want))
			c.inst(got, x)
			restore()
			if !bytes.Equal(got, want) {
				tr, _ := Lookup(c.name)
				reportBlockMismatch(t, fmt.Sprintf("%s asm (AVX-512 %v) vs generic", c.name, avx512), tr, got, want)
			}
		}
	}
}

// TestNewTypesThreadInvariance: for every type of this file's kernels, the
// bytes do not depend on the thread count or on where chunks are cut, with
// and without an importance matrix, and F16/BF16 inputs equal their exact
// float32 widening.
func TestNewTypesThreadInvariance(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	shapes := [][2]int{{1, 256}, {3, 768}, {2, chunkElements + 256}, {9, 4096}}
	if testing.Short() {
		shapes = shapes[:3]
	}
	for _, p := range kernelPairs {
		for _, shape := range shapes {
			x := make([]float32, shape[0]*shape[1])
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			im := randomImatrix(rng, shape[1])
			for _, opt := range []Options{{}, {Imatrix: im}} {
				opt.Threads = 1
				one := mustQuantize(t, p.typ, F32Input(x), shape[1], opt)
				for _, threads := range []int{2, 3, 8} {
					opt.Threads = threads
					if got := mustQuantize(t, p.typ, F32Input(x), shape[1], opt); !bytes.Equal(got, one) {
						t.Fatalf("%s %v imatrix=%v: threads=%d differs from threads=1", p.typ, shape, opt.Imatrix != nil, threads)
					}
				}
			}
		}
		// half-precision inputs
		h := make([]uint16, 3*256)
		w := make([]float32, len(h))
		for i := range h {
			h[i] = F32ToF16(float32(rng.NormFloat64()))
			w[i] = F16ToF32(h[i])
		}
		if !bytes.Equal(mustQuantize(t, p.typ, F16Input(h), 256, Options{}), mustQuantize(t, p.typ, F32Input(w), 256, Options{})) {
			t.Errorf("%s: F16 input differs from its float32 widening", p.typ)
		}
		for i := range h {
			h[i] = F32ToBF16(float32(rng.NormFloat64()))
			w[i] = BF16ToF32(h[i])
		}
		if !bytes.Equal(mustQuantize(t, p.typ, BF16Input(h), 256, Options{}), mustQuantize(t, p.typ, F32Input(w), 256, Options{})) {
			t.Errorf("%s: BF16 input differs from its float32 widening", p.typ)
		}
	}
}

// TestGenericPathsOnThisMachine runs the fast encoders with the assembly
// switched off, so that the portable Go paths (what arm64 and -tags noasm
// use) are checked against the references and llama.cpp's hashes by a plain
// `go test` on an AVX2 machine as well.
func TestGenericPathsOnThisMachine(t *testing.T) {
	defer setAsm(false)()
	rng := rand.New(rand.NewPCG(51, 52))
	x := adversarialRows(rng, 8)
	x = append(x, goldenBits("nearzero", 9, 4, 256)...)
	x = append(x, goldenBits("huge", 10, 4, 256)...)
	for _, p := range kernelPairs {
		diffCheck(t, p, "generic", x, 256, nil)
		diffCheck(t, p, "generic+imatrix", x, 256, randomImatrix(rng, 256))
	}
	got := make([]byte, len(x)/32*34)
	want := make([]byte, len(got))
	quantizeQ8_0(got, x, 256, nil)
	quantizeQ8_0Ref(want, x, 256, nil)
	if !bytes.Equal(got, want) {
		t.Error("Q8_0 generic path differs from the reference")
	}
	if !testing.Short() {
		TestGoldenRandom(t)
	}
}

// TestLegacyCheckedNonFinite: Q4_0 and Q4_1 report the first NaN or ±Inf
// wherever it is (in a block the vector kernel flags for the reference
// code, in an ordinary one, in the tail of a chunk), and blocks whose
// inverse scale overflows (subnormal scales) are not mistaken for
// non-finite input.
func TestLegacyCheckedNonFinite(t *testing.T) {
	rng := rand.New(rand.NewPCG(93, 94))
	n := 32 * 1000
	for _, typ := range []Type{Q4_0, Q4_1} {
		tr, _ := TraitsOf(typ)
		out := make([]byte, n/32*tr.BlockBytes)
		base := make([]float32, n)
		for i := range base {
			base[i] = float32(rng.NormFloat64())
		}
		for b := 0; b < 40; b++ { // tiny blocks: scales whose inverse overflows
			for j := 0; j < 32; j++ {
				base[b*64+j] = math.Float32frombits(uint32(rng.IntN(8)))
			}
		}
		if _, err := Quantize(typ, out, F32Input(base), 32, Options{Threads: 1}); err != nil {
			t.Fatalf("%v: finite input with tiny blocks rejected: %v", typ, err)
		}
		for it := 0; it < 200; it++ {
			x := append([]float32(nil), base...)
			at := rng.IntN(n)
			if it%5 == 0 {
				at = n - 1 - rng.IntN(40) // the tail
			}
			bad := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))}[it%3]
			x[at] = bad
			if it%4 == 0 { // and an opposite infinity in the same block: a tie / an infinite range
				x[at/32*32+(at+1)%32] = -bad
			}
			_, err := Quantize(typ, out, F32Input(x), 32, Options{Threads: 1 + it%2})
			var nf *NonFiniteError
			if !errors.As(err, &nf) {
				t.Fatalf("%v: %v at %d: got %v, want a NonFiniteError", typ, bad, at, err)
			}
			first := at
			if j := at/32*32 + (at+1)%32; it%4 == 0 && j < first {
				first = j
			}
			if nf.Index != first {
				t.Fatalf("%v: non-finite at %d reported at %d", typ, first, nf.Index)
			}
		}
	}
}
