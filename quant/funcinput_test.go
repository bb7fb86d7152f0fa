package quant

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
)

// funcOf returns a FuncInput serving the values of x, and a function that
// returns the ranges fill was asked for, sorted.
func funcOf(x []float32) (Input, func() [][2]int) {
	var mu sync.Mutex
	var calls [][2]int
	in := FuncInput(len(x), func(dst []float32, lo, hi int) error {
		if len(dst) != hi-lo {
			return fmt.Errorf("fill: len(dst) = %d for [%d, %d)", len(dst), lo, hi)
		}
		copy(dst, x[lo:hi])
		mu.Lock()
		calls = append(calls, [2]int{lo, hi})
		mu.Unlock()
		return nil
	})
	return in, func() [][2]int {
		mu.Lock()
		defer mu.Unlock()
		c := append([][2]int(nil), calls...)
		sort.Slice(c, func(i, j int) bool { return c[i][0] < c[j][0] })
		return c
	}
}

// funcInputValues returns n finite values of every kind the quantizers
// treat specially: random magnitudes over 60 decades, integers (exact
// ties), a run of zeros, a block of one repeated value, subnormals.
func funcInputValues(rng *rand.Rand, n int) []float32 {
	x := randomBlocks(rng, (n+31)/32)[:n]
	for i := n / 3; i < min(n, n/3+300); i++ {
		x[i] = 0
	}
	for i := n / 2; i < min(n, n/2+256); i++ {
		x[i] = 0.37
	}
	for i := 0; i < n; i += 97 {
		x[i] = math.Float32frombits(uint32(rng.IntN(1 << 23))) // subnormal or zero
	}
	return x
}

// wantChunks checks that fill was called once per piece Quantize cuts n
// values into (ChunkLen(unit)), for exactly that piece.
func wantChunks(t *testing.T, name string, calls [][2]int, n, per int) {
	t.Helper()
	if len(calls) != (n+per-1)/per {
		t.Fatalf("%s: fill called %d times for %d pieces of %d: %v", name, len(calls), (n+per-1)/per, per, calls)
	}
	for k, c := range calls {
		if c != [2]int{k * per, min(n, (k+1)*per)} {
			t.Fatalf("%s: fill call %d asked for [%d, %d), want piece [%d, %d)", name, k, c[0], c[1], k*per, min(n, (k+1)*per))
		}
	}
}

// TestFuncInputMatchesF32 is the differential test of FuncInput: Quantize
// writes the same bytes, adds the same error figures and returns the same
// error as for F32Input of the same values, for block, k-quant, i-quant and
// float types, with and without an importance matrix, on 1 to 3 threads, for
// lengths that are not a multiple of the piece length; and fill is called
// exactly once per piece.
func TestFuncInputMatchesF32(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	shapes := [][2]int{{256, 67}, {768, 45}, {2560, 7}, {4096, 9}, {256, 1}}
	types := []Type{Q4_K, Q6_K, Q8_0, IQ4_XS, F16, BF16, F32, Q4_0, Q5_1, IQ2_XXS, TQ1_0}
	if testing.Short() {
		shapes = shapes[:3]
	}
	for k, sh := range shapes {
		nPerRow, rows := sh[0], sh[1]
		n := nPerRow * rows
		x := funcInputValues(rng, n)
		if k%2 == 1 { // weights of one scale: finite error figures
			for i := range x {
				x[i] = float32(rng.NormFloat64() * 0.02)
			}
		}
		im := make([]float32, nPerRow)
		for i := range im {
			im[i] = float32(rng.ExpFloat64())
		}
		for _, typ := range types {
			tr := mustTraits(typ)
			for _, withIm := range []bool{false, true} {
				if !withIm && RequiresImatrix(typ) {
					continue
				}
				for _, threads := range []int{1, 2, 3} {
					name := fmt.Sprintf("%s %dx%d imatrix=%v threads=%d", typ, rows, nPerRow, withIm, threads)
					opt := Options{Threads: threads}
					unit := tr.BlockSize
					if withIm {
						opt.Imatrix, unit = im, nPerRow
					}
					var ws, gs ErrorStats
					wo, go_ := opt, opt
					wo.Stats, go_.Stats = &ws, &gs
					want := make([]byte, n/tr.BlockSize*tr.BlockBytes)
					_, werr := Quantize(typ, want, F32Input(x), nPerRow, wo)
					in, calls := funcOf(x)
					got := make([]byte, len(want))
					_, gerr := Quantize(typ, got, in, nPerRow, go_)
					if fmt.Sprint(gerr) != fmt.Sprint(werr) {
						// an AbortError (IQ2_XXS on adversarial values) names the same block
						t.Fatalf("%s: error %v, want %v", name, gerr, werr)
					}
					if werr != nil {
						t.Logf("%s: %v", name, werr)
						continue
					}
					if !bytes.Equal(got, want) {
						t.Fatalf("%s: bytes differ from F32Input", name)
					}
					if !sameStats(gs, ws) {
						t.Fatalf("%s: stats %+v, want %+v", name, gs, ws)
					}
					wantChunks(t, name, calls(), n, ChunkLen(unit))
					// without Stats (other kernel choices for the checked types)
					in, _ = funcOf(x)
					if got := mustQuantize(t, typ, in, nPerRow, opt); !bytes.Equal(got, want) {
						t.Fatalf("%s: bytes without Stats differ from F32Input", name)
					}
				}
			}
		}
	}
}

