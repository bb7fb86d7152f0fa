"""Bad input gets a specific exception naming the argument and what was expected."""

from __future__ import annotations

import numpy as np
import pytest

import wick

X = np.ones((4, 64), np.float32)


@pytest.mark.parametrize(
    "x, exc, message",
    [
        (X.astype(np.float64), wick.WickTypeError, r"x: dtype float64 is not accepted; expected float32, float16 or bfloat16 .*astype\(np.float32\)"),
        (X.astype(np.int32), wick.WickTypeError, r"x: dtype int32 is not accepted"),
        (X.astype(np.complex64), wick.WickTypeError, r"x: dtype complex64 is not accepted"),
        ("not an array", wick.WickTypeError, r"x: expected a numpy array, got str"),
        (np.float32(3.0), wick.WickValueError, r"x: is a 0-d scalar"),
        (np.zeros((0, 32), np.float32), wick.WickValueError, r"x: is empty \(shape \(0, 32\)\)"),
        (np.zeros((4, 33), np.float32), wick.WickValueError, r"x: rows \(the last axis\) have 33 elements; Q8_0 needs a multiple of its block size 32"),
        (np.zeros(100, np.float32), wick.WickValueError, r"x: rows \(the last axis\) have 100 elements"),
    ],
)
def test_bad_x(x, exc, message):
    with pytest.raises(exc, match=message):
        wick.quantize(x, "Q8_0")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_names_row_and_column(bad):
    x = np.ones((3, 64), np.float32)
    x[2, 37] = bad
    x[2, 50] = np.nan
    for name in ("Q8_0", "F16", "BF16", "F32"):
        with pytest.raises(wick.WickNonFiniteError, match=rf"x: element 165 \(row 2, column 37\) is .*{name} needs finite input") as e:
            wick.quantize(x, name)
        assert isinstance(e.value, ValueError)
    # block types refuse even when non-finite values are allowed for float types
    with pytest.raises(wick.WickNonFiniteError):
        wick.quantize(x, "Q8_0", allow_non_finite=True)


def test_non_finite_in_half_inputs_is_found_after_widening():
    h = np.ones((2, 32), np.float16)
    h[1, 3] = np.inf
    with pytest.raises(wick.WickNonFiniteError, match=r"row 1, column 3"):
        wick.quantize(h, "Q8_0")


@pytest.mark.parametrize(
    "type_, exc, message",
    [
        ("Q9_9", wick.WickValueError, r"type: unknown ggml type 'Q9_9'; known types are"),
        (4, wick.WickValueError, r"type: unknown ggml type id 4"),
        (None, wick.WickTypeError, r"type: expected a type name"),
        ("Q8_K", wick.WickUnsupportedError, r"type: Wick cannot quantize to Q8_K; it can quantize to .*Q8_0"),
    ],
)
def test_bad_type(type_, exc, message):
    with pytest.raises(exc, match=message):
        wick.quantize(X, type_)


def test_unsupported_is_not_implemented_error():
    with pytest.raises(NotImplementedError):
        wick.dequantize(b"\0" * 36, "Q8_1", 32)  # ggml's dot-product type: Wick neither writes nor reads it


@pytest.mark.parametrize(
    "out, exc, message",
    [
        (np.empty((4, 67), np.uint8), wick.WickValueError, r"out: has shape \(4, 67\) \(268 bytes\); expected shape \(4, 68\) \(272 bytes\)"),
        (np.empty(10, np.uint8), wick.WickValueError, r"out: has shape \(10,\) \(10 bytes\); expected shape \(4, 68\)"),
        (np.empty((4, 68), np.int8), wick.WickTypeError, r"out: has dtype int8; expected uint8"),
        (np.empty((4, 136), np.uint8)[:, ::2], wick.WickValueError, r"out: must be C-contiguous"),
        ([0] * 272, wick.WickTypeError, r"out: expected a numpy array, got list"),
    ],
)
def test_bad_out(out, exc, message):
    with pytest.raises(exc, match=message):
        wick.quantize(X, "Q8_0", out=out)


def test_read_only_out():
    out = np.empty((4, 68), np.uint8)
    out.flags.writeable = False
    with pytest.raises(wick.WickValueError, match=r"out: is read-only; expected a writable array"):
        wick.quantize(X, "Q8_0", out=out)


@pytest.mark.parametrize("threads", [-1, 1.5, "4", True])
def test_bad_threads(threads):
    with pytest.raises(wick.WickValueError, match=r"threads: .* is not a non-negative int"):
        wick.quantize(X, "Q8_0", threads=threads)


