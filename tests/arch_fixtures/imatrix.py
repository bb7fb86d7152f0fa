"""Synthetic importance-matrix statistics for an architecture fixture's GGUF tensors.

The same numbers feed tests/golden/gen_arch_goldens.py (which writes them with
ggml's own gguf API) and tests/test_arch_goldens.py (which writes them with
Wick's writer, ``requantize_models.write_imatrix_gguf``; the two files must
hash alike).
"""

from __future__ import annotations

from typing import Dict, Sequence, Tuple

import numpy as np
import requantize_models as RM

from ._common import _splitmix

DATASET, CHUNKS, CHUNK_SIZE = RM.IMATRIX_DATASET, RM.IMATRIX_CHUNKS, RM.IMATRIX_CHUNK_SIZE


def covered(name: str, ne: Sequence[int]) -> bool:
    """Whether llama-imatrix would have statistics for this tensor: matrices used in a
    matrix product (not the embedding lookup, not the routers, not 1-D tensors)."""
    return (len(ne) >= 2 and name.endswith(".weight") and name != "token_embd.weight"
            and "ffn_gate_inp" not in name and not name.startswith(("per_layer_token_embd", "rope_")))


def stats_for(tensors: Sequence[Sequence]) -> Dict[str, Tuple[np.ndarray, np.ndarray]]:
    """``name -> (sums (n_mat, ne0), counts (n_mat,))`` for every covered tensor of a GGUF
    tensor listing ``[[name, type, ne, ...], ...]`` (ne in ggml order). Counts are 96/128/160
    tokens; the second expert of an expert tensor saw none."""
    out = {}
    for i, t in enumerate(tensors):
        name, ne = t[0], list(t[2])
        if not covered(name, ne):
            continue
        nmat = ne[2] if len(ne) > 2 else 1
        counts = np.array([96 + 32 * (j % 3) for j in range(nmat)], dtype=np.float32)
        if nmat > 1:
            counts[1] = 0
        r = _splitmix(0xA5A5 + 7919 * i, nmat * ne[0])
        u = ((r >> np.uint64(40)).astype(np.float64) / float(1 << 24)).reshape(nmat, ne[0])
        mean_sq = 0.05 + 4.0 * u * u
        sums = (mean_sq * counts[:, None].astype(np.float64)).astype(np.float32)
        sums[counts == 0] = 0.0
        out[name] = (sums, counts)
    return out
