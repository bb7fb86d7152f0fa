package quant

// This file holds PyTorch's float32 mean on the CPU (x.mean() of a
// contiguous 1-D tensor), the offset bitsandbytes' CPU backend subtracts
// before double quantization. Its summation order is fixed by ATen's
// cascade sum (aten/src/ATen/native/cpu/SumKernel.cpp) and depends on two
// properties of the run: the width of the Vectorized<float> its kernel was
// compiled for (8 lanes on x86-64: the sum kernel is not built for AVX-512,
// so AVX-512 machines run the AVX2 one, and builds without AVX emulate 32-byte
// vectors) and, for 32768 values or more, torch's thread count
// (TensorIterator's two-pass reduction gives each thread a contiguous range
// and adds their sums in thread order). Checked against torch 2.11 for sizes
// from 1 to 3·10^6 and 1, 2, 3 and 8 threads (tests/test_bnb_out.py runs the
// comparison where torch is installed).
//
//	mean = f32(sum / f32(n))
//	sum  = Σ over threads, in order, of the range's sum (starting from 0)
//	range sum (vectorized_inner_sum; row_sum of the scalars when the range
//	       is shorter than a vector): with V = len/lanes whole vectors,
//	       lane l sums x[l], x[lanes+l], … (row_sum below); the sum is
//	       ((0 + tail values in order) + lane 0) + lane 1 … + lane lanes-1
//	row_sum(s) with ILP 4: four accumulators over s[4i+k] (multi_row_sum),
//	       then the leftover s[4·(len/4) …] added to the first, then
//	       acc0 + acc1 + acc2 + acc3 in that order
//	multi_row_sum: a cascade of 4 levels; level 0 adds 2^p consecutive
//	       rows, p = max(4, ceil(log2(len))/4); each time a level fills, it
//	       is added to the next, which carries when its count is a multiple
//	       of a higher power; at the end levels 1…3 are added to level 0.

// torchGrain is ATen's GRAIN_SIZE: below it a reduction runs on one thread.
const torchGrain = 32768

// TorchMeanLanes is the Vectorized<float> width of PyTorch's sum kernel on
// x86-64.
const TorchMeanLanes = 8

// TorchMeanF32 returns PyTorch's float32 mean of x as torch computes it with
// a sum kernel of lanes float lanes (TorchMeanLanes on x86-64) on threads
// threads (see the top of torchmean.go), 0 for an empty x.
func TorchMeanF32(x []float32, lanes, threads int) float32 {
	n := len(x)
	if n == 0 {
		return 0
	}
	lanes = max(lanes, 1)
	var sum float32
	if n < torchGrain || threads <= 1 {
		sum = torchInnerSum(x, lanes)
	} else {
		// at::parallel_for: min(threads, ceil(n/grain)) ranges of
		// ceil(n/ranges) values; each thread's buffer starts at 0
		parts := min(threads, (n+torchGrain-1)/torchGrain)
		chunk := (n + parts - 1) / parts
		buf := make([]float32, threads)
		for t := 0; t < parts; t++ {
			lo := t * chunk
			if lo >= n {
				break
			}
			buf[t] = 0 + torchInnerSum(x[lo:min(n, lo+chunk)], lanes)
		}
		// the final reduction over the threads' buffers
		sum = torchInnerSum(buf, lanes)
	}
	return sum / float32(n)
}

// torchInnerSum is the cascade sum of one contiguous row: vectorized_inner_sum,
// or row_sum on scalars when the row is shorter than a vector.
func torchInnerSum(x []float32, lanes int) float32 {
	if len(x) < lanes {
		return torchRowSum(x)
	}
	v := len(x) / lanes
	var final float32
	for _, t := range x[v*lanes:] {
		final += t
	}
	lane := make([]float32, v)
	for l := 0; l < lanes; l++ {
		for i := range lane {
			lane[i] = x[i*lanes+l]
		}
		final += torchRowSum(lane)
	}
	return final
}

// torchRowSum is row_sum with its ILP factor of 4.
func torchRowSum(s []float32) float32 {
	const ilp = 4
	rows := len(s) / ilp
	acc := torchMultiRowSum(s, rows)
	for _, t := range s[rows*ilp:] {
		acc[0] += t
	}
	for k := 1; k < ilp; k++ {
		acc[0] += acc[k]
	}
	return acc[0]
}

// torchMultiRowSum is multi_row_sum over rows of 4 values (s[4i+k]).
func torchMultiRowSum(s []float32, size int) [4]float32 {
	const levels = 4
	power := max(4, torchCeilLog2(size)/levels)
	step := 1 << power
	mask := step - 1
	var acc [levels][4]float32
	i := 0
	for i+step <= size {
		for j := 0; j < step; j, i = j+1, i+1 {
			r := s[4*i : 4*i+4 : 4*i+4]
			for k := range 4 {
				acc[0][k] += r[k]
			}
		}
		for j := 1; j < levels; j++ {
			for k := range 4 {
				acc[j][k] += acc[j-1][k]
				acc[j-1][k] = 0
			}
			if i&(mask<<(j*power)) != 0 {
				break
			}
		}
	}
	for ; i < size; i++ {
		for k := range 4 {
			acc[0][k] += s[4*i+k]
		}
	}
	for j := 1; j < levels; j++ {
		for k := range 4 {
			acc[0][k] += acc[j][k]
		}
	}
	return acc[0]
}

// torchCeilLog2 is ATen's utils::CeilLog2: 1 up to 2, else ceil(log2(x)).
func torchCeilLog2(x int) int {
	if x <= 2 {
		return 1
	}
	n := 0
	for v := uint64(x - 1); v != 0; v >>= 1 {
		n++
	}
	return n
}
