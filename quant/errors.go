package quant

import (
	"fmt"

	"github.com/wick-ml/wick/internal/parallel"
)

// ErrCancelled is returned when Options.Cancelled reported true before the
// work was done. The output buffer is then only partly written.
var ErrCancelled = parallel.ErrCancelled

// ArgumentError reports an argument that breaks the contract of a public
// entry point. Arg names the argument as the C and Python APIs name it.
type ArgumentError struct {
	Arg string // "x", "type", "out", "imatrix", ...
	Msg string // what is wrong and what was expected
}

func (e *ArgumentError) Error() string { return "quant: " + e.Arg + ": " + e.Msg }

func argErr(arg, format string, a ...any) error {
	return &ArgumentError{Arg: arg, Msg: fmt.Sprintf(format, a...)}
}

// NonFiniteError reports a NaN or ±Inf input value where the target type
// cannot represent it (every block type), or where the caller asked for
// finite input.
type NonFiniteError struct {
	Type   Type
	Index  int // flat index of the first non-finite element
	Row    int // Index / NPerRow
	Column int // Index % NPerRow
	Value  float32
}

func (e *NonFiniteError) Error() string {
	return fmt.Sprintf("quant: x: element %d (row %d, column %d) is %v; %s needs finite input",
		e.Index, e.Row, e.Column, e.Value, e.Type)
}

// UnsupportedError reports a known ggml type that Wick cannot encode or
// decode (yet).
type UnsupportedError struct {
	Type Type
	Op   string // "quantize" or "dequantize"
}

func (e *UnsupportedError) Error() string {
	var can []string
	for _, tr := range table {
		if (e.Op == "quantize" && tr.CanQuantize()) || (e.Op == "dequantize" && tr.CanDequantize()) {
			can = append(can, tr.Name)
		}
	}
	return fmt.Sprintf("quant: type: Wick cannot %s %s; it can %s %v", e.Op, e.Type, e.Op, can)
}

// PanicError is a panic recovered in a worker goroutine: a bug in Wick,
// turned into an error so that it cannot take the host process down.
type PanicError = parallel.PanicError
