package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestWriteRoundTrip(t *testing.T) {
	f32 := make([]byte, 24)
	for i := range 6 {
		binary.LittleEndian.PutUint32(f32[4*i:], math.Float32bits(float32(i)))
	}
	tensors := []Tensor{
		{Name: "w", DType: F32, Shape: []int64{2, 3}, Data: f32},
		{Name: "scalar", DType: I64, Data: make([]byte, 8)},
		{Name: "empty", DType: BF16, Shape: []int64{0, 7}},
		{Name: "ünï \"quoted\" <&>", DType: U8, Shape: []int64{3}, Data: []byte{1, 2, 3}},
		{Name: "packed", DType: F4, Shape: []int64{2, 2}, Data: []byte{0x12, 0x34}},
	}
	meta := map[string]string{"z": "last", "a": "first \u2603"}
	var buf bytes.Buffer
	if err := Write(&buf, tensors, meta); err != nil {
		t.Fatal(err)
	}
	out := buf.Bytes()
	n := binary.LittleEndian.Uint64(out)
	if n%8 != 0 {
		t.Errorf("header length %d is not a multiple of 8", n)
	}
	header := string(out[8 : 8+n])
	wantHeader := `{"__metadata__":{"a":"first ☃","z":"last"},"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"scalar":{"dtype":"I64","shape":[],"data_offsets":[24,32]},"empty":{"dtype":"BF16","shape":[0,7],"data_offsets":[32,32]},"ünï \"quoted\" <&>":{"dtype":"U8","shape":[3],"data_offsets":[32,35]},"packed":{"dtype":"F4","shape":[2,2],"data_offsets":[35,37]}}`
	if strings.TrimRight(header, " ") != wantHeader || len(header)-len(wantHeader) >= 8 {
		t.Errorf("header\n%q\nwant\n%q padded with fewer than 8 spaces", header, wantHeader)
	}
	f, err := Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	if !mapsEqual(f.Metadata(), meta) {
		t.Errorf("metadata %v", f.Metadata())
	}
	got := f.Tensors()
	for i, w := range tensors {
		if got[i].Name != w.Name || got[i].DType != w.DType || len(got[i].Shape) != len(w.Shape) || (len(w.Shape) > 0 && !slices.Equal(got[i].Shape, w.Shape)) {
			t.Errorf("tensor %d: %+v, want %+v", i, got[i], w)
		}
		d, _ := f.Data(w.Name)
		if !bytes.Equal(d, w.Data) {
			t.Errorf("%s: data %v, want %v", w.Name, d, w.Data)
		}
	}
	// No metadata: no __metadata__ key at all.
	buf.Reset()
	if err := Write(&buf, tensors[:1], nil); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(buf.Bytes(), []byte("__metadata__")) {
		t.Error("nil metadata wrote __metadata__")
	}
}

// TestWriteMatchesReference rewrites the reference writer's shards (one
// metadata key, so no map-order freedom) and requires identical bytes.
func TestWriteMatchesReference(t *testing.T) {
	for _, name := range []string{"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"} {
		ref, err := os.ReadFile(filepath.Join("testdata/ref/sharded", name))
		if err != nil {
			t.Fatal(err)
		}
		f, err := Parse(ref)
		if err != nil {
			t.Fatal(err)
		}
		var tensors []Tensor
		for _, ti := range f.Tensors() {
			d, _ := f.Data(ti.Name)
			tensors = append(tensors, Tensor{Name: ti.Name, DType: ti.DType, Shape: ti.Shape, Data: d})
		}
		var buf bytes.Buffer
		if err := Write(&buf, tensors, f.Metadata()); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), ref) {
			t.Errorf("%s: rewritten bytes differ from the reference writer's\n%q\n%q", name, buf.Bytes(), ref)
		}
	}
}

