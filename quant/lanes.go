package quant

// Scale searches run on several groups side by side, one group per SIMD
// lane.
//
// make_qkx2/qkx3_quants and make_qx_quants run independently on each group
// (sub-block) of a super-block: 8 groups of 32 for Q4_K/Q5_K, 16 groups of
// 16 for Q2_K, Q3_K and Q6_K. Each lane below performs exactly ggml's
// operations, in ggml's order, on its own group, including its own
// sequential candidate choice (every running best and, for make_qkx, the
// running min that later candidates use), so the results are the same
// bits as the per-group reference. Unlike the lanes-over-candidates
// primitives of search.go, no candidate is ever evaluated twice and no
// lane is padding.
//
// The generic functions here are written candidate by candidate, lane by
// lane, as the assembly runs them; they are the portable implementation
// and the twins the assembly is tested against (TestLanesAsmMatchGeneric).
// Data is transposed: xt[i*lanes+k] is element i of group k.

// qkxLanes receives make_qkx2/qkx3_quants' results for up to 16 groups.
type qkxLanes struct {
	// scale and theMin are make_qkx's return values (the group's values
	// are approximated by scale·L − theMin).
	scale, theMin [16]float32
	// is and min are the inverse scale and the min of the winning
	// candidate (the initial guess is candidate 0): the group's levels are
	// clamp(nearestInt(is·(x − min)), 0, nmax), which is how ggml computed
	// them. A group ggml leaves at once (max == min) has is = min = 0.
	is, min [16]float32
}

// qkxLanesGeneric is make_qkx2_quants (c.qkx3 false) or make_qkx3_quants
// (true) with explicit weights on `lanes` (≤ 16) groups of n (≤ maxGroup)
// elements: xt[i*lanes+k] and wt[i*lanes+k] are element i of group k and
// its weight. Per lane it is makeQkxQuantsRef step for step: the min, max
// and weighted sums in element order; the initial guess (candidate 0,
// inverse scale nmax/(max − min), scale its reciprocal, no fit); then
// candidates 1..nstep+1 with inverse scale c.num[p]/(max − min) under the
// lane's current min, each with ggml's least-squares fit and weighted
// error, a candidate with D > 0 and a smaller error replacing the best and
// its min becoming the lane's min.
func qkxLanesGeneric(xt, wt []float32, lanes, n int, c *qkxConfig, r *qkxLanes) {
	var (
		mn, mx, sumW, sumX         [16]float32
		best, scale, winIs, winMin [16]float32
		cis, ts, tm, cerr          [16]float32
		sumL, sumL2, sumXL         [16]float32
		valid                      [16]bool
		lf                         [maxGroup * 16]float32
	)
	for k := 0; k < lanes; k++ {
		mn[k], mx[k] = xt[k], xt[k]
		sumW[k] = wt[k]
		sumX[k] = float32(wt[k] * xt[k])
	}
	for i := 1; i < n; i++ {
		for k := 0; k < lanes; k++ {
			x, w := xt[i*lanes+k], wt[i*lanes+k]
			if x < mn[k] {
				mn[k] = x
			}
			if x > mx[k] {
				mx[k] = x
			}
			sumW[k] += w
			sumX[k] += float32(w * x)
		}
	}
	for k := 0; k < lanes; k++ {
		if mn[k] > 0 {
			mn[k] = 0
		}
	}
	initMin := mn
	for p := 0; p <= c.nstep+1; p++ {
		for k := 0; k < lanes; k++ {
			cis[k] = c.num[p] / (mx[k] - mn[k])
			sumL[k], sumL2[k], sumXL[k], cerr[k] = 0, 0, 0, 0
		}
		for i := 0; i < n; i++ {
			for k := 0; k < lanes; k++ {
				x, w := xt[i*lanes+k], wt[i*lanes+k]
				l := float32(clampI32(nearestInt(float32(cis[k]*(x-mn[k]))), 0, c.nmax))
				lf[i*lanes+k] = l
				wl := float32(w * l)
				sumL[k] += wl
				sumL2[k] += float32(wl * l)
				sumXL[k] += float32(wl * x)
			}
		}
		for k := 0; k < lanes; k++ {
			if p == 0 { // ggml's initial guess: no fit
				ts[k], tm[k], valid[k] = 1/cis[k], mn[k], true
				continue
			}
			D := float32(sumW[k]*sumL2[k]) - float32(sumL[k]*sumL[k])
			valid[k] = D > 0
			ts[k] = (float32(sumW[k]*sumXL[k]) - float32(sumX[k]*sumL[k])) / D
			tm[k] = (float32(sumL2[k]*sumX[k]) - float32(sumL[k]*sumXL[k])) / D
			if tm[k] > 0 {
				tm[k] = 0
				ts[k] = sumXL[k] / sumL2[k]
			}
		}
		for i := 0; i < n; i++ {
			for k := 0; k < lanes; k++ {
				x, w := xt[i*lanes+k], wt[i*lanes+k]
				diff := float32(float32(ts[k]*lf[i*lanes+k])+tm[k]) - x
				if c.useMad {
					diff = abs32(diff)
				} else {
					diff = float32(diff * diff)
				}
				cerr[k] += float32(w * diff)
			}
		}
		for k := 0; k < lanes; k++ {
			if p == 0 || valid[k] && cerr[k] < best[k] {
				best[k], scale[k] = cerr[k], ts[k]
				winIs[k], winMin[k] = cis[k], mn[k]
				mn[k] = tm[k]
			}
		}
	}
	for k := 0; k < lanes; k++ {
		if (!c.qkx3 && mx[k] == initMin[k]) || (c.qkx3 && mx[k] <= initMin[k]) {
			r.scale[k], r.theMin[k], r.is[k], r.min[k] = 0, -initMin[k], 0, 0
			continue
		}
		r.scale[k], r.theMin[k], r.is[k], r.min[k] = scale[k], -mn[k], winIs[k], winMin[k]
	}
}

