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

// checkQkxLanes runs qkxSearch on sets of 16 transposed groups (xt[s],
// wt[s]) and compares every lane with qkxLanesGeneric — with every kernel
// the machine has: AVX-512, AVX2 with AVX-512 switched off — and with
// makeQkxQuantsRef on the group alone (scale, min and the levels
// qkxLevels rebuilds).
func checkQkxLanes(t *testing.T, name string, c *qkxConfig, rmin, rdelta float32, xt, wt [][]float32, n int) {
	t.Helper()
	var ws qkxWork
	for s := range xt {
		copy(ws.xt[s][:], xt[s])
		copy(ws.wt[s][:], wt[s])
	}
	var got, got2, want [2]qkxLanes
	qkxSearch(&ws, len(xt), n, c, &got)
	restore := setAVX512(false)
	qkxSearch(&ws, len(xt), n, c, &got2)
	restore()
	for s := range xt {
		qkxLanesGeneric(xt[s], wt[s], 16, n, c, &want[s])
	}
	if got != want || got2 != want {
		t.Fatalf("%s: qkxSearch differs from qkxLanesGeneric (%d sets, n %d)\n got  %v\n AVX2 %v\n want %v\n xt %v\n wt %v",
			name, len(xt), n, got, got2, want, xt, wt)
	}
	x, w := make([]float32, n), make([]float32, n)
	L, Laux, L2 := make([]uint8, n), make([]uint8, n), make([]uint8, n)
	for s := range xt {
		for k := 0; k < 16; k++ {
			for i := 0; i < n; i++ {
				x[i], w[i] = xt[s][i*16+k], wt[s][i*16+k]
			}
			sc, m := makeQkxQuantsRef(n, c.nmax, x, w, L, Laux, rmin, rdelta, c.nstep, c.useMad, c.qkx3)
			r := &want[s]
			qkxLevels(L2, x, r.is[k], r.min[k], c.nmax)
			if math.Float32bits(sc) != math.Float32bits(r.scale[k]) || math.Float32bits(m) != math.Float32bits(r.theMin[k]) ||
				string(L) != string(L2) {
				t.Fatalf("%s: set %d lane %d differs from makeQkxQuantsRef\n got  %v %v %v\n want %v %v %v\n x %v\n w %v",
					name, s, k, r.scale[k], r.theMin[k], L2, sc, m, L, x, w)
			}
		}
	}
}

// qkxTestWeights returns weights for the transposed groups xt (16 lanes of
// n) of one of the encoders' kinds, or arbitrary non-negative ones.
func qkxTestWeights(rng *rand.Rand, xt []float32, n int) []float32 {
	wt := make([]float32, len(xt))
	switch rng.IntN(4) {
	case 0: // Q2_K's weights
		for i, v := range xt {
			wt[i] = abs32(v)
		}
	case 1: // Q4_K's weights, per group
		for k := 0; k < 16; k++ {
			var s float32
			for i := 0; i < n; i++ {
				v := xt[i*16+k]
				s += float32(v * v)
			}
			av := sqrt32(s / float32(n))
			for i := 0; i < n; i++ {
				wt[i*16+k] = av + abs32(xt[i*16+k])
			}
		}
	default: // arbitrary non-negative weights
		for i, v := range searchValues(rng, len(wt)) {
			wt[i] = abs32(v)
		}
	}
	return wt
}

func TestQkxLanesMatchReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(61, 62))
	iters := 2000
	if testing.Short() {
		iters = 250
	}
	for it := 0; it < iters; it++ {
		for _, q := range qkxConfigs {
			sets := 1 + rng.IntN(2)
			n := []int{16, 32}[rng.IntN(2)]
			var xt, wt [][]float32
			for s := 0; s < sets; s++ {
				x, _ := laneGroups(rng, 16, n)
				xt = append(xt, x)
				wt = append(wt, qkxTestWeights(rng, x, n))
			}
			checkQkxLanes(t, q.name, q.c, q.rmin, q.rdelta, xt, wt, n)
		}
	}
}

