"""The public API is documented: type stubs match the runtime signatures, and
every public callable has a docstring."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import wick

STUB = Path(wick.__file__).with_name("__init__.pyi")


def stub_functions() -> dict:
    tree = ast.parse(STUB.read_text())
    out = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            a = node.args
            out[node.name] = ([x.arg for x in a.posonlyargs + a.args], [x.arg for x in a.kwonlyargs])
    return out


def stub_names() -> set:
    tree = ast.parse(STUB.read_text())
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.ImportFrom):
            names.update(alias.asname or alias.name for alias in node.names)
    return names


def test_every_public_name_has_a_stub():
    missing = set(wick.__all__) - stub_names()
    assert not missing, f"not in __init__.pyi: {sorted(missing)}"


def test_stub_signatures_match_runtime():
    for name, (positional, keyword_only) in stub_functions().items():
        fn = getattr(wick, name)
        params = inspect.signature(fn).parameters.values()
        rt_pos = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        rt_kw = [p.name for p in params if p.kind == p.KEYWORD_ONLY]
        assert (rt_pos, rt_kw) == (positional, keyword_only), name


def test_public_callables_have_docstrings():
    for name in wick.__all__:
        obj = getattr(wick, name)
        if callable(obj):
            assert inspect.getdoc(obj), f"wick.{name} has no docstring"