func TestWriteRejects(t *testing.T) {
	ok := Tensor{Name: "a", DType: F32, Shape: []int64{1}, Data: make([]byte, 4)}
	cases := []struct {
		name    string
		tensors []Tensor
		meta    map[string]string
		want    error
	}{
		{"duplicate", []Tensor{ok, ok}, nil, ErrDuplicateName},
		{"reserved name", []Tensor{{Name: "__metadata__", DType: U8}}, nil, ErrInvalidName},
		{"invalid UTF-8 name", []Tensor{{Name: "a\xff", DType: U8}}, nil, ErrInvalidName},
		{"invalid UTF-8 metadata", []Tensor{ok}, map[string]string{"k": "\xff"}, ErrInvalidMetadata},
		{"invalid dtype", []Tensor{{Name: "a", DType: 0}}, nil, ErrUnknownDType},
		{"negative dim", []Tensor{{Name: "a", DType: F32, Shape: []int64{-1}}}, nil, ErrInvalidShape},
		{"count overflow", []Tensor{{Name: "a", DType: U8, Shape: []int64{1 << 32, 1 << 32}}}, nil, ErrShapeOverflow},
		{"size overflow", []Tensor{{Name: "a", DType: F64, Shape: []int64{1 << 61}}}, nil, ErrShapeOverflow},
		{"partial byte", []Tensor{{Name: "a", DType: F4, Shape: []int64{3}, Data: []byte{0, 0}}}, nil, ErrPartialByte},
		{"short data", []Tensor{{Name: "a", DType: F32, Shape: []int64{2}, Data: make([]byte, 4)}}, nil, ErrSizeMismatch},
	}
	for _, c := range cases {
		var buf bytes.Buffer
		err := Write(&buf, c.tensors, c.meta)
		if !errors.Is(err, c.want) || !errors.Is(err, ErrArgument) {
			t.Errorf("%s: got %v, want %v (argument)", c.name, err, c.want)
		}
		if buf.Len() != 0 {
			t.Errorf("%s: %d bytes written before the error", c.name, buf.Len())
		}
	}
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.safetensors")
	tensors := []Tensor{{Name: "a", DType: U8, Shape: []int64{2}, Data: []byte{7, 8}}}
	if err := WriteFile(p, tensors, nil, false); err != nil {
		t.Fatal(err)
	}
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := f.Data("a"); !bytes.Equal(d, []byte{7, 8}) {
		t.Errorf("data %v", d)
	}
	f.Close()
	if err := WriteFile(p, tensors, nil, false); !errors.Is(err, fs.ErrExist) {
		t.Errorf("second WriteFile without overwrite: %v", err)
	}
	if err := WriteFile(p, []Tensor{{Name: "b", DType: U8, Shape: []int64{1}, Data: []byte{9}}}, nil, true); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(filepath.Join(dir, "bad.safetensors"), []Tensor{{Name: "a", DType: U8, Shape: []int64{2}}}, nil, false); !errors.Is(err, ErrSizeMismatch) {
		t.Errorf("invalid tensors: %v", err)
	}
	es, _ := os.ReadDir(dir)
	if len(es) != 1 {
		t.Errorf("directory holds %d entries, want only out.safetensors", len(es))
	}
}

// TestInteropPython has the reference safetensors package read a file this
// package wrote. It runs only when WICK_INTEROP_PYTHON names a Python with
// safetensors and numpy, e.g. WICK_INTEROP_PYTHON=/tmp/stvenv/bin/python.
func TestInteropPython(t *testing.T) {
	py := os.Getenv("WICK_INTEROP_PYTHON")
	if py == "" {
		t.Skip("WICK_INTEROP_PYTHON not set")
	}
	f32 := make([]byte, 24)
	for i := range 6 {
		binary.LittleEndian.PutUint32(f32[4*i:], math.Float32bits(float32(i)-2.5))
	}
	tensors := []Tensor{
		{Name: "w", DType: F32, Shape: []int64{2, 3}, Data: f32},
		{Name: "i", DType: I64, Shape: []int64{1}, Data: binary.LittleEndian.AppendUint64(nil, uint64(1<<40))},
		{Name: "ünï", DType: U8, Shape: []int64{3}, Data: []byte{1, 2, 3}},
		{Name: "s", DType: F16, Data: []byte{0x00, 0x3c}},
		{Name: "e", DType: BOOL, Shape: []int64{0}},
	}
	p := filepath.Join(t.TempDir(), "x.safetensors")
	if err := WriteFile(p, tensors, map[string]string{"format": "pt", "ü": "v"}, false); err != nil {
		t.Fatal(err)
	}
	script := `
import sys
from safetensors import safe_open
with safe_open(sys.argv[1], framework="np") as f:
    assert f.metadata() == {"format": "pt", "ü": "v"}, f.metadata()
    assert sorted(f.keys()) == sorted(["w", "i", "ünï", "s", "e"]), f.keys()
    assert f.get_tensor("w").tolist() == [[-2.5, -1.5, -0.5], [0.5, 1.5, 2.5]]
    assert f.get_tensor("i").tolist() == [1 << 40]
    assert f.get_tensor("ünï").tolist() == [1, 2, 3]
    s = f.get_tensor("s")
    assert s.shape == () and s.dtype.name == "float16" and float(s) == 1.0
    assert f.get_tensor("e").shape == (0,)
print("ok")
`
	out, err := exec.Command(py, "-c", script, p).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("reference reader: %v\n%s", err, out)
	}
}