// TestQkxLanesHostile: groups whose candidates leave the float domain the
// assembly rounds in (huge ranges, tiny ranges), which must still give the
// reference's bits, in one set or the other.
func TestQkxLanesHostile(t *testing.T) {
	rng := rand.New(rand.NewPCG(63, 64))
	for it := 0; it < 300; it++ {
		for _, q := range qkxConfigs {
			sets := 1 + it%2
			var xt, wt [][]float32
			for s := 0; s < sets; s++ {
				x, _ := laneGroups(rng, 16, 16)
				xt = append(xt, x)
			}
			hs, k := rng.IntN(sets), rng.IntN(16)
			for i := 0; i < 16; i++ {
				v := &xt[hs][i*16+k]
				switch it / 2 % 4 {
				case 0:
					*v = float32(rng.NormFloat64()) * math.MaxFloat32 / 4
				case 1:
					*v = math.Float32frombits(uint32(rng.IntN(4)))
				case 2:
					*v = float32(1e30 + rng.Float64()*1e24)
				default:
					*v = float32(rng.IntN(2)) * 1e-40
				}
			}
			for s := 0; s < sets; s++ {
				wt = append(wt, qkxTestWeights(rng, xt[s], 16))
			}
			checkQkxLanes(t, q.name, q.c, q.rmin, q.rdelta, xt, wt, 16)
		}
	}
}

// TestLaneLayoutHelpers: transposeGroups16 and groupWeights16 (assembly
// where available) against the generic loops.
func TestLaneLayoutHelpers(t *testing.T) {
	rng := rand.New(rand.NewPCG(67, 68))
	for it := 0; it < 500; it++ {
		groups := []int{8, 16}[rng.IntN(2)]
		n := []int{16, 32}[rng.IntN(2)]
		off := 0
		if groups == 8 {
			off = 8 * rng.IntN(2)
		}
		src := searchValues(rng, groups*n)
		got, want := make([]float32, 16*n), make([]float32, 16*n)
		for i := range got {
			got[i] = float32(i)
			want[i] = float32(i)
		}
		transposeGroups16(got, src, groups, n, off)
		transposeGroups(want, src, groups, n, 16, off)
		if !sameBits(got, want) {
			t.Fatalf("transposeGroups16(%d groups, n %d, off %d) differs:\n got  %v\n want %v", groups, n, off, got, want)
		}
		xt, _ := laneGroups(rng, 16, n)
		xt2, _ := laneGroups(rng, 16, n)
		for _, kind := range []int{weightsAbs, weightsAvAbs} {
			for sets := 1; sets <= 2; sets++ {
				var ws qkxWork
				copy(ws.xt[0][:], xt)
				copy(ws.xt[1][:], xt2)
				qkxWeights(&ws, sets, n, kind)
				for s, x := range [][]float32{xt, xt2}[:sets] {
					w := make([]float32, 16*n)
					groupWeightsGeneric(w, x, 16, n, kind)
					if !sameBits(ws.wt[s][:16*n], w) {
						t.Fatalf("qkxWeights(%d sets, kind %d, n %d): set %d differs", sets, kind, n, s)
					}
				}
			}
			w1, w2 := make([]float32, 16*n), make([]float32, 16*n)
			groupWeights16(w1, xt, n, kind)
			groupWeightsGeneric(w2, xt, 16, n, kind)
			if !sameBits(w1, w2) {
				t.Fatalf("groupWeights16(kind %d, n %d) differs:\n got  %v\n want %v\n xt %v", kind, n, w1, w2, xt)
			}
		}
	}
}

// checkQxLanes runs qxSearch16 on sets of 16 transposed groups with every
// kernel the machine has and compares each lane with qxLanesGeneric and
// with makeQxQuantsRef on the group alone (scale and levels). wt[s] nil
// means no imatrix (weights x²).
func checkQxLanes(t *testing.T, xt, wt [][]float32, n int, nmax int32) {
	t.Helper()
	num := map[int32]*[24]float32{4: qxNum4, 8: qxNum8, 16: qxNum16, 32: qxNum32}[nmax]
	var ws qxWork
	for s := range xt {
		copy(ws.xt[s][:], xt[s])
		if wt[s] != nil {
			copy(ws.wt[s][:], wt[s])
		} else {
			squares(ws.wt[s][:16*n], xt[s])
		}
	}
	ws2 := ws
	var got, got2, want [2]qxLanes
	qxSearch16(&ws, len(xt), n, nmax, num, &got)
	restore := setAVX512(false)
	qxSearch16(&ws2, len(xt), n, nmax, num, &got2)
	restore()
	for s := range xt {
		qxLanesGeneric(ws.xt[s][:], ws.wt[s][:], n, nmax, num, &want[s])
	}
	if !sameQxLanes(got[:len(xt)], want[:len(xt)]) || !sameQxLanes(got2[:len(xt)], want[:len(xt)]) {
		t.Fatalf("qxSearch16 differs from qxLanesGeneric (%d sets, n %d, nmax %d)\n got  %v\n AVX2 %v\n want %v\n xt %v",
			len(xt), n, nmax, got, got2, want, xt)
	}
	x, w := make([]float32, n), make([]float32, n)
	L, L2 := make([]int8, n), make([]uint8, n)
	for s := range xt {
		for k := 0; k < 16; k++ {
			for i := 0; i < n; i++ {
				x[i] = xt[s][16*i+k]
				if wt[s] != nil {
					w[i] = wt[s][16*i+k]
				}
			}
			var qw []float32
			if wt[s] != nil {
				qw = w
			}
			sc := makeQxQuantsRef(n, nmax, x, L, qw)
			qxLevels(L2, x, &want[s], k, nmax)
			same := sameBitsOrNaN([]float32{sc}, want[s].scale[k:k+1])
			for i := range L {
				same = same && uint8(L[i]) == L2[i]
			}
			if !same {
				t.Fatalf("set %d lane %d differs from makeQxQuantsRef (nmax %d)\n got  %v %v\n want %v %v\n x %v\n w %v",
					s, k, nmax, want[s].scale[k], L2, sc, L, x, qw)
			}
		}
	}
}