// qkxLevels writes a group's levels from its qkxLanes entry:
// L[i] = clamp(nearestInt(is·(x[i] − min)), 0, nmax).
func qkxLevels(L []uint8, x []float32, is, min float32, nmax int32) {
	for i, v := range x {
		L[i] = uint8(clampI32(nearestInt(float32(is*(v-min))), 0, nmax))
	}
}

// qkxWork is the workspace of qkxSearch: up to two sets of 16 groups of
// up to maxGroup elements, element i of group k of set s at xt[s][16i+k]
// with its weight at wt[s][16i+k]; lf and st are the kernels' scratch.
type qkxWork struct {
	xt, wt, lf [2][maxGroup * 16]float32
	st         [2][9][16]float32
}

// qkxSearch runs make_qkx2/qkx3_quants (configuration c) on the 16 groups
// of n elements of each of the first `sets` (1 or 2) sets of ws, results
// in r[s]: qkxLanesGeneric's, with the fastest kernel available.
func qkxSearch(ws *qkxWork, sets, n int, c *qkxConfig, r *[2]qkxLanes) {
	done := qkxSearchAsm(ws, sets, n, c, r)
	for s := done; s < sets; s++ {
		qkxLanesGeneric(ws.xt[s][:], ws.wt[s][:], 16, n, c, &r[s])
	}
}

// transposeGroups writes group j < groups of n elements, src[n*j:][:n],
// to lane off+j of the lanes-wide layout dst: dst[lanes*i+off+j] =
// src[n*j+i].
func transposeGroups(dst, src []float32, groups, n, lanes, off int) {
	for j := 0; j < groups; j++ {
		for i, v := range src[n*j : n*j+n] {
			dst[lanes*i+off+j] = v
		}
	}
}

// Weight kinds of groupWeights.
const (
	weightsAbs   = 0 // Q2_K: w = |x|
	weightsAvAbs = 1 // Q4_K, Q5_K: w = sqrt(Σx²/n) + |x|, Σ in element order
)

// groupWeightsGeneric sets the weights wt of the `lanes` transposed groups
// of n elements in xt, of the given kind.
func groupWeightsGeneric(wt, xt []float32, lanes, n, kind int) {
	for k := 0; k < lanes; k++ {
		var av float32
		if kind == weightsAvAbs {
			var s float32
			for i := 0; i < n; i++ {
				v := xt[lanes*i+k]
				s += float32(v * v)
			}
			av = sqrt32(float32(s / float32(n)))
		}
		for i := 0; i < n; i++ {
			wt[lanes*i+k] = av + abs32(xt[lanes*i+k])
		}
	}
}

// qxLanes receives make_qx_quants' results for 16 groups.
type qxLanes struct {
	scale [16]float32
	// is is the winning candidate's inverse scale: the group's levels are
	// clamp(nearestInt(is·x), −nmax, nmax−1) + nmax, as ggml computed them,
	// except for the groups in zero (bit k for group k), those whose
	// largest magnitude is below GROUP_MAX_EPS, which have levels 0.
	is   [16]float32
	zero uint32
}

