//go:build amd64 && !noasm

package quant

import "slices"

// Assembly versions (lanes_amd64.s) of the group-parallel searches of
// lanes.go; TestLanesAsmMatchGeneric compares them with the generic code.

// qkxLanes8AVX2 is qkxLanesGeneric for 8 groups (one per YMM lane) whose
// element i is at xt[i*stride/4:][:8] (stride in bytes), writing the
// qkxLanes fields of those groups at out (&r.scale[first group]). It
// reports false, leaving the results unset, for data where its rounding
// shortcut could differ from ggml's (see the assembly).
//
//go:noescape
func qkxLanes8AVX2(xt, wt *float32, stride, n int, num *float32, ncand int, nmax float32,
	mad, qkx3 bool, lf *[maxGroup * 8]float32, out *float32) (ok bool)

// qkxLanes16AVX512 is qkxLanesGeneric for 16 groups (one per ZMM lane)
// of n elements, xt[16i+k] being element i of group k; it reports false,
// leaving r unset, where qkxLanes8AVX2 would.
//
//go:noescape
func qkxLanes16AVX512(xt, wt *float32, n int, num *float32, ncand int, nmax float32,
	mad, qkx3 bool, lf *[maxGroup * 16]float32, out *qkxLanes) (ok bool)

// qkxLanes2x16AVX512 is qkxLanesGeneric for both sets of ws (16 groups
// each, one per ZMM lane, run interleaved), results in out[0] and out[1];
// it reports false, leaving out unset, where qkxLanes8AVX2 would for any
// group.
//
//go:noescape
func qkxLanes2x16AVX512(ws *qkxWork, n int, num *float32, ncand int, nmax float32, mad, qkx3 bool, out *[2]qkxLanes) (ok bool)

// qkxSearchAsm runs the search of the first sets of ws with assembly
// kernels and returns how many sets it did (from the first); qkxSearch
// does the rest with the generic code.
func qkxSearchAsm(ws *qkxWork, sets, n int, c *qkxConfig, r *[2]qkxLanes) int {
	if !useAVX2 || n <= 0 || n > maxGroup {
		return 0
	}
	ncand, nmax := c.nstep+2, float32(c.nmax)
	if useAVX512 {
		if sets == 2 {
			if qkxLanes2x16AVX512(ws, n, &c.num[0], ncand, nmax, c.useMad, c.qkx3, r) {
				return 2
			}
			return 0
		}
		if qkxLanes16AVX512(&ws.xt[0][0], &ws.wt[0][0], n, &c.num[0], ncand, nmax, c.useMad, c.qkx3, &ws.lf[0], &r[0]) {
			return 1
		}
		return 0
	}
	for s := 0; s < sets; s++ {
		for off := 0; off < 16; off += 8 {
			if !qkxLanes8AVX2(&ws.xt[s][off], &ws.wt[s][off], 64, n, &c.num[0], ncand, nmax, c.useMad, c.qkx3,
				(*[maxGroup * 8]float32)(ws.lf[s][:]), &r[s].scale[off]) {
				return s
			}
		}
	}
	return sets
}

// transposeGroupsAVX2 is transposeGroups with lanes = 16 for groups and n
// multiples of 8, dst pointing at lane off of row 0.
//
//go:noescape
func transposeGroupsAVX2(dst, src *float32, groups, n int)

// groupWeightsAVX2 is groupWeightsGeneric for the 8 lanes at wt and xt of
// a 16-lane layout.
//
//go:noescape
func groupWeightsAVX2(wt, xt *float32, n int, kind int)

// transposeGroups16 is transposeGroups(dst, src, groups, n, 16, off).
func transposeGroups16(dst, src []float32, groups, n, off int) {
	if useAVX2 && groups%8 == 0 && n%8 == 0 && off%8 == 0 && groups > 0 && n > 0 && off+groups <= 16 {
		_, _ = dst[16*(n-1)+off+groups-1], src[n*groups-1]
		transposeGroupsAVX2(&dst[off], &src[0], groups, n)
		return
	}
	transposeGroups(dst, src, groups, n, 16, off)
}

// squaresAVX2 is squaresGeneric for n values, n a positive multiple of 8.
//
//go:noescape
func squaresAVX2(w, x *float32, n int)

// squares is squaresGeneric, 8 values per instruction where it can.
func squares(w, x []float32) {
	n := 0
	if useAVX2 {
		n = len(w) &^ 7
	}
	if n > 0 {
		_ = x[n-1]
		squaresAVX2(&w[0], &x[0], n)
	}
	squaresGeneric(w[n:], x[n:len(w)])
}

// groupWeights2x16AVX512 is groupWeightsGeneric on the 16 lanes of each
// of the first sets (1 or 2) sets of ws.
//
//go:noescape
func groupWeights2x16AVX512(ws *qkxWork, sets, n, kind int)

// qkxWeights sets ws.wt of the first sets (1 or 2) sets from ws.xt
// (groupWeightsGeneric with 16 lanes, n elements, kind).
func qkxWeights(ws *qkxWork, sets, n, kind int) {
	if useAVX512 && n > 0 && n <= maxGroup && sets >= 1 && sets <= 2 {
		groupWeights2x16AVX512(ws, sets, n, kind)
		return
	}
	for s := 0; s < sets; s++ {
		groupWeights16(ws.wt[s][:], ws.xt[s][:], n, kind)
	}
}

// groupWeights16 is groupWeightsGeneric with lanes = 16.
func groupWeights16(wt, xt []float32, n, kind int) {
	if useAVX2 && n > 0 {
		_, _ = wt[16*n-1], xt[16*n-1]
		groupWeightsAVX2(&wt[0], &xt[0], n, kind)
		groupWeightsAVX2(&wt[8], &xt[8], n, kind)
		return
	}
	groupWeightsGeneric(wt, xt, 16, n, kind)
}

