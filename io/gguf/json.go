package gguf

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// The JSON form of metadata is how typed GGUF values cross Wick's C
// boundary (and how a conversion plan states its metadata). One entry:
//
//	{"key": "llama.block_count", "type": "UINT32", "value": 16}
//	{"key": "tokenizer.ggml.tokens", "type": "ARRAY", "element_type": "STRING", "value": ["a", "b"]}
//
// Type names are gguf-py's (ValueType.String). Integers are JSON integers
// (exact for every 64-bit value); FLOAT32/FLOAT64 are JSON numbers, or the
// strings "nan", "inf" and "-inf", which JSON numbers cannot express; the
// shortest decimal of a float32 parses back to the same float32. An array of
// arrays has element_type "ARRAY" and a value list of
// {"element_type": ..., "value": [...]} objects. Strings must be valid UTF-8
// to survive (JSON replaces invalid bytes with U+FFFD).

type jsonKV struct {
	Key         string          `json:"key"`
	Type        string          `json:"type"`
	ElementType string          `json:"element_type,omitempty"`
	Value       json.RawMessage `json:"value"`
}

type jsonArray struct {
	ElementType string          `json:"element_type"`
	Value       json.RawMessage `json:"value"`
}

var typesByName = func() map[string]ValueType {
	m := map[string]ValueType{}
	for t := ValueType(0); t.Valid(); t++ {
		m[t.String()] = t
	}
	return m
}()

// MarshalJSON encodes kv in the JSON form described above.
func (kv KV) MarshalJSON() ([]byte, error) {
	if !kv.Value.IsValid() {
		return nil, fmt.Errorf("gguf: metadata %q: invalid (zero) value", kv.Key)
	}
	j := jsonKV{Key: kv.Key, Type: kv.Value.Type().String()}
	var err error
	if kv.Value.Type() == TypeArray {
		j.ElementType = kv.Value.ElemType().String()
		j.Value, err = arrayJSON(kv.Value)
	} else {
		j.Value, err = scalarJSON(kv.Value.Any())
	}
	if err != nil {
		return nil, fmt.Errorf("gguf: metadata %q: %w", kv.Key, err)
	}
	return json.Marshal(j)
}

func floatJSON(f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return []byte(`"nan"`)
	case math.IsInf(f, 1):
		return []byte(`"inf"`)
	case math.IsInf(f, -1):
		return []byte(`"-inf"`)
	}
	return strconv.AppendFloat(nil, f, 'g', -1, bits)
}

func scalarJSON(v any) (json.RawMessage, error) {
	switch x := v.(type) {
	case float32:
		return floatJSON(float64(x), 32), nil
	case float64:
		return floatJSON(x, 64), nil
	}
	return json.Marshal(v)
}

func arrayJSON(v Value) (json.RawMessage, error) {
	var buf bytes.Buffer
	buf.WriteByte('[')
	sep := func(i int) {
		if i > 0 {
			buf.WriteByte(',')
		}
	}
	switch xs := v.Any().(type) {
	case []float32:
		for i, x := range xs {
			sep(i)
			buf.Write(floatJSON(float64(x), 32))
		}
	case []float64:
		for i, x := range xs {
			sep(i)
			buf.Write(floatJSON(x, 64))
		}
	case []uint8: // encoding/json would write base64
		for i, x := range xs {
			sep(i)
			buf.WriteString(strconv.Itoa(int(x)))
		}
	case []Value:
		for i, x := range xs {
			sep(i)
			inner, err := arrayJSON(x)
			if err != nil {
				return nil, err
			}
			b, err := json.Marshal(jsonArray{ElementType: x.ElemType().String(), Value: inner})
			if err != nil {
				return nil, err
			}
			buf.Write(b)
		}
	default:
		return json.Marshal(xs)
	}
	buf.WriteByte(']')
	return buf.Bytes(), nil
}

// UnmarshalJSON decodes kv from the JSON form described above, checking
// every integer against its type's range.
func (kv *KV) UnmarshalJSON(b []byte) error {
	if q, ok := quickKV(b); ok { // a vocabulary-sized array (jsonfast.go)
		*kv = q
		return nil
	}
	var j jsonKV
	if err := strictUnmarshal(b, &j); err != nil {
		return fmt.Errorf("gguf: metadata entry: %w", err)
	}
	t, ok := typesByName[j.Type]
	if !ok {
		return fmt.Errorf("gguf: metadata %q: unknown value type %q", j.Key, j.Type)
	}
	var v Value
	var err error
	if t == TypeArray {
		v, err = parseArray(j.ElementType, j.Value)
	} else {
		v, err = parseScalar(t, j.Value)
	}
	if err != nil {
		return fmt.Errorf("gguf: metadata %q: %w", j.Key, err)
	}
	*kv = KV{Key: j.Key, Value: v}
	return nil
}

func strictUnmarshal(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	d.DisallowUnknownFields()
	return d.Decode(v)
}

func parseFloat(raw json.RawMessage, bits int) (float64, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		switch s {
		case "nan":
			return math.NaN(), nil
		case "inf":
			return math.Inf(1), nil
		case "-inf":
			return math.Inf(-1), nil
		}
		return 0, fmt.Errorf("%q is not a number, \"nan\", \"inf\" or \"-inf\"", s)
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, fmt.Errorf("expected a number: %w", err)
	}
	f, err := strconv.ParseFloat(n.String(), bits)
	if err != nil {
		return 0, fmt.Errorf("%s does not fit a %d-bit float", n, bits)
	}
	return f, nil
}

