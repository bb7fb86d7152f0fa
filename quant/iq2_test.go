package quant

import (
	"errors"
	"math/rand"
	"sort"
	"testing"
)

// TestIQRequiresImatrix: like ggml_quantize_chunk, Quantize refuses IQ2_XXS,
// IQ2_XS and IQ1_S without an importance matrix, and encodes IQ2_S and
// IQ1_M without one.
func TestIQRequiresImatrix(t *testing.T) {
	x := make([]float32, 512)
	for i := range x {
		x[i] = float32(i%7) - 3
	}
	for _, typ := range []Type{IQ2_XXS, IQ2_XS, IQ1_S, IQ2_S, IQ1_M} {
		tr, _ := TraitsOf(typ)
		dst := make([]byte, 2*tr.BlockBytes)
		_, err := Quantize(typ, dst, F32Input(x), 256, Options{})
		var ae *ArgumentError
		if RequiresImatrix(typ) {
			if !errors.As(err, &ae) || ae.Arg != "imatrix" {
				t.Errorf("%s without imatrix: got %v, want an imatrix *ArgumentError", tr.Name, err)
			}
		} else if err != nil {
			t.Errorf("%s without imatrix: %v", tr.Name, err)
		}
		im := make([]float32, 256)
		for i := range im {
			im[i] = 1
		}
		if _, err := Quantize(typ, dst, F32Input(x), 256, Options{Imatrix: im}); err != nil {
			t.Errorf("%s with imatrix: %v", tr.Name, err)
		}
	}
}

// TestIQGridNeighbours checks iqGrid.build's neighbour lists against ggml's
// own construction, literally: all grid points sorted by (squared distance,
// index) with a full sort, cut after the nwant-th distinct distance.
func TestIQGridNeighbours(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for name, g := range map[string]*iqGrid{"IQ2_XXS": gridIQ2XXS, "IQ2_XS": gridIQ2XS, "IQ2_S": gridIQ2S, "IQ1_S": gridIQ1S} {
		g := g.get()
		onGrid := 0
		for u := 0; u < iqKmapSize; u++ {
			if g.kmap[u] >= 0 {
				onGrid++
				if iq2PackIndex(levelsOf(g.pos[g.kmap[u]])) != u {
					t.Fatalf("%s: kmap[%d] = %d is not that point", name, u, g.kmap[u])
				}
			}
		}
		if onGrid != len(g.kgrid) {
			t.Errorf("%s: %d points mapped, want %d", name, onGrid, len(g.kgrid))
		}
		for trial := 0; trial < 300; trial++ {
			u := rng.Intn(iqKmapSize)
			if g.kmap[u] >= 0 {
				continue
			}
			type pair struct{ d2, j int }
			ps := make([]pair, len(g.pos))
			for j := range g.pos {
				d2 := 0
				for k := 0; k < 8; k++ {
					d := int(g.pos[j][k]) - (2*(u>>(2*k)&3) + 1)
					d2 += d * d
				}
				ps[j] = pair{d2, j}
			}
			sort.Slice(ps, func(a, b int) bool {
				return ps[a].d2 < ps[b].d2 || ps[a].d2 == ps[b].d2 && ps[a].j < ps[b].j
			})
			var want []uint16
			d2, nhave := ps[0].d2, 1
			for _, p := range ps {
				if p.d2 > d2 {
					if nhave == g.nwant {
						break
					}
					d2 = p.d2
					nhave++
				}
				want = append(want, uint16(p.j))
			}
			got := g.neighboursOf(u)
			if len(got) != len(want) {
				t.Fatalf("%s: u=%d: %d neighbours, want %d", name, u, len(got), len(want))
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("%s: u=%d: neighbour %d is %d, want %d", name, u, i, got[i], want[i])
				}
			}
		}
	}
}

func levelsOf(p [8]int8) []int8 {
	L := make([]int8, 8)
	for i, v := range p {
		L[i] = (v - 1) / 2
	}
	return L
}

// iqTestInput is weight-like rows of 256-value blocks with the cases that
// steer the encoders' branches: outliers, zero sub-blocks, equal values,
// one sign only, tiny values.
func iqTestInput(rng *rand.Rand, rows, nPerRow int) []float32 {
	x := make([]float32, rows*nPerRow)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * 0.02)
		switch b := i / 256 % 8; {
		case b == 1 && i%256 < 32:
			x[i] = 0
		case b == 2:
			x[i] = float32(rng.Intn(9) - 4) // ties
		case b == 3:
			x[i] = -abs32(x[i])
		case b == 4:
			x[i] *= 1e-20
		case b == 5 && i%97 == 0:
			x[i] = 3
		case b == 6:
			x[i] = float32(rng.ExpFloat64()) * float32(rng.NormFloat64())
		}
	}
	return x
}

