package quant

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/x448/float16"
)

// Differential tests of every kernel set this build and CPU can run (the
// assembly and the generic Go twins) against the plain references, with
// guard bytes around every output, every length 0..70 and unaligned slices.

const guardByte = 0x5a

// guarded returns a zeroed n-byte slice carved out of a larger buffer at the
// given misalignment, whose surroundings hold guardByte; check reports any
// write outside the slice (an overrun that -race and bounds checks cannot
// see inside assembly).
func guarded(n, offset int) (buf []byte, check func(t *testing.T, what string)) {
	const pad = 64
	all := make([]byte, pad+offset+n+pad)
	for i := range all {
		all[i] = guardByte
	}
	buf = all[pad+offset : pad+offset+n : pad+offset+n]
	clear(buf)
	return buf, func(t *testing.T, what string) {
		t.Helper()
		for i, b := range all {
			if (i < pad+offset || i >= pad+offset+n) && b != guardByte {
				t.Fatalf("%s: byte %d outside the output was overwritten (%#x)", what, i-pad-offset, b)
			}
		}
	}
}

// guardedF32 is guarded for float32 outputs, offset counted in elements
// (Go's checkptr, on under -race, forbids misaligned float32 pointers).
func guardedF32(n, offset int) ([]float32, func(t *testing.T, what string)) {
	b, check := guarded(4*n, 4*offset)
	if n == 0 {
		return []float32{}, check
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), n), check
}

// adversarialF32 returns the float32 bit patterns that stress the
// conversions: zeros, subnormals, rounding ties of fp16 and bf16, the fp16
// overflow threshold, huge values, infinities and NaNs with payloads.
func adversarialF32() []uint32 {
	u := []uint32{
		0x00000000, 0x80000000, 0x00000001, 0x80000001, 0x007FFFFF, 0x807FFFFF, 0x00800000,
		0x3F800000, 0xBF800000, 0x3DCCCCCD,
		0x33000000, 0x33000001, 0x33400000, 0xB3400000, 0x387FC000, 0x387FE000, 0x387FF000, 0x38800000, // fp16 subnormal edges
		0x3F801000, 0x3F803000, 0x3F801001, 0x3F802FFF, 0xBF803000, // fp16 ties
		0x3F808000, 0x3F818000, 0x3F807FFF, 0x3F808001, 0xBF818000, // bf16 ties
		0x477FE000, 0x477FEFFF, 0x477FF000, 0xC77FF000, 0x7F7FFFFF, 0xFF7FFFFF, 0x7F7F8000, 0x7F7F7FFF,
		0x7F800000, 0xFF800000,
		0x7F800001, 0xFF800001, 0x7FC00000, 0xFFC00000, 0x7FC00001, 0x7FBFFFFF, 0xFFFFFFFF, 0x7FFFFFFF,
		0x7FA00000, 0xFF802000, 0x7F801FFF, 0x7FFFE000,
	}
	return u
}

// testFloats returns n float32 inputs mixing adversarial patterns, random
// bits (NaNs included) and ordinary magnitudes.
func testFloats(rng *rand.Rand, n int) []float32 {
	adv := adversarialF32()
	x := make([]float32, n)
	for i := range x {
		switch rng.IntN(4) {
		case 0:
			x[i] = math.Float32frombits(adv[rng.IntN(len(adv))])
		case 1:
			x[i] = math.Float32frombits(rng.Uint32())
		case 2:
			x[i] = float32(rng.NormFloat64() * math.Pow(2, float64(rng.IntN(40)-25)))
		default:
			x[i] = float32(rng.NormFloat64())
		}
	}
	return x
}

func testHalves(rng *rand.Rand, n int) []uint16 {
	h := make([]uint16, n)
	for i := range h {
		switch rng.IntN(3) {
		case 0: // Inf, NaN (quiet and signalling), zero, subnormal
			specials := []uint16{0x7C00, 0xFC00, 0x7C01, 0xFC01, 0x7D00, 0x7E00, 0x7FFF, 0xFFFF, 0x0000, 0x8000, 0x0001, 0x83FF, 0x7F80, 0x7FC0, 0xFF81}
			h[i] = specials[rng.IntN(len(specials))]
		default:
			h[i] = uint16(rng.Uint32())
		}
	}
	return h
}

