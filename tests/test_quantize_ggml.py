"""wick.quantize / wick.dequantize against the reference: the gguf package's
numpy quantizers (exact for F32, F16, BF16 and Q8_0, spec ggml-quants.md §7)
and ggml's own bytes in quant/testdata/ggml-quants-vectors.json."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import wick
from conftest import ROOT

gguf = pytest.importorskip("gguf")
from gguf import GGMLQuantizationType as GT  # noqa: E402
from gguf import quants as gq  # noqa: E402

TYPES = ["F32", "F16", "BF16", "Q8_0"]
# the gguf package quantizes these exactly as ggml does; its Q4_0/Q5_0 imitate a
# fused multiply-add (see test_gguf_q4_0_q5_0_deviate_only_at_fma_ties)
GGUF_EXACT = TYPES + ["Q4_1", "Q5_1"]


def _gguf_decodes(name: str) -> bool:
    """Whether the gguf package knows and decodes this type (its 0.19 enum
    lacks Q2_0 and it has no Q1_0 decoder; Wick's goldens from ggml itself
    cover those)."""
    if name not in GT.__members__:
        return False
    try:
        gq.dequantize(np.zeros(wick.type_info(name).type_size, np.uint8), GT[name])
    except NotImplementedError:
        return False
    return True


# every type Wick writes that the gguf package decodes: it does so bit-exactly
DEQUANT = [t.name for t in wick.types() if t.can_quantize and _gguf_decodes(t.name)]


def reference_bytes(x: np.ndarray, name: str) -> np.ndarray:
    """The gguf package's encoding of float32 ``x``, as bytes shaped like Wick's result."""
    with np.errstate(over="ignore", invalid="ignore"):
        ref = gq.quantize(x, GT[name])
    return np.ascontiguousarray(ref).view(np.uint8).reshape(x.shape[:-1] + (-1,))


def adversarial_rows() -> np.ndarray:
    """Blocks that stress rounding and scale edge cases, 32 values per row."""
    rows = []
    i = np.arange(32, dtype=np.float32)
    rows.append(np.zeros(32, np.float32))
    rows.append(np.full(32, -0.0, np.float32))
    rows.append(np.arange(1, 33, dtype=np.uint32).view(np.float32))  # smallest subnormals
    rows.append((i - 16) * np.float32(1e-40))
    rows.append((i - 16) / np.float32(16) * np.float32(3e38))  # huge: the scale overflows fp16 to inf
    rows.append(i - np.float32(15.5))  # halves
    ties = i + np.float32(0.5)
    ties[0] = 127  # scale exactly 1: every other value is a tie
    rows.append(ties)
    near = np.float32(i % 16) + np.float32(0.5)
    near = np.where(i % 2 == 1, np.nextafter(near, np.float32(0)), np.nextafter(near, np.float32(200)))
    near[0] = 127
    rows.append(near.astype(np.float32))
    rows.append(np.float32(65504) * np.where(i % 2 == 0, 1, -1).astype(np.float32))
    rows.append(np.float32(65520) * np.ones(32, np.float32))  # F16 overflows to inf
    rows.append(i * np.float32(1e-8))
    rows.append(np.float32(2.0 ** -24) * (i - 15))  # around the fp16 subnormal boundary
    out = np.zeros(32, np.float32)
    out[7] = -1e30
    rows.append(out)
    return np.stack(rows).astype(np.float32)


def random_array(rng, shape) -> np.ndarray:
    kinds = [
        rng.standard_normal(shape),
        rng.standard_normal(shape) * 10.0 ** rng.integers(-30, 30, size=shape),
        rng.integers(-127, 128, size=shape).astype(np.float64),  # integers: exact ties after scaling
        rng.laplace(size=shape) * 0.02,
    ]
    pick = rng.integers(0, len(kinds), size=shape)
    return np.choose(pick, kinds).astype(np.float32)


@pytest.mark.parametrize("name", GGUF_EXACT)
@pytest.mark.parametrize("shape", [(1, 32), (7, 96), (64, 4096), (3, 2, 1024), (1, 32 * 1031)])
def test_random_matches_gguf(rng, name, shape):
    x = random_array(rng, shape)
    got = wick.quantize(x, name)
    want = reference_bytes(x, name)
    assert got.shape == want.shape and got.dtype == np.uint8
    assert np.array_equal(got, want)


@pytest.mark.parametrize("name", GGUF_EXACT)
def test_adversarial_matches_gguf(name):
    x = adversarial_rows()
    with np.errstate(all="ignore"):
        want = reference_bytes(x, name)
    got = wick.quantize(x, name)
    bad = np.flatnonzero(~np.all(got == want, axis=1))
    assert bad.size == 0, f"rows {bad} differ: wick {got[bad[0]].tobytes().hex()} gguf {want[bad[0]].tobytes().hex()}"


@pytest.mark.parametrize("name", DEQUANT)
def test_dequantize_matches_gguf(rng, name):
    x = np.concatenate([random_array(rng, (40, 256)), np.tile(adversarial_rows(), (1, 8))])
    if not wick.type_info(name).float:  # keep block scales finite: fp16 overflow is not what this tests
        x = np.clip(x, -1e4, 1e4)
    try:
        q = wick.quantize(x, name)
    except wick.WickValueError:  # IQ2_XXS, IQ2_XS, IQ1_S: ggml (and Wick) require an imatrix
        q = wick.quantize(x, name, imatrix=np.ones(x.shape[-1], np.float32))
    with np.errstate(all="ignore"):
        want = gq.dequantize(q, GT[name]).astype(np.float32)
    got = wick.dequantize(q, name, x.shape)
    assert got.dtype == np.float32 and got.shape == x.shape
    assert np.array_equal(got.view(np.uint32), want.view(np.uint32))


@pytest.mark.parametrize("name", ["Q4_0", "Q5_0"])
def test_gguf_q4_0_q5_0_known_deviation(rng, name):
    """Where the gguf package's Q4_0/Q5_0 differ from ggml, and that Wick is ggml there.

    The spec says gguf-py imitates a fused multiply-add in x·id + offset; gguf 0.19
    computes it in float32 (two roundings, like ggml), so it agrees on random data
    and on the spec's FMA tie block. It still differs on a block of negative
    zeros: it takes the signed maximum from argmax (-0.0, so d = +0.0), while ggml
    starts from +0.0 and keeps it (d = -0.0, fp16 0x8000)."""
    tie = np.zeros((1, 32), np.float32)
    tie[0, 0], tie[0, 1] = np.float32(-0.7), np.float32(-0.65625)
    if name == "Q4_0":
        assert wick.quantize(tie, name).tobytes().hex() == "9a2d8081" + "88" * 14  # non-FMA reference (spec §8)
    assert np.array_equal(wick.quantize(tie, name), reference_bytes(tie, name))
    y = random_array(rng, (512, 256))
    assert np.array_equal(wick.quantize(y, name), reference_bytes(y, name))
    neg_zero = np.full((1, 32), -0.0, np.float32)
    got, ref = wick.quantize(neg_zero, name), reference_bytes(neg_zero, name)
    assert got[0, :2].tobytes() == b"\x00\x80" and ref[0, :2].tobytes() == b"\x00\x00"
    assert np.array_equal(got[0, 2:], ref[0, 2:])
    from wick.testing import GGMLReference

    ggml = GGMLReference.load()
    if ggml is not None:
        assert np.array_equal(got, ggml.quantize(neg_zero, name))
        assert np.array_equal(wick.quantize(tie, name), ggml.quantize(tie, name))


def test_fma_tie_vector_and_reference_vectors():
    """ggml's own bytes (quant/testdata) for every type Wick can quantize."""
    vf = json.loads((ROOT / "quant" / "testdata" / "ggml-quants-vectors.json").read_text())
    imat = np.array([int(h, 16) for h in vf["imatrix"]["values_f32_bits"]], np.uint32).view(np.float32)
    checked = 0
    for case in vf["cases"]:
        t = wick.type_info(case["type"])
        if not t.can_quantize:
            continue
        inp = vf["inputs"][case["input"]]
        x = np.array([int(h, 16) for h in inp["f32_bits"]], np.uint32).view(np.float32)
        x = x.reshape(inp["nrows"], inp["n_per_row"])
        kw = {"imatrix": imat} if case["imatrix"] else {}
        got = wick.quantize(x, t, allow_non_finite=t.float, **kw)
        assert got.tobytes().hex() == case["bytes_hex"], (case["type"], case["input"], case["imatrix"])
        if "dequant_f32_bits" in case:
            want = np.array([int(h, 16) for h in case["dequant_f32_bits"]], np.uint32)
            assert np.array_equal(wick.dequantize(got, t, x.shape).view(np.uint32).ravel(), want)
        checked += 1
    assert checked >= 6


