package quant

import "math"

// Lane-parallel building blocks of the fast encoders.
//
// The expensive part of every K-quant, imatrix and IQ4_NL encoder is a
// search over candidate scales: for each candidate ggml runs the same short
// loop over the group's elements, accumulating a few sums in element order,
// and then keeps the best candidate in candidate order. Candidates can be
// evaluated side by side — one candidate per SIMD lane — without changing a
// single rounding: every lane performs exactly ggml's operations in ggml's
// order. Only the choice, which depends on the order of the candidates,
// stays sequential (in the callers, search_fast.go). For make_qx_quants and
// IQ4_NL the candidates are independent; make_qkx2/3_quants' are not (see
// makeQkx) and are re-evaluated after a win that changes the min.
//
// Each primitive below is written as a plain Go loop over lanes. It is both
// the portable implementation (used with -tags noasm, on other
// architectures and on CPUs without AVX2) and the documentation of the
// assembly version in search_amd64.s; TestSearchAsmMatchesGeneric compares
// the two. Per-element per-lane data is laid out element-major:
// buf[i*lanes + k] for element i, lane k.

// maxGroup is the largest group any search runs on.
const maxGroup = 32

// qkxEval8Generic evaluates 8 candidates of make_qkx2_quants /
// make_qkx3_quants, all with the same min: for lane k with inverse scale
// is[k] = num[k]/rng, over i = 0..n-1 in order,
//
//	l = clamp(nearestInt(is[k]*(x[i] - min)), 0, nmax); Lf[i*8+k] = l
//	sumL += w[i]*l; sumL2 += (w[i]*l)*l; sumXL += (w[i]*l)*x[i]
//
// then ggml's least-squares fit of scale and min (this_scale, this_min,
// with this_min > 0 replaced by 0 and this_scale by sumXL/sumL2) and the
// error Σ w[i]·f(((this_scale*l) + this_min) − x[i]), f = |·| when mad,
// squaring otherwise. res[0], res[1], res[2] receive this_scale, this_min
// and the error; a lane whose determinant D is not positive (a candidate
// ggml skips) gets error +Inf, which no comparison `err < best` accepts.
//
// With first set, lane 0 is ggml's initial guess instead of a candidate:
// its scale is 1/is[0] and its min is min (no fit), and it is never
// skipped.
func qkxEval8Generic(x, w []float32, num *[8]float32, rng, min float32, nmax int32, sumW, sumX float32,
	mad, first bool, Lf *[maxGroup * 8]float32, res *[3][8]float32) {
	n := len(x)
	var is, sumL, sumL2, sumXL [8]float32
	for k := range is {
		is[k] = num[k] / rng
	}
	for i := 0; i < n; i++ {
		xi, wi := x[i], w[i]
		xmi := xi - min
		for k := 0; k < 8; k++ {
			l := float32(clampI32(nearestInt(float32(is[k]*xmi)), 0, nmax))
			Lf[i*8+k] = l
			wl := float32(wi * l)
			sumL[k] += wl
			sumL2[k] += float32(wl * l)
			sumXL[k] += float32(wl * xi)
		}
	}
	var ts, tm, err [8]float32
	var valid [8]bool
	for k := 0; k < 8; k++ {
		D := float32(sumW*sumL2[k]) - float32(sumL[k]*sumL[k])
		valid[k] = D > 0
		ts[k] = (float32(sumW*sumXL[k]) - float32(sumX*sumL[k])) / D
		tm[k] = (float32(sumL2[k]*sumX) - float32(sumL[k]*sumXL[k])) / D
		if tm[k] > 0 {
			tm[k] = 0
			ts[k] = sumXL[k] / sumL2[k]
		}
	}
	if first {
		ts[0], tm[0], valid[0] = 1/is[0], min, true
	}
	for i := 0; i < n; i++ {
		xi, wi := x[i], w[i]
		for k := 0; k < 8; k++ {
			diff := float32(float32(ts[k]*Lf[i*8+k])+tm[k]) - xi
			if mad {
				diff = abs32(diff)
			} else {
				diff = float32(diff * diff)
			}
			err[k] += float32(wi * diff)
		}
	}
	for k := 0; k < 8; k++ {
		if !valid[k] {
			err[k] = posInf32
		}
	}
	res[0], res[1], res[2] = ts, tm, err
}

