// Package decode turns the stored tensors of a quantized checkpoint back
// into the values the conversion needs: float32 rows, or, where llama.cpp
// keeps the blocks as they are (MXFP4, NVFP4), ggml-encoded rows.
//
// # The contract with the executor
//
// A plan source with a "decode" entry names its main stored tensor (file,
// tensor, dtype, shape as usual) and a Spec: the method, the LOGICAL
// row-major shape of the decoded tensor, the auxiliary stored tensors by role
// ("scale", "zero", "g_idx", "absmax", ...; each a Ref in the same form as a
// plan source) and the method's parameters. The executor opens the files,
// hands the raw little-endian bytes to New and reads the result in chunks of
// rows of the tensor's 2-D flattening [prod(Shape[:-1]), Shape[-1]]:
//
//	d, err := decode.New(spec, main, aux)     // validates everything first
//	switch r := d.(type) {
//	case decode.Rows:    r.ReadRows(dst, r0, r1)    // float32, len(dst) == (r1-r0)*Shape[-1]
//	case decode.RawRows: r.ReadRawRows(dst, r0, r1) // ggml blocks of Spec.Output
//	}
//
// Methods are registered by name (Register; this package registers its own
// in init, the executor's tests register test-only ones) and listed by
// Methods (also in wick_info_json's "decode_methods").
//
// Every error New returns for this package's methods is a *SpecError
// naming the tensor, its file and
// the problem (wrong dtype, inconsistent scale shape, bad parameter, g_idx
// out of range, ...). ReadRows and ReadRawRows check only their arguments:
// the data were validated by New. Both may be called concurrently from
// several goroutines on any row ranges: a decoder holds no mutable state.
// Neither keeps dst or the tensors' bytes after returning, except that the
// decoder keeps the Tensor.Data views it was given (the mapped file) for its
// lifetime.
//
// # Memory
//
// A decoder reads only the stored bytes of the rows asked for: the memory a
// read uses is dst. Transposed layouts (GPTQ stores the weight as
// [in, out]) are read as tiles: logical rows r0..r1 are columns r0..r1 of the
// stored matrix. A decoder whose rows come from one byte range of the main
// tensor ("scaled", "int_packed", "bnb_int8") says which (MainRows), so that
// the executor drops the mapped pages of the rows it is done with, chunk by
// chunk, and reads it a few rows at a time (which costs no more than many
// rows, unlike a transposed layout).
// New widens small auxiliary tensors to float32 once (scales
// of FP8 blocks, GPTQ and compressed-tensors groups, the bitsandbytes int8
// row statistics, g_idx): at most one value per 16 weights, and usually far
// fewer. Block scales of NVFP4/MXFP4 and the bitsandbytes absmax are read
// from the mapped bytes as rows are decoded.
//
// # Exactness
//
// Every method computes exactly what its reference computes, in float32
// with a single rounding per product (no fused multiply-add can arise: no
// decoder adds a product to anything):
//
//   - "scaled" (fp8, compressed-tensors float-/int-quantized, ModelOpt FP8):
//     llama.cpp's dequant_simple, f32(w) · f32(scale), with block scales
//     repeated over their blocks (partial edge blocks included), per-row or
//     per-tensor scales broadcast.
//   - "gptq": llama.cpp's dequant_gptq, f32(scale[g_idx[c], r]) ·
//     f32(q[c, r] − z[g_idx[c], r]), z offset by one for checkpoint_format
//     "gptq" and not for "gptq_v2", transposed to [out, in].
//   - "int_packed" (compressed-tensors pack-quantized): llama.cpp's
//     dequant_packed, f32(q − zero) · f32(scale[r, c/group]).
//   - "nvfp4" and "mxfp4": raw output is llama.cpp's _nvfp4_pack and
//     repack_mxfp4_blocks (gpt-oss's transform_nibble_layout is the same
//     re-layout), byte for byte; float output is ggml's
//     dequantize_row_nvfp4 / dequantize_row_mxfp4 of those blocks.
//   - "bnb_4bit": bitsandbytes' dequantize_4bit (NF4/FP4, double
//     quantization), rounded to the state's dtype, through package quant.
//   - "bnb_int8": bitsandbytes' int8_vectorwise_dequant (LLM.int8: int8
//     weight and row statistics SCB), f32(f32(q · SCB[r]) · f32(1/127)).
//
// Each fast loop has a plain reference twin (ref.go) and a differential
// test; the goldens in testdata come from the real references (llama.cpp's
// converter functions run by torch, bitsandbytes, ggml, and compressed-
// tensors' own unpacking as a cross-check) through
// tests/golden/gen_quantized_decode.py.
//
// Float8 e4m3 (the FP8 checkpoints) has an assembly kernel, AVX-512 or
// AVX2 (e4m3Blocks: the code's float32 bits by bit arithmetic, never a
// subnormal operand, times the block scale), with a generic twin and an
// exhaustive bit-for-bit test (e4m3_test.go); `-tags noasm` builds the
// generic one alone.
//
// Cost (go test -bench Decoders, CPU time per element on x86-64, into a
// 16 MiB buffer): about 0.2 ns for FP8 e4m3, 0.8 ns for LLM.int8, 1.6 ns for
// bitsandbytes NF4 with double quantization rounded to bfloat16, 2–3 ns for
// the GPTQ and compressed-tensors integer unpacking. The executor calls
// ReadRows on pieces of 16K values from its worker goroutines, so that the
// values are still in cache when they are quantized.
package decode
