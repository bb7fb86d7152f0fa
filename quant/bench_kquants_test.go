package quant

import (
	"os"
	"strconv"
	"sync"
	"testing"
)

// Benchmark inputs: the golden generator's "normal" distribution, 4096 rows
// of 4096 (64 MB of float32), so the same data can be fed to llama.cpp's
// ggml_quantize_chunk for comparison. WICK_BENCH_ROWS overrides the row count.
var ggmlBenchInput = sync.OnceValues(func() ([]float32, []float32) {
	rows := 4096
	if s := os.Getenv("WICK_BENCH_ROWS"); s != "" {
		rows, _ = strconv.Atoi(s)
	}
	return goldenBits("normal", 12345, rows, 4096), goldenImatrix(678, 4096)
})

var benchTypes = []Type{Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS, IQ3_XXS, IQ3_S,
	TQ1_0, TQ2_0, MXFP4, NVFP4, Q1_0, Q2_0}

// ignoresImatrix are the benchmarked types whose encoders never read an
// importance matrix (as in ggml): they get no "+imatrix" run.
var ignoresImatrix = map[Type]bool{TQ1_0: true, TQ2_0: true, MXFP4: true, NVFP4: true, Q1_0: true, Q2_0: true}

// BenchmarkQuantize measures Quantize on 4096×4096 float32 per type, without
// and with an importance matrix. Run with -cpu 1 for single-thread figures.
func BenchmarkQuantizeGGML(b *testing.B) {
	x, im := ggmlBenchInput()
	for _, typ := range benchTypes {
		tr, _ := TraitsOf(typ)
		out := make([]byte, len(x)/tr.BlockSize*tr.BlockBytes)
		for _, withIm := range []bool{false, true} {
			name := tr.Name
			opt := Options{}
			if withIm {
				if typ == Q8_0 || ignoresImatrix[typ] {
					continue
				}
				name += "+imatrix"
				opt.Imatrix = im
			}
			b.Run(name, func(b *testing.B) {
				b.SetBytes(int64(4 * len(x)))
				for b.Loop() {
					if _, err := Quantize(typ, out, F32Input(x), 4096, opt); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkDequantize measures Dequantize per type (output bytes per second).
func BenchmarkDequantizeGGML(b *testing.B) {
	x, _ := ggmlBenchInput()
	for _, typ := range benchTypes {
		tr, _ := TraitsOf(typ)
		q := make([]byte, len(x)/tr.BlockSize*tr.BlockBytes)
		if _, err := Quantize(typ, q, F32Input(x), 4096, Options{}); err != nil {
			b.Fatal(err)
		}
		y := make([]float32, len(x))
		b.Run(tr.Name, func(b *testing.B) {
			b.SetBytes(int64(4 * len(x)))
			for b.Loop() {
				if err := Dequantize(typ, y, q, Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
