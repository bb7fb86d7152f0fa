#!/usr/bin/env python3
"""Golden hashes of the real llama.cpp quantizers on pseudo-random inputs.

Writes quant/testdata/ggml-random-golden.json, which the Go test
quant/golden_random_test.go checks: it regenerates every input with the same
integer-only PRNG, quantizes it with Wick and compares SHA-256 hashes.

Reference implementation: the ``libggml-base.so`` shipped in the
llama-cpp-python 0.3.36 wheel — llama.cpp commit 0c1e570 ("webgpu: fix
SSM_SCAN binding aliasing (#29750)", the package's vendor/llama.cpp; ggml
0.25.3, ggml_commit() = "0c1e570-dirty", llama_version() = "0.5.0-dev"; the
wheel records no llama.cpp build number and its source tree is a shallow
clone, so none can be derived) — called through ctypes: ``ggml_quantize_chunk`` for encoding and
``dequantize_row_<type>`` for decoding. That library is the non-FMA reference
(spec ggml-quants.md §0.2): its machine code has no FMA instruction, and
``--verify`` checks that it reproduces every case of
quant/testdata/ggml-quants-vectors.json byte for byte (47 of 47 when this file
was generated). The generator refuses to write anything if it does not.

Run (from the repository root):

    /tmp/llvenv/bin/python tests/golden/gen_ggml_random.py [--lib PATH]

Inputs are generated from float32 bit patterns built with integer arithmetic
only (splitmix64 → integer fields → sign/exponent/mantissa, or small integers
converted exactly and scaled by powers of two), so Go reproduces them exactly;
no libm function is involved. The algorithms are documented in
``element_bits`` below and mirrored in quant/golden_random_test.go.
"""

import argparse
import ctypes
import ctypes.util
import hashlib
import json
import os
import sys

import numpy as np

M64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15

TYPES = {  # name: (ggml id, block size, block bytes)
    "Q4_0": (2, 32, 18), "Q4_1": (3, 32, 20), "Q5_0": (6, 32, 22), "Q5_1": (7, 32, 24),
    "Q8_0": (8, 32, 34), "Q2_K": (10, 256, 84), "Q3_K": (11, 256, 110), "Q4_K": (12, 256, 144),
    "Q5_K": (13, 256, 176), "Q6_K": (14, 256, 210), "Q8_K": (15, 256, 292),
    "IQ4_NL": (20, 32, 18), "IQ4_XS": (23, 256, 136),
    "TQ1_0": (34, 256, 54), "TQ2_0": (35, 256, 66), "MXFP4": (39, 32, 17), "NVFP4": (40, 64, 36),
    "Q1_0": (41, 128, 18), "Q2_0": (42, 64, 18),
    "IQ3_XXS": (18, 256, 98), "IQ3_S": (21, 256, 110),
    "IQ2_XXS": (16, 256, 66), "IQ2_XS": (17, 256, 74), "IQ2_S": (22, 256, 82),
    "IQ1_S": (19, 256, 50), "IQ1_M": (29, 256, 56),
}
QUANT_TYPES = ["Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL",
               "IQ4_XS", "IQ3_XXS", "IQ3_S"]
# the IQ2/IQ1 family (grids with neighbour lists, quant/iqgrid.go)
IQ_LOWBIT_TYPES = ["IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ1_S", "IQ1_M"]
QUANT_TYPES += IQ_LOWBIT_TYPES
# ggml_quantize_requires_imatrix: ggml_quantize_chunk asserts an imatrix for
# them, so they have cases with one only (Wick refuses them without one)
REQUIRES_IMATRIX = ["IQ2_XXS", "IQ2_XS", "IQ1_S"]
DEQUANT_ONLY = ["Q8_K"]
# the ternary, FP4 and 1/2-bit types: the common distributions, then the
# adversarial ones of EXTRA_DISTS (cases numbered on their own, so that the
# cases of the types above stay as they were)
SMALL_TYPES = ["TQ1_0", "TQ2_0", "MXFP4", "NVFP4", "Q1_0", "Q2_0"]
EXTRA_DISTS = ["tiny", "edges"]
DISTS = ["normal", "heavy", "outliers", "nearzero", "ints", "wide", "huge"]
# types that also get the "adversarial" distribution
ADVERSARIAL_TYPES = ["IQ4_XS", "IQ3_XXS", "IQ3_S"] + IQ_LOWBIT_TYPES
# types whose ggml encoder can abort the process (a GGML_ASSERT on a NaN
# scale, reached by finite values whose squares overflow): their cases run
# in a child process, and a case ggml aborts on is recorded as "aborts"
ABORTING_TYPES = ["IQ3_XXS", "IQ3_S"] + IQ_LOWBIT_TYPES
SHAPES = [(8, 256), (4, 512), (2, 768), (2, 1024), (1, 4096), (3, 3072), (5, 1280)]


