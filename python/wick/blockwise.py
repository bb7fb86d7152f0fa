"""bitsandbytes' block-wise quantization on numpy arrays, without torch.

The formats of "8-bit Optimizers via Block-wise Quantization" (Dettmers et al.)
and QLoRA's 4-bit NF4/FP4, byte-exact with bitsandbytes' CUDA kernels (the
``rules="cpu"`` option follows its CPU path instead)::

    codes, state = wick.quantize_blockwise(w, blocksize=256)          # 8-bit, dynamic map
    w8 = wick.dequantize_blockwise(codes, state)

    packed, state = wick.quantize_4bit(w, blocksize=64, quant_type="nf4",
                                       compress_statistics=True)     # QLoRA's double quantization
    w4 = wick.dequantize_4bit(packed, state)
    state.as_dict(packed=True)   # the safetensors entries bitsandbytes/transformers write

How the formats work (spec ``blockwise.md``):

* The flat tensor is cut into blocks of ``blocksize`` elements (the last may be
  partial; blocks may straddle rows). Each block stores ``absmax`` = max |x|
  (float32) and every element as the index of the code-table entry nearest to
  ``x / absmax`` (ties to the even index). Dequantized: ``code[i] * absmax``.
* 8-bit uses a 256-entry table, by default the signed *dynamic* (tree) map,
  whose entries are dense near zero; ``code=`` takes any ascending table.
* 4-bit uses 16-entry tables: NF4 (quantiles of a normal distribution) or FP4
  (a tiny sign/exponent/mantissa float). Two codes per byte, the first element
  in the high nibble; packed shape ``((n + 1) // 2, 1)``.
* Double quantization (``compress_statistics=True`` / ``nested=True``) stores
  absmax itself in 8 bits: ``offset = mean(absmax)``, then ``absmax - offset`` is
  quantized block-wise (blocks of 256 for 4-bit states, ``blocksize`` for 8-bit)
  with the dynamic map. bitsandbytes' mean comes from torch and is reproducible
  only to about one ulp; everything after the offset is exact.

Non-finite input is refused (:class:`WickNonFiniteError` naming the element)
unless ``allow_non_finite=True``, which then follows bitsandbytes' CUDA
behaviour (NaN is ignored by the block maximum and gets the zero code).

A :class:`QuantState` loaded from a checkpoint dequantizes with the tables
stored in it (``quant_map``, ``nested_quant_map``). For 4-bit states this is
stricter than bitsandbytes, whose 4-bit kernels always use their built-in
NF4/FP4 tables; the two agree whenever the stored map is the standard one.
"""

from __future__ import annotations

import math
from typing import Any, Optional, Tuple

import numpy as np

from . import _arrays, _native
from ._quantize import _threads
from .errors import WickTypeError, WickValueError
from .quant_state import QuantState

ffi = _native.ffi

__all__ = ["quantize_blockwise", "dequantize_blockwise", "quantize_4bit", "dequantize_4bit", "QuantState", "code_table"]

_tables: dict = {}


def code_table(name: str) -> np.ndarray:
    """A copy of a built-in code table: ``"dynamic_signed"`` (bitsandbytes'
    default 8-bit map), ``"dynamic_unsigned"``, ``"nf4"`` or ``"fp4"`` (as a
    QuantState's ``quant_map`` stores them)."""
    tables = _native.info()["bnb"]["tables"]
    if name not in tables:
        raise WickValueError(f"name: {name!r} is not one of {', '.join(sorted(tables))}")
    if name not in _tables:
        n = tables[name]["size"]
        out = np.empty(n, np.float32)
        err = _native.errbuf()
        _native.check(_native.lib().wick_bnb_table(tables[name]["id"], _arrays.ptr(out, "float[]", True), n, err,
                                                   _native.ERRLEN), err)
        out.flags.writeable = False
        _tables[name] = out
    return _tables[name].copy()


