"""bitsandbytes-compatible quantization state (``QuantState``), in numpy.

A :class:`QuantState` holds everything needed to dequantize a tensor that
bitsandbytes' ``quantize_blockwise`` (8-bit) or ``quantize_4bit`` (NF4/FP4)
produced, or that Wick produced the same way: the per-block ``absmax`` (or,
when double-quantized, its 8-bit codes plus a nested state and an offset),
the code table, the block size, the original dtype and shape.

:meth:`QuantState.as_dict` and :meth:`QuantState.from_dict` use exactly the
key names and value types of bitsandbytes and transformers (spec
``blockwise.md`` §5), so a state round-trips through a safetensors
checkpoint that either of them wrote or will read::

    qs.as_dict()             # unpacked: "quant_type", "absmax", "blocksize",
                             # "quant_map", "dtype", "shape", "nested_*"
    qs.as_dict(packed=True)  # 4-bit only: the arrays, plus the uint8 array
                             # "quant_state.bitsandbytes__nf4" (or __fp4)
                             # holding the other entries as JSON

In a checkpoint every key is prefixed with the layer's weight name, e.g.
``model.layers.0.mlp.down_proj.weight.absmax``; :meth:`from_dict` strips
such prefixes.

Arrays stand where bitsandbytes has torch tensors. The names of the 4-bit
data types and the block sizes come from Wick's native library (its one
table of 4-bit types, ``quant/codes.go``, through ``wick_info_json``):
:data:`QUANT_TYPES` and :data:`FOUR_BIT_BLOCKSIZES` load the library on
first use, as validating a state does.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from .errors import WickFormatError as _FormatError

__all__ = [
    "QuantState",
    "pack_dict_to_array",
    "unpack_array_to_dict",
    "QUANT_TYPES",  # noqa: F822 - module __getattr__ (from the library)
    "DTYPES",
    "FOUR_BIT_BLOCKSIZES",  # noqa: F822 - module __getattr__ (from the library)
]

#: The dtypes a state may record for the original tensor.
DTYPES = ("float32", "float16", "bfloat16")


def _quant_types() -> tuple:
    """The 4-bit data types, as bitsandbytes names them ("nf4", "fp4"), by their code."""
    from . import _native

    codes = _native.info()["bnb"]["quant_types"]
    return tuple(sorted(codes, key=codes.get))


def _four_bit_blocksizes() -> tuple:
    from . import _native

    return tuple(_native.info()["bnb"]["blocksizes"])


def __getattr__(name: str) -> Any:
    # QUANT_TYPES: the 4-bit data types, as bitsandbytes names them.
    # FOUR_BIT_BLOCKSIZES: the block sizes 4-bit quantization accepts.
    # Both are the native library's (read when first asked for).
    if name == "QUANT_TYPES":
        return _quant_types()
    if name == "FOUR_BIT_BLOCKSIZES":
        return _four_bit_blocksizes()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

# Every key QuantState.from_dict accepts once prefixes are stripped
# (bitsandbytes' QuantState.valid_qs_keys).
_VALID_KEYS = frozenset({
    "absmax", "quant_map", "nested_absmax", "nested_quant_map", "quant_state",
    "quant_type", "blocksize", "dtype", "shape",
    "nested_blocksize", "nested_dtype", "nested_offset",
})


def _packed_suffixes() -> tuple:
    return tuple("bitsandbytes__" + t for t in _quant_types())

_NESTED_KEYS = ("nested_absmax", "nested_blocksize", "nested_quant_map", "nested_dtype", "nested_offset")


def _error(msg: str) -> Exception:
    return _FormatError("wick.quant_state: " + msg)


def pack_dict_to_array(d: Mapping[str, Any]) -> np.ndarray:
    """Encode ``d`` as bitsandbytes' ``pack_dict_to_tensor`` does: the UTF-8
    bytes of ``json.dumps(d)`` (default separators ``", "`` and ``": "``,
    ASCII-escaped, keys in insertion order) as a 1-D uint8 array."""
    return np.frombuffer(json.dumps(dict(d)).encode("utf-8"), dtype=np.uint8).copy()


def unpack_array_to_dict(a: Any) -> dict:
    """Decode a packed quant-state array (any integer dtype holding byte
    values, any shape) back into its dict. Raises ``ValueError`` (a
    ``WickFormatError`` inside the package) when the bytes are not a JSON
    object."""
    arr = np.asarray(a)
    if arr.dtype.kind not in "ui" or (arr.size and (arr.min() < 0 or arr.max() > 255)):
        raise _error(f"packed quant_state has dtype {arr.dtype} and values outside 0..255; expected uint8 bytes of JSON")
    try:
        d = json.loads(arr.astype(np.uint8).tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise _error(f"packed quant_state is not UTF-8 JSON: {e}") from None
    if not isinstance(d, dict):
        raise _error(f"packed quant_state holds a JSON {type(d).__name__}; expected an object")
    return d


def _is_array(v: Any) -> bool:
    """What bitsandbytes calls a tensor: here a numpy array (or anything
    that exposes ``__array__``, such as a CPU torch tensor), never a str."""
    return isinstance(v, np.ndarray) or (hasattr(v, "__array__") and not isinstance(v, (str, bytes)))


def _as_array(key: str, v: Any, dtypes: tuple[str, ...]) -> np.ndarray:
    if not _is_array(v):
        raise _error(f"{key} is a {type(v).__name__}; expected an array of {' or '.join(dtypes)}")
    a = np.asarray(v)
    if a.dtype.name not in dtypes:
        raise _error(f"{key} has dtype {a.dtype}; expected {' or '.join(dtypes)}")
    return a


def _as_int(key: str, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise _error(f"{key} is {v!r}; expected an int")
    return int(v)


@dataclass
class QuantState:
    """The state of a bitsandbytes block-wise quantized tensor.

    Attributes mirror bitsandbytes' ``QuantState``:

    * ``absmax``: float32 ``[B]``, one per block of ``blocksize`` flat
      elements, ``B = ceil(n / blocksize)``; uint8 ``[B]`` codes when nested.
    * ``code``: the code table, float32 — ``[16]`` for 4-bit (the NF4/FP4
      table in code order), ``[256]`` for 8-bit. Serialized as ``quant_map``.
    * ``blocksize``, ``dtype`` (``"float32"``, ``"float16"`` or
      ``"bfloat16"``: the original tensor's), ``shape`` (the original shape;
      ``None`` for 8-bit states, as bitsandbytes leaves it), ``quant_type``
      (``"nf4"``, ``"fp4"``, or ``None`` for 8-bit).
    * ``offset`` and ``state2`` when double-quantized: absmax is rebuilt as
      ``f32(f32(state2.code[absmax] * state2.absmax[i // state2.blocksize])
      + offset)``. ``offset`` is a float32 value held in a Python float.
    """

    absmax: np.ndarray
    blocksize: int
    code: np.ndarray
    dtype: str
    shape: tuple[int, ...] | None = None
    quant_type: str | None = None
    offset: float | None = None
    state2: QuantState | None = None

    def __post_init__(self) -> None:
        if (self.offset is None) != (self.state2 is None):
            raise _error("offset and state2 go together: a nested state needs both, a plain one neither")
        if self.offset is not None:
            self.offset = float(np.float32(self.offset))
        if self.shape is not None:
            self.shape = tuple(int(s) for s in self.shape)
        self.validate()

    def __repr__(self) -> str:
        kind = self.quant_type or "8-bit"
        nested = f", nested (offset {self.offset:.6g}, nested blocksize {self.state2.blocksize})" if self.nested else ""
        shape = f", shape {self.shape}" if self.shape is not None else ""
        return (f"QuantState({kind}, blocksize {self.blocksize}, {np.asarray(self.absmax).size} absmax, "
                f"dtype {self.dtype}{shape}{nested})")

    @property
    def nested(self) -> bool:
        """Whether absmax is double-quantized (bitsandbytes'
        ``compress_statistics=True`` / ``nested=True``)."""
        return self.state2 is not None

    def validate(self) -> None:
        """Check types, dtypes and sizes against each other. Raises
        ``ValueError`` (``WickFormatError`` inside the package) naming the
        first entry that is wrong."""
        quant_types = _quant_types()
        if self.quant_type is not None and self.quant_type not in quant_types:
            raise _error(f"quant_type is {self.quant_type!r}; expected one of {quant_types} or None")
        if self.dtype not in DTYPES:
            raise _error(f"dtype is {self.dtype!r}; expected one of {DTYPES}")
        bs = _as_int("blocksize", self.blocksize)
        if self.quant_type is not None and bs not in _four_bit_blocksizes():
            raise _error(f"blocksize is {bs}; expected one of {_four_bit_blocksizes()} for {self.quant_type}")
        if bs <= 0:
            raise _error(f"blocksize is {bs}; expected a positive int")
        ncode = 16 if self.quant_type is not None else 256
        code = _as_array("quant_map", self.code, ("float32",))
        if code.shape != (ncode,):
            raise _error(f"quant_map has shape {code.shape}; expected ({ncode},)")
        absmax = _as_array("absmax", self.absmax, ("uint8",) if self.nested else ("float32",))
        if absmax.ndim != 1:
            raise _error(f"absmax has shape {absmax.shape}; expected one dimension")
        if self.shape is not None:
            if any(s < 0 for s in self.shape):
                raise _error(f"shape {self.shape} has a negative dimension")
            n = math.prod(self.shape)
            if absmax.shape[0] != -(-n // bs):
                raise _error(f"absmax has {absmax.shape[0]} entries; expected {-(-n // bs)} for shape {self.shape} in blocks of {bs}")
        if self.nested:
            s2 = self.state2
            if s2.nested or s2.quant_type is not None or s2.dtype != "float32":
                raise _error("the nested state must be a plain 8-bit float32 state")
            if s2.absmax.shape[0] != -(-absmax.shape[0] // s2.blocksize):
                raise _error(f"nested_absmax has {s2.absmax.shape[0]} entries; expected {-(-absmax.shape[0] // s2.blocksize)} "
                             f"for {absmax.shape[0]} absmax codes in blocks of {s2.blocksize}")
            if not math.isfinite(self.offset):
                raise _error(f"nested_offset is {self.offset}; expected a finite value")

    def as_dict(self, packed: bool = False) -> dict[str, Any]:
        """The state as bitsandbytes' ``QuantState.as_dict`` returns it.

        Unpacked, the keys are ``quant_type, absmax, blocksize, quant_map,
        dtype, shape`` and, when nested, ``nested_absmax, nested_blocksize,
        nested_quant_map, nested_dtype, nested_offset``; arrays stay arrays
        (``nested_quant_map`` is a copy, as in bitsandbytes), ``shape`` is a
        tuple or None, ``nested_offset`` a Python float.

        Packed (4-bit states only), the arrays are kept and every other entry
        goes, in that order, into the JSON of one uint8 array under
        ``quant_state.bitsandbytes__<quant_type>``: the safetensors form.
        """
        d: dict[str, Any] = {
            "quant_type": self.quant_type,
            "absmax": self.absmax,
            "blocksize": int(self.blocksize),
            "quant_map": self.code,
            "dtype": self.dtype,
            "shape": tuple(self.shape) if self.shape is not None else None,
        }
        if self.nested:
            d.update({
                "nested_absmax": self.state2.absmax,
                "nested_blocksize": int(self.state2.blocksize),
                "nested_quant_map": np.array(self.state2.code, copy=True),
                "nested_dtype": self.state2.dtype,
                "nested_offset": float(self.offset),
            })
        if not packed:
            return d
        if self.quant_type is None:
            raise _error("only 4-bit states (quant_type 'nf4' or 'fp4') have a packed form")
        out = {k: v for k, v in d.items() if _is_array(v)}
        out["quant_state.bitsandbytes__" + self.quant_type] = pack_dict_to_array(
            {k: v for k, v in d.items() if not _is_array(v)})
        return out

    @classmethod
    def from_dict(cls, qs_dict: Mapping[str, Any]) -> QuantState:
        """Rebuild a state from :meth:`as_dict` output (packed or unpacked)
        or from the entries of one layer of a bitsandbytes/transformers
        checkpoint (keys may carry a prefix such as ``"lm.weight."``).

        Stricter than bitsandbytes, with a precise error for: two packed
        ``quant_state.*`` arrays, a packed suffix other than
        ``bitsandbytes__nf4``/``__fp4`` or one that contradicts the JSON's
        quant_type, a key bitsandbytes does not know, two keys that mean the
        same entry, a nested state with missing entries, and wrong dtypes or
        sizes.
        """
        items = dict(qs_dict)
        packed = [k for k, v in items.items() if "quant_state" in k and _is_array(v)]
        if not packed and "quant_type" not in items and not any(k.endswith(".quant_type") for k in items):
            raise _error("expected packed or unpacked quant_state entries, found neither "
                         f"(keys: {sorted(items)})")
        if len(packed) > 1:
            raise _error(f"expected one packed quant_state entry, found {len(packed)}: {sorted(packed)}")
        if packed:
            key = packed[0]
            suffix = key.split(".")[-1]
            if suffix not in _packed_suffixes():
                raise _error(f"packed entry {key!r} ends in {suffix!r}; expected one of {_packed_suffixes()}")
            extra = unpack_array_to_dict(items.pop(key))
            if extra.get("quant_type") != suffix[len("bitsandbytes__"):]:
                raise _error(f"packed entry {key!r} holds quant_type {extra.get('quant_type')!r}")
            items.update(extra)
        d: dict[str, Any] = {}
        for k, v in items.items():
            short = k.split(".")[-1]
            if short not in _VALID_KEYS:
                raise _error(f"unknown quant_state key {k!r}; expected keys among {sorted(_VALID_KEYS)}")
            if short in d:
                raise _error(f"quant_state key {short!r} given twice (as {k!r})")
            d[short] = v
        for k in ("absmax", "quant_map", "blocksize", "dtype"):
            if k not in d:
                raise _error(f"quant_state has no {k!r}")
        state2 = offset = None
        if "nested_absmax" in d:
            missing = [k for k in _NESTED_KEYS if k not in d]
            if missing:
                raise _error(f"nested quant_state lacks {missing}")
            off = d["nested_offset"]
            if isinstance(off, bool) or not isinstance(off, (int, float, np.floating, np.integer)):
                raise _error(f"nested_offset is {off!r}; expected a float")
            offset = float(np.float32(off))
            state2 = cls(
                absmax=_as_array("nested_absmax", d["nested_absmax"], ("float32",)),
                blocksize=_as_int("nested_blocksize", d["nested_blocksize"]),
                code=_as_array("nested_quant_map", d["nested_quant_map"], ("float32",)),
                dtype=d["nested_dtype"],
            )
        else:
            stray = [k for k in _NESTED_KEYS if k in d]
            if stray:
                raise _error(f"quant_state has {stray} but no nested_absmax")
        shape = d.get("shape")
        if shape is not None:
            if not isinstance(shape, (list, tuple)) or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in shape):
                raise _error(f"shape is {shape!r}; expected a list of ints or None")
        quant_type = d.get("quant_type")
        return cls(
            absmax=_as_array("absmax", d["absmax"], ("uint8",) if state2 is not None else ("float32",)),
            blocksize=_as_int("blocksize", d["blocksize"]),
            code=_as_array("quant_map", d["quant_map"], ("float32",)),
            dtype=d["dtype"],
            shape=tuple(shape) if shape is not None else None,
            quant_type=quant_type,
            offset=offset,
            state2=state2,
        )
