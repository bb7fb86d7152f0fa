package safetensors

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"
)

// IndexFile is the name of the index of a sharded Hugging Face model.
const IndexFile = "model.safetensors.index.json"

// SingleFile is the name of the weights of an unsharded Hugging Face model.
const SingleFile = "model.safetensors"

// Model is a set of safetensors files seen as one: a sharded model (an
// index plus its shards) or a single file. It is safe for concurrent use.
type Model struct {
	files   []*File      // shards, sorted by file name
	tensors []TensorInfo // shard by shard, file order within a shard
	where   map[string]modelRef
}

type modelRef struct{ file, tensor int }

// OpenModel opens a model given as
//   - a directory holding model.safetensors.index.json (a sharded model)
//     or else model.safetensors;
//   - the path of an index (*.json);
//   - the path of a single .safetensors file.
//
// For a sharded model every shard the index lists must exist and be a
// valid safetensors file, and every tensor the index lists must be in the
// shard it names. The model's tensors are exactly those the index lists
// (a shard's unlisted tensors are ignored, as Hugging Face loaders do).
// Options apply to every file.
func OpenModel(path string, opts ...Option) (*Model, error) {
	o, err := applyOptions(opts)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		idx := filepath.Join(path, IndexFile)
		if _, err := os.Stat(idx); err == nil {
			return openIndex(idx, opts, o)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		single := filepath.Join(path, SingleFile)
		if _, err := os.Stat(single); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, argErr(path, "", ErrNoModel, "the directory holds neither %s nor %s", IndexFile, SingleFile)
			}
			return nil, err
		}
		path = single
	} else if strings.HasSuffix(path, ".json") {
		return openIndex(path, opts, o)
	}
	f, err := Open(path, opts...)
	if err != nil {
		return nil, err
	}
	m := &Model{files: []*File{f}, tensors: f.tensors, where: make(map[string]modelRef, len(f.tensors))}
	for i, t := range f.tensors {
		m.where[t.Name] = modelRef{0, i}
	}
	return m, nil
}

// openIndex opens a sharded model from its index.
func openIndex(idxPath string, opts []Option, o options) (*Model, error) {
	weightMap, err := readIndex(idxPath, o)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(idxPath)
	// Shards in file-name order, each opened once.
	var shards []string
	listed := map[string][]string{} // shard → tensors the index puts there
	for _, kv := range weightMap {
		if _, ok := listed[kv[1]]; !ok {
			shards = append(shards, kv[1])
		}
		listed[kv[1]] = append(listed[kv[1]], kv[0])
	}
	slices.Sort(shards)
	m := &Model{where: make(map[string]modelRef, len(weightMap))}
	for fi, shard := range shards {
		p := filepath.Join(dir, shard)
		f, err := Open(p, opts...)
		if err != nil {
			m.Close()
			if errors.Is(err, fs.ErrNotExist) {
				e := formatErr(idxPath, "", ErrMissingShard, "%s (listed for %d tensors, e.g. %q)", shard, len(listed[shard]), listed[shard][0])
				e.cause = err
				return nil, e
			}
			return nil, err
		}
		m.files = append(m.files, f)
		want := map[string]bool{}
		for _, name := range listed[shard] {
			if _, ok := f.byName[name]; !ok {
				m.Close()
				return nil, formatErr(p, name, ErrIndexMismatch, "%s lists it in this shard, which has %d other tensors", filepath.Base(idxPath), len(f.tensors))
			}
			want[name] = true
		}
		for ti, t := range f.tensors {
			if want[t.Name] {
				m.where[t.Name] = modelRef{fi, ti}
				m.tensors = append(m.tensors, t)
			}
		}
	}
	return m, nil
}

