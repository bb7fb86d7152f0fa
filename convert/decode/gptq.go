package decode

import "slices"

// gptq is method "gptq": GPTQ's packed int32 layout, as llama.cpp's
// dequant_gptq reads it (GPTQModel's dequantization):
//
//	main   qweight  I32 [in·bits/32, out]  element (c, r) in bits [bits·(c%p), …) of word (c/p, r), p = 32/bits
//	scale  scales   F16 [G, out]
//	zero   qzeros   I32 [G, out·bits/32]   zero (g, r) in bits [bits·(r%p), …) of word (g, r/p)
//	g_idx  g_idx    I32 [in]               group of input column c
//
//	W[r, c] = f32(scale[g, r]) · f32(q(c, r) − (z(g, r) + zero_offset)),  g = g_idx[c]
//
// with zero_offset 1 for checkpoint_format "gptq" (the zeros are stored
// minus one) and 0 for "gptq_v2". The decoded tensor is [out, in]: logical
// rows are columns of the stored matrix, read in tiles of rows.
type gptq struct {
	geometry
	q, z  []byte
	scale []float32
	gidx  []int32
	bits  uint
	pack  int64
	mask  uint32
	zoff  int32
	// the stored qweight has `out` columns, qzeros out/pack
	out, groups int64
}

func newGPTQ(s *setup) (any, error) {
	if err := s.wantFloatOutput(); err != nil {
		return nil, err
	}
	bits, err := s.intParam("bits", 0, true)
	if err != nil {
		return nil, err
	}
	if bits != 2 && bits != 4 && bits != 8 {
		return nil, s.errf("bits is %d; GPTQ decoding supports 2, 4 and 8 (3-bit packing is not implemented, as in llama.cpp)", bits)
	}
	zoff, err := s.intParam("zero_offset", 1, false)
	if err != nil {
		return nil, err
	}
	if zoff != 0 && zoff != 1 {
		return nil, s.errf("zero_offset is %d; expected 1 (checkpoint_format gptq) or 0 (gptq_v2)", zoff)
	}
	m := s.main
	if err := s.wantDType(m, "I32"); err != nil {
		return nil, err
	}
	st, err := s.need("scale")
	if err != nil {
		return nil, err
	}
	zt, err := s.need("zero")
	if err != nil {
		return nil, err
	}
	gt, err := s.need("g_idx")
	if err != nil {
		return nil, err
	}
	if err := s.finish(); err != nil {
		return nil, err
	}
	if err := s.wantDType(st, "F16", "BF16", "F32"); err != nil {
		return nil, err
	}
	if zt.DType != m.DType {
		return nil, s.errAt(zt, "has dtype %s; qweight %q is %s and llama.cpp requires the same", zt.DType, m.Name, m.DType)
	}
	if err := s.wantDType(gt, "I32", "I64"); err != nil {
		return nil, err
	}
	pack := 32 / bits
	if len(m.Shape) != 2 {
		return nil, s.errf("qweight shape %v is not 2-D", m.Shape)
	}
	in, out := m.Shape[0]*pack, m.Shape[1]
	if !slices.Equal(s.spec.Shape, []int64{out, in}) {
		return nil, s.errf("the decoded shape %v is not [out, in] = [%d, %d] for qweight of shape %v at %d bits",
			s.spec.Shape, out, in, m.Shape, bits)
	}
	if len(st.Shape) != 2 || st.Shape[1] != out {
		return nil, s.errAt(st, "scales shape %v is not [groups, %d]", st.Shape, out)
	}
	groups := st.Shape[0]
	if out%pack != 0 || !slices.Equal(zt.Shape, []int64{groups, out / pack}) {
		return nil, s.errAt(zt, "qzeros shape %v is not [%d, %d] (groups, out/%d)", zt.Shape, groups, out/pack, pack)
	}
	if !slices.Equal(gt.Shape, []int64{in}) {
		return nil, s.errAt(gt, "g_idx shape %v is not [%d] (one group per input column)", gt.Shape, in)
	}
	g64, err := s.ints(gt)
	if err != nil {
		return nil, err
	}
	gidx := make([]int32, len(g64))
	for c, g := range g64 {
		if g < 0 || g >= groups {
			return nil, s.errAt(gt, "g_idx[%d] = %d is outside the %d groups of the scales", c, g, groups)
		}
		gidx[c] = int32(g)
	}
	scale, err := s.widen(st)
	if err != nil {
		return nil, err
	}
	return &gptq{
		geometry: geometry{rows: out, cols: in}, q: m.Data, z: zt.Data, scale: scale, gidx: gidx,
		bits: uint(bits), pack: pack, mask: 1<<uint(bits) - 1, zoff: int32(zoff), out: out, groups: groups,
	}, nil
}

// gptqTile is the number of logical rows decoded together: their words in
// a stored row are contiguous (256 bytes, so that each page of the stored
// matrix visited serves a whole tile), and so are their outputs' columns.
const gptqTile = 64

func (x *gptq) ReadRows(dst []float32, r0, r1 int64) error {
	if err := x.checkRange(len(dst), r0, r1, x.cols); err != nil {
		return err
	}
	in := x.cols
	// per row of the tile: zero and scale of every group
	zs := make([]int32, gptqTile*x.groups)
	ss := make([]float32, gptqTile*x.groups)
	for t0 := r0; t0 < r1; t0 += gptqTile {
		t1 := min(r1, t0+gptqTile)
		for r := t0; r < t1; r++ {
			i := (r - t0) * x.groups
			for g := int64(0); g < x.groups; g++ {
				w := le32(x.z, g*(x.out/x.pack)+r/x.pack)
				zs[i+g] = int32(w>>(x.bits*uint(r%x.pack))&x.mask) + x.zoff
				ss[i+g] = x.scale[g*x.out+r]
			}
		}
		for p := int64(0); p < in/x.pack; p++ {
			for r := t0; r < t1; r++ {
				w := le32(x.q, p*x.out+r)
				i := (r - t0) * x.groups
				zr, sr := zs[i:i+x.groups], ss[i:i+x.groups]
				y := dst[(r-r0)*in+p*x.pack : (r-r0)*in+(p+1)*x.pack]
				gi := x.gidx[p*x.pack : (p+1)*x.pack]
				for k := range y {
					g := gi[k]
					q := int32(w >> (x.bits * uint(k)) & x.mask)
					y[k] = sr[g] * float32(q-zr[g])
				}
			}
		}
	}
	return nil
}
