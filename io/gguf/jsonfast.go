package gguf

import (
	"bytes"
	"encoding/json"
	"slices"
	"unicode/utf8"
)

// Fast paths for the big metadata arrays of a conversion plan (a 128K-token
// vocabulary, its 280K merges, its token types): encoding/json decodes them
// at a few tens of MB/s, a visible part of a whole conversion. Each fast
// path handles the common shape and reports ok=false for anything else
// (malformed JSON, numbers that are not plain integers, values out of
// range), and the caller then decodes with encoding/json, which gives the
// result or the error message it always gave. Where a fast path answers, it
// answers what encoding/json would (json_test.go checks this
// differentially).

// quickKV decodes a metadata entry whose value is a big array, written as
// Python's planner writes it: "key", "type" and "element_type" first, as
// strings without escapes, and "value" last. Anything else (another order,
// escapes, unknown or repeated members, a scalar, an array the fast paths
// below do not take) is left to encoding/json.
func quickKV(b []byte) (KV, bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return KV{}, false
	}
	var fields [3]string // key, type, element_type
	var seen [3]bool
	for i++; ; {
		name, j, ok := plainString(b, skipSpace(b, i))
		if !ok {
			return KV{}, false
		}
		j = skipSpace(b, j)
		if j >= len(b) || b[j] != ':' {
			return KV{}, false
		}
		j = skipSpace(b, j+1)
		if name == "value" {
			end := len(b) - 1
			for end > j && (b[end] == ' ' || b[end] == '\n' || b[end] == '\t' || b[end] == '\r') {
				end--
			}
			if b[end] != '}' || !seen[0] || !seen[1] || fields[1] != "ARRAY" || !seen[2] {
				return KV{}, false
			}
			// If "value" were not the last member, the array decoders would
			// find more than whitespace after its closing bracket and refuse.
			v, ok := quickArray(fields[2], b[j:end])
			if !ok {
				return KV{}, false
			}
			return KV{Key: fields[0], Value: v}, true
		}
		k := slices.Index([]string{"key", "type", "element_type"}, name)
		if k < 0 || seen[k] {
			return KV{}, false
		}
		if fields[k], i, ok = plainString(b, j); !ok {
			return KV{}, false
		}
		seen[k] = true
		i = skipSpace(b, i)
		if i >= len(b) || b[i] != ',' {
			return KV{}, false
		}
		i++
	}
}

// plainString reads the JSON string at b[i:] if it has no escapes and is
// plain ASCII, returning it and the index after its closing quote.
func plainString(b []byte, i int) (string, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return "", 0, false
	}
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return string(b[i+1 : j]), j + 1, true
		case c == '\\' || c < 0x20 || c >= utf8.RuneSelf:
			return "", 0, false
		}
	}
	return "", 0, false
}

// quickArray is the fast path of parseArray: arrays of strings or of
// integers, ok=false for every other element type or shape.
func quickArray(elemName string, raw []byte) (Value, bool) {
	elem, ok := typesByName[elemName]
	if !ok {
		return Value{}, false
	}
	if elem == TypeString {
		xs, ok := quickStrings(raw)
		if !ok {
			return Value{}, false
		}
		return Array(xs), true
	}
	return quickIntArray(elem, raw)
}

// quickStrings decodes a JSON array of strings. A string without escapes
// and of valid UTF-8 is taken as it is, a slice of one copy of raw; any
// other string is decoded by encoding/json alone.
func quickStrings(raw []byte) (out []string, ok bool) {
	text := string(raw)             // one copy: every plain element is a substring of it
	valid := utf8.ValidString(text) // then so is every element, cut at ASCII quotes
	i, empty, ok := arrayStart(text)
	if !ok {
		return nil, false
	} else if empty {
		return []string{}, true
	}
	out = make([]string, 0, bytes.Count(raw, []byte{','})+1)
	for {
		if i >= len(text) || text[i] != '"' {
			return nil, false
		}
		start, plain := i, true
		i++
		for ; i < len(text) && text[i] != '"'; i++ {
			switch c := text[i]; {
			case c == '\\':
				plain = false
				i++ // the escaped character (checked by encoding/json below)
			case c < 0x20:
				return nil, false // a raw control character: not JSON
			case c >= utf8.RuneSelf:
				plain = false // checked below: invalid UTF-8 becomes U+FFFD in encoding/json
			}
		}
		if i >= len(text) {
			return nil, false
		}
		s := text[start+1 : i]
		if !plain && !valid && !utf8.ValidString(s) {
			if json.Unmarshal(raw[start:i+1], &s) != nil {
				return nil, false
			}
		} else if !plain && !noEscapes(s) {
			var ok bool
			if s, ok = unescape(s); !ok {
				if json.Unmarshal(raw[start:i+1], &s) != nil {
					return nil, false
				}
			}
		}
		out = append(out, s)
		var end bool
		if i, end, ok = arrayNext(text, i+1); !ok {
			return nil, false
		} else if end {
			return out, true
		}
	}
}

