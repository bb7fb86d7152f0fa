package quant

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestNoFusedMultiplyAdd compiles this package for the two targets where
// Go fuses a*b + c into one FMA instruction — arm64, and amd64 with
// GOAMD64=v3 — and fails if the compiler emitted any: byte-exactness with
// ggml requires every product to be rounded before it is added (spec
// ggml-quants.md §0.2). It catches what source review misses, such as a
// division by a power of two, which the compiler turns into a
// multiplication that it may then fuse into a following addition (hence
// float32(s / 256) in the kernels). Hand-written assembly is checked by
// TestAssemblyHasNoFMA.
func TestNoFusedMultiplyAdd(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool to compile with")
	}
	fma := regexp.MustCompile(`\s(VFN?M(ADD|SUB)\d*[SP][SD]|FN?M(ADD|SUB)[SD])\s`)
	for _, target := range [][]string{{"GOARCH=arm64"}, {"GOARCH=amd64", "GOAMD64=v3"}} {
		// -D (the directory for relative imports, of which this package has
		// none) gets a fresh value so that the build cache cannot skip the
		// compilation that prints the assembly.
		cmd := exec.Command(goTool, "build", "-gcflags=-S -D=/nonexistent/"+strconv.FormatInt(time.Now().UnixNano(), 36), "-o", os.DevNull, ".")
		cmd.Env = append(os.Environ(), append(target, "CGO_ENABLED=0")...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", target, err, out)
		}
		var fn string
		if !strings.Contains(string(out), "quant.makeQkx STEXT") {
			t.Fatalf("%v: the compiler printed no assembly for the kernels", target)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, " STEXT ") {
				fn = strings.Fields(line)[0]
			}
			if fma.MatchString(line) {
				t.Errorf("%v: fused multiply-add in %s:\n%s", target, fn, line)
			}
		}
	}
}

// TestAssemblyHasNoFMA checks the hand-written kernels: no fused
// multiply-add instruction in any .s file of the package.
func TestAssemblyHasNoFMA(t *testing.T) {
	files, err := filepath.Glob("*.s")
	if err != nil || len(files) == 0 {
		t.Fatalf("no assembly files found (%v)", err)
	}
	fma := regexp.MustCompile(`(?i)\bVFN?M(ADD|SUB)(SUB|ADD)?(132|213|231)[SP][SD]\b`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			if code, _, _ := strings.Cut(line, "//"); fma.MatchString(code) {
				t.Errorf("%s:%d: fused multiply-add: %s", f, i+1, strings.TrimSpace(line))
			}
		}
	}
}
