package quant

import (
	"encoding/binary"
	"math"
)

// The ternary types TQ1_0 and TQ2_0 (BitNet b1.58 and TriLM weights): every
// element is one of −d, 0, +d with d the block's largest magnitude, stored
// as a trit. Transcriptions of ggml's quantize_row_tq1_0_ref,
// quantize_row_tq2_0_ref, dequantize_row_tq1_0 and dequantize_row_tq2_0
// (ggml/src/ggml-quants.c of the pinned llama.cpp). ggml's quantize_tq1_0 and
// quantize_tq2_0 ignore the importance matrix, and so do these.
//
//	TQ1_0 block (54 bytes per 256): qs[48], qh[4], fp16 d
//	  qs[0:32]  five trits of elements m, m+32, …, m+128   (elements 0..159)
//	  qs[32:48] five trits of elements m, m+16, …, m+64    (elements 160..239)
//	  qh[0:4]   four trits of elements j, j+4, j+8, j+12   (elements 240..255)
//	  a byte holding trits t0..t4 (t0 first) is ⌈(Σ tᵢ·3^(4−i))·256/243⌉,
//	  so that the k-th trit is ((byte·3^k mod 256)·3) >> 8.
//	TQ2_0 block (66 bytes per 256): qs[64], fp16 d
//	  byte 32·c+m holds elements 128·c+m+32·n in bits 2n..2n+1 (n = 0..3),
//	  as the trit + 1 ∈ {0, 1, 2}.

const (
	tq1Len = 54
	tq2Len = 66
)

// ternaryTrit is ggml's lroundf(v·id) + 1 narrowed to int, as x86-64 glibc
// computes it: round half away from zero; NaN and magnitudes ≥ 2^63 give
// LONG_MIN (the conversion's "integer indefinite"), which narrows to 1 after
// the +1. Only a block whose largest magnitude is below 2^−128 (so that
// 1/d overflows) reaches those cases.
func ternaryTrit(v float32) int32 {
	f := float64(v)
	if f != f || f >= 0x1p63 || f <= -0x1p63 {
		return 1 // int32(LONG_MIN + 1)
	}
	return int32(int64(math.Round(f)) + 1)
}

// signBit is 1 when f is negative (or −0), else 0.
func signBit(f float32) uint32 { return math.Float32bits(f) >> 31 }

// roundTrit is ternaryTrit for |v| < 1.5 (what v·id is whenever id is
// finite, |x| ≤ d and id = 1/d): lroundf(v) is then 1 for v ≥ 0.5, −1 for
// v ≤ −0.5 and 0 otherwise, read without branches from the signs of
// v − 0.5 and −0.5 − v (a float difference has the exact sign, and is +0
// when the operands are equal). fastTrits says when it applies.
func roundTrit(v float32) int32 {
	up := 1 - signBit(v-0.5)
	down := 1 - signBit(-0.5-v)
	return int32(1 + up - down)
}

// fastTrits reports whether roundTrit may replace ternaryTrit for a block
// scaled by id.
func fastTrits(id float32) bool { return id <= math.MaxFloat32 }

// ternaryScale returns the block's largest magnitude (C's MAX(amax, |v|))
// and its inverse, 0 for an all-zero block.
func ternaryScale(x []float32) (d, id float32) {
	for _, v := range x {
		d = cmax(d, abs32(v))
	}
	if d != 0 {
		id = 1 / d
	}
	return d, id
}

// trits computes the trit + 1 of each v·id of x with ternaryTrit.
func trits(t *[qkK]int32, x []float32, id float32) {
	x = x[:qkK]
	for i, v := range x {
		t[i] = ternaryTrit(float32(v * id))
	}
}

// packTrits5 is one base-243 byte of TQ1_0: the trits t[0], t[s], …, t[4s]
// (first trit most significant), scaled so that it reads back with a
// multiply-and-shift.
func packTrits5(t []int32, s int) byte {
	var q uint8
	for n := 0; n < 5; n++ {
		q = uint8(int32(q) * 3)
		q = uint8(int32(q) + t[n*s])
	}
	return uint8((uint32(q)*256 + 242) / 243)
}

