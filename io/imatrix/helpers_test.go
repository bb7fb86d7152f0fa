package imatrix

import (
	"bytes"
	"encoding/binary"
	"math"
	"testing"

	"github.com/wick-ml/wick/io/gguf"
	"github.com/wick-ml/wick/quant"
)

// legacyEntry is one entry of a hand-made legacy file.
type legacyEntry struct {
	name  string
	ncall int32
	vals  []float32
}

// legacyBytes lays a legacy file out as llama-imatrix's
// save_imatrix_legacy writes it (tools/imatrix/imatrix.cpp): int32 count,
// per entry int32 name length, name, int32 ncall, int32 nval, nval float32,
// then int32 chunk count, int32 dataset length and the dataset name. A nil
// chunks leaves the trailer out; a nil dataset writes the chunk count only.
func legacyBytes(entries []legacyEntry, chunks *int32, dataset *string) []byte {
	var b bytes.Buffer
	w := func(v any) { binary.Write(&b, binary.LittleEndian, v) }
	w(int32(len(entries)))
	for _, e := range entries {
		w(int32(len(e.name)))
		b.WriteString(e.name)
		w(e.ncall)
		w(int32(len(e.vals)))
		w(e.vals)
	}
	if chunks != nil {
		w(*chunks)
		if dataset != nil {
			w(int32(len(*dataset)))
			b.WriteString(*dataset)
		}
	}
	return b.Bytes()
}

// ggufEntry is one entry of a hand-made GGUF imatrix: sums has
// len(counts) rows.
type ggufEntry struct {
	name   string
	sums   []float32
	counts []float32
}

type ggufMeta struct {
	datasets   []string // nil: key absent
	chunkCount *uint32
	chunkSize  *uint32
	extra      []gguf.KV
}

func u32p(x uint32) *uint32 { return &x }
func i32p(x int32) *int32   { return &x }
func strp(s string) *string { return &s }

func fullMeta() ggufMeta {
	return ggufMeta{datasets: []string{"wiki.train.raw"}, chunkCount: u32p(100), chunkSize: u32p(512)}
}

func f32bytes(x []float32) []byte {
	b := make([]byte, 4*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}

// ggufBytes writes a GGUF imatrix as llama-imatrix's save_imatrix does:
// general.type, the three imatrix.* keys, then per entry (in the given
// order) <name>.in_sum2 with ne = [nval/nmat, nmat] and <name>.counts with
// ne = [1, nmat], F32.
func ggufBytes(t testing.TB, entries []ggufEntry, m ggufMeta) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := gguf.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.AddKV("general.type", gguf.String("imatrix")))
	if m.datasets != nil {
		must(w.AddKV(KeyDatasets, gguf.Array(m.datasets)))
	}
	if m.chunkCount != nil {
		must(w.AddKV(KeyChunkCount, gguf.Uint32(*m.chunkCount)))
	}
	if m.chunkSize != nil {
		must(w.AddKV(KeyChunkSize, gguf.Uint32(*m.chunkSize)))
	}
	for _, kv := range m.extra {
		must(w.AddKV(kv.Key, kv.Value))
	}
	for _, e := range entries {
		nmat := int64(len(e.counts))
		must(w.AddTensor(e.name+SuffixSums, quant.F32, []int64{int64(len(e.sums)) / nmat, nmat}))
		must(w.AddTensor(e.name+SuffixCounts, quant.F32, []int64{1, nmat}))
	}
	for _, e := range entries {
		must(w.WriteTensorData(e.name+SuffixSums, f32bytes(e.sums)))
		must(w.WriteTensorData(e.name+SuffixCounts, f32bytes(e.counts)))
	}
	must(w.Commit())
	return buf.Bytes()
}

func newGGUF(t testing.TB) (*gguf.Writer, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	w, err := gguf.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	return w, &buf
}

// tensorsGGUF writes full metadata and the tensors (name, type, dims) with
// zero bytes as data.
func tensorsGGUF(t testing.TB, tensors ...tdesc) []byte {
	t.Helper()
	w, buf := newGGUF(t)
	w.AddKV(KeyDatasets, gguf.Array([]string{"d"}))
	w.AddKV(KeyChunkCount, gguf.Uint32(1))
	w.AddKV(KeyChunkSize, gguf.Uint32(1))
	for _, x := range tensors {
		if err := w.AddTensor(x.name, x.typ, x.dims); err != nil {
			t.Fatal(err)
		}
	}
	for {
		ti, _, ok := w.Next()
		if !ok {
			break
		}
		if err := w.WriteTensorData(ti.Name, make([]byte, ti.Size)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type tdesc = struct {
	name string
	typ  quant.Type
	dims []int64
}

// typedGGUF is one entry whose sums and counts tensors have the given types.
func typedGGUF(t testing.TB, sums, counts string) []byte {
	ts, _ := quant.Lookup(sums)
	tc, _ := quant.Lookup(counts)
	return tensorsGGUF(t, tdesc{"a.weight" + SuffixSums, ts.Type, []int64{32, 1}}, tdesc{"a.weight" + SuffixCounts, tc.Type, []int64{32, 1}})
}

// shapedGGUF is one F32 entry with the given dims.
func shapedGGUF(t testing.TB, sums, counts []int64) []byte {
	return tensorsGGUF(t, tdesc{"a.weight" + SuffixSums, quant.F32, sums}, tdesc{"a.weight" + SuffixCounts, quant.F32, counts})
}
