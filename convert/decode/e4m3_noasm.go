//go:build !amd64 || noasm

package decode

// e4m3Blocks writes y[k] = e4m3(src[k]) · scales[k/cb] (cb a multiple of
// 8, len(src) == len(y), len(scales) == ceil(len(y)/cb)).
func e4m3Blocks(y []float32, src []byte, scales []float32, cb int) {
	e4m3BlocksGeneric(y, src, scales, cb)
}
