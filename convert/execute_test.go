package convert

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wick-ml/wick/convert/decode"
	"github.com/wick-ml/wick/io/gguf"
	"github.com/wick-ml/wick/io/safetensors"
	"github.com/wick-ml/wick/quant"
)

// W is the row length of the fixture's tensors (one K-quant super-block).
const W = 256

func f32Bytes(x []float32) []byte {
	b := make([]byte, 4*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}

func bf16Bytes(x []float32) []byte {
	b := make([]byte, 2*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint16(b[2*i:], quant.F32ToBF16(v))
	}
	return b
}

func randomF32(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * 0.02)
	}
	return x
}

// fixture writes a small model: a BF16 q projection (8 heads × 8 rows of
// 64), an F32 norm, two F16 "experts" and an F64 tensor.
type fixture struct {
	dir             string
	q, norm, e0, e1 []float32
	f64             []float64
}

func newFixture(t *testing.T) fixture {
	rng := rand.New(rand.NewPCG(1, 2))
	fx := fixture{dir: t.TempDir(), q: randomF32(rng, 64*W), norm: randomF32(rng, W)}
	// BF16 source: make the values exactly representable so that comparisons are exact
	for i, v := range fx.q {
		fx.q[i] = quant.BF16ToF32(quant.F32ToBF16(v))
	}
	fx.e0, fx.e1 = randomF32(rng, 32*W), randomF32(rng, 32*W)
	for _, e := range [][]float32{fx.e0, fx.e1} {
		for i, v := range e {
			e[i] = quant.F16ToF32(quant.F32ToF16(v))
		}
	}
	f16 := func(x []float32) []byte {
		b := make([]byte, 2*len(x))
		for i, v := range x {
			binary.LittleEndian.PutUint16(b[2*i:], quant.F32ToF16(v))
		}
		return b
	}
	fx.f64 = make([]float64, 2*W)
	f64b := make([]byte, 8*len(fx.f64))
	for i := range fx.f64 {
		fx.f64[i] = float64(i) / 7
		binary.LittleEndian.PutUint64(f64b[8*i:], math.Float64bits(fx.f64[i]))
	}
	tensors := []safetensors.Tensor{
		{Name: "q", DType: safetensors.BF16, Shape: []int64{64, W}, Data: bf16Bytes(fx.q)},
		{Name: "norm", DType: safetensors.F32, Shape: []int64{W}, Data: f32Bytes(fx.norm)},
		{Name: "e0", DType: safetensors.F16, Shape: []int64{32, W}, Data: f16(fx.e0)},
		{Name: "e1", DType: safetensors.F16, Shape: []int64{32, W}, Data: f16(fx.e1)},
		{Name: "d", DType: safetensors.F64, Shape: []int64{2, W}, Data: f64b},
	}
	if err := safetensors.WriteFile(filepath.Join(fx.dir, "model.safetensors"), tensors, nil, false); err != nil {
		t.Fatal(err)
	}
	return fx
}

func (fx fixture) plan(qType string) *Plan {
	dir := fx.dir
	inline := f32Bytes([]float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32})
	src := func(name, dtype string, shape ...int64) Source {
		return Source{File: "model.safetensors", Tensor: name, DType: dtype, Shape: shape}
	}
	tb := func(typ string, n int64) int64 {
		tr, _ := quant.Lookup(typ)
		rb, _ := tr.RowBytes(W)
		return int64(rb) * n
	}
	return &Plan{
		Schema: SchemaVersion, ModelDir: &dir, Alignment: 32,
		Metadata: []gguf.KV{{Key: "general.architecture", Value: gguf.String("llama")}, {Key: "x.n", Value: gguf.Uint32(7)}},
		Tensors: []Tensor{
			{Name: "blk.0.attn_q.weight", Shape: []int64{W, 64}, Type: qType, NBytes: tb(qType, 64),
				Sources: []Source{src("q", "BF16", 64, W)},
				// q/k permutation: 8 heads of 8 rows, (h, i, j) <- row h·8 + j·4 + i
				Parts: []Part{{Source: 0, Shape: []int64{8, 4, 2, W}, Strides: []int64{8 * W, W, 4 * W, 1}}}},
			{Name: "output_norm.weight", Shape: []int64{W}, Type: "F32", NBytes: 4 * W, Sources: []Source{src("norm", "F32", W)}},
			{Name: "experts", Shape: []int64{W, 32, 2}, Type: qType, NBytes: tb(qType, 64),
				Sources: []Source{src("e0", "F16", 32, W), src("e1", "F16", 32, W)}},
			{Name: "d", Shape: []int64{W, 2}, Type: "F16", NBytes: 4 * W, Sources: []Source{src("d", "F64", 2, W)}},
			{Name: "rope_freqs.weight", Shape: []int64{32}, Type: "F32", NBytes: 128, Data: &Inline{DType: "F32", Base64: inline}},
		},
	}
}

