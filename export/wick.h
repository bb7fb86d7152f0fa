/* Types shared by Wick's C ABI. Included by every cgo file of package main;
   cgo copies it into the generated libwick.h. */
#ifndef WICK_H
#define WICK_H
#include <stddef.h>
#include <stdint.h>

/* Read-only views of caller memory. Go has no const; these typedefs make
   the generated header say const. */
typedef const uint8_t wick_cbytes;
typedef const float wick_cf32;
typedef const char wick_cchar;

/* wick_ctl is shared between the caller and a running call. The caller
   zeroes it, may set cancel to non-zero at any time from another thread to
   stop the call, and may read done/total (units per call) and item (e.g.
   the index of the tensor being written) to show progress. */
typedef struct wick_ctl {
	int32_t cancel;
	int32_t reserved;
	int64_t done;
	int64_t total;
	int64_t item;
} wick_ctl;

#endif
