package quant

import (
	"encoding/binary"
	"fmt"
	"math"
)

// InvalidDataError reports encoded data that ggml's ggml_validate_row_data
// rejects: a non-finite float element, a non-finite block scale, or an E8M0
// scale of 0xff. llama-quantize validates every tensor it writes this way
// and refuses the whole model when one fails.
type InvalidDataError struct {
	Type  string
	Block int64 // block (or element, for float types) index within the data
	What  string
}

func (e *InvalidDataError) Error() string {
	return fmt.Sprintf("%s data: %s at block %d", e.Type, e.What, e.Block)
}

// scaleFields says where a block type keeps its scales: the byte offsets
// of its float16 scales within a block, or of an E8M0 exponent. The layouts
// are ggml's (ggml-common.h); the checks are ggml_validate_row_data's.
var scaleFields = map[string]struct {
	f16  []int
	e8m0 int // offset, or -1
}{
	"Q1_0": {f16: []int{0}, e8m0: -1}, "Q2_0": {f16: []int{0}, e8m0: -1},
	"Q4_0": {f16: []int{0}, e8m0: -1}, "Q4_1": {f16: []int{0, 2}, e8m0: -1},
	"Q5_0": {f16: []int{0}, e8m0: -1}, "Q5_1": {f16: []int{0, 2}, e8m0: -1},
	"Q8_0": {f16: []int{0}, e8m0: -1},
	"Q2_K": {f16: []int{80, 82}, e8m0: -1}, // after scales[16] and qs[64]
	"Q3_K": {f16: []int{108}, e8m0: -1},    // after hmask[32], qs[64], scales[12]
	"Q4_K": {f16: []int{0, 2}, e8m0: -1}, "Q5_K": {f16: []int{0, 2}, e8m0: -1},
	"Q6_K":  {f16: []int{208}, e8m0: -1}, // after ql[128], qh[64], scales[16]
	"TQ1_0": {f16: []int{52}, e8m0: -1},  // after qs[48], qh[4]
	"TQ2_0": {f16: []int{64}, e8m0: -1},  // after qs[64]
	"IQ1_S": {f16: []int{0}, e8m0: -1}, "IQ2_XXS": {f16: []int{0}, e8m0: -1}, "IQ2_XS": {f16: []int{0}, e8m0: -1},
	"IQ2_S": {f16: []int{0}, e8m0: -1}, "IQ3_XXS": {f16: []int{0}, e8m0: -1}, "IQ3_S": {f16: []int{0}, e8m0: -1},
	"IQ4_XS": {f16: []int{0}, e8m0: -1}, "IQ4_NL": {f16: []int{0}, e8m0: -1},
	"MXFP4": {e8m0: 0},
	"NVFP4": {e8m0: -1}, // UE4M3 scales: every byte is valid
}

func f16Finite(h uint16) bool { return h&0x7c00 != 0x7c00 }

// ValidateRows checks encoded data of type t (whole blocks) as ggml's
// ggml_validate_row_data does and returns an *InvalidDataError for the
// first offence. Types ggml does not validate (the integer types) pass.
func ValidateRows(t Type, data []byte) error {
	tr, ok := TraitsOf(t)
	if !ok {
		return fmt.Errorf("quant: validate: unknown type %d", t)
	}
	bad := func(i int, what string) error { return &InvalidDataError{Type: tr.Name, Block: int64(i), What: what} }
	switch tr.Name {
	case "F32":
		for i := 0; i+4 <= len(data); i += 4 {
			f := math.Float32frombits(binary.LittleEndian.Uint32(data[i:]))
			if math.IsInf(float64(f), 0) || f != f {
				return bad(i/4, fmt.Sprintf("the value %v", f))
			}
		}
		return nil
	case "F16":
		for i := 0; i+2 <= len(data); i += 2 {
			if h := binary.LittleEndian.Uint16(data[i:]); !f16Finite(h) {
				return bad(i/2, fmt.Sprintf("the value %v", F16ToF32(h)))
			}
		}
		return nil
	case "BF16":
		for i := 0; i+2 <= len(data); i += 2 {
			if h := binary.LittleEndian.Uint16(data[i:]); h&0x7f80 == 0x7f80 {
				return bad(i/2, fmt.Sprintf("the value %v", BF16ToF32(h)))
			}
		}
		return nil
	case "Q8_K":
		for i := 0; i+tr.BlockBytes <= len(data); i += tr.BlockBytes {
			f := math.Float32frombits(binary.LittleEndian.Uint32(data[i:]))
			if math.IsInf(float64(f), 0) || f != f {
				return bad(i/tr.BlockBytes, fmt.Sprintf("the scale %v", f))
			}
		}
		return nil
	case "IQ1_M":
		// the float16 scale is spread over the top nibbles of the four
		// 16-bit words of scales[8] (at offset 48)
		for i := 0; i+tr.BlockBytes <= len(data); i += tr.BlockBytes {
			sc := data[i+48:]
			w := func(k int) uint16 { return binary.LittleEndian.Uint16(sc[2*k:]) }
			h := w(0)>>12 | (w(1)>>8)&0x00f0 | (w(2)>>4)&0x0f00 | w(3)&0xf000
			if !f16Finite(h) {
				return bad(i/tr.BlockBytes, fmt.Sprintf("the scale %v", F16ToF32(h)))
			}
		}
		return nil
	}
	f, ok := scaleFields[tr.Name]
	if !ok {
		return nil // integer types and types ggml does not check
	}
	for i := 0; i+tr.BlockBytes <= len(data); i += tr.BlockBytes {
		for _, off := range f.f16 {
			if h := binary.LittleEndian.Uint16(data[i+off:]); !f16Finite(h) {
				return bad(i/tr.BlockBytes, fmt.Sprintf("the scale %v", F16ToF32(h)))
			}
		}
		if f.e8m0 >= 0 && data[i+f.e8m0] == 0xff {
			return bad(i/tr.BlockBytes, "the E8M0 scale 0xff")
		}
	}
	return nil
}
