package gguf

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// Error classes. Every *Error belongs to exactly one; test with errors.Is:
//
//	errors.Is(err, gguf.ErrFormat)   // the file breaks the format (corrupt or hostile)
//	errors.Is(err, gguf.ErrLimit)    // the file is over a limit set by an Option
//	errors.Is(err, gguf.ErrArgument) // the caller asked for something invalid
//
// Any other error (an *fs.PathError, context.Canceled) comes from the
// operating system or the caller's context.
var (
	ErrFormat   = errors.New("gguf: invalid file")
	ErrLimit    = errors.New("gguf: limit exceeded")
	ErrArgument = errors.New("gguf: invalid argument")
)

// The specific failures. An *Error wraps one of them; test with errors.Is.
var (
	// ErrTruncated: the file ends inside a fixed-size field of the header,
	// KV section or tensor infos. It also matches io.ErrUnexpectedEOF.
	ErrTruncated = fmt.Errorf("gguf: truncated file: %w", io.ErrUnexpectedEOF)
	// ErrBadMagic: the file does not start with "GGUF".
	ErrBadMagic = errors.New("gguf: not a GGUF file (bad magic)")
	// ErrBigEndian: the version field reads as a byte-swapped version, the
	// mark of a big-endian GGUF file, which Wick does not read.
	ErrBigEndian = errors.New("gguf: big-endian file")
	// ErrUnsupportedVersion: a version other than 2 and 3.
	ErrUnsupportedVersion = errors.New("gguf: unsupported version")
	// ErrBadCount: a tensor or KV count that is negative as int64 or that
	// the bytes left cannot hold.
	ErrBadCount = errors.New("gguf: impossible count")
	// ErrStringTooLong: a string longer than the bytes left in the file
	// (class ErrFormat) or than WithMaxStringLength (class ErrLimit).
	ErrStringTooLong = errors.New("gguf: string too long")
	// ErrArrayTooLong: an array whose count the bytes left cannot hold
	// (ErrFormat) or over WithMaxArrayLength (ErrLimit).
	ErrArrayTooLong = errors.New("gguf: array too long")
	// ErrNestingTooDeep: arrays of arrays nested deeper than
	// WithMaxArrayDepth (class ErrLimit).
	ErrNestingTooDeep = errors.New("gguf: arrays nested too deep")
	// ErrUnknownValueType: a metadata value type id of 13 or more.
	ErrUnknownValueType = errors.New("gguf: unknown metadata value type")
	// ErrInvalidKey: an empty metadata key, or one that is not valid UTF-8.
	ErrInvalidKey = errors.New("gguf: invalid metadata key")
	// ErrDuplicateKey: a metadata key that appears twice.
	ErrDuplicateKey = errors.New("gguf: duplicate metadata key")
	// ErrBadAlignment: general.alignment is not a UINT32, or not a non-zero
	// power of two.
	ErrBadAlignment = errors.New("gguf: bad general.alignment")
	// ErrInvalidName: a tensor name that is not valid UTF-8.
	ErrInvalidName = errors.New("gguf: invalid tensor name")
	// ErrNameTooLong: a tensor name of 64 bytes or more (ggml's limit is 63
	// plus the terminating NUL).
	ErrNameTooLong = errors.New("gguf: tensor name too long")
	// ErrDuplicateTensor: a tensor name that appears twice.
	ErrDuplicateTensor = errors.New("gguf: duplicate tensor name")
	// ErrTooManyDims: a tensor with more than 4 dimensions.
	ErrTooManyDims = errors.New("gguf: too many dimensions")
	// ErrBadDim: a dimension of 2^63 or more (negative as ggml's int64).
	ErrBadDim = errors.New("gguf: invalid dimension")
	// ErrShapeOverflow: a tensor's element count or byte size overflows int64.
	ErrShapeOverflow = errors.New("gguf: tensor size overflows")
	// ErrUnknownType: a tensor type id that is not a ggml type (or one ggml
	// has removed).
	ErrUnknownType = errors.New("gguf: unknown tensor type")
	// ErrPartialBlock: a row length (ne[0]) that is not a multiple of the
	// type's block size.
	ErrPartialBlock = errors.New("gguf: row length not a multiple of the block size")
	// ErrMisaligned: a tensor offset that is not a multiple of the alignment.
	ErrMisaligned = errors.New("gguf: misaligned tensor offset")
	// ErrOverlap: a tensor whose data starts before the previous tensor's
	// (padded) data ends.
	ErrOverlap = errors.New("gguf: tensor data overlaps")
	// ErrGap: a tensor whose data starts after the previous tensor's padded
	// data ends. ggml requires tensors to follow each other exactly.
	ErrGap = errors.New("gguf: gap before tensor data")
	// ErrOutOfBounds: a tensor's data (or the data section) ends beyond the
	// end of the file.
	ErrOutOfBounds = errors.New("gguf: tensor data beyond the end of the file")

	// ErrTensorNotFound: a lookup of a tensor name that is not there.
	ErrTensorNotFound = errors.New("gguf: tensor not found")
	// ErrInvalidValue: a Value the writer cannot encode (the zero Value, an
	// array of arrays whose elements are not arrays, a nested array without
	// AllowNestedArrays).
	ErrInvalidValue = errors.New("gguf: invalid value")
	// ErrHeaderWritten: AddKV or AddTensor after tensor data was written.
	ErrHeaderWritten = errors.New("gguf: header already written")
	// ErrWrongTensor: tensor data given for a tensor other than the next
	// one in declaration order.
	ErrWrongTensor = errors.New("gguf: tensor data out of order")
	// ErrSizeMismatch: tensor data of the wrong length, or more data than
	// the declared tensors hold.
	ErrSizeMismatch = errors.New("gguf: tensor data has the wrong size")
	// ErrIncomplete: Commit before every declared tensor's data was written.
	ErrIncomplete = errors.New("gguf: tensor data missing")
	// ErrInvalidOption: an option with an out-of-range value.
	ErrInvalidOption = errors.New("gguf: invalid option")
	// ErrClosed: use of a File after Close, or of a Writer after Commit,
	// Abort or a failure.
	ErrClosed = errors.New("gguf: closed")
)

// Error describes a failure with its context. Err is one of the sentinels
// above; the class (ErrFormat, ErrLimit, ErrArgument) is matched by Is.
type Error struct {
	Path   string // file the error is about; "" for an in-memory buffer
	Tensor string // tensor the error is about, or ""
	Key    string // metadata key the error is about, or ""
	Offset int64  // byte offset in the file where the problem is; -1 if none
	Err    error  // the specific failure, one of the Err* sentinels
	Detail string // what was found and what was expected
	class  error
}

// Error returns `gguf: <path>: tensor "<name>": <failure>: <detail> (at byte N)`,
// leaving out the parts that are empty.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("gguf: ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	if e.Tensor != "" {
		fmt.Fprintf(&b, "tensor %q: ", e.Tensor)
	}
	if e.Key != "" {
		fmt.Fprintf(&b, "key %q: ", e.Key)
	}
	b.WriteString(strings.TrimPrefix(e.Err.Error(), "gguf: "))
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

func argErr(tensor, key string, err error, format string, a ...any) *Error {
	return &Error{Tensor: tensor, Key: key, Offset: -1, Err: err, Detail: fmt.Sprintf(format, a...), class: ErrArgument}
}
