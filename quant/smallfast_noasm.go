//go:build !amd64 || noasm

package quant

func absMaxBits(x []float32) uint32 { return absMaxBitsGeneric(x) }

func tritBytes(t []byte, x []float32, th uint32) { tritBytesGeneric(t, x, th) }

func mxfp4Codes(y []byte, x []float32, thm1 *[8]uint32) { mxfp4CodesGeneric(y, x, thm1) }

func q1Signs(y []byte, x []float32) { q1SignsGeneric(y, x) }
