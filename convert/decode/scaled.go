package decode

import (
	"math"
	"slices"

	"github.com/wick-ml/wick/io/safetensors"
)

// scaled is method "scaled": w · scale, where w is the main tensor widened
// to float32 (float8 e4m3/e5m2, int8, or a float dtype) and scale is
// broadcast to it (llama.cpp's dequant_simple, used for quant_method "fp8",
// compressed-tensors float-/int-quantized and ModelOpt FP8):
//
//   - params.block = [b0, b1, ...] (FP8 weight_block_size, compressed-tensors
//     block_structure): the scale has the weight's rank and each of the last
//     len(block) dimensions holds ceil(W[d]/b[d]) blocks, the last one partial
//     when W[d] is not a multiple;
//   - no block: the scale's shape, padded with trailing ones to the
//     weight's rank as torch's unsqueeze(-1) loop does, broadcasts (each
//     dimension 1 or equal to the weight's): per-tensor ([] or [1]),
//     per-row ([R] or [R, 1]).
type scaled struct {
	geometry
	shape []int64
	data  []byte
	size  int64         // bytes per element of the main tensor
	table *[256]float32 // 8-bit main dtypes
	dtype safetensors.DType
	scale []float32
	// scale index of element (idx_0, ..., idx_{n-1}) is
	// Σ_d (idx_d / blk[d]) · stride[d]
	blk, stride []int64
}

// tables holds the float32 value of every code of the 8-bit main dtypes:
// the safetensors tables, with NaN codes given the bit patterns torch's
// float8 → float32 conversion gives them (the code's mantissa shifted into
// place, sign kept): e4m3fn 0x7f → 0x7ff00000, e5m2 0x7f → 0x7fe00000.
var tables = map[string]*[256]float32{}

func init() {
	for _, name := range []string{"F8_E4M3", "F8_E5M2", "I8", "U8", "F8_E8M0"} {
		d, _ := safetensors.ParseDType(name)
		var t [256]float32
		src := make([]byte, 256)
		for i := range src {
			src[i] = byte(i)
		}
		if _, err := safetensors.DecodeFloat32(t[:], src, d); err != nil {
			panic(err)
		}
		mbits := map[string]uint32{"F8_E4M3": 3, "F8_E5M2": 2}[name]
		for i, v := range t {
			if mbits != 0 && v != v {
				b := uint32(i)
				t[i] = math.Float32frombits(b>>7<<31 | 0x7F800000 | (b&(1<<mbits-1))<<(23-mbits))
			}
		}
		tables[name] = &t
	}
}

func newScaled(s *setup) (any, error) {
	if err := s.wantFloatOutput(); err != nil {
		return nil, err
	}
	m := s.main
	if err := s.wantDType(m, "F8_E4M3", "F8_E5M2", "I8", "BF16", "F16", "F32"); err != nil {
		return nil, err
	}
	if !slices.Equal(s.spec.Shape, m.Shape) {
		return nil, s.errf("the decoded shape %v differs from the stored shape %v", s.spec.Shape, m.Shape)
	}
	st, err := s.need("scale")
	if err != nil {
		return nil, err
	}
	if err := s.wantDType(st, "F32", "BF16", "F16", "F64"); err != nil {
		return nil, err
	}
	block, err := s.intsParam("block")
	if err != nil {
		return nil, err
	}
	if err := s.finish(); err != nil {
		return nil, err
	}
	nd := len(m.Shape)
	if nd == 0 {
		return nil, s.errf("a scaled tensor needs at least one dimension")
	}
	ss := append([]int64(nil), st.Shape...)
	blk := make([]int64, nd)
	for d := range blk {
		blk[d] = 1
	}
	if block != nil {
		if len(block) > nd || len(ss) != nd {
			return nil, s.errAt(st, "block scales %v of block %v do not fit weight %q of shape %v (the scale needs the weight's rank)",
				ss, block, m.Name, m.Shape)
		}
		off := nd - len(block)
		for d := 0; d < off; d++ {
			if ss[d] != m.Shape[d] && ss[d] != 1 {
				return nil, s.errAt(st, "scale shape %v does not match weight %q of shape %v in dimension %d", ss, m.Name, m.Shape, d)
			}
		}
		for i, b := range block {
			d := off + i
			want := (m.Shape[d] + b - 1) / b
			if ss[d] != want {
				return nil, s.errAt(st, "scale shape %v: weight %q of shape %v in blocks %v needs %d blocks in dimension %d, not %d",
					ss, m.Name, m.Shape, block, want, d, ss[d])
			}
			blk[d] = b
		}
	} else {
		if len(ss) > nd {
			return nil, s.errAt(st, "scale shape %v has more dimensions than weight %q of shape %v", ss, m.Name, m.Shape)
		}
		for len(ss) < nd {
			ss = append(ss, 1)
		}
		for d := range ss {
			if ss[d] != 1 && ss[d] != m.Shape[d] {
				return nil, s.errAt(st, "scale shape %v does not broadcast to weight %q of shape %v (dimension %d)", st.Shape, m.Name, m.Shape, d)
			}
		}
	}
	stride := make([]int64, nd)
	acc := int64(1)
	for d := nd - 1; d >= 0; d-- {
		if ss[d] == 1 {
			stride[d] = 0
		} else {
			stride[d] = acc
		}
		acc *= ss[d]
	}
	scale, err := s.widen(st)
	if err != nil {
		return nil, err
	}
	dt, _ := safetensors.ParseDType(m.DType)
	return &scaled{
		geometry: geometryOf(m.Shape), shape: m.Shape, data: m.Data, size: int64(dt.Bits() / 8),
		table: tables[m.DType], dtype: dt, scale: scale, blk: blk, stride: stride,
	}, nil
}

