package decode

import (
	"encoding/binary"
	"math"
	"slices"

	"github.com/wick-ml/wick/quant"
)

// bnb4 is method "bnb_4bit": a bitsandbytes 4-bit weight as transformers
// saves it (Params4bit): the packed codes of the flattened tensor (element
// 2j in the high nibble of byte j), one float32 absmax per block of the
// flattened tensor, or with double quantization ("nested") one uint8 code
// per block decoded as f32(f32(nested_quant_map[code] ·
// nested_absmax[i/nested_blocksize]) + offset). Values are bitsandbytes'
// dequantize_4bit on CPU: f32(table[code] · absmax), rounded to the state's
// dtype (FP4 code 8 is +0 there — AVX-512F kernel and PyTorch fallback —
// where the CUDA kernel gives -0; quant.Dequantize4BitCPU's table).
//
//	main              weight                U8 [(n+1)/2, 1] (any shape with that many bytes)
//	absmax            weight.absmax         F32 [B], or U8 [B] when nested
//	nested_absmax     weight.nested_absmax  F32 [ceil(B/nested_blocksize)]
//	nested_quant_map  weight.nested_quant_map F32 [256]
//	quant_map         weight.quant_map      F32 [16] (checked, not used: bitsandbytes decodes with its built-in table)
//	params: quant_type "nf4"|"fp4", blocksize, dtype "float32"|"float16"|"bfloat16",
//	        nested_blocksize and offset when nested
type bnb4 struct {
	geometry
	n         int64
	packed    []byte
	absmax    []byte // F32 values, or U8 codes when nested
	nested    []float32
	nestedMap [256]float32
	nb        int64
	offset    float32
	isNested  bool
	typ       quant.FourBitType
	blocksize int64
	round     quant.DType
}

func newBnb4(s *setup) (any, error) {
	if err := s.wantFloatOutput(); err != nil {
		return nil, err
	}
	qt, err := s.stringParam("quant_type", "", "nf4", "fp4")
	if err != nil || qt == "" {
		return nil, s.errf("needs quant_type \"nf4\" or \"fp4\"")
	}
	bs, err := s.intParam("blocksize", 0, true)
	if err != nil {
		return nil, err
	}
	ok := false
	for _, b := range []int64{32, 64, 128, 256, 512, 1024, 2048, 4096} {
		ok = ok || b == bs
	}
	if !ok {
		return nil, s.errf("blocksize %d is not one of bitsandbytes' 32, 64, …, 4096", bs)
	}
	dt, err := s.stringParam("dtype", "float32", "float32", "float16", "bfloat16")
	if err != nil {
		return nil, err
	}
	m := s.main
	if err := s.wantDType(m, "U8"); err != nil {
		return nil, err
	}
	g := geometryOf(s.spec.Shape)
	n := g.rows * g.cols
	if int64(len(m.Data)) != (n+1)/2 {
		return nil, s.errf("holds %d packed bytes; %v elements take %d", len(m.Data), s.spec.Shape, (n+1)/2)
	}
	x := &bnb4{geometry: g, n: n, packed: m.Data, blocksize: bs, typ: quant.NF4}
	if qt == "fp4" {
		x.typ = quant.FP4
	}
	switch dt {
	case "float16":
		x.round = quant.DTypeF16
	case "bfloat16":
		x.round = quant.DTypeBF16
	default:
		x.round = quant.DTypeF32
	}
	blocks := (n + bs - 1) / bs
	at, err := s.need("absmax")
	if err != nil {
		return nil, err
	}
	if qm, ok := s.optional("quant_map"); ok {
		if err := s.wantDType(qm, "F32"); err != nil {
			return nil, err
		}
		if !slices.Equal(qm.Shape, []int64{16}) {
			return nil, s.errAt(qm, "quant_map shape %v is not [16]", qm.Shape)
		}
	}
	na, hasNested := s.optional("nested_absmax")
	nm, hasMap := s.optional("nested_quant_map")
	if err := s.finish(); err != nil {
		return nil, err
	}
	if hasNested != hasMap {
		return nil, s.errf("a double-quantized state needs both nested_absmax and nested_quant_map")
	}
	if !slices.Equal(at.Shape, []int64{blocks}) {
		return nil, s.errAt(at, "absmax shape %v is not [%d] (%d elements in blocks of %d)", at.Shape, blocks, n, bs)
	}
	x.absmax = at.Data
	if !hasNested {
		if err := s.wantDType(at, "F32"); err != nil {
			return nil, err
		}
		return x, nil
	}
	x.isNested = true
	if err := s.wantDType(at, "U8"); err != nil {
		return nil, err
	}
	nb, err := s.intParam("nested_blocksize", 0, true)
	if err != nil {
		return nil, err
	}
	if nb <= 0 {
		return nil, s.errf("nested_blocksize %d is not positive", nb)
	}
	off, err := s.floatParam("offset", math.NaN())
	if err != nil {
		return nil, err
	}
	if math.IsNaN(off) {
		return nil, s.errf("a double-quantized state needs its offset (nested_offset)")
	}
	x.nb, x.offset = nb, float32(off)
	if err := s.wantDType(na, "F32"); err != nil {
		return nil, err
	}
	if !slices.Equal(na.Shape, []int64{(blocks + nb - 1) / nb}) {
		return nil, s.errAt(na, "nested_absmax shape %v is not [%d] (%d absmax codes in blocks of %d)", na.Shape, (blocks+nb-1)/nb, blocks, nb)
	}
	if err := s.wantDType(nm, "F32"); err != nil {
		return nil, err
	}
	if !slices.Equal(nm.Shape, []int64{256}) {
		return nil, s.errAt(nm, "nested_quant_map shape %v is not [256]", nm.Shape)
	}
	if x.nested, err = s.widen(na); err != nil {
		return nil, err
	}
	for i := range x.nestedMap {
		x.nestedMap[i] = math.Float32frombits(binary.LittleEndian.Uint32(nm.Data[4*i:]))
	}
	return x, nil
}

