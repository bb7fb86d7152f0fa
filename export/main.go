// Command export is Wick's C ABI: the shared library (libwick.so) that the
// Python package loads with cffi. It is the only cgo in Wick; it holds no
// algorithm, only argument checks and the translation between C and the
// packages quant and io.
//
// Build it with
//
//	CGO_ENABLED=1 go build -buildmode=c-shared -trimpath -ldflags="-s -w" -o libwick.so ./export
//
// (build_native.py does that). The test suite uses a library built with
// -tags wick_testhooks, which adds the wick_debug_* exports of debug.go.
//
// Rules every exported function follows:
//   - C types only in signatures; every output buffer, including the error
//     message buffer (err, errlen), is allocated by the caller.
//   - Arguments are validated before use; a zero-length input is checked
//     before its pointer is touched.
//   - A panic anywhere (the export or its worker goroutines) is recovered and
//     returned as statusInternal with a message; it never reaches C.
//   - No caller pointer is kept after the function returns: every goroutine
//     it started has finished.
//   - The return value is a status code (statusOK = 0); codes and their names
//     are listed by wick_info_json so that Python restates nothing.
//
// Long calls take a wick_ctl block through which the caller can cancel
// (set cancel to non-zero from another thread) and watch progress.
package main

/*
#include "wick.h"
*/
import "C"

// abiVersion changes whenever an exported signature, a struct in the
// header, or the shape of the JSON the library returns (wick_info_json, the
// conversion report) changes. The Python package refuses a library with
// another one. 5: wick_bnb_dequantize_4bit takes rules. 6: the conversion
// report is convert.Report as it is (with target and file_bytes);
// bnb.tables maps names to {id, size}; the safetensors dtype table; the
// "plan" status.
const abiVersion = 6

func main() {}

// wick_abi_version returns the ABI version of this library.
//
//export wick_abi_version
func wick_abi_version() C.int { return abiVersion }
