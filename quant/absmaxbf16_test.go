package quant

import (
	"math"
	"math/rand/v2"
	"testing"
)

// BlockAbsmaxBF16 against its reference block by block and against
// Absmax4Bit on the same bfloat16 input, with and without the vector
// kernel: random values, every bit pattern, ±0, subnormals, the largest
// finite values, and NaN or ±Inf anywhere (reported, never written as a
// finite absmax).
func TestBlockAbsmaxBF16(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	check := func(name string, bits []uint16, bs int) {
		t.Helper()
		n := (len(bits) + bs - 1) / bs
		got := make([]float32, n)
		ok, err := BlockAbsmaxBF16(got, bits, bs)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		finite := true
		for b := 0; b < n; b++ {
			want, f := absmaxBF16Ref(bits[b*bs : min(len(bits), (b+1)*bs)])
			finite = finite && f
			if f && ok && got[b] != want {
				t.Fatalf("%s: block %d: %v, reference %v", name, b, got[b], want)
			}
		}
		if ok != finite {
			t.Fatalf("%s: reported finite=%v, the reference %v", name, ok, finite)
		}
		a4 := make([]float32, n)
		err = Absmax4Bit(a4, BF16Input(bits), bs, Options{Threads: 1})
		if (err == nil) != ok {
			t.Fatalf("%s: Absmax4Bit error %v, BlockAbsmaxBF16 ok=%v", name, err, ok)
		}
		if ok {
			for b := range a4 {
				if a4[b] != got[b] {
					t.Fatalf("%s: block %d: %v, Absmax4Bit %v", name, b, got[b], a4[b])
				}
			}
		}
	}
	for _, asm := range []bool{true, false} {
		restore := setAsm(asm)
		if done, _ := blockAbsmaxBF16Vec(make([]float32, 2), make([]uint16, 128), 64); (done == 2) != asmInstalled() {
			t.Fatalf("the vector kernel did %d blocks with assembly installed=%v", done, asmInstalled())
		}
		for _, bs := range blockSizes4 {
			for _, n := range []int{0, 1, 31, bs - 1, bs, bs + 1, 3*bs + 17, 8 * bs} {
				bits := make([]uint16, n)
				for i := range bits {
					bits[i] = uint16(rng.Uint32()) % 0x7F80 // finite, either sign
					if rng.IntN(2) == 0 {
						bits[i] |= 0x8000
					}
				}
				check("random", bits, bs)
				for _, v := range []uint16{0x0000, 0x8000, 0x0001, 0x807F, 0x7F7F, 0xFF7F, 0x7F80, 0xFF80, 0x7FC0, 0xFFFF, 0x7F81} {
					if n == 0 {
						break
					}
					for _, at := range []int{0, n / 2, n - 1} {
						b := append([]uint16(nil), bits...)
						b[at] = v
						check("special", b, bs)
					}
					check("constant", fill16(n, v), bs)
				}
			}
		}
		// every bit pattern, in every position of a block of 32 and 4096
		all := make([]uint16, 1<<16)
		for i := range all {
			all[i] = uint16(i)
		}
		rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
		for _, bs := range []int{32, 4096} {
			finite := make([]uint16, 0, len(all))
			for _, v := range all {
				if v&0x7FFF < 0x7F80 {
					finite = append(finite, v)
				}
			}
			check("every finite pattern", finite, bs)
			check("every pattern", all, bs)
		}
		restore()
	}
	if _, err := BlockAbsmaxBF16(make([]float32, 1), make([]uint16, 64), 48); err == nil {
		t.Error("blocksize 48 accepted")
	}
	if _, err := BlockAbsmaxBF16(make([]float32, 1), make([]uint16, 65), 64); err == nil {
		t.Error("a short absmax accepted")
	}
}

func fill16(n int, v uint16) []uint16 {
	b := make([]uint16, n)
	for i := range b {
		b[i] = v
	}
	return b
}

// blockMaxAbsBits (vector kernel and Go twin) against maxAbsBits block by
// block: random values, every bfloat16 pattern widened, NaN and ±Inf.
func TestBlockMaxAbsBits(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, asm := range []bool{true, false} {
		restore := setAsm(asm)
		for _, bs := range blockSizes4 {
			blocks := max(3, (1<<16)/bs)
			x := make([]float32, blocks*bs)
			for i := range x {
				if i < 1<<16 {
					x[i] = math.Float32frombits(uint32(i) << 16)
				} else {
					x[i] = float32(rng.NormFloat64())
				}
			}
			rng.Shuffle(len(x), func(i, j int) { x[i], x[j] = x[j], x[i] })
			got := make([]uint32, blocks)
			blockMaxAbsBits(got, x, bs)
			for b := range got {
				if want := maxAbsBits(x[b*bs : (b+1)*bs]); got[b] != want {
					t.Fatalf("asm %v blocksize %d block %d: %#x, maxAbsBits %#x", asm, bs, b, got[b], want)
				}
			}
		}
		restore()
	}
}
