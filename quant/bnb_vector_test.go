package quant

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestVectorKernels: the vector kernels (AVX2 on amd64 unless built with
// -tags noasm) compute exactly what their Go twins compute, on random,
// adversarial and non-finite inputs, for every length around the vector
// width.
func TestVectorKernels(t *testing.T) {
	if !haveAVX2 {
		t.Skip("no vector kernels in this build")
	}
	rng := rand.New(rand.NewPCG(61, 62))
	x := append(adversarialBnb(rng, 64), randomBnb(rng, 4096)...)
	specials := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.Copysign(0, -1)), 0,
		math.Float32frombits(0xFFC00001), math.Float32frombits(0x7F800001)}
	for i := range 300 {
		x[rng.IntN(len(x))] = specials[i%len(specials)]
	}
	for n := 0; n <= 100; n++ {
		xs := x[len(x)-n-rng.IntN(50):]
		xs = xs[:n]
		m, done := maxAbsBitsVec(xs)
		if done != n&^31 {
			t.Fatalf("maxAbsBitsVec did %d of %d", done, n)
		}
		if want := maxAbsBits(xs[:done]); done > 0 && m != want {
			t.Fatalf("n=%d: maxAbsBitsVec %08x, maxAbsBits %08x", n, m, want)
		}
	}
	m, _ := maxAbsBitsVec(x)
	if want := maxAbsBits(x[:len(x)&^31]); m != want {
		t.Fatalf("maxAbsBitsVec %08x, maxAbsBits %08x", m, want)
	}
	rs := []float32{1, 1 / 0.7, float32(math.Inf(1)), 0, 3e-39, 1e30, -1, float32(math.NaN())}
	for _, typ := range []FourBitType{NF4, FP4} {
		for _, r := range rs {
			for _, n := range []int{16, 32, 48, len(x) &^ 15, 64 + 15} {
				xs := x[:n]
				got := make([]uint8, n/2+1)
				want := make([]uint8, n/2+1)
				done := encode4Vec(got, xs, r, typ)
				if done != n&^15 {
					t.Fatalf("encode4Vec did %d of %d", done, n)
				}
				encode4Ref(want, xs[:done], r, typ.rule())
				for j := 0; j < done/2; j++ {
					if got[j] != want[j] {
						t.Fatalf("%s r=%v: byte %d = %#02x, rule %#02x (x %v, %v)", typ, r, j, got[j], want[j], xs[2*j], xs[2*j+1])
					}
				}
				if got[done/2] != 0 {
					t.Fatalf("%s: wrote past %d bytes", typ, done/2)
				}
			}
		}
	}
}

// TestVectorDeciderLookup: the gathered table lookup gives decider.pick's
// code for every finite normalized value, for tables with permuted codes
// (FP4) and every interval of the float line.
func TestVectorDeciderLookup(t *testing.T) {
	if !haveAVX2 {
		t.Skip("no vector kernels in this build")
	}
	signed, unsigned := DynamicCode(true), DynamicCode(false)
	deciders := map[string]*decider{
		"signed": codeDecider(&signed, 0), "unsigned": buildCodeDecider(&unsigned),
		"nf4": getNF4Decider(), "fp4": getFP4Decider(),
	}
	var x []float32
	for _, v := range deciderProbe(append(midpoints32(&signed), fp4ThresholdValues[:]...), 4099) {
		if v == v && !math.IsInf(float64(v), 0) {
			x = append(x, v)
		}
	}
	x = x[:len(x)&^15]
	for name, d := range deciders {
		for _, r := range []float32{1, 0.5, 3} {
			got := make([]uint8, len(x))
			if n := encodeTableVec(got, x, r, &d.tab); n != len(x) {
				t.Fatalf("did %d of %d", n, len(x))
			}
			for i, v := range x {
				xn := v * r
				if math.IsInf(float64(xn), 0) {
					continue
				}
				if want := d.pick(xn); got[i] != want {
					t.Fatalf("%s: x_n=%v (%08x): vector %d, pick %d", name, xn, math.Float32bits(xn), got[i], want)
				}
			}
		}
	}
}

