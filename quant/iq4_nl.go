package quant

// Fast IQ4_NL encoder: iq4nlBlockRef with the 16 candidate scales (the
// initial one and itry = −7..7) evaluated lane-parallel and a branch-free
// level lookup. Differential test: iq4_nl_test.go.

func quantizeIQ4_NL(dst []byte, src []float32, nPerRow int, imatrix []float32) {
	var (
		w [32]float32
		L [32]uint8
	)
	for b := 0; b < len(src)/32; b++ {
		x := (*[32]float32)(src[b*32:])
		y := (*[iq4nlLen]byte)(dst[b*iq4nlLen:])
		if imatrix != nil {
			col := b * 32 % nPerRow
			sigma2 := float32(sumSquares(x[:]) * (2.0 / 32))
			imatrixWeights(w[:], x[:], imatrix[col:col+32], sigma2)
		} else {
			for j, v := range x {
				w[j] = float32(v * v)
			}
		}
		var scale float32
		if max, amax := absMaxSigned(x[:]); amax >= groupMaxEps {
			scale = iq4nlScale(x[:], w[:], max)
		}
		h := F32ToF16(scale)
		y[0], y[1] = byte(h), byte(h>>8)
		var id float32
		if scale != 0 {
			id = 1 / scale
		}
		iq4nlIndex(L[:], x[:], id)
		packNibbles(y[2:], L[:])
	}
}
