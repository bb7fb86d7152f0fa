package gguf

import (
	"errors"
	"fmt"
	"strings"

	"github.com/wick-ml/wick/io/internal/atomicfile"
)

// The metadata keys of a split model (llama.cpp's LLM_KV_SPLIT_*).
const (
	KeySplitNo           = "split.no"            // UINT16: index of the part, from 0
	KeySplitCount        = "split.count"         // UINT16: number of parts
	KeySplitTensorsCount = "split.tensors.count" // INT32: tensors in all parts together
)

// ErrSplitLimit: split limits under which llama-gguf-split would write a
// part without tensors (the first tensor alone exceeds Split.MaxBytes), or
// that would need more than 65535 parts.
var ErrSplitLimit = errors.New("gguf: split limit too small")

// ErrSplit: a split model whose parts do not fit together (split.no,
// split.count or split.tensors.count missing, of the wrong type or
// inconsistent; a tensor in two parts).
var ErrSplit = errors.New("gguf: inconsistent split model")

// Split limits the parts of a split model (WithSplit). Exactly one limit is
// set, as llama-gguf-split takes exactly one.
type Split struct {
	// MaxBytes is llama-gguf-split's --split-max-size in bytes: a part's
	// tensor data, each tensor counted padded to the alignment (32 bytes),
	// metadata and header not counted, is at most MaxBytes, except that a
	// tensor larger than MaxBytes gets a part of its own. llama-gguf-split
	// parses "N M" as N·10^6 and "N G" as N·10^9 bytes.
	MaxBytes int64
	// MaxTensors is --split-max-tensors: at most this many tensors a part.
	MaxTensors int
}

// SplitPath returns the file name of part no (from 0) of count parts:
// "<prefix>-%05d-of-%05d.gguf" with no+1 and count, as llama_split_path.
func SplitPath(prefix string, no, count int) string {
	return fmt.Sprintf("%s-%05d-of-%05d.gguf", prefix, no+1, count)
}

// SplitPrefix returns the prefix of a split model's file name when name
// is part no of count (the inverse of SplitPath, as llama_split_prefix),
// or false.
func SplitPrefix(name string, no, count int) (string, bool) {
	suffix := fmt.Sprintf("-%05d-of-%05d.gguf", no+1, count)
	if len(name) <= len(suffix) || !strings.HasSuffix(name, suffix) {
		return "", false
	}
	return strings.TrimSuffix(name, suffix), true
}

// WithSplit makes Create write a split model as llama-gguf-split --split
// writes it from the single file the Writer would otherwise write: Create's
// path is the prefix of the parts' names (SplitPath), and each part is a
// GGUF file of its own:
//
//   - the first holds all metadata, then split.no (UINT16), split.tensors.count
//     (INT32) and split.count (UINT16), any of these given to AddKV moved to
//     that place; every other part holds only these three keys;
//   - tensors keep their order; a part ends before the tensor that would
//     take its padded data over MaxBytes, or after MaxTensors tensors;
//   - tensor infos list each dimension up to the last one greater than 1
//     (ggml_n_dims), and each part's offsets start at 0; the data is padded
//     to 32 bytes after every tensor, as in a single file.
//
// Split output needs the default alignment. The parts are created when the
// header goes out (an existing part is then an error without Overwrite) and
// appear together on Commit, all or none (see atomicfile.CommitAll): the
// first part last. Part names of an earlier split with another count are
// neither checked nor removed.
func WithSplit(s Split) WriterOption {
	return func(o *writerOptions) error {
		switch {
		case s.MaxBytes < 0 || s.MaxTensors < 0:
			return argErr("", "", ErrInvalidOption, "WithSplit(%+v): negative limit", s)
		case (s.MaxBytes > 0) == (s.MaxTensors > 0):
			return argErr("", "", ErrInvalidOption, "WithSplit(%+v): set exactly one of MaxBytes and MaxTensors (as llama-gguf-split takes either --split-max-size or --split-max-tensors)", s)
		}
		o.split = &s
		return nil
	}
}

// SplitPaths returns the names of a split model's parts, once the header
// is written (nil before, and for a single file).
func (w *Writer) SplitPaths() []string {
	if w.split == nil || w.split.starts == nil {
		return nil
	}
	n := len(w.split.starts)
	paths := make([]string, n)
	for i := range paths {
		paths[i] = SplitPath(w.split.sink.prefix, i, n)
	}
	return paths
}

// splitState is the Writer's progress through the parts of a split model.
type splitState struct {
	limits Split
	sink   *splitSink
	starts []int // index of each part's first tensor
	part   int   // the part being written
}

// splitSink writes to the current part.
type splitSink struct {
	prefix    string
	overwrite bool
	files     []*atomicfile.File
	cur       int
}

