"""wick.quantize to IQ4_XS, IQ3_XXS and IQ3_S against ggml's own encoders
(ggml_quantize_chunk of the installed llama-cpp-python, through ctypes), with
and without an importance matrix, and wick.dequantize against ggml's
dequantize_row_<type>. Local runs without llama-cpp-python skip."""

from __future__ import annotations

import numpy as np
import pytest

import wick
from wick.testing import GGMLReference

REF = GGMLReference.load()
pytestmark = pytest.mark.skipif(REF is None, reason="llama-cpp-python is not installed (make test WITH_LLAMA=1)")

TYPES = ["IQ4_XS", "IQ3_XXS", "IQ3_S"]


def rows(rng, n_per_row: int) -> np.ndarray:
    """Weight-like rows plus the cases that steer the encoders' branches."""
    x = np.concatenate([
        rng.standard_normal((6, n_per_row)) * 0.02,
        rng.standard_t(3, size=(4, n_per_row)) * 10.0 ** rng.integers(-8, 5, size=(4, 1)),
        rng.integers(-8, 9, size=(2, n_per_row)).astype(np.float64),  # ties
        -np.abs(rng.standard_normal((1, n_per_row))),  # negative only
        np.full((1, n_per_row), 0.37),  # constant
        rng.standard_normal((1, n_per_row)) * 1e-25,  # squares underflow
        np.zeros((1, n_per_row)),
    ]).astype(np.float32)
    x[0, 5] = 3.0  # one outlier
    x[1, :32] = 0.0  # a zero sub-block first (IQ3_S shifts the following ones, as ggml)
    x[2, 64:128] = 0.0
    return x


@pytest.mark.parametrize("name", TYPES)
@pytest.mark.parametrize("n_per_row", [256, 1280])
def test_matches_ggml(rng, name, n_per_row):
    x = rows(rng, n_per_row)
    want = REF.quantize(x, name)
    for threads in (1, 3):
        got = wick.quantize(x, name, threads=threads)
        bad = np.flatnonzero(~np.all(got == want, axis=-1))
        assert bad.size == 0, f"{name}: rows {bad.tolist()} differ from llama.cpp (threads {threads})"


@pytest.mark.parametrize("name", TYPES)
def test_matches_ggml_with_imatrix(rng, name):
    x = rows(rng, 768)
    imatrix = (rng.random(768) * 3).astype(np.float32) ** 2
    imatrix[::17] = 0
    want = REF.quantize(x, name, imatrix=imatrix)
    got = wick.quantize(x, name, imatrix=imatrix)
    bad = np.flatnonzero(~np.all(got == want, axis=-1))
    assert bad.size == 0, f"{name} with imatrix: rows {bad.tolist()} differ from llama.cpp"


@pytest.mark.parametrize("name", TYPES)
def test_dequantize_matches_ggml(rng, name):
    x = rows(rng, 512)
    q = wick.quantize(x, name)
    want = REF.dequantize(q, name, x.shape)
    got = wick.dequantize(q, name, x.shape)
    assert np.array_equal(got.view(np.uint32), want.view(np.uint32))


@pytest.mark.parametrize("name", ["IQ3_XXS", "IQ3_S"])
def test_input_ggml_aborts_on_is_refused(name):
    """ggml aborts the process on values whose squares overflow; Wick raises and names the block."""
    x = np.zeros((1, 512), np.float32)
    x[0, 256:] = 3e38
    with pytest.raises(wick.WickNonFiniteError, match=r"block 1 cannot be encoded as " + name):
        wick.quantize(x, name)
