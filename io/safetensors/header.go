package safetensors

import (
	"bytes"
	"encoding/json"
	"io"
	"strconv"
)

// This file parses a safetensors JSON header with a token decoder, so that
// duplicate names are seen (encoding/json keeps the last one silently) and
// the JSON order of entries is kept. It checks the JSON shape only; sizes,
// offsets and layout are checked by parse in reader.go.

// headerEntry is one tensor entry as written in the header.
type headerEntry struct {
	name    string
	dtype   DType
	shape   []uint64
	offsets [2]uint64
}

// maxSkipDepth bounds the nesting of unknown JSON values that the parser
// skips (unknown fields of a tensor entry).
const maxSkipDepth = 64

type jsonParser struct {
	dec  *json.Decoder
	path string
}

func newJSONParser(data []byte, path string) *jsonParser {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return &jsonParser{dec: dec, path: path}
}

// token returns the next token; a syntax error becomes ErrInvalidJSON.
func (p *jsonParser) token(ctx string) (json.Token, error) {
	tok, err := p.dec.Token()
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, formatErr(p.path, ctx, ErrInvalidJSON, "%v (near byte %d of the JSON)", err, p.dec.InputOffset())
	}
	return tok, nil
}

// delim reads the next token and requires it to be the delimiter d.
func (p *jsonParser) delim(d json.Delim, ctx, what string, schemaErr error) error {
	tok, err := p.token(ctx)
	if err != nil {
		return err
	}
	if got, ok := tok.(json.Delim); !ok || got != d {
		return formatErr(p.path, ctx, schemaErr, "%s must be a JSON %s, found %s", what, delimKind(d), tokenKind(tok))
	}
	return nil
}

// str reads a JSON string.
func (p *jsonParser) str(ctx, what string, schemaErr error) (string, error) {
	tok, err := p.token(ctx)
	if err != nil {
		return "", err
	}
	s, ok := tok.(string)
	if !ok {
		return "", formatErr(p.path, ctx, schemaErr, "%s must be a string, found %s", what, tokenKind(tok))
	}
	return s, nil
}

// uint reads element i of the array field, a JSON number that must be a
// non-negative integer below 2^64.
func (p *jsonParser) uint(ctx, field string, i int) (uint64, error) {
	tok, err := p.token(ctx)
	if err != nil {
		return 0, err
	}
	n, ok := tok.(json.Number)
	if !ok {
		return 0, formatErr(p.path, ctx, ErrInvalidHeader, "%s[%d] must be a non-negative integer, found %s", field, i, tokenKind(tok))
	}
	v, err := strconv.ParseUint(string(n), 10, 64)
	if err != nil {
		return 0, formatErr(p.path, ctx, ErrInvalidHeader, "%s[%d] = %s is not an integer in [0, 2^64)", field, i, n)
	}
	return v, nil
}

