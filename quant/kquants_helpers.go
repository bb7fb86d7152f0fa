package quant

import "math"

// This file holds the scalar helpers shared by the K-quant, legacy-imatrix
// and IQ4_NL kernels, transcribed from spec ggml-quants.md §0.3 and §4
// (ggml's nearest_int, make_qx_quants, make_q3_quants, make_qkx2_quants,
// make_qkx3_quants and make_qp_quants).
//
// Bit-exactness rules followed everywhere below (spec §0.2):
//   - every product that feeds an addition or subtraction is written
//     float32(a*b), which forbids the compiler to fuse it into an FMA;
//   - sums are accumulated one element at a time, in index order;
//   - C's MAX/MIN macros on floats are written out as comparisons (Go's
//     builtin min/max differ for NaN and signed zeros);
//   - float→int conversions use x86 truncation semantics (truncToInt32).

// groupMaxEps is ggml's GROUP_MAX_EPS: a group whose largest magnitude is
// below it is treated as all zero.
const groupMaxEps = float32(1e-15)

// nearestInt is ggml's nearest_int: round half to even for |f| < 2^22, by
// adding 1.5·2^23 in float32 and reading the low mantissa bits. Callers must
// pass an already rounded value: nearestInt(float32(a*b)), never
// nearestInt(a*b), or the addition inside may be fused with the product.
func nearestInt(f float32) int32 {
	v := f + 12582912.0
	return int32(math.Float32bits(v)&0x007FFFFF) - 0x00400000
}

// truncToInt32 converts f to int32 the way x86's CVTTSS2SI does, which is
// what C's float→integer casts compile to on the reference platform: toward
// zero, with NaN and out-of-range values giving math.MinInt32. (Go's own
// conversion does the same on amd64 but saturates on arm64.)
func truncToInt32(f float32) int32 {
	if f >= -2147483648 && f < 2147483648 {
		return int32(f)
	}
	return math.MinInt32
}

// sqrt32 is C's sqrtf (correctly rounded, like the float64 square root of a
// float32 rounded back).
func sqrt32(f float32) float32 { return float32(math.Sqrt(float64(f))) }

// cmax is C's MAX(a, b) macro on floats: a > b ? a : b.
func cmax(a, b float32) float32 {
	if a > b {
		return a
	}
	return b
}

// clampI32 is MAX(lo, MIN(hi, v)).
func clampI32(v, lo, hi int32) int32 {
	if v > hi {
		v = hi
	}
	if v < lo {
		v = lo
	}
	return v
}

// makeQxQuantsRef is make_qx_quants with rmse_type 1 (spec §4.1): a
// symmetric scale search over 19 candidate inverse scales. L receives levels
// in 0..2·nmax−1. qw may be nil (weights x²).
func makeQxQuantsRef(n int, nmax int32, x []float32, L []int8, qw []float32) float32 {
	var max, amax float32
	for i := 0; i < n; i++ {
		ax := abs32(x[i])
		if ax > amax {
			amax = ax
			max = x[i]
		}
	}
	if amax < groupMaxEps {
		for i := 0; i < n; i++ {
			L[i] = 0
		}
		return 0
	}
	weight := func(i int) float32 {
		if qw != nil {
			return qw[i]
		}
		return float32(x[i] * x[i])
	}
	iscale := float32(-nmax) / max
	var sumlx, suml2 float32
	for i := 0; i < n; i++ {
		l := clampI32(nearestInt(float32(iscale*x[i])), -nmax, nmax-1)
		L[i] = int8(l + nmax)
		w := weight(i)
		sumlx += float32(float32(w*x[i]) * float32(l))
		suml2 += float32(float32(w*float32(l)) * float32(l))
	}
	var scale float32
	if suml2 != 0 {
		scale = sumlx / suml2
	}
	best := float32(scale * sumlx)
	for is := -9; is <= 9; is++ {
		if is == 0 {
			continue
		}
		iscale = -(float32(nmax) + float32(0.1*float32(is))) / max
		sumlx, suml2 = 0, 0
		for i := 0; i < n; i++ {
			l := clampI32(nearestInt(float32(iscale*x[i])), -nmax, nmax-1)
			w := weight(i)
			sumlx += float32(float32(w*x[i]) * float32(l))
			suml2 += float32(float32(w*float32(l)) * float32(l))
		}
		if suml2 > 0 && float32(sumlx*sumlx) > float32(best*suml2) {
			for i := 0; i < n; i++ {
				l := nearestInt(float32(iscale * x[i]))
				L[i] = int8(nmax + clampI32(l, -nmax, nmax-1))
			}
			scale = sumlx / suml2
			best = scale * sumlx
		}
	}
	return scale
}

