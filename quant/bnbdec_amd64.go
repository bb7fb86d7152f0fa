//go:build amd64 && !noasm

package quant

import "unsafe"

// The AVX-512 and AVX2 decoders of the bitsandbytes formats
// (bnbdec_amd64.s), used when the CPU has them (hasAVX512, hasAVX2 in
// cpu_amd64.go; tests switch them with setAsm and setAVX512). Their Go
// twins are decode4, decode4Half, decodeCodes, decodeCodesHalf and
// dequantizeNestedRef; TestBnbDecodersMatchGeneric and TestBnbHalfRounding
// compare them. (The AVX2 4-bit decoders are in bnb_amd64.go.)

// decode4F32AVX512 decodes nblocks whole blocks of blocksize (a multiple of
// 32) 4-bit values from packed into dst (decode4), with non-temporal
// stores (dst 64-byte aligned) when nt is set.
//
//go:noescape
func decode4F32AVX512(dst *float32, packed *uint8, absmax *float32, nblocks, blocksize int, table *[16]float32, nt bool)

// decode4HalfAVX512 is decode4F32AVX512 with float16 or bfloat16 output
// (decode4Half).
//
//go:noescape
func decode4HalfAVX512(dst *uint16, packed *uint8, absmax *float32, nblocks, blocksize int, table *[16]float32, bf16, nt bool)

// decode4F32ShiftNT is decode4F32AVX512 with non-temporal stores for a dst
// that is not 64-byte aligned (but 4-byte aligned): the values are shifted
// into whole aligned lines, and the partial lines at either end of
// dst[:nblocks*blocksize] get plain masked stores of only its elements.
//
//go:noescape
func decode4F32ShiftNT(dst *float32, packed *uint8, absmax *float32, nblocks, blocksize int, table *[16]float32)

// decode4HalfShiftNT is decode4HalfAVX512 with non-temporal stores for a
// dst that is not 64-byte aligned (but 2-byte aligned), as
// decode4F32ShiftNT.
//
//go:noescape
func decode4HalfShiftNT(dst *uint16, packed *uint8, absmax *float32, nblocks, blocksize int, table *[16]float32, bf16 bool)

// decode8AVX512 decodes n 8-bit codes, the first being element first of
// the block whose absmax is absmax[0]: float32 (kind 0), float16 (1) or
// bfloat16 (2) output; with nested, absmax values plus offset (float32).
//
//go:noescape
func decode8AVX512(dst unsafe.Pointer, codes *uint8, absmax *float32, n, first, blocksize int,
	code *[256]float32, kind int, offset float32, nested bool)

// decode8NT is decode8AVX512 (not nested) with non-temporal stores: dst
// 64-byte aligned for float32 output, 32-byte aligned for the 16-bit ones,
// n a multiple of 16, blocksize ≥ 16.
//
//go:noescape
func decode8NT(dst unsafe.Pointer, codes *uint8, absmax *float32, n, first, blocksize int, code *[256]float32, kind int)

// decode8RunAVX2 decodes a run of n (a multiple of 8) codes of one block
// with scale a: float32 (kind 0), float16 (1) or bfloat16 (2) output;
// with nested, the values plus offset.
//
//go:noescape
func decode8RunAVX2(dst unsafe.Pointer, codes *uint8, n int, a float32, code *[256]float32, kind int, offset float32, nested bool)

// decode4Fast decodes the whole blocks of dst[lo:hi] (lo a multiple of
// blocksize) with the AVX-512 kernels and returns how many values it did
// (0 without AVX-512). stream asks for non-temporal stores (a large output,
// which would only evict useful cache lines): they write whole lines
// without reading them first, so that a large output runs at the same
// speed whether it is in cache or not (a buffer that Python's allocator
// just handed back often is not; with plain stores the first calls into
// it ran at half speed). An output that does not start on a 64-byte line
// (most do not: malloc aligns to 16) goes through the shifting kernels.
func decode4Fast(dst Output, lo, hi int, packed []uint8, absmax []float32, blocksize int, table *[16]float32, stream bool) int {
	nb := (hi - lo) / blocksize
	if !useAVX512 || blocksize%32 != 0 || nb == 0 {
		return 0
	}
	b := lo / blocksize
	_, _ = packed[(lo+nb*blocksize)/2-1], absmax[b+nb-1]
	if dst.dtype == DTypeF32 {
		_ = dst.f32[lo+nb*blocksize-1]
		p := &dst.f32[lo]
		if stream && uintptr(unsafe.Pointer(p))%64 != 0 {
			decode4F32ShiftNT(p, &packed[lo/2], &absmax[b], nb, blocksize, table)
		} else {
			decode4F32AVX512(p, &packed[lo/2], &absmax[b], nb, blocksize, table, stream)
		}
	} else {
		_ = dst.u16[lo+nb*blocksize-1]
		p, bf16 := &dst.u16[lo], dst.dtype == DTypeBF16
		if stream && uintptr(unsafe.Pointer(p))%64 != 0 {
			decode4HalfShiftNT(p, &packed[lo/2], &absmax[b], nb, blocksize, table, bf16)
		} else {
			decode4HalfAVX512(p, &packed[lo/2], &absmax[b], nb, blocksize, table, bf16, stream)
		}
	}
	return nb * blocksize
}

