"""wick.imatrix: llama.cpp importance-matrix files through the C ABI.

The real files in io/imatrix/testdata were written by llama.cpp's own
llama-imatrix (tests/golden/gen_imatrix_files.py); their GGUF form is also
read here with gguf-py, independently of Wick's reader.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import gguf as gguf_py
import numpy as np
import pytest

import wick
from wick.gguf import values as V
from wick.gguf.values import ValueType

TESTDATA = Path(__file__).resolve().parent.parent / "io" / "imatrix" / "testdata"
EXPECTED = json.loads((TESTDATA / "expected.json").read_text())["files"]


def legacy_bytes(entries, chunks=None, dataset=None) -> bytes:
    """The legacy .dat layout (save_imatrix_legacy)."""
    b = struct.pack("<i", len(entries))
    for name, ncall, vals in entries:
        n = name.encode()
        b += struct.pack("<i", len(n)) + n + struct.pack("<ii", ncall, len(vals)) + np.asarray(vals, "<f4").tobytes()
    if chunks is not None:
        b += struct.pack("<i", chunks)
        if dataset is not None:
            d = dataset.encode()
            b += struct.pack("<i", len(d)) + d
    return b


def write_gguf_imatrix(path, entries, *, metadata=True):
    """A GGUF imatrix as save_imatrix lays it out: entries are (name, sums (n_mat, ne0), counts (n_mat,))."""
    kvs = [V.string("general.type", "imatrix")]
    if metadata:
        kvs += [V.array("imatrix.datasets", ValueType.STRING, ["d.txt"]), V.u32("imatrix.chunk_count", 5),
                V.u32("imatrix.chunk_size", 512)]
    tensors = {}
    for name, sums, counts in entries:
        tensors[name + ".in_sum2"] = np.asarray(sums, np.float32)
        tensors[name + ".counts"] = np.asarray(counts, np.float32).reshape(-1, 1)
    wick.gguf.write(path, kvs, tensors, overwrite=True)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_files(name):
    want = EXPECTED[name]
    with wick.imatrix.open(TESTDATA / name) as im:
        assert im.format == want["format"] and im.datasets == want["datasets"]
        assert (im.chunk_count, im.chunk_size, im.has_metadata) == (want["chunk_count"], want["chunk_size"],
                                                                      want["has_metadata"])
        assert list(im) == sorted(want["entries"]) and len(im) == len(want["entries"])
        for ename, w in want["entries"].items():
            e = im[ename]
            assert (e.length, e.matrices, e.ncall, e.finite) == (w["length"], w["matrices"], w["ncall"], True)
            assert e.counts == (tuple(w["counts"]) if w["counts"] is not None else None)
            assert e.row_length * e.matrices == e.length
            vals = im.values(ename)
            assert vals.dtype == np.float32 and vals.shape == (w["length"],)
            import hashlib

            assert hashlib.sha256(vals.astype("<f4").tobytes()).hexdigest() == w["weights_sha256"], ename
            assert hashlib.sha256(im.sums(ename).astype("<f4").tobytes()).hexdigest() == w["sums_sha256"], ename
        im.check_quantize()
        if im.format == "gguf":
            assert im.metadata["general.type"] == "imatrix"


def test_gguf_against_gguf_py():
    """Wick's weights are gguf-py's sums / float32(counts), per matrix."""
    path = TESTDATA / "moe.imatrix.gguf"
    r = gguf_py.GGUFReader(str(path))
    sums = {t.name[:-8]: np.asarray(t.data, np.float32).reshape(-1) for t in r.tensors if t.name.endswith(".in_sum2")}
    counts = {t.name[:-7]: np.asarray(t.data, np.float32).reshape(-1) for t in r.tensors if t.name.endswith(".counts")}
    im = wick.imatrix.open(path)
    assert set(im) == set(sums)
    experts = 0
    for name, s in sums.items():
        c = counts[name]
        ne0 = s.size // c.size
        want = np.concatenate([s[j * ne0:(j + 1) * ne0] / c[j] for j in range(c.size)]).astype(np.float32)
        np.testing.assert_array_equal(im.values(name), want)
        experts += c.size > 1
    assert experts == 6  # gate/up/down of 2 layers, 4 experts each


def test_legacy(tmp_path):
    p = tmp_path / "m.dat"
    p.write_bytes(legacy_bytes([("b.weight", 3, [6, 0.3, 3]), ("a.weight", 0, [5, 7])], chunks=9, dataset="data.txt"))
    im = wick.imatrix.open(p)
    assert im.format == "legacy" and list(im) == ["a.weight", "b.weight"]
    assert im.datasets == ["data.txt"] and im.chunk_count == 9 and im.chunk_size == 0 and not im.has_metadata
    assert len(im.metadata) == 0
    assert im["b.weight"].ncall == 3 and im["b.weight"].counts is None
    np.testing.assert_array_equal(im.values("b.weight"), np.array([6, 0.3, 3], np.float32) / np.float32(3))
    np.testing.assert_array_equal(im.values("a.weight"), [5, 7])  # ncall 0: as stored
    np.testing.assert_array_equal(im.sums("b.weight"), np.array([6, 0.3, 3], np.float32))
    assert "a.weight" in im and "c.weight" not in im
    assert "legacy, 2 entries" in repr(im)


def test_gguf_zero_count_expert(tmp_path):
    p = tmp_path / "m.gguf"
    write_gguf_imatrix(p, [("x.weight", [[2, 4], [9, 9], [3, 6]], [2, 0, 3])])
    im = wick.imatrix.open(p)
    assert im["x.weight"].counts == (2, 0, 3) and im["x.weight"].matrices == 3
    np.testing.assert_array_equal(im.values("x.weight"), [1, 2, 1, 1, 1, 2])


def test_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        wick.imatrix.open(tmp_path / "missing.dat")
    bad = tmp_path / "bad.dat"
    bad.write_bytes(legacy_bytes([("a.weight", 1, [1])], chunks=1, dataset="d") + b"x")
    with pytest.raises(wick.WickFormatError, match=r"bad\.dat.*trailing data"):
        wick.imatrix.open(bad)
    bad.write_bytes(legacy_bytes([("a.weight", 1, [1]), ("a.weight", 1, [2])]))
    with pytest.raises(ValueError, match=r'entry "a.weight": duplicate entry'):
        wick.imatrix.open(bad)
    g = tmp_path / "bad.gguf"
    wick.gguf.write(g, {"general.type": "imatrix"}, {"a.weight.in_sum2": np.ones(4, np.float32)})
    with pytest.raises(wick.WickFormatError, match=r"has a\.weight\.in_sum2 but no a\.weight\.counts"):
        wick.imatrix.open(g)
    model = tmp_path / "model.gguf"
    wick.gguf.write(model, {"general.type": "model"}, {"token_embd.weight": np.ones((4, 4), np.float32)})
    with pytest.raises(wick.WickFormatError, match=r'general.type is "model"'):
        wick.imatrix.open(model)
    ok = tmp_path / "ok.dat"
    ok.write_bytes(legacy_bytes([("a.weight", 1, [1, np.inf])]))
    im = wick.imatrix.open(ok)
    assert not im["a.weight"].finite
    with pytest.raises(wick.WickFormatError, match=r'entry "a.weight": non-finite value: weight 1 is \+Inf'):
        im.values("a.weight")
    with pytest.raises(wick.WickFormatError, match="non-finite"):
        im.check_quantize()
    np.testing.assert_array_equal(im.sums("a.weight"), [1, np.inf])  # raw values are readable
    with pytest.raises(KeyError, match="no imatrix entry 'b.weight'"):
        im.values("b.weight")


def test_missing_metadata(tmp_path):
    p = tmp_path / "m.gguf"
    write_gguf_imatrix(p, [("a.weight", [[1, 2]], [1])], metadata=False)
    im = wick.imatrix.open(p)
    assert not im.has_metadata
    np.testing.assert_array_equal(im.values("a.weight"), [1, 2])
    with pytest.raises(wick.WickFormatError, match="missing imatrix metadata"):
        im.check_quantize()


def test_values_export_checks_arguments(tmp_path):
    """The C export refuses a destination of the wrong size and unknown flags."""
    from wick import _native

    p = tmp_path / "m.dat"
    p.write_bytes(legacy_bytes([("a.weight", 1, [1, 2, 3])]))
    ffi = _native.ffi
    out = np.empty(2, np.float32)
    pb, pl = _native.text(str(p))
    nb, nl = _native.text("a.weight")
    err = _native.errbuf()
    rc = _native.lib().wick_imatrix_values(pb, pl, nb, nl, 0, ffi.from_buffer("float[]", out), out.size, err, _native.ERRLEN)
    assert rc != 0 and "holds 2 values; entry \"a.weight\" has 3" in ffi.string(err).decode()
    out = np.empty(3, np.float32)
    rc = _native.lib().wick_imatrix_values(pb, pl, nb, nl, 4, ffi.from_buffer("float[]", out), out.size, err, _native.ERRLEN)
    assert rc != 0 and "unknown bits" in ffi.string(err).decode()
