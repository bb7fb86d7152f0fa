package imatrix

import (
	"encoding/binary"
	"math"
	"slices"
	"sort"

	"github.com/wick-ml/wick/io/gguf"
	"github.com/wick-ml/wick/io/internal/mmap"
)

// Format is the container of an importance-matrix file.
type Format int

// The two formats llama.cpp's llama-imatrix writes.
const (
	// FormatGGUF: a GGUF file with a <name>.in_sum2 (sums of squared
	// activations) and a <name>.counts (tokens seen, per matrix) F32
	// tensor per entry and imatrix.* metadata. llama-imatrix's default.
	FormatGGUF Format = iota + 1
	// FormatLegacy: the older binary ".dat" format (--output-format dat):
	// per entry a name, a call count and the values already divided by
	// the token count and multiplied by the call count.
	FormatLegacy
)

// String returns "gguf" or "legacy".
func (f Format) String() string {
	switch f {
	case FormatGGUF:
		return "gguf"
	case FormatLegacy:
		return "legacy"
	}
	return "unknown"
}

// Metadata keys of the GGUF format.
const (
	KeyDatasets   = "imatrix.datasets"
	KeyChunkCount = "imatrix.chunk_count"
	KeyChunkSize  = "imatrix.chunk_size"
)

// Tensor name suffixes of the GGUF format.
const (
	SuffixSums   = ".in_sum2"
	SuffixCounts = ".counts"
)

// Entry describes the data of one weight tensor.
type Entry struct {
	// Name is the weight tensor's name in the model ("blk.0.attn_q.weight").
	Name string
	// Len is the number of values: the tensor's row length (ne[0]) times
	// Matrices.
	Len int
	// Matrices is the number of matrices the values cover: the number of
	// experts of a 3-D expert tensor, else 1. (GGUF: the element count of
	// the .counts tensor; legacy: always 1.)
	Matrices int
	// Counts are the GGUF format's token counts, one per matrix, rounded to
	// integers as llama.cpp does (lround). Nil for the legacy format.
	Counts []int64
	// NCall is the legacy format's call count (0 for GGUF). The stored
	// values are divided by it when it is positive.
	NCall int32

	sumsName string // GGUF: the .in_sum2 tensor
	offset   int64  // legacy: byte offset of the values
}

// RowLen returns Len / Matrices: the row length of the tensor the entry is for.
func (e Entry) RowLen() int { return e.Len / e.Matrices }

// Option configures Open and Parse. An Option whose value is out of range
// makes the call fail with ErrInvalidOption.
type Option func(*options) error

type options struct {
	maxEntries int64
	mmap       bool
	gguf       []gguf.Option
}

// DefaultMaxEntries is the default cap on the number of entries.
const DefaultMaxEntries = 1 << 20

// WithMaxEntries caps the number of entries (n ≥ 1; default
// DefaultMaxEntries). A file with more fails with ErrBadCount in class
// ErrLimit.
func WithMaxEntries(n int64) Option {
	return func(o *options) error {
		if n < 1 {
			return argErr("", "", ErrInvalidOption, "WithMaxEntries(%d): need at least 1", n)
		}
		o.maxEntries = n
		return nil
	}
}

// WithMmap chooses between memory-mapping the file (true, the default) and
// reading it into memory (false).
func WithMmap(on bool) Option {
	return func(o *options) error { o.mmap = on; return nil }
}

// WithGGUFOptions passes options (limits) to the GGUF reader that reads
// the GGUF format.
func WithGGUFOptions(opts ...gguf.Option) Option {
	return func(o *options) error { o.gguf = append(o.gguf, opts...); return nil }
}

