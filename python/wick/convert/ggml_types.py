"""ggml type names and block sizes, and the conversion targets (llama_ftype).

The ggml type table is ``quant/types.go``; the planner reads it from the native
library (:func:`wick.type_info`) like the rest of the package, and restates
nothing. A *target* is what the user asks for (``--type Q4_K_M``): a
``llama_ftype``. Its *default type* is the ggml type most weights get; the
mixture rules (:mod:`wick.convert.mixture`) choose the exceptions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict

from .. import _native, _types
from ..errors import WickError
from .errors import UnknownTargetError


def source_dtype_size(dtype: str) -> int:
    """Bytes per element of a safetensors dtype a plan may read (one the executor widens
    to float32, in whole bytes), from the library's dtype table; 0 for any other name.
    (A GGUF source's F32/F16/BF16 have the sizes of their safetensors namesakes.)"""
    d = _native.info()["safetensors_dtypes"].get(dtype)
    if d is None or not d["decodes"] or d["bits"] % 8:
        return 0
    return d["bits"] // 8

# Types that are not block-quantized (ggml_is_quantized() is false for them).
FLOAT_TYPES = frozenset({"F32", "F16", "BF16"})


def _info(type_name: str) -> _types.TypeInfo:
    ti = None
    if isinstance(type_name, str) and type_name == type_name.upper():
        try:
            ti = _types.type_info(type_name)
        except WickError:
            pass
    if ti is None or not (ti.float and ti.name != "F64" or ti.block_size > 1):
        known = ", ".join(t.name for t in _types.types() if t.float and t.name != "F64" or t.block_size > 1)
        raise UnknownTargetError(f"convert: unknown ggml type {type_name!r}; known: {known}")
    return ti


def block_size(type_name: str) -> int:
    """Elements per block of a ggml type (1 for F32/F16/BF16)."""
    return _info(type_name).block_size


def row_nbytes(type_name: str, n: int) -> int:
    """Encoded size of a row of ``n`` elements (``n`` a multiple of the block size)."""
    ti = _info(type_name)
    if n % ti.block_size:
        raise UnknownTargetError(f"convert: a row of {n} elements is not a multiple of the {type_name} block size {ti.block_size}")
    return ti.row_nbytes(n)


def is_quantized(type_name: str) -> bool:
    """ggml_is_quantized(): true for block types, false for F32/F16/BF16."""
    block_size(type_name)
    return type_name not in FLOAT_TYPES


@dataclass(frozen=True)
class Target:
    """A conversion target (one ``llama_ftype``).

    Attributes:
        name: the user-facing name, e.g. ``"Q4_K_M"``.
        ftype: the ``llama_ftype`` value written to ``general.file_type``.
        default_type: the ggml type most 2-D weights get
            (``llama_ftype_get_default_type``).
        via_quantize: True when the reference pipeline is
            ``convert_hf_to_gguf.py --outtype f32`` followed by ``llama-quantize``;
            False for the types ``convert_hf_to_gguf.py`` writes itself
            (F32, F16, BF16, Q8_0), whose reference is the converter alone.
            It decides the metadata order and the tensor order of the plan.
    """

    name: str
    ftype: int
    default_type: str
    via_quantize: bool


_TARGET_LIST = [
    Target("F32", 0, "F32", False),
    Target("F16", 1, "F16", False),
    Target("Q4_0", 2, "Q4_0", True),
    Target("Q4_1", 3, "Q4_1", True),
    Target("Q8_0", 7, "Q8_0", False),
    Target("Q5_0", 8, "Q5_0", True),
    Target("Q5_1", 9, "Q5_1", True),
    Target("Q2_K", 10, "Q2_K", True),
    Target("Q3_K_S", 11, "Q3_K", True),
    Target("Q3_K_M", 12, "Q3_K", True),
    Target("Q3_K_L", 13, "Q3_K", True),
    Target("Q4_K_S", 14, "Q4_K", True),
    Target("Q4_K_M", 15, "Q4_K", True),
    Target("Q5_K_S", 16, "Q5_K", True),
    Target("Q5_K_M", 17, "Q5_K", True),
    Target("Q6_K", 18, "Q6_K", True),
    Target("IQ4_NL", 25, "IQ4_NL", True),
    Target("IQ4_XS", 30, "IQ4_XS", True),
    Target("BF16", 32, "BF16", False),
]

TARGETS: Dict[str, Target] = {t.name: t for t in _TARGET_LIST}

# Accepted spellings besides the canonical names (llama-quantize's own aliases).
_ALIASES = {"Q3_K": "Q3_K_M", "Q4_K": "Q4_K_M", "Q5_K": "Q5_K_M"}


def target(name: str) -> Target:
    """Look a target up by name (case-insensitive; ``Q4_K`` means ``Q4_K_M`` as in llama-quantize)."""
    if not isinstance(name, str):
        raise UnknownTargetError(f"convert: target must be a string like 'Q4_K_M', got {type(name).__name__}")
    key = name.strip().upper()
    key = _ALIASES.get(key, key)
    try:
        return TARGETS[key]
    except KeyError:
        raise UnknownTargetError(
            f"convert: unknown target {name!r}; supported targets: {', '.join(TARGETS)}"
        ) from None
