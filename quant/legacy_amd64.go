//go:build amd64 && !noasm

package quant

//go:noescape
func q4_0BlocksAVX2(dst *byte, src *float32, nb int)

//go:noescape
func q4_1BlocksAVX2(dst *byte, src *float32, nb int)

//go:noescape
func q5_0BlocksAVX2(dst *byte, src *float32, nb int)

//go:noescape
func q5_1BlocksAVX2(dst *byte, src *float32, nb int)

// legacyBlocks runs an assembly block loop over the whole blocks of src.
func legacyBlocks(asm func(*byte, *float32, int), generic func([]byte, []float32), blockLen int, dst []byte, src []float32) {
	nb := len(src) / qk4
	if !useAVX2 || nb == 0 {
		generic(dst, src)
		return
	}
	_ = dst[nb*blockLen-1]
	asm(&dst[0], &src[0], nb)
}

func q4_0Blocks(dst []byte, src []float32) {
	legacyBlocks(q4_0BlocksAVX2, q4_0BlocksGeneric, q4_0Len, dst, src)
}

func q4_1Blocks(dst []byte, src []float32) {
	legacyBlocks(q4_1BlocksAVX2, q4_1BlocksGeneric, q4_1Len, dst, src)
}

func q5_0Blocks(dst []byte, src []float32) {
	legacyBlocks(q5_0BlocksAVX2, q5_0BlocksGeneric, q5_0Len, dst, src)
}

func q5_1Blocks(dst []byte, src []float32) {
	legacyBlocks(q5_1BlocksAVX2, q5_1BlocksGeneric, q5_1Len, dst, src)
}
