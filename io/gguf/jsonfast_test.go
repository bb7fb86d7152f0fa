package gguf

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// strictKV decodes an entry with encoding/json alone, as KV.UnmarshalJSON
// did before its fast paths: the reference they are checked against.
func strictKV(b []byte) (KV, error) {
	var j jsonKV
	if err := strictUnmarshal(b, &j); err != nil {
		return KV{}, err
	}
	t, ok := typesByName[j.Type]
	if !ok || t != TypeArray {
		return KV{}, fmt.Errorf("not an array entry")
	}
	elem, ok := typesByName[j.ElementType]
	if !ok {
		return KV{}, fmt.Errorf("unknown element type")
	}
	if elem == TypeString {
		var xs []string
		if err := json.Unmarshal(j.Value, &xs); err != nil {
			return KV{}, err
		}
		return KV{Key: j.Key, Value: Array(xs)}, nil
	}
	var items []json.RawMessage
	if err := strictUnmarshal(j.Value, &items); err != nil {
		return KV{}, err
	}
	vals := make([]Value, len(items))
	for i, it := range items {
		v, err := parseScalar(elem, it)
		if err != nil {
			return KV{}, err
		}
		vals[i] = v
	}
	return KV{Key: j.Key, Value: collect(elem, vals)}, nil
}

// pythonJSON writes an entry as Python's json.dumps(ensure_ascii=False)
// does (", " and ": " separators, no HTML escaping, non-ASCII as itself).
func pythonJSON(key, elem string, value any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(value); err != nil {
		panic(err)
	}
	v := bytes.TrimSpace(buf.Bytes())
	v = bytes.ReplaceAll(v, []byte(`","`), []byte(`", "`)) // strings never contain an unescaped quote
	return []byte(fmt.Sprintf(`{"key": %q, "type": "ARRAY", "element_type": %q, "value": %s}`, key, elem, v))
}

var tokenPieces = []string{"a", "Ġthe", "\"", "\\", "/", "\n", "\t", "\r", "\b", "\f", "\x01", "\x1f", "é", "ü",
	"𝄞", "\u2028", "<", ">", "&", "\x7f", "", " ", "[", "]", ",", "{", "}", ":", "Ċ", "\u0000", "\ufffd"}

func randomTokens(r *rand.Rand, n int) []string {
	out := make([]string, n)
	for i := range out {
		var sb strings.Builder
		for k := r.IntN(5); k >= 0; k-- {
			sb.WriteString(tokenPieces[r.IntN(len(tokenPieces))])
		}
		out[i] = sb.String()
	}
	return out
}

// TestQuickStringArraysMatchEncodingJSON: vocabulary-like string arrays, as
// Python writes them and as Go's encoder writes them (\u escapes for <, >
// and &), decode on the fast path to what encoding/json gives.
func TestQuickStringArraysMatchEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 200; trial++ {
		xs := randomTokens(r, 1+r.IntN(50))
		goJSON, _ := json.Marshal(map[string]any{"key": "tokenizer.ggml.tokens", "type": "ARRAY", "element_type": "STRING", "value": xs})
		for _, b := range [][]byte{pythonJSON("tokenizer.ggml.tokens", "STRING", xs), goJSON} {
			want, err := strictKV(b)
			if err != nil {
				t.Fatalf("reference failed on %s: %v", b, err)
			}
			var got KV
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("%s: %v", b, err)
			}
			if got.Key != want.Key || !reflect.DeepEqual(got.Value.Any(), want.Value.Any()) {
				t.Fatalf("%s:\n got %q\nwant %q", b, got.Value.Any(), want.Value.Any())
			}
		}
		if _, ok := quickKV(pythonJSON("k", "STRING", xs)); !ok {
			t.Fatalf("the planner's layout missed the fast path: %s", pythonJSON("k", "STRING", xs))
		}
	}
}

// wantQuickStrings checks that quickStrings takes the array raw and decodes
// it as encoding/json does.
func wantQuickStrings(t *testing.T, raw string) {
	t.Helper()
	got, ok := quickStrings([]byte(raw))
	var want []string
	if err := json.Unmarshal([]byte(raw), &want); err != nil {
		t.Fatal(err)
	}
	if !ok || !reflect.DeepEqual(got, want) {
		t.Errorf("%q: got %q (%v), want %q", raw, got, ok, want)
	}
}

