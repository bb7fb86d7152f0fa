package main

/*
#include "wick.h"
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"syscall"
	"unsafe"

	"github.com/wick-ml/wick/convert"
	"github.com/wick-ml/wick/io/gguf"
	"github.com/wick-ml/wick/io/imatrix"
	"github.com/wick-ml/wick/io/safetensors"
	"github.com/wick-ml/wick/quant"
)

// Status codes returned by every export. The Python package maps them to
// exception classes by name (see statusNames and wick_info_json).
const (
	statusOK          = 0
	statusInvalid     = 1 // an argument breaks the contract: ValueError
	statusInternal    = 2 // a bug in Wick (recovered panic): RuntimeError
	statusOS          = 3 // the operating system refused (file, disk): OSError
	statusFormat      = 4 // a file is corrupt or hostile: ValueError
	statusUnsupported = 5 // a known thing Wick cannot do: NotImplementedError
	statusCancelled   = 6 // the caller cancelled through wick_ctl
	statusNonFinite   = 7 // NaN/Inf where finite values are needed: ValueError
	statusNotFound    = 8 // a file that should exist does not: FileNotFoundError
	statusExists      = 9 // an output that must not exist does: FileExistsError
)

// statusPlan: a conversion plan the executor refuses (convert.PlanError):
// wick.convert.PlanError in Python.
const statusPlan = 10

var statusNames = map[string]int{
	"ok":               statusOK,
	"invalid_argument": statusInvalid,
	"internal":         statusInternal,
	"os":               statusOS,
	"format":           statusFormat,
	"unsupported":      statusUnsupported,
	"cancelled":        statusCancelled,
	"non_finite":       statusNonFinite,
	"not_found":        statusNotFound,
	"exists":           statusExists,
	"plan":             statusPlan,
}

// classify maps an error from the Go packages to a status code.
func classify(err error) int {
	var (
		arg   *quant.ArgumentError
		nf    *quant.NonFiniteError
		ab    *quant.AbortError
		bnf   *quant.BlockwiseNonFiniteError
		uns   *quant.UnsupportedError
		pan   *quant.PanicError
		path  *fs.PathError
		bad   *badArg
		errno syscall.Errno
		plan  *convert.PlanError
		cnf   *convert.NonFiniteError
		inv   *convert.InvalidDataError
	)
	switch {
	case errors.As(err, &bad), errors.As(err, &arg),
		errors.Is(err, gguf.ErrArgument), errors.Is(err, safetensors.ErrArgument), errors.Is(err, imatrix.ErrArgument):
		return statusInvalid
	case errors.As(err, &plan):
		return statusPlan
	case errors.Is(err, gguf.ErrFormat), errors.Is(err, gguf.ErrLimit),
		errors.Is(err, safetensors.ErrFormat), errors.Is(err, safetensors.ErrLimit),
		errors.Is(err, imatrix.ErrFormat), errors.Is(err, imatrix.ErrLimit):
		return statusFormat
	case errors.Is(err, fs.ErrNotExist):
		return statusNotFound
	case errors.Is(err, fs.ErrExist):
		return statusExists
	case errors.As(err, &nf), errors.As(err, &bnf), errors.As(err, &cnf), errors.As(err, &inv), errors.As(err, &ab):
		return statusNonFinite
	case errors.As(err, &uns):
		return statusUnsupported
	case errors.Is(err, quant.ErrCancelled), errors.Is(err, context.Canceled):
		return statusCancelled
	case errors.As(err, &pan):
		return statusInternal
	case errors.As(err, &path), errors.As(err, &errno):
		return statusOS
	}
	return statusInternal
}

// badArg is an argument error found by the C boundary itself.
type badArg struct{ msg string }

func (e *badArg) Error() string { return e.msg }

func argError(format string, a ...any) error { return &badArg{fmt.Sprintf(format, a...)} }

// writeErr copies msg into the caller's buffer, truncated and always
// NUL-terminated. A NULL buffer or zero length writes nothing.
func writeErr(buf *C.char, n C.size_t, msg string) {
	if buf == nil || n == 0 {
		return
	}
	dst := unsafe.Slice((*byte)(unsafe.Pointer(buf)), int(n))
	k := copy(dst[:len(dst)-1], msg)
	dst[k] = 0
}

// guard runs the body of an export: it recovers panics, classifies errors
// and fills the error buffer. Every export goes through it.
func guard(errBuf *C.char, errLen C.size_t, body func() error) (rc C.int) {
	defer func() {
		if r := recover(); r != nil {
			writeErr(errBuf, errLen, panicMessage(r, debug.Stack()))
			rc = statusInternal
		}
	}()
	err := body()
	if err == nil {
		return statusOK
	}
	code := classify(err)
	msg := err.Error()
	var pan *quant.PanicError
	if errors.As(err, &pan) {
		msg = panicMessage(pan.Value, pan.Stack)
	}
	writeErr(errBuf, errLen, strings.TrimPrefix(msg, "quant: "))
	return C.int(code)
}

func panicMessage(v any, stack []byte) string {
	return fmt.Sprintf("internal error in Wick (a bug, please report it): panic: %v\n%s", v, stack)
}

// control wraps the caller's wick_ctl (which may be NULL) for the Go
// packages. The caller's block is only touched during the call.
type control struct{ c *C.wick_ctl }

func (c control) cancelled() bool {
	return c.c != nil && atomic.LoadInt32((*int32)(unsafe.Pointer(&c.c.cancel))) != 0
}

func (c control) setTotal(n int64) {
	if c.c != nil {
		atomic.StoreInt64((*int64)(unsafe.Pointer(&c.c.total)), n)
		atomic.StoreInt64((*int64)(unsafe.Pointer(&c.c.done)), 0)
	}
}

func (c control) setDone(n int64) {
	if c.c != nil {
		atomic.StoreInt64((*int64)(unsafe.Pointer(&c.c.done)), n)
	}
}

func (c control) add(n int64) {
	if c.c != nil {
		atomic.AddInt64((*int64)(unsafe.Pointer(&c.c.done)), n)
	}
}

// options builds quant.Options wired to the control block.
func (c control) options(threads C.int) quant.Options {
	opt := quant.Options{Threads: int(threads)}
	if c.c != nil {
		opt.Cancelled = c.cancelled
		opt.Progress = func(n int) { c.add(int64(n)) }
	}
	return opt
}
