package quant

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
)

func hexBytes(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func f32s(bits ...uint32) []float32 {
	out := make([]float32, len(bits))
	for i, b := range bits {
		out[i] = math.Float32frombits(b)
	}
	return out
}

func quant8(t *testing.T, x []float32, code *[256]float32, bs int, opt Options) ([]uint8, []float32) {
	t.Helper()
	codes := make([]uint8, len(x))
	absmax := make([]float32, numBlocks(len(x), bs))
	if err := QuantizeBlockwise(codes, absmax, F32Input(x), code, bs, opt); err != nil {
		t.Fatal(err)
	}
	return codes, absmax
}

func quant4(t *testing.T, x []float32, typ FourBitType, bs int, opt Options) ([]uint8, []float32) {
	t.Helper()
	packed := make([]uint8, (len(x)+1)/2)
	absmax := make([]float32, numBlocks(len(x), bs))
	if err := Quantize4Bit(packed, absmax, F32Input(x), typ, bs, opt); err != nil {
		t.Fatal(err)
	}
	return packed, absmax
}

func dequant8(t *testing.T, codes []uint8, absmax []float32, code *[256]float32, bs int) []float32 {
	t.Helper()
	y := make([]float32, len(codes))
	if err := DequantizeBlockwise(F32Output(y), codes, absmax, code, bs, Options{}); err != nil {
		t.Fatal(err)
	}
	return y
}

func dequant4(t *testing.T, packed []uint8, absmax []float32, typ FourBitType, bs, n int) []float32 {
	t.Helper()
	y := make([]float32, n)
	if err := Dequantize4Bit(F32Output(y), packed, absmax, typ, bs, Options{}); err != nil {
		t.Fatal(err)
	}
	return y
}

// appendixC1 is the input of spec Appendix C.1: f32((k-33)/7), k = 0..69.
func appendixC1() []float32 {
	x := make([]float32, 70)
	for k := range x {
		x[k] = float32(float64(k-33) / 7)
	}
	return x
}

// TestAppendixC checks the vectors of spec Appendix C (the goldens confirm
// they are what CUDA bitsandbytes produces).
func TestAppendixC(t *testing.T) {
	t.Run("C.1", func(t *testing.T) {
		x := appendixC1()
		if bitsOf(x[:1])[0] != 0xc096db6e || x[33] != 0 || bitsOf(x[69:])[0] != 0x40a49249 {
			t.Fatalf("input: %v %v %v", x[0], x[33], x[69])
		}
		codes, absmax := quant8(t, x, nil, 64, Options{})
		sameBytes(t, "C.1.a codes", codes, hexBytes(t, "00 02 04 06 08 0a 0c 0f 11 13 15 17 19 1c 1e 20 22 24 26 28 2b 2d 2f 31 33 35 38 3a 3c 3e 43 4e 58 7f a6 b0 bb c0 c2 c4 c6 c9 cb cd cf d1 d3 d6 d8 da dc de e0 e2 e5 e7 e9 eb ed ef f2 f4 f6 f8 f5 f7 f9 fb fd ff"))
		sameBits32(t, "C.1.a absmax", absmax, f32s(0x4096db6e, 0x40a49249))
		y := dequant8(t, codes, absmax, nil, 64)
		sameBits32(t, "C.1.a y0..3", y[:4], f32s(0xc095cbe3, 0xc0918db7, 0xc08d4f8b, 0xc0891160))
		sameBits32(t, "C.1.a y33", y[33:34], f32s(0))
		var worst float64
		for i := range x {
			worst = math.Max(worst, math.Abs(float64(y[i])-float64(x[i])))
		}
		if math.Abs(worst-0.034375) > 1e-6 {
			t.Errorf("C.1.a max |y-x| = %v, want 0.034375", worst)
		}
		packed, absmax4 := quant4(t, x, NF4, 64, Options{})
		sameBytes(t, "C.1.b NF4", packed, hexBytes(t, "00 00 00 11 11 11 12 22 22 33 33 44 44 55 56 66 77 78 89 99 aa ab bb cc cc dd dd de ee ee ee ff ef ff ff"))
		sameBits32(t, "C.1.b absmax", absmax4, absmax)
		packed, _ = quant4(t, x, FP4, 64, Options{})
		sameBytes(t, "C.1.c FP4", packed, hexBytes(t, "bb bb bb aa aa aa aa dd dd dd cc cc ff fe ee e9 90 11 66 66 77 74 44 45 55 55 52 22 22 22 23 33 33 33 33"))
	})
	t.Run("C.2", func(t *testing.T) {
		x := []float32{1.0, -1e-4, 1e-4, -0.3, 0.0, -2.0, 0.5}
		packed, absmax := quant4(t, x, FP4, 32, Options{})
		sameBytes(t, "C.2 FP4", packed, hexBytes(t, "58 0e 0b 70"))
		sameBits32(t, "C.2 absmax", absmax, f32s(0x40000000))
		packed, _ = quant4(t, x, NF4, 32, Options{})
		sameBytes(t, "C.2 NF4", packed, hexBytes(t, "c7 75 70 a7"))
	})
	t.Run("C.3", func(t *testing.T) {
		x := make([]float32, 5)
		packed, absmax := quant4(t, x, NF4, 32, Options{})
		sameBytes(t, "C.3 NF4", packed, []byte{0, 0, 0})
		sameBits32(t, "C.3 absmax", absmax, f32s(0))
		packed, _ = quant4(t, x, FP4, 32, Options{})
		sameBytes(t, "C.3 FP4", packed, []byte{0, 0, 0})
		codes, absmax := quant8(t, x, nil, 32, Options{})
		sameBytes(t, "C.3 8-bit", codes, make([]byte, 5))
		sameBits32(t, "C.3 8-bit absmax", absmax, f32s(0))
	})
	t.Run("C.4", func(t *testing.T) {
		a := []float32{1, 2, 3, 4}
		off := NestedOffset(a)
		if off != 2.5 {
			t.Fatalf("offset %v", off)
		}
		qa, na := make([]uint8, 4), make([]float32, 1)
		if err := QuantizeNested(qa, na, a, off, 256, Options{}); err != nil {
			t.Fatal(err)
		}
		sameBits32(t, "C.4 nested_absmax", na, f32s(0x3fc00000))
		sameBytes(t, "C.4 codes", qa, []byte{0, 47, 207, 255})
		rebuilt := make([]float32, 4)
		if err := DequantizeNested(rebuilt, qa, na, off, nil, 256); err != nil {
			t.Fatal(err)
		}
		sameBits32(t, "C.4 rebuilt", rebuilt, f32s(0x3f81599a, 0x40002000, 0x403fe000, 0x40800000))
	})
	t.Run("C.5", func(t *testing.T) {
		code := DynamicCode(true)
		dec := codeDecider(&code, 1<<30)
		for _, c := range []struct {
			x    uint32
			want uint8
		}{{0xbf7c6666, 0}, {0xbf78cccd, 2}, {0xb493a3b7, 126}, {0x3493a3b7, 128}, {0x3f7c6666, 254}, {0x3f7f199a, 254}} {
			x := math.Float32frombits(c.x)
			if got := searchCodeRef(&code, x); got != c.want {
				t.Errorf("search(%08x) = %d, want %d", c.x, got, c.want)
			}
			if got := dec.code(x); got != c.want {
				t.Errorf("decider(%08x) = %d, want %d", c.x, got, c.want)
			}
		}
	})
	t.Run("C.6", func(t *testing.T) {
		for _, c := range []struct {
			x    uint32
			typ  FourBitType
			want uint8
		}{
			{0xbf591cd8, NF4, 1}, {0x3df64863, NF4, 8}, {0x3f006d04, NF4, 13}, {0x3f5c89da, NF4, 15},
			{0x3f155553, FP4, 0b0010}, {0xbdb00000, FP4, 0b1001}, {0x38d1b717, FP4, 0b0000}, {0xb8d1b717, FP4, 0b1000},
		} {
			x := math.Float32frombits(c.x)
			if got := c.typ.rule()(x); got != c.want {
				t.Errorf("%s rule(%08x) = %04b, want %04b", c.typ, c.x, got, c.want)
			}
			if got := c.typ.decider().code(x); got != c.want {
				t.Errorf("%s decider(%08x) = %04b, want %04b", c.typ, c.x, got, c.want)
			}
		}
	})
}

// TestTiesThroughTheAPI: with absmax 1 (r = 1) the normalized values are
// the inputs, so C.5's midpoints reach the search unchanged: ties go to the
// even index, NF4/FP4 values equal to a threshold get the lower code.
func TestTiesThroughTheAPI(t *testing.T) {
	x := append([]float32{1}, f32s(0xbf7c6666, 0xbf78cccd, 0xb493a3b7, 0x3493a3b7, 0x3f7c6666, 0x3f7f199a)...)
	codes, absmax := quant8(t, x, nil, 32, Options{})
	sameBytes(t, "8-bit ties", codes, []byte{255, 0, 2, 126, 128, 254, 254})
	sameBits32(t, "absmax", absmax, []float32{1})
	y := append([]float32{1}, nf4ThresholdValues[:]...)
	packed, _ := quant4(t, y, NF4, 32, Options{})
	for k := range nf4ThresholdValues { // element k+1 equals threshold k: code k
		c := packed[(k+1)/2]
		if (k+1)%2 == 0 {
			c >>= 4
		}
		if c&0x0F != byte(k) {
			t.Errorf("NF4 value on threshold %d got code %d", k, c&0x0F)
		}
	}
	z := []float32{1}
	for _, v := range fp4ThresholdValues {
		z = append(z, v, -v)
	}
	packed, _ = quant4(t, z, FP4, 32, Options{})
	for k := range fp4ThresholdValues { // |x| on threshold k: magnitude rank k
		// Element 2k+1 (+t) is the low nibble of byte k, element 2k+2 (-t)
		// the high nibble of byte k+1.
		pos, neg := packed[k]&0x0F, packed[k+1]>>4
		if pos != fp4MagnitudeOrder[k] || neg != 8|fp4MagnitudeOrder[k] {
			t.Errorf("FP4 ±threshold %d got %04b / %04b, want %04b / %04b", k, pos, neg, fp4MagnitudeOrder[k], 8|fp4MagnitudeOrder[k])
		}
	}
}

// TestSubnormalAndHugeBlocks pins the IEEE behaviour documented in
// blockwise.go (CUDA flushes subnormals instead): a block whose absmax is
// below 2^-128 has r = +Inf, so its non-zero values become ±Inf (codes 255
// and 0, NF4 15 and 0) and its zeros NaN (code 0); a block with absmax
// MaxFloat32 has a subnormal r and quantizes normally.
func TestSubnormalAndHugeBlocks(t *testing.T) {
	tiny := math.Float32frombits(1)
	x := []float32{tiny, -tiny, 0, tiny}
	codes, absmax := quant8(t, x, nil, 32, Options{})
	sameBytes(t, "subnormal block", codes, []byte{255, 0, 0, 255})
	sameBits32(t, "subnormal absmax", absmax, []float32{tiny})
	packed, _ := quant4(t, x, NF4, 32, Options{})
	sameBytes(t, "subnormal NF4", packed, []byte{0xf0, 0x0f})
	h := []float32{math.MaxFloat32, -math.MaxFloat32 / 2, 0, 1}
	codes, absmax = quant8(t, h, nil, 32, Options{})
	signed := DynamicCode(true)
	want := make([]uint8, len(h))
	for i, v := range h {
		want[i] = searchCodeRef(&signed, v*(1/float32(math.MaxFloat32)))
	}
	sameBytes(t, "huge block", codes, want)
	if codes[0] != 255 || codes[2] != 127 {
		t.Errorf("huge block codes %v", codes)
	}
	if absmax[0] != math.MaxFloat32 {
		t.Errorf("huge absmax %v", absmax[0])
	}
}

// midpoints32 returns the float32 midpoints f32(c_k + c_{k+1})/2.
func midpoints32(code *[256]float32) []float32 {
	m := make([]float32, 255)
	for k := range m {
		m[k] = (code[k] + code[k+1]) / 2
	}
	return m
}

// TestSearchCodeTieRule: the CUDA search is "nearest with float32
// midpoints, exact ties to the even index" for strictly ascending tables
// (spec §2.4), checked on both dynamic maps at every midpoint and code point
// ±5 ulps and on random values.
func TestSearchCodeTieRule(t *testing.T) {
	rule := func(code *[256]float32, x float32) uint8 {
		n := 0
		for k, m := range midpoints32(code) {
			if x > m || (x == m && k%2 == 1) {
				n++
			}
		}
		return uint8(n)
	}
	rng := rand.New(rand.NewPCG(21, 22))
	for _, signed := range []bool{true, false} {
		code := DynamicCode(signed)
		var xs []float32
		for _, v := range append(midpoints32(&code), code[:]...) {
			for d := -5; d <= 5; d++ {
				xs = append(xs, nextUlps(v, d))
			}
		}
		for range 20000 {
			xs = append(xs, float32(rng.Float64()*2.0002-1.0001), float32(rng.NormFloat64()*1e-5))
		}
		for _, x := range xs {
			if got, want := searchCodeRef(&code, x), rule(&code, x); got != want {
				t.Fatalf("signed=%v x=%v (%08x): search %d, midpoint rule %d", signed, x, math.Float32bits(x), got, want)
			}
		}
	}
}

// nextUlps steps d float32 values up (d > 0) or down from v.
func nextUlps(v float32, d int) float32 {
	for ; d > 0; d-- {
		v = math.Nextafter32(v, float32(math.Inf(1)))
	}
	for ; d < 0; d++ {
		v = math.Nextafter32(v, float32(math.Inf(-1)))
	}
	return v
}

// customCodes are 8-bit tables other than the default: the unsigned map,
// bitsandbytes' zero-padded linear and normal maps (equal neighbours), a
// table with entries outside [-1, 1], and a dense one whose entries are
// closer than a decider interval (multi-boundary intervals).
func customCodes() map[string]*[256]float32 {
	out := map[string]*[256]float32{}
	u := DynamicCode(false)
	out["unsigned"] = &u
	var lin [256]float32 // create_linear_map(signed=True, total_bits=8): 255 points and a zero
	for i := range 255 {
		lin[i] = float32(-1 + 2*float64(i)/254)
	}
	lin[255] = 0
	sortFloats(lin[:])
	out["linear"] = &lin
	var nf [256]float32 // create_normal_map(): NF4's 16 values and 240 more zeros
	copy(nf[:], nf4Table[:])
	sortFloats(nf[:])
	out["normal-map"] = &nf
	var wide [256]float32
	for i := range wide {
		wide[i] = float32(math.Sinh(float64(i-128) / 20))
	}
	out["wide"] = &wide
	var dense [256]float32 // entries 0.0004 apart: several per decider interval
	for i := range dense {
		dense[i] = float32(0.5 + 0.0004*float64(i-128))
	}
	out["dense"] = &dense
	return out
}

func sortFloats(f []float32) {
	for i := 1; i < len(f); i++ {
		for j := i; j > 0 && f[j] < f[j-1]; j-- {
			f[j], f[j-1] = f[j-1], f[j]
		}
	}
}

// deciderProbe returns values that stress a decider: every boundary of the
// rule ±3 ulps (found by the midpoints and thresholds involved), interval
// ends, and a strided sweep of all finite float32 with |x| ≤ 2.
func deciderProbe(extra []float32, stride uint32) []float32 {
	var xs []float32
	for _, v := range extra {
		for d := -3; d <= 3; d++ {
			xs = append(xs, nextUlps(v, d), -nextUlps(v, d))
		}
	}
	for h := uint32(0); h < 0x7F80; h++ {
		xs = append(xs, math.Float32frombits(h<<16), math.Float32frombits(h<<16|0xFFFF))
	}
	for u := uint32(0); u <= 0x40000000; u += stride {
		f := math.Float32frombits(u)
		xs = append(xs, f, -f)
	}
	return append(xs, float32(math.Copysign(0, -1)), 0)
}

func TestDecidersMatchRules(t *testing.T) {
	stride := uint32(97)
	if testing.Short() {
		stride = 997
	}
	check := func(name string, d *decider, rule func(float32) uint8, extra []float32) {
		if d == nil {
			t.Fatalf("%s: no decider", name)
		}
		for _, x := range deciderProbe(extra, stride) {
			if got, want := d.code(x), rule(x); got != want {
				t.Fatalf("%s: x=%v (%08x): decider %d, rule %d", name, x, math.Float32bits(x), got, want)
			}
		}
	}
	check("nf4", getNF4Decider(), nf4CodeRef, append(nf4ThresholdValues[:], nf4Table[:]...))
	check("fp4", getFP4Decider(), fp4CodeRef, append(fp4ThresholdValues[:], fp4Table[:]...))
	if getNF4Decider().multi != nil || getFP4Decider().multi != nil {
		t.Error("NF4/FP4 deciders need the rule somewhere")
	}
	signed := DynamicCode(true)
	d := codeDecider(&signed, 0)
	if d.multi != nil {
		t.Error("the signed dynamic map's decider needs the rule somewhere")
	}
	check("signed", d, func(x float32) uint8 { return searchCodeRef(&signed, x) }, append(midpoints32(&signed), signed[:]...))
	for name, code := range customCodes() {
		d := buildCodeDecider(code)
		check(name, d, func(x float32) uint8 { return searchCodeRef(code, x) }, append(midpoints32(code), code[:]...))
	}
	if buildCodeDecider(customCodes()["dense"]).multi == nil {
		t.Error("the dense table should have intervals with two boundaries (the test of that path is void)")
	}
}

// adversarialBnb returns inputs that stress block-wise quantization: zero
// blocks, -0, ties, subnormals, huge values, single outliers, values equal to
// thresholds after normalization.
func adversarialBnb(rng *rand.Rand, bs int) []float32 {
	var x []float32
	block := func(f func(i int) float32) {
		for i := range bs {
			x = append(x, f(i))
		}
	}
	negZero := float32(math.Copysign(0, -1))
	signed := DynamicCode(true)
	mids := midpoints32(&signed)
	block(func(int) float32 { return 0 })
	block(func(int) float32 { return negZero })
	block(func(i int) float32 { return math.Float32frombits(uint32(i + 1)) })                 // subnormals, r = +Inf
	block(func(i int) float32 { return math.Float32frombits(uint32(i*4099+1) & 0x807FFFFF) }) // ± subnormals
	block(func(i int) float32 { return float32(i-bs/2) * 1e-38 })                             // tiny normal absmax
	block(func(i int) float32 { return math.MaxFloat32 * (float32(i-bs/2) / float32(bs/2)) }) // r subnormal
	block(func(i int) float32 {                                                               // exact midpoints of the dynamic map, absmax 1
		if i == 0 {
			return 1
		}
		return mids[(i*37)%255]
	})
	block(func(i int) float32 { // NF4 and FP4 thresholds, absmax 1
		if i == 0 {
			return -1
		}
		if i%2 == 0 {
			return nf4ThresholdValues[i%15]
		}
		v := fp4ThresholdValues[i%7]
		if i%4 == 1 {
			return -v
		}
		return v
	})
	block(func(i int) float32 { // one outlier
		if i == 3 {
			return -3e38
		}
		return rng.Float32()
	})
	block(func(i int) float32 { return float32(i%7 - 3) }) // integers, ties after scaling
	block(func(i int) float32 {                            // a zero among tiny values of both signs
		return float32(i%3-1) * 1e-30
	})
	return x
}

func randomBnb(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		switch rng.IntN(5) {
		case 0, 1:
			x[i] = float32(rng.NormFloat64() * 0.02)
		case 2:
			x[i] = float32(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(60)-30)))
		case 3:
			x[i] = float32(rng.IntN(255) - 127)
		default:
			x[i] = math.Float32frombits(rng.Uint32()&^0x7F800000 | uint32(rng.IntN(254)+1)<<23)
		}
	}
	return x
}

