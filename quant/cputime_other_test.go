//go:build !unix

package quant

// processCPUSeconds is not available here; the CPU-second metric is
// omitted.
func processCPUSeconds() float64 { return 0 }
