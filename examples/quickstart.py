#!/usr/bin/env python3
"""Wick in one screen: quantize a weight matrix to every type Wick can write,
check the bytes against the `gguf` package's reference, and report size and error.

    .venv/bin/python examples/quickstart.py     # after `make setup lib`

(``make demo`` converts the demo model instead; examples/quickstart.ipynb is
the notebook tour of a conversion.)
"""

from __future__ import annotations

import time

import numpy as np

import wick


def main() -> None:
    rng = np.random.default_rng(0)
    # A Llama-sized projection matrix: 2048 rows of 8192 weights, N(0, 0.02).
    w = (rng.standard_normal((2048, 8192)) * 0.02).astype(np.float32)
    try:
        from gguf import GGMLQuantizationType as T
        from gguf import quants as reference
    except ImportError:  # the demo works without the reference, it just can't compare
        reference = None

    print(f"wick {wick.__version__}: quantizing a {w.shape[0]}×{w.shape[1]} float32 matrix "
          f"({w.nbytes / 2**20:.0f} MiB) on {wick.max_threads()} threads\n")
    print(f"{'type':<7} {'bits/w':>6} {'MiB':>7} {'ms':>7} {'RMSE':>10} {'SNR dB':>7}  same bytes as gguf?")
    for t in wick.types():
        if not t.can_quantize:
            continue
        # IQ2_XXS, IQ2_XS and IQ1_S need an importance matrix (ggml refuses them
        # without one); a flat one stands in for real activation statistics here
        imatrix = None
        t0 = time.perf_counter()
        try:
            q = wick.quantize(w, t)
        except wick.WickValueError:
            imatrix = np.ones(w.shape[1], np.float32)
            t0 = time.perf_counter()
            q = wick.quantize(w, t, imatrix=imatrix)
        ms = (time.perf_counter() - t0) * 1e3
        back = wick.dequantize(q, t, w.shape)
        err = (back - w).astype(np.float64)
        rmse = float(np.sqrt(np.mean(err**2)))
        noise = float(np.sum(err**2))
        snr = 10 * np.log10(np.sum(w.astype(np.float64) ** 2) / noise) if noise > 0 else float("inf")
        same = "—"
        if imatrix is not None:
            same = "(imatrix: not in gguf)"
        elif reference is not None:
            try:
                ref = np.ascontiguousarray(reference.quantize(w, T[t.name])).view(np.uint8).reshape(q.shape)
                same = "yes" if np.array_equal(ref, q) else "NO"
            except (NotImplementedError, KeyError):  # gguf has no quantizer, or no such type (Q2_0)
                same = "(no numpy reference)"
        snr_s = f"{snr:7.1f}" if np.isfinite(snr) else "    inf"
        print(f"{t.name:<7} {t.bits_per_weight:>6.2f} {q.nbytes / 2**20:>7.2f} {ms:>7.1f} {rmse:>10.3e} {snr_s}  {same}")


if __name__ == "__main__":
    main()
