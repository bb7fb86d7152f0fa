package gguf

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/wick-ml/wick/quant"
)

// BenchmarkParseVocab parses the metadata of a 150,000-token vocabulary
// (tokens, scores, token types) and 300 tensor infos, the bulk of a real
// model's header.
func BenchmarkParseVocab(b *testing.B) {
	const n = 150000
	tokens := make([]string, n)
	scores := make([]float32, n)
	types := make([]int32, n)
	for i := range tokens {
		tokens[i] = fmt.Sprintf("tok%d", i)
		scores[i] = float32(i)
		types[i] = 1
	}
	var buf bytes.Buffer
	w, _ := NewWriter(&buf)
	w.AddKV("general.architecture", String("llama"))
	w.AddKV("tokenizer.ggml.tokens", Array(tokens))
	w.AddKV("tokenizer.ggml.scores", Array(scores))
	w.AddKV("tokenizer.ggml.token_type", Array(types))
	for i := range 300 {
		w.AddTensor(fmt.Sprintf("blk.%d.attn_q.weight", i), quant.F32, []int64{0, 4096})
	}
	if err := w.Commit(); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(buf.Len()))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(buf.Bytes()); err != nil {
			b.Fatal(err)
		}
	}
}
