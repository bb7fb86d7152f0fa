package safetensors

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkParseHeader parses a header of 10,000 tensor entries (about
// 700 KB, the size of a large sharded model's biggest header).
func BenchmarkParseHeader(b *testing.B) {
	var hb strings.Builder
	hb.WriteString(`{"__metadata__":{"format":"pt"}`)
	const n = 10000
	for i := range n {
		fmt.Fprintf(&hb, `,"model.layers.%d.self_attn.q_proj.weight":{"dtype":"BF16","shape":[4096,4096],"data_offsets":[%d,%d]}`, i, i*2, i*2+2)
	}
	hb.WriteString("}")
	// Fake the sizes: 1 element per tensor keeps the file small.
	file := stBytes(strings.ReplaceAll(hb.String(), "[4096,4096]", "[1]"), make([]byte, 2*n))
	b.SetBytes(int64(len(file)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(file); err != nil {
			b.Fatal(err)
		}
	}
}
