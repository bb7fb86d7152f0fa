package atomicfile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// modes runs f with unnamed temporary files (where the system has them) and
// with named ones.
func modes(t *testing.T, f func(t *testing.T, named bool)) {
	for _, named := range []bool{false, true} {
		t.Run(map[bool]string{false: "unnamed", true: "named"}[named], func(t *testing.T) {
			forceNamed = named
			t.Cleanup(func() { forceNamed = false })
			f(t, named)
		})
	}
}

// tempFiles returns the names in dir that are temporary files of this package.
func tempFiles(t *testing.T, dir string) []string {
	var out []string
	for _, n := range entries(t, dir) {
		if _, ok := parseTempName(n); ok {
			out = append(out, n)
		}
	}
	return out
}

func TestCommit(t *testing.T) {
	modes(t, func(t *testing.T, named bool) {
		dir := t.TempDir()
		dst := filepath.Join(dir, "out.bin")
		a, err := Create(dst, false)
		if err != nil {
			t.Fatal(err)
		}
		if runtime.GOOS == "linux" && !named && !a.unnamed {
			t.Log("no O_TMPFILE on this file system: the named fallback was used")
		}
		if got := entries(t, dir); a.unnamed && len(got) != 0 {
			t.Errorf("an unnamed temporary file shows up in the directory: %v", got)
		}
		if !a.unnamed {
			if got := tempFiles(t, dir); len(got) != 1 || !strings.HasPrefix(got[0], ".out.bin.wick-") {
				t.Errorf("temporary files %v, want one .out.bin.wick-*.tmp", got)
			}
		}
		if _, err := os.Stat(dst); !errors.Is(err, fs.ErrNotExist) {
			t.Error("destination exists before Commit")
		}
		a.Write([]byte("hello"))
		if err := a.Commit(); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(dst)
		if err != nil || string(b) != "hello" {
			t.Fatalf("got %q, %v", b, err)
		}
		if st, _ := os.Stat(dst); st.Mode().Perm() != 0o644 {
			t.Errorf("mode %v, want 0644", st.Mode().Perm())
		}
		if names := entries(t, dir); len(names) != 1 {
			t.Errorf("directory holds %v, want only out.bin", names)
		}
		if err := a.Commit(); err == nil {
			t.Error("second Commit succeeded")
		}
		if err := a.Abort(); err != nil {
			t.Error("Abort after Commit:", err)
		}
		if b, _ := os.ReadFile(dst); string(b) != "hello" {
			t.Error("Abort after Commit touched the destination")
		}
	})
}

