package convert

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/wick-ml/wick/convert/decode"
	"github.com/wick-ml/wick/io/gguf"
	"github.com/wick-ml/wick/io/safetensors"
	"github.com/wick-ml/wick/quant"
)

// fp8Model writes FP8 (e4m3, 128×128 block scales) weights of the given
// [rows, cols] shapes, codes drawn from those of normal-looking weights
// (no NaN code unless nan ≥ 0, the flat index given that code), and
// returns the plan converting each to typ, its tensors named w0, w1, ...
func fp8Model(t *testing.T, dir, typ string, shapes [][2]int64, nan int) *Plan {
	rng := rand.New(rand.NewPCG(7, 8))
	var st []safetensors.Tensor
	p := &Plan{Schema: SchemaVersion, ModelDir: &dir}
	for i, sh := range shapes {
		rows, cols := sh[0], sh[1]
		codes := make([]byte, rows*cols)
		for k := range codes {
			codes[k] = byte(rng.IntN(0x7f)) | byte(rng.IntN(2))<<7 // every code but NaN
		}
		if i == 0 && nan >= 0 {
			codes[nan] = 0xff
		}
		sr, sc := (rows+127)/128, (cols+127)/128
		scales := make([]float32, sr*sc)
		for k := range scales {
			scales[k] = float32(rng.Float64()*1e-3 + 1e-5)
		}
		name := fmt.Sprintf("w%d", i)
		st = append(st,
			safetensors.Tensor{Name: name, DType: safetensors.F8_E4M3, Shape: []int64{rows, cols}, Data: codes},
			safetensors.Tensor{Name: name + "_scale_inv", DType: safetensors.F32, Shape: []int64{sr, sc}, Data: f32Bytes(scales)})
		tr, _ := quant.Lookup(typ)
		rb, _ := tr.RowBytes(int(cols))
		p.Tensors = append(p.Tensors, Tensor{Name: name, Shape: []int64{cols, rows}, Type: typ, NBytes: int64(rb) * rows,
			Sources: []Source{{File: "m.safetensors", Tensor: name, DType: "F8_E4M3", Shape: []int64{rows, cols},
				Decode: &decode.Spec{Method: "scaled", Shape: []int64{rows, cols},
					Aux:    map[string]decode.Ref{"scale": {File: "m.safetensors", Tensor: name + "_scale_inv", DType: "F32", Shape: []int64{sr, sc}}},
					Params: map[string]any{"block": []any{128.0, 128.0}}}}}})
	}
	if err := safetensors.WriteFile(filepath.Join(dir, "m.safetensors"), st, nil, false); err != nil {
		t.Fatal(err)
	}
	return p
}

// runBoth executes p with and without the fused decoding and returns both
// outputs, reports and errors.
func runBoth(t *testing.T, p *Plan, opt Options) (outs [2][]byte, reps [2]*Report, errs [2]error) {
	t.Helper()
	defer func(old bool) { fuseDecoded = old }(fuseDecoded)
	for i, fuse := range []bool{true, false} {
		fuseDecoded = fuse
		out := filepath.Join(t.TempDir(), "o.gguf")
		reps[i], errs[i] = Execute(context.Background(), p, out, opt)
		if errs[i] == nil {
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			outs[i] = b
			reps[i].Seconds, reps[i].Output, reps[i].Files = 0, "", nil
		}
	}
	return
}