// Reference conversions, element by element, stated independently of the
// kernels: x448's IEEE conversions with ggml's NaN rules.

func refF16Bits(f float32) uint16 { return f32ToF16Ref(f) }

func refF16ToF32Bits(h uint16) uint32 {
	u := math.Float32bits(float16.Frombits(h).Float32())
	if h&0x7C00 == 0x7C00 && h&0x03FF != 0 {
		u |= 0x00400000 // ggml's widening quiets signalling NaNs
	}
	return u
}

func refBF16Bits(f float32) uint16 { return F32ToBF16(f) }

func firstBitDiff32(a, b []float32) int {
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return i
		}
	}
	return -1
}

// TestKernelConversions checks every element-wise kernel of every set
// against the references, for every length 0..70 at 4 misalignments and a
// long random run.
func TestKernelConversions(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	lengths := make([]int, 0, 80)
	for n := 0; n <= 70; n++ {
		lengths = append(lengths, n)
	}
	lengths = append(lengths, 1000, 4099, chunkElements+17)
	for _, ks := range kernelSets() {
		t.Run(ks.name, func(t *testing.T) {
			for _, n := range lengths {
				for off := 0; off < 4; off++ {
					x := testFloats(rng, n+off)[off:] // input misaligned too
					h := testHalves(rng, n+off)[off:]
					hb := make([]byte, 2*n+1)[1:] // odd address
					for i, v := range h {
						binary.LittleEndian.PutUint16(hb[2*i:], v)
					}
					what := func(k string) string { return fmt.Sprintf("%s n=%d off=%d", k, n, off) }

					// F32 → F16 / BF16 / F32 bytes
					refF16 := func(f float32) []byte { return binary.LittleEndian.AppendUint16(nil, refF16Bits(f)) }
					refBF16 := func(f float32) []byte { return binary.LittleEndian.AppendUint16(nil, refBF16Bits(f)) }
					refF32 := func(f float32) []byte { return binary.LittleEndian.AppendUint32(nil, math.Float32bits(f)) }
					for _, c := range []struct {
						name string
						enc  func([]byte, []float32) bool
						size int
						ref  func(float32) []byte
					}{
						{"encodeF16", ks.encodeF16, 2, refF16},
						{"encodeBF16", ks.encodeBF16, 2, refBF16},
						{"encodeF32", ks.encodeF32, 4, refF32},
						{"encodeF16NT", ks.encodeF16NT, 2, refF16},
						{"encodeBF16NT", ks.encodeBF16NT, 2, refBF16},
						{"encodeF32NT", ks.encodeF32NT, 4, refF32},
					} {
						if c.enc == nil {
							continue
						}
						// all finite (the non-finite values made ±MaxFloat32), then as is
						xf := append([]float32(nil), x...)
						for i, v := range xf {
							if isNonFinite(v) {
								xf[i] = float32(math.Copysign(math.MaxFloat32, float64(v)))
							}
						}
						dst, check := guarded(c.size*n, 2*off+off%2) // odd offsets too: unalignable for NT
						if !c.enc(dst, xf) {
							t.Fatalf("%s: finite input reported non-finite", what(c.name))
						}
						check(t, what(c.name))
						for i, v := range xf {
							if want := c.ref(v); !bytes.Equal(dst[c.size*i:c.size*i+c.size], want) {
								t.Fatalf("%s: element %d (%08x): got % x, want % x", what(c.name), i, math.Float32bits(v), dst[c.size*i:c.size*i+c.size], want)
							}
						}
						finite := c.enc(dst, x)
						check(t, what(c.name))
						if want := firstNonFiniteGeneric(x) < 0; finite != want {
							t.Fatalf("%s: reported finite=%v, want %v", what(c.name), finite, want)
						}
						for i, v := range x {
							if want := c.ref(v); !bytes.Equal(dst[c.size*i:c.size*i+c.size], want) {
								t.Fatalf("%s: element %d (%08x): got % x, want % x", what(c.name), i, math.Float32bits(v), dst[c.size*i:c.size*i+c.size], want)
							}
						}
					}

					// F16 / BF16 bytes and uint16 → float32
					for _, c := range []struct {
						name string
						run  func([]float32)
						ref  func(uint16) uint32
					}{
						{"decodeF16", func(d []float32) { ks.decodeF16(d, hb) }, refF16ToF32Bits},
						{"widenF16", func(d []float32) { ks.widenF16(d, h) }, refF16ToF32Bits},
						{"decodeBF16", func(d []float32) { ks.decodeBF16(d, hb) }, func(h uint16) uint32 { return uint32(h) << 16 }},
						{"widenBF16", func(d []float32) { ks.widenBF16(d, h) }, func(h uint16) uint32 { return uint32(h) << 16 }},
						{"decodeF16NT", func(d []float32) { ks.decodeF16NT(d, hb) }, refF16ToF32Bits},
						{"decodeBF16NT", func(d []float32) { ks.decodeBF16NT(d, hb) }, func(h uint16) uint32 { return uint32(h) << 16 }},
					} {
						if ks.decodeF16NT == nil && len(c.name) > 2 && c.name[len(c.name)-2:] == "NT" {
							continue
						}
						dst, check := guardedF32(n, off)
						c.run(dst)
						check(t, what(c.name))
						for i, v := range h {
							if got, want := math.Float32bits(dst[i]), c.ref(v); got != want {
								t.Fatalf("%s: element %d (%04x): got %08x, want %08x", what(c.name), i, v, got, want)
							}
						}
					}

					// bytes → F32
					xb := make([]byte, 4*n+3)[3:]
					for i, v := range x {
						binary.LittleEndian.PutUint32(xb[4*i:], math.Float32bits(v))
					}
					for _, dec := range []func([]float32, []byte){ks.decodeF32, ks.decodeF32NT} {
						if dec == nil {
							continue
						}
						dst, check := guardedF32(n, off)
						dec(dst, xb)
						check(t, what("decodeF32"))
						if i := firstBitDiff32(dst, x); i >= 0 {
							t.Fatalf("%s: element %d", what("decodeF32"), i)
						}
					}
				}
			}
		})
	}
}

