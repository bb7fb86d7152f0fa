package quant

import (
	"math"
	"math/bits"
)

// The 4-bit float (E2M1) types MXFP4 and NVFP4: transcriptions of ggml's
// quantize_row_mxfp4_ref, quantize_row_nvfp4_ref, dequantize_row_mxfp4 and
// dequantize_row_nvfp4 (ggml/src/ggml-quants.c of the pinned llama.cpp) and
// of the scale conversions of ggml-impl.h. ggml's quantize_mxfp4 and
// quantize_nvfp4 ignore the importance matrix, and so do these.
//
//	MXFP4 block (17 bytes per 32): e (E8M0), qs[16]
//	NVFP4 block (36 bytes per 64): d[4] (UE4M3, one per 16), qs[32]
//
// In a group of 2h elements (h = 16 for MXFP4, 8 per NVFP4 sub-block) byte
// j holds the code of element j in its low nibble and of element j+h in its
// high nibble. A code c stands for kvaluesFP4[c]·d, where kvaluesFP4 is
// twice the E2M1 value and d half the scale.

const (
	mxfp4Len = 17
	nvfp4Len = 36
)

// kvaluesFP4 is ggml's kvalues_mxfp4: 2 × the E2M1 values of the 16 codes.
var kvaluesFP4 = [16]int8{0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12}

// bestIndexFP4Ref is ggml's best_index_mxfp4: the first code whose value
// kvaluesFP4[i]·e is nearest to x (the error |k·e − x| computed in float32,
// the product rounded on its own). bestIndexFP4 is its fast twin.
func bestIndexFP4Ref(x, e float32) uint8 {
	best := 0
	bestErr := abs32(float32(float32(kvaluesFP4[0])*e) - x)
	for i := 1; i < 16; i++ {
		err := abs32(float32(float32(kvaluesFP4[i])*e) - x)
		if err < bestErr {
			best, bestErr = i, err
		}
	}
	return uint8(best)
}

// fp4Magnitudes are the non-negative code values in code order (codes 0..7).
var fp4Magnitudes = [8]float32{0, 1, 2, 3, 4, 6, 8, 12}

// fp4Grid is the fast twin of bestIndexFP4Ref for one scale e: the code
// values k·e of the eight magnitudes, computed once per block.
//
// Why two candidates suffice: every product k·e is exact (k has at most 4
// significant bits and e is a power of two, or for NVFP4 has 4 significant
// bits, in the normal or subnormal range), so each error is the exact
// |k·e − x| rounded once, and rounding is monotonic. A negative code has
// the error of the positive code of the same magnitude for −x (round to
// nearest is symmetric), and on a tie the positive code and the smaller
// magnitude come first in code order, so the answer is the best magnitude
// for |x| (its code, or that code + 8 for x < 0, except magnitude 0, which
// is always code 0). Among the magnitudes below |x| the errors fall as the
// magnitude grows, and above |x| they rise; two magnitudes on the same side
// differ by at least e while the rounding error of a value ≤ 16e is at most
// 2^−20·e, so their rounded errors differ too. The first minimum is
// therefore the nearer (lower on a tie) of the two magnitudes around |x|.
// Outside those conditions (e = 0, |x| > 16e, 16e not finite) the grid
// hands the element to the reference.
type fp4Grid struct {
	v     [16]float32 // k·e for the eight magnitudes, then +Inf (the rest pads for index masks)
	vb    [8]int64    // their bits (non-negative floats order as their bits do)
	e     float32
	limit float32 // 16e, or −1 when the fast path never applies
	inv   float32 // 1/e when e is a normal power of two with a normal inverse (MXFP4), else 0
}

// fp4Below[n] is the largest magnitude index whose value (in units of e)
// is ≤ n, for n = 0 … 31 (the magnitudes are whole numbers of e).
var fp4Below = func() (t [32]int64) {
	for n := range t {
		for i, k := range fp4Magnitudes {
			if k <= float32(n) {
				t[n] = int64(i)
			}
		}
	}
	return
}()

