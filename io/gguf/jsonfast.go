package gguf

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
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
// and of valid UTF-8 is taken as it is, a substring of one copy of raw; the
// one-character escapes (\" \\ \/ \n \t \r \b \f) are decoded here, into
// one buffer shared by the array; a string with a \u escape is decoded by
// encoding/json alone.
//
// Two checks of the whole array let the loop jump from quote to quote
// (strings.IndexByte) instead of looking at every byte: that raw is valid
// UTF-8 (validUTF8; then so is every element, cut at ASCII quotes) and that it holds
// no control character (which JSON allows only as whitespace between
// elements, never inside a string). The next backslash is looked for once
// per backslash, not once per element. An array that fails either check
// takes the byte-by-byte loop, quickStringsBytewise.
func quickStrings(raw []byte) (out []string, ok bool) {
	text := string(raw) // one copy: every plain element is a substring of it
	i, empty, ok := arrayStart(text)
	if !ok {
		return nil, false
	} else if empty {
		return []string{}, true
	}
	out = make([]string, 0, bytes.Count(raw, []byte{','})+1)
	if valid := validUTF8(text); !valid || hasControl(text) {
		return quickStringsBytewise(raw, text, i, out, valid)
	}
	// bs is the index of the first backslash at or after i (len(text) if
	// none), found once per backslash rather than once per element. An
	// element with one has its escapes decoded into arena; those elements
	// become substrings of one string made of arena at the end (fixes).
	bs := nextByte(text, 0, '\\')
	var arena []byte
	type fix struct{ k, off, end int }
	var fixes []fix
	for {
		if i >= len(text) || text[i] != '"' || bs < i {
			return nil, false // a backslash between elements is not JSON either
		}
		start := i
		q := strings.IndexByte(text[i+1:], '"')
		if q < 0 {
			return nil, false
		}
		i += 1 + q
		s := text[start+1 : i]
		if bs < i { // an escape, and the quote found may be an escaped one
			if arena == nil { // one buffer: what is decoded is never longer than what is left of text
				arena = make([]byte, 0, len(text)-start)
			}
			off := len(arena)
			arena = append(arena, text[start+1:bs]...)
			j, ok := unescapeInto(&arena, text, bs)
			if j < 0 {
				return nil, false // no closing quote, or an escape JSON does not have
			}
			i = j
			if ok {
				fixes = append(fixes, fix{len(out), off, len(arena)})
				s = ""
			} else { // a \u escape: encoding/json decodes this element
				arena = arena[:off]
				if i, ok = closingQuote(text, start+1); !ok {
					return nil, false
				}
				var u string // not s: its address would move s to the heap at every element
				if json.Unmarshal(raw[start:i+1], &u) != nil {
					return nil, false
				}
				s = u
			}
			bs = nextByte(text, i+1, '\\')
		}
		out = append(out, s)
		var end bool
		if i, end, ok = arrayNext(text, i+1); !ok {
			return nil, false
		} else if end {
			if len(fixes) > 0 {
				all := string(arena)
				for _, f := range fixes {
					out[f.k] = all[f.off:f.end]
				}
			}
			return out, true
		}
	}
}

// nextByte is the index of the first c in text at or after i, len(text) if
// there is none.
func nextByte(text string, i int, c byte) int {
	if k := strings.IndexByte(text[i:], c); k >= 0 {
		return i + k
	}
	return len(text)
}

// unescapeInto decodes a JSON string's body, or the rest of it, from
// text[i] (its first backslash, or the body's start) to the closing quote,
// appending it to *dst, and
// returns the closing quote's index. ok is false, with *dst partly written,
// when the body holds a \u escape (which the caller leaves to
// encoding/json); j is -1 when there is no closing quote or an escape is not
// one of JSON's. The string's body must hold no raw control character
// (quickStrings checks the whole array, quickStringsBytewise each body).
func unescapeInto(dst *[]byte, text string, i int) (j int, ok bool) {
	b := *dst
	for ; i < len(text); i++ {
		c := text[i]
		if c == '"' {
			*dst = b
			return i, true
		}
		if c != '\\' {
			b = append(b, c)
			continue
		}
		if i++; i >= len(text) {
			return -1, false
		}
		if text[i] == 'u' {
			return i, false
		}
		e, ok := oneCharEscape(text[i])
		if !ok {
			return -1, false
		}
		b = append(b, e)
	}
	return -1, false
}

// closingQuote returns the index of the quote that closes the JSON string
// whose body starts at text[i], skipping escaped characters.
func closingQuote(text string, i int) (int, bool) {
	for ; i < len(text); i++ {
		switch text[i] {
		case '"':
			return i, true
		case '\\':
			i++ // the escaped character (checked by unescapeInto or encoding/json)
		}
	}
	return 0, false
}

