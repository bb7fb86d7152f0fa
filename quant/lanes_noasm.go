//go:build !amd64 || noasm

package quant

// Without assembly the group-parallel searches are the generic loops of
// lanes.go.

func qkxSearchLanes(xt, wt []float32, lanes, n int, c *qkxConfig, r *qkxLanes) {
	qkxLanesGeneric(xt, wt, lanes, n, c, r)
}