// makeQ3QuantsRef is make_q3_quants with do_rmse (spec §4.2), n = 16,
// nmax = 4: an iterative per-element refinement. L receives 0..7.
func makeQ3QuantsRef(x []float32, L []int8) float32 {
	const n, nmax = 16, 4
	var max, amax float32
	for i := 0; i < n; i++ {
		ax := abs32(x[i])
		if ax > amax {
			amax = ax
			max = x[i]
		}
	}
	if amax < groupMaxEps {
		for i := 0; i < n; i++ {
			L[i] = 0
		}
		return 0
	}
	iscale := float32(-nmax) / max
	var sumlx, suml2 float32
	for i := 0; i < n; i++ {
		l := clampI32(nearestInt(float32(iscale*x[i])), -nmax, nmax-1)
		L[i] = int8(l)
		w := float32(x[i] * x[i])
		sumlx += float32(float32(w*x[i]) * float32(l))
		suml2 += float32(float32(w*float32(l)) * float32(l))
	}
	for itry := 0; itry < 5; itry++ {
		changed := 0
		for i := 0; i < n; i++ {
			w := float32(x[i] * x[i])
			li := float32(L[i])
			slx := sumlx - float32(float32(w*x[i])*li)
			if slx > 0 {
				sl2 := suml2 - float32(float32(w*li)*li)
				newL := clampI32(nearestInt(float32(x[i]*sl2)/slx), -nmax, nmax-1)
				if newL != int32(L[i]) {
					fl := float32(newL)
					slx += float32(float32(w*x[i]) * fl)
					sl2 += float32(float32(w*fl) * fl)
					if sl2 > 0 && float32(float32(slx*slx)*suml2) > float32(float32(sumlx*sumlx)*sl2) {
						L[i] = int8(newL)
						sumlx = slx
						suml2 = sl2
						changed++
					}
				}
			}
		}
		if changed == 0 {
			break
		}
	}
	for i := 0; i < n; i++ {
		L[i] += nmax
	}
	if suml2 > 0 {
		return sumlx / suml2
	}
	return 0
}