@pytest.mark.parametrize("name", TYPES)
def test_thread_count_invariance(rng, name):
    x = random_array(rng, (33, 8192))
    one = wick.quantize(x, name, threads=1)
    for threads in (None, 0, 2, 3, 16):
        assert np.array_equal(wick.quantize(x, name, threads=threads), one)
    y1 = wick.dequantize(one, name, x.shape, threads=1)
    assert np.array_equal(wick.dequantize(one, name, x.shape, threads=5).view(np.uint32), y1.view(np.uint32))


@pytest.mark.parametrize("name", TYPES)
def test_half_inputs_equal_their_float32_widening(rng, name):
    x = (rng.standard_normal((16, 512)) * 3).astype(np.float32)
    h = x.astype(np.float16)
    assert np.array_equal(wick.quantize(h, name), wick.quantize(h.astype(np.float32), name))
    # bfloat16 as bit patterns, without ml_dtypes
    bits = (x.view(np.uint32) >> 16).astype(np.uint16)
    widened = (bits.astype(np.uint32) << 16).view(np.float32)
    assert np.array_equal(wick.quantize(bits, name, src_dtype="bfloat16"), wick.quantize(widened, name))


def test_bfloat16_via_ml_dtypes(rng):
    ml_dtypes = pytest.importorskip("ml_dtypes")
    x = random_array(rng, (8, 256))
    b = x.astype(ml_dtypes.bfloat16)
    assert np.array_equal(wick.quantize(b, "Q8_0"), wick.quantize(b.astype(np.float32), "Q8_0"))
    assert np.array_equal(wick.quantize(b, "BF16").view(np.uint16), b.view(np.uint16))


