package convert

import (
	"fmt"
	"slices"
	"strings"

	"github.com/wick-ml/wick/io/safetensors"
	"github.com/wick-ml/wick/quant"
)

// A plan whose Format is "safetensors" describes a Hugging Face model
// directory instead of a GGUF file (python/wick/convert/bnb.py makes them:
// bitsandbytes 4-bit and LLM.int8 checkpoints that transformers loads).
// Its Files are the directory's files, written in list order; its Tensors
// are the tensors of the safetensors files, each file listing its own in
// file order. A tensor's Shape is then row-major (as stored) and its Type
// says how its bytes are made:
//
//	copy                  the bytes of its one source, unchanged (DType and
//	                      Shape those of the source)
//	bnb.nf4, bnb.fp4      bitsandbytes 4-bit codes of its one source (the
//	                      flattened values), packed two per byte and stored
//	                      as DType (the quant storage): Shape [(n+1)/2/size, 1]
//	bnb.int8              LLM.int8 codes (I8) of its one 2-D source, row-wise
//	bnb.absmax …          a part of a quantized weight's state, the weight
//	                      named by Of (see stAuxTypes)
//
// Python decides what is written (names, dtypes, shapes, the order, the
// quant-state JSON around its one data-dependent number); the executor
// computes the values, streaming.

// Output formats.
const (
	FormatGGUF        = "gguf"
	FormatSafetensors = "safetensors"
)

// OutFile is one file of a safetensors plan's output directory.
type OutFile struct {
	Name string `json:"name"` // a plain file name
	// Kind is "safetensors" (Tensors, Metadata), "text" (Text), "copy"
	// (Source, a file of the model directory) or "index" (the
	// model.safetensors.index.json of the safetensors files, made by the
	// executor from their tensors and sizes, with Index's entries).
	Kind     string            `json:"kind"`
	Metadata map[string]string `json:"metadata"`
	Tensors  []string          `json:"tensors"`
	Text     *string           `json:"text"`
	Source   string            `json:"source"`
	Index    *IndexSpec        `json:"index"`
}

// IndexSpec holds the entries of an index file that Python knows.
type IndexSpec struct {
	TotalParameters int64 `json:"total_parameters"`
}

// BnbSpec are the parameters of a bitsandbytes weight.
type BnbSpec struct {
	Blocksize   int    `json:"blocksize"`    // 4-bit: elements per absmax block
	DoubleQuant bool   `json:"double_quant"` // 4-bit: absmax double-quantized
	Rules       string `json:"rules"`        // "cuda" or "cpu" (quant/bnbcpu.go)
	// TorchThreads: 4-bit with double quantization under the CPU rules: the
	// torch thread count whose float32 mean gives the nested offset
	// (quant.TorchMeanF32; it matters from 32768 blocks on). 0 means 1.
	TorchThreads int `json:"torch_threads"`
}

// QuantStateSpec is the JSON of a 4-bit weight's packed quant state. When
// OffsetAt ≥ 0 the executor inserts the nested offset there, formatted as
// Python's repr of the float (what bitsandbytes' json.dumps writes).
type QuantStateSpec struct {
	JSON     string `json:"json"`
	OffsetAt int    `json:"offset_at"`
}

// stAuxTypes are the parts of a quantized weight's state and the weight
// types they belong to.
var stAuxTypes = map[string]string{
	"bnb.absmax":           "4", // F32 [blocks], or U8 codes with double quantization
	"bnb.quant_map":        "4", // F32 [16]: the NF4/FP4 table
	"bnb.nested_absmax":    "4", // F32 [ceil(blocks/256)]
	"bnb.nested_quant_map": "4", // F32 [256]: the signed dynamic map
	"bnb.quant_state":      "4", // U8 [len(JSON)]
	"bnb.scb":              "8", // F32 [rows]: LLM.int8's row scales
	"bnb.weight_format":    "8", // U8 scalar 0: row-major
}

func isBnbWeight(typ string) bool { return typ == "bnb.nf4" || typ == "bnb.fp4" || typ == "bnb.int8" }

func (t *Tensor) fourBit() quant.FourBitType {
	if t.Type == "bnb.fp4" {
		return quant.FP4
	}
	return quant.NF4
}

// stDType parses a tensor's safetensors dtype.
func (t *Tensor) stDType() (safetensors.DType, error) {
	d, ok := safetensors.ParseDType(t.DType)
	if !ok {
		return 0, planErr(t.Name, "unknown safetensors dtype %q", t.DType)
	}
	return d, nil
}

func plainName(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "/\\\x00")
}