// skip consumes one JSON value of any kind.
func (p *jsonParser) skip(ctx string) error {
	depth := 0
	for {
		tok, err := p.token(ctx)
		if err != nil {
			return err
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{', '[':
				depth++
				if depth > maxSkipDepth {
					return formatErr(p.path, ctx, ErrInvalidHeader, "unknown field nested deeper than %d levels", maxSkipDepth)
				}
			default:
				depth--
			}
		}
		if depth == 0 {
			return nil
		}
	}
}

// end requires that nothing but whitespace follows the top-level value.
func (p *jsonParser) end() error {
	tok, err := p.dec.Token()
	if err == io.EOF {
		return nil
	}
	if err == nil {
		return formatErr(p.path, "", ErrInvalidJSON, "unexpected %s after the header object (at byte %d)", tokenKind(tok), p.dec.InputOffset())
	}
	return formatErr(p.path, "", ErrInvalidJSON, "%v after the header object", err)
}

// parseHeader parses the JSON header into its entries (in JSON order) and
// metadata (nil when absent or null).
func parseHeader(data []byte, path string) ([]headerEntry, map[string]string, error) {
	p := newJSONParser(data, path)
	if err := p.delim('{', "", "the header", ErrInvalidHeader); err != nil {
		return nil, nil, err
	}
	var (
		entries  []headerEntry
		metadata map[string]string
		seen     = map[string]bool{}
	)
	for p.dec.More() {
		name, err := p.str("", "a key", ErrInvalidJSON)
		if err != nil {
			return nil, nil, err
		}
		if seen[name] {
			return nil, nil, formatErr(path, name, ErrDuplicateName, "the header names it twice")
		}
		seen[name] = true
		if name == "__metadata__" {
			if metadata, err = p.metadata(); err != nil {
				return nil, nil, err
			}
			continue
		}
		e, err := p.entry(name)
		if err != nil {
			return nil, nil, err
		}
		entries = append(entries, e)
	}
	if _, err := p.token(""); err != nil { // the closing '}'
		return nil, nil, err
	}
	if err := p.end(); err != nil {
		return nil, nil, err
	}
	return entries, metadata, nil
}

// metadata parses the value of __metadata__: null or an object of strings.
func (p *jsonParser) metadata() (map[string]string, error) {
	const ctx = "__metadata__"
	tok, err := p.token(ctx)
	if err != nil {
		return nil, err
	}
	if tok == nil {
		return nil, nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, formatErr(p.path, ctx, ErrInvalidMetadata, "found %s instead of an object", tokenKind(tok))
	}
	m := map[string]string{}
	for p.dec.More() {
		k, err := p.str(ctx, "a key", ErrInvalidJSON)
		if err != nil {
			return nil, err
		}
		if _, dup := m[k]; dup {
			return nil, formatErr(p.path, ctx, ErrDuplicateName, "key %q appears twice", k)
		}
		v, err := p.str(ctx, "value of "+strconv.Quote(k), ErrInvalidMetadata)
		if err != nil {
			return nil, err
		}
		m[k] = v
	}
	if _, err := p.token(ctx); err != nil {
		return nil, err
	}
	return m, nil
}

// entry parses one tensor entry {"dtype": ..., "shape": [...], "data_offsets": [b, e]}.
// Unknown fields are skipped, as the reference reader does.
func (p *jsonParser) entry(name string) (headerEntry, error) {
	e := headerEntry{name: name}
	if err := p.delim('{', name, "the tensor entry", ErrInvalidHeader); err != nil {
		return e, err
	}
	var haveDType, haveShape, haveOffsets bool
	for p.dec.More() {
		field, err := p.str(name, "a key", ErrInvalidJSON)
		if err != nil {
			return e, err
		}
		var have *bool
		switch field {
		case "dtype":
			have = &haveDType
		case "shape":
			have = &haveShape
		case "data_offsets":
			have = &haveOffsets
		default:
			if err := p.skip(name); err != nil {
				return e, err
			}
			continue
		}
		if *have {
			return e, formatErr(p.path, name, ErrInvalidHeader, "field %q appears twice", field)
		}
		*have = true
		switch field {
		case "dtype":
			s, err := p.str(name, "dtype", ErrInvalidHeader)
			if err != nil {
				return e, err
			}
			d, ok := ParseDType(s)
			if !ok {
				return e, formatErr(p.path, name, ErrUnknownDType, "%q is not one of %v", s, DTypes())
			}
			e.dtype = d
		case "shape":
			if err := p.delim('[', name, "shape", ErrInvalidHeader); err != nil {
				return e, err
			}
			e.shape = []uint64{}
			for p.dec.More() {
				v, err := p.uint(name, "shape", len(e.shape))
				if err != nil {
					return e, err
				}
				e.shape = append(e.shape, v)
			}
			if _, err := p.token(name); err != nil {
				return e, err
			}
		case "data_offsets":
			if err := p.delim('[', name, "data_offsets", ErrInvalidHeader); err != nil {
				return e, err
			}
			n := 0
			for p.dec.More() {
				v, err := p.uint(name, "data_offsets", n)
				if err != nil {
					return e, err
				}
				if n < 2 {
					e.offsets[n] = v
				}
				n++
			}
			if _, err := p.token(name); err != nil {
				return e, err
			}
			if n != 2 {
				return e, formatErr(p.path, name, ErrInvalidHeader, "data_offsets has %d entries, expected 2 ([begin, end])", n)
			}
		}
	}
	if _, err := p.token(name); err != nil {
		return e, err
	}
	for _, f := range []struct {
		have bool
		name string
	}{{haveDType, "dtype"}, {haveShape, "shape"}, {haveOffsets, "data_offsets"}} {
		if !f.have {
			return e, formatErr(p.path, name, ErrInvalidHeader, "missing field %q", f.name)
		}
	}
	return e, nil
}

func delimKind(d json.Delim) string {
	if d == '[' {
		return "array"
	}
	return "object"
}

func tokenKind(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '{':
			return "an object"
		case '[':
			return "an array"
		}
		return "'" + v.String() + "'"
	case string:
		return "a string"
	case json.Number:
		return "the number " + string(v)
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return "an unknown token"
}
