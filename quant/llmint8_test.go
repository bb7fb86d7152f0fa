package quant

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// int8Input makes rows of weights with the hazards of LLM.int8: zero rows,
// rows whose maximum repeats, values on exact half-integer products, tiny
// and subnormal values, and values near the float16 maximum.
func int8Input(rng *rand.Rand, rows, cols int) []float32 {
	x := make([]float32, rows*cols)
	for r := 0; r < rows; r++ {
		row := x[r*cols : (r+1)*cols]
		switch r % 6 {
		case 0: // zero row
		case 1: // normal weights
			for i := range row {
				row[i] = float32(rng.NormFloat64() * 0.02)
			}
		case 2: // max 127: every integer and half-integer is exact
			for i := range row {
				row[i] = float32(rng.IntN(255)-127) / 2
			}
			row[0] = 127
		case 3: // subnormal float16 values and one normal maximum
			for i := range row {
				row[i] = float32(rng.NormFloat64() * 1e-6)
			}
			row[cols-1] = -3e-5
		case 4: // near the float16 maximum
			for i := range row {
				row[i] = float32(max(-60000, min(60000, rng.NormFloat64()*20000)))
			}
			row[cols-1] = 65280 // the largest bfloat16 value below the float16 maximum
		default: // heavy tails
			for i := range row {
				row[i] = float32(max(-60000, min(60000, rng.NormFloat64()*math.Exp(rng.NormFloat64()*3))))
			}
		}
	}
	return x
}

func TestQuantizeInt8RowsMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, cols := range []int{1, 3, 64, 257, 4096} {
		rows := 13
		x := int8Input(rng, rows, cols)
		want, wantScb := make([]int8, len(x)), make([]float32, rows)
		quantizeInt8RowsRef(want, wantScb, x, cols)
		half := make([]uint16, len(x))
		bf := make([]uint16, len(x))
		for i, v := range x {
			half[i] = F32ToF16(v)
			bf[i] = F32ToBF16(v)
		}
		wantBF, wantBFScb := make([]int8, len(x)), make([]float32, rows)
		xbf := make([]float32, len(x))
		for i, b := range bf {
			xbf[i] = BF16ToF32(b)
		}
		quantizeInt8RowsRef(wantBF, wantBFScb, xbf, cols)
		for _, threads := range []int{1, 3} {
			for _, tc := range []struct {
				name    string
				in      Input
				q       []int8
				scb     []float32
				checkEq bool
			}{
				{"f32", F32Input(x), want, wantScb, true},
				{"f16", F16Input(half), want, wantScb, true}, // rounding to float16 is idempotent
				{"bf16", BF16Input(bf), wantBF, wantBFScb, true},
			} {
				t.Run(fmt.Sprintf("%s/cols%d/threads%d", tc.name, cols, threads), func(t *testing.T) {
					q, scb := make([]int8, len(x)), make([]float32, rows)
					if err := QuantizeInt8Rows(q, scb, tc.in, cols, Options{Threads: threads}); err != nil {
						t.Fatal(err)
					}
					sameBits32(t, "scb", scb, tc.scb)
					for i := range q {
						if q[i] != tc.q[i] {
							t.Fatalf("code %d (row %d) = %d, want %d", i, i/cols, q[i], tc.q[i])
						}
					}
				})
			}
		}
	}
}

// The rounding of exact half-integer products goes to even, as torch.round
// and __float2int_rn do.
func TestQuantizeInt8RowsTiesToEven(t *testing.T) {
	x := []float32{127, 0.5, 1.5, 2.5, -0.5, -1.5, 126.5, -126.5}
	q, scb := make([]int8, len(x)), make([]float32, 1)
	if err := QuantizeInt8Rows(q, scb, F32Input(x), len(x), Options{}); err != nil {
		t.Fatal(err)
	}
	want := []int8{127, 0, 2, 2, 0, -2, 126, -126}
	for i := range want {
		if q[i] != want[i] {
			t.Errorf("x %v -> %d, want %d", x[i], q[i], want[i])
		}
	}
	if scb[0] != 127 {
		t.Errorf("scb %v, want 127", scb[0])
	}
}

func TestQuantizeInt8RowsErrors(t *testing.T) {
	x := []float32{1, 2, 70000, 4}
	err := QuantizeInt8Rows(make([]int8, 4), make([]float32, 2), F32Input(x), 2, Options{})
	var nf *NonFiniteError
	if !errors.As(err, &nf) || nf.Index != 2 || nf.Row != 1 || nf.Column != 0 || nf.Value != 70000 {
		t.Fatalf("got %v, want a NonFiniteError for element 2 (row 1, column 0)", err)
	}
	for _, c := range []struct {
		dst, scb, cols int
		opt            Options
	}{
		{3, 2, 2, Options{}}, {4, 1, 2, Options{}}, {4, 2, 3, Options{}}, {4, 2, 0, Options{}},
		{4, 2, 2, Options{AllowNonFinite: true}}, {4, 2, 2, Options{Imatrix: []float32{1, 1}}},
	} {
		err := QuantizeInt8Rows(make([]int8, c.dst), make([]float32, c.scb), F32Input([]float32{1, 2, 3, 4}), c.cols, c.opt)
		var ae *ArgumentError
		if !errors.As(err, &ae) {
			t.Errorf("%+v: got %v, want an ArgumentError", c, err)
		}
	}
}

