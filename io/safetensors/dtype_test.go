package safetensors

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"os"
	"testing"
)

type dtypeTables struct {
	Tables8  map[string][]uint32 `json:"tables8"`
	SHA25616 map[string]string   `json:"sha256_16"`
}

func loadDTypeTables(t *testing.T) dtypeTables {
	t.Helper()
	b, err := os.ReadFile("testdata/dtype_tables.json")
	if err != nil {
		t.Fatal(err)
	}
	var tb dtypeTables
	if err := json.Unmarshal(b, &tb); err != nil {
		t.Fatal(err)
	}
	return tb
}

// TestDecodeAllCodes converts every code of every 8- and 16-bit dtype and
// compares the float32 bits with numpy / ml_dtypes
// (tests/golden/gen_safetensors_dtype_tables.py).
func TestDecodeAllCodes(t *testing.T) {
	tb := loadDTypeTables(t)
	src8 := make([]byte, 256)
	for i := range src8 {
		src8[i] = byte(i)
	}
	checked := 0
	for _, d := range DTypes() {
		if d.Bits() != 8 {
			continue
		}
		want, ok := tb.Tables8[d.String()]
		if !ok {
			if d.CanDecode() {
				t.Errorf("%v: no reference table", d)
			}
			continue
		}
		dst := make([]float32, 256)
		if _, err := DecodeFloat32(dst, src8, d); err != nil {
			t.Fatal(err)
		}
		for c := range 256 {
			if got := math.Float32bits(dst[c]); got != want[c] {
				t.Errorf("%v code %#02x: got %#08x (%v), want %#08x (%v)", d, c, got, dst[c], want[c], math.Float32frombits(want[c]))
			}
		}
		checked++
	}
	if checked != len(tb.Tables8) {
		t.Errorf("checked %d 8-bit dtypes, the reference has %d", checked, len(tb.Tables8))
	}
	src16 := make([]byte, 2*65536)
	for c := range 65536 {
		binary.LittleEndian.PutUint16(src16[2*c:], uint16(c))
	}
	for name, want := range tb.SHA25616 {
		d, ok := ParseDType(name)
		if !ok {
			t.Fatalf("unknown dtype %q in the reference", name)
		}
		dst := make([]float32, 65536)
		if _, err := DecodeFloat32(dst, src16, d); err != nil {
			t.Fatal(err)
		}
		out := make([]byte, 4*65536)
		for i, v := range dst {
			binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(v))
		}
		sum := sha256.Sum256(out)
		if got := hex.EncodeToString(sum[:]); got != want {
			t.Errorf("%s: SHA-256 of all 65536 conversions is %s, want %s", name, got, want)
		}
	}
	if len(tb.SHA25616) != 4 {
		t.Errorf("reference has %d 16-bit dtypes, want 4", len(tb.SHA25616))
	}
}

