package quant

import (
	"sort"
	"sync"
)

// This file holds the optional "bitsandbytes CPU" rules: what bitsandbytes
// 0.50 computes when it quantizes on the CPU of an x86-64 machine (spec
// blockwise.md §2.6, §3.8). They differ from the CUDA rules Wick follows by
// default, so use them only to reproduce states made on a CPU.
//
// 8-bit (the native CPU kernel): absmax = max |x| (a zero block gets codes
// 0); r = f32(1/absmax); x_n = f32(x·r) clamped to [-1, 1]; the code is read
// from a table of 65536 grid points,
//
//	index = trunc(fma32(f32(f32(x_n + 1) · 0.5), 65535, 0.5))
//	lut[i] = the first k with f32 midpoint m_k ≥ f32(-1 + f32(2i/65535)), else 255
//
// an approximation of the nearest code that differs from it for about 0.2 %
// of the elements (an exact 0.0 in a non-zero block gets the code of grid
// point 32768, 1.5e-5, not the zero code). Wick fuses the last multiply-add,
// as GCC contracts it in bitsandbytes' x86-64 build (compiled with FMA
// enabled); the goldens agree with the fused and the unfused form alike,
// which differ only for values within an ulp of a grid boundary.
// bitsandbytes built for ARM (NEON) computes (x_n+1)·32767.5 + 0.5 and can
// differ in such rare elements too.
//
// 4-bit (PyTorch's default path, which bitsandbytes uses for quantize_4bit
// on CPU): am = max(absmax, f32(1e-38)); in full blocks x_n = f32(x·f32(1/am))
// and the stored absmax is the unclamped one; in a partial last block
// x_n = f32(x/am) and the stored absmax is am; x_n is clamped to [-1, 1];
// the code is the entry of the table sorted by value (FP4: stable sort, so
// code 0000 before 1000, both +0.0 there) at the position that counts the
// float32 midpoints strictly below x_n. Zero blocks therefore get NF4 code
// 0111, tiny positive values FP4 code 1000 and tiny negative ones 0000 (the
// opposite of CUDA). Odd n pads with the code of 0.0.
//
// Double quantization is the same as on CUDA except that its 8-bit step uses
// the CPU rules (QuantizeNestedCPU), and that bitsandbytes' CPU offset comes
// from PyTorch's vectorized float32 mean. Dequantization is the same formula
// on every backend, except for the sign of FP4 code 1000 (Dequantize4BitCPU):
// +0.0 on CPUs with AVX-512F (every block size) and wherever bitsandbytes
// falls back to PyTorch, -0.0 in its plain CPU loop as on CUDA.
//
// The CPU rules are defined for finite input only: non-finite values are
// always rejected.

// cpuTinyAbsmax is f32(1e-38), the floor PyTorch's path clamps absmax to
// before dividing (a subnormal float32).
const cpuTinyAbsmax = float32(1e-38)

// cpuGridIndex maps a normalized value to the 65536-point grid of the CPU
// 8-bit kernel. The product of a float32 t ∈ [0, 1] and 65535 plus 0.5 is
// exact in float64 whenever the result can reach 1, so one rounding to
// float32 is the fused multiply-add.
func cpuGridIndex(xn float32) uint16 {
	xn = min(max(xn, -1), 1)
	t := (xn + 1) * 0.5
	return uint16(float32(float64(float64(t)*65535) + 0.5)) // exact product: fusing would change nothing, but stays forbidden
}

// buildCPULUT is the CPU kernel's grid table for code.
func buildCPULUT(code *[256]float32) *[1 << 16]uint8 {
	var mid [255]float32
	for k := range mid {
		mid[k] = 0.5 * (code[k] + code[k+1])
	}
	lut := new([1 << 16]uint8)
	k := 0
	for i := range lut {
		g := -1 + float32(2*i)/65535
		for k < 255 && mid[k] < g {
			k++
		}
		lut[i] = uint8(k)
	}
	return lut
}

var cpuLUTCache tableCache[[1 << 16]uint8]

func cpuLUT(code *[256]float32) *[1 << 16]uint8 {
	if lut := cpuLUTCache.get(code); lut != nil {
		return lut
	}
	lut := buildCPULUT(code)
	cpuLUTCache.put(code, lut)
	return lut
}

func checkFiniteOnly(opt Options) error {
	if opt.AllowNonFinite {
		return argErr("allow_non_finite", "is set; bitsandbytes' CPU rules are defined for finite input only")
	}
	return nil
}

// QuantizeBlockwiseCPU is QuantizeBlockwise with the rules of bitsandbytes'
// CPU kernel (see the top of bnbcpu.go). blocksize may be any positive value,
// as on bitsandbytes' CPU backend. Non-finite input is always an error and
// opt.AllowNonFinite must not be set.
func QuantizeBlockwiseCPU(codes []uint8, absmax []float32, src Input, code *[256]float32, blocksize int, opt Options) error {
	if blocksize <= 0 {
		return argErr("blocksize", "is %d; expected a positive block size", blocksize)
	}
	if err := checkFiniteOnly(opt); err != nil {
		return err
	}
	code, err := blockwiseArgs(codes, absmax, src.Len(), code, blocksize, opt)
	if err != nil || src.Len() == 0 {
		return err
	}
	lut := cpuLUT(code)
	return quantizeBlocks(src, absmax, blocksize, opt, "8-bit block-wise", false, func(lo, hi int, x []float32, s blockScale) {
		out := codes[lo:hi]
		if s.absmax == 0 {
			fillBytes(out, 0)
			return
		}
		for i, v := range x {
			out[i] = lut[cpuGridIndex(v*s.r)]
		}
	})
}