def test_non_contiguous_and_foreign_layouts(rng):
    x = random_array(rng, (64, 128))
    want = wick.quantize(np.ascontiguousarray(x[:, ::2]), "Q8_0")
    assert np.array_equal(wick.quantize(x[:, ::2], "Q8_0"), want)
    f = np.asfortranarray(x)
    assert np.array_equal(wick.quantize(f, "Q8_0"), wick.quantize(x, "Q8_0"))
    big = x.astype(">f4")
    assert np.array_equal(wick.quantize(big, "Q8_0"), wick.quantize(x, "Q8_0"))
    unaligned = np.frombuffer(b"\0" + x.tobytes(), dtype=np.float32, offset=1).reshape(x.shape)
    assert not unaligned.flags.aligned
    assert np.array_equal(wick.quantize(unaligned, "Q8_0"), wick.quantize(x, "Q8_0"))


def test_contiguous_input_is_not_copied(rng):
    from wick import _arrays

    x = rng.standard_normal((4, 64)).astype(np.float32)
    arr, enc = _arrays.source_array(x)
    assert enc == "float32" and arr is x
    h = x.astype(np.float16)
    arr, enc = _arrays.source_array(h)
    assert enc == "float16" and np.shares_memory(arr, h)


def test_bit_patterns_and_encoded_bytes_in_any_layout(rng):
    # uint16 bit patterns (src_dtype) and encoded uint8 data are passed in place when
    # C-contiguous and aligned, and copied once into that form otherwise.
    from wick import _arrays

    x = random_array(rng, (8, 128))
    bits = (x.view(np.uint32) >> 16).astype(np.uint16)
    arr, enc = _arrays.source_array(bits, "bfloat16")
    assert enc == "bfloat16" and np.shares_memory(arr, bits)
    strided = np.repeat(bits, 2, axis=1)[:, ::2]
    assert not strided.flags.c_contiguous
    want = wick.quantize(bits, "Q8_0", src_dtype="bfloat16")
    assert np.array_equal(wick.quantize(strided, "Q8_0", src_dtype="bfloat16"), want)
    q = wick.quantize(x, "Q8_0")
    assert np.shares_memory(_arrays.byte_source(q), q)
    q_strided = np.repeat(q, 2, axis=0)[::2]
    assert not q_strided.flags.c_contiguous
    got = wick.dequantize(q_strided, "Q8_0", x.shape).view(np.uint32)
    assert np.array_equal(got, wick.dequantize(q, "Q8_0", x.shape).view(np.uint32))


