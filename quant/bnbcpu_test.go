package quant

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
)

// sameValues32 is sameBits32 except that +0 and -0 are equal where zeroSign
// is false.
// TestBnbGoldenCPU checks the CPU rules against every cpu entry of the real
// bitsandbytes goldens. For FP4 dequantization the goldens' host ran
// bitsandbytes' plain CPU loop below block size 2048, which gives code 1000
// the value -0.0 (Dequantize4Bit's table), and its PyTorch fallback from
// 2048 on, which gives +0.0 (Dequantize4BitCPU's): both are compared bit for
// bit. (On a CPU with AVX-512F bitsandbytes gives +0.0 at every block size:
// tests/golden/bnb_cpu_dequant_4bit.json.)
func TestBnbGoldenCPU(t *testing.T) {
	g := &goldenSet{t: t, m: loadBnbGolden(t), used: map[string]bool{}}
	inputs := map[string]Input{
		"normal":    F32Input(g.get("input/normal").f32()),
		"appendixC": F32Input(g.get("input/appendixC").f32()),
	}
	for name, src := range inputs {
		n := src.Len()
		for _, bs := range []int{4096, 2048, 1024, 512, 256, 128, 64} {
			t.Run(fmt.Sprintf("%s/bw%d", name, bs), func(t *testing.T) {
				p := fmt.Sprintf("%s/cpu/bw%d/", name, bs)
				codes, absmax := make([]uint8, n), make([]float32, numBlocks(n, bs))
				if err := QuantizeBlockwiseCPU(codes, absmax, src, nil, bs, Options{Threads: 2}); err != nil {
					t.Fatal(err)
				}
				sameBytes(t, p+"codes", codes, g.get(p+"codes").u8())
				sameBits32(t, p+"absmax", absmax, g.get(p+"absmax").f32())
				y := make([]float32, n)
				if err := DequantizeBlockwise(F32Output(y), codes, absmax, nil, bs, Options{}); err != nil {
					t.Fatal(err)
				}
				sameBits32(t, p+"deq", y, g.get(p+"deq").f32())
			})
			for _, typ := range []FourBitType{NF4, FP4} {
				t.Run(fmt.Sprintf("%s/%s%d", name, typ, bs), func(t *testing.T) {
					p := fmt.Sprintf("%s/cpu/%s%d", name, typ, bs)
					packed, absmax := make([]uint8, (n+1)/2), make([]float32, numBlocks(n, bs))
					if err := Quantize4BitCPU(packed, absmax, src, typ, bs, Options{Threads: 2}); err != nil {
						t.Fatal(err)
					}
					sameBytes(t, p+"/packed", packed, g.get(p+"/packed").u8())
					sameBits32(t, p+"/absmax", absmax, g.get(p+"/absmax").f32())
					deq := Dequantize4Bit // bitsandbytes' plain loop
					if bs >= 2048 {
						deq = Dequantize4BitCPU // its PyTorch fallback
					}
					y := make([]float32, n)
					if err := deq(F32Output(y), packed, absmax, typ, bs, Options{}); err != nil {
						t.Fatal(err)
					}
					sameBits32(t, p+"/deq", y, g.get(p+"/deq").f32())

					pn := p + "n/"
					sameBytes(t, pn+"packed", packed, g.get(pn+"packed").u8())
					offset := g.get(pn + "offset").f32()[0]
					if mine := NestedOffset(absmax); !withinUlps(mine, offset, 2) {
						t.Errorf("%soffset: NestedOffset %v, bitsandbytes CPU %v", pn, mine, offset)
					}
					qa, na := make([]uint8, len(absmax)), make([]float32, numBlocks(len(absmax), 256))
					if err := QuantizeNestedCPU(qa, na, absmax, offset, 256, Options{}); err != nil {
						t.Fatal(err)
					}
					sameBytes(t, pn+"absmax_codes", qa, g.get(pn+"absmax_codes").u8())
					sameBits32(t, pn+"nested_absmax", na, g.get(pn+"nested_absmax").f32())
					rebuilt := make([]float32, len(absmax))
					if err := DequantizeNested(rebuilt, qa, na, offset, nil, 256); err != nil {
						t.Fatal(err)
					}
					if err := deq(F32Output(y), packed, rebuilt, typ, bs, Options{}); err != nil {
						t.Fatal(err)
					}
					sameBits32(t, pn+"deq", y, g.get(pn+"deq").f32())
				})
			}
		}
	}
	for _, c := range []struct {
		name string
		src  Input
	}{{"normal_f16", F16Input(g.get("input/normal_f16_bits").u16())}, {"normal_bf16", BF16Input(g.get("input/normal_bf16_bits").u16())}} {
		n := c.src.Len()
		codes, absmax := make([]uint8, n), make([]float32, numBlocks(n, 256))
		if err := QuantizeBlockwiseCPU(codes, absmax, c.src, nil, 256, Options{}); err != nil {
			t.Fatal(err)
		}
		sameBytes(t, c.name+" cpu bw256 codes", codes, g.get(c.name+"/cpu/bw256/codes").u8())
		sameBits32(t, c.name+" cpu bw256 absmax", absmax, g.get(c.name+"/cpu/bw256/absmax").f32())
		packed, a4 := make([]uint8, (n+1)/2), make([]float32, numBlocks(n, 64))
		if err := Quantize4BitCPU(packed, a4, c.src, NF4, 64, Options{}); err != nil {
			t.Fatal(err)
		}
		sameBytes(t, c.name+" cpu nf464 packed", packed, g.get(c.name+"/cpu/nf464/packed").u8())
		sameBits32(t, c.name+" cpu nf464 absmax", a4, g.get(c.name+"/cpu/nf464/absmax").f32())
	}
	var missed []string
	for k := range g.m {
		if strings.Contains(k, "/cpu/") && !g.used[k] {
			missed = append(missed, k)
		}
	}
	sort.Strings(missed)
	if len(missed) > 0 {
		t.Fatalf("%d CPU goldens not checked, e.g. %v", len(missed), missed[:min(5, len(missed))])
	}
}

