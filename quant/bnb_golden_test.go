package quant

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"testing"
)

// The goldens are real bitsandbytes output (CUDA, H100); see
// tests/golden/README.md. Every cuda entry is checked bit for bit.

const bnbGoldenPath = "../tests/golden/bnb_cuda_cpu_goldens.npz"

var (
	bnbGoldenOnce sync.Once
	bnbGolden     map[string]npyArray
	bnbGoldenErr  error
)

func loadBnbGolden(t *testing.T) map[string]npyArray {
	t.Helper()
	bnbGoldenOnce.Do(func() { bnbGolden, bnbGoldenErr = readNPZ(bnbGoldenPath) })
	if bnbGoldenErr != nil {
		t.Fatal(bnbGoldenErr)
	}
	return bnbGolden
}

// goldenSet hands out golden arrays and remembers which keys were used.
type goldenSet struct {
	t    *testing.T
	m    map[string]npyArray
	used map[string]bool
}

func (g *goldenSet) get(key string) npyArray {
	g.t.Helper()
	a, ok := g.m[key]
	if !ok {
		g.t.Fatalf("golden %s missing", key)
	}
	g.used[key] = true
	return a
}

func sameBits32(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	bad := 0
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			if bad < 5 {
				t.Errorf("%s[%d] = %v (%08x), want %v (%08x)", what, i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
			}
			bad++
		}
	}
	if bad > 0 {
		t.Fatalf("%s: %d of %d values differ", what, bad, len(got))
	}
}

func sameBytes(t *testing.T, what string, got, want []uint8) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d bytes, want %d", what, len(got), len(want))
	}
	bad := 0
	for i := range got {
		if got[i] != want[i] {
			if bad < 5 {
				t.Errorf("%s[%d] = %#02x, want %#02x", what, i, got[i], want[i])
			}
			bad++
		}
	}
	if bad > 0 {
		t.Fatalf("%s: %d of %d bytes differ", what, bad, len(got))
	}
}

// withinUlps reports whether a and b are at most n float32 steps apart.
func withinUlps(a, b float32, n int64) bool {
	key := func(f float32) int64 {
		u := int64(math.Float32bits(f))
		if u&0x80000000 != 0 {
			return -(u & 0x7FFFFFFF)
		}
		return u
	}
	d := key(a) - key(b)
	return d >= -n && d <= n
}

func TestBnbGoldenCUDA(t *testing.T) {
	g := &goldenSet{t: t, m: loadBnbGolden(t), used: map[string]bool{}}
	inputs := map[string]Input{
		"normal":    F32Input(g.get("input/normal").f32()),
		"appendixC": F32Input(g.get("input/appendixC").f32()),
	}
	for _, name := range []string{"normal", "appendixC"} {
		src := inputs[name]
		for _, bs := range []int{4096, 2048, 1024, 512, 256, 128, 64} {
			for _, threads := range []int{1, 3} {
				opt := Options{Threads: threads}
				t.Run(fmt.Sprintf("%s/bw%d/threads%d", name, bs, threads), func(t *testing.T) {
					checkGolden8(t, g, fmt.Sprintf("%s/cuda/bw%d/", name, bs), src, bs, opt, true)
				})
				for _, typ := range []FourBitType{NF4, FP4} {
					t.Run(fmt.Sprintf("%s/%s%d/threads%d", name, typ, bs, threads), func(t *testing.T) {
						checkGolden4(t, g, fmt.Sprintf("%s/cuda/%s%d", name, typ, bs), src, typ, bs, opt, true)
					})
				}
			}
		}
	}
	f16 := g.get("input/normal_f16_bits").u16()
	bf16 := g.get("input/normal_bf16_bits").u16()
	for _, c := range []struct {
		name string
		src  Input
	}{{"normal_f16", F16Input(f16)}, {"normal_bf16", BF16Input(bf16)}} {
		t.Run(c.name, func(t *testing.T) {
			checkGolden8(t, g, c.name+"/cuda/bw256/", c.src, 256, Options{}, false)
			checkGolden4(t, g, c.name+"/cuda/nf464", c.src, NF4, 64, Options{}, false)
		})
	}
	// Every CUDA golden must have been checked.
	var missed []string
	for k := range g.m {
		if strings.Contains(k, "/cuda/") && !g.used[k] {
			missed = append(missed, k)
		}
	}
	sort.Strings(missed)
	if len(missed) > 0 {
		t.Fatalf("%d CUDA goldens not checked, e.g. %v", len(missed), missed[:min(5, len(missed))])
	}
}

