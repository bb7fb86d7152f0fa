package gguf

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
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/wick-ml/wick/quant"
)

// gb builds GGUF bytes by hand, field by field, as spec gguf.md lays them out.
type gb struct{ b []byte }

func newGB(version uint32, nTensors, nKV uint64) *gb {
	g := &gb{b: []byte("GGUF")}
	return g.u32(version).u64(nTensors).u64(nKV)
}

func (g *gb) u8(v uint8) *gb   { g.b = append(g.b, v); return g }
func (g *gb) u16(v uint16) *gb { g.b = binary.LittleEndian.AppendUint16(g.b, v); return g }
func (g *gb) u32(v uint32) *gb { g.b = binary.LittleEndian.AppendUint32(g.b, v); return g }
func (g *gb) u64(v uint64) *gb { g.b = binary.LittleEndian.AppendUint64(g.b, v); return g }
func (g *gb) f32(v float32) *gb {
	return g.u32(math.Float32bits(v))
}
func (g *gb) str(s string) *gb { g.u64(uint64(len(s))); g.b = append(g.b, s...); return g }
func (g *gb) raw(b []byte) *gb { g.b = append(g.b, b...); return g }
func (g *gb) pad(a int) *gb {
	for len(g.b)%a != 0 {
		g.b = append(g.b, 0)
	}
	return g
}

// kv appends a key and a value type tag.
func (g *gb) kv(key string, t ValueType) *gb { return g.str(key).u32(uint32(t)) }

// tensor appends a tensor info.
func (g *gb) tensor(name string, typ quant.Type, offset uint64, dims ...uint64) *gb {
	g.str(name).u32(uint32(len(dims)))
	for _, d := range dims {
		g.u64(d)
	}
	return g.u32(uint32(typ)).u64(offset)
}

// specExample builds the worked example of spec gguf.md §9 by hand.
func specExample() []byte {
	g := newGB(3, 1, 4)
	g.kv("general.architecture", TypeString).str("llama")
	g.kv("llama.context_length", TypeUint32).u32(16)
	g.kv("llama.rope.freq_base", TypeFloat32).f32(10000)
	g.kv("tokenizer.ggml.tokens", TypeArray).u32(uint32(TypeString)).u64(2).str("a").str("bc")
	g.tensor("x", quant.F32, 0, 3, 2)
	g.pad(32)
	for i := range 6 {
		g.f32(float32(i))
	}
	return g.pad(32).b
}

func TestSpecExample(t *testing.T) {
	want := specExample()
	if len(want) != 288 {
		t.Fatalf("hand-built example has %d bytes, the spec says 288", len(want))
	}
	ref, err := os.ReadFile("testdata/example.gguf")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(want, ref) {
		t.Fatalf("hand-built example differs from gguf-py's")
	}
	f, err := Parse(want)
	if err != nil {
		t.Fatal(err)
	}
	if f.Version() != 3 || f.Alignment() != 32 || f.DataOffset() != 0x100 {
		t.Errorf("version %d, alignment %d, data offset %#x", f.Version(), f.Alignment(), f.DataOffset())
	}
	var keys []string
	for _, kv := range f.Metadata() {
		keys = append(keys, kv.Key)
	}
	if strings.Join(keys, ",") != "general.architecture,llama.context_length,llama.rope.freq_base,tokenizer.ggml.tokens" {
		t.Errorf("keys %v not in file order", keys)
	}
	if v, _ := f.Lookup("llama.context_length"); v.Type() != TypeUint32 || v.Any() != uint32(16) {
		t.Errorf("context_length %v %v", v.Type(), v)
	}
	if _, ok := As[uint64](must(f.Lookup("llama.context_length"))); ok {
		t.Error("As[uint64] of a UINT32 succeeded")
	}
	if v, _ := f.Lookup("tokenizer.ggml.tokens"); v.ElemType() != TypeString || !slices.Equal(v.Any().([]string), []string{"a", "bc"}) || v.Len() != 2 {
		t.Errorf("tokens %v", v)
	}
	ti, err := f.Tensor("x")
	if err != nil {
		t.Fatal(err)
	}
	if ti.Type != quant.F32 || !slices.Equal(ti.Dims, []int64{3, 2}) || !slices.Equal(ti.Shape(), []int64{2, 3}) || ti.Size != 24 || ti.Offset != 0 || ti.NumElements() != 6 {
		t.Errorf("tensor info %+v", ti)
	}
	data, _ := f.TensorData("x")
	if !bytes.Equal(data, want[0x100:0x118]) || cap(data) != 24 {
		t.Errorf("tensor data %v", data)
	}
}

