package gguf

import (
	"context"
)

// Default reader limits: ggml's own caps on strings and arrays.
const (
	DefaultMaxStringLength = 1 << 30
	DefaultMaxArrayLength  = 1 << 30
	DefaultMaxArrayDepth   = 8
)

// Option configures Open and Parse. An Option whose value is out of range
// makes the call fail with ErrInvalidOption.
type Option func(*options) error

type options struct {
	maxString int64
	maxArray  int64
	maxDepth  int
	mmap      bool
}

func applyOptions(opts []Option) (options, error) {
	o := options{maxString: DefaultMaxStringLength, maxArray: DefaultMaxArrayLength, maxDepth: DefaultMaxArrayDepth, mmap: true}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&o); err != nil {
			return o, err
		}
	}
	return o, nil
}

// WithMaxStringLength caps every string (keys, values, tensor names) at n
// bytes (n ≥ 64). Longer strings fail with ErrStringTooLong in class ErrLimit.
func WithMaxStringLength(n int64) Option {
	return func(o *options) error {
		if n < 64 {
			return argErr("", "", ErrInvalidOption, "WithMaxStringLength(%d): need at least 64", n)
		}
		o.maxString = n
		return nil
	}
}

// WithMaxArrayLength caps every metadata array at n elements (n ≥ 1).
// Longer arrays fail with ErrArrayTooLong in class ErrLimit.
func WithMaxArrayLength(n int64) Option {
	return func(o *options) error {
		if n < 1 {
			return argErr("", "", ErrInvalidOption, "WithMaxArrayLength(%d): need at least 1", n)
		}
		o.maxArray = n
		return nil
	}
}

// WithMaxArrayDepth caps the nesting of arrays of arrays (1 allows plain
// arrays only, as ggml does; the default is 8).
func WithMaxArrayDepth(n int) Option {
	return func(o *options) error {
		if n < 1 || n > 1000 {
			return argErr("", "", ErrInvalidOption, "WithMaxArrayDepth(%d): need 1..1000", n)
		}
		o.maxDepth = n
		return nil
	}
}

// WithMmap chooses between memory-mapping files (true, the default) and
// reading them into memory (false).
func WithMmap(on bool) Option {
	return func(o *options) error {
		o.mmap = on
		return nil
	}
}

// WriterOption configures Create and NewWriter.
type WriterOption func(*writerOptions) error

type writerOptions struct {
	overwrite bool
	ctx       context.Context
	bufSize   int
	nested    bool
	split     *Split
}

func applyWriterOptions(opts []WriterOption) (writerOptions, error) {
	o := writerOptions{ctx: context.Background(), bufSize: 1 << 20}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&o); err != nil {
			return o, err
		}
	}
	return o, nil
}

// Overwrite lets Create replace an existing file (by renaming over it on
// Commit). Without it Create and Commit fail with an error matching
// fs.ErrExist.
func Overwrite() WriterOption {
	return func(o *writerOptions) error { o.overwrite = true; return nil }
}

// WithContext makes the Writer abort (removing its temporary file) as soon
// as ctx is done; the next call returns ctx's error.
func WithContext(ctx context.Context) WriterOption {
	return func(o *writerOptions) error {
		if ctx == nil {
			return argErr("", "", ErrInvalidOption, "WithContext(nil)")
		}
		o.ctx = ctx
		return nil
	}
}

// WithBufferSize sets the size of the write buffer (default 1 MiB; at
// least 4 KiB). It bounds the memory the Writer holds besides the header.
func WithBufferSize(n int) WriterOption {
	return func(o *writerOptions) error {
		if n < 4096 {
			return argErr("", "", ErrInvalidOption, "WithBufferSize(%d): need at least 4096", n)
		}
		o.bufSize = n
		return nil
	}
}

// AllowNestedArrays lets AddKV accept arrays of arrays. The format allows
// them, gguf-py reads them, but ggml (llama.cpp) rejects such files.
func AllowNestedArrays() WriterOption {
	return func(o *writerOptions) error { o.nested = true; return nil }
}