@pytest.mark.parametrize(
    "imatrix, message",
    [
        (np.ones(63, np.float32), r"imatrix: has shape \(63,\); expected \(64,\), one value per column"),
        (np.full(64, np.nan, np.float32), r"imatrix: must hold finite, non-negative values"),
        (-np.ones(64, np.float32), r"imatrix: must hold finite, non-negative values"),
    ],
)
def test_bad_imatrix(imatrix, message):
    with pytest.raises(wick.WickValueError, match=message):
        wick.quantize(X, "Q8_0", imatrix=imatrix)


def test_src_dtype_errors():
    with pytest.raises(wick.WickValueError, match=r"src_dtype: 'float8' is not one of float32, float16, bfloat16"):
        wick.quantize(X, "Q8_0", src_dtype="float8")
    with pytest.raises(wick.WickTypeError, match=r"src_dtype='bfloat16' does not match the array's dtype float32"):
        wick.quantize(X, "Q8_0", src_dtype="bfloat16")


@pytest.mark.parametrize(
    "data, shape, exc, message",
    [
        (np.zeros(67, np.uint8), (2, 32), wick.WickValueError, r"data: holds 67 bytes; Q8_0 values of shape \(2, 32\) take exactly 68 bytes"),
        (np.zeros(69, np.uint8), (2, 32), wick.WickValueError, r"data: holds 69 bytes"),
        (np.zeros(68, np.uint8), (2, 33), wick.WickValueError, r"shape: rows \(the last axis\) have 33 elements; Q8_0 needs a multiple of its block size 32"),
        (np.zeros(68, np.uint8), (2, 0), wick.WickValueError, r"shape: \(2, 0\) has a dimension ≤ 0"),
        (np.zeros(68, np.uint8), (), wick.WickValueError, r"shape: is empty"),
        (np.zeros(68, np.uint8), "64", wick.WickTypeError, r"shape: expected an int or a tuple of ints, got str"),
        (np.zeros(17, np.float32), 32, wick.WickTypeError, r"data: has dtype float32; expected uint8 bytes"),
        (3.5, 32, wick.WickTypeError, r"data: expected bytes or a numpy uint8 array, got float"),
    ],
)
def test_bad_dequantize(data, shape, exc, message):
    with pytest.raises(exc, match=message):
        wick.dequantize(data, "Q8_0", shape)


def test_dequantize_bad_out():
    q = wick.quantize(X, "Q8_0")
    with pytest.raises(wick.WickValueError, match=r"out: has shape \(4, 63\)"):
        wick.dequantize(q, "Q8_0", X.shape, out=np.empty((4, 63), np.float32))
    with pytest.raises(wick.WickTypeError, match=r"out: has dtype float64; expected float32"):
        wick.dequantize(q, "Q8_0", X.shape, out=np.empty((4, 64), np.float64))


def test_go_side_validates_too():
    """Calling the C ABI directly with inconsistent sizes is refused by Go, not a crash."""
    from wick import _native

    lib, ffi = _native.lib(), _native.ffi
    err = _native.errbuf()
    x = np.ones(64, np.float32)
    out = np.empty(10, np.uint8)
    rc = lib.wick_quantize(8, 0, ffi.from_buffer("uint8_t[]", x), 64, 64, ffi.NULL, 0, 0,
                           ffi.from_buffer("uint8_t[]", out, require_writable=True), out.nbytes, 0, ffi.NULL, err, _native.ERRLEN)
    with pytest.raises(wick.WickValueError, match=r"out: holds 10 bytes; expected at least 68"):
        _native.check(rc, err)
    rc = lib.wick_quantize(8, 0, ffi.NULL, 64, 64, ffi.NULL, 0, 0, ffi.NULL, 0, 0, ffi.NULL, err, _native.ERRLEN)
    with pytest.raises(wick.WickValueError, match=r"x: NULL pointer for 64 elements"):
        _native.check(rc, err)
    rc = lib.wick_quantize(8, 9, ffi.from_buffer("uint8_t[]", x), 64, 64, ffi.NULL, 0, 0,
                           ffi.from_buffer("uint8_t[]", out, require_writable=True), out.nbytes, 0, ffi.NULL, err, _native.ERRLEN)
    with pytest.raises(wick.WickValueError, match=r"x: unknown dtype code 9"):
        _native.check(rc, err)
    rc = lib.wick_quantize(8, 0, ffi.from_buffer("uint8_t[]", x), 64, 64, ffi.NULL, 0, 1 << 7,
                           ffi.from_buffer("uint8_t[]", out, require_writable=True), out.nbytes, 0, ffi.NULL, err, _native.ERRLEN)
    with pytest.raises(wick.WickValueError, match=r"flags: unknown bits 0x80"):
        _native.check(rc, err)
    # a zero-length error buffer is allowed: the status still says what happened
    rc = lib.wick_quantize(8, 0, ffi.NULL, 64, 64, ffi.NULL, 0, 0, ffi.NULL, 0, 0, ffi.NULL, ffi.NULL, 0)
    assert rc == _native.info()["status"]["invalid_argument"]
