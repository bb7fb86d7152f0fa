package decode

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/wick-ml/wick/io/safetensors"
)

// ---------------------------------------------------------------- inputs

// stream is the counter-based splitmix64 byte stream shared with
// tests/golden/gen_quantized_decode.py and the Python fixture builder: word
// i (from 1) is mix(seed + i·γ), bytes little-endian.
func stream(seed uint64, n int) []byte {
	out := make([]byte, (n+7)/8*8)
	for i := range len(out) / 8 {
		z := seed + uint64(i+1)*0x9E3779B97F4A7C15
		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
		z = (z ^ (z >> 27)) * 0x94D049BB133111EB
		z ^= z >> 31
		binary.LittleEndian.PutUint64(out[8*i:], z)
	}
	return out[:n]
}

func numel(shape []int64) int64 {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	return n
}

// fill makes a tensor of dtype/shape from the stream, with values kept
// finite and moderate where the dtype is a float scale: F32 scales in
// [2^-11, 2^-9), BF16 and F16 scales of similar size; integer and 8-bit
// tensors take the raw bytes.
func fill(name, dtype string, shape []int64, seed uint64) Tensor {
	n := numel(shape)
	d, _ := safetensors.ParseDType(dtype)
	size, _ := d.ByteSize(uint64(n))
	b := stream(seed, int(size))
	switch dtype {
	case "F32":
		for i := int64(0); i < n; i++ {
			v := binary.LittleEndian.Uint32(b[4*i:])
			binary.LittleEndian.PutUint32(b[4*i:], 0x3A000000|v&0x00FFFFFF)
		}
	case "BF16":
		for i := int64(0); i < n; i++ {
			v := binary.LittleEndian.Uint16(b[2*i:])
			binary.LittleEndian.PutUint16(b[2*i:], 0x3A00|v&0x00FF)
		}
	case "F16":
		for i := int64(0); i < n; i++ {
			v := binary.LittleEndian.Uint16(b[2*i:])
			binary.LittleEndian.PutUint16(b[2*i:], 0x1400|v&0x03FF)
		}
	}
	return Tensor{Name: name, File: "model.safetensors", DType: dtype, Shape: shape, Data: b}
}

// gidx makes a g_idx of n columns over groups: column c gets word c mod groups.
func gidx(n, groups int64, seed uint64) Tensor {
	b := stream(seed, int(4*n))
	for c := int64(0); c < n; c++ {
		binary.LittleEndian.PutUint32(b[4*c:], binary.LittleEndian.Uint32(b[4*c:])%uint32(groups))
	}
	return Tensor{Name: "g_idx", File: "model.safetensors", DType: "I32", Shape: []int64{n}, Data: b}
}

func ref(t Tensor) Ref { return Ref{File: t.File, Tensor: t.Name, DType: t.DType, Shape: t.Shape} }

func spec(method string, shape []int64, params map[string]any, aux map[string]Tensor) Spec {
	s := Spec{Method: method, Shape: shape, Params: params, Aux: map[string]Ref{}}
	for k, t := range aux {
		s.Aux[k] = ref(t)
	}
	return s
}

// ---------------------------------------------------------------- cases

type testCase struct {
	name string
	spec Spec
	main Tensor
	aux  map[string]Tensor
}

func scaledCase(name, dtype, sdtype string, shape, sshape []int64, block []any, seed uint64) testCase {
	w := fill("w", dtype, shape, seed)
	s := fill("w_scale", sdtype, sshape, seed+1)
	p := map[string]any{}
	if block != nil {
		p["block"] = block
	}
	aux := map[string]Tensor{"scale": s}
	return testCase{name, spec("scaled", shape, p, aux), w, aux}
}

func gptqCase(name string, bits, in, out, groups int64, zoff int, seed uint64) testCase {
	pack := 32 / bits
	q := fill("qweight", "I32", []int64{in / pack, out}, seed)
	s := fill("scales", "F16", []int64{groups, out}, seed+1)
	z := fill("qzeros", "I32", []int64{groups, out / pack}, seed+2)
	g := gidx(in, groups, seed+3)
	aux := map[string]Tensor{"scale": s, "zero": z, "g_idx": g}
	return testCase{name, spec("gptq", []int64{out, in}, map[string]any{"bits": float64(bits), "zero_offset": float64(zoff)}, aux), q, aux}
}

