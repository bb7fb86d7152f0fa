//go:build amd64 && !noasm

package quant

// dequantQ4_KAVX512 and dequantQ6_KAVX512 decode nb whole super-blocks
// (kdequant_amd64.s).
//
//go:noescape
func dequantQ4_KAVX512(dst *float32, src *byte, nb int)

//go:noescape
func dequantQ6_KAVX512(dst *float32, src *byte, nb int)

// kdequantQ4_K decodes the first nb blocks with the AVX-512 kernel and
// returns how many it did (0 without AVX-512).
func kdequantQ4_K(dst []float32, src []byte, nb int) int {
	if !useAVX512 || nb == 0 {
		return 0
	}
	_, _ = dst[nb*qkK-1], src[nb*q4_KLen-1]
	dequantQ4_KAVX512(&dst[0], &src[0], nb)
	return nb
}

func kdequantQ6_K(dst []float32, src []byte, nb int) int {
	if !useAVX512 || nb == 0 {
		return 0
	}
	_, _ = dst[nb*qkK-1], src[nb*q6_KLen-1]
	dequantQ6_KAVX512(&dst[0], &src[0], nb)
	return nb
}
