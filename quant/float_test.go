package quant

import (
	"math"
	"runtime"
	"sync"
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

// TestF32ToF16Exhaustive compares the fast conversion with the x448-based
// reference on all 2³² float32 inputs (about 20 s on 2 cores; skipped with
// -short, which `make test` uses under the race detector).
func TestF32ToF16Exhaustive(t *testing.T) {
	if testing.Short() {
		t.Skip("exhaustive: run without -short")
	}
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	bad := make([]uint64, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for hi := uint64(w); hi < 1<<16; hi += uint64(workers) {
				for lo := uint64(0); lo < 1<<16; lo++ {
					u := uint32(hi<<16 | lo)
					f := math.Float32frombits(u)
					if F32ToF16(f) != f32ToF16Ref(f) {
						if bad[w] == 0 {
							t.Errorf("F32ToF16(%08x) = %04x, reference %04x", u, F32ToF16(f), f32ToF16Ref(f))
						}
						bad[w]++
					}
				}
			}
		}()
	}
	wg.Wait()
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
