package quant

import (
	"math"
	"sync"
)

// A decider is the fast twin of a per-element decision rule (the CUDA
// kernels' code search for 8-bit, NF4 and FP4 quantization): it gives the
// same code as the rule for every finite float32, with one table load and
// one comparison instead of a search.
//
// The rules are monotone: listing the codes in the order of the values they
// stand for ("ranks"), the rank never decreases as x grows. So over any
// interval of float32 values the rule changes its answer at a few boundary
// points only. The decider cuts the float32 line into the 65536 intervals
// that share the top 16 bits h of their bit pattern (sign, exponent and 7
// mantissa bits, i.e. the bfloat16 buckets; each is a contiguous range of
// values). Within an interval the low 16 bits order the values once they
// are flipped for negative numbers:
//
//	key(x) = (u ^ (u >> 31 arithmetic)) & 0xFFFF,  u = bits(x)
//
// increases with x inside each interval (for negative x it is 0xFFFF minus
// the low bits; -0.0 has the largest key of its interval, +0.0 the smallest
// of its own). For each interval tab[h] packs the code at its low end, the
// code at its high end, and the key t of the largest value that still gets
// the low-end code:
//
//	tab[h] = lo | hi << 8 | t << 16
//	code(x) = key(x) > t ? hi : lo
//
// with t = 0xFFFF for an interval without boundary. The boundaries are
// found by bisection with the rule itself, so ties, strict and non-strict
// comparisons and the ±0 cases come out exactly as the rule has them. An
// interval holding two or more boundaries (possible only for code tables
// with entries closer together than 1/128 of their binade) is marked in
// multi and answered by the rule.
//
// NaN and ±Inf inputs are outside the contract: callers only use a decider
// for blocks whose normalized values are all finite.
type decider struct {
	tab   [1 << 16]uint32
	multi []bool // nil, or true for the intervals the rule must answer
	rule  func(float32) uint8
}

// deciderKey is key(x) above, for u = bits(x).
func deciderKey(u uint32) uint32 { return (u ^ uint32(int32(u)>>31)) & 0xFFFF }

// newDecider builds the decider of rule. order lists the codes the rule can
// return in increasing order of the value they stand for. It returns nil if
// the rule turns out not to be monotone in that order (only possible for
// code tables Wick does not accept), and the caller then uses the rule.
func newDecider(rule func(float32) uint8, order []uint8) *decider {
	var rankOf [256]int
	for i := range rankOf {
		rankOf[i] = -1
	}
	for r, c := range order {
		rankOf[c] = r
	}
	rank := func(x float32) int {
		r := rankOf[rule(x)]
		if r < 0 {
			panic("quant: decision rule returned a code outside its order")
		}
		return r
	}
	d := &decider{rule: rule}
	prevHigh := -1 // rank at the high end of the previous interval
	// Walk the intervals in increasing value: negative ones from -MaxFloat32
	// up to -0, then positive ones from +0 up to MaxFloat32.
	visit := func(h uint32) bool {
		base := h << 16
		val := func(i uint32) float32 { // the value of key i in interval h
			if h >= 0x8000 {
				return math.Float32frombits(base | (0xFFFF - i))
			}
			return math.Float32frombits(base | i)
		}
		if h&0x7FFF >= 0x7F80 {
			// ±Inf and NaN live here; finite inputs never do.
			d.tab[h] = uint32(rule(float32(math.NaN())))*0x101 | 0xFFFF<<16
			return true
		}
		r0, r1 := rank(val(0)), rank(val(0xFFFF))
		if r0 > r1 || r0 < prevHigh {
			return false
		}
		prevHigh = r1
		if r0 == r1 {
			d.tab[h] = uint32(order[r0])*0x101 | 0xFFFF<<16
			return true
		}
		// The largest key lo with rank(val(lo)) == r0.
		lo, hi := uint32(0), uint32(0xFFFF) // rank(val(lo)) == r0 < rank(val(hi))
		for hi-lo > 1 {
			mid := lo + (hi-lo)/2
			if rank(val(mid)) > r0 {
				hi = mid
			} else {
				lo = mid
			}
		}
		d.tab[h] = uint32(order[r0]) | uint32(order[r1])<<8 | lo<<16
		if rank(val(hi)) != r1 {
			if d.multi == nil {
				d.multi = make([]bool, 1<<16)
			}
			d.multi[h] = true
		}
		return true
	}
	for h := uint32(0xFF7F); h >= 0x8000; h-- {
		if !visit(h) {
			return nil
		}
	}
	for h := uint32(0); h < 0x8000; h++ {
		if !visit(h) {
			return nil
		}
	}
	for h := uint32(0xFF80); h <= 0xFFFF; h++ {
		visit(h)
	}
	return d
}

