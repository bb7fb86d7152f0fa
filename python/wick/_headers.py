"""The C declarations of Wick's native library, from the headers the build ships beside it.

Standard library only: ``build_native.py`` loads this file by its path at build time
(before the package, numpy or the library exist) to write the prebuilt cffi module
(:data:`FFI_MODULE`), and :mod:`wick._native` uses the same functions at import.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

HEADER = "libwick.h"      # what `go build -buildmode=c-shared` writes: the exported functions
SHARED_HEADER = "wick.h"  # export/wick.h, which HEADER includes: the shared types
#: cffi's out-of-line ABI module that the build writes beside the library: the parsed
#: declarations, so that ``import wick`` needs neither pycparser nor ``ffi.cdef``.
FFI_MODULE = "_wick_ffi.py"
#: the name of the FFI_MODULE's line that records which headers it was made from
DIGEST_NAME = "HEADERS_SHA256"


def declarations(lib_path: Path) -> str:
    """The C declarations for cffi, read from the headers the build ships beside the
    library at ``lib_path``: the types of ``wick.h`` (comments and preprocessor lines
    removed) and the ``extern`` function declarations of ``libwick.h`` (``extern``
    removed). Nothing is restated here. Raises OSError for a missing header and
    ImportError for a header that declares no function."""
    shared = lib_path.with_name(SHARED_HEADER).read_text(encoding="utf-8")
    shared = re.sub(r"/\*.*?\*/", "", shared, flags=re.S)
    types = "\n".join(line for line in shared.splitlines() if line.strip() and not line.lstrip().startswith("#"))
    header = lib_path.with_name(HEADER).read_text(encoding="utf-8")
    body = header[header.index('extern "C" {'):] if 'extern "C" {' in header else header
    funcs = [m.group(1) for m in re.finditer(r"^extern\s+(.*\);)\s*$", body, flags=re.M)]
    if not funcs:
        raise ImportError(f"{lib_path.with_name(HEADER)} declares no function: the build is broken")
    return types + "\n" + "\n".join(funcs) + "\n"


def headers_digest(lib_path: Path) -> str:
    """SHA-256 of the two headers beside the library at ``lib_path`` (OSError if one is
    missing): a prebuilt FFI_MODULE is used only when it was made from these bytes."""
    h = hashlib.sha256()
    for name in (HEADER, SHARED_HEADER):
        data = lib_path.with_name(name).read_bytes()
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()
