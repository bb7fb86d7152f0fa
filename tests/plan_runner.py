"""A plain plan interpreter for tests: carries a conversion plan out with
Wick's public numpy API (``wick.gguf`` to read GGUF sources, ``wick.imatrix``
for importance weights, ``wick.quantize`` for the encoding, ``wick.gguf.write``
for the file), one whole tensor at a time.

It follows the plan semantics of ``wick.convert.plan`` literally and exists to
check plans against llama.cpp's output independently of the Go executor
(``wick.convert.execute``), which the same tests run when it is available.
Only what requantization plans use is supported: GGUF sources, no parts or ops.
"""

from __future__ import annotations

import os
from typing import Dict

import numpy as np

import wick
from wick.convert import Plan


def run_plan(plan: Plan, out: str) -> None:
    files: Dict[str, wick.gguf.GGUFFile] = {}
    imatrix = wick.imatrix.open(plan.imatrix_file) if plan.imatrix_file else None
    tensors = {}
    try:
        for t in plan.tensors:
            if len(t.sources) != 1 or t.parts or t.ops or t.data is not None:
                raise NotImplementedError(f"{t.name}: only single-source tensors without parts or ops")
            src = t.sources[0]
            if src.format != "gguf":
                raise NotImplementedError(f"{t.name}: only GGUF sources")
            path = os.path.join(plan.model_dir or "", src.file)
            if path not in files:
                files[path] = wick.gguf.open(path)
            x = np.asarray(files[path].tensor(src.tensor)).astype(np.float32)  # F32/F16/BF16: exact
            ne = list(t.shape)
            ne0 = ne[0]
            rows = x.reshape(-1, ne0)
            if t.imatrix is None:
                q = wick.quantize(rows, t.type)
            else:
                w = imatrix.values(t.imatrix)
                n_mat = w.size // ne0
                per = rows.shape[0] // n_mat  # rows of one expert
                q = np.concatenate([wick.quantize(rows[e * per:(e + 1) * per], t.type, imatrix=w[e * ne0:(e + 1) * ne0])
                                    for e in range(n_mat)])
            tensors[t.name] = wick.gguf.RawTensor(t.type, tuple(reversed(ne)), q.reshape(-1))
        wick.gguf.write(out, plan.metadata, tensors, overwrite=True)
    finally:
        for f in files.values():
            f.close()
