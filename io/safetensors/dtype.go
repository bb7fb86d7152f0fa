package safetensors

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"

	"github.com/wick-ml/wick/internal/half"
)

// DType is the element type of a tensor, as named in a safetensors header.
// The zero DType is invalid.
type DType uint8

// The dtypes of the safetensors format (the Rust crate's Dtype enum, 0.8).
// Names are spelled as in the header. F8_E4M3 is the "fn" variant (no
// infinities, one NaN pattern per sign: PyTorch's float8_e4m3fn); the FNUZ
// variants have no negative zero and use 0x80 as their only NaN.
const (
	BOOL        DType = iota + 1 // bool, one byte (0 = false)
	F4                           // float4 e2m1 (MX), two per byte
	F6_E2M3                      // float6 e2m3 (MX), four per three bytes
	F6_E3M2                      // float6 e3m2 (MX), four per three bytes
	U8                           // uint8
	I8                           // int8
	F8_E5M2                      // float8 e5m2 (IEEE-like, with ±Inf)
	F8_E4M3                      // float8 e4m3fn
	F8_E8M0                      // float8 e8m0fnu (power-of-two scale, MX)
	F8_E4M3FNUZ                  // float8 e4m3fnuz
	F8_E5M2FNUZ                  // float8 e5m2fnuz
	I16                          // int16
	U16                          // uint16
	F16                          // IEEE binary16
	BF16                         // bfloat16
	I32                          // int32
	U32                          // uint32
	F32                          // IEEE binary32
	C64                          // complex64: two float32 (real, imaginary)
	F64                          // IEEE binary64
	I64                          // int64
	U64                          // uint64
)

// dtypeInfo is one row of the dtype table.
type dtypeInfo struct {
	name string
	bits int // bits per element
	// decode converts whole elements of src to float32; nil when the dtype
	// has no meaningful float32 conversion (complex, sub-byte MX floats).
	decode func(dst []float32, src []byte)
}

var dtypes = [...]dtypeInfo{
	BOOL:        {"BOOL", 8, decodeBool},
	F4:          {"F4", 4, nil},
	F6_E2M3:     {"F6_E2M3", 6, nil},
	F6_E3M2:     {"F6_E3M2", 6, nil},
	U8:          {"U8", 8, decodeU8},
	I8:          {"I8", 8, decodeI8},
	F8_E5M2:     {"F8_E5M2", 8, decodeTable(&f8e5m2)},
	F8_E4M3:     {"F8_E4M3", 8, decodeTable(&f8e4m3fn)},
	F8_E8M0:     {"F8_E8M0", 8, decodeTable(&f8e8m0)},
	F8_E4M3FNUZ: {"F8_E4M3FNUZ", 8, decodeTable(&f8e4m3fnuz)},
	F8_E5M2FNUZ: {"F8_E5M2FNUZ", 8, decodeTable(&f8e5m2fnuz)},
	I16:         {"I16", 16, decodeI16},
	U16:         {"U16", 16, decodeU16},
	F16:         {"F16", 16, decodeF16},
	BF16:        {"BF16", 16, decodeBF16},
	I32:         {"I32", 32, decodeI32},
	U32:         {"U32", 32, decodeU32},
	F32:         {"F32", 32, decodeF32},
	C64:         {"C64", 64, nil},
	F64:         {"F64", 64, decodeF64},
	I64:         {"I64", 64, decodeI64},
	U64:         {"U64", 64, decodeU64},
}

var dtypeByName = func() map[string]DType {
	m := make(map[string]DType, len(dtypes))
	for i := range dtypes {
		if dtypes[i].name != "" {
			m[dtypes[i].name] = DType(i)
		}
	}
	return m
}()

// DTypes returns every dtype of the format, in the format's order (by
// increasing alignment).
func DTypes() []DType {
	out := make([]DType, 0, len(dtypes)-1)
	for i := 1; i < len(dtypes); i++ {
		out = append(out, DType(i))
	}
	return out
}

