package parallel

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// RunCaller keeps Run's guarantees: every element once,
// the lowest failing chunk's error whatever the scheduling, panics turned
// into errors, cancellation between chunks, progress per chunk, and no
// call into work after it returned.
// runCounting runs RunCaller over n elements in chunks of per and returns
// how many times each element was processed, with RunCaller's error; the
// work panics if it is called after RunCaller returned.
func runCounting(n, per int, opt Options) ([]int32, error) {
	seen := make([]int32, n)
	var returned atomic.Bool
	err := RunCaller(n, per, opt, func(lo, hi int, _ *[]float32) error {
		if returned.Load() {
			panic("work called after RunCaller returned")
		}
		for i := lo; i < hi; i++ {
			atomic.AddInt32(&seen[i], 1)
		}
		return nil
	})
	returned.Store(true)
	return seen, err
}

func TestRunCaller(t *testing.T) {
	for _, tc := range []struct{ n, per, threads int }{
		{1, 1, 1}, {10, 3, 2}, {100, 7, 8}, {1000, 1000, 4}, {1001, 1000, 4}, {5, 100, 3}, {64, 0, 2}, {100000, 10, 2},
	} {
		var progress atomic.Int64
		seen, err := runCounting(tc.n, tc.per, Options{Threads: tc.threads, Progress: func(k int) { progress.Add(int64(k)) }})
		if err != nil {
			t.Fatal(err)
		}
		for i, c := range seen {
			if c != 1 {
				t.Fatalf("%+v: element %d processed %d times", tc, i, c)
			}
		}
		if progress.Load() != int64(tc.n) {
			t.Fatalf("%+v: progress reported %d of %d", tc, progress.Load(), tc.n)
		}
	}
	for threads := 1; threads <= 4; threads++ {
		for rep := 0; rep < 50; rep++ {
			err := RunCaller(100, 1, Options{Threads: threads}, func(lo, _ int, _ *[]float32) error {
				if lo%10 == 7 {
					return fmt.Errorf("chunk %d", lo)
				}
				return nil
			})
			if err == nil || err.Error() != "chunk 7" {
				t.Fatalf("threads=%d: got %v, want chunk 7", threads, err)
			}
			err = RunCaller(100, 1, Options{Threads: threads}, func(lo, _ int, _ *[]float32) error {
				if lo == 3 || lo == 60 {
					panic("boom")
				}
				return nil
			})
			var pe *PanicError
			if !errors.As(err, &pe) || pe.Value != "boom" {
				t.Fatalf("threads=%d: got %v, want the panic as a PanicError", threads, err)
			}
			var calls atomic.Int32
			err = RunCaller(100, 1, Options{Threads: threads, Cancelled: func() bool { return calls.Load() >= 5 }},
				func(int, int, *[]float32) error { calls.Add(1); return nil })
			if !errors.Is(err, ErrCancelled) || calls.Load() < 5 || calls.Load() > 5+int32(threads) {
				t.Fatalf("threads=%d: got %v after %d chunks, want ErrCancelled after 5 or a few more", threads, err, calls.Load())
			}
		}
	}
}

// Many callers at once share the helper pool (more callers than pool
// goroutines, jobs left in the channel): each still gets every element of
// its own call once, and nothing of a call runs after it returned.
func TestRunCallerConcurrent(t *testing.T) {
	calls := 300
	if testing.Short() {
		calls = 60
	}
	var wg sync.WaitGroup
	for g := 0; g < 12; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := 0; c < calls; c++ {
				n := 1 + (g*7919+c*104729)%5000
				seen, err := runCounting(n, 1+c%37, Options{Threads: 2 + g%3})
				if err != nil {
					t.Error(err)
					return
				}
				for i, k := range seen {
					if k != 1 {
						t.Errorf("goroutine %d call %d: element %d of %d processed %d times", g, c, i, n, k)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}