func packedCase(name string, bits, rows, cols, group int64, zero bool, sdtype string, seed uint64) testCase {
	pack := 32 / bits
	w := fill("weight_packed", "I32", []int64{rows, (cols + pack - 1) / pack}, seed)
	s := fill("weight_scale", sdtype, []int64{rows, cols / group}, seed+1)
	aux := map[string]Tensor{"scale": s}
	if zero {
		aux["zero"] = fill("weight_zero_point", "I32", []int64{(rows + pack - 1) / pack, cols / group}, seed+2)
	}
	return testCase{name, spec("int_packed", []int64{rows, cols}, map[string]any{"bits": float64(bits), "group_size": float64(group)}, aux), w, aux}
}

func fp4Case(name string, nv bool, layout string, shape []int64, output string, seed uint64) testCase {
	nd := len(shape)
	cols := shape[nd-1]
	lead := append([]int64(nil), shape[:nd-1]...)
	wshape := append(append([]int64(nil), lead...), cols/2)
	if layout == "gpt-oss" {
		wshape = append(append([]int64(nil), lead...), cols/32, 16)
	}
	method, group, sdt := "mxfp4", int64(32), "U8"
	if nv {
		method, group, sdt = "nvfp4", 16, "F8_E4M3"
	}
	w := fill("weight", "U8", wshape, seed)
	s := fill("weight_scale", sdt, append(append([]int64(nil), lead...), cols/group), seed+1)
	aux := map[string]Tensor{"scale": s}
	sp := spec(method, shape, map[string]any{}, aux)
	if layout != "" {
		sp.Params["layout"] = layout
	}
	sp.Output = output
	return testCase{name, sp, w, aux}
}

func bnb4Case(name, qt string, shape []int64, bs int64, nested bool, dtype string, seed uint64) testCase {
	n := numel(shape)
	blocks := (n + bs - 1) / bs
	w := fill("weight", "U8", []int64{(n + 1) / 2, 1}, seed)
	qm := fill("weight.quant_map", "F32", []int64{16}, seed+5)
	aux := map[string]Tensor{"quant_map": qm}
	p := map[string]any{"quant_type": qt, "blocksize": float64(bs), "dtype": dtype}
	if nested {
		aux["absmax"] = fill("weight.absmax", "U8", []int64{blocks}, seed+1)
		aux["nested_absmax"] = fill("weight.nested_absmax", "F32", []int64{(blocks + 255) / 256}, seed+2)
		aux["nested_quant_map"] = fill("weight.nested_quant_map", "F32", []int64{256}, seed+3)
		p["nested_blocksize"] = 256.0
		p["offset"] = 0.0123
	} else {
		aux["absmax"] = fill("weight.absmax", "F32", []int64{blocks}, seed+1)
	}
	return testCase{name, spec("bnb_4bit", shape, p, aux), w, aux}
}

func int8Case(name string, rows, cols int64, seed uint64) testCase {
	w := fill("weight", "I8", []int64{rows, cols}, seed)
	s := fill("weight.SCB", "F32", []int64{rows}, seed+1)
	aux := map[string]Tensor{"scb": s}
	return testCase{name, spec("bnb_int8", []int64{rows, cols}, nil, aux), w, aux}
}

