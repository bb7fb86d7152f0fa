"""The ggml type table, as the native library reports it.

Nothing here is restated by hand: names, ids, block geometry and capabilities
all come from the Go type table (``quant/ggmltype``, with the kernels of
``quant/types.go``) through ``wick_info_json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple, Union

from . import _native
from .errors import WickTypeError, WickUnsupportedError, WickValueError


@dataclass(frozen=True)
class TypeInfo:
    """One ggml tensor type.

    Attributes:
        name: ggml's name, e.g. ``"Q8_0"``.
        id: ggml's type id (``enum ggml_type``), as GGUF files store it.
        block_size: elements per block (1 for plain element types such as F16).
        type_size: bytes per block.
        float: True for the floating-point element types (F32, F16, BF16, F64).
        can_quantize: Wick can encode float values into this type.
        can_dequantize: Wick can decode this type to float32.
    """

    name: str
    id: int
    block_size: int
    type_size: int
    float: bool
    can_quantize: bool
    can_dequantize: bool

    def row_nbytes(self, n: int) -> int:
        """Encoded size in bytes of a row of ``n`` elements (``n`` a multiple of ``block_size``)."""
        if n < 0 or n % self.block_size:
            raise WickValueError(f"row length {n} is not a multiple of the {self.name} block size {self.block_size}")
        return n // self.block_size * self.type_size

    @property
    def bits_per_weight(self) -> float:
        """Storage cost per element in bits (e.g. 8.5 for Q8_0)."""
        return 8.0 * self.type_size / self.block_size


_table: Tuple[TypeInfo, ...] | None = None


def types() -> Tuple[TypeInfo, ...]:
    """Every ggml type Wick knows, in ggml's order, with what Wick can do with each."""
    global _table
    if _table is None:
        _table = tuple(TypeInfo(**row) for row in _native.info()["types"])
    return _table


TypeLike = Union[str, int, TypeInfo]


def type_info(t: TypeLike) -> TypeInfo:
    """Look a type up by name (case-insensitive, e.g. ``"q8_0"``), by ggml id, or pass a TypeInfo through."""
    if isinstance(t, TypeInfo):
        return t
    if isinstance(t, str):
        key = t.upper()
        for ti in types():
            if ti.name == key:
                return ti
        raise WickValueError(f"type: unknown ggml type {t!r}; known types are {', '.join(ti.name for ti in types())}")
    if isinstance(t, int) and not isinstance(t, bool):
        for ti in types():
            if ti.id == t:
                return ti
        raise WickValueError(f"type: unknown ggml type id {t}")
    raise WickTypeError(f"type: expected a type name such as 'Q8_0', a ggml type id or a TypeInfo, got {type(t).__name__}")


def quantizable(t: TypeLike) -> TypeInfo:
    """type_info(t), refusing types Wick cannot encode."""
    ti = type_info(t)
    if not ti.can_quantize:
        can = ", ".join(x.name for x in types() if x.can_quantize)
        raise WickUnsupportedError(f"type: Wick cannot quantize to {ti.name}; it can quantize to {can}")
    return ti


def dequantizable(t: TypeLike) -> TypeInfo:
    """type_info(t), refusing types Wick cannot decode."""
    ti = type_info(t)
    if not ti.can_dequantize:
        can = ", ".join(x.name for x in types() if x.can_dequantize)
        raise WickUnsupportedError(f"type: Wick cannot dequantize {ti.name}; it can dequantize {can}")
    return ti
