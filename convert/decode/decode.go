// Package decode turns the stored tensors of a quantized checkpoint (FP8 with
// block scales, packed integers with group scales, MX/NV FP4 blocks,
// bitsandbytes states, …) into the values the conversion works on.
//
// A plan source may carry a "decode" entry (Spec): the method, the logical
// row-major shape of the decoded tensor and the auxiliary stored tensors the
// method needs by role ("scale", "zero", …). The executor opens the stored
// tensors, calls New and reads the result a range of rows at a time, so a
// decoder never holds a whole decoded tensor: memory stays bounded by the
// rows asked for.
//
// A decoder yields either float values (Rows) or, for a lossless
// pass-through into a ggml block type of the same layout (Spec.Output, e.g.
// MXFP4 blocks re-laid out as GGUF MXFP4), already encoded rows (RawRows).
package decode

import (
	"fmt"
	"sort"
	"sync"
)

// Tensor is one stored checkpoint tensor: its raw little-endian bytes (a
// view of the mapped file), its safetensors dtype and row-major shape.
type Tensor struct {
	Name  string
	DType string
	Shape []int64
	Data  []byte
}

// Ref names an auxiliary stored tensor in a Spec (the same form as a plan
// source).
type Ref struct {
	File   string  `json:"file"`
	Tensor string  `json:"tensor"`
	DType  string  `json:"dtype"`
	Shape  []int64 `json:"shape"`
}

// Spec is the "decode" entry of a plan source.
type Spec struct {
	// Method names the decoder (see Methods).
	Method string `json:"method"`
	// Shape is the logical row-major shape of the decoded tensor.
	Shape []int64 `json:"shape"`
	// Aux are the auxiliary stored tensors by role.
	Aux map[string]Ref `json:"aux"`
	// Params are the method's parameters (block sizes, bits, …).
	Params map[string]any `json:"params"`
	// Output is "" for float values, or the ggml type name of a lossless
	// pass-through (the tensor's plan type must then be that type).
	Output string `json:"output,omitempty"`
}

// Rows yields a decoded tensor, rows of its 2-D flattening
// [prod(Shape[:-1]), Shape[-1]] in row-major order.
type Rows interface {
	// ReadRows decodes rows [r0, r1) into dst, which holds exactly
	// (r1-r0)*Shape[-1] values.
	ReadRows(dst []float32, r0, r1 int64) error
}

// RawRows yields already-encoded ggml rows of Spec.Output.
type RawRows interface {
	// ReadRawRows writes the encoded rows [r0, r1) into dst, which holds
	// exactly their encoded size.
	ReadRawRows(dst []byte, r0, r1 int64) error
}

// Factory makes the decoder of one method: it validates spec against the
// stored tensors and returns Rows or RawRows.
type Factory func(spec Spec, main Tensor, aux map[string]Tensor) (any, error)

var (
	mu       sync.RWMutex
	registry = map[string]Factory{}
)

// Register makes a method available; it panics when the name is taken (a
// programming error, found at start-up).
func Register(method string, f Factory) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := registry[method]; dup {
		panic("decode: method " + method + " registered twice")
	}
	registry[method] = f
}

// Methods lists the registered method names, sorted.
func Methods() []string {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]string, 0, len(registry))
	for m := range registry {
		out = append(out, m)
	}
	sort.Strings(out)
	return out
}

// New returns the decoder (Rows or RawRows) for spec.
func New(spec Spec, main Tensor, aux map[string]Tensor) (any, error) {
	mu.RLock()
	f, ok := registry[spec.Method]
	mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("decode: unknown method %q (known: %v)", spec.Method, Methods())
	}
	if len(spec.Shape) == 0 {
		return nil, fmt.Errorf("decode: %s: tensor %q: the decoded shape is empty", spec.Method, main.Name)
	}
	for _, d := range spec.Shape {
		if d <= 0 {
			return nil, fmt.Errorf("decode: %s: tensor %q: decoded shape %v has a dimension ≤ 0", spec.Method, main.Name, spec.Shape)
		}
	}
	return f(spec, main, aux)
}