func must(v Value, ok bool) Value {
	if !ok {
		panic("missing key")
	}
	return v
}

// jsonable turns a Value into the representation expected.json uses:
// integers and bools as JSON numbers/bools, floats as their IEEE bits.
func jsonable(v Value) any {
	switch x := v.Any().(type) {
	case float32:
		return math.Float32bits(x)
	case float64:
		return math.Float64bits(x)
	case []float32:
		out := make([]any, len(x))
		for i, f := range x {
			out[i] = math.Float32bits(f)
		}
		return out
	case []float64:
		out := make([]any, len(x))
		for i, f := range x {
			out[i] = math.Float64bits(f)
		}
		return out
	case []Value:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonable(e)
		}
		return out
	case []uint8: // not base64, as encoding/json would write it
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = e
		}
		return out
	}
	return v.Any()
}

// normalize round-trips through JSON so that Go values and decoded
// expectations compare equal.
func normalize(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

type expectedGGUF struct {
	Size       int64 `json:"size"`
	DataOffset int64 `json:"data_offset"`
	Alignment  int   `json:"alignment"`
	KVs        []struct {
		Key      string          `json:"key"`
		Type     ValueType       `json:"type"`
		ElemType *ValueType      `json:"elem_type"`
		Value    json.RawMessage `json:"value"`
	} `json:"kvs"`
	Tensors []struct {
		Name      string  `json:"name"`
		Type      uint32  `json:"type"`
		Dims      []int64 `json:"dims"`
		NElements int64   `json:"n_elements"`
		NBytes    int64   `json:"n_bytes"`
		Offset    int64   `json:"offset"`
		SHA256    string  `json:"sha256"`
	} `json:"tensors"`
}

func loadExpected(t *testing.T) map[string]expectedGGUF {
	t.Helper()
	b, err := os.ReadFile("testdata/expected.json")
	if err != nil {
		t.Fatal(err)
	}
	var e struct {
		Files map[string]expectedGGUF `json:"files"`
	}
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	return e.Files
}

// TestReferenceFiles reads files written by gguf-py's GGUFWriter and
// compares with what gguf-py's GGUFReader read (tests/golden/gen_gguf_files.py).
func TestReferenceFiles(t *testing.T) {
	for name, want := range loadExpected(t) {
		t.Run(name, func(t *testing.T) {
			for _, useMmap := range []bool{true, false} {
				f, err := Open(filepath.Join("testdata", name), WithMmap(useMmap))
				if err != nil {
					t.Fatal(err)
				}
				checkExpected(t, f, want)
				f.Close()
			}
		})
	}
}

func checkExpected(t *testing.T, f *File, want expectedGGUF) {
	t.Helper()
	if f.DataOffset() != want.DataOffset || f.Alignment() != want.Alignment {
		t.Errorf("data offset %d, alignment %d; want %d, %d", f.DataOffset(), f.Alignment(), want.DataOffset, want.Alignment)
	}
	kvs := f.Metadata()
	if len(kvs) != len(want.KVs) {
		t.Fatalf("%d KVs, want %d", len(kvs), len(want.KVs))
	}
	for i, w := range want.KVs {
		kv := kvs[i]
		if kv.Key != w.Key || kv.Value.Type() != w.Type {
			t.Errorf("KV %d: %s %v, want %s %v", i, kv.Key, kv.Value.Type(), w.Key, w.Type)
			continue
		}
		if w.ElemType != nil && kv.Value.ElemType() != *w.ElemType {
			t.Errorf("%s: element type %v, want %v", kv.Key, kv.Value.ElemType(), *w.ElemType)
		}
		var wantVal any
		dec := json.NewDecoder(bytes.NewReader(w.Value))
		dec.UseNumber()
		dec.Decode(&wantVal)
		if got := normalize(t, jsonable(kv.Value)); !reflect.DeepEqual(got, wantVal) {
			t.Errorf("%s: value %v, want %v", kv.Key, got, wantVal)
		}
	}
	ts := f.Tensors()
	if len(ts) != len(want.Tensors) {
		t.Fatalf("%d tensors, want %d", len(ts), len(want.Tensors))
	}
	for i, w := range want.Tensors {
		ti := ts[i]
		if ti.Name != w.Name || uint32(ti.Type) != w.Type || !slices.Equal(ti.Dims, w.Dims) || ti.NumElements() != w.NElements || ti.Size != w.NBytes || ti.Offset != w.Offset {
			t.Errorf("tensor %d: %+v, want %+v", i, ti, w)
		}
		data, err := f.TensorData(ti.Name)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		if hex.EncodeToString(sum[:]) != w.SHA256 {
			t.Errorf("%s: data differs from gguf-py's view", ti.Name)
		}
	}
}

// header24 is a valid header prefix with the given counts.
func hostileCases() []struct {
	name  string
	file  []byte
	opts  []Option
	want  error
	class error
	ctx   string // must appear in the message
} {
	type c = struct {
		name  string
		file  []byte
		opts  []Option
		want  error
		class error
		ctx   string
	}
	tensorFile := func(mod func(g *gb)) []byte {
		g := newGB(3, 1, 0)
		mod(g)
		return g.b
	}
	data64 := make([]byte, 64)
	return []c{
		{"empty", nil, nil, ErrTruncated, ErrFormat, ""},
		{"truncated magic", []byte("GG"), nil, ErrTruncated, ErrFormat, ""},
		{"bad magic", append([]byte("GGML"), make([]byte, 20)...), nil, ErrBadMagic, ErrFormat, "GGML"},
		{"truncated version", []byte("GGUF\x03"), nil, ErrTruncated, ErrFormat, "version"},
		{"version 1", newGB(1, 0, 0).b, nil, ErrUnsupportedVersion, ErrFormat, "version 1"},
		{"version 0", newGB(0, 0, 0).b, nil, ErrUnsupportedVersion, ErrFormat, "version 0"},
		{"version 4", newGB(4, 0, 0).b, nil, ErrUnsupportedVersion, ErrFormat, "version 4"},
		{"big-endian", newGB(0x03000000, 0, 0).b, nil, ErrBigEndian, ErrFormat, "version 3"},
		{"truncated counts", newGB(3, 0, 0).b[:20], nil, ErrTruncated, ErrFormat, "count"},
		{"tensor count 2^64-1", newGB(3, math.MaxUint64, 0).b, nil, ErrBadCount, ErrFormat, "tensor"},
		{"KV count beyond the file", newGB(3, 0, 1<<40).b, nil, ErrBadCount, ErrFormat, "KV"},
		{"KV count one too many", newGB(3, 0, 2).kv("a", TypeUint8).u8(1).b, nil, ErrBadCount, ErrFormat, "KV"},
		{"key longer than the file", newGB(3, 0, 1).u64(1 << 40).raw(make([]byte, 16)).b, nil, ErrStringTooLong, ErrFormat, "key"},
		{"key over the cap", newGB(3, 0, 1).str(strings.Repeat("k", 100)).u32(0).u8(0).b, []Option{WithMaxStringLength(64)}, ErrStringTooLong, ErrLimit, "cap"},
		{"empty key", newGB(3, 0, 1).kv("", TypeUint32).u32(0).b, nil, ErrInvalidKey, ErrFormat, "empty"},
		{"key not UTF-8", newGB(3, 0, 1).kv("k\x80", TypeUint32).u32(0).b, nil, ErrInvalidKey, ErrFormat, "UTF-8"},
		{"duplicate key", newGB(3, 0, 2).kv("a", TypeUint8).u8(0).kv("a", TypeUint8).u8(0).b, nil, ErrDuplicateKey, ErrFormat, `"a"`},
		{"unknown value type", newGB(3, 0, 1).kv("a", 13).u64(0).b, nil, ErrUnknownValueType, ErrFormat, `"a"`},
		{"truncated value", newGB(3, 0, 1).kv("a", TypeUint64).raw([]byte{1, 2, 3, 4, 5}).b, nil, ErrTruncated, ErrFormat, `"a"`},
		{"string value longer than the file", newGB(3, 0, 1).kv("a", TypeString).u64(1000).raw([]byte("short")).b, nil, ErrStringTooLong, ErrFormat, `"a"`},
		{"string length 2^64-1", newGB(3, 0, 1).kv("a", TypeString).u64(math.MaxUint64).b, nil, ErrStringTooLong, ErrFormat, `"a"`},
		{"unknown array element type", newGB(3, 0, 1).kv("a", TypeArray).u32(99).u64(1).u8(0).b, nil, ErrUnknownValueType, ErrFormat, `"a"`},
		{"array count beyond the file", newGB(3, 0, 1).kv("a", TypeArray).u32(uint32(TypeUint32)).u64(1 << 40).raw(make([]byte, 16)).b, nil, ErrArrayTooLong, ErrFormat, `"a"`},
		{"array count 2^64-1", newGB(3, 0, 1).kv("a", TypeArray).u32(uint32(TypeUint8)).u64(math.MaxUint64).b, nil, ErrArrayTooLong, ErrFormat, `"a"`},
		{"string array count beyond the file", newGB(3, 0, 1).kv("a", TypeArray).u32(uint32(TypeString)).u64(3).str("x").str("y").b, nil, ErrArrayTooLong, ErrFormat, `"a"`},
		{"string in array longer than the file", newGB(3, 0, 1).kv("a", TypeArray).u32(uint32(TypeString)).u64(1).u64(100).raw(make([]byte, 10)).b, nil, ErrStringTooLong, ErrFormat, `"a"`},
		{"array over the cap", newGB(3, 0, 1).kv("a", TypeArray).u32(uint32(TypeUint8)).u64(10).raw(make([]byte, 10)).b, []Option{WithMaxArrayLength(9)}, ErrArrayTooLong, ErrLimit, "cap"},
		{"nested array count beyond the file", newGB(3, 0, 1).kv("a", TypeArray).u32(uint32(TypeArray)).u64(1 << 30).raw(make([]byte, 100)).b, nil, ErrArrayTooLong, ErrFormat, `"a"`},
		{"nesting over the cap", func() []byte {
			g := newGB(3, 0, 1).kv("a", TypeArray)
			for range 5 {
				g.u32(uint32(TypeArray)).u64(1)
			}
			return g.u32(uint32(TypeUint8)).u64(0).b
		}(), []Option{WithMaxArrayDepth(3)}, ErrNestingTooDeep, ErrLimit, `"a"`},
		{"alignment not UINT32", newGB(3, 0, 1).kv(KeyAlignment, TypeUint64).u64(32).b, nil, ErrBadAlignment, ErrFormat, "UINT32"},
		{"alignment zero", newGB(3, 0, 1).kv(KeyAlignment, TypeUint32).u32(0).b, nil, ErrBadAlignment, ErrFormat, "power of two"},
		{"alignment 48", newGB(3, 0, 1).kv(KeyAlignment, TypeUint32).u32(48).b, nil, ErrBadAlignment, ErrFormat, "48"},
		{"tensor name longer than the file", tensorFile(func(g *gb) { g.u64(1 << 50).raw(make([]byte, 30)) }), nil, ErrStringTooLong, ErrFormat, "name"},
		{"tensor name 64 bytes", tensorFile(func(g *gb) { g.tensor(strings.Repeat("n", 64), quant.F32, 0, 1) }), nil, ErrNameTooLong, ErrFormat, "64 bytes"},
		{"tensor name not UTF-8", tensorFile(func(g *gb) { g.tensor("t\xff", quant.F32, 0, 1) }), nil, ErrInvalidName, ErrFormat, "UTF-8"},
		{"duplicate tensor", append(newGB(3, 2, 0).tensor("t", quant.F32, 0, 1).tensor("t", quant.F32, 32, 1).pad(32).b, data64...), nil, ErrDuplicateTensor, ErrFormat, `"t"`},
		{"five dims", tensorFile(func(g *gb) { g.tensor("t", quant.F32, 0, 1, 1, 1, 1, 1) }), nil, ErrTooManyDims, ErrFormat, `"t"`},
		{"n_dims 2^32-1", tensorFile(func(g *gb) { g.str("t").u32(math.MaxUint32).raw(make([]byte, 40)) }), nil, ErrTooManyDims, ErrFormat, `"t"`},
		{"negative dim", tensorFile(func(g *gb) { g.tensor("t", quant.F32, 0, 1<<63) }), nil, ErrBadDim, ErrFormat, `"t"`},
		{"element count overflow", tensorFile(func(g *gb) { g.tensor("t", quant.F32, 0, 1<<32, 1<<32) }), nil, ErrShapeOverflow, ErrFormat, `"t"`},
		{"element count over int64", tensorFile(func(g *gb) { g.tensor("t", quant.I8, 0, 3, 1<<62) }), nil, ErrShapeOverflow, ErrFormat, `"t"`},
		{"byte size overflow", tensorFile(func(g *gb) { g.tensor("t", quant.F64, 0, 1<<61, 2) }), nil, ErrShapeOverflow, ErrFormat, `"t"`},
		{"unknown type 4 (removed)", tensorFile(func(g *gb) { g.tensor("t", 4, 0, 32) }), nil, ErrUnknownType, ErrFormat, `"t"`},
		{"unknown type 2^32-1", tensorFile(func(g *gb) { g.tensor("t", math.MaxUint32, 0, 32) }), nil, ErrUnknownType, ErrFormat, `"t"`},
		{"partial block", tensorFile(func(g *gb) { g.tensor("t", quant.Q8_0, 0, 33) }), nil, ErrPartialBlock, ErrFormat, "block size 32"},
		{"partial block without dims", tensorFile(func(g *gb) { g.tensor("t", quant.Q4_K, 0) }), nil, ErrPartialBlock, ErrFormat, "ne[0] = 1"},
		{"truncated tensor info", tensorFile(func(g *gb) { g.str("t").u32(1).u64(1).u32(0) }), nil, ErrTruncated, ErrFormat, `"t"`},
		{"misaligned offset", append(newGB(3, 2, 0).tensor("a", quant.F32, 0, 1).tensor("b", quant.F32, 8, 1).pad(32).b, data64...), nil, ErrMisaligned, ErrFormat, `"b"`},
		{"first offset not 0", append(newGB(3, 1, 0).tensor("a", quant.F32, 32, 1).pad(32).b, data64...), nil, ErrGap, ErrFormat, `"a"`},
		{"overlap", append(newGB(3, 2, 0).tensor("a", quant.F32, 0, 16).tensor("b", quant.F32, 32, 1).pad(32).b, data64...), nil, ErrOverlap, ErrFormat, `"b"`},
		{"tied tensors", append(newGB(3, 2, 0).tensor("a", quant.F32, 0, 1).tensor("b", quant.F32, 0, 1).pad(32).b, data64...), nil, ErrOverlap, ErrFormat, `"b"`},
		{"gap", append(newGB(3, 2, 0).tensor("a", quant.F32, 0, 1).tensor("b", quant.F32, 64, 1).pad(32).b, data64...), nil, ErrGap, ErrFormat, `"b"`},
		{"data beyond the file", append(newGB(3, 1, 0).tensor("a", quant.F32, 0, 17).pad(32).b, data64...), nil, ErrOutOfBounds, ErrFormat, `"a"`},
		{"data section beyond the file", newGB(3, 1, 0).tensor("a", quant.F32, 0, 0).b, nil, ErrOutOfBounds, ErrFormat, "data section"},
		{"offset 2^64-32", append(newGB(3, 1, 0).tensor("a", quant.F32, math.MaxUint64-31, 1).pad(32).b, data64...), nil, ErrOutOfBounds, ErrFormat, `"a"`},
	}
}

func TestHostile(t *testing.T) {
	for _, c := range hostileCases() {
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
			if !strings.HasPrefix(err.Error(), "gguf: ") || !strings.Contains(err.Error(), c.ctx) {
				t.Errorf("message %q lacks the prefix or %q", err, c.ctx)
			}
			if c.want == ErrTruncated && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("%v does not match io.ErrUnexpectedEOF", err)
			}
		})
	}
}

