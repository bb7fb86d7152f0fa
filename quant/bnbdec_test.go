package quant

import (
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"
)

// The fast bitsandbytes decoders (AVX-512 where the CPU has it, else
// nothing: every call falls back) against the Go loops they replace, bit
// for bit, on every output type, block sizes from 1 to 4096, ranges that
// start and end inside blocks, and hostile scales (±0, subnormals, huge,
// ±Inf, NaN). The public entry points are checked the same way, with and
// without the assembly (600001 values: a float32 or 16-bit output of more
// than streamBytes, written with non-temporal stores).

func hostileScales(rng *rand.Rand, n int) []float32 {
	a := make([]float32, n)
	for i := range a {
		switch rng.IntN(12) {
		case 0:
			a[i] = 0
		case 1:
			a[i] = float32(math.Copysign(0, -1))
		case 2:
			a[i] = float32(math.Inf(1 - 2*rng.IntN(2)))
		case 3:
			a[i] = float32(math.NaN())
		case 4:
			a[i] = math.Float32frombits(uint32(rng.IntN(1 << 23)))
		case 5:
			a[i] = 3e38
		case 6:
			a[i] = -float32(rng.ExpFloat64())
		default:
			a[i] = float32(rng.ExpFloat64() * 0.05)
		}
	}
	return a
}

// outputOf returns an output of n values of type dt filled with a marker,
// starting at a 64-byte boundary (so that non-temporal stores are used
// where the decoders would use them).
func outputOf(dt DType, n int) Output {
	if dt == DTypeF32 {
		f := make([]float32, n+16)
		f = f[(64-int(uintptr(unsafe.Pointer(&f[0]))%64))%64/4:][:n]
		for i := range f {
			f[i] = 42
		}
		return F32Output(f)
	}
	u := make([]uint16, n+32)
	u = u[(64-int(uintptr(unsafe.Pointer(&u[0]))%64))%64/2:][:n]
	for i := range u {
		u[i] = 0x4242
	}
	if dt == DTypeF16 {
		return F16Output(u)
	}
	return BF16Output(u)
}

// shiftedOutput is outputOf with n values whose element pad sits m values
// past a 64-byte boundary.
func shiftedOutput(dt DType, n, pad, m int) Output {
	o := outputOf(dt, n+64)
	if dt == DTypeF32 {
		f := o.f32
		k := (m - pad%16 + 16) % 16
		o.f32 = f[k : k+n]
		if uintptr(unsafe.Pointer(&o.f32[pad]))%64 != uintptr(4*m) {
			panic("shiftedOutput")
		}
		return o
	}
	k := (m - pad%32 + 32) % 32
	o.u16 = o.u16[k : k+n]
	if uintptr(unsafe.Pointer(&o.u16[pad]))%64 != uintptr(2*m) {
		panic("shiftedOutput")
	}
	return o
}

func sameOutput(a, b Output) (int, bool) {
	if a.dtype == DTypeF32 {
		for i := range a.f32 {
			if math.Float32bits(a.f32[i]) != math.Float32bits(b.f32[i]) {
				return i, false
			}
		}
		return 0, true
	}
	for i := range a.u16 {
		if a.u16[i] != b.u16[i] {
			return i, false
		}
	}
	return 0, true
}