// TestCPURulesFacts checks the behaviours spec §2.6, §3.8 and Appendix C
// name for bitsandbytes' CPU paths.
func TestCPURulesFacts(t *testing.T) {
	// C.6, PyTorch-path column.
	for _, c := range []struct {
		x    uint32
		typ  FourBitType
		want uint8
	}{
		{0xbf591cd8, NF4, 0}, {0x3df64863, NF4, 9}, {0x3f006d04, NF4, 12}, {0x3f5c89da, NF4, 14},
		{0x3f155553, FP4, 0b0101}, {0xbdb00000, FP4, 0b1110}, {0x38d1b717, FP4, 0b1000}, {0xb8d1b717, FP4, 0b0000},
	} {
		if got := c.typ.cpu().rule(math.Float32frombits(c.x)); got != c.want {
			t.Errorf("%s CPU rule(%08x) = %04b, want %04b", c.typ, c.x, got, c.want)
		}
	}
	// An exact 0.0 in a non-zero block: 8-bit index 131 (signed) / 7 (unsigned).
	signed, unsigned := DynamicCode(true), DynamicCode(false)
	for _, c := range []struct {
		code *[256]float32
		want uint8
	}{{&signed, 131}, {&unsigned, 7}} {
		codes, _ := make([]uint8, 2), make([]float32, 1)
		if err := QuantizeBlockwiseCPU(codes, make([]float32, 1), F32Input([]float32{0, 0.5}), c.code, 64, Options{}); err != nil {
			t.Fatal(err)
		}
		if codes[0] != c.want {
			t.Errorf("0.0 in a non-zero block: index %d, want %d", codes[0], c.want)
		}
	}
	// Zero blocks: 8-bit codes 0 and absmax 0; NF4 0x77 (full block: absmax
	// 0; partial last block: absmax f32(1e-38)); FP4 0x00.
	zeros := make([]float32, 64+5)
	codes, absmax := make([]uint8, len(zeros)), make([]float32, 2)
	if err := QuantizeBlockwiseCPU(codes, absmax, F32Input(zeros), nil, 64, Options{}); err != nil {
		t.Fatal(err)
	}
	sameBytes(t, "8-bit zero blocks", codes, make([]uint8, len(zeros)))
	sameBits32(t, "8-bit zero absmax", absmax, []float32{0, 0})
	for _, typ := range []FourBitType{NF4, FP4} {
		packed, absmax := make([]uint8, 35), make([]float32, 2)
		if err := Quantize4BitCPU(packed, absmax, F32Input(zeros), typ, 64, Options{}); err != nil {
			t.Fatal(err)
		}
		want := byte(0x77)
		if typ == FP4 {
			want = 0
		}
		for j, p := range packed {
			if p != want {
				t.Fatalf("%s zero blocks: byte %d = %#02x, want %#02x", typ, j, p, want)
			}
		}
		sameBits32(t, typ.String()+" zero absmax", absmax, []float32{0, cpuTinyAbsmax})
	}
	// Non-finite input is always an error.
	x := []float32{1, float32(math.NaN())}
	if err := QuantizeBlockwiseCPU(make([]uint8, 2), make([]float32, 1), F32Input(x), nil, 64, Options{}); err == nil {
		t.Error("NaN accepted by the 8-bit CPU rules")
	}
	if err := Quantize4BitCPU(make([]uint8, 1), make([]float32, 1), F32Input(x), NF4, 64, Options{AllowNonFinite: true}); err == nil || !strings.Contains(err.Error(), "allow_non_finite") {
		t.Errorf("AllowNonFinite with the CPU rules: %v", err)
	}
	// Any positive block size for 8-bit, as bitsandbytes' CPU backend.
	if err := QuantizeBlockwiseCPU(make([]uint8, 10), make([]float32, 4), F32Input(make([]float32, 10)), nil, 3, Options{}); err != nil {
		t.Error(err)
	}
}

