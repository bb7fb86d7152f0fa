package quant

import "math"

// Fast versions of ggml's scale searches (make_qkx2/3_quants,
// make_qx_quants, IQ4_NL's search), built on the lane-parallel primitives of
// search.go. Each returns exactly what its reference twin in
// kquants_helpers.go / iq4_nl_ref.go returns; the differential tests
// (kernels_test.go, search_test.go) check it.

// The primitives qkxEval8, qxSearch, roundScaled, iq4nlSums, iq4nlIndex,
// requant, imatrixWeights and makeQ3Quants8 are defined in search_amd64.go
// (assembly when the CPU allows, else the generic loops) and
// search_noasm.go (generic loops). They are plain functions, not function
// variables, so that escape analysis keeps the callers' scratch arrays on
// the stack.

// qkxConfig is one parameter set of make_qkx2_quants / make_qkx3_quants.
type qkxConfig struct {
	nmax   int32
	nstep  int
	useMad bool
	qkx3   bool
	// num[0] = nmax, the numerator of ggml's initial inverse scale, and
	// num[1+is] = (rmin + rdelta·is) + nmax, that of candidate is; entries
	// past the last candidate (lane padding) repeat it.
	num [56]float32
}

func newQkxConfig(nmax int32, rmin, rdelta float32, nstep int, useMad, qkx3 bool) *qkxConfig {
	c := &qkxConfig{nmax: nmax, nstep: nstep, useMad: useMad, qkx3: qkx3}
	c.num[0] = float32(nmax)
	for k := 1; k < len(c.num); k++ {
		is := min(k-1, nstep)
		c.num[k] = float32(rmin+float32(rdelta*float32(is))) + float32(nmax)
	}
	return c
}

var (
	qkxQ2_K  = newQkxConfig(3, -0.5, 0.1, 15, true, false)
	qkxQ4_K  = newQkxConfig(15, -1, 0.1, 20, false, false)
	qkxQ5_K  = newQkxConfig(31, -0.5, 0.1, 15, false, false)
	qkx3Q2_K = newQkxConfig(3, -0.9, 0.05, 36, false, true)
	qkx3Q4   = newQkxConfig(15, -0.9, 0.05, 36, false, true) // Q4_K and Q4_1 with imatrix
	qkx3Q5   = newQkxConfig(31, -0.9, 0.05, 36, false, true) // Q5_K and Q5_1 with imatrix
	qxNum4   = qxNumerators(4)
	qxNum8   = qxNumerators(8)
	qxNum16  = qxNumerators(16)
	qxNum32  = qxNumerators(32)
)

// makeQkx is makeQkxQuantsRef for a configuration, with explicit weights,
// n ≤ maxGroup.
//
// ggml's candidate loop is not a set of independent evaluations: when a
// candidate wins, the min it found becomes the min of every later candidate
// (both their inverse scale nmax'/(max − min) and their levels
// nearest_int(iscale·(x − min)) use it). So the initial guess and the
// candidates are evaluated 8 at a time with the current min, scanned in
// order, and after a win that changes the min the evaluation restarts at
// the next candidate with the new min.
func makeQkx(n int, c *qkxConfig, x, w []float32, L []uint8) (scale, theMin float32) {
	x, w, L = x[:n], w[:n], L[:n]
	min, max := x[0], x[0]
	sumW := w[0]
	sumX := float32(sumW * x[0])
	for i := 1; i < n; i++ {
		if x[i] < min {
			min = x[i]
		}
		if x[i] > max {
			max = x[i]
		}
		sumW += w[i]
		sumX += float32(w[i] * x[i])
	}
	if min > 0 {
		min = 0
	}
	if (!c.qkx3 && max == min) || (c.qkx3 && max <= min) {
		for i := range L {
			L[i] = 0
		}
		return 0, -min
	}
	var (
		Lf   [maxGroup * 8]float32
		res  [3][8]float32
		best float32
		// the winner: its position in c.num and the min it was evaluated with
		winPos          int
		winMin, evalRng float32
		winRng          float32
	)
	last := c.nstep + 1 // position of the last candidate in c.num
	for p := 0; p <= last; {
		evalRng = max - min
		evalMin := min
		qkxEval8(x, w, (*[8]float32)(c.num[p:]), evalRng, evalMin, c.nmax, sumW, sumX, c.useMad, p == 0, &Lf, &res)
		next := p + 8
		for k := 0; k < 8 && p+k <= last; k++ {
			if p+k == 0 { // ggml's initial guess: the error to beat
				best, scale = res[2][0], res[0][0]
				winPos, winMin, winRng = 0, evalMin, evalRng
				continue
			}
			if res[2][k] < best {
				best, scale = res[2][k], res[0][k]
				winPos, winMin, winRng = p+k, evalMin, evalRng
				if tm := res[1][k]; math.Float32bits(tm) != math.Float32bits(min) {
					min = tm
					next = p + k + 1
					break
				}
			}
		}
		p = next
	}
	iscale := c.num[winPos] / winRng
	for i := range x {
		L[i] = uint8(clampI32(nearestInt(float32(iscale*(x[i]-winMin))), 0, c.nmax))
	}
	return scale, -min
}

