// Package gguf reads and writes GGUF files, the model container of ggml and
// llama.cpp (spec: shared/spec/gguf.md; versions 2 and 3, little-endian).
//
// # Reading
//
// Open memory-maps a file (WithMmap(false) reads it instead; Parse takes
// bytes already in memory) and validates it as an ordered checklist before
// anything is handed out. Every declared count and length is checked
// against the bytes left in the file (and against caps) before anything is
// allocated for it, so a reader never allocates more than a small multiple
// of the file size, and all size arithmetic is overflow-checked:
//
//  1. magic "GGUF" (ErrBadMagic), version 2 or 3 (ErrUnsupportedVersion;
//     ErrBigEndian for a byte-swapped version);
//  2. tensor and KV counts that the bytes left can hold (ErrBadCount);
//  3. metadata in file order: non-empty UTF-8 (ErrInvalidKey), unique
//     (ErrDuplicateKey) keys; known value types (ErrUnknownValueType);
//     strings and arrays that fit in the bytes left and under the caps
//     (ErrStringTooLong, ErrArrayTooLong, ErrNestingTooDeep;
//     WithMaxStringLength, WithMaxArrayLength, WithMaxArrayDepth);
//     general.alignment a UINT32 non-zero power of two (ErrBadAlignment);
//  4. tensor infos in file order: names of at most 63 bytes
//     (ErrNameTooLong), UTF-8 (ErrInvalidName; ggml does not check, gguf-py
//     does), unique (ErrDuplicateTensor); at most 4 dims
//     (ErrTooManyDims), each < 2^63 (ErrBadDim); element count and byte
//     size within int64 (ErrShapeOverflow); a ggml type Wick knows
//     (ErrUnknownType, from the type table, quant/ggmltype); ne[0] a multiple of the
//     block size (ErrPartialBlock);
//  5. data: offsets multiples of the alignment (ErrMisaligned), each
//     tensor exactly where the previous one's padded data ends, as ggml
//     requires (ErrOverlap, ErrGap), inside the file (ErrOutOfBounds).
//
// A truncated fixed-size field gives ErrTruncated (which also matches
// io.ErrUnexpectedEOF). Like ggml, the reader accepts dimensions of 0
// (zero-element tensors), tensors without dims (one element), BOOL bytes
// other than 0 and 1 (true) and a last tensor without trailing padding.
// Unlike ggml (which rejects them) it reads arrays of arrays, up to
// WithMaxArrayDepth levels; WithMaxArrayDepth(1) restores ggml's rule.
//
// Every failure is an *Error naming the file, tensor or key and the byte
// offset, wrapping one of the Err* sentinels, and in one class: ErrFormat
// (corrupt or hostile file), ErrLimit (over a configured limit) or
// ErrArgument (the caller's mistake). Operating-system errors come as they
// are (*fs.PathError).
//
// Metadata is a []KV in file order; a Value is typed (uint8 … float64,
// bool, string, arrays of those, arrays of arrays); read it with Type,
// ElemType, Any or As. TensorInfo.Dims are in ggml order (Dims[0] is the
// row length); Shape gives row-major order. TensorData returns a zero-copy
// view of the mapping; Release drops consumed pages from the resident set.
// A mapped file must not be truncated while in use (SIGBUS; see
// debug.SetPanicOnFault).
//
// # Writing
//
// Create (to a path) or NewWriter (to an io.Writer) returns a streaming
// Writer: AddKV and AddTensor declare everything, then tensor data is
// written in declaration order (WriteTensorData, or Write for arbitrary
// chunks), then Commit. Memory is bounded by the write buffer plus the
// header. Create writes a temporary file in the destination's directory
// (on Linux an unnamed one, which vanishes with a killed process; see
// io/internal/atomicfile), and Commit syncs it, puts it in place (refusing
// to replace an existing file unless Overwrite is given) and syncs the
// directory; any failure, Abort, or a done WithContext context drops the
// temporary file. Output is byte-identical to gguf-py's
// GGUFWriter for the same KVs, tensors and dims (tested on files it wrote)
// and is read back identically by gguf-py's GGUFReader.
//
// # Split models
//
// WithSplit makes Create write a split model as llama.cpp's
// llama-gguf-split --split writes it (metadata in the first part, the
// split.* keys, tensors in order, a new part when the next tensor would go
// over Split.MaxBytes of padded data or Split.MaxTensors tensors); the
// parts appear together on Commit or not at all. OpenModel reads a split
// model from its first part as one Model, checking that the parts fit
// together.
//
// The writer applies the reader's tensor checks, so whatever it writes,
// the reader (and ggml) accepts; arrays of arrays need AllowNestedArrays,
// since ggml rejects them.
package gguf
