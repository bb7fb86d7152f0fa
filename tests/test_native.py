"""The C boundary: declarations, type table, panics, status mapping."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import wick
from wick import _debug, _native


def _normalise(decl: str) -> str:
    decl = re.sub(r"^\s*extern\s+", "", decl.strip())
    return re.sub(r"\s+", " ", decl).replace("* ", "*").replace(" *", "*")


def test_cdef_matches_generated_header():
    """The hand-written cdef must declare exactly what `go build` exported."""
    header = _native.library_path().with_name("libwick.h")
    if not header.exists():
        pytest.skip("no generated header next to the library")
    text = header.read_text()
    body = text[text.index('extern "C" {') :]
    exported = {_normalise(m) for m in re.findall(r"^extern [^;\n]*;", body, flags=re.M)}
    declared = {_normalise(line) for line in _native.CDEF.splitlines() if re.match(r"^(int|int64_t|void)\b.*\);$", line.strip())}
    assert exported == declared
    # and the shared types (export/wick.h, shipped beside the header) are the same
    shared = header.with_name("wick.h").read_text()
    shared = re.sub(r"/\*.*?\*/", "", shared, flags=re.S)
    typedefs = re.findall(r"typedef struct[^}]*}[^;]*;|typedef[^;{]*;", shared)
    flat_cdef = re.sub(r"\s+", " ", _native.CDEF)
    assert len(typedefs) >= 4
    for td in typedefs:
        assert re.sub(r"\s+", " ", td).strip() in flat_cdef


def test_test_hooks_only_in_the_test_library():
    """The suite runs on the test build (wick_debug_* exports, build tag wick_testhooks);
    the release library beside the package, which wheels ship, has none of them."""
    assert "wick_debug_panic" in _native.library_path().with_name("libwick.h").read_text()
    release = Path(_native.__file__).parent / "_lib" / _native.library_name()
    if not release.exists():
        pytest.skip("no release library in the package (not built in place)")
    assert release != _native.library_path()
    assert b"wick_debug_" not in release.read_bytes()
    assert "wick_debug_" not in release.with_name("libwick.h").read_text()


def test_abi_version_and_info():
    info = wick.library_info()
    assert info["abi_version"] == _native.ABI_VERSION
    assert set(info["status"]) >= {"ok", "invalid_argument", "internal", "os", "format", "unsupported", "cancelled"}
    assert info["status"]["ok"] == 0
    assert wick.max_threads() >= 1


def test_type_table_matches_gguf_package():
    """Wick's table (read from Go) agrees with the gguf package's GGML_QUANT_SIZES."""
    gguf = pytest.importorskip("gguf")
    sizes = gguf.constants.GGML_QUANT_SIZES
    by_name = {t.name: t for t in wick.types()}
    for qt, (block, nbytes) in sizes.items():
        assert qt.name in by_name, f"Wick does not know {qt.name}"
        t = by_name[qt.name]
        assert t.id == qt.value
        if qt.name == "Q8_1":
            # gguf-py still lists the old layout (two float32 scales, 40 bytes);
            # ggml's block_q8_1 holds two fp16 (d, s) and 32 int8: 36 bytes.
            assert (t.block_size, t.type_size) == (32, 36) and nbytes == 40
            continue
        assert (t.block_size, t.type_size) == (block, nbytes), qt.name


def test_type_lookup():
    t = wick.type_info("q8_0")
    assert t is wick.type_info(8) is wick.type_info(t)
    assert (t.name, t.block_size, t.type_size, t.bits_per_weight) == ("Q8_0", 32, 34, 8.5)
    assert t.can_quantize and t.can_dequantize
    assert t.row_nbytes(4096) == 4352
    with pytest.raises(wick.WickValueError, match="unknown ggml type 'Q9_0'; known types are F32, F16"):
        wick.type_info("Q9_0")
    with pytest.raises(wick.WickValueError, match="unknown ggml type id 4"):
        wick.type_info(4)
    with pytest.raises(wick.WickTypeError):
        wick.type_info(3.5)
    with pytest.raises(ValueError, match="not a multiple of the Q8_0 block size 32"):
        t.row_nbytes(33)


@pytest.mark.parametrize(
    "where, text",
    [
        (_debug.PANIC_IN_EXPORT, "deliberate panic in the export"),
        (_debug.PANIC_IN_WORKER, "deliberate panic in a worker goroutine"),
        (_debug.PANIC_NIL_DEREF, "nil pointer dereference"),
    ],
)
def test_go_panic_becomes_python_exception(where, text):
    with pytest.raises(wick.WickInternalError, match=text) as exc:
        _debug.panic(where)
    assert isinstance(exc.value, RuntimeError)
    assert "a bug, please report it" in str(exc.value)
    # the process and the library are fine afterwards
    x = np.ones((2, 32), np.float32)
    assert wick.dequantize(wick.quantize(x, "F16"), "F16", x.shape).tolist() == x.tolist()


def test_bad_argument_to_debug_export_is_value_error():
    with pytest.raises(wick.WickValueError, match="where: 9 is not 0"):
        _debug.panic(9)


def test_error_classes_inherit_builtins():
    assert issubclass(wick.WickValueError, ValueError)
    assert issubclass(wick.WickTypeError, TypeError)
    assert issubclass(wick.WickNonFiniteError, ValueError)
    assert issubclass(wick.WickFormatError, ValueError)
    assert issubclass(wick.WickOSError, OSError)
    assert issubclass(wick.WickInternalError, RuntimeError)
    assert issubclass(wick.WickUnsupportedError, NotImplementedError)
    assert issubclass(wick.WickForkError, RuntimeError)
    for cls in (wick.WickValueError, wick.WickOSError, wick.WickInternalError, wick.WickForkError, wick.WickCancelledError):
        assert issubclass(cls, wick.WickError)