// cpu4 is the PyTorch-path rule of one 4-bit type.
type cpu4 struct {
	order  [16]uint8   // codes by increasing value (stable)
	bounds [15]float32 // f32 midpoints of neighbours in that order
	once   sync.Once
	dec    *decider
}

// cpu4s holds the CPU rule of each 4-bit type, by type.
var cpu4s = func() (c [len(fourBitTypes)]*cpu4) {
	for _, t := range FourBitTypes() {
		c[t] = newCPU4(t)
	}
	return c
}()

func newCPU4(t FourBitType) *cpu4 {
	table := t.QuantMap()
	c := &cpu4{}
	idx := make([]int, 16)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return table[idx[a]] < table[idx[b]] })
	for i, v := range idx {
		c.order[i] = uint8(v)
	}
	for k := range c.bounds {
		c.bounds[k] = (table[c.order[k]] + table[c.order[k+1]]) / 2
	}
	return c
}

func (t FourBitType) cpu() *cpu4 { return cpu4s[t] }

// rule is torch.bucketize(x, bounds) mapped back through the sort: the
// count of midpoints strictly below x selects the code (ties go to the lower
// value). Clamping x to [-1, 1] first changes nothing for finite x.
func (c *cpu4) rule(x float32) uint8 {
	k := 0
	for _, m := range c.bounds {
		if m < x {
			k++
		}
	}
	return c.order[k]
}

func (c *cpu4) decider() *decider {
	c.once.Do(func() { c.dec = newDecider(c.rule, c.order[:]) })
	return c.dec
}

// Quantize4BitCPU is Quantize4Bit with the rules bitsandbytes uses on CPU
// (PyTorch's default path; see the top of bnbcpu.go). Non-finite input is
// always an error and opt.AllowNonFinite must not be set.
func Quantize4BitCPU(packed []uint8, absmax []float32, src Input, typ FourBitType, blocksize int, opt Options) error {
	if err := checkFiniteOnly(opt); err != nil {
		return err
	}
	if err := fourBitArgs(packed, absmax, src.Len(), typ, blocksize, opt); err != nil || src.Len() == 0 {
		return err
	}
	c := typ.cpu()
	dec := c.decider()
	return quantizeBlocks(src, absmax, blocksize, opt, typ.String(), false, func(lo, hi int, x []float32, s blockScale) {
		am := max(s.absmax, cpuTinyAbsmax)
		out := packed[lo/2 : (hi+1)/2]
		if hi-lo == blocksize {
			r := 1 / am
			if dec != nil {
				dec.encode4(out, x, r)
			} else {
				encode4Ref(out, x, r, c.rule)
			}
		} else {
			absmax[lo/blocksize] = am // PyTorch stores the clamped maximum here
			for i, v := range x {
				code := c.rule(v / am)
				if i%2 == 0 {
					out[i/2] = code << 4
				} else {
					out[i/2] |= code
				}
			}
		}
		if len(x)%2 == 1 {
			out[len(out)-1] |= c.rule(0) // PyTorch pads the normalized values with 0
		}
	})
}

// quantize4BitCPURef is the plain reference of Quantize4BitCPU for float32
// input: the PyTorch expressions, element by element.
func quantize4BitCPURef(packed []uint8, absmax []float32, x []float32, typ FourBitType, blocksize int) {
	c := typ.cpu()
	n := len(x)
	full := n - n%blocksize
	xn := make([]float32, n+n%2)
	for b := 0; b*blocksize < n; b++ {
		lo, hi := b*blocksize, min((b+1)*blocksize, n)
		var a float32
		for _, v := range x[lo:hi] {
			a = max(a, abs32(v))
		}
		am := max(a, cpuTinyAbsmax)
		if lo < full {
			absmax[b] = a
			r := 1 / am
			for i := lo; i < hi; i++ {
				xn[i] = min(max(x[i]*r, -1), 1)
			}
		} else {
			absmax[b] = am
			for i := lo; i < hi; i++ {
				xn[i] = min(max(x[i]/am, -1), 1)
			}
		}
	}
	for j := range packed {
		packed[j] = c.rule(xn[2*j])<<4 | c.rule(xn[2*j+1])
	}
}

// QuantizeNestedCPU is QuantizeNested with the CPU 8-bit rules for the
// centered absmax values, as bitsandbytes double-quantizes on CPU.
func QuantizeNestedCPU(codes []uint8, nestedAbsmax []float32, absmax []float32, offset float32, nestedBlocksize int, opt Options) error {
	if nestedBlocksize <= 0 {
		return argErr("nested_blocksize", "is %d; expected a positive block size", nestedBlocksize)
	}
	if err := checkFiniteOnly(opt); err != nil {
		return err
	}
	centered, err := centerAbsmax(codes, nestedAbsmax, absmax, offset, nestedBlocksize, opt)
	if err != nil {
		return err
	}
	opt.Progress = nil
	return QuantizeBlockwiseCPU(codes, nestedAbsmax, F32Input(centered), nil, nestedBlocksize, opt)
}
