package mmap

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

func writeTemp(t *testing.T, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f.bin")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestOpenBothWays(t *testing.T) {
	want := bytes.Repeat([]byte("wick"), 10000)
	p := writeTemp(t, want)
	for _, useMmap := range []bool{true, false} {
		f, err := Open(p, useMmap)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(f.Bytes(), want) {
			t.Errorf("mmap=%v: content differs", useMmap)
		}
		if f.Mapped() != (useMmap && canMap) {
			t.Errorf("mmap=%v: Mapped() = %v", useMmap, f.Mapped())
		}
		// Release keeps the content readable.
		if err := f.Release(5, 20000); err != nil {
			t.Fatal(err)
		}
		if err := f.Prefetch(0, len(want)); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(f.Bytes(), want) {
			t.Errorf("mmap=%v: content differs after Release", useMmap)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOpenEmptyAndDir(t *testing.T) {
	p := writeTemp(t, nil)
	f, err := Open(p, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Bytes()) != 0 || f.Mapped() {
		t.Errorf("empty file: %d bytes, mapped %v", len(f.Bytes()), f.Mapped())
	}
	f.Close()
	if _, err := Open(t.TempDir(), true); err == nil {
		t.Error("opening a directory succeeded")
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing"), true); !os.IsNotExist(err) {
		t.Errorf("missing file: got %v, want a not-exist error", err)
	}
}

func TestPageRange(t *testing.T) {
	ps := os.Getpagesize()
	cases := []struct{ off, n, size, lo, hi int }{
		{0, 1, 10 * ps, 0, ps},
		{ps - 1, 2, 10 * ps, 0, 2 * ps},
		{ps, ps, 10 * ps, ps, 2 * ps},
		{3, 5, 100, 0, 100},                       // clipped to the size
		{-5, 10, 100, 0, 100},                     // negative start clipped
		{100, 10, 100, 0, 0},                      // past the end
		{0, 0, 100, 0, 0},                         // empty
		{5 * ps, 1 << 62, 6 * ps, 5 * ps, 6 * ps}, // huge n does not overflow
	}
	for _, c := range cases {
		lo, hi := pageRange(c.off, c.n, c.size)
		if lo != c.lo || hi != c.hi {
			t.Errorf("pageRange(%d, %d, %d) = [%d, %d), want [%d, %d)", c.off, c.n, c.size, lo, hi, c.lo, c.hi)
		}
	}
}

// mappingRSS returns the resident size in bytes of the mapping that starts
// at addr, read from /proc/self/smaps.
func mappingRSS(t *testing.T, addr uintptr) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Skip("no /proc/self/smaps:", err)
	}
	prefix := fmt.Sprintf("%x-", addr)
	sc := bufio.NewScanner(bytes.NewReader(b))
	found := false
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, prefix) {
			found = true
			continue
		}
		if found && strings.HasPrefix(line, "Rss:") {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(line, "Rss:"), "kB")))
			if err != nil {
				t.Fatal(err)
			}
			return kb * 1024
		}
	}
	t.Fatalf("mapping at %#x not found in /proc/self/smaps", addr)
	return 0
}

func TestReleaseDropsResidentPages(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs /proc/self/smaps")
	}
	const size = 16 << 20
	p := writeTemp(t, bytes.Repeat([]byte{1}, size))
	f, err := Open(p, true)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data := f.Bytes()
	addr := uintptr(unsafe.Pointer(&data[0]))
	sum := 0
	for i := 0; i < size; i += 512 {
		sum += int(data[i])
	}
	if sum != size/512 {
		t.Fatal("bad content")
	}
	before := mappingRSS(t, addr)
	if before < size/2 {
		t.Fatalf("after touching every page only %d bytes are resident", before)
	}
	if err := f.Release(0, size); err != nil {
		t.Fatal(err)
	}
	after := mappingRSS(t, addr)
	if after > size/16 {
		t.Errorf("after Release %d of %d bytes are still resident", after, size)
	}
	if data[size-1] != 1 {
		t.Error("content lost after Release")
	}
}
