"""Tests of python/wick/quant_state.py: bitsandbytes' QuantState dict format.

Expected byte strings are the examples of spec blockwise.md §5.2
(bitsandbytes' format), not Wick output. The 4-bit type names and block
sizes come from the native library's table.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import wick.quant_state as qsmod

QuantState = qsmod.QuantState

NF4 = np.array([-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
                -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
                0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
                0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0], dtype=np.float32)


def dynamic_like() -> np.ndarray:
    """A 256-entry ascending float32 table (stands in for the dynamic map)."""
    return np.linspace(-1, 1, 256, dtype=np.float32)


def four_bit_state(shape, dtype="bfloat16", nested=False, offset=0.03120419941842556, quant_type="nf4", blocksize=64):
    n = int(np.prod(shape))
    nb = -(-n // blocksize)
    if not nested:
        return QuantState(absmax=np.full(nb, 0.5, np.float32), blocksize=blocksize, code=NF4.copy(),
                          dtype=dtype, shape=shape, quant_type=quant_type)
    state2 = QuantState(absmax=np.full(-(-nb // 256), 0.01, np.float32), blocksize=256,
                        code=dynamic_like(), dtype="float32")
    return QuantState(absmax=np.zeros(nb, np.uint8), blocksize=blocksize, code=NF4.copy(), dtype=dtype,
                      shape=shape, quant_type=quant_type, offset=offset, state2=state2)


def test_packed_json_matches_bitsandbytes_example():
    qs = four_bit_state((4096, 4096))
    d = qs.as_dict(packed=True)
    assert list(d) == ["absmax", "quant_map", "quant_state.bitsandbytes__nf4"]
    blob = d["quant_state.bitsandbytes__nf4"]
    assert blob.dtype == np.uint8 and blob.ndim == 1
    want = b'{"quant_type": "nf4", "blocksize": 64, "dtype": "bfloat16", "shape": [4096, 4096]}'
    assert len(want) == 82
    assert blob.tobytes() == want


def test_packed_json_nested_example():
    qs = four_bit_state((4096, 11008), dtype="float16", nested=True)
    d = qs.as_dict(packed=True)
    assert list(d) == ["absmax", "quant_map", "nested_absmax", "nested_quant_map",
                       "quant_state.bitsandbytes__nf4"]
    want = (b'{"quant_type": "nf4", "blocksize": 64, "dtype": "float16", "shape": [4096, 11008], '
            b'"nested_blocksize": 256, "nested_dtype": "float32", "nested_offset": 0.03120419941842556}')
    assert d["quant_state.bitsandbytes__nf4"].tobytes() == want
    assert d["absmax"].dtype == np.uint8 and d["nested_absmax"].dtype == np.float32


def test_unpacked_keys_and_types():
    qs = four_bit_state((3, 70), nested=True, quant_type="fp4")
    d = qs.as_dict()
    assert list(d) == ["quant_type", "absmax", "blocksize", "quant_map", "dtype", "shape",
                       "nested_absmax", "nested_blocksize", "nested_quant_map", "nested_dtype", "nested_offset"]
    assert d["quant_type"] == "fp4" and type(d["blocksize"]) is int and d["shape"] == (3, 70)
    assert type(d["nested_offset"]) is float and d["nested_dtype"] == "float32"
    assert d["nested_quant_map"] is not qs.state2.code  # a copy, as bitsandbytes clones it
    assert np.array_equal(d["nested_quant_map"], qs.state2.code)


def test_eight_bit_state_has_no_shape_and_no_packed_form():
    qs = QuantState(absmax=np.ones(3, np.float32), blocksize=4096, code=dynamic_like(), dtype="float16")
    d = qs.as_dict()
    assert d["quant_type"] is None and d["shape"] is None
    back = QuantState.from_dict(d)
    assert back.quant_type is None and back.blocksize == 4096 and back.dtype == "float16"
    with pytest.raises(ValueError, match="packed form"):
        qs.as_dict(packed=True)


@pytest.mark.parametrize("nested", [False, True])
@pytest.mark.parametrize("packed", [False, True])
def test_round_trip_with_checkpoint_prefix(nested, packed):
    qs = four_bit_state((5, 77), dtype="float32", nested=nested, offset=0.1234567)
    prefix = "model.layers.0.mlp.down_proj.weight."
    d = {prefix + k: v for k, v in qs.as_dict(packed=packed).items()}
    back = QuantState.from_dict(d)
    assert back.quant_type == qs.quant_type and back.blocksize == qs.blocksize
    assert back.dtype == qs.dtype and back.shape == qs.shape
    assert np.array_equal(back.absmax, qs.absmax) and back.absmax.dtype == qs.absmax.dtype
    assert np.array_equal(back.code, qs.code)
    assert back.nested == nested
    if nested:
        # The offset is a float32 value; JSON keeps the double exactly.
        assert back.offset == float(np.float32(0.1234567)) == qs.offset
        assert np.array_equal(back.state2.absmax, qs.state2.absmax)
        assert back.state2.blocksize == 256 and back.state2.dtype == "float32"


def test_json_offset_is_rounded_to_float32():
    qs = four_bit_state((64,), nested=True)
    d = qs.as_dict(packed=True)
    meta = json.loads(d["quant_state.bitsandbytes__nf4"].tobytes())
    meta["nested_offset"] = 0.1  # a double that is no float32
    d["quant_state.bitsandbytes__nf4"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    assert QuantState.from_dict(d).offset == float(np.float32(0.1))


def test_reader_accepts_any_json_layout():
    qs = four_bit_state((8, 8), blocksize=32)
    d = qs.as_dict(packed=True)
    meta = {"shape": [8, 8], "dtype": "bfloat16", "blocksize": 32, "quant_type": "nf4"}
    d["quant_state.bitsandbytes__nf4"] = np.frombuffer(json.dumps(meta, indent=2).encode(), np.uint8)
    back = QuantState.from_dict(d)
    assert back.shape == (8, 8) and back.blocksize == 32


def _packed(meta, **arrays):
    d = dict(arrays)
    d["w.quant_state.bitsandbytes__" + meta.get("quant_type", "nf4")] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    return d


GOOD_META = {"quant_type": "nf4", "blocksize": 64, "dtype": "float16", "shape": [2, 64]}


@pytest.mark.parametrize("mutate, match", [
    (lambda d: d.update({"x.quant_state.bitsandbytes__fp4": d["w.quant_state.bitsandbytes__nf4"]}), "one packed"),
    (lambda d: d.update({"w.quant_state.bitsandbytes__int4": d.pop("w.quant_state.bitsandbytes__nf4")}), "ends in"),
    (lambda d: d.update({"w.quant_state.bitsandbytes__fp4": d.pop("w.quant_state.bitsandbytes__nf4")}), "holds quant_type"),
    (lambda d: d.update({"w.weight.SCB": np.ones(2, np.float32)}), "unknown quant_state key"),
    (lambda d: d.update({"v.absmax": d["w.absmax"]}), "given twice"),
    (lambda d: d.update({"w.absmax": d["w.absmax"].astype(np.float16)}), "absmax has dtype float16"),
    (lambda d: d.update({"w.absmax": np.ones(3, np.float32)}), "absmax has 3 entries; expected 2"),
    (lambda d: d.update({"w.quant_map": np.ones(256, np.float32)}), r"quant_map has shape \(256,\)"),
    (lambda d: d.pop("w.quant_map"), "no 'quant_map'"),
    (lambda d: d.update({"w.nested_absmax": np.ones(1, np.float32)}), "nested quant_state lacks"),
    (lambda d: d.update({"w.quant_state.bitsandbytes__nf4": np.frombuffer(b"[1, 2]", np.uint8)}), "JSON list"),
    (lambda d: d.update({"w.quant_state.bitsandbytes__nf4": np.frombuffer(b"{not json", np.uint8)}), "not UTF-8 JSON"),
])
def test_from_dict_errors(mutate, match):
    d = _packed(GOOD_META, **{"w.absmax": np.ones(2, np.float32), "w.quant_map": NF4.copy()})
    QuantState.from_dict(dict(d))  # the unmutated dict is valid
    mutate(d)
    with pytest.raises(ValueError, match=match):
        QuantState.from_dict(d)


@pytest.mark.parametrize("meta, match", [
    ({**GOOD_META, "blocksize": 100}, "blocksize is 100"),
    ({**GOOD_META, "dtype": "int8"}, "dtype is 'int8'"),
    ({**GOOD_META, "shape": "2x64"}, "shape is"),
    ({**GOOD_META, "nested_offset": 0.5}, "but no nested_absmax"),
    ({**GOOD_META, "colour": "red"}, "unknown quant_state key 'colour'"),
    ({**GOOD_META, "blocksize": True}, "expected an int"),
])
def test_from_dict_bad_json_entries(meta, match):
    d = _packed(meta, **{"w.absmax": np.ones(2, np.float32), "w.quant_map": NF4.copy()})
    with pytest.raises(ValueError, match=match):
        QuantState.from_dict(d)


def test_nested_consistency_checks():
    qs = four_bit_state((64 * 300,), nested=True)
    d = qs.as_dict()
    d["nested_absmax"] = np.ones(5, np.float32)
    with pytest.raises(ValueError, match="nested_absmax has 5 entries; expected 2"):
        QuantState.from_dict(d)
    d = qs.as_dict()
    d["absmax"] = d["absmax"].astype(np.float32)
    with pytest.raises(ValueError, match="absmax has dtype float32; expected uint8"):
        QuantState.from_dict(d)
    with pytest.raises(ValueError, match="offset and state2 go together"):
        QuantState(absmax=np.zeros(1, np.uint8), blocksize=64, code=NF4, dtype="float16", offset=0.5)


def test_neither_packed_nor_unpacked():
    with pytest.raises(ValueError, match="found neither"):
        QuantState.from_dict({"w.absmax": np.ones(2, np.float32)})


def test_pack_unpack_helpers():
    d = {"quant_type": "fp4", "blocksize": 32, "dtype": "float32", "shape": [1]}
    a = qsmod.pack_dict_to_array(d)
    assert a.dtype == np.uint8 and qsmod.unpack_array_to_dict(a) == d
    # Any integer dtype holding bytes is accepted (e.g. an int64 tensor saved by hand).
    assert qsmod.unpack_array_to_dict(a.astype(np.int64)) == d
    with pytest.raises(ValueError, match="outside 0..255"):
        qsmod.unpack_array_to_dict(np.array([300], np.int64))
