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
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/wick-ml/wick/io/safetensors"
	"github.com/wick-ml/wick/quant"
)

// stFixture is a small checkpoint for safetensors plans: a BF16 weight of
// an odd element count (its last absmax block is partial, its last byte
// padded), an F16 weight with a zero row, an F32 weight, a BF16 norm.
type stFixture struct {
	dir       string
	a, b, c   []float32 // the weights' values (exactly representable)
	na, nb    [2]int64  // shapes
	norm      []byte
	normShape []int64
}

func newStFixture(t *testing.T) stFixture {
	rng := rand.New(rand.NewPCG(3, 4))
	fx := stFixture{dir: t.TempDir(), na: [2]int64{301, 129}, nb: [2]int64{40, 512}}
	fx.a = randomF32(rng, int(fx.na[0]*fx.na[1]))
	for i, v := range fx.a {
		fx.a[i] = quant.BF16ToF32(quant.F32ToBF16(v))
	}
	fx.b = randomF32(rng, int(fx.nb[0]*fx.nb[1]))
	for i := range fx.b {
		if i/512 == 7 {
			fx.b[i] = 0
		}
		fx.b[i] = quant.F16ToF32(quant.F32ToF16(fx.b[i]))
	}
	fx.c = randomF32(rng, 64*64)
	f16 := make([]byte, 2*len(fx.b))
	for i, v := range fx.b {
		binary.LittleEndian.PutUint16(f16[2*i:], quant.F32ToF16(v))
	}
	fx.norm = bf16Bytes(randomF32(rng, 129))
	fx.normShape = []int64{129}
	tensors := []safetensors.Tensor{
		{Name: "model.layers.0.mlp.a.weight", DType: safetensors.BF16, Shape: fx.na[:], Data: bf16Bytes(fx.a)},
		{Name: "model.layers.0.mlp.b.weight", DType: safetensors.F16, Shape: fx.nb[:], Data: f16},
		{Name: "model.layers.0.mlp.c.weight", DType: safetensors.F32, Shape: []int64{64, 64}, Data: f32Bytes(fx.c)},
		{Name: "model.norm.weight", DType: safetensors.BF16, Shape: fx.normShape, Data: fx.norm},
	}
	if err := safetensors.WriteFile(filepath.Join(fx.dir, "model.safetensors"), tensors, map[string]string{"format": "pt"}, false); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(fx.dir, "tokenizer.json"), []byte(`{"model": {}}`), 0o644)
	return fx
}

