//go:build !amd64 || noasm

package quant

func q4_0Blocks(dst []byte, src []float32) { q4_0BlocksGeneric(dst, src) }
func q4_1Blocks(dst []byte, src []float32) { q4_1BlocksGeneric(dst, src) }
func q5_0Blocks(dst []byte, src []float32) { q5_0BlocksGeneric(dst, src) }
func q5_1Blocks(dst []byte, src []float32) { q5_1BlocksGeneric(dst, src) }

// legacyCheckedEncoder: no checked encoders for the legacy types in this
// build (Quantize scans the input first).
func legacyCheckedEncoder(t Type) func(dst []byte, src []float32) bool { return nil }
