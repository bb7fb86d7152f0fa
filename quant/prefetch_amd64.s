//go:build amd64 && !noasm

#include "textflag.h"

// func prefetch1K(addr uintptr)
// Sixteen PREFETCHT0 hints, one per 64-byte line of [addr, addr+1024).
// A prefetch never faults, whatever the address.
TEXT ·prefetch1K(SB), NOSPLIT, $0-8
	MOVQ addr+0(FP), AX
	PREFETCHT0 0(AX)
	PREFETCHT0 64(AX)
	PREFETCHT0 128(AX)
	PREFETCHT0 192(AX)
	PREFETCHT0 256(AX)
	PREFETCHT0 320(AX)
	PREFETCHT0 384(AX)
	PREFETCHT0 448(AX)
	PREFETCHT0 512(AX)
	PREFETCHT0 576(AX)
	PREFETCHT0 640(AX)
	PREFETCHT0 704(AX)
	PREFETCHT0 768(AX)
	PREFETCHT0 832(AX)
	PREFETCHT0 896(AX)
	PREFETCHT0 960(AX)
	RET