// TestQuickStringsInvalidUTF8: bytes that are not UTF-8 become U+FFFD, as
// encoding/json makes them, whether the element has escapes or not.
func TestQuickStringsInvalidUTF8(t *testing.T) {
	for _, raw := range []string{"[\"a\xffb\"]", "[\"\\\"\xc3\"]", "[\"ok\", \"\xed\xa0\x80\"]", "[\"\xf0\x9d\x84\"]"} {
		wantQuickStrings(t, raw)
	}
}

// TestQuickStringsControlCharacters: whitespace that is a control
// character (newlines, tabs) between elements takes the byte-by-byte loop
// and decodes as encoding/json does; a raw control character inside a
// string, which JSON forbids, is left to encoding/json.
func TestQuickStringsControlCharacters(t *testing.T) {
	for _, raw := range []string{"[\n\t\"a\",\r\n \"b\\\"c\"\n]", "[\"x\",\t\"\u00e9\"]\n"} {
		wantQuickStrings(t, raw)
	}
	for _, raw := range []string{"[\"a\nb\"]", "[\"ok\", \"\x01\"]", "[\"\\\x1f\"]"} {
		if got, ok := quickStrings([]byte(raw)); ok {
			t.Errorf("%q: took %q, which encoding/json refuses", raw, got)
		}
	}
}

// TestQuickStringsEscapes: elements with escapes (decoded into one shared
// buffer) beside plain ones and ones with a \u escape (left to
// encoding/json, after other escapes of the same element were already
// decoded), at the start, middle and end of the array, decode as
// encoding/json decodes them; a backslash outside a string, an escape JSON
// does not have, or an escaped quote where the closing one should be is
// refused.
func TestQuickStringsEscapes(t *testing.T) {
	for _, raw := range []string{
		`["\"", "a", "b\\", "c"]`,
		`["x", "\"\\\/\n\t\r\b\f", "y\"z"]`,
		`["a\"b\u00e9c", "\\", "d\u0022", "e\"\"", "f"]`,
		`["\\\"", "\u005c", "\"\u005c\"", "g"]`,
		`["é\"ü", "𝄞\\", "Ġ\u2028", "\""]`,
		`[ "\"" , "\\" ]  `,
		`["\ud834\udd1e", "\"", "\ud800x"]`,
		`["", "\"", "", "\\", ""]`,
	} {
		got, ok := quickStrings([]byte(raw))
		var want []string
		if err := json.Unmarshal([]byte(raw), &want); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		if !ok || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %q (%v), want %q", raw, got, ok, want)
		}
	}
	for _, raw := range []string{
		`["a"\, "b"]`, `["a", \"b"]`, `["a\x"]`, `["a\'"]`, `["a\"]`, `["a\`, `["\"", "b\"]`,
		`["\u00zz"]`, `["a\\"\"]`, `["\"" "b"]`, `["\""]]`, `["\"", ]`,
	} {
		var want []string
		werr := json.Unmarshal([]byte(raw), &want)
		if werr == nil {
			t.Fatalf("%s: encoding/json takes it", raw)
		}
		if got, ok := quickStrings([]byte(raw)); ok {
			t.Errorf("%s: took %q, which encoding/json refuses (%v)", raw, got, werr)
		}
	}
}

// TestSkipStringRemembersBackslashes: skipString with the remembered
// backslash over a run of strings, with and without escapes, finds the same
// ends as a byte-by-byte scan.
func TestSkipStringRemembersBackslashes(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for trial := 0; trial < 500; trial++ {
		var doc []byte
		var ends []int
		for _, tok := range randomTokens(r, 1+r.IntN(20)) {
			doc = append(doc, jsonText(tok)...)
			ends = append(ends, len(doc))
			doc = append(doc, ", "[:r.IntN(3)]...)
		}
		bs, i := -1, 0
		for k, want := range ends {
			for doc[i] != '"' {
				i++
			}
			j, ok := skipString(doc, i, &bs)
			if !ok || j != want {
				t.Fatalf("%s: string %d ends at %d (%v), want %d", doc, k, j, ok, want)
			}
			i = j
		}
	}
}