func (s *splitSink) Write(p []byte) (int, error) { return s.files[s.cur].Write(p) }
func (s *splitSink) Commit() error               { return atomicfile.CommitAll(s.files...) }

func (s *splitSink) Abort() error {
	for _, f := range s.files {
		f.Abort()
	}
	return nil
}

// create starts every part.
func (s *splitSink) create(count int) error {
	for i := range count {
		f, err := atomicfile.Create(SplitPath(s.prefix, i, count), s.overwrite)
		if err != nil {
			return err
		}
		s.files = append(s.files, f)
	}
	return nil
}

// splitStarts assigns tensors to parts as llama-gguf-split's split_strategy
// does, returning the index of the first tensor of each part.
func splitStarts(tensors []TensorInfo, s Split) ([]int, error) {
	starts := []int{0}
	var size int64 // padded tensor bytes in the current part
	for i, t := range tensors {
		n, _ := alignUp(t.Size, DefaultAlignment) // sizes were checked when added
		var next bool
		if s.MaxBytes > 0 {
			next = size+n > s.MaxBytes // sizes are < 2^62: no overflow
		} else {
			next = i > 0 && i%s.MaxTensors == 0
		}
		if !next {
			size += n
			continue
		}
		if i == starts[len(starts)-1] {
			return nil, argErr(t.Name, "", ErrSplitLimit, "its %d bytes (padded to %d) alone exceed the split size of %d bytes, and it is the first tensor: llama-gguf-split refuses to write a part without tensors", t.Size, n, s.MaxBytes)
		}
		starts = append(starts, i)
		size = n
	}
	if len(starts) > 0xFFFF {
		return nil, argErr("", "", ErrSplitLimit, "%d parts; split.count is a UINT16 (at most 65535)", len(starts))
	}
	return starts, nil
}

// nDims is ggml_n_dims: the number of dimensions up to the last one
// greater than 1, at least 1.
func nDims(dims []int64) int {
	for i := len(dims) - 1; i >= 1; i-- {
		if dims[i] > 1 {
			return i + 1
		}
	}
	return 1
}

// startSplit lays the tensors out in parts, creates the files and writes
// the first part's header (and those of any parts without data after it).
func (w *Writer) startSplit() error {
	if w.alignment != DefaultAlignment {
		return w.fail(argErr("", KeyAlignment, ErrBadAlignment, "split output needs the default alignment %d (llama-gguf-split pads to it), not %d", DefaultAlignment, w.alignment))
	}
	starts, err := splitStarts(w.tensors, w.split.limits)
	if err != nil {
		return w.fail(err)
	}
	w.split.starts = starts
	if err := w.split.sink.create(len(starts)); err != nil {
		return w.fail(err)
	}
	w.header = true
	if err := w.partHeader(0); err != nil {
		return err
	}
	return w.nextParts()
}

// partHeader writes the header of part k into the write buffer.
func (w *Writer) partHeader(k int) error {
	s := w.split
	count := len(s.starts)
	end := len(w.tensors)
	if k+1 < count {
		end = s.starts[k+1]
	}
	var kvs []KV
	if k == 0 {
		for _, kv := range w.kvs {
			if kv.Key != KeySplitNo && kv.Key != KeySplitCount && kv.Key != KeySplitTensorsCount {
				kvs = append(kvs, kv)
			}
		}
	}
	kvs = append(kvs, KV{KeySplitNo, Uint16(uint16(k))}, KV{KeySplitTensorsCount, Int32(int32(len(w.tensors)))},
		KV{KeySplitCount, Uint16(uint16(count))})
	tensors := make([]TensorInfo, end-s.starts[k])
	for i := range tensors {
		t := w.tensors[s.starts[k]+i]
		t.Dims = t.Dims[:nDims(t.Dims)]
		tensors[i] = t
	}
	b, err := encodeHeader(kvs, tensors, w.alignment)
	if err != nil {
		return w.fail(err)
	}
	for i, t := range tensors { // offsets within the part, for Next
		w.tensors[s.starts[k]+i].Offset = t.Offset
	}
	return w.emitHeader(b)
}

// nextParts moves to the next part while every tensor of the current one
// is written (none, for a part of zero-byte tensors): it flushes the
// current part and writes the next one's header. A no-op for a single file.
func (w *Writer) nextParts() error {
	s := w.split
	if s == nil {
		return nil
	}
	for s.part+1 < len(s.starts) && w.cur >= s.starts[s.part+1] {
		if err := w.bw.Flush(); err != nil {
			return w.fail(err)
		}
		s.part++
		s.sink.cur = s.part
		if err := w.partHeader(s.part); err != nil {
			return err
		}
	}
	return nil
}