// MainRange is the byte range of the main tensor rows [r0, r1) are read
// from: the stored rows themselves (the decoded shape is the stored one).
func (x *scaled) MainRange(r0, r1 int64) (off, n int64) {
	rb := x.cols * x.size
	return r0 * rb, (r1 - r0) * rb
}

// rowBase is the scale index of element 0 of row r.
func (x *scaled) rowBase(r int64) int64 {
	var off int64
	for d := len(x.shape) - 2; d >= 0; d-- {
		i := r % x.shape[d]
		r /= x.shape[d]
		off += (i / x.blk[d]) * x.stride[d]
	}
	return off
}

func (x *scaled) ReadRows(dst []float32, r0, r1 int64) error {
	if err := x.checkRange(len(dst), r0, r1, x.cols); err != nil {
		return err
	}
	c := x.cols
	cb, cs := x.blk[len(x.blk)-1], x.stride[len(x.stride)-1]
	for r := r0; r < r1; r++ {
		y := dst[(r-r0)*c : (r-r0+1)*c]
		base := x.rowBase(r)
		src := x.data[r*c*x.size : (r+1)*c*x.size]
		switch {
		case x.dtype == e4m3 && cs == 0: // one scale for the row
			e4m3Blocks(y, src, x.scale[base:base+1], int(c+7)&^7)
			continue
		case x.dtype == e4m3 && cs == 1 && cb%8 == 0: // blocks along the row
			e4m3Blocks(y, src, x.scale[base:base+(c+cb-1)/cb], int(cb))
			continue
		case x.table != nil:
			scaleRow8(y, src, x.table, x.scale, base, cb, cs)
			continue
		}
		if _, err := safetensors.DecodeFloat32(y, src, x.dtype); err != nil {
			return err
		}
		for j := int64(0); j < c; j += cb {
			e := min(c, j+cb)
			s := x.scale[base+(j/cb)*cs]
			for k := j; k < e; k++ {
				y[k] *= s
			}
		}
	}
	return nil
}

// e4m3 is float8 e4m3fn, the dtype of most FP8 checkpoints, which has a
// fast kernel (e4m3Blocks).
var e4m3, _ = safetensors.ParseDType("F8_E4M3")

// e4m3BlocksGeneric is e4m3Blocks in plain Go, with the table: y[k] =
// e4m3(src[k]) · scales[k/cb].
func e4m3BlocksGeneric(y []float32, src []byte, scales []float32, cb int) {
	scaleRow8(y, src, tables["F8_E4M3"], scales, 0, int64(cb), 1)
}

// scaleRow8 writes y[k] = table[src[k]] · scale[base + (k/cb)·cs].
func scaleRow8(y []float32, src []byte, table *[256]float32, scale []float32, base, cb, cs int64) {
	c := int64(len(y))
	src = src[:c]
	for j := int64(0); j < c; j += cb {
		e := min(c, j+cb)
		s := scale[base+(j/cb)*cs]
		yb, sb := y[j:e], src[j:e]
		sb = sb[:len(yb)]
		for k, b := range sb {
			yb[k] = table[b] * s
		}
	}
}