// openBoth parses b from memory and from a file (mapped and not) and
// requires identical outcomes.
func openBoth(t *testing.T, b []byte, opts ...Option) (*File, error) {
	t.Helper()
	mem, memErr := Parse(b, opts...)
	p := filepath.Join(t.TempDir(), "t.gguf")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, useMmap := range []bool{true, false} {
		f, err := Open(p, append(slices.Clone(opts), WithMmap(useMmap))...)
		if (err == nil) != (memErr == nil) {
			t.Fatalf("mmap=%v: Open error %v, Parse error %v", useMmap, err, memErr)
		}
		if err != nil {
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

func sameFile(t *testing.T, a, b *File) {
	t.Helper()
	if a.Version() != b.Version() || a.Alignment() != b.Alignment() || a.DataOffset() != b.DataOffset() {
		t.Fatalf("header differs")
	}
	if !reflect.DeepEqual(normalize(t, kvsJSON(a.Metadata())), normalize(t, kvsJSON(b.Metadata()))) {
		t.Fatalf("metadata differs")
	}
	ta, tb := a.Tensors(), b.Tensors()
	if !reflect.DeepEqual(ta, tb) {
		t.Fatalf("tensors differ:\n%+v\n%+v", ta, tb)
	}
	for _, ti := range ta {
		da, _ := a.TensorData(ti.Name)
		db, _ := b.TensorData(ti.Name)
		if !bytes.Equal(da, db) {
			t.Fatalf("%s: data differs", ti.Name)
		}
	}
}

func kvsJSON(kvs []KV) any {
	var out []any
	for _, kv := range kvs {
		out = append(out, []any{kv.Key, kv.Value.Type(), kv.Value.ElemType(), jsonable(kv.Value)})
	}
	return out
}

func TestValidEdgeCases(t *testing.T) {
	// v2; a bool byte of 2 reads as true (as in ggml); zero-element and
	// zero-dim tensors (ggml accepts both); no trailing padding after the
	// last tensor; an empty array; a KV-only file ending right after its KVs.
	g := newGB(2, 3, 2)
	g.kv("b", TypeBool).u8(2)
	g.kv("e", TypeArray).u32(uint32(TypeInt32)).u64(0)
	g.tensor("zero", quant.Q4_K, 0, 0, 5)
	g.tensor("scalar", quant.F32, 0)
	g.tensor("v", quant.F16, 32, 3).pad(32)
	g.f32(7).raw(make([]byte, 28)).raw([]byte{1, 2, 3, 4, 5, 6})
	f, err := openBoth(t, g.b)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := f.Lookup("b"); v.Any() != true {
		t.Errorf("bool byte 2 read as %v", v)
	}
	if v, _ := f.Lookup("e"); v.Len() != 0 || v.ElemType() != TypeInt32 {
		t.Errorf("empty array %v", v)
	}
	z, _ := f.Tensor("zero")
	s, _ := f.Tensor("scalar")
	v, _ := f.Tensor("v")
	if z.Size != 0 || z.NumElements() != 0 || s.Size != 4 || s.NumElements() != 1 || v.Size != 6 {
		t.Errorf("sizes: %+v %+v %+v", z, s, v)
	}
	if d, _ := f.TensorData("v"); !bytes.Equal(d, []byte{1, 2, 3, 4, 5, 6}) {
		t.Errorf("v data %v", d)
	}
	if f.Version() != 2 {
		t.Errorf("version %d", f.Version())
	}
	// Metadata only, no padding.
	if f, err := openBoth(t, newGB(3, 0, 1).kv("a", TypeUint8).u8(1).b); err != nil || len(f.Tensors()) != 0 {
		t.Errorf("KV-only file: %v", err)
	}
	if _, err := f.TensorData("nope"); !errors.Is(err, ErrTensorNotFound) || !errors.Is(err, ErrArgument) {
		t.Errorf("TensorData(nope): %v", err)
	}
}

func TestOptionValidation(t *testing.T) {
	for _, o := range []Option{WithMaxStringLength(10), WithMaxArrayLength(0), WithMaxArrayDepth(0), WithMaxArrayDepth(1001)} {
		if _, err := Parse(specExample(), o); !errors.Is(err, ErrInvalidOption) || !errors.Is(err, ErrArgument) {
			t.Errorf("got %v, want ErrInvalidOption", err)
		}
	}
	// Depth 1 is ggml's rule: no arrays of arrays.
	b, _ := os.ReadFile("testdata/nested.gguf")
	if _, err := Parse(b, WithMaxArrayDepth(1)); !errors.Is(err, ErrNestingTooDeep) {
		t.Errorf("nested file at depth 1: %v", err)
	}
}

func TestClose(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.gguf")
	os.WriteFile(p, specExample(), 0o644)
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Prefetch("x"); err != nil {
		t.Fatal(err)
	}
	if err := f.Release("x"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := f.TensorData("x"); !errors.Is(err, ErrClosed) {
		t.Errorf("TensorData after Close: %v", err)
	}
	if v, ok := f.Lookup("general.architecture"); !ok || v.Any() != "llama" {
		t.Errorf("metadata after Close: %v", v)
	}
}
