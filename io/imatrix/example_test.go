package imatrix_test

import (
	"fmt"
	"path/filepath"

	"github.com/wick-ml/wick/io/imatrix"
	"github.com/wick-ml/wick/quant"
)

// Open a file llama-imatrix wrote and quantize a tensor with its weights,
// as llama-quantize --imatrix does.
func Example() {
	f, err := imatrix.Open(filepath.Join("testdata", "llama_f32.imatrix.gguf"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	if err := f.CheckQuantize(); err != nil { // what llama-quantize would refuse
		fmt.Println(err)
		return
	}
	fmt.Println(f.Format(), f.Datasets(), f.ChunkCount(), "chunks of", f.ChunkSize())
	e, _ := f.Entry("blk.0.ffn_down.weight")
	fmt.Println(e.Name, e.Len, e.Counts)

	w, err := f.Values(e.Name) // one weight per column
	if err != nil {
		fmt.Println(err)
		return
	}
	rows := make([]float32, 2*e.RowLen()) // two rows of the tensor
	for i := range rows {
		rows[i] = float32(i%7) - 3
	}
	out := make([]byte, 2*e.RowLen()/32*22) // Q5_0: 22 bytes per 32 values
	n, err := quant.Quantize(quant.Q5_0, out, quant.F32Input(rows), e.RowLen(), quant.Options{Imatrix: w})
	fmt.Println(n, err)
	// Output:
	// gguf [calib.txt] 3 chunks of 128
	// blk.0.ffn_down.weight 352 [384]
	// 484 <nil>
}