// quantStateJSON is the JSON bitsandbytes packs for a 4-bit state, with
// the position of the nested offset (-1 without double quantization).
func quantStateJSON(typ string, bs int, dtype string, shape []int64, nested bool) QuantStateSpec {
	sh, _ := json.Marshal(shape)
	s := `{"quant_type": "` + typ + `", "blocksize": ` + itoa(bs) + `, "dtype": "` + dtype + `", "shape": ` +
		strings.ReplaceAll(string(sh), ",", ", ")
	if !nested {
		return QuantStateSpec{JSON: s + "}", OffsetAt: -1}
	}
	s += `, "nested_blocksize": 256, "nested_dtype": "float32", "nested_offset": `
	return QuantStateSpec{JSON: s + "}", OffsetAt: len(s)}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

// plan4 plans a and b as 4-bit (typ "nf4"/"fp4"), c as LLM.int8, the norm
// copied, in two files, in transformers' order within each.
func (fx stFixture) plan(typ string, nested bool, rules string, bs int) *Plan {
	dir := fx.dir
	src := func(name, dtype string, shape []int64) []Source {
		return []Source{{File: "model.safetensors", Tensor: name, DType: dtype, Shape: shape}}
	}
	var ts []Tensor
	var file1, file2 []string
	add := func(file *[]string, t Tensor) {
		ts = append(ts, t)
		*file = append(*file, t.Name)
	}
	weight4 := func(file *[]string, name, dtype, stateDType string, shape []int64) {
		n := shape[0] * shape[1]
		blocks := (n + int64(bs) - 1) / int64(bs)
		w := Tensor{Name: name, Type: "bnb." + typ, DType: "U8", Shape: []int64{(n + 1) / 2, 1}, NBytes: (n + 1) / 2,
			Sources: src(name, dtype, shape), Bnb: &BnbSpec{Blocksize: bs, DoubleQuant: nested, Rules: rules}}
		qs := quantStateJSON(typ, bs, stateDType, shape, nested)
		aux := []Tensor{{Name: name + ".quant_map", Type: "bnb.quant_map", DType: "F32", Shape: []int64{16}, NBytes: 64}}
		if nested {
			nb := (blocks + 255) / 256
			aux = append(aux,
				Tensor{Name: name + ".nested_absmax", Type: "bnb.nested_absmax", DType: "F32", Shape: []int64{nb}, NBytes: 4 * nb},
				Tensor{Name: name + ".nested_quant_map", Type: "bnb.nested_quant_map", DType: "F32", Shape: []int64{256}, NBytes: 1024})
		}
		// F32 parts first, then the U8 weight, its absmax, its JSON
		for _, a := range aux {
			a.Of = name
			add(file, a)
		}
		add(file, w)
		if nested {
			add(file, Tensor{Name: name + ".absmax", Of: name, Type: "bnb.absmax", DType: "U8", Shape: []int64{blocks}, NBytes: blocks})
		} else {
			add(file, Tensor{Name: name + ".absmax", Of: name, Type: "bnb.absmax", DType: "F32", Shape: []int64{blocks}, NBytes: 4 * blocks})
		}
		q := Tensor{Name: name + ".quant_state.bitsandbytes__" + typ, Of: name, Type: "bnb.quant_state", DType: "U8", QuantState: &qs}
		if !nested {
			q.Shape, q.NBytes = []int64{int64(len(qs.JSON))}, int64(len(qs.JSON))
		}
		add(file, q)
	}
	weight4(&file1, "model.layers.0.mlp.a.weight", "BF16", "bfloat16", fx.na[:])
	add(&file1, Tensor{Name: "model.norm.weight", Type: "copy", DType: "BF16", Shape: fx.normShape, NBytes: 2 * 129,
		Sources: src("model.norm.weight", "BF16", fx.normShape)})
	weight4(&file2, "model.layers.0.mlp.b.weight", "F16", "float16", fx.nb[:])
	c := "model.layers.0.mlp.c"
	add(&file2, Tensor{Name: c + ".SCB", Of: c + ".weight", Type: "bnb.scb", DType: "F32", Shape: []int64{64}, NBytes: 256})
	add(&file2, Tensor{Name: c + ".weight", Type: "bnb.int8", DType: "I8", Shape: []int64{64, 64}, NBytes: 64 * 64,
		Sources: src(c+".weight", "F32", []int64{64, 64}), Bnb: &BnbSpec{Rules: rules}})
	add(&file2, Tensor{Name: c + ".weight_format", Of: c + ".weight", Type: "bnb.weight_format", DType: "U8", Shape: []int64{}, NBytes: 1})
	text := `{"model_type": "llama"}`
	return &Plan{Schema: SchemaVersion, Format: FormatSafetensors, ModelDir: &dir, Tensors: ts, Files: []OutFile{
		{Name: "model-00001-of-00002.safetensors", Kind: "safetensors", Metadata: map[string]string{"format": "pt"}, Tensors: file1},
		{Name: "model-00002-of-00002.safetensors", Kind: "safetensors", Metadata: map[string]string{"format": "pt"}, Tensors: file2},
		{Name: "model.safetensors.index.json", Kind: "index", Index: &IndexSpec{TotalParameters: 12345}},
		{Name: "config.json", Kind: "text", Text: &text},
		{Name: "tokenizer.json", Kind: "copy", Source: "tokenizer.json"},
	}}
}

// want4 is what the quantizers give for a whole tensor.
func want4(t *testing.T, x []float32, typ quant.FourBitType, bs int, nested, cpu bool) (packed, absmaxOrCodes []byte, nestedAbsmax []float32, offset float32) {
	packed = make([]byte, (len(x)+1)/2)
	absmax := make([]float32, (len(x)+bs-1)/bs)
	var err error
	if cpu {
		err = quant.Quantize4BitCPU(packed, absmax, quant.F32Input(x), typ, bs, quant.Options{})
	} else {
		err = quant.Quantize4Bit(packed, absmax, quant.F32Input(x), typ, bs, quant.Options{})
	}
	if err != nil {
		t.Fatal(err)
	}
	if !nested {
		return packed, f32Bytes(absmax), nil, 0
	}
	offset = quant.NestedOffset(absmax)
	if cpu {
		offset = quant.TorchMeanF32(absmax, quant.TorchMeanLanes, 1)
	}
	codes := make([]byte, len(absmax))
	nestedAbsmax = make([]float32, (len(absmax)+255)/256)
	if cpu {
		err = quant.QuantizeNestedCPU(codes, nestedAbsmax, absmax, offset, 256, quant.Options{})
	} else {
		err = quant.QuantizeNested(codes, nestedAbsmax, absmax, offset, 256, quant.Options{})
	}
	if err != nil {
		t.Fatal(err)
	}
	return packed, codes, nestedAbsmax, offset
}

func readOut(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	m, err := safetensors.OpenModel(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	out := map[string][]byte{}
	for _, ti := range m.Tensors() {
		b, err := m.Data(ti.Name)
		if err != nil {
			t.Fatal(err)
		}
		out[ti.Name] = append([]byte(nil), b...)
	}
	return out
}

func TestSafetensorsPlanMatchesQuantizers(t *testing.T) {
	fx := newStFixture(t)
	for _, c := range []struct {
		typ    string
		nested bool
		rules  string
		bs     int
		chunk  int
	}{
		{"nf4", true, "cuda", 64, 0}, {"nf4", true, "cpu", 64, 20000}, {"fp4", false, "cuda", 128, 3000},
		{"fp4", true, "cpu", 32, 0}, {"nf4", false, "cpu", 64, 100},
	} {
		name := c.typ + "-" + c.rules
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			p := fx.plan(c.typ, c.nested, c.rules, c.bs)
			rep, err := Execute(context.Background(), p, out, Options{ChunkElements: c.chunk, Threads: 3})
			if err != nil {
				t.Fatal(err)
			}
			got := readOut(t, out)
			typ := quant.NF4
			if c.typ == "fp4" {
				typ = quant.FP4
			}
			cpu := c.rules == "cpu"
			for _, w := range []struct {
				name, dtype string
				x           []float32
				shape       []int64
			}{{"model.layers.0.mlp.a.weight", "bfloat16", fx.a, fx.na[:]}, {"model.layers.0.mlp.b.weight", "float16", fx.b, fx.nb[:]}} {
				packed, absmax, nestedAbsmax, offset := want4(t, w.x, typ, c.bs, c.nested, cpu)
				if !bytes.Equal(got[w.name], packed) {
					t.Errorf("%s: packed codes differ", w.name)
				}
				if !bytes.Equal(got[w.name+".absmax"], absmax) {
					t.Errorf("%s: absmax differs", w.name)
				}
				qm := typ.QuantMap()
				if !bytes.Equal(got[w.name+".quant_map"], f32Bytes(qm[:])) {
					t.Errorf("%s: quant_map differs", w.name)
				}
				qs := quantStateJSON(c.typ, c.bs, w.dtype, w.shape, c.nested)
				wantJSON := qs.JSON
				if c.nested {
					wantJSON = qs.JSON[:qs.OffsetAt] + pyFloatRepr(float64(offset)) + qs.JSON[qs.OffsetAt:]
					if !bytes.Equal(got[w.name+".nested_absmax"], f32Bytes(nestedAbsmax)) {
						t.Errorf("%s: nested_absmax differs", w.name)
					}
					dm := quant.DynamicCode(true)
					if !bytes.Equal(got[w.name+".nested_quant_map"], f32Bytes(dm[:])) {
						t.Errorf("%s: nested_quant_map differs", w.name)
					}
				}
				if js := string(got[w.name+".quant_state.bitsandbytes__"+c.typ]); js != wantJSON {
					t.Errorf("%s: quant state %s, want %s", w.name, js, wantJSON)
				}
			}
			cq, scb := make([]int8, len(fx.c)), make([]float32, 64)
			if err := quant.QuantizeInt8Rows(cq, scb, quant.F32Input(fx.c), 64, quant.Options{}); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got["model.layers.0.mlp.c.weight"], unsafeBytes(cq)) || !bytes.Equal(got["model.layers.0.mlp.c.SCB"], f32Bytes(scb)) {
				t.Error("int8 weight or SCB differs")
			}
			if !bytes.Equal(got["model.layers.0.mlp.c.weight_format"], []byte{0}) {
				t.Error("weight_format differs")
			}
			if !bytes.Equal(got["model.norm.weight"], fx.norm) {
				t.Error("the copied norm differs")
			}
			if b, _ := os.ReadFile(filepath.Join(out, "tokenizer.json")); string(b) != `{"model": {}}` {
				t.Error("tokenizer.json not copied")
			}
			idx, _ := os.ReadFile(filepath.Join(out, "model.safetensors.index.json"))
			var index struct {
				Metadata  map[string]int64  `json:"metadata"`
				WeightMap map[string]string `json:"weight_map"`
			}
			if err := json.Unmarshal(idx, &index); err != nil {
				t.Fatal(err)
			}
			var total int64
			for n := range got {
				total += int64(len(got[n]))
			}
			if index.Metadata["total_size"] != total || index.Metadata["total_parameters"] != 12345 || len(index.WeightMap) != len(got) {
				t.Errorf("index metadata %v (want total_size %d), %d names for %d tensors", index.Metadata, total, len(index.WeightMap), len(got))
			}
			// the report: one row per weight and copy, with every byte
			if len(rep.Tensors) != 4 || rep.Bytes != total {
				t.Errorf("report: %d rows, %d bytes (want 4 rows, %d bytes)", len(rep.Tensors), rep.Bytes, total)
			}
			for _, r := range rep.Tensors {
				if r.Type != "BF16" && (r.RMSE <= 0 || r.SumSq <= 0 || r.RMSE > 0.01) {
					t.Errorf("report row %+v: implausible error figures", r)
				}
			}
			if es, _ := os.ReadDir(filepath.Dir(out)); len(es) != 1 {
				t.Errorf("the output's parent holds %d entries; want only the output", len(es))
			}
		})
	}
}

