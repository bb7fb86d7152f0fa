"""Packaging: the wheel is platform-tagged and carries the library; a build
without Go fails with a message that says so. These build the library again,
so they take a few seconds each."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT, run_python

pytestmark = pytest.mark.slow


def _env_without_go() -> dict:
    go = shutil.which("go")
    env = dict(os.environ)
    env.pop("WICK_GO", None)
    if go:
        go_dir = str(Path(go).resolve().parent)
        env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep)
                                      if p and Path(p).resolve() != Path(go_dir) and not (Path(p) / "go").exists())
    return env


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    wheels = list(out.glob("wick-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_wheel_is_platform_tagged_and_carries_the_library(wheel):
    name = wheel.name
    assert "-py3-none-" in name and not name.endswith("-any.whl"), name
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        wheel_meta = next(n for n in names if n.endswith(".dist-info/WHEEL"))
        meta = z.read(wheel_meta).decode()
    assert "wick/_lib/libwick.so" in names or "wick/_lib/libwick.dylib" in names
    assert {"wick/__init__.py", "wick/__init__.pyi", "wick/py.typed", "wick/_lib/libwick.h", "wick/_lib/wick.h"} <= names
    assert "Root-Is-Purelib: false" in meta


def test_installed_wheel_works_from_any_directory(wheel, tmp_path):
    target = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    r = run_python(
        "import wick, numpy as np; print(wick.__file__); print(wick.quantize(np.ones((2, 64), np.float32), 'q8_0').shape)",
        env={"PYTHONPATH": str(target)}, cwd=str(elsewhere),
    )
    assert r.returncode == 0, r.stderr
    module_file, shape = r.stdout.strip().splitlines()
    assert module_file.startswith(str(target))
    assert shape == "(2, 68)"


def test_build_without_go_says_so(tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / "build_native.py"), "--output", str(tmp_path)],
                       capture_output=True, text=True, env=_env_without_go(), timeout=60)
    assert r.returncode != 0
    assert "needs the Go toolchain, which was not found on PATH" in r.stderr


def test_pip_install_without_go_fails_with_the_message(tmp_path):
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(tmp_path), str(ROOT)],
                       capture_output=True, text=True, env=_env_without_go(), timeout=600)
    assert r.returncode != 0
    assert "needs the Go toolchain, which was not found on PATH" in r.stdout + r.stderr