// TestFuncInputLarge: outputs past streamBytes (the streaming kernels of
// the checked types), and non-finite values let through to the float types.
func TestFuncInputLarge(t *testing.T) {
	rng := rand.New(rand.NewPCG(33, 34))
	const n = 96 * 5462
	x := testFloats(rng, n) // NaN, ±Inf and random bits included
	finite := randomBlocks(rng, n/32)
	for _, typ := range []Type{F32, F16, BF16, Q8_0} {
		for _, c := range []struct {
			x   []float32
			opt Options
		}{{x, Options{Threads: 2, AllowNonFinite: true}}, {finite, Options{Threads: 2}}, {finite, Options{Threads: 3}}} {
			if typ == Q8_0 && c.opt.AllowNonFinite {
				continue
			}
			want := mustQuantize(t, typ, F32Input(c.x), 96, c.opt)
			in, calls := funcOf(c.x)
			if got := mustQuantize(t, typ, in, 96, c.opt); !bytes.Equal(got, want) {
				t.Fatalf("%s %+v: bytes differ from F32Input", typ, c.opt)
			}
			wantChunks(t, typ.String(), calls(), n, ChunkLen(mustTraits(typ).BlockSize))
		}
	}
}

// TestFuncInputNonFinite: a non-finite value is reported at its position in
// the whole input (index, row, column), the lowest one however the pieces
// are scheduled, exactly as for F32Input.
func TestFuncInputNonFinite(t *testing.T) {
	rng := rand.New(rand.NewPCG(35, 36))
	const nPerRow, rows = 768, 80
	for _, typ := range []Type{Q4_K, Q8_0, F16, IQ4_XS} {
		for _, at := range [][]int{{0}, {767}, {ChunkLen(256) + 5}, {3*ChunkLen(256) + 1, ChunkLen(256) + 70}, {nPerRow*rows - 1}} {
			x := funcInputValues(rng, nPerRow*rows)
			for k, i := range at {
				x[i] = []float32{float32(math.NaN()), float32(math.Inf(-1))}[k%2]
			}
			lowest := min(at[0], at[len(at)-1])
			for _, withIm := range []bool{false, true} {
				for _, threads := range []int{1, 2, 3} {
					opt := Options{Threads: threads}
					if withIm {
						opt.Imatrix = make([]float32, nPerRow)
						for i := range opt.Imatrix {
							opt.Imatrix[i] = 1
						}
					}
					tr := mustTraits(typ)
					out := make([]byte, len(x)/tr.BlockSize*tr.BlockBytes)
					_, werr := Quantize(typ, out, F32Input(x), nPerRow, opt)
					in, _ := funcOf(x)
					_, gerr := Quantize(typ, out, in, nPerRow, opt)
					var nf *NonFiniteError
					if !errors.As(gerr, &nf) || fmt.Sprint(gerr) != fmt.Sprint(werr) {
						t.Fatalf("%s at %v threads=%d: %v, want %v", typ, at, threads, gerr, werr)
					}
					if nf.Index != lowest || nf.Row != lowest/nPerRow || nf.Column != lowest%nPerRow || nf.Type != typ {
						t.Fatalf("%s at %v threads=%d: reported %+v", typ, at, threads, nf)
					}
				}
			}
		}
	}
}

