package safetensors

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// stBytes builds a safetensors file from a header and data section.
func stBytes(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

// openBoth parses b from memory and from a temporary file, mapped and not,
// and requires the three to agree: same error (message and class) or same
// tensors, metadata and data.
func openBoth(t *testing.T, b []byte, opts ...Option) (*File, error) {
	t.Helper()
	mem, memErr := Parse(b, opts...)
	p := filepath.Join(t.TempDir(), "test.safetensors")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, useMmap := range []bool{true, false} {
		f, err := Open(p, append(slices.Clone(opts), WithMmap(useMmap))...)
		if (err == nil) != (memErr == nil) {
			t.Fatalf("mmap=%v: Open error %v, Parse error %v", useMmap, err, memErr)
		}
		if err != nil {
			if !errors.Is(err, unwrapOne(memErr)) || !strings.Contains(err.Error(), p) {
				t.Fatalf("mmap=%v: Open error %q differs from Parse error %q or lacks the path", useMmap, err, memErr)
			}
			if strings.Replace(err.Error(), p+": ", "", 1) != memErr.Error() {
				t.Fatalf("mmap=%v: Open error %q, Parse error %q", useMmap, err, memErr)
			}
			continue
		}
		sameFile(t, f, mem)
		f.Close()
	}
	return mem, memErr
}

func unwrapOne(err error) error {
	var e *Error
	if errors.As(err, &e) {
		return e.Err
	}
	return err
}

func sameFile(t *testing.T, a, b *File) {
	t.Helper()
	ta, tb := a.Tensors(), b.Tensors()
	if len(ta) != len(tb) {
		t.Fatalf("%d vs %d tensors", len(ta), len(tb))
	}
	for i := range ta {
		if ta[i].Name != tb[i].Name || ta[i].DType != tb[i].DType || !slices.Equal(ta[i].Shape, tb[i].Shape) || ta[i].DataOffsets != tb[i].DataOffsets {
			t.Fatalf("tensor %d: %+v vs %+v", i, ta[i], tb[i])
		}
		da, _ := a.Data(ta[i].Name)
		db, _ := b.Data(tb[i].Name)
		if !bytes.Equal(da, db) {
			t.Fatalf("tensor %q: data differs", ta[i].Name)
		}
	}
	if !mapsEqual(a.Metadata(), b.Metadata()) {
		t.Fatalf("metadata %v vs %v", a.Metadata(), b.Metadata())
	}
}

func mapsEqual(a, b map[string]string) bool {
	if (a == nil) != (b == nil) || len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func entry(dtype, shape string, b, e uint64) string {
	return `{"dtype":"` + dtype + `","shape":` + shape + `,"data_offsets":[` + strconv.FormatUint(b, 10) + `,` + strconv.FormatUint(e, 10) + `]}`
}

// TestHostile feeds hand-made broken files and asserts the specific error,
// its class and that the message names the tensor.
func TestHostile(t *testing.T) {
	eight := make([]byte, 8)
	cases := []struct {
		name   string
		file   []byte
		opts   []Option
		want   error
		class  error
		tensor string // must appear in the message
	}{
		{"empty file", nil, nil, ErrTruncated, ErrFormat, ""},
		{"7 bytes", make([]byte, 7), nil, ErrTruncated, ErrFormat, ""},
		{"header length 2^64-1", binary.LittleEndian.AppendUint64(nil, math.MaxUint64), nil, ErrHeaderTooLarge, ErrLimit, ""},
		{"header over the default cap", binary.LittleEndian.AppendUint64(nil, DefaultMaxHeaderSize+1), nil, ErrHeaderTooLarge, ErrLimit, ""},
		{"header over a set cap", stBytes(`{"a":`+entry("F32", "[2]", 0, 8)+`}`, eight), []Option{WithMaxHeaderSize(16)}, ErrHeaderTooLarge, ErrLimit, ""},
		{"header past the end", append(binary.LittleEndian.AppendUint64(nil, 100), "{}"...), nil, ErrTruncated, ErrFormat, ""},
		{"invalid UTF-8", stBytes("{\"a\xff\":1}", nil), nil, ErrInvalidUTF8, ErrFormat, ""},
		{"empty header", stBytes("", nil), nil, ErrInvalidJSON, ErrFormat, ""},
		{"unterminated JSON", stBytes(`{"a":`, nil), nil, ErrInvalidJSON, ErrFormat, ""},
		{"JSON syntax error", stBytes(`{"a" 1}`, nil), nil, ErrInvalidJSON, ErrFormat, ""},
		{"trailing garbage", stBytes(`{} x`, nil), nil, ErrInvalidJSON, ErrFormat, ""},
		{"trailing NUL", stBytes("{}\x00", nil), nil, ErrInvalidJSON, ErrFormat, ""},
		{"two objects", stBytes(`{}{}`, nil), nil, ErrInvalidJSON, ErrFormat, ""},
		{"not an object", stBytes(`[]`, nil), nil, ErrInvalidHeader, ErrFormat, ""},
		{"entry not an object", stBytes(`{"w":[1]}`, nil), nil, ErrInvalidHeader, ErrFormat, "w"},
		{"missing dtype", stBytes(`{"w":{"shape":[2],"data_offsets":[0,8]}}`, eight), nil, ErrInvalidHeader, ErrFormat, "w"},
		{"missing shape", stBytes(`{"w":{"dtype":"F32","data_offsets":[0,8]}}`, eight), nil, ErrInvalidHeader, ErrFormat, "w"},
		{"missing offsets", stBytes(`{"w":{"dtype":"F32","shape":[2]}}`, eight), nil, ErrInvalidHeader, ErrFormat, "w"},
		{"repeated field", stBytes(`{"w":{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, eight), nil, ErrInvalidHeader, ErrFormat, "w"},
		{"dtype not a string", stBytes(`{"w":{"dtype":3,"shape":[2],"data_offsets":[0,8]}}`, eight), nil, ErrInvalidHeader, ErrFormat, "w"},
		{"shape not an array", stBytes(`{"w":{"dtype":"F32","shape":2,"data_offsets":[0,8]}}`, eight), nil, ErrInvalidHeader, ErrFormat, "w"},
		{"negative dim", stBytes(`{"w":`+entry("F32", "[-2]", 0, 8)+`}`, eight), nil, ErrInvalidHeader, ErrFormat, "w"},
		{"fractional dim", stBytes(`{"w":`+entry("F32", "[2.0]", 0, 8)+`}`, eight), nil, ErrInvalidHeader, ErrFormat, "w"},
		{"exponent dim", stBytes(`{"w":`+entry("F32", "[2e0]", 0, 8)+`}`, eight), nil, ErrInvalidHeader, ErrFormat, "w"},
		{"dim over 2^64", stBytes(`{"w":`+entry("F32", "[18446744073709551616]", 0, 8)+`}`, eight), nil, ErrInvalidHeader, ErrFormat, "w"},
		{"string dim", stBytes(`{"w":`+entry("F32", `["2"]`, 0, 8)+`}`, eight), nil, ErrInvalidHeader, ErrFormat, "w"},
		{"three offsets", stBytes(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8,8]}}`, eight), nil, ErrInvalidHeader, ErrFormat, "w"},
		{"one offset", stBytes(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[8]}}`, eight), nil, ErrInvalidHeader, ErrFormat, "w"},
		{"deeply nested unknown field", stBytes(`{"w":{"x":`+strings.Repeat("[", 100)+strings.Repeat("]", 100)+`}}`, nil), nil, ErrInvalidHeader, ErrFormat, "w"},
		{"metadata not an object", stBytes(`{"__metadata__":[]}`, nil), nil, ErrInvalidMetadata, ErrFormat, "__metadata__"},
		{"metadata value not a string", stBytes(`{"__metadata__":{"a":1}}`, nil), nil, ErrInvalidMetadata, ErrFormat, "__metadata__"},
		{"metadata value null", stBytes(`{"__metadata__":{"a":null}}`, nil), nil, ErrInvalidMetadata, ErrFormat, "__metadata__"},
		{"duplicate metadata key", stBytes(`{"__metadata__":{"a":"1","a":"2"}}`, nil), nil, ErrDuplicateName, ErrFormat, "__metadata__"},
		{"duplicate __metadata__", stBytes(`{"__metadata__":{},"__metadata__":{}}`, nil), nil, ErrDuplicateName, ErrFormat, "__metadata__"},
		{"duplicate tensor", stBytes(`{"w":`+entry("F32", "[2]", 0, 8)+`,"w":`+entry("F32", "[2]", 0, 8)+`}`, eight), nil, ErrDuplicateName, ErrFormat, "w"},
		{"unknown dtype", stBytes(`{"w":`+entry("F17", "[2]", 0, 8)+`}`, eight), nil, ErrUnknownDType, ErrFormat, "w"},
		{"lower-case dtype", stBytes(`{"w":`+entry("f32", "[2]", 0, 8)+`}`, eight), nil, ErrUnknownDType, ErrFormat, "w"},
		{"dim over 2^63-1", stBytes(`{"w":`+entry("F32", "[0,9223372036854775808]", 0, 0)+`}`, nil), nil, ErrShapeOverflow, ErrFormat, "w"},
		{"element count overflow", stBytes(`{"w":`+entry("U8", "[4294967296,4294967296]", 0, 8)+`}`, eight), nil, ErrShapeOverflow, ErrFormat, "w"},
		{"element count over int64", stBytes(`{"w":`+entry("U8", "[3,4611686018427387904]", 0, 8)+`}`, eight), nil, ErrShapeOverflow, ErrFormat, "w"},
		{"byte size overflow", stBytes(`{"w":`+entry("F32", "[4611686018427387904]", 0, 8)+`}`, eight), nil, ErrShapeOverflow, ErrFormat, "w"},
		{"F4 odd count", stBytes(`{"w":`+entry("F4", "[3]", 0, 2)+`}`, eight[:2]), nil, ErrPartialByte, ErrFormat, "w"},
		{"F6 partial", stBytes(`{"w":`+entry("F6_E2M3", "[5]", 0, 4)+`}`, eight[:4]), nil, ErrPartialByte, ErrFormat, "w"},
		{"offsets reversed", stBytes(`{"w":`+entry("F32", "[2]", 8, 0)+`}`, eight), nil, ErrInvalidOffsets, ErrFormat, "w"},
		{"size mismatch", stBytes(`{"w":`+entry("F32", "[3]", 0, 8)+`}`, eight), nil, ErrSizeMismatch, ErrFormat, "w"},
		{"scalar size mismatch", stBytes(`{"w":`+entry("F32", "[]", 0, 8)+`}`, eight), nil, ErrSizeMismatch, ErrFormat, "w"},
		{"out of bounds", stBytes(`{"w":`+entry("F32", "[2]", 0, 8)+`}`, eight[:4]), nil, ErrOutOfBounds, ErrFormat, "w"},
		{"offsets near 2^64", stBytes(`{"w":`+entry("F32", "[2]", math.MaxUint64-8, math.MaxUint64)+`}`, eight), nil, ErrOutOfBounds, ErrFormat, "w"},
		{"overlap", stBytes(`{"a":`+entry("F32", "[2]", 0, 8)+`,"b":`+entry("F32", "[2]", 4, 12)+`}`, make([]byte, 12)), nil, ErrOverlap, ErrFormat, "b"},
		{"same range twice", stBytes(`{"a":`+entry("F32", "[2]", 0, 8)+`,"b":`+entry("F32", "[2]", 0, 8)+`}`, eight), nil, ErrOverlap, ErrFormat, "b"},
		{"gap between", stBytes(`{"a":`+entry("F32", "[1]", 0, 4)+`,"b":`+entry("F32", "[1]", 8, 12)+`}`, make([]byte, 12)), nil, ErrGap, ErrFormat, "b"},
		{"gap at start", stBytes(`{"a":`+entry("F32", "[1]", 4, 8)+`}`, eight), nil, ErrGap, ErrFormat, "a"},
		{"trailing bytes", stBytes(`{"a":`+entry("F32", "[1]", 0, 4)+`}`, eight), nil, ErrGap, ErrFormat, ""},
		{"data without tensors", stBytes(`{}`, eight), nil, ErrGap, ErrFormat, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := openBoth(t, c.file, c.opts...)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if !errors.Is(err, c.class) {
				t.Errorf("%v is not in class %v", err, c.class)
			}
			for _, other := range []error{ErrFormat, ErrLimit, ErrArgument} {
				if other != c.class && errors.Is(err, other) {
					t.Errorf("%v is also in class %v", err, other)
				}
			}
			if !strings.HasPrefix(err.Error(), "safetensors: ") {
				t.Errorf("message %q lacks the package prefix", err)
			}
			if c.tensor != "" && !strings.Contains(err.Error(), `"`+c.tensor+`"`) {
				t.Errorf("message %q does not name %q", err, c.tensor)
			}
			if c.want == ErrTruncated && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("truncation %v does not match io.ErrUnexpectedEOF", err)
			}
		})
	}
}

func TestValidEdgeCases(t *testing.T) {
	data := make([]byte, 12)
	for i := range data {
		data[i] = byte(i)
	}
	// b is listed first but comes second in the data; unknown fields and a
	// null __metadata__ are accepted as the reference reader accepts them;
	// zero-element tensors may sit anywhere, even at the end.
	header := `{"__metadata__":null,"b":` + entry("U8", "[2,2]", 8, 12) + `,"a":{"extra":{"k":[1,2,{"x":null}]},"dtype":"F32","shape":[2],"data_offsets":[0,8]},"z":` + entry("F32", "[0,5]", 12, 12) + `,"s":` + entry("BOOL", "[0]", 0, 0) + `}  `
	f, err := openBoth(t, stBytes(header, data))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ti := range f.Tensors() {
		names = append(names, ti.Name)
	}
	if want := []string{"s", "a", "b", "z"}; !slices.Equal(names, want) {
		t.Errorf("file order %v, want %v", names, want)
	}
	if f.Metadata() != nil {
		t.Errorf("metadata %v, want nil", f.Metadata())
	}
	b, _ := f.Data("b")
	if !bytes.Equal(b, data[8:12]) || cap(b) != 4 {
		t.Errorf("Data(b) = %v (cap %d)", b, cap(b))
	}
	z, _ := f.Tensor("z")
	if z.NumElements() != 0 || z.Size() != 0 {
		t.Errorf("z: %d elements, %d bytes", z.NumElements(), z.Size())
	}
	if _, err := f.Data("nope"); !errors.Is(err, ErrTensorNotFound) || !errors.Is(err, ErrArgument) {
		t.Errorf("Data(nope): %v", err)
	}
	// An empty model.
	if f, err := openBoth(t, stBytes(`{}`, nil)); err != nil || len(f.Tensors()) != 0 {
		t.Errorf("{}: %v", err)
	}
	// A scalar.
	f, err = openBoth(t, stBytes(`{"s":`+entry("F32", "[]", 0, 4)+`}`, []byte{0, 0, 0x20, 0x40}))
	if err != nil {
		t.Fatal(err)
	}
	if v, err := f.Float32("s"); err != nil || len(v) != 1 || v[0] != 2.5 {
		t.Errorf("scalar: %v, %v", v, err)
	}
}

func TestOptions(t *testing.T) {
	if _, err := Parse(nil, WithMaxHeaderSize(1)); !errors.Is(err, ErrInvalidOption) || !errors.Is(err, ErrArgument) {
		t.Errorf("WithMaxHeaderSize(1): %v", err)
	}
	if _, err := Parse(stBytes(`{}`, nil), WithMaxHeaderSize(2), nil); err != nil {
		t.Errorf("header exactly at the cap: %v", err)
	}
}

func TestCloseAndRelease(t *testing.T) {
	data := make([]byte, 1<<16)
	p := filepath.Join(t.TempDir(), "x.safetensors")
	os.WriteFile(p, stBytes(`{"w":`+entry("U8", "[65536]", 0, 1<<16)+`}`, data), 0o644)
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Prefetch("w"); err != nil {
		t.Fatal(err)
	}
	if err := f.Release("w"); err != nil {
		t.Fatal(err)
	}
	if err := f.Release("nope"); !errors.Is(err, ErrTensorNotFound) {
		t.Errorf("Release(nope): %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := f.Data("w"); !errors.Is(err, ErrClosed) {
		t.Errorf("Data after Close: %v", err)
	}
	if err := f.Release("w"); !errors.Is(err, ErrClosed) {
		t.Errorf("Release after Close: %v", err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) || errors.Is(err, ErrFormat) {
		t.Errorf("missing file: %v", err)
	}
}

type expectedFile struct {
	Metadata   map[string]string `json:"metadata"`
	HeaderSize int64             `json:"header_size"`
	Tensors    map[string]struct {
		DType       string    `json:"dtype"`
		Shape       []int64   `json:"shape"`
		DataOffsets [2]int64  `json:"data_offsets"`
		SHA256      string    `json:"sha256"`
		Float32Bits *[]uint32 `json:"float32_bits"`
	} `json:"tensors"`
}

func loadExpected(t *testing.T) map[string]expectedFile {
	t.Helper()
	b, err := os.ReadFile("testdata/ref/expected.json")
	if err != nil {
		t.Fatal(err)
	}
	var e struct {
		Files map[string]expectedFile `json:"files"`
	}
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	return e.Files
}

// checkAgainstReference compares what f holds with what the reference
// reader saw (tests/golden/gen_safetensors_files.py).
func checkAgainstReference(t *testing.T, f *File, want expectedFile) {
	t.Helper()
	if !mapsEqual(f.Metadata(), want.Metadata) {
		t.Errorf("metadata %v, want %v", f.Metadata(), want.Metadata)
	}
	if f.HeaderSize() != want.HeaderSize {
		t.Errorf("header size %d, want %d", f.HeaderSize(), want.HeaderSize)
	}
	if len(f.Tensors()) != len(want.Tensors) {
		t.Errorf("%d tensors, want %d", len(f.Tensors()), len(want.Tensors))
	}
	prev := int64(0)
	for _, ti := range f.Tensors() {
		w, ok := want.Tensors[ti.Name]
		if !ok {
			t.Errorf("unexpected tensor %q", ti.Name)
			continue
		}
		if ti.DType.String() != w.DType || !slices.Equal(ti.Shape, w.Shape) || ti.DataOffsets != w.DataOffsets {
			t.Errorf("%s: %v %v %v, want %s %v %v", ti.Name, ti.DType, ti.Shape, ti.DataOffsets, w.DType, w.Shape, w.DataOffsets)
		}
		if ti.DataOffsets[0] < prev {
			t.Errorf("%s: not in file order", ti.Name)
		}
		prev = ti.DataOffsets[0]
		data, err := f.Data(ti.Name)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		if hex.EncodeToString(sum[:]) != w.SHA256 {
			t.Errorf("%s: data differs from the reference's", ti.Name)
		}
		vals, err := f.Float32(ti.Name)
		if w.Float32Bits == nil {
			if !errors.Is(err, ErrNotConvertible) {
				t.Errorf("%s: Float32 of %v: %v, want ErrNotConvertible", ti.Name, ti.DType, err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(vals) != len(*w.Float32Bits) {
			t.Fatalf("%s: %d values, want %d", ti.Name, len(vals), len(*w.Float32Bits))
		}
		for i, v := range vals {
			if math.Float32bits(v) != (*w.Float32Bits)[i] {
				t.Errorf("%s[%d] = %#08x, want %#08x", ti.Name, i, math.Float32bits(v), (*w.Float32Bits)[i])
			}
		}
	}
}

func TestReferenceFiles(t *testing.T) {
	for name, want := range loadExpected(t) {
		t.Run(name, func(t *testing.T) {
			for _, useMmap := range []bool{true, false} {
				f, err := Open(filepath.Join("testdata/ref", name), WithMmap(useMmap))
				if err != nil {
					t.Fatal(err)
				}
				checkAgainstReference(t, f, want)
				f.Close()
			}
		})
	}
}

// TestConcurrentUse reads, converts and releases tensors of one mapped
// File from several goroutines (run with -race).
func TestConcurrentUse(t *testing.T) {
	f, err := OpenModel("testdata/ref/all_dtypes.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	done := make(chan error)
	for g := range 4 {
		go func() {
			var err error
			for _, ti := range f.Tensors() {
				if _, e := f.Data(ti.Name); e != nil {
					err = e
				}
				if ti.DType.CanDecode() {
					if _, e := f.Float32(ti.Name); e != nil {
						err = e
					}
				}
				if g%2 == 0 {
					f.Release(ti.Name)
				}
			}
			done <- err
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