def test_read_only_and_memmap_inputs(tmp_path, rng):
    x = random_array(rng, (16, 64))
    ro = x.copy()
    ro.flags.writeable = False
    assert np.array_equal(wick.quantize(ro, "Q8_0"), wick.quantize(x, "Q8_0"))
    path = tmp_path / "x.f32"
    x.tofile(path)
    mm = np.memmap(path, dtype=np.float32, mode="r", shape=x.shape)
    assert np.array_equal(wick.quantize(mm, "Q8_0"), wick.quantize(x, "Q8_0"))


def test_out_parameter(rng):
    x = random_array(rng, (8, 64))
    out = np.empty((8, 68), np.uint8)
    res = wick.quantize(x, "Q8_0", out=out)
    assert res is out and np.array_equal(out, wick.quantize(x, "Q8_0"))
    y = np.empty((8, 64), np.float32)
    assert wick.dequantize(out, "Q8_0", (8, 64), out=y) is y


def test_dequantize_accepts_bytes(rng):
    x = rng.standard_normal((2, 64)).astype(np.float32)
    q = wick.quantize(x, "Q8_0")
    assert np.array_equal(wick.dequantize(q.tobytes(), "Q8_0", x.shape), wick.dequantize(q, "Q8_0", x.shape))
    assert np.array_equal(wick.dequantize(bytearray(q.tobytes()), "q8_0", 128), wick.dequantize(q, "Q8_0", x.shape).ravel())


def test_non_finite_through_float_types_when_allowed():
    x = np.array([[np.nan, np.inf, -np.inf, 1.0] * 8], np.float32)
    for name in ("F32", "F16", "BF16"):
        got = wick.quantize(x, name, allow_non_finite=True)
        back = wick.dequantize(got, name, x.shape)
        assert np.isnan(back[0, 0]) and back[0, 1] == np.inf and back[0, 2] == -np.inf and back[0, 3] == 1
    # ggml writes the canonical NaN 0x7E00 for F16 (spec §1.1)
    assert wick.quantize(x, "F16", allow_non_finite=True).view(np.uint16)[0, 0] == 0x7E00


_finite_f32 = st.floats(width=32, allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(hnp.arrays(np.float32, st.tuples(st.integers(1, 4), st.sampled_from([32, 64, 256])), elements=_finite_f32))
def test_property_q8_0_matches_gguf(x):
    with np.errstate(all="ignore"):
        want = reference_bytes(x, "Q8_0")
    assert np.array_equal(wick.quantize(x, "Q8_0"), want)


@settings(max_examples=200, deadline=None)
@given(hnp.arrays(np.float32, st.tuples(st.integers(1, 3), st.integers(1, 64)), elements=_finite_f32))
def test_property_f16_bf16_match_gguf(x):
    with np.errstate(all="ignore"):
        for name in ("F16", "BF16"):
            assert np.array_equal(wick.quantize(x, name), reference_bytes(x, name))