// sameQxLanes compares search results bit for bit, except that any two
// NaN scales are equal: every NaN here is x86's default NaN, generated by
// an invalid operation on finite input, and whether a later sign change
// reached it depends on operand order; nearest_int gives 0 for either
// sign, so no output byte depends on it.
func sameQxLanes(a, b []qxLanes) bool {
	for s := range a {
		if a[s].zero != b[s].zero || !sameBits(a[s].is[:], b[s].is[:]) || !sameBitsOrNaN(a[s].scale[:], b[s].scale[:]) {
			return false
		}
	}
	return true
}

func TestQxLanesMatchReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(69, 70))
	iters := 3000
	if testing.Short() {
		iters = 400
	}
	for it := 0; it < iters; it++ {
		sets := 1 + rng.IntN(2)
		n := []int{16, 32}[rng.IntN(2)]
		nmax := []int32{4, 8, 16, 32}[rng.IntN(4)]
		var xt, wt [][]float32
		for s := 0; s < sets; s++ {
			x, _ := laneGroups(rng, 16, n)
			if it%5 == 0 { // a group with one huge value and tiny ones
				k := rng.IntN(16)
				for i := 0; i < n; i++ {
					x[16*i+k] = float32(rng.NormFloat64() * 1e-30)
				}
				x[16*rng.IntN(n)+k] = 3e38
			}
			xt = append(xt, x)
			var w []float32
			if rng.IntN(2) == 0 {
				w = make([]float32, len(x))
				for i, v := range searchValues(rng, len(w)) {
					w[i] = abs32(v)
				}
			}
			wt = append(wt, w)
		}
		checkQxLanes(t, xt, wt, n, nmax)
	}
}

// TestRequantGroups: requantGroups (assembly where available) against the
// generic loops, with some groups skipped (dl = 0).
func TestRequantGroups(t *testing.T) {
	rng := rand.New(rand.NewPCG(73, 74))
	for it := 0; it < 2000; it++ {
		gl := []int{16, 32}[rng.IntN(2)]
		g := qkK / gl
		x := searchValues(rng, qkK)
		ml, dl := make([]float32, g), make([]float32, g)
		for j := range dl {
			ml[j] = float32(rng.NormFloat64())
			if rng.IntN(3) == 0 {
				ml[j] = 0
			}
			dl[j] = float32(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(10)-5)))
			switch rng.IntN(6) {
			case 0:
				dl[j] = 0
			case 1:
				dl[j] = float32(math.NaN())
			}
		}
		lo, hi, off := []int32{0, -4, -32}[it%3], []int32{3, 15, 31, 3, 31}[it%5], []int32{0, 4, 32}[it%3]
		var q1, q2 [qkK]uint8
		for i := range q1 {
			q1[i], q2[i] = uint8(i), uint8(i)
		}
		requantGroupsGeneric(q2[:], x, ml, dl, gl, lo, hi, off)
		for _, avx512 := range []bool{true, false} {
			restore := setAVX512(avx512)
			q3 := q1
			requantGroups(q3[:], x, ml, dl, gl, lo, hi, off)
			restore()
			if q3 != q2 {
				t.Fatalf("requantGroups (AVX-512 %v) differs (group %d, dl %v):\n got  %v\n want %v", avx512, gl, dl, q3, q2)
			}
		}
	}
}

