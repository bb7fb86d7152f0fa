package quant

// IQ4_XS encoders: ggml's quantize_iq4_xs, which is quantize_row_iq4_nl_impl
// with super_block_size = 256, block_size = 32 and ntry = 7 (with or without
// an importance matrix), from ggml/src/ggml-quants.c of the pinned llama.cpp.
// Each 32-element sub-block gets IQ4_NL's scale search (iq4nlBlockRef's,
// with the weights' sigma2 taken over the whole super-block); the
// sub-block scales are then rounded to 6 bits of the super-block scale
// d = −max/32 (max: the scale of largest magnitude) and every sub-block is
// requantized with its rounded scale.
//
// quantizeIQ4_XS uses the lane-parallel IQ4_NL search (iq4nlScale,
// iq4nlIndex); quantizeIQ4_XSRef is the plain transcription. Differential
// test: iq3_test.go.

func quantizeIQ4_XSRef(dst []byte, src []float32, nPerRow int, imatrix []float32) {
	for b := 0; b < len(src)/qkK; b++ {
		var qw []float32
		if imatrix != nil {
			col := b * qkK % nPerRow
			qw = imatrix[col : col+qkK]
		}
		iq4xsBlockRef(dst[b*iq4xsLen:(b+1)*iq4xsLen], src[b*qkK:(b+1)*qkK], qw)
	}
}

func iq4xsBlockRef(y []byte, x, qw []float32) {
	const ntry = 7
	var (
		scales [8]float32
		weight [32]float32
		L      [qkK]uint8
	)
	sigma2 := float32(sumSquares(x) * (2.0 / qkK))
	var maxScale, amaxScale float32
	for ib := 0; ib < 8; ib++ {
		xb := x[32*ib : 32*ib+32]
		if qw != nil {
			imatrixWeightsRef(weight[:], xb, qw[32*ib:32*ib+32], sigma2)
		} else {
			for j, v := range xb {
				weight[j] = float32(v * v)
			}
		}
		max, amax := absMaxSigned(xb)
		if amax < groupMaxEps {
			scales[ib] = 0
			continue
		}
		d := -max / float32(kvaluesIQ4NL[0])
		id := 1 / d
		var sumqx, sumq2 float32
		for j, v := range xb {
			q := float32(kvaluesIQ4NL[bestIndexIQ4NLRef(float32(id*v))])
			w := weight[j]
			sumqx += float32(float32(w*q) * v)
			sumq2 += float32(float32(w*q) * q)
		}
		d = 0
		if sumq2 > 0 {
			d = sumqx / sumq2
		}
		best := float32(d * sumqx)
		for itry := -ntry; itry <= ntry; itry++ {
			id = float32(itry+int(kvaluesIQ4NL[0])) / max
			sumqx, sumq2 = 0, 0
			for j, v := range xb {
				q := float32(kvaluesIQ4NL[bestIndexIQ4NLRef(float32(id*v))])
				w := weight[j]
				sumqx += float32(float32(w*q) * v)
				sumq2 += float32(float32(w*q) * q)
			}
			if sumq2 > 0 && float32(sumqx*sumqx) > float32(best*sumq2) {
				d = sumqx / sumq2
				best = float32(d * sumqx)
			}
		}
		scales[ib] = d
		if ad := abs32(d); ad > amaxScale {
			amaxScale, maxScale = ad, d
		}
	}
	iq4xsFinish(y, x, &scales, maxScale, L[:], false)
}

// iq4xsFinish is the second half of quantize_row_iq4_nl_impl for a
// super-block: the 6-bit sub-block scales, the requantization with them
// and the packing. fast picks iq4nlIndex over bestIndexIQ4NLRef (equal).
func iq4xsFinish(y []byte, x []float32, scales *[8]float32, maxScale float32, L []uint8, fast bool) {
	d := -maxScale / 32
	putF16(y, d)
	var id float32
	if d != 0 {
		id = 1 / d
	}
	var scalesH uint16
	scalesL := y[4:8]
	for ib := 0; ib < 8; ib++ {
		l := clampI32(nearestInt(float32(id*scales[ib])), -32, 31)
		dl := d * float32(l)
		var idl float32
		if dl != 0 {
			idl = 1 / dl
		}
		xb, Lb := x[32*ib:32*ib+32], L[32*ib:32*ib+32]
		if fast {
			iq4nlIndex(Lb, xb, idl)
		} else {
			for j, v := range xb {
				Lb[j] = uint8(bestIndexIQ4NLRef(float32(idl * v)))
			}
		}
		l += 32
		if ib%2 == 0 {
			scalesL[ib/2] = uint8(l & 0xF)
		} else {
			scalesL[ib/2] |= uint8(l&0xF) << 4
		}
		scalesH |= uint16(l>>4) << (2 * ib)
	}
	y[2], y[3] = byte(scalesH), byte(scalesH>>8)
	for ib := 0; ib < 8; ib++ {
		packNibbles(y[8+16*ib:], L[32*ib:32*ib+32])
	}
}

func quantizeIQ4_XS(dst []byte, src []float32, nPerRow int, imatrix []float32) {
	var (
		scales [8]float32
		w      [32]float32
		L      [qkK]uint8
	)
	for b := 0; b < len(src)/qkK; b++ {
		x := src[b*qkK : (b+1)*qkK]
		var qw []float32
		var sigma2 float32
		if imatrix != nil {
			col := b * qkK % nPerRow
			qw = imatrix[col : col+qkK]
			sigma2 = float32(sumSquares(x) * (2.0 / qkK))
		}
		var maxScale, amaxScale float32
		for ib := 0; ib < 8; ib++ {
			xb := x[32*ib : 32*ib+32]
			max, amax := absMaxSigned(xb)
			if amax < groupMaxEps {
				scales[ib] = 0
				continue
			}
			if qw != nil {
				imatrixWeights(w[:], xb, qw[32*ib:32*ib+32], sigma2)
			} else {
				for j, v := range xb {
					w[j] = float32(v * v)
				}
			}
			d := iq4nlScale(xb, w[:], max)
			scales[ib] = d
			if ad := abs32(d); ad > amaxScale {
				amaxScale, maxScale = ad, d
			}
		}
		iq4xsFinish(dst[b*iq4xsLen:(b+1)*iq4xsLen], x, &scales, maxScale, L[:], true)
	}
}