func parseInt(raw json.RawMessage, lo int64, hi uint64) (int64, uint64, error) {
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, 0, fmt.Errorf("expected an integer: %w", err)
	}
	if u, err := strconv.ParseUint(n.String(), 10, 64); err == nil {
		if u > hi {
			return 0, 0, fmt.Errorf("%d is out of range [%d, %d]", u, lo, hi)
		}
		return int64(u), u, nil
	}
	i, err := strconv.ParseInt(n.String(), 10, 64)
	if err != nil || i < lo {
		return 0, 0, fmt.Errorf("%s is not an integer in [%d, %d]", n, lo, hi)
	}
	return i, uint64(i), nil
}

func parseScalar(t ValueType, raw json.RawMessage) (Value, error) {
	switch t {
	case TypeFloat32:
		f, err := parseFloat(raw, 32)
		return Float32(float32(f)), err
	case TypeFloat64:
		f, err := parseFloat(raw, 64)
		return Float64(f), err
	case TypeBool:
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return Value{}, fmt.Errorf("expected true or false")
		}
		return Bool(b), nil
	case TypeString:
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return Value{}, fmt.Errorf("expected a string")
		}
		return String(s), nil
	}
	r, ok := intRanges[t]
	if !ok {
		return Value{}, fmt.Errorf("%s is not a scalar type", t)
	}
	i, u, err := parseInt(raw, r.lo, r.hi)
	if err != nil {
		return Value{}, fmt.Errorf("%s: %w", t, err)
	}
	switch t {
	case TypeUint8:
		return Uint8(uint8(u)), nil
	case TypeInt8:
		return Int8(int8(i)), nil
	case TypeUint16:
		return Uint16(uint16(u)), nil
	case TypeInt16:
		return Int16(int16(i)), nil
	case TypeUint32:
		return Uint32(uint32(u)), nil
	case TypeInt32:
		return Int32(int32(i)), nil
	case TypeUint64:
		return Uint64(u), nil
	default:
		return Int64(i), nil
	}
}

var intRanges = map[ValueType]struct {
	lo int64
	hi uint64
}{
	TypeUint8: {0, math.MaxUint8}, TypeInt8: {math.MinInt8, math.MaxInt8},
	TypeUint16: {0, math.MaxUint16}, TypeInt16: {math.MinInt16, math.MaxInt16},
	TypeUint32: {0, math.MaxUint32}, TypeInt32: {math.MinInt32, math.MaxInt32},
	TypeUint64: {0, math.MaxUint64}, TypeInt64: {math.MinInt64, math.MaxInt64},
}

func parseArray(elemName string, raw json.RawMessage) (Value, error) {
	elem, ok := typesByName[elemName]
	if !ok {
		return Value{}, fmt.Errorf("unknown element type %q", elemName)
	}
	if v, ok := quickArray(elemName, raw); ok {
		return v, nil
	}
	switch elem {
	case TypeString: // the big arrays (vocabularies): decode in one go
		var xs []string
		if err := json.Unmarshal(raw, &xs); err != nil {
			return Value{}, fmt.Errorf("expected an array of strings: %w", err)
		}
		return Array(xs), nil
	case TypeBool:
		var xs []bool
		if err := json.Unmarshal(raw, &xs); err != nil {
			return Value{}, fmt.Errorf("expected an array of booleans: %w", err)
		}
		return Array(xs), nil
	}
	var items []json.RawMessage
	if err := strictUnmarshal(raw, &items); err != nil {
		return Value{}, fmt.Errorf("expected an array: %w", err)
	}
	if elem == TypeArray {
		vs := make([]Value, len(items))
		for i, it := range items {
			var j jsonArray
			if err := strictUnmarshal(it, &j); err != nil {
				return Value{}, fmt.Errorf("[%d]: %w", i, err)
			}
			v, err := parseArray(j.ElementType, j.Value)
			if err != nil {
				return Value{}, fmt.Errorf("[%d]: %w", i, err)
			}
			vs[i] = v
		}
		return Arrays(vs...), nil
	}
	vals := make([]Value, len(items))
	for i, it := range items {
		v, err := parseScalar(elem, it)
		if err != nil {
			return Value{}, fmt.Errorf("[%d]: %w", i, err)
		}
		vals[i] = v
	}
	return collect(elem, vals), nil
}

// collect turns scalars of one type into a typed array value.
func collect(elem ValueType, vals []Value) Value {
	switch elem {
	case TypeUint8:
		return Array(gather[uint8](vals))
	case TypeInt8:
		return Array(gather[int8](vals))
	case TypeUint16:
		return Array(gather[uint16](vals))
	case TypeInt16:
		return Array(gather[int16](vals))
	case TypeUint32:
		return Array(gather[uint32](vals))
	case TypeInt32:
		return Array(gather[int32](vals))
	case TypeFloat32:
		return Array(gather[float32](vals))
	case TypeBool:
		return Array(gather[bool](vals))
	case TypeString:
		return Array(gather[string](vals))
	case TypeUint64:
		return Array(gather[uint64](vals))
	case TypeInt64:
		return Array(gather[int64](vals))
	default:
		return Array(gather[float64](vals))
	}
}

func gather[T Elem](vals []Value) []T {
	out := make([]T, len(vals))
	for i, v := range vals {
		out[i] = v.Any().(T)
	}
	return out
}
