"""``wick.quantize`` and ``wick.dequantize``: ggml block formats on numpy arrays."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from . import _arrays, _native, _types
from .errors import WickValueError

ffi = _native.ffi


def _threads(threads: Optional[int]) -> int:
    if threads is None:
        return 0
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 0:
        raise WickValueError(f"threads: {threads!r} is not a non-negative int (0 or None = every available core)")
    return int(threads)


def quantize(
    x: Any,
    type: _types.TypeLike,
    *,
    threads: Optional[int] = None,
    imatrix: Any = None,
    allow_non_finite: bool = False,
    src_dtype: Optional[str] = None,
    out: Optional[np.ndarray] = None,
) -> np.ndarray:
    """Encode ``x`` as ggml type ``type``, byte-identical to ggml's reference quantizer.

    Args:
        x: float32, float16 or bfloat16 array (``ml_dtypes.bfloat16``, or uint16 bit
            patterns with ``src_dtype="bfloat16"``). The last axis is the row; its length
            must be a multiple of the type's block size (32 for Q8_0). A C-contiguous
            array is read in place; anything else is copied once.
        type: the target type: a name such as ``"Q8_0"`` (case-insensitive), a ggml id or a
            :class:`TypeInfo`. ``wick.types()`` lists what Wick can quantize.
        threads: worker threads; ``None`` or 0 uses every available core. The bytes never
            depend on it.
        imatrix: optional importance matrix, one non-negative weight per column, for the
            types that use one (Q8_0 and the float types ignore it, as ggml does).
        allow_non_finite: let NaN and ±Inf through to F32/F16/BF16 (converted as IEEE does).
            Block types always reject them.
        src_dtype: how to read ``x`` when it holds bit patterns: ``"float16"`` or
            ``"bfloat16"`` for a uint16 array.
        out: optional preallocated result, a writable C-contiguous uint8 array of the
            result's exact shape.

    Returns:
        A uint8 array of shape ``x.shape[:-1] + (row_bytes,)``: each row's ggml blocks,
        exactly as they are stored in a GGUF file.

    Raises:
        WickTypeError: ``x`` has an unsupported dtype.
        WickValueError: bad shape, empty ``x``, bad ``out``/``imatrix``/``threads``.
        WickNonFiniteError: ``x`` holds NaN/Inf (the message names row and column).
        WickUnsupportedError: Wick cannot encode ``type``.

    Example:
        >>> q = wick.quantize(np.ones((4, 64), np.float32), "Q8_0")
        >>> q.shape
        (4, 68)
    """
    ti = _types.quantizable(type)
    arr, enc = _arrays.source_array(x, src_dtype)
    n_per_row = arr.shape[-1]
    if n_per_row % ti.block_size:
        raise WickValueError(
            f"x: rows (the last axis) have {n_per_row} elements; {ti.name} needs a multiple of "
            f"its block size {ti.block_size}"
        )
    n = arr.size
    res = _arrays.output_array(out, arr.shape[:-1] + (ti.row_nbytes(n_per_row),), np.uint8)
    info = _native.info()
    flags = info["quantize_flags"]["allow_non_finite"] if allow_non_finite else 0
    if imatrix is not None:
        imat = _arrays.float32_vector(imatrix, n_per_row, "imatrix")
        imat_ptr, imat_len = _arrays.ptr(imat, "float[]"), imat.size
    else:
        imat, imat_ptr, imat_len = None, ffi.NULL, 0
    lib = _native.lib()
    ctl = ffi.new("wick_ctl *")
    err = _native.errbuf()
    args = (
        ti.id, info["src_dtypes"][enc], _arrays.ptr(arr, "uint8_t[]"), n, n_per_row,
        imat_ptr, imat_len, flags,
        _arrays.ptr(res, "uint8_t[]", writable=True), res.nbytes,
        _threads(threads), ctl, err, _native.ERRLEN,
    )
    _native.invoke(lib.wick_quantize, args, ctl=ctl, err=err, nbytes=arr.nbytes)
    return res


def dequantize(
    data: Any,
    type: _types.TypeLike,
    shape: Any,
    *,
    threads: Optional[int] = None,
    out: Optional[np.ndarray] = None,
) -> np.ndarray:
    """Decode ggml blocks back to float32, exactly as ggml's ``to_float`` does.

    Args:
        data: the encoded bytes: a uint8 array (e.g. what :func:`quantize` returned) or any
            bytes-like object. Its size must be exactly what ``shape`` needs.
        type: the ggml type of ``data`` (name, id or :class:`TypeInfo`).
        shape: shape of the decoded tensor (int or tuple); the last axis is the row, a
            multiple of the type's block size.
        threads: worker threads; ``None`` or 0 uses every available core.
        out: optional preallocated float32 result of exactly ``shape``.

    Returns:
        A float32 array of ``shape``.
    """
    ti = _types.dequantizable(type)
    shp = _arrays.as_shape(shape)
    if shp[-1] % ti.block_size:
        raise WickValueError(
            f"shape: rows (the last axis) have {shp[-1]} elements; {ti.name} needs a multiple of "
            f"its block size {ti.block_size}"
        )
    src = _arrays.byte_source(data)
    n = int(np.prod(shp))
    need = n // ti.block_size * ti.type_size
    if src.nbytes != need:
        raise WickValueError(
            f"data: holds {src.nbytes} bytes; {ti.name} values of shape {shp} take exactly {need} bytes"
        )
    res = _arrays.output_array(out, shp, np.float32)
    lib = _native.lib()
    ctl = ffi.new("wick_ctl *")
    err = _native.errbuf()
    args = (
        ti.id, _arrays.ptr(src, "uint8_t[]"), src.nbytes,
        _arrays.ptr(res, "float[]", writable=True), n,
        _threads(threads), ctl, err, _native.ERRLEN,
    )
    _native.invoke(lib.wick_dequantize, args, ctl=ctl, err=err, nbytes=res.nbytes)
    return res
