package quant

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/wick-ml/wick/quant/ggmltype"
)

// residentBytes returns n bytes with every page written, so that a large
// output in them takes the streaming kernels (streamTo).
func residentBytes(n int) []byte { return bytes.Repeat([]byte{0xA5}, n) }

func mustQuantize(t *testing.T, typ Type, src Input, nPerRow int, opt Options) []byte {
	t.Helper()
	tr, _ := TraitsOf(typ)
	out := residentBytes(src.Len() / tr.BlockSize * tr.BlockBytes)
	n, err := Quantize(typ, out, src, nPerRow, opt)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(out) {
		t.Fatalf("Quantize wrote %d bytes, want %d", n, len(out))
	}
	return out
}

// TestThreadCountInvariance: output bytes never depend on the thread count,
// for shapes that cut chunks in odd places.
func TestThreadCountInvariance(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, typ := range []Type{F32, F16, BF16, Q8_0} {
		for _, shape := range [][2]int{{1, 32}, {3, 96}, {1, 32 * 1031}, {67, 4096}, {5, chunkElements + 32}} {
			x := make([]float32, shape[0]*shape[1])
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			one := mustQuantize(t, typ, F32Input(x), shape[1], Options{Threads: 1})
			for _, threads := range []int{0, 2, 3, 8, 64} {
				got := mustQuantize(t, typ, F32Input(x), shape[1], Options{Threads: threads})
				if !bytes.Equal(got, one) {
					t.Fatalf("%s %v: threads=%d differs from threads=1", typ, shape, threads)
				}
			}
		}
	}
}

// TestHalfInputs: quantizing F16/BF16 inputs equals quantizing their exact
// float32 widening.
func TestHalfInputs(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	n := 3 * chunkElements
	f16 := make([]uint16, n)
	bf16 := make([]uint16, n)
	w16 := make([]float32, n)
	wbf := make([]float32, n)
	for i := range f16 {
		f16[i] = uint16(rng.Uint32()) &^ 0x4000 // exponent < 16: finite
		bf16[i] = uint16(rng.Uint32()) &^ 0x4000
		w16[i] = F16ToF32(f16[i])
		wbf[i] = BF16ToF32(bf16[i])
	}
	for _, typ := range []Type{F32, F16, BF16, Q8_0} {
		if !bytes.Equal(mustQuantize(t, typ, F16Input(f16), 256, Options{}), mustQuantize(t, typ, F32Input(w16), 256, Options{})) {
			t.Errorf("%s: F16 input differs from its float32 widening", typ)
		}
		if !bytes.Equal(mustQuantize(t, typ, BF16Input(bf16), 256, Options{}), mustQuantize(t, typ, F32Input(wbf), 256, Options{})) {
			t.Errorf("%s: BF16 input differs from its float32 widening", typ)
		}
	}
	// F16 → F16 and BF16 → BF16 are the identity.
	got := mustQuantize(t, F16, F16Input(f16), 256, Options{})
	for i, h := range f16 {
		if got[2*i] != byte(h) || got[2*i+1] != byte(h>>8) {
			t.Fatalf("F16 identity broken at %d", i)
		}
	}
}

func TestNonFinite(t *testing.T) {
	x := make([]float32, 4*chunkElements)
	for i := range x {
		x[i] = 1
	}
	// the lowest bad index wins however the chunks are scheduled
	x[3*chunkElements+5] = float32(math.NaN())
	x[chunkElements+70] = float32(math.Inf(-1))
	for _, threads := range []int{1, 2, 4} {
		out := make([]byte, len(x)/32*34)
		_, err := Quantize(Q8_0, out, F32Input(x), 1024, Options{Threads: threads})
		var nf *NonFiniteError
		if !errors.As(err, &nf) {
			t.Fatalf("threads=%d: got %v, want NonFiniteError", threads, err)
		}
		if nf.Index != chunkElements+70 || nf.Row != (chunkElements+70)/1024 || nf.Column != 70 || !math.IsInf(float64(nf.Value), -1) {
			t.Fatalf("threads=%d: %+v", threads, nf)
		}
		if !strings.Contains(err.Error(), "row 16, column 70") {
			t.Fatalf("message %q", err)
		}
	}
	// float targets convert non-finite values when allowed, block types never
	for _, typ := range []Type{F32, F16, BF16} {
		tr, _ := TraitsOf(typ)
		out := make([]byte, len(x)*tr.BlockBytes)
		if _, err := Quantize(typ, out, F32Input(x), 1024, Options{}); err == nil {
			t.Errorf("%s: non-finite accepted without AllowNonFinite", typ)
		}
		if _, err := Quantize(typ, out, F32Input(x), 1024, Options{AllowNonFinite: true}); err != nil {
			t.Errorf("%s with AllowNonFinite: %v", typ, err)
		}
	}
	out := make([]byte, len(x)/32*34)
	if _, err := Quantize(Q8_0, out, F32Input(x), 1024, Options{AllowNonFinite: true}); err == nil {
		t.Error("Q8_0 accepted non-finite input with AllowNonFinite")
	}
}

