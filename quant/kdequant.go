package quant

// Fast decoders of Q4_K and Q6_K (the types of a Q4_K_M file, decoded
// again for every conversion's error report). They compute exactly what
// dequantizeQ4_KRef and dequantizeQ6_KRef compute, with one zmm of
// sub-block scales per super-block; TestKDequantMatchesReference compares
// them on valid and random blocks.

func dequantizeQ4_K(dst []float32, src []byte) {
	nb := len(dst) / qkK
	if n := kdequantQ4_K(dst, src, nb); n < nb {
		dequantizeQ4_KRef(dst[n*qkK:nb*qkK], src[n*q4_KLen:])
	}
}

func dequantizeQ6_K(dst []float32, src []byte) {
	nb := len(dst) / qkK
	if n := kdequantQ6_K(dst, src, nb); n < nb {
		dequantizeQ6_KRef(dst[n*qkK:nb*qkK], src[n*q6_KLen:])
	}
}