// qxWork is the workspace of qxSearch16: up to two sets of 16 groups of up
// to maxGroup elements, element i of group k of set s at xt[s][16i+k]
// with its weight at wt[s][16i+k] (the imatrix weight; x² without one).
// wx is the kernels' scratch.
type qxWork struct {
	xt, wt, wx [2][maxGroup * 16]float32
}

// qxLanesGeneric is make_qx_quants (rmse_type 1) on the 16 transposed
// groups of n elements in xt with weights wt, the candidates' numerators
// in num (qxNumerators). Per lane it is makeQxQuantsRef step for step:
// max, the first x of largest magnitude; candidate 0, inverse scale
// num[0]/max, whose fit sets the scale (0 when suml2 is 0) and the best
// sumlx·scale; then candidates 1..18, each replacing the best when
// suml2 > 0 and sumlx² > best·suml2.
func qxLanesGeneric(xt, wt []float32, n int, nmax int32, num *[24]float32, r *qxLanes) {
	var mx, amax, is, sumlx, suml2, best, scale, winIs [16]float32
	for i := 0; i < n; i++ {
		for k := 0; k < 16; k++ {
			if a := abs32(xt[16*i+k]); a > amax[k] {
				amax[k], mx[k] = a, xt[16*i+k]
			}
		}
	}
	for p := 0; p <= 18; p++ {
		for k := 0; k < 16; k++ {
			is[k] = num[p] / mx[k]
			sumlx[k], suml2[k] = 0, 0
		}
		for i := 0; i < n; i++ {
			for k := 0; k < 16; k++ {
				x, w := xt[16*i+k], wt[16*i+k]
				l := float32(clampI32(nearestInt(float32(is[k]*x)), -nmax, nmax-1))
				sumlx[k] += float32(float32(w*x) * l)
				suml2[k] += float32(float32(w*l) * l)
			}
		}
		for k := 0; k < 16; k++ {
			if p == 0 {
				scale[k] = 0
				if suml2[k] != 0 {
					scale[k] = sumlx[k] / suml2[k]
				}
				best[k], winIs[k] = float32(scale[k]*sumlx[k]), is[k]
				continue
			}
			if suml2[k] > 0 && float32(sumlx[k]*sumlx[k]) > float32(best[k]*suml2[k]) {
				scale[k] = sumlx[k] / suml2[k]
				best[k], winIs[k] = float32(scale[k]*sumlx[k]), is[k]
			}
		}
	}
	r.zero = 0
	for k := 0; k < 16; k++ {
		r.scale[k], r.is[k] = scale[k], winIs[k]
		if amax[k] < groupMaxEps {
			r.scale[k], r.is[k] = 0, 0
			r.zero |= 1 << k
		}
	}
}

// qxSearch16 runs make_qx_quants (nmax, numerators num) on the 16 groups of
// n elements of each of the first `sets` (1 or 2) sets of ws, results in
// r[s]: qxLanesGeneric's, with the fastest kernel available.
func qxSearch16(ws *qxWork, sets, n int, nmax int32, num *[24]float32, r *[2]qxLanes) {
	done := qxSearch16Asm(ws, sets, n, nmax, num, r)
	for s := done; s < sets; s++ {
		qxLanesGeneric(ws.xt[s][:], ws.wt[s][:], n, nmax, num, &r[s])
	}
}

// qxLevels writes a group's levels from its qxLanes entry.
func qxLevels(L []uint8, x []float32, r *qxLanes, k int, nmax int32) {
	if r.zero&(1<<k) != 0 {
		clear(L[:len(x)])
		return
	}
	roundScaled(L, x, r.is[k], -nmax, nmax-1, nmax)
}

// requantGroupsGeneric is the requantization step of the K-quants for
// whole super-blocks: for every group g of groupLen elements whose dl[g]
// is not 0, out[i] = uint8(clamp(nearestInt((x[i]+ml[g])/dl[g]), lo, hi)
// + off) (requantGeneric); the other groups' levels are left alone.
func requantGroupsGeneric(out []uint8, x, ml, dl []float32, groupLen int, lo, hi, off int32) {
	for g := range dl {
		if dl[g] == 0 {
			continue
		}
		requantGeneric(out[g*groupLen:], x[g*groupLen:(g+1)*groupLen], ml[g], dl[g], lo, hi, off)
	}
}