func TestArgumentErrors(t *testing.T) {
	x := make([]float32, 64)
	cases := []struct {
		typ     Type
		dst     int
		src     Input
		nPerRow int
		opt     Options
		arg     string
	}{
		{Type(4), 100, F32Input(x), 32, Options{}, "type"},
		{Q8_0, 100, Input{}, 32, Options{}, "x"},
		{Q8_0, 100, F32Input(x), 48, Options{}, "x"},
		{Q8_0, 100, F32Input(x[:40]), 32, Options{}, "x"},
		{Q8_0, 67, F32Input(x), 32, Options{}, "out"},
		{Q8_0, 68, F32Input(x), 32, Options{Imatrix: make([]float32, 5)}, "imatrix"},
		{Q4_K, 288, F32Input(make([]float32, 512)), 256, Options{Imatrix: append(make([]float32, 255), float32(math.NaN()))}, "imatrix"},
		{Q4_0, 36, F32Input(x), 32, Options{Imatrix: append(make([]float32, 31), float32(math.Inf(1)))}, "imatrix"},
	}
	for i, c := range cases {
		_, err := Quantize(c.typ, make([]byte, c.dst), c.src, c.nPerRow, c.opt)
		var ae *ArgumentError
		if !errors.As(err, &ae) || ae.Arg != c.arg {
			t.Errorf("case %d: got %v, want an ArgumentError for %q", i, err, c.arg)
		}
	}
	var ue *UnsupportedError
	if _, err := Quantize(Q8_K, make([]byte, 100), F32Input(x), 32, Options{}); !errors.As(err, &ue) {
		t.Errorf("Q8_K: got %v, want UnsupportedError", err)
	} else if !strings.Contains(err.Error(), "Q8_0") {
		t.Errorf("UnsupportedError should list what Wick can do: %v", err)
	}
	if err := Dequantize(Q8_0, make([]float32, 64), make([]byte, 67), Options{}); err == nil {
		t.Error("short dequantize input accepted")
	}
	if err := Dequantize(Q8_0, make([]float32, 48), make([]byte, 100), Options{}); err == nil {
		t.Error("partial block accepted")
	}
}

func TestCancel(t *testing.T) {
	x := make([]float32, 64*chunkElements)
	out := make([]byte, len(x)/32*34)
	var polls atomic.Int32
	_, err := Quantize(Q8_0, out, F32Input(x), 32, Options{Threads: 2, Cancelled: func() bool { return polls.Add(1) > 3 }})
	if !errors.Is(err, ErrCancelled) {
		t.Fatalf("got %v, want ErrCancelled", err)
	}
	var done atomic.Int64
	if _, err := Quantize(Q8_0, out, F32Input(x), 32, Options{Threads: 3, Progress: func(n int) { done.Add(int64(n)) }}); err != nil {
		t.Fatal(err)
	}
	if done.Load() != int64(len(x)) {
		t.Fatalf("progress reported %d of %d elements", done.Load(), len(x))
	}
}

// TestWorkerPanicBecomesError installs a kernel that panics on its third
// chunk: the panic must come back as a *PanicError, from any thread count.
func TestWorkerPanicBecomesError(t *testing.T) {
	const fake = Type(1000)
	var calls atomic.Int32
	table = append(table, Traits{Info: ggmltype.Info{Type: fake, Name: "FAKE", BlockSize: 1, BlockBytes: 1},
		quantize: func(dst []byte, src []float32, _ int, _ []float32) {
			if calls.Add(1) == 3 {
				var s []int
				_ = s[len(src)] // index out of range
			}
		}})
	byType[fake] = len(table) - 1
	defer func() {
		table = table[:len(table)-1]
		delete(byType, fake)
	}()
	for _, threads := range []int{1, 4} {
		calls.Store(0)
		_, err := Quantize(fake, make([]byte, 10*chunkElements), F32Input(make([]float32, 10*chunkElements)), chunkElements, Options{Threads: threads})
		var pe *PanicError
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), "index out of range") || len(pe.Stack) == 0 {
			t.Fatalf("threads=%d: got %v", threads, err)
		}
	}
}