func newFP4Grid(e float32) (g fp4Grid) {
	g.e = e
	for i, k := range fp4Magnitudes {
		g.v[i] = float32(k * e)
		g.vb[i] = int64(math.Float32bits(g.v[i]))
	}
	for i := 8; i < 16; i++ {
		g.v[i] = float32(math.Inf(1))
	}
	g.limit = 16 * e
	if !(e > 0) || g.limit > math.MaxFloat32 {
		g.limit = -1
	}
	if b := math.Float32bits(e); b&0x7FFFFF == 0 && b >= 0x00800000 && b < 0x7F000000 {
		g.inv = 1 / e // exact: a power of two in the normal range
	}
	return g
}

// mxfp4Grids and nvfp4Grids hold the grid of every E8M0 and UE4M3 scale
// byte (2 × 256 × 136 bytes), so that a block only looks its grid up.
var mxfp4Grids, nvfp4Grids = func() (m, n [256]fp4Grid) {
	for i := range m {
		m[i] = newFP4Grid(e8m0Half(uint8(i)))
		n[i] = newFP4Grid(ue4m3HalfTable[i])
	}
	return
}()

// best is bestIndexFP4Ref(x, g.e), without branches on the data: for
// non-negative floats (|x|, the magnitudes, the errors) a ≥ b exactly when
// bits(a) ≥ bits(b), so the comparisons are integer subtractions' signs.
func (g *fp4Grid) best(x float32) uint8 {
	a := abs32(x)
	if !(a <= g.limit) {
		return bestIndexFP4Ref(x, g.e)
	}
	ab := int64(math.Float32bits(a))
	// j: the largest magnitude ≤ a (v[0] = 0 always is); (ab − v) >> 63 is −1 when ab < v
	j := 7 + (ab-g.vb[1])>>63 + (ab-g.vb[2])>>63 + (ab-g.vb[3])>>63 + (ab-g.vb[4])>>63 +
		(ab-g.vb[5])>>63 + (ab-g.vb[6])>>63 + (ab-g.vb[7])>>63
	lo := int64(math.Float32bits(g.v[j&15]-a) &^ (1 << 31))
	hi := int64(math.Float32bits(g.v[(j+1)&15]-a) &^ (1 << 31)) // +Inf above magnitude 12
	j += (hi - lo) >> 63 & 1                                    // the upper one only when strictly nearer
	j += 8 * (int64(math.Float32bits(x)>>31) & ((j + 7) >> 3))
	return uint8(j)
}

// pack writes the codes of a group of 2h elements (x[:2h]) whose largest
// magnitude is amax into y[:h]: element j in the low nibble of byte j,
// element j+h in the high nibble. It is best, element by element, with the
// range check done once for the group.
func (g *fp4Grid) pack(y []byte, x []float32, h int, amax float32) {
	y, xs := y[:h], x[:2*h]
	if !(amax <= g.limit) {
		for j := range y {
			y[j] = g.best(xs[j]) | g.best(xs[j+h])<<4
		}
		return
	}
	if g.inv != 0 { // codePow2, written out for both nibbles
		inv, v, below := g.inv, &g.v, &fp4Below
		lo, hi := xs[:h], xs[h:2*h]
		for j := range y {
			xb0, xb1 := math.Float32bits(lo[j]), math.Float32bits(hi[j])
			a0, a1 := math.Float32frombits(xb0&^(1<<31)), math.Float32frombits(xb1&^(1<<31))
			i0, i1 := below[int32(a0*inv)&31], below[int32(a1*inv)&31]
			i0 += (int64(math.Float32bits(v[(i0+1)&15]-a0)&^(1<<31)) - int64(math.Float32bits(v[i0&15]-a0)&^(1<<31))) >> 63 & 1
			i1 += (int64(math.Float32bits(v[(i1+1)&15]-a1)&^(1<<31)) - int64(math.Float32bits(v[i1&15]-a1)&^(1<<31))) >> 63 & 1
			i0 += 8 * (int64(xb0>>31) & ((i0 + 7) >> 3))
			i1 += 8 * (int64(xb1>>31) & ((i1 + 7) >> 3))
			y[j] = uint8(i0) | uint8(i1)<<4
		}
		return
	}
	for j := range y {
		y[j] = uint8(g.code(xs[j])) | uint8(g.code(xs[j+h]))<<4
	}
}