// quickInts decodes a JSON array of plain integers (no fraction, exponent
// or leading '+'; at most 18 digits) that all lie in [lo, hi].
func quickInts[T int8 | uint8 | int16 | uint16 | int32 | uint32 | int64 | uint64](raw []byte, lo, hi int64) (out []T, ok bool) {
	i, empty, ok := arrayStart(raw)
	if !ok {
		return nil, false
	} else if empty {
		return []T{}, true
	}
	out = make([]T, 0, len(raw)/4)
	for {
		neg := i < len(raw) && raw[i] == '-'
		if neg {
			i++
		}
		d0 := i
		var v int64
		for ; i < len(raw) && raw[i] >= '0' && raw[i] <= '9'; i++ {
			v = v*10 + int64(raw[i]-'0')
		}
		n := i - d0
		if n == 0 || n > 18 || (n > 1 && raw[d0] == '0') {
			return nil, false // not an integer JSON would accept, or one that could overflow here
		}
		if neg {
			v = -v
		}
		if v < lo || v > hi {
			return nil, false
		}
		out = append(out, T(v))
		var end bool // a '.' or an 'e' after the digits is not a separator: encoding/json decides
		if i, end, ok = arrayNext(raw, i); !ok {
			return nil, false
		} else if end {
			return out, true
		}
	}
}

// quickIntArray is quickInts for the integer element type t, as a Value.
func quickIntArray(t ValueType, raw []byte) (Value, bool) {
	r, ok := intRanges[t]
	if !ok {
		return Value{}, false
	}
	hi := int64(min(r.hi, 1<<62)) // quickInts reads at most 18 digits anyway
	switch t {
	case TypeUint8:
		return quickValue(quickInts[uint8](raw, r.lo, hi))
	case TypeInt8:
		return quickValue(quickInts[int8](raw, r.lo, hi))
	case TypeUint16:
		return quickValue(quickInts[uint16](raw, r.lo, hi))
	case TypeInt16:
		return quickValue(quickInts[int16](raw, r.lo, hi))
	case TypeUint32:
		return quickValue(quickInts[uint32](raw, r.lo, hi))
	case TypeInt32:
		return quickValue(quickInts[int32](raw, r.lo, hi))
	case TypeUint64:
		return quickValue(quickInts[uint64](raw, r.lo, hi))
	default:
		return quickValue(quickInts[int64](raw, r.lo, hi))
	}
}

func quickValue[T Elem](xs []T, ok bool) (Value, bool) {
	if !ok {
		return Value{}, false
	}
	return Array(xs), true
}

// unescape decodes the one-character escapes of a JSON string's body s
// (valid UTF-8); ok is false when s holds a \u escape (or a malformed one),
// which encoding/json then decodes.
func unescape(s string) (string, bool) {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b = append(b, c)
			continue
		}
		i++
		if i >= len(s) {
			return "", false
		}
		switch s[i] {
		case '"', '\\', '/':
			b = append(b, s[i])
		case 'n':
			b = append(b, '\n')
		case 't':
			b = append(b, '\t')
		case 'r':
			b = append(b, '\r')
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		default:
			return "", false
		}
	}
	return string(b), true
}

func noEscapes(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			return false
		}
	}
	return true
}

// arrayStart reads the '[' that opens a JSON array (after any whitespace)
// and returns the index of its first element, or empty=true for "[]" with
// nothing after it but whitespace; ok is false for anything else.
func arrayStart[S ~string | ~[]byte](s S) (i int, empty, ok bool) {
	i = skipSpace(s, 0)
	if i >= len(s) || s[i] != '[' {
		return 0, false, false
	}
	i = skipSpace(s, i+1)
	if i < len(s) && s[i] == ']' {
		return i, true, skipSpace(s, i+1) == len(s)
	}
	return i, false, true
}

// arrayNext reads what follows an element ending before i: a ',' and the
// index of the next element, or the closing ']' (end=true) with nothing after
// it but whitespace; ok is false for anything else.
func arrayNext[S ~string | ~[]byte](s S, i int) (next int, end, ok bool) {
	i = skipSpace(s, i)
	if i >= len(s) {
		return 0, false, false
	}
	switch s[i] {
	case ',':
		return skipSpace(s, i+1), false, true
	case ']':
		return i, true, skipSpace(s, i+1) == len(s)
	}
	return 0, false, false
}

// skipSpace returns the index of the first byte at or after i that is not
// JSON whitespace.
func skipSpace[S ~string | ~[]byte](s S, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\r') {
		i++
	}
	return i
}
