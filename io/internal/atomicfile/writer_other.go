//go:build !linux

package atomicfile

import (
	"os"
	"sync"
)

// processStart: no portable way to learn a process's start time here, so
// temporary names carry 0 and a reused pid counts as alive.
func processStart(pid int) (uint64, bool) { return 0, false }

var selfStart = sync.OnceValue(func() uint64 { return 0 })

// hostToken identifies this machine by a hash of its host name.
var hostToken = sync.OnceValue(func() string {
	h, _ := os.Hostname()
	return hash8(h)
})
