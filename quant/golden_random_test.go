package quant

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"math/bits"
	"os"
	"testing"
)

// testdata/ggml-random-golden.json holds SHA-256 hashes of what llama.cpp's
// own libggml-base.so produced on pseudo-random inputs (made by
// tests/golden/gen_ggml_random.py). The inputs are not stored: goldenBits
// regenerates them with the generator's integer-only algorithms, which must
// stay in step with element_bits / imatrix_bits / random_bytes there.

type goldenCase struct {
	Type          string  `json:"type"`
	Dist          string  `json:"dist"`
	Rows          int     `json:"rows"`
	NPerRow       int     `json:"n_per_row"`
	Seed          uint64  `json:"seed"`
	ImatrixSeed   *uint64 `json:"imatrix_seed"`
	InputSHA256   string  `json:"input_sha256"`
	SHA256        string  `json:"sha256"`
	FirstBlock    string  `json:"first_block"`
	DequantSHA256 string  `json:"dequant_sha256"`
	Aborts        bool    `json:"aborts"` // ggml's encoder aborted the process
}

type goldenDequantCase struct {
	Type          string `json:"type"`
	Blocks        int    `json:"blocks"`
	Seed          uint64 `json:"seed"`
	DequantSHA256 string `json:"dequant_sha256"`
}

type goldenFile struct {
	Reference    map[string]string   `json:"reference"`
	Cases        []goldenCase        `json:"cases"`
	DequantCases []goldenDequantCase `json:"dequant_cases"`
	// Log2fFloor holds, for k = FromK, FromK+1, …, the bits of the smallest
	// positive float32 x whose floorf(log2f(x)) is ≥ k in the C library
	// llama.cpp calls (MXFP4's block exponent; see floorLog2f).
	Log2fFloor struct {
		FromK int      `json:"from_k"`
		Bits  []string `json:"bits"`
	} `json:"log2f_floor_thresholds"`
}

const golden64 = 0x9E3779B97F4A7C15

// splitmix64 returns output k (k ≥ 1) of splitmix64 started at seed.
func splitmix64(seed, k uint64) uint64 {
	return mix64(seed + (k-1)*golden64)
}

// mix64 is one splitmix64 step: advance by the golden gamma, then finalize.
func mix64(v uint64) uint64 {
	z := v + golden64
	z = (z ^ z>>30) * 0xBF58476D1CE4E5B9
	z = (z ^ z>>27) * 0x94D049BB133111EB
	return z ^ z>>31
}

// scaled is float32(a)·2^shift, exact for |a| < 2^24 and normal results.
func scaled(a int64, shift int) float32 {
	return float32(a) * float32(math.Ldexp(1, shift))
}

