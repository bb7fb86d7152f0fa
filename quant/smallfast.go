package quant

import (
	"math"
	"sync"
)

// Shared shortcuts of the small types' fast encoders (ternary.go, q1q2.go,
// fp4.go): a branch-free block maximum and the rounding of x·id to a trit
// as one integer comparison per element.

// absMaxBitsGeneric returns the bits of the block's largest magnitude, C's
// MAX(amax, |v|) over x (starting from 0), for an x without NaN: for
// non-negative floats the order of the values is the order of their bits,
// so an integer maximum of the bits with the sign cleared finds it, without
// the data-dependent branch of a float comparison. A result above
// 0x7F800000 says x holds a NaN (the caller then takes the plain path,
// whose comparisons NaN affects); 0x7F800000 is an infinity.
func absMaxBitsGeneric(x []float32) uint32 {
	var m0, m1, m2, m3 uint32
	for len(x) >= 4 {
		m0 = max(m0, math.Float32bits(x[0])&0x7FFFFFFF)
		m1 = max(m1, math.Float32bits(x[1])&0x7FFFFFFF)
		m2 = max(m2, math.Float32bits(x[2])&0x7FFFFFFF)
		m3 = max(m3, math.Float32bits(x[3])&0x7FFFFFFF)
		x = x[4:]
	}
	for _, v := range x {
		m0 = max(m0, math.Float32bits(v)&0x7FFFFFFF)
	}
	return max(max(m0, m1), max(m2, m3))
}

// halfThreshold returns the bits of the smallest float v ≥ 0 with
// float32(v·id) ≥ 0.5, for a finite id > 0 and a d > 0 with
// float32(d·id) ≥ 0.5. The rounded product is non-decreasing in v, so
// float32(v·id) ≥ 0.5 exactly when bits(v) ≥ the result, and (rounding to
// nearest being symmetric) float32(v·id) ≤ −0.5 exactly when v < 0 and
// bits(|v|) ≥ it. The search starts at d/2, where the product is within
// an ulp or two of 0.5, and steps one float at a time; ok is false if it
// has not settled within a few steps (the caller then takes the plain
// path).
func halfThreshold(d, id float32) (t uint32, ok bool) {
	reaches := func(b uint32) bool { return float32(math.Float32frombits(b)*id) >= 0.5 }
	t = math.Float32bits(float32(d * 0.5))
	for i := 0; i < 8 && !reaches(t); i++ {
		t++
	}
	for i := 0; i < 8 && t > 0 && reaches(t-1); i++ {
		t--
	}
	return t, t > 0 && reaches(t) && !reaches(t-1)
}

// tritAt is roundTrit(float32(v·id)) (the trit + 1: 0, 1 or 2) for the
// threshold t = halfThreshold(d, id), read from v's bits: 1 when |v| is
// below the threshold, else 2 for v > 0 and 0 for v < 0.
func tritAt(v float32, t uint32) uint32 {
	b := math.Float32bits(v)
	ge := (t - 1 - b&0x7FFFFFFF) >> 31 // 1 when bits(|v|) ≥ t (t ≥ 1, both below 2^31)
	return 1 + ge - (ge&(b>>31))<<1
}

// tritBytesGeneric writes tritAt(x[i], th) to t[i] for every element of x
// (tritBytes, with an assembly twin).
func tritBytesGeneric(t []byte, x []float32, th uint32) {
	t = t[:len(x)]
	for i, v := range x {
		t[i] = uint8(tritAt(v, th))
	}
}

// tritThreshold is the threshold of a block whose largest magnitude has the
// bits m (absMaxBits): tritAt with it gives the trits of x·id, id = 1/d,
// as roundTrit does. ok is false for blocks that the plain path must take:
// a NaN or an infinity, a 1/d that overflows, a search that did not settle.
// An all-zero block gets a threshold no magnitude reaches (every trit 0,
// stored as 1).
func tritThreshold(m uint32) (d float32, t uint32, ok bool) {
	if m >= 0x7F800000 {
		return 0, 0, false
	}
	if m == 0 {
		return 0, 0x7FFFFFFF, true
	}
	d = math.Float32frombits(m)
	id := 1 / d
	if !fastTrits(id) {
		return d, 0, false
	}
	t, ok = halfThreshold(d, id)
	return d, t, ok
}

// mxfp4Thresholds returns, for every E8M0 scale byte e, one less than the
// bits of the smallest |x| whose code magnitude is k or more, for k = 1…7
// (entry 0 unused): the nearest magnitude (fp4Grid.code, which equals
// ggml's search there) never decreases as |x| grows, so the magnitude of
// an |x| ≤ the grid's limit is the number of thresholds its bits exceed,
// and its code adds 8 for x < 0 unless the magnitude is 0. A magnitude no
// |x| ≤ the limit reaches gets 0x7F800000 (no finite |x| exceeds it). Only
// scales with a limit (fp4Grid.limit ≥ 0) are filled; a bisection per
// magnitude, computed on first use.
var mxfp4Thresholds = sync.OnceValue(func() *[256][8]uint32 {
	var t [256][8]uint32
	for e := range t {
		g := &mxfp4Grids[e]
		if g.limit < 0 {
			continue
		}
		top := math.Float32bits(g.limit)
		for k := int64(1); k < 8; k++ {
			lo, hi := uint32(0), top+1 // the first bits in [lo, hi) reaching k, or hi
			for lo < hi {
				mid := lo + (hi-lo)/2
				if g.code(math.Float32frombits(mid)) >= k {
					hi = mid
				} else {
					lo = mid + 1
				}
			}
			if lo > top {
				lo = 0x7F800001
			}
			t[e][k] = lo - 1
		}
	}
	return &t
})

// mxfp4CodesGeneric writes the 16 code bytes of an MXFP4 group x[:32]
// whose largest magnitude is within its scale's limit, from the scale's
// thresholds (mxfp4Thresholds): element j in the low nibble of byte j,
// element j+16 in the high nibble. mxfp4Codes has an assembly twin.
func mxfp4CodesGeneric(y []byte, x []float32, thm1 *[8]uint32) {
	y, x = y[:16], x[:32]
	for j := range y {
		y[j] = fp4CodeAt(x[j], thm1) | fp4CodeAt(x[j+16], thm1)<<4
	}
}

// fp4CodeAt is the code of v from its scale's thresholds (mxfp4Thresholds):
// the number of thresholds bits(|v|) exceeds, plus 8 for a negative v with
// a non-zero magnitude.
func fp4CodeAt(v float32, thm1 *[8]uint32) uint8 {
	b := math.Float32bits(v)
	a := b & 0x7FFFFFFF
	// (t − a) >> 31 is 1 when a > t (both below 2^31)
	i := (thm1[1]-a)>>31 + (thm1[2]-a)>>31 + (thm1[3]-a)>>31 + (thm1[4]-a)>>31 +
		(thm1[5]-a)>>31 + (thm1[6]-a)>>31 + (thm1[7]-a)>>31
	return uint8(i | 8*(b>>31&((i+7)>>3)))
}

// q1SignsGeneric writes the 16 sign bytes of a Q1_0 block x[:128]: bit k of
// byte j set when x[8j+k] ≥ 0 (ggml's comparison: −0 counts, NaN does not).
// q1Signs has an assembly twin.
func q1SignsGeneric(y []byte, x []float32) {
	y, x = y[:16], x[:128]
	for j := range y {
		var q byte
		for k, v := range x[8*j : 8*j+8] {
			if v >= 0 {
				q |= 1 << k
			}
		}
		y[j] = q
	}
}
