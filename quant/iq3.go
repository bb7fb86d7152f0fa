package quant

func quantizeIQ3_XXS(dst []byte, src []float32, nPerRow int, imatrix []float32) {
	quantizeIQ3_XXSRef(dst, src, nPerRow, imatrix)
}

func quantizeIQ3_S(dst []byte, src []float32, nPerRow int, imatrix []float32) {
	quantizeIQ3_SRef(dst, src, nPerRow, imatrix)
}