// hasControl reports whether s holds a byte below 0x20, eight bytes at a
// time: a byte b < 0x20 is one where b − 0x20 borrows and b's top bit is
// clear; a borrow only propagates upwards from such a byte, so the test
// finds one exactly when there is one.
func hasControl(s string) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(s); i += 8 {
		if w := le64(s, i); (w-0x20*ones)&^w&highs != 0 {
			return true
		}
	}
	for ; i < len(s); i++ {
		if s[i] < 0x20 {
			return true
		}
	}
	return false
}

// validUTF8 is utf8.ValidString, eight bytes at a time while the text is
// ASCII and two-byte sequences, as most of a vocabulary is (utf8.ValidString
// goes rune by rune through such text, with a branch per byte that the
// mix of ASCII and non-ASCII makes unpredictable).
//
// In a block of eight bytes (byte k in bits 8k…8k+7 of w), the top bits
// classify each byte: 0xxxxxxx ASCII, 10xxxxxx a continuation, 110xxxxx
// the lead byte of a two-byte sequence (valid unless it is 0xC0 or 0xC1,
// whose bits 1–4 are zero), 111xxxxx the lead of a longer sequence. Such
// text is valid exactly when every continuation byte directly follows a
// lead byte and every lead byte is directly followed by one: the
// continuation mask equals the lead mask moved up one byte, plus the lead
// that ended the block before (carry). A block where this fails, or that
// holds a longer sequence's lead, is checked by utf8.ValidString, from the
// start of the sequence it begins in to the first byte after it that is
// not a continuation byte: cutting valid UTF-8 before a byte that is not a
// continuation leaves two valid pieces, and cutting invalid UTF-8 anywhere
// leaves an invalid piece, so the pieces decide for the whole.
func validUTF8(s string) bool {
	const (
		highs = 0x8080808080808080
		ones  = 0x0101010101010101
	)
	var carry uint64 // 0x80 when the last byte seen is a two-byte sequence's lead
	i := 0
	for i+8 <= len(s) {
		w := le64(s, i)
		hi := w & highs
		if hi|carry == 0 {
			i += 8
			continue
		}
		bit6, bit5 := (w<<1)&highs, (w<<2)&highs
		lead, cont := hi&bit6&^bit5, hi&^bit6
		t := w & (0x1E * ones)             // bits 1–4 of each byte, ≤ 0x1E: adding 0x7F cannot carry out
		nonzero := (t + 0x7F*ones) & highs // top bit set where t ≠ 0
		if hi&bit6&bit5 != 0 || lead&^nonzero != 0 || cont != lead<<8|carry {
			start, k := i-int(carry>>7), i+8
			for end := min(k+3, len(s)); k < end && s[k]&0xC0 == 0x80; k++ {
			}
			if !utf8.ValidString(s[start:k]) {
				return false
			}
			i, carry = k, 0
			continue
		}
		i, carry = i+8, lead>>56
	}
	return utf8.ValidString(s[i-int(carry>>7):])
}