// ParseDType returns the dtype named s exactly as a header spells it
// ("F32", "BF16", "F8_E4M3", ...), or false.
func ParseDType(s string) (DType, bool) {
	d, ok := dtypeByName[s]
	return d, ok
}

// Valid reports whether d is one of the format's dtypes.
func (d DType) Valid() bool { return d > 0 && int(d) < len(dtypes) }

// String returns the header spelling of d, or "DType(N)" if d is invalid.
func (d DType) String() string {
	if !d.Valid() {
		return fmt.Sprintf("DType(%d)", uint8(d))
	}
	return dtypes[d].name
}

// Bits returns the size of one element in bits (4 for F4, 6 for the F6
// types, else a multiple of 8), or 0 if d is invalid.
func (d DType) Bits() int {
	if !d.Valid() {
		return 0
	}
	return dtypes[d].bits
}

// CanDecode reports whether DecodeFloat32 converts d. Every dtype does
// except C64 and the packed MX floats F4, F6_E2M3 and F6_E3M2.
func (d DType) CanDecode() bool { return d.Valid() && dtypes[d].decode != nil }

// ByteSize returns the number of bytes that n elements of d occupy, with
// overflow checking. It fails if the result overflows int64 or if the
// elements of a sub-byte dtype do not fill whole bytes.
func (d DType) ByteSize(n uint64) (int64, error) {
	if !d.Valid() {
		return 0, fmt.Errorf("safetensors: %v is not a dtype", d)
	}
	hi, lo := bits.Mul64(n, uint64(dtypes[d].bits))
	if hi != 0 || lo/8 > math.MaxInt64 {
		return 0, ErrShapeOverflow
	}
	if lo%8 != 0 {
		return 0, ErrPartialByte
	}
	return int64(lo / 8), nil
}

// shapeBytes returns the byte size of a tensor of dtype d and shape
// (entries ≥ 0), or ErrShapeOverflow or ErrPartialByte.
func shapeBytes(d DType, shape []int64) (int64, error) {
	count := uint64(1)
	for _, n := range shape {
		hi, lo := bits.Mul64(count, uint64(n))
		if hi != 0 || lo > math.MaxInt64 {
			return 0, ErrShapeOverflow
		}
		count = lo
	}
	return d.ByteSize(count)
}

// DecodeFloat32 converts the elements in src, stored as dtype d, to
// float32 in dst, and returns the number of elements converted.
// len(dst) must equal the number of elements in src.
//
// Float dtypes convert exactly, except F64, which rounds to nearest even
// (overflowing to ±Inf). Integers convert exactly up to 2^24 in magnitude and
// round to nearest even beyond. BOOL gives 0 or 1 (any non-zero byte is
// true). NaNs keep their sign.
func DecodeFloat32(dst []float32, src []byte, d DType) (int, error) {
	if !d.Valid() {
		return 0, argErr("", "", ErrUnknownDType, "%v is not a dtype", d)
	}
	if dtypes[d].decode == nil {
		return 0, argErr("", "", ErrNotConvertible, "%v has no float32 conversion", d)
	}
	size := dtypes[d].bits / 8
	if len(src)%size != 0 {
		return 0, argErr("", "", ErrSizeMismatch, "%d bytes are not a whole number of %v elements of %d bytes", len(src), d, size)
	}
	n := len(src) / size
	if len(dst) != n {
		return 0, argErr("", "", ErrSizeMismatch, "dst holds %d values; the %d bytes of %v hold %d", len(dst), len(src), d, n)
	}
	dtypes[d].decode(dst, src)
	return n, nil
}

func decodeBool(dst []float32, src []byte) {
	for i, b := range src {
		if b != 0 {
			dst[i] = 1
		} else {
			dst[i] = 0
		}
	}
}

func decodeU8(dst []float32, src []byte) {
	for i, b := range src {
		dst[i] = float32(b)
	}
}

func decodeI8(dst []float32, src []byte) {
	for i, b := range src {
		dst[i] = float32(int8(b))
	}
}

func decodeI16(dst []float32, src []byte) {
	for i := range dst {
		dst[i] = float32(int16(binary.LittleEndian.Uint16(src[2*i:])))
	}
}

