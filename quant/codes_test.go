package quant

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
	"math/big"
	"sort"
	"strconv"
	"testing"
)

// fma32 is f32(a*b + c) with a single rounding, computed exactly.
func fma32(a, b, c float32) float32 {
	p := new(big.Float).SetPrec(256).SetFloat64(float64(a))
	p.Mul(p, new(big.Float).SetPrec(256).SetFloat64(float64(b)))
	p.Add(p, new(big.Float).SetPrec(256).SetFloat64(float64(c)))
	f, _ := p.Float32()
	return f
}

// linspace32 is torch.linspace(start, end, k, dtype=float32) as spec §1.2
// measured it: the first half counts up from start, the second half down
// from end, each point with one fused rounding.
func linspace32(start, end float32, k int) []float32 {
	step := (end - start) / float32(k-1)
	out := make([]float32, k)
	for j := range out {
		if j < k/2 {
			out[j] = fma32(step, float32(j), start)
		} else {
			out[j] = fma32(-step, float32(k-1-j), end)
		}
	}
	return out
}

// dynamicMapConstruction is create_dynamic_map(signed) with default
// parameters, evaluated as spec §1.1–§1.2 describe.
func dynamicMapConstruction(signed bool) [256]float32 {
	const maxExp, totalBits = 7, 8
	nsb := totalBits - 1
	var vals []float32
	for i := 0; i < maxExp; i++ {
		k := 1<<(i+nsb-maxExp) + 1
		if !signed {
			k = 1<<(i+nsb-maxExp+1) + 1
		}
		b := linspace32(float32(0.1), 1, k)
		scale := float32(math.Pow10(i - (maxExp - 1)))
		for j := 0; j+1 < k; j++ {
			mean := (b[j] + b[j+1]) / 2
			v := mean * scale
			vals = append(vals, v)
			if signed {
				vals = append(vals, -v)
			}
		}
	}
	// extra = 2^(nsb - maxExp) - 1 = 0: no extra group with the defaults.
	vals = append(vals, 0, 1)
	sort.Slice(vals, func(i, j int) bool { return vals[i] < vals[j] })
	var t [256]float32
	if copy(t[:], vals) != 256 || len(vals) != 256 {
		panic("dynamic map construction does not have 256 entries")
	}
	return t
}

func bitsOf(f []float32) []uint32 {
	out := make([]uint32, len(f))
	for i, v := range f {
		out[i] = math.Float32bits(v)
	}
	return out
}

func sha256Floats(f []float32) string {
	b := make([]byte, 0, 4*len(f))
	for _, v := range f {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestDynamicCodeConstruction(t *testing.T) {
	// The decade scales of spec §1.1 step 4.
	wantScales := []uint32{0x358637bd, 0x3727c5ac, 0x38d1b717, 0x3a83126f, 0x3c23d70a, 0x3dcccccd, 0x3f800000}
	for i, w := range wantScales {
		if got := math.Float32bits(float32(math.Pow10(i - 6))); got != w {
			t.Errorf("scale %d = %08x, want %08x", i, got, w)
		}
	}
	for _, signed := range []bool{true, false} {
		got, want := DynamicCode(signed), dynamicMapConstruction(signed)
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Errorf("signed=%v: entry %d = %08x, construction gives %08x", signed, i, math.Float32bits(got[i]), math.Float32bits(want[i]))
			}
		}
	}
}

