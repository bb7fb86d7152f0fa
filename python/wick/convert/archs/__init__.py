"""Architecture adapters: one small module per model family.

Each module in this package (except those starting with ``_``) defines a
subclass of :class:`~wick.convert.archs._base.Adapter` decorated with
:func:`register`. The package imports every module on first use, so adding an
architecture means adding one file here — nothing else changes.

:func:`adapter_for` picks the adapter from config.json's ``architectures``
list and raises :class:`~wick.convert.errors.UnsupportedArchitectureError`
naming the supported classes when none fits.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any, Dict, List, Tuple, Type

from ..errors import ConfigError, UnsupportedArchitectureError
from ..lazy import LazyTensor
from ._base import Adapter, HParams, MappedTensor, TensorSource

__all__ = ["Adapter", "HParams", "LazyTensor", "MappedTensor", "TensorSource", "register", "adapter_for",
           "architecture_table", "format_architecture_table",
           "supported_architectures"]

_REGISTRY: Dict[str, Type[Adapter]] = {}
_loaded = False


def register(cls: Type[Adapter]) -> Type[Adapter]:
    """Class decorator: make an adapter available for its ``hf_architectures``."""
    if not cls.hf_architectures or not cls.gguf_arch or not cls.name:
        raise TypeError(f"adapter {cls.__name__} must set name, gguf_arch and hf_architectures")
    if any(not cls.notes.get(hf, cls.summary) for hf in cls.hf_architectures):
        raise TypeError(f"adapter {cls.__name__} must describe each class it handles (summary or notes)")
    for hf in cls.hf_architectures:
        if hf in _REGISTRY and _REGISTRY[hf] is not cls:
            raise TypeError(f"adapter {cls.__name__}: {hf!r} is already handled by {_REGISTRY[hf].__name__}")
        _REGISTRY[hf] = cls
    return cls


def _load_all() -> None:
    global _loaded
    if _loaded:
        return
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")
    _loaded = True


def supported_architectures() -> List[str]:
    """The config.json ``architectures`` values Wick can convert, sorted."""
    _load_all()
    return sorted(_REGISTRY)


def architecture_table() -> List[Tuple[str, str, str]]:
    """``(Hugging Face class, GGUF architecture, notes)`` for every class Wick converts, sorted by
    GGUF architecture then class (the table of docs/convert.md and ``wick convert --list-architectures``)."""
    _load_all()
    rows = [(hf, cls.gguf_arch, cls.notes.get(hf, cls.summary)) for hf, cls in _REGISTRY.items()]
    return sorted(rows, key=lambda r: (r[1], r[0]))


def format_architecture_table(markdown: bool = False) -> str:
    """:func:`architecture_table` as text columns, or as the Markdown table of docs/convert.md."""
    rows = architecture_table()
    if markdown:
        lines = ["| `architectures[0]` in config.json | GGUF arch | notes |", "| --- | --- | --- |"]
        lines += [f"| `{hf}` | `{arch}` | {notes} |" for hf, arch, notes in rows]
        return "\n".join(lines)
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    return "\n".join(f"{hf:<{w0}}  {arch:<{w1}}  {notes}" for hf, arch, notes in rows)


def adapter_for(config: Dict[str, Any]) -> Adapter:
    """The adapter for a config.json (its ``architectures[0]``, as llama.cpp's converter uses)."""
    _load_all()
    archs = config.get("architectures")
    if not isinstance(archs, list) or not archs or not isinstance(archs[0], str):
        raise ConfigError("convert: config.json: 'architectures' must be a non-empty list of class names "
                          f"(got {archs!r}); supported: {', '.join(supported_architectures())}", "config.json")
    hf = archs[0]
    cls = _REGISTRY.get(hf)
    if cls is None:
        raise UnsupportedArchitectureError(
            f"convert: config.json: architecture {hf!r} is not supported; supported: {', '.join(supported_architectures())}")
    return cls()
