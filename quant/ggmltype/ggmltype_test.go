package ggmltype

import (
	"os/exec"
	"strings"
	"testing"
)

func TestTable(t *testing.T) {
	in, ok := Lookup("q4_k")
	if !ok || in.Type != Q4_K || in.Name != "Q4_K" || in.BlockSize != 256 || in.BlockBytes != 144 || in.Float {
		t.Fatalf("Lookup(q4_k) = %+v, %v", in, ok)
	}
	if n, err := in.RowBytes(4096); err != nil || n != 16*144 {
		t.Errorf("RowBytes(4096) = %d, %v", n, err)
	}
	if _, err := in.RowBytes(100); err == nil {
		t.Error("RowBytes(100) of Q4_K succeeded")
	}
	if BF16.String() != "BF16" || Type(4).String() != "type(4)" {
		t.Errorf("String: %v %v", BF16, Type(4))
	}
	prev := -1
	for _, in := range All() {
		if int(in.Type) <= prev {
			t.Errorf("%v out of ggml's order", in.Type)
		}
		prev = int(in.Type)
		if got, ok := in.Type.Info(); !ok || got != in {
			t.Errorf("Info(%v) = %+v", in.Type, got)
		}
	}
}

// TestIODependsOnTheTableOnly: the file codecs use the type table, not the
// kernels of package quant.
func TestIODependsOnTheTableOnly(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", "github.com/wick-ml/wick/io/...").Output()
	if err != nil {
		t.Skip("no go list here:", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if p == "github.com/wick-ml/wick/quant" {
			t.Fatal("a package in io/ imports github.com/wick-ml/wick/quant")
		}
	}
}