// sameStats compares error figures bit for bit (NaN included).
func sameStats(a, b ErrorStats) bool {
	return a.N == b.N && math.Float64bits(a.SumSqErr) == math.Float64bits(b.SumSqErr) &&
		math.Float64bits(a.SumSq) == math.Float64bits(b.SumSq) && math.Float64bits(a.MaxAbs) == math.Float64bits(b.MaxAbs)
}

// chunkErr is the error fill returns for a failing piece.
type chunkErr struct{ lo int }

func (e *chunkErr) Error() string { return fmt.Sprintf("cannot read [%d, ...)", e.lo) }

// TestFuncInputFillError: fill's error is the call's error, as it is (not
// wrapped); when several pieces fail (fill errors or non-finite values),
// the lowest piece's error wins whatever the thread count.
func TestFuncInputFillError(t *testing.T) {
	rng := rand.New(rand.NewPCG(37, 38))
	const nPerRow, rows = 256, 300 // 4.7 pieces of Q4_K
	per := ChunkLen(256)
	n := nPerRow * rows
	x := funcInputValues(rng, n)
	cases := []struct {
		failing []int // pieces whose fill fails
		nan     int   // index of a NaN, or -1
		want    int   // the piece whose error is returned
	}{
		{[]int{1}, -1, 1},
		{[]int{3, 1}, -1, 1},
		{[]int{0, 4}, -1, 0},
		{[]int{4}, -1, 4},
		{[]int{2}, per + 9, 1}, // the NaN's piece is lower
		{[]int{1}, 3*per + 9, 1},
	}
	for _, c := range cases {
		xs := append([]float32(nil), x...)
		if c.nan >= 0 {
			xs[c.nan] = float32(math.NaN())
		}
		for _, threads := range []int{1, 2, 3} {
			in := FuncInput(n, func(dst []float32, lo, hi int) error {
				for _, f := range c.failing {
					if lo == f*per {
						return &chunkErr{lo}
					}
				}
				copy(dst, xs[lo:hi])
				return nil
			})
			for _, typ := range []Type{Q4_K, Q8_0} {
				tr := mustTraits(typ)
				out := make([]byte, n/tr.BlockSize*tr.BlockBytes)
				_, err := Quantize(typ, out, in, nPerRow, Options{Threads: threads})
				var ce *chunkErr
				var nf *NonFiniteError
				switch {
				case errors.As(err, &ce):
					if ce.lo != c.want*per || c.nan >= 0 && c.nan/per == c.want {
						t.Fatalf("%+v %s threads=%d: %v", c, typ, threads, err)
					}
					if err != error(ce) {
						t.Fatalf("%+v: fill's error came back wrapped: %v", c, err)
					}
				case errors.As(err, &nf):
					if c.nan/per != c.want || nf.Index != c.nan {
						t.Fatalf("%+v %s threads=%d: %v", c, typ, threads, err)
					}
				default:
					t.Fatalf("%+v %s threads=%d: got %v", c, typ, threads, err)
				}
			}
		}
	}
}