func allCases() []testCase {
	return []testCase{
		scaledCase("fp8-e4m3-block-exact", "F8_E4M3", "F32", []int64{256, 384}, []int64{2, 3}, []any{128.0, 128.0}, 10),
		scaledCase("fp8-e4m3-block-partial", "F8_E4M3", "F32", []int64{200, 300}, []int64{2, 3}, []any{128.0, 128.0}, 11),
		scaledCase("fp8-e4m3-block-bf16", "F8_E4M3", "BF16", []int64{130, 129}, []int64{2, 2}, []any{128.0, 128.0}, 12),
		scaledCase("fp8-e4m3-block-3d", "F8_E4M3", "F32", []int64{3, 130, 70}, []int64{3, 2, 2}, []any{128.0, 64.0}, 13),
		scaledCase("fp8-e5m2-channel", "F8_E5M2", "F32", []int64{64, 96}, []int64{64, 1}, nil, 14),
		scaledCase("fp8-e4m3-channel-1d", "F8_E4M3", "BF16", []int64{64, 96}, []int64{64}, nil, 15),
		scaledCase("fp8-e4m3-tensor", "F8_E4M3", "F32", []int64{33, 65}, []int64{}, nil, 16),
		scaledCase("fp8-e4m3-tensor-1", "F8_E4M3", "F32", []int64{33, 65}, []int64{1}, nil, 17),
		scaledCase("int8-channel", "I8", "F16", []int64{48, 80}, []int64{48, 1}, nil, 18),
		scaledCase("bf16-tensor", "BF16", "F32", []int64{8, 16}, []int64{}, nil, 19),
		gptqCase("gptq-4bit-g32", 4, 128, 64, 4, 1, 20),
		gptqCase("gptq-4bit-actorder", 4, 256, 40, 8, 1, 21),
		gptqCase("gptq-8bit-v2", 8, 96, 36, 3, 0, 22),
		gptqCase("gptq-2bit", 2, 64, 48, 2, 1, 23),
		gptqCase("gptq-4bit-1group", 4, 64, 16, 1, 1, 24),
		packedCase("packed-int4-sym", 4, 40, 128, 32, false, "BF16", 30),
		packedCase("packed-int4-asym", 4, 41, 128, 64, true, "F16", 31),
		packedCase("packed-int8-asym", 8, 9, 60, 20, true, "F32", 32),
		packedCase("packed-int4-pad", 4, 16, 36, 12, false, "F32", 33),
		fp4Case("nvfp4-float", true, "", []int64{24, 128}, "", 40),
		fp4Case("nvfp4-raw", true, "", []int64{24, 192}, "NVFP4", 41),
		fp4Case("mxfp4-float", false, "", []int64{20, 96}, "", 42),
		fp4Case("mxfp4-raw", false, "packed", []int64{20, 64}, "MXFP4", 43),
		fp4Case("mxfp4-gptoss-raw", false, "gpt-oss", []int64{2, 6, 64}, "MXFP4", 44),
		fp4Case("mxfp4-gptoss-float", false, "gpt-oss", []int64{2, 6, 96}, "", 45),
		bnb4Case("bnb-nf4-bf16", "nf4", []int64{64, 128}, 64, false, "bfloat16", 50),
		bnb4Case("bnb-fp4-f16-nested", "fp4", []int64{48, 192}, 64, true, "float16", 51),
		bnb4Case("bnb-nf4-f32-nested-odd", "nf4", []int64{33, 97}, 128, true, "float32", 52),
		bnb4Case("bnb-fp4-f32", "fp4", []int64{7, 5}, 32, false, "float32", 53),
		int8Case("bnb-int8", 40, 72, 60),
	}
}

func (tc testCase) new(t *testing.T) any {
	t.Helper()
	d, err := New(tc.spec, tc.main, tc.aux)
	if err != nil {
		t.Fatalf("%s: New: %v", tc.name, err)
	}
	return d
}

// ---------------------------------------------------------------- tests

func same(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) || a != a && b != b }