// pick is the decider's answer for a finite x outside the multi intervals.
func (d *decider) pick(x float32) uint8 {
	u := math.Float32bits(x)
	e := d.tab[u>>16]
	if deciderKey(u) > e>>16 {
		return uint8(e >> 8)
	}
	return uint8(e)
}

// code returns the rule's code for a finite x.
func (d *decider) code(x float32) uint8 {
	if d.multi != nil && d.multi[math.Float32bits(x)>>16] {
		return d.rule(x)
	}
	return d.pick(x)
}

var (
	nf4DeciderOnce, fp4DeciderOnce, dynDeciderOnce sync.Once
	nf4Decider, fp4Decider, dynDecider             *decider
)

func getNF4Decider() *decider {
	nf4DeciderOnce.Do(func() { nf4Decider = newDecider(nf4CodeRef, identityOrder[:16]) })
	return nf4Decider
}

func getFP4Decider() *decider {
	fp4DeciderOnce.Do(func() { fp4Decider = newDecider(fp4CodeRef, fp4ValueOrder[:]) })
	return fp4Decider
}

// identityOrder lists 0..255: the codes of the 8-bit tables and of NF4 are
// already in value order.
var identityOrder = func() (o [256]uint8) {
	for i := range o {
		o[i] = uint8(i)
	}
	return o
}()

// fp4ValueOrder lists the FP4 codes by the value the CUDA quantizer gives
// them: negative magnitudes from -1 up, then the negative zero 1000 (what
// tiny negative values get), then 0000 (what -0.0, +0.0 and tiny positive
// values get), then the positive magnitudes.
var fp4ValueOrder = func() (o [16]uint8) {
	for i, m := range fp4MagnitudeOrder {
		o[7-i] = 8 | m
		o[8+i] = m
	}
	return o
}()

// tableCache keeps what was derived from the last few code tables (a
// decider, a grid table), so that quantizing many tensors with one custom
// table derives it once.
type tableCache[V any] struct {
	mu   sync.Mutex
	keys [4][256]float32
	vals [4]*V
	next int
}

func (c *tableCache[V]) get(code *[256]float32) *V {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, v := range c.vals {
		if v != nil && c.keys[i] == *code {
			return v
		}
	}
	return nil
}

func (c *tableCache[V]) put(code *[256]float32, v *V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.keys[c.next], c.vals[c.next] = *code, v
	c.next = (c.next + 1) % len(c.vals)
}

var deciderCache tableCache[decider]

// codeDecider returns the decider of the CUDA code search over code, or nil
// when the caller should use the rule directly: building a decider takes
// about as long as searching 2^16 elements, so smaller inputs with an
// uncached custom table are searched.
func codeDecider(code *[256]float32, n int) *decider {
	if *code == dynamicSigned {
		dynDeciderOnce.Do(func() { dynDecider = buildCodeDecider(code) })
		return dynDecider
	}
	if d := deciderCache.get(code); d != nil || n < 1<<16 {
		return d
	}
	d := buildCodeDecider(code)
	if d != nil {
		deciderCache.put(code, d)
	}
	return d
}

func buildCodeDecider(code *[256]float32) *decider {
	table := *code
	return newDecider(func(x float32) uint8 { return searchCodeRef(&table, x) }, identityOrder[:])
}