def _rules(rules: str) -> int:
    table = _native.info()["bnb"]["rules"]
    if rules not in table:
        raise WickValueError(f"rules: {rules!r} is not one of {', '.join(sorted(table))}")
    return table[rules]


def _quant_type(quant_type: str) -> int:
    table = _native.info()["bnb"]["quant_types"]
    if quant_type not in table:
        raise WickValueError(f"quant_type: {quant_type!r} is not one of {', '.join(sorted(table))}")
    return table[quant_type]


def _flags(allow_non_finite: bool) -> int:
    return _native.info()["quantize_flags"]["allow_non_finite"] if allow_non_finite else 0


def _blocksize(blocksize: Any, arg: str = "blocksize") -> int:
    allowed = _native.info()["bnb"]["blocksizes"]
    if isinstance(blocksize, bool) or not isinstance(blocksize, (int, np.integer)) or int(blocksize) not in allowed:
        raise WickValueError(f"{arg}: {blocksize!r} is not one of {', '.join(map(str, allowed))}")
    return int(blocksize)


def _custom_code(code: Any) -> np.ndarray:
    a = np.asarray(code)
    if a.dtype.kind not in "fiu":
        raise WickTypeError(f"code: expected 256 float values, got dtype {a.dtype}")
    a = np.require(a, dtype=np.float32, requirements=["C", "A"])
    if a.shape != (256,):
        raise WickValueError(f"code: has shape {a.shape}; expected (256,)")
    return a


def _out_dtype(out_dtype: Any, default: str) -> str:
    if out_dtype is None:
        return default
    if isinstance(out_dtype, str):
        name = out_dtype
    else:
        try:
            dt = np.dtype(out_dtype)
        except TypeError as e:
            raise WickTypeError(f"out_dtype: {out_dtype!r} is not a dtype") from e
        name = "bfloat16" if _arrays.is_bfloat16(dt) else dt.name
    if name not in _arrays.SRC_DTYPES:
        raise WickValueError(f"out_dtype: {name!r} is not one of {', '.join(_arrays.SRC_DTYPES)}")
    return name


def _empty_output(shape: Tuple[int, ...], dtype: str) -> Tuple[np.ndarray, np.ndarray]:
    """(array to return, its uint8 view for the core)."""
    if dtype == "float32":
        out = np.empty(shape, np.float32)
    elif dtype == "float16":
        out = np.empty(shape, np.float16)
    else:
        try:
            import ml_dtypes

            out = np.empty(shape, ml_dtypes.bfloat16)
        except ImportError:  # bit patterns, as documented
            out = np.empty(shape, np.uint16)
    return out, out.reshape(-1).view(np.uint8)


def _output(out: Any, out_dtype: Any, default: str, shape: Tuple[int, ...]) -> Tuple[str, np.ndarray, np.ndarray]:
    """(output dtype name, array to return, its uint8 view for the core): a new array, or
    ``out`` checked to be usable as the result. ``out``'s dtype decides the output dtype
    (uint16 holds bfloat16 bit patterns, and only with ``out_dtype="bfloat16"``); an
    ``out_dtype`` given beside it must agree."""
    if out is None:
        dtype = _out_dtype(out_dtype, default)
        return (dtype, *_empty_output(shape, dtype))
    if not isinstance(out, np.ndarray):
        raise WickTypeError(f"out: expected a numpy array, got {type(out).__name__}")
    asked = None if out_dtype is None else _out_dtype(out_dtype, default)
    if not out.dtype.isnative:  # the core writes native bytes
        raise WickTypeError(f"out: has dtype {_arrays.describe(out.dtype)}; expected native byte order")
    if out.dtype == np.uint16:
        if asked != "bfloat16":
            raise WickTypeError("out: is uint16, which holds bfloat16 bit patterns only with out_dtype='bfloat16'; "
                                "expected a float32, float16 or bfloat16 array")
        dtype = "bfloat16"
    else:
        found = _arrays._encoding_of(out.dtype)
        if found is None:
            raise WickTypeError(f"out: has dtype {_arrays.describe(out.dtype)}; expected float32, float16 or bfloat16")
        if asked is not None and asked != found:
            raise WickTypeError(f"out: has dtype {found}, but out_dtype is {asked}")
        dtype = found
    _arrays.output_array(out, shape, out.dtype)
    return dtype, out, out.reshape(-1).view(np.uint8)


