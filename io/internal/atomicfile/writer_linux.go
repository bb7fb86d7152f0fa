package atomicfile

import (
	"bytes"
	"os"
	"strconv"
	"sync"
)

// processStart returns the start time of process pid in clock ticks since
// boot (field 22 of /proc/PID/stat).
func processStart(pid int) (uint64, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// The command name (field 2) is in parentheses and may hold anything:
	// count fields after its last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	fields := bytes.Fields(b[i+1:])
	if len(fields) < 20 { // state is field 3, starttime field 22
		return 0, false
	}
	v, err := strconv.ParseUint(string(fields[19]), 10, 64)
	return v, err == nil
}

var selfStart = sync.OnceValue(func() uint64 {
	v, _ := processStart(os.Getpid())
	return v
})

// hostToken identifies this machine and PID namespace: pids and start
// times mean something only within them. It hashes the machine id (or the
// host name) and the PID namespace's identity.
var hostToken = sync.OnceValue(func() string {
	var id []byte
	for _, p := range []string{"/etc/machine-id", "/var/lib/dbus/machine-id"} {
		if b, err := os.ReadFile(p); err == nil && len(bytes.TrimSpace(b)) > 0 {
			id = bytes.TrimSpace(b)
			break
		}
	}
	if id == nil {
		h, _ := os.Hostname()
		id = []byte(h)
	}
	ns, _ := os.Readlink("/proc/self/ns/pid")
	return hash8(string(id) + "\x00" + ns)
})
