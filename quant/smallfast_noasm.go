//go:build !amd64 || noasm

package quant

func absMaxBits(x []float32) uint32 { return absMaxBitsGeneric(x) }

func tritBytes(t []byte, x []float32, th uint32) { tritBytesGeneric(t, x, th) }
