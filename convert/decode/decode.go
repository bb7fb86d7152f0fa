package decode

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/wick-ml/wick/io/safetensors"
)

// Tensor is one stored checkpoint tensor: its raw little-endian bytes (a
// view of the mapped file), its safetensors dtype and row-major shape. File
// is used in error messages only.
type Tensor struct {
	Name  string
	File  string
	DType string
	Shape []int64
	Data  []byte
}

// Spec is the "decode" entry of a plan source (JSON): the method, the
// LOGICAL row-major shape of the decoded tensor, the auxiliary stored
// tensors by role and the method's parameters.
type Spec struct {
	Method string         `json:"method"`
	Shape  []int64        `json:"shape"`
	Aux    map[string]Ref `json:"aux"`
	Params map[string]any `json:"params"`
	// Output is "" for float values, or a ggml type name ("MXFP4",
	// "NVFP4") for a lossless pass-through of the encoded blocks.
	Output string `json:"output,omitempty"`
}

// Ref names an auxiliary stored tensor, in the form of a plan source.
type Ref struct {
	File   string  `json:"file"`
	Tensor string  `json:"tensor"`
	DType  string  `json:"dtype"`
	Shape  []int64 `json:"shape"`
}

// Rows yields the decoded tensor as float32, rows of its 2-D flattening
// [prod(Shape[:-1]), Shape[-1]] in row-major order.
type Rows interface {
	// ReadRows writes rows [r0, r1) to dst; len(dst) must be
	// (r1-r0)*Shape[-1].
	ReadRows(dst []float32, r0, r1 int64) error
}

// RawRows yields already-encoded ggml rows (Spec.Output) for a
// pass-through.
type RawRows interface {
	// ReadRawRows writes the encoded rows [r0, r1) to dst; len(dst) must be
	// (r1-r0) times the encoded size of a row.
	ReadRawRows(dst []byte, r0, r1 int64) error
}

// MainRows is implemented by decoders that read logical rows [r0, r1) from
// one byte range of the main tensor (and from small auxiliary tensors,
// widened once): MainRange returns that range, so that a reader can drop
// the pages of the rows it is done with.
type MainRows interface {
	MainRange(r0, r1 int64) (off, n int64)
}

// SpecError reports a decode entry that does not fit the stored tensors:
// a bad method or parameter, a wrong dtype or shape, inconsistent scales or
// out-of-range indices. Tensor and File name the stored tensor at fault.
type SpecError struct {
	Method string
	Tensor string
	File   string
	Msg    string
}

func (e *SpecError) Error() string {
	where := fmt.Sprintf("%q", e.Tensor)
	if e.File != "" {
		where += " in " + e.File
	}
	if e.Method == "" {
		return fmt.Sprintf("decode: tensor %s: %s", where, e.Msg)
	}
	return fmt.Sprintf("decode: %s: tensor %s: %s", e.Method, where, e.Msg)
}

// ArgError reports a bad argument to ReadRows or ReadRawRows (a programming
// error of the caller, not bad data).
type ArgError struct{ Msg string }

func (e *ArgError) Error() string { return "decode: " + e.Msg }

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

type ctor func(s *setup) (any, error)

