"""Shared fixtures of Wick's pytest suite.

The suite tests the installed package (``pip install -e .`` as ``make test``
does) with the test suite's build of the native library: the release library
plus the ``wick_debug_*`` hooks (build tag ``wick_testhooks``), which
``make lib`` builds into build/test-lib/ and which this file points
``WICK_LIBRARY`` at (rebuilding it first when a Go source is newer, and its
prebuilt cffi declarations when they are older than it), for this
process and every subprocess. Tests that need optional references
(llama-cpp-python, ml_dtypes) skip cleanly when those are missing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent


def _test_library() -> Path:
    """The test suite's library, built (or rebuilt, when a Go source is newer) if needed."""
    sys.path.insert(0, str(ROOT))
    try:
        import build_native
    finally:
        sys.path.remove(str(ROOT))
    lib = build_native.TEST_LIB_DIR / build_native.library_name()
    try:
        newest = max((ROOT / f).stat().st_mtime for f in build_native.go_sources())
    except (build_native.BuildError, OSError):  # no Go here: use what there is
        newest = 0.0
    if not lib.exists() or lib.stat().st_mtime < newest:
        build_native.build(test_hooks=True)
    # the prebuilt cffi declarations beside it, written again when older than the library
    # or than the code that writes them
    module = lib.with_name("_wick_ffi.py")
    writers = max((ROOT / f).stat().st_mtime for f in ("build_native.py", "python/wick/_headers.py"))
    if not module.exists() or module.stat().st_mtime < max(lib.stat().st_mtime, writers):
        build_native.write_ffi_module(lib)
    return lib


if "WICK_LIBRARY" not in os.environ:
    os.environ["WICK_LIBRARY"] = str(_test_library())


@pytest.fixture
def rng():
    return np.random.default_rng(20261125)


def run_python(code: str, *, timeout: float = 60, env: dict | None = None, cwd: str | None = None) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter (for fork, signal and crash tests)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True, text=True, timeout=timeout, env=full_env, cwd=cwd,
    )