// TestKernelAllHalfCodes decodes all 65 536 codes of both half types with
// every set.
func TestKernelAllHalfCodes(t *testing.T) {
	h := make([]uint16, 1<<16)
	for i := range h {
		h[i] = uint16(i)
	}
	for _, ks := range kernelSets() {
		f16 := make([]float32, len(h))
		bf := make([]float32, len(h))
		ks.widenF16(f16, h)
		ks.widenBF16(bf, h)
		for i, v := range h {
			if got, want := math.Float32bits(f16[i]), refF16ToF32Bits(v); got != want {
				t.Fatalf("%s widenF16(%04x) = %08x, want %08x", ks.name, v, got, want)
			}
			if got := math.Float32bits(bf[i]); got != uint32(v)<<16 {
				t.Fatalf("%s widenBF16(%04x) = %08x", ks.name, v, got)
			}
		}
	}
}

// TestKernelFirstNonFinite puts one NaN or ±Inf (and sometimes a second,
// later one) at every position of every length up to 100, misaligned.
func TestKernelFirstNonFinite(t *testing.T) {
	bad := []uint32{0x7F800000, 0xFF800000, 0x7FC00000, 0x7F800001, 0xFFFFFFFF}
	good := []uint32{0x7F7FFFFF, 0xFF7FFFFF, 0x00000000, 0x3F800000, 0x007FFFFF}
	for _, ks := range kernelSets() {
		for n := 0; n <= 100; n++ {
			for off := 0; off < 2; off++ {
				buf := make([]float32, n+off)
				x := buf[off:]
				for i := range x {
					x[i] = math.Float32frombits(good[i%len(good)])
				}
				if got := ks.firstNonFinite(x); got != -1 {
					t.Fatalf("%s: n=%d all finite: got %d", ks.name, n, got)
				}
				for p := 0; p < n; p++ {
					x[p] = math.Float32frombits(bad[p%len(bad)])
					if p+33 < n {
						x[p+33] = math.Float32frombits(bad[(p+1)%len(bad)])
					}
					if got := ks.firstNonFinite(x); got != p {
						t.Fatalf("%s: n=%d off=%d bad at %d: got %d", ks.name, n, off, p, got)
					}
					x[p] = math.Float32frombits(good[p%len(good)])
					if p+33 < n {
						x[p+33] = math.Float32frombits(good[(p+33)%len(good)])
					}
				}
			}
		}
	}
}

