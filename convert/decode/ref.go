package decode

import (
	"encoding/binary"
	"math"

	"github.com/wick-ml/wick/quant"
)

// The plain reference twins of the decoders: each computes one element of
// the decoded tensor straight from its format's definition (the formulas in
// the type comments), with no tiling, tables or precomputation. The tests
// compare every decoder with its twin on random tensors and row ranges.

// elementRef returns element (r, c) of the 2-D flattening of the decoded
// tensor, computed from the definition.
func elementRef(d any, r, c int64) float32 {
	switch x := d.(type) {
	case *scaled:
		return scaledRef(x, r, c)
	case *gptq:
		return gptqRef(x, r, c)
	case *intPacked:
		return intPackedRef(x, r, c)
	case *fp4:
		return fp4Ref(x, r, c)
	case *bnb4:
		return bnb4Ref(x, r, c)
	case *bnbInt8:
		return float32(float32(float32(int8(x.q[r*x.cols+c]))*x.scb[r])) * float32(7.874015718698502e-3)
	}
	panic("no reference for this decoder")
}

func scaledRef(x *scaled, r, c int64) float32 {
	// multi-index of the element, then of its scale
	nd := len(x.shape)
	idx := make([]int64, nd)
	idx[nd-1] = c
	for d := nd - 2; d >= 0; d-- {
		idx[d] = r % x.shape[d]
		r /= x.shape[d]
	}
	var off, flat int64
	for d := 0; d < nd; d++ {
		off += idx[d] / x.blk[d] * x.stride[d]
		flat = flat*x.shape[d] + idx[d]
	}
	var w float32
	switch x.dtype.String() {
	case "F32":
		w = math.Float32frombits(binary.LittleEndian.Uint32(x.data[4*flat:]))
	case "F16":
		w = quant.F16ToF32(binary.LittleEndian.Uint16(x.data[2*flat:]))
	case "BF16":
		w = quant.BF16ToF32(binary.LittleEndian.Uint16(x.data[2*flat:]))
	default:
		w = tables[x.dtype.String()][x.data[flat]]
	}
	return w * x.scale[off]
}

func gptqRef(x *gptq, r, c int64) float32 {
	bits := int64(x.bits)
	maxq := int64(1)<<bits - 1
	g := int64(x.gidx[c])
	word := int64(int32(binary.LittleEndian.Uint32(x.q[4*((c/x.pack)*x.out+r):])))
	q := (word >> (bits * (c % x.pack))) & maxq
	zword := int64(int32(binary.LittleEndian.Uint32(x.z[4*(g*(x.out/x.pack)+r/x.pack):])))
	z := (zword>>(bits*(r%x.pack)))&maxq + int64(x.zoff)
	return x.scale[g*x.out+r] * float32(q-z)
}

func intPackedRef(x *intPacked, r, c int64) float32 {
	bits := int64(x.bits)
	mask := int64(1)<<bits - 1
	word := int64(int32(binary.LittleEndian.Uint32(x.w[4*(r*x.words+c/x.pack):])))
	q := (word >> (bits * (c % x.pack))) & mask
	o := int64(1) << (bits - 1)
	g := c / x.group
	if x.z != nil {
		zw := int64(int32(binary.LittleEndian.Uint32(x.z[4*((r/x.pack)*x.groups+g):])))
		o = (zw >> (bits * (r % x.pack))) & mask
	}
	return float32(q-o) * x.scale[r*x.groups+g]
}

// fp4Ref decodes through the ggml block the raw path writes, as ggml's
// dequantize_row_mxfp4 / dequantize_row_nvfp4 do.
func fp4Ref(x *fp4, r, c int64) float32 {
	row := make([]byte, x.rowBytes)
	raw := x.raw
	x.raw = true
	if err := x.ReadRawRows(row, r, r+1); err != nil {
		panic(err)
	}
	x.raw = raw
	if x.nvfp4 {
		b := row[c/64*36:]
		sub := (c % 64) / 16
		j := c % 16
		d := quant.UE4M3Half(b[sub])
		q := b[4+sub*8+j%8]
		if j < 8 {
			return quant.FP4Value(q&0x0F) * d
		}
		return quant.FP4Value(q>>4) * d
	}
	b := row[c/32*17:]
	d := quant.E8M0Half(b[0])
	j := c % 32
	q := b[1+j%16]
	if j < 16 {
		return quant.FP4Value(q&0x0F) * d
	}
	return quant.FP4Value(q>>4) * d
}

func bnb4Ref(x *bnb4, r, c int64) float32 {
	i := r*x.cols + c
	b := i / x.blocksize
	var a float32
	if x.isNested {
		a = float32(x.nestedMap[x.absmax[b]]*x.nested[b/x.nb]) + x.offset
	} else {
		a = math.Float32frombits(binary.LittleEndian.Uint32(x.absmax[4*b:]))
	}
	code := x.packed[i/2] >> 4
	if i%2 == 1 {
		code = x.packed[i/2] & 0x0F
	}
	tab := fourBitTable(x.typ)
	if x.typ == quant.FP4 {
		tab[8] = 0 // bitsandbytes' CPU table: +0 (fourBitTable is CUDA's, -0)
	}
	v := tab[code] * a
	switch x.round {
	case quant.DTypeBF16:
		return quant.BF16ToF32(quant.F32ToBF16(v))
	case quant.DTypeF16:
		return quant.F16ToF32(quant.F32ToF16(v))
	}
	return v
}

// fourBitTable is bitsandbytes' dequantization table, read through
// quant's decoder (one element per code).
func fourBitTable(t quant.FourBitType) (tab [16]float32) {
	packed := make([]byte, 8)
	for k := range packed {
		packed[k] = byte(2*k)<<4 | byte(2*k+1)
	}
	out := make([]float32, 16)
	if err := quant.Dequantize4Bit(quant.F32Output(out), packed, []float32{1}, t, 32, quant.Options{Threads: 1}); err != nil {
		// 16 elements in one block: cannot fail
		panic(err)
	}
	copy(tab[:], out)
	return
}