func TestDequantizeInt8Rows(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	x := int8Input(rng, 12, 33)
	q, scb := make([]int8, len(x)), make([]float32, 12)
	if err := QuantizeInt8Rows(q, scb, F32Input(x), 33, Options{}); err != nil {
		t.Fatal(err)
	}
	y := make([]float32, len(x))
	if err := DequantizeInt8Rows(F32Output(y), q, scb, 33, Options{Threads: 2}); err != nil {
		t.Fatal(err)
	}
	for i := range y {
		p := float32(q[i]) * scb[i/33]
		want := p * float32(1.0/127.0)
		if math.Float32bits(y[i]) != math.Float32bits(want) {
			t.Fatalf("element %d: %v, want %v", i, y[i], want)
		}
		if math.Abs(float64(y[i]-x[i])) > float64(scb[i/33])/127*0.5000001+1e-7 && scb[i/33] < 65504 {
			t.Fatalf("element %d: %v decodes to %v, more than half a step away", i, x[i], y[i])
		}
	}
}

// Absmax4Bit and Absmax4BitCPU give exactly the absmax the quantizers store.
func TestAbsmax4BitMatchesQuantizers(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{1, 63, 64, 65, 1000, 70000} {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.NormFloat64() * 0.02)
			if (i/64)%7 == 3 {
				x[i] = 0 // zero blocks
			}
		}
		if n > 64 {
			for i := n - n%64; i < n; i++ {
				x[i] = 0 // a zero partial block
			}
		}
		bf := make([]uint16, n)
		for i, v := range x {
			bf[i] = F32ToBF16(v)
		}
		for _, in := range []Input{F32Input(x), BF16Input(bf)} {
			for _, bs := range []int{32, 64, 4096} {
				nb := numBlocks(n, bs)
				for _, cpu := range []bool{false, true} {
					want, got := make([]float32, nb), make([]float32, nb)
					packed := make([]uint8, (n+1)/2)
					var err error
					if cpu {
						err = Quantize4BitCPU(packed, want, in, NF4, bs, Options{})
					} else {
						err = Quantize4Bit(packed, want, in, FP4, bs, Options{})
					}
					if err != nil {
						t.Fatal(err)
					}
					if cpu {
						err = Absmax4BitCPU(got, in, bs, Options{Threads: 3})
					} else {
						err = Absmax4Bit(got, in, bs, Options{Threads: 3})
					}
					if err != nil {
						t.Fatal(err)
					}
					sameBits32(t, fmt.Sprintf("n %d bs %d cpu %v absmax", n, bs, cpu), got, want)
				}
			}
		}
	}
	if err := Absmax4BitCPU(make([]float32, 1), F32Input([]float32{1}), 64, Options{AllowNonFinite: true}); err == nil {
		t.Error("Absmax4BitCPU accepted AllowNonFinite")
	}
	var nf *BlockwiseNonFiniteError
	if err := Absmax4Bit(make([]float32, 1), F32Input([]float32{1, float32(math.NaN())}), 64, Options{}); !errors.As(err, &nf) || nf.Index != 1 {
		t.Errorf("NaN: got %v", err)
	}
	if err := Absmax4Bit(make([]float32, 2), F32Input([]float32{1}), 64, Options{}); err == nil {
		t.Error("wrong absmax length accepted")
	}
}

func TestInt8RowScalesMatchQuantizeInt8Rows(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, cols := range []int{1, 5, 300} {
		x := int8Input(rng, 12, cols)
		want := make([]float32, 12)
		if err := QuantizeInt8Rows(make([]int8, len(x)), want, F32Input(x), cols, Options{}); err != nil {
			t.Fatal(err)
		}
		got := make([]float32, 12)
		if err := Int8RowScales(got, F32Input(x), cols, Options{Threads: 2}); err != nil {
			t.Fatal(err)
		}
		sameBits32(t, "scb", got, want)
	}
	x := []float32{1, 2, 3, -65520}
	var nf *NonFiniteError
	if err := Int8RowScales(make([]float32, 2), F32Input(x), 2, Options{}); !errors.As(err, &nf) || nf.Index != 3 {
		t.Errorf("overflow: %v, want a NonFiniteError for element 3", err)
	}
}

func TestAddDiffMatchesQuantizeStats(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	x := make([]float32, 4096+37)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	var want ErrorStats
	out := make([]byte, len(x)*2)
	if _, err := Quantize(F16, out, F32Input(x), len(x), Options{Stats: &want, Threads: 1}); err != nil {
		t.Fatal(err)
	}
	y := make([]float32, len(x))
	if err := Dequantize(F16, y, out, Options{}); err != nil {
		t.Fatal(err)
	}
	var got ErrorStats
	got.AddDiff(x, y)
	if got != want {
		t.Errorf("AddDiff %+v, Quantize's statistics %+v", got, want)
	}
}