// goldenBits regenerates a case's input (see element_bits in the generator).
func goldenBits(dist string, seed uint64, rows, nPerRow int) []float32 {
	n := rows * nPerRow
	x := make([]float32, n)
	var kinds []uint64
	if dist == "nearzero" {
		kinds = make([]uint64, n/16)
		for g := range kinds {
			kinds[g] = mix64(seed+uint64(g)) % 8
		}
	}
	var groupKind []uint64
	switch dist {
	case "tiny":
		groupKind = make([]uint64, n/32)
		for g := range groupKind {
			groupKind[g] = mix64(seed+uint64(g)) % 4
		}
	case "edges":
		groupKind = make([]uint64, n/16)
		for g := range groupKind {
			groupKind[g] = 107 + mix64(seed^uint64(g))%41
		}
	}
	var advKind, advSpike []int
	if dist == "adversarial" {
		advKind, advSpike = make([]int, n/256), make([]int, n/256)
		for g := range advKind {
			advKind[g] = int(mix64(seed+31*uint64(g)) % 8)
			advSpike[g] = int(mix64(seed^(uint64(g)+0x5A5A)) % 256)
		}
	}
	var colHot []bool
	if dist == "outliers" {
		colHot = make([]bool, nPerRow)
		for c := range colHot {
			colHot[c] = mix64(seed^uint64(c))%61 == 0
		}
	}
	bellOf := func(r uint64) int64 {
		return int64(r&0xFFFF) + int64(r>>16&0xFFFF) + int64(r>>32&0xFFFF) - 98302
	}
	for i := 0; i < n; i++ {
		r := splitmix64(seed, uint64(i)+1)
		bell := bellOf(r)
		flags := int64(r >> 48)
		row, col := i/nPerRow, i%nPerRow
		switch dist {
		case "normal":
			x[i] = scaled(bell, -24+row%5)
		case "heavy":
			field := r>>24&(1<<40-1) | 1<<40
			e := uint64(115 + bits.TrailingZeros64(field))
			x[i] = math.Float32frombits(uint32(r>>23&1)<<31 | uint32(e)<<23 | uint32(r&0x7FFFFF))
		case "outliers":
			v := scaled(bell, -22)
			if colHot[col] {
				v *= 512
			}
			if flags%1024 == 7 {
				v *= 8192
			}
			x[i] = v
		case "nearzero":
			g := i / 16
			switch kinds[g] {
			case 0:
			case 1:
				x[i] = math.Float32frombits(0x80000000)
			case 2:
				x[i] = scaled(bell, -80)
			case 3:
				x[i] = math.Float32frombits(uint32(r & 0x807FFFFF))
			case 4:
				x[i] = scaled(bell, -66)
			case 5:
				x[i] = scaled(bellOf(splitmix64(seed, uint64(16*g)+1)), -20)
			case 6:
				if flags%16 == 0 {
					x[i] = scaled(bell, -20)
				}
			case 7:
				x[i] = scaled(bell, -20)
			}
		case "ints":
			if flags%2 == 0 {
				x[i] = float32(int64(r&0xFFFF)%17 - 8)
			} else {
				x[i] = float32(int64(r>>16&0xFFFF)%33-16) * 0.5
			}
		case "wide":
			e := 67 + (r>>24)%81
			x[i] = math.Float32frombits(uint32(r&0x807FFFFF) | uint32(e)<<23)
		case "tiny":
			sub := uint32(r & 0x807FFFFF)
			switch groupKind[i/32] {
			case 1:
				if flags%4 == 0 {
					sub = 0
				}
			case 2:
				sub |= uint32(1+(r>>24)%8) << 23
			case 3:
				sub |= 0x00400000
			}
			x[i] = math.Float32frombits(sub)
		case "edges":
			e := int64(groupKind[i/16])
			v := e<<23 - (flags>>2)%6
			if flags%4 != 0 {
				v = (e-1-(flags>>4)%3)<<23 | int64(r&0x7FFFFF)
			}
			x[i] = math.Float32frombits(uint32(v) | uint32(r>>63)<<31)
		case "adversarial":
			g, j := i/256, i%256
			x[i] = scaled(bell, -20)
			switch advKind[g] {
			case 0:
				x[i] = 0
			case 1:
				if j == advSpike[g] {
					x[i] = 1 << 40
					if flags%2 != 0 {
						x[i] = -(1 << 40)
					}
				}
			case 2:
				x[i] = scaled(bellOf(splitmix64(seed, uint64(256*g)+1)), -20)
			case 3:
				x[i] = scaled(bell, -100)
			case 4:
				x[i] = scaled(-max(bell, -bell), -20)
			case 5:
				if j < 128 {
					x[i] = 0
				}
			case 6:
				if j/32%2 == 1 {
					x[i] = 0
				}
			case 7:
				x[i] = math.Float32frombits(uint32(r & 0x807FFFFF))
			}
		case "huge":
			e := 230 + (r>>24)%25
			x[i] = math.Float32frombits(uint32(r&0x807FFFFF) | uint32(e)<<23)
		default:
			panic("unknown distribution " + dist)
		}
	}
	return x
}

// goldenImatrix regenerates imatrix_bits.
func goldenImatrix(seed uint64, n int) []float32 {
	w := make([]float32, n)
	for i := range w {
		r := splitmix64(seed, uint64(i)+1)
		if (r>>40)%50 == 0 {
			continue
		}
		e := 123 + (r>>23)%9
		w[i] = math.Float32frombits(uint32(r&0x7FFFFF) | uint32(e)<<23)
	}
	return w
}