// TestDecodeWide checks rounding of the wide types on values whose float32
// result follows from IEEE round-to-nearest-even by hand.
func TestDecodeWide(t *testing.T) {
	le64 := func(vs ...uint64) []byte {
		b := make([]byte, 8*len(vs))
		for i, v := range vs {
			binary.LittleEndian.PutUint64(b[8*i:], v)
		}
		return b
	}
	le32 := func(vs ...uint32) []byte {
		b := make([]byte, 4*len(vs))
		for i, v := range vs {
			binary.LittleEndian.PutUint32(b[4*i:], v)
		}
		return b
	}
	i64 := func(v int64) uint64 { return uint64(v) }
	cases := []struct {
		d    DType
		src  []byte
		want []float32
	}{
		// 2^24+1 is a tie between 2^24 and 2^24+2: even mantissa wins.
		{I64, le64(1<<24+1, 1<<24+3, i64(-(1<<24 + 1)), i64(math.MinInt64), math.MaxInt64), []float32{1 << 24, 1<<24 + 4, -(1 << 24), -(1 << 63), 1 << 63}},
		{U64, le64(math.MaxUint64, 1<<63+1<<39+1, 1<<63+1<<39), []float32{1 << 64, 1<<63 + 1<<40, 1 << 63}},
		{I32, le32(1<<24+1, uint32(0x80000000), 0x7FFFFFFF), []float32{1 << 24, -(1 << 31), 1 << 31}},
		{U32, le32(0xFFFFFFFF, 1<<24+3), []float32{1 << 32, 1<<24 + 4}},
		{F64, le64(math.Float64bits(1e300), math.Float64bits(-1e300), math.Float64bits(0.1), math.Float64bits(1+1.0/(1<<24))),
			[]float32{float32(math.Inf(1)), float32(math.Inf(-1)), 0.1, 1}},
		{F32, le32(0x7fc00001, 0x80000000), []float32{math.Float32frombits(0x7fc00001), math.Float32frombits(0x80000000)}},
	}
	for _, c := range cases {
		dst := make([]float32, len(c.want))
		if _, err := DecodeFloat32(dst, c.src, c.d); err != nil {
			t.Fatal(err)
		}
		for i := range dst {
			if math.Float32bits(dst[i]) != math.Float32bits(c.want[i]) {
				t.Errorf("%v[%d]: got %v, want %v", c.d, i, dst[i], c.want[i])
			}
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, d := range []DType{C64, F4, F6_E2M3, F6_E3M2} {
		if d.CanDecode() {
			t.Errorf("%v claims a float32 conversion", d)
		}
		if _, err := DecodeFloat32(make([]float32, 1), make([]byte, 8), d); !errors.Is(err, ErrNotConvertible) || !errors.Is(err, ErrArgument) {
			t.Errorf("%v: got %v, want ErrNotConvertible (argument)", d, err)
		}
	}
	if _, err := DecodeFloat32(nil, nil, DType(0)); !errors.Is(err, ErrUnknownDType) {
		t.Errorf("DType(0): got %v", err)
	}
	if _, err := DecodeFloat32(make([]float32, 1), make([]byte, 3), F16); !errors.Is(err, ErrSizeMismatch) {
		t.Errorf("odd byte count: got %v", err)
	}
	if _, err := DecodeFloat32(make([]float32, 3), make([]byte, 4), F16); !errors.Is(err, ErrSizeMismatch) {
		t.Errorf("dst too long: got %v", err)
	}
}

func TestDTypeTable(t *testing.T) {
	names := map[string]int{
		"BOOL": 8, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8,
		"F8_E8M0": 8, "F8_E4M3FNUZ": 8, "F8_E5M2FNUZ": 8, "I16": 16, "U16": 16, "F16": 16, "BF16": 16,
		"I32": 32, "U32": 32, "F32": 32, "C64": 64, "F64": 64, "I64": 64, "U64": 64,
	}
	if len(DTypes()) != len(names) {
		t.Errorf("%d dtypes, want %d", len(DTypes()), len(names))
	}
	for name, bits := range names {
		d, ok := ParseDType(name)
		if !ok || d.String() != name || d.Bits() != bits {
			t.Errorf("%s: ParseDType = %v, %v; bits %d, want %d", name, d, ok, d.Bits(), bits)
		}
	}
	for _, bad := range []string{"", "f32", "F8_E4M3FN", "FLOAT", "F32 "} {
		if _, ok := ParseDType(bad); ok {
			t.Errorf("ParseDType(%q) succeeded", bad)
		}
	}
	if DType(0).Valid() || DType(200).Valid() || DType(200).String() != "DType(200)" || DType(0).Bits() != 0 {
		t.Error("invalid dtypes are not reported as such")
	}
	// ByteSize: sub-byte and overflow.
	if n, err := F4.ByteSize(6); n != 3 || err != nil {
		t.Errorf("F4.ByteSize(6) = %d, %v", n, err)
	}
	if n, err := F6_E2M3.ByteSize(4); n != 3 || err != nil {
		t.Errorf("F6_E2M3.ByteSize(4) = %d, %v", n, err)
	}
	if _, err := F4.ByteSize(3); err != ErrPartialByte {
		t.Errorf("F4.ByteSize(3): %v", err)
	}
	if _, err := F32.ByteSize(1 << 62); err != ErrShapeOverflow {
		t.Errorf("F32.ByteSize(2^62): %v", err)
	}
	if _, err := U8.ByteSize(math.MaxUint64); err != ErrShapeOverflow {
		t.Errorf("U8.ByteSize(2^64-1): %v", err)
	}
}
