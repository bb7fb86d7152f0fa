"""Build Wick's native library (the Go core as a C shared library).

This is the one place that knows how the library is built. ``setup.py`` calls
:func:`build` during ``pip install`` / ``pip wheel`` / ``python -m build``, and
asks :func:`go_sources` which files the source distribution needs and
:func:`wheel_platform_tag` which platform tag the wheel gets; ``make lib``
runs this file directly::

    python build_native.py [--output DIR]      # the release library
    python build_native.py --test-hooks        # the test suite's library (build/test-lib/)
    python build_native.py --sources           # the Go files the library is built from

The test suite's library is built with the ``wick_testhooks`` build tag, which
adds the ``wick_debug_*`` exports (export/debug.go) that the tests use to make
Go panic or spin on purpose; a release library never contains them.

Requirements: the Go toolchain (see ``go.mod`` for the minimum version) and a
C compiler (cgo). ``WICK_GO`` may name the ``go`` binary to use. The usual Go
variables (``GOARCH``, ``CC``, ``CGO_CFLAGS``, ...) pass through to ``go build``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Dict, List, Optional, Set

ROOT = Path(__file__).resolve().parent
LIB_DIR = ROOT / "python" / "wick" / "_lib"
#: Where ``--test-hooks`` puts the test suite's library (tests/conftest.py loads it from here).
TEST_LIB_DIR = ROOT / "build" / "test-lib"
#: The build tag that compiles export/debug.go (the wick_debug_* exports).
TEST_HOOKS_TAG = "wick_testhooks"


class BuildError(RuntimeError):
    """The native library could not be built; the message says why."""


def library_name() -> str:
    """File name of the shared library on this platform."""
    if sys.platform == "darwin":
        return "libwick.dylib"
    if sys.platform == "win32":
        return "wick.dll"
    return "libwick.so"


def find_go() -> str:
    """Return the path of the Go toolchain or raise BuildError saying how to get one."""
    go = os.environ.get("WICK_GO") or shutil.which("go")
    if not go:
        raise BuildError(
            "Wick's core is written in Go, and building it needs the Go toolchain, "
            "which was not found on PATH (nor in WICK_GO). Install Go 1.25 or newer "
            "(https://go.dev/dl/) and a C compiler, then retry."
        )
    return go


# ARCHFLAGS (set by macOS build tools such as cibuildwheel) → GOARCH.
_DARWIN_ARCHS = {"-arch x86_64": "amd64", "-arch arm64": "arm64"}


def _go_env() -> Dict[str, str]:
    env = dict(os.environ)
    env["CGO_ENABLED"] = "1"  # without cgo Go reports a misleading "build constraints exclude all Go files"
    if "HOME" not in env and "GOCACHE" not in env:
        env["GOCACHE"] = str(Path(sysconfig.get_path("data")) / ".cache" / "go-build")
    if sys.platform == "darwin" and "GOARCH" not in env:
        # A wheel for the other Mac architecture: build the library for it too.
        arch = _DARWIN_ARCHS.get(" ".join(env.get("ARCHFLAGS", "").split()))
        if arch:
            env["GOARCH"] = arch
    return env


def build(output_dir: Optional[Path] = None, *, test_hooks: bool = False) -> Path:
    """Compile ``./export`` with ``-buildmode=c-shared`` into ``output_dir``
    (default: the package's ``_lib`` folder, or ``build/test-lib`` with
    ``test_hooks``, which adds the ``wick_debug_*`` exports).

    The library is written under a temporary name and renamed into place, so a
    running process that has the old library loaded keeps working.
    """
    go = find_go()
    if output_dir is None:
        output_dir = TEST_LIB_DIR if test_hooks else LIB_DIR
    output_dir.mkdir(parents=True, exist_ok=True)
    target = output_dir / library_name()
    tmp = output_dir / (".building-" + library_name())
    env = _go_env()
    tags = ["-tags", TEST_HOOKS_TAG] if test_hooks else []
    cmd = [go, "build", "-buildmode=c-shared", "-trimpath", *tags, "-ldflags=-s -w", "-o", str(tmp), "./export"]
    print("building Wick's native library:", " ".join(cmd), flush=True)
    try:
        subprocess.run(cmd, cwd=ROOT, env=env, check=True)
    except FileNotFoundError as e:
        raise BuildError(f"could not run the Go toolchain {go!r}: {e}") from e
    except subprocess.CalledProcessError as e:
        raise BuildError(f"`go build` failed with exit status {e.returncode} (its output is above)") from e
    header = tmp.with_suffix(".h")
    if header.exists():
        header.replace(output_dir / "libwick.h")
    # libwick.h includes the shared typedefs from export/wick.h: ship both.
    shutil.copyfile(ROOT / "export" / "wick.h", output_dir / "wick.h")
    tmp.replace(target)
    write_ffi_module(target)
    return target


def _headers_module():
    """python/wick/_headers.py, loaded by its path: the package itself needs numpy and the
    library, which a build environment may not have."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("_wick_headers", ROOT / "python" / "wick" / "_headers.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_ffi_module(lib_path: Path) -> Optional[Path]:
    """Write cffi's out-of-line ABI module of the headers beside the library at
    ``lib_path`` (``_wick_ffi.py``: the declarations already parsed, so that ``import
    wick`` needs no C parser), stamped with the digest of the headers it was made from.
    Without cffi in the build environment nothing is written (any older module is
    removed), and the package parses the headers at import instead."""
    headers = _headers_module()
    out = lib_path.with_name(headers.FFI_MODULE)
    try:
        from cffi import FFI
    except ImportError:
        out.unlink(missing_ok=True)
        print("cffi is not importable here: no prebuilt declarations; Python will parse the headers at import")
        return None
    builder = FFI()
    builder.cdef(headers.declarations(lib_path))
    builder.set_source("_wick_ffi", None)
    tmp = out.with_name(".building-" + out.name)
    builder.emit_python_code(str(tmp))
    with open(tmp, "a", encoding="utf-8") as f:
        f.write(f"\n# the headers this module was made from (wick._native uses it only for the same bytes)\n"
                f"{headers.DIGEST_NAME} = {headers.headers_digest(lib_path)!r}\n")
    tmp.replace(out)
    return out