// quantizeTQ1_0 is encodeTQ1_0 with the trits read from comparisons of the
// elements' bits with the block's threshold (tritThreshold, tritBytes) and
// five of them combined into a byte eight bytes at a time (each base-3
// number is at most 242, so the byte lanes of a uint64 never carry); blocks
// the threshold does not cover (a NaN or an infinity, a 1/d that overflows)
// take encodeTQ1_0, ggml's transcription.
func quantizeTQ1_0(dst []byte, src []float32, _ int, _ []float32) { quantizeTQ1_0Checked(dst, src) }

// quantizeTQ1_0Checked is quantizeTQ1_0 reporting whether every value was
// finite (checkedEncoder), from the block maxima it computes anyway.
func quantizeTQ1_0Checked(dst []byte, src []float32) (finite bool) {
	var t [qkK]byte
	var top uint32
	for b := 0; b < len(src)/qkK; b++ {
		x := src[b*qkK : (b+1)*qkK : (b+1)*qkK]
		y := dst[b*tq1Len : (b+1)*tq1Len : (b+1)*tq1Len]
		m := absMaxBits(x)
		top = max(top, m)
		d, th, ok := tritThreshold(m)
		if !ok {
			encodeTQ1_0(y, x)
			continue
		}
		putF16(y[52:], d)
		tritBytes(t[:], x, th)
		for m := 0; m < 32; m += 8 {
			q := le64(t[m:])*81 + le64(t[32+m:])*27 + le64(t[64+m:])*9 + le64(t[96+m:])*3 + le64(t[128+m:])
			putTQ1Bytes(y[m:m+8:m+8], q)
		}
		for m := 0; m < 16; m += 8 {
			q := le64(t[160+m:])*81 + le64(t[176+m:])*27 + le64(t[192+m:])*9 + le64(t[208+m:])*3 + le64(t[224+m:])
			putTQ1Bytes(y[32+m:40+m:40+m], q)
		}
		// four trits, then ×3: the first becomes the most significant of five
		q := (le32(t[240:])*27 + le32(t[244:])*9 + le32(t[248:])*3 + le32(t[252:])) * 3
		putTQ1Bytes(y[48:52:52], uint64(q))
	}
	return top < 0x7F800000
}

// le32 reads a little-endian word of trit bytes (le64: kpack.go).
func le32(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }

// putTQ1Bytes stores the scaled byte of each base-3 number in the byte
// lanes of q, lowest lane first, one per byte of y.
func putTQ1Bytes(y []byte, q uint64) {
	for k := range y {
		y[k] = tq1Scaled[uint8(q>>(8*k))]
	}
}

// tq1Scaled[q] is the stored byte of the base-3 number q ≤ 242:
// ⌈q·256/243⌉ as ggml computes it, (q·256 + 242)/243.
var tq1Scaled = func() (t [256]uint8) {
	for q := range 243 {
		t[q] = uint8((uint32(q)*256 + 242) / 243)
	}
	return
}()

// quantizeTQ1_0Ref is encodeTQ1_0: ggml's steps, lroundf's semantics element
// by element.
func quantizeTQ1_0Ref(dst []byte, src []float32, _ int, _ []float32) { encodeTQ1_0(dst, src) }

func encodeTQ1_0(dst []byte, src []float32) {
	var t [qkK]int32
	for b := 0; b < len(src)/qkK; b++ {
		x := src[b*qkK : (b+1)*qkK]
		y := dst[b*tq1Len : (b+1)*tq1Len]
		d, id := ternaryScale(x)
		putF16(y[52:], d)
		trits(&t, x, id)
		for m := 0; m < 32; m++ {
			y[m] = packTrits5(t[m:], 32)
		}
		for m := 0; m < 16; m++ {
			y[32+m] = packTrits5(t[160+m:], 16)
		}
		for j := 0; j < 4; j++ {
			var q uint8
			for m := 0; m < 4; m++ {
				q = uint8(int32(q) * 3)
				q = uint8(int32(q) + t[240+j+4*m])
			}
			q = uint8(int32(q) * 3) // the first trit becomes the most significant of five
			y[48+j] = uint8((uint32(q)*256 + 242) / 243)
		}
	}
}

// pow3 is 3^n for the TQ1_0 decoder.
var pow3 = [5]uint8{1, 3, 9, 27, 81}