// TestFusedDecodingChangesNothing: quantizing decoded chunks piece by piece
// (a quant.FuncInput over the view's rows) writes the same bytes and
// reports the same error figures, bit for bit, as decoding each chunk first
// and quantizing it in one call, whatever the type, the row length
// (dividing quant's unit of work or not, or longer than it), the chunk size,
// the thread count or an importance matrix; and the result is the
// quantization of the decoded values.
func TestFusedDecodingChangesNothing(t *testing.T) {
	shapes := [][2]int64{{40, 768}, {9, 2560}, {130, 256}, {3, 8448}, {64, 512}, {64, 512}, {32, 256}, {32, 256}, {1024, 256}, {2, 33024}}
	for _, typ := range []string{"Q4_K", "Q6_K", "Q8_0", "Q4_0", "F16", "IQ4_XS", "TQ1_0"} {
		for _, chunk := range []int{0, 20000, 3 * 8448} {
			for _, threads := range []int{1, 2, 3} {
				for _, withIm := range []bool{false, true} {
					name := fmt.Sprintf("%s/chunk=%d/threads=%d/imatrix=%v", typ, chunk, threads, withIm)
					dir := t.TempDir()
					p := fp8Model(t, dir, typ, shapes, -1)
					views(p)
					opt := Options{Threads: threads, ChunkElements: chunk}
					if withIm {
						im := fakeImatrix{}
						for i := range p.Tensors {
							sh := p.Tensors[i].Shape
							n := p.Tensors[i].Name
							p.Tensors[i].Imatrix = &n
							w := make([]float32, sh[0])
							if len(sh) == 3 {
								w = make([]float32, sh[0]*sh[2])
							}
							for k := range w {
								w[k] = float32(1 + (k*7)%11)
							}
							im[n] = w
						}
						file := "im.gguf"
						p.ImatrixFile = &file
						opt.OpenImatrix = func(string) (Imatrix, error) { return im, nil }
					}
					outs, reps, errs := runBoth(t, p, opt)
					if errs[0] != nil || errs[1] != nil {
						t.Fatalf("%s: %v / %v", name, errs[0], errs[1])
					}
					if !bytes.Equal(outs[0], outs[1]) {
						t.Fatalf("%s: the files differ", name)
					}
					if !reflect.DeepEqual(reps[0], reps[1]) {
						t.Fatalf("%s: the reports differ:\n%+v\n%+v", name, reps[0].Tensors, reps[1].Tensors)
					}
					if withIm || threads != 2 || chunk != 20000 {
						continue
					}
					// against the plain quantization of the decoded values
					checkAgainstDecoded(t, name, dir, p, outs[0])
				}
			}
		}
	}
}

// views gives tensors 4 to 8 of an fp8Model plan views: a q/k permutation
// (8 heads of 8 rows) of w4, rows 3..59 of w5, two "experts" w6 and w7
// stacked, and the transpose of w8 (not made of whole source rows: it
// takes the path that decodes whole chunks first); tensors after w8 stay
// as they are.
func views(p *Plan) {
	t4, t5, t6, t8 := &p.Tensors[4], &p.Tensors[5], &p.Tensors[6], &p.Tensors[8]
	tr, _ := quant.Lookup(t5.Type)
	t4.Parts = []Part{{Source: 0, Shape: []int64{8, 4, 2, 512}, Strides: []int64{8 * 512, 512, 4 * 512, 1}}}
	rb, _ := tr.RowBytes(512)
	t5.Parts = []Part{{Source: 0, Shape: []int64{57, 512}, Strides: []int64{512, 1}, Offset: 3 * 512}}
	t5.Shape, t5.NBytes = []int64{512, 57}, int64(rb)*57
	rb, _ = tr.RowBytes(256)
	t6.Sources = append(t6.Sources, p.Tensors[7].Sources[0])
	t6.Shape, t6.NBytes = []int64{256, 32, 2}, int64(rb)*64
	t8.Parts = []Part{{Source: 0, Shape: []int64{256, 1024}, Strides: []int64{1, 256}}}
	t8.Shape = []int64{1024, 256}
	p.Tensors = append(p.Tensors[:7], p.Tensors[8:]...)
}

