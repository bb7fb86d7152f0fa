//go:build amd64 && !noasm

package quant

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

// qkxSearchLanes runs qkxLanesGeneric's search with the fastest kernel
// available: lanes is 8 or 16, n ≤ maxGroup.
func qkxSearchLanes(xt, wt []float32, lanes, n int, c *qkxConfig, r *qkxLanes) {
	if useAVX2 && lanes%8 == 0 && lanes <= 16 && n > 0 && n <= maxGroup {
		_, _ = xt[lanes*n-1], wt[lanes*n-1]
		var lf [maxGroup * 8]float32
		ok := true
		for off := 0; off < lanes && ok; off += 8 {
			ok = qkxLanes8AVX2(&xt[off], &wt[off], 4*lanes, n, &c.num[0], c.nstep+2, float32(c.nmax),
				c.useMad, c.qkx3, &lf, &r.scale[off])
		}
		if ok {
			return
		}
	}
	qkxLanesGeneric(xt, wt, lanes, n, c, r)
}
