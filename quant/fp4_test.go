package quant

import (
	"math"
	"strconv"
	"testing"
)

// TestFloorLog2fThresholds: floorLog2f agrees with glibc's floorf(log2f(x))
// on both sides of every threshold the golden generator found by bisecting
// libm's log2f, i.e. (log2f being monotonic) on every positive float32.
func TestFloorLog2fThresholds(t *testing.T) {
	gf := loadGolden(t)
	th := gf.Log2fFloor
	if len(th.Bits) != 277 || th.FromK != -149 {
		t.Fatalf("golden thresholds: %d from %d, want 277 from -149", len(th.Bits), th.FromK)
	}
	for i, h := range th.Bits {
		k := float32(th.FromK + i)
		b, err := strconv.ParseUint(h, 16, 32)
		if err != nil {
			t.Fatal(err)
		}
		x := math.Float32frombits(uint32(b))
		if got := floorLog2f(x); got < k {
			t.Errorf("floorLog2f(%g) = %v, libm gives ≥ %v", x, got, k)
		}
		if b > 1 {
			below := math.Float32frombits(uint32(b - 1))
			if got := floorLog2f(below); got >= k {
				t.Errorf("floorLog2f(%g) = %v, libm gives < %v", below, got, k)
			}
		}
		// the thresholds that are not powers of two are where log2f rounds
		// up to k: name a few in the log
		if b&0x7FFFFF != 0 && i%40 == 0 {
			t.Logf("k=%v: from %g", k, x)
		}
	}
}