// halfwayValue returns the value x whose requantization quotient
// (x+ml)/dl is the half-integer k+½, computed as float32(float32((k+½)·dl) −
// ml), moved by a random number of ulps in −steps…steps: the values where
// rounding to the nearest integer is hardest to get right.
func halfwayValue(rng *rand.Rand, k float64, dl, ml float32, steps int) float32 {
	v := float32(float32((k+0.5)*float64(dl)) - ml)
	for s := rng.IntN(2*steps+1) - steps; s != 0; {
		if s > 0 {
			v, s = math.Nextafter32(v, float32(math.Inf(1))), s-1
		} else {
			v, s = math.Nextafter32(v, float32(math.Inf(-1))), s+1
		}
	}
	return v
}

// TestRequantGroupsHalfway: requantGroups against the generic loops on
// values whose quotients (x+ml)/dl lie at or within a few ulps of
// half-integers (where the AVX-512 kernel's multiplication by 1/dl must
// hand over to the division), of either sign, near the ±256 bound of its
// fast path, and beyond 2²² (ggml's rounding trick gives other integers).
func TestRequantGroupsHalfway(t *testing.T) {
	rng := rand.New(rand.NewPCG(77, 78))
	iters := 3000
	if testing.Short() {
		iters = 600
	}
	for it := 0; it < iters; it++ {
		gl := []int{16, 32}[rng.IntN(2)]
		g := qkK / gl
		x := make([]float32, qkK)
		ml, dl := make([]float32, g), make([]float32, g)
		for j := range dl {
			dl[j] = float32(math.Ldexp(1+rng.Float64(), rng.IntN(40)-30))
			if rng.IntN(2) == 0 {
				dl[j] = -dl[j]
			}
			if rng.IntN(4) == 0 {
				dl[j] = float32(int32(rng.IntN(64)-32)) * F16ToF32(uint16(rng.IntN(0x7c00)))
			}
			if rng.IntN(2) == 0 {
				ml[j] = float32(rng.NormFloat64()) * dl[j] * 4
			}
			span := []float64{40, 300, 1 << 23}[rng.IntN(3)]
			for i := 0; i < gl; i++ {
				x[gl*j+i] = halfwayValue(rng, math.Floor((rng.Float64()*2-1)*span), dl[j], ml[j], 3)
			}
		}
		lo, hi, off := []int32{0, -4, -32}[it%3], []int32{3, 15, 31, 3, 31}[it%5], []int32{0, 4, 32}[it%3]
		var want [qkK]uint8
		requantGroupsGeneric(want[:], x, ml, dl, gl, lo, hi, off)
		for _, avx512 := range []bool{true, false} {
			restore := setAVX512(avx512)
			var got [qkK]uint8
			requantGroups(got[:], x, ml, dl, gl, lo, hi, off)
			restore()
			if got != want {
				t.Fatalf("requantGroups (AVX-512 %v) differs (group %d, dl %v, ml %v):\n got  %v\n want %v", avx512, gl, dl, ml, got, want)
			}
		}
	}
}

// TestRequantPackQ4K: requantPackQ4K (the fused AVX-512 kernel where
// available, and without it) against requantPackQ4KGeneric on random
// super-blocks, on values at and near the half-integer quotients, with
// NaN, negative, tiny and huge group scales, and in every fifth super-block
// a group with dl = 0, which keeps the levels it holds.
func TestRequantPackQ4K(t *testing.T) {
	rng, keep := rand.New(rand.NewPCG(81, 82)), rand.New(rand.NewPCG(85, 86))
	iters := 3000
	if testing.Short() {
		iters = 600
	}
	for it := 0; it < iters; it++ {
		var ml, dl [8]float32
		x := make([]float32, qkK)
		if it%2 == 0 {
			copy(x, searchValues(rng, qkK))
		}
		for j := range dl {
			for dl[j] == 0 {
				dl[j] = float32(math.Ldexp(1+rng.Float64(), rng.IntN(40)-30))
				switch rng.IntN(8) {
				case 0:
					dl[j] = -dl[j]
				case 1:
					dl[j] = float32(math.NaN())
				case 2:
					dl[j] = float32(rng.IntN(64)) * F16ToF32(uint16(rng.IntN(0x7c00)))
				}
			}
			if rng.IntN(2) == 0 {
				ml[j] = float32(rng.NormFloat64()) * dl[j] * 8
			}
			if it%2 == 0 {
				continue
			}
			span := []float64{20, 300, 1 << 23}[rng.IntN(3)]
			for i := 0; i < 32; i++ {
				x[32*j+i] = halfwayValue(rng, math.Floor((rng.Float64()*1.2-0.1)*span), dl[j], ml[j], 2)
			}
		}
		var want [128]byte
		var L [qkK]uint8
		if it%5 == 4 {
			dl[keep.IntN(8)] = 0
			for i := range L {
				L[i] = uint8(keep.IntN(16))
			}
		}
		L0 := L
		requantPackQ4KGeneric(&want, &L, x, &ml, &dl)
		for _, avx512 := range []bool{true, false} {
			restore := setAVX512(avx512)
			var got [128]byte
			L2 := L0
			requantPackQ4K(&got, &L2, x, &ml, &dl)
			restore()
			if got != want {
				t.Fatalf("requantPackQ4K (AVX-512 %v) differs (dl %v, ml %v):\n got  %v\n want %v", avx512, dl, ml, got, want)
			}
		}
	}
}