func TestTable(t *testing.T) {
	seen := map[string]bool{}
	for _, tr := range Types() {
		if seen[tr.Name] {
			t.Errorf("duplicate name %s", tr.Name)
		}
		seen[tr.Name] = true
		if got, ok := Lookup(strings.ToLower(tr.Name)); !ok || got.Type != tr.Type {
			t.Errorf("Lookup(%q) failed", strings.ToLower(tr.Name))
		}
		if tr.Type.String() != tr.Name {
			t.Errorf("String(%d) = %q", tr.Type, tr.Type.String())
		}
		if tr.BlockSize <= 0 || tr.BlockBytes <= 0 {
			t.Errorf("%s has an empty block", tr.Name)
		}
	}
	if Type(4).String() != "type(4)" {
		t.Error(Type(4).String())
	}
	if n, err := mustTraits(Q4_K).RowBytes(512); err != nil || n != 288 {
		t.Errorf("Q4_K RowBytes(512) = %d, %v", n, err)
	}
	if _, err := mustTraits(Q4_K).RowBytes(100); err == nil {
		t.Error("RowBytes accepted a partial block")
	}
}

func mustTraits(t Type) Traits {
	tr, ok := TraitsOf(t)
	if !ok {
		panic(t)
	}
	return tr
}

// TestDriverKernelSetsAgree runs Quantize and Dequantize through every
// kernel set (swapping the one in use) on float32, float16 and bfloat16
// inputs with NaN and ±Inf let through, and requires identical bytes: the
// driver's widening and scan paths are covered as well as the kernels.
func TestDriverKernelSetsAgree(t *testing.T) {
	sets := kernelSets()
	if len(sets) < 2 {
		t.Skip("only the generic kernels on this build/CPU")
	}
	defer func(k kernelSet) { kern = k }(kern)
	rng := rand.New(rand.NewPCG(15, 16))
	const n = 96 * 5462 // rows of 96; outputs above streamBytes: the streaming kernels run too
	x := testFloats(rng, n)
	h := testHalves(rng, n)
	finite := randomBlocks(rng, n/32)
	inputs := []struct {
		name string
		in   Input
	}{{"f32", F32Input(x)}, {"f16", F16Input(h)}, {"bf16", BF16Input(h)}, {"f32-finite", F32Input(finite)}}
	for _, typ := range []Type{F32, F16, BF16, Q8_0} {
		tr := mustTraits(typ)
		imatrix := make([]float32, 96) // with one, the scan-then-kernel path runs
		for i := range imatrix {
			imatrix[i] = 1
		}
		for _, in := range inputs {
			for _, opt := range []Options{{Threads: 2, AllowNonFinite: true}, {Threads: 2}, {Threads: 2, Imatrix: imatrix}} {
				var first []byte
				var firstErr string
				for _, ks := range sets {
					kern = ks
					out := residentBytes(n / tr.BlockSize * tr.BlockBytes)
					_, err := Quantize(typ, out, in.in, 96, opt)
					var nf *NonFiniteError
					if err != nil && !errors.As(err, &nf) {
						t.Fatalf("%s from %s %+v: %v", typ, in.name, opt, err)
					}
					es := fmt.Sprint(err)
					if first == nil {
						first, firstErr = out, es
						continue
					}
					if es != firstErr || (err == nil && !bytes.Equal(out, first)) {
						t.Fatalf("%s from %s %+v: %s differs from %s (errors %q, %q)", typ, in.name, opt, ks.name, sets[0].name, es, firstErr)
					}
				}
				if typ == Q8_0 && in.name == "f32-finite" {
					want := make([]byte, len(first))
					quantizeQ8_0Ref(want, finite, 96, nil)
					if !bytes.Equal(first, want) {
						t.Fatalf("Q8_0 %+v: Quantize differs from quantizeQ8_0Ref", opt)
					}
				}
			}
		}
		// decoding the encoded bytes of random bits
		enc := make([]byte, n/tr.BlockSize*tr.BlockBytes)
		for i := range enc {
			enc[i] = byte(rng.Uint32())
		}
		var first []float32
		for _, ks := range sets {
			kern = ks
			dec := make([]float32, n)
			if err := Dequantize(typ, dec, enc, Options{Threads: 2}); err != nil {
				t.Fatal(err)
			}
			if first == nil {
				first = dec
			} else if i := firstBitDiff32(dec, first); i >= 0 {
				t.Fatalf("%s dequantize: %s differs from %s at %d", typ, ks.name, sets[0].name, i)
			}
		}
	}
}