def _dtype_code(name: str) -> int:
    return _native.info()["src_dtypes"][name]


def _rebuild_absmax(state: QuantState) -> np.ndarray:
    """The float32 absmax of a state, undoing double quantization if needed."""
    if not state.nested:
        return np.require(state.absmax, dtype=np.float32, requirements=["C", "A"])
    s2 = state.state2
    codes = np.require(state.absmax, dtype=np.uint8, requirements=["C", "A"])
    nested = np.require(s2.absmax, dtype=np.float32, requirements=["C", "A"])
    table = np.require(s2.code, dtype=np.float32, requirements=["C", "A"])
    absmax = np.empty(codes.size, np.float32)
    err = _native.errbuf()
    rc = _native.lib().wick_bnb_dequantize_nested(
        _arrays.ptr(codes, "uint8_t[]"), codes.size, _arrays.ptr(nested, "float[]"), nested.size,
        float(state.offset), _arrays.ptr(table, "float[]"), table.size, int(s2.blocksize),
        _arrays.ptr(absmax, "float[]", True), err, _native.ERRLEN)
    _native.check(rc, err)
    return absmax


def _check_nested_offset(offset: Optional[float], nested: bool, flag: str) -> None:
    if offset is not None and not nested:
        raise WickValueError(f"nested_offset: {offset!r} is given, but it is the offset of double quantization, "
                             f"which is off; pass {flag} as well, or drop nested_offset")