func unsafeBytes(q []int8) []byte {
	b := make([]byte, len(q))
	for i, v := range q {
		b[i] = byte(v)
	}
	return b
}

// The threads and the chunk size never change the directory.
func TestSafetensorsPlanDeterministic(t *testing.T) {
	fx := newStFixture(t)
	var ref map[string][]byte
	for i, opt := range []Options{{Threads: 1}, {Threads: 4, ChunkElements: 16384}, {Threads: 2, ChunkElements: 1}} {
		noKernelCopy = i == 1 // the copies written by WriteAt, not copy_file_range
		out := filepath.Join(t.TempDir(), "o")
		var last, total atomic.Int64
		opt.Progress = func(d, tot int64, _ int) {
			for {
				l := last.Load()
				if d <= l || last.CompareAndSwap(l, d) {
					break
				}
			}
			total.Store(tot)
		}
		_, err := Execute(context.Background(), fx.plan("nf4", true, "cuda", 64), out, opt)
		noKernelCopy = false
		if err != nil {
			t.Fatal(err)
		}
		if last.Load() != total.Load() || total.Load() == 0 {
			t.Errorf("options %+v: progress ended at %d of %d", opt, last.Load(), total.Load())
		}
		got := readOut(t, out)
		if i == 0 {
			ref = got
			continue
		}
		for n := range ref {
			if !bytes.Equal(got[n], ref[n]) {
				t.Errorf("options %+v: %s differs", opt, n)
			}
		}
	}
}