// TestBlockwiseFastMatchesReference is the differential test of the
// production paths against the plain references, for every block size,
// partial blocks, the default and custom tables, and both 4-bit types.
func TestBlockwiseFastMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	codes := customCodes()
	signed := DynamicCode(true)
	codes["signed"] = &signed
	for _, bs := range blockSizes8 {
		x := append(adversarialBnb(rng, bs), randomBnb(rng, 3*bs+rng.IntN(bs))...)
		if bs <= 256 {
			x = append(x, randomBnb(rng, 1<<16)...)
		}
		for _, n := range []int{len(x), len(x) - 1, bs + 1, 1} {
			xs := x[:n]
			for name, code := range codes {
				got, gotA := quant8(t, xs, code, bs, Options{})
				want, wantA := make([]uint8, n), make([]float32, numBlocks(n, bs))
				quantizeBlockwiseRef(want, wantA, xs, code, bs)
				sameBytes(t, fmt.Sprintf("8-bit %s bs%d n%d codes", name, bs, n), got, want)
				sameBits32(t, fmt.Sprintf("8-bit %s bs%d n%d absmax", name, bs, n), gotA, wantA)
			}
			for _, typ := range []FourBitType{NF4, FP4} {
				got, gotA := quant4(t, xs, typ, bs, Options{})
				want, wantA := make([]uint8, (n+1)/2), make([]float32, numBlocks(n, bs))
				quantize4BitRef(want, wantA, xs, typ, bs)
				sameBytes(t, fmt.Sprintf("%s bs%d n%d packed", typ, bs, n), got, want)
				sameBits32(t, fmt.Sprintf("%s bs%d n%d absmax", typ, bs, n), gotA, wantA)
			}
		}
	}
}