// TestDecodersMatchReference compares every decoder with its plain twin on
// every element, reading the rows in random ranges.
func TestDecodersMatchReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range allCases() {
		d := tc.new(t)
		g := geometryOf(tc.spec.Shape)
		if raw, ok := d.(*fp4); ok && tc.spec.Output != "" {
			// raw rows read in pieces equal raw rows read at once
			all := make([]byte, g.rows*int64(raw.RowBytes()))
			if err := raw.ReadRawRows(all, 0, g.rows); err != nil {
				t.Fatal(err)
			}
			for r0 := int64(0); r0 < g.rows; {
				r1 := min(g.rows, r0+1+rng.Int64N(5))
				part := make([]byte, (r1-r0)*int64(raw.RowBytes()))
				if err := raw.ReadRawRows(part, r0, r1); err != nil {
					t.Fatal(err)
				}
				if string(part) != string(all[r0*int64(raw.RowBytes()):r1*int64(raw.RowBytes())]) {
					t.Fatalf("%s: rows [%d, %d) differ when read apart", tc.name, r0, r1)
				}
				r0 = r1
			}
			continue
		}
		rows := d.(Rows)
		for r0 := int64(0); r0 < g.rows; {
			r1 := min(g.rows, r0+1+rng.Int64N(7))
			// guard bands around dst
			buf := make([]float32, (r1-r0)*g.cols+8)
			for i := range buf {
				buf[i] = float32(math.NaN())
			}
			dst := buf[4 : len(buf)-4]
			if err := rows.ReadRows(dst, r0, r1); err != nil {
				t.Fatal(err)
			}
			for _, i := range []int{0, 1, 2, 3, len(buf) - 4, len(buf) - 3, len(buf) - 2, len(buf) - 1} {
				if !math.IsNaN(float64(buf[i])) {
					t.Fatalf("%s: write outside dst at %d", tc.name, i)
				}
			}
			for r := r0; r < r1; r++ {
				for c := int64(0); c < g.cols; c++ {
					got, want := dst[(r-r0)*g.cols+c], elementRef(d, r, c)
					if !same(got, want) {
						t.Fatalf("%s: element (%d, %d) = %v (%08x); reference %v (%08x)", tc.name, r, c,
							got, math.Float32bits(got), want, math.Float32bits(want))
					}
				}
			}
			r0 = r1
		}
	}
}

// TestScaledAllFP8Codes: every float8 code times a unit scale is the
// code's value (the safetensors tables are themselves checked against
// ml_dtypes), and times a power of two exactly scaled.
func TestScaledAllFP8Codes(t *testing.T) {
	for _, dt := range []string{"F8_E4M3", "F8_E5M2"} {
		codes := make([]byte, 256)
		for i := range codes {
			codes[i] = byte(i)
		}
		d, _ := safetensors.ParseDType(dt)
		want := make([]float32, 256)
		if _, err := safetensors.DecodeFloat32(want, codes, d); err != nil {
			t.Fatal(err)
		}
		for _, sc := range []float32{1, 0.25, 1024} {
			var sb [4]byte
			binary.LittleEndian.PutUint32(sb[:], math.Float32bits(sc))
			w := Tensor{Name: "w", DType: dt, Shape: []int64{2, 128}, Data: codes}
			s := Tensor{Name: "s", DType: "F32", Shape: []int64{}, Data: sb[:]}
			dec, err := New(spec("scaled", w.Shape, nil, map[string]Tensor{"scale": s}), w, map[string]Tensor{"scale": s})
			if err != nil {
				t.Fatal(err)
			}
			got := make([]float32, 256)
			if err := dec.(Rows).ReadRows(got, 0, 2); err != nil {
				t.Fatal(err)
			}
			for i := range got {
				if !same(got[i], want[i]*sc) {
					t.Fatalf("%s code %#02x × %v: got %v, want %v", dt, i, sc, got[i], want[i]*sc)
				}
			}
		}
		if dt == "F8_E4M3" && (want[0x7E] != 448 || !math.IsNaN(float64(want[0x7F])) || want[0x08] != 1.0/64) {
			t.Fatalf("e4m3fn table: 0x7e=%v 0x7f=%v 0x08=%v", want[0x7E], want[0x7F], want[0x08])
		}
	}
}

// e2m1 is the value of an FP4 (E2M1) code from its definition, except that
// code 8 (-0) is +0: ggml's table is of integers, which have no -0.
func e2m1(code uint8) float64 {
	mag := [8]float64{0, 0.5, 1, 1.5, 2, 3, 4, 6}[code&7]
	if code&8 != 0 && mag != 0 {
		return -mag
	}
	return mag
}