// codePow2 is code for a power-of-two scale: |x|/e is then exact (or, below
// 2^−126, below 1 either way), so its integer part finds the largest
// magnitude ≤ |x| in a table.
func (g *fp4Grid) codePow2(x float32) int64 {
	xb := math.Float32bits(x)
	a := math.Float32frombits(xb &^ (1 << 31))
	i := fp4Below[int32(a*g.inv)&31]
	lo := int64(math.Float32bits(g.v[i&15]-a) &^ (1 << 31))
	hi := int64(math.Float32bits(g.v[(i+1)&15]-a) &^ (1 << 31))
	i += (hi - lo) >> 63 & 1
	return i + 8*(int64(xb>>31)&((i+7)>>3))
}

// code is best for an x with |x| ≤ g.limit.
func (g *fp4Grid) code(x float32) int64 {
	xb := math.Float32bits(x)
	ab := int64(xb &^ (1 << 31))
	vb := &g.vb
	// the largest magnitude ≤ |x| (v[0] = 0 always is); (ab − v) >> 63 is −1 when ab < v
	i := 7 + (ab-vb[1])>>63 + (ab-vb[2])>>63 + (ab-vb[3])>>63 + (ab-vb[4])>>63 +
		(ab-vb[5])>>63 + (ab-vb[6])>>63 + (ab-vb[7])>>63
	a := math.Float32frombits(uint32(ab))
	lo := int64(math.Float32bits(g.v[i&15]-a) &^ (1 << 31))
	hi := int64(math.Float32bits(g.v[(i+1)&15]-a) &^ (1 << 31)) // +Inf above magnitude 12
	i += (hi - lo) >> 63 & 1                                    // the upper one only when strictly nearer
	return i + 8*(int64(xb>>31)&((i+7)>>3))
}

// bestIndexFP4 is bestIndexFP4Ref through a one-off grid (for tests).
func bestIndexFP4(x, e float32) uint8 {
	g := newFP4Grid(e)
	return g.best(x)
}

// e8m0Half is ggml_e8m0_to_fp32_half: 2^(x−128), exact (subnormal for x < 2).
func e8m0Half(x uint8) float32 {
	if x < 2 {
		return math.Float32frombits(0x00200000 << x)
	}
	return math.Float32frombits(uint32(x-1) << 23)
}

// floorLog2f is floorf(log2f(x)) for a finite x > 0, with glibc's log2f,
// which rounds its result to float32: for the few largest floats below a
// power of two 2^k that rounding gives k itself (log2 of 2^k·(1−2^−24) is
// k − 8.6·10^−8, which rounds to k for |k| ≥ 3). Computing log2 in float64
// and rounding once to float32 makes the same choice: the float64 result is
// far closer to the true value than to any float32 rounding boundary.
// TestFloorLog2fThresholds checks it against libm's log2f at every power of
// two.
func floorLog2f(x float32) float32 {
	return float32(math.Floor(float64(float32(math.Log2(float64(x))))))
}

// log2fUp[k+149] is the bits of the smallest float x ≥ 2^(k−1) with
// floorLog2f(x) ≥ k, for k = −148 … 128 (0x7F800000 when there is none),
// found by bisection over floorLog2f, which is monotonic.
var log2fUp = func() (t [278]uint32) {
	for k := -148; k <= 128; k++ {
		lo := math.Float32bits(float32(math.Ldexp(1, k-1)))
		hi := uint32(0x7F800000)
		if k <= 127 {
			hi = math.Float32bits(float32(math.Ldexp(1, k)))
		}
		for lo < hi { // the first bits in [lo, hi] whose floorLog2f is ≥ k (hi if none)
			mid := lo + (hi-lo)/2
			if floorLog2f(math.Float32frombits(mid)) >= float32(k) {
				hi = mid
			} else {
				lo = mid + 1
			}
		}
		t[k+149] = lo
	}
	return t
}()