// TestCustomCodeDeciderCache: a custom table large enough to get a decider
// gives the reference result, and again from the cache.
func TestCustomCodeDeciderCache(t *testing.T) {
	rng := rand.New(rand.NewPCG(33, 34))
	x := make([]float32, 1<<20)
	for i := range x {
		x[i] = float32(0.7 * (2*rng.Float64() - 1))
		if i%256 == 0 {
			x[i] = 0.7 // absmax: x_n spreads uniformly over [-1, 1]
		}
	}
	for _, name := range []string{"unsigned", "dense"} {
		code := customCodes()[name]
		want, wantA := make([]uint8, len(x)), make([]float32, numBlocks(len(x), 256))
		quantizeBlockwiseRef(want, wantA, x, code, 256)
		for range 2 {
			got, gotA := quant8(t, x, code, 256, Options{})
			sameBytes(t, name+" codes", got, want)
			sameBits32(t, name+" absmax", gotA, wantA)
		}
		if codeDecider(code, 0) == nil {
			t.Errorf("%s: decider not cached", name)
		}
	}
}

func FuzzBlockwiseFastMatchesReference(f *testing.F) {
	f.Add([]byte{0, 0, 128, 63, 0, 0, 0, 191}, uint8(0))
	f.Fuzz(func(t *testing.T, raw []byte, sel uint8) {
		x := make([]float32, len(raw)/4)
		for i := range x {
			x[i] = math.Float32frombits(uint32(raw[4*i]) | uint32(raw[4*i+1])<<8 | uint32(raw[4*i+2])<<16 | uint32(raw[4*i+3])<<24)
		}
		bs := blockSizes8[int(sel)%len(blockSizes8)]
		opt := Options{AllowNonFinite: true}
		got, gotA := quant8(t, x, nil, bs, opt)
		want, wantA := make([]uint8, len(x)), make([]float32, numBlocks(len(x), bs))
		signed := DynamicCode(true)
		quantizeBlockwiseRef(want, wantA, x, &signed, bs)
		if !bytes.Equal(got, want) || !equalBits(gotA, wantA) {
			t.Fatalf("8-bit mismatch for %v", x)
		}
		for _, typ := range []FourBitType{NF4, FP4} {
			got, gotA := quant4(t, x, typ, bs, opt)
			want, wantA := make([]uint8, (len(x)+1)/2), make([]float32, numBlocks(len(x), bs))
			quantize4BitRef(want, wantA, x, typ, bs)
			if !bytes.Equal(got, want) || !equalBits(gotA, wantA) {
				t.Fatalf("%s mismatch for %v", typ, x)
			}
		}
	})
}

func equalBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// TestZeroBlocks: an all-zero (or all -0.0) block gets code 0 everywhere and
// absmax 0 (CUDA), and dequantizes to zeros; a zero in a non-zero block gets
// the zero code.
func TestZeroBlocks(t *testing.T) {
	negZero := float32(math.Copysign(0, -1))
	x := make([]float32, 3*64)
	for i := 64; i < 128; i++ {
		x[i] = negZero
	}
	x[128+5] = 0.5 // third block: non-zero, with zeros around
	codes, absmax := quant8(t, x, nil, 64, Options{})
	for i := 0; i < 128; i++ {
		if codes[i] != 0 {
			t.Fatalf("8-bit zero block: code[%d] = %d, want 0", i, codes[i])
		}
	}
	if codes[128] != 127 || codes[133] != 255 {
		t.Errorf("8-bit: zero in a non-zero block got %d, 0.5 (the max) got %d", codes[128], codes[133])
	}
	if absmax[0] != 0 || absmax[1] != 0 || absmax[2] != 0.5 {
		t.Errorf("absmax %v", absmax)
	}
	y := dequant8(t, codes, absmax, nil, 64)
	for i := 0; i < 128; i++ {
		if y[i] != 0 {
			t.Fatalf("dequantized zero block: y[%d] = %v", i, y[i])
		}
	}
	for _, typ := range []FourBitType{NF4, FP4} {
		packed, absmax := quant4(t, x, typ, 64, Options{})
		for i := 0; i < 64; i++ {
			if packed[i] != 0 {
				t.Fatalf("%s zero blocks: byte %d = %#x, want 0", typ, i, packed[i])
			}
		}
		zero := byte(7)
		if typ == FP4 {
			zero = 0
		}
		if packed[64] != zero<<4|zero {
			t.Errorf("%s: zeros in a non-zero block packed as %#x", typ, packed[64])
		}
		y := dequant4(t, packed, absmax, typ, 64, len(x))
		for i := 0; i < 128; i++ {
			if y[i] != 0 {
				t.Fatalf("%s dequantized zero block: y[%d] = %v", typ, i, y[i])
			}
		}
	}
	// -0.0 in a non-zero block: FP4 sign bit not set (x_n < 0 is false).
	packed, _ := quant4(t, []float32{negZero, 1}, FP4, 32, Options{})
	if packed[0] != 0x03 {
		t.Errorf("FP4 [-0, 1] packed %#x, want 0x03", packed[0])
	}
}

