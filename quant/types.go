package quant

import "github.com/wick-ml/wick/quant/ggmltype"

// Type is a ggml tensor type, numbered exactly as ggml's enum ggml_type
// (and therefore as GGUF files store it). It is ggmltype.Type, the type
// table's, which the file codecs in io/ use without the kernels.
type Type = ggmltype.Type

// The ggml tensor types. Gaps in the numbering are types ggml has removed.
const (
	F32     = ggmltype.F32
	F16     = ggmltype.F16
	Q4_0    = ggmltype.Q4_0
	Q4_1    = ggmltype.Q4_1
	Q5_0    = ggmltype.Q5_0
	Q5_1    = ggmltype.Q5_1
	Q8_0    = ggmltype.Q8_0
	Q8_1    = ggmltype.Q8_1
	Q2_K    = ggmltype.Q2_K
	Q3_K    = ggmltype.Q3_K
	Q4_K    = ggmltype.Q4_K
	Q5_K    = ggmltype.Q5_K
	Q6_K    = ggmltype.Q6_K
	Q8_K    = ggmltype.Q8_K
	IQ2_XXS = ggmltype.IQ2_XXS
	IQ2_XS  = ggmltype.IQ2_XS
	IQ3_XXS = ggmltype.IQ3_XXS
	IQ1_S   = ggmltype.IQ1_S
	IQ4_NL  = ggmltype.IQ4_NL
	IQ3_S   = ggmltype.IQ3_S
	IQ2_S   = ggmltype.IQ2_S
	IQ4_XS  = ggmltype.IQ4_XS
	I8      = ggmltype.I8
	I16     = ggmltype.I16
	I32     = ggmltype.I32
	I64     = ggmltype.I64
	F64     = ggmltype.F64
	IQ1_M   = ggmltype.IQ1_M
	BF16    = ggmltype.BF16
	TQ1_0   = ggmltype.TQ1_0
	TQ2_0   = ggmltype.TQ2_0
	MXFP4   = ggmltype.MXFP4
	NVFP4   = ggmltype.NVFP4
	Q1_0    = ggmltype.Q1_0
	Q2_0    = ggmltype.Q2_0
)

// Traits describes one ggml type: its name, block geometry (the type
// table's ggmltype.Info) and what Wick can do with it.
type Traits struct {
	ggmltype.Info

	quantize   quantizeFunc
	dequantize dequantizeFunc
}

// quantizeFunc encodes whole rows: len(src) is a multiple of nPerRow, nPerRow
// is a multiple of the block size and dst holds exactly the encoded rows.
// imatrix is nil or has nPerRow entries. Kernels may panic on violated
// contracts; the public entry points validate first.
type quantizeFunc func(dst []byte, src []float32, nPerRow int, imatrix []float32)

// dequantizeFunc decodes whole blocks: len(src) is a multiple of the block
// size in bytes and dst has BlockSize values per block.
type dequantizeFunc func(dst []float32, src []byte)

// CanQuantize reports whether Wick can encode float values into this type.
func (tr Traits) CanQuantize() bool { return tr.quantize != nil }

// CanDequantize reports whether Wick can decode this type to float32.
func (tr Traits) CanDequantize() bool { return tr.dequantize != nil }

// kernels are the encoders and decoders of the types Wick implements.
var kernels = map[Type]struct {
	quantize   quantizeFunc
	dequantize dequantizeFunc
}{
	F32:     {quantizeF32, dequantizeF32},
	F16:     {quantizeF16, dequantizeF16},
	Q4_0:    {quantizeQ4_0, dequantizeQ4_0},
	Q4_1:    {quantizeQ4_1, dequantizeQ4_1},
	Q5_0:    {quantizeQ5_0, dequantizeQ5_0},
	Q5_1:    {quantizeQ5_1, dequantizeQ5_1},
	Q8_0:    {quantizeQ8_0, dequantizeQ8_0},
	Q2_K:    {quantizeQ2_K, dequantizeQ2_K},
	Q3_K:    {quantizeQ3_K, dequantizeQ3_K},
	Q4_K:    {quantizeQ4_K, dequantizeQ4_K},
	Q5_K:    {quantizeQ5_K, dequantizeQ5_K},
	Q6_K:    {quantizeQ6_K, dequantizeQ6_K},
	Q8_K:    {nil, dequantizeQ8_K},
	IQ4_NL:  {quantizeIQ4_NL, dequantizeIQ4_NL},
	IQ4_XS:  {quantizeIQ4_XS, dequantizeIQ4_XS},
	IQ3_XXS: {quantizeIQ3_XXS, dequantizeIQ3_XXS},
	IQ3_S:   {quantizeIQ3_S, dequantizeIQ3_S},
	IQ2_XXS: {quantizeIQ2_XXS, dequantizeIQ2_XXS},
	IQ2_XS:  {quantizeIQ2_XS, dequantizeIQ2_XS},
	IQ2_S:   {quantizeIQ2_S, dequantizeIQ2_S},
	IQ1_S:   {quantizeIQ1_S, dequantizeIQ1_S},
	IQ1_M:   {quantizeIQ1_M, dequantizeIQ1_M},
	BF16:    {quantizeBF16, dequantizeBF16},
	TQ1_0:   {quantizeTQ1_0, dequantizeTQ1_0},
	TQ2_0:   {quantizeTQ2_0, dequantizeTQ2_0},
	MXFP4:   {quantizeMXFP4, dequantizeMXFP4},
	NVFP4:   {quantizeNVFP4, dequantizeNVFP4},
	Q1_0:    {quantizeQ1_0, dequantizeQ1_0},
	Q2_0:    {quantizeQ2_0, dequantizeQ2_0},
}

// table is the type table with the kernels, in ggml's order.
var (
	table  []Traits
	byType = map[Type]int{}
)

func init() {
	for i, in := range ggmltype.All() {
		k := kernels[in.Type]
		table = append(table, Traits{Info: in, quantize: k.quantize, dequantize: k.dequantize})
		byType[in.Type] = i
	}
}

// Types returns the traits of every ggml type Wick knows, in ggml's order.
func Types() []Traits {
	return append([]Traits(nil), table...)
}

// TraitsOf returns the description of t, or false if t is not a ggml type
// Wick knows.
func TraitsOf(t Type) (Traits, bool) {
	i, ok := byType[t]
	if !ok {
		return Traits{}, false
	}
	return table[i], true
}

// Lookup finds a type by its ggml name. Case is ignored ("q8_0" finds Q8_0).
func Lookup(name string) (Traits, bool) {
	in, ok := ggmltype.Lookup(name)
	if !ok {
		return Traits{}, false
	}
	return TraitsOf(in.Type)
}
