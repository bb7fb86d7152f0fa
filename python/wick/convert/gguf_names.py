"""llama.cpp's GGUF names: architectures, tensor names and the Hugging Face →
GGUF tensor-name map, read from ``gguf_tables.json``.

The table is the pinned llama.cpp's own gguf-py data (``gguf.constants`` and
``gguf.tensor_mapping``), extracted by ``tests/golden/gen_gguf_tables.py``;
this module implements the lookups llama.cpp's converter makes over it, with
the same semantics, so that an adapter states only what differs from the
shared map:

- :class:`TensorNameMap` (``gguf.TensorNameMap``): a checkpoint tensor name,
  optionally with a ``.weight`` / ``.bias`` suffix, to ``(kind, GGUF name)``;
- :func:`tensor_name` (``ModelBase.format_tensor_name``) and
  :func:`matches` (``match_model_tensor_name``);
- :func:`key` (``gguf.Keys``): a metadata key template by its dotted name.
"""

from __future__ import annotations

import json
import re
from functools import cache, lru_cache
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

__all__ = ["TensorNameMap", "tensor_name_map", "tensor_name", "matches", "arch_tensors", "key", "known_key",
           "arch_names"]


@cache
def _tables() -> dict:
    return json.loads((Path(__file__).with_name("gguf_tables.json")).read_text(encoding="utf-8"))


def arch_names() -> List[str]:
    """Every architecture string llama.cpp knows (``llama``, ``gemma3``, ``qwen3moe`` …)."""
    return list(_tables()["model_tensors"])


def arch_tensors(arch: str) -> List[str]:
    """The tensor kinds (MODEL_TENSOR names) of an architecture, as llama.cpp lists them."""
    try:
        return _tables()["model_tensors"][arch]
    except KeyError:
        raise KeyError(f"llama.cpp has no architecture {arch!r}") from None


def tensor_name(arch: str, kind: str, bid: Optional[int] = None, suffix: str = ".weight") -> str:
    """The GGUF name of a tensor kind (``ATTN_Q``, block 3 → ``blk.3.attn_q.weight``).

    Raises KeyError when the architecture has no such tensor (as the
    converter's ``format_tensor_name`` does).
    """
    if kind not in arch_tensors(arch):
        raise KeyError(f"architecture {arch!r} has no tensor {kind}")
    name = _tables()["tensor_names"][kind]
    if "{bid}" in name:
        if bid is None:
            raise KeyError(f"tensor {kind} of {arch!r} needs a block number")
        name = name.format(bid=bid)
    return name + suffix


def matches(arch: str, name: str, kind: str, bid: Optional[int], suffix: str = ".weight") -> bool:
    """Whether ``name`` is tensor ``kind`` of block ``bid`` (the converter's ``match_model_tensor_name``)."""
    if kind not in arch_tensors(arch):
        return False
    template = _tables()["tensor_names"][kind]
    if "{bid}" in template:
        if bid is None:
            return False
        template = template.format(bid=bid)
    elif bid is not None:
        return False
    return name == template + suffix


class TensorNameMap:
    """Hugging Face tensor names → ``(kind, GGUF name)`` for one architecture and block count."""

    def __init__(self, arch: str, n_blocks: int):
        t = _tables()
        have = set(arch_tensors(arch))
        names = t["tensor_names"]
        self.arch = arch
        self.mapping: Dict[str, Tuple[str, str]] = {}
        for kind, keys in t["mappings"].items():
            if kind not in have:
                continue
            gname = names[kind]
            self.mapping[gname] = (kind, gname)
            for k in keys:
                self.mapping[k] = (kind, gname)
        block = dict(t["block_mappings"])
        block.update(t["arch_block_mappings"].get(arch, {}))
        for bid in range(n_blocks):
            for kind, keys in block.items():
                if kind not in have:
                    continue
                gname = names[kind].format(bid=bid)
                self.mapping[gname] = (kind, gname)
                for k in keys:
                    self.mapping[k.format(bid=bid)] = (kind, gname)

    def get_type_and_name(self, key: str, try_suffixes: Sequence[str] = ()) -> Optional[Tuple[str, str]]:
        """``(kind, GGUF name)`` of ``key``, trying it as given, then without each suffix."""
        found = self.mapping.get(key)
        if found is not None:
            return found
        for suffix in try_suffixes:
            if key.endswith(suffix):
                found = self.mapping.get(key[:-len(suffix)])
                if found is not None:
                    return found[0], found[1] + suffix
        return None

    def get_name(self, key: str, try_suffixes: Sequence[str] = ()) -> Optional[str]:
        """The GGUF name of ``key`` or None."""
        found = self.get_type_and_name(key, try_suffixes)
        return None if found is None else found[1]


@lru_cache(maxsize=64)
def tensor_name_map(arch: str, n_blocks: int) -> TensorNameMap:
    """A (cached) :class:`TensorNameMap`."""
    return TensorNameMap(arch, n_blocks)


def key(dotted: str, **fmt: str) -> str:
    """A metadata key of ``gguf.Keys`` by its dotted class path, formatted.

    ``key("LLM.BLOCK_COUNT", arch="llama")`` → ``"llama.block_count"``.
    """
    try:
        template = _tables()["keys"][dotted]
    except KeyError:
        raise KeyError(f"gguf.Keys has no {dotted}") from None
    return template.format(**fmt) if fmt else template


@cache
def _key_patterns(arch: str) -> Tuple[re.Pattern[str], ...]:
    out = []
    for template in _tables()["keys"].values():
        parts = re.split(r"(\{[a-z_]+\})", template)
        rx = "".join(re.escape(arch) if p == "{arch}" else ("[^\0]+" if p.startswith("{") else re.escape(p))
                     for p in parts)
        out.append(re.compile(rx + r"\Z"))
    return tuple(out)


def known_key(name: str, arch: str) -> bool:
    """Whether ``name`` is a metadata key llama.cpp defines (for architecture ``arch``;
    templates such as ``tokenizer.chat_template.{name}`` match any name)."""
    return any(p.match(name) for p in _key_patterns(arch))