func TestSafetensorsPlanFailures(t *testing.T) {
	fx := newStFixture(t)
	parent := t.TempDir()
	out := filepath.Join(parent, "out")

	// a non-finite weight: an error naming it, and nothing written
	bad := filepath.Join(t.TempDir(), "bad")
	os.MkdirAll(bad, 0o755)
	x := append([]float32(nil), fx.a...)
	x[1000] = float32(math.Inf(-1))
	safetensors.WriteFile(filepath.Join(bad, "model.safetensors"), []safetensors.Tensor{
		{Name: "model.layers.0.mlp.a.weight", DType: safetensors.BF16, Shape: fx.na[:], Data: bf16Bytes(x)},
		{Name: "model.layers.0.mlp.b.weight", DType: safetensors.F16, Shape: fx.nb[:], Data: make([]byte, 2*len(fx.b))},
		{Name: "model.layers.0.mlp.c.weight", DType: safetensors.F32, Shape: []int64{64, 64}, Data: f32Bytes(fx.c)},
		{Name: "model.norm.weight", DType: safetensors.BF16, Shape: fx.normShape, Data: fx.norm},
	}, nil, false)
	os.WriteFile(filepath.Join(bad, "tokenizer.json"), nil, 0o644)
	p := fx.plan("nf4", true, "cuda", 64)
	p.ModelDir = &bad
	_, err := Execute(context.Background(), p, out, Options{})
	var nf *NonFiniteError
	if !errors.As(err, &nf) || nf.Row != 1000/129 || nf.Column != 1000%129 || !strings.Contains(err.Error(), "mlp.a.weight") {
		t.Errorf("non-finite weight: %v", err)
	}
	if es, _ := os.ReadDir(parent); len(es) != 0 {
		t.Errorf("a failed conversion left %v", es)
	}

	// cancelled: nothing written
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Execute(ctx, fx.plan("nf4", true, "cuda", 64), out, Options{}); !errors.Is(err, quant.ErrCancelled) {
		t.Errorf("cancelled: %v", err)
	}
	if es, _ := os.ReadDir(parent); len(es) != 0 {
		t.Errorf("a cancelled conversion left %v", es)
	}

	// cancelled in the middle (as Ctrl-C does through the C ABI): nothing written
	for _, third := range []int64{1, 2} {
		ctx, cancel := context.WithCancel(context.Background())
		opt := Options{ChunkElements: 16384, Threads: 2, Progress: func(done, total int64, _ int) {
			if done >= total*third/3 {
				cancel()
			}
		}}
		if _, err := Execute(ctx, fx.plan("nf4", true, "cuda", 64), out, opt); !errors.Is(err, quant.ErrCancelled) {
			t.Errorf("cancelled after %d/3 of the work: %v", third, err)
		}
		cancel()
		if es, _ := os.ReadDir(parent); len(es) != 0 {
			t.Errorf("a conversion cancelled midway left %v", es)
		}
	}

	// an existing output: refused, then replaced with Overwrite if it is a model directory
	if _, err := Execute(context.Background(), fx.plan("nf4", true, "cuda", 64), out, Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Execute(context.Background(), fx.plan("nf4", true, "cuda", 64), out, Options{}); !errors.Is(err, fs.ErrExist) {
		t.Errorf("existing output: %v, want fs.ErrExist", err)
	}
	if _, err := Execute(context.Background(), fx.plan("fp4", true, "cuda", 64), out, Options{Overwrite: true}); err != nil {
		t.Errorf("overwrite a model directory: %v", err)
	}
	other := filepath.Join(parent, "notes")
	os.MkdirAll(other, 0o755)
	os.WriteFile(filepath.Join(other, "todo.txt"), []byte("keep"), 0o644)
	if _, err := Execute(context.Background(), fx.plan("nf4", true, "cuda", 64), other, Options{Overwrite: true}); err == nil {
		t.Error("replaced a directory without config.json")
	}
	if _, err := Execute(context.Background(), fx.plan("nf4", true, "cuda", 64), fx.dir, Options{Overwrite: true}); err == nil {
		t.Error("replaced the model directory itself")
	}
	if b, _ := os.ReadFile(filepath.Join(other, "todo.txt")); string(b) != "keep" {
		t.Error("the refused directory was touched")
	}
}

func TestSafetensorsPlanChecks(t *testing.T) {
	fx := newStFixture(t)
	for _, c := range []struct {
		mutate func(p *Plan)
		want   string
	}{
		{func(p *Plan) { p.Format = "onnx" }, "unknown output format"},
		{func(p *Plan) { p.Tensors[3].Shape, p.Tensors[3].NBytes = []int64{7, 1}, 7 }, "packed bytes"},
		{func(p *Plan) { p.Tensors[3].Bnb.Blocksize = 48 }, "blocksize 48"},
		{func(p *Plan) { p.Tensors[3].Bnb.Rules = "tpu" }, "rules"},
		{func(p *Plan) { p.Tensors[0].Of = "model.norm.weight" }, "not a bitsandbytes weight"},
		{func(p *Plan) { p.Files[0].Tensors = p.Files[0].Tensors[1:] }, "in no output file"},
		{func(p *Plan) { p.Files[1].Tensors = append(p.Files[1].Tensors, p.Files[0].Tensors[0]) }, "is in both"},
		{func(p *Plan) { p.Files[3].Name = "../config.json" }, "plain file name"},
		{func(p *Plan) { p.Files[4].Kind = "link" }, "unknown kind"},
		{func(p *Plan) {
			b := "model.layers.0.mlp.b.weight.absmax"
			p.Files[1].Tensors = slices.DeleteFunc(p.Files[1].Tensors, func(n string) bool { return n == b })
			p.Files[0].Tensors = append(p.Files[0].Tensors, b)
		}, "before its weight"},
		{func(p *Plan) { p.Tensors[4].DType = "F16" }, "absmax"},
		{func(p *Plan) {
			q := &p.Tensors[5]
			q.QuantState.OffsetAt, q.Shape, q.NBytes = -1, []int64{int64(len(q.QuantState.JSON))}, int64(len(q.QuantState.JSON))
		}, "offset_at"},
		{func(p *Plan) { p.Tensors[6].Type = "F16" }, "unknown tensor type"},
		{func(p *Plan) { p.Tensors[6].DType = "F16" }, "a copy is the stored source"},
		{func(p *Plan) { p.Tensors[len(p.Tensors)-2].Shape = []int64{32, 128} }, "LLM.int8"},
	} {
		p := fx.plan("nf4", true, "cuda", 64)
		c.mutate(p)
		err := p.check()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v", c.want, err)
		}
	}
	if err := fx.plan("nf4", true, "cuda", 64).check(); err != nil {
		t.Errorf("the fixture's plan: %v", err)
	}
}

