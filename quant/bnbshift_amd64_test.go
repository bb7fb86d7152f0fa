//go:build amd64 && !noasm

package quant

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestBnbDecode4ShiftedStores: the non-temporal 4-bit decoders at every
// alignment of the output (the shifting kernels for the 15 float32 and 31
// 16-bit misalignments, the aligned kernels for the rest) give decode4's /
// decode4Half's bits on exactly [lo, lo+done), every code, hostile scales,
// and leave the values around the range (in the same cache lines) alone.
func TestBnbDecode4ShiftedStores(t *testing.T) {
	if !useAVX512 {
		t.Skip("no AVX-512")
	}
	rng := rand.New(rand.NewPCG(91, 92))
	for _, dt := range []DType{DTypeF32, DTypeF16, DTypeBF16} {
		size := 4
		if dt != DTypeF32 {
			size = 2
		}
		for m := 0; m < 64/size; m++ {
			for _, typ := range []FourBitType{NF4, FP4} {
				bs := blockSizes4[rng.IntN(len(blockSizes4))]
				nb := 1 + rng.IntN(5)
				n := nb * bs
				packed := make([]uint8, n/2)
				for i := range packed {
					packed[i] = uint8(rng.Uint32())
				}
				for i := 0; i < 16 && i < len(packed); i++ {
					packed[i] = uint8(i<<4 | (15 - i)) // every code in both nibbles
				}
				absmax := hostileScales(rng, nb)
				// the range [pad, pad+n) of a buffer with marker values around it
				pad := bs
				got, want := shiftedOutput(dt, pad+n+64, pad, m), shiftedOutput(dt, pad+n+64, pad, m)
				done := decode4Fast(got, pad, pad+n, shiftPacked(packed, pad), shiftAbsmax(absmax, pad, bs), bs, typ.dequantTable(), true)
				if done != n {
					t.Fatalf("decode4Fast did %d of %d values", done, n)
				}
				if dt == DTypeF32 {
					decode4(want.f32[pad:pad+n], packed, absmax, 0, bs, typ.dequantTable())
				} else {
					sub := Output{dtype: dt, u16: want.u16[pad : pad+n]}
					decode4Half(sub, 0, n, packed, absmax, bs, typ.dequantTable())
				}
				if i, ok := sameOutput(got, want); !ok {
					t.Fatalf("%v dtype %d misalignment %d bs %d nb %d: element %d (range starts at %d) differs", typ, dt, m, bs, nb, i, pad)
				}
			}
		}
	}
}

// shiftPacked and shiftAbsmax put a tensor's packed codes and scales at
// element pad (a multiple of bs) of a larger one.
func shiftPacked(p []uint8, pad int) []uint8 {
	return append(make([]uint8, pad/2), p...)
}

func shiftAbsmax(a []float32, pad, bs int) []float32 {
	out := make([]float32, pad/bs)
	for i := range out {
		out[i] = float32(math.NaN())
	}
	return append(out, a...)
}
