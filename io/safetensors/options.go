package safetensors

// DefaultMaxHeaderSize is the default cap on the JSON header: 100 MiB.
// (The reference reader caps it at 100 MB.)
const DefaultMaxHeaderSize = 100 << 20

// Option configures Open, Parse and OpenModel. An Option whose value is out
// of range makes the call fail with ErrInvalidOption.
type Option func(*options) error

type options struct {
	maxHeader int64
	mmap      bool
}

func defaultOptions() options {
	return options{maxHeader: DefaultMaxHeaderSize, mmap: true}
}

func applyOptions(opts []Option) (options, error) {
	o := defaultOptions()
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

// WithMaxHeaderSize caps the JSON header at n bytes (at least 2, for "{}").
// Files with a longer header fail with ErrHeaderTooLarge before any of it
// is read. The cap also bounds model.safetensors.index.json.
func WithMaxHeaderSize(n int64) Option {
	return func(o *options) error {
		if n < 2 {
			return argErr("", "", ErrInvalidOption, "WithMaxHeaderSize(%d): need at least 2 bytes", n)
		}
		o.maxHeader = n
		return nil
	}
}

// WithMmap chooses between memory-mapping files (true, the default) and
// reading them into memory (false). Mapping needs Linux or macOS; elsewhere
// files are always read.
func WithMmap(on bool) Option {
	return func(o *options) error {
		o.mmap = on
		return nil
	}
}
