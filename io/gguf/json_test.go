package gguf

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestKVJSONRoundTrip(t *testing.T) {
	kvs := []KV{
		{"u8", Uint8(255)}, {"i8", Int8(-128)}, {"u16", Uint16(65535)}, {"i16", Int16(-32768)},
		{"u32", Uint32(math.MaxUint32)}, {"i32", Int32(math.MinInt32)},
		{"u64", Uint64(math.MaxUint64)}, {"i64", Int64(math.MinInt64)},
		{"f32", Float32(0.1)}, {"f32tiny", Float32(math.SmallestNonzeroFloat32)}, {"f32max", Float32(math.MaxFloat32)},
		{"f64", Float64(0.1)}, {"nan", Float32(float32(math.NaN()))}, {"inf", Float64(math.Inf(-1))},
		{"b", Bool(true)}, {"s", String("héllo \"quoted\" \n")},
		{"a.str", Array([]string{"a", "", "ü"})}, {"a.f32", Array([]float32{1.5, float32(math.Inf(1)), float32(math.Copysign(0, -1))})},
		{"a.i64", Array([]int64{math.MinInt64, 0, math.MaxInt64})}, {"a.bool", Array([]bool{true, false})},
		{"a.nested", Arrays(Array([]uint8{1, 2}), Arrays(Array([]string{"x"})))},
	}
	b, err := json.Marshal(kvs)
	if err != nil {
		t.Fatal(err)
	}
	var back []KV
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	for i := range kvs {
		a, z := kvs[i], back[i]
		if a.Key != z.Key || a.Value.Type() != z.Value.Type() || a.Value.ElemType() != z.Value.ElemType() {
			t.Fatalf("%s: %v came back as %v", a.Key, a.Value, z.Value)
		}
		if f, ok := As[float32](a.Value); ok && math.IsNaN(float64(f)) {
			g, _ := As[float32](z.Value)
			if !math.IsNaN(float64(g)) {
				t.Fatalf("NaN lost")
			}
			continue
		}
		if f, ok := As[[]float32](a.Value); ok {
			g, _ := As[[]float32](z.Value)
			for k := range f {
				if math.Float32bits(f[k]) != math.Float32bits(g[k]) {
					t.Fatalf("%s[%d]: %v vs %v", a.Key, k, f[k], g[k])
				}
			}
			continue
		}
		if !reflect.DeepEqual(a.Value.Any(), z.Value.Any()) {
			t.Fatalf("%s: %#v came back as %#v", a.Key, a.Value.Any(), z.Value.Any())
		}
	}
	if !strings.Contains(string(b), `{"key":"u32","type":"UINT32","value":4294967295}`) {
		t.Errorf("unexpected encoding: %s", b)
	}
}

func TestKVJSONErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"key":"a","type":"UINT8","value":256}`, "out of range"},
		{`{"key":"a","type":"INT8","value":-129}`, "not an integer in"},
		{`{"key":"a","type":"UINT32","value":1.5}`, "not an integer"},
		{`{"key":"a","type":"UINT99","value":1}`, "unknown value type"},
		{`{"key":"a","type":"FLOAT32","value":1e39}`, "does not fit a 32-bit float"},
		{`{"key":"a","type":"FLOAT32","value":"big"}`, "not a number"},
		{`{"key":"a","type":"BOOL","value":1}`, "expected true or false"},
		{`{"key":"a","type":"ARRAY","element_type":"INT32","value":[1,"x"]}`, "[1]"},
		{`{"key":"a","type":"ARRAY","element_type":"NOPE","value":[]}`, "unknown element type"},
		{`{"key":"a","type":"STRING","value":"x","extra":1}`, "unknown field"},
	} {
		var kv KV
		err := json.Unmarshal([]byte(tc.in), &kv)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.in, err, tc.want)
		}
	}
}
