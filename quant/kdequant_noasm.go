//go:build !amd64 || noasm

package quant

func kdequantQ4_K(dst []float32, src []byte, nb int) int { return 0 }

func kdequantQ6_K(dst []float32, src []byte, nb int) int { return 0 }