def splitmix64(seed, n):
    """The first n outputs of splitmix64 started at state = seed (uint64 array)."""
    with np.errstate(over="ignore"):
        z = (np.uint64(seed) + np.arange(1, n + 1, dtype=np.uint64) * np.uint64(GOLDEN))
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def mix1(v):
    """splitmix64's finalizer of one integer (used to hash block indices)."""
    v = (v + GOLDEN) & M64
    v = ((v ^ (v >> 30)) * 0xBF58476D1CE4E5B9) & M64
    v = ((v ^ (v >> 27)) * 0x94D049BB133111EB) & M64
    return v ^ (v >> 31)


def f32_from_int_scaled(a, shift):
    """float32(a) * 2**shift for integers |a| < 2**24: exact (stays normal)."""
    return (a.astype(np.float32) * np.float32(2.0 ** shift)).astype(np.float32)


def element_bits(dist, seed, rows, n_per_row):
    """float32 inputs of a case, as uint32 bit patterns (rows*n_per_row)."""
    n = rows * n_per_row
    r = splitmix64(seed, n)
    def u16(k):
        return ((r >> np.uint64(16 * k)) & np.uint64(0xFFFF)).astype(np.int64)
    idx = np.arange(n, dtype=np.int64)
    col = idx % n_per_row
    row = idx // n_per_row
    # Irwin-Hall(3) of 16-bit fields: bell-shaped integers in [-98302, 98303]
    bell = u16(0) + u16(1) + u16(2) - 98302
    flags = u16(3)
    if dist == "normal":
        # per-row magnitude 2**(-24 + row % 5)
        out = np.empty(n, np.float32)
        for s in range(5):
            m = row % 5 == s
            out[m] = f32_from_int_scaled(bell[m], -24 + s)
        return out.view(np.uint32)
    if dist == "heavy":
        # |x| = 2**(e-127) * 1.mantissa with e = 115 + trailing zeros of a
        # 40-bit field: P(|x| > t) ~ 1/t, a Cauchy-like tail up to 2**28
        mant = (r & np.uint64(0x7FFFFF)).astype(np.uint64)
        sign = (r >> np.uint64(23)) & np.uint64(1)
        field = ((r >> np.uint64(24)) & np.uint64((1 << 40) - 1)) | np.uint64(1 << 40)
        tz = np.zeros(n, np.uint64)
        f = field.copy()
        for _ in range(41):
            z = (f & np.uint64(1)) == 0
            tz += z.astype(np.uint64)
            f = np.where(z, f >> np.uint64(1), f | np.uint64(1 << 41))  # stop counting
        e = np.uint64(115) + tz
        return ((sign << np.uint64(31)) | (e << np.uint64(23)) | mant).astype(np.uint32)
    if dist == "outliers":
        # bell * 2**-22; columns with mix1(seed ^ col) % 61 == 0 are 2**9 times
        # larger, and one element in 1024 (flags % 1024 == 7) 2**13 times
        out = f32_from_int_scaled(bell, -22)
        colhot = np.array([mix1(seed ^ c) % 61 == 0 for c in range(n_per_row)])
        hot = colhot[col]
        out[hot] = out[hot] * np.float32(512.0)
        spike = flags % 1024 == 7
        out[spike] = out[spike] * np.float32(8192.0)
        return out.view(np.uint32)
    if dist == "nearzero":
        # each 16-element group has a kind k = mix1(seed + group) % 8:
        # 0 zeros, 1 negative zeros, 2 bell*2**-80 (~1e-20, below 1e-15),
        # 3 random subnormals, 4 bell*2**-66 (around 1e-15),
        # 5 one constant (bell of the group's first element * 2**-20),
        # 6 a single nonzero element (bell*2**-20 where flags % 16 == 0),
        # 7 bell*2**-20
        g = idx // 16
        kinds = np.array([mix1(seed + int(k)) % 8 for k in range(n // 16)], dtype=np.int64)[g]
        sub = (r & np.uint64(0x807FFFFF)).astype(np.uint32)
        out = np.zeros(n, np.uint32)
        def sel(k):
            return kinds == k
        out[sel(1)] = np.uint32(0x80000000)
        out[sel(2)] = f32_from_int_scaled(bell[sel(2)], -80).view(np.uint32)
        out[sel(3)] = sub[sel(3)]
        out[sel(4)] = f32_from_int_scaled(bell[sel(4)], -66).view(np.uint32)
        first = bell[(g * 16)]
        out[sel(5)] = f32_from_int_scaled(first[sel(5)], -20).view(np.uint32)
        single = sel(6) & (flags % 16 == 0)
        out[single] = f32_from_int_scaled(bell[single], -20).view(np.uint32)
        out[sel(7)] = f32_from_int_scaled(bell[sel(7)], -20).view(np.uint32)
        return out
    if dist == "ints":
        # small integers and half-integers: exact ties everywhere
        a = (u16(0) % 17) - 8
        h = (u16(1) % 33) - 16
        out = np.where(flags % 2 == 0, a.astype(np.float32),
                       (h.astype(np.float32) * np.float32(0.5))).astype(np.float32)
        return out.view(np.uint32)
    if dist == "wide":
        # random sign and mantissa, exponent uniform in [67, 147] (2**-60 .. 2**20)
        mant = r & np.uint64(0x807FFFFF)
        e = np.uint64(67) + ((r >> np.uint64(24)) % np.uint64(81))
        return (mant | (e << np.uint64(23))).astype(np.uint32)
    if dist == "tiny":
        # each 32-element group has a kind k = mix1(seed + group) % 4:
        # 0 random subnormals; 1 random subnormals, one element in four zero;
        # 2 normals with exponent field 1..8 (2**-126 .. 2**-118);
        # 3 subnormals in [2**-127, 2**-126) (mantissa bit 22 set)
        g = idx // 32
        kinds = np.array([mix1(seed + int(k)) % 4 for k in range(n // 32)], dtype=np.int64)[g]
        sub = (r & np.uint64(0x807FFFFF)).astype(np.uint32)
        out = sub.copy()
        out[(kinds == 1) & (flags % 4 == 0)] = 0
        e = (np.uint64(1) + ((r >> np.uint64(24)) % np.uint64(8))).astype(np.uint32)
        out[kinds == 2] = (sub | (e << np.uint32(23)))[kinds == 2]
        out[kinds == 3] = (sub | np.uint32(0x00400000))[kinds == 3]
        return out
    if dist == "edges":
        # block maxima at and just below powers of two: each 16-element group
        # has an exponent field E = 107 + mix1(seed ^ group) % 41 (2**-20 ..
        # 2**20); an element with flags % 4 == 0 is 2**(E-127) minus
        # (flags >> 2) % 6 ulps, the others have a random mantissa and an
        # exponent 1 .. 3 below E; random signs
        g = idx // 16
        E = np.array([107 + mix1(seed ^ int(k)) % 41 for k in range(n // 16)], dtype=np.int64)[g]
        sign = ((r >> np.uint64(63)) << np.uint64(31)).astype(np.int64)
        top = (E << 23) - ((flags >> 2) % 6)
        low = ((E - 1 - (flags >> 4) % 3) << 23) | (r & np.uint64(0x7FFFFF)).astype(np.int64)
        return (np.where(flags % 4 == 0, top, low) | sign).astype(np.uint32)
    if dist == "adversarial":
        # each 256-element super-block has a kind k = mix1(seed + 31*block) % 8:
        # 0 zeros; 1 bell*2**-20 with one spike of +-2**40 (sign flags % 2) at
        # position mix1(seed ^ (block + 0x5A5A)) % 256; 2 one constant (bell of
        # the block's first element * 2**-20); 3 tiny, bell*2**-100 (squares
        # underflow to 0); 4 negative only, -|bell|*2**-20; 5 first half zeros,
        # then bell*2**-20; 6 odd 32-element sub-blocks zero, others
        # bell*2**-20; 7 random subnormals
        g = idx // 256
        nb = n // 256
        kinds = np.array([mix1(seed + 31 * k) % 8 for k in range(nb)], dtype=np.int64)[g]
        spos = np.array([mix1(seed ^ (k + 0x5A5A)) % 256 for k in range(nb)], dtype=np.int64)[g]
        base = f32_from_int_scaled(bell, -20)
        out = base.view(np.uint32).copy()
        def sel(k):
            return kinds == k
        out[sel(0)] = 0
        spike = sel(1) & (idx % 256 == spos)
        out[spike] = np.where(flags[spike] % 2 == 0, np.float32(2.0 ** 40),
                              np.float32(-(2.0 ** 40))).astype(np.float32).view(np.uint32)
        out[sel(2)] = base[g * 256][sel(2)].view(np.uint32)
        out[sel(3)] = f32_from_int_scaled(bell[sel(3)], -100).view(np.uint32)
        out[sel(4)] = f32_from_int_scaled(-np.abs(bell[sel(4)]), -20).view(np.uint32)
        out[sel(5) & (idx % 256 < 128)] = 0
        out[sel(6) & ((idx % 256) // 32 % 2 == 1)] = 0
        out[sel(7)] = (r[sel(7)] & np.uint64(0x807FFFFF)).astype(np.uint32)
        return out
    if dist == "huge":
        # random sign and mantissa, exponent uniform in [230, 254] (2**103 .. 2**127)
        mant = r & np.uint64(0x807FFFFF)
        e = np.uint64(230) + ((r >> np.uint64(24)) % np.uint64(25))
        return (mant | (e << np.uint64(23))).astype(np.uint32)
    raise ValueError(dist)


def imatrix_bits(seed, n):
    """Positive importance weights 1.m * 2**(-4..4); one in 50 is zero."""
    r = splitmix64(seed, n)
    mant = r & np.uint64(0x7FFFFF)
    e = np.uint64(123) + ((r >> np.uint64(23)) % np.uint64(9))
    bits = (mant | (e << np.uint64(23))).astype(np.uint32)
    bits[((r >> np.uint64(40)) % np.uint64(50)) == 0] = 0
    return bits


def random_bytes(seed, nbytes):
    """nbytes of splitmix64 output, little-endian."""
    return splitmix64(seed, (nbytes + 7) // 8).astype("<u8").tobytes()[:nbytes]


def canon_nan(f32):
    """float32 array → uint32 bits with every NaN replaced by 0x7FC00000."""
    bits = f32.view(np.uint32).copy()
    bits[np.isnan(f32)] = 0x7FC00000
    return bits


class GGML:
    def __init__(self, path):
        self.lib = ctypes.CDLL(path)
        L = self.lib
        L.ggml_quantize_chunk.restype = ctypes.c_size_t
        L.ggml_quantize_chunk.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p,
                                          ctypes.c_int64, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
        L.ggml_commit.restype = ctypes.c_char_p
        L.ggml_quantize_init.restype = None
        L.ggml_quantize_init.argtypes = [ctypes.c_int]
        L.ggml_version.restype = ctypes.c_char_p

    def quantize_or_abort(self, name, x, rows, n_per_row, imatrix):
        """quantize in a child process: the bytes, or None if ggml aborted."""
        # build the type's tables (ggml_quantize_init) here, once, not in every child
        self.lib.ggml_quantize_init(TYPES[name][0])
        rfd, wfd = os.pipe()
        pid = os.fork()
        if pid == 0:  # child
            os.close(rfd)
            null = os.open(os.devnull, os.O_WRONLY)  # ggml's abort message and gdb backtrace
            os.dup2(null, 1)
            os.dup2(null, 2)
            try:
                q = self.quantize(name, x, rows, n_per_row, imatrix)
                with os.fdopen(wfd, "wb") as f:
                    f.write(q)
            finally:
                os._exit(0)
        os.close(wfd)
        with os.fdopen(rfd, "rb") as f:
            data = f.read()
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status):
            return None
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
        return data

    def quantize(self, name, x, rows, n_per_row, imatrix):
        tid, bs, bb = TYPES[name]
        out = np.zeros(rows * n_per_row // bs * bb, np.uint8)
        x = np.ascontiguousarray(x, np.float32)
        im = None if imatrix is None else np.ascontiguousarray(imatrix, np.float32)
        n = self.lib.ggml_quantize_chunk(tid, x.ctypes.data, out.ctypes.data, 0, rows, n_per_row,
                                         None if im is None else im.ctypes.data)
        assert n == out.size
        return out.tobytes()

    def dequantize(self, name, data, n):
        fn = getattr(self.lib, "dequantize_row_" + name.lower().replace("_k", "_K"))
        fn.restype = None
        fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
        buf = np.frombuffer(data, np.uint8).copy()
        out = np.zeros(n, np.float32)
        fn(buf.ctypes.data, out.ctypes.data, n)
        return out


def log2f_floor_thresholds():
    """floorf(log2f(x)) of the C library llama.cpp calls (MXFP4's block
    exponent): for every k from -149 to 127, the bits of the smallest
    positive float32 x with floorf(log2f(x)) >= k (log2f is monotonic)."""
    libm = ctypes.CDLL(ctypes.util.find_library("m"))
    libm.log2f.restype = ctypes.c_float
    libm.log2f.argtypes = [ctypes.c_float]

    def fl(bits):
        return np.floor(np.float32(libm.log2f(np.uint32(bits).view(np.float32))))

    out = []
    for k in range(-149, 128):
        lo, hi = 1, 0x7F7FFFFF  # fl(hi) >= k always; find the first bits with fl >= k
        while lo < hi:
            mid = (lo + hi) // 2
            if fl(mid) >= k:
                hi = mid
            else:
                lo = mid + 1
        out.append(f"{lo:08x}")
    return {"from_k": -149, "bits": out, "libm": ctypes.util.find_library("m")}


def verify_vectors(g, path):
    v = json.load(open(path))
    imx = np.array([int(h, 16) for h in v["imatrix"]["values_f32_bits"]], np.uint32).view(np.float32)
    bad = 0
    for c in v["cases"]:
        if c["type"] not in TYPES:
            continue  # F16/BF16
        inp = v["inputs"][c["input"]]
        x = np.array([int(h, 16) for h in inp["f32_bits"]], np.uint32).view(np.float32)
        got = g.quantize(c["type"], x, inp["nrows"], inp["n_per_row"], imx if c["imatrix"] else None)
        if got.hex() != c["bytes_hex"]:
            bad += 1
            print("vectors mismatch:", c["type"], c["input"], c["imatrix"], file=sys.stderr)
        if c.get("dequant_f32_bits"):
            d = g.dequantize(c["type"], got, inp["nrows"] * inp["n_per_row"]).view(np.uint32)
            if [f"{u:08x}" for u in d] != c["dequant_f32_bits"]:
                bad += 1
                print("vectors dequant mismatch:", c["type"], c["input"], file=sys.stderr)
    return bad, sum(1 for c in v["cases"] if c["type"] in TYPES)


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lib", default="/tmp/llvenv/lib/python3.11/site-packages/llama_cpp/lib/libggml-base.so")
    ap.add_argument("--out", default=os.path.join(root, "quant/testdata/ggml-random-golden.json"))
    ap.add_argument("--verify", action="store_true", help="only check the vectors file")
    args = ap.parse_args()

    g = GGML(args.lib)
    bad, total = verify_vectors(g, os.path.join(root, "quant/testdata/ggml-quants-vectors.json"))
    print(f"vectors file: {total - bad}/{total} quantized cases reproduced", file=sys.stderr)
    if bad or args.verify:
        sys.exit(1 if bad else 0)

    cases = []
    k = 0
    for name in QUANT_TYPES:
        tid, bs, bb = TYPES[name]
        dists = DISTS + (["adversarial"] if name in ADVERSARIAL_TYPES else [])
        for di, dist in enumerate(dists):
            for with_im in (False, True):
                if not with_im and name in REQUIRES_IMATRIX:
                    continue
                rows, npr = SHAPES[k % len(SHAPES)]
                k += 1
                seed = mix1(1000003 * tid + 7919 * di + (1 if with_im else 0))
                im_seed = mix1(seed ^ 0x1F2E3D4C) if with_im else None
                cases.append((name, dist, rows, npr, seed, im_seed))
        # one larger case per type and imatrix setting
        for with_im in (False, True):
            if not with_im and name in REQUIRES_IMATRIX:
                continue
            seed = mix1(77 * tid + (5 if with_im else 3))
            cases.append((name, "normal", 32, 2048, seed, mix1(seed + 1) if with_im else None))
    k = 0
    for name in SMALL_TYPES:
        tid, bs, bb = TYPES[name]
        for di, dist in enumerate(DISTS + EXTRA_DISTS):
            for with_im in (False, True):
                rows, npr = SHAPES[k % len(SHAPES)]
                k += 1
                seed = mix1(2000003 * tid + 7919 * di + (1 if with_im else 0))
                im_seed = mix1(seed ^ 0x1F2E3D4C) if with_im else None
                cases.append((name, dist, rows, npr, seed, im_seed))

    out_cases = []
    for name, dist, rows, npr, seed, im_seed in cases:
        tid, bs, bb = TYPES[name]
        x = element_bits(dist, seed, rows, npr).view(np.float32)
        im = None if im_seed is None else imatrix_bits(im_seed, npr).view(np.float32)
        inputs = x.view(np.uint32).astype("<u4").tobytes()
        if im is not None:
            inputs += im.view(np.uint32).astype("<u4").tobytes()
        if name in ABORTING_TYPES:
            q = g.quantize_or_abort(name, x, rows, npr, im)
            if q is None:
                out_cases.append({
                    "type": name, "dist": dist, "rows": rows, "n_per_row": npr, "seed": seed,
                    "imatrix_seed": im_seed, "input_sha256": hashlib.sha256(inputs).hexdigest(),
                    "aborts": True,
                })
                continue
        else:
            q = g.quantize(name, x, rows, npr, im)
        deq = g.dequantize(name, q, rows * npr)
        out_cases.append({
            "type": name, "dist": dist, "rows": rows, "n_per_row": npr, "seed": seed,
            "imatrix_seed": im_seed,
            "input_sha256": hashlib.sha256(inputs).hexdigest(),
            "sha256": hashlib.sha256(q).hexdigest(),
            "first_block": q[:bb].hex(),
            "dequant_sha256": hashlib.sha256(canon_nan(deq).astype("<u4").tobytes()).hexdigest(),
        })

    deq_cases = []
    for name in QUANT_TYPES + DEQUANT_ONLY + SMALL_TYPES:
        tid, bs, bb = TYPES[name]
        nblocks = 512 if name in IQ_LOWBIT_TYPES else 64  # reach most grid points
        seed = mix1(0xDE0 + tid)
        data = random_bytes(seed, nblocks * bb)
        deq = g.dequantize(name, data, nblocks * bs)
        deq_cases.append({"type": name, "blocks": nblocks, "seed": seed,
                          "dequant_sha256": hashlib.sha256(canon_nan(deq).astype("<u4").tobytes()).hexdigest()})

    doc = {
        "note": "Generated by tests/golden/gen_ggml_random.py from llama.cpp's libggml-base.so; do not edit.",
        "generator": "tests/golden/gen_ggml_random.py",
        "reference": {"package": "llama-cpp-python 0.3.36", "llama_cpp_commit": "0c1e570",
                      "ggml_version": g.lib.ggml_version().decode(),
                      "ggml_commit": g.lib.ggml_commit().decode(), "llama_version": "0.5.0-dev",
                      "vectors_reproduced": f"{total - bad}/{total}"},
        "prng": "splitmix64, state = seed + k*0x9E3779B97F4A7C15 for output k = 1, 2, ...",
        "aborts": "a case with aborts: true is one on which ggml's encoder aborted the process (GGML_ASSERT)",
        "sha256_of": "input: float32 bits of x then of the imatrix (little-endian); quantize: the encoded bytes; dequantize: float32 bits (little-endian), every NaN as 0x7FC00000",
        "cases": out_cases,
        "dequant_cases": deq_cases,
        "log2f_floor_thresholds": log2f_floor_thresholds(),
    }
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=0, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {len(out_cases)} quantize and {len(deq_cases)} dequantize cases to {args.out} "
          f"({os.path.getsize(args.out)} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
