"""Typed GGUF metadata values.

llama.cpp reads metadata with an exact type check (a key it expects as UINT32
but finds as INT32 or UINT64 makes the load fail), so every value Wick writes
carries its GGUF value type explicitly. :class:`KV` is one metadata entry; the
helpers :func:`u32`, :func:`f32`, :func:`string`, :func:`boolean` and
:func:`array` build them and validate ranges up front.

FLOAT32 values are stored already rounded to binary32 (``float(np.float32(x))``)
so that the JSON number in a plan denotes exactly the float32 that will be
written, whatever decimal parser reads it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Iterable, List, Optional

import numpy as np

from ..errors import WickValueError


class MetadataError(WickValueError):
    """A metadata value that does not fit its GGUF value type (range, type, encoding)."""


class ValueType(IntEnum):
    """GGUF metadata value type ids (gguf.md §3.1)."""

    UINT8 = 0
    INT8 = 1
    UINT16 = 2
    INT16 = 3
    UINT32 = 4
    INT32 = 5
    FLOAT32 = 6
    BOOL = 7
    STRING = 8
    ARRAY = 9
    UINT64 = 10
    INT64 = 11
    FLOAT64 = 12


_INT_RANGES = {
    ValueType.UINT8: (0, 2**8 - 1),
    ValueType.INT8: (-(2**7), 2**7 - 1),
    ValueType.UINT16: (0, 2**16 - 1),
    ValueType.INT16: (-(2**15), 2**15 - 1),
    ValueType.UINT32: (0, 2**32 - 1),
    ValueType.INT32: (-(2**31), 2**31 - 1),
    ValueType.UINT64: (0, 2**64 - 1),
    ValueType.INT64: (-(2**63), 2**63 - 1),
}


def _round_f32(key: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)):
        raise MetadataError(f"gguf: metadata {key!r}: expected a number for FLOAT32, got {v!r}")
    with np.errstate(over="ignore"):
        r = float(np.float32(v))
    if math.isinf(r) and not math.isinf(float(v)):
        raise MetadataError(f"gguf: metadata {key!r}: {v!r} overflows float32")
    return r


def _check_scalar(key: str, t: ValueType, v: Any) -> Any:
    """Validate (and normalise) one scalar of type ``t``; returns the value to store."""
    if t in _INT_RANGES:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise MetadataError(f"gguf: metadata {key!r}: expected an integer for {t.name}, got {v!r}")
        lo, hi = _INT_RANGES[t]
        if not lo <= int(v) <= hi:
            raise MetadataError(f"gguf: metadata {key!r}: {v} is out of range for {t.name} [{lo}, {hi}]")
        return int(v)
    if t == ValueType.FLOAT32:
        return _round_f32(key, v)
    if t == ValueType.FLOAT64:
        if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)):
            raise MetadataError(f"gguf: metadata {key!r}: expected a number for FLOAT64, got {v!r}")
        return float(v)
    if t == ValueType.BOOL:
        if not isinstance(v, (bool, np.bool_)):
            raise MetadataError(f"gguf: metadata {key!r}: expected a bool, got {v!r}")
        return bool(v)
    if t == ValueType.STRING:
        if not isinstance(v, str):
            raise MetadataError(f"gguf: metadata {key!r}: expected a string, got {type(v).__name__}")
        try:
            v.encode("utf-8")
        except UnicodeEncodeError as e:
            raise MetadataError(f"gguf: metadata {key!r}: string is not valid Unicode ({e.reason})") from None
        return v
    raise MetadataError(f"gguf: metadata {key!r}: {t.name} is not a scalar type")


@dataclass(frozen=True)
class KV:
    """One GGUF metadata entry.

    Attributes:
        key: the metadata key, e.g. ``"llama.block_count"``.
        type: the GGUF value type; ``ARRAY`` for arrays.
        value: a Python scalar, or a list for arrays.
        element_type: the element type of an array (never ``ARRAY``: ggml
            rejects nested arrays); ``None`` for scalars.
    """

    key: str
    type: ValueType
    value: Any
    element_type: Optional[ValueType] = None

    def to_dict(self) -> dict:
        """The JSON form: ``{"key", "type", "value"}`` plus ``"element_type"`` for arrays."""
        d = {"key": self.key, "type": self.type.name, "value": self.value}
        if self.type == ValueType.ARRAY:
            d = {"key": self.key, "type": "ARRAY", "element_type": self.element_type.name, "value": self.value}
        return d

    @staticmethod
    def from_dict(d: dict) -> KV:
        """Inverse of :meth:`to_dict`; validates types and ranges."""
        try:
            key = d["key"]
            t = ValueType[d["type"]]
            if t == ValueType.ARRAY:
                return array(key, ValueType[d["element_type"]], d["value"])
            return KV(key, t, _check_scalar(key, t, d["value"]))
        except (KeyError, TypeError) as e:
            raise MetadataError(f"gguf: malformed metadata entry {d!r}: {e}") from None


def u32(key: str, v: int) -> KV:
    """A UINT32 entry (counts, lengths, ids)."""
    return KV(key, ValueType.UINT32, _check_scalar(key, ValueType.UINT32, v))


def i32(key: str, v: int) -> KV:
    """An INT32 entry."""
    return KV(key, ValueType.INT32, _check_scalar(key, ValueType.INT32, v))


def f32(key: str, v: float) -> KV:
    """A FLOAT32 entry; the value is rounded to binary32 now."""
    return KV(key, ValueType.FLOAT32, _check_scalar(key, ValueType.FLOAT32, v))


def string(key: str, v: str) -> KV:
    """A STRING entry (UTF-8)."""
    return KV(key, ValueType.STRING, _check_scalar(key, ValueType.STRING, v))


def boolean(key: str, v: bool) -> KV:
    """A BOOL entry."""
    return KV(key, ValueType.BOOL, _check_scalar(key, ValueType.BOOL, v))


def array(key: str, element_type: ValueType, values: Iterable[Any]) -> KV:
    """An ARRAY entry of ``element_type`` scalars (validated element by element)."""
    if element_type == ValueType.ARRAY:
        raise MetadataError(f"gguf: metadata {key!r}: nested arrays are not supported by ggml")
    vals: List[Any] = list(values)
    if not vals:
        # gguf-py refuses to write empty arrays; so do we.
        raise MetadataError(f"gguf: metadata {key!r}: empty arrays are not written")
    if element_type == ValueType.STRING:
        # One join and one encode check every element at C speed (a 128K-token
        # vocabulary is a visible part of planning); join refuses a non-string,
        # and only then are the elements walked, to name the first. A str fails
        # to encode as UTF-8 exactly when it holds a surrogate code point, and
        # so does it as UTF-16, which CPython encodes several times faster (a
        # copy of the code units, against a branch per character): the
        # vocabulary's UTF-8 is made once, with the plan's JSON.
        try:
            "".join(vals).encode("utf-16-le")
        except TypeError:
            i, bad = next((i, s) for i, s in enumerate(vals) if not isinstance(s, str))
            raise MetadataError(f"gguf: metadata {key!r}[{i}]: expected a string, got {type(bad).__name__}") from None
        except UnicodeEncodeError as e:
            raise MetadataError(f"gguf: metadata {key!r}: an element is not valid Unicode ({e.reason})") from None
    elif element_type in _INT_RANGES:
        lo, hi = _INT_RANGES[element_type]
        if set(map(type, vals)) == {int} and lo <= min(vals) and max(vals) <= hi:
            pass  # plain ints in range (token types): checked at C speed
        else:
            out = []
            for i, x in enumerate(vals):
                if isinstance(x, bool) or not isinstance(x, (int, np.integer)) or not lo <= int(x) <= hi:
                    raise MetadataError(f"gguf: metadata {key!r}[{i}]: {x!r} is not a valid {element_type.name}")
                out.append(int(x))
            vals = out
    elif element_type == ValueType.FLOAT32:
        arr = np.asarray(vals, dtype=np.float64)
        with np.errstate(over="ignore"):
            r = arr.astype(np.float32)
        bad = np.isinf(r) & ~np.isinf(arr)
        if bad.any():
            raise MetadataError(f"gguf: metadata {key!r}[{int(np.argmax(bad))}]: overflows float32")
        vals = r.astype(np.float64).tolist()
    else:
        vals = [_check_scalar(f"{key}[{i}]", element_type, x) for i, x in enumerate(vals)]
    return KV(key, ValueType.ARRAY, vals, element_type)
