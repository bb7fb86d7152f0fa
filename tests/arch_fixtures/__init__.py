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

import copy
import importlib
from pathlib import Path
from typing import Callable, Dict, List

from ._common import Fixture, file_hashes

__all__ = ["Fixture", "all_fixtures", "build", "builder", "by_name", "file_hashes", "plan_kv", "write_variant", "FAMILY_MODULES"]

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


def builder(tmp_path_factory) -> Callable[[str], Path]:
    """A ``name → model directory`` function writing each fixture once, under its own
    temporary directory of ``tmp_path_factory`` (for a module-scoped pytest fixture)."""
    cache: Dict[str, Path] = {}
    fixtures = by_name()

    def get(name: str) -> Path:
        if name not in cache:
            cache[name] = fixtures[name].write(tmp_path_factory.mktemp(name))
        return cache[name]
    return get


def write_variant(root: Path, name: str, *, config=None, text_config=None, drop=(), add=(), reshape=None,
                  files=None) -> Path:
    """Write a changed copy of fixture ``name`` under ``root`` and return its model directory:
    config.json keys updated from ``config`` (and its ``text_config`` from ``text_config``),
    the tensors named in ``drop`` left out, the tensors ``add`` appended, the tensors named in
    ``reshape`` given the shapes it maps them to, and the files ``files`` added or replaced."""
    fx = copy.deepcopy(by_name()[name])
    fx.config.update(config or {})
    if text_config:
        fx.config["text_config"].update(text_config)
    fx.tensors = [t for t in fx.tensors if t.name not in drop] + list(add)
    for t in fx.tensors:
        if reshape and t.name in reshape:
            t.shape = reshape[t.name]
    fx.files.update(files or {})
    return fx.write(root)


def plan_kv(plan, prefix: str) -> dict:
    """The metadata of ``plan`` under ``prefix.``, keyed by the rest of the key."""
    return {k.key[len(prefix) + 1:]: k.value for k in plan.metadata if k.key.startswith(prefix + ".")}
