//go:build !amd64 || noasm

package quant

// Without assembly the group-parallel searches are the generic loops of
// lanes.go.

func qkxSearchAsm(ws *qkxWork, sets, n int, c *qkxConfig, r *[2]qkxLanes) int { return 0 }

func transposeGroups16(dst, src []float32, groups, n, off int) {
	transposeGroups(dst, src, groups, n, 16, off)
}

func squares(w, x []float32) { squaresGeneric(w, x) }

func groupWeights16(wt, xt []float32, n, kind int) { groupWeightsGeneric(wt, xt, 16, n, kind) }

func qxSearch16Asm(ws *qxWork, sets, n int, nmax int32, num *[24]float32, r *[2]qxLanes) int {
	return 0
}

func requantGroups(out []uint8, x, ml, dl []float32, groupLen int, lo, hi, off int32) {
	requantGroupsGeneric(out, x, ml, dl, groupLen, lo, hi, off)
}

func requantPackQ4K(qs *[128]byte, L *[qkK]uint8, x []float32, ml, dl *[8]float32) {
	requantPackQ4KGeneric(qs, L, x, ml, dl)
}

func requantPackQ6K(ql *[128]byte, qh *[64]byte, L *[qkK]uint8, x []float32, dl *[16]float32) {
	requantPackQ6KGeneric(ql, qh, L, x, dl)
}

func q3Search(ws *q3Work) { makeQ3QuantsLanesGeneric(ws) }

func qkxWeights(ws *qkxWork, sets, n, kind int) {
	for s := 0; s < sets; s++ {
		groupWeights16(ws.wt[s][:], ws.xt[s][:], n, kind)
	}
}
