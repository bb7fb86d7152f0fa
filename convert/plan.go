// Package convert executes a conversion plan: it reads the source tensors
// (safetensors or GGUF, memory-mapped), applies the plan's transforms,
// quantizes row-parallel with package quant and streams the result into a
// GGUF file that appears only when everything succeeded.
//
// The plan says what to write and is made by Python (python/wick/convert,
// whose plan.py documents the JSON schema); this package decides how fast.
// Memory stays bounded by a few chunks of rows, whatever the model size:
// sources are mapped, read chunk by chunk and their pages released as the
// pass moves on, and the GGUF writer holds no tensor data.
package convert

import (
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/wick-ml/wick/convert/decode"
	"github.com/wick-ml/wick/io/gguf"
	"github.com/wick-ml/wick/quant"
)

// SchemaVersion is the plan schema this package executes.
const SchemaVersion = 1

// Plan is a conversion plan (schema 1). Fields the executor does not need
// (architecture, target, reasons) are ignored.
type Plan struct {
	Schema      int       `json:"schema"`
	ModelDir    *string   `json:"model_dir"`
	Alignment   int       `json:"alignment"`
	ImatrixFile *string   `json:"imatrix_file"`
	Metadata    []gguf.KV `json:"metadata"`
	Tensors     []Tensor  `json:"tensors"`
}

// Tensor is one output tensor.
type Tensor struct {
	Name       string      `json:"name"`
	Shape      []int64     `json:"shape"` // ggml order: Shape[0] is the row length
	Type       string      `json:"type"`
	NBytes     int64       `json:"nbytes"`
	Sources    []Source    `json:"sources"`
	Transforms []Transform `json:"transforms"`
	Data       *Inline     `json:"data"`
	Imatrix    *string     `json:"imatrix"`
}

// Source is one input tensor. Several sources are stacked along a new
// outermost axis, in order.
type Source struct {
	File   string  `json:"file"` // relative to Plan.ModelDir unless absolute
	Tensor string  `json:"tensor"`
	DType  string  `json:"dtype"`  // safetensors dtype, or ggml type name for GGUF sources
	Shape  []int64 `json:"shape"`  // row-major
	Format string  `json:"format"` // "safetensors" (default) or "gguf"
	// Decode, when set, makes this the main stored tensor of a quantized
	// weight: package decode turns it (and the auxiliary tensors the spec
	// names) into the logical tensor of Decode.Shape.
	Decode *decode.Spec `json:"decode"`
}

// passesThrough reports whether every source of t hands over blocks of the
// ggml type typ unchanged (Decode.Output).
func (t *Tensor) passesThrough(typ string) bool {
	for _, s := range t.Sources {
		if s.Decode == nil || s.Decode.Output != typ {
			return false
		}
	}
	return len(t.Sources) > 0
}

// elements is the number of values the source contributes (its logical
// shape when it is decoded).
func (s Source) elements() int64 {
	if s.Decode != nil {
		return elements(s.Decode.Shape)
	}
	return elements(s.Shape)
}

// Transform is one operation on the source rows.
type Transform struct {
	Op    string `json:"op"` // "permute_qk" or "stack"
	NHead int    `json:"n_head"`
}

// Inline is tensor data carried by the plan itself (generated tensors).
type Inline struct {
	DType  string `json:"dtype"` // "F32"
	Base64 []byte `json:"base64"`
}

// PlanError reports a plan that is malformed or inconsistent with itself.
type PlanError struct {
	Tensor string // "" for the plan as a whole
	Msg    string
}

func (e *PlanError) Error() string {
	if e.Tensor == "" {
		return "convert: plan: " + e.Msg
	}
	return fmt.Sprintf("convert: plan: tensor %q: %s", e.Tensor, e.Msg)
}

func planErr(tensor, format string, a ...any) error {
	return &PlanError{Tensor: tensor, Msg: fmt.Sprintf(format, a...)}
}

// ParsePlan decodes and checks a plan.
func ParsePlan(b []byte) (*Plan, error) {
	var p Plan
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, planErr("", "%v", err)
	}
	if err := p.check(); err != nil {
		return nil, err
	}
	return &p, nil
}

// path resolves a source file against the model directory.
func (p *Plan) path(file string) string {
	if filepath.IsAbs(file) || p.ModelDir == nil {
		return file
	}
	return filepath.Join(*p.ModelDir, file)
}

func elements(shape []int64) int64 {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	return n
}

