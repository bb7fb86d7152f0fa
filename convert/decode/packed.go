package decode

import (
	"encoding/binary"
	"slices"
)

// intPacked is method "int_packed": compressed-tensors' pack-quantized
// integer format (GPTQ/AWQ-style int4/int8 weights made with llm-compressor),
// as llama.cpp's dequant_packed reads it:
//
//	main   weight_packed      I32 [R, ceil(C/p)]   element (r, c) in bits [bits·(c%p), …) of word (r, c/p), p = 32/bits
//	scale  weight_scale       F16/BF16/F32 [R, C/group_size]
//	zero   weight_zero_point  I32 [ceil(R/p), C/group_size] (optional; packed along rows)
//	shape  weight_shape       I32/I64 [2] = [R, C] (optional; checked against Spec.Shape)
//
//	W[r, c] = f32(q(r, c) − o(r, c/group_size)) · f32(scale[r, c/group_size])
//
// where o is the unpacked zero point, or 2^(bits−1) without one (symmetric).
type intPacked struct {
	geometry
	w, z     []byte
	scale    []float32
	bits     uint
	pack     int64
	mask     uint32
	group    int64
	words    int64 // stored words per row
	groups   int64
	symmetry int32 // offset when there is no zero point
}

func newIntPacked(s *setup) (any, error) {
	if err := s.wantFloatOutput(); err != nil {
		return nil, err
	}
	bits, err := s.intParam("bits", 0, true)
	if err != nil {
		return nil, err
	}
	if bits < 1 || bits > 8 || 32%bits != 0 {
		return nil, s.errf("bits is %d; expected 2, 4 or 8", bits)
	}
	group, err := s.intParam("group_size", 0, true)
	if err != nil {
		return nil, err
	}
	if group <= 0 {
		return nil, s.errf("group_size is %d; expected a positive integer", group)
	}
	m := s.main
	if err := s.wantDType(m, "I32"); err != nil {
		return nil, err
	}
	st, err := s.need("scale")
	if err != nil {
		return nil, err
	}
	if err := s.wantDType(st, "F16", "BF16", "F32"); err != nil {
		return nil, err
	}
	zt, hasZero := s.optional("zero")
	shp, hasShape := s.optional("shape")
	if err := s.finish(); err != nil {
		return nil, err
	}
	if len(s.spec.Shape) != 2 {
		return nil, s.errf("the decoded shape %v is not 2-D", s.spec.Shape)
	}
	rows, cols := s.spec.Shape[0], s.spec.Shape[1]
	pack := 32 / bits
	words := (cols + pack - 1) / pack
	if !slices.Equal(m.Shape, []int64{rows, words}) {
		return nil, s.errf("weight_packed shape %v is not [%d, %d] for a [%d, %d] weight at %d bits", m.Shape, rows, words, rows, cols, bits)
	}
	if cols%group != 0 {
		return nil, s.errf("%d columns are not a whole number of groups of %d", cols, group)
	}
	groups := cols / group
	if !slices.Equal(st.Shape, []int64{rows, groups}) {
		return nil, s.errAt(st, "weight_scale shape %v is not [%d, %d] (rows, columns/group_size %d)", st.Shape, rows, groups, group)
	}
	if hasShape {
		v, err := s.ints(shp)
		if err != nil {
			return nil, err
		}
		if len(v) != 2 || v[0] != rows || v[1] != cols {
			return nil, s.errAt(shp, "weight_shape holds %v; the plan decodes %v", v, s.spec.Shape)
		}
	}
	x := &intPacked{geometry: geometry{rows: rows, cols: cols}, w: m.Data, bits: uint(bits), pack: pack,
		mask: 1<<uint(bits) - 1, group: group, words: words, groups: groups, symmetry: 1 << uint(bits-1)}
	if hasZero {
		if err := s.wantDType(zt, "I32"); err != nil {
			return nil, err
		}
		if !slices.Equal(zt.Shape, []int64{(rows + pack - 1) / pack, groups}) {
			return nil, s.errAt(zt, "weight_zero_point shape %v is not [%d, %d] (rows packed %d to a word, groups)",
				zt.Shape, (rows+pack-1)/pack, groups, pack)
		}
		x.z = zt.Data
	}
	if x.scale, err = s.widen(st); err != nil {
		return nil, err
	}
	return x, nil
}

// MainRange is the byte range of the packed words of rows [r0, r1).
func (x *intPacked) MainRange(r0, r1 int64) (off, n int64) {
	return 4 * r0 * x.words, 4 * (r1 - r0) * x.words
}

func (x *intPacked) ReadRows(dst []float32, r0, r1 int64) error {
	if err := x.checkRange(len(dst), r0, r1, x.cols); err != nil {
		return err
	}
	c, pack := x.cols, x.pack
	offs := make([]int32, x.groups)
	for r := r0; r < r1; r++ {
		y := dst[(r-r0)*c : (r-r0+1)*c]
		sr := x.scale[r*x.groups : (r+1)*x.groups]
		for g := range offs {
			offs[g] = x.symmetry
			if x.z != nil {
				w := le32(x.z, (r/pack)*x.groups+int64(g))
				offs[g] = int32(w >> (x.bits * uint(r%pack)) & x.mask)
			}
		}
		words := x.w[r*x.words*4 : (r+1)*x.words*4]
		// one stored word at a time: its pack elements
		for wi := int64(0); wi < x.words; wi++ {
			w := binary.LittleEndian.Uint32(words[4*wi:])
			j0 := wi * pack
			n := min(pack, c-j0)
			if x.group%pack == 0 {
				// the word lies in one group
				g := j0 / x.group
				o, s := offs[g], sr[g]
				yw := y[j0 : j0+n]
				for k := range yw {
					yw[k] = float32(int32(w>>(x.bits*uint(k))&x.mask)-o) * s
				}
				continue
			}
			for k := int64(0); k < n; k++ {
				j := j0 + k
				g := j / x.group
				q := int32(w >> (x.bits * uint(k)) & x.mask)
				y[j] = float32(q-offs[g]) * sr[g]
			}
		}
	}
	return nil
}