// checkAgainstDecoded quantizes each tensor's decoded values in one call
// and compares with its bytes in the output file.
func checkAgainstDecoded(t *testing.T, name, dir string, p *Plan, file []byte) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "f.gguf")
	if err := os.WriteFile(out, file, 0o644); err != nil {
		t.Fatal(err)
	}
	g, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	f, err := safetensors.Open(filepath.Join(dir, "m.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, tn := range p.Tensors[:4] { // whole sources
		s := tn.Sources[0]
		main, _ := f.Data(s.Tensor)
		ref := s.Decode.Aux["scale"]
		sd, _ := f.Data(ref.Tensor)
		d, err := decode.New(*s.Decode, decode.Tensor{Name: s.Tensor, DType: s.DType, Shape: s.Shape, Data: main},
			map[string]decode.Tensor{"scale": {Name: ref.Tensor, DType: ref.DType, Shape: ref.Shape, Data: sd}})
		if err != nil {
			t.Fatal(err)
		}
		vals := make([]float32, s.Shape[0]*s.Shape[1])
		if err := d.(decode.Rows).ReadRows(vals, 0, s.Shape[0]); err != nil {
			t.Fatal(err)
		}
		want := quantizeRef(t, tn.Type, vals, int(s.Shape[1]))
		if got, _ := g.TensorData(tn.Name); !bytes.Equal(got, want) {
			t.Fatalf("%s: tensor %s is not the quantization of its decoded values", name, tn.Name)
		}
	}
}

// TestFusedDecodingErrors: a NaN weight is reported at the same row and
// column, with or without the fused decoding, whatever the thread count.
func TestFusedDecodingErrors(t *testing.T) {
	shapes := [][2]int64{{40, 768}}
	for _, at := range []int{0, 767, 768 * 21, 768*22 + 5, 40*768 - 1} {
		for _, opt := range []Options{{Threads: 1, ChunkElements: 20000}, {Threads: 2, ChunkElements: 20000}, {Threads: 2}} {
			p := fp8Model(t, t.TempDir(), "Q4_K", shapes, at)
			_, _, errs := runBoth(t, p, opt)
			var nf *NonFiniteError
			if errs[0] == nil || errs[1] == nil || errs[0].Error() != errs[1].Error() || !errors.As(errs[0], &nf) {
				t.Fatalf("NaN at %d: %v / %v", at, errs[0], errs[1])
			}
			if nf.Row != int64(at/768) || nf.Column != at%768 || !math.IsNaN(float64(nf.Value)) {
				t.Fatalf("NaN at %d reported at row %d column %d: %v", at, nf.Row, nf.Column, errs[0])
			}
		}
	}
}

// recordingFile is a source file that records the ranges released.
type recordingFile struct {
	sourceFile
	released [][3]int64 // tensor index (0: w0), offset, length
}

func (r *recordingFile) releaseRange(name string, off, n int64) {
	if name == "w0" {
		r.released = append(r.released, [3]int64{0, off, n})
	}
	r.sourceFile.releaseRange(name, off, n)
}

// TestDecodedSourceReleasesRows: an FP8 source drops the pages of the rows
// it is done with (its stored rows: one byte per weight), as a plain
// source does, and everything when done.
func TestDecodedSourceReleasesRows(t *testing.T) {
	dir := t.TempDir()
	p := fp8Model(t, dir, "Q4_K", [][2]int64{{40, 768}}, -1)
	ss := &sources{p: p, files: map[string]sourceFile{}}
	src := p.Tensors[0].Sources[0]
	f, err := ss.file(src.Format, src.File)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recordingFile{sourceFile: f}
	ss.files[src.Format+":"+p.path(src.File)] = rec
	defer ss.close()
	rs, err := ss.open(src)
	if err != nil {
		t.Fatal(err)
	}
	rs.release(3, 10)
	rs.done()
	want := [][3]int64{{0, 3 * 768, 7 * 768}, {0, 0, 40 * 768}}
	if !reflect.DeepEqual(rec.released, want) {
		t.Fatalf("released %v, want %v", rec.released, want)
	}
}