// qxNumerators returns the numerators of make_qx_quants' 19 inverse scales
// (lane 0: −nmax; lanes 1..18: −(nmax + 0.1·is) for is = −9..−1, 1..9),
// padded to 24 lanes.
func qxNumerators(nmax int32) *[24]float32 {
	var num [24]float32
	num[0] = float32(-nmax)
	k := 1
	for is := -9; is <= 9; is++ {
		if is != 0 {
			num[k] = -(float32(nmax) + float32(0.1*float32(is)))
			k++
		}
	}
	for ; k < 24; k++ {
		num[k] = num[18]
	}
	return &num
}

// makeQx is makeQxQuantsRef with weights (qw, or x² when qw is nil),
// n ≤ 32, levels written as uint8 (0..2·nmax−1).
func makeQx(n int, nmax int32, x, qw []float32, L []uint8) float32 {
	x, L = x[:n], L[:n]
	if qw != nil {
		qw = qw[:n]
	}
	var num *[24]float32
	switch nmax {
	case 4:
		num = qxNum4
	case 8:
		num = qxNum8
	case 16:
		num = qxNum16
	default:
		num = qxNum32
	}
	var sums [48]float32
	max, ok := qxSearch(x, qw, num, nmax, &sums)
	if !ok {
		clear(L)
		return 0
	}
	sumlx, suml2 := sums[0], sums[24]
	var scale float32
	if suml2 != 0 {
		scale = sumlx / suml2
	}
	best := float32(scale * sumlx)
	win := 0
	for k := 1; k <= 18; k++ {
		sumlx, suml2 = sums[k], sums[24+k]
		if suml2 > 0 && float32(sumlx*sumlx) > float32(best*suml2) {
			scale = sumlx / suml2
			best = float32(scale * sumlx)
			win = k
		}
	}
	roundScaled(L, x, num[win]/max, -nmax, nmax-1, nmax)
	return scale
}

// iq4nlNum holds the numerators (itry − 127) of IQ4_NL's 15 search
// candidates, in lanes 1..15 (lane 0 is the initial 1/d).
var iq4nlNum = func() (n [16]float32) {
	for itry := -7; itry <= 7; itry++ {
		n[itry+8] = float32(itry + int(kvaluesIQ4NL[0]))
	}
	return n
}()

// iq4nlIndexGeneric sets out[i] = bestIndexIQ4NL(id*x[i]).
func iq4nlIndexGeneric(out []uint8, x []float32, id float32) {
	for i, v := range x {
		out[i] = uint8(bestIndexIQ4NL(float32(id * v)))
	}
}

// iq4nlScale is the scale search of iq4nlBlockRef (amax ≥ GROUP_MAX_EPS):
// it returns the block's float32 scale.
func iq4nlScale(x, w []float32, max float32) float32 {
	var id [16]float32
	d := -max / float32(kvaluesIQ4NL[0])
	id[0] = 1 / d
	for k := 1; k < 16; k++ {
		id[k] = iq4nlNum[k] / max
	}
	var sums [32]float32
	iq4nlSums(x, w, id[:], sums[:])
	sumqx, sumq2 := sums[0], sums[16]
	d = 0
	if sumq2 > 0 {
		d = sumqx / sumq2
	}
	best := float32(d * sumqx)
	for k := 1; k < 16; k++ {
		sumqx, sumq2 = sums[k], sums[16+k]
		if sumq2 > 0 && float32(sumqx*sumqx) > float32(best*sumq2) {
			d = sumqx / sumq2
			best = float32(d * sumqx)
		}
	}
	return d
}