// TestKernelQ8_0 compares every set's Q8_0 encoder with the reference
// transcription of ggml (adversarial and random blocks, 0..70 blocks at odd
// offsets, guarded outputs), and the decoders with each other.
func TestKernelQ8_0(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	var adv []float32
	for _, b := range adversarialBlocks(rng) {
		adv = append(adv, b...)
	}
	big := append(append([]float32(nil), adv...), randomBlocks(rng, 20000)...)
	for _, ks := range kernelSets() {
		t.Run(ks.name, func(t *testing.T) {
			check := func(x []float32, off int, what string) {
				if i := firstNonFiniteGeneric(x); i >= 0 {
					t.Fatalf("%s: test input %d is %v: Q8_0 kernels take finite values only", what, i, x[i])
				}
				nb := len(x) / 32
				want := make([]byte, nb*34)
				quantizeQ8_0Ref(want, x, len(x), nil)
				got, guard := guarded(nb*34, off)
				ks.quantizeQ8_0(got, x)
				guard(t, what+" quantize")
				if !bytes.Equal(got, want) {
					reportBlockMismatch(t, ks.name+" "+what, mustTraits(Q8_0), got, want)
				}
				ref := make([]float32, len(x))
				dequantizeQ8_0Generic(ref, want)
				for _, f := range []func([]float32, []byte){ks.dequantizeQ8_0, ks.dequantizeQ8_0NT} {
					if f == nil {
						continue
					}
					for _, doff := range []int{off, off + 8} { // 32-byte aligned or not
						dec, guard := guardedF32(len(x), doff)
						f(dec, got)
						guard(t, what+" dequantize")
						if i := firstBitDiff32(dec, ref); i >= 0 {
							t.Fatalf("%s dequantize: element %d: %08x, want %08x", what, i, math.Float32bits(dec[i]), math.Float32bits(ref[i]))
						}
					}
				}
			}
			check(big, 0, "big")
			for nb := 0; nb <= 70; nb++ {
				for off := 0; off < 3; off++ {
					x := randomBlocks(rng, nb)
					// some blocks adversarial
					for b := 0; b < nb; b += 3 {
						a := rng.IntN(len(adv) / 32)
						copy(x[32*b:32*b+32], adv[32*a:32*a+32])
					}
					xs := append(make([]float32, off), x...)[off:]
					check(xs, 2*off+1, fmt.Sprintf("nb=%d off=%d", nb, off))
				}
			}
		})
	}
}

// TestQ8_0TinyScale: blocks whose amax is below 127·2⁻¹²⁸ have id = +Inf.
// llama.cpp's ggml_quantize_chunk (llama-cpp-python 0.3.36, x86-64) returns
// 34 zero bytes for both blocks below (d rounds to fp16 zero and every
// quant, from ±Inf or NaN, converts to 0).
func TestQ8_0TinyScale(t *testing.T) {
	a := make([]float32, 32)
	for i := range a {
		a[i] = float32(i-16) * 1e-40
	}
	b := make([]float32, 32)
	b[3], b[5] = 1e-38, -1e-38
	x := append(a, b...)
	for _, ks := range kernelSets() {
		got := make([]byte, 68)
		for i := range got {
			got[i] = 0xEE
		}
		ks.quantizeQ8_0(got, x)
		if !bytes.Equal(got, make([]byte, 68)) {
			t.Errorf("%s: got % x, want ggml's all-zero blocks", ks.name, got)
		}
	}
	ref := make([]byte, 68)
	quantizeQ8_0Ref(ref, x, 64, nil)
	if !bytes.Equal(ref, make([]byte, 68)) {
		t.Errorf("reference: got % x", ref)
	}
}

