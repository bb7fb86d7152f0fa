package decode

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestMainRange: a decoder that says which bytes of the main tensor rows
// [r0, r1) come from (MainRows) decodes those rows the same when every
// other byte of the main tensor is cleared.
func TestMainRange(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	seen := map[string]bool{}
	for _, tc := range allCases() {
		d := tc.new(t)
		m, ok := d.(MainRows)
		if !ok {
			continue
		}
		seen[tc.spec.Method] = true
		g := geometryOf(tc.spec.Shape)
		for range 20 {
			r0 := rng.Int64N(g.rows)
			r1 := r0 + 1 + rng.Int64N(g.rows-r0)
			want := make([]float32, (r1-r0)*g.cols)
			if err := d.(Rows).ReadRows(want, r0, r1); err != nil {
				t.Fatal(err)
			}
			off, n := m.MainRange(r0, r1)
			cut := tc
			cut.main.Data = make([]byte, len(tc.main.Data))
			copy(cut.main.Data[off:off+n], tc.main.Data[off:off+n])
			got := make([]float32, len(want))
			if err := cut.new(t).(Rows).ReadRows(got, r0, r1); err != nil {
				t.Fatal(err)
			}
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%s: rows [%d, %d) read bytes outside [%d, %d)", tc.name, r0, r1, off, off+n)
				}
			}
		}
	}
	if !seen["scaled"] || !seen["int_packed"] || !seen["bnb_int8"] {
		t.Fatalf("MainRows decoders tested: %v", seen)
	}
}
