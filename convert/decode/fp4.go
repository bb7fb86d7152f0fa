package decode

import (
	"slices"

	"github.com/wick-ml/wick/quant"
)

// The 4-bit float (E2M1) formats MXFP4 and NVFP4. Both store two codes per
// byte, element 2i in the low nibble of byte i, and one scale per group of
// elements of a row: MXFP4 an E8M0 power of two per 32, NVFP4 an E4M3 per 16
// (and a per-tensor float32 "scale 2" that llama.cpp keeps as a separate
// tensor). ggml's blocks hold the same codes in a different order: in a
// group of 2h elements, byte j holds element j (low nibble) and element j+h
// (high nibble).
//
//	MXFP4 block (17 bytes per 32): e, qs[16]                  (repack_mxfp4_blocks)
//	NVFP4 block (36 bytes per 64): d[4] (E4M3 & 0x7F), qs[32]  (_nvfp4_pack; 4 sub-blocks of 16)
//
// Float values are what ggml's dequantize_row_mxfp4 / dequantize_row_nvfp4
// compute from those blocks: kvalues[code] · d, with kvalues = 2 × the E2M1
// values and d = half the scale.

var ue4m3HalfTable = func() (t [128]float32) {
	for i := range t {
		t[i] = quant.UE4M3Half(uint8(i))
	}
	return
}()

var e8m0HalfTable = func() (t [256]float32) {
	for i := range t {
		t[i] = quant.E8M0Half(uint8(i))
	}
	return
}()

// fp4 is methods "nvfp4" and "mxfp4".
type fp4 struct {
	geometry
	w, s     []byte
	group    int64 // elements per scale: 16 (NVFP4) or 32 (MXFP4)
	nvfp4    bool
	raw      bool
	rowBytes int
}

func newNVFP4(s *setup) (any, error) { return newFP4(s, true) }
func newMXFP4(s *setup) (any, error) { return newFP4(s, false) }

func newFP4(s *setup, nv bool) (any, error) {
	name, group, block, blockBytes := "MXFP4", int64(32), int64(32), 17
	if nv {
		name, group, block, blockBytes = "NVFP4", 16, 64, 36
	}
	if s.spec.Output != "" && s.spec.Output != name {
		return nil, s.errf("output %s: %s blocks pass through only as %s", s.spec.Output, name, name)
	}
	layout := "packed"
	if !nv {
		var err error
		if layout, err = s.stringParam("layout", "packed", "packed", "gpt-oss"); err != nil {
			return nil, err
		}
	}
	m := s.main
	if err := s.wantDType(m, "U8"); err != nil {
		return nil, err
	}
	st, err := s.need("scale")
	if err != nil {
		return nil, err
	}
	if nv {
		err = s.wantDType(st, "F8_E4M3", "U8")
	} else {
		err = s.wantDType(st, "F8_E8M0", "U8")
	}
	if err != nil {
		return nil, err
	}
	if err := s.finish(); err != nil {
		return nil, err
	}
	shape := s.spec.Shape
	nd := len(shape)
	if nd < 2 {
		return nil, s.errf("the decoded shape %v needs at least two dimensions", shape)
	}
	cols := shape[nd-1]
	if cols%block != 0 {
		return nil, s.errf("rows of %d elements are not whole %s blocks of %d", cols, name, block)
	}
	var wantW []int64
	if layout == "gpt-oss" {
		wantW = append(append([]int64(nil), shape[:nd-1]...), cols/32, 16)
	} else {
		wantW = append(append([]int64(nil), shape[:nd-1]...), cols/2)
	}
	if !slices.Equal(m.Shape, wantW) {
		return nil, s.errf("packed shape %v does not hold %v (%s layout: expected %v)", m.Shape, shape, layout, wantW)
	}
	wantS := append(append([]int64(nil), shape[:nd-1]...), cols/group)
	if !slices.Equal(st.Shape, wantS) {
		return nil, s.errAt(st, "%s scale shape %v does not match %v for weight %q of logical shape %v",
			name, st.Shape, wantS, m.Name, shape)
	}
	g := geometryOf(shape)
	return &fp4{geometry: g, w: m.Data, s: st.Data, group: group, nvfp4: nv, raw: s.spec.Output != "",
		rowBytes: int(cols/block) * blockBytes}, nil
}

// ReadRows decodes rows to float32 as ggml would decode the repacked blocks.
func (x *fp4) ReadRows(dst []float32, r0, r1 int64) error {
	if x.raw {
		return &ArgError{Msg: "this tensor passes through as encoded blocks: use ReadRawRows"}
	}
	if err := x.checkRange(len(dst), r0, r1, x.cols); err != nil {
		return err
	}
	c, gs := x.cols, x.group
	for r := r0; r < r1; r++ {
		y := dst[(r-r0)*c : (r-r0+1)*c]
		w := x.w[r*c/2 : (r+1)*c/2]
		sc := x.s[r*(c/gs) : (r+1)*(c/gs)]
		for g := range sc {
			var d float32
			if x.nvfp4 {
				d = ue4m3HalfTable[sc[g]&0x7F]
			} else {
				d = e8m0HalfTable[sc[g]]
			}
			yb := y[int64(g)*gs : int64(g+1)*gs]
			wb := w[int64(g)*gs/2 : int64(g+1)*gs/2]
			for i, b := range wb {
				yb[2*i] = quant.FP4Value(b&0x0F) * d
				yb[2*i+1] = quant.FP4Value(b>>4) * d
			}
		}
	}
	return nil
}

func (x *fp4) RowBytes() int { return x.rowBytes }

// ReadRawRows writes ggml MXFP4 / NVFP4 blocks.
func (x *fp4) ReadRawRows(dst []byte, r0, r1 int64) error {
	if !x.raw {
		return &ArgError{Msg: "this tensor decodes to float values: use ReadRows"}
	}
	if err := x.checkRange(len(dst), r0, r1, int64(x.rowBytes)); err != nil {
		return err
	}
	c := x.cols
	for r := r0; r < r1; r++ {
		out := dst[(r-r0)*int64(x.rowBytes) : (r-r0+1)*int64(x.rowBytes)]
		w := x.w[r*c/2 : (r+1)*c/2]
		sc := x.s[r*(c/x.group) : (r+1)*(c/x.group)]
		if x.nvfp4 {
			for b := int64(0); b < c/64; b++ {
				o := out[b*36 : (b+1)*36]
				for k := int64(0); k < 4; k++ {
					o[k] = sc[4*b+k] & 0x7F
					regroup(o[4+8*k:4+8*(k+1)], w[32*b+8*k:32*b+8*(k+1)])
				}
			}
		} else {
			for b := int64(0); b < c/32; b++ {
				o := out[b*17 : (b+1)*17]
				o[0] = sc[b]
				regroup(o[1:17], w[16*b:16*(b+1)])
			}
		}
	}
	return nil
}

// regroup re-lays h = len(src) bytes holding 2h codes (element 2i low,
// 2i+1 high in byte i) as ggml's order: byte j holds element j (low) and
// element j+h (high).
func regroup(dst, src []byte) {
	h := len(src)
	for j := range dst[:h] {
		lo := nibble(src, j)
		hi := nibble(src, j+h)
		dst[j] = lo | hi<<4
	}
}

func nibble(b []byte, k int) byte {
	if k%2 == 0 {
		return b[k/2] & 0x0F
	}
	return b[k/2] >> 4
}
