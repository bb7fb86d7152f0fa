package convert

import (
	"bytes"
	"context"
	"math/rand/v2"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/wick-ml/wick/io/safetensors"
	"github.com/wick-ml/wick/quant"
)

// TestExecuteStreamsExperts checks that per-expert sources stacked into one 3-D tensor
// (one part per expert, as Mixtral/Qwen/OLMoE checkpoints are stacked) and fused 3-D
// experts read transposed (Llama 4's down_proj: column-strided parts) are written chunk by
// chunk straight into their slice of the output: the bytes equal the quantization of the
// whole stack, and the executor's buffers never grow past a couple of chunks — not to a
// layer's experts.
func TestExecuteStreamsExperts(t *testing.T) {
	const X, F, E = 16, 8, 32 // experts, rows per expert, columns of the transposed source
	rng := rand.New(rand.NewPCG(7, 11))
	dir := t.TempDir()
	var tensors []safetensors.Tensor
	var stacked []float32 // every expert's rows, in expert order
	var perExpert []Source
	for x := 0; x < X; x++ {
		v := randomF32(rng, F*W)
		for i := range v {
			v[i] = quant.BF16ToF32(quant.F32ToBF16(v[i]))
		}
		stacked = append(stacked, v...)
		name := "experts." + string(rune('a'+x)) + ".w"
		tensors = append(tensors, safetensors.Tensor{Name: name, DType: safetensors.BF16, Shape: []int64{F, W}, Data: bf16Bytes(v)})
		perExpert = append(perExpert, Source{File: "model.safetensors", Tensor: name, DType: "BF16", Shape: []int64{F, W}})
	}
	// fused [X, W, E] stored; written as [X, E, W]: output row (x, e) = column e of expert x
	fused := randomF32(rng, X*W*E)
	for i := range fused {
		fused[i] = quant.BF16ToF32(quant.F32ToBF16(fused[i]))
	}
	transposed := make([]float32, 0, len(fused))
	for x := 0; x < X; x++ {
		for e := 0; e < E; e++ {
			for f := 0; f < W; f++ {
				transposed = append(transposed, fused[(x*W+f)*E+e])
			}
		}
	}
	tensors = append(tensors, safetensors.Tensor{Name: "down", DType: safetensors.BF16, Shape: []int64{X, W, E}, Data: bf16Bytes(fused)})
	if err := safetensors.WriteFile(filepath.Join(dir, "model.safetensors"), tensors, nil, false); err != nil {
		t.Fatal(err)
	}
	p := &Plan{Schema: SchemaVersion, ModelDir: &dir, Alignment: 32}
	cases := []struct {
		name string
		t    Tensor
		want []float32
	}{
		{"stacked", Tensor{Name: "ffn_up_exps", Shape: []int64{W, F, X}, Type: "Q4_K", Sources: perExpert}, stacked},
		{"fused-transposed", Tensor{Name: "ffn_down_exps", Shape: []int64{W, E, X}, Type: "Q4_K",
			Sources: []Source{{File: "model.safetensors", Tensor: "down", DType: "BF16", Shape: []int64{X, W, E}}},
			Parts:   []Part{{Source: 0, Shape: []int64{X, E, W}, Strides: []int64{W * E, 1, E}}}}, transposed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			const chunk = 4 * W // four output rows at a time: each expert takes several chunks
			src := &sources{p: p, files: map[string]sourceFile{}}
			defer src.close()
			var out bytes.Buffer
			var done atomic.Int64
			x := &executor{ctx: context.Background(), chunk: chunk, out: newPipeline(&out), done: &done}
			if _, err := x.write(c.t, src); err != nil {
				t.Fatal(err)
			}
			if err := x.out.flush(); err != nil {
				t.Fatal(err)
			}
			x.out.stop()
			if !bytes.Equal(out.Bytes(), quantizeRef(t, "Q4_K", c.want, W)) {
				t.Fatal("stacked experts differ from the quantization of the whole stack")
			}
			t.Logf("win %d, stage %d bytes", cap(x.win), cap(x.stage))
			// bounded by chunks, never by a layer's experts (X·F·W elements)
			limit := (2*chunk + W) * 2 // BF16: a window of at most two chunks plus a row
			if cap(x.win) > limit || cap(x.stage) > limit || cap(x.f32) > 2*chunk {
				t.Fatalf("buffers grew to win %d, stage %d, f32 %d bytes/values (limit %d); the stack is %d elements",
					cap(x.win), cap(x.stage), cap(x.f32), limit, X*F*W)
			}
		})
	}
}
