"""wick.gguf and wick.safetensors: interoperability with the reference
packages in both directions, and hand-made hostile files, each with its
specific error."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import numpy as np
import pytest

import wick
from wick.gguf import KV, RawTensor, ValueType
from wick.gguf import values as V

gguf = pytest.importorskip("gguf")
st_numpy = pytest.importorskip("safetensors.numpy")


# ----------------------------------------------------------------- GGUF interop

def reference_gguf(path: Path, rng) -> dict:
    """A file written by the gguf package's GGUFWriter; returns what went in."""
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_uint32("llama.block_count", 3)
    w.add_int32("t.i32", -5)
    w.add_float32("t.f32", 0.1)
    w.add_float64("t.f64", 1e-300)
    w.add_uint64("t.u64", 2**64 - 1)
    w.add_int8("t.i8", -128)
    w.add_bool("t.bool", True)
    w.add_string("t.str", "héllo")
    w.add_array("t.strs", ["a", "b c", "ü"])
    w.add_array("t.ints", [1, 2, 3])
    w.add_array("t.floats", [0.5, -1.25])
    a = rng.standard_normal((8, 64)).astype(np.float32)
    h = rng.standard_normal((3, 32)).astype(np.float16)
    q = gguf.quants.quantize(a, gguf.GGMLQuantizationType.Q8_0)
    w.add_tensor("a", a)
    w.add_tensor("h", h)
    w.add_tensor("q", q, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return {"a": a, "h": h, "q": q}


def test_wick_reads_gguf_package_files(tmp_path, rng):
    path = tmp_path / "ref.gguf"
    src = reference_gguf(path, rng)
    ref = gguf.GGUFReader(str(path))
    fields = {k: v for k, v in ref.fields.items() if not k.startswith("GGUF.")}  # gguf-py's header pseudo-fields
    with wick.gguf.open(path) as f:
        assert list(f.metadata) == list(fields)
        for key, field in fields.items():
            t, elem = f.metadata.type(key)
            assert t.value == field.types[0].value, key
            value = field.contents()
            got = f.metadata[key]
            if isinstance(value, float):  # compare in the stored precision
                dt = np.float32 if t == ValueType.FLOAT32 else np.float64
                assert dt(got) == dt(value) or (math.isnan(got) and math.isnan(value)), key
            else:
                assert got == value, key
        assert list(f.tensors) == [t.name for t in ref.tensors]
        for t in ref.tensors:
            info = f.tensors[t.name]
            assert info.type.id == t.tensor_type.value and list(info.dims) == [int(d) for d in t.shape]
            assert info.offset == t.data_offset and info.nbytes == t.n_bytes  # gguf-py: absolute offsets
            assert f.raw(t.name).tobytes() == np.asarray(t.data).tobytes()
        assert np.array_equal(f.tensor("a"), src["a"])
        assert np.array_equal(f.tensor("h"), src["h"])
        assert f.tensor("h").dtype == np.float16
        assert np.array_equal(f.tensor("q"), wick.dequantize(src["q"], "Q8_0", src["a"].shape))


def test_gguf_package_reads_wick_files(tmp_path, rng):
    path = tmp_path / "wick.gguf"
    a = rng.standard_normal((8, 64)).astype(np.float32)
    q = wick.quantize(a, "Q4_0" if wick.type_info("Q4_0").can_quantize else "Q8_0")
    qtype = "Q4_0" if wick.type_info("Q4_0").can_quantize else "Q8_0"
    metadata = [
        V.string("general.architecture", "llama"), V.u32("llama.block_count", 3), V.f32("t.f32", 0.1),
        KV("t.u64", ValueType.UINT64, 2**64 - 1), KV("t.i64", ValueType.INT64, -(2**63)),
        KV("t.f64", ValueType.FLOAT64, 1e-300), V.boolean("t.bool", False), KV("t.u8", ValueType.UINT8, 255),
        V.array("t.strs", ValueType.STRING, ["x", "y z", "€"]), V.array("t.f32s", ValueType.FLOAT32, [1.5, 2.25]),
        V.array("t.i16s", ValueType.INT16, [-32768, 32767]),
    ]
    wick.gguf.write(path, metadata, {"a": a, "q": RawTensor(qtype, a.shape, q), "b": np.arange(7, dtype=np.int32)})
    ref = gguf.GGUFReader(str(path))
    assert [k for k in ref.fields if not k.startswith("GGUF.")] == [kv.key for kv in metadata]
    for kv in metadata:
        field = ref.fields[kv.key]
        assert field.types[0].value == kv.type.value, kv.key
        if kv.element_type is not None:
            assert field.types[1].value == kv.element_type.value
        want = kv.value
        if kv.type == ValueType.FLOAT32 or kv.element_type == ValueType.FLOAT32:
            assert np.array_equal(np.float32(field.contents()), np.float32(want)), kv.key
        else:
            assert field.contents() == want, kv.key
    tensors = {t.name: t for t in ref.tensors}
    assert np.array_equal(np.asarray(tensors["a"].data), a)
    assert np.asarray(tensors["q"].data).tobytes() == q.tobytes()
    assert np.array_equal(np.asarray(tensors["b"].data), np.arange(7, dtype=np.int32))
    assert tensors["q"].tensor_type.name == qtype


def test_gguf_round_trip_is_byte_identical(tmp_path, rng):
    """Reading a file and writing back what was read gives the same bytes."""
    path = tmp_path / "ref.gguf"
    reference_gguf(path, rng)
    with wick.gguf.open(path) as f:
        tensors = {name: RawTensor(t.type, t.shape, f.raw(name)) for name, t in f.tensors.items()}
        wick.gguf.write(tmp_path / "again.gguf", f.metadata.kvs, tensors)
    assert (tmp_path / "again.gguf").read_bytes() == path.read_bytes()


def test_gguf_write_refuses_to_overwrite_and_leaves_nothing_on_failure(tmp_path):
    path = tmp_path / "x.gguf"
    wick.gguf.write(path, {"general.architecture": "llama"}, {"a": np.zeros(32, np.float32)})
    before = path.read_bytes()
    with pytest.raises(wick.WickFileExistsError):
        wick.gguf.write(path, {"general.architecture": "llama"}, {})
    wick.gguf.write(path, {"general.architecture": "x"}, {}, overwrite=True)
    assert path.read_bytes() != before
    # a failure in the middle (bad tensor size) leaves neither the file nor a temporary
    with pytest.raises(wick.WickValueError, match=r"holds 3 bytes"):
        wick.gguf.write(tmp_path / "y.gguf", {}, {"q": RawTensor("Q8_0", (1, 32), b"abc")})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.gguf"]


def test_gguf_metadata_typing_rules(tmp_path):
    path = tmp_path / "m.gguf"
    wick.gguf.write(path, {"s": "x", "b": True, "i": 5, "f": 0.5, "l": [1, 2], "n": np.uint16(9),
                           "arr": np.array([1.0, 2.0], np.float64)}, {})
    with wick.gguf.open(path) as f:
        types = {k: f.metadata.type(k) for k in f.metadata}
    assert types == {"s": (ValueType.STRING, None), "b": (ValueType.BOOL, None), "i": (ValueType.INT32, None),
                     "f": (ValueType.FLOAT32, None), "l": (ValueType.ARRAY, ValueType.INT32),
                     "n": (ValueType.UINT16, None), "arr": (ValueType.ARRAY, ValueType.FLOAT64)}
    with pytest.raises(wick.WickValueError, match=r"out of range for INT32"):
        wick.gguf.write(tmp_path / "z.gguf", {"big": 2**40}, {})
    with pytest.raises(wick.WickTypeError, match=r"dict has no GGUF type"):
        wick.gguf.write(tmp_path / "z.gguf", {"d": {}}, {})


# ------------------------------------------------------------ safetensors interop

def test_safetensors_both_directions(tmp_path, rng):
    ml_dtypes = pytest.importorskip("ml_dtypes")
    tensors = {
        "f32": rng.standard_normal((3, 5)).astype(np.float32),
        "f16": rng.standard_normal(7).astype(np.float16),
        "bf16": rng.standard_normal((2, 2)).astype(ml_dtypes.bfloat16),
        "i64": np.arange(4, dtype=np.int64),
        "u8": np.arange(6, dtype=np.uint8).reshape(2, 3),
        "bool": np.array([True, False]),
        "scalar": np.array(3.5, np.float64),
    }
    st_numpy.save_file(tensors, str(tmp_path / "ref.safetensors"), metadata={"format": "np"})
    with wick.safetensors.open(tmp_path / "ref.safetensors") as m:
        assert set(m) == set(tensors) and m.metadata == {"format": "np"}
        for k, v in tensors.items():
            got = m[k]
            assert got.shape == v.shape and got.tobytes() == v.tobytes(), k
        assert np.array_equal(m.get("bf16", np.float32), tensors["bf16"].astype(np.float32))
    wick.safetensors.write(tmp_path / "wick.safetensors", tensors, metadata={"format": "np"})
    back = st_numpy.load_file(str(tmp_path / "wick.safetensors"))
    for k, v in tensors.items():
        assert back[k].dtype == v.dtype and back[k].shape == v.shape and back[k].tobytes() == v.tobytes(), k


def test_safetensors_float8_decodes_exactly(tmp_path):
    ml_dtypes = pytest.importorskip("ml_dtypes")
    codes = np.arange(256, dtype=np.uint8)
    for name, dt in (("F8_E4M3", ml_dtypes.float8_e4m3fn), ("F8_E5M2", ml_dtypes.float8_e5m2)):
        st_numpy.save_file({"x": codes.view(dt)}, str(tmp_path / f"{name}.safetensors"))
        with wick.safetensors.open(tmp_path / f"{name}.safetensors") as m:
            assert m.tensors["x"].dtype == name
            got = m.get("x", np.float32)
            want = codes.view(dt).astype(np.float32)
            assert np.array_equal(got, want, equal_nan=True), name


def test_sharded_model_directory(tmp_path, rng):
    a = {"w1": rng.standard_normal((4, 4)).astype(np.float32)}
    b = {"w2": rng.standard_normal(3).astype(np.float32)}
    st_numpy.save_file(a, str(tmp_path / "model-00001-of-00002.safetensors"))
    st_numpy.save_file(b, str(tmp_path / "model-00002-of-00002.safetensors"))
    index = {"metadata": {}, "weight_map": {"w1": "model-00001-of-00002.safetensors", "w2": "model-00002-of-00002.safetensors"}}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    with wick.safetensors.open(tmp_path) as m:
        assert sorted(m) == ["w1", "w2"] and len(m.files) == 2
        assert np.array_equal(m["w1"], a["w1"]) and np.array_equal(m["w2"], b["w2"])
    (tmp_path / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(wick.WickError, match=r"model-00002-of-00002"):
        wick.safetensors.open(tmp_path)


# --------------------------------------------------------------- hostile files

def st_file(header: bytes, data: bytes = b"", length: int | None = None) -> bytes:
    n = len(header) if length is None else length
    return struct.pack("<Q", n) + header + data


def st_header(**tensors) -> bytes:
    return json.dumps(tensors).encode()


HOSTILE_SAFETENSORS = [
    ("truncated length", b"\x10\x00\x00", r"truncated"),
    ("length past the end", st_file(b"{}", length=1000), r"truncated"),
    ("huge header length", st_file(b"{}", length=2**62), r"header"),
    ("not JSON", st_file(b"{nope"), r"JSON"),
    ("duplicate name", st_file(b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', b"\0" * 8), r"duplicate"),
    ("unknown dtype", st_file(st_header(a={"dtype": "F12", "shape": [1], "data_offsets": [0, 4]}), b"\0" * 4), r"dtype"),
    ("size mismatch", st_file(st_header(a={"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}), b"\0" * 4), r"size"),
    ("overlap", st_file(st_header(a={"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                                  b={"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}), b"\0" * 8), r"overlap"),
    ("gap", st_file(st_header(a={"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}), b"\0" * 8), r"gap"),
    ("out of bounds", st_file(st_header(a={"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}), b"\0" * 8), r"beyond the end of the file"),
    ("absurd dims", st_file(st_header(a={"dtype": "F32", "shape": [2**40, 2**40], "data_offsets": [0, 4]}), b"\0" * 4), r"overflow"),
]


@pytest.mark.parametrize("name, blob, message", HOSTILE_SAFETENSORS, ids=[c[0] for c in HOSTILE_SAFETENSORS])
def test_hostile_safetensors(tmp_path, name, blob, message):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(blob)
    with pytest.raises(wick.WickFormatError, match=message) as e:
        wick.safetensors.open(path)
    assert str(path) in str(e.value)


def gguf_string(s: bytes) -> bytes:
    return struct.pack("<Q", len(s)) + s


def gguf_blob(kvs: bytes = b"", nkv: int = 0, tensors: bytes = b"", ntensors: int = 0, data: bytes = b"",
              version: int = 3, pad_to: int = 32) -> bytes:
    head = b"GGUF" + struct.pack("<IQQ", version, ntensors, nkv) + kvs + tensors
    head += b"\0" * (-len(head) % pad_to)
    return head + data


def tensor_info(name: bytes, dims, ggml_type: int, offset: int) -> bytes:
    return gguf_string(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims) + struct.pack("<IQ", ggml_type, offset)


HOSTILE_GGUF = [
    ("bad magic", b"GGML" + b"\0" * 20, r"magic"),
    ("truncated header", b"GGUF\x03\x00", r"truncated"),
    ("unsupported version", gguf_blob(version=9), r"version"),
    ("count larger than the file", b"GGUF" + struct.pack("<IQQ", 3, 0, 2**40), r"count"),
    ("string longer than the file", gguf_blob(gguf_string(b"k") + struct.pack("<IQ", 8, 2**50), nkv=1), r"string"),
    ("unknown value type", gguf_blob(gguf_string(b"k") + struct.pack("<I", 99), nkv=1), r"value type"),
    ("array count larger than the file", gguf_blob(gguf_string(b"k") + struct.pack("<IIQ", 9, 4, 2**40), nkv=1), r"array|count"),
    ("bad alignment", gguf_blob(gguf_string(b"general.alignment") + struct.pack("<II", 4, 3), nkv=1), r"alignment"),
    ("too many dims", gguf_blob(tensors=tensor_info(b"t", [1, 1, 1, 1, 1], 0, 0), ntensors=1, data=b"\0" * 32), r"too many dimensions"),
    ("absurd dims", gguf_blob(tensors=tensor_info(b"t", [2**40, 2**40], 0, 0), ntensors=1, data=b"\0" * 32), r"overflow|dim"),
    ("unknown tensor type", gguf_blob(tensors=tensor_info(b"t", [1], 4, 0), ntensors=1, data=b"\0" * 32), r"type"),
    ("misaligned offset", gguf_blob(tensors=tensor_info(b"t", [1], 0, 4), ntensors=1, data=b"\0" * 64), r"align"),
    ("data out of bounds", gguf_blob(tensors=tensor_info(b"t", [64], 0, 0), ntensors=1, data=b"\0" * 32), r"beyond the end of the file"),
    ("partial block", gguf_blob(tensors=tensor_info(b"t", [33], 8, 0), ntensors=1, data=b"\0" * 64), r"block"),
]


@pytest.mark.parametrize("name, blob, message", HOSTILE_GGUF, ids=[c[0] for c in HOSTILE_GGUF])
def test_hostile_gguf(tmp_path, name, blob, message):
    path = tmp_path / "bad.gguf"
    path.write_bytes(blob)
    with pytest.raises(wick.WickFormatError, match=message) as e:
        wick.gguf.open(path)
    assert str(path) in str(e.value)


def test_missing_files():
    with pytest.raises(FileNotFoundError):
        wick.gguf.open("/nonexistent/x.gguf")
    with pytest.raises(FileNotFoundError):
        wick.safetensors.open("/nonexistent/x.safetensors")


def test_cli_inspect(tmp_path, rng, capsys):
    from wick.cli import main

    path = tmp_path / "ref.gguf"
    reference_gguf(path, rng)
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "GGUF v3" in out and "llama.block_count" in out and "UINT32" in out and "Q8_0" in out
    st_numpy.save_file({"w": np.zeros((2, 3), np.float32)}, str(tmp_path / "m.safetensors"))
    assert main(["inspect", str(tmp_path / "m.safetensors")]) == 0
    assert "F32" in capsys.readouterr().out
    assert main(["inspect", str(tmp_path / "missing.gguf")]) == 1
