"""Which llama.cpp pipeline Wick reproduces: by default convert_hf_to_gguf.py
--outtype f32 (or bf16, the same file for a BF16 checkpoint) + llama-quantize,
with no lossy step; with intermediate="f16" the route through an F16 file,
byte for byte, float16 subnormals and overflow included.

tests/golden/f16_route.json comes from the real converter and
llama_model_quantize (tests/golden/gen_f16_route.py), run on the fixture
models of tests/f16_route_fixture.py.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import f16_route_fixture as FIX
import pytest

import wick
from conftest import ROOT
from wick.convert.plan import intermediate_of

GOLDEN = json.loads((ROOT / "tests" / "golden" / "f16_route.json").read_text())
MODEL, OVERFLOW = "f16-route", "f16-route-overflow"
# the golden's quantize runs: label -> keyword options of the same llama-quantize run
RUNS = {"Q4_K_M": ("Q4_K_M", {}), "Q4_K_M+token_embd_F16": ("Q4_K_M", {"token_embedding_type": "F16"}),
        "Q6_K": ("Q6_K", {}), "Q8_0": ("Q8_0", {})}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("f16-route")
    out = {}
    for name, entry in GOLDEN["models"].items():
        FIX.make(root / name, overflow=entry["overflow"])
        for f, want in entry["files"].items():
            assert sha256(root / name / f) == want, f"fixture {name}/{f} changed: regenerate the golden"
        out[name] = root / name
    return out


def golden(model: str, label: str, outtype: str) -> dict:
    return GOLDEN["models"][model]["quantize"][label][outtype]


@pytest.mark.parametrize("label", sorted(RUNS))
def test_lossless_routes(models, tmp_path, label):
    """Through an F32 or (for a BF16 checkpoint, the same file) a BF16 intermediate; and by
    default for the targets llama-quantize makes (the converter writes Q8_0 itself)."""
    target, opts = RUNS[label]
    out = tmp_path / "o.gguf"
    assert golden(MODEL, label, "f32")["sha256"] == golden(MODEL, label, "bf16")["sha256"]
    for inter in ("f32", "bf16"):
        wick.convert(models[MODEL], out, target, intermediate=inter, overwrite=True, **opts)
        assert sha256(out) == golden(MODEL, label, inter)["sha256"], inter
    if target != "Q8_0":
        wick.convert(models[MODEL], out, target, overwrite=True, **opts)
        assert sha256(out) == golden(MODEL, label, "f32")["sha256"]


@pytest.mark.parametrize("label", sorted(RUNS))
def test_intermediate_f16_is_the_f16_route(models, tmp_path, label):
    target, opts = RUNS[label]
    out = tmp_path / "o.gguf"
    report = wick.convert(models[MODEL], out, target, intermediate="f16", **opts)
    want = golden(MODEL, label, "f16")
    assert (sha256(out), out.stat().st_size) == (want["sha256"], want["size"])
    assert report.target == target


def test_the_routes_differ_where_float16_rounds():
    """The golden itself: the F16 route changed weights below 2^-17 and at least one Q4_K block."""
    m = GOLDEN["models"][MODEL]
    assert golden(MODEL, "Q4_K_M", "f16")["sha256"] != golden(MODEL, "Q4_K_M", "f32")["sha256"]
    assert m["q4_k_m_blocks_f16_vs_f32"], "no block differs: the fixture no longer tests anything"
    assert all(r["changed"] > 0 and r["inf"] == 0 for r in m["f16_rounding"].values())
    for p in m["planted"]:  # float16's round-to-nearest-even, as numpy does it
        assert p["in_f16"] == float(__import__("numpy").float32(p["value"]).astype("float16")), p


def test_plan_rounds_exactly_what_the_converter_writes_in_f16(models):
    plan = wick.convert(models[MODEL], "unused.gguf", "Q4_K_M", intermediate="f16", dry_run=True)
    written = GOLDEN["models"][MODEL]["convert"]["f16"]["types"]
    assert {t.name for t in plan.tensors} == set(written)
    for t in plan.tensors:
        rounds = [o for o in t.ops if o.get("op") == "round"]
        assert rounds == ([{"op": "round", "dtype": "F16"}] if written[t.name] == "F16" else []), t.name
        assert t.ops[-1:] == rounds[-1:]  # after the converter's own operations
    assert plan.reference == "convert(f16)+quantize" and intermediate_of(plan) == "f16"
    # the intermediate is the file itself for an F16 target: the converter alone
    f16 = wick.convert(models[MODEL], "unused.gguf", "F16", intermediate="f16", dry_run=True)
    assert f16.to_json() == wick.convert(models[MODEL], "unused.gguf", "F16", dry_run=True).to_json()
    assert wick.convert(models[MODEL], "unused.gguf", "Q4_K_M", intermediate="f32", dry_run=True).to_json() == \
        wick.convert(models[MODEL], "unused.gguf", "Q4_K_M", dry_run=True).to_json()
    q8 = wick.convert(models[MODEL], "unused.gguf", "Q8_0", intermediate="f32", dry_run=True)
    assert q8.reference == "convert+quantize" and intermediate_of(q8) is None
    assert wick.convert(models[MODEL], "unused.gguf", "Q8_0", dry_run=True).reference == "convert"


def test_f16_target_is_the_converters_f16_file(models, tmp_path):
    out = tmp_path / "o.gguf"
    wick.convert(models[MODEL], out, "F16", intermediate="f16")
    want = GOLDEN["models"][MODEL]["convert"]["f16"]
    assert (sha256(out), out.stat().st_size) == (want["sha256"], want["size"])


def test_overflow_is_refused_as_llama_quantize_refuses_it(models, tmp_path):
    """Beyond ±65504 the F16 file holds ±inf, and llama-quantize refuses it ('has invalid data',
    leaving a partial file); Wick refuses too, names the tensor, and leaves nothing."""
    for label in RUNS:
        assert golden(OVERFLOW, label, "f16")["rc"] == 1
        assert golden(OVERFLOW, label, "f16")["error"] == "tensor 'token_embd.weight' has invalid data"
    out = tmp_path / "o.gguf"
    with pytest.raises(wick.WickNonFiniteError, match=r'tensor "token_embd.weight": element 0 of row 3 is \+Inf.*'
                                                      r'intermediate=.f16.: a finite weight beyond ±65504'):
        wick.convert(models[OVERFLOW], out, "Q4_K_M", intermediate="f16")
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    # the lossless route keeps the values, and llama.cpp's writes the same file
    wick.convert(models[OVERFLOW], out, "Q4_K_M")
    assert sha256(out) == golden(OVERFLOW, "Q4_K_M", "f32")["sha256"] == golden(OVERFLOW, "Q4_K_M", "bf16")["sha256"]


def test_command_line(models, tmp_path, capsys):
    from wick.cli import main

    out = tmp_path / "o.gguf"
    assert main(["convert", str(models[MODEL]), "-o", str(out), "--type", "q4_k_m", "--intermediate", "F16",
                 "--no-progress"]) == 0
    assert sha256(out) == golden(MODEL, "Q4_K_M", "f16")["sha256"]
    assert main(["convert", str(models[MODEL]), "--type", "Q4_K_M", "--intermediate", "f16", "--dry-run",
                 "--no-metadata"]) == 0
    text = capsys.readouterr().out
    assert "reproduces llama.cpp convert(f16)+quantize" in text and "round(F16)" in text
    assert main(["convert", str(models[OVERFLOW]), "-o", str(out), "--type", "Q4_K_M", "--intermediate", "f16",
                 "--force"]) == 1
    assert "with --intermediate f16: a finite weight beyond ±65504" in capsys.readouterr().err
    with pytest.raises(wick.WickValueError, match="intermediate: 'f8' is not one of f32, bf16, f16"):
        wick.convert(models[MODEL], out, "Q4_K_M", intermediate="f8", dry_run=True)
