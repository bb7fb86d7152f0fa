package imatrix

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"unicode/utf8"
)

// legacyReader decodes the legacy format. Every length is checked against
// the bytes left before it is used, so nothing is allocated for bytes the
// file does not hold.
type legacyReader struct {
	b    []byte
	off  int64
	path string
}

func (r *legacyReader) left() int64 { return int64(len(r.b)) - r.off }

func (r *legacyReader) i32(entry, what string) (int32, error) {
	if r.left() < 4 {
		return 0, formatErr(r.path, entry, r.off, ErrTruncated, "%s: need 4 bytes, %d left", what, r.left())
	}
	v := int32(binary.LittleEndian.Uint32(r.b[r.off:]))
	r.off += 4
	return v, nil
}

// str reads an int32 length and that many bytes, which must form a
// non-empty UTF-8 string without NUL.
func (r *legacyReader) str(entry, what string) (string, error) {
	at := r.off
	n, err := r.i32(entry, what+" length")
	if err != nil {
		return "", err
	}
	if n < 0 {
		return "", formatErr(r.path, entry, at, ErrBadString, "%s length %d is negative", what, n)
	}
	if int64(n) > r.left() {
		return "", formatErr(r.path, entry, at, ErrTruncated, "%s of %d bytes, %d left", what, n, r.left())
	}
	s := r.b[r.off : r.off+int64(n)]
	if err := checkString(s); err != "" {
		return "", formatErr(r.path, entry, r.off, ErrBadString, "%s %q %s", what, s, err)
	}
	r.off += int64(n)
	return string(s), nil
}

func checkString(s []byte) string {
	switch {
	case len(s) == 0:
		return "is empty"
	case bytes.IndexByte(s, 0) >= 0:
		return "holds a NUL byte"
	case !utf8.Valid(s):
		return "is not valid UTF-8"
	}
	return ""
}

// Smallest legacy entry: name length, ncall, nval, one value (an empty
// name is rejected later, but the bound only has to be safe).
const minLegacyEntry = 4 + 4 + 4 + 4

// parseLegacy reads the format of llama-imatrix --output-format dat:
//
//	int32 n_entries (≥ 1)
//	n_entries × { int32 len; len bytes name; int32 ncall; int32 nval (≥ 1); nval × float32 }
//	optional trailer: int32 chunk_count [ int32 len; len bytes dataset ]
//
// all little-endian. llama.cpp's reader tolerates a partial or overlong
// trailer, negative lengths in it and names with NUL bytes; this reader
// rejects them, and duplicate names too (llama.cpp keeps the last).
func parseLegacy(data []byte, path string, o options) (*File, error) {
	r := &legacyReader{b: data, path: path}
	n, err := r.i32("", "entry count")
	if err != nil {
		return nil, err
	}
	if n < 1 {
		return nil, formatErr(path, "", 0, ErrNoEntries, "entry count %d; not an importance matrix (legacy format) file", n)
	}
	if int64(n) > r.left()/minLegacyEntry {
		return nil, formatErr(path, "", 0, ErrBadCount, "%d entries cannot fit in the %d bytes left", n, r.left())
	}
	if int64(n) > o.maxEntries {
		return nil, limitErr(path, "", 0, ErrBadCount, "%d entries; the limit is %d (WithMaxEntries)", n, o.maxEntries)
	}
	f := &File{path: path, format: FormatLegacy, data: data, entries: make([]Entry, 0, n)}
	seen := make(map[string]struct{}, n)
	for i := int32(0); i < n; i++ {
		name, err := r.str("", fmt.Sprintf("entry %d name", i))
		if err != nil {
			return nil, err
		}
		if _, dup := seen[name]; dup {
			return nil, formatErr(path, name, r.off, ErrDuplicateEntry, "entry %d repeats an earlier name", i)
		}
		seen[name] = struct{}{}
		ncall, err := r.i32(name, "ncall")
		if err != nil {
			return nil, err
		}
		at := r.off
		nval, err := r.i32(name, "value count")
		if err != nil {
			return nil, err
		}
		if nval < 1 {
			return nil, formatErr(path, name, at, ErrBadLength, "value count %d; need at least 1", nval)
		}
		if int64(nval) > r.left()/4 {
			return nil, formatErr(path, name, at, ErrTruncated, "%d values need %d bytes, %d left", nval, 4*int64(nval), r.left())
		}
		f.entries = append(f.entries, Entry{Name: name, Len: int(nval), Matrices: 1, NCall: ncall, offset: r.off})
		r.off += 4 * int64(nval)
	}
	if r.left() == 0 {
		return f, nil
	}
	chunks, err := r.i32("", "chunk count")
	if err != nil {
		return nil, err
	}
	f.chunkCount = int64(chunks)
	if r.left() == 0 {
		return f, nil
	}
	at := r.off
	dl, err := r.i32("", "dataset name length")
	if err != nil {
		return nil, err
	}
	switch {
	case dl < 0:
		return nil, formatErr(path, "", at, ErrBadString, "dataset name length %d is negative", dl)
	case dl > 0:
		r.off = at
		ds, err := r.str("", "dataset name")
		if err != nil {
			return nil, err
		}
		f.datasets = []string{ds}
	}
	if r.left() != 0 {
		return nil, formatErr(path, "", r.off, ErrTrailingData, "%d bytes after the dataset name", r.left())
	}
	return f, nil
}