func TestUnnamedOnLinux(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("O_TMPFILE is Linux's")
	}
	a, err := Create(filepath.Join(t.TempDir(), "x"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Abort()
	if !a.unnamed {
		t.Skip("the temporary directory's file system has no O_TMPFILE")
	}
}

func TestAbortRemovesTemp(t *testing.T) {
	modes(t, func(t *testing.T, named bool) {
		dir := t.TempDir()
		a, err := Create(filepath.Join(dir, "x"), false)
		if err != nil {
			t.Fatal(err)
		}
		a.Write([]byte("partial"))
		if err := a.Abort(); err != nil {
			t.Fatal(err)
		}
		if names := entries(t, dir); len(names) != 0 {
			t.Errorf("directory holds %v after Abort", names)
		}
	})
}

func TestNoOverwrite(t *testing.T) {
	modes(t, func(t *testing.T, named bool) {
		dir := t.TempDir()
		dst := filepath.Join(dir, "x")
		os.WriteFile(dst, []byte("old"), 0o644)
		if _, err := Create(dst, false); !errors.Is(err, fs.ErrExist) {
			t.Fatalf("Create over an existing file: %v, want fs.ErrExist", err)
		}
		// Appearing between Create and Commit.
		os.Remove(dst)
		a, err := Create(dst, false)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(dst, []byte("racer"), 0o644)
		a.Write([]byte("new"))
		if err := a.Commit(); !errors.Is(err, fs.ErrExist) {
			t.Fatalf("Commit over a file that appeared: %v, want fs.ErrExist", err)
		}
		if b, _ := os.ReadFile(dst); string(b) != "racer" {
			t.Errorf("destination is %q, want it untouched", b)
		}
		if names := entries(t, dir); len(names) != 1 {
			t.Errorf("directory holds %v, want the temporary file removed", names)
		}
	})
}

func TestOverwrite(t *testing.T) {
	modes(t, func(t *testing.T, named bool) {
		dir := t.TempDir()
		dst := filepath.Join(dir, "x")
		os.WriteFile(dst, []byte("old"), 0o600)
		a, err := Create(dst, true)
		if err != nil {
			t.Fatal(err)
		}
		a.Write([]byte("new"))
		if b, _ := os.ReadFile(dst); string(b) != "old" {
			t.Errorf("destination is %q before Commit", b)
		}
		if err := a.Commit(); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(dst); string(b) != "new" {
			t.Errorf("destination is %q", b)
		}
		if st, _ := os.Stat(dst); st.Mode().Perm() != 0o644 {
			t.Errorf("mode %v, want 0644", st.Mode().Perm())
		}
		if names := entries(t, dir); len(names) != 1 {
			t.Errorf("directory holds %v, want only x", names)
		}
		if _, err := Create(dir, true); err == nil {
			t.Error("Create over a directory succeeded")
		}
	})
}

func TestCommitAll(t *testing.T) {
	modes(t, func(t *testing.T, named bool) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "c"), []byte("old c"), 0o644)
		var files []*File
		for _, n := range []string{"a", "b", "c"} {
			f, err := Create(filepath.Join(dir, n), n == "c")
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(f, "new %s", n)
			files = append(files, f)
		}
		if err := CommitAll(files...); err != nil {
			t.Fatal(err)
		}
		for _, n := range []string{"a", "b", "c"} {
			if b, _ := os.ReadFile(filepath.Join(dir, n)); string(b) != "new "+n {
				t.Errorf("%s holds %q", n, b)
			}
		}
		if names := entries(t, dir); len(names) != 3 {
			t.Errorf("directory holds %v", names)
		}

		// One destination appeared meanwhile: none of the new files stays.
		dir = t.TempDir()
		os.WriteFile(filepath.Join(dir, "z"), []byte("old z"), 0o644)
		files = nil
		for _, n := range []string{"x", "y", "z"} {
			f, err := Create(filepath.Join(dir, n), n == "z")
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(f, "new %s", n)
			files = append(files, f)
		}
		os.WriteFile(filepath.Join(dir, "y"), []byte("racer"), 0o644)
		if err := CommitAll(files...); !errors.Is(err, fs.ErrExist) {
			t.Fatalf("CommitAll: %v, want fs.ErrExist", err)
		}
		got := map[string]string{}
		for _, n := range entries(t, dir) {
			b, _ := os.ReadFile(filepath.Join(dir, n))
			got[n] = string(b)
		}
		if want := map[string]string{"y": "racer", "z": "old z"}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("directory holds %v, want %v", got, want)
		}
	})
}

func TestTempNames(t *testing.T) {
	name := tempName("model.gguf")
	w, ok := parseTempName(name)
	if !ok || w.host != hostToken() || w.pid != os.Getpid() || w.start != selfStart() {
		t.Fatalf("%q parses as %+v, %v", name, w, ok)
	}
	if !strings.HasPrefix(name, ".model.gguf.wick-") || !strings.HasSuffix(name, ".tmp") {
		t.Errorf("%q", name)
	}
	if w.dead() {
		t.Error("this process counts as dead")
	}
	long := strings.Repeat("é", 200) + ".gguf"
	if n := tempName(long); len(n) > 255 || !strings.HasPrefix(n, "."+strings.Repeat("é", maxBase/2)+".wick-") {
		t.Errorf("temporary name of a long name: %q (%d bytes)", n, len(n))
	}
	for _, bad := range []string{"model.gguf", ".model.gguf.tmp", ".x.wick-1234567-12-0-00000000.tmp",
		".x.wick-12345678-0-0-00000000.tmp", ".x.wick-12345678-12-0-0000000g.tmp", ".x.wick-12345678-12-0.tmp"} {
		if _, ok := parseTempName(bad); ok {
			t.Errorf("%q parses as a temporary name", bad)
		}
	}
	if runtime.GOOS == "linux" && selfStart() == 0 {
		t.Error("no start time for this process")
	}
}

// helperEnv makes TestHelperProcess a writer that creates DIR/out.bin,
// writes, says "ready" and waits to be killed.
const helperEnv = "WICK_ATOMICFILE_HELPER_DIR"

