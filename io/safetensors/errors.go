package safetensors

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// Error classes. Every *Error belongs to exactly one; test with errors.Is:
//
//	errors.Is(err, safetensors.ErrFormat)   // the file breaks the format (corrupt or hostile)
//	errors.Is(err, safetensors.ErrLimit)    // the file is over a limit set by an Option
//	errors.Is(err, safetensors.ErrArgument) // the caller asked for something invalid
//
// Any other error (an *fs.PathError, for instance) comes from the operating
// system.
var (
	ErrFormat   = errors.New("safetensors: invalid file")
	ErrLimit    = errors.New("safetensors: limit exceeded")
	ErrArgument = errors.New("safetensors: invalid argument")
)

// The specific failures. An *Error wraps one of them; test with errors.Is.
// The reader's checks run in the order the package documentation lists, so
// a file with several defects reports the first.
var (
	// ErrTruncated: the file ends inside the 8-byte header length or inside
	// the header. It also matches io.ErrUnexpectedEOF.
	ErrTruncated = fmt.Errorf("safetensors: truncated file: %w", io.ErrUnexpectedEOF)
	// ErrHeaderTooLarge: the header length is over the cap (WithMaxHeaderSize).
	ErrHeaderTooLarge = errors.New("safetensors: header too large")
	// ErrInvalidUTF8: the header is not valid UTF-8.
	ErrInvalidUTF8 = errors.New("safetensors: header is not valid UTF-8")
	// ErrInvalidJSON: the header is not one well-formed JSON value
	// (followed by nothing but whitespace).
	ErrInvalidJSON = errors.New("safetensors: header is not well-formed JSON")
	// ErrInvalidHeader: the JSON is well-formed but not a safetensors header:
	// not an object, a tensor entry that is not an object, a missing or
	// repeated field, a field of the wrong JSON type, a number that is not
	// a non-negative integer, data_offsets not a pair.
	ErrInvalidHeader = errors.New("safetensors: invalid header")
	// ErrInvalidMetadata: __metadata__ is not an object of strings.
	ErrInvalidMetadata = errors.New("safetensors: __metadata__ is not a string-to-string map")
	// ErrDuplicateName: a tensor name or metadata key appears twice.
	// (Go's encoding/json and the reference reader keep the last one
	// silently; this reader refuses.)
	ErrDuplicateName = errors.New("safetensors: duplicate name")
	// ErrUnknownDType: a dtype string that the format does not define.
	ErrUnknownDType = errors.New("safetensors: unknown dtype")
	// ErrShapeOverflow: a dimension, the element count or the byte size of
	// a tensor does not fit in int64.
	ErrShapeOverflow = errors.New("safetensors: shape overflows")
	// ErrPartialByte: the elements of a sub-byte dtype (F4, F6_*) do not
	// fill a whole number of bytes.
	ErrPartialByte = errors.New("safetensors: tensor does not fill whole bytes")
	// ErrInvalidOffsets: data_offsets [begin, end] with begin > end.
	ErrInvalidOffsets = errors.New("safetensors: data_offsets end before they begin")
	// ErrSizeMismatch: shape × dtype size differs from end − begin (also:
	// a buffer of the wrong size given to DecodeFloat32 or a writer).
	ErrSizeMismatch = errors.New("safetensors: shape and dtype do not match the byte size")
	// ErrOverlap: two tensors' byte ranges overlap.
	ErrOverlap = errors.New("safetensors: tensors overlap")
	// ErrGap: bytes of the data section that no tensor covers (between two
	// tensors or after the last one).
	ErrGap = errors.New("safetensors: gap in the data section")
	// ErrOutOfBounds: a tensor's byte range ends beyond the end of the file.
	ErrOutOfBounds = errors.New("safetensors: tensor data beyond the end of the file")

	// ErrInvalidIndex: model.safetensors.index.json is not valid JSON with
	// a weight_map object of tensor name → shard file name.
	ErrInvalidIndex = errors.New("safetensors: invalid index")
	// ErrBadShardName: the index names a shard that is not a plain file name
	// in the model directory (a path, "..", empty).
	ErrBadShardName = errors.New("safetensors: bad shard file name")
	// ErrMissingShard: a shard listed in the index does not exist. The
	// operating system's error is wrapped too.
	ErrMissingShard = errors.New("safetensors: missing shard")
	// ErrIndexMismatch: a tensor listed in the index is not in its shard.
	ErrIndexMismatch = errors.New("safetensors: tensor listed in the index is not in its shard")
	// ErrNoModel: a directory holds neither an index nor model.safetensors.
	ErrNoModel = errors.New("safetensors: no model found")

	// ErrTensorNotFound: a lookup of a tensor name that is not there.
	ErrTensorNotFound = errors.New("safetensors: tensor not found")
	// ErrNotConvertible: the dtype has no float32 conversion (C64, F4, F6_*).
	ErrNotConvertible = errors.New("safetensors: dtype has no float32 conversion")
	// ErrInvalidName: a tensor name the writer refuses ("__metadata__").
	ErrInvalidName = errors.New("safetensors: invalid tensor name")
	// ErrInvalidShape: a negative dimension given to the writer.
	ErrInvalidShape = errors.New("safetensors: invalid shape")
	// ErrInvalidOption: an Option with an out-of-range value.
	ErrInvalidOption = errors.New("safetensors: invalid option")
	// ErrClosed: the File or Model was closed.
	ErrClosed = errors.New("safetensors: file closed")
)

// Error describes a failure with its context. Err is one of the sentinels
// above; the class (ErrFormat, ErrLimit, ErrArgument) is matched by Is.
type Error struct {
	Path   string // file the error is about; "" for an in-memory buffer
	Tensor string // tensor (or metadata key) the error is about, or ""
	Err    error  // the specific failure, one of the Err* sentinels
	Detail string // what was found and what was expected
	class  error
	cause  error // an operating-system error behind Err, or nil
}

// Error returns "safetensors: <path>: tensor "<name>": <failure>: <detail>",
// leaving out the parts that are empty.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("safetensors: ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	if e.Tensor != "" {
		fmt.Fprintf(&b, "tensor %q: ", e.Tensor)
	}
	b.WriteString(strings.TrimPrefix(e.Err.Error(), "safetensors: "))
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	return b.String()
}

// Unwrap returns the specific failure and, for ErrMissingShard, the
// operating system's error.
func (e *Error) Unwrap() []error {
	if e.cause != nil {
		return []error{e.Err, e.cause}
	}
	return []error{e.Err}
}

// Is reports whether target is the class of e.
func (e *Error) Is(target error) bool { return target != nil && target == e.class }

func newErr(class error, path, tensor string, err error, format string, a ...any) *Error {
	return &Error{Path: path, Tensor: tensor, Err: err, Detail: fmt.Sprintf(format, a...), class: class}
}

func formatErr(path, tensor string, err error, format string, a ...any) *Error {
	return newErr(ErrFormat, path, tensor, err, format, a...)
}

func argErr(path, tensor string, err error, format string, a ...any) *Error {
	return newErr(ErrArgument, path, tensor, err, format, a...)
}
