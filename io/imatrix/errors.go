package imatrix

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// Error classes. Every *Error belongs to exactly one; test with errors.Is:
//
//	errors.Is(err, imatrix.ErrFormat)   // the file is corrupt, hostile or unusable
//	errors.Is(err, imatrix.ErrLimit)    // the file is over a limit set by an Option
//	errors.Is(err, imatrix.ErrArgument) // the caller asked for something invalid
//
// Errors of the GGUF container itself come from package gguf unchanged
// (wrapped): test them with gguf.ErrFormat, gguf.ErrLimit. Any other error
// (an *fs.PathError) comes from the operating system.
var (
	ErrFormat   = errors.New("imatrix: invalid file")
	ErrLimit    = errors.New("imatrix: limit exceeded")
	ErrArgument = errors.New("imatrix: invalid argument")
)

// The specific failures. An *Error wraps one of them; test with errors.Is.
var (
	// ErrTruncated: the legacy file ends inside a field. It also matches
	// io.ErrUnexpectedEOF.
	ErrTruncated = fmt.Errorf("imatrix: truncated file: %w", io.ErrUnexpectedEOF)
	// ErrNoEntries: the file holds no entry (a legacy entry count below 1,
	// or a GGUF file without any <name>.in_sum2 / <name>.counts pair —
	// typically a model file given instead of an imatrix).
	ErrNoEntries = errors.New("imatrix: no entries")
	// ErrBadCount: a legacy entry count that the bytes left cannot hold or
	// over WithMaxEntries (class ErrLimit), or a GGUF .counts value that is
	// not a finite number in [0, 2^63).
	ErrBadCount = errors.New("imatrix: impossible count")
	// ErrBadString: an entry or dataset name with a negative length, empty,
	// not valid UTF-8, or holding a NUL byte.
	ErrBadString = errors.New("imatrix: invalid name")
	// ErrBadLength: an entry with no values (legacy nval < 1; an empty GGUF
	// tensor), or whose value count is not a multiple of its count count.
	ErrBadLength = errors.New("imatrix: invalid entry length")
	// ErrDuplicateEntry: two entries with the same name (legacy format; the
	// GGUF container already rejects duplicate tensors).
	ErrDuplicateEntry = errors.New("imatrix: duplicate entry")
	// ErrTrailingData: bytes after the legacy trailer (chunk count and
	// dataset name).
	ErrTrailingData = errors.New("imatrix: trailing data")
	// ErrUnpaired: a GGUF <name>.in_sum2 tensor without <name>.counts, or
	// the other way round.
	ErrUnpaired = errors.New("imatrix: unpaired sums and counts")
	// ErrBadType: a GGUF .in_sum2 or .counts tensor that is not F32.
	ErrBadType = errors.New("imatrix: tensor is not F32")
	// ErrBadMetadata: imatrix.datasets is not an array of strings, or
	// imatrix.chunk_count / imatrix.chunk_size is not a UINT32.
	ErrBadMetadata = errors.New("imatrix: bad metadata")
	// ErrMissingMetadata: a GGUF imatrix without imatrix.datasets,
	// imatrix.chunk_count and imatrix.chunk_size; llama-quantize refuses
	// such a file (see CheckQuantize).
	ErrMissingMetadata = errors.New("imatrix: missing imatrix metadata")
	// ErrNonFinite: a weight (a sum divided by its count) that is NaN or
	// ±Inf; llama-quantize refuses the whole file then.
	ErrNonFinite = errors.New("imatrix: non-finite value")

	// ErrEntryNotFound: a lookup of an entry name the file does not hold.
	ErrEntryNotFound = errors.New("imatrix: entry not found")
	// ErrInvalidOption: an option with an out-of-range value.
	ErrInvalidOption = errors.New("imatrix: invalid option")
	// ErrClosed: use of a File after Close.
	ErrClosed = errors.New("imatrix: closed")
)

// Error describes a failure with its context. Err is one of the sentinels
// above; the class (ErrFormat, ErrLimit, ErrArgument) is matched by Is.
type Error struct {
	Path   string // file the error is about; "" for an in-memory buffer
	Entry  string // entry the error is about, or ""
	Offset int64  // byte offset in the file where the problem is; -1 if none
	Err    error  // the specific failure, one of the Err* sentinels
	Detail string // what was found and what was expected
	class  error
}

// Error returns `imatrix: <path>: entry "<name>": <failure>: <detail> (at byte N)`,
// leaving out the parts that are empty.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("imatrix: ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	if e.Entry != "" {
		fmt.Fprintf(&b, "entry %q: ", e.Entry)
	}
	b.WriteString(strings.TrimPrefix(e.Err.Error(), "imatrix: "))
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	if e.Offset >= 0 {
		fmt.Fprintf(&b, " (at byte %d)", e.Offset)
	}
	return b.String()
}

// Unwrap returns the specific failure.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is the class of e.
func (e *Error) Is(target error) bool { return target != nil && target == e.class }

func formatErr(path, entry string, at int64, err error, format string, a ...any) *Error {
	return &Error{Path: path, Entry: entry, Offset: at, Err: err, Detail: fmt.Sprintf(format, a...), class: ErrFormat}
}

func limitErr(path, entry string, at int64, err error, format string, a ...any) *Error {
	return &Error{Path: path, Entry: entry, Offset: at, Err: err, Detail: fmt.Sprintf(format, a...), class: ErrLimit}
}

func argErr(path, entry string, err error, format string, a ...any) *Error {
	return &Error{Path: path, Entry: entry, Offset: -1, Err: err, Detail: fmt.Sprintf(format, a...), class: ErrArgument}
}