// TestMXFP4AllCodesAllScales: every code under every E8M0 scale decodes to
// e2m1(code) · 2^(e−127), exactly (ggml's doubled table and halved scale
// give the same product), through both layouts and through the raw blocks.
func TestMXFP4AllCodesAllScales(t *testing.T) {
	// 256 rows (one per scale) of 32 elements: codes 0..15 twice
	w := make([]byte, 256*16)
	s := make([]byte, 256)
	for r := range 256 {
		s[r] = byte(r)
		for i := range 16 {
			w[r*16+i] = byte((2*i)%16) | byte((2*i+1)%16)<<4
		}
	}
	for _, layout := range []string{"packed", "gpt-oss"} {
		shape := []int64{256, 16}
		if layout == "gpt-oss" {
			shape = []int64{256, 1, 16}
		}
		main := Tensor{Name: "w", DType: "U8", Shape: shape, Data: w}
		sc := Tensor{Name: "s", DType: "F8_E8M0", Shape: []int64{256, 1}, Data: s}
		sp := spec("mxfp4", []int64{256, 32}, map[string]any{"layout": layout}, map[string]Tensor{"scale": sc})
		d, err := New(sp, main, map[string]Tensor{"scale": sc})
		if err != nil {
			t.Fatal(err)
		}
		got := make([]float32, 256*32)
		if err := d.(Rows).ReadRows(got, 0, 256); err != nil {
			t.Fatal(err)
		}
		for r := range 256 {
			for k := range 32 {
				want := float32(e2m1(uint8(k%16)) * math.Ldexp(1, r-127))
				if !same(got[r*32+k], want) {
					t.Fatalf("%s: code %d scale %d: got %v, want %v", layout, k%16, r, got[r*32+k], want)
				}
			}
		}
	}
}

// TestNVFP4AllCodesAllScales: every code under every E4M3 scale byte
// decodes to e2m1(code) · |e4m3(scale)|, with the sign bit ignored and the
// NaN pattern 0x7f giving 0, as ggml's UE4M3 does.
func TestNVFP4AllCodesAllScales(t *testing.T) {
	w := make([]byte, 256*32)
	s := make([]byte, 256*4)
	for r := range 256 {
		for k := range 4 {
			s[r*4+k] = byte(r)
		}
		for i := range 32 {
			w[r*32+i] = byte((2*i)%16) | byte((2*i+1)%16)<<4
		}
	}
	e4m3 := tables["F8_E4M3"]
	main := Tensor{Name: "w", DType: "U8", Shape: []int64{256, 32}, Data: w}
	sc := Tensor{Name: "s", DType: "F8_E4M3", Shape: []int64{256, 4}, Data: s}
	d, err := New(spec("nvfp4", []int64{256, 64}, nil, map[string]Tensor{"scale": sc}), main, map[string]Tensor{"scale": sc})
	if err != nil {
		t.Fatal(err)
	}
	got := make([]float32, 256*64)
	if err := d.(Rows).ReadRows(got, 0, 256); err != nil {
		t.Fatal(err)
	}
	for r := range 256 {
		scale := math.Abs(float64(e4m3[r&0x7F]))
		if r&0x7F == 0x7F {
			scale = 0
		}
		for k := range 64 {
			want := float32(e2m1(uint8(k%16)) * scale)
			if !same(got[r*64+k], want) {
				t.Fatalf("scale %#02x code %d: got %v, want %v", r, k%16, got[r*64+k], want)
			}
		}
	}
}

// TestBnbInt8AllCodes: every int8 code with a few row statistics.
func TestBnbInt8AllCodes(t *testing.T) {
	q := make([]byte, 3*256)
	for i := range q {
		q[i] = byte(i)
	}
	scb := []float32{1, 127, 0.0731}
	sb := make([]byte, 12)
	for i, v := range scb {
		binary.LittleEndian.PutUint32(sb[4*i:], math.Float32bits(v))
	}
	w := Tensor{Name: "w", DType: "I8", Shape: []int64{3, 256}, Data: q}
	s := Tensor{Name: "w.SCB", DType: "F32", Shape: []int64{3}, Data: sb}
	d, err := New(spec("bnb_int8", w.Shape, nil, map[string]Tensor{"scb": s}), w, map[string]Tensor{"scb": s})
	if err != nil {
		t.Fatal(err)
	}
	got := make([]float32, 3*256)
	if err := d.(Rows).ReadRows(got, 0, 3); err != nil {
		t.Fatal(err)
	}
	for r, v := range scb {
		for c := range 256 {
			want := float32(float32(float32(int8(c))*v)) * float32(7.874015718698502e-3)
			if !same(got[r*256+c], want) {
				t.Fatalf("row %d code %d: %v != %v", r, c, got[r*256+c], want)
			}
		}
	}
	if got[256+127] != 127*float32(7.874015718698502e-3)*1 && got[256+127] != float32(float32(127*127)*float32(7.874015718698502e-3)) {
		t.Fatal("row statistic 127, code 127")
	}
}