// TestRequantPackQ6K: requantPackQ6K (the fused AVX-512 kernel where
// available, and without it) against requantPackQ6KGeneric on random
// super-blocks, on values at and near the half-integer quotients, ±0,
// with NaN, negative, tiny and huge group scales, and in every fifth
// super-block a group with dl = 0, which keeps the levels it holds.
func TestRequantPackQ6K(t *testing.T) {
	rng, keep := rand.New(rand.NewPCG(83, 84)), rand.New(rand.NewPCG(87, 88))
	iters := 3000
	if testing.Short() {
		iters = 600
	}
	for it := 0; it < iters; it++ {
		var dl [16]float32
		x := make([]float32, qkK)
		if it%2 == 0 {
			copy(x, searchValues(rng, qkK))
		}
		for j := range dl {
			for dl[j] == 0 {
				dl[j] = float32(math.Ldexp(1+rng.Float64(), rng.IntN(40)-30))
				switch rng.IntN(8) {
				case 0:
					dl[j] = -dl[j]
				case 1:
					dl[j] = float32(math.NaN())
				case 2:
					dl[j] = float32(rng.IntN(255)-127) * F16ToF32(uint16(rng.IntN(0x7c00)))
				}
			}
			if it%2 == 0 {
				continue
			}
			span := []float64{40, 300, 1 << 23}[rng.IntN(3)]
			for i := 0; i < 16; i++ {
				v := halfwayValue(rng, math.Floor((rng.Float64()*2-1)*span), dl[j], 0, 2)
				if rng.IntN(16) == 0 {
					v = float32(math.Copysign(0, float64(rng.IntN(2)*2-1)))
				}
				x[16*j+i] = v
			}
		}
		var want [192]byte
		var L [qkK]uint8
		if it%5 == 4 {
			dl[keep.IntN(16)] = 0
			for i := range L {
				L[i] = uint8(keep.IntN(64))
			}
		}
		L0 := L
		requantPackQ6KGeneric((*[128]byte)(want[:128]), (*[64]byte)(want[128:]), &L, x, &dl)
		for _, avx512 := range []bool{true, false} {
			restore := setAVX512(avx512)
			var got [192]byte
			L2 := L0
			requantPackQ6K((*[128]byte)(got[:128]), (*[64]byte)(got[128:]), &L2, x, &dl)
			restore()
			if got != want {
				t.Fatalf("requantPackQ6K (AVX-512 %v) differs (dl %v):\n got  %v\n want %v", avx512, dl, got, want)
			}
		}
	}
}

// TestQ3LanesMatchReference: q3Search with every kernel the machine has
// against makeQ3QuantsLanesGeneric, and that against makeQ3QuantsRef on
// each group alone.
func TestQ3LanesMatchReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(75, 76))
	iters := 3000
	if testing.Short() {
		iters = 400
	}
	for it := 0; it < iters; it++ {
		var ws, ws2, want q3Work
		xt, groups := laneGroups(rng, 16, 16)
		copy(ws.xt[:], xt)
		ws2, want = ws, ws
		q3Search(&ws)
		restore := setAVX512(false)
		q3Search(&ws2)
		restore()
		makeQ3QuantsLanesGeneric(&want)
		if ws.lt != want.lt || !sameBits(ws.scale[:], want.scale[:]) || ws2.lt != want.lt || !sameBits(ws2.scale[:], want.scale[:]) {
			t.Fatalf("q3Search differs from makeQ3QuantsLanesGeneric:\n got  %v %v\n AVX2 %v %v\n want %v %v\n xt %v",
				ws.scale, ws.lt, ws2.scale, ws2.lt, want.scale, want.lt, xt)
		}
		for k, g := range groups {
			var L [16]int8
			s := makeQ3QuantsRef(g, L[:])
			for i := range L {
				if int32(L[i]) != want.lt[16*i+k] {
					t.Fatalf("lane %d differs from makeQ3QuantsRef: %v", k, g)
				}
			}
			if math.Float32bits(s) != math.Float32bits(want.scale[k]) {
				t.Fatalf("lane %d scale %v, reference %v", k, want.scale[k], s)
			}
		}
	}
}