// A weight's parts may come before it in its file (safetensors orders by
// dtype, F32 first), or be in another file (shards split where the sizes
// say): the parts in a later file are kept until it is written, row scales
// in an earlier one computed by a first pass. Every
// tensor's bytes are those of the plan with each weight and its parts in
// one file.
func TestSafetensorsPlanPartsAcrossFiles(t *testing.T) {
	fx := newStFixture(t)
	for _, c := range []struct {
		typ    string
		nested bool
		rules  string
	}{{"nf4", true, "cuda"}, {"fp4", false, "cuda"}, {"nf4", true, "cpu"}} {
		ref := readOut(t, func() string {
			out := filepath.Join(t.TempDir(), "ref")
			if _, err := Execute(context.Background(), fx.plan(c.typ, c.nested, c.rules, 64), out, Options{Threads: 2}); err != nil {
				t.Fatal(err)
			}
			return out
		}())
		p := fx.plan(c.typ, c.nested, c.rules, 64)
		move := func(name string, from, to int, front bool) {
			f := &p.Files[from]
			i := slices.Index(f.Tensors, name)
			if i < 0 {
				t.Fatalf("%s not in file %d", name, from)
			}
			f.Tensors = slices.Delete(f.Tensors, i, i+1)
			if front {
				p.Files[to].Tensors = append([]string{name}, p.Files[to].Tensors...)
			} else {
				p.Files[to].Tensors = append(p.Files[to].Tensors, name)
			}
		}
		a := "model.layers.0.mlp.a.weight"
		move(a+".absmax", 0, 1, true)
		move(a+".quant_state.bitsandbytes__"+c.typ, 0, 1, false)
		if c.nested {
			move(a+".nested_absmax", 0, 1, false)
		}
		// in its file, b's absmax before b (safetensors' order for F32)
		move("model.layers.0.mlp.b.weight.absmax", 1, 1, true)
		if c.nested {
			move("model.layers.0.mlp.c.SCB", 1, 0, false) // before its weight
		} else {
			move("model.layers.0.mlp.c.weight", 1, 0, false) // its SCB after it
		}
		for _, threads := range []int{1, 3} {
			out := filepath.Join(t.TempDir(), "split")
			if _, err := Execute(context.Background(), p, out, Options{Threads: threads, ChunkElements: 5000}); err != nil {
				t.Fatalf("%s %s: %v", c.typ, c.rules, err)
			}
			got := readOut(t, out)
			if len(got) != len(ref) {
				t.Errorf("%d tensors, want %d", len(got), len(ref))
			}
			for n, b := range ref {
				if !bytes.Equal(got[n], b) {
					t.Errorf("%s %s threads %d: %s differs", c.typ, c.rules, threads, n)
				}
			}
		}
	}
}