// TestFuncInputBitsandbytes: the bitsandbytes quantizers and the
// conversions give for a FuncInput what they give for F32Input of the same
// values, and return fill's error.
func TestFuncInputBitsandbytes(t *testing.T) {
	rng := rand.New(rand.NewPCG(39, 40))
	const cols = 320
	n := cols * 130 // not a multiple of the blocks or the chunks
	x := funcInputValues(rng, n)
	for i := range x {
		x[i] = max(min(x[i], 6e4), -6e4) // LLM.int8 rounds to float16
	}
	type run func(in Input, opt Options) ([]byte, error)
	f32s := func(v []float32) []byte { return f32LE(v) }
	runs := map[string]run{
		"QuantizeBlockwise": func(in Input, opt Options) ([]byte, error) {
			codes, am := make([]uint8, n), make([]float32, numBlocks(n, 256))
			err := QuantizeBlockwise(codes, am, in, nil, 256, opt)
			return append(codes, f32s(am)...), err
		},
		"QuantizeBlockwiseCPU": func(in Input, opt Options) ([]byte, error) {
			codes, am := make([]uint8, n), make([]float32, numBlocks(n, 100))
			err := QuantizeBlockwiseCPU(codes, am, in, nil, 100, opt)
			return append(codes, f32s(am)...), err
		},
		"Quantize4Bit": func(in Input, opt Options) ([]byte, error) {
			p, am := make([]uint8, (n+1)/2), make([]float32, numBlocks(n, 64))
			err := Quantize4Bit(p, am, in, NF4, 64, opt)
			return append(p, f32s(am)...), err
		},
		"Quantize4BitCPU": func(in Input, opt Options) ([]byte, error) {
			p, am := make([]uint8, (n+1)/2), make([]float32, numBlocks(n, 4096))
			err := Quantize4BitCPU(p, am, in, FP4, 4096, opt)
			return append(p, f32s(am)...), err
		},
		"Absmax4Bit": func(in Input, opt Options) ([]byte, error) {
			am := make([]float32, numBlocks(n, 128))
			err := Absmax4Bit(am, in, 128, opt)
			return f32s(am), err
		},
		"Absmax4BitCPU": func(in Input, opt Options) ([]byte, error) {
			am := make([]float32, numBlocks(n, 128))
			err := Absmax4BitCPU(am, in, 128, opt)
			return f32s(am), err
		},
		"QuantizeInt8Rows": func(in Input, opt Options) ([]byte, error) {
			q, scb := make([]int8, n), make([]float32, n/cols)
			err := QuantizeInt8Rows(q, scb, in, cols, opt)
			b := make([]byte, n)
			for i, v := range q {
				b[i] = byte(v)
			}
			return append(b, f32s(scb)...), err
		},
		"Int8RowScales": func(in Input, opt Options) ([]byte, error) {
			scb := make([]float32, n/cols)
			err := Int8RowScales(scb, in, cols, opt)
			return f32s(scb), err
		},
		"Float32": func(in Input, _ Options) ([]byte, error) {
			v := make([]float32, in.Len())
			err := in.Float32(v)
			return f32s(v), err
		},
		"Float32Range": func(in Input, _ Options) ([]byte, error) {
			v := make([]float32, 1000)
			err := in.Float32Range(v, 7000, 8000)
			return f32s(v), err
		},
	}
	bad := errors.New("the source cannot be read")
	for name, f := range runs {
		for _, threads := range []int{1, 3} {
			opt := Options{Threads: threads}
			want, err := f(F32Input(x), opt)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			in, _ := funcOf(x)
			got, err := f(in, opt)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("%s threads=%d: differs from F32Input (%v)", name, threads, err)
			}
			failing := FuncInput(n, func(dst []float32, lo, hi int) error {
				if lo <= 7500 && 7500 < hi { // inside Float32Range's range too
					return bad
				}
				copy(dst, x[lo:hi])
				return nil
			})
			if _, err := f(failing, opt); err != bad {
				t.Fatalf("%s threads=%d: got %v, want fill's error", name, threads, err)
			}
		}
	}
	// LLM.int8 reports the value of the input, not its float16 rounding
	xs := append([]float32(nil), x...)
	xs[5*cols+3] = 1e6
	in, _ := funcOf(xs)
	err := QuantizeInt8Rows(make([]int8, n), make([]float32, n/cols), in, cols, Options{})
	var nf *NonFiniteError
	if !errors.As(err, &nf) || nf.Index != 5*cols+3 || nf.Value != 1e6 {
		t.Fatalf("LLM.int8 of 1e6: %v", err)
	}
}

// TestFuncInputBasics: length, encoding, and the empty input.
func TestFuncInputBasics(t *testing.T) {
	in := FuncInput(100, func([]float32, int, int) error { return nil })
	if in.Len() != 100 || in.DType() != DTypeF32 {
		t.Fatalf("Len %d DType %v", in.Len(), in.DType())
	}
	if FuncInput(-1, nil).Len() != 0 {
		t.Fatal("a negative length is not empty")
	}
	if _, err := Quantize(Q8_0, make([]byte, 34), FuncInput(0, nil), 32, Options{}); err == nil {
		t.Fatal("an empty FuncInput was accepted")
	}
}

// f32LE returns the little-endian bytes of v.
func f32LE(v []float32) []byte {
	b := make([]byte, 0, 4*len(v))
	for _, f := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(f))
	}
	return b
}
