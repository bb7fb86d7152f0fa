package quant

import "fmt"

// AbortError reports input on which ggml's reference encoder aborts the
// process (a GGML_ASSERT fails inside it), so llama-quantize cannot write
// it either. It only happens with finite values so large that their squares
// overflow float32. Encoders panic with it; Quantize recovers it and returns
// it with Type and Block filled in.
type AbortError struct {
	Type  Type
	Block int // index of the offending block within the input
	What  string
}

func (e *AbortError) Error() string {
	return fmt.Sprintf("quant: x: block %d cannot be encoded as %s: ggml aborts on it: %s", e.Block, e.Type, e.What)
}

// blockOfAbort, deferred by an encoder whose loop variable is *b, adds the
// block index b to an *AbortError panicking through it.
func blockOfAbort(b *int) {
	if r := recover(); r != nil {
		if e, ok := r.(*AbortError); ok {
			e.Block += *b
		}
		panic(r)
	}
}

// encodeOrAbort runs the encoder of tr and returns the *AbortError it
// panics with, if it does; other panics go on.
func encodeOrAbort(tr Traits, dst []byte, src []float32, nPerRow int, imatrix []float32) (err *AbortError) {
	defer func() {
		if r := recover(); r != nil {
			e, ok := r.(*AbortError)
			if !ok {
				panic(r)
			}
			e.Type = tr.Type
			err = e
		}
	}()
	tr.quantize(dst, src, nPerRow, imatrix)
	return nil
}
