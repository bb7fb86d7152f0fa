// Package safetensors reads and writes safetensors files, the tensor
// container of Hugging Face models, and opens sharded models through their
// model.safetensors.index.json.
//
// # Format
//
// A file is an 8-byte little-endian header length N, N bytes of UTF-8 JSON,
// then the data section. The JSON is an object mapping each tensor name to
// {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the
// data section), plus an optional "__metadata__" object of strings. Tensor
// data is little-endian, row-major.
//
// # Reading
//
// Open memory-maps a file (WithMmap(false) reads it instead; Parse takes
// bytes already in memory) and validates the header as an ordered
// checklist before anything is handed out:
//
//  1. the header length is present (ErrTruncated), under the cap
//     (ErrHeaderTooLarge, WithMaxHeaderSize, default 100 MiB) and inside
//     the file (ErrTruncated);
//  2. the header is UTF-8 (ErrInvalidUTF8) and exactly one JSON object
//     (ErrInvalidJSON), shaped as above (ErrInvalidHeader,
//     ErrInvalidMetadata), with no name twice (ErrDuplicateName: Go's
//     encoding/json and the reference reader silently keep the last) and
//     known dtypes (ErrUnknownDType);
//  3. per tensor, in header order: element count and byte size computed
//     with overflow checks (ErrShapeOverflow, ErrPartialByte for sub-byte
//     dtypes), begin ≤ end (ErrInvalidOffsets), end − begin equal to the
//     size (ErrSizeMismatch), end inside the file (ErrOutOfBounds);
//  4. sorted by offset, the ranges tile the data section exactly
//     (ErrOverlap, ErrGap — trailing bytes are a gap).
//
// Every failure is an *Error naming the file and tensor, wrapping one of
// those sentinels, and belonging to a class: ErrFormat (the file is
// corrupt or hostile), ErrLimit (over a configured limit) or ErrArgument
// (the caller asked for something invalid). Operating-system failures are
// returned as they come (*fs.PathError). Files the reference reader
// accepts are accepted, with deliberate exceptions: duplicate names,
// dimensions of 2^63 or more (possible there when another dimension is 0),
// and unknown fields nested deeper than 64 levels.
//
// Data returns a zero-copy, read-only view of a tensor's bytes; Release
// drops a consumed tensor's pages from the resident set (madvise
// MADV_DONTNEED) so that a pass over a large model keeps memory bounded;
// Float32 and DecodeFloat32 convert every dtype but C64, F4 and F6_* to
// float32 (exhaustively tested against numpy and ml_dtypes for the 8- and
// 16-bit dtypes). A mapped file must not be truncated while in use: the
// kernel would deliver SIGBUS on access, which Go turns into a fatal error
// unless the reading goroutine has called debug.SetPanicOnFault(true).
//
// OpenModel opens a model directory, index or single file as one Model.
//
// # Writing
//
// Write and WriteFile produce files the reference reader reads back
// identically. They are byte-identical to the reference writer's for the
// same tensor order and at most one metadata key (the reference writer
// sorts tensors by dtype, then name, where Write keeps the caller's order,
// and it writes metadata keys in hash-map order, where Write sorts them). WriteFile writes to a temporary file beside
// the destination (unnamed on Linux) and puts it in place after an fsync.
//
// # Safety for callers across a C ABI
//
// The API uses plain types (strings, int64 slices, byte slices), returns
// errors rather than panicking on any input, and classifies every error
// it creates with errors.Is against ErrFormat, ErrLimit and ErrArgument.
package safetensors
