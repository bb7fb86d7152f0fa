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
	"slices"
	"strings"

	"github.com/wick-ml/wick/convert/decode"
	"github.com/wick-ml/wick/io/gguf"
	"github.com/wick-ml/wick/quant"
)

// SchemaVersion is the plan schema this package executes (3: schema 2 and
// the output format, see stplan.go).
const SchemaVersion = 3

// Plan is a conversion plan (schema 3). Fields the executor does not need
// (architecture, reasons) are ignored; the target is copied into the report.
type Plan struct {
	Schema      int       `json:"schema"`
	Format      string    `json:"format"` // FormatGGUF (or "") or FormatSafetensors
	Target      string    `json:"target"`
	ModelDir    *string   `json:"model_dir"`
	Alignment   int       `json:"alignment"`
	ImatrixFile *string   `json:"imatrix_file"`
	Metadata    []gguf.KV `json:"metadata"`
	Tensors     []Tensor  `json:"tensors"`
	Files       []OutFile `json:"files"` // FormatSafetensors: the output directory's files
	// Split, if set, writes a split model (set by the executor's caller,
	// not the planner).
	Split *Split `json:"split"`
	// Reference names the llama.cpp pipeline the file reproduces; when it
	// includes llama-quantize ("quantize"), every encoded chunk is
	// validated as llama-quantize validates what it writes
	// (quant.ValidateRows), and data it would refuse is an error.
	Reference string `json:"reference"`
}

// validates reports whether encoded data is checked as llama-quantize does.
func (p *Plan) validates() bool { return strings.Contains(p.Reference, "quantize") }

// Split asks for a split model as llama-gguf-split writes it (see
// gguf.WithSplit): exactly one limit is set. The output name, less a
// ".gguf" suffix, is the prefix of the parts' names.
type Split struct {
	MaxBytes   int64 `json:"max_bytes"`   // --split-max-size, in bytes
	MaxTensors int   `json:"max_tensors"` // --split-max-tensors
}

// Tensor is one output tensor. Its values, in row-major order (rows of
// Shape[0] elements), are the elements of Parts one after the other (each
// source whole, in order, when Parts is empty), with Ops applied to each.
type Tensor struct {
	Name    string   `json:"name"`
	Shape   []int64  `json:"shape"` // ggml order: Shape[0] is the row length
	Type    string   `json:"type"`
	NBytes  int64    `json:"nbytes"`
	Sources []Source `json:"sources"`
	Parts   []Part   `json:"parts"`
	Ops     []Op     `json:"ops"`
	Data    *Inline  `json:"data"`
	Imatrix *string  `json:"imatrix"`
	// FormatSafetensors plans (stplan.go): the stored dtype, the weight a
	// part of a quantized state belongs to, a weight's bitsandbytes
	// parameters, a 4-bit weight's quant-state JSON.
	DType      string          `json:"dtype"`
	Of         string          `json:"of"`
	Bnb        *BnbSpec        `json:"bnb"`
	QuantState *QuantStateSpec `json:"quant_state"`
}

// Source is one input tensor.
type Source struct {
	File   string  `json:"file"` // relative to Plan.ModelDir unless absolute
	Tensor string  `json:"tensor"`
	DType  string  `json:"dtype"`  // safetensors dtype, or ggml type name for GGUF sources
	Shape  []int64 `json:"shape"`  // row-major, as stored
	Format string  `json:"format"` // "safetensors" (default) or "gguf"
	// Decode, when set, turns the stored tensor (a quantized checkpoint's
	// weight and its auxiliary tensors) into float values of Decode.Shape;
	// everything after sees that logical tensor.
	Decode *decode.Spec `json:"decode"`
}

// logicalShape is the shape the source's values have after decoding.
func (s *Source) logicalShape() []int64 {
	if s.Decode != nil {
		return s.Decode.Shape
	}
	return s.Shape
}

// Part is a strided view of one source's values: element (i0, …, ik) of
// Shape is the source's row-major element Offset + Σ i_j·Strides[j]. Its
// elements, in row-major order, are a run of whole output rows.
type Part struct {
	Source  int     `json:"source"`
	Shape   []int64 `json:"shape"`
	Strides []int64 `json:"strides"`
	Offset  int64   `json:"offset"`
}

