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


def edge_rows(n_per_row: int = 256) -> np.ndarray:
    """Finite inputs at the edges of the kernels' arithmetic, one row per case."""
    f32 = np.float32
    half_below = np.nextafter(f32(0.5), f32(0))  # 0.5 - 2**-25: v + 0.5 rounds up in float32
    i = np.arange(n_per_row)
    rows = [
        (i - n_per_row // 2) * f32(1e-40),  # subnormals: 1/d overflows to +Inf (Q8_0 quants 0)
        np.where(i % 2, f32(1e-38), f32(-1e-38)),  # tiny normals, same overflow
        np.where(i % 2, f32(3.4028235e38), f32(-3.4028235e38)),  # ±FLT_MAX
        (i - n_per_row // 2) * f32(3.4028235e38 / n_per_row),  # huge, spread
        np.where(i % 32 == 0, f32(127), np.where(i % 2, half_below, -half_below) + (i % 8)),  # roundf near-ties
        np.where(i % 32 == 0, f32(127), (i % 16) + f32(0.5)),  # exact ties at scale 1
        np.full(n_per_row, f32(65519.996)),  # fp16 rounding edge below 65520
        np.full(n_per_row, f32(65520)),  # rounds to fp16 Inf
        np.float32(1) + (i % 4) * np.float32(2.0**-11),  # fp16 ties to even
        np.float32(1) + (i % 4) * np.float32(2.0**-8),  # bf16 ties to even
        np.zeros(n_per_row),
        -np.zeros(n_per_row),
    ]
    return np.stack([np.asarray(r, dtype=np.float32) for r in rows])


# Types whose ggml encoder aborts the process (a GGML_ASSERT on a NaN scale) on
# values whose squares overflow float32; Wick raises WickNonFiniteError instead.
ABORTS_ON_HUGE = {"IQ3_XXS", "IQ3_S"}
# Types for which ggml aborts on some of the edge rows only: the rows.
ABORTS_ON_ROWS = {"IQ2_S": [3], "IQ1_M": [3]}


@pytest.mark.parametrize("name", QUANTIZABLE)
def test_edge_rows_match_llama_cpp(name):
    if REF.requires_imatrix(name):
        pytest.skip(f"llama.cpp needs an imatrix for {name}")
    x = edge_rows()
    assert np.all(np.isfinite(x))
    if name in ABORTS_ON_HUGE:
        huge = np.any(np.abs(x) > np.float32(1.8e19), axis=-1)
        for row in x[huge]:
            with pytest.raises(wick.WickNonFiniteError, match="ggml aborts on it"):
                wick.quantize(row[None], name)
        x = x[~huge]
    if name in ABORTS_ON_ROWS:
        for i in ABORTS_ON_ROWS[name]:
            with pytest.raises(wick.WickNonFiniteError, match="ggml aborts on it"):
                wick.quantize(x[i : i + 1], name)
        x = np.delete(x, ABORTS_ON_ROWS[name], axis=0)
    want = REF.quantize(x, name)
    got = wick.quantize(x, name, threads=1)
    bad = np.flatnonzero(~np.all(got == want, axis=-1))
    assert bad.size == 0, f"{name}: edge rows {bad.tolist()} differ from llama.cpp"
