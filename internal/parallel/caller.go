package parallel

import (
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// RunCaller is Run for work called from C whose whole call may last a
// millisecond or less (quant's Quantize and bitsandbytes decoders): the calling goroutine
// takes chunks itself beside opt.Threads-1 helpers (startHelper), and it waits
// for the helpers only while one is inside a chunk (a spin of a chunk's
// length at most), not for a helper that has not started.
//
// Why: called from C (cgo), the calling goroutine is locked to its thread.
// With Run it parks in Wait, which hands its P to another thread
// and puts its own thread to sleep; each worker then starts only after a
// thread wake-up, and the caller after another. On a virtual machine one
// wake-up of an idle vCPU can cost a good part of such a call, and the
// bench saw 2-thread decodes run no faster than one thread (CPU/wall near
// 1.0). Here the caller starts at once, a late helper only takes fewer
// chunks, and the end needs no wake-up. Quantize gains too: with
// Run, two threads spent about 7% more CPU per value on Q3_K than
// one (goroutine start-up and the scheduler's spinning around the parked
// caller); with this pool, the same as one.
//
// The guarantees are Run's: chunks are handed out in increasing
// order and the error of the lowest failed chunk is returned; Cancelled is
// polled before each chunk; a panic in work becomes a *PanicError;
// when RunCaller returns, no work, Cancelled or Progress call is
// running or will start. (A helper that has not claimed a chunk by then
// finds none and exits without calling anything.)
func RunCaller(n, per int, opt Options, work Work) error {
	if n <= 0 {
		return nil
	}
	per, chunks, threads := split(n, per, opt.Threads)
	if threads <= 1 {
		return Run(n, per, opt, work)
	}
	r := &run{n: n, per: per, chunks: chunks, opt: opt, work: work, errChunk: chunks}
	for range threads - 1 {
		startHelper(r)
	}
	r.worker()
	// Wait for helpers inside a chunk: spin a while (they finish within a
	// chunk), then poll with sleeps.
	start := time.Now()
	for spins := 0; r.inflight.Load() != 0; spins++ {
		if spins&1023 == 1023 && time.Since(start) > 200*time.Microsecond {
			time.Sleep(20 * time.Microsecond)
		}
	}
	// A helper that comes later finds no chunk and reads neither field: drop
	// them so that a job left in spinJobs holds on to nothing of the caller.
	r.work, r.opt = nil, Options{}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.firstErr
}

// Helpers come from a small pool of goroutines that outlive the call: after
// its work a pool goroutine polls for the next job for helperSpin before it
// parks. Calls that follow each other closely (a model's tensors, a
// benchmark's loop) then find a helper already running on the other core,
// instead of waiting for a thread to wake up; that is what OpenMP runtimes
// do too (bitsandbytes' threads spin between parallel regions). The pool
// holds at most helperMax goroutines; past that, a plain goroutine helps
// once and exits.
const (
	helperSpin = 300 * time.Microsecond
	helperMax  = 8
)

// A job goes to a spinning helper if there is one, else wakes a parked
// one, else starts a goroutine. Spinning and parked helpers take jobs from
// different channels: a send on a channel with a blocked receiver hands
// the value to that receiver, so with one channel a parked helper (a
// thread wake-up away, up to a millisecond on a virtual machine) would
// take the job while a spinning one polled in vain, and a call of a
// millisecond would run on one thread.
var (
	spinJobs     = make(chan *run, helperMax) // polled by spinning helpers
	wakeJobs     = make(chan *run)            // received by parked helpers
	helperCount  atomic.Int32                 // pool goroutines alive
	helperSpins  atomic.Int32                 // pool goroutines polling spinJobs
	helperParked atomic.Int32                 // pool goroutines blocked on wakeJobs
)

// startHelper gives r to an idle pool goroutine, or starts one. A job that
// no goroutine takes in time is harmless: the caller does the chunks
// itself, and a helper that comes late finds none.
func startHelper(r *run) {
	if helperSpins.Load() > 0 {
		select {
		case spinJobs <- r:
			return
		default:
		}
	}
	if helperParked.Load() > 0 {
		select {
		case wakeJobs <- r: // unbuffered: taken only by a parked helper
			return
		default:
		}
	}
	if helperCount.Add(1) <= helperMax {
		go poolHelper(r)
		return
	}
	helperCount.Add(-1)
	go r.helper()
}

// poolHelper helps with r, then with each job it receives.
func poolHelper(r *run) {
	for {
		r.helper()
		r = nil // the finished job is not kept while waiting
		r = awaitJob()
	}
}

// awaitJob polls spinJobs for helperSpin (yielding now and then, so that
// other goroutines still run), then parks on wakeJobs. A job posted to
// spinJobs just as the last spinner gave up stays there until a helper
// spins again; it is harmless (its caller did the chunks, see startHelper).
func awaitJob() *run {
	helperSpins.Add(1)
	deadline := time.Now().Add(helperSpin)
	for i := 1; ; i++ {
		select {
		case r := <-spinJobs:
			helperSpins.Add(-1)
			return r
		default:
		}
		if i%64 == 0 {
			if time.Now().After(deadline) {
				break
			}
			runtime.Gosched()
		}
	}
	helperSpins.Add(-1)
	helperParked.Add(1)
	defer helperParked.Add(-1)
	return <-wakeJobs // never blocked on spinJobs: that would make this helper its receiver
}

// run is the shared state of one Run or RunCaller call.
type run struct {
	n, per, chunks int
	opt            Options
	work           Work

	// next and inflight each on a cache line of their own: the caller and a
	// helper both add to next, only RunCaller's helpers to inflight
	_        [64]byte
	next     atomic.Int64
	_        [56]byte
	inflight atomic.Int32 // helpers between their claim of a chunk and its end
	_        [60]byte
	stop     atomic.Bool

	mu       sync.Mutex
	errChunk int
	firstErr error
}

func (r *run) fail(c int, err error) {
	r.mu.Lock()
	if c < r.errChunk {
		r.errChunk, r.firstErr = c, err
	}
	r.mu.Unlock()
	r.stop.Store(true)
}

// worker takes chunks until there are none left or one failed (Run's
// goroutines, RunCaller's caller).
func (r *run) worker() {
	var scratch []float32
	for r.chunk(&scratch) {
	}
}

// helper is worker on a goroutine of its own: inflight counts it from
// before each claim to the end of that chunk, so that the caller knows when
// no chunk is running.
func (r *run) helper() {
	var scratch []float32
	for {
		r.inflight.Add(1)
		more := r.chunk(&scratch)
		r.inflight.Add(-1)
		if !more {
			return
		}
	}
}

// chunk claims and runs one chunk; false when there was none to run (all
// handed out, a failure, cancellation) or it failed.
func (r *run) chunk(scratch *[]float32) (more bool) {
	if r.stop.Load() {
		return false
	}
	c := int(r.next.Add(1) - 1)
	if c >= r.chunks {
		return false
	}
	defer func() {
		if p := recover(); p != nil {
			r.fail(c, &PanicError{Value: p, Stack: debug.Stack()})
			more = false
		}
	}()
	if r.opt.Cancelled != nil && r.opt.Cancelled() {
		r.fail(c, ErrCancelled)
		return false
	}
	lo, hi := c*r.per, min(r.n, (c+1)*r.per)
	if err := r.work(lo, hi, scratch); err != nil {
		r.fail(c, err)
		return false
	}
	if r.opt.Progress != nil {
		r.opt.Progress(hi - lo)
	}
	return true
}
