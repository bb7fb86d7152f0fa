"""Generate python/wick/convert/gguf_tables.json: llama.cpp's GGUF names, as data.

Run by hand (output committed) with any Python that has numpy and PyYAML, from
the repository root::

    /work/refvenv/bin/python tests/golden/gen_gguf_tables.py [LLAMA_CPP_DIR]

LLAMA_CPP_DIR defaults to /work/ref/llama_cpp_python-0.3.36/vendor/llama.cpp
(the source tree of the pinned llama-cpp-python 0.3.36 = llama.cpp 0c1e570).
The script imports that tree's own gguf-py and writes, without interpreting
anything:

- ``arches``: MODEL_ARCH member name -> architecture string (``LLAMA`` ->
  ``llama``);
- ``tensor_names``: MODEL_TENSOR member name -> GGUF name template
  (``ATTN_Q`` -> ``blk.{bid}.attn_q``);
- ``model_tensors``: architecture string -> the MODEL_TENSOR names it has
  (MODEL_TENSORS), in order;
- ``mappings``, ``block_mappings``: MODEL_TENSOR name -> the Hugging Face
  names TensorNameMap maps to it (``mappings_cfg``, ``block_mappings_cfg``),
  in source order (the order decides which wins when a name is listed twice);
- ``arch_block_mappings``: architecture string -> per-architecture
  replacements of block mappings (``arch_block_mappings_cfg``);
- ``keys``: every GGUF key template of ``gguf.Keys`` (``{arch}.block_count``
  …), by dotted class path.

Why a table instead of importing the ``gguf`` package at run time: the gguf
0.19.0 on the package index predates the pinned tree (its tensor map lacks
hundreds of entries the pinned converter uses, e.g. for Gemma 4 and Qwen3.5,
and its type enum lacks NVFP4/Q1_0/Q2_0), and it needs Python >= 3.10, while
Wick supports 3.9. The table is the pinned tree's data, regenerated with this
script when the pin moves; ``wick.convert.gguf_names`` implements the lookup
(TensorNameMap's semantics) over it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

LLAMA_CPP = Path(sys.argv[1] if len(sys.argv) > 1 else "/work/ref/llama_cpp_python-0.3.36/vendor/llama.cpp")
OUT = Path(__file__).resolve().parents[2] / "python" / "wick" / "convert" / "gguf_tables.json"

sys.path.insert(0, str(LLAMA_CPP / "gguf-py"))
import gguf  # noqa: E402
from gguf.constants import MODEL_ARCH, MODEL_ARCH_NAMES, MODEL_TENSOR, MODEL_TENSORS, TENSOR_NAMES  # noqa: E402
from gguf.tensor_mapping import TensorNameMap  # noqa: E402


def keys_of(cls, prefix: str, out: dict) -> None:
    for name, value in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(value, type):
            keys_of(value, f"{prefix}{name}.", out)
        elif isinstance(value, str):
            out[f"{prefix}{name}"] = value


def main() -> None:
    arch_name = {a: MODEL_ARCH_NAMES[a] for a in MODEL_ARCH}
    keys: dict = {}
    keys_of(gguf.Keys, "", keys)
    tables = {
        "source": "gguf-py of llama.cpp 0c1e570 (the source tree of llama-cpp-python 0.3.36)",
        "arches": {a.name: arch_name[a] for a in MODEL_ARCH},
        "tensor_names": {t.name: TENSOR_NAMES[t] for t in MODEL_TENSOR if t in TENSOR_NAMES},
        "model_tensors": {arch_name[a]: [t.name for t in MODEL_TENSORS[a]] for a in MODEL_ARCH if a in MODEL_TENSORS},
        "mappings": {t.name: list(v) for t, v in TensorNameMap.mappings_cfg.items()},
        "block_mappings": {t.name: list(v) for t, v in TensorNameMap.block_mappings_cfg.items()},
        "arch_block_mappings": {arch_name[a]: {t.name: list(v) for t, v in m.items()}
                                for a, m in TensorNameMap.arch_block_mappings_cfg.items()},
        "keys": keys,
    }
    OUT.write_text(json.dumps(tables, indent=0, sort_keys=False, ensure_ascii=True) + "\n", encoding="utf-8")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