func TestBnbDecodersMatchGeneric(t *testing.T) {
	rng := rand.New(rand.NewPCG(81, 82))
	iters := 400
	if testing.Short() {
		iters = 120
	}
	dts := []DType{DTypeF32, DTypeF16, DTypeBF16}
	for it := 0; it < iters; it++ {
		dt := dts[it%3]
		// 4-bit: whole-block ranges of a chunk
		bs := blockSizes4[rng.IntN(len(blockSizes4))]
		nb := 1 + rng.IntN(6)
		n := nb*bs + rng.IntN(bs)
		packed := make([]uint8, (n+1)/2)
		for i := range packed {
			packed[i] = uint8(rng.Uint32())
		}
		absmax := hostileScales(rng, (n+bs-1)/bs)
		lo := bs * rng.IntN(nb)
		for _, typ := range []FourBitType{NF4, FP4} {
			table := typ.dequantTable()
			got, want := outputOf(dt, n), outputOf(dt, n)
			done := decode4Fast(got, lo, n, packed, absmax, bs, table, it%2 == 0)
			if done%bs != 0 || done > n-lo {
				t.Fatalf("decode4Fast did %d values of [%d, %d) in blocks of %d", done, lo, n, bs)
			}
			if dt == DTypeF32 {
				decode4(want.f32[lo:lo+done], packed, absmax, lo, bs, table)
			} else {
				decode4Half(want, lo, lo+done, packed, absmax, bs, table)
			}
			if i, ok := sameOutput(got, want); !ok {
				t.Fatalf("4-bit %v dtype %d bs %d [%d, %d): element %d differs", typ, dt, bs, lo, lo+done, i)
			}
		}
		// 8-bit: any block size, ranges inside blocks
		bs8 := []int{1, 2, 3, 7, 16, 17, 64, 100, 256, 4096}[rng.IntN(10)]
		n8 := 1 + rng.IntN(3000)
		codes := make([]uint8, n8)
		for i := range codes {
			codes[i] = uint8(rng.Uint32())
		}
		abs8 := hostileScales(rng, (n8+bs8-1)/bs8)
		lo8 := rng.IntN(n8)
		hi8 := lo8 + rng.IntN(n8-lo8+1)
		code := &dynamicSigned
		if rng.IntN(2) == 0 {
			code = &dynamicUnsigned
		}
		want := outputOf(dt, n8)
		if dt == DTypeF32 {
			decodeCodes(want.f32[lo8:hi8], codes[lo8:hi8], abs8, lo8, bs8, code)
		} else {
			decodeCodesHalf(want, lo8, hi8, codes[lo8:hi8], abs8, bs8, code)
		}
		for _, avx512 := range []bool{true, false} {
			for _, stream := range []bool{true, false} {
				restore := setAVX512(avx512)
				// element lo8 anywhere in a line: the non-temporal path starts at the first aligned one
				got := shiftedOutput(dt, n8, lo8, rng.IntN(64/outputOf(dt, 1).elemSize()))
				if !decode8Fast(got, lo8, hi8, codes[lo8:hi8], abs8, bs8, code, stream) {
					got = want
				}
				restore()
				if i, ok := sameOutput(got, want); !ok {
					t.Fatalf("8-bit (AVX-512 %v, stream %v) dtype %d bs %d [%d, %d): element %d differs", avx512, stream, dt, bs8, lo8, hi8, i)
				}
			}
		}
		// nested absmax
		off := float32(rng.NormFloat64())
		if rng.IntN(4) == 0 {
			off = 0
		}
		a1, a2 := make([]float32, n8), make([]float32, n8)
		dequantizeNestedRef(a1, codes, abs8, off, code, bs8)
		dequantizeNested(a2, codes, abs8, off, code, bs8)
		if !sameBits(a1, a2) {
			t.Fatalf("dequantizeNested (bs %d, offset %v) differs from the reference", bs8, off)
		}
		for _, avx512 := range []bool{true, false} {
			restore := setAVX512(avx512)
			a3 := make([]float32, n8)
			if !dequantizeNestedFast(a3, codes, abs8, off, code, bs8) {
				copy(a3, a1)
			}
			restore()
			if !sameBits(a1, a3) {
				t.Fatalf("nested absmax (AVX-512 %v, bs %d, offset %v) differs", avx512, bs8, off)
			}
		}
	}
}

