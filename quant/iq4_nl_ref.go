package quant

// Reference IQ4_NL encoder: a transcription of spec ggml-quants.md §5.5
// (ggml's quantize_row_iq4_nl_impl with super_block_size = block_size = 32
// and ntry = 7, which is what quantize_iq4_nl — and so llama-quantize —
// runs, with or without an importance matrix; §6 for the weights).

const iq4nlLen = 18

// kvaluesIQ4NL is ggml's kvalues_iq4nl: the 16 non-linear levels.
var kvaluesIQ4NL = [16]int8{-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113}

// bestIndexIQ4NLRef is ggml's best_index_int8(16, kvalues_iq4nl, x): the
// index of the nearest level, exact ties going to the upper one.
func bestIndexIQ4NLRef(x float32) int {
	val := &kvaluesIQ4NL
	if x <= float32(val[0]) {
		return 0
	}
	if x >= float32(val[15]) {
		return 15
	}
	ml, mu := 0, 15
	for mu-ml > 1 {
		mav := (ml + mu) / 2
		if x < float32(val[mav]) {
			mu = mav
		} else {
			ml = mav
		}
	}
	if x-float32(val[mu-1]) < float32(val[mu])-x {
		return mu - 1
	}
	return mu
}

func quantizeIQ4_NLRef(dst []byte, src []float32, nPerRow int, imatrix []float32) {
	for b := 0; b < len(src)/32; b++ {
		var qw []float32
		if imatrix != nil {
			col := b * 32 % nPerRow
			qw = imatrix[col : col+32]
		}
		iq4nlBlockRef(dst[b*iq4nlLen:(b+1)*iq4nlLen], src[b*32:(b+1)*32], qw)
	}
}

func iq4nlBlockRef(y []byte, x, qw []float32) {
	const ntry = 7
	var (
		weight [32]float32
		L      [32]uint8
	)
	sigma2 := float32(sumSquares(x) * (2.0 / 32))
	if qw != nil {
		imatrixWeightsRef(weight[:], x, qw, sigma2)
	} else {
		for j := range weight {
			weight[j] = float32(x[j] * x[j])
		}
	}
	var scale float32 // ggml's scales[0]
	max, amax := absMaxSigned(x)
	if amax >= groupMaxEps {
		d := -max / float32(kvaluesIQ4NL[0])
		id := 1 / d
		var sumqx, sumq2 float32
		for j := 0; j < 32; j++ {
			l := bestIndexIQ4NLRef(float32(id * x[j]))
			q := float32(kvaluesIQ4NL[l])
			w := weight[j]
			sumqx += float32(float32(w*q) * x[j])
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
			for j := 0; j < 32; j++ {
				l := bestIndexIQ4NLRef(float32(id * x[j]))
				q := float32(kvaluesIQ4NL[l])
				w := weight[j]
				sumqx += float32(float32(w*q) * x[j])
				sumq2 += float32(float32(w*q) * q)
			}
			if sumq2 > 0 && float32(sumqx*sumqx) > float32(best*sumq2) {
				d = sumqx / sumq2
				best = float32(d * sumqx)
			}
		}
		scale = d
	}
	putF16(y, scale)
	var id float32
	if scale != 0 {
		id = 1 / scale
	}
	for j := 0; j < 32; j++ {
		L[j] = uint8(bestIndexIQ4NLRef(float32(id * x[j])))
	}
	packNibbles(y[2:], L[:])
}

func dequantizeIQ4_NL(dst []float32, src []byte) {
	for b := 0; b < len(dst)/32; b++ {
		blk := src[b*iq4nlLen : (b+1)*iq4nlLen]
		y := (*[32]float32)(dst[b*32:])
		d := getF16(blk)
		for j := 0; j < 16; j++ {
			y[j] = d * float32(kvaluesIQ4NL[blk[2+j]&0xF])
			y[j+16] = d * float32(kvaluesIQ4NL[blk[2+j]>>4])
		}
	}
}

// IQ4_XS (136 bytes per 256): fp16 d, u16 scales_h, 4 bytes scales_l, then
// 128 bytes of IQ4_NL indices in 32-element sub-blocks. Its encoders are in
// iq4_xs.go; this is ggml's dequantize_row_iq4_xs.
const iq4xsLen = 136

func dequantizeIQ4_XS(dst []float32, src []byte) {
	for b := 0; b < len(dst)/qkK; b++ {
		blk := src[b*iq4xsLen : (b+1)*iq4xsLen]
		d := getF16(blk)
		scalesH := uint16(blk[2]) | uint16(blk[3])<<8
		for ib := 0; ib < 8; ib++ {
			ls := int32(blk[4+ib/2]>>(4*(ib%2)))&0xF | int32(scalesH>>(2*ib)&3)<<4
			dl := d * float32(ls-32)
			qs := blk[8+16*ib:]
			y := dst[b*qkK+32*ib:]
			for j := 0; j < 16; j++ {
				y[j] = dl * float32(kvaluesIQ4NL[qs[j]&0xF])
				y[j+16] = dl * float32(kvaluesIQ4NL[qs[j]>>4])
			}
		}
	}
}