// decode8Fast writes dst[lo:hi] = code[q[i]]·absmax of each element's block
// (decodeCodes, decodeCodesHalf) with the AVX-512 or the AVX2 kernel and
// reports whether it did (false without AVX2). stream asks for
// non-temporal stores (see decode4Fast), which the AVX-512 path uses for
// block sizes of 16 or more: decode8NT from the first aligned address on,
// decode8AVX512 for the values before it and the last few.
func decode8Fast(dst Output, lo, hi int, q []uint8, absmax []float32, blocksize int, code *[256]float32, stream bool) bool {
	n := hi - lo
	if !useAVX2 || n <= 0 {
		return false
	}
	_, _ = q[n-1], absmax[(hi-1)/blocksize]
	kind, size := 0, 4
	var p unsafe.Pointer
	if dst.dtype == DTypeF32 {
		p = unsafe.Pointer(&dst.f32[lo:hi][0])
	} else {
		p, kind, size = unsafe.Pointer(&dst.u16[lo:hi][0]), 1, 2
		if dst.dtype == DTypeBF16 {
			kind = 2
		}
	}
	if useAVX512 {
		plain := func(i, j int) {
			if i < j {
				bi := (lo + i) / blocksize
				decode8AVX512(unsafe.Add(p, i*size), &q[i], &absmax[bi], j-i, lo+i-bi*blocksize, blocksize, code, kind, 0, false)
			}
		}
		if !stream || blocksize < 16 {
			plain(0, n)
			return true
		}
		align := 64
		if size == 2 {
			align = 32
		}
		head := (align - int(uintptr(p)%uintptr(align))) % align / size
		if head >= n {
			plain(0, n)
			return true
		}
		m := (n - head) &^ 15
		plain(0, head)
		if m > 0 {
			bi := (lo + head) / blocksize
			decode8NT(unsafe.Add(p, head*size), &q[head], &absmax[bi], m, lo+head-bi*blocksize, blocksize, code, kind)
		}
		plain(head+m, n)
		return true
	}
	// AVX2: the kernel takes runs of 8 inside a block, Go the rest.
	for i := 0; i < n; {
		bb := (lo + i) / blocksize
		e := min(n, (bb+1)*blocksize-lo)
		a := absmax[bb]
		m := (e - i) &^ 7
		if m > 0 {
			decode8RunAVX2(unsafe.Add(p, i*size), &q[i], m, a, code, kind, 0, false)
		}
		for j := i + m; j < e; j++ {
			v := code[q[j]] * a
			if kind == 0 {
				dst.f32[lo+j] = v
			} else {
				dst.u16[lo+j] = dst.toHalf(v)
			}
		}
		i = e
	}
	return true
}

// dequantizeNestedFast is dequantizeNested with the AVX-512 or the AVX2
// kernel; it reports false without AVX2.
func dequantizeNestedFast(absmax []float32, codes []uint8, nestedAbsmax []float32, offset float32, code *[256]float32, nestedBlocksize int) bool {
	n := len(codes)
	if !useAVX2 || n == 0 {
		return false
	}
	_, _ = absmax[n-1], nestedAbsmax[(n-1)/nestedBlocksize]
	if useAVX512 {
		decode8AVX512(unsafe.Pointer(&absmax[0]), &codes[0], &nestedAbsmax[0], n, 0, nestedBlocksize, code, 0, offset, true)
		return true
	}
	for lo := 0; lo < n; lo += nestedBlocksize {
		hi := min(lo+nestedBlocksize, n)
		a := nestedAbsmax[lo/nestedBlocksize]
		m := (hi - lo) &^ 7
		if m > 0 {
			decode8RunAVX2(unsafe.Pointer(&absmax[lo]), &codes[lo], m, a, code, 0, offset, true)
		}
		for i := lo + m; i < hi; i++ {
			absmax[i] = float32(code[codes[i]]*a) + offset
		}
	}
	return true
}
