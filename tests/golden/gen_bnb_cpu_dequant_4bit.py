"""What bitsandbytes' CPU path makes of 4-bit codes: tests/golden/bnb_cpu_dequant_4bit.json.

Run by hand, with the reference environment (bitsandbytes 0.50.2 from its
PyPI wheel, torch 2.11.0), on an x86-64 machine with AVX-512F::

    /work/refvenv/bin/python tests/golden/gen_bnb_cpu_dequant_4bit.py

bitsandbytes' ``dequantize_4bit`` on CPU takes one of three kernels:

* ``native-avx512``: the native library's AVX-512 kernel, used when the CPU
  has AVX-512F, the block size is below 2048 and the last dimension is even;
* ``pytorch``: the default PyTorch path (``code[A] * absmax``), used for an
  odd last dimension, and on AVX-512 CPUs for block sizes of 2048 and more;
* ``native-scalar``: the native library's plain loop, used on CPUs without
  AVX-512F for an even last dimension at every block size.

The first two give FP4 code 8 the value +0.0 (the serialized quant_map's),
the scalar loop -0.0 (the CUDA kernel's). The script records the default
dispatch of this machine (native-avx512 / pytorch), then forces the scalar
loop as a CPU without AVX-512F would, by setting the cached answer of the
library's ``has_avx512f()`` to false (two bytes of its .bss, at offsets read
from the symbol table of the exact library file whose SHA-256 is checked
first) and bitsandbytes' ``_has_avx512`` flag to False, and records again.

Inputs are made here and in the test by the same integer formulas (nothing
random): packed byte j = (37 j + 11) mod 256, which hits every code in both
nibbles; absmax of block b = ABSMAX[b mod 6], with a zero and a tiny value.
Each case stores the SHA-256 of the output's bytes and its counts of +0.0 and
-0.0. Shapes: (2, blocksize) (even last dimension) and (1, 2 blocksize + 1)
(odd: three blocks, the last of one element), and at block size 64 also
(384, 2048), an output of more than 1 MiB in every dtype.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import platform
import sys
from pathlib import Path

import bitsandbytes
import bitsandbytes.functional as F
import numpy as np
import torch
from bitsandbytes.backends.cpu import ops as cpu_ops

OUT = Path(__file__).resolve().parent / "bnb_cpu_dequant_4bit.json"
BLOCKSIZES = (32, 64, 128, 256, 512, 1024, 2048, 4096)
ABSMAX = (2.0, 0.5, 0.0, 3.0e-3, 1.25, 7.0)
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
# libbitsandbytes_cpu.so of the bitsandbytes 0.50.2 wheel (manylinux x86-64)
# and the .bss offsets of has_avx512f()'s cached result and guard, both LTO clones.
LIB_SHA256 = "af9faf2914d5492a307892c39769e7340b8b649c214905efc0d1989c8bc9200c"
AVX512F_CACHE = ((0xE178, 0xE170), (0xE158, 0xE150))  # (guard, value)


def shapes(bs: int):
    # block size 64 also gets a (384, 2048) tensor: its output is over 1 MiB in
    # every dtype, so Wick writes it with its streaming (non-temporal) kernels
    return [(2, bs), (1, 2 * bs + 1)] + ([(384, 2048)] if bs == 64 else [])


def inputs(shape, bs):
    n = shape[0] * shape[1]
    packed = ((np.arange((n + 1) // 2, dtype=np.int64) * 37 + 11) % 256).astype(np.uint8)
    nblocks = -(-n // bs)
    absmax = np.array([ABSMAX[b % len(ABSMAX)] for b in range(nblocks)], np.float32)
    return packed, absmax


def run(qt: str, shape, bs: int, dtype: str) -> dict:
    packed, absmax = inputs(shape, bs)
    qs = F.QuantState(absmax=torch.from_numpy(absmax), shape=torch.Size(shape),
                      code=F.get_4bit_type(qt, device="cpu"), blocksize=bs, quant_type=qt, dtype=DTYPES[dtype])
    out = F.dequantize_4bit(torch.from_numpy(packed).reshape(-1, 1), qs)
    assert out.dtype == DTYPES[dtype] and tuple(out.shape) == tuple(shape)
    raw = out.contiguous().view(torch.uint8).numpy().tobytes() if dtype != "float32" else out.numpy().tobytes()
    f = out.float().reshape(-1)
    zero = f == 0
    return {"sha256": hashlib.sha256(raw).hexdigest(),
            "pos_zero": int((zero & ~torch.signbit(f)).sum()), "neg_zero": int((zero & torch.signbit(f)).sum())}


def kernel(shape, bs: int, scalar: bool) -> str:
    if shape[-1] % 2:
        return "pytorch"
    if scalar:
        return "native-scalar"
    return "pytorch" if bs >= 2048 else "native-avx512"


def record(scalar: bool) -> list:
    rows = []
    for qt in ("fp4", "nf4"):
        for bs in BLOCKSIZES:
            for shape in shapes(bs):
                for dtype in DTYPES:
                    rows.append({"quant_type": qt, "blocksize": bs, "shape": list(shape), "dtype": dtype,
                                 "kernel": kernel(shape, bs, scalar), **run(qt, shape, bs, dtype)})
    return rows


def force_scalar_kernel() -> None:
    from bitsandbytes.cextension import lib  # noqa: F401  (loads the library)

    path = next(Path(p.split()[-1]) for p in open("/proc/self/maps") if "libbitsandbytes_cpu.so" in p)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != LIB_SHA256:
        sys.exit(f"{path} has SHA-256 {digest}, not the one whose offsets this script knows")
    base = min(int(line.split("-")[0], 16) for line in open("/proc/self/maps") if "libbitsandbytes_cpu.so" in line)
    for guard, value in AVX512F_CACHE:
        ctypes.c_uint8.from_address(base + guard).value = 1  # "initialised"
        ctypes.c_uint8.from_address(base + value).value = 0  # "no AVX-512F"
    cpu_ops._has_avx512 = False  # what the Python side finds on such a CPU (no fallback at 2048+)


def main() -> None:
    if "--print-lib-hash" in sys.argv:
        from bitsandbytes.cextension import lib  # noqa: F401

        path = next(Path(p.split()[-1]) for p in open("/proc/self/maps") if "libbitsandbytes_cpu.so" in p)
        print(hashlib.sha256(path.read_bytes()).hexdigest())
        return
    if not cpu_ops._has_avx512:
        sys.exit("run this on a CPU with AVX-512F (torch reports " + torch.backends.cpu.get_cpu_capability() + ")")
    default = record(scalar=False)
    force_scalar_kernel()
    scalar = record(scalar=True)
    doc = {
        "generator": "tests/golden/gen_bnb_cpu_dequant_4bit.py",
        "reference": {"bitsandbytes": bitsandbytes.__version__, "torch": torch.__version__,
                      "cpu_capability": torch.backends.cpu.get_cpu_capability(), "machine": platform.machine(),
                      "libbitsandbytes_cpu_sha256": LIB_SHA256},
        "inputs": {"packed": "byte j = (37 j + 11) mod 256", "absmax": list(ABSMAX),
                   "absmax_rule": "block b gets absmax[b mod 6]"},
        "default_dispatch": default,
        "scalar_kernel": scalar,
    }
    OUT.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {OUT}: {len(default)} + {len(scalar)} cases")


if __name__ == "__main__":
    main()