// TestBnbDequantizeWithAndWithoutAsm: the public decoders give the same
// bits with the assembly kernels on and off, at 1 and 3 threads.
func TestBnbDequantizeWithAndWithoutAsm(t *testing.T) {
	rng := rand.New(rand.NewPCG(83, 84))
	for _, n := range []int{1, 63, 64, 1000, 70001, 600001} {
		for _, dt := range []DType{DTypeF32, DTypeF16, DTypeBF16} {
			bs := blockSizes4[rng.IntN(len(blockSizes4))]
			packed := make([]uint8, (n+1)/2)
			codes := make([]uint8, n)
			for i := range codes {
				codes[i] = uint8(rng.Uint32())
			}
			copy(packed, codes)
			absmax := hostileScales(rng, (n+bs-1)/bs)
			run := func(asm bool, threads int) (Output, Output) {
				defer setAsm(asm)()
				o4, o8 := outputOf(dt, n), outputOf(dt, n)
				if err := Dequantize4Bit(o4, packed, absmax, NF4, bs, Options{Threads: threads}); err != nil {
					t.Fatal(err)
				}
				if err := DequantizeBlockwise(o8, codes, absmax, nil, bs, Options{Threads: threads}); err != nil {
					t.Fatal(err)
				}
				return o4, o8
			}
			w4, w8 := run(false, 1)
			for _, threads := range []int{1, 3} {
				g4, g8 := run(true, threads)
				if i, ok := sameOutput(g4, w4); !ok {
					t.Fatalf("Dequantize4Bit n=%d dtype %d bs %d threads %d: element %d differs", n, dt, bs, threads, i)
				}
				if i, ok := sameOutput(g8, w8); !ok {
					t.Fatalf("DequantizeBlockwise n=%d dtype %d bs %d threads %d: element %d differs", n, dt, bs, threads, i)
				}
			}
		}
	}
}

// TestBnbHalfRounding drives the fast decoders' float16/bfloat16 rounding
// through every kind of input it must get right, by decoding with scales
// ±1 from code tables of crafted values: exact ties and their neighbours
// for both encodings, subnormal results, overflow to ±Inf, and random bit
// patterns.
func TestBnbHalfRounding(t *testing.T) {
	rng := rand.New(rand.NewPCG(85, 86))
	crafted := func() float32 {
		switch rng.IntN(6) {
		case 0: // bfloat16 ties and neighbours: low 16 bits 0x7FFF..0x8001
			return math.Float32frombits(rng.Uint32()&0x7F7F0000 | uint32(0x7FFF+rng.IntN(3)))
		case 1: // float16 ties: 13 dropped bits at 0x0FFF..0x1001
			return math.Float32frombits(uint32(rng.IntN(31)+103)<<23 | rng.Uint32()&0x7FE000 | uint32(0xFFF+rng.IntN(3)))
		case 2: // float16 subnormal range
			return float32(rng.NormFloat64() * 1e-6)
		case 3: // around the float16 maximum
			return float32(65504 + rng.NormFloat64()*32)
		case 4: // float32 subnormals
			return math.Float32frombits(uint32(rng.IntN(1 << 23)))
		}
		for {
			if f := math.Float32frombits(rng.Uint32()); !math.IsNaN(float64(f)) && !math.IsInf(float64(f), 0) {
				return f
			}
		}
	}
	n := 4096
	codes := make([]uint8, n)
	for i := range codes {
		codes[i] = uint8(i)
	}
	absmax := make([]float32, n/256)
	for i := range absmax {
		absmax[i] = float32(1 - 2*(i%2))
	}
	for it := 0; it < 300; it++ {
		var code [256]float32
		for i := range code {
			code[i] = crafted()
			if rng.IntN(2) == 0 {
				code[i] = -code[i]
			}
		}
		for _, dt := range []DType{DTypeF16, DTypeBF16} {
			want := outputOf(dt, n)
			decodeCodesHalf(want, 0, n, codes, absmax, 256, &code)
			for _, avx512 := range []bool{true, false} {
				restore := setAVX512(avx512)
				got := outputOf(dt, n)
				ok := decode8Fast(got, 0, n, codes, absmax, 256, &code, avx512)
				restore()
				if !ok {
					t.Skip("no fast decoder on this machine")
				}
				if i, ok := sameOutput(got, want); !ok {
					t.Fatalf("AVX-512 %v dtype %d: element %d (%08x) gives %04x, want %04x", avx512, dt, i,
						math.Float32bits(code[codes[i]]*absmax[i/256]), got.u16[i], want.u16[i])
				}
			}
		}
	}
}