func decodeU16(dst []float32, src []byte) {
	for i := range dst {
		dst[i] = float32(binary.LittleEndian.Uint16(src[2*i:]))
	}
}

func decodeF16(dst []float32, src []byte) {
	for i := range dst {
		dst[i] = half.F16ToF32(binary.LittleEndian.Uint16(src[2*i:]))
	}
}

func decodeBF16(dst []float32, src []byte) {
	for i := range dst {
		dst[i] = half.BF16ToF32(binary.LittleEndian.Uint16(src[2*i:]))
	}
}

func decodeI32(dst []float32, src []byte) {
	for i := range dst {
		dst[i] = float32(int32(binary.LittleEndian.Uint32(src[4*i:])))
	}
}

func decodeU32(dst []float32, src []byte) {
	for i := range dst {
		dst[i] = float32(binary.LittleEndian.Uint32(src[4*i:]))
	}
}

func decodeF32(dst []float32, src []byte) {
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
	}
}

func decodeF64(dst []float32, src []byte) {
	for i := range dst {
		dst[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(src[8*i:])))
	}
}

func decodeI64(dst []float32, src []byte) {
	for i := range dst {
		dst[i] = float32(int64(binary.LittleEndian.Uint64(src[8*i:])))
	}
}

func decodeU64(dst []float32, src []byte) {
	for i := range dst {
		dst[i] = float32(binary.LittleEndian.Uint64(src[8*i:]))
	}
}

func decodeTable(t *[256]float32) func(dst []float32, src []byte) {
	return func(dst []float32, src []byte) {
		for i, b := range src {
			dst[i] = t[b]
		}
	}
}

// The 8-bit float tables, built once from the format definitions by
// minifloat and tested against ml_dtypes over all 256 codes.
var (
	f8e5m2     = f8Table(5, 2, 15, ieeeSpecials)
	f8e4m3fn   = f8Table(4, 3, 7, fnSpecials)
	f8e4m3fnuz = f8Table(4, 3, 8, fnuzSpecials)
	f8e5m2fnuz = f8Table(5, 2, 16, fnuzSpecials)
	f8e8m0     = func() (t [256]float32) {
		// e8m0fnu: no sign, no mantissa, no zero: 2^(e-127); 0xFF is NaN.
		for e := range 255 {
			t[e] = float32(math.Ldexp(1, e-127))
		}
		t[255] = float32(math.NaN())
		return t
	}()
)

// Special-value conventions of 8-bit floats.
const (
	ieeeSpecials = iota // top exponent: Inf (mantissa 0) or NaN
	fnSpecials          // only the all-ones exponent+mantissa pattern is NaN; no Inf
	fnuzSpecials        // 0x80 (negative zero's pattern) is the only NaN; no Inf
)

// minifloat returns the value of an 8-bit float code with the given
// exponent and mantissa widths, exponent bias and special-value convention.
func minifloat(code uint8, ebits, mbits, bias, specials int) float64 {
	sign := 1.0
	if code&0x80 != 0 {
		sign = -1
	}
	e := int(code>>mbits) & (1<<ebits - 1)
	m := int(code) & (1<<mbits - 1)
	emax := 1<<ebits - 1
	switch specials {
	case ieeeSpecials:
		if e == emax {
			if m == 0 {
				return math.Inf(int(sign))
			}
			return math.Copysign(math.NaN(), sign)
		}
	case fnSpecials:
		if e == emax && m == 1<<mbits-1 {
			return math.Copysign(math.NaN(), sign)
		}
	case fnuzSpecials:
		if code == 0x80 {
			return math.Copysign(math.NaN(), -1) // the sign bit is set
		}
	}
	if e == 0 { // zero and subnormals
		return sign * math.Ldexp(float64(m), 1-bias-mbits)
	}
	return sign * math.Ldexp(float64(1<<mbits+m), e-bias-mbits)
}

func f8Table(ebits, mbits, bias, specials int) (t [256]float32) {
	for c := range 256 {
		t[c] = float32(minifloat(uint8(c), ebits, mbits, bias, specials))
	}
	return t
}
