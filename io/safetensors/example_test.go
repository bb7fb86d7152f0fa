package safetensors_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/wick-ml/wick/io/safetensors"
)

func Example() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "model.safetensors")

	// Write a 2×2 float32 tensor.
	data := make([]byte, 16)
	for i, v := range []float32{1, 2, 3, 4} {
		binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(v))
	}
	err := safetensors.WriteFile(path, []safetensors.Tensor{
		{Name: "w", DType: safetensors.F32, Shape: []int64{2, 2}, Data: data},
	}, map[string]string{"format": "pt"}, false)
	if err != nil {
		fmt.Println(err)
		return
	}

	// Read it back: validated header, zero-copy views.
	m, err := safetensors.OpenModel(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	for _, t := range m.Tensors() {
		vals, _ := m.Float32(t.Name)
		fmt.Println(t.Name, t.DType, t.Shape, vals)
		m.Release(t.Name) // done with it: drop its pages
	}

	// A corrupt file gives a precise, classified error.
	os.WriteFile(path, []byte("\x02\x00\x00\x00\x00\x00\x00\x00{}garbage"), 0o644)
	_, err = safetensors.Open(path)
	fmt.Println(errors.Is(err, safetensors.ErrGap), errors.Is(err, safetensors.ErrFormat))
	// Output:
	// w F32 [2 2] [1 2 3 4]
	// true true
}
