package quant

import (
	"encoding/binary"
	"fmt"
	"math"
	"testing"
)

// Reference points from spec ggml-quants.md §1.1 (fp32 bits → fp16 bits).
var f16Points = []struct {
	in  uint32
	out uint16
}{
	{0x3F800000, 0x3C00},
	{0x477FE000, 0x7BFF}, // 65504
	{0x477FEFFF, 0x7BFF},
	{0x477FF000, 0x7C00}, // 65520 rounds to Inf
	{0x7F800000, 0x7C00},
	{0x80000000, 0x8000},
	{0x3DCCCCCD, 0x2E66}, // 0.1
	{0x38800000, 0x0400}, // 2^-14, smallest normal
	{0x387FC000, 0x03FF}, // largest subnormal
	{0x33000000, 0x0000}, // 2^-25, tie to even (zero)
	{0x33400000, 0x0001}, // 1.5·2^-25
	{0x3F801000, 0x3C00}, // 1+2^-11, tie
	{0x3F803000, 0x3C02}, // 1+3·2^-11, tie
	{0x3F808000, 0x3C04},
	{0x7FC00001, 0x7E00}, // NaN payloads are dropped
	{0x7F800001, 0x7E00},
	{0xFFC00000, 0xFE00},
	{0x7F7FFFFF, 0x7C00},
}

func TestF32ToF16Points(t *testing.T) {
	for _, p := range f16Points {
		f := math.Float32frombits(p.in)
		if got := F32ToF16(f); got != p.out {
			t.Errorf("F32ToF16(%08x) = %04x, want %04x", p.in, got, p.out)
		}
		if got := f32ToF16Ref(f); got != p.out {
			t.Errorf("f32ToF16Ref(%08x) = %04x, want %04x", p.in, got, p.out)
		}
	}
}

// TestF32ToF16Exhaustive compares the scalar conversion and every kernel
// set's encodeF16 (the assembly included) with the x448-based reference on
// all 2³² float32 inputs (about 30 s on 2 cores; skipped with -short, which
// `make test` uses under the race detector).
func TestF32ToF16Exhaustive(t *testing.T) {
	if testing.Short() {
		t.Skip("exhaustive: run without -short")
	}
	sets := kernelSets()
	parallelRange(1<<32, func(lo, hi uint64) error {
		x := make([]float32, hi-lo)
		for i := range x {
			x[i] = math.Float32frombits(uint32(lo + uint64(i)))
		}
		outs := make([][]byte, len(sets))
		for k, ks := range sets {
			outs[k] = make([]byte, 2*len(x))
			ks.encodeF16(outs[k], x)
		}
		for i, f := range x {
			want := f32ToF16Ref(f)
			if got := F32ToF16(f); got != want {
				return fmt.Errorf("F32ToF16(%08x) = %04x, reference %04x", math.Float32bits(f), got, want)
			}
			for k, ks := range sets {
				if got := binary.LittleEndian.Uint16(outs[k][2*i:]); got != want {
					return fmt.Errorf("%s encodeF16(%08x) = %04x, reference %04x", ks.name, math.Float32bits(f), got, want)
				}
			}
		}
		return nil
	}, t)
}

// TestF16ToF32AllCodes round-trips all 65 536 half codes: widening is exact,
// so narrowing the result must give the code back (NaNs become canonical).
func TestF16ToF32AllCodes(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		f := F16ToF32(uint16(h))
		want := uint16(h)
		if h&0x7C00 == 0x7C00 && h&0x03FF != 0 {
			want = uint16(h)&0x8000 | 0x7E00
			if f == f {
				t.Fatalf("F16ToF32(%04x) = %v, want NaN", h, f)
			}
		}
		if got := F32ToF16(f); got != want {
			t.Fatalf("F32ToF16(F16ToF32(%04x)) = %04x, want %04x", h, got, want)
		}
	}
}

func TestF32ToBF16Points(t *testing.T) {
	// spec ggml-quants.md §1.2
	for _, p := range []struct {
		in  uint32
		out uint16
	}{
		{0x3F800000, 0x3F80}, {0x3F808000, 0x3F80}, {0x3F818000, 0x3F82}, {0x3DCCCCCD, 0x3DCD},
		{0x7F800001, 0x7FC0}, {0x322BCC77, 0x322C}, {0x00000001, 0x0000}, {0x7F7FFFFF, 0x7F80},
		{0xFF800000, 0xFF80}, {0x80000000, 0x8000}, {0x007FFFFF, 0x0080}, // subnormals round, not flush
	} {
		if got := F32ToBF16(math.Float32frombits(p.in)); got != p.out {
			t.Errorf("F32ToBF16(%08x) = %04x, want %04x", p.in, got, p.out)
		}
	}
}

// TestBF16AllCodes: widening then narrowing returns every non-NaN code.
func TestBF16AllCodes(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		f := BF16ToF32(uint16(h))
		want := uint16(h)
		if f != f {
			want |= 0x0040
		}
		if got := F32ToBF16(f); got != want {
			t.Fatalf("F32ToBF16(BF16ToF32(%04x)) = %04x, want %04x", h, got, want)
		}
	}
}

// TestF16ToF32NaNs: ggml's widening sets the quiet bit of signalling NaNs
// and keeps sign and payload. Expected bits from llama.cpp's
// ggml_fp16_to_fp32_row (llama-cpp-python 0.3.36); numpy and x448 would
// give 7F802000 for 7C01.
func TestF16ToF32NaNs(t *testing.T) {
	for _, p := range []struct {
		in  uint16
		out uint32
	}{{0x7C01, 0x7FC02000}, {0xFC01, 0xFFC02000}, {0x7D00, 0x7FE00000}, {0x7E01, 0x7FC02000}, {0x7C00, 0x7F800000}, {0x0001, 0x33800000}} {
		if got := math.Float32bits(F16ToF32(p.in)); got != p.out {
			t.Errorf("F16ToF32(%04x) = %08x, want %08x", p.in, got, p.out)
		}
		for _, ks := range kernelSets() {
			out := make([]float32, 16) // one whole vector step for the assembly
			in := make([]uint16, 16)
			for i := range in {
				in[i] = p.in
			}
			ks.widenF16(out, in)
			for _, v := range out {
				if got := math.Float32bits(v); got != p.out {
					t.Fatalf("%s widenF16(%04x) = %08x, want %08x", ks.name, p.in, got, p.out)
				}
			}
		}
	}
}
