package quant

import (
	"math/rand/v2"
	"testing"
)

// Benchmarks of every kernel set on one driver chunk (in cache: the
// kernels' own speed) and of the public entry points on 32 MiB of float32
// (memory included), as `make bench` measures them from Python. Run with
//
//	go test -run '^$' -bench . -cpu 1 ./quant/
//
// Throughput (MB/s) counts the float32 side: input for quantize, output
// for dequantize.

func benchInput(n int) ([]float32, []uint16) {
	rng := rand.New(rand.NewPCG(1, 1))
	x := make([]float32, n)
	h := make([]uint16, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * 0.02)
		h[i] = F32ToF16(x[i])
	}
	return x, h
}

func BenchmarkKernels(b *testing.B) {
	const n = chunkElements
	x, h := benchInput(n)
	b16 := make([]byte, 2*n)
	b32 := make([]byte, 4*n)
	q8 := make([]byte, n/32*34)
	f := make([]float32, n)
	for _, ks := range kernelSets() {
		ks.encodeF16(b16, x)
		ks.quantizeQ8_0(q8, x)
		for _, c := range []struct {
			name string
			run  func()
		}{
			{"encodeF32", func() { ks.encodeF32(b32, x) }},
			{"decodeF32", func() { ks.decodeF32(f, b32) }},
			{"encodeF16", func() { ks.encodeF16(b16, x) }},
			{"decodeF16", func() { ks.decodeF16(f, b16) }},
			{"encodeBF16", func() { ks.encodeBF16(b16, x) }},
			{"decodeBF16", func() { ks.decodeBF16(f, b16) }},
			{"widenF16", func() { ks.widenF16(f, h) }},
			{"widenBF16", func() { ks.widenBF16(f, h) }},
			{"quantizeQ8_0", func() { ks.quantizeQ8_0(q8, x) }},
			{"dequantizeQ8_0", func() { ks.dequantizeQ8_0(f, q8) }},
			{"firstNonFinite", func() { ks.firstNonFinite(x) }},
		} {
			b.Run(ks.name+"/"+c.name, func(b *testing.B) {
				b.SetBytes(4 * n)
				for b.Loop() {
					c.run()
				}
			})
		}
	}
}

// BenchmarkQuantize times Quantize/Dequantize on a 2048×4096 tensor with
// the kernels in use, one thread unless -cpu says more.
func BenchmarkQuantize(b *testing.B) {
	const rows, cols = 2048, 4096
	x, h := benchInput(rows * cols)
	for _, typ := range []Type{F32, F16, BF16, Q8_0} {
		tr := mustTraits(typ)
		out := make([]byte, rows*cols/tr.BlockSize*tr.BlockBytes)
		for _, in := range []struct {
			name string
			in   Input
		}{{"f32", F32Input(x)}, {"f16", F16Input(h)}} {
			b.Run(typ.String()+"/from-"+in.name, func(b *testing.B) {
				b.SetBytes(4 * rows * cols)
				for b.Loop() {
					if _, err := Quantize(typ, out, in.in, cols, Options{Threads: 0}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		dec := make([]float32, rows*cols)
		b.Run(typ.String()+"/dequantize", func(b *testing.B) {
			b.SetBytes(4 * rows * cols)
			for b.Loop() {
				if err := Dequantize(typ, dec, out, Options{Threads: 0}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