// TestRoundHalfAwayFloat32 proves the float32 rounding identity the
// assembly Q8_0 uses: trunc(v + copysign(0.49999997, v)), each operation in
// float32, equals roundf(v) for every float32 with |v| ≤ 128.
func TestRoundHalfAwayFloat32(t *testing.T) {
	const h = float32(0.49999997)
	if math.Float32bits(h) != 0x3EFFFFFF {
		t.Fatalf("constant %08x", math.Float32bits(h))
	}
	limit := math.Float32bits(128)
	step := uint32(1)
	if testing.Short() {
		step = 89
	}
	for u := uint32(0); u <= limit; u += step {
		for _, v := range []float32{math.Float32frombits(u), -math.Float32frombits(u)} {
			s := float32(v + float32(math.Copysign(float64(h), float64(v))))
			if got, want := int32(s), int32(math.Round(float64(v))); got != want {
				t.Fatalf("v=%v (%08x): trick %d, roundf %d", v, math.Float32bits(v), got, want)
			}
		}
	}
}

// TestQ8_0RoundingExhaustive runs every float32 v with |v| ≤ 127 through
// each set's Q8_0 kernel: a block whose amax is 127 has d = 1 and id = 1,
// so its quants are exactly roundf(x). 31 values ride with a 127 per block.
func TestQ8_0RoundingExhaustive(t *testing.T) {
	if testing.Short() {
		t.Skip("exhaustive: run without -short")
	}
	limit := math.Float32bits(127)
	for _, ks := range kernelSets() {
		parallelRange(uint64(limit)+1, func(lo, hi uint64) error {
			const perBlock = 31
			nb := int(hi-lo+perBlock-1) / perBlock
			x := make([]float32, 2*32*nb) // positive then negative
			out := make([]byte, 2*34*nb)
			for b := 0; b < 2*nb; b++ {
				x[32*b] = 127
				for j := 1; j < 32; j++ {
					u := lo + uint64(b%nb*perBlock+j-1)
					if u >= hi {
						u = lo
					}
					v := math.Float32frombits(uint32(u))
					if b >= nb {
						v = -v
					}
					x[32*b+j] = v
				}
			}
			ks.quantizeQ8_0(out, x)
			for b := 0; b < 2*nb; b++ {
				if out[34*b] != 0x00 || out[34*b+1] != 0x3C { // fp16(1)
					return fmt.Errorf("%s: block scale % x", ks.name, out[34*b:34*b+2])
				}
				for j := 0; j < 32; j++ {
					v := x[32*b+j]
					if want := byte(int8(math.Round(float64(v)))); out[34*b+2+j] != want {
						return fmt.Errorf("%s: v=%v (%08x): got %d, want %d", ks.name, v, math.Float32bits(v), int8(out[34*b+2+j]), int8(want))
					}
				}
			}
			return nil
		}, t)
	}
}

// parallelRange calls f on chunks of [0, n) on every core, failing the test
// on the first error.
func parallelRange(n uint64, f func(lo, hi uint64) error, t *testing.T) {
	t.Helper()
	const chunk = 1 << 16
	workers := runtime.GOMAXPROCS(0)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		done  atomic.Uint64
	)
	// a long run says how far it is (shown with go test -v, as make test runs it)
	stop, logged := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(logged)
		start := time.Now()
		tick := time.NewTicker(20 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				t.Logf("%3.0f%% of %d inputs after %.0f s", 100*float64(done.Load())/float64(n), n, time.Since(start).Seconds())
			}
		}
	}()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for lo := uint64(w) * chunk; lo < n; lo += uint64(workers) * chunk {
				hi := min(lo+chunk, n)
				if err := f(lo, hi); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
				done.Add(hi - lo)
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-logged
	if first != nil {
		t.Fatal(first)
	}
}

// TestF32ToBF16Exhaustive compares every set's BF16 encoder with F32ToBF16
// (the transcription of ggml_compute_fp32_to_bf16) on all 2³² inputs.
func TestF32ToBF16Exhaustive(t *testing.T) {
	if testing.Short() {
		t.Skip("exhaustive: run without -short")
	}
	for _, ks := range kernelSets() {
		parallelRange(1<<32, func(lo, hi uint64) error {
			x := make([]float32, hi-lo)
			for i := range x {
				x[i] = math.Float32frombits(uint32(lo + uint64(i)))
			}
			out := make([]byte, 2*len(x))
			ks.encodeBF16(out, x)
			for i, v := range x {
				if got, want := binary.LittleEndian.Uint16(out[2*i:]), F32ToBF16(v); got != want {
					return fmt.Errorf("%s encodeBF16(%08x) = %04x, want %04x", ks.name, math.Float32bits(v), got, want)
				}
			}
			return nil
		}, t)
	}
}