// trit is the n-th trit of a TQ1_0 byte, minus one.
func trit(q uint8, n int) float32 {
	return float32(int32(uint16(q*pow3[n])*3>>8) - 1)
}

func dequantizeTQ1_0(dst []float32, src []byte) {
	for b := 0; b < len(dst)/qkK; b++ {
		blk := src[b*tq1Len : (b+1)*tq1Len]
		y := dst[b*qkK : (b+1)*qkK]
		d := getF16(blk[52:])
		for n := 0; n < 5; n++ {
			for m := 0; m < 32; m++ {
				y[32*n+m] = trit(blk[m], n) * d
			}
		}
		for n := 0; n < 5; n++ {
			for m := 0; m < 16; m++ {
				y[160+16*n+m] = trit(blk[32+m], n) * d
			}
		}
		for n := 0; n < 4; n++ {
			for j := 0; j < 4; j++ {
				y[240+4*n+j] = trit(blk[48+j], n) * d
			}
		}
	}
}

// quantizeTQ2_0 is encodeTQ2_0 with the trits read from comparisons of the
// elements' bits with the block's threshold (tritThreshold, tritBytes) and
// four of them combined into a byte eight bytes at a time (trit + 1 fits
// two bits, so shifted byte lanes never overlap); blocks the threshold does
// not cover (a NaN or an infinity, a 1/d that overflows) take encodeTQ2_0,
// ggml's transcription.
func quantizeTQ2_0(dst []byte, src []float32, _ int, _ []float32) { quantizeTQ2_0Checked(dst, src) }

// quantizeTQ2_0Checked is quantizeTQ2_0 reporting whether every value was
// finite (checkedEncoder), from the block maxima it computes anyway.
func quantizeTQ2_0Checked(dst []byte, src []float32) (finite bool) {
	var t [qkK]byte
	var top uint32
	for b := 0; b < len(src)/qkK; b++ {
		x := src[b*qkK : (b+1)*qkK : (b+1)*qkK]
		y := dst[b*tq2Len : (b+1)*tq2Len : (b+1)*tq2Len]
		m := absMaxBits(x)
		top = max(top, m)
		d, th, ok := tritThreshold(m)
		if !ok {
			encodeTQ2_0(y, x)
			continue
		}
		putF16(y[64:], d)
		tritBytes(t[:], x, th)
		for c := 0; c < 2; c++ {
			for m := 0; m < 32; m += 8 {
				o := 128*c + m
				q := le64(t[o:]) | le64(t[o+32:])<<2 | le64(t[o+64:])<<4 | le64(t[o+96:])<<6
				binary.LittleEndian.PutUint64(y[32*c+m:], q)
			}
		}
	}
	return top < 0x7F800000
}

// quantizeTQ2_0Ref is encodeTQ2_0: ggml's steps, lroundf's semantics element
// by element.
func quantizeTQ2_0Ref(dst []byte, src []float32, _ int, _ []float32) { encodeTQ2_0(dst, src) }

func encodeTQ2_0(dst []byte, src []float32) {
	var t [qkK]int32
	for b := 0; b < len(src)/qkK; b++ {
		x := src[b*qkK : (b+1)*qkK]
		y := dst[b*tq2Len : (b+1)*tq2Len]
		d, id := ternaryScale(x)
		putF16(y[64:], d)
		trits(&t, x, id)
		for c := 0; c < 2; c++ {
			for m := 0; m < 32; m++ {
				var q uint8
				for n := 0; n < 4; n++ {
					xi := t[128*c+m+32*n]
					q = uint8(int32(q) + (xi&3)<<(2*n))
				}
				y[32*c+m] = q
			}
		}
	}
}

func dequantizeTQ2_0(dst []float32, src []byte) {
	for b := 0; b < len(dst)/qkK; b++ {
		blk := src[b*tq2Len : (b+1)*tq2Len]
		y := dst[b*qkK : (b+1)*qkK]
		d := getF16(blk[64:])
		for c := 0; c < 2; c++ {
			for l := 0; l < 4; l++ {
				for m := 0; m < 32; m++ {
					y[128*c+32*l+m] = float32(int32(blk[32*c+m]>>(2*l)&3)-1) * d
				}
			}
		}
	}
}
