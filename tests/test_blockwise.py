"""bitsandbytes block-wise quantization against real bitsandbytes output
(tests/golden/bnb_cuda_cpu_goldens.npz: CUDA and CPU entries, see its README),
plus properties and bad input."""

from __future__ import annotations

import hashlib
import json
import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import wick
from conftest import ROOT

GOLD = np.load(ROOT / "tests" / "golden" / "bnb_cuda_cpu_goldens.npz")
KEYS = set(GOLD.files)


def bits(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    return a.view({4: np.uint32, 2: np.uint16, 1: np.uint8}[a.dtype.itemsize])


def same_bits(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and np.array_equal(bits(a), bits(b))


def golden_input(name: str):
    """(array for Wick, src_dtype or None)."""
    if name == "normal_f16":
        return GOLD["input/normal_f16_bits"].view(np.uint16), "float16"
    if name == "normal_bf16":
        return GOLD["input/normal_bf16_bits"].view(np.uint16), "bfloat16"
    return GOLD[f"input/{name}"], None


def cases(dev: str):
    """(input, kind, blocksize, nested) for every golden group of one device."""
    groups = sorted({k.rsplit("/", 1)[0] for k in KEYS if f"/{dev}/" in k})
    for g in groups:
        inp, _, what = g.split("/")
        m = re.fullmatch(r"(bw|nf4|fp4)(\d+)(n?)", what)
        assert m, g
        yield pytest.param(inp, m.group(1), int(m.group(2)), bool(m.group(3)), id=g)


def check_group(dev: str, inp: str, kind: str, bs: int, nested: bool):
    x, src_dtype = golden_input(inp)
    g = f"{inp}/{dev}/{kind}{bs}{'n' if nested else ''}"
    rules = "cuda" if dev == "cuda" else "cpu"
    if kind == "bw":
        codes, state = wick.quantize_blockwise(x, blocksize=bs, src_dtype=src_dtype, rules=rules)
        assert same_bits(codes, GOLD[g + "/codes"].reshape(codes.shape)), g + " codes"
        assert same_bits(state.absmax, GOLD[g + "/absmax"]), g + " absmax"
        if g + "/deq" in KEYS:
            assert same_bits(wick.dequantize_blockwise(codes, state), GOLD[g + "/deq"].reshape(codes.shape)), g + " deq"
        return
    offset = float(GOLD[g + "/offset"].reshape(-1)[0]) if nested else None
    packed, state = wick.quantize_4bit(x, blocksize=bs, quant_type=kind, compress_statistics=nested,
                                       nested_offset=offset, src_dtype=src_dtype, rules=rules)
    assert same_bits(packed, GOLD[g + "/packed"].reshape(packed.shape)), g + " packed"
    if nested:
        assert same_bits(state.absmax, GOLD[g + "/absmax_codes"]), g + " absmax codes"
        assert same_bits(state.state2.absmax, GOLD[g + "/nested_absmax"]), g + " nested absmax"
    else:
        assert same_bits(state.absmax, GOLD[g + "/absmax"]), g + " absmax"
    if g + "/deq" in KEYS:
        # The CPU goldens' host ran bitsandbytes' plain CPU loop below block size
        # 2048 (FP4 code 8 is -0.0 there, as on CUDA) and its PyTorch fallback from
        # 2048 on (+0.0, Wick's CPU rules); see bnb_cpu_dequant_4bit.json for a
        # CPU with AVX-512F, where bitsandbytes gives +0.0 at every block size.
        deq_rules = "cpu" if dev == "cpu" and bs >= 2048 else "cuda"
        got = wick.dequantize_4bit(packed, state, rules=deq_rules)
        assert same_bits(got.reshape(-1), GOLD[g + "/deq"].reshape(-1)), g + " deq"


@pytest.mark.parametrize("inp, kind, bs, nested", list(cases("cuda")))
def test_cuda_goldens(inp, kind, bs, nested):
    check_group("cuda", inp, kind, bs, nested)


@pytest.mark.parametrize("inp, kind, bs, nested", list(cases("cpu")))
def test_cpu_rules_goldens(inp, kind, bs, nested):
    check_group("cpu", inp, kind, bs, nested)


CPU_DEQ = json.loads((ROOT / "tests" / "golden" / "bnb_cpu_dequant_4bit.json").read_text())


def _cpu_deq_case(case: dict, rules: str) -> str:
    """SHA-256 of Wick's dequantize_4bit on the generator's inputs for ``case``."""
    shape, bs = tuple(case["shape"]), case["blocksize"]
    n = math.prod(shape)
    packed = ((np.arange((n + 1) // 2, dtype=np.int64) * 37 + 11) % 256).astype(np.uint8)
    table = CPU_DEQ["inputs"]["absmax"]
    absmax = np.array([table[b % len(table)] for b in range(-(-n // bs))], np.float32)
    state = wick.QuantState(absmax=absmax, blocksize=bs, code=wick.code_table(case["quant_type"]), dtype=case["dtype"],
                            shape=shape, quant_type=case["quant_type"])
    out = wick.dequantize_4bit(packed, state, rules=rules)
    assert out.shape == shape
    return hashlib.sha256(np.ascontiguousarray(out).tobytes()).hexdigest()


@pytest.mark.parametrize("part", ["default_dispatch", "scalar_kernel"])
def test_dequantize_4bit_against_bitsandbytes_cpu_kernels(part):
    """bitsandbytes 0.50.2 on CPU (tests/golden/gen_bnb_cpu_dequant_4bit.py): its
    AVX-512 kernel and PyTorch fallback are rules="cpu" (FP4 code 8 is +0.0) at every
    block size, output dtype and shape; its plain loop (CPUs without AVX-512F) is
    rules="cuda" (-0.0)."""
    for case in CPU_DEQ[part]:
        rules = "cuda" if case["kernel"] == "native-scalar" else "cpu"
        assert _cpu_deq_case(case, rules) == case["sha256"], case
        if case["quant_type"] == "fp4" and case["kernel"] == "native-avx512":
            assert _cpu_deq_case(case, "cuda") != case["sha256"], case
            # no -0.0 at all, unless a block has absmax 0 (the third, ABSMAX[2]:
            # only the large case has one), where negative codes give -0.0 anyway
            if math.prod(case["shape"]) <= 2 * case["blocksize"]:
                assert case["neg_zero"] == 0, case


def test_nested_offset_needs_double_quantization():
    x = GOLD["input/normal"][:512]
    with pytest.raises(wick.WickValueError, match=r"nested_offset: 0\.5 is given, but .* pass nested=True"):
        wick.quantize_blockwise(x, blocksize=256, nested_offset=0.5)
    with pytest.raises(wick.WickValueError, match=r"nested_offset: .* pass compress_statistics=True"):
        wick.quantize_4bit(x, nested_offset=0.5)
    _, state = wick.quantize_4bit(x, compress_statistics=True, nested_offset=0.5)
    assert state.offset == 0.5


def test_dequantize_4bit_rules_argument():
    packed, state = wick.quantize_4bit(GOLD["input/normal"][:512], quant_type="fp4")
    with pytest.raises(wick.WickValueError, match="rules: 'gpu' is not one of cpu, cuda"):
        wick.dequantize_4bit(packed, state, rules="gpu")


def test_every_cuda_group_is_covered():
    assert len(list(cases("cuda"))) >= 2 * (7 + 2 * 7 * 2)


def test_nested_offset_is_bitsandbytes_mean_within_an_ulp():
    x = GOLD["input/normal"]
    for bs in (64, 256, 4096):
        _, state = wick.quantize_4bit(x, blocksize=bs, compress_statistics=True)
        want = np.float32(GOLD[f"normal/cuda/nf4{bs}n/offset"].reshape(-1)[0])
        assert abs(np.float32(state.offset) - want) <= 2 * np.spacing(want)


def test_nested_8bit_round_trip():
    x = GOLD["input/normal"]
    codes, state = wick.quantize_blockwise(x, blocksize=256, nested=True)
    assert state.nested and state.absmax.dtype == np.uint8 and state.state2.blocksize == 256
    plain_codes, plain = wick.quantize_blockwise(x, blocksize=256)
    assert np.array_equal(codes, plain_codes)
    y = wick.dequantize_blockwise(codes, state)
    assert np.max(np.abs(y - x)) < 0.01


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_outputs_in_input_dtype(dtype):
    x, src = golden_input("normal_f16" if dtype == "float16" else "normal_bf16")
    codes, state = wick.quantize_blockwise(x, blocksize=256, src_dtype=src)
    assert state.dtype == dtype
    y = wick.dequantize_blockwise(codes, state)
    y32 = wick.dequantize_blockwise(codes, state, out_dtype="float32")
    if dtype == "float16":
        assert y.dtype == np.float16 and same_bits(y, y32.astype(np.float16))
    else:
        want = wick.quantize(y32.reshape(1, -1), "BF16").view(np.uint16).reshape(-1)
        assert same_bits(np.asarray(y).view(np.uint16), want)


def test_quant_state_round_trip_through_dict():
    x = GOLD["input/normal"][:8000].reshape(80, 100)
    packed, state = wick.quantize_4bit(x, blocksize=64, quant_type="fp4", compress_statistics=True)
    d = state.as_dict(packed=True)
    assert set(d) == {"absmax", "quant_map", "nested_absmax", "nested_quant_map", "quant_state.bitsandbytes__fp4"}
    prefixed = {"model.layers.0.mlp.weight." + k: v for k, v in d.items()}
    back = wick.QuantState.from_dict(prefixed)
    assert back.shape == (80, 100) and back.quant_type == "fp4"
    assert same_bits(wick.dequantize_4bit(packed, back), wick.dequantize_4bit(packed, state))


def test_stored_4bit_map_is_used():
    x = GOLD["input/normal"][:256]
    packed, state = wick.quantize_4bit(x, blocksize=64)
    d = state.as_dict()
    d["quant_map"] = d["quant_map"] * np.float32(2)
    doubled = wick.dequantize_4bit(packed, wick.QuantState.from_dict(d))
    assert np.array_equal(doubled, wick.dequantize_4bit(packed, state) * np.float32(2))


def test_stored_8bit_map_is_used():
    x = GOLD["input/normal"][:512]
    codes, state = wick.quantize_blockwise(x, blocksize=64)
    d = state.as_dict()
    d["quant_map"] = -d["quant_map"]
    assert np.array_equal(wick.dequantize_blockwise(codes, wick.QuantState.from_dict(d)), -wick.dequantize_blockwise(codes, state))


def _decoders(x):
    """(name, decode, encoded, state) for the 4-bit and the 8-bit decoder, both double-quantized,
    and a 4-bit state with a stored map of its own (decoded in Python)."""
    packed, state4 = wick.quantize_4bit(x, blocksize=64, compress_statistics=True)
    codes, state8 = wick.quantize_blockwise(x, blocksize=256, nested=True)
    d = state4.as_dict()
    d["quant_map"] = d["quant_map"] * np.float32(2)
    return [("4-bit", wick.dequantize_4bit, packed, state4), ("8-bit", wick.dequantize_blockwise, codes, state8),
            ("4-bit, stored map", wick.dequantize_4bit, packed, wick.QuantState.from_dict(d))]


@pytest.mark.parametrize("out_dtype", ["float32", "float16", "bfloat16"])
def test_dequantize_into_out(out_dtype):
    """``out=``: the same bits as a new array, written into the given array and returned;
    its dtype is the output dtype (uint16 only as bfloat16 bit patterns)."""
    x = GOLD["input/normal"][:6144].reshape(64, 96)
    for name, decode, enc, state in _decoders(x):
        want = decode(enc, state, out_dtype=out_dtype)
        for out_type in {want.dtype, np.dtype(np.uint16)} if out_dtype == "bfloat16" else {want.dtype}:
            out = np.full(want.shape, 0x7B, out_type)
            kw = {"out_dtype": "bfloat16"} if out_type == np.uint16 else {}
            got = decode(enc, state, out=out, **kw)
            assert got is out, name
            assert same_bits(got, want), (name, out_type)
            out[...] = 0x7B  # the same buffer again, out_dtype given as well
            assert same_bits(decode(enc, state, out=out, out_dtype=out_dtype), want), (name, out_type)


def test_dequantize_out_is_checked():
    x = GOLD["input/normal"][:6144].reshape(64, 96)
    for _name, decode, enc, state in _decoders(x)[:2]:
        good = decode(enc, state)
        cases = [
            (np.empty((96, 64), np.float32), wick.WickValueError, "out: has shape (96, 64)"),
            (np.empty(good.shape, np.float64), wick.WickTypeError, "out: has dtype float64; expected float32, float16"),
            (np.empty(good.shape, np.uint16), wick.WickTypeError, "out: is uint16"),
            (np.empty(good.shape, ">f4"), wick.WickTypeError, "out: has dtype float32 (non-native byte order)"),
            (np.empty((64, 192), np.float32)[:, ::2], wick.WickValueError, "out: must be C-contiguous"),
            ([[0.0] * 96] * 64, wick.WickTypeError, "out: expected a numpy array, got list"),
        ]
        read_only = np.empty(good.shape, np.float32)
        read_only.flags.writeable = False
        cases.append((read_only, wick.WickValueError, "out: is read-only"))
        for out, exc, text in cases:
            with pytest.raises(exc, match=re.escape(text)):
                decode(enc, state, out=out)
        with pytest.raises(wick.WickTypeError, match=re.escape("out: has dtype float16, but out_dtype is float32")):
            decode(enc, state, out=np.empty(good.shape, np.float16), out_dtype="float32")


def test_custom_code_table():
    x = GOLD["input/normal"][:4096]
    table = np.linspace(-1, 1, 256, dtype=np.float32)
    codes, state = wick.quantize_blockwise(x, blocksize=512, code=table)
    y = wick.dequantize_blockwise(codes, state)
    absmax = np.repeat(state.absmax, 512)[: x.size]
    assert np.all(np.abs(y - x) <= absmax * (2 / 255) * 0.5 * (1 + 1e-5) + 1e-12)


@pytest.mark.parametrize("quant_type", ["nf4", "fp4"])
def test_odd_length_packing(quant_type):
    x = np.array([0.5, -1.0, 0.25], np.float32)
    packed, state = wick.quantize_4bit(x, blocksize=64, quant_type=quant_type)
    assert packed.shape == (2, 1)
    y = wick.dequantize_4bit(packed, state)
    assert y.shape == (3,) and y[1] == -1.0


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float32, st.integers(1, 3000), elements=st.floats(-1e4, 1e4, width=32)),
       st.sampled_from([32, 64, 256, 4096]))
def test_property_error_bound_and_thread_invariance(x, bs):
    codes, state = wick.quantize_blockwise(x, blocksize=bs, threads=1)
    codes2, state2 = wick.quantize_blockwise(x, blocksize=bs, threads=3)
    assert np.array_equal(codes, codes2) and same_bits(state.absmax, state2.absmax)
    table = wick.code_table("dynamic_signed").astype(np.float64)
    # the covering radius of [-1, 1]: half the largest gap, or the distance from
    # ±1 to the table's ends (the dynamic map's most negative entry is not -1)
    gap = 2 * max(np.max(np.diff(table)) / 2, 1 - table.max(), table.min() + 1)
    absmax = np.repeat(state.absmax.astype(np.float64), bs)[: x.size]
    y = wick.dequantize_blockwise(codes, state).astype(np.float64)
    assert np.all(np.abs(y - x) <= gap / 2 * absmax * (1 + 1e-6) + np.abs(x) * 2.0**-22 + 1e-30)  # + float32 rounding
    for qt in ("nf4", "fp4"):
        p, s = wick.quantize_4bit(x, blocksize=bs, quant_type=qt)
        p2, _ = wick.quantize_4bit(x, blocksize=bs, quant_type=qt, threads=4)
        assert np.array_equal(p, p2)
        t4 = np.sort(wick.code_table(qt).astype(np.float64))
        gap4 = 2 * max(np.max(np.diff(t4)) / 2, 1 - t4.max(), t4.min() + 1)
        y4 = wick.dequantize_4bit(p, s).astype(np.float64)
        a4 = np.repeat(s.absmax.astype(np.float64), bs)[: x.size]
        assert np.all(np.abs(y4 - x) <= gap4 / 2 * a4 * (1 + 1e-6) + np.abs(x) * 2.0**-22 + 1e-30)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 2000), st.sampled_from(["nf4", "fp4"]), st.integers(0, 2**32 - 1))
def test_property_idempotent_on_representable_values(n, qt, seed):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(n) * 3).astype(np.float32)
    p, s = wick.quantize_4bit(x, blocksize=64, quant_type=qt)
    y = wick.dequantize_4bit(p, s)
    p2, s2 = wick.quantize_4bit(y, blocksize=64, quant_type=qt)
    # values, not bits: FP4's zero code dequantizes to -0.0 on CUDA
    assert np.array_equal(wick.dequantize_4bit(p2, s2), y)


@pytest.mark.parametrize(
    "call, exc, message",
    [
        (lambda: wick.quantize_blockwise(np.ones(64, np.float32), blocksize=100), wick.WickValueError, r"blocksize: 100 is not one of 32, 64"),
        (lambda: wick.quantize_4bit(np.ones(64, np.float32), quant_type="int4"), wick.WickValueError, r"quant_type: 'int4' is not one of fp4, nf4"),
        (lambda: wick.quantize_blockwise(np.ones(64, np.float32), code=np.ones(10)), wick.WickValueError, r"code: has shape \(10,\); expected \(256,\)"),
        (lambda: wick.quantize_blockwise(np.ones(64, np.float32), code=np.arange(256)[::-1].astype(np.float32)), wick.WickValueError, r"code"),
        (lambda: wick.quantize_blockwise(np.ones(64, np.float64)), wick.WickTypeError, r"x: dtype float64 is not accepted"),
        (lambda: wick.quantize_blockwise(np.ones(64, np.float32), rules="tpu"), wick.WickValueError, r"rules: 'tpu' is not one of cpu, cuda"),
        (lambda: wick.quantize_4bit(np.array([1.0, np.nan], np.float32)), wick.WickNonFiniteError, r"element 1 \(block 0\) is NaN"),
        (lambda: wick.quantize_4bit(np.ones(8, np.float32), compress_statistics=True, nested_offset=float("inf")), wick.WickValueError, r"nested_offset"),
    ],
)
def test_bad_input(call, exc, message):
    with pytest.raises(exc, match=message):
        call()


def test_mismatched_state_and_data():
    x = np.ones(1000, np.float32)
    codes, state = wick.quantize_blockwise(x, blocksize=64)
    with pytest.raises(wick.WickValueError, match=r"state: holds 16 absmax values; 2000 codes in blocks of 64 need 32"):
        wick.dequantize_blockwise(np.concatenate([codes, codes]), state)
    packed, s4 = wick.quantize_4bit(x)
    with pytest.raises(wick.WickValueError, match=r"packed: holds 499 bytes; a state of shape \(1000,\) needs 500"):
        wick.dequantize_4bit(packed[:-1], s4)
    with pytest.raises(wick.WickValueError, match=r"use dequantize_4bit"):
        wick.dequantize_blockwise(packed, s4)
    with pytest.raises(wick.WickTypeError, match=r"codes: has dtype int32"):
        wick.dequantize_blockwise(codes.astype(np.int32), state)
    with pytest.raises(wick.WickTypeError, match=r"state: expected a QuantState"):
        wick.dequantize_4bit(packed, {"absmax": 1})


def test_non_finite_allowed_follows_cuda():
    x = np.ones(128, np.float32)
    x[3] = np.nan
    codes, state = wick.quantize_blockwise(x, blocksize=64, allow_non_finite=True)
    # CUDA: NaN is ignored by the block maximum and its comparisons send it to code index 0
    assert codes[3] == 0 and state.absmax[0] == 1.0
