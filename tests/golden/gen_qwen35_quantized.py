"""Generate tests/golden/qwen35_quantized.json: what the pinned converter makes of Qwen3.5 checkpoints
with quantized weights — NVFP4 linear-attention projections (its
``_LinearAttentionVReorderBase._transform_nvfp4_weight`` re-orders the value heads of the packed blocks)
and block FP8 (dequantized before the value-head re-ordering).

Run by hand from the repository root (output committed; a minute)::

    nice -n 10 .venv/bin/python tests/golden/gen_qwen35_quantized.py

The model directories come from tests/arch_fixtures/qwen35.py ``write_quantized_variant`` (the ``qwen35``
fixture with weights from tests/quantized_models.py's builders). The pinned
``convert_hf_to_gguf.py`` runs in the interpreter named by ``WICK_REFVENV_PYTHON`` (default
``/work/refvenv/bin/python``: torch 2.11, transformers 4.57.6) through tests/golden/_arch_convert_driver.py
(pre-tokenizer ``qwen35``, as for the fixture), with ``--outtype f32``, ``f16``, ``bf16`` and ``q8_0``.
Recorded per variant: the SHA-256 of each file (the NVFP4 blocks pass through, so these are also the
targets Wick makes directly). Variants:

* ``rows``: in_proj_qkv / z / b / a in NVFP4 (rows re-ordered per value head: whole block rows);
* ``out_proj``: out_proj too, whose *columns* the converter re-orders (packed codes in 16-column groups,
  with their scales): whole 64-element GGUF NVFP4 blocks when the value head dimension is a multiple of 64,
  which Wick gathers within each row;
* ``fp8``: every 2-D layer weight block FP8 (``weight_scale_inv``).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).with_name("qwen35_quantized.json")
LLAMA_CPP = "/work/ref/llama_cpp_python-0.3.36/vendor/llama.cpp"
OUTTYPES = {"F32": "f32", "F16": "f16", "BF16": "bf16", "Q8_0": "q8_0"}
sys.path.insert(0, str(ROOT / "tests"))

from arch_fixtures.qwen35 import QUANTIZED_VARIANTS, write_quantized_variant  # noqa: E402


def convert(model: Path, tmp: Path) -> dict:
    py = os.environ.get("WICK_REFVENV_PYTHON", "/work/refvenv/bin/python")
    jobs = {t: tmp / f"{t}.gguf" for t in OUTTYPES}
    p = subprocess.run([py, str(ROOT / "tests" / "golden" / "_arch_convert_driver.py"), LLAMA_CPP,
                        str(tmp / "driver.json"), "qwen35", str(model),
                        *[f"{OUTTYPES[t]}={path}" for t, path in jobs.items()]],
                       capture_output=True, text=True, cwd=str(tmp),
                       env=dict(os.environ, PYTHONHASHSEED="0", CUDA_VISIBLE_DEVICES=""))
    if p.returncode != 0:
        raise RuntimeError(f"convert_hf_to_gguf failed for {model}:\n{p.stderr[-2000:]}")
    return {t: hashlib.sha256(path.read_bytes()).hexdigest() for t, path in jobs.items()}


def main() -> None:
    result = {"generator": "tests/golden/gen_qwen35_quantized.py",
              "command": "nice -n 10 .venv/bin/python tests/golden/gen_qwen35_quantized.py",
              "llama_cpp_commit": "0c1e570", "variants": {}}
    for name in QUANTIZED_VARIANTS:
        with tempfile.TemporaryDirectory(prefix=f"qwen35-quantized-{name}-") as tmp:
            tmp = Path(tmp)
            model = write_quantized_variant(tmp / "model", name)
            files = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(model.iterdir())}
            result["variants"][name] = {"files": files, "targets": convert(model, tmp)}
        print(f"{name}: done", file=sys.stderr)
    OUT.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