// TestHasControl: every byte value at every position of 1–17 bytes of
// otherwise printable text, and random text with the top bit set (where a
// borrow could go wrong).
func TestHasControl(t *testing.T) {
	for n := 1; n <= 17; n++ {
		for pos := 0; pos < n; pos++ {
			for c := 0; c < 256; c++ {
				b := bytes.Repeat([]byte{'a'}, n)
				b[pos] = byte(c)
				if got, want := hasControl(string(b)), c < 0x20; got != want {
					t.Fatalf("n=%d byte %#x at %d: %v, want %v", n, c, pos, got, want)
				}
			}
		}
	}
	r := rand.New(rand.NewPCG(5, 6))
	for trial := 0; trial < 20000; trial++ {
		b := make([]byte, r.IntN(40))
		want := false
		for i := range b {
			b[i] = byte(0x20 + r.IntN(224))
			if r.IntN(60) == 0 {
				b[i] = byte(r.IntN(0x20))
			}
			want = want || b[i] < 0x20
		}
		if got := hasControl(string(b)); got != want {
			t.Fatalf("%q: %v, want %v", b, got, want)
		}
	}
}

// TestValidUTF8: validUTF8 agrees with utf8.ValidString on every pair of
// bytes at every offset of a 19-byte text (ASCII or two-byte sequences
// around it), and on random texts of bytes at the class boundaries, with
// valid sequences of every length mixed in.
func TestValidUTF8(t *testing.T) {
	fills := []string{"abcdefghijklmnopqrs", "ĠĠĠĠĠĠĠĠĠ", "aĠbĠcĠdĠeĠfĠ"}
	for _, fill := range fills {
		for off := 0; off+2 <= len(fill); off++ {
			b := []byte(fill)
			for c0 := 0; c0 < 256; c0++ {
				for c1 := 0; c1 < 256; c1++ {
					b[off], b[off+1] = byte(c0), byte(c1)
					if got, want := validUTF8(string(b)), utf8.Valid(b); got != want {
						t.Fatalf("%q: %v, want %v", b, got, want)
					}
				}
			}
		}
	}
	edges := []byte{0x00, 0x1f, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xc4, 0xdf, 0xe0,
		0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xf8, 0xfe, 0xff}
	pieces := []string{"a", "Ġ", "é", "€", "中", "\ufffd", "𝄞", "\U0010ffff", "\u0800", "\u07ff", "\x7f"}
	r := rand.New(rand.NewPCG(7, 8))
	for trial := 0; trial < 300000; trial++ {
		var b []byte
		for n := r.IntN(40); len(b) < n; {
			if r.IntN(4) == 0 {
				b = append(b, edges[r.IntN(len(edges))])
			} else {
				b = append(b, pieces[r.IntN(len(pieces))]...)
			}
		}
		if got, want := validUTF8(string(b)), utf8.Valid(b); got != want {
			t.Fatalf("%q: %v, want %v", b, got, want)
		}
	}
}

// TestQuickIntArrays: every integer type at its bounds and beyond; what the
// fast path takes equals encoding/json's reading, and what it refuses
// (out of range, fractions, exponents, leading zeros, 19+ digits) is left
// to encoding/json, whose error messages stay what they were.
func TestQuickIntArrays(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for name, rg := range map[string]struct {
		lo int64
		hi uint64
	}{"UINT8": {0, math.MaxUint8}, "INT8": {math.MinInt8, math.MaxInt8}, "UINT16": {0, math.MaxUint16},
		"INT16": {math.MinInt16, math.MaxInt16}, "UINT32": {0, math.MaxUint32}, "INT32": {math.MinInt32, math.MaxInt32},
		"UINT64": {0, math.MaxUint64}, "INT64": {math.MinInt64, math.MaxInt64}} {
		edges := []string{strconv.FormatInt(rg.lo, 10), strconv.FormatUint(rg.hi, 10), "0", "-0", "1", "-1",
			strconv.FormatInt(rg.lo-1, 10), strconv.FormatUint(rg.hi+1, 10), "01", "1.0", "1e2", "+1", "999999999999999999",
			"-999999999999999999", "1000000000000000000"}
		for trial := 0; trial < 300; trial++ {
			n := 1 + r.IntN(6)
			items := make([]string, n)
			for i := range items {
				if r.IntN(3) == 0 {
					items[i] = edges[r.IntN(len(edges))]
				} else {
					items[i] = strconv.FormatInt(r.Int64N(1000)-500, 10)
				}
			}
			b := []byte(fmt.Sprintf(`{"key": "k", "type": "ARRAY", "element_type": %q, "value": [%s]}`, name, strings.Join(items, ", ")))
			want, werr := strictKV(b)
			var got KV
			gerr := json.Unmarshal(b, &got)
			if (werr == nil) != (gerr == nil) {
				t.Fatalf("%s: error %v, reference error %v", b, gerr, werr)
			}
			if werr == nil && !reflect.DeepEqual(got.Value.Any(), want.Value.Any()) {
				t.Fatalf("%s: got %v, want %v", b, got.Value.Any(), want.Value.Any())
			}
			if q, ok := quickKV(b); ok && (werr != nil || !reflect.DeepEqual(q.Value.Any(), want.Value.Any())) {
				t.Fatalf("%s: the fast path took what encoding/json reads otherwise (%v)", b, werr)
			}
		}
	}
}

