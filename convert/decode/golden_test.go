package decode

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"testing"
)

// TestGoldens: every case of allCases decodes to what the real reference
// decodes (llama.cpp's converter functions, ggml, bitsandbytes): the
// SHA-256 of the whole tensor, from testdata/goldens.json, which
// tests/golden/gen_quantized_decode.py made from the same inputs.
func TestGoldens(t *testing.T) {
	b, err := os.ReadFile("testdata/goldens.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		SHA256 map[string]string `json:"sha256"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, tc := range allCases() {
		want, ok := doc.SHA256[tc.name]
		if !ok {
			t.Errorf("%s: no golden", tc.name)
			continue
		}
		seen++
		d := tc.new(t)
		g := geometryOf(tc.spec.Shape)
		var data []byte
		if raw, ok := d.(*fp4); ok && tc.spec.Output != "" {
			data = make([]byte, g.rows*int64(raw.RowBytes()))
			if err := raw.ReadRawRows(data, 0, g.rows); err != nil {
				t.Fatal(err)
			}
		} else {
			vals := make([]float32, g.rows*g.cols)
			if err := d.(Rows).ReadRows(vals, 0, g.rows); err != nil {
				t.Fatal(err)
			}
			data = make([]byte, 4*len(vals))
			for i, v := range vals {
				binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(v))
			}
		}
		sum := sha256.Sum256(data)
		if got := hex.EncodeToString(sum[:]); got != want {
			t.Errorf("%s: SHA-256 %s, reference %s", tc.name, got, want)
		}
	}
	if seen != len(doc.SHA256) {
		t.Errorf("%d goldens, %d cases", len(doc.SHA256), seen)
	}
}
