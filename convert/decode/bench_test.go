package decode

import (
	"fmt"
	"syscall"
	"testing"
	"time"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkDecoders decodes a 2048×8192 weight of each method in chunks of
// 512 rows (the executor's 4M-element chunks); bytes are the stored bytes.
func BenchmarkDecoders(b *testing.B) {
	const r, c = 2048, 8192
	cases := []testCase{
		scaledCase("fp8-block", "F8_E4M3", "F32", []int64{r, c}, []int64{r / 128, c / 128}, []any{128.0, 128.0}, 1),
		gptqCase("gptq-4bit", 4, c, r, c/128, 1, 2),
		packedCase("int4-packed", 4, r, c, 128, true, "BF16", 3),
		bnb4Case("bnb-nf4-dq", "nf4", []int64{r, c}, 64, true, "bfloat16", 4),
		int8Case("bnb-int8", r, c, 5),
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			d := tc.new(&testing.T{}).(Rows)
			dst := make([]float32, 512*c)
			b.SetBytes(int64(len(tc.main.Data)))
			b.ResetTimer()
			c0 := cpuTime()
			defer func() {
				// CPU time per element: less sensitive than wall time to other
				// processes on a shared machine
				b.ReportMetric(float64(cpuTime()-c0)/float64(b.N)/float64(r*c), "cpu-ns/elt")
			}()
			for i := 0; i < b.N; i++ {
				for r0 := int64(0); r0 < r; r0 += 512 {
					if err := d.ReadRows(dst, r0, r0+512); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// BenchmarkE4M3Kernel decodes a row of 8192 e4m3 codes in blocks of 128
// (in cache) under each kernel setting of kernelSettings, in order.
func BenchmarkE4M3Kernel(b *testing.B) {
	const n = 8192
	y, src, sc := make([]float32, n), make([]byte, n), make([]float32, n/128)
	for i := range src {
		src[i] = byte(i * 7)
	}
	for i := range sc {
		sc[i] = 1e-3
	}
	for k, set := range kernelSettings() {
		b.Run(fmt.Sprint(k), func(b *testing.B) {
			defer set()()
			b.SetBytes(n)
			for i := 0; i < b.N; i++ {
				e4m3Blocks(y, src, sc, 128)
			}
		})
	}
}
