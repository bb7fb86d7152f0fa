package gguf_test

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/wick-ml/wick/io/gguf"
	"github.com/wick-ml/wick/quant"
)

func Example() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "model.gguf")

	// Declare everything, then stream the data in declaration order.
	w, err := gguf.Create(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer w.Abort() // no-op after Commit; removes the temporary file otherwise
	w.AddKV("general.architecture", gguf.String("llama"))
	w.AddKV("llama.context_length", gguf.Uint32(4096))
	w.AddKV("tokenizer.ggml.tokens", gguf.Array([]string{"<s>", "</s>"}))
	w.AddTensor("output_norm.weight", quant.F32, []int64{4}) // dims in ggml order
	data := make([]byte, 16)
	for i := range 4 {
		binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(1))
	}
	if err := w.WriteTensorData("output_norm.weight", data); err != nil {
		fmt.Println(err)
		return
	}
	if err := w.Commit(); err != nil {
		fmt.Println(err)
		return
	}

	f, err := gguf.Open(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	for _, kv := range f.Metadata() {
		fmt.Println(kv.Key, kv.Value.Type(), kv.Value)
	}
	v, _ := f.Lookup("llama.context_length")
	if n, ok := gguf.As[uint32](v); ok { // exact type, as llama.cpp requires
		fmt.Println("context", n)
	}
	for _, t := range f.Tensors() {
		b, _ := f.TensorData(t.Name)
		fmt.Println(t.Name, t.Type, t.Dims, len(b), "bytes at", f.DataOffset()+t.Offset)
	}
	// Output:
	// general.architecture STRING "llama"
	// llama.context_length UINT32 4096
	// tokenizer.ggml.tokens ARRAY ["<s>" "</s>"]
	// context 4096
	// output_norm.weight F32 [4] 16 bytes at 224
}