def _nest(absmax: np.ndarray, nested_blocksize: int, rules: int, allow_non_finite: bool, threads: Optional[int],
          offset: Optional[float]):
    """Double-quantize absmax: (codes, nested state, offset)."""
    lib, err = _native.lib(), _native.errbuf()
    if offset is None:
        off = ffi.new("float *")
        _native.check(lib.wick_bnb_nested_offset(_arrays.ptr(absmax, "float[]"), absmax.size, off, err, _native.ERRLEN), err)
        offset = float(off[0])
    elif isinstance(offset, bool) or not isinstance(offset, (int, float, np.floating)) or not math.isfinite(offset):
        raise WickValueError(f"nested_offset: {offset!r} is not a finite number")
    else:
        offset = float(np.float32(offset))
    codes = np.empty(absmax.size, np.uint8)
    nested = np.empty(-(-absmax.size // nested_blocksize), np.float32)
    rc = lib.wick_bnb_quantize_nested(
        _arrays.ptr(absmax, "float[]"), absmax.size, offset, nested_blocksize, rules, _flags(allow_non_finite),
        _arrays.ptr(codes, "uint8_t[]", True), _arrays.ptr(nested, "float[]", True), nested.size,
        _threads(threads), err, _native.ERRLEN)
    _native.check(rc, err)
    state2 = QuantState(absmax=nested, blocksize=nested_blocksize, code=code_table("dynamic_signed"), dtype="float32")
    return codes, state2, offset


def quantize_blockwise(
    x: Any,
    blocksize: int = 4096,
    code: Any = None,
    nested: bool = False,
    *,
    threads: Optional[int] = None,
    rules: str = "cuda",
    allow_non_finite: bool = False,
    src_dtype: Optional[str] = None,
    nested_offset: Optional[float] = None,
) -> Tuple[np.ndarray, QuantState]:
    """8-bit block-wise quantization, as bitsandbytes' ``quantize_blockwise``.

    Args:
        x: float32, float16 or bfloat16 array of any shape (bfloat16 as
            ``ml_dtypes.bfloat16``, or uint16 bit patterns with ``src_dtype="bfloat16"``).
        blocksize: 4096, 2048, 1024, 512, 256, 128, 64 or 32 elements per block
            (blocks run over the flattened tensor).
        code: a custom table of 256 ascending float32 values; default: the signed
            dynamic map.
        nested: also quantize absmax (double quantization, blocks of ``blocksize``).
        threads: worker threads (None = every core); the result never depends on it.
        rules: ``"cuda"`` (bitsandbytes' CUDA kernels, the default) or ``"cpu"``
            (its CPU path).
        allow_non_finite: accept NaN/Inf with bitsandbytes' CUDA behaviour.
        src_dtype: how to read uint16 bit patterns (``"float16"``/``"bfloat16"``).
        nested_offset: with ``nested``, use this offset instead of the mean of absmax
            (to reproduce a state made elsewhere bit for bit); an error without ``nested``.

    Returns:
        ``(codes, state)``: uint8 codes of ``x``'s shape, and the :class:`QuantState`.
    """
    bs = _blocksize(blocksize)
    rule = _rules(rules)
    _check_nested_offset(nested_offset, nested, "nested=True")
    arr, enc = _arrays.source_array(x, src_dtype)
    table = code_table("dynamic_signed") if code is None else _custom_code(code)
    n = arr.size
    codes = np.empty(arr.shape, np.uint8)
    absmax = np.empty(-(-n // bs), np.float32)
    ctl, err = ffi.new("wick_ctl *"), _native.errbuf()
    args = (_dtype_code(enc), _arrays.ptr(arr, "uint8_t[]"), n, _arrays.ptr(table, "float[]"), table.size, bs, rule,
            _flags(allow_non_finite), _arrays.ptr(codes, "uint8_t[]", True), _arrays.ptr(absmax, "float[]", True),
            absmax.size, _threads(threads), ctl, err, _native.ERRLEN)
    _native.invoke(_native.lib().wick_bnb_quantize_blockwise, args, ctl=ctl, err=err, nbytes=arr.nbytes)
    if not nested:
        return codes, QuantState(absmax=absmax, blocksize=bs, code=table, dtype=enc)
    qabs, state2, offset = _nest(absmax, bs, rule, allow_non_finite, threads, nested_offset)
    return codes, QuantState(absmax=qabs, blocksize=bs, code=table, dtype=enc, offset=offset, state2=state2)


def dequantize_blockwise(
    codes: Any, state: QuantState, *, out_dtype: Any = None, threads: Optional[int] = None,
    out: Optional[np.ndarray] = None,
) -> np.ndarray:
    """Reverse :func:`quantize_blockwise`: ``code[codes] * absmax`` per block, rounded
    to ``out_dtype`` (default: the dtype the state records).

    The state's own tables are used (``quant_map``, and ``nested_quant_map`` for a
    double-quantized absmax), so a state read from a checkpoint decodes with the
    map stored in it. bfloat16 output is an ``ml_dtypes.bfloat16`` array when
    ml_dtypes is installed, else uint16 bit patterns.

    ``out``, as bitsandbytes' ``out``: a preallocated result (writable, C-contiguous,
    the shape of ``codes``; float32, float16 or bfloat16, or uint16 bit patterns with
    ``out_dtype="bfloat16"``), written in place and returned. Its dtype is the output
    dtype; an ``out_dtype`` beside it must agree. Decoding into the same buffer again
    skips the page faults of a new array (docs/bitsandbytes.md).
    """
    if not isinstance(state, QuantState):
        raise WickTypeError(f"state: expected a QuantState, got {type(state).__name__}")
    if state.quant_type is not None:
        raise WickValueError(f"state: is a 4-bit {state.quant_type} state; use dequantize_4bit")
    c = np.asarray(codes)
    if c.dtype != np.uint8:
        raise WickTypeError(f"codes: has dtype {c.dtype}; expected uint8")
    c = np.require(c, requirements=["C", "A"])
    absmax = _rebuild_absmax(state)
    if absmax.size != -(-c.size // state.blocksize):
        raise WickValueError(f"state: holds {absmax.size} absmax values; {c.size} codes in blocks of "
                             f"{state.blocksize} need {-(-c.size // state.blocksize)}")
    table = np.require(state.code, dtype=np.float32, requirements=["C", "A"])
    dtype, out, raw = _output(out, out_dtype, state.dtype, c.shape)
    ctl, err = ffi.new("wick_ctl *"), _native.errbuf()
    args = (_arrays.ptr(c, "uint8_t[]"), c.size, _arrays.ptr(absmax, "float[]"), absmax.size,
            _arrays.ptr(table, "float[]"), table.size, int(state.blocksize), _dtype_code(dtype),
            _arrays.ptr(raw, "uint8_t[]", True), _threads(threads), ctl, err, _native.ERRLEN)
    _native.invoke(_native.lib().wick_bnb_dequantize_blockwise, args, ctl=ctl, err=err, nbytes=raw.nbytes)
    return out


def quantize_4bit(
    x: Any,
    blocksize: int = 64,
    quant_type: str = "nf4",
    compress_statistics: bool = False,
    *,
    threads: Optional[int] = None,
    rules: str = "cuda",
    allow_non_finite: bool = False,
    src_dtype: Optional[str] = None,
    nested_offset: Optional[float] = None,
) -> Tuple[np.ndarray, QuantState]:
    """4-bit NF4/FP4 quantization, as bitsandbytes' ``quantize_4bit``.

    Args:
        x: float32, float16 or bfloat16 array of any shape.
        blocksize: 32, 64 (the default, as QLoRA), 128, …, 4096.
        quant_type: ``"nf4"`` or ``"fp4"``.
        compress_statistics: double-quantize absmax (blocks of 256).
        threads, rules, allow_non_finite, src_dtype, nested_offset: as :func:`quantize_blockwise`.

    Returns:
        ``(packed, state)``: uint8 of shape ``((n + 1) // 2, 1)`` with two codes per byte
        (first element in the high nibble), and the :class:`QuantState` (``shape`` is
        ``x.shape``).
    """
    bs = _blocksize(blocksize)
    qt = _quant_type(quant_type)
    rule = _rules(rules)
    _check_nested_offset(nested_offset, compress_statistics, "compress_statistics=True")
    arr, enc = _arrays.source_array(x, src_dtype)
    n = arr.size
    packed = np.empty(((n + 1) // 2, 1), np.uint8)
    absmax = np.empty(-(-n // bs), np.float32)
    ctl, err = ffi.new("wick_ctl *"), _native.errbuf()
    args = (_dtype_code(enc), _arrays.ptr(arr, "uint8_t[]"), n, qt, bs, rule, _flags(allow_non_finite),
            _arrays.ptr(packed, "uint8_t[]", True), packed.size, _arrays.ptr(absmax, "float[]", True), absmax.size,
            _threads(threads), ctl, err, _native.ERRLEN)
    _native.invoke(_native.lib().wick_bnb_quantize_4bit, args, ctl=ctl, err=err, nbytes=arr.nbytes)
    table = code_table(quant_type)
    if not compress_statistics:
        return packed, QuantState(absmax=absmax, blocksize=bs, code=table, dtype=enc, shape=arr.shape, quant_type=quant_type)
    qabs, state2, offset = _nest(absmax, _native.info()["bnb"]["nested_blocksize_4bit"], rule, allow_non_finite, threads,
                                 nested_offset)
    return packed, QuantState(absmax=qabs, blocksize=bs, code=table, dtype=enc, shape=arr.shape, quant_type=quant_type,
                              offset=offset, state2=state2)


def dequantize_4bit(packed: Any, state: QuantState, *, out_dtype: Any = None, threads: Optional[int] = None,
                    rules: str = "cuda", out: Optional[np.ndarray] = None) -> np.ndarray:
    """Reverse :func:`quantize_4bit`: an array of ``state.shape`` in ``out_dtype``
    (default: the state's dtype), bit-exact with bitsandbytes' dequantizer.

    ``rules`` picks whose: ``"cuda"`` (its CUDA kernel, the default) or ``"cpu"``
    (its CPU path). They differ only in the sign of FP4 code 8 (``1000``): CUDA
    multiplies absmax by -0.0, bitsandbytes 0.50 on a CPU with AVX-512F by +0.0
    (the value in the state's ``quant_map``) at every block size, as it does on any
    CPU for an odd last dimension. Its plain CPU loop, used on CPUs without
    AVX-512F otherwise, gives -0.0 like CUDA: use ``"cuda"`` to match that. NF4 is
    the same under both (docs/bitsandbytes.md).

    A state whose ``quant_map`` differs from the built-in table of its quant_type
    (possible only for a hand-made checkpoint) is decoded with the stored map.

    ``out``, as bitsandbytes' ``out``: a preallocated result of ``state.shape``
    (see :func:`dequantize_blockwise`), written in place and returned.
    """
    if not isinstance(state, QuantState):
        raise WickTypeError(f"state: expected a QuantState, got {type(state).__name__}")
    if state.quant_type is None or state.shape is None:
        raise WickValueError("state: is an 8-bit state (no quant_type/shape); use dequantize_blockwise")
    p = np.asarray(packed)
    if p.dtype != np.uint8:
        raise WickTypeError(f"packed: has dtype {p.dtype}; expected uint8")
    p = np.require(p, requirements=["C", "A"]).reshape(-1)
    n = math.prod(state.shape)
    if p.size != (n + 1) // 2:
        raise WickValueError(f"packed: holds {p.size} bytes; a state of shape {state.shape} needs {(n + 1) // 2}")
    rule = _rules(rules)
    dtype, out, raw = _output(out, out_dtype, state.dtype, tuple(state.shape))
    absmax = _rebuild_absmax(state)
    stored = np.asarray(state.code, dtype=np.float32)
    if not np.array_equal(stored.view(np.uint32), code_table(state.quant_type).view(np.uint32)):
        _dequantize_4bit_custom(p, n, absmax, stored, state, dtype, raw)
        return out
    ctl, err = ffi.new("wick_ctl *"), _native.errbuf()
    args = (_arrays.ptr(p, "uint8_t[]"), p.size, n, _arrays.ptr(absmax, "float[]"), absmax.size,
            _quant_type(state.quant_type), int(state.blocksize), rule, _dtype_code(dtype), _arrays.ptr(raw, "uint8_t[]", True),
            _threads(threads), ctl, err, _native.ERRLEN)
    _native.invoke(_native.lib().wick_bnb_dequantize_4bit, args, ctl=ctl, err=err, nbytes=raw.nbytes)
    return out


def _dequantize_4bit_custom(p: np.ndarray, n: int, absmax: np.ndarray, table: np.ndarray, state: QuantState,
                            dtype: str, raw: np.ndarray) -> None:
    """Decode with a non-standard stored quant_map, f32(map[code] * absmax), into ``raw``
    (the bytes of the output array)."""
    from ._quantize import quantize

    codes = np.empty(2 * p.size, np.uint8)
    codes[0::2] = p >> 4
    codes[1::2] = p & 0x0F
    codes = codes[:n]
    values = (table[codes] * absmax[np.arange(n) // state.blocksize]).astype(np.float32)
    if dtype == "float32":
        raw.view(np.float32)[:] = values
        return
    bits = quantize(values.reshape(1, -1), "F16" if dtype == "float16" else "BF16", allow_non_finite=True).view(np.uint16)
    raw.view(np.uint16)[:] = bits.reshape(-1)