// checkSafetensors validates a safetensors plan without opening any file.
func (p *Plan) checkSafetensors() error {
	byName := map[string]*Tensor{}
	for i := range p.Tensors {
		t := &p.Tensors[i]
		if byName[t.Name] != nil {
			return planErr(t.Name, "listed twice")
		}
		byName[t.Name] = t
	}
	for i := range p.Tensors {
		if err := p.Tensors[i].checkSt(byName); err != nil {
			return err
		}
	}
	placed := map[string]string{}
	names := map[string]bool{}
	indexes := 0
	for _, f := range p.Files {
		if !plainName(f.Name) {
			return planErr("", "output file name %q is not a plain file name", f.Name)
		}
		if names[f.Name] {
			return planErr("", "output file %q listed twice", f.Name)
		}
		names[f.Name] = true
		switch f.Kind {
		case "safetensors":
			for _, n := range f.Tensors {
				if byName[n] == nil {
					return planErr("", "file %s lists tensor %q, which the plan does not have", f.Name, n)
				}
				if other, ok := placed[n]; ok {
					return planErr(n, "is in both %s and %s", other, f.Name)
				}
				placed[n] = f.Name
			}
		case "text":
			if f.Text == nil {
				return planErr("", "text file %s has no text", f.Name)
			}
		case "copy":
			if !plainName(f.Source) {
				return planErr("", "file %s copies %q, which is not a plain file name", f.Name, f.Source)
			}
		case "index":
			if f.Index == nil {
				return planErr("", "index file %s has no index entries", f.Name)
			}
			indexes++
		default:
			return planErr("", "file %s has unknown kind %q", f.Name, f.Kind)
		}
	}
	if indexes > 1 {
		return planErr("", "%d index files; expected at most one", indexes)
	}
	for _, t := range p.Tensors {
		if _, ok := placed[t.Name]; !ok {
			return planErr(t.Name, "is in no output file")
		}
	}
	// A weight's absmax is known once the weight is encoded: in its file
	// (written by position, in any order) or a later one.
	fileOf := map[string]int{}
	for i, f := range p.Files {
		for _, n := range f.Tensors {
			fileOf[n] = i
		}
	}
	for _, t := range p.Tensors {
		if t.Type == "bnb.absmax" && fileOf[t.Name] < fileOf[t.Of] {
			return planErr(t.Name, "is in a file before its weight %q's; the executor needs it in the same file or a later one", t.Of)
		}
	}
	return nil
}

// checkSt validates one tensor of a safetensors plan.
func (t *Tensor) checkSt(byName map[string]*Tensor) error {
	d, err := t.stDType()
	if err != nil {
		return err
	}
	for _, n := range t.Shape {
		if n < 0 {
			return planErr(t.Name, "shape %v has a negative dimension", t.Shape)
		}
	}
	if len(t.Parts) != 0 || len(t.Ops) != 0 || t.Data != nil || t.Imatrix != nil {
		return planErr(t.Name, "parts, ops, inline data and imatrix are not used in a safetensors plan")
	}
	if t.Type == "bnb.quant_state" && t.QuantState != nil && t.QuantState.OffsetAt >= 0 {
		if t.Shape != nil {
			return planErr(t.Name, "shape must be null: the length of a nested quant state's JSON is known only to the executor")
		}
	} else if size, err := stBytes(d, t.Shape); err != nil {
		return planErr(t.Name, "%v", err)
	} else if t.NBytes != size {
		return planErr(t.Name, "nbytes is %d; %s of shape %v takes %d", t.NBytes, t.DType, t.Shape, size)
	}
	if _, aux := stAuxTypes[t.Type]; aux {
		if len(t.Sources) != 0 {
			return planErr(t.Name, "%s has no sources: its values come from weight %q", t.Type, t.Of)
		}
		return t.checkAux(d, byName)
	}
	if t.Type != "copy" && !isBnbWeight(t.Type) {
		return planErr(t.Name, "unknown tensor type %q for a safetensors plan", t.Type)
	}
	if len(t.Sources) != 1 {
		return planErr(t.Name, "%s needs exactly one source, has %d", t.Type, len(t.Sources))
	}
	s := &t.Sources[0]
	if s.Format != "" && s.Format != "safetensors" {
		return planErr(t.Name, "source %q has format %q; a safetensors plan reads safetensors", s.Tensor, s.Format)
	}
	if err := checkShape(s.logicalShape()); err != nil {
		return planErr(t.Name, "source %q: %v", s.Tensor, err)
	}
	n := elements(s.logicalShape())
	switch t.Type {
	case "copy":
		if s.Decode != nil || s.DType != t.DType || !slices.Equal(s.Shape, t.Shape) {
			return planErr(t.Name, "a copy is the stored source %q as it is: dtype %s shape %v, not %s %v", s.Tensor, s.DType, s.Shape, t.DType, t.Shape)
		}
	case "bnb.int8":
		if t.Bnb == nil || (t.Bnb.Rules != "cuda" && t.Bnb.Rules != "cpu") {
			return planErr(t.Name, "needs bnb parameters with rules \"cuda\" or \"cpu\"")
		}
		if d != safetensors.I8 || !slices.Equal(s.logicalShape(), t.Shape) || len(t.Shape) < 2 {
			return planErr(t.Name, "LLM.int8 codes are I8 of the source's shape %v (at least 2-D), not %s %v", s.logicalShape(), t.DType, t.Shape)
		}
	default: // 4-bit
		b := t.Bnb
		if b == nil || (b.Rules != "cuda" && b.Rules != "cpu") {
			return planErr(t.Name, "needs bnb parameters with rules \"cuda\" or \"cpu\"")
		}
		if !validBlocksize(b.Blocksize) {
			return planErr(t.Name, "blocksize %d is not one of %v", b.Blocksize, quant.BlockSizes())
		}
		packed := (n + 1) / 2
		size := int64(d.Bits() / 8)
		if d.Bits()%8 != 0 || packed%size != 0 || !slices.Equal(t.Shape, []int64{packed / size, 1}) {
			return planErr(t.Name, "%d packed bytes stored as %s need shape [%d, 1]; got %v", packed, t.DType, packed/max(size, 1), t.Shape)
		}
	}
	return nil
}

