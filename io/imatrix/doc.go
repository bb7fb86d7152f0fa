// Package imatrix reads llama.cpp's importance-matrix files, the per-column
// activation statistics that llama-imatrix collects and llama-quantize
// uses to weight the quantization error (its --imatrix option).
//
// Both formats llama-imatrix writes are read:
//
//   - GGUF (the default since 2025): one <name>.in_sum2 tensor (sums of
//     squared activations, one row per matrix — per expert for a 3-D
//     expert tensor) and one <name>.counts tensor (tokens seen, one per
//     matrix) per weight tensor, both F32, and the metadata
//     imatrix.datasets, imatrix.chunk_count and imatrix.chunk_size. The
//     container is read by package gguf, with all of its checks.
//   - legacy ".dat" (--output-format dat): an entry count, then per entry
//     its name, call count (ncall) and values already divided by the token
//     count and multiplied by ncall, then optionally the chunk count and
//     the dataset name.
//
// Open memory-maps and validates a file: every length is checked against
// the bytes left before use, so memory stays proportional to the file;
// names must be non-empty UTF-8 without NUL; entries are unique and each
// GGUF sums tensor has its counts tensor. Entries lists them sorted by name
// (as llama.cpp's std::map). Values returns exactly the weights
// llama-quantize passes to ggml's quantizers (tools/quantize/quantize.cpp,
// load_imatrix):
//
//   - GGUF: sum / float32(count), in float32, per matrix; a matrix that saw
//     no token (count 0) gets weights of 1. Counts are rounded to integers
//     first (lround), as common_imatrix_load does.
//   - legacy: value / float32(ncall) when ncall > 0, else the stored value.
//
// llama-quantize refuses the whole file if any weight is NaN or ±Inf
// (llama_model_quantize_impl), and a GGUF file without the three imatrix.*
// keys (load_imatrix); Values fails on the former, CheckQuantize reports
// both.
//
// Where llama.cpp's readers are lenient in ways that hide a damaged file —
// a partial legacy trailer, bytes after it, duplicate legacy names (the
// last one wins), an empty or ragged GGUF entry (a division by zero or
// silent zeros), counts that are not finite non-negative numbers (undefined
// behaviour), metadata of the wrong type (an abort) — this package fails
// with a named error instead.
//
// Every failure is an *Error naming the file, the entry and the byte offset,
// wrapping one of the Err* sentinels and in one class: ErrFormat, ErrLimit
// or ErrArgument. Failures of the GGUF container are gguf's own errors,
// wrapped.
package imatrix