func TestDynamicCodeProperties(t *testing.T) {
	s, u := DynamicCode(true), DynamicCode(false)
	if h := sha256Floats(s[:]); h != "e732639a65f497b4ad684bb166a4467708255edd5207757de8b8f0c7e1fda89c" {
		t.Errorf("signed SHA-256 %s", h)
	}
	if h := sha256Floats(u[:]); h != "305f002cc11278fb769d13b25b9fd0c7c83c8402c40a878fe086f4039fde6398" {
		t.Errorf("unsigned SHA-256 %s", h)
	}
	for name, c := range map[string][256]float32{"signed": s, "unsigned": u} {
		for i := 1; i < 256; i++ {
			if !(c[i-1] < c[i]) {
				t.Errorf("%s: entries %d, %d not strictly ascending", name, i-1, i)
			}
		}
	}
	count := func(c [256]float32, f func(float32) bool) int {
		n := 0
		for _, v := range c {
			if f(v) {
				n++
			}
		}
		return n
	}
	neg := func(v float32) bool { return v < 0 }
	pos := func(v float32) bool { return v > 0 }
	if s[127] != 0 || count(s, neg) != 127 || count(s, pos) != 128 {
		t.Errorf("signed: zero at 127 %v, %d negatives, %d positives", s[127], count(s, neg), count(s, pos))
	}
	if u[0] != 0 || count(u, neg) != 0 || count(u, pos) != 255 {
		t.Errorf("unsigned: zero at 0 %v, %d negatives, %d positives", u[0], count(u, neg), count(u, pos))
	}
	checks := []struct {
		name string
		got  float32
		want uint32
	}{
		{"signed min", s[0], 0xbf7e3333}, {"signed max", s[255], 0x3f800000},
		{"signed second largest", s[254], 0x3f7e3333}, {"signed smallest positive", s[128], 0x3513a3b7},
		{"unsigned max", u[255], 0x3f800000}, {"unsigned second largest", u[254], 0x3f7f199a},
		{"unsigned smallest positive", u[1], 0x34ae7baa},
	}
	for _, c := range checks {
		if math.Float32bits(c.got) != c.want {
			t.Errorf("%s = %08x, want %08x", c.name, math.Float32bits(c.got), c.want)
		}
	}
	// Entries per decade (1e-7, 1e-6], …, (0.1, 1) per sign.
	for name, c := range map[string][256]float32{"signed": s, "unsigned": u} {
		per := 1
		if name == "unsigned" {
			per = 2
		}
		for d := 0; d < 7; d++ {
			lo, hi := math.Pow10(d-7), math.Pow10(d-6)
			n := count(c, func(v float32) bool { return float64(v) > lo && float64(v) < hi })
			if n != per<<d {
				t.Errorf("%s: %d entries in (%g, %g), want %d", name, n, lo, hi, per<<d)
			}
		}
	}
	// Exact-math description within one ulp: the j-th mean of decade i is
	// 10^(i-6) (0.1 + 0.9 (2j+1) / (2 (k_i - 1))).
	var exact []float64
	for i := 0; i < 7; i++ {
		k := 1<<i + 1
		for j := 0; j+1 < k; j++ {
			exact = append(exact, math.Pow10(i-6)*(0.1+0.9*float64(2*j+1)/float64(2*(k-1))))
		}
	}
	sort.Float64s(exact)
	for j, e := range exact {
		if got := s[128+j]; !withinUlps(got, float32(e), 1) {
			t.Errorf("signed entry %d = %v, exact mean %v", 128+j, got, e)
		}
	}
}

// normPPF is the standard normal quantile function.
func normPPF(p float64) float64 { return math.Sqrt2 * math.Erfinv(2*p-1) }

// TestNF4Construction rebuilds NF4 as create_normal_map(offset=0.9677083)
// does: 8 positive quantiles from a float32 linspace of 9 points from the
// offset to 0.5 (last dropped), 7 negative ones from 8 points, each rounded
// to float32, plus zero; sorted and divided by the largest in float32.
func TestNF4Construction(t *testing.T) {
	offset := float32(0.9677083)
	var v []float32
	for _, p := range linspace32(offset, 0.5, 9)[:8] {
		v = append(v, float32(normPPF(float64(p))))
	}
	for _, p := range linspace32(offset, 0.5, 8)[:7] {
		v = append(v, float32(-normPPF(float64(p))))
	}
	v = append(v, 0)
	sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
	top := v[15]
	got := NF4.QuantMap()
	for i := range v {
		if want := v[i] / top; math.Float32bits(got[i]) != math.Float32bits(want) {
			t.Errorf("NF4 code %d = %v (%08x), construction %v (%08x)", i, got[i], math.Float32bits(got[i]), want, math.Float32bits(want))
		}
	}
}

