package quant

import "encoding/binary"

// Level packing of the K-quant encoders, eight levels per 64-bit word
// (the levels are at most 6 bits wide, so shifted bytes never carry into
// their neighbours once masked). Each packer has a plain byte loop as its
// twin (…Loop, the transcription of ggml's packing); TestKPackers compares
// them.

const (
	lo2  = 0x0303030303030303
	lo4  = 0x0F0F0F0F0F0F0F0F
	bit4 = 0x1010101010101010
)

func le64(b []byte) uint64       { return binary.LittleEndian.Uint64(b) }
func putLE64(b []byte, v uint64) { binary.LittleEndian.PutUint64(b, v) }

// packQ2 packs 256 2-bit levels (Q2_K qs, Q3_K's low bits): byte 32h+l
// holds levels 128h+l, +32, +64, +96 at bits 0, 2, 4, 6 (packP2).
func packQ2(qs *[64]byte, L *[qkK]uint8) {
	for h := 0; h < 2; h++ {
		for l := 0; l < 32; l += 8 {
			b := 128*h + l
			v := le64(L[b:]) | le64(L[b+32:])<<2 | le64(L[b+64:])<<4 | le64(L[b+96:])<<6
			putLE64(qs[32*h+l:], v)
		}
	}
}

// packQ4K packs Q4_K's 4-bit levels: byte 32c+l holds levels 64c+l (low
// nibble) and 64c+l+32 (high nibble).
func packQ4K(qs *[128]byte, L *[qkK]uint8) {
	for c := 0; c < 4; c++ {
		for l := 0; l < 32; l += 8 {
			putLE64(qs[32*c+l:], le64(L[64*c+l:])|le64(L[64*c+l+32:])<<4)
		}
	}
}

func packQ4KLoop(qs *[128]byte, L *[qkK]uint8) {
	for c := 0; c < 4; c++ {
		for l := 0; l < 32; l++ {
			qs[32*c+l] = L[64*c+l] | L[64*c+l+32]<<4
		}
	}
}

// packQ5K packs Q5_K's 5-bit levels: low nibbles as packQ4K into ql, and
// bit 4 of levels 64c+j and 64c+j+32 into bits 2c and 2c+1 of qh[j].
func packQ5K(qh *[32]byte, ql *[128]byte, L *[qkK]uint8) {
	for j := 0; j < 32; j += 8 {
		var h uint64
		for c := 0; c < 4; c++ {
			a, b := le64(L[64*c+j:]), le64(L[64*c+j+32:])
			putLE64(ql[32*c+j:], a&lo4|(b&lo4)<<4)
			h |= (a&bit4)>>4<<(2*c) | (b&bit4)>>4<<(2*c+1)
		}
		putLE64(qh[j:], h)
	}
}

func packQ5KLoop(qh *[32]byte, ql *[128]byte, L *[qkK]uint8) {
	for j := 0; j < 32; j++ {
		var h uint8
		for c := 0; c < 4; c++ {
			l1, l2 := L[64*c+j], L[64*c+j+32]
			h |= (l1>>4)<<(2*c) | (l2>>4)<<(2*c+1)
			ql[32*c+j] = l1&0xF | (l2&0xF)<<4
		}
		qh[j] = h
	}
}

// packQ6K packs Q6_K's 6-bit levels: low nibbles of levels 128h+l and
// 128h+l+64 into ql[64h+l], of 128h+l+32 and 128h+l+96 into ql[64h+l+32],
// and their top two bits into qh[32h+l] at bits 0, 2, 4, 6.
func packQ6K(ql *[128]byte, qh *[64]byte, L *[qkK]uint8) {
	for h := 0; h < 2; h++ {
		b := 128 * h
		for l := 0; l < 32; l += 8 {
			l0, l1, l2, l3 := le64(L[b+l:]), le64(L[b+l+32:]), le64(L[b+l+64:]), le64(L[b+l+96:])
			putLE64(ql[64*h+l:], l0&lo4|(l2&lo4)<<4)
			putLE64(ql[64*h+l+32:], l1&lo4|(l3&lo4)<<4)
			putLE64(qh[32*h+l:], l0>>4&lo2|(l1>>4&lo2)<<2|(l2>>4&lo2)<<4|(l3>>4&lo2)<<6)
		}
	}
}

func packQ6KLoop(ql *[128]byte, qh *[64]byte, L *[qkK]uint8) {
	for h := 0; h < 2; h++ {
		b := 128 * h
		for l := 0; l < 32; l++ {
			l0, l1, l2, l3 := L[b+l], L[b+l+32], L[b+l+64], L[b+l+96]
			ql[64*h+l] = l0&0xF | l2<<4
			ql[64*h+l+32] = l1&0xF | l3<<4
			qh[32*h+l] = l0>>4 | (l1>>4)<<2 | (l2>>4)<<4 | (l3>>4)<<6
		}
	}
}
