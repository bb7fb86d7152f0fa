#!/usr/bin/env python3
"""Write an FP8 (DeepSeek/Qwen-style, 128x128 block scales) Llama-3.2-1B-shaped
model and its exact bfloat16 twin (for the quantized-input benchmark).

    python bench/make_synthetic_fp8.py FP8_DIR BF16_DIR [--layers 16] [--seed 0]

Same names, shapes, config and tokenizer as bench/make_synthetic_1b.py. In
FP8_DIR every linear weight is float8 e4m3 (random codes of exponent 5..8,
|value| 0.25..3.75) with one power-of-two ``weight_scale_inv`` per 128x128
block (2^-9 .. 2^-7) and config.json's ``quantization_config`` says
``quant_method: fp8``; embeddings and norms are bfloat16. BF16_DIR holds the
same weights in bfloat16: an e4m3 value times a power of two is exact in
bfloat16, so both checkpoints describe the same model and their conversions
must be byte-identical. Written in row chunks: memory stays small. Needs only
numpy. Neither output is committed.
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import make_synthetic_1b as s1b  # noqa: E402


def e4m3_table() -> np.ndarray:
    """float32 value of every e4m3fn code (normal and subnormal; NaN codes unused here)."""
    out = np.zeros(256, np.float32)
    for c in range(256):
        s, e, m = c >> 7, (c >> 3) & 15, c & 7
        v = (m / 8) * 2.0 ** -6 if e == 0 else (1 + m / 8) * 2.0 ** (e - 7)
        out[c] = -v if s else v
    return out


def writer(path: Path, entries: List[Tuple[str, str, Tuple[int, ...]]]):
    header: Dict[str, object] = {"__metadata__": {"format": "pt"}}
    off = 0
    size = {"BF16": 2, "F8_E4M3": 1, "F32": 4}
    for name, dt, shape in entries:
        nb = int(np.prod(shape)) * size[dt]
        header[name] = {"dtype": dt, "shape": list(shape), "data_offsets": [off, off + nb]}
        off += nb
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    f = open(path, "wb")
    f.write(struct.pack("<Q", len(raw)))
    f.write(raw)
    return f


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("fp8", type=Path)
    ap.add_argument("bf16", type=Path)
    ap.add_argument("--layers", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    cfg = dict(s1b.CONFIG, num_hidden_layers=a.layers)
    specs = s1b.tensor_specs(cfg)
    for d, qc in ((a.fp8, {"quant_method": "fp8", "fmt": "e4m3", "activation_scheme": "dynamic",
                           "weight_block_size": [128, 128]}), (a.bf16, None)):
        d.mkdir(parents=True, exist_ok=True)
        (d / "config.json").write_text(json.dumps(dict(cfg, quantization_config=qc) if qc else cfg, indent=2) + "\n")
        s1b.write_tokenizer(d, a.seed)
    quantized = [(n, sh) for n, sh in specs if len(sh) == 2 and "embed_tokens" not in n]
    plain = [(n, sh) for n, sh in specs if (n, sh) not in quantized]
    fp8_entries = [(n, "BF16", sh) for n, sh in plain]
    for n, (r, c) in quantized:
        fp8_entries += [(n, "F8_E4M3", (r, c)), (n + "_scale_inv", "F32", (-(-r // 128), -(-c // 128)))]
    fp8_entries.sort()
    bf16_entries = sorted((n, "BF16", sh) for n, sh in specs)
    table = e4m3_table()
    rng = np.random.default_rng(a.seed)
    # both files list the same names in the same (sorted) order, the fp8 one
    # with each scale right after its weight: write them side by side
    f8 = writer(a.fp8 / "model.safetensors", fp8_entries)
    bf = writer(a.bf16 / "model.safetensors", bf16_entries)
    scale = None
    for name, dt, shape in fp8_entries:
        if name.endswith("_scale_inv"):
            f8.write(scale.astype("<f4").tobytes())
            continue
        if dt == "BF16":
            for buf in s1b.chunks(name, shape, rng):
                f8.write(buf)
                bf.write(buf)
            continue
        r, c = shape
        scale = (2.0 ** -rng.integers(7, 10, size=(-(-r // 128), -(-c // 128)))).astype(np.float32)
        for r0 in range(0, r, 1024):
            r1 = min(r, r0 + 1024)
            b = rng.integers(0, 256, size=(r1 - r0, c), dtype=np.uint8)
            codes = (b & 0x87) | ((((b >> 3) & 3) + 5) << 3).astype(np.uint8)
            f8.write(codes.tobytes())
            full = np.repeat(np.repeat(scale[r0 // 128: -(-r1 // 128)], 128, 0), 128, 1)[: r1 - r0, :c]
            vals = table[codes] * full  # exact: a power of two times an e4m3 value
            bf.write((vals.view(np.uint32) >> np.uint32(16)).astype("<u2").tobytes())
    f8.close()
    bf.close()
    print(f"wrote {a.fp8} and {a.bf16}")


if __name__ == "__main__":
    main()
