"""Packaging, as a release is made and installed.

``python -m build`` makes the source distribution and then, in a fresh
isolated environment, a wheel *from that sdist*: so the sdist is proved to
build. The tests then check that the sdist holds every Go file ``go list``
reports; that the wheel carries the release library (no test hooks) under the
oldest manylinux tag its glibc symbol versions allow, as auditwheel confirms;
that ``twine check`` passes both; and that the wheel, installed into a new
virtual environment on a PATH without Go, converts the demo model into the
very file llama.cpp makes. A build without Go fails with a message that says
so. The build costs some 30-60 s on 2 cores (mostly the isolated environments
and the Go link), so the module is marked slow.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow

GOLDEN = json.loads((ROOT / "tests" / "golden" / "tiny_gguf_sha256.json").read_text())


def _env_without_go() -> dict:
    go = shutil.which("go")
    env = dict(os.environ)
    env.pop("WICK_GO", None)
    env.pop("WICK_LIBRARY", None)  # tests/conftest.py points it at the test library
    if go:
        go_dir = str(Path(go).resolve().parent)
        env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep)
                                      if p and Path(p).resolve() != Path(go_dir) and not (Path(p) / "go").exists())
    return env


@pytest.fixture(scope="module")
def dists(tmp_path_factory) -> dict:
    """The sdist and the wheel `python -m build` makes (the wheel built from the sdist)."""
    out = tmp_path_factory.mktemp("dist")
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    sdists, wheels = list(out.glob("wick-*.tar.gz")), list(out.glob("wick-*.whl"))
    assert len(sdists) == 1 and len(wheels) == 1, (sdists, wheels)
    assert "Building wheel from sdist" in r.stdout + r.stderr, r.stderr[-2000:]
    print(f"python -m build: {time.perf_counter() - t0:.1f} s")
    return {"sdist": sdists[0], "wheel": wheels[0]}


def _go_list_files() -> set:
    """Every non-test file of every package `go list` reports, for any OS, arch and tag."""
    r = subprocess.run(["go", "list", "-e", "-json", "./..."], cwd=ROOT, capture_output=True, text=True, check=True,
                       env={**os.environ, "CGO_ENABLED": "1"})
    dec, text, i, files = json.JSONDecoder(), r.stdout, 0, set()
    while i < len(text.rstrip()):
        pkg, i = dec.raw_decode(text, i)
        while i < len(text) and text[i].isspace():
            i += 1
        rel = Path(pkg["Dir"]).relative_to(ROOT)
        for field, names in pkg.items():
            if field.endswith("Files") and "Test" not in field and isinstance(names, list):
                files.update((rel / n).as_posix() for n in names if not n.endswith("_test.go"))
    return files


def test_sdist_holds_every_file_go_list_reports(dists):
    if not shutil.which("go"):
        pytest.skip("no Go toolchain to ask")
    with tarfile.open(dists["sdist"]) as t:
        names = {n.split("/", 1)[1] for n in t.getnames() if "/" in n}
    want = _go_list_files() | {"go.mod", "go.sum", "build_native.py", "setup.py", "pyproject.toml"}
    assert {"convert/execute.go", "export/wick.h", "export/debug.go", "quant/kernels_amd64.s"} <= want
    assert not want - names, f"missing from the sdist: {sorted(want - names)}"
    assert not [n for n in names if n.startswith("python/wick/_lib/") or n.endswith((".so", ".dylib", ".test"))]


def test_wheel_is_manylinux_and_carries_the_release_library(dists):
    wheel = dists["wheel"]
    assert "-py3-none-" in wheel.name and not wheel.name.endswith("-any.whl"), wheel.name
    if sys.platform.startswith("linux"):
        assert re.search(r"-py3-none-manylinux_2_\d+_(x86_64|aarch64)\.whl$", wheel.name), wheel.name
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        meta = z.read(next(n for n in names if n.endswith(".dist-info/WHEEL"))).decode()
        lib = next(n for n in names if n.startswith("wick/_lib/libwick."))
        lib_bytes, header = z.read(lib), z.read("wick/_lib/libwick.h").decode()
    assert {"wick/__init__.py", "wick/__init__.pyi", "wick/py.typed", "wick/_lib/libwick.h", "wick/_lib/wick.h",
            "wick/_lib/_wick_ffi.py"} <= names
    assert "Root-Is-Purelib: false" in meta
    assert "wick_convert" in header
    assert b"wick_debug_" not in lib_bytes and "wick_debug_" not in header, "the release library has test hooks"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="manylinux is Linux's")
def test_auditwheel_agrees_with_the_tag(dists, tmp_path):
    """auditwheel reads the wheel's library and names the oldest policy it satisfies:
    that is the tag the wheel carries; objdump's view of the glibc versions agrees."""
    wheel = dists["wheel"]
    tag = re.search(r"-py3-none-(manylinux_\d+_\d+_\w+)\.whl$", wheel.name).group(1)
    r = subprocess.run([sys.executable, "-m", "auditwheel", "show", str(wheel)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    text = " ".join(r.stdout.split())
    assert f'consistent with the following platform tag: "{tag}"' in text, text
    if shutil.which("objdump"):
        with zipfile.ZipFile(wheel) as z:
            lib = tmp_path / "libwick.so"
            lib.write_bytes(z.read("wick/_lib/libwick.so"))
        dump = subprocess.run(["objdump", "-T", str(lib)], capture_output=True, text=True, check=True).stdout
        newest = max(tuple(map(int, v.split("."))) for v in re.findall(r"\(GLIBC_(\d+\.\d+)(?:\.\d+)?\)", dump))
        assert tag.startswith(f"manylinux_{newest[0]}_{newest[1]}_"), (tag, newest)


def test_twine_check(dists):
    r = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", str(dists["sdist"]), str(dists["wheel"])],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("PASSED") == 2, r.stdout


def test_wheel_converts_the_demo_model_in_a_new_venv_without_go(dists, tmp_path):
    """A new virtual environment, the wheel and its dependencies only, no Go on PATH,
    run from elsewhere: `wick convert` writes the file llama.cpp writes."""
    t0 = time.perf_counter()
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    r = subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q", str(dists["wheel"])],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    model = tmp_path / "tiny-llama"
    subprocess.run([sys.executable, str(ROOT / "examples" / "make_tiny_llama.py"), str(model)], check=True,
                   capture_output=True, timeout=120)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = _env_without_go()
    env.pop("PYTHONPATH", None)
    r = subprocess.run([str(venv / "bin" / "wick"), "convert", str(model), "-o", "out.gguf", "--type", "Q4_K_M",
                        "--no-progress"], capture_output=True, text=True, cwd=elsewhere, env=env, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run([str(py), "-c", "import wick, hashlib, sys; print(wick.__file__); "
                        "print(hashlib.sha256(open('out.gguf', 'rb').read()).hexdigest())"],
                       capture_output=True, text=True, cwd=elsewhere, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    module_file, digest = r.stdout.split()
    assert module_file.startswith(str(venv))
    assert digest == GOLDEN["files"]["Q4_K_M"]["sha256"]
    print(f"new venv, install, demo conversion: {time.perf_counter() - t0:.1f} s")


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