var posInf32 = float32(math.Inf(1))

// qxSearchGeneric is the scan and sum pass of make_qx_quants (rmse_type
// 1) for 24 candidates with inverse scales num[k]/max: it finds max, the
// first x with the largest |x|, and reports ok = false for an all-zero
// group (max |x| < GROUP_MAX_EPS); otherwise, for lane k and i = 0..n-1
// in order, with w[i] = qw[i] (or x[i]*x[i] when qw is nil),
//
//	l = clamp(nearestInt((num[k]/max)*x[i]), -nmax, nmax-1)
//	sumLX[k] += (w[i]*x[i])*l; sumL2[k] += (w[i]*l)*l
//
// and sums receives sumLX in sums[0:24] and sumL2 in sums[24:48]. The
// numerators must satisfy |num[k]| ≤ nmax+1 (make_qx_quants' do), which
// bounds every is[k]*x[i] and lets the assembly version round in the float
// domain.
func qxSearchGeneric(x, qw []float32, num *[24]float32, nmax int32, sums *[48]float32) (max float32, ok bool) {
	var amax float32
	for _, v := range x {
		if a := abs32(v); a > amax {
			amax, max = a, v
		}
	}
	if amax < groupMaxEps {
		return max, false
	}
	var is [24]float32
	for k := range is {
		is[k] = num[k] / max
	}
	*sums = [48]float32{}
	for i, xi := range x {
		wi := float32(xi * xi)
		if qw != nil {
			wi = qw[i]
		}
		wxi := float32(wi * xi)
		for k := 0; k < 24; k++ {
			l := float32(clampI32(nearestInt(float32(is[k]*xi)), -nmax, nmax-1))
			sums[k] += float32(wxi * l)
			sums[24+k] += float32(float32(wi*l) * l)
		}
	}
	return max, true
}

// roundScaledGeneric sets out[i] = uint8(clamp(nearestInt(iscale*x[i]), lo, hi) + off).
func roundScaledGeneric(out []uint8, x []float32, iscale float32, lo, hi, off int32) {
	for i, v := range x {
		out[i] = uint8(clampI32(nearestInt(float32(iscale*v)), lo, hi) + off)
	}
}

// imatrixWeightsGeneric sets w[j] = qw[j]·sqrt(sigma2 + x[j]²).
func imatrixWeightsGeneric(w, x, qw []float32, sigma2 float32) {
	for j := range w {
		w[j] = float32(qw[j] * sqrt32(sigma2+float32(x[j]*x[j])))
	}
}

// iq4nlSumsGeneric is the sum pass of IQ4_NL's scale search for nl
// candidate inverse scales: for lane k and i = 0..n-1 in order,
//
//	q = kvalues[bestIndexIQ4NL(id[k]*x[i])]
//	sumQX[k] += (w[i]*q)*x[i]; sumQ2[k] += (w[i]*q)*q
//
// sums receives sumQX then sumQ2.
func iq4nlSumsGeneric(x, w []float32, id []float32, sums []float32) {
	n, nl := len(x), len(id)
	sumQX, sumQ2 := sums[0:nl], sums[nl:2*nl]
	for k := 0; k < nl; k++ {
		sumQX[k], sumQ2[k] = 0, 0
	}
	for i := 0; i < n; i++ {
		xi, wi := x[i], w[i]
		for k := 0; k < nl; k++ {
			q := float32(kvaluesIQ4NL[bestIndexIQ4NL(float32(id[k]*xi))])
			wq := float32(wi * q)
			sumQX[k] += float32(wq * xi)
			sumQ2[k] += float32(wq * q)
		}
	}
}

// iq4nlMids holds the midpoints between adjacent IQ4_NL levels.
var iq4nlMids = func() (m [15]float32) {
	for j := range m {
		m[j] = float32(int(kvaluesIQ4NL[j])+int(kvaluesIQ4NL[j+1])) / 2
	}
	return m
}()