// le64 reads the eight bytes of s at i as a little-endian word (the
// compiler makes this one load).
func le64(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// quickStringsBytewise is quickStrings from its first element (at i of
// text, raw as a string; out empty, with room for the elements) for an
// array that is not valid UTF-8 (valid=false) or holds control
// characters: every byte of every element is looked at.
func quickStringsBytewise(raw []byte, text string, i int, out []string, valid bool) (_ []string, ok bool) {
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
		} else if !plain && strings.IndexByte(s, '\\') >= 0 {
			var b []byte
			if _, ok := unescapeInto(&b, text, start+1); ok {
				s = string(b)
			} else if json.Unmarshal(raw[start:i+1], &s) != nil {
				return nil, false
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

// oneCharEscape is the byte that the JSON escape \c stands for, ok=false
// when c is not one of the one-character escapes (\u is not).
func oneCharEscape(c byte) (byte, bool) {
	switch c {
	case '"', '\\', '/':
		return c, true
	case 'n':
		return '\n', true
	case 't':
		return '\t', true
	case 'r':
		return '\r', true
	case 'b':
		return '\b', true
	case 'f':
		return '\f', true
	}
	return 0, false
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

// CutMember finds the array that is the value of the top-level member name
// of the JSON object doc and decodes it as metadata entries (as
// []KV's UnmarshalJSON would); rest is doc with that array replaced by
// null. It is how a conversion plan's metadata, most of its bytes, is read
// without encoding/json scanning it twice (once to check the whole
// document, once to find the end of each entry) before the fast paths
// read it again: the caller decodes rest with encoding/json, which checks
// everything else, and sets the metadata field from kvs.
//
// ok is false when doc is not of that shape (not an object, a key with an
// escape or a non-ASCII byte, name missing or another key equal to it
// under case folding, which encoding/json would also match, a value that
// is not an array) or when an entry does not decode; the caller then
// decodes the whole of doc with encoding/json, which gives the result or
// the error message it always gave. When ok is true, rest is valid JSON
// exactly when doc is, since the array put back in place of null is.
func CutMember(doc []byte, name string) (rest []byte, kvs []KV, ok bool) {
	start, end, kvs, ok := memberKVs(doc, name)
	if !ok {
		return nil, nil, false
	}
	rest = make([]byte, 0, len(doc)-(end-start)+4)
	rest = append(append(append(rest, doc[:start]...), "null"...), doc[end:]...)
	return rest, kvs, true
}

// memberKVs returns where the value of the top-level member name of the
// object doc starts and ends, if it is an array, and that array decoded by
// quickKVsAt (see CutMember). The other members' values are skipped.
func memberKVs(doc []byte, name string) (start, end int, kvs []KV, ok bool) {
	i := skipSpace(doc, 0)
	if i >= len(doc) || doc[i] != '{' {
		return 0, 0, nil, false
	}
	found, bs := false, -1
	for i = skipSpace(doc, i+1); ; {
		if i >= len(doc) || doc[i] != '"' {
			return 0, 0, nil, false
		}
		j, ok := skipString(doc, i, &bs)
		if !ok {
			return 0, 0, nil, false
		}
		key := doc[i+1 : j-1]
		for _, c := range key {
			if c == '\\' || c >= utf8.RuneSelf {
				return 0, 0, nil, false
			}
		}
		i = skipSpace(doc, j)
		if i >= len(doc) || doc[i] != ':' {
			return 0, 0, nil, false
		}
		i = skipSpace(doc, i+1)
		v := i
		if bytes.EqualFold(key, []byte(name)) {
			if found || string(key) != name || i >= len(doc) || doc[v] != '[' {
				return 0, 0, nil, false
			}
			if kvs, i, ok = quickKVsAt(doc, v, &bs); !ok {
				return 0, 0, nil, false
			}
			found, start, end = true, v, i
		} else if i, ok = skipValue(doc, i, &bs); !ok {
			return 0, 0, nil, false
		}
		i = skipSpace(doc, i)
		if i >= len(doc) {
			return 0, 0, nil, false
		}
		if doc[i] == '}' {
			return start, end, kvs, found
		}
		if doc[i] != ',' {
			return 0, 0, nil, false
		}
		i = skipSpace(doc, i+1)
	}
}

// quickKVsAt decodes the JSON array of metadata entries that starts at
// b[i] (a '['), each entry with KV.UnmarshalJSON, and returns the index
// after its closing bracket; ok=false on anything else. bs is skipString's.
func quickKVsAt(b []byte, i int, bs *int) (kvs []KV, end int, ok bool) {
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return []KV{}, i + 1, true
	}
	for {
		j, ok := skipValue(b, i, bs)
		if !ok {
			return nil, 0, false
		}
		var kv KV
		if kv.UnmarshalJSON(b[i:j]) != nil {
			return nil, 0, false
		}
		kvs = append(kvs, kv)
		if i = skipSpace(b, j); i >= len(b) {
			return nil, 0, false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case ']':
			return kvs, i + 1, true
		default:
			return nil, 0, false
		}
	}
}

// skipValue returns the index just after the JSON value that starts at
// b[i] (bs is skipString's). It finds the end of every valid value; it does not check the value
// (brackets of either kind count alike, scalars end at the next delimiter),
// which is left to whoever decodes it.
func skipValue(b []byte, i int, bs *int) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	switch b[i] {
	case '"':
		return skipString(b, i, bs)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				j, ok := skipString(b, i, bs)
				if !ok {
					return 0, false
				}
				i = j
				continue
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1, true
				}
			}
			i++
		}
		return 0, false
	}
	for j := i; j < len(b); j++ {
		switch b[j] {
		case ',', ']', '}', ':', ' ', '\t', '\n', '\r':
			return j, j > i
		}
	}
	return len(b), true
}

// skipString returns the index just after the JSON string that starts at
// b[i] (a quote), skipping escaped characters; the string's bytes are not
// checked. *bs remembers where the next backslash is between calls: when
// *bs ≥ i, b holds no backslash in [i, *bs) and *bs is one or len(b);
// otherwise it is looked for again (start with *bs = -1).
func skipString(b []byte, i int, bs *int) (int, bool) {
	for i++; ; {
		q := bytes.IndexByte(b[i:], '"')
		if q < 0 {
			return 0, false
		}
		if *bs < i {
			if k := bytes.IndexByte(b[i:], '\\'); k >= 0 {
				*bs = i + k
			} else {
				*bs = len(b)
			}
		}
		if *bs > i+q {
			return i + q + 1, true
		}
		i = *bs + 2 // past the backslash and the character it escapes
		if i > len(b) {
			return 0, false
		}
	}
}
