//go:build unix

package quant

import "syscall"

// processCPUSeconds returns the user+system CPU time of this process. The
// benchmarks report throughput per CPU-second beside the wall-clock MB/s,
// because the machines Wick is developed on are shared and wall time there
// includes time other processes held the core.
func processCPUSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}
