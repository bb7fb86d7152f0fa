"""Build Wick's native library (the Go core as a C shared library).

This is the one place that knows how the library is built. ``setup.py`` calls
:func:`build` during ``pip install`` / ``pip wheel``; ``make lib`` runs this
file directly::

    python build_native.py [--output DIR]

Requirements: the Go toolchain (see ``go.mod`` for the minimum version) and a
C compiler (cgo). ``WICK_GO`` may name the ``go`` binary to use.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parent
LIB_DIR = ROOT / "python" / "wick" / "_lib"


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


def build(output_dir: Path = LIB_DIR) -> Path:
    """Compile ``./export`` with ``-buildmode=c-shared`` into ``output_dir``.

    The library is written under a temporary name and renamed into place, so a
    running process that has the old library loaded keeps working.
    """
    go = find_go()
    output_dir.mkdir(parents=True, exist_ok=True)
    target = output_dir / library_name()
    tmp = output_dir / (".building-" + library_name())
    env = dict(os.environ)
    env["CGO_ENABLED"] = "1"  # without cgo Go reports a misleading "build constraints exclude all Go files"
    if "HOME" not in env and "GOCACHE" not in env:
        env["GOCACHE"] = str(Path(sysconfig.get_path("data")) / ".cache" / "go-build")
    cmd = [go, "build", "-buildmode=c-shared", "-trimpath", "-ldflags=-s -w", "-o", str(tmp), "./export"]
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
    return target


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=LIB_DIR, help="directory for the library (default: %(default)s)")
    args = parser.parse_args()
    try:
        print(build(args.output))
    except BuildError as e:
        sys.exit(f"error: {e}")