// Fuzz targets: arbitrary bytes as float32 / half inputs; every set must
// agree with the references.

func FuzzKernelConversions(f *testing.F) {
	seed := []byte{}
	for _, u := range adversarialF32() {
		seed = binary.LittleEndian.AppendUint32(seed, u)
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, data []byte) {
		x := make([]float32, len(data)/4)
		for i := range x {
			x[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
		}
		h := make([]uint16, len(data)/2)
		for i := range h {
			h[i] = binary.LittleEndian.Uint16(data[2*i:])
		}
		for _, ks := range kernelSets() {
			out := make([]byte, 2*len(x))
			ks.encodeF16(out, x)
			for i, v := range x {
				if got, want := binary.LittleEndian.Uint16(out[2*i:]), refF16Bits(v); got != want {
					t.Fatalf("%s encodeF16(%08x) = %04x, want %04x", ks.name, math.Float32bits(v), got, want)
				}
			}
			ks.encodeBF16(out, x)
			for i, v := range x {
				if got, want := binary.LittleEndian.Uint16(out[2*i:]), refBF16Bits(v); got != want {
					t.Fatalf("%s encodeBF16(%08x) = %04x, want %04x", ks.name, math.Float32bits(v), got, want)
				}
			}
			w := make([]float32, len(h))
			ks.decodeF16(w, data)
			for i, v := range h {
				if got, want := math.Float32bits(w[i]), refF16ToF32Bits(v); got != want {
					t.Fatalf("%s decodeF16(%04x) = %08x, want %08x", ks.name, v, got, want)
				}
			}
			if got, want := ks.firstNonFinite(x), firstNonFiniteGeneric(x); got != want {
				t.Fatalf("%s firstNonFinite = %d, want %d", ks.name, got, want)
			}
		}
	})
}

func FuzzKernelQ8_0(f *testing.F) {
	f.Add([]byte{1, 2, 3}, float32(1))
	f.Fuzz(func(t *testing.T, data []byte, scale float32) {
		if isNonFinite(scale) {
			return
		}
		nb := (len(data)/4 + 31) / 32
		x := make([]float32, 32*nb)
		for i := 0; i+4 <= len(data); i += 4 {
			v := math.Float32frombits(binary.LittleEndian.Uint32(data[i:]))
			if isNonFinite(v) {
				v = 0
			}
			x[i/4] = v * scale
			if isNonFinite(x[i/4]) {
				x[i/4] = scale
			}
		}
		want := make([]byte, 34*nb)
		quantizeQ8_0Ref(want, x, len(x), nil)
		for _, ks := range kernelSets() {
			got := make([]byte, 34*nb)
			ks.quantizeQ8_0(got, x)
			if !bytes.Equal(got, want) {
				t.Fatalf("%s: Q8_0 differs from the reference for %v", ks.name, x)
			}
		}
	})
}

// TestKernelQ8_0Checked: the Q8_0 encoder reports non-finite input exactly
// when isNonFinite sees some, wherever it is (every position of 1..5
// blocks, odd counts going through the single-block path), and otherwise
// writes the reference bytes.
func TestKernelQ8_0Checked(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	bad := []uint32{0x7F800000, 0xFF800000, 0x7FC00000, 0x7F800001, 0xFFFFFFFF, 0x7FBFFFFF}
	for _, ks := range kernelSets() {
		for nb := 0; nb <= 5; nb++ {
			x := randomBlocks(rng, nb)
			if nb > 0 {
				x[rng.IntN(len(x))] = math.MaxFloat32
			}
			want := make([]byte, 34*nb)
			quantizeQ8_0Ref(want, x, len(x), nil)
			got := make([]byte, 34*nb)
			if !ks.quantizeQ8_0(got, x) {
				t.Fatalf("%s: %d finite blocks reported non-finite", ks.name, nb)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%s: %d blocks: bytes differ from the reference", ks.name, nb)
			}
			for p := range x {
				old := x[p]
				x[p] = math.Float32frombits(bad[p%len(bad)])
				if ks.quantizeQ8_0(got, x) {
					t.Fatalf("%s: %d blocks, %08x at %d not reported", ks.name, nb, math.Float32bits(x[p]), p)
				}
				x[p] = old
			}
		}
	}
}
