//go:build unix

package convert

import (
	"context"
	"os"
	"runtime/pprof"
	"runtime/trace"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TestSafetensorsPlanTiming times the phases of a real safetensors plan (a
// bitsandbytes output) in wall and CPU time; it runs only when
// WICK_TIMING_PLAN names a plan file, e.g.
//
//	python -c "from wick.convert import build_bnb_plan; import sys; \
//	  sys.stdout.buffer.write(build_bnb_plan('MODEL_DIR', format='bnb-nf4').to_json_bytes())" > /tmp/plan.json
//	WICK_TIMING_PLAN=/tmp/plan.json WICK_TIMING_OUT=/tmp/out go test ./convert -run PlanTiming -v
//
// WICK_TIMING_THREADS sets the threads (default 2), WICK_TIMING_CPUPROFILE
// and WICK_TIMING_TRACE write a CPU profile and an execution trace. The
// output directory is replaced.
func TestSafetensorsPlanTiming(t *testing.T) {
	path, out := os.Getenv("WICK_TIMING_PLAN"), os.Getenv("WICK_TIMING_OUT")
	if path == "" || out == "" {
		t.Skip("WICK_TIMING_PLAN and WICK_TIMING_OUT are not set")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParsePlan(b)
	if err != nil {
		t.Fatal(err)
	}
	threads := 2
	if s := os.Getenv("WICK_TIMING_THREADS"); s != "" {
		if threads, err = strconv.Atoi(s); err != nil {
			t.Fatal(err)
		}
	}
	if f := os.Getenv("WICK_TIMING_CPUPROFILE"); f != "" {
		pf, err := os.Create(f)
		if err != nil {
			t.Fatal(err)
		}
		defer pf.Close()
		pprof.StartCPUProfile(pf)
		defer pprof.StopCPUProfile()
	}
	if f := os.Getenv("WICK_TIMING_TRACE"); f != "" {
		tf, err := os.Create(f)
		if err != nil {
			t.Fatal(err)
		}
		defer tf.Close()
		trace.Start(tf)
		defer trace.Stop()
	}
	cpu := func() float64 {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
	}
	t0, c0 := time.Now(), cpu()
	pt, pc := t0, c0
	debugPhase = func(s string) {
		now, c := time.Now(), cpu()
		t.Logf("%-20s %6.3f s wall %6.3f s CPU", s, now.Sub(pt).Seconds(), c-pc)
		pt, pc = now, c
	}
	defer func() { debugPhase = func(string) {} }()
	if _, err := Execute(context.Background(), p, out, Options{Threads: threads, Overwrite: true}); err != nil {
		t.Fatal(err)
	}
	t.Logf("%-20s %6.3f s wall %6.3f s CPU", "total", time.Since(t0).Seconds(), cpu()-c0)
}