// floorLog2fFast is floorLog2f from the float's exponent: floor(log2 x)
// exactly, plus one where glibc's rounding reaches the next power of two;
// +Inf for +Inf (an infinite block maximum: its exponent byte is then
// (uint8_t)(int)∞ = 0, as x86-64 converts).
func floorLog2fFast(x float32) float32 {
	b := math.Float32bits(x)
	if b >= 0x7F800000 { // +Inf (floorf(log2f(∞)) = ∞), or NaN
		return x
	}
	k := int(b>>23) - 127
	if b < 0x00800000 { // subnormal
		k = bits.Len32(b) - 150
	}
	if b >= log2fUp[k+1+149] {
		k++
	}
	return float32(k)
}

// mxfp4Exponent is the E8M0 exponent ggml stores for a block whose largest
// magnitude is amax: (uint8_t)(floorf(log2f(amax)) − 2 + 127), the float →
// uint8 conversion done as x86-64 does it (through a 32-bit integer, keeping
// the low byte), 0 for an all-zero block.
func mxfp4Exponent(amax float32) uint8 {
	if !(amax > 0) {
		return 0
	}
	return uint8(truncToInt32(floorLog2fFast(amax) - 2 + 127))
}

// quantizeMXFP4 is encodeMXFP4 with the block maximum from absMaxBits and
// the codes from the scale's thresholds (mxfp4Thresholds, mxfp4Codes);
// blocks with a NaN, or beyond their scale's limit, take encodeMXFP4's
// fast path.
func quantizeMXFP4(dst []byte, src []float32, _ int, _ []float32) { quantizeMXFP4Checked(dst, src) }

// quantizeMXFP4Checked is quantizeMXFP4 reporting whether every value was
// finite (checkedEncoder), from the block maxima it computes anyway.
func quantizeMXFP4Checked(dst []byte, src []float32) (finite bool) {
	th := mxfp4Thresholds()
	var top uint32
	for b := 0; b < len(src)/32; b++ {
		x := src[b*32 : (b+1)*32 : (b+1)*32]
		y := dst[b*mxfp4Len : (b+1)*mxfp4Len : (b+1)*mxfp4Len]
		m := absMaxBits(x)
		top = max(top, m)
		if m > 0x7F800000 {
			encodeMXFP4(y, x, true)
			continue
		}
		amax := math.Float32frombits(m)
		e := mxfp4Exponent(amax)
		if !(amax <= mxfp4Grids[e].limit) {
			encodeMXFP4(y, x, true)
			continue
		}
		y[0] = e
		mxfp4Codes(y[1:], x, &th[e])
	}
	return top < 0x7F800000
}

// quantizeMXFP4Ref is encodeMXFP4 with ggml's 16-code search.
func quantizeMXFP4Ref(dst []byte, src []float32, _ int, _ []float32) { encodeMXFP4(dst, src, false) }

func encodeMXFP4(dst []byte, src []float32, fast bool) {
	for b := 0; b < len(src)/32; b++ {
		x := src[b*32 : (b+1)*32]
		y := dst[b*mxfp4Len : (b+1)*mxfp4Len]
		amax := absMax(x)
		e := mxfp4Exponent(amax)
		d := e8m0Half(e)
		y[0] = e
		if fast {
			mxfp4Grids[e].pack(y[1:], x, 16, amax)
			continue
		}
		for j := 0; j < 16; j++ {
			y[1+j] = bestIndexFP4Ref(x[j], d) | bestIndexFP4Ref(x[16+j], d)<<4
		}
	}
}

func dequantizeMXFP4(dst []float32, src []byte) {
	for b := 0; b < len(dst)/32; b++ {
		blk := src[b*mxfp4Len : (b+1)*mxfp4Len]
		y := dst[b*32 : (b+1)*32]
		d := e8m0Half(blk[0])
		for j := 0; j < 16; j++ {
			y[j] = float32(kvaluesFP4[blk[1+j]&0xF]) * d
			y[j+16] = float32(kvaluesFP4[blk[1+j]>>4]) * d
		}
	}
}

// E8M0Half, UE4M3Half and FP4Value are ggml's decoders for the parts of the FP4
// formats (ggml_e8m0_to_fp32_half, ggml_ue4m3_to_fp32, kvalues_mxfp4), for the
// packages that read those formats from checkpoints (convert/decode), so that
// one definition serves the encoder, the decoder and the checkpoint reader.
func E8M0Half(x uint8) float32 { return e8m0Half(x) }