// bestIndexIQ4NL is bestIndexIQ4NLRef without branches: the number of
// level midpoints that x is not below. The two agree for every float32
// (TestBestIndexIQ4NL checks all 2³² inputs in long mode): near a midpoint
// ggml's differences x − K[lo] and K[hi] − x are computed exactly, so its
// comparison is the exact one, x < midpoint; a NaN compares "not below"
// every midpoint and gives 15, as ggml's search does.
func bestIndexIQ4NL(x float32) int {
	n := 0
	for _, m := range &iq4nlMids {
		if !(x < m) {
			n++
		}
	}
	return n
}

// requantGeneric is the requantization step shared by the K-quants: for
// i < len(x), out[i] = uint8(clamp(nearestInt((x[i]+add)/div), lo, hi) + off).
func requantGeneric(out []uint8, x []float32, add, div float32, lo, hi, off int32) {
	for i, v := range x {
		out[i] = uint8(clampI32(nearestInt((v+add)/div), lo, hi) + off)
	}
}

// makeQ3Quants8Generic is make_q3_quants (n = 16, nmax = 4, do_rmse) for 8
// groups at once, one group per lane: xt[i][k] is element i of group k.
// It leaves the levels l+4 ∈ 0..7 in lt[i][k] and the group scales in
// scale[k]; an all-zero group (max |x| < GROUP_MAX_EPS) gets levels 0 and
// scale 0. Every lane performs exactly ggml's operations; the refinement
// sweeps run while any lane still changes (at most 5). A lane whose sweep
// changed nothing is left unchanged by further sweeps, since a sweep is a
// function of the state it starts from, so this equals ggml's per-group
// loop, which stops at its first sweep without change.
func makeQ3Quants8Generic(xt *[16][8]float32, lt *[16][8]int32, scale *[8]float32) {
	const nmax = 4
	var max, amax, iscale, sumlx, suml2 [8]float32
	for i := 0; i < 16; i++ {
		for k := 0; k < 8; k++ {
			if a := abs32(xt[i][k]); a > amax[k] {
				amax[k], max[k] = a, xt[i][k]
			}
		}
	}
	for k := range iscale {
		iscale[k] = float32(-nmax) / max[k]
	}
	for i := 0; i < 16; i++ {
		for k := 0; k < 8; k++ {
			x := xt[i][k]
			l := clampI32(nearestInt(float32(iscale[k]*x)), -nmax, nmax-1)
			lt[i][k] = l
			w := float32(x * x)
			fl := float32(l)
			sumlx[k] += float32(float32(w*x) * fl)
			suml2[k] += float32(float32(w*fl) * fl)
		}
	}
	for itry := 0; itry < 5; itry++ {
		changed := false
		for i := 0; i < 16; i++ {
			for k := 0; k < 8; k++ {
				x := xt[i][k]
				w := float32(x * x)
				wx := float32(w * x)
				fl := float32(lt[i][k])
				slx := sumlx[k] - float32(wx*fl)
				sl2 := suml2[k] - float32(float32(w*fl)*fl)
				newL := clampI32(nearestInt(float32(x*sl2)/slx), -nmax, nmax-1)
				fn := float32(newL)
				slx2 := slx + float32(wx*fn)
				sl22 := sl2 + float32(float32(w*fn)*fn)
				if slx > 0 && newL != lt[i][k] && sl22 > 0 &&
					float32(float32(slx2*slx2)*suml2[k]) > float32(float32(sumlx[k]*sumlx[k])*sl22) {
					lt[i][k], sumlx[k], suml2[k] = newL, slx2, sl22
					changed = true
				}
			}
		}
		if !changed {
			break
		}
	}
	for k := 0; k < 8; k++ {
		scale[k] = 0
		if suml2[k] > 0 {
			scale[k] = sumlx[k] / suml2[k]
		}
		zero := amax[k] < groupMaxEps
		if zero {
			scale[k] = 0
		}
		for i := 0; i < 16; i++ {
			if zero {
				lt[i][k] = 0
			} else {
				lt[i][k] += nmax
			}
		}
	}
}