// readIndex reads an index's weight_map as (tensor, shard) pairs in JSON
// order, rejecting duplicates and unsafe shard names.
func readIndex(path string, o options) ([][2]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() > o.maxHeader {
		return nil, newErr(ErrLimit, path, "", ErrHeaderTooLarge, "the index has %d bytes, over the cap of %d", st.Size(), o.maxHeader)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > o.maxHeader { // grew since Stat
		return nil, newErr(ErrLimit, path, "", ErrHeaderTooLarge, "the index has %d bytes, over the cap of %d", len(data), o.maxHeader)
	}
	if !utf8.Valid(data) {
		return nil, formatErr(path, "", ErrInvalidUTF8, "at byte %d of the index", firstInvalidUTF8(data))
	}
	p := newJSONParser(data, path)
	if err := p.delim('{', "", "the index", ErrInvalidIndex); err != nil {
		return nil, err
	}
	var (
		pairs    [][2]string
		haveMap  bool
		seenKeys = map[string]bool{}
	)
	for p.dec.More() {
		key, err := p.str("", "a key", ErrInvalidJSON)
		if err != nil {
			return nil, err
		}
		if seenKeys[key] {
			return nil, formatErr(path, "", ErrInvalidIndex, "key %q appears twice", key)
		}
		seenKeys[key] = true
		if key != "weight_map" {
			if err := p.skip(""); err != nil {
				return nil, err
			}
			continue
		}
		haveMap = true
		if err := p.delim('{', "", "weight_map", ErrInvalidIndex); err != nil {
			return nil, err
		}
		seen := map[string]bool{}
		for p.dec.More() {
			name, err := p.str("", "a key", ErrInvalidJSON)
			if err != nil {
				return nil, err
			}
			if seen[name] {
				return nil, formatErr(path, name, ErrDuplicateName, "weight_map lists it twice")
			}
			seen[name] = true
			shard, err := p.str(name, "its shard", ErrInvalidIndex)
			if err != nil {
				return nil, err
			}
			if !plainFileName(shard) {
				return nil, formatErr(path, name, ErrBadShardName, "%q is not a file name in the index's directory", shard)
			}
			pairs = append(pairs, [2]string{name, shard})
		}
		if _, err := p.token(""); err != nil {
			return nil, err
		}
	}
	if _, err := p.token(""); err != nil {
		return nil, err
	}
	if err := p.end(); err != nil {
		return nil, err
	}
	if !haveMap {
		return nil, formatErr(path, "", ErrInvalidIndex, "no weight_map")
	}
	return pairs, nil
}

// plainFileName reports whether s names a file directly inside a directory:
// not empty, no separator, not "." or "..".
func plainFileName(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, `/\`+"\x00") && filepath.Base(s) == s
}

// Files returns the model's files (shards in file-name order).
func (m *Model) Files() []*File { return slices.Clone(m.files) }

// Tensors returns the model's tensors, shard by shard, in file order within
// each shard.
func (m *Model) Tensors() []TensorInfo { return slices.Clone(m.tensors) }

// File returns the file that holds the named tensor.
func (m *Model) File(name string) (*File, error) {
	r, ok := m.where[name]
	if !ok {
		return nil, argErr("", name, ErrTensorNotFound, "the model has %d tensors", len(m.tensors))
	}
	return m.files[r.file], nil
}

// Tensor returns the description of the named tensor.
func (m *Model) Tensor(name string) (TensorInfo, error) {
	f, err := m.File(name)
	if err != nil {
		return TensorInfo{}, err
	}
	return f.Tensor(name)
}

// Data returns a zero-copy view of the named tensor's bytes (see File.Data).
func (m *Model) Data(name string) ([]byte, error) {
	f, err := m.File(name)
	if err != nil {
		return nil, err
	}
	return f.Data(name)
}

// Float32 returns the named tensor converted to float32 (see File.Float32).
func (m *Model) Float32(name string) ([]float32, error) {
	f, err := m.File(name)
	if err != nil {
		return nil, err
	}
	return f.Float32(name)
}

// Release drops the resident pages of the named tensor (see File.Release).
func (m *Model) Release(name string) error {
	f, err := m.File(name)
	if err != nil {
		return err
	}
	return f.Release(name)
}

// Prefetch asks the kernel to read the named tensor ahead (see File.Prefetch).
func (m *Model) Prefetch(name string) error {
	f, err := m.File(name)
	if err != nil {
		return err
	}
	return f.Prefetch(name)
}

// Close closes every file of the model.
func (m *Model) Close() error {
	var errs []error
	for _, f := range m.files {
		errs = append(errs, f.Close())
	}
	return errors.Join(errs...)
}
