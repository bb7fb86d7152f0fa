"""A deterministic importance matrix for the demo model (examples/make_tiny_llama.py).

The targets llama-quantize refuses to make without an importance matrix
(IQ1_*, IQ2_*, IQ3_XXS, Q2_K_S, ...) are made from the demo model with this
one, both by tests/golden/gen_tiny_gguf_sha256.py (through llama.cpp) and by
the tests that compare Wick's file with that golden. It is a legacy ``.dat``
file as llama-imatrix's ``save_imatrix_legacy`` lays it out, with one entry
per matrix that llama-imatrix would see (the attention and feed-forward
weights of every layer; the demo model ties its output to token_embd, which
llama-imatrix never records), ncall = 1 and weights k/32 for k in 8..71, so
that the weights llama-quantize derives (value / ncall) are exact.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

FILE_NAME = "tiny-llama.imatrix.dat"  # as given on the command line: recorded in quantize.imatrix.file
DATASET = "demo-calibration.txt"
CHUNKS = 1
MATRICES = ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down")


def entries(layers: int = 4, hidden: int = 256, ffn: int = 768) -> dict:
    """GGUF tensor name -> float32 weights (length ne[0] of the tensor)."""
    out = {}
    for i in range(layers):
        for k, m in enumerate(MATRICES):
            n = ffn if m == "ffn_down" else hidden
            j = np.arange(n, dtype=np.int64)
            out[f"blk.{i}.{m}.weight"] = ((8 + (j * 37 + 11 * k + 5 * i) % 64) / 32).astype(np.float32)
    return out


def write(directory: Path, drop: tuple = ()) -> Path:
    """Write the file into ``directory`` and return its path; ``drop``: entries to leave out."""
    es = {k: v for k, v in entries().items() if k not in drop}
    b = struct.pack("<i", len(es))
    for name, v in es.items():
        nb = name.encode()
        b += struct.pack("<i", len(nb)) + nb + struct.pack("<ii", 1, v.size) + v.astype("<f4").tobytes()
    d = DATASET.encode()
    b += struct.pack("<i", CHUNKS) + struct.pack("<i", len(d)) + d
    path = Path(directory) / FILE_NAME
    path.write_bytes(b)
    return path