// makeQkxQuantsRef is make_qkx2_quants (qkx3 false) and make_qkx3_quants
// (qkx3 true), spec §4.3/§4.4: an affine (scale, min) search over nstep+1
// candidate inverse scales. weights may be nil only for qkx3 (weights x²).
// It returns the scale and the_min (≥ 0 in normal cases; the block value is
// scale·L − the_min). L receives 0..nmax; Laux is scratch of length n.
func makeQkxQuantsRef(n int, nmax int32, x, weights []float32, L, Laux []uint8,
	rmin, rdelta float32, nstep int, useMad, qkx3 bool) (scale, theMin float32) {
	weight := func(i int) float32 {
		if weights != nil {
			return weights[i]
		}
		return float32(x[i] * x[i])
	}
	min, max := x[0], x[0]
	sumW := weight(0)
	sumX := float32(sumW * x[0])
	for i := 1; i < n; i++ {
		if x[i] < min {
			min = x[i]
		}
		if x[i] > max {
			max = x[i]
		}
		w := weight(i)
		sumW += w
		sumX += float32(w * x[i])
	}
	if min > 0 {
		min = 0
	}
	if (!qkx3 && max == min) || (qkx3 && max <= min) {
		for i := 0; i < n; i++ {
			L[i] = 0
		}
		return 0, -min
	}
	iscale := float32(nmax) / (max - min)
	scale = 1 / iscale
	var bestError float32
	for i := 0; i < n; i++ {
		l := nearestInt(float32(iscale * (x[i] - min)))
		L[i] = uint8(clampI32(l, 0, nmax))
		diff := float32(float32(scale*float32(L[i]))+min) - x[i]
		if useMad {
			diff = abs32(diff)
		} else {
			diff = float32(diff * diff)
		}
		bestError += float32(weight(i) * diff)
	}
	if nstep < 1 {
		return scale, -min
	}
	for is := 0; is <= nstep; is++ {
		iscale = (float32(rmin+float32(rdelta*float32(is))) + float32(nmax)) / (max - min)
		var sumL, sumL2, sumXL float32
		for i := 0; i < n; i++ {
			l := clampI32(nearestInt(float32(iscale*(x[i]-min))), 0, nmax)
			Laux[i] = uint8(l)
			w := weight(i)
			fl := float32(l)
			sumL += float32(w * fl)
			sumL2 += float32(float32(w*fl) * fl)
			sumXL += float32(float32(w*fl) * x[i])
		}
		D := float32(sumW*sumL2) - float32(sumL*sumL)
		if D > 0 {
			thisScale := (float32(sumW*sumXL) - float32(sumX*sumL)) / D
			thisMin := (float32(sumL2*sumX) - float32(sumL*sumXL)) / D
			if thisMin > 0 {
				thisMin = 0
				thisScale = sumXL / sumL2
			}
			var curError float32
			for i := 0; i < n; i++ {
				diff := float32(float32(thisScale*float32(Laux[i]))+thisMin) - x[i]
				if useMad {
					diff = abs32(diff)
				} else {
					diff = float32(diff * diff)
				}
				curError += float32(weight(i) * diff)
			}
			if curError < bestError {
				copy(L[:n], Laux[:n])
				bestError = curError
				scale = thisScale
				min = thisMin
			}
		}
	}
	return scale, -min
}

// makeQpQuantsRef is make_qp_quants (spec §4.5): quantizes the
// non-negative values x (group scales or mins) to 0..nmax with weights qw.
// L is uint8 like ggml's, so a negative level (possible only for degenerate
// input) wraps exactly as it does there.
func makeQpQuantsRef(n int, nmax int32, x []float32, L []uint8, qw []float32) float32 {
	max, ok := qpMax(n, x, L)
	if !ok {
		return 0
	}
	iscale := float32(nmax) / max
	for i := 0; i < n; i++ {
		L[i] = uint8(nearestInt(float32(iscale * x[i])))
	}
	scale := 1 / iscale
	var bestMse float32
	for i := 0; i < n; i++ {
		diff := x[i] - float32(scale*float32(L[i]))
		bestMse += float32(float32(qw[i]*diff) * diff)
	}
	for is := -4; is <= 4; is++ {
		if is == 0 {
			continue
		}
		iscaleIs := (float32(0.1*float32(is)) + float32(nmax)) / max
		scaleIs := 1 / iscaleIs
		var mse float32
		for i := 0; i < n; i++ {
			l := nearestInt(float32(iscaleIs * x[i]))
			if l > nmax {
				l = nmax
			}
			diff := x[i] - float32(scaleIs*float32(l))
			mse += float32(float32(qw[i]*diff) * diff)
		}
		if mse < bestMse {
			bestMse = mse
			iscale = iscaleIs
		}
	}
	return qpRefine(n, nmax, iscale, x, L, qw)
}

