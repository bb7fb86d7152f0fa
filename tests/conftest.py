"""Shared fixtures of Wick's pytest suite.

The suite tests the installed package (``pip install -e .`` as ``make test``
does); tests that need optional references (llama-cpp-python, ml_dtypes) skip
cleanly when those are missing.
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
