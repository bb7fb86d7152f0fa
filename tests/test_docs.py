"""The documentation is executed: every example in README.md and docs/*.md runs.

For each Markdown file, its fenced code blocks run in order, sharing one
namespace, in a fresh temporary working directory that holds the demo model
(``examples/make_tiny_llama.py``) as ``./tiny-llama`` and, under a real
model's name, as ``./Llama-3.2-1B``, so the quick start runs exactly as
written:

* ```` ```python ```` blocks are executed;
* ```` ```pycon ```` blocks (``>>>`` prompts) run as doctests: the printed
  output must match (``...`` matches anything);
* ```` ```sh ```` blocks whose commands start with ``wick`` run through
  :func:`wick.cli.main`, each line must exit 0; other shell blocks
  (``make``, ``pip``) are not run.

A block that cannot run here is preceded by the HTML comment
``<!-- doc-test: skip: REASON -->`` (invisible when rendered); there are few
and each names its reason. ``<!-- doc-test: exit N -->`` before a ``wick``
block expects exit status N from every line of it.

Besides running the examples, the references of the docs are checked: every
relative link points at an existing file, and every test a page cites as
proof (``tests/test_x.py::test_name``, ``quant/x_test.go::TestName``)
exists, so a claim cannot outlive the test behind it.
"""

from __future__ import annotations

import ast
import doctest
import importlib.util
import re
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

import pytest

from conftest import ROOT

DOCS = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))