// TestQuickKVLeavesOtherLayouts: an entry the fast path does not take is
// decoded, or refused, exactly as before.
func TestQuickKVLeavesOtherLayouts(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"value": ["a"], "key": "k", "type": "ARRAY", "element_type": "STRING"}`, ""},
		{`{"key": "k", "type": "ARRAY", "element_type": "STRING", "value": ["a"], "key": "z"}`, ""},
		{`{"key": "k", "type": "ARRAY", "element_type": "STRING", "value": ["a"], "extra": 1}`, "unknown field"},
		{`{"key": "k", "type": "ARRAY", "element_type": "STRING", "value": ["a", 1]}`, "expected an array of strings"},
		{`{"key": "k", "type": "ARRAY", "element_type": "INT32", "value": [1, 2147483648]}`, "[1]"},
		{`{"key": "k\u0041", "type": "ARRAY", "element_type": "INT32", "value": [1]}`, ""},
		{`{"key": "k", "type": "ARRAY", "element_type": "FLOAT32", "value": [1.5]}`, ""},
		{`{"key": "k", "type": "ARRAY", "element_type": "STRING", "value": []}`, ""},
		{` { "key" : "k" , "type" : "ARRAY" , "element_type" : "UINT8" , "value" : [ 1 , 2 ] } `, ""},
	} {
		var kv KV
		err := json.Unmarshal([]byte(tc.in), &kv)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.in, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.in, err, tc.want)
		}
	}
	var kv KV
	if err := json.Unmarshal([]byte(`{"value": ["a"], "key": "k", "type": "ARRAY", "element_type": "STRING", "key": "z"}`), &kv); err != nil || kv.Key != "z" {
		t.Errorf("a repeated member: the last one wins in encoding/json; got %q, %v", kv.Key, err)
	}
}

// FuzzQuickArrays: whatever the fast paths accept, they decode as
// encoding/json does.
func FuzzQuickArrays(f *testing.F) {
	for _, s := range []string{`["a", "b\"c", "\u00e9"]`, `[1, -2, 3]`, `[]`, `["\ud800"]`, "[\"\xff\"]", `[1e3]`, `[ "x" ] `} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if got, want := validUTF8(string(raw)), utf8.Valid(raw); got != want {
			t.Fatalf("%q: validUTF8 %v, utf8.Valid %v", raw, got, want)
		}
		if got, ok := quickStrings(raw); ok {
			var want []string
			if err := json.Unmarshal(raw, &want); err != nil {
				t.Fatalf("%q: fast path took what encoding/json refuses: %v", raw, err)
			}
			if !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
				t.Fatalf("%q: got %q, want %q", raw, got, want)
			}
		}
		if got, ok := quickInts[int64](raw, math.MinInt64, math.MaxInt64); ok {
			var nums []json.Number
			if err := json.Unmarshal(raw, &nums); err != nil {
				t.Fatalf("%q: fast path took what encoding/json refuses: %v", raw, err)
			}
			for i, n := range nums {
				v, err := strconv.ParseInt(n.String(), 10, 64)
				if err != nil || v != got[i] {
					t.Fatalf("%q: [%d] = %d, encoding/json reads %s", raw, i, got[i], n)
				}
			}
		}
	})
}

// cutDoc is the shape of a plan for the CutMember tests: the metadata
// member and others around it, some with brackets and quotes in strings.
type cutDoc struct {
	Schema   int              `json:"schema"`
	Name     string           `json:"name"`
	Metadata []KV             `json:"metadata"`
	Tensors  []map[string]any `json:"tensors"`
}

// decodeCut decodes doc as ParsePlan does: through CutMember when it
// answers and encoding/json takes the rest, else with encoding/json alone.
func decodeCut(doc []byte) (d cutDoc, fast bool, err error) {
	if rest, kvs, ok := CutMember(doc, "metadata"); ok && json.Unmarshal(rest, &d) == nil {
		d.Metadata = kvs
		return d, true, nil
	}
	d = cutDoc{}
	return d, false, json.Unmarshal(doc, &d)
}

// jsonText is s as a JSON string.
func jsonText(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func randomCutDoc(r *rand.Rand) []byte {
	var kvs []string
	for n := r.IntN(5); len(kvs) < n; {
		switch r.IntN(4) {
		case 0:
			kvs = append(kvs, string(pythonJSON("tokenizer.ggml.tokens", "STRING", randomTokens(r, 1+r.IntN(20)))))
		case 1:
			kvs = append(kvs, string(pythonJSON("tokenizer.ggml.token_type", "INT32", []int{1, 2, 3, -4})))
		case 2:
			kvs = append(kvs, fmt.Sprintf(`{"key": %s, "type": "UINT32", "value": %d}`, jsonText(randomTokens(r, 1)[0]), r.IntN(1000)))
		default:
			kvs = append(kvs, `{"key": "general.name", "type": "STRING", "value": "a [b] {c} \"d\""}`)
		}
	}
	members := []string{
		`"schema": 3`,
		`"name": ` + jsonText(strings.Join(randomTokens(r, 3), "]}[{")),
		`"metadata": [` + strings.Join(kvs, ", ") + `]`,
		`"tensors": [{"name": "t\"]", "shape": [1, 2], "ops": [{"op": "scale", "value": 1.5e-3}], "data": null}, {}]`,
	}
	r.Shuffle(len(members), func(i, j int) { members[i], members[j] = members[j], members[i] })
	return []byte("{" + strings.Join(members, ", ") + "}")
}

// TestCutMemberMatchesEncodingJSON: documents shaped like plans decode
// through CutMember exactly as encoding/json decodes them, members in any
// order; documents CutMember must leave alone (a second member matching
// under case folding, escaped keys, a metadata value that is not an array
// or an entry that does not decode, invalid JSON around it) are decoded,
// or refused with the same error, by encoding/json.
func TestCutMemberMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for trial := 0; trial < 300; trial++ {
		doc := randomCutDoc(r)
		got, fast, err := decodeCut(doc)
		var want cutDoc
		if werr := json.Unmarshal(doc, &want); err != nil || werr != nil || !fast {
			t.Fatalf("%s: fast=%v err=%v, encoding/json: %v", doc, fast, err, werr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s:\n got %+v\nwant %+v", doc, got, want)
		}
	}
	md := `[{"key": "a", "type": "UINT8", "value": 7}]`
	for _, doc := range []string{
		`{"metadata": ` + md + `, "Metadata": []}`,
		`{"METADATA": ` + md + `}`,
		`{"metadata": ` + md + `, "metadata": ` + md + `}`,
		`{"meta\u0064ata": ` + md + `}`,
		`{"metadata": null}`,
		`{"metadata": {}}`,
		`{"metadata": [{"key": "a", "type": "UINT8", "value": 700}]}`,
		`{"metadata": [{"key": "a", "type": "UINT8", "value": 7},]}`,
		`{"metadata": ` + md + `, "schema": 01}`,
		`{"metadata": ` + md + `} x`,
		`{"metadata": ` + md + `, "name": "a` + "\x01" + `"}`,
		`[` + md + `]`,
		`{"metadata": ` + md,
	} {
		got, _, err := decodeCut([]byte(doc))
		var want cutDoc
		werr := json.Unmarshal([]byte(doc), &want)
		if fmt.Sprint(err) != fmt.Sprint(werr) || (werr == nil && !reflect.DeepEqual(got, want)) {
			t.Errorf("%s: got %+v, %v; encoding/json %+v, %v", doc, got, err, want, werr)
		}
	}
	if _, fast, _ := decodeCut([]byte(`{"METADATA": ` + md + `}`)); fast {
		t.Error("a key matching metadata only under case folding took the fast path")
	}
}

// FuzzCutMember: whatever document CutMember and encoding/json (on the
// rest) accept, encoding/json accepts as a whole and decodes the same.
func FuzzCutMember(f *testing.F) {
	r := rand.New(rand.NewPCG(11, 12))
	for i := 0; i < 8; i++ {
		f.Add(randomCutDoc(r))
	}
	f.Add([]byte(`{"metadata": [], "name": "x"}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		got, fast, err := decodeCut(doc)
		if !fast {
			return
		}
		var want cutDoc
		if werr := json.Unmarshal(doc, &want); werr != nil || err != nil {
			t.Fatalf("%q: fast path took what encoding/json refuses: %v", doc, werr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q:\n got %+v\nwant %+v", doc, got, want)
		}
	})
}