func FuzzVectorKernels(f *testing.F) {
	f.Add([]byte{0, 0, 128, 63, 0, 0, 0, 191}, float32(1))
	f.Fuzz(func(t *testing.T, raw []byte, r float32) {
		if !haveAVX2 {
			t.Skip()
		}
		x := make([]float32, len(raw)/4)
		for i := range x {
			x[i] = math.Float32frombits(uint32(raw[4*i]) | uint32(raw[4*i+1])<<8 | uint32(raw[4*i+2])<<16 | uint32(raw[4*i+3])<<24)
		}
		if m, done := maxAbsBitsVec(x); done > 0 && m != maxAbsBits(x[:done]) {
			t.Fatalf("maxAbsBits mismatch")
		}
		for _, typ := range []FourBitType{NF4, FP4} {
			got, want := make([]uint8, len(x)/2), make([]uint8, len(x)/2)
			done := encode4Vec(got, x, r, typ)
			encode4Ref(want, x[:done], r, typ.rule())
			for j := 0; j < done/2; j++ {
				if got[j] != want[j] {
					t.Fatalf("%s: byte %d", typ, j)
				}
			}
		}
	})
}

// TestDecode4Vec: the vector 4-bit decoder writes what the plain loop
// writes, bit for bit (FP4's -0.0, NaN and ±Inf scales included), at every
// length, and nothing past its part.
func TestDecode4Vec(t *testing.T) {
	if !haveAVX2 {
		t.Skip("no vector kernels in this build")
	}
	rng := rand.New(rand.NewPCG(31, 32))
	for _, typ := range []FourBitType{NF4, FP4} {
		table := typ.dequantTable()
		for _, a := range []float32{1, 0.0123, float32(math.Inf(1)), float32(math.NaN()), 0, 3e38} {
			for n := 0; n <= 40; n++ {
				packed := make([]uint8, n)
				for i := range packed {
					packed[i] = uint8(rng.Uint32())
				}
				got := make([]float32, 2*n+1)
				got[2*n] = 42
				k := decode4Vec(got[:2*n], packed, a, table)
				if k != n&^3 || got[2*n] != 42 {
					t.Fatalf("n=%d: decoded %d bytes (or wrote past)", n, k)
				}
				for j := 0; j < 2*k; j++ {
					p := packed[j/2]
					c := p >> 4
					if j%2 == 1 {
						c = p & 15
					}
					want := table[c] * a
					if math.Float32bits(got[j]) != math.Float32bits(want) {
						t.Fatalf("%v a=%v n=%d: element %d = %08x, want %08x", typ, a, n, j,
							math.Float32bits(got[j]), math.Float32bits(want))
					}
				}
			}
		}
	}
}

// TestDequantize4BitHalfOutputs: the vectorised half-output path of
// Dequantize4Bit equals decode4Half (each value rounded once through the
// block's table) for both 16-bit encodings, odd lengths and every thread
// count.
func TestDequantize4BitHalfOutputs(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	for _, typ := range []FourBitType{NF4, FP4} {
		for _, n := range []int{1, 63, 64, 1000, 70001} {
			bs := 64
			packed := make([]uint8, (n+1)/2)
			for i := range packed {
				packed[i] = uint8(rng.Uint32())
			}
			absmax := make([]float32, (n+bs-1)/bs)
			for i := range absmax {
				absmax[i] = float32(rng.ExpFloat64())
			}
			absmax[0] = float32(math.Inf(1))
			if len(absmax) > 1 {
				absmax[1] = float32(math.NaN())
			}
			for _, dt := range []DType{DTypeF16, DTypeBF16} {
				want := make([]uint16, n)
				ref := Output{dtype: dt, u16: want}
				decode4Half(ref, 0, n, packed, absmax, bs, typ.dequantTable())
				for _, threads := range []int{1, 3} {
					got := make([]uint16, n)
					out := F16Output(got)
					if dt == DTypeBF16 {
						out = BF16Output(got)
					}
					if err := Dequantize4Bit(out, packed, absmax, typ, bs, Options{Threads: threads}); err != nil {
						t.Fatal(err)
					}
					for i := range got {
						if got[i] != want[i] {
							t.Fatalf("%v dtype %d n=%d threads=%d: element %d = %04x, want %04x", typ, dt, n, threads, i, got[i], want[i])
						}
					}
				}
			}
		}
	}
}
