//go:build linux

package quant

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"unsafe"
)

// freshMapping returns n bytes of anonymous memory that no page of has been
// touched yet, as malloc hands back a large allocation, and unmaps it at
// the end of the test.
func freshMapping(t *testing.T, n int) []byte {
	t.Helper()
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		t.Skipf("mmap: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Munmap(b) })
	return b
}

func ptr(b []byte) unsafe.Pointer { return unsafe.Pointer(unsafe.SliceData(b)) }

// TestUnfaulted: a new mapping is unfaulted, also with its first page
// written (malloc's chunk header) and at an offset inside a page; one
// written page among the sampled ones, a touched Go slice and a range
// under two pages are not.
func TestUnfaulted(t *testing.T) {
	const n = 8 << 20
	b := freshMapping(t, n)
	if !unfaulted(ptr(b), n) {
		t.Fatal("a new mapping: unfaulted says false")
	}
	b[0], b[100] = 1, 2
	if !unfaulted(ptr(b[16:]), n-16) {
		t.Fatal("a new mapping with its first page written, from offset 16: unfaulted says false")
	}
	if unfaulted(ptr(b), 2*int(pageSize)-1) || unfaulted(ptr(b), 0) {
		t.Fatal("fewer than two whole pages count as unfaulted")
	}
	b[n/2+12345] = 3
	if unfaulted(ptr(b), n) {
		t.Fatal("a page in the middle is written: unfaulted says true")
	}
	c := freshMapping(t, n)
	c[n-1] = 1
	if unfaulted(ptr(c), n) {
		t.Fatal("the last page is written: unfaulted says true")
	}
	g := residentBytes(n)
	if unfaulted(ptr(g), n) {
		t.Fatal("a written Go slice: unfaulted says true")
	}
	if !streamTo(ptr(g), n) || streamTo(ptr(g), streamBytes-1) || streamTo(ptr(freshMapping(t, n)), n) {
		t.Fatal("streamTo: want streaming stores for a large resident output only")
	}
}

// TestStoreChoiceKeepsBytes: the public entry points write the same bytes
// into a new mapping (plain stores, unfaulted) as into written memory
// (streaming stores), for every output type of every family that streams.
func TestStoreChoiceKeepsBytes(t *testing.T) {
	rng := rand.New(rand.NewPCG(61, 62))
	const n = 1<<20 + 4096 // Q8_0 over 1 MiB, float32 over 4 MiB; whole blocks of every type below
	x := randomBlocks(rng, n/32)
	opt := Options{Threads: 2}
	both := func(name string, size int, write func(out []byte) error) {
		t.Helper()
		fresh, touched := freshMapping(t, size+64)[64:], residentBytes(size + 64)[64:]
		if !unfaulted(ptr(fresh), size) || !streamTo(ptr(touched), size) {
			t.Fatalf("%s: the two outputs do not take the two store kinds", name)
		}
		if err := write(fresh[:size]); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := write(touched[:size]); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(fresh[:size], touched[:size]) {
			t.Fatalf("%s: plain and streaming stores wrote different bytes", name)
		}
	}
	f32 := func(b []byte) []float32 { return unsafe.Slice((*float32)(ptr(b)), len(b)/4) }
	u16 := func(b []byte) []uint16 { return unsafe.Slice((*uint16)(ptr(b)), len(b)/2) }
	for _, typ := range []Type{F32, F16, BF16, Q8_0} {
		tr := mustTraits(typ)
		both("quantize "+typ.String(), n/tr.BlockSize*tr.BlockBytes, func(out []byte) error {
			_, err := Quantize(typ, out, F32Input(x), 256, opt)
			return err
		})
	}
	for _, typ := range []Type{Q8_0, Q4_K, F16} {
		src := mustQuantize(t, typ, F32Input(x), 256, Options{})
		both("dequantize "+typ.String(), 4*n, func(out []byte) error { return Dequantize(typ, f32(out), src, opt) })
	}
	packed, absmax := make([]uint8, n/2), make([]float32, n/64)
	if err := Quantize4Bit(packed, absmax, F32Input(x), NF4, 64, Options{}); err != nil {
		t.Fatal(err)
	}
	code := DynamicCode(true)
	codes, absmax8 := make([]uint8, n), make([]float32, n/256)
	if err := QuantizeBlockwise(codes, absmax8, F32Input(x), &code, 256, Options{}); err != nil {
		t.Fatal(err)
	}
	for _, o := range []struct {
		name string
		size int
		out  func([]byte) Output
	}{{"float32", 4, func(b []byte) Output { return F32Output(f32(b)) }},
		{"float16", 2, func(b []byte) Output { return F16Output(u16(b)) }},
		{"bfloat16", 2, func(b []byte) Output { return BF16Output(u16(b)) }}} {
		both("NF4 → "+o.name, o.size*n, func(b []byte) error { return Dequantize4Bit(o.out(b), packed, absmax, NF4, 64, opt) })
		both("8-bit → "+o.name, o.size*n, func(b []byte) error {
			return DequantizeBlockwise(o.out(b), codes, absmax8, &code, 256, opt)
		})
	}
}

// BenchmarkFreshOutput: NF4 → float32 into 32 MiB mapped just before (with
// MADV_HUGEPAGE, as numpy maps its large arrays, and without, as torch
// does), one thread, with plain
// stores (what streamTo chooses for such memory) and with streaming ones,
// beside clearing it. Each call maps and unmaps its output, so the page
// faults and the kernel's zeroing are part of every figure.
func BenchmarkFreshOutput(b *testing.B) {
	const n = 8 << 20
	rng := rand.New(rand.NewPCG(63, 64))
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	packed, absmax := make([]uint8, n/2), make([]float32, n/64)
	if err := Quantize4Bit(packed, absmax, F32Input(x), NF4, 64, Options{}); err != nil {
		b.Fatal(err)
	}
	decode := func(stream bool) func([]float32) {
		return func(y []float32) {
			if decode4Fast(F32Output(y), 0, n, packed, absmax, 64, NF4.dequantTable(), stream) != n {
				b.Skip("no vector 4-bit decoder on this CPU or build")
			}
		}
	}
	for _, huge := range []bool{true, false} {
		for _, c := range []struct {
			name  string
			write func([]float32)
		}{{"nf4-plain", decode(false)}, {"nf4-stream", decode(true)}, {"memclr", func(y []float32) { clear(y) }}} {
			b.Run(fmt.Sprintf("%s/huge=%v", c.name, huge), func(b *testing.B) {
				benchLoop(b, 4*n, func() error {
					m, err := syscall.Mmap(-1, 0, 4*n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
					if err != nil {
						return err
					}
					if huge {
						_ = syscall.Madvise(m, 14) // MADV_HUGEPAGE; refused where huge pages are off
					}
					c.write(unsafe.Slice((*float32)(ptr(m)), n))
					return syscall.Munmap(m)
				})
			})
		}
	}
}