# Every kind of file `go list` reports that a build may need. Ignored*Files are
# those that build constraints exclude here (another OS or architecture, the
# noasm and wick_testhooks tags): the source distribution needs them too.
_GO_LIST_FIELDS = ("GoFiles", "CgoFiles", "CFiles", "CXXFiles", "MFiles", "HFiles", "FFiles", "SFiles",
                   "SwigFiles", "SwigCXXFiles", "SysoFiles", "EmbedFiles", "IgnoredGoFiles", "IgnoredOtherFiles")


def go_sources(root: Path = ROOT) -> List[str]:
    """The files ``go build`` may read to build the library, as sorted paths
    relative to ``root`` (with ``/``): every non-test file that ``go list``
    reports in every package of the module, for every OS, architecture and
    build tag, plus ``go.mod`` and ``go.sum``."""
    go = find_go()
    try:
        r = subprocess.run([go, "list", "-e", "-find", "-json", "./..."], cwd=root, env=_go_env(),
                           capture_output=True, text=True, check=True)
    except FileNotFoundError as e:
        raise BuildError(f"could not run the Go toolchain {go!r}: {e}") from e
    except subprocess.CalledProcessError as e:
        raise BuildError(f"`go list ./...` failed with exit status {e.returncode}: {e.stderr.strip()}") from e
    files = {"go.mod", "go.sum"}
    for pkg in _json_stream(r.stdout):
        if pkg.get("Error"):
            raise BuildError(f"`go list` reports an error in {pkg.get('ImportPath')}: {pkg['Error'].get('Err')}")
        d = Path(pkg["Dir"]).resolve().relative_to(root.resolve())
        for field in _GO_LIST_FIELDS:
            for name in pkg.get(field) or ():
                if not name.endswith("_test.go"):
                    files.add((d / name).as_posix())
    return sorted(files)