// TestOddLengthsAndPadding: the padding nibble is the code of 0.0 in the
// last block, and 0000 when that block is all zero.
func TestOddLengthsAndPadding(t *testing.T) {
	for _, c := range []struct {
		x        []float32
		nf4, fp4 byte
	}{
		{[]float32{1}, 0xf7, 0x30},
		{[]float32{-1, 0.5, 0.25}, 0x0c<<4 | 0x0a, 0x0b<<4 | 0x05}, // checked below via the last byte only
		{[]float32{0, 0, 0}, 0x00, 0x00},
	} {
		for _, typ := range []FourBitType{NF4, FP4} {
			packed, _ := quant4(t, c.x, typ, 64, Options{})
			last := packed[len(packed)-1]
			pad := last & 0x0F
			want := byte(7)
			if typ == FP4 {
				want = 0
			}
			allZero := true
			for _, v := range c.x {
				allZero = allZero && v == 0
			}
			if allZero {
				want = 0
			}
			if pad != want {
				t.Errorf("%s %v: padding nibble %04b, want %04b", typ, c.x, pad, want)
			}
		}
	}
	// A partial last block after full ones, odd n: padding follows the last
	// block, not the first.
	x := make([]float32, 64+33)
	x[0] = 1
	packed, _ := quant4(t, x, NF4, 64, Options{})
	if packed[len(packed)-1] != 0x00 {
		t.Errorf("all-zero partial last block: last byte %#x, want 0", packed[len(packed)-1])
	}
	x[70] = -0.5
	packed, _ = quant4(t, x, NF4, 64, Options{})
	if packed[len(packed)-1] != 0x77 {
		t.Errorf("non-zero partial last block: last byte %#x, want 0x77", packed[len(packed)-1])
	}
}

// TestNonFinite: rejected by default with the first offending index; with
// AllowNonFinite, CUDA semantics.
func TestBlockwiseNonFinite(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	x := make([]float32, 200)
	for i := range x {
		x[i] = float32(i%13) / 13
	}
	x[150], x[170] = inf, nan
	var ne *BlockwiseNonFiniteError
	codes, absmax := make([]uint8, 200), make([]float32, 4)
	err := QuantizeBlockwise(codes, absmax, F32Input(x), nil, 64, Options{Threads: 3})
	if !errors.As(err, &ne) || ne.Index != 150 || ne.Block != 2 || !math.IsInf(float64(ne.Value), 1) {
		t.Fatalf("8-bit: %v", err)
	}
	if !strings.HasPrefix(err.Error(), "quant: x: element 150 (block 2) is +Inf") {
		t.Errorf("message %q", err)
	}
	packed := make([]uint8, 100)
	err = Quantize4Bit(packed, absmax, F16Input(make([]uint16, 197)), NF4, 64, Options{}) // wrong length first
	var ae *ArgumentError
	if !errors.As(err, &ae) || ae.Arg != "packed" {
		t.Fatalf("length check: %v", err)
	}
	h := make([]uint16, 200)
	h[99] = 0x7E00 // NaN
	err = Quantize4Bit(packed, absmax, F16Input(h), FP4, 64, Options{})
	if !errors.As(err, &ne) || ne.Index != 99 || ne.Format != "fp4" {
		t.Fatalf("4-bit f16: %v", err)
	}

	// CUDA semantics.
	opt := Options{AllowNonFinite: true}
	y := []float32{
		// block 0: NaN among values: ignored by absmax, code 0
		0.5, nan, -0.25, 0.125,
		// block 1: +Inf: absmax Inf, finite values get the zero code, Inf code 0
		0.5, inf, -0.25, 0,
		// block 2: all NaN (full): absmax -MaxFloat32, codes 0
		nan, nan, nan, nan,
		// block 3: all NaN (partial): absmax 0 (the kernel's padding zeros)
		nan, nan,
	}
	const bs = 4 // below the public minimum: use the reference path directly via a 32-block layout
	_ = bs
	blocks := [][]float32{y[0:4], y[4:8], y[8:12], y[12:14]}
	for bi, blk := range blocks {
		xb := make([]float32, 0, 32)
		xb = append(xb, blk...)
		if bi < 3 { // full blocks of 32: repeat the pattern
			for len(xb) < 32 {
				xb = append(xb, blk...)
			}
		}
		codes, absmax := quant8(t, xb, nil, 32, opt)
		switch bi {
		case 0:
			if absmax[0] != 0.5 || codes[1] != 0 || codes[0] != 255 {
				t.Errorf("NaN in block: absmax %v codes %v", absmax[0], codes[:4])
			}
		case 1:
			if !math.IsInf(float64(absmax[0]), 1) || codes[1] != 0 || codes[0] != 127 || codes[2] != 127 || codes[3] != 127 {
				t.Errorf("Inf in block: absmax %v codes %v", absmax[0], codes[:4])
			}
			out := dequant8(t, codes, absmax, nil, 32)
			if !math.IsInf(float64(out[0]), 0) && !math.IsNaN(float64(out[0])) {
				t.Errorf("Inf block dequantized to %v", out[0])
			}
		case 2:
			if absmax[0] != -math.MaxFloat32 || codes[0] != 0 {
				t.Errorf("all-NaN full block: absmax %v codes %v", absmax[0], codes[:4])
			}
		case 3:
			if absmax[0] != 0 || codes[0] != 0 || codes[1] != 0 {
				t.Errorf("all-NaN partial block: absmax %v codes %v", absmax[0], codes)
			}
		}
		for _, typ := range []FourBitType{NF4, FP4} {
			p, a := quant4(t, xb, typ, 32, opt)
			if math.Float32bits(a[0]) != math.Float32bits(absmax[0]) {
				t.Errorf("%s block %d: absmax %v, 8-bit %v", typ, bi, a[0], absmax[0])
			}
			if bi == 0 && p[0]&0x0F != 0 {
				t.Errorf("%s: NaN got code %04b, want 0", typ, p[0]&0x0F)
			}
		}
	}
}