func quantizeRef(t *testing.T, typ string, x []float32, n int) []byte {
	tr, _ := quant.Lookup(typ)
	rb, _ := tr.RowBytes(n)
	out := make([]byte, rb*len(x)/n)
	if _, err := quant.Quantize(tr.Type, out, quant.F32Input(x), n, quant.Options{}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestExecuteMatchesDirectQuantization(t *testing.T) {
	fx := newFixture(t)
	for _, typ := range []string{"Q8_0", "Q4_K", "F16"} {
		p := fx.plan(typ)
		out := filepath.Join(t.TempDir(), "out.gguf")
		for _, threads := range []int{1, 3} {
			var calls int
			rep, err := Execute(context.Background(), p, out, Options{Threads: threads, Overwrite: true, ChunkElements: 1000,
				Progress: func(done, total int64, tensor int) { calls++ }})
			if err != nil {
				t.Fatal(err)
			}
			if calls == 0 || len(rep.Tensors) != 5 {
				t.Fatalf("%d progress calls, %d tensor reports", calls, len(rep.Tensors))
			}
			g, err := gguf.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			check := func(name string, want []byte) {
				t.Helper()
				got, err := g.TensorData(name)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("%s/%s: bytes differ from direct quantization", typ, name)
				}
			}
			// the permutation: output row h·8 + 2i + j = source row h·8 + j·4 + i
			perm := make([]float32, 0, len(fx.q))
			for r := 0; r < 64; r++ {
				h, k := r/8, r%8
				src := h*8 + (k%2)*4 + k/2
				perm = append(perm, fx.q[src*W:(src+1)*W]...)
			}
			check("blk.0.attn_q.weight", quantizeRef(t, typ, perm, W))
			check("output_norm.weight", f32Bytes(fx.norm))
			check("experts", quantizeRef(t, typ, append(append([]float32{}, fx.e0...), fx.e1...), W))
			d := make([]float32, len(fx.f64))
			for i, v := range fx.f64 {
				d[i] = float32(v)
			}
			check("d", quantizeRef(t, "F16", d, W))
			if v, ok := g.Lookup("x.n"); !ok || v.Any() != uint32(7) {
				t.Fatalf("metadata lost: %v", v)
			}
			if rep.Tensors[1].RMSE != 0 || rep.Tensors[0].RMSE <= 0 && typ != "F16" {
				t.Fatalf("report: %+v", rep.Tensors[:2])
			}
			g.Close()
		}
	}
}

func TestExecuteLeavesNothingOnFailure(t *testing.T) {
	fx := newFixture(t)
	outDir := t.TempDir()
	out := filepath.Join(outDir, "out.gguf")

	// a non-finite weight fails the second tensor: no output, no temporary
	p := fx.plan("Q8_0")
	bad := make([]float32, W)
	bad[5] = float32(math.Inf(1))
	if err := safetensors.WriteFile(filepath.Join(fx.dir, "bad.safetensors"),
		[]safetensors.Tensor{{Name: "norm", DType: safetensors.F32, Shape: []int64{W}, Data: f32Bytes(bad)}}, nil, false); err != nil {
		t.Fatal(err)
	}
	p.Tensors[1].Type = "Q8_0"
	p.Tensors[1].NBytes = W / 32 * 34
	p.Tensors[1].Sources[0].File = "bad.safetensors"
	_, err := Execute(context.Background(), p, out, Options{})
	if err == nil || !strings.Contains(err.Error(), `tensor "output_norm.weight"`) || !strings.Contains(err.Error(), "element 5 of row 0 is +Inf") {
		t.Fatalf("got %v", err)
	}
	assertEmpty(t, outDir)

	// cancellation
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Execute(ctx, fx.plan("Q8_0"), out, Options{}); !errors.Is(err, quant.ErrCancelled) && !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run: %v", err)
	}
	assertEmpty(t, outDir)

	// an existing output is kept unless Overwrite
	if err := os.WriteFile(out, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Execute(context.Background(), fx.plan("Q8_0"), out, Options{}); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("existing output: %v", err)
	}
	if b, _ := os.ReadFile(out); string(b) != "keep" {
		t.Fatal("existing output changed")
	}
}

