"""Every type Wick can quantize, byte for byte against llama.cpp's own quantizer
(ggml_quantize_chunk from the llama-cpp-python package; `.ci/run` installs it,
local runs without it skip)."""

from __future__ import annotations

import numpy as np
import pytest

import wick
from wick.testing import GGMLReference

REF = GGMLReference.load()
pytestmark = pytest.mark.skipif(REF is None, reason="llama-cpp-python is not installed (make test WITH_LLAMA=1)")

QUANTIZABLE = [t.name for t in wick.types() if t.can_quantize]


def inputs(rng, n_per_row: int) -> np.ndarray:
    rows = [
        rng.standard_normal((24, n_per_row)) * 0.02,
        rng.laplace(size=(8, n_per_row)) * 10.0 ** rng.integers(-6, 4, size=(8, 1)),
        rng.integers(-8, 8, size=(4, n_per_row)).astype(np.float64),  # exact ties
        np.zeros((1, n_per_row)),
    ]
    x = np.concatenate(rows).astype(np.float32)
    x[5, 3] = 40.0  # an outlier
    x[6, : n_per_row // 2] = 0.0  # half-zero rows
    return x


@pytest.mark.parametrize("name", QUANTIZABLE)
@pytest.mark.parametrize("n_per_row", [256, 2816])
def test_matches_llama_cpp(rng, name, n_per_row):
    x = inputs(rng, n_per_row)
    if REF.requires_imatrix(name):
        pytest.skip(f"llama.cpp needs an imatrix for {name}")
    want = REF.quantize(x, name, threads=2)
    got = wick.quantize(x, name)
    bad = np.flatnonzero(~np.all(got == want, axis=-1))
    assert bad.size == 0, f"{name}: rows {bad.tolist()} differ from llama.cpp"


@pytest.mark.parametrize("name", QUANTIZABLE)
def test_matches_llama_cpp_with_imatrix(rng, name):
    x = inputs(rng, 512)
    imatrix = (rng.random(512) * 4).astype(np.float32) ** 2
    want = REF.quantize(x, name, imatrix=imatrix)
    got = wick.quantize(x, name, imatrix=imatrix)
    assert np.array_equal(got, want)
