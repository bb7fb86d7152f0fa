package main

/*
#include "wick.h"
*/
import "C"

import (
	"context"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/wick-ml/wick/convert"
)

// openImatrix opens an importance-matrix file for the executor; nil until
// a reader is wired in (plans naming an imatrix are then refused).
var openImatrix func(path string) (convert.Imatrix, error)

// wick_convert executes a conversion plan (plan_json, schema 3; see
// python/wick/convert/plan.py) into the GGUF file at out, or, for a plan of
// format "safetensors", the model directory at out (flags bit 0:
// overwrite; with the plan's "split", out less ".gguf" prefixes the parts'
// names and the report's "files" lists them). Progress goes to ctl (done/total elements, item = index of
// the tensor being written) and setting ctl->cancel stops the run within
// one chunk; nothing is left at out unless the call succeeds. The report,
// convert.Report as JSON, comes back as result id/length.
//
//export wick_convert
func wick_convert(planJSON *C.wick_cchar, planLen C.size_t, out *C.wick_cchar, outLen C.size_t, flags C.uint32_t,
	threads C.int32_t, ctl *C.wick_ctl, id, n *C.int64_t, errBuf *C.char, errLen C.size_t) C.int {
	return guard(errBuf, errLen, func() error {
		pb, err := view[byte]("plan", unsafe.Pointer(planJSON), planLen)
		if err != nil {
			return err
		}
		path, err := goPath("out", out, outLen)
		if err != nil {
			return err
		}
		if flags&^1 != 0 {
			return argError("flags: unknown bits %#x", uint32(flags&^1))
		}
		if id == nil || n == nil {
			return argError("result: NULL pointer for the result id or length")
		}
		plan, err := convert.ParsePlan(pb)
		if err != nil {
			return err
		}
		c := control{ctl}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		stop := make(chan struct{})
		defer close(stop)
		if ctl != nil {
			go func() { // turn ctl->cancel into a cancelled context
				t := time.NewTicker(10 * time.Millisecond)
				defer t.Stop()
				for {
					select {
					case <-stop:
						return
					case <-t.C:
						if c.cancelled() {
							cancel()
							return
						}
					}
				}
			}()
		}
		opt := convert.Options{Threads: int(threads), Overwrite: flags&1 != 0}
		if openImatrix != nil {
			opt.OpenImatrix = openImatrix
		}
		if ctl != nil {
			opt.Progress = func(done, total int64, tensor int) {
				atomic.StoreInt64((*int64)(unsafe.Pointer(&ctl.total)), total)
				atomic.StoreInt64((*int64)(unsafe.Pointer(&ctl.done)), done)
				atomic.StoreInt64((*int64)(unsafe.Pointer(&ctl.item)), int64(tensor))
			}
		}
		rep, err := convert.Execute(ctx, plan, path, opt)
		if err != nil {
			return err
		}
		return storeJSON(rep, id, n)
	})
}