// TestNF4Thresholds: the CUDA constants are the double-precision midpoints
// of neighbouring NF4 values, printed as the shortest decimal that
// round-trips in double and compiled as float literals (decimal → float32).
func TestNF4Thresholds(t *testing.T) {
	c := NF4.QuantMap()
	offByOne := 0
	for k := range nf4Thresholds {
		mid := (float64(c[k]) + float64(c[k+1])) / 2
		lit := strconv.FormatFloat(mid, 'g', -1, 64)
		f, err := strconv.ParseFloat(lit, 32)
		if err != nil {
			t.Fatal(err)
		}
		if got := math.Float32frombits(nf4Thresholds[k]); got != float32(f) {
			t.Errorf("threshold %d = %v, literal %s gives %v", k, got, lit, float32(f))
		}
		t32 := math.Float32frombits(nf4Thresholds[k])
		if !(c[k] < t32 && t32 < c[k+1]) {
			t.Errorf("threshold %d = %v not between %v and %v", k, t32, c[k], c[k+1])
		}
		if t32 != (c[k]+c[k+1])/2 {
			offByOne++
		}
	}
	if offByOne != 4 { // spec §3.3: k = 0, 8, 12, 14
		t.Errorf("%d thresholds differ from the float32 midpoint, want 4", offByOne)
	}
}

func TestFP4Table(t *testing.T) {
	q := FP4.QuantMap()
	for code := 0; code < 16; code++ {
		m := code & 7
		e, man := m>>1, m&1
		mag := float64(man) / 16 // subnormal: M · 2^-4
		if e != 0 {
			mag = (1 + float64(man)/2) * math.Pow(2, float64(4-e))
		}
		want := float32(mag) / 12
		if code&8 != 0 {
			want = -want
		}
		if code == 8 {
			want = 0 // quant_map holds +0.0
		}
		if math.Float32bits(q[code]) != math.Float32bits(want) {
			t.Errorf("FP4 code %04b = %v (%08x), want %v", code, q[code], math.Float32bits(q[code]), want)
		}
	}
	if math.Float32bits(fp4DequantTable[8]) != 0x80000000 {
		t.Errorf("CUDA dequant table code 8 = %08x, want -0.0", math.Float32bits(fp4DequantTable[8]))
	}
	// The CUDA kernel's lookup table literals give the same values.
	for m, lit := range []string{"0.0", "0.005208333333", "0.66666667", "1.0", "0.33333333", "0.5", "0.16666667", "0.25"} {
		f, _ := strconv.ParseFloat(lit, 32)
		if float32(f) != q[m] {
			t.Errorf("FP4 magnitude %03b: literal %s = %v, table %v", m, lit, float32(f), q[m])
		}
	}
	// Magnitude order and thresholds: the CUDA float literals, each between
	// its two magnitudes and close to their midpoint.
	lits := []string{"0.00260417", "0.0859375", "0.20833333", "0.29166667", "0.4166667", "0.583333", "0.8333333"}
	for k, lit := range lits {
		f, _ := strconv.ParseFloat(lit, 32)
		tk := math.Float32frombits(fp4Thresholds[k])
		if tk != float32(f) {
			t.Errorf("FP4 threshold %d = %v, literal %s gives %v", k, tk, lit, float32(f))
		}
		lo, hi := q[fp4MagnitudeOrder[k]], q[fp4MagnitudeOrder[k+1]]
		if !(lo < hi && lo < tk && tk < hi && withinUlps(tk, (lo+hi)/2, 16)) {
			t.Errorf("FP4 threshold %d = %v vs magnitudes %v, %v", k, tk, lo, hi)
		}
	}
}

func TestFourBitTypeNames(t *testing.T) {
	for _, typ := range []FourBitType{NF4, FP4} {
		got, err := ParseFourBitType(typ.String())
		if err != nil || got != typ {
			t.Errorf("ParseFourBitType(%q) = %v, %v", typ.String(), got, err)
		}
	}
	if _, err := ParseFourBitType("int4"); err == nil {
		t.Error("int4 accepted")
	}
	if s := FourBitType(7).String(); s != "FourBitType(7)" {
		t.Errorf("String = %q", s)
	}
}