// TestHalfInputsAndOutputs: float16/bfloat16 inputs quantize as their exact
// float32 widening; half outputs are the float32 results rounded to nearest
// even.
func TestHalfInputsAndOutputs(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	n := 3*chunkElements + 77
	h, bh := make([]uint16, n), make([]uint16, n)
	wh, wb := make([]float32, n), make([]float32, n)
	for i := range h {
		v := float32(rng.NormFloat64() * 0.03)
		h[i], bh[i] = F32ToF16(v), F32ToBF16(v)
		wh[i], wb[i] = F16ToF32(h[i]), BF16ToF32(bh[i])
	}
	for _, c := range []struct {
		in   Input
		wide []float32
	}{{F16Input(h), wh}, {BF16Input(bh), wb}} {
		codes, absmax := make([]uint8, n), make([]float32, numBlocks(n, 256))
		if err := QuantizeBlockwise(codes, absmax, c.in, nil, 256, Options{}); err != nil {
			t.Fatal(err)
		}
		wc, wa := quant8(t, c.wide, nil, 256, Options{})
		sameBytes(t, "8-bit half input", codes, wc)
		sameBits32(t, "8-bit half input absmax", absmax, wa)
		packed, a4 := make([]uint8, (n+1)/2), make([]float32, numBlocks(n, 64))
		if err := Quantize4Bit(packed, a4, c.in, NF4, 64, Options{}); err != nil {
			t.Fatal(err)
		}
		wp, wa4 := quant4(t, c.wide, NF4, 64, Options{})
		sameBytes(t, "NF4 half input", packed, wp)
		sameBits32(t, "NF4 half input absmax", a4, wa4)
	}

	x := randomBnb(rng, n)
	codes, absmax := quant8(t, x, nil, 128, Options{})
	y32 := dequant8(t, codes, absmax, nil, 128)
	packed, a4 := quant4(t, x, FP4, 128, Options{})
	y4 := dequant4(t, packed, a4, FP4, 128, n)
	for _, conv := range []struct {
		name string
		out  func([]uint16) Output
		f    func(float32) uint16
	}{{"f16", F16Output, F32ToF16}, {"bf16", BF16Output, F32ToBF16}} {
		got := make([]uint16, n)
		if err := DequantizeBlockwise(conv.out(got), codes, absmax, nil, 128, Options{}); err != nil {
			t.Fatal(err)
		}
		got4 := make([]uint16, n)
		if err := Dequantize4Bit(conv.out(got4), packed, a4, FP4, 128, Options{}); err != nil {
			t.Fatal(err)
		}
		for i := range got {
			if got[i] != conv.f(y32[i]) || got4[i] != conv.f(y4[i]) {
				t.Fatalf("%s output %d: %04x / %04x, want %04x / %04x", conv.name, i, got[i], got4[i], conv.f(y32[i]), conv.f(y4[i]))
			}
		}
	}
}

// TestBlockwiseThreadInvariance: outputs never depend on the thread count.
func TestBlockwiseThreadInvariance(t *testing.T) {
	rng := rand.New(rand.NewPCG(43, 44))
	x := randomBnb(rng, 5*chunkElements+4097)
	for _, bs := range []int{64, 4096} {
		c1, a1 := quant8(t, x, nil, bs, Options{Threads: 1})
		p1, b1 := quant4(t, x, NF4, bs, Options{Threads: 1})
		y1 := dequant4(t, p1, b1, NF4, bs, len(x))
		for _, th := range []int{0, 2, 3, 8, 64} {
			c, a := quant8(t, x, nil, bs, Options{Threads: th})
			p, b := quant4(t, x, NF4, bs, Options{Threads: th})
			sameBytes(t, fmt.Sprintf("codes threads=%d", th), c, c1)
			sameBits32(t, fmt.Sprintf("absmax threads=%d", th), a, a1)
			sameBytes(t, fmt.Sprintf("packed threads=%d", th), p, p1)
			sameBits32(t, fmt.Sprintf("absmax4 threads=%d", th), b, b1)
			y := make([]float32, len(x))
			if err := Dequantize4Bit(F32Output(y), p, b, NF4, bs, Options{Threads: th}); err != nil {
				t.Fatal(err)
			}
			sameBits32(t, fmt.Sprintf("deq threads=%d", th), y, y1)
		}
	}
}

// maxHalfGap is the largest distance from a value in [-1, 1] to its nearest
// table entry: half the largest gap, or the distance from ±1 to the ends.
func maxHalfGap(t []float32) float64 {
	s := append([]float32(nil), t...)
	sortFloats(s)
	g := math.Max(float64(s[0])+1, 1-float64(s[len(s)-1]))
	for i := 1; i < len(s); i++ {
		g = math.Max(g, float64(s[i]-s[i-1])/2)
	}
	return g
}