// The methods of this package; each runs behind the common checks of
// validated (byte sizes, auxiliary roles, the decoded shape).
func init() {
	for name, mk := range map[string]ctor{
		"scaled":     newScaled,
		"gptq":       newGPTQ,
		"int_packed": newIntPacked,
		"nvfp4":      newNVFP4,
		"mxfp4":      newMXFP4,
		"bnb_4bit":   newBnb4,
		"bnb_int8":   newBnbInt8,
	} {
		Register(name, func(spec Spec, main Tensor, aux map[string]Tensor) (any, error) {
			return validated(mk, spec, main, aux)
		})
	}
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

// New validates spec against the stored tensors and returns a Rows (float
// output) or a RawRows (Spec.Output set). aux holds the auxiliary tensors
// by the roles of spec.Aux.
func New(spec Spec, main Tensor, aux map[string]Tensor) (any, error) {
	mu.RLock()
	f, ok := registry[spec.Method]
	mu.RUnlock()
	if !ok {
		return nil, &SpecError{Tensor: main.Name, File: main.File,
			Msg: fmt.Sprintf("unknown decode method %q; known: %s", spec.Method, strings.Join(Methods(), ", "))}
	}
	if len(spec.Shape) == 0 {
		return nil, &SpecError{Method: spec.Method, Tensor: main.Name, File: main.File, Msg: "the decoded shape is empty"}
	}
	for _, d := range spec.Shape {
		if d <= 0 {
			return nil, &SpecError{Method: spec.Method, Tensor: main.Name, File: main.File,
				Msg: fmt.Sprintf("the decoded shape %v has a dimension ≤ 0", spec.Shape)}
		}
	}
	return f(spec, main, aux)
}

// validated runs the checks every method of this package shares, then the
// method's own constructor.
func validated(mk ctor, spec Spec, main Tensor, aux map[string]Tensor) (any, error) {
	s := &setup{spec: spec, main: main, aux: aux}
	if err := s.checkTensor(main); err != nil {
		return nil, err
	}
	for role, t := range aux {
		if _, ok := spec.Aux[role]; !ok {
			return nil, s.errf("auxiliary tensor %q was given for role %q, which the spec does not name", t.Name, role)
		}
		if err := s.checkTensor(t); err != nil {
			return nil, err
		}
	}
	for role, ref := range spec.Aux {
		t, ok := aux[role]
		if !ok {
			return nil, s.errf("the spec names %q (%s) but it was not given", ref.Tensor, role)
		}
		if ref.DType != "" && ref.DType != t.DType || ref.Shape != nil && !slices.Equal(ref.Shape, t.Shape) {
			return nil, s.errAt(t, "is %s %v; the spec expects %s %v", t.DType, t.Shape, ref.DType, ref.Shape)
		}
	}
	if len(spec.Shape) == 0 {
		return nil, s.errf("the decoded shape is empty")
	}
	for _, d := range spec.Shape {
		if d <= 0 || d > 1<<40 {
			return nil, s.errf("the decoded shape %v has a dimension ≤ 0 or too large", spec.Shape)
		}
	}
	if _, err := checkedElements(spec.Shape); err != nil {
		return nil, s.errf("the decoded shape %v is too large", spec.Shape)
	}
	switch spec.Output {
	case "", "MXFP4", "NVFP4":
	default:
		return nil, s.errf("output %q is not a pass-through type (MXFP4, NVFP4) nor float (\"\")", spec.Output)
	}
	return mk(s)
}

// setup is what a method constructor works from.
type setup struct {
	spec Spec
	main Tensor
	aux  map[string]Tensor
	used map[string]bool
}

func (s *setup) errf(format string, a ...any) error {
	return &SpecError{Method: s.spec.Method, Tensor: s.main.Name, File: s.main.File, Msg: fmt.Sprintf(format, a...)}
}

func (s *setup) errAt(t Tensor, format string, a ...any) error {
	return &SpecError{Method: s.spec.Method, Tensor: t.Name, File: t.File, Msg: fmt.Sprintf(format, a...)}
}

// checkTensor checks that the bytes hold exactly the declared shape.
func (s *setup) checkTensor(t Tensor) error {
	d, ok := safetensors.ParseDType(t.DType)
	if !ok {
		return s.errAt(t, "unknown dtype %q", t.DType)
	}
	n, err := checkedElements(t.Shape)
	if err != nil {
		return s.errAt(t, "shape %v: %v", t.Shape, err)
	}
	size, err := d.ByteSize(uint64(n))
	if err != nil || size != int64(len(t.Data)) {
		return s.errAt(t, "holds %d bytes; %s %v takes %d", len(t.Data), t.DType, t.Shape, size)
	}
	return nil
}

// need returns the auxiliary tensor of a role (an error if absent), marking
// it used.
func (s *setup) need(role string) (Tensor, error) {
	t, ok := s.aux[role]
	if !ok {
		return Tensor{}, s.errf("needs an auxiliary %q tensor", role)
	}
	if s.used == nil {
		s.used = map[string]bool{}
	}
	s.used[role] = true
	return t, nil
}

// optional returns the auxiliary tensor of a role if given.
func (s *setup) optional(role string) (Tensor, bool) {
	t, ok := s.aux[role]
	if ok {
		if s.used == nil {
			s.used = map[string]bool{}
		}
		s.used[role] = true
	}
	return t, ok
}

// finish rejects auxiliary tensors the method did not use.
func (s *setup) finish() error {
	for role, t := range s.aux {
		if !s.used[role] {
			return s.errAt(t, "role %q means nothing to method %s", role, s.spec.Method)
		}
	}
	return nil
}

func (s *setup) wantDType(t Tensor, allowed ...string) error {
	for _, a := range allowed {
		if t.DType == a {
			return nil
		}
	}
	return s.errAt(t, "has dtype %s; expected %s", t.DType, strings.Join(allowed, " or "))
}

func (s *setup) wantFloatOutput() error {
	if s.spec.Output != "" {
		return s.errf("has no %s pass-through; only float output", s.spec.Output)
	}
	return nil
}

// intParam reads an integer parameter (JSON numbers arrive as float64).
func (s *setup) intParam(name string, def int64, required bool) (int64, error) {
	v, ok := s.spec.Params[name]
	if !ok || v == nil {
		if required {
			return 0, s.errf("needs the integer parameter %q", name)
		}
		return def, nil
	}
	switch x := v.(type) {
	case float64:
		if x != math.Trunc(x) || math.Abs(x) > 1<<52 {
			return 0, s.errf("parameter %q is %v; expected an integer", name, v)
		}
		return int64(x), nil
	case int:
		return int64(x), nil
	case int64:
		return x, nil
	}
	return 0, s.errf("parameter %q is %v; expected an integer", name, v)
}

func (s *setup) floatParam(name string, def float64) (float64, error) {
	v, ok := s.spec.Params[name]
	if !ok || v == nil {
		return def, nil
	}
	switch x := v.(type) {
	case float64:
		return x, nil
	case int:
		return float64(x), nil
	case int64:
		return float64(x), nil
	}
	return 0, s.errf("parameter %q is %v; expected a number", name, v)
}

func (s *setup) stringParam(name, def string, allowed ...string) (string, error) {
	v, ok := s.spec.Params[name]
	if !ok || v == nil {
		return def, nil
	}
	str, isStr := v.(string)
	if isStr {
		for _, a := range allowed {
			if str == a {
				return str, nil
			}
		}
	}
	return "", s.errf("parameter %q is %v; expected one of %s", name, v, strings.Join(allowed, ", "))
}

func (s *setup) intsParam(name string) ([]int64, error) {
	v, ok := s.spec.Params[name]
	if !ok || v == nil {
		return nil, nil
	}
	list, isList := v.([]any)
	if !isList {
		if l, ok := v.([]int64); ok {
			return l, nil
		}
		return nil, s.errf("parameter %q is %v; expected a list of integers", name, v)
	}
	out := make([]int64, len(list))
	for i, x := range list {
		f, ok := x.(float64)
		if !ok || f != math.Trunc(f) || f <= 0 || f > 1<<40 {
			return nil, s.errf("parameter %q is %v; expected a list of positive integers", name, v)
		}
		out[i] = int64(f)
	}
	return out, nil
}

// widen converts a float (or integer) tensor to float32 exactly as torch's
// .float() does (F64 rounds to nearest even).
func (s *setup) widen(t Tensor) ([]float32, error) {
	d, _ := safetensors.ParseDType(t.DType)
	if !d.CanDecode() || d.Bits()%8 != 0 {
		return nil, s.errAt(t, "has dtype %s, which has no float conversion", t.DType)
	}
	out := make([]float32, len(t.Data)*8/d.Bits())
	if _, err := safetensors.DecodeFloat32(out, t.Data, d); err != nil {
		return nil, s.errAt(t, "%v", err)
	}
	return out, nil
}

// ints reads an integer tensor (I32, I64, I16, I8, U8) as int64 values.
func (s *setup) ints(t Tensor) ([]int64, error) {
	b := t.Data
	switch t.DType {
	case "I32":
		out := make([]int64, len(b)/4)
		for i := range out {
			out[i] = int64(int32(binary.LittleEndian.Uint32(b[4*i:])))
		}
		return out, nil
	case "I64":
		out := make([]int64, len(b)/8)
		for i := range out {
			out[i] = int64(binary.LittleEndian.Uint64(b[8*i:]))
		}
		return out, nil
	case "I16":
		out := make([]int64, len(b)/2)
		for i := range out {
			out[i] = int64(int16(binary.LittleEndian.Uint16(b[2*i:])))
		}
		return out, nil
	case "I8":
		out := make([]int64, len(b))
		for i := range out {
			out[i] = int64(int8(b[i]))
		}
		return out, nil
	case "U8":
		out := make([]int64, len(b))
		for i := range out {
			out[i] = int64(b[i])
		}
		return out, nil
	}
	return nil, s.errAt(t, "has dtype %s; expected an integer dtype", t.DType)
}

func checkedElements(shape []int64) (int64, error) {
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension")
		}
		if d != 0 && n > (1<<62)/d {
			return 0, fmt.Errorf("too many elements")
		}
		n *= d
	}
	return n, nil
}

// geometry is the 2-D flattening of a logical shape.
type geometry struct {
	rows, cols int64
}

func geometryOf(shape []int64) geometry {
	g := geometry{rows: 1, cols: shape[len(shape)-1]}
	for _, d := range shape[:len(shape)-1] {
		g.rows *= d
	}
	return g
}

// checkRange validates a ReadRows/ReadRawRows call.
func (g geometry) checkRange(n int, r0, r1 int64, per int64) error {
	if r0 < 0 || r1 < r0 || r1 > g.rows {
		return &ArgError{Msg: fmt.Sprintf("rows [%d, %d) are outside [0, %d)", r0, r1, g.rows)}
	}
	if int64(n) != (r1-r0)*per {
		return &ArgError{Msg: fmt.Sprintf("dst holds %d values; rows [%d, %d) need %d", n, r0, r1, (r1-r0)*per)}
	}
	return nil
}

func le32(b []byte, i int64) uint32 { return binary.LittleEndian.Uint32(b[4*i:]) }