// absmaxRange returns the absmax of blocks [b0, b1).
func (x *bnb4) absmaxRange(b0, b1 int64) []float32 {
	out := make([]float32, b1-b0)
	for i := range out {
		b := b0 + int64(i)
		if x.isNested {
			out[i] = float32(x.nestedMap[x.absmax[b]]*x.nested[b/x.nb]) + x.offset
		} else {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(x.absmax[4*b:]))
		}
	}
	return out
}

func (x *bnb4) ReadRows(dst []float32, r0, r1 int64) error {
	if err := x.checkRange(len(dst), r0, r1, x.cols); err != nil {
		return err
	}
	if r0 == r1 {
		return nil
	}
	lo, hi := r0*x.cols, r1*x.cols
	b0, b1 := lo/x.blocksize, (hi+x.blocksize-1)/x.blocksize
	// decode as a tensor starting at block b0, so that only the blocks
	// needed are widened
	base := b0 * x.blocksize
	n := min(x.n, b1*x.blocksize) - base
	if base%2 != 0 {
		return &ArgError{Msg: "internal: odd block start"}
	}
	packed := x.packed[base/2 : (base+n+1)/2]
	return quant.Dequantize4BitRange(dst, packed, x.absmaxRange(b0, b1), x.typ, int(x.blocksize), int(n), int(lo-base), x.round, true)
}

// bnbInt8 is method "bnb_int8": LLM.int8's row-wise format (Int8Params),
// int8 weight [R, C] and float32 row statistics SCB [R] (each row's absmax),
// decoded as bitsandbytes' int8_vectorwise_dequant: f32(f32(q · SCB[r]) ·
// f32(1/127)) with torch's float32 constant 7.874015718698502e-3.
type bnbInt8 struct {
	geometry
	q   []byte
	scb []float32
}

const int8Reciprocal = float32(7.874015718698502e-3)

func newBnbInt8(s *setup) (any, error) {
	if err := s.wantFloatOutput(); err != nil {
		return nil, err
	}
	m := s.main
	if err := s.wantDType(m, "I8"); err != nil {
		return nil, err
	}
	st, err := s.need("scb")
	if err != nil {
		return nil, err
	}
	if err := s.finish(); err != nil {
		return nil, err
	}
	if err := s.wantDType(st, "F32"); err != nil {
		return nil, err
	}
	if len(m.Shape) != 2 || !slices.Equal(s.spec.Shape, m.Shape) {
		return nil, s.errf("the int8 weight of shape %v must be 2-D and equal the decoded shape %v", m.Shape, s.spec.Shape)
	}
	if !slices.Equal(st.Shape, []int64{m.Shape[0]}) {
		return nil, s.errAt(st, "SCB shape %v is not [%d] (one statistic per row of %q)", st.Shape, m.Shape[0], m.Name)
	}
	scb, err := s.widen(st)
	if err != nil {
		return nil, err
	}
	return &bnbInt8{geometry: geometryOf(m.Shape), q: m.Data, scb: scb}, nil
}

// MainRange is the byte range of the int8 codes of rows [r0, r1).
func (x *bnbInt8) MainRange(r0, r1 int64) (off, n int64) {
	return r0 * x.cols, (r1 - r0) * x.cols
}

func (x *bnbInt8) ReadRows(dst []float32, r0, r1 int64) error {
	if err := x.checkRange(len(dst), r0, r1, x.cols); err != nil {
		return err
	}
	c := x.cols
	for r := r0; r < r1; r++ {
		y := dst[(r-r0)*c : (r-r0+1)*c]
		q := x.q[r*c : (r+1)*c]
		q = q[:len(y)]
		s := x.scb[r]
		for i, b := range q {
			y[i] = float32(float32(int8(b))*s) * int8Reciprocal
		}
	}
	return nil
}
