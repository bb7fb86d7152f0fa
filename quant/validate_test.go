package quant

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// For every type Wick encodes and decodes: well-formed data passes, and
// setting each scale field ValidateRows checks to ±Inf or NaN (or the E8M0
// exponent to 0xff) fails at the right block. That the field really is the
// block's scale is checked against the decoder (itself checked against
// ggml): the corrupted block no longer decodes to finite values.
func TestValidateRowsFindsEachScale(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, tr := range Types() {
		if !tr.CanQuantize() || !tr.CanDequantize() || tr.BlockSize == 1 {
			continue
		}
		f, ok := scaleFields[tr.Name]
		if tr.Type == IQ1_M {
			ok = true // its scale is spread over four nibbles: corrupted below
		}
		if !ok {
			t.Errorf("%s: no scale layout for ValidateRows", tr.Name)
			continue
		}
		n := 4 * tr.BlockSize
		if n%256 != 0 {
			n = 256
		}
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		enc := make([]byte, n/tr.BlockSize*tr.BlockBytes)
		var opt Options
		if RequiresImatrix(tr.Type) {
			opt.Imatrix = make([]float32, n)
			for i := range opt.Imatrix {
				opt.Imatrix[i] = 1
			}
		}
		if _, err := Quantize(tr.Type, enc, F32Input(x), n, opt); err != nil {
			t.Fatal(tr.Name, err)
		}
		if err := ValidateRows(tr.Type, enc); err != nil {
			t.Fatalf("%s: valid data refused: %v", tr.Name, err)
		}
		block := 2
		base := block * tr.BlockBytes
		corrupt := func(mutate func(b []byte)) {
			b := append([]byte(nil), enc...)
			mutate(b)
			var ide *InvalidDataError
			if err := ValidateRows(tr.Type, b); !errors.As(err, &ide) || ide.Block != int64(block) {
				t.Errorf("%s: corrupted scale at block %d: %v", tr.Name, block, err)
			}
			dec := make([]float32, n)
			if err := Dequantize(tr.Type, dec, b, Options{}); err != nil {
				t.Fatal(err)
			}
			finite := true
			for _, v := range dec[block*tr.BlockSize : (block+1)*tr.BlockSize] {
				if math.IsInf(float64(v), 0) || v != v {
					finite = false
				}
			}
			if finite {
				t.Errorf("%s: the field ValidateRows checks does not scale block %d", tr.Name, block)
			}
		}
		for _, off := range f.f16 {
			for _, h := range []uint16{0x7c00, 0xfc00, 0x7e00} {
				corrupt(func(b []byte) { binary.LittleEndian.PutUint16(b[base+off:], h) })
			}
		}
		if f.e8m0 >= 0 && tr.Type != IQ1_M {
			corrupt(func(b []byte) { b[base+f.e8m0] = 0xff })
		}
		if tr.Type == IQ1_M {
			// the float16 scale's nibbles are the top 4 bits of the four
			// 16-bit words at offset 48, lowest nibble first
			for _, h := range []uint16{0x7c00, 0xfc00, 0x7e00} {
				corrupt(func(b []byte) {
					for k := 0; k < 4; k++ {
						w := binary.LittleEndian.Uint16(b[base+48+2*k:])
						binary.LittleEndian.PutUint16(b[base+48+2*k:], w&0x0fff|(h>>(4*k)&0xf)<<12)
					}
				})
			}
		}
	}
}

func TestValidateRowsFloatTypes(t *testing.T) {
	f32 := make([]byte, 12)
	binary.LittleEndian.PutUint32(f32[8:], math.Float32bits(float32(math.Inf(1))))
	var ide *InvalidDataError
	if err := ValidateRows(F32, f32); !errors.As(err, &ide) || ide.Block != 2 {
		t.Fatalf("F32 inf: %v", err)
	}
	f16 := []byte{0, 0x3c, 0, 0x7c} // 1, +Inf
	if err := ValidateRows(F16, f16); !errors.As(err, &ide) || ide.Block != 1 {
		t.Fatalf("F16 inf: %v", err)
	}
	if err := ValidateRows(F16, f16[:2]); err != nil {
		t.Fatal(err)
	}
	bf16 := []byte{0xc0, 0x7f} // NaN
	if err := ValidateRows(BF16, bf16); !errors.As(err, &ide) {
		t.Fatalf("BF16 NaN: %v", err)
	}
}
