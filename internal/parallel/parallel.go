// Package parallel runs chunked work over goroutines with the guarantees
// Wick's C boundary needs: deterministic error reporting, cancellation
// between chunks, panics in workers turned into errors, and every goroutine
// finished before Run returns (so no caller memory is touched afterwards).
package parallel

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
)

// ErrCancelled is returned when Options.Cancelled reported true before the
// work was done. Outputs are then only partly written.
var ErrCancelled = errors.New("cancelled")

// PanicError is a panic recovered in a worker goroutine: a bug, turned into
// an error so that it cannot take the host process down.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// Options controls Run.
type Options struct {
	// Threads is the number of goroutines; ≤ 0 means GOMAXPROCS. Never more
	// than there are chunks.
	Threads int
	// Cancelled is polled before each chunk; nil means never.
	Cancelled func() bool
	// Progress, if set, is called with the size of each finished chunk,
	// from the worker goroutines.
	Progress func(n int)
}

// Work processes [lo, hi). scratch is private to the calling goroutine and
// may be grown and reused across its chunks.
type Work func(lo, hi int, scratch *[]float32) error

// Run calls work over [0, n) cut into chunks of per elements (the last may
// be shorter). Chunks are handed out in increasing order, so when several
// fail, the error of the lowest chunk is returned whatever the scheduling.
func Run(n, per int, opt Options, work Work) error {
	if n <= 0 {
		return nil
	}
	per, chunks, threads := split(n, per, opt.Threads)
	r := &run{n: n, per: per, chunks: chunks, opt: opt, work: work, errChunk: chunks}
	if threads <= 1 {
		r.worker()
		return r.firstErr
	}
	var wg sync.WaitGroup
	for range threads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.worker()
		}()
	}
	wg.Wait()
	return r.firstErr
}

// split plans Run's and RunCaller's chunks for n > 0 elements: per ≤ 0
// means one chunk; threads ≤ 0 means GOMAXPROCS, and never more threads
// than chunks.
func split(n, per, threads int) (int, int, int) {
	if per <= 0 {
		per = n
	}
	chunks := (n + per - 1) / per
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	return per, chunks, min(threads, chunks)
}
