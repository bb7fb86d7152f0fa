"""Architecture fixtures: small model directories with the real structure of the
Hugging Face checkpoints of issues 10 and 11 (config.json keys and nesting,
tokenizer files, tensor names, shapes and dtypes), sizes shrunk.

Each family module defines ``fixtures() -> list[Fixture]``; :func:`all_fixtures`
lists them in a fixed order and :func:`build` writes one::

    from arch_fixtures import build
    model_dir = build("gemma2", tmp_path)

tests/golden/gen_arch_goldens.py converts them with the pinned llama.cpp and
records the results in tests/golden/arch_goldens.json.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Dict, List

from ._common import Fixture, file_hashes

__all__ = ["Fixture", "all_fixtures", "build", "by_name", "file_hashes", "FAMILY_MODULES"]

FAMILY_MODULES = ["gemma", "phi3", "mistral3", "olmo", "granite", "smollm3", "cohere2", "exaone4", "ernie",
                  "qwen_moe", "qwen35", "deepseek", "glm", "gpt_oss", "llama4", "control"]


def all_fixtures() -> List[Fixture]:
    out: List[Fixture] = []
    for m in FAMILY_MODULES:
        try:
            mod = importlib.import_module(f"{__name__}.{m}")
        except ModuleNotFoundError as e:
            if e.name == f"{__name__}.{m}":
                continue
            raise
        out += mod.fixtures()
    names = [f.name for f in out]
    if len(set(names)) != len(names):
        raise ValueError("duplicate fixture names")
    return out


def by_name() -> Dict[str, Fixture]:
    return {f.name: f for f in all_fixtures()}


def build(name: str, root: Path) -> Path:
    """Write fixture ``name`` under ``root`` and return its model directory."""
    return by_name()[name].write(Path(root))
