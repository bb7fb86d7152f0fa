"""wick.quantize to IQ2_XXS, IQ2_XS, IQ2_S, IQ1_S and IQ1_M against ggml's own
encoders (ggml_quantize_chunk of the installed llama-cpp-python, through
ctypes), with an importance matrix and, for the types ggml accepts without
one (IQ2_S, IQ1_M), without; the round trip through wick.dequantize against
ggml's dequantize_row_<type>. Local runs without llama-cpp-python skip."""

from __future__ import annotations

import numpy as np
import pytest

import wick
from wick.testing import GGMLReference

REF = GGMLReference.load()
pytestmark = pytest.mark.skipif(REF is None, reason="llama-cpp-python is not installed (make test WITH_LLAMA=1)")

TYPES = ["IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ1_S", "IQ1_M"]
NEEDS_IMATRIX = {"IQ2_XXS", "IQ2_XS", "IQ1_S"}


def rows(rng, n_per_row: int) -> np.ndarray:
    """Weight-like rows plus the cases that steer the encoders' branches."""
    x = np.concatenate([
        rng.standard_normal((6, n_per_row)) * 0.02,
        rng.standard_t(3, size=(4, n_per_row)) * 10.0 ** rng.integers(-8, 5, size=(4, 1)),
        rng.integers(-8, 9, size=(2, n_per_row)).astype(np.float64),  # ties, equal values to sort
        -np.abs(rng.standard_normal((1, n_per_row))),  # negative only
        np.full((1, n_per_row), 0.37),  # constant
        rng.standard_normal((1, n_per_row)) * 1e-25,  # squares underflow
        np.zeros((1, n_per_row)),
    ]).astype(np.float32)
    x[0, 5] = 3.0  # one outlier
    x[1, :32] = 0.0  # a zero sub-block
    x[2, 64:128] = 0.0
    return x


def imatrix_for(rng, n: int) -> np.ndarray:
    im = (rng.random(n) * 3).astype(np.float32) ** 2
    im[::17] = 0
    return im


@pytest.mark.parametrize("name", TYPES)
def test_matches_ggml_with_imatrix(rng, name):
    x = rows(rng, 768)
    im = imatrix_for(rng, 768)
    want = REF.quantize(x, name, imatrix=im)
    for threads in (1, 3):
        got = wick.quantize(x, name, imatrix=im, threads=threads)
        bad = np.flatnonzero(~np.all(got == want, axis=-1))
        assert bad.size == 0, f"{name} with imatrix: rows {bad.tolist()} differ from llama.cpp (threads {threads})"


@pytest.mark.parametrize("name", ["IQ2_S", "IQ1_M"])
def test_matches_ggml_without_imatrix(rng, name):
    x = rows(rng, 1280)
    want = REF.quantize(x, name)
    got = wick.quantize(x, name, threads=2)
    bad = np.flatnonzero(~np.all(got == want, axis=-1))
    assert bad.size == 0, f"{name}: rows {bad.tolist()} differ from llama.cpp"


@pytest.mark.parametrize("name", TYPES)
def test_round_trip_matches_ggml(rng, name):
    x = rows(rng, 512)
    q = wick.quantize(x, name, imatrix=imatrix_for(rng, 512))
    want = REF.dequantize(q, name, x.shape)
    got = wick.dequantize(q, name, x.shape)
    assert np.array_equal(got.view(np.uint32), want.view(np.uint32))


@pytest.mark.parametrize("name", sorted(NEEDS_IMATRIX))
def test_refused_without_imatrix(name):
    """ggml_quantize_chunk asserts an imatrix for these types; Wick raises and says so."""
    assert REF.requires_imatrix(name)
    with pytest.raises(wick.WickValueError, match=r"imatrix.*required to quantize to " + name):
        wick.quantize(np.ones((1, 256), np.float32), name)


@pytest.mark.parametrize("name", ["IQ2_S", "IQ1_M"])
def test_input_ggml_aborts_on_is_refused(name):
    """ggml aborts the process on these values (its search ends with a NaN scale); Wick raises and names the block."""
    i = np.arange(256)
    x = np.zeros((1, 512), np.float32)
    x[0, 256:] = (i - 128) * np.float32(3.4028235e38 / 256)
    with pytest.raises(wick.WickNonFiniteError, match=r"block 1 cannot be encoded as " + name):
        wick.quantize(x, name)