// TestRoundTripErrorBound: |x - y| ≤ (half the largest gap of the table) ×
// absmax of the block, up to float32 rounding.
func TestRoundTripErrorBound(t *testing.T) {
	rng := rand.New(rand.NewPCG(45, 46))
	x := make([]float32, 64*2000)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * math.Pow(10, float64(i/64%12-6)))
	}
	check := func(name string, y []float32, absmax []float32, bs int, gap float64) {
		for i := range x {
			a := float64(absmax[i/bs])
			tol := gap*a*(1+1e-5) + 1e-45
			if d := math.Abs(float64(x[i]) - float64(y[i])); d > tol {
				t.Fatalf("%s: element %d: |%v - %v| = %v > %v", name, i, x[i], y[i], d, tol)
			}
		}
	}
	for _, bs := range []int{64, 256, 4096} {
		signed := DynamicCode(true)
		codes, absmax := quant8(t, x, nil, bs, Options{})
		check(fmt.Sprintf("8-bit bs%d", bs), dequant8(t, codes, absmax, nil, bs), absmax, bs, maxHalfGap(signed[:]))
		for _, typ := range []FourBitType{NF4, FP4} {
			packed, a := quant4(t, x, typ, bs, Options{})
			table := typ.QuantMap()
			check(fmt.Sprintf("%s bs%d", typ, bs), dequant4(t, packed, a, typ, bs, len(x)), a, bs, maxHalfGap(table[:]))
		}
	}
}

// TestIdempotence: values that are already table entries times the block
// absmax quantize back to the same codes and absmax (every block holds the
// code of 1.0, so its absmax survives; FP4 code 1000, -0.0, comes back as
// 0000).
func TestIdempotence(t *testing.T) {
	rng := rand.New(rand.NewPCG(47, 48))
	const bs, nb = 64, 300
	absmax := make([]float32, nb)
	for b := range absmax {
		absmax[b] = float32(math.Ldexp(1+rng.Float64(), rng.IntN(40)-20))
	}
	codes := make([]uint8, bs*nb)
	for i := range codes {
		codes[i] = uint8(rng.IntN(256))
		if i%bs == 7 {
			codes[i] = 255 // 1.0
		}
	}
	y := dequant8(t, codes, absmax, nil, bs)
	c2, a2 := quant8(t, y, nil, bs, Options{})
	sameBytes(t, "8-bit codes", c2, codes)
	sameBits32(t, "8-bit absmax", a2, absmax)
	for _, typ := range []FourBitType{NF4, FP4} {
		one := byte(15)
		if typ == FP4 {
			one = 3
		}
		packed := make([]uint8, bs*nb/2)
		for j := range packed {
			hi, lo := byte(rng.IntN(16)), byte(rng.IntN(16))
			if typ == FP4 && hi == 8 {
				hi = 0
			}
			if typ == FP4 && lo == 8 {
				lo = 0
			}
			if (2*j)%bs == 6 {
				hi = one
			}
			packed[j] = hi<<4 | lo
		}
		y := dequant4(t, packed, absmax, typ, bs, bs*nb)
		p2, a2 := quant4(t, y, typ, bs, Options{})
		sameBytes(t, typ.String()+" packed", p2, packed)
		sameBits32(t, typ.String()+" absmax", a2, absmax)
	}
}

