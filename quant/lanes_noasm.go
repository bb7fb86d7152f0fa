//go:build !amd64 || noasm

package quant

// Without assembly the group-parallel searches are the generic loops of
// lanes.go.

func qkxSearchAsm(ws *qkxWork, sets, n int, c *qkxConfig, r *[2]qkxLanes) int { return 0 }

func transposeGroups16(dst, src []float32, groups, n, off int) {
	transposeGroups(dst, src, groups, n, 16, off)
}

func groupWeights16(wt, xt []float32, n, kind int) { groupWeightsGeneric(wt, xt, 16, n, kind) }
