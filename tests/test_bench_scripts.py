"""The benchmark scripts parse, and the two drivers answer --help (make bench is not run by the tests)."""

from __future__ import annotations

import py_compile
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.mark.parametrize("script", sorted(p.name for p in BENCH.glob("*.py")))
def test_bench_script_compiles(script, tmp_path):
    py_compile.compile(str(BENCH / script), cfile=str(tmp_path / "x.pyc"), doraise=True)


@pytest.mark.parametrize("script, option", [("bench.py", "--min-seconds"), ("convert_bench.py", "--wick-repeats")])
def test_bench_driver_help(script, option):
    r = subprocess.run([sys.executable, str(BENCH / script), "--help"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert option in r.stdout