MARKER = re.compile(r"<!--\s*doc-test:\s*(?P<what>skip|exit)\s*:?\s*(?P<arg>.*?)\s*-->")
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>```+)(?P<lang>[\w+-]*)\s*$")

# Blocks the whole documentation may skip; raise it only with a good reason.
MAX_SKIPPED = 6


@dataclass
class Block:
    path: Path
    line: int  # 1-based line of the first line of code
    lang: str
    code: str
    skip: Optional[str] = None
    exit: int = 0

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def blocks(path: Path) -> List[Block]:
    """The fenced code blocks of a Markdown file, with their doc-test markers."""
    lines = path.read_text(encoding="utf-8").splitlines()
    out: List[Block] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m or not m.group("lang"):
            if m:  # a fence without a language: skip to its end
                j = i + 1
                while j < len(lines) and lines[j].strip() != m.group("fence"):
                    j += 1
                i = j + 1
                continue
            i += 1
            continue
        indent, fence = m.group("indent"), m.group("fence")
        j = i + 1
        body = []
        while j < len(lines) and lines[j].strip() != fence:
            line = lines[j]
            body.append(line[len(indent):] if line.startswith(indent) else line.lstrip())
            j += 1
        if j == len(lines):
            raise AssertionError(f"{path.relative_to(ROOT)}:{i + 1}: unclosed code fence")
        b = Block(path, i + 2, m.group("lang").lower(), "\n".join(body) + "\n")
        k = i - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        mk = MARKER.search(lines[k]) if k >= 0 else None
        if mk and mk.group("what") == "skip":
            b.skip = mk.group("arg") or ""
        elif mk and mk.group("what") == "exit":
            b.exit = int(mk.group("arg"))
        out.append(b)
        i = j + 1
    return out


def _wick_lines(b: Block) -> List[List[str]]:
    """The commands of a shell block that starts with ``wick`` (comments dropped)."""
    cmds = []
    for raw in b.code.splitlines():
        argv = shlex.split(raw, comments=True)
        if argv:
            cmds.append(argv)
    return cmds


def _runs(b: Block) -> bool:
    if b.lang in ("python", "pycon"):
        return True
    if b.lang in ("sh", "bash", "console", "shell"):
        cmds = _wick_lines(b)
        return bool(cmds) and cmds[0][0] == "wick"
    return False


@pytest.fixture(scope="session")
def demo_model(tmp_path_factory) -> Path:
    spec = importlib.util.spec_from_file_location("make_tiny_llama", ROOT / "examples" / "make_tiny_llama.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    d = tmp_path_factory.mktemp("demo") / "tiny-llama"
    mod.make(d)
    return d


@pytest.fixture(scope="session")
def demo_gguf(demo_model, tmp_path_factory) -> Path:
    """``model-f16.gguf`` (the demo model as F16) and an ``imatrix.gguf`` for it, as
    llama-imatrix lays one out, for the requantization examples."""
    import numpy as np
    from requantize_models import write_imatrix_gguf

    import wick

    d = tmp_path_factory.mktemp("gguf")
    wick.convert(demo_model, d / "model-f16.gguf", "F16")
    stats = {}
    with wick.gguf.open(d / "model-f16.gguf") as g:
        for t in g.tensors.values():
            if len(t.dims) == 2 and t.name != "token_embd.weight":
                stats[t.name] = (np.full((1, t.dims[0]), 200.0, np.float32) + np.arange(t.dims[0], dtype=np.float32),
                                 np.array([100.0], np.float32))
    write_imatrix_gguf(str(d / "imatrix.gguf"), stats)
    return d


def _workdir(tmp_path: Path, demo_model: Path, demo_gguf: Path) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    for name in ("tiny-llama", "Llama-3.2-1B"):
        shutil.copytree(demo_model, work / name)
    for f in demo_gguf.iterdir():
        shutil.copy(f, work / f.name)
    return work


def _run_python(b: Block, ns: dict) -> None:
    code = compile("\n" * (b.line - 1) + b.code, str(b.path), "exec")
    exec(code, ns)


def _run_pycon(b: Block, ns: dict) -> None:
    parser = doctest.DocTestParser()
    test = parser.get_doctest(b.code, ns, b.where, str(b.path), b.line - 1)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report: List[str] = []
    runner.run(test, out=report.append, clear_globs=False)
    assert runner.failures == 0, f"{b.where}: doctest failed:\n" + "".join(report)


def _run_wick(b: Block, capsys) -> None:
    from wick.cli import main

    for argv in _wick_lines(b):
        assert argv[0] == "wick", f"{b.where}: a `wick` block may hold only wick commands, found {argv[0]!r}"
        rc = main(argv[1:])
        out = capsys.readouterr()
        assert rc == b.exit, f"{b.where}: `{shlex.join(argv)}` exited {rc}, expected {b.exit}\n{out.out}\n{out.err}"
        if b.exit == 0:
            assert "error" not in out.err, f"{b.where}: `{shlex.join(argv)}` printed an error: {out.err}"


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_examples_run(path, tmp_path, demo_model, demo_gguf, monkeypatch, capsys):
    work = _workdir(tmp_path, demo_model, demo_gguf)
    monkeypatch.chdir(work)
    ns: dict = {"__name__": "__doc_example__"}
    ran = 0
    for b in blocks(path):
        if b.skip is not None or not _runs(b):
            continue
        if b.lang == "python":
            _run_python(b, ns)
        elif b.lang == "pycon":
            _run_pycon(b, ns)
        else:
            _run_wick(b, capsys)
        ran += 1
    if path.name != "architecture.md":
        assert ran, f"{path.relative_to(ROOT)}: no example ran (is the extraction broken?)"


def test_skips_are_few_and_explained():
    skipped = [b for p in DOCS for b in blocks(p) if b.skip is not None]
    for b in skipped:
        assert b.skip, f"{b.where}: a skipped example must say why (<!-- doc-test: skip: REASON -->)"
    assert len(skipped) <= MAX_SKIPPED, [b.where for b in skipped]


def test_every_python_block_is_runnable_code():
    """Blocks marked python must be Python (a typo in a fence would silently skip them)."""
    for p in DOCS:
        for b in blocks(p):
            if b.lang == "python":
                ast.parse(b.code, filename=b.where)


def test_block_extraction_sees_the_examples():
    """The extractor finds what it must: a python block and a wick block in the README."""
    readme = blocks(ROOT / "README.md")
    assert any(b.lang == "python" and "wick.convert(" in b.code for b in readme)
    assert any(_runs(b) and b.lang == "sh" and "--dry-run" in b.code for b in readme)


LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)")
PY_TEST = re.compile(r"(?P<file>tests/test_\w+\.py)::(?P<name>test_\w+)")
GO_TEST = re.compile(r"(?P<file>[\w/]+_test\.go)::(?P<name>(?:Test|Fuzz)\w+)")


def test_relative_links_resolve():
    for p in DOCS:
        text = p.read_text(encoding="utf-8")
        for m in LINK.finditer(text):
            target = m.group("target").split("#")[0]
            if not target or re.match(r"^[a-z]+:", target):
                continue
            assert (p.parent / target).exists(), f"{p.relative_to(ROOT)}: broken link {m.group('target')!r}"


def _py_tests(file: Path) -> set:
    tree = ast.parse(file.read_text(encoding="utf-8"))
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}


def test_cited_tests_exist():
    cited = 0
    for p in DOCS:
        text = p.read_text(encoding="utf-8")
        for m in PY_TEST.finditer(text):
            f = ROOT / m.group("file")
            assert f.exists(), f"{p.relative_to(ROOT)} cites {m.group(0)}: no such file"
            assert m.group("name") in _py_tests(f), f"{p.relative_to(ROOT)} cites {m.group(0)}: no such test"
            cited += 1
        for m in GO_TEST.finditer(text):
            f = ROOT / m.group("file")
            assert f.exists(), f"{p.relative_to(ROOT)} cites {m.group('file')}: no such file"
            assert re.search(rf"^func {m.group('name')}\(", f.read_text(encoding="utf-8"), re.M), (
                f"{p.relative_to(ROOT)} cites {m.group('file')} {m.group('name')}: no such Go test")
            cited += 1
    assert cited >= 10, "the README's exactness claims should cite their tests"


@pytest.mark.slow
def test_quickstart_script_runs():
    """examples/quickstart.py (every type on one matrix, against the gguf package) runs and agrees."""
    import subprocess
    import sys

    r = subprocess.run([sys.executable, str(ROOT / "examples" / "quickstart.py")], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    assert "Q8_0" in r.stdout and "Q4_K" in r.stdout
    assert "  NO" not in r.stdout, r.stdout