// qpMax is the start of make_qp_quants: the largest of x[:n] (and 0). When
// that is below GROUP_MAX_EPS, every level L[:n] is 0 and ok is false (the
// scale is then 0). makeQpQuantsRef and iq2MakeQpQuants share it.
func qpMax(n int, x []float32, L []uint8) (max float32, ok bool) {
	for i := 0; i < n; i++ {
		max = cmax(max, x[i])
	}
	if max < groupMaxEps {
		for i := 0; i < n; i++ {
			L[i] = 0
		}
		return max, false
	}
	return max, true
}

// qpRefine is the end of make_qp_quants, from the chosen inverse scale
// iscale: the levels it gives, then up to five passes that move single
// levels while the weighted fit improves; it returns the fitted scale.
// makeQpQuantsRef and its lane-parallel variant iq2MakeQpQuants share it.
func qpRefine(n int, nmax int32, iscale float32, x []float32, L []uint8, qw []float32) float32 {
	var sumlx, suml2 float32
	for i := 0; i < n; i++ {
		l := nearestInt(float32(iscale * x[i]))
		if l > nmax {
			l = nmax
		}
		L[i] = uint8(l)
		fl := float32(l)
		sumlx += float32(float32(qw[i]*x[i]) * fl)
		suml2 += float32(float32(qw[i]*fl) * fl)
	}
	for itry := 0; itry < 5; itry++ {
		changed := 0
		for i := 0; i < n; i++ {
			w := qw[i]
			li := float32(L[i])
			slx := sumlx - float32(float32(w*x[i])*li)
			sl2 := suml2 - float32(float32(w*li)*li)
			if slx > 0 && sl2 > 0 {
				newL := nearestInt(float32(x[i]*sl2) / slx)
				if newL > nmax {
					newL = nmax
				}
				if newL != int32(L[i]) {
					fl := float32(newL)
					slx += float32(float32(w*x[i]) * fl)
					sl2 += float32(float32(w*fl) * fl)
					if float32(float32(slx*slx)*suml2) > float32(float32(sumlx*sumlx)*sl2) {
						L[i] = uint8(newL)
						sumlx = slx
						suml2 = sl2
						changed++
					}
				}
			}
		}
		if changed == 0 {
			break
		}
	}
	if suml2 > 0 {
		return sumlx / suml2
	}
	return 0
}

// packQ3Scales writes the 12 scale bytes of a Q3_K block for the 6-bit group
// scales ls (each 0..63, the signed scale + 32): the bytes packP3 leaves in
// cleared sc for j = 0..15, so that q3Scale(sc, j) = ls[j] − 32. It writes
// all 12 bytes at once instead of or-ing them together group by group.
func packQ3Scales(sc *[12]byte, ls *[16]uint8) {
	for j := 0; j < 8; j++ {
		sc[j] = ls[j]&0xF | ls[j+8]<<4
	}
	for k := 0; k < 4; k++ {
		sc[8+k] = ls[k]>>4 | ls[k+4]>>4<<2 | ls[k+8]>>4<<4 | ls[k+12]>>4<<6
	}
}

// q3MaxScale is the group scale of largest magnitude, the first of equal
// ones, as q3_KBlockRef's loop (ggml's fabsf(scales[j]) > amax from 0)
// finds it, and 0 when all are zero or NaN. It compares the magnitudes' bit
// patterns, which order non-negative floats as their values do, so that the
// compiler can use conditional moves instead of branches that the data
// make unpredictable; a NaN's magnitude counts as 0, which never wins.
func q3MaxScale(scales *[16]float32) float32 {
	var amax, maxBits uint32
	for j := 0; j < 16; j++ {
		b := math.Float32bits(scales[j])
		a := b &^ (1 << 31)
		if a > 0x7F800000 {
			a = 0
		}
		if a > amax {
			amax, maxBits = a, b
		}
	}
	return math.Float32frombits(maxBits)
}