func TestBlockwiseArgumentErrors(t *testing.T) {
	x := F32Input(make([]float32, 100))
	signed := DynamicCode(true)
	bad := signed
	bad[10] = float32(math.NaN())
	unsorted := signed
	unsorted[10], unsorted[11] = unsorted[11], unsorted[10]
	nf4 := FourBitType(NF4)
	cases := []struct {
		name string
		err  error
		arg  string
		msg  string
	}{
		{"blocksize", QuantizeBlockwise(make([]uint8, 100), make([]float32, 2), x, nil, 100, Options{}), "blocksize", "is 100; expected one of 32, 64"},
		{"blocksize 0", QuantizeBlockwise(make([]uint8, 100), make([]float32, 2), x, nil, 0, Options{}), "blocksize", "is 0"},
		{"code NaN", QuantizeBlockwise(make([]uint8, 100), make([]float32, 2), x, &bad, 64, Options{}), "code", "entry 10 is NaN"},
		{"code order", QuantizeBlockwise(make([]uint8, 100), make([]float32, 2), x, &unsorted, 64, Options{}), "code", "entry 11"},
		{"codes length", QuantizeBlockwise(make([]uint8, 99), make([]float32, 2), x, nil, 64, Options{}), "codes", "has 99 entries; expected 100"},
		{"absmax length", QuantizeBlockwise(make([]uint8, 100), make([]float32, 1), x, nil, 64, Options{}), "absmax", "has 1 entries; expected 2"},
		{"imatrix", QuantizeBlockwise(make([]uint8, 100), make([]float32, 2), x, nil, 64, Options{Imatrix: []float32{1}}), "imatrix", "expected nil"},
		{"4-bit type", Quantize4Bit(make([]uint8, 50), make([]float32, 2), x, FourBitType(5), 64, Options{}), "quant_type", "is 5"},
		{"4-bit blocksize", Quantize4Bit(make([]uint8, 50), make([]float32, 2), x, nf4, 16, Options{}), "blocksize", "is 16"},
		{"4-bit packed", Quantize4Bit(make([]uint8, 51), make([]float32, 2), x, nf4, 64, Options{}), "packed", "has 51 bytes; expected 50"},
		{"4-bit absmax", Quantize4Bit(make([]uint8, 50), make([]float32, 3), x, nf4, 64, Options{}), "absmax", "has 3 entries; expected 2"},
		{"deq blocksize", DequantizeBlockwise(F32Output(make([]float32, 100)), make([]uint8, 100), make([]float32, 2), nil, -1, Options{}), "blocksize", "is -1"},
		{"deq code", DequantizeBlockwise(F32Output(make([]float32, 100)), make([]uint8, 100), make([]float32, 2), &bad, 64, Options{}), "code", "entry 10"},
		{"deq codes", DequantizeBlockwise(F32Output(make([]float32, 100)), make([]uint8, 10), make([]float32, 2), nil, 64, Options{}), "codes", "expected 100"},
		{"deq absmax", DequantizeBlockwise(F32Output(make([]float32, 100)), make([]uint8, 100), make([]float32, 4), nil, 64, Options{}), "absmax", "expected 2"},
		{"deq4 packed", Dequantize4Bit(F16Output(make([]uint16, 101)), make([]uint8, 50), make([]float32, 2), nf4, 64, Options{}), "packed", "expected 51"},
		{"deq4 blocksize", Dequantize4Bit(F32Output(make([]float32, 100)), make([]uint8, 50), make([]float32, 2), nf4, 100, Options{}), "blocksize", "is 100"},
		{"nested blocksize", QuantizeNested(make([]uint8, 4), make([]float32, 1), make([]float32, 4), 0, 255, Options{}), "nested_blocksize", "is 255"},
		{"nested codes", QuantizeNested(make([]uint8, 3), make([]float32, 1), make([]float32, 4), 0, 256, Options{}), "codes", "expected 4"},
		{"nested absmax", QuantizeNested(make([]uint8, 4), make([]float32, 2), make([]float32, 4), 0, 256, Options{}), "nested_absmax", "expected 1"},
		{"nested offset", QuantizeNested(make([]uint8, 4), make([]float32, 1), make([]float32, 4), float32(math.Inf(1)), 256, Options{}), "offset", "is +Inf"},
		{"nested NaN", QuantizeNested(make([]uint8, 4), make([]float32, 1), []float32{1, float32(math.NaN()), 2, 3}, 1, 256, Options{}), "absmax", "entry 1 is NaN"},
		{"denested blocksize", DequantizeNested(make([]float32, 4), make([]uint8, 4), make([]float32, 1), 0, nil, 0), "nested_blocksize", "is 0"},
		{"denested lengths", DequantizeNested(make([]float32, 4), make([]uint8, 4), make([]float32, 2), 0, nil, 256), "nested_absmax", "expected 1"},
	}
	for _, c := range cases {
		var ae *ArgumentError
		if !errors.As(c.err, &ae) {
			t.Errorf("%s: %v is not an *ArgumentError", c.name, c.err)
			continue
		}
		if ae.Arg != c.arg || !strings.Contains(ae.Msg, c.msg) || !strings.HasPrefix(c.err.Error(), "quant: "+c.arg+": ") {
			t.Errorf("%s: got %q, want arg %q and %q", c.name, c.err, c.arg, c.msg)
		}
	}
	// Empty input: valid, nothing written.
	if err := QuantizeBlockwise(nil, nil, F32Input(nil), nil, 64, Options{}); err != nil {
		t.Error(err)
	}
	if err := Quantize4Bit(nil, nil, BF16Input(nil), FP4, 64, Options{}); err != nil {
		t.Error(err)
	}
	if err := Dequantize4Bit(F32Output(nil), nil, nil, NF4, 64, Options{}); err != nil {
		t.Error(err)
	}
	// Dequantization accepts any positive block size (bitsandbytes' CPU
	// backend writes such states) and unsorted stored maps.
	y := make([]float32, 10)
	if err := DequantizeBlockwise(F32Output(y), make([]uint8, 10), make([]float32, 4), &unsorted, 3, Options{}); err != nil {
		t.Error(err)
	}
}

func TestBlockwiseCancelAndProgress(t *testing.T) {
	rng := rand.New(rand.NewPCG(49, 50))
	x := randomBnb(rng, 10*decodeChunk+5) // ten chunks of the decoders, more of the encoders
	var done atomic.Int64
	opt := Options{Threads: 2, Progress: func(n int) { done.Add(int64(n)) }}
	quant8(t, x, nil, 256, opt)
	quant4(t, x, NF4, 256, opt)
	if done.Load() != 2*int64(len(x)) {
		t.Errorf("progress reported %d elements, want %d", done.Load(), 2*len(x))
	}
	var calls atomic.Int64
	cancel := Options{Threads: 2, Cancelled: func() bool { return calls.Add(1) > 3 }}
	err := QuantizeBlockwise(make([]uint8, len(x)), make([]float32, numBlocks(len(x), 256)), F32Input(x), nil, 256, cancel)
	if !errors.Is(err, ErrCancelled) {
		t.Errorf("8-bit: %v, want ErrCancelled", err)
	}
	calls.Store(0)
	err = Dequantize4Bit(F32Output(make([]float32, len(x))), make([]uint8, (len(x)+1)/2), make([]float32, numBlocks(len(x), 256)), NF4, 256, cancel)
	if !errors.Is(err, ErrCancelled) {
		t.Errorf("4-bit dequantize: %v, want ErrCancelled", err)
	}
}

// TestNestedRoundTrip: double quantization of a real absmax vector (the
// reconstruction is within the 8-bit error bound of the centered values) and
// NestedOffset's documented summation.
func TestNestedRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(51, 52))
	x := randomBnb(rng, 64*1000+3)
	_, absmax := quant4(t, x, NF4, 64, Options{})
	off := NestedOffset(absmax)
	var s float64
	for _, a := range absmax {
		s += float64(a)
	}
	if off != float32(s/float64(len(absmax))) {
		t.Fatalf("offset %v", off)
	}
	nb := numBlocks(len(absmax), 256)
	qa, na := make([]uint8, len(absmax)), make([]float32, nb)
	if err := QuantizeNested(qa, na, absmax, off, 256, Options{}); err != nil {
		t.Fatal(err)
	}
	rebuilt := make([]float32, len(absmax))
	if err := DequantizeNested(rebuilt, qa, na, off, nil, 256); err != nil {
		t.Fatal(err)
	}
	signed := DynamicCode(true)
	gap := maxHalfGap(signed[:])
	for i, a := range absmax {
		want := float32(signed[qa[i]]*na[i/256]) + off
		if math.Float32bits(rebuilt[i]) != math.Float32bits(want) {
			t.Fatalf("rebuilt[%d] = %v, want %v", i, rebuilt[i], want)
		}
		if d := math.Abs(float64(rebuilt[i]) - float64(a)); d > gap*float64(na[i/256])*1.0001+1e-6*float64(a) {
			t.Fatalf("absmax %d: %v rebuilt as %v", i, a, rebuilt[i])
		}
	}
	if NestedOffset(nil) != 0 {
		t.Error("offset of nothing")
	}
}