func TestHelperProcess(t *testing.T) {
	dir := os.Getenv(helperEnv)
	if dir == "" {
		t.Skip("a helper for the kill tests")
	}
	forceNamed = os.Getenv("WICK_ATOMICFILE_HELPER_NAMED") == "1"
	a, err := Create(filepath.Join(dir, "out.bin"), true)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	a.Write(make([]byte, 1<<20))
	fmt.Println("ready")
	time.Sleep(time.Minute)
	os.Exit(2)
}

// killedWriter starts a helper writing into dir and kills it with SIGKILL
// once it has written; it returns the helper's pid.
func killedWriter(t *testing.T, dir string, named bool) int {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("no SIGKILL")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), helperEnv+"="+dir, "WICK_ATOMICFILE_HELPER_NAMED="+map[bool]string{false: "0", true: "1"}[named])
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	if line != "ready\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper said %q", line)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	return cmd.Process.Pid
}

func TestKilledWriterLeavesNothing(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("only unnamed temporary files vanish with their writer")
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "out.bin"), []byte("old"), 0o644)
	probe, err := Create(filepath.Join(dir, "probe"), false)
	if err != nil {
		t.Fatal(err)
	}
	unnamed := probe.unnamed
	probe.Abort()
	if !unnamed {
		t.Skip("the temporary directory's file system has no O_TMPFILE")
	}
	killedWriter(t, dir, false)
	if names := entries(t, dir); len(names) != 1 || names[0] != "out.bin" {
		t.Errorf("after SIGKILL the directory holds %v, want only out.bin", names)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "out.bin")); string(b) != "old" {
		t.Errorf("out.bin holds %q", b)
	}
}

