"""The C boundary: declarations, type table, panics, status mapping."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

import wick
from conftest import run_python
from wick import _debug, _native


def test_declarations_come_from_the_shipped_headers():
    """cffi reads the headers the build puts beside the library; every library function the
    package calls is declared there and exported by the library (debug hooks: in test builds)."""
    path = _native.library_path()
    decls = _native.declarations(path)
    declared = set(re.findall(r"\b(wick_\w+)\(", decls))
    used = set()
    for src in Path(wick.__file__).parent.rglob("*.py"):
        used |= set(re.findall(r"\.(wick_\w+)\b", src.read_text()))
    assert {"wick_convert", "wick_quantize", "wick_info_json", "wick_abi_version"} <= used
    lib = _native.lib()
    for name in sorted(used):
        if name.startswith("wick_debug_") and name not in declared:
            continue  # test hooks are left out of release builds
        assert name in declared, f"{name} is called but not in {_native.HEADER}"
        assert callable(getattr(lib, name)), name
    # the shared types come from export/wick.h, not from a copy
    assert "typedef struct wick_ctl" in decls and _native.ffi.sizeof("wick_ctl") == 32
    # and no Python file declares a library function by hand
    for src in Path(wick.__file__).parent.rglob("*.py"):
        assert not re.search(r"^\s*(int|int64_t|void) wick_\w+\(", src.read_text(), flags=re.M), src


def test_missing_header_is_a_clear_import_error(tmp_path):
    shutil.copy(_native.library_path(), tmp_path / _native.library_name())
    r = run_python("""
        import numpy as np, wick
        try:
            wick.quantize(np.ones((1, 32), np.float32), "Q8_0")
        except ImportError as e:
            print("ImportError:", e)
        """, env={"WICK_LIBRARY": str(tmp_path / _native.library_name())})
    assert "ImportError:" in r.stdout and "without its header" in r.stdout and "wick.h" in r.stdout, r.stdout + r.stderr


C_PARSER_PROBE = """
    import sys, numpy as np, wick
    wick.quantize(np.ones((1, 32), np.float32), "Q8_0")
    print(sorted({m.split(".")[0] for m in sys.modules} & {"cffi", "pycparser"}))
    """


def test_import_uses_the_prebuilt_declarations():
    """The build writes cffi's out-of-line module of the headers beside the library; with it,
    importing Wick and calling it imports neither cffi's Python side nor pycparser."""
    assert _native.library_path().with_name(_native.FFI_MODULE).is_file()
    r = run_python(C_PARSER_PROBE)
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stdout + r.stderr


@pytest.mark.parametrize("prebuilt", ["same headers", "missing", "other headers", "not a cffi module"])
def test_declarations_are_parsed_when_the_prebuilt_module_does_not_match(tmp_path, prebuilt):
    """A library whose prebuilt module is missing, was made from other headers (its digest
    differs) or does not load works as well: its headers are parsed at import."""
    src = _native.library_path()
    for name in (_native.library_name(), _native.HEADER, _native.SHARED_HEADER):
        shutil.copy(src.with_name(name), tmp_path / name)
    module = src.with_name(_native.FFI_MODULE).read_text()
    digest_line = re.compile(rf"^{_native.DIGEST_NAME} = '[0-9a-f]{{64}}'$", re.M)
    assert len(digest_line.findall(module)) == 1
    if prebuilt == "same headers":
        (tmp_path / _native.FFI_MODULE).write_text(module)
    elif prebuilt == "other headers":
        (tmp_path / _native.FFI_MODULE).write_text(digest_line.sub(f"{_native.DIGEST_NAME} = '{'0' * 64}'", module))
    elif prebuilt == "not a cffi module":
        (tmp_path / _native.FFI_MODULE).write_text("raise RuntimeError('not a cffi module')\n")
    r = run_python(C_PARSER_PROBE, env={"WICK_LIBRARY": str(tmp_path / _native.library_name())})
    want = "[]" if prebuilt == "same headers" else "['cffi', 'pycparser']"
    assert r.returncode == 0 and r.stdout.strip() == want, r.stdout + r.stderr


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


def test_version_is_read_on_first_use():
    """``wick.__version__`` is the installed package's version, read from its metadata
    when first asked for: a plain ``import wick`` does not load importlib.metadata."""
    r = run_python("""
        import sys, wick
        before = "importlib.metadata" in sys.modules
        from importlib.metadata import PackageNotFoundError, version
        try:
            expected = version("wick")
        except PackageNotFoundError:
            expected = "0+unknown"
        from wick import __version__
        print(before, wick.__version__ == expected == __version__, "__version__" in vars(wick))
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["False", "True", "True"]


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


def test_tables_python_reads_from_the_library():
    """The 4-bit types (one Go table) and the safetensors dtype sizes come from wick_info_json."""
    from wick import quant_state
    from wick.convert.ggml_types import source_dtype_size

    bnb = wick.library_info()["bnb"]
    assert quant_state.QUANT_TYPES == ("nf4", "fp4")  # bitsandbytes' names, in the order of their codes
    assert quant_state.FOUR_BIT_BLOCKSIZES == tuple(bnb["blocksizes"]) == (32, 64, 128, 256, 512, 1024, 2048, 4096)
    for name, t in bnb["tables"].items():
        assert wick.code_table(name).shape == (t["size"],) == ((16,) if name in quant_state.QUANT_TYPES else (256,))
    # sizes as numpy has them (bfloat16 and float8 have no numpy dtype)
    for name, np_name in {"F64": "float64", "F32": "float32", "F16": "float16", "I64": "int64", "U32": "uint32",
                          "I16": "int16", "U8": "uint8", "I8": "int8", "BOOL": "bool"}.items():
        assert source_dtype_size(name) == np.dtype(np_name).itemsize, name
    assert (source_dtype_size("BF16"), source_dtype_size("F8_E4M3")) == (2, 1)
    assert source_dtype_size("F4") == source_dtype_size("C64") == source_dtype_size("Q4_K") == 0