// check validates what can be validated without opening any file.
func (p *Plan) check() error {
	if p.Schema != SchemaVersion {
		return planErr("", "schema %d is not %d", p.Schema, SchemaVersion)
	}
	if p.Alignment != 0 && p.Alignment != gguf.DefaultAlignment {
		found := false
		for _, kv := range p.Metadata {
			if kv.Key == gguf.KeyAlignment {
				if a, ok := gguf.As[uint32](kv.Value); ok && int(a) == p.Alignment {
					found = true
				}
			}
		}
		if !found {
			return planErr("", "alignment %d needs a matching %s UINT32 entry", p.Alignment, gguf.KeyAlignment)
		}
	}
	seen := map[string]bool{}
	for i := range p.Tensors {
		t := &p.Tensors[i]
		if seen[t.Name] {
			return planErr(t.Name, "listed twice")
		}
		seen[t.Name] = true
		if err := t.check(p.ImatrixFile != nil); err != nil {
			return err
		}
	}
	return nil
}

func (t *Tensor) check(haveImatrix bool) error {
	tr, ok := quant.Lookup(t.Type)
	if !ok {
		return planErr(t.Name, "unknown ggml type %q", t.Type)
	}
	if !tr.CanQuantize() && !t.passesThrough(tr.Name) {
		return planErr(t.Name, "Wick cannot write %s", tr.Name)
	}
	if len(t.Shape) == 0 || len(t.Shape) > gguf.MaxDims {
		return planErr(t.Name, "shape %v must have 1 to %d dimensions", t.Shape, gguf.MaxDims)
	}
	n := int64(1)
	for _, d := range t.Shape {
		if d <= 0 || n > (1<<62)/d {
			return planErr(t.Name, "shape %v has a dimension ≤ 0 or is too large", t.Shape)
		}
		n *= d
	}
	rb, err := tr.RowBytes(int(t.Shape[0]))
	if err != nil {
		return planErr(t.Name, "rows of %d elements are not whole %s blocks of %d", t.Shape[0], tr.Name, tr.BlockSize)
	}
	if want := int64(rb) * (n / t.Shape[0]); t.NBytes != want {
		return planErr(t.Name, "nbytes is %d; %s of shape %v takes %d", t.NBytes, tr.Name, t.Shape, want)
	}
	switch {
	case t.Data != nil:
		if len(t.Sources) != 0 {
			return planErr(t.Name, "has both inline data and sources")
		}
		if t.Data.DType != "F32" || int64(len(t.Data.Base64)) != 4*n {
			return planErr(t.Name, "inline data must be %d F32 values (%d bytes), got %s with %d bytes", n, 4*n, t.Data.DType, len(t.Data.Base64))
		}
	case len(t.Sources) == 0:
		return planErr(t.Name, "has no source and no inline data")
	default:
		var total int64
		for _, s := range t.Sources {
			if s.Format != "" && s.Format != "safetensors" && s.Format != "gguf" {
				return planErr(t.Name, "source %q has unknown format %q", s.Tensor, s.Format)
			}
			if s.Decode != nil && s.Format == "gguf" {
				return planErr(t.Name, "source %q: only safetensors sources can be decoded", s.Tensor)
			}
			if s.Decode != nil && s.Decode.Output != "" && s.Decode.Output != tr.Name {
				return planErr(t.Name, "source %q passes %s blocks through; the tensor is %s", s.Tensor, s.Decode.Output, tr.Name)
			}
			total += s.elements()
		}
		if total != n {
			return planErr(t.Name, "sources hold %d elements; shape %v needs %d", total, t.Shape, n)
		}
	}
	for _, tf := range t.Transforms {
		switch tf.Op {
		case "stack":
		case "permute_qk":
			rows := n / t.Shape[0]
			if len(t.Sources) > 1 {
				rows /= int64(len(t.Sources))
			}
			if tf.NHead <= 0 || rows%int64(tf.NHead) != 0 || (rows/int64(tf.NHead))%2 != 0 {
				return planErr(t.Name, "permute_qk with n_head %d does not divide %d rows into heads of an even size", tf.NHead, rows)
			}
		default:
			return planErr(t.Name, "unknown transform %q", tf.Op)
		}
	}
	if t.Imatrix != nil && !haveImatrix {
		return planErr(t.Name, "names imatrix entry %q but the plan has no imatrix_file", *t.Imatrix)
	}
	return nil
}