// UE4M3Half: see E8M0Half (a scale byte of 0 or 0x7F reads as 0).
func UE4M3Half(x uint8) float32 { return ue4m3Half(x) }

// FP4Value is kvalues_mxfp4[code & 15]: twice the E2M1 value of the code.
func FP4Value(code uint8) float32 { return float32(kvaluesFP4[code&0xF]) }

// ue4m3Half is ggml_ue4m3_to_fp32: the value of an unsigned E4M3 byte
// (bias 7, 3 mantissa bits; 0 and 0x7F read as 0) times 0.5.
func ue4m3Half(x uint8) float32 {
	if x == 0 || x == 0x7F {
		return 0
	}
	exp := int(x>>3) & 0xF
	man := float32(x & 7)
	var raw float32
	if exp == 0 {
		raw = float32(math.Ldexp(float64(man), -9))
	} else {
		raw = float32(math.Ldexp(float64(1+float32(man/8)), exp-7))
	}
	return raw * 0.5
}

// ue4m3HalfTable holds ue4m3Half of every byte.
var ue4m3HalfTable = func() (t [256]float32) {
	for i := range t {
		t[i] = ue4m3Half(uint8(i))
	}
	return
}()

// f32ToUE4M3 is ggml_fp32_to_ue4m3: 0 for x ≤ 0; values above 448 clamp
// to 448; the mantissa is rounded half up on its fourth bit (carrying into
// the exponent) and saturates at 0x7E; below 2^−6 the subnormal code
// round(x·512) clamped to 1..7, or 0.
func f32ToUE4M3(x float32) uint8 {
	if !(x > 0) {
		return 0
	}
	if x > 448 {
		x = 448
	}
	bits := math.Float32bits(x)
	fexp := int(bits>>23&0xFF) - 127
	fman := int(bits >> 20 & 7)
	uexp := fexp + 7
	if uexp <= 0 {
		man := truncToInt32(float32(x*512) + 0.5)
		if man > 7 {
			man = 7
		}
		if man < 1 {
			return 0
		}
		return uint8(man)
	}
	if uexp >= 15 {
		return 0x7E
	}
	uman := fman + int(bits>>19&1)
	if uman > 7 {
		uman = 0
		uexp++
		if uexp >= 15 {
			return 0x7E
		}
	}
	return uint8(uexp<<3 | uman)
}

func quantizeNVFP4(dst []byte, src []float32, _ int, _ []float32) { encodeNVFP4(dst, src, true) }

// quantizeNVFP4Ref is quantizeNVFP4 with ggml's 16-code search.
func quantizeNVFP4Ref(dst []byte, src []float32, _ int, _ []float32) { encodeNVFP4(dst, src, false) }

func encodeNVFP4(dst []byte, src []float32, fast bool) {
	for b := 0; b < len(src)/64; b++ {
		y := dst[b*nvfp4Len : (b+1)*nvfp4Len]
		for s := 0; s < 4; s++ {
			xb := src[b*64+16*s : b*64+16*(s+1)]
			amax := absMax(xb)
			ue := f32ToUE4M3(amax / 6)
			y[s] = ue
			d := ue4m3HalfTable[ue]
			if fast {
				nvfp4Grids[ue].pack(y[4+8*s:], xb, 8, amax)
				continue
			}
			for j := 0; j < 8; j++ {
				y[4+8*s+j] = bestIndexFP4Ref(xb[j], d) | bestIndexFP4Ref(xb[8+j], d)<<4
			}
		}
	}
}

func dequantizeNVFP4(dst []float32, src []byte) {
	for b := 0; b < len(dst)/64; b++ {
		blk := src[b*nvfp4Len : (b+1)*nvfp4Len]
		for s := 0; s < 4; s++ {
			d := ue4m3HalfTable[blk[s]]
			y := dst[b*64+16*s : b*64+16*(s+1)]
			for j := 0; j < 8; j++ {
				q := blk[4+8*s+j]
				y[j] = float32(kvaluesFP4[q&0xF]) * d
				y[j+8] = float32(kvaluesFP4[q>>4]) * d
			}
		}
	}
}
