package imatrix

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/wick-ml/wick/io/gguf"
	"github.com/wick-ml/wick/quant/ggmltype"
)

// parseGGUF reads the format llama-imatrix writes by default: a GGUF file
// whose tensors come in pairs <name>.in_sum2 (the sums of squared
// activations, ne = [ne0, n_matrices]) and <name>.counts (tokens seen per
// matrix, ne = [1, n_matrices]), both F32, with metadata imatrix.datasets
// (array of strings), imatrix.chunk_count and imatrix.chunk_size (UINT32).
//
// As llama.cpp's loader, it pairs tensors by name (ignoring tensors with
// other suffixes) and uses element counts only, not the shapes. Unlike it,
// it rejects an empty .in_sum2 or .counts tensor (llama.cpp divides by
// zero), a sums count that is not a multiple of the counts count (llama.cpp
// silently leaves zeros), counts that are not finite numbers in [0, 2^63)
// (undefined behaviour in lround), and metadata of the wrong type (ggml
// aborts for the two UINT32 keys).
func parseGGUF(data []byte, path string, o options) (*File, error) {
	g, err := gguf.Parse(data, o.gguf...)
	if err != nil {
		var ge *gguf.Error
		if errors.As(err, &ge) {
			ge.Path = path
		}
		return nil, fmt.Errorf("imatrix: reading the GGUF container: %w", err)
	}
	f, err := readGGUF(g, path, o)
	if err != nil {
		g.Close()
		return nil, err
	}
	return f, nil
}

func readGGUF(g *gguf.File, path string, o options) (*File, error) {
	f := &File{path: path, format: FormatGGUF, g: g}
	tensors := g.Tensors()
	generalType := ""
	if v, ok := g.Lookup("general.type"); ok {
		generalType, _ = gguf.As[string](v)
	}
	if len(tensors) == 0 {
		return nil, formatErr(path, "", -1, ErrNoEntries, "the GGUF file has no tensors%s", typeHint(generalType))
	}

	// metadata
	_, hasDatasets := g.Lookup(KeyDatasets)
	if v, ok := g.Lookup(KeyDatasets); ok {
		names, isStrings := gguf.As[[]string](v)
		if v.Type() != gguf.TypeArray || !isStrings {
			return nil, formatErr(path, "", -1, ErrBadMetadata, "%s is %v; expected an array of strings", KeyDatasets, describeValue(v))
		}
		f.datasets = append([]string(nil), names...)
	}
	var hasCount, hasSize bool
	for _, k := range []struct {
		key string
		dst *int64
		has *bool
	}{{KeyChunkCount, &f.chunkCount, &hasCount}, {KeyChunkSize, &f.chunkSize, &hasSize}} {
		v, ok := g.Lookup(k.key)
		if !ok {
			continue
		}
		x, isU32 := gguf.As[uint32](v)
		if !isU32 {
			return nil, formatErr(path, "", -1, ErrBadMetadata, "%s is %v; expected a UINT32", k.key, describeValue(v))
		}
		*k.dst, *k.has = int64(x), true
	}
	f.hasMetadata = hasDatasets && hasCount && hasSize

	// pair the tensors
	type pair struct{ sums, counts *gguf.TensorInfo }
	pairs := map[string]*pair{}
	var order []string
	for i := range tensors {
		t := &tensors[i]
		var base string
		var isSums bool
		switch {
		case strings.HasSuffix(t.Name, SuffixSums):
			base, isSums = strings.TrimSuffix(t.Name, SuffixSums), true
		case strings.HasSuffix(t.Name, SuffixCounts):
			base = strings.TrimSuffix(t.Name, SuffixCounts)
		default:
			continue // llama.cpp ignores other tensors
		}
		if base == "" {
			return nil, formatErr(path, "", -1, ErrBadString, "tensor %q has an empty entry name", t.Name)
		}
		p := pairs[base]
		if p == nil {
			p = &pair{}
			pairs[base] = p
			order = append(order, base)
		}
		if isSums {
			p.sums = t
		} else {
			p.counts = t
		}
	}
	if len(pairs) == 0 {
		return nil, formatErr(path, "", -1, ErrNoEntries, "none of its %d tensors is a <name>%s / <name>%s pair%s", len(tensors), SuffixSums, SuffixCounts, typeHint(generalType))
	}
	if int64(len(pairs)) > o.maxEntries {
		return nil, limitErr(path, "", -1, ErrBadCount, "%d entries; the limit is %d (WithMaxEntries)", len(pairs), o.maxEntries)
	}
	for _, name := range order {
		p := pairs[name]
		switch {
		case p.sums == nil:
			return nil, formatErr(path, name, -1, ErrUnpaired, "has %s%s but no %s%s", name, SuffixCounts, name, SuffixSums)
		case p.counts == nil:
			return nil, formatErr(path, name, -1, ErrUnpaired, "has %s%s but no %s%s", name, SuffixSums, name, SuffixCounts)
		}
		for _, t := range []*gguf.TensorInfo{p.sums, p.counts} {
			if t.Type != ggmltype.F32 {
				return nil, formatErr(path, name, g.DataOffset()+t.Offset, ErrBadType, "tensor %q is %v; expected F32", t.Name, t.Type)
			}
		}
		nval, ncounts := p.sums.NumElements(), p.counts.NumElements()
		switch {
		case nval == 0:
			return nil, formatErr(path, name, -1, ErrBadLength, "%s%s has no elements (dims %v)", name, SuffixSums, p.sums.Dims)
		case ncounts == 0:
			return nil, formatErr(path, name, -1, ErrBadLength, "%s%s has no elements (dims %v)", name, SuffixCounts, p.counts.Dims)
		case nval%ncounts != 0:
			return nil, formatErr(path, name, -1, ErrBadLength, "%d sums are not a whole number of rows for %d counts", nval, ncounts)
		case nval > math.MaxInt32:
			// llama.cpp counts values in int; no real model comes near.
			return nil, limitErr(path, name, -1, ErrBadLength, "%d values; at most %d are supported", nval, math.MaxInt32)
		}
		raw, err := g.TensorData(p.counts.Name)
		if err != nil {
			return nil, err
		}
		counts := make([]int64, ncounts)
		for j := range counts {
			c := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*j:]))
			// lround is defined for finite values within int64; the writer
			// stores non-negative integers.
			if !(c >= 0 && c < 0x1p63) {
				return nil, formatErr(path, name, g.DataOffset()+p.counts.Offset+4*int64(j), ErrBadCount, "count %d is %v; expected a finite number of tokens ≥ 0", j, c)
			}
			counts[j] = int64(math.Round(float64(c))) // lround: halves away from zero
		}
		f.entries = append(f.entries, Entry{Name: name, Len: int(nval), Matrices: int(ncounts), Counts: counts, sumsName: p.sums.Name})
	}
	return f, nil
}

func typeHint(generalType string) string {
	if generalType != "" && generalType != "imatrix" {
		return fmt.Sprintf(" (general.type is %q: is it a model rather than an importance matrix?)", generalType)
	}
	return ""
}

func describeValue(v gguf.Value) string {
	if v.Type() == gguf.TypeArray {
		return fmt.Sprintf("of type ARRAY of %v", v.ElemType())
	}
	return fmt.Sprintf("of type %v", v.Type())
}