// TestIQFastMatchesRef: the fast IQ2/IQ1 encoders give their reference
// twins' bytes, with and without an importance matrix.
func TestIQFastMatchesRef(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	const rows, nPerRow = 8, 1024
	x := iqTestInput(rng, rows, nPerRow)
	im := make([]float32, nPerRow)
	for i := range im {
		if i%13 != 0 {
			im[i] = float32(rng.ExpFloat64())
		}
	}
	for _, typ := range []Type{IQ2_XXS, IQ2_XS, IQ2_S, IQ1_S, IQ1_M} {
		tr, _ := TraitsOf(typ)
		ref := referenceTwin(typ)
		for _, imx := range [][]float32{nil, im} {
			if imx == nil && RequiresImatrix(typ) {
				continue
			}
			want := make([]byte, len(x)/qkK*tr.BlockBytes)
			got := make([]byte, len(want))
			for r := 0; r < rows; r++ {
				lo, hi := r*nPerRow, (r+1)*nPerRow
				blo, bhi := lo/qkK*tr.BlockBytes, hi/qkK*tr.BlockBytes
				ref(want[blo:bhi], x[lo:hi], nPerRow, imx)
				tr.quantize(got[blo:bhi], x[lo:hi], nPerRow, imx)
			}
			for b := 0; b < len(want)/tr.BlockBytes; b++ {
				w, g := want[b*tr.BlockBytes:(b+1)*tr.BlockBytes], got[b*tr.BlockBytes:(b+1)*tr.BlockBytes]
				if string(w) != string(g) {
					t.Errorf("%s (imatrix %v) block %d:\n got  %x\n want %x", tr.Name, imx != nil, b, g, w)
					break
				}
			}
		}
	}
}

// BenchmarkIQEncode times the IQ2/IQ1 encoders on N(0, 0.02) rows with
// bench/bench.py's fixed importance matrix (IQ2_S and IQ1_M without one,
// as bench.py runs them): the fast encoder with the assembly kernels, with
// the AVX2 ones only ("avx2"), with their generic twins ("generic"), and
// the reference twin ("ref").
// Besides wall-clock MB/s it reports cpu-MB/s, throughput per CPU-second
// of the process (the machines are shared).
func BenchmarkIQEncode(b *testing.B) {
	rng := rand.New(rand.NewSource(3))
	const rows, nPerRow = 16, 4096
	x := make([]float32, rows*nPerRow)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * 0.02)
	}
	im := make([]float32, nPerRow)
	for i := range im {
		im[i] = 0.25 * float32(1+i*7919%16)
	}
	for _, typ := range []Type{IQ2_XXS, IQ2_XS, IQ2_S, IQ1_S, IQ1_M} {
		tr, _ := TraitsOf(typ)
		imx := im
		if !RequiresImatrix(typ) {
			imx = nil
		}
		for _, variant := range []string{"", "/avx2", "/generic", "/ref"} {
			name := tr.Name + variant
			enc := tr.quantize
			if variant == "/ref" {
				enc = referenceTwin(typ)
			}
			b.Run(name, func(b *testing.B) {
				switch variant {
				case "/avx2": // the AVX2 kernels alone (the AVX-512 ones switched off)
					defer setAVX512(false)()
				case "/generic":
					defer setAsm(false)()
				}
				dst := make([]byte, len(x)/qkK*tr.BlockBytes)
				enc(dst[:tr.BlockBytes], x[:qkK], nPerRow, imx) // build the grid
				b.SetBytes(int64(4 * len(x)))
				b.ResetTimer()
				c0 := processCPUSeconds()
				for i := 0; i < b.N; i++ {
					for r := 0; r < rows; r++ {
						lo := r * nPerRow
						enc(dst[lo/qkK*tr.BlockBytes:], x[lo:lo+nPerRow], nPerRow, imx)
					}
				}
				if c := processCPUSeconds() - c0; c > 0 {
					b.ReportMetric(float64(b.N)*float64(4*len(x))/1e6/c, "cpu-MB/s")
				}
			})
		}
	}
}
