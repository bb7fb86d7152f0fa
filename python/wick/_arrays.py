"""numpy buffers for the native library: validation, zero-copy views, outputs.

cffi's ``from_buffer`` accepts almost anything (float64 as float, big-endian
data, ...), so every buffer is normalised here before it crosses the boundary:
the right dtype, native byte order, C-contiguous and aligned. A C-contiguous
input of an accepted dtype is passed without a copy; anything else is copied
once into that form.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence, Tuple

import numpy as np

from . import _native
from .errors import WickTypeError, WickValueError

ffi = _native.ffi

# Element encodings the core accepts as input, by the names it reports.
SRC_DTYPES = ("float32", "float16", "bfloat16")


def is_bfloat16(dtype: np.dtype) -> bool:
    """True for ``ml_dtypes.bfloat16`` (recognised without importing ml_dtypes)."""
    return dtype.name == "bfloat16" and dtype.itemsize == 2


def describe(dtype: np.dtype) -> str:
    return f"{dtype.name}" + ("" if dtype.isnative else " (non-native byte order)")


def source_array(x: Any, src_dtype: Optional[str] = None, arg: str = "x") -> Tuple[np.ndarray, str]:
    """Return ``(array, encoding)`` ready to pass to the core.

    ``encoding`` is one of :data:`SRC_DTYPES`; the array is C-contiguous,
    aligned and in native byte order (a view of ``x`` when it already was).
    float16 and bfloat16 arrays are returned as uint16 views of their bits.

    ``src_dtype`` declares how to read ``x``: ``"bfloat16"`` or ``"float16"``
    for uint16/int16 arrays holding the bit patterns (the way to pass bfloat16
    without ml_dtypes), or a float dtype name that must match ``x``.
    """
    if not isinstance(x, np.ndarray):
        if hasattr(x, "__array__") or isinstance(x, (list, tuple)):
            x = np.asarray(x)
        else:
            raise WickTypeError(f"{arg}: expected a numpy array, got {type(x).__name__}")
    if x.ndim == 0:
        raise WickValueError(f"{arg}: is a 0-d scalar; expected an array whose last axis holds the rows' elements")
    if x.size == 0:
        raise WickValueError(f"{arg}: is empty (shape {x.shape}); expected at least one block of elements")

    dt = x.dtype
    if src_dtype is not None:
        if src_dtype not in SRC_DTYPES:
            raise WickValueError(f"src_dtype: {src_dtype!r} is not one of {', '.join(SRC_DTYPES)}")
        if src_dtype in ("float16", "bfloat16") and dt.kind in "iu" and dt.itemsize == 2:
            if not dt.isnative:
                x = x.astype(dt.newbyteorder("="))
            return _c_aligned(x).view(np.uint16), src_dtype
        native = _encoding_of(dt)
        if native != src_dtype:
            raise WickTypeError(
                f"{arg}: src_dtype={src_dtype!r} does not match the array's dtype {describe(dt)}; "
                f"pass bit patterns as uint16 with src_dtype='float16' or 'bfloat16', or drop src_dtype"
            )
    enc = _encoding_of(dt)
    if enc is None:
        hint = " (convert with x.astype(np.float32))" if dt.kind in "fiub" else ""
        raise WickTypeError(
            f"{arg}: dtype {describe(dt)} is not accepted; expected float32, float16 or bfloat16 "
            f"(ml_dtypes.bfloat16, or uint16 bit patterns with src_dtype='bfloat16'){hint}"
        )
    if not dt.isnative:
        x = x.astype(dt.newbyteorder("="))
    x = _c_aligned(x)
    if enc != "float32":
        x = x.view(np.uint16)
    return x, enc


def _c_aligned(x: np.ndarray) -> np.ndarray:
    """``x`` itself when C-contiguous and aligned, else a copy that is.

    Same result as ``np.require(x, requirements=["C", "A"])``, without its
    per-call cost (a few microseconds: it shows on small tensors).
    """
    flags = x.flags
    if flags.c_contiguous and flags.aligned:
        return x
    return np.require(x, requirements=["C", "A"])


def _encoding_of(dt: np.dtype) -> Optional[str]:
    if dt.kind == "f" and dt.itemsize == 4:
        return "float32"
    if dt.kind == "f" and dt.itemsize == 2:
        return "float16"
    if is_bfloat16(dt):
        return "bfloat16"
    return None


def float32_vector(v: Any, n: int, arg: str) -> np.ndarray:
    """A C-contiguous float32 vector of exactly ``n`` finite, non-negative values."""
    a = np.asarray(v)
    if a.dtype.kind not in "fiu":
        raise WickTypeError(f"{arg}: expected a numeric vector, got dtype {a.dtype}")
    a = np.require(a, dtype=np.float32, requirements=["C", "A"])
    if a.ndim != 1 or a.size != n:
        raise WickValueError(f"{arg}: has shape {a.shape}; expected ({n},), one value per column")
    if not np.all(np.isfinite(a)) or np.any(a < 0):
        raise WickValueError(f"{arg}: must hold finite, non-negative values")
    return a


def output_array(out: Optional[np.ndarray], shape: Tuple[int, ...], dtype: Any, arg: str = "out") -> np.ndarray:
    """``out`` checked to be usable as the result (or a new array when None)."""
    dtype = np.dtype(dtype)
    if out is None:
        return np.empty(shape, dtype=dtype)
    if not isinstance(out, np.ndarray):
        raise WickTypeError(f"{arg}: expected a numpy array, got {type(out).__name__}")
    if out.dtype != dtype:
        raise WickTypeError(f"{arg}: has dtype {describe(out.dtype)}; expected {dtype.name}")
    if out.shape != tuple(shape):
        need = int(np.prod(shape)) * dtype.itemsize
        raise WickValueError(f"{arg}: has shape {out.shape} ({out.nbytes} bytes); expected shape {tuple(shape)} ({need} bytes)")
    if not out.flags.c_contiguous or not out.flags.aligned:
        raise WickValueError(f"{arg}: must be C-contiguous and aligned")
    if not out.flags.writeable:
        raise WickValueError(f"{arg}: is read-only; expected a writable array")
    return out


def as_shape(shape: Any, arg: str = "shape") -> Tuple[int, ...]:
    """Normalise an int or a sequence of ints into a shape tuple of positive ints."""
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (int(shape),)
    if not isinstance(shape, Sequence) or isinstance(shape, (str, bytes)):
        raise WickTypeError(f"{arg}: expected an int or a tuple of ints, got {type(shape).__name__}")
    out = []
    for d in shape:
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)):
            raise WickTypeError(f"{arg}: expected ints, got {d!r}")
        if d <= 0:
            raise WickValueError(f"{arg}: {tuple(shape)} has a dimension ≤ 0; expected positive sizes")
        out.append(int(d))
    if not out:
        raise WickValueError(f"{arg}: is empty; expected at least one dimension")
    return tuple(out)


def byte_source(data: Any, arg: str = "data") -> np.ndarray:
    """A flat, C-contiguous uint8 view of ``data`` (bytes-like or ndarray)."""
    if isinstance(data, np.ndarray):
        if data.dtype != np.uint8:
            raise WickTypeError(f"{arg}: has dtype {describe(data.dtype)}; expected uint8 bytes (use .view(np.uint8))")
        return _c_aligned(data).reshape(-1)
    try:
        return np.frombuffer(memoryview(data).cast("B"), dtype=np.uint8)
    except TypeError as e:
        raise WickTypeError(f"{arg}: expected bytes or a numpy uint8 array, got {type(data).__name__}") from e


def ptr(a: np.ndarray, ctype: str, writable: bool = False) -> Any:
    """A cffi pointer to the array's memory (valid while the array lives)."""
    return ffi.from_buffer(ctype, a, require_writable=writable)
