"""The inputs of the split goldens (tests/golden/gen_split_goldens.py, tests/test_split.py).

Each case is a single GGUF file written by Wick — the demo model converted,
or the "wide" model requantized — and the arguments llama.cpp's
``llama-gguf-split --split`` is run with on it. The golden records the
SHA-256 of Wick's single file and of every part llama-gguf-split writes; the
test makes the same single file, asks Wick for the split output directly, and
compares.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Dict, List

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

#: name → how the single file is made and how it is split (llama-gguf-split's arguments)
CASES: List[Dict] = [
    # by size: the Q4_K_M demo model (1.96 MB) in parts of at most 1 MB of tensor data
    {"name": "tiny-Q4_K_M-size-1M", "model": "tiny", "target": "Q4_K_M", "args": ["--split-max-size", "1M"]},
    # by tensor count: 39 tensors, 10 a part
    {"name": "tiny-Q8_0-tensors-10", "model": "tiny", "target": "Q8_0", "args": ["--split-max-tensors", "10"]},
    # F16, 2 MB parts
    {"name": "tiny-F16-size-2M", "model": "tiny", "target": "F16", "args": ["--split-max-size", "2M"]},
    # one part holding everything: llama-gguf-split's default of 128 tensors a part
    {"name": "tiny-Q4_K_M-tensors-128", "model": "tiny", "target": "Q4_K_M", "args": ["--split-max-tensors", "128"]},
    # a size that forces one tensor a part: every tensor of the wide model is over half of 1 MB, one is over
    # 1 MB (a part of its own all the same), and one has the dims [250000, 1] (written [250000] in the parts)
    {"name": "wide-F16-size-1M", "model": "wide", "target": "F16", "args": ["--split-max-size", "1M"]},
    # the first tensor alone over the limit: llama-gguf-split refuses to write a part without tensors
    {"name": "wide-F32-size-1M", "model": "wide", "target": "F32", "args": ["--split-max-size", "1M"]},
]

TINY_DIR_NAME = "tiny-llama"


def make_tiny(d: Path) -> Path:
    """The demo model (examples/make_tiny_llama.py) in ``d/tiny-llama``."""
    spec = importlib.util.spec_from_file_location("make_tiny_llama", ROOT / "examples" / "make_tiny_llama.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = d / TINY_DIR_NAME
    if not (out / "model.safetensors").exists():
        mod.make(out)
    return out


# name → numpy shape (row-major) of the wide model's F32 tensors
WIDE_TENSORS = {
    "token_embd.weight": (480, 1024),        # F16: 983,040 bytes
    "blk.0.attn_norm.weight": (1, 250000),   # dims [250000, 1]; 1-D for ggml, stays F32: 1,000,000 bytes
    "blk.0.attn_q.weight": (300, 1024),      # F16: 614,400
    "blk.0.attn_v.weight": (400, 1024),      # F16: 819,200
    "blk.1.ffn_down.weight": (1024, 520),    # F16: 1,064,960, over 1 MB alone
    "blk.1.ffn_up.weight": (520, 1024),      # F16: 1,064,960
    "output.weight": (480, 1024),            # F16: 983,040
}


def make_wide(path: Path) -> Path:
    """The wide model: an F32 GGUF llama-architecture file whose tensors are all
    large (deterministic values), to be requantized by Wick."""
    import wick
    from wick.gguf import values as V

    rng = np.random.default_rng(7)
    metadata = [
        V.string("general.architecture", "llama"),
        V.string("general.name", "wide"),
        V.u32("llama.block_count", 2),
        V.u32("llama.context_length", 128),
        V.u32("llama.embedding_length", 1024),
        V.u32("llama.attention.head_count", 8),
        V.u32("llama.attention.head_count_kv", 8),
    ]
    tensors = {n: (rng.standard_normal(s) * 0.02).astype(np.float32) for n, s in WIDE_TENSORS.items()}
    wick.gguf.write(path, metadata, tensors, overwrite=True)
    return path


def single_file(case: Dict, work: Path, out: Path) -> None:
    """Write the case's single GGUF file to ``out`` with Wick (no split)."""
    import wick
    from wick.convert import requantize_model

    if case["model"] == "tiny":
        wick.convert(make_tiny(work), out, case["target"], overwrite=True)
    else:
        src = work / "wide-f32-input.gguf"
        if not src.exists():
            make_wide(src)
        requantize_model(src, out, case["target"], overwrite=True)


def wick_split_options(args: List[str]) -> Dict:
    """llama-gguf-split's arguments as Wick's options."""
    flag, value = args
    return {"split_max_size": value} if flag == "--split-max-size" else {"split_max_tensors": int(value)}