func assertEmpty(t *testing.T, dir string) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	if len(ents) != 0 {
		t.Fatalf("left behind: %v", ents)
	}
}

func TestPlanErrors(t *testing.T) {
	fx := newFixture(t)
	for _, tc := range []struct {
		mutate func(p *Plan)
		want   string
	}{
		{func(p *Plan) { p.Schema = 1 }, "schema 1"},
		{func(p *Plan) { p.Tensors[0].Type = "Q9_0" }, "unknown ggml type"},
		{func(p *Plan) { p.Tensors[0].NBytes++ }, "nbytes is"},
		{func(p *Plan) { p.Tensors[0].Shape = []int64{W - 1, 64} }, "not whole"},
		{func(p *Plan) { p.Tensors[2].Sources = p.Tensors[2].Sources[:1] }, "sources hold"},
		{func(p *Plan) { p.Tensors[0].Parts[0].Strides[3] = 2 }, "reaches"},
		{func(p *Plan) { p.Tensors[0].Parts[0] = Part{Shape: []int64{128, W / 2}, Strides: []int64{W / 2, 1}} }, "crosses the rows"},
		{func(p *Plan) { p.Tensors[0].Parts[0].Source = 1 }, "names source 1"},
		{func(p *Plan) { p.Tensors[0].Parts[0].Shape[0] = 4 }, "sources hold"},
		{func(p *Plan) { p.Tensors[0].Parts[0].Shape = []int64{8 * 4 * 2 * 2, W / 2} }, "strides for"},
		{func(p *Plan) { p.Tensors[0].Ops = []Op{{Op: "rotate"}} }, "unknown operation"},
		{func(p *Plan) { p.Tensors[0].Ops = []Op{{Op: "round", DType: "F8"}} }, "F16 or BF16"},
		{func(p *Plan) { p.Tensors[1].Name = p.Tensors[0].Name }, "listed twice"},
		{func(p *Plan) { p.Tensors[0].Sources[0].DType = "F16" }, "the plan expects F16"},
		{func(p *Plan) { p.Tensors[0].Sources[0].Tensor = "nope" }, "nope"},
		{func(p *Plan) { name := "x"; p.Tensors[0].Imatrix = &name }, "no imatrix_file"},
		{func(p *Plan) { p.Tensors[4].Data.Base64 = p.Tensors[4].Data.Base64[:8] }, "inline data"},
	} {
		p := fx.plan("Q8_0")
		tc.mutate(p)
		_, err := Execute(context.Background(), p, filepath.Join(t.TempDir(), "o.gguf"), Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want an error containing %q, got %v", tc.want, err)
		}
	}
	// ParsePlan: JSON round trip, and garbage
	b, err := json.Marshal(fx.plan("Q8_0"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParsePlan(b); err != nil {
		t.Fatal(err)
	}
	if _, err := ParsePlan([]byte(`{"schema": 2, "tensors": [{"name": 3}]}`)); err == nil {
		t.Fatal("bad plan accepted")
	}
}

type fakeImatrix map[string][]float32

func (f fakeImatrix) Values(name string) ([]float32, error) {
	v, ok := f[name]
	if !ok {
		return nil, errors.New("no entry " + name)
	}
	return v, nil
}
func (fakeImatrix) Close() error { return nil }

func TestExecuteWithImatrix(t *testing.T) {
	fx := newFixture(t)
	p := fx.plan("Q4_K")
	file := "imatrix.gguf"
	p.ImatrixFile = &file
	qName, eName := "blk.0.attn_q.weight", "experts"
	p.Tensors[0].Imatrix = &qName
	p.Tensors[2].Imatrix = &eName
	w := make([]float32, W)
	we := make([]float32, 2*W) // per expert
	for i := range w {
		w[i] = float32(1 + i%5)
	}
	for i := range we {
		we[i] = float32(1 + i%3)
	}
	out := filepath.Join(t.TempDir(), "o.gguf")
	_, err := Execute(context.Background(), p, out, Options{ChunkElements: 1000,
		OpenImatrix: func(string) (Imatrix, error) { return fakeImatrix{qName: w, eName: we}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	g, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	got, _ := g.TensorData("experts")
	tr, _ := quant.Lookup("Q4_K")
	var want []byte
	for e, x := range [][]float32{fx.e0, fx.e1} {
		rb, _ := tr.RowBytes(W)
		part := make([]byte, rb*32)
		if _, err := quant.Quantize(quant.Q4_K, part, quant.F32Input(x), W, quant.Options{Imatrix: we[W*e : W*(e+1)]}); err != nil {
			t.Fatal(err)
		}
		want = append(want, part...)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("per-expert imatrix slices not applied")
	}
}

func TestReportJSON(t *testing.T) {
	rep := Report{Output: "o.gguf", Target: "Q8_0", Files: []string{"o.gguf"}, Elements: 2, Bytes: 68, FileBytes: 1000, Seconds: 0.5,
		Tensors: []TensorReport{
			{Name: "a", Type: "Q8_0", Shape: []int64{32, 2}, Source: "BF16", Elements: 64, Bytes: 68,
				RMSE: 0.25, MaxAbsErr: Float(math.NaN()), SumSqErr: Float(math.Inf(1)), SumSq: Float(math.Inf(-1))},
		}}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"output":"o.gguf","target":"Q8_0","files":["o.gguf"],"tensors":[{"name":"a","type":"Q8_0","shape":[32,2],` +
		`"source_dtype":"BF16","elements":64,"bytes":68,"rmse":0.25,"max_abs_err":"nan","sum_sq_err":"inf",` +
		`"sum_sq":"-inf"}],"elements":2,"bytes":68,"file_bytes":1000,"seconds":0.5}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	for _, f := range []float64{0.1, 1e-300, 123456789, -0.0} {
		b, _ := Float(f).MarshalJSON()
		var back float64
		if err := json.Unmarshal(b, &back); err != nil || back != f {
			t.Fatalf("%v -> %s -> %v, %v", f, b, back, err)
		}
	}
}

// A split plan writes the parts gguf.WithSplit makes of the single file,
// and requantizing reads a split model given its first part.
func TestExecuteSplit(t *testing.T) {
	fx := newFixture(t)
	single := filepath.Join(fx.dir, "single.gguf")
	if _, err := Execute(context.Background(), fx.plan("Q4_K"), single, Options{}); err != nil {
		t.Fatal(err)
	}
	p := fx.plan("Q4_K")
	p.Split = &Split{MaxTensors: 2}
	rep, err := Execute(context.Background(), p, filepath.Join(fx.dir, "split.gguf"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"split-00001-of-00003.gguf", "split-00002-of-00003.gguf", "split-00003-of-00003.gguf"}
	if len(rep.Files) != 3 || rep.Output != rep.Files[0] {
		t.Fatalf("report: output %s, files %v", rep.Output, rep.Files)
	}
	for i, f := range rep.Files {
		if f != filepath.Join(fx.dir, want[i]) {
			t.Errorf("part %d: %s, want %s", i+1, f, want[i])
		}
	}
	s, err := gguf.Open(single)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m, err := gguf.OpenModel(rep.Files[0])
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for _, ti := range s.Tensors() {
		a, _ := s.TensorData(ti.Name)
		b, err := m.TensorData(ti.Name)
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("%s: split data differs (%v)", ti.Name, err)
		}
	}
	// The split model as a source: requantize its F32 norm, F16 d and F32 rope_freqs.
	src := func(name, dtype string, shape ...int64) Source {
		return Source{File: rep.Files[0], Tensor: name, DType: dtype, Shape: shape, Format: "gguf"}
	}
	rq := &Plan{Schema: SchemaVersion, Alignment: 32, Metadata: p.Metadata, Tensors: []Tensor{
		{Name: "n", Shape: []int64{W}, Type: "F16", NBytes: 2 * W, Sources: []Source{src("output_norm.weight", "F32", W)}},
		{Name: "d", Shape: []int64{W, 2}, Type: "F32", NBytes: 8 * W, Sources: []Source{src("d", "F16", 2, W)}},
		{Name: "r", Shape: []int64{32}, Type: "F32", NBytes: 128, Sources: []Source{src("rope_freqs.weight", "F32", 32)}},
	}}
	if _, err := Execute(context.Background(), rq, filepath.Join(fx.dir, "rq.gguf"), Options{}); err != nil {
		t.Fatal(err)
	}
	// A split plan with both limits is refused before anything is opened.
	p.Split = &Split{MaxTensors: 2, MaxBytes: 10}
	if _, err := Execute(context.Background(), p, filepath.Join(fx.dir, "x.gguf"), Options{}); err == nil || !strings.Contains(err.Error(), "exactly one") {
		t.Errorf("both limits: %v", err)
	}
}

// Test decoders: "test_double" yields twice the stored F32 values (a
// transposed logical shape, to exercise windows of decoded rows);
// "test_q8" passes the stored bytes through as Q8_0 blocks.
type doubled struct{ v []float32 }

func (d doubled) ReadRows(dst []float32, r0, r1 int64) error {
	copy(dst, d.v[r0*W:r1*W])
	return nil
}

type rawBytes struct {
	b  []byte
	rb int
}

func (r rawBytes) ReadRawRows(dst []byte, r0, r1 int64) error {
	copy(dst, r.b[int(r0)*r.rb:int(r1)*r.rb])
	return nil
}

func init() {
	decode.Register("test_double", func(spec decode.Spec, main decode.Tensor, aux map[string]decode.Tensor) (any, error) {
		if main.DType != "F32" {
			return nil, errors.New("test_double needs F32")
		}
		v := make([]float32, len(main.Data)/4)
		for i := range v {
			v[i] = 2 * math.Float32frombits(binary.LittleEndian.Uint32(main.Data[4*i:]))
		}
		return doubled{v}, nil
	})
	decode.Register("test_q8", func(spec decode.Spec, main decode.Tensor, aux map[string]decode.Tensor) (any, error) {
		return rawBytes{main.Data, W / 32 * 34}, nil
	})
}

func TestExecuteDecodedAndPassThroughSources(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(3, 4))
	vals := randomF32(rng, 4*W)
	blocks := quantizeRef(t, "Q8_0", randomF32(rng, 2*W), W)
	st := []safetensors.Tensor{
		{Name: "w", DType: safetensors.F32, Shape: []int64{4, W}, Data: f32Bytes(vals)},
		{Name: "q8", DType: safetensors.U8, Shape: []int64{int64(len(blocks))}, Data: blocks},
	}
	if err := safetensors.WriteFile(filepath.Join(dir, "m.safetensors"), st, nil, false); err != nil {
		t.Fatal(err)
	}
	p := &Plan{Schema: SchemaVersion, ModelDir: &dir, Tensors: []Tensor{
		{Name: "dec", Shape: []int64{4, W}, Type: "F32", NBytes: 16 * W,
			Sources: []Source{{File: "m.safetensors", Tensor: "w", DType: "F32", Shape: []int64{4, W},
				Decode: &decode.Spec{Method: "test_double", Shape: []int64{4, W}}}},
			// the transpose of the decoded [4, W]
			Parts: []Part{{Source: 0, Shape: []int64{W, 4}, Strides: []int64{1, W}}}},
		{Name: "raw", Shape: []int64{W, 2}, Type: "Q8_0", NBytes: int64(len(blocks)),
			Sources: []Source{{File: "m.safetensors", Tensor: "q8", DType: "U8", Shape: []int64{int64(len(blocks))},
				Decode: &decode.Spec{Method: "test_q8", Shape: []int64{2, W}, Output: "Q8_0"}}}},
	}}
	out := filepath.Join(t.TempDir(), "o.gguf")
	if _, err := Execute(context.Background(), p, out, Options{ChunkElements: 100}); err != nil {
		t.Fatal(err)
	}
	g, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	want := make([]float32, 0, 4*W)
	for c := 0; c < W; c++ {
		for r := 0; r < 4; r++ {
			want = append(want, 2*vals[r*W+c])
		}
	}
	if got, _ := g.TensorData("dec"); !bytes.Equal(got, f32Bytes(want)) {
		t.Fatal("decoded, transposed tensor differs")
	}
	if got, _ := g.TensorData("raw"); !bytes.Equal(got, blocks) {
		t.Fatal("passed-through blocks differ")
	}
	// a pass-through must be the tensor's own type, alone
	p.Tensors[1].Type = "F32"
	p.Tensors[1].NBytes = 8 * W
	if _, err := Execute(context.Background(), p, out, Options{Overwrite: true}); err == nil || !strings.Contains(err.Error(), "pass-through") {
		t.Fatalf("want a pass-through error, got %v", err)
	}
}

// Plans that reproduce llama-quantize validate what they encode as it does
// (ggml_validate_row_data): a weight beyond the float16 range written F16,
// or a block whose float16 scale overflows, is an error naming the row.
// Converter-only plans write such values as the converter does (±Inf).
func TestExecuteValidatesLikeLlamaQuantize(t *testing.T) {
	dir := t.TempDir()
	big := make([]float32, 4*W)
	for i := range big {
		big[i] = 0.5
	}
	big[2*W+7] = 70000 // row 2: beyond float16
	big[3*W+9] = 3e38  // row 3: its Q8_0 block scale overflows float16
	st := []safetensors.Tensor{{Name: "w", DType: safetensors.F32, Shape: []int64{4, W}, Data: f32Bytes(big)}}
	if err := safetensors.WriteFile(filepath.Join(dir, "m.safetensors"), st, nil, false); err != nil {
		t.Fatal(err)
	}
	plan := func(typ, ref string, firstRow int64) *Plan {
		tr, _ := quant.Lookup(typ)
		rb, _ := tr.RowBytes(W)
		return &Plan{Schema: SchemaVersion, ModelDir: &dir, Reference: ref, Tensors: []Tensor{{
			Name: "w", Shape: []int64{W, 4 - firstRow}, Type: typ, NBytes: int64(rb) * (4 - firstRow),
			Sources: []Source{{File: "m.safetensors", Tensor: "w", DType: "F32", Shape: []int64{4, W}}},
			Parts:   []Part{{Source: 0, Shape: []int64{4 - firstRow, W}, Strides: []int64{W, 1}, Offset: firstRow * W}},
		}}}
	}
	for _, tc := range []struct {
		typ      string
		firstRow int64
		wantRow  int64
	}{{"F16", 0, 2}, {"Q8_0", 3, 0}} {
		out := filepath.Join(t.TempDir(), "o.gguf")
		_, err := Execute(context.Background(), plan(tc.typ, "convert+quantize", tc.firstRow), out, Options{})
		var inv *InvalidDataError
		if !errors.As(err, &inv) || inv.Row != tc.wantRow || !strings.Contains(err.Error(), "llama-quantize refuses") {
			t.Fatalf("%s: want an InvalidDataError for row %d, got %v", tc.typ, tc.wantRow, err)
		}
		if _, err := os.Stat(out); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("%s: an output was left: %v", tc.typ, err)
		}
		if _, err := Execute(context.Background(), plan(tc.typ, "convert", tc.firstRow), out, Options{Overwrite: true}); err != nil {
			t.Fatalf("%s: the converter writes it; so does a convert-only plan: %v", tc.typ, err)
		}
	}
}

// A pass-through tensor may re-order whole rows and, within its rows, whole
// blocks (Qwen3.5's value heads of an NVFP4 out_proj): the blocks written
// are the source's, copied in the gathered order; parts that split a block,
// or that gather different blocks, are refused.
func TestPassThroughBlockGather(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(5, 6))
	blocks := quantizeRef(t, "Q8_0", randomF32(rng, 2*W), W) // 2 rows of 8 blocks of 34 bytes
	st := []safetensors.Tensor{{Name: "q8", DType: safetensors.U8, Shape: []int64{int64(len(blocks))}, Data: blocks}}
	if err := safetensors.WriteFile(filepath.Join(dir, "m.safetensors"), st, nil, false); err != nil {
		t.Fatal(err)
	}
	// columns [h=2][k=4][32] read as [k][h][32]; rows swapped (one part per row)
	cols := func(off int64) Part {
		return Part{Source: 0, Shape: []int64{4, 2, 32}, Strides: []int64{32, 128, 1}, Offset: off}
	}
	tensor := func(parts ...Part) Tensor {
		return Tensor{Name: "g", Shape: []int64{W, 2}, Type: "Q8_0", NBytes: int64(len(blocks)), Parts: parts,
			Sources: []Source{{File: "m.safetensors", Tensor: "q8", DType: "U8", Shape: []int64{int64(len(blocks))},
				Decode: &decode.Spec{Method: "test_q8", Shape: []int64{2, W}, Output: "Q8_0"}}}}
	}
	p := &Plan{Schema: SchemaVersion, ModelDir: &dir, Tensors: []Tensor{tensor(cols(W), cols(0))}}
	out := filepath.Join(t.TempDir(), "o.gguf")
	if _, err := Execute(context.Background(), p, out, Options{ChunkElements: 100}); err != nil {
		t.Fatal(err)
	}
	g, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	var want []byte
	for _, r := range []int{1, 0} {
		for k := 0; k < 4; k++ {
			for h := 0; h < 2; h++ {
				b := r*8 + h*4 + k
				want = append(want, blocks[b*34:(b+1)*34]...)
			}
		}
	}
	if got, _ := g.TensorData("g"); !bytes.Equal(got, want) {
		t.Fatal("gathered blocks differ")
	}
	for _, bad := range []struct {
		parts []Part
		err   string
	}{
		{[]Part{{Shape: []int64{2, 8, 2, 16}, Strides: []int64{W, 32, 16, 1}}}, "whole blocks"},
		{[]Part{cols(W), {Shape: []int64{W}, Strides: []int64{1}}}, "other blocks"},
		{[]Part{{Shape: []int64{2, 4, 2, 32}, Strides: []int64{W, 32, 128, 1}, Offset: 16}}, "whole blocks"},
	} {
		p.Tensors[0] = tensor(bad.parts...)
		if _, err := Execute(context.Background(), p, out, Options{Overwrite: true}); err == nil || !strings.Contains(err.Error(), bad.err) {
			t.Errorf("parts %v: want an error with %q, got %v", bad.parts, bad.err, err)
		}
	}
}
