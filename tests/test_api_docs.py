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


# Modules whose public names (``__all__``, else names without a leading
# underscore defined in the module) make up Wick's documented API.
PUBLIC_MODULES = [
    "wick", "wick.errors", "wick.gguf", "wick.gguf.values", "wick.safetensors", "wick.blockwise",
    "wick.quant_state", "wick.testing", "wick.cli", "wick.convert", "wick.convert.report",
    "wick.convert.plan", "wick.convert.execute", "wick.convert.errors", "wick.convert.ggml_types", "wick.convert.options",
    "wick.convert.mixture", "wick.convert.load", "wick.convert.archs",
]


def _public_members(module):
    names = getattr(module, "__all__", None) or [n for n in vars(module) if not n.startswith("_")]
    for name in names:
        obj = getattr(module, name, None)
        if inspect.isfunction(obj) or inspect.isclass(obj):
            if obj.__module__ == module.__name__ or module.__name__ == "wick":
                yield name, obj


def test_public_modules_classes_functions_and_methods_have_docstrings():
    import importlib

    missing = []
    for modname in PUBLIC_MODULES:
        module = importlib.import_module(modname)
        if not (module.__doc__ or "").strip():
            missing.append(modname)
        for name, obj in _public_members(module):
            if not (obj.__doc__ or "").strip():
                missing.append(f"{modname}.{name}")
            if inspect.isclass(obj) and not issubclass(obj, BaseException):
                for attr, value in vars(obj).items():
                    if attr.startswith("_"):
                        continue
                    fn = value.fget if isinstance(value, property) else getattr(value, "__func__", value)
                    if inspect.isfunction(fn) and not (fn.__doc__ or "").strip():
                        missing.append(f"{modname}.{name}.{attr}")
    assert not missing, f"public API without a docstring: {missing}"


def test_convert_is_callable_with_the_documented_options():
    sig = inspect.signature(wick.convert)
    assert list(sig.parameters)[:3] == ["model", "output", "type"]
    assert {"threads", "overwrite", "progress", "dry_run"} <= set(sig.parameters)
    assert "Convert a Hugging Face model directory" in inspect.getdoc(type(wick.convert).__call__)