func validBlocksize(b int) bool {
	for _, v := range quant.BlockSizes() {
		if b == v {
			return true
		}
	}
	return false
}

// stBytes is the byte size of a tensor of dtype d and shape.
func stBytes(d safetensors.DType, shape []int64) (int64, error) {
	n := uint64(1)
	for _, s := range shape {
		if s != 0 && n > (1<<62)/uint64(s) {
			return 0, fmt.Errorf("shape %v is too large", shape)
		}
		n *= uint64(s)
	}
	return d.ByteSize(n)
}

// checkAux validates a part of a quantized weight's state against the
// weight.
func (t *Tensor) checkAux(d safetensors.DType, byName map[string]*Tensor) error {
	w := byName[t.Of]
	if w == nil || !isBnbWeight(w.Type) {
		return planErr(t.Name, "%s belongs to %q, which is not a bitsandbytes weight of the plan", t.Type, t.Of)
	}
	kind := stAuxTypes[t.Type]
	if (kind == "8") != (w.Type == "bnb.int8") {
		return planErr(t.Name, "%s is not a part of a %s weight", t.Type, w.Type)
	}
	if len(w.Sources) != 1 || w.Bnb == nil || (kind == "4" && !validBlocksize(w.Bnb.Blocksize)) {
		return nil // the weight's own check reports it
	}
	shape := w.Sources[0].logicalShape()
	n := elements(shape)
	var wantD safetensors.DType
	var wantShape []int64
	blocks := int64(0)
	if kind == "4" {
		blocks = (n + int64(w.Bnb.Blocksize) - 1) / int64(w.Bnb.Blocksize)
	}
	nested := w.Bnb.DoubleQuant
	switch t.Type {
	case "bnb.absmax":
		wantD, wantShape = safetensors.F32, []int64{blocks}
		if nested {
			wantD = safetensors.U8
		}
	case "bnb.quant_map":
		wantD, wantShape = safetensors.F32, []int64{16}
	case "bnb.nested_absmax", "bnb.nested_quant_map":
		if !nested {
			return planErr(t.Name, "%s belongs to a weight without double quantization", t.Type)
		}
		wantD, wantShape = safetensors.F32, []int64{256}
		if t.Type == "bnb.nested_absmax" {
			wantShape = []int64{(blocks + quant.NestedBlocksize4Bit - 1) / quant.NestedBlocksize4Bit}
		}
	case "bnb.quant_state":
		q := t.QuantState
		if d != safetensors.U8 || q == nil {
			return planErr(t.Name, "a quant state is U8 JSON text given by quant_state")
		}
		if nested != (q.OffsetAt >= 0) || q.OffsetAt > len(q.JSON) {
			return planErr(t.Name, "offset_at %d: a nested state's JSON takes the offset at a position within it, a plain one takes none (-1)", q.OffsetAt)
		}
		if q.OffsetAt < 0 && !slices.Equal(t.Shape, []int64{int64(len(q.JSON))}) {
			return planErr(t.Name, "shape %v is not [%d], the JSON's length", t.Shape, len(q.JSON))
		}
		return nil
	case "bnb.scb":
		wantD, wantShape = safetensors.F32, []int64{n / shape[len(shape)-1]}
	case "bnb.weight_format":
		wantD, wantShape = safetensors.U8, []int64{}
	}
	if d != wantD || !slices.Equal(t.Shape, wantShape) {
		return planErr(t.Name, "%s of %q is %v %v, not %s %v", t.Type, t.Of, wantD, wantShape, t.DType, t.Shape)
	}
	return nil
}