// qxLanes2x16AVX512 is qxLanesGeneric on both sets of ws (16 groups
// each, one per ZMM lane), results in out[0] and out[1].
//
//go:noescape
func qxLanes2x16AVX512(ws *qxWork, n int, nmax int32, num *[24]float32, out *[2]qxLanes)

// qxLanes8AVX2 is qxLanesGeneric for the 8 groups at xt and wt of a
// 16-lane layout (wx: scratch of the same layout), writing the scale and
// is of those groups at out (&r.scale[first group]) and returning their
// zero bits.
//
//go:noescape
func qxLanes8AVX2(xt, wt, wx *float32, n int, nmax int32, num *[24]float32, out *float32) (zero uint32)

// qxSearch16Asm runs the make_qx_quants search of the first sets of ws
// with assembly kernels and returns how many sets it did.
func qxSearch16Asm(ws *qxWork, sets, n int, nmax int32, num *[24]float32, r *[2]qxLanes) int {
	if !useAVX2 || n <= 0 || n > maxGroup {
		return 0
	}
	if useAVX512 && sets == 2 {
		qxLanes2x16AVX512(ws, n, nmax, num, r)
		return 2
	}
	for s := 0; s < sets; s++ {
		lo := qxLanes8AVX2(&ws.xt[s][0], &ws.wt[s][0], &ws.wx[s][0], n, nmax, num, &r[s].scale[0])
		hi := qxLanes8AVX2(&ws.xt[s][8], &ws.wt[s][8], &ws.wx[s][8], n, nmax, num, &r[s].scale[8])
		r[s].zero = lo | hi<<8
	}
	return sets
}

// requantGroupsAVX2 is requantGroupsGeneric for groupLen a multiple of 8.
//
//go:noescape
func requantGroupsAVX2(out *uint8, x, ml, dl *float32, groups, groupLen int, lo, hi, off int32)

// requantGroupsAVX512 is requantGroupsGeneric for groupLen a multiple of 16.
//
//go:noescape
func requantGroupsAVX512(out *uint8, x, ml, dl *float32, groups, groupLen int, lo, hi, off int32)

// requantGroups is requantGroupsGeneric with the fastest kernel available.
func requantGroups(out []uint8, x, ml, dl []float32, groupLen int, lo, hi, off int32) {
	g := len(dl)
	if !useAVX2 || g == 0 || groupLen%8 != 0 || groupLen == 0 {
		requantGroupsGeneric(out, x, ml, dl, groupLen, lo, hi, off)
		return
	}
	_, _, _ = out[g*groupLen-1], x[g*groupLen-1], ml[g-1]
	if useAVX512 && groupLen%16 == 0 {
		requantGroupsAVX512(&out[0], &x[0], &ml[0], &dl[0], g, groupLen, lo, hi, off)
		return
	}
	requantGroupsAVX2(&out[0], &x[0], &ml[0], &dl[0], g, groupLen, lo, hi, off)
}

// requantPackQ4KAVX512 is requantPackQ4KGeneric.
//
//go:noescape
func requantPackQ4KAVX512(qs *[128]byte, x *float32, ml, dl, rcp *[8]float32)

// requantPackQ4K is requantPackQ4KGeneric, in one AVX-512 pass where
// available and no group keeps its levels (no dl is 0), else with
// requantGroups' kernels.
func requantPackQ4K(qs *[128]byte, L *[qkK]uint8, x []float32, ml, dl *[8]float32) {
	if useAVX512 && !slices.Contains(dl[:], 0) {
		var rcp [8]float32
		_ = x[qkK-1]
		requantPackQ4KAVX512(qs, &x[0], ml, dl, &rcp)
		return
	}
	requantGroups(L[:], x, ml[:], dl[:], 32, 0, 15, 0) // AVX2 where available
	packQ4K(qs, L)
}

// requantPackQ6KAVX512 is requantPackQ6KGeneric.
//
//go:noescape
func requantPackQ6KAVX512(ql *[128]byte, qh *[64]byte, x *float32, dl, rcp *[16]float32)

// requantPackQ6K is requantPackQ6KGeneric, in one AVX-512 pass where
// available and no group keeps its levels (no dl is 0), else with
// requantGroups' kernels.
func requantPackQ6K(ql *[128]byte, qh *[64]byte, L *[qkK]uint8, x []float32, dl *[16]float32) {
	if useAVX512 && !slices.Contains(dl[:], 0) {
		var rcp [16]float32
		_ = x[qkK-1]
		requantPackQ6KAVX512(ql, qh, &x[0], dl, &rcp)
		return
	}
	var ml [16]float32
	requantGroups(L[:], x, ml[:], dl[:], 16, -32, 31, 32) // AVX2 where available
	packQ6K(ql, qh, L)
}

// q3Quants16AVX512 is makeQ3QuantsLanesGeneric.
//
//go:noescape
func q3Quants16AVX512(ws *q3Work)

// q3Search runs makeQ3QuantsLanesGeneric's search with the fastest kernel
// available (on AVX2 alone: q3Quants8AVX2 on each half).
func q3Search(ws *q3Work) {
	switch {
	case useAVX512:
		q3Quants16AVX512(ws)
	case useAVX2:
		var xt [16][8]float32
		var lt [16][8]int32
		for h := 0; h < 2; h++ {
			for i := range xt {
				copy(xt[i][:], ws.xt[16*i+8*h:][:8])
			}
			q3Quants8AVX2(&xt, &lt, (*[8]float32)(ws.scale[8*h:]))
			for i := range lt {
				copy(ws.lt[16*i+8*h:][:8], lt[i][:])
			}
		}
	default:
		makeQ3QuantsLanesGeneric(ws)
	}
}