// Op is an element-wise operation on float32 values (see ops.go).
type Op struct {
	Op    string  `json:"op"`
	Value float64 `json:"value"`
	DType string  `json:"dtype"`
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
	// The metadata (a vocabulary: most of the plan's bytes) is decoded
	// apart, without encoding/json's scans of it; anything unusual, and
	// every error, goes through encoding/json alone.
	if rest, kvs, ok := gguf.CutMember(b, "metadata"); ok && json.Unmarshal(rest, &p) == nil {
		p.Metadata = kvs
	} else {
		p = Plan{}
		if err := json.Unmarshal(b, &p); err != nil {
			return nil, planErr("", "%v", err)
		}
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
	switch p.Format {
	case "", FormatGGUF:
	case FormatSafetensors:
		return p.checkSafetensors()
	default:
		return planErr("", "unknown output format %q", p.Format)
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
	if s := p.Split; s != nil && (s.MaxBytes < 0 || s.MaxTensors < 0 || (s.MaxBytes > 0) == (s.MaxTensors > 0)) {
		return planErr("", "split %+v: set exactly one of max_bytes and max_tensors, positive", *s)
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
	if !tr.CanQuantize() && !(len(t.Sources) == 1 && t.Sources[0].Decode != nil && t.Sources[0].Decode.Output == tr.Name) {
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
		for i := range t.Sources {
			s := &t.Sources[i]
			if s.Format != "" && s.Format != "safetensors" && s.Format != "gguf" {
				return planErr(t.Name, "source %q has unknown format %q", s.Tensor, s.Format)
			}
			if err := checkShape(s.logicalShape()); err != nil {
				return planErr(t.Name, "source %q: %v", s.Tensor, err)
			}
			if s.Decode != nil && s.Decode.Output != "" && (len(t.Sources) != 1 || len(t.Ops) != 0 || s.Decode.Output != tr.Name) {
				return planErr(t.Name, "a pass-through of %s blocks needs a single source, no ops and the tensor type %s", s.Decode.Output, s.Decode.Output)
			}
			if s.Decode != nil && s.Decode.Output != "" && len(t.Parts) != 0 {
				if _, _, err := t.passThroughLayout(int64(tr.BlockSize)); err != nil {
					return planErr(t.Name, "a pass-through of %s blocks: %v", s.Decode.Output, err)
				}
			}
		}
		if err := t.checkParts(n); err != nil {
			return err
		}
	}
	for _, op := range t.Ops {
		if err := checkOp(op); err != nil {
			return planErr(t.Name, "%v", err)
		}
	}
	if t.Imatrix != nil && !haveImatrix {
		return planErr(t.Name, "names imatrix entry %q but the plan has no imatrix_file", *t.Imatrix)
	}
	return nil
}

// passThroughLayout maps a pass-through tensor's output to its source's
// encoded blocks (block = the output type's block size in elements): rows[k]
// is the source row output row k copies (nil: the rows in order), blocks[j]
// the block of that row that output block j copies (nil: all, in order).
// The parts may move whole rows (a row permutation such as llama's q/k
// reordering, which llama.cpp applies to the NVFP4 blocks and their scales
// alike) and, within a row, whole blocks (Qwen3.5's value heads of an NVFP4
// out_proj, whose columns llama.cpp re-orders with their scales); every part
// must gather the same blocks.
func (t *Tensor) passThroughLayout(block int64) (rows, blocks []int64, err error) {
	if len(t.Parts) == 0 {
		return nil, nil, nil
	}
	shape := t.Sources[0].logicalShape()
	cols := shape[len(shape)-1]
	nRows := elements(shape) / cols
	if block <= 0 || cols%block != 0 {
		return nil, nil, fmt.Errorf("source rows of %d elements are not whole blocks of %d", cols, block)
	}
	identity := true
	for i, p := range t.Parts {
		nd := len(p.Shape)
		if nd == 0 || len(p.Strides) != nd || p.Offset < 0 {
			return nil, nil, fmt.Errorf("part %d does not move whole rows or whole blocks of %d encoded elements", i, cols)
		}
		// leading dimensions move rows; the rest stay within a row and move whole blocks
		nr := 0
		for nr < nd && p.Strides[nr]%cols == 0 && p.Shape[nr] > 0 {
			nr++
		}
		inner := nd - 1
		if nr == nd || p.Strides[inner] != 1 || p.Shape[inner]%block != 0 || (p.Offset%cols)%block != 0 {
			return nil, nil, fmt.Errorf("part %d does not move whole rows or whole blocks of %d encoded elements", i, cols)
		}
		for j := nr; j < inner; j++ {
			if p.Shape[j] <= 0 || p.Strides[j] <= 0 || p.Strides[j]%block != 0 || p.Strides[j]%cols == 0 {
				return nil, nil, fmt.Errorf("part %d does not move whole rows or whole blocks of %d encoded elements", i, cols)
			}
		}
		var got []int64
		colIdx := make([]int64, inner-nr)
		for nc := elements(p.Shape[nr:inner]); nc > 0; nc-- {
			c := p.Offset % cols
			for j := range colIdx {
				c += colIdx[j] * p.Strides[nr+j]
			}
			for b := int64(0); b < p.Shape[inner]/block; b++ {
				blk := c/block + b
				if c+p.Shape[inner] > cols {
					return nil, nil, fmt.Errorf("part %d reaches column %d of %d", i, c+p.Shape[inner], cols)
				}
				got = append(got, blk)
			}
			for j := len(colIdx) - 1; j >= 0; j-- {
				if colIdx[j]++; colIdx[j] < p.Shape[nr+j] {
					break
				}
				colIdx[j] = 0
			}
		}
		if i == 0 {
			blocks = got
		} else if !slices.Equal(got, blocks) {
			return nil, nil, fmt.Errorf("part %d gathers other blocks of its rows than part 0", i)
		}
		n := elements(p.Shape[:nr])
		if n > 1<<26 {
			return nil, nil, fmt.Errorf("part %d has too many rows", i)
		}
		idx := make([]int64, nr)
		for k := int64(0); k < n; k++ {
			off := p.Offset
			for j := range idx {
				off += idx[j] * p.Strides[j]
			}
			r := off / cols
			if r < 0 || r >= nRows {
				return nil, nil, fmt.Errorf("part %d reaches row %d of %d", i, r, nRows)
			}
			rows = append(rows, r)
			for j := nr - 1; j >= 0; j-- {
				if idx[j]++; idx[j] < p.Shape[j] {
					break
				}
				idx[j] = 0
			}
		}
	}
	if want := elements(t.Shape) / t.Shape[0]; int64(len(rows)) != want {
		return nil, nil, fmt.Errorf("parts hold %d rows; the tensor has %d", len(rows), want)
	}
	if int64(len(blocks))*block != t.Shape[0] {
		return nil, nil, fmt.Errorf("parts gather %d blocks of %d per row; the tensor's rows have %d elements", len(blocks), block, t.Shape[0])
	}
	for j, b := range blocks {
		if b != int64(j) || int64(len(blocks)) != cols/block {
			identity = false
			break
		}
	}
	if identity {
		blocks = nil
	}
	return rows, blocks, nil
}