// goldenBytes regenerates random_bytes.
func goldenBytes(seed uint64, n int) []byte {
	b := make([]byte, (n+7)/8*8)
	for k := 0; k < len(b)/8; k++ {
		binary.LittleEndian.PutUint64(b[8*k:], splitmix64(seed, uint64(k)+1))
	}
	return b[:n]
}

// f32Hash is SHA-256 of the float32 bits, little-endian, NaNs canonical.
func f32Hash(x []float32) string {
	b := make([]byte, 4*len(x))
	for i, v := range x {
		u := math.Float32bits(v)
		if v != v {
			u = 0x7FC00000
		}
		binary.LittleEndian.PutUint32(b[4*i:], u)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func loadGolden(t *testing.T) goldenFile {
	t.Helper()
	raw, err := os.ReadFile("testdata/ggml-random-golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var gf goldenFile
	if err := json.Unmarshal(raw, &gf); err != nil {
		t.Fatal(err)
	}
	return gf
}

// TestGoldenInputsMatchGenerator pins the PRNG against values computed by
// the generator script (by hand in Python, spot checks).
func TestGoldenPRNG(t *testing.T) {
	// splitmix64 reference outputs for seed 0 (the algorithm's published
	// test values: 0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F)
	for k, want := range []uint64{0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F} {
		if got := splitmix64(0, uint64(k)+1); got != want {
			t.Errorf("splitmix64(0) output %d = %#x, want %#x", k+1, got, want)
		}
	}
}

// TestGoldenRandom checks every case of the golden file: Wick's bytes must
// hash like llama.cpp's (for 1 and 3 threads, and for the reference twin),
// and Wick's decoding of them must hash like llama.cpp's decoding.
func TestGoldenRandom(t *testing.T) {
	gf := loadGolden(t)
	if len(gf.Cases) == 0 {
		t.Fatal("no cases")
	}
	perType := map[string]int{}
	for _, c := range gf.Cases {
		tr, ok := Lookup(c.Type)
		if !ok || !tr.CanQuantize() {
			t.Errorf("%s: Wick cannot quantize it", c.Type)
			continue
		}
		x := goldenBits(c.Dist, c.Seed, c.Rows, c.NPerRow)
		var im []float32
		if c.ImatrixSeed != nil {
			im = goldenImatrix(*c.ImatrixSeed, c.NPerRow)
		}
		name := c.Type + "/" + c.Dist
		if im != nil {
			name += "/imatrix"
		}
		if h := f32Hash(append(append([]float32(nil), x...), im...)); h != c.InputSHA256 {
			t.Errorf("%s: regenerated input differs from the generator's (PRNG out of step)", name)
			continue
		}
		if c.Aborts {
			// llama.cpp aborted the process on this input: Wick refuses it
			_, err := Quantize(tr.Type, make([]byte, len(x)/tr.BlockSize*tr.BlockBytes), F32Input(x), c.NPerRow, Options{Imatrix: im})
			var ae *AbortError
			if !errors.As(err, &ae) {
				t.Errorf("%s: ggml aborts on it; Wick returned %v, want an *AbortError", name, err)
			}
			perType[c.Type]++
			continue
		}
		var first []byte
		for _, threads := range []int{1, 3} {
			got := mustQuantize(t, tr.Type, F32Input(x), c.NPerRow, Options{Threads: threads, Imatrix: im})
			if hexSHA(got) != c.SHA256 {
				if hex.EncodeToString(got[:tr.BlockBytes]) != c.FirstBlock {
					t.Errorf("%s (threads %d): first block\n got  %x\n want %s", name, threads, got[:tr.BlockBytes], c.FirstBlock)
				} else {
					t.Errorf("%s (threads %d): hash differs from llama.cpp's (first block equal)", name, threads)
				}
			}
			first = got
		}
		if ref := referenceTwin(tr.Type); ref != nil {
			got := make([]byte, len(first))
			ref(got, x, c.NPerRow, im)
			if hexSHA(got) != c.SHA256 {
				t.Errorf("%s: reference twin's hash differs from llama.cpp's", name)
			}
		}
		y := make([]float32, len(x))
		if err := Dequantize(tr.Type, y, first, Options{}); err != nil {
			t.Fatal(err)
		}
		if f32Hash(y) != c.DequantSHA256 {
			t.Errorf("%s: dequantized hash differs from llama.cpp's", name)
		}
		perType[c.Type]++
	}
	for _, c := range gf.DequantCases {
		tr, ok := Lookup(c.Type)
		if !ok || !tr.CanDequantize() {
			t.Errorf("%s: Wick cannot dequantize it", c.Type)
			continue
		}
		y := make([]float32, c.Blocks*tr.BlockSize)
		if err := Dequantize(tr.Type, y, goldenBytes(c.Seed, c.Blocks*tr.BlockBytes), Options{}); err != nil {
			t.Fatal(err)
		}
		if f32Hash(y) != c.DequantSHA256 {
			t.Errorf("%s: dequantization of random bytes differs from llama.cpp's", c.Type)
		}
	}
	t.Logf("reference %v; quantize cases per type %v; %d dequantize cases", gf.Reference, perType, len(gf.DequantCases))
}

func hexSHA(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestGoldenRandomCoverage: the golden file covers every type Wick can
// quantize, each with and without an importance matrix (with one only for the
// types ggml refuses without, RequiresImatrix), and every type Wick
// can decode.
func TestGoldenRandomCoverage(t *testing.T) {
	gf := loadGolden(t)
	type key struct {
		typ string
		im  bool
	}
	have := map[key]bool{}
	for _, c := range gf.Cases {
		have[key{c.Type, c.ImatrixSeed != nil}] = true
	}
	deq := map[string]bool{}
	for _, c := range gf.DequantCases {
		deq[c.Type] = true
	}
	for _, tr := range Types() {
		if tr.Float {
			continue // F32/F16/BF16 are checked exhaustively elsewhere
		}
		if tr.CanQuantize() && (!have[key{tr.Name, false}] && !RequiresImatrix(tr.Type) || !have[key{tr.Name, true}]) {
			t.Errorf("%s: missing from the golden file (with and without imatrix)", tr.Name)
		}
		if tr.CanDequantize() && !deq[tr.Name] {
			t.Errorf("%s: no random-bytes dequantize case", tr.Name)
		}
	}
}

// referenceTwin returns the plain reference encoder of t, if it has one.
func referenceTwin(t Type) quantizeFunc {
	switch t {
	case Q8_0:
		return quantizeQ8_0Ref
	case Q4_0:
		return quantizeQ4_0Ref
	case Q4_1:
		return quantizeQ4_1Ref
	case Q5_0:
		return quantizeQ5_0Ref
	case Q5_1:
		return quantizeQ5_1Ref
	case Q2_K:
		return quantizeQ2_KRef
	case Q3_K:
		return quantizeQ3_KRef
	case Q4_K:
		return quantizeQ4_KRef
	case Q5_K:
		return quantizeQ5_KRef
	case Q6_K:
		return quantizeQ6_KRef
	case IQ4_NL:
		return quantizeIQ4_NLRef
	case TQ1_0:
		return quantizeTQ1_0Ref
	case TQ2_0:
		return quantizeTQ2_0Ref
	case Q1_0:
		return quantizeQ1_0Ref
	case Q2_0:
		return quantizeQ2_0Ref
	case MXFP4:
		return quantizeMXFP4Ref
	case NVFP4:
		return quantizeNVFP4Ref
	case IQ4_XS:
		return quantizeIQ4_XSRef
	case IQ3_XXS:
		return quantizeIQ3_XXSRef
	case IQ3_S:
		return quantizeIQ3_SRef
	case IQ2_XXS:
		return quantizeIQ2_XXSRef
	case IQ2_XS:
		return quantizeIQ2_XSRef
	case IQ2_S:
		return quantizeIQ2_SRef
	case IQ1_S:
		return quantizeIQ1_SRef
	case IQ1_M:
		return quantizeIQ1_MRef
	}
	return nil
}