def _json_stream(text: str):
    """The JSON objects of a stream of concatenated objects (`go list -json`)."""
    dec, i = json.JSONDecoder(), 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i == len(text):
            return
        obj, i = dec.raw_decode(text, i)
        yield obj


# ---------------------------------------------------------------------------
# The wheel's platform tag on Linux
#
# A wheel for Linux must say which glibc it needs (a manylinux tag, PEP 600):
# manylinux_X_Y runs on every distribution with glibc >= X.Y. The library
# needs nothing but libc, so X.Y is the newest GLIBC_X.Y symbol version it
# references, which depends on the glibc of the machine that built it
# (glibc 2.34 moved pthread_create and friends into libc under the version
# GLIBC_2.34, so a build on glibc >= 2.34 needs 2.34). The tag is read from
# the built library rather than assumed; tests/test_packaging.py checks it
# with auditwheel.

_SHT_GNU_VERNEED = 0x6FFFFFFE


def elf_version_needs(path: Path) -> Dict[str, Set[str]]:
    """The symbol versions a 64-bit little-endian ELF shared library needs,
    by library: ``{"libc.so.6": {"GLIBC_2.2.5", ...}}`` (its .gnu.version_r)."""
    data = Path(path).read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise BuildError(f"{path} is not a 64-bit little-endian ELF file")
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    needs: Dict[str, Set[str]] = {}
    for _name, typ, _flags, _addr, offset, _size, link, info, _align, _entsize in sections:
        if typ != _SHT_GNU_VERNEED:
            continue
        strtab = sections[link][4]

        def string(at: int) -> str:
            end = data.index(b"\0", strtab + at)
            return data[strtab + at:end].decode()

        at = offset
        for _ in range(info):  # Elf64_Verneed: version, cnt, file, aux, next
            _version, cnt, file_, aux, nxt = struct.unpack_from("<HHIII", data, at)
            versions = needs.setdefault(string(file_), set())
            a = at + aux
            for _ in range(cnt):  # Elf64_Vernaux: hash, flags, other, name, next
                _hash, _vflags, _other, name, anext = struct.unpack_from("<IHHII", data, a)
                versions.add(string(name))
                a += anext
            at += nxt
    return needs


def manylinux_tag(path: Path, machine: str) -> Optional[str]:
    """``manylinux_X_Y_<machine>`` for the library at ``path``: the oldest tag
    its glibc symbol versions allow (never older than manylinux_2_5 on x86,
    manylinux_2_17 elsewhere, the oldest policies there are); None when it does
    not link glibc (e.g. a musl build)."""
    versions = [tuple(int(p) for p in m.group(1).split("."))
                for vs in elf_version_needs(path).values() for v in vs
                if (m := re.fullmatch(r"GLIBC_(\d+\.\d+(?:\.\d+)?)", v))]
    if not versions:
        return None
    major, minor = max(v[:2] for v in versions)
    floor = (2, 5) if machine in ("x86_64", "i686") else (2, 17)
    major, minor = max((major, minor), floor)
    return f"manylinux_{major}_{minor}_{machine}"


def wheel_platform_tag(default: str) -> str:
    """The platform tag of the wheel: on Linux the manylinux tag of the built
    library (see :func:`manylinux_tag`); elsewhere ``default`` (setuptools'
    own, which on macOS already follows the library's minimum macOS version)."""
    lib = LIB_DIR / library_name()
    if not default.startswith("linux_") or not lib.exists():
        return default
    tag = manylinux_tag(lib, default[len("linux_"):])
    return tag or default


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, help=f"directory for the library (default: {LIB_DIR}, or "
                        f"{TEST_LIB_DIR} with --test-hooks)")
    parser.add_argument("--test-hooks", action="store_true",
                        help=f"build the test suite's library (build tag {TEST_HOOKS_TAG}: adds the wick_debug_* exports)")
    parser.add_argument("--sources", action="store_true", help="print the Go files the library is built from, and stop")
    args = parser.parse_args()
    try:
        if args.sources:
            print("\n".join(go_sources()))
        else:
            print(build(args.output, test_hooks=args.test_hooks))
    except BuildError as e:
        sys.exit(f"error: {e}")
