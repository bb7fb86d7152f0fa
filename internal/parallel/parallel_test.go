package parallel

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

func TestCoversEveryElementOnce(t *testing.T) {
	for _, tc := range []struct{ n, per, threads int }{
		{1, 1, 1}, {10, 3, 2}, {100, 7, 8}, {1000, 1000, 4}, {1001, 1000, 4}, {5, 100, 3}, {64, 0, 2},
	} {
		seen := make([]int32, tc.n)
		err := Run(tc.n, tc.per, Options{Threads: tc.threads}, func(lo, hi int, _ *[]float32) error {
			for i := lo; i < hi; i++ {
				atomic.AddInt32(&seen[i], 1)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for i, c := range seen {
			if c != 1 {
				t.Fatalf("%+v: element %d processed %d times", tc, i, c)
			}
		}
	}
	if err := Run(0, 10, Options{}, func(int, int, *[]float32) error { panic("called") }); err != nil {
		t.Fatal(err)
	}
}

// TestLowestFailingChunkWins: whatever the scheduling, the error reported is
// the one of the lowest failing chunk.
func TestLowestFailingChunkWins(t *testing.T) {
	for threads := 1; threads <= 8; threads++ {
		for rep := 0; rep < 20; rep++ {
			err := Run(100, 1, Options{Threads: threads}, func(lo, _ int, _ *[]float32) error {
				if lo%10 == 7 {
					return fmt.Errorf("chunk %d", lo)
				}
				return nil
			})
			if err == nil || err.Error() != "chunk 7" {
				t.Fatalf("threads=%d: got %v, want chunk 7", threads, err)
			}
		}
	}
}

func TestCancelAndProgress(t *testing.T) {
	var polls atomic.Int32
	var done atomic.Int64
	err := Run(1000, 10, Options{Threads: 3, Cancelled: func() bool { return polls.Add(1) > 5 }},
		func(lo, hi int, _ *[]float32) error { return nil })
	if !errors.Is(err, ErrCancelled) {
		t.Fatalf("got %v, want ErrCancelled", err)
	}
	err = Run(1000, 7, Options{Threads: 3, Progress: func(n int) { done.Add(int64(n)) }},
		func(lo, hi int, _ *[]float32) error { return nil })
	if err != nil || done.Load() != 1000 {
		t.Fatalf("err %v, progress %d of 1000", err, done.Load())
	}
}

func TestPanicsBecomeErrors(t *testing.T) {
	for _, threads := range []int{1, 4} {
		err := Run(64, 1, Options{Threads: threads}, func(lo, _ int, _ *[]float32) error {
			if lo == 33 {
				var m map[string]int
				m["boom"]++ // assignment to a nil map
			}
			return nil
		})
		var pe *PanicError
		if !errors.As(err, &pe) || !strings.Contains(pe.Error(), "nil map") || len(pe.Stack) == 0 {
			t.Fatalf("threads=%d: got %v", threads, err)
		}
	}
}

// TestAllWorkersJoined: when Run returns, no worker is still running (the
// C boundary relies on it: caller memory must not be touched afterwards).
func TestAllWorkersJoined(t *testing.T) {
	var running atomic.Int32
	var mu sync.Mutex
	_ = Run(200, 1, Options{Threads: 8}, func(lo, _ int, _ *[]float32) error {
		running.Add(1)
		defer running.Add(-1)
		mu.Lock()
		mu.Unlock()
		if lo == 3 {
			return errors.New("stop early")
		}
		return nil
	})
	if n := running.Load(); n != 0 {
		t.Fatalf("%d workers still running after Run returned", n)
	}
}

func TestScratchIsPerWorker(t *testing.T) {
	err := Run(10000, 10, Options{Threads: 4}, func(lo, hi int, scratch *[]float32) error {
		if *scratch == nil {
			*scratch = make([]float32, 10)
		}
		s := *scratch
		for i := range s {
			s[i] = float32(lo)
		}
		for i := range s {
			if s[i] != float32(lo) {
				return fmt.Errorf("scratch shared between workers")
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
