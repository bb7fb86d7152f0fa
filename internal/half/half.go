// Package half widens IEEE binary16 and bfloat16 bit patterns to float32
// exactly as ggml does. It is shared by the kernels (package quant) and the
// file codecs (io/safetensors), which need the conversions but not the
// kernels.
package half

import (
	"math"

	"github.com/x448/float16"
)

// f16Table maps every binary16 bit pattern to its float32 value as ggml's
// ggml_compute_fp16_to_fp32 computes it: exact, except that a signalling NaN
// comes out quiet (ggml's conversion multiplies by 2⁻¹¹², which sets the
// quiet bit; checked with llama.cpp's ggml_fp16_to_fp32_row: 7C01 →
// 7FC02000). x448 and numpy keep the signalling bit (7F802000).
var f16Table = func() *[1 << 16]float32 {
	var t [1 << 16]float32
	for i := range t {
		f := float16.Frombits(uint16(i)).Float32()
		if f != f {
			f = math.Float32frombits(math.Float32bits(f) | 0x00400000)
		}
		t[i] = f
	}
	return &t
}()

// F16Table returns the table of F16ToF32 (not to be modified).
func F16Table() *[1 << 16]float32 { return f16Table }

// F16ToF32 widens binary16 bits to float32 exactly as ggml does: every
// number exactly, NaNs with their sign and payload and the quiet bit set.
func F16ToF32(h uint16) float32 { return f16Table[h] }

// BF16ToF32 widens bfloat16 bits to float32 exactly.
func BF16ToF32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }
