package quant

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// Benchmarks report MB/s of float32 input (quantize) or float32 output
// (dequantize). Run with -cpu 1 for per-core figures.

const benchN = 1 << 22

// benchLoop runs f b.N times and reports, besides the wall-clock MB/s of
// b.SetBytes, the MB per CPU-second ("cpuMB/s"), which is what a core that
// is not shared with other processes delivers.
func benchLoop(b *testing.B, bytes int, f func() error) {
	b.Helper()
	b.SetBytes(int64(bytes))
	c0 := processCPUSeconds()
	n := 0
	for b.Loop() {
		if err := f(); err != nil {
			b.Fatal(err)
		}
		n++
	}
	if c := processCPUSeconds() - c0; c > 0 {
		b.ReportMetric(float64(bytes)*float64(n)/c/1e6, "cpuMB/s")
	}
}

func bnbBenchInput() []float32 {
	rng := rand.New(rand.NewPCG(11, 12))
	x := make([]float32, benchN)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * 0.02)
	}
	return x
}

func BenchmarkQuantizeBlockwise(b *testing.B) {
	x := bnbBenchInput()
	codes := make([]uint8, len(x))
	for _, bs := range []int{4096, 256, 64} {
		absmax := make([]float32, numBlocks(len(x), bs))
		b.Run(fmt.Sprintf("bs%d", bs), func(b *testing.B) {
			benchLoop(b, 4*len(x), func() error {
				return QuantizeBlockwise(codes, absmax, F32Input(x), nil, bs, Options{})
			})
		})
	}
}

func BenchmarkQuantize4Bit(b *testing.B) {
	x := bnbBenchInput()
	packed := make([]uint8, len(x)/2)
	for _, typ := range []FourBitType{NF4, FP4} {
		for _, bs := range []int{64, 4096} {
			absmax := make([]float32, numBlocks(len(x), bs))
			b.Run(fmt.Sprintf("%s/bs%d", typ, bs), func(b *testing.B) {
				benchLoop(b, 4*len(x), func() error {
					return Quantize4Bit(packed, absmax, F32Input(x), typ, bs, Options{})
				})
			})
		}
	}
}

func BenchmarkDequantizeBlockwise(b *testing.B) {
	x := bnbBenchInput()
	codes := make([]uint8, len(x))
	absmax := make([]float32, numBlocks(len(x), 4096))
	if err := QuantizeBlockwise(codes, absmax, F32Input(x), nil, 4096, Options{}); err != nil {
		b.Fatal(err)
	}
	y := make([]float32, len(x))
	benchLoop(b, 4*len(x), func() error {
		return DequantizeBlockwise(F32Output(y), codes, absmax, nil, 4096, Options{})
	})
}

func BenchmarkDequantize4Bit(b *testing.B) {
	x := bnbBenchInput()
	packed := make([]uint8, len(x)/2)
	absmax := make([]float32, numBlocks(len(x), 64))
	if err := Quantize4Bit(packed, absmax, F32Input(x), NF4, 64, Options{}); err != nil {
		b.Fatal(err)
	}
	y := make([]float32, len(x))
	benchLoop(b, 4*len(x), func() error {
		return Dequantize4Bit(F32Output(y), packed, absmax, NF4, 64, Options{})
	})
}

// BenchmarkStoreBound sets NF4 → float32 dequantization of the benchmark
// section's size (8 Mi values, a 32 MiB output) beside clearing the same
// output with the runtime's memclr, at 1 and 2 goroutines: the bound that
// store bandwidth puts on any decoder of a float32 output (bench/README.md,
// "bitsandbytes dequantization").
func BenchmarkStoreBound(b *testing.B) {
	x := make([]float32, 8<<20)
	rng := rand.New(rand.NewPCG(13, 14))
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	packed := make([]uint8, len(x)/2)
	absmax := make([]float32, numBlocks(len(x), 64))
	if err := Quantize4Bit(packed, absmax, F32Input(x), NF4, 64, Options{}); err != nil {
		b.Fatal(err)
	}
	y := make([]float32, len(x))
	for _, threads := range []int{1, 2} {
		b.Run(fmt.Sprintf("nf4/threads=%d", threads), func(b *testing.B) {
			benchLoop(b, 4*len(y), func() error {
				return Dequantize4Bit(F32Output(y), packed, absmax, NF4, 64, Options{Threads: threads})
			})
		})
		b.Run(fmt.Sprintf("memclr/threads=%d", threads), func(b *testing.B) {
			benchLoop(b, 4*len(y), func() error {
				return forChunksCaller(len(y), len(y)/threads, Options{Threads: threads}, func(lo, hi int, _ *[]float32) error {
					clear(y[lo:hi])
					return nil
				})
			})
		})
	}
}

func BenchmarkMaxAbsBits(b *testing.B) {
	x := bnbBenchInput()
	var sink uint32
	for _, n := range []int{4096, len(x)} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			benchLoop(b, 4*len(x), func() error {
				for i := 0; i < len(x); i += n {
					sink += maxAbsBits(x[i : i+4096])
				}
				return nil
			})
		})
	}
	_ = sink
}

func BenchmarkQuantizeHalfInput(b *testing.B) {
	x := bnbBenchInput()
	h, bh := make([]uint16, len(x)), make([]uint16, len(x))
	for i, v := range x {
		h[i], bh[i] = F32ToF16(v), F32ToBF16(v)
	}
	codes := make([]uint8, len(x))
	packed := make([]uint8, len(x)/2)
	for _, c := range []struct {
		name string
		in   Input
	}{{"f16", F16Input(h)}, {"bf16", BF16Input(bh)}} {
		b.Run(c.name+"/8bit/bs256", func(b *testing.B) {
			absmax := make([]float32, numBlocks(len(x), 256))
			benchLoop(b, 2*len(x), func() error {
				return QuantizeBlockwise(codes, absmax, c.in, nil, 256, Options{})
			})
		})
		b.Run(c.name+"/nf4/bs64", func(b *testing.B) {
			absmax := make([]float32, numBlocks(len(x), 64))
			benchLoop(b, 2*len(x), func() error {
				return Quantize4Bit(packed, absmax, c.in, NF4, 64, Options{})
			})
		})
	}
}

func BenchmarkDequantizeHalfOutput(b *testing.B) {
	x := bnbBenchInput()
	codes := make([]uint8, len(x))
	absmax := make([]float32, numBlocks(len(x), 4096))
	if err := QuantizeBlockwise(codes, absmax, F32Input(x), nil, 4096, Options{}); err != nil {
		b.Fatal(err)
	}
	packed := make([]uint8, len(x)/2)
	absmax4 := make([]float32, numBlocks(len(x), 64))
	if err := Quantize4Bit(packed, absmax4, F32Input(x), NF4, 64, Options{}); err != nil {
		b.Fatal(err)
	}
	y := make([]uint16, len(x))
	for _, c := range []struct {
		name string
		out  Output
	}{{"f16", F16Output(y)}, {"bf16", BF16Output(y)}} {
		b.Run(c.name+"/8bit/bs4096", func(b *testing.B) {
			benchLoop(b, 2*len(x), func() error {
				return DequantizeBlockwise(c.out, codes, absmax, nil, 4096, Options{})
			})
		})
		b.Run(c.name+"/nf4/bs64", func(b *testing.B) {
			benchLoop(b, 2*len(x), func() error {
				return Dequantize4Bit(c.out, packed, absmax4, NF4, 64, Options{})
			})
		})
	}
}