func applyOptions(opts []Option) (options, error) {
	o := options{maxEntries: DefaultMaxEntries, mmap: true}
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

// File is an open importance-matrix file. A File is safe for concurrent use.
type File struct {
	path        string
	format      Format
	m           *mmap.File
	data        []byte     // legacy: the file's bytes
	g           *gguf.File // GGUF: the container
	entries     []Entry    // sorted by name (byte-wise), as llama.cpp's std::map
	index       map[string]int
	datasets    []string
	chunkCount  int64
	chunkSize   int64
	hasMetadata bool
	closed      bool
}

// Open reads and validates the importance-matrix file at path, in either
// format (a file starting with "GGUF" is read as GGUF, anything else as the
// legacy format). Values are decoded on demand by Values.
func Open(path string, opts ...Option) (*File, error) {
	o, err := applyOptions(opts)
	if err != nil {
		return nil, err
	}
	m, err := mmap.Open(path, o.mmap)
	if err != nil {
		return nil, err
	}
	f, err := parse(m.Bytes(), path, o)
	if err != nil {
		m.Close()
		return nil, err
	}
	f.m = m
	return f, nil
}

// Parse validates the importance-matrix file held in data. The File refers
// to data (no copy); it must not change while the File is used.
func Parse(data []byte, opts ...Option) (*File, error) {
	o, err := applyOptions(opts)
	if err != nil {
		return nil, err
	}
	return parse(data, "", o)
}

func parse(data []byte, path string, o options) (*File, error) {
	var (
		f   *File
		err error
	)
	if len(data) >= len(gguf.Magic) && string(data[:len(gguf.Magic)]) == gguf.Magic {
		f, err = parseGGUF(data, path, o)
	} else {
		f, err = parseLegacy(data, path, o)
	}
	if err != nil {
		return nil, err
	}
	sort.Slice(f.entries, func(i, j int) bool { return f.entries[i].Name < f.entries[j].Name })
	f.index = make(map[string]int, len(f.entries))
	for i, e := range f.entries {
		f.index[e.Name] = i
	}
	return f, nil
}

// Path returns the path the file was opened from ("" for Parse).
func (f *File) Path() string { return f.path }

// Format returns the file's format.
func (f *File) Format() Format { return f.format }

// Entries returns the entries sorted by name (byte-wise). The slice is a
// copy; the Counts slices are shared and must not be modified.
func (f *File) Entries() []Entry { return slices.Clone(f.entries) }

// Entry returns the named entry.
func (f *File) Entry(name string) (Entry, bool) {
	i, ok := f.index[name]
	if !ok {
		return Entry{}, false
	}
	return f.entries[i], true
}

// Datasets returns the names of the datasets the matrix was computed on
// (GGUF: imatrix.datasets; legacy: the optional trailing name), possibly
// empty. llama-quantize records the first one as quantize.imatrix.dataset.
func (f *File) Datasets() []string { return slices.Clone(f.datasets) }

// ChunkCount returns the number of chunks the matrix was computed on (GGUF:
// imatrix.chunk_count; legacy: the optional trailing count, which may be
// negative; 0 when absent). llama-quantize records it as
// quantize.imatrix.chunks_count when it is positive.
func (f *File) ChunkCount() int64 { return f.chunkCount }

// ChunkSize returns imatrix.chunk_size (GGUF; 0 when absent and for the
// legacy format): the tokens per chunk.
func (f *File) ChunkSize() int64 { return f.chunkSize }

// HasMetadata reports whether a GGUF file has all three imatrix.* keys
// (always false for the legacy format, which has no metadata).
func (f *File) HasMetadata() bool { return f.hasMetadata }

// Metadata returns the GGUF file's metadata in file order (nil for the
// legacy format).
func (f *File) Metadata() []gguf.KV {
	if f.g == nil {
		return nil
	}
	return f.g.Metadata()
}

func (f *File) lookup(name string) (Entry, error) {
	if f.closed {
		return Entry{}, argErr(f.path, name, ErrClosed, "use after Close")
	}
	i, ok := f.index[name]
	if !ok {
		return Entry{}, argErr(f.path, name, ErrEntryNotFound, "the file has %d entries", len(f.entries))
	}
	return f.entries[i], nil
}

func (f *File) rawBytes(e Entry) ([]byte, error) {
	if f.g != nil {
		return f.g.TensorData(e.sumsName)
	}
	return f.data[e.offset : e.offset+4*int64(e.Len)], nil
}

// Sums returns the entry's values as stored: GGUF, the sums of squared
// activations; legacy, the values already divided by the token count and
// multiplied by NCall. The slice is a new copy.
func (f *File) Sums(name string) ([]float32, error) {
	e, err := f.lookup(name)
	if err != nil {
		return nil, err
	}
	b, err := f.rawBytes(e)
	if err != nil {
		return nil, err
	}
	out := make([]float32, e.Len)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out, nil
}

// Values returns the per-column weights llama-quantize hands to the
// quantizer for the named entry: Len values, matrix-major (for a 3-D expert
// tensor, expert e's ne[0] weights are [e*ne0, (e+1)*ne0)).
//
// GGUF: each matrix's sums divided by its count, in float32
// (sum / float32(count)); a matrix with count 0 gets weights of 1.
// Legacy: the stored values divided by float32(NCall) when NCall > 0, else
// the stored values. A non-finite result fails with ErrNonFinite, as
// llama-quantize refuses such a matrix.
func (f *File) Values(name string) ([]float32, error) {
	vals, err := f.Sums(name)
	if err != nil {
		return nil, err
	}
	e := f.entries[f.index[name]]
	normalize(vals, e)
	if i := firstNonFinite(vals); i >= 0 {
		return nil, formatErr(f.path, name, -1, ErrNonFinite, "weight %d is %v; llama-quantize refuses an imatrix with non-finite values", i, vals[i])
	}
	return vals, nil
}

// normalize turns stored values into weights in place (see Values).
func normalize(vals []float32, e Entry) {
	if e.Counts == nil {
		if e.NCall > 0 {
			d := float32(int64(e.NCall))
			for i := range vals {
				vals[i] /= d
			}
		}
		return
	}
	ne0 := e.Len / e.Matrices
	for j, c := range e.Counts {
		seg := vals[j*ne0 : (j+1)*ne0]
		d := float32(c)
		if d > 0 {
			for i := range seg {
				seg[i] /= d
			}
		} else {
			for i := range seg {
				seg[i] = 1
			}
		}
	}
}

func firstNonFinite(x []float32) int {
	for i, v := range x {
		if math.Float32bits(v)&0x7f800000 == 0x7f800000 {
			return i
		}
	}
	return -1
}

// CheckQuantize returns the error llama-quantize would stop with before
// quantizing anything with this file, or nil: ErrMissingMetadata for a GGUF
// file without the imatrix.* keys, ErrNonFinite for the first entry (in
// name order) with a non-finite weight — llama-quantize checks every entry,
// whether or not the model uses it.
func (f *File) CheckQuantize() error {
	if f.closed {
		return argErr(f.path, "", ErrClosed, "use after Close")
	}
	if f.format == FormatGGUF && !f.hasMetadata {
		return formatErr(f.path, "", -1, ErrMissingMetadata, "the file lacks %s, %s or %s; llama-quantize refuses it", KeyDatasets, KeyChunkCount, KeyChunkSize)
	}
	for _, e := range f.entries {
		if _, err := f.Values(e.Name); err != nil {
			return err
		}
	}
	return nil
}

// Close releases the file; Values and Sums fail afterwards. Entries and
// metadata stay valid.
func (f *File) Close() error {
	if f.closed {
		return nil
	}
	f.closed = true
	f.data = nil
	var err error
	if f.g != nil {
		err = f.g.Close()
	}
	if f.m != nil {
		if e := f.m.Close(); err == nil {
			err = e
		}
	}
	return err
}
