package quant

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"
)

// The AVX-512 NF4 encoder against the rule, for every bfloat16 value (NaN
// and ±Inf included), each threshold and its float32 neighbours, scaled by
// several r (1, random, 0, +Inf, tiny and huge).
func TestEncodeNF4AVX512(t *testing.T) {
	var xs []float32
	for i := 0; i < 1<<16; i++ {
		xs = append(xs, math.Float32frombits(uint32(i)<<16))
	}
	for _, th := range nf4ThresholdValues {
		xs = append(xs, th, math.Nextafter32(th, 2), math.Nextafter32(th, -2), -th)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 4096 {
		xs = append(xs, float32(rng.NormFloat64()))
	}
	for len(xs)%32 != 0 {
		xs = append(xs, 0.5)
	}
	for _, r := range []float32{1, 0.37, 3.1, 0, float32(math.Inf(1)), 1e-30, 1e30} {
		got := make([]uint8, len(xs)/2)
		n := encodeNF4Vec512(got, xs, r)
		if n == 0 {
			t.Skip("no AVX-512 kernel on this machine or build")
		}
		if n != len(xs) {
			t.Fatalf("encoded %d of %d", n, len(xs))
		}
		want := make([]uint8, len(xs)/2)
		encode4Ref(want, xs, r, nf4CodeRef)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("r=%v: byte %d (x %v, %v): %#x, rule %#x", r, i, xs[2*i], xs[2*i+1], got[i], want[i])
			}
		}
	}
}

// The multi-block AVX-512 encoder against the rule, each block with its
// own scale (0, +Inf, tiny, huge, random).
func TestEncodeNF4BlocksAVX512(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, bs := range []int{32, 64, 4096} {
		const blocks = 37
		x := make([]float32, blocks*bs)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		r := make([]float32, blocks)
		for b := range r {
			r[b] = []float32{0, float32(math.Inf(1)), 1e-30, 1e30, float32(rng.Float64() * 3)}[b%5]
		}
		got := make([]uint8, len(x)/2)
		if !encodeNF4Blocks512(got, x, r, bs) {
			t.Skip("no AVX-512 kernel on this machine or build")
		}
		want := make([]uint8, len(x)/2)
		for b := range r {
			encode4Ref(want[b*bs/2:(b+1)*bs/2], x[b*bs:(b+1)*bs], r[b], nf4CodeRef)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("blocksize %d: codes differ from the rule", bs)
		}
	}
}

// Quantize4BitF32 against Quantize4Bit (all kernels: AVX-512, AVX2, none)
// on random, constant, zero, subnormal, huge and non-finite blocks, every
// block size, whole and partial last blocks, odd lengths.
func TestQuantize4BitF32(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	type mode struct{ asm, avx512 bool }
	for _, m := range []mode{{true, true}, {true, false}, {false, false}} {
		restore := setAsm(m.asm)
		restore512 := setAVX512(m.avx512)
		for _, typ := range []FourBitType{NF4, FP4} {
			for _, bs := range blockSizes4 {
				ns := []int{0, 1, 33, bs - 1, bs, bs + 1, 3*bs + 17, 4 * bs}
				if bs <= 64 {
					ns = append(ns, 300*bs+5, 512*bs) // more than one group of 256 blocks
				}
				for _, n := range ns {
					for kind := range 7 {
						x := make([]float32, n)
						for i := range x {
							switch kind {
							case 0:
								x[i] = float32(rng.NormFloat64())
							case 1:
								x[i] = float32(rng.NormFloat64()) * 1e-40 // subnormal: r overflows
							case 2:
								x[i] = 0
							case 3:
								x[i] = math.MaxFloat32 * float32(rng.Float64()*2-1)
							case 4:
								x[i] = nf4ThresholdValues[rng.IntN(15)] * float32(1-2*rng.IntN(2))
							case 5, 6:
								x[i] = float32(rng.NormFloat64())
							}
						}
						if kind == 4 && n > 0 {
							x[0] = 1 // absmax 1: the thresholds hit exactly
						}
						if kind == 6 && n > 0 {
							x[rng.IntN(n)] = []float32{float32(math.NaN()), float32(math.Inf(-1))}[rng.IntN(2)]
						}
						wantP, wantA := make([]uint8, (n+1)/2), make([]float32, (n+bs-1)/bs)
						werr := Quantize4Bit(wantP, wantA, F32Input(x), typ, bs, Options{Threads: 1})
						gotP, gotA := make([]uint8, (n+1)/2), make([]float32, (n+bs-1)/bs)
						ok, err := Quantize4BitF32(gotP, gotA, x, typ, bs)
						if err != nil {
							t.Fatal(err)
						}
						if ok != (werr == nil) {
							t.Fatalf("%v bs %d n %d kind %d: ok=%v, Quantize4Bit error %v", typ, bs, n, kind, ok, werr)
						}
						if !ok {
							continue
						}
						if !bytes.Equal(gotP, wantP) {
							t.Fatalf("%v bs %d n %d kind %d (asm %v, avx512 %v): codes differ", typ, bs, n, kind, m.asm, m.avx512)
						}
						for b := range wantA {
							if math.Float32bits(gotA[b]) != math.Float32bits(wantA[b]) {
								t.Fatalf("%v bs %d n %d kind %d: absmax %d differs", typ, bs, n, kind, b)
							}
						}
					}
				}
			}
		}
		restore512()
		restore()
	}
	if _, err := Quantize4BitF32(make([]uint8, 1), make([]float32, 1), make([]float32, 3), NF4, 64); err == nil {
		t.Error("a short packed buffer accepted")
	}
}
