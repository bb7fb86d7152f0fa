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
        needs_imatrix: True when llama-quantize refuses to make the target
            without an importance matrix: its mixture gives attention or
            feed-forward matrices a type that requires one (IQ1_S, IQ1_M,
            IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS; Q2_K in a Q2_K_S file) — unless
            a model's rows are not whole 256-element blocks, where the
            fallback types need none. ``token_embd`` and ``output`` never
            need one. The per-tensor check is
            :func:`wick.convert.mixture.requires_imatrix`.
    """

    name: str
    ftype: int
    default_type: str
    via_quantize: bool
    needs_imatrix: bool = False


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
    Target("IQ2_XXS", 19, "IQ2_XXS", True, needs_imatrix=True),
    Target("IQ2_XS", 20, "IQ2_XS", True, needs_imatrix=True),
    Target("Q2_K_S", 21, "Q2_K", True, needs_imatrix=True),
    Target("IQ3_XS", 22, "IQ3_S", True, needs_imatrix=True),
    Target("IQ3_XXS", 23, "IQ3_XXS", True, needs_imatrix=True),
    Target("IQ1_S", 24, "IQ1_S", True, needs_imatrix=True),
    Target("IQ4_NL", 25, "IQ4_NL", True),
    Target("IQ3_S", 26, "IQ3_S", True),
    Target("IQ3_M", 27, "IQ3_S", True),
    Target("IQ2_S", 28, "IQ2_XS", True, needs_imatrix=True),
    Target("IQ2_M", 29, "IQ2_S", True, needs_imatrix=True),
    Target("IQ4_XS", 30, "IQ4_XS", True),
    Target("IQ1_M", 31, "IQ1_M", True, needs_imatrix=True),
    Target("BF16", 32, "BF16", False),
    Target("TQ1_0", 36, "TQ1_0", True),
    Target("TQ2_0", 37, "TQ2_0", True),
    Target("MXFP4_MOE", 38, "MXFP4", True),
    Target("Q1_0", 40, "Q1_0", True),
    Target("Q2_0", 41, "Q2_0", True),
]

TARGETS: Dict[str, Target] = {t.name: t for t in _TARGET_LIST}

# Accepted spellings besides the canonical names (llama-quantize's own aliases).
_ALIASES = {"Q3_K": "Q3_K_M", "Q4_K": "Q4_K_M", "Q5_K": "Q5_K_M"}

# llama_ftype values llama.h defines that llama-quantize cannot make, and why
# (the pinned llama.cpp: llama_ftype_get_default_type has no case for them,
# so llama_model_quantize fails with "invalid output file type N", and
# tools/quantize lists no such name).
_NOT_TARGETS = {
    "NVFP4": "llama-quantize has no NVFP4 target (llama_ftype 39 has no default type in llama.cpp 0c1e570: "
             "'invalid output file type 39'); NVFP4 tensors can be chosen with tensor_types "
             "(--tensor-type REGEX=NVFP4), as llama-quantize allows, or made with wick.quantize",
}


def target(name: str) -> Target:
    """Look a target up by name (case-insensitive; ``Q4_K`` means ``Q4_K_M`` as in llama-quantize)."""
    if not isinstance(name, str):
        raise UnknownTargetError(f"convert: target must be a string like 'Q4_K_M', got {type(name).__name__}")
    key = name.strip().upper()
    key = _ALIASES.get(key, key)
    if key in _NOT_TARGETS:
        raise UnknownTargetError(f"convert: target {name!r}: {_NOT_TARGETS[key]}")
    try:
        return TARGETS[key]
    except KeyError:
        raise UnknownTargetError(
            f"convert: unknown target {name!r}; supported targets: {', '.join(TARGETS)}"
        ) from None