func TestSweepRemovesTheFilesOfDeadWritersOnly(t *testing.T) {
	dir := t.TempDir()
	pid := killedWriter(t, dir, true)
	dead := tempFiles(t, dir)
	if len(dead) != 1 {
		t.Fatalf("the killed named writer left %v, want one temporary file", dead)
	}
	if w, _ := parseTempName(dead[0]); w.pid != pid || !w.dead() {
		t.Fatalf("%q: pid %d, dead %v; want pid %d, dead", dead[0], w.pid, w.dead(), pid)
	}
	// Files that must stay: this process's own (live) one, another host's,
	// a pid that is alive with the right start time, and a look-alike.
	own, err := Create(filepath.Join(dir, "mine"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer own.Abort()
	keep := []string{
		fmt.Sprintf(".a.wick-%s-%d-%d-0000abcd.tmp", "0badc0de", pid, selfStart()), // another host
		fmt.Sprintf(".b.wick-%s-%d-%d-0000abcd.tmp", hostToken(), os.Getpid(), selfStart()),
		".c.wick-notahash-1-2-3.tmp",
	}
	if os.Getppid() > 1 {
		start, _ := processStart(os.Getppid())
		keep = append(keep, fmt.Sprintf(".d.wick-%s-%d-%d-0000abcd.tmp", hostToken(), os.Getppid(), start))
	}
	gone := []string{
		fmt.Sprintf(".e.wick-%s-%d-%d-0000abcd.tmp", hostToken(), pid, 0), // dead pid, no start time
	}
	if runtime.GOOS == "linux" {
		// this process's pid, but another start time: a writer that had the pid before
		gone = append(gone, fmt.Sprintf(".f.wick-%s-%d-%d-0000abcd.tmp", hostToken(), os.Getpid(), selfStart()+1))
	}
	for _, n := range append(append([]string(nil), keep...), gone...) {
		os.WriteFile(filepath.Join(dir, n), nil, 0o600)
	}
	a, err := Create(filepath.Join(dir, "next"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Abort()
	left := map[string]bool{}
	for _, n := range entries(t, dir) {
		left[n] = true
	}
	for _, n := range append(append([]string(nil), dead...), gone...) {
		if left[n] {
			t.Errorf("%s (a dead writer's) is still there", n)
		}
	}
	for _, n := range keep {
		if !left[n] {
			t.Errorf("%s was removed", n)
		}
	}
	if !own.unnamed && !left[filepath.Base(own.tmp)] {
		t.Error("this process's own temporary file was removed")
	}
}

func createAll(t *testing.T, dsts []string, overwrite bool) []*File {
	t.Helper()
	var files []*File
	for i, dst := range dsts {
		a, err := Create(dst, overwrite)
		if err != nil {
			t.Fatal(err)
		}
		a.Write([]byte{'0' + byte(i)})
		files = append(files, a)
	}
	return files
}

func TestCommitAllSet(t *testing.T) {
	dir := t.TempDir()
	dsts := []string{filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "c")}
	files := createAll(t, dsts, false)
	want := 3 // named temporary files, unless they are unnamed (O_TMPFILE)
	if files[0].unnamed {
		want = 0
	}
	if names := entries(t, dir); len(names) != want {
		t.Fatalf("before CommitAll: %v, want %d temporary files", names, want)
	}
	if err := CommitAll(files...); err != nil {
		t.Fatal(err)
	}
	for i, dst := range dsts {
		if b, err := os.ReadFile(dst); err != nil || string(b) != string(rune('0'+i)) {
			t.Errorf("%s: %q, %v", dst, b, err)
		}
	}
	if names := entries(t, dir); len(names) != 3 {
		t.Errorf("directory holds %v, want only a, b, c", names)
	}
	if err := CommitAll(files...); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("CommitAll twice: %v, want fs.ErrClosed", err)
	}
	if err := CommitAll(); err != nil {
		t.Errorf("CommitAll(nil): %v", err)
	}
}

// A destination that appears while the set is being written makes the
// whole set fail, whichever member it is: files[0] is published last, so
// when it is the one that clashes, the others are already in place and
// must be removed again.
func TestCommitAllRollsBack(t *testing.T) {
	for clash := 0; clash < 3; clash++ {
		dir := t.TempDir()
		dsts := []string{filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "c")}
		files := createAll(t, dsts, false)
		os.WriteFile(dsts[clash], []byte("racer"), 0o644)
		if err := CommitAll(files...); !errors.Is(err, fs.ErrExist) {
			t.Fatalf("clash on %d: %v, want fs.ErrExist", clash, err)
		}
		names := entries(t, dir)
		if len(names) != 1 || names[0] != filepath.Base(dsts[clash]) {
			t.Errorf("clash on %d: directory holds %v, want only the racer's file", clash, names)
		}
		if b, _ := os.ReadFile(dsts[clash]); string(b) != "racer" {
			t.Errorf("clash on %d: the racer's file now holds %q", clash, b)
		}
	}
}

func TestCommitAllRefusesDoneFiles(t *testing.T) {
	dir := t.TempDir()
	files := createAll(t, []string{filepath.Join(dir, "a"), filepath.Join(dir, "b")}, false)
	files[1].Abort()
	if err := CommitAll(files...); !errors.Is(err, fs.ErrClosed) {
		t.Fatalf("CommitAll with an aborted file: %v, want fs.ErrClosed", err)
	}
	if names := entries(t, dir); len(names) != 0 {
		t.Errorf("directory holds %v, want nothing", names)
	}
}

func TestCommitAllOverwrite(t *testing.T) {
	dir := t.TempDir()
	dsts := []string{filepath.Join(dir, "a"), filepath.Join(dir, "b")}
	for _, d := range dsts {
		os.WriteFile(d, []byte("old"), 0o600)
	}
	if err := CommitAll(createAll(t, dsts, true)...); err != nil {
		t.Fatal(err)
	}
	for i, d := range dsts {
		if b, _ := os.ReadFile(d); string(b) != string(rune('0'+i)) {
			t.Errorf("%s holds %q", d, b)
		}
	}
}

// TestWriteStartsWriteback: Write starts the write-back of each
// writebackEvery bytes as they accumulate, whatever the pieces' sizes, and
// the file holds every byte written.
func TestWriteStartsWriteback(t *testing.T) {
	dst := filepath.Join(t.TempDir(), "big")
	a, err := Create(dst, false)
	if err != nil {
		t.Fatal(err)
	}
	piece := make([]byte, 3<<20+5)
	for i := range piece {
		piece[i] = byte(i * 7)
	}
	var total int64
	for total < 2*writebackEvery+1 {
		if _, err := a.Write(piece); err != nil {
			t.Fatal(err)
		}
		total += int64(len(piece))
		if a.appended != total || a.kicked > total || total-a.kicked >= writebackEvery {
			t.Fatalf("after %d bytes: appended %d, write-back started up to %d", total, a.appended, a.kicked)
		}
	}
	if a.kicked < 2*writebackEvery {
		t.Fatalf("write-back started up to %d of %d bytes", a.kicked, total)
	}
	if err := a.Commit(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(got)) != total {
		t.Fatalf("file holds %d bytes, want %d", len(got), total)
	}
	for off := int64(0); off < total; off += int64(len(piece)) {
		if !bytes.Equal(got[off:off+int64(len(piece))], piece) {
			t.Fatalf("bytes at %d differ", off)
		}
	}
}