// TestCPUGridIndex: the grid index is the fused f32 expression, checked
// against exact rational arithmetic around every grid boundary.
func TestCPUGridIndex(t *testing.T) {
	for i := 0; i < 65535; i += 7 {
		// The boundary between grid indices i and i+1 is where
		// (x+1)/2·65535 + 0.5 = i+1, i.e. x = 2(i+0.5)/65535 - 1.
		b := float32(2*(float64(i)+0.5)/65535 - 1)
		for _, x := range []float32{nextUlps(b, -2), nextUlps(b, -1), b, nextUlps(b, 1), nextUlps(b, 2)} {
			tt := (x + 1) * 0.5
			want := uint16(fma32(tt, 65535, 0.5))
			if got := cpuGridIndex(x); got != want {
				t.Fatalf("x=%v: index %d, fma32 gives %d", x, got, want)
			}
		}
	}
	if cpuGridIndex(-2) != 0 || cpuGridIndex(2) != 65535 || cpuGridIndex(1) != 65535 || cpuGridIndex(-1) != 0 {
		t.Error("clamping")
	}
}

// TestQuantize4BitCPUMatchesReference: the decider-based CPU path against the
// element-by-element PyTorch expressions.
func TestQuantize4BitCPUMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(71, 72))
	for _, bs := range blockSizes4 {
		var x []float32
		for _, v := range append(adversarialBnb(rng, bs), randomBnb(rng, 5*bs+rng.IntN(bs))...) {
			if isFinite32(v) {
				x = append(x, v)
			}
		}
		for _, n := range []int{len(x), len(x) - 1, bs + 3, 1} {
			for _, typ := range []FourBitType{NF4, FP4} {
				got, gotA := make([]uint8, (n+1)/2), make([]float32, numBlocks(n, bs))
				if err := Quantize4BitCPU(got, gotA, F32Input(x[:n]), typ, bs, Options{Threads: 3}); err != nil {
					t.Fatal(err)
				}
				want, wantA := make([]uint8, (n+1)/2), make([]float32, numBlocks(n, bs))
				quantize4BitCPURef(want, wantA, x[:n], typ, bs)
				sameBytes(t, fmt.Sprintf("%s bs%d n%d", typ, bs, n), got, want)
				sameBits32(t, fmt.Sprintf("%s bs%d n%d absmax", typ, bs, n), gotA, wantA)
			}
		}
	}
}

// TestDequantize4BitCPU: the CPU table differs from CUDA's only in the sign
// of FP4 code 8 (+0.0), for every output dtype and block size; NF4 is the
// same under both. (tests/test_blockwise.py checks both against real
// bitsandbytes CPU kernels.)
func TestDequantize4BitCPU(t *testing.T) {
	for _, typ := range []FourBitType{NF4, FP4} {
		for _, bs := range []int{32, 64, 4096} {
			n := 2*bs + 1
			packed := make([]uint8, (n+1)/2)
			for j := range packed {
				packed[j] = uint8(j*37 + 11)
			}
			absmax := []float32{2, 0.5, 0}
			for _, dt := range []DType{DTypeF32, DTypeF16, DTypeBF16} {
				out := func(cpu bool) []uint32 {
					f32, u16 := make([]float32, n), make([]uint16, n)
					dst := map[DType]Output{DTypeF32: F32Output(f32), DTypeF16: F16Output(u16), DTypeBF16: BF16Output(u16)}[dt]
					f := Dequantize4Bit
					if cpu {
						f = Dequantize4BitCPU
					}
					if err := f(dst, packed, absmax, typ, bs, Options{}); err != nil {
						t.Fatal(err)
					}
					bits := make([]uint32, n)
					for i := range bits {
						if dt == DTypeF32 {
							bits[i] = math.Float32bits(f32[i])
						} else {
							bits[i] = uint32(u16[i])
						}
					}
					return bits
				}
				cuda, cpu := out(false), out(true)
				signBit := map[DType]uint32{DTypeF32: 0x80000000, DTypeF16: 0x8000, DTypeBF16: 0x8000}[dt]
				flipped := 0
				for i := range cuda {
					code := packed[i/2] >> 4
					if i%2 == 1 {
						code = packed[i/2] & 0x0F
					}
					want := cuda[i]
					if typ == FP4 && code == 8 && absmax[i/bs] >= 0 {
						want = cuda[i] &^ signBit // -0.0 · absmax becomes +0.0 · absmax
						flipped++
					}
					if cpu[i] != want {
						t.Fatalf("%v bs %d %v element %d (code %d): cpu %#x, cuda %#x", typ, bs, dt, i, code, cpu[i], cuda[i])
					}
				}
				if typ == FP4 && flipped == 0 {
					t.Fatal("no FP4 code 8 in the input")
				}
			}
		}
	}
}