func checkGolden8(t *testing.T, g *goldenSet, prefix string, src Input, bs int, opt Options, hasDeq bool) {
	n := src.Len()
	codes := make([]uint8, n)
	absmax := make([]float32, numBlocks(n, bs))
	if err := QuantizeBlockwise(codes, absmax, src, nil, bs, opt); err != nil {
		t.Fatal(err)
	}
	sameBytes(t, prefix+"codes", codes, g.get(prefix+"codes").u8())
	sameBits32(t, prefix+"absmax", absmax, g.get(prefix+"absmax").f32())
	if !hasDeq {
		return
	}
	y := make([]float32, n)
	if err := DequantizeBlockwise(F32Output(y), codes, absmax, nil, bs, opt); err != nil {
		t.Fatal(err)
	}
	sameBits32(t, prefix+"deq", y, g.get(prefix+"deq").f32())
}

func checkGolden4(t *testing.T, g *goldenSet, prefix string, src Input, typ FourBitType, bs int, opt Options, hasDeq bool) {
	n := src.Len()
	packed := make([]uint8, (n+1)/2)
	absmax := make([]float32, numBlocks(n, bs))
	if err := Quantize4Bit(packed, absmax, src, typ, bs, opt); err != nil {
		t.Fatal(err)
	}
	sameBytes(t, prefix+"/packed", packed, g.get(prefix+"/packed").u8())
	sameBits32(t, prefix+"/absmax", absmax, g.get(prefix+"/absmax").f32())
	if !hasDeq {
		return
	}
	y := make([]float32, n)
	if err := Dequantize4Bit(F32Output(y), packed, absmax, typ, bs, opt); err != nil {
		t.Fatal(err)
	}
	sameBits32(t, prefix+"/deq", y, g.get(prefix+"/deq").f32())

	// Double quantization: the packed codes do not change; the absmax is
	// re-encoded around bitsandbytes' offset.
	p := prefix + "n/"
	sameBytes(t, p+"packed", packed, g.get(p+"packed").u8())
	offset := g.get(p + "offset").f32()[0]
	if mine := NestedOffset(absmax); !withinUlps(mine, offset, 2) {
		t.Errorf("%soffset: NestedOffset = %v (%08x), bitsandbytes %v (%08x): more than 2 ulps apart",
			p, mine, math.Float32bits(mine), offset, math.Float32bits(offset))
	}
	qa := make([]uint8, len(absmax))
	nested := make([]float32, numBlocks(len(absmax), NestedBlocksize4Bit))
	if err := QuantizeNested(qa, nested, absmax, offset, NestedBlocksize4Bit, opt); err != nil {
		t.Fatal(err)
	}
	sameBytes(t, p+"absmax_codes", qa, g.get(p+"absmax_codes").u8())
	sameBits32(t, p+"nested_absmax", nested, g.get(p+"nested_absmax").f32())
	rebuilt := make([]float32, len(absmax))
	if err := DequantizeNested(rebuilt, qa, nested, offset, nil, NestedBlocksize4Bit); err != nil {
		t.Fatal(err)
	}
	if err := Dequantize4Bit(F32Output(y), packed, rebuilt, typ, bs, opt); err != nil {
		t.Fatal(err)
	}
	sameBits32(t, p+"deq", y, g.get(p+"deq").f32())
}
