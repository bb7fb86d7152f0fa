package quant

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The group-parallel searches of lanes.go: the installed kernel (assembly
// where the CPU has it) against the generic twin, and the generic twin
// against the per-group references of kquants_helpers.go, on random and
// hostile groups.

// laneGroups returns `lanes` groups of n values, each of a random flavour
// (searchValues), some all zero, constant or all negative, transposed:
// element i of group k at [i*lanes+k].
func laneGroups(rng *rand.Rand, lanes, n int) (xt []float32, groups [][]float32) {
	xt = make([]float32, lanes*n)
	for k := 0; k < lanes; k++ {
		g := searchValues(rng, n)
		switch rng.IntN(12) {
		case 0:
			g = make([]float32, n)
		case 1:
			c := float32(rng.NormFloat64())
			for i := range g {
				g[i] = c
			}
		case 2:
			for i := range g {
				g[i] = -abs32(g[i])
			}
		case 3:
			for i := range g {
				g[i] = float32(rng.NormFloat64() * 0.02)
			}
		}
		for i, v := range g {
			xt[i*lanes+k] = v
		}
		groups = append(groups, g)
	}
	return xt, groups
}

// qkxConfigs are the configurations of the encoders with the parameters
// they were made from (as in kquants_ref.go).
var qkxConfigs = []struct {
	name         string
	c            *qkxConfig
	rmin, rdelta float32
}{
	{"Q2_K", qkxQ2_K, -0.5, 0.1}, {"Q4_K", qkxQ4_K, -1, 0.1}, {"Q5_K", qkxQ5_K, -0.5, 0.1},
	{"qkx3 Q2_K", qkx3Q2_K, -0.9, 0.05}, {"qkx3 Q4", qkx3Q4, -0.9, 0.05}, {"qkx3 Q5", qkx3Q5, -0.9, 0.05},
}

// checkQkxLanes runs qkxSearchLanes on the transposed groups and compares
// every lane with qkxLanesGeneric and with makeQkxQuantsRef on the group
// alone (scale, min and the levels qkxLevels rebuilds).
func checkQkxLanes(t *testing.T, name string, c *qkxConfig, rmin, rdelta float32, xt, wt []float32, lanes, n int) {
	t.Helper()
	var got, want qkxLanes
	qkxSearchLanes(xt, wt, lanes, n, c, &got)
	qkxLanesGeneric(xt, wt, lanes, n, c, &want)
	if got != want {
		t.Fatalf("%s: qkxSearchLanes differs from qkxLanesGeneric (lanes %d, n %d)\n got  %v\n want %v\n xt %v\n wt %v",
			name, lanes, n, got, want, xt, wt)
	}
	x, w := make([]float32, n), make([]float32, n)
	L, Laux, L2 := make([]uint8, n), make([]uint8, n), make([]uint8, n)
	for k := 0; k < lanes; k++ {
		for i := 0; i < n; i++ {
			x[i], w[i] = xt[i*lanes+k], wt[i*lanes+k]
		}
		s, m := makeQkxQuantsRef(n, c.nmax, x, w, L, Laux, rmin, rdelta, c.nstep, c.useMad, c.qkx3)
		qkxLevels(L2, x, want.is[k], want.min[k], c.nmax)
		if math.Float32bits(s) != math.Float32bits(want.scale[k]) || math.Float32bits(m) != math.Float32bits(want.theMin[k]) ||
			string(L) != string(L2) {
			t.Fatalf("%s: lane %d differs from makeQkxQuantsRef\n got  %v %v %v\n want %v %v %v\n x %v\n w %v",
				name, k, want.scale[k], want.theMin[k], L2, s, m, L, x, w)
		}
	}
}

func TestQkxLanesMatchReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(61, 62))
	iters := 3000
	if testing.Short() {
		iters = 400
	}
	for it := 0; it < iters; it++ {
		for _, q := range qkxConfigs {
			lanes := []int{8, 16}[rng.IntN(2)]
			n := []int{16, 32}[rng.IntN(2)]
			xt, _ := laneGroups(rng, lanes, n)
			wt := make([]float32, len(xt))
			switch rng.IntN(4) {
			case 0: // Q2_K's weights
				for i, v := range xt {
					wt[i] = abs32(v)
				}
			case 1: // Q4_K's weights, per group
				for k := 0; k < lanes; k++ {
					var s float32
					for i := 0; i < n; i++ {
						v := xt[i*lanes+k]
						s += float32(v * v)
					}
					av := sqrt32(s / float32(n))
					for i := 0; i < n; i++ {
						wt[i*lanes+k] = av + abs32(xt[i*lanes+k])
					}
				}
			default: // arbitrary non-negative weights
				for i, v := range searchValues(rng, len(wt)) {
					wt[i] = abs32(v)
				}
			}
			checkQkxLanes(t, q.name, q.c, q.rmin, q.rdelta, xt, wt, lanes, n)
		}
	}
}

// TestQkxLanesHostile: groups whose candidates leave the float domain the
// assembly rounds in (huge ranges, tiny ranges, regression mins far out),
// which must still give the reference's bits.
func TestQkxLanesHostile(t *testing.T) {
	rng := rand.New(rand.NewPCG(63, 64))
	for it := 0; it < 300; it++ {
		for _, q := range qkxConfigs {
			xt, _ := laneGroups(rng, 8, 16)
			k := rng.IntN(8)
			for i := 0; i < 16; i++ {
				switch it % 4 {
				case 0:
					xt[i*8+k] = float32(rng.NormFloat64()) * math.MaxFloat32 / 4
				case 1:
					xt[i*8+k] = math.Float32frombits(uint32(rng.IntN(4)))
				case 2:
					xt[i*8+k] = float32(1e30 + rng.Float64()*1e24)
				default:
					xt[i*8+k] = float32(rng.IntN(2)) * 1e-40
				}
			}
			wt := make([]float32, len(xt))
			for i, v := range xt {
				wt[i] = abs32(v)
			}
			checkQkxLanes(t, q.name, q.c, q.rmin, q.rdelta, xt, wt, 8, 16)
		}
	}
}