// TestSquaresAgree: squares, with the assembly and without, gives
// squaresGeneric's bits at every length and alignment, with NaN, ±Inf, ±0,
// subnormals and overflowing values.
func TestSquaresAgree(t *testing.T) {
	for _, asm := range []bool{true, false} {
		restore := setAsm(asm)
		testSquaresAgree(t)
		restore()
	}
}

func testSquaresAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), float32(math.Inf(1)),
		float32(math.Inf(-1)), math.MaxFloat32, -math.MaxFloat32, math.SmallestNonzeroFloat32, 1e-20, -3e19}
	for n := 0; n <= 70; n++ {
		for off := 0; off < 3; off++ {
			x := make([]float32, n+off)[off:]
			for i := range x {
				x[i] = float32(rng.NormFloat64())
				if rng.IntN(5) == 0 {
					x[i] = special[rng.IntN(len(special))]
				}
			}
			got, want := make([]float32, n+off)[off:], make([]float32, n)
			squares(got, x)
			squaresGeneric(want, x)
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("n=%d off=%d element %d: x=%v, %v, generic %v", n, off, i, x[i], got[i], want[i])
				}
			}
		}
	}
}

// BenchmarkRequantGroups: requantGroups on one super-block of N(0, 1)
// values with Q4_K's (8 groups of 32, levels 0..15) and Q6_K's (16 of 16,
// −32..31 + 32) shapes and typical scales.
func BenchmarkRequantGroups(b *testing.B) {
	rng := rand.New(rand.NewPCG(79, 80))
	x := make([]float32, qkK)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	for _, c := range []struct {
		name            string
		gl              int
		lo, hi, off     int32
		scale, minShift float32
	}{{"Q4_K", 32, 0, 15, 0, 6.0 / 15, 3}, {"Q6_K", 16, -32, 31, 32, 3.0 / 32, 0}} {
		g := qkK / c.gl
		ml, dl := make([]float32, g), make([]float32, g)
		for j := range dl {
			dl[j], ml[j] = c.scale*float32(1+0.1*rng.Float64()), c.minShift
		}
		var out [qkK]uint8
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(4 * qkK)
			for i := 0; i < b.N; i++ {
				requantGroups(out[:], x, ml, dl, c.gl, c.lo, c.hi, c.off)
			}
		})
	}
}

// BenchmarkRequantPack: Q4_K's and Q6_K's requantization and packing of
// one super-block, fused (requantPackQ4K, requantPackQ6K) and as
// requantGroups followed by packQ4K / packQ6K.
func BenchmarkRequantPack(b *testing.B) {
	rng := rand.New(rand.NewPCG(85, 86))
	x := make([]float32, qkK)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	var ml4, dl4 [8]float32
	var ml6, dl6 [16]float32
	for j := range dl4 {
		dl4[j], ml4[j] = 0.4*float32(1+0.1*rng.Float64()), 3
	}
	for j := range dl6 {
		dl6[j] = 0.1 * float32(1+0.1*rng.Float64())
	}
	var L [qkK]uint8
	var y [192]byte
	qs, ql, qh := (*[128]byte)(y[:128]), (*[128]byte)(y[:128]), (*[64]byte)(y[128:])
	b.Run("Q4_K/fused", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			requantPackQ4K(qs, &L, x, &ml4, &dl4)
		}
	})
	b.Run("Q4_K/separate", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			requantGroups(L[:], x, ml4[:], dl4[:], 32, 0, 15, 0)
			packQ4K(qs, &L)
		}
	})
	b.Run("Q6_K/fused", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			requantPackQ6K(ql, qh, &L, x, &dl6)
		}
	})
	b.Run("Q6_K/separate", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			requantGroups(L[:], x, ml6[:], dl6[:], 16, -32, 31, 32)
			packQ6K(ql, qh, &L)
		}
	})
}