// requantPackQ4KGeneric is Q4_K's requantization and packing of a
// super-block: requantGroupsGeneric (groups of 32, levels 0..15) into L,
// whose groups with dl = 0 keep the levels they hold, then packQ4K of L
// into qs. requantPackQ4K, its fast version, may leave L unwritten when no
// dl is 0.
func requantPackQ4KGeneric(qs *[128]byte, L *[qkK]uint8, x []float32, ml, dl *[8]float32) {
	requantGroupsGeneric(L[:], x, ml[:], dl[:], 32, 0, 15, 0)
	packQ4K(qs, L)
}

// requantPackQ6KGeneric is Q6_K's requantization and packing of a
// super-block: requantGroupsGeneric (groups of 16, ml = 0, levels
// -32..31 + 32) into L, whose groups with dl = 0 keep the levels they
// hold, then packQ6K of L into ql and qh. requantPackQ6K, its fast
// version, may leave L unwritten when no dl is 0.
func requantPackQ6KGeneric(ql *[128]byte, qh *[64]byte, L *[qkK]uint8, x []float32, dl *[16]float32) {
	var ml [16]float32
	requantGroupsGeneric(L[:], x, ml[:], dl[:], 16, -32, 31, 32)
	packQ6K(ql, qh, L)
}

// q3Work is the workspace of the Q3_K search on 16 groups of 16: element
// i of group k at xt[16i+k]; the levels come back in lt (same layout) and
// the group scales in scale. w, wx, a, b, lo and hi are the kernels'
// scratch.
type q3Work struct {
	xt, w, wx [256]float32
	lt        [256]int32
	scale     [16]float32
	a, b      [256]float32
	lo, hi    [256]float32
}

// makeQ3QuantsLanesGeneric is make_q3_quants (n = 16, nmax = 4, do_rmse)
// on the 16 groups of ws, one per lane, exactly as makeQ3Quants8Generic
// does for 8: it leaves the levels l+4 ∈ 0..7 in lt and the group scales
// in scale; an all-zero group (max |x| < GROUP_MAX_EPS) gets levels 0 and
// scale 0. The refinement sweeps run while any lane still changes (at most
// 5); a sweep without change leaves a lane as it is, so this equals ggml's
// per-group loop.
func makeQ3QuantsLanesGeneric(ws *q3Work) {
	const nmax = 4
	var max, amax, iscale, sumlx, suml2 [16]float32
	xt, lt := &ws.xt, &ws.lt
	for i := 0; i < 16; i++ {
		for k := 0; k < 16; k++ {
			if a := abs32(xt[16*i+k]); a > amax[k] {
				amax[k], max[k] = a, xt[16*i+k]
			}
		}
	}
	for k := range iscale {
		iscale[k] = float32(-nmax) / max[k]
	}
	for i := 0; i < 16; i++ {
		for k := 0; k < 16; k++ {
			x := xt[16*i+k]
			l := clampI32(nearestInt(float32(iscale[k]*x)), -nmax, nmax-1)
			lt[16*i+k] = l
			w := float32(x * x)
			fl := float32(l)
			sumlx[k] += float32(float32(w*x) * fl)
			suml2[k] += float32(float32(w*fl) * fl)
		}
	}
	for itry := 0; itry < 5; itry++ {
		changed := false
		for i := 0; i < 16; i++ {
			for k := 0; k < 16; k++ {
				x := xt[16*i+k]
				w := float32(x * x)
				wx := float32(w * x)
				fl := float32(lt[16*i+k])
				slx := sumlx[k] - float32(wx*fl)
				sl2 := suml2[k] - float32(float32(w*fl)*fl)
				newL := clampI32(nearestInt(float32(x*sl2)/slx), -nmax, nmax-1)
				fn := float32(newL)
				slx2 := slx + float32(wx*fn)
				sl22 := sl2 + float32(float32(w*fn)*fn)
				if slx > 0 && newL != lt[16*i+k] && sl22 > 0 &&
					float32(float32(slx2*slx2)*suml2[k]) > float32(float32(sumlx[k]*sumlx[k])*sl22) {
					lt[16*i+k], sumlx[k], suml2[k] = newL, slx2, sl22
					changed = true
				}
			}
		}
		if !changed {
			break
		}
	}
	for k := 0; k < 16; k++ {
		ws.scale[k] = 0
		if suml2[k] > 0 {
			ws.scale[k] = sumlx[k] / suml2[k]
		}
		zero := amax[k] < groupMaxEps
		if zero {
			ws.scale[k] = 0
		}
		for i := 0; i < 16; i++ {
			if zero {
				lt[16*i+k] = 0
			} else {
				lt[16*i+k] += nmax
			}
		}
	}
}
