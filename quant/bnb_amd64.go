//go:build amd64 && !noasm

package quant

// The AVX2 kernels of the bitsandbytes quantizers (bnb_amd64.s). Each
// computes exactly what its Go twin computes (maxAbsBits; the NF4 and FP4
// rules nf4CodeRef and fp4CodeRef, which the AVX2 code evaluates for every
// input, NaN and ±Inf included); TestVectorKernels checks them against each
// other. Build with -tags noasm to use the Go twins only.

// haveAVX2: the kernels here need AVX2, which hasAVX2 (cpu_amd64.go) checks.
var haveAVX2 = hasAVX2

// maxAbsBitsAVX2 returns the largest sign-cleared bit pattern among the
// first len(x) &^ 31 elements of x (0 if there are none).
//
//go:noescape
func maxAbsBitsAVX2(x []float32) uint32

// encodeNF4AVX2 writes the NF4 codes of x[i]·r for the first len(x) &^ 15
// elements, packed two per byte, high nibble first, into dst. thr holds each
// NF4 threshold repeated 8 times.
//
//go:noescape
func encodeNF4AVX2(dst []uint8, x []float32, r float32, thr *[15][8]float32)

// encodeFP4AVX2 is encodeNF4AVX2 for FP4; thr holds the 7 magnitude
// thresholds, each repeated 8 times, and order the magnitude codes by
// increasing value.
//
//go:noescape
func encodeFP4AVX2(dst []uint8, x []float32, r float32, thr *[7][8]float32, order *[8]uint32)

// decode4AVX2 writes table[p>>4]·a, table[p&15]·a for each of the first
// len(packed) &^ 3 bytes p of packed into dst (two values per byte, high
// nibble first), as decode4's loop does.
//
//go:noescape
func decode4AVX2(dst []float32, packed []uint8, a float32, table *[16]float32)

// decode4Vec decodes a leading part of packed (whole groups of 4 bytes) into
// dst and returns how many bytes it took (0 without a vector unit).
func decode4Vec(dst []float32, packed []uint8, a float32, table *[16]float32) int {
	n := len(packed) &^ 3
	if !haveAVX2 || n == 0 {
		return 0
	}
	_ = dst[2*n-1]
	decode4AVX2(dst, packed[:n], a, table)
	return n
}

// decode4HalfVec decodes dst[lo:hi] (16-bit outputs) through float32 in
// scratch with the vector decoder, then rounds each value once with the
// conversion kernel: what decode4Half computes through its table. It
// reports false when there is no vector unit.
func decode4HalfVec(dst Output, lo, hi int, packed []uint8, absmax []float32, blocksize int, table *[16]float32,
	per int, scratch *[]float32) bool {
	if !haveAVX2 {
		return false
	}
	if len(*scratch) < hi-lo {
		*scratch = make([]float32, per)
	}
	y := (*scratch)[:hi-lo]
	decode4(y, packed, absmax, lo, blocksize, table)
	if dst.dtype == DTypeBF16 {
		kern.encodeBF16(u16Bytes(dst.u16[lo:hi]), y)
	} else {
		kern.encodeF16(u16Bytes(dst.u16[lo:hi]), y)
	}
	return true
}

var (
	nf4Broadcast = func() (t [15][8]float32) {
		for k, v := range nf4ThresholdValues {
			for i := range t[k] {
				t[k][i] = v
			}
		}
		return t
	}()
	fp4Broadcast = func() (t [7][8]float32) {
		for k, v := range fp4ThresholdValues {
			for i := range t[k] {
				t[k][i] = v
			}
		}
		return t
	}()
	fp4Order32 = func() (o [8]uint32) {
		for i, m := range fp4MagnitudeOrder {
			o[i] = uint32(m)
		}
		return o
	}()
)

// maxAbsBitsVec returns maxAbsBits of a leading part of x and the length of
// that part (0 when there is no vector unit).
func maxAbsBitsVec(x []float32) (uint32, int) {
	if !haveAVX2 {
		return 0, 0
	}
	return maxAbsBitsAVX2(x), len(x) &^ 31
}

// encode4Vec writes the packed 4-bit codes of x[i]·r (the rule of typ,
// exactly) for a leading part of x of even length, and returns that length
// (0 when there is no vector unit).
func encode4Vec(dst []uint8, x []float32, r float32, typ FourBitType) int {
	n := len(x) &^ 15
	if !haveAVX2 || n == 0 {
		return 0
	}
	_ = dst[n/2-1]
	encode4AVX2[typ](dst, x, r)
	return n
}

// encode4AVX2 holds the AVX2 encoder of each 4-bit type, by type.
var encode4AVX2 = [len(fourBitTypes)]func(dst []uint8, x []float32, r float32){
	NF4: func(dst []uint8, x []float32, r float32) { encodeNF4AVX2(dst, x, r, &nf4Broadcast) },
	FP4: func(dst []uint8, x []float32, r float32) { encodeFP4AVX2(dst, x, r, &fp4Broadcast, &fp4Order32) },
}

// encodeTableAVX2 writes, for the first len(x) &^ 15 elements, the code the
// decider table tab gives x[i]·r (decider.pick, vectorized with gathers).
//
//go:noescape
func encodeTableAVX2(dst []uint8, x []float32, r float32, tab *[1 << 16]uint32)

// encodeTableVec is decider.pick for a leading part of x, whose length it
// returns (0 when there is no vector unit). The decider must have no multi
// intervals and every x[i]·r must be finite.
func encodeTableVec(dst []uint8, x []float32, r float32, tab *[1 << 16]uint32) int {
	n := len(x) &^ 15
	if !haveAVX2 || n == 0 {
		return 0
	}
	_ = dst[n-1]
	encodeTableAVX2(dst, x, r, tab)
	return n
}