func TestMethods(t *testing.T) {
	want := "bnb_4bit bnb_int8 gptq int_packed mxfp4 nvfp4 scaled"
	if got := strings.Join(Methods(), " "); got != want {
		t.Fatalf("Methods() = %q, want %q", got, want)
	}
}

// TestSpecErrors: each inconsistency gets a *SpecError naming the tensor
// and file at fault.
func TestSpecErrors(t *testing.T) {
	type mut func(tc *testCase)
	base := func() testCase {
		return scaledCase("x", "F8_E4M3", "F32", []int64{200, 300}, []int64{2, 3}, []any{128.0, 128.0}, 1)
	}
	cases := []struct {
		name    string
		tc      func() testCase
		mut     mut
		wantIn  string
		wantMsg string
	}{
		{"unknown method", base, func(tc *testCase) { tc.spec.Method = "awq_gemm" }, "w", "unknown decode method"},
		{"bad block count", base, func(tc *testCase) {
			s := fill("w_scale", "F32", []int64{2, 2}, 2)
			tc.aux["scale"], tc.spec.Aux["scale"] = s, ref(s)
		}, "w_scale", "needs 3 blocks in dimension 1"},
		{"missing scale", base, func(tc *testCase) { delete(tc.aux, "scale") }, "w", "was not given"},
		{"bytes short", base, func(tc *testCase) { tc.main.Data = tc.main.Data[:10] }, "w", "holds 10 bytes"},
		{"scale dtype", base, func(tc *testCase) {
			s := fill("w_scale", "I32", []int64{2, 3}, 2)
			tc.aux["scale"], tc.spec.Aux["scale"] = s, ref(s)
		}, "w_scale", "expected F32 or BF16"},
		{"ref mismatch", base, func(tc *testCase) { tc.spec.Aux["scale"] = Ref{Tensor: "w_scale", DType: "F32", Shape: []int64{9}} }, "w_scale", "the spec expects"},
		{"extra role", base, func(tc *testCase) {
			z := fill("zz", "F32", []int64{1}, 3)
			tc.aux["zero"], tc.spec.Aux["zero"] = z, ref(z)
		}, "zz", "means nothing"},
		{"pass-through of fp8", base, func(tc *testCase) { tc.spec.Output = "MXFP4" }, "w", "no MXFP4 pass-through"},
		{"gptq g_idx range", func() testCase { return gptqCase("g", 4, 64, 16, 2, 1, 5) }, func(tc *testCase) {
			g := tc.aux["g_idx"]
			binary.LittleEndian.PutUint32(g.Data[4*7:], 2)
		}, "g_idx", "g_idx[7] = 2 is outside the 2 groups"},
		{"gptq bits", func() testCase { return gptqCase("g", 4, 64, 16, 2, 1, 5) }, func(tc *testCase) { tc.spec.Params["bits"] = 3.0 }, "qweight", "3-bit"},
		{"gptq zeros dtype", func() testCase { return gptqCase("g", 4, 64, 16, 2, 1, 5) }, func(tc *testCase) {
			z := fill("qzeros", "I64", []int64{2, 1}, 9)
			tc.aux["zero"], tc.spec.Aux["zero"] = z, ref(z)
		}, "qzeros", "the same"},
		{"packed scale shape", func() testCase { return packedCase("p", 4, 8, 64, 32, false, "F32", 6) }, func(tc *testCase) {
			s := fill("weight_scale", "F32", []int64{8, 3}, 9)
			tc.aux["scale"], tc.spec.Aux["scale"] = s, ref(s)
		}, "weight_scale", "is not [8, 2]"},
		{"packed weight_shape", func() testCase { return packedCase("p", 4, 8, 64, 32, false, "F32", 6) }, func(tc *testCase) {
			b := make([]byte, 16)
			binary.LittleEndian.PutUint64(b, 8)
			binary.LittleEndian.PutUint64(b[8:], 63)
			s := Tensor{Name: "weight_shape", File: "m.safetensors", DType: "I64", Shape: []int64{2}, Data: b}
			tc.aux["shape"], tc.spec.Aux["shape"] = s, ref(s)
		}, "weight_shape", "holds [8 63]"},
		{"nvfp4 cols", func() testCase { return fp4Case("n", true, "", []int64{4, 64}, "NVFP4", 7) }, func(tc *testCase) {
			tc.spec.Shape = []int64{4, 32}
		}, "weight", "not whole NVFP4 blocks"},
		{"mxfp4 scale shape", func() testCase { return fp4Case("m", false, "", []int64{4, 64}, "", 7) }, func(tc *testCase) {
			s := fill("weight_scale", "U8", []int64{4, 3}, 9)
			tc.aux["scale"], tc.spec.Aux["scale"] = s, ref(s)
		}, "weight_scale", "MXFP4 scale shape [4 3]"},
		{"bnb absmax", func() testCase { return bnb4Case("b", "nf4", []int64{8, 64}, 64, false, "bfloat16", 8) }, func(tc *testCase) {
			s := fill("weight.absmax", "F32", []int64{7}, 9)
			tc.aux["absmax"], tc.spec.Aux["absmax"] = s, ref(s)
		}, "weight.absmax", "is not [8]"},
		{"bnb nested without map", func() testCase { return bnb4Case("b", "nf4", []int64{8, 64}, 64, true, "bfloat16", 8) }, func(tc *testCase) {
			delete(tc.aux, "nested_quant_map")
			delete(tc.spec.Aux, "nested_quant_map")
		}, "weight", "needs both"},
		{"bnb blocksize", func() testCase { return bnb4Case("b", "nf4", []int64{8, 64}, 64, false, "bfloat16", 8) }, func(tc *testCase) {
			tc.spec.Params["blocksize"] = 48.0
		}, "weight", "blocksize 48"},
		{"bnb packed bytes", func() testCase { return bnb4Case("b", "nf4", []int64{8, 64}, 64, false, "bfloat16", 8) }, func(tc *testCase) {
			tc.spec.Shape = []int64{8, 66}
		}, "weight", "packed bytes"},
		{"int8 SCB", func() testCase { return int8Case("i", 4, 8, 9) }, func(tc *testCase) {
			s := fill("weight.SCB", "F32", []int64{5}, 9)
			tc.aux["scb"], tc.spec.Aux["scb"] = s, ref(s)
		}, "weight.SCB", "SCB shape [5]"},
	}
	for _, c := range cases {
		tc := c.tc()
		c.mut(&tc)
		_, err := New(tc.spec, tc.main, tc.aux)
		var se *SpecError
		if !errors.As(err, &se) {
			t.Errorf("%s: got %v, want a *SpecError", c.name, err)
			continue
		}
		if se.Tensor != c.wantIn || !strings.Contains(err.Error(), c.wantMsg) || !strings.Contains(err.Error(), "model.safetensors") && se.File != "" && se.File != "m.safetensors" {
			t.Errorf("%s: got %q (tensor %q), want tensor %q and %q", c.name, err, se.Tensor, c.wantIn, c.wantMsg)
		}
	}
}

func TestReadArgErrors(t *testing.T) {
	tc := int8Case("i", 4, 8, 9)
	d := tc.new(t).(Rows)
	var ae *ArgError
	if err := d.ReadRows(make([]float32, 8), 3, 5); !errors.As(err, &ae) {
		t.Fatalf("rows past the end: %v", err)
	}
	if err := d.ReadRows(make([]float32, 7), 0, 1); !errors.As(err, &ae) {
		t.Fatalf("short dst: %v", err)
	}
	f := fp4Case("m", false, "", []int64{4, 64}, "MXFP4", 7).new(t)
	if err := f.(Rows).ReadRows(make([]float32, 64), 0, 1); !errors.As(err, &ae) {
		t.Fatalf("float read of a pass-through: %v", err)
	}
}
