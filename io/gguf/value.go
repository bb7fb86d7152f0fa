package gguf

import (
	"fmt"
	"strings"
)

// ValueType is the type id of a metadata value, as stored in the file.
type ValueType uint32

// The metadata value types of GGUF v3.
const (
	TypeUint8   ValueType = 0
	TypeInt8    ValueType = 1
	TypeUint16  ValueType = 2
	TypeInt16   ValueType = 3
	TypeUint32  ValueType = 4
	TypeInt32   ValueType = 5
	TypeFloat32 ValueType = 6
	TypeBool    ValueType = 7
	TypeString  ValueType = 8
	TypeArray   ValueType = 9
	TypeUint64  ValueType = 10
	TypeInt64   ValueType = 11
	TypeFloat64 ValueType = 12
)

var valueTypeNames = [...]string{"UINT8", "INT8", "UINT16", "INT16", "UINT32", "INT32", "FLOAT32", "BOOL", "STRING", "ARRAY", "UINT64", "INT64", "FLOAT64"}

// fixedSize is the encoded size of the scalar types (0 for STRING, ARRAY).
var fixedSize = [...]int{1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8}

// Valid reports whether t is one of the 13 value types.
func (t ValueType) Valid() bool { return t < ValueType(len(valueTypeNames)) }

// String returns the type's name as gguf-py spells it ("UINT32"), or
// "ValueType(N)".
func (t ValueType) String() string {
	if !t.Valid() {
		return fmt.Sprintf("ValueType(%d)", uint32(t))
	}
	return valueTypeNames[t]
}

// minSize is the fewest bytes one encoded value of type t can take
// (a string's length, an array's element type and count).
func (t ValueType) minSize() int {
	switch t {
	case TypeString:
		return 8
	case TypeArray:
		return 12
	}
	return fixedSize[t]
}

// Value is a typed metadata value: a scalar, a string, or an array of one
// element type (arrays of arrays hold Values). Make one with the
// constructors (Uint32, String, Array, Arrays, ...); read one with Type,
// ElemType and As or Any. The zero Value is invalid.
type Value struct {
	typ  ValueType
	elem ValueType // element type of an array
	v    any
}

// Scalar constructors.

// Uint8 returns a UINT8 value.
func Uint8(x uint8) Value { return Value{typ: TypeUint8, v: x} }

// Int8 returns an INT8 value.
func Int8(x int8) Value { return Value{typ: TypeInt8, v: x} }

// Uint16 returns a UINT16 value.
func Uint16(x uint16) Value { return Value{typ: TypeUint16, v: x} }

// Int16 returns an INT16 value.
func Int16(x int16) Value { return Value{typ: TypeInt16, v: x} }

// Uint32 returns a UINT32 value.
func Uint32(x uint32) Value { return Value{typ: TypeUint32, v: x} }

// Int32 returns an INT32 value.
func Int32(x int32) Value { return Value{typ: TypeInt32, v: x} }

// Float32 returns a FLOAT32 value.
func Float32(x float32) Value { return Value{typ: TypeFloat32, v: x} }

// Bool returns a BOOL value.
func Bool(x bool) Value { return Value{typ: TypeBool, v: x} }

// String returns a STRING value.
func String(x string) Value { return Value{typ: TypeString, v: x} }

// Uint64 returns a UINT64 value.
func Uint64(x uint64) Value { return Value{typ: TypeUint64, v: x} }

// Int64 returns an INT64 value.
func Int64(x int64) Value { return Value{typ: TypeInt64, v: x} }

// Float64 returns a FLOAT64 value.
func Float64(x float64) Value { return Value{typ: TypeFloat64, v: x} }

// Elem is the set of Go types an array can hold directly.
type Elem interface {
	uint8 | int8 | uint16 | int16 | uint32 | int32 | float32 | bool | string | uint64 | int64 | float64
}

// Array returns an ARRAY value of the element type matching T (a copy of
// xs is kept).
func Array[T Elem](xs []T) Value {
	var elem ValueType
	switch any(xs).(type) {
	case []uint8:
		elem = TypeUint8
	case []int8:
		elem = TypeInt8
	case []uint16:
		elem = TypeUint16
	case []int16:
		elem = TypeInt16
	case []uint32:
		elem = TypeUint32
	case []int32:
		elem = TypeInt32
	case []float32:
		elem = TypeFloat32
	case []bool:
		elem = TypeBool
	case []string:
		elem = TypeString
	case []uint64:
		elem = TypeUint64
	case []int64:
		elem = TypeInt64
	case []float64:
		elem = TypeFloat64
	}
	return Value{typ: TypeArray, elem: elem, v: append([]T{}, xs...)}
}

// Arrays returns an array of arrays: an ARRAY value whose element type is
// ARRAY; every element must itself be an array (each with its own element
// type). ggml's reader rejects such files; the Writer writes them only with
// AllowNestedArrays.
func Arrays(xs ...Value) Value {
	return Value{typ: TypeArray, elem: TypeArray, v: append([]Value{}, xs...)}
}

// Type returns the value's type (0 = TypeUint8 also for the invalid zero
// Value; check IsValid).
func (v Value) Type() ValueType { return v.typ }

// IsValid reports whether v was made by a constructor or read from a file.
func (v Value) IsValid() bool { return v.v != nil }

// ElemType returns the element type of an array (meaningless otherwise).
func (v Value) ElemType() ValueType { return v.elem }

// Len returns the number of elements of an array, the byte length of a
// string, and 0 otherwise.
func (v Value) Len() int {
	switch x := v.v.(type) {
	case string:
		return len(x)
	case []uint8:
		return len(x)
	case []int8:
		return len(x)
	case []uint16:
		return len(x)
	case []int16:
		return len(x)
	case []uint32:
		return len(x)
	case []int32:
		return len(x)
	case []float32:
		return len(x)
	case []bool:
		return len(x)
	case []string:
		return len(x)
	case []uint64:
		return len(x)
	case []int64:
		return len(x)
	case []float64:
		return len(x)
	case []Value:
		return len(x)
	}
	return 0
}

// Any returns the Go value: uint8, int8, uint16, int16, uint32, int32,
// float32, bool, string, uint64, int64 or float64 for a scalar; a slice of
// one of those for an array; []Value for an array of arrays. Slices are
// shared with v: do not modify them.
func (v Value) Any() any { return v.v }

// As returns v's Go value as a T, and whether v holds exactly that type
// (As[uint32] of a UINT64 value fails, as llama.cpp's typed getters do).
func As[T any](v Value) (T, bool) {
	t, ok := v.v.(T)
	return t, ok
}

// String formats v for people: scalars as Go formats them, strings quoted,
// arrays as [a b c] (long arrays shortened).
func (v Value) String() string {
	switch x := v.v.(type) {
	case nil:
		return "<invalid>"
	case string:
		return fmt.Sprintf("%q", x)
	case []string:
		return shortList(len(x), func(i int) string { return fmt.Sprintf("%q", x[i]) })
	case []Value:
		return shortList(len(x), func(i int) string { return x[i].String() })
	}
	if v.typ == TypeArray {
		s := fmt.Sprint(v.v)
		if len(s) > 200 {
			s = s[:200] + "…]"
		}
		return s
	}
	return fmt.Sprint(v.v)
}

func shortList(n int, item func(int) string) string {
	var parts []string
	for i := 0; i < n && i < 16; i++ {
		parts = append(parts, item(i))
	}
	if n > 16 {
		parts = append(parts, fmt.Sprintf("… (%d elements)", n))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// KV is one metadata key-value pair.
type KV struct {
	Key   string
	Value Value
}
