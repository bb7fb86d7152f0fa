//go:build wick_testhooks

package main

/*
#include "wick.h"
*/
import "C"

import (
	"fmt"
	"time"

	"github.com/wick-ml/wick/internal/parallel"
	"github.com/wick-ml/wick/quant"
)

// The wick_debug_* exports exist for Wick's own test suite: they prove that
// the boundary contains failures. They do nothing useful otherwise, so they
// are compiled only with the build tag wick_testhooks (build_native.py
// --test-hooks, which `make lib` runs for the tests); the library in a
// release wheel does not contain them.

// Places wick_debug_panic can panic.
const (
	panicInExport = 0 // in the exported function's own goroutine
	panicInWorker = 1 // in a worker goroutine of the parallel driver
	panicNilDeref = 2 // a nil pointer dereference (SIGSEGV turned into a panic)
)

// wick_debug_panic panics on purpose where `where` says and returns what
// the guard made of it (statusInternal and a message).
//
//export wick_debug_panic
func wick_debug_panic(where C.int32_t, errBuf *C.char, errLen C.size_t) C.int {
	return guard(errBuf, errLen, func() error {
		switch where {
		case panicInExport:
			panic("wick_debug_panic: deliberate panic in the export")
		case panicInWorker:
			return parallel.Run(4, 1, parallel.Options{Threads: 2}, func(lo, hi int, _ *[]float32) error {
				if lo == 2 {
					panic("wick_debug_panic: deliberate panic in a worker goroutine")
				}
				return nil
			})
		case panicNilDeref:
			var p *int
			return fmt.Errorf("unreachable %d", *p)
		}
		return argError("where: %d is not 0 (export), 1 (worker) or 2 (nil dereference)", int32(where))
	})
}

// wick_debug_spin keeps a worker busy for `millis` milliseconds, polling
// ctl->cancel like every long call does, and returns statusCancelled if it
// was cancelled. Progress counts milliseconds.
//
//export wick_debug_spin
func wick_debug_spin(millis C.int64_t, ctl *C.wick_ctl, errBuf *C.char, errLen C.size_t) C.int {
	return guard(errBuf, errLen, func() error {
		c := control{ctl}
		c.setTotal(int64(millis))
		deadline := time.Now().Add(time.Duration(millis) * time.Millisecond)
		for start := time.Now(); time.Now().Before(deadline); {
			if c.cancelled() {
				return quant.ErrCancelled
			}
			time.Sleep(time.Millisecond)
			if ms := time.Since(start).Milliseconds(); ms > 0 {
				c.setDone(ms)
			}
		}
		return nil
	})
}
