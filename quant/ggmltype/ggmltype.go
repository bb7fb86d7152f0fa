// Package ggmltype is the table of ggml tensor types: their ids (as ggml's
// enum ggml_type numbers them, and GGUF files store them), names and block
// geometry. It is the one description of the types in Wick: package quant
// adds its kernels to it, the codecs in io/ size tensors with it, and the
// Python package reads it from the library.
//
// It holds no kernels and imports nothing of Wick, so that a file codec can
// depend on the type table alone.
package ggmltype

import (
	"fmt"
	"strings"
)

// Type is a ggml tensor type, numbered exactly as ggml's enum ggml_type
// (and therefore as GGUF files store it).
type Type uint32

// The ggml tensor types. Gaps in the numbering are types ggml has removed.
const (
	F32     Type = 0
	F16     Type = 1
	Q4_0    Type = 2
	Q4_1    Type = 3
	Q5_0    Type = 6
	Q5_1    Type = 7
	Q8_0    Type = 8
	Q8_1    Type = 9
	Q2_K    Type = 10
	Q3_K    Type = 11
	Q4_K    Type = 12
	Q5_K    Type = 13
	Q6_K    Type = 14
	Q8_K    Type = 15
	IQ2_XXS Type = 16
	IQ2_XS  Type = 17
	IQ3_XXS Type = 18
	IQ1_S   Type = 19
	IQ4_NL  Type = 20
	IQ3_S   Type = 21
	IQ2_S   Type = 22
	IQ4_XS  Type = 23
	I8      Type = 24
	I16     Type = 25
	I32     Type = 26
	I64     Type = 27
	F64     Type = 28
	IQ1_M   Type = 29
	BF16    Type = 30
	TQ1_0   Type = 34
	TQ2_0   Type = 35
	MXFP4   Type = 39
	NVFP4   Type = 40
	Q1_0    Type = 41
	Q2_0    Type = 42
)

// Info describes one ggml type: its name and block geometry. A row of n
// elements of a type occupies n/BlockSize*BlockBytes bytes; n must be a
// multiple of BlockSize.
type Info struct {
	Type       Type
	Name       string // ggml's name for the type, e.g. "Q8_0"
	BlockSize  int    // elements per block (1 for plain element types)
	BlockBytes int    // bytes per block
	// Float is true for the plain floating-point element types (F32, F16,
	// BF16, F64), which represent NaN and ±Inf.
	Float bool
}

// RowBytes returns the encoded size of a row of n elements, or an error if
// n is negative or not a multiple of the block size.
func (in Info) RowBytes(n int) (int, error) {
	if n < 0 || n%in.BlockSize != 0 {
		return 0, fmt.Errorf("ggmltype: row length %d is not a multiple of the %s block size %d", n, in.Name, in.BlockSize)
	}
	return n / in.BlockSize * in.BlockBytes, nil
}

// table: every ggml type Wick knows, in ggml's order.
var table = []Info{
	{Type: F32, Name: "F32", BlockSize: 1, BlockBytes: 4, Float: true},
	{Type: F16, Name: "F16", BlockSize: 1, BlockBytes: 2, Float: true},
	{Type: Q4_0, Name: "Q4_0", BlockSize: 32, BlockBytes: 18},
	{Type: Q4_1, Name: "Q4_1", BlockSize: 32, BlockBytes: 20},
	{Type: Q5_0, Name: "Q5_0", BlockSize: 32, BlockBytes: 22},
	{Type: Q5_1, Name: "Q5_1", BlockSize: 32, BlockBytes: 24},
	{Type: Q8_0, Name: "Q8_0", BlockSize: 32, BlockBytes: 34},
	{Type: Q8_1, Name: "Q8_1", BlockSize: 32, BlockBytes: 36},
	{Type: Q2_K, Name: "Q2_K", BlockSize: 256, BlockBytes: 84},
	{Type: Q3_K, Name: "Q3_K", BlockSize: 256, BlockBytes: 110},
	{Type: Q4_K, Name: "Q4_K", BlockSize: 256, BlockBytes: 144},
	{Type: Q5_K, Name: "Q5_K", BlockSize: 256, BlockBytes: 176},
	{Type: Q6_K, Name: "Q6_K", BlockSize: 256, BlockBytes: 210},
	{Type: Q8_K, Name: "Q8_K", BlockSize: 256, BlockBytes: 292},
	{Type: IQ2_XXS, Name: "IQ2_XXS", BlockSize: 256, BlockBytes: 66},
	{Type: IQ2_XS, Name: "IQ2_XS", BlockSize: 256, BlockBytes: 74},
	{Type: IQ3_XXS, Name: "IQ3_XXS", BlockSize: 256, BlockBytes: 98},
	{Type: IQ1_S, Name: "IQ1_S", BlockSize: 256, BlockBytes: 50},
	{Type: IQ4_NL, Name: "IQ4_NL", BlockSize: 32, BlockBytes: 18},
	{Type: IQ3_S, Name: "IQ3_S", BlockSize: 256, BlockBytes: 110},
	{Type: IQ2_S, Name: "IQ2_S", BlockSize: 256, BlockBytes: 82},
	{Type: IQ4_XS, Name: "IQ4_XS", BlockSize: 256, BlockBytes: 136},
	{Type: I8, Name: "I8", BlockSize: 1, BlockBytes: 1},
	{Type: I16, Name: "I16", BlockSize: 1, BlockBytes: 2},
	{Type: I32, Name: "I32", BlockSize: 1, BlockBytes: 4},
	{Type: I64, Name: "I64", BlockSize: 1, BlockBytes: 8},
	{Type: F64, Name: "F64", BlockSize: 1, BlockBytes: 8, Float: true},
	{Type: IQ1_M, Name: "IQ1_M", BlockSize: 256, BlockBytes: 56},
	{Type: BF16, Name: "BF16", BlockSize: 1, BlockBytes: 2, Float: true},
	{Type: TQ1_0, Name: "TQ1_0", BlockSize: 256, BlockBytes: 54},
	{Type: TQ2_0, Name: "TQ2_0", BlockSize: 256, BlockBytes: 66},
	{Type: MXFP4, Name: "MXFP4", BlockSize: 32, BlockBytes: 17},
	{Type: NVFP4, Name: "NVFP4", BlockSize: 64, BlockBytes: 36},
	{Type: Q1_0, Name: "Q1_0", BlockSize: 128, BlockBytes: 18},
	{Type: Q2_0, Name: "Q2_0", BlockSize: 64, BlockBytes: 18},
}

var (
	byType = map[Type]int{}
	byName = map[string]int{}
)

func init() {
	for i, in := range table {
		byType[in.Type] = i
		byName[in.Name] = i
	}
}

// All returns every ggml type Wick knows, in ggml's order.
func All() []Info {
	return append([]Info(nil), table...)
}

// Info returns the description of t, or false if t is not a ggml type Wick
// knows.
func (t Type) Info() (Info, bool) {
	i, ok := byType[t]
	if !ok {
		return Info{}, false
	}
	return table[i], true
}

// String returns ggml's name for t, or "type(N)" for an unknown id.
func (t Type) String() string {
	if in, ok := t.Info(); ok {
		return in.Name
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// Lookup finds a type by its ggml name. Case is ignored ("q8_0" finds Q8_0).
func Lookup(name string) (Info, bool) {
	i, ok := byName[strings.ToUpper(name)]
	if !ok {
		return Info{}, false
	}
	return table[i], true
}
