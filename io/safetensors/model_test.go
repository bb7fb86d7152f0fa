package safetensors

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOpenModelReference(t *testing.T) {
	want := loadExpected(t)
	for _, path := range []string{"testdata/ref/sharded", "testdata/ref/sharded/" + IndexFile} {
		m, err := OpenModel(path)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, ti := range m.Tensors() {
			names = append(names, ti.Name)
			f, err := m.File(ti.Name)
			if err != nil {
				t.Fatal(err)
			}
			w := want["sharded/"+filepath.Base(f.Path())].Tensors[ti.Name]
			if ti.DType.String() != w.DType {
				t.Errorf("%s: dtype %v, want %s", ti.Name, ti.DType, w.DType)
			}
			vals, err := m.Float32(ti.Name)
			if err != nil || len(vals) != len(*w.Float32Bits) {
				t.Fatalf("%s: %v, %d values", ti.Name, err, len(vals))
			}
			if _, err := m.Data(ti.Name); err != nil {
				t.Fatal(err)
			}
			if err := m.Release(ti.Name); err != nil {
				t.Fatal(err)
			}
			if err := m.Prefetch(ti.Name); err != nil {
				t.Fatal(err)
			}
		}
		if strings.Join(names, ",") != "a,b,c" {
			t.Errorf("tensors %v, want a,b,c (shard order, then file order)", names)
		}
		if len(m.Files()) != 2 {
			t.Errorf("%d files", len(m.Files()))
		}
		if _, err := m.Tensor("nope"); !errors.Is(err, ErrTensorNotFound) {
			t.Errorf("Tensor(nope): %v", err)
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOpenModelSingle(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, SingleFile), stBytes(`{"x":`+entry("U8", "[1]", 0, 1)+`}`, []byte{5}), 0o644)
	for _, p := range []string{dir, filepath.Join(dir, SingleFile)} {
		m, err := OpenModel(p)
		if err != nil {
			t.Fatal(err)
		}
		if d, err := m.Data("x"); err != nil || len(d) != 1 || d[0] != 5 {
			t.Errorf("%s: Data(x) = %v, %v", p, d, err)
		}
		m.Close()
	}
	if _, err := OpenModel(t.TempDir()); !errors.Is(err, ErrNoModel) {
		t.Errorf("empty directory: %v", err)
	}
	if _, err := OpenModel(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing path: %v", err)
	}
}

// shardedDir writes shard files and an index into a new directory.
func shardedDir(t *testing.T, index string, shards map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for name, b := range shards {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, IndexFile), []byte(index), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestOpenModelHostile(t *testing.T) {
	shard := stBytes(`{"a":`+entry("U8", "[1]", 0, 1)+`,"extra":`+entry("U8", "[1]", 1, 2)+`}`, []byte{1, 2})
	shards := map[string][]byte{"s1.safetensors": shard}
	cases := []struct {
		name  string
		index string
		opts  []Option
		want  error
		class error
		inMsg string
	}{
		{"missing shard", `{"weight_map":{"a":"s1.safetensors","b":"s2.safetensors"}}`, nil, ErrMissingShard, ErrFormat, "s2.safetensors"},
		{"tensor not in shard", `{"weight_map":{"a":"s1.safetensors","zz":"s1.safetensors"}}`, nil, ErrIndexMismatch, ErrFormat, `"zz"`},
		{"parent directory", `{"weight_map":{"a":"../s1.safetensors"}}`, nil, ErrBadShardName, ErrFormat, `"a"`},
		{"absolute path", `{"weight_map":{"a":"/etc/passwd"}}`, nil, ErrBadShardName, ErrFormat, `"a"`},
		{"dot dot", `{"weight_map":{"a":".."}}`, nil, ErrBadShardName, ErrFormat, `"a"`},
		{"empty shard name", `{"weight_map":{"a":""}}`, nil, ErrBadShardName, ErrFormat, `"a"`},
		{"duplicate tensor", `{"weight_map":{"a":"s1.safetensors","a":"s1.safetensors"}}`, nil, ErrDuplicateName, ErrFormat, `"a"`},
		{"duplicate weight_map", `{"weight_map":{},"weight_map":{}}`, nil, ErrInvalidIndex, ErrFormat, "weight_map"},
		{"no weight_map", `{"metadata":{}}`, nil, ErrInvalidIndex, ErrFormat, "weight_map"},
		{"weight_map not an object", `{"weight_map":[]}`, nil, ErrInvalidIndex, ErrFormat, "weight_map"},
		{"shard not a string", `{"weight_map":{"a":1}}`, nil, ErrInvalidIndex, ErrFormat, `"a"`},
		{"index not an object", `[]`, nil, ErrInvalidIndex, ErrFormat, ""},
		{"invalid JSON", `{"weight_map":`, nil, ErrInvalidJSON, ErrFormat, IndexFile},
		{"invalid UTF-8", "{\"weight_map\":{\"\xff\":\"s1.safetensors\"}}", nil, ErrInvalidUTF8, ErrFormat, IndexFile},
		{"index over the cap", `{"weight_map":{"a":"s1.safetensors"}}`, []Option{WithMaxHeaderSize(8)}, ErrHeaderTooLarge, ErrLimit, IndexFile},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := OpenModel(shardedDir(t, c.index, shards), c.opts...)
			if !errors.Is(err, c.want) || !errors.Is(err, c.class) {
				t.Fatalf("got %v, want %v in class %v", err, c.want, c.class)
			}
			if !strings.Contains(err.Error(), c.inMsg) {
				t.Errorf("message %q does not mention %s", err, c.inMsg)
			}
		})
	}
	// The missing shard's OS error is there too.
	_, err := OpenModel(shardedDir(t, `{"weight_map":{"b":"s2.safetensors"}}`, shards))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing shard: %v does not wrap fs.ErrNotExist", err)
	}
	// A broken shard reports the shard's own error.
	_, err = OpenModel(shardedDir(t, `{"weight_map":{"a":"s1.safetensors"}}`, map[string][]byte{"s1.safetensors": shard[:20]}))
	if !errors.Is(err, ErrTruncated) || !strings.Contains(err.Error(), "s1.safetensors") {
		t.Errorf("broken shard: %v", err)
	}
	// Unlisted tensors of a shard are not part of the model.
	m, err := OpenModel(shardedDir(t, `{"metadata":{"total_size":1},"weight_map":{"a":"s1.safetensors"}}`, shards))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if ts := m.Tensors(); len(ts) != 1 || ts[0].Name != "a" {
		t.Errorf("tensors %v, want only a", ts)
	}
	if _, err := m.Data("extra"); !errors.Is(err, ErrTensorNotFound) {
		t.Errorf("unlisted tensor: %v", err)
	}
}
