"""GGUF → GGUF requantization against llama-quantize, tensor by tensor and byte for byte.

``tests/golden/requantize_goldens.json`` (from ``tests/golden/gen_model_goldens.py``:
llama-cpp-python 0.3.36's ``llama_model_quantize``, cross-checked with the
llama-quantize tool) holds, for three small models (F32 and BF16 weights, GQA,
rows that are not multiples of 256, tied and untied output, a 4-expert MoE) and
every target with and without an importance matrix: the SHA-256 of the output
file, each tensor's type and bytes, and the metadata llama-quantize changed.

The models and the synthetic importance matrices are rebuilt here with Wick
(``tests/requantize_models.py``) and must hash as the generator's did; the
real ones llama-imatrix computed are in ``io/imatrix/testdata``. Then:

* ``test_plan_matches`` — :func:`wick.convert.requantize_plan`: tensor order,
  types, metadata order, types and values (no tensor data involved);
* ``test_reference_runner_bytes`` — the plan carried out by the plain
  interpreter in ``tests/plan_runner.py`` (``wick.gguf``, ``wick.imatrix``,
  ``wick.quantize``): the whole file must be identical;
* ``test_executor_bytes`` — the same with Wick's Go executor,
  ``wick.convert.execute`` (skipped while it does not exist).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import requantize_models as RM

import wick
import wick.convert as wc
from wick.gguf.values import KV

ROOT = Path(__file__).resolve().parent.parent
GOLD = json.loads((ROOT / "tests" / "golden" / "requantize_goldens.json").read_text())
REAL_DIR = ROOT / "io" / "imatrix" / "testdata"
CODES = {v: k for k, v in GOLD["type_codes"].items()}
BY_NAME = {m["name"]: m for m in RM.MODELS}

RUNS = [(g["spec"]["name"], label) for g in GOLD["models"] for label in g["runs"]]


def gold_model(name: str) -> dict:
    return next(g for g in GOLD["models"] if g["spec"]["name"] == name)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """The input models and imatrix files, rebuilt (and checked) once."""
    d = tmp_path_factory.mktemp("requantize")
    for g in GOLD["models"]:
        m = BY_NAME[g["spec"]["name"]]
        assert m == g["spec"], "tests/requantize_models.py changed since the goldens were made: regenerate them"
        RM.write_model(m, str(d / f"{m['name']}.gguf"))
        stats = RM.imatrix_stats(m)
        RM.write_imatrix_gguf(str(d / f"{m['name']}.imatrix.gguf"), stats)
        RM.write_imatrix_dat(str(d / f"{m['name']}.imatrix.dat"), stats)
        assert RM.file_sha256(str(d / f"{m['name']}.gguf")) == g["model_sha256"], m["name"]
        # Wick's writer makes the very file ggml's gguf API made
        assert RM.file_sha256(str(d / f"{m['name']}.imatrix.gguf")) == g["imatrix_gguf_sha256"], m["name"]
        assert RM.file_sha256(str(d / f"{m['name']}.imatrix.dat")) == g["imatrix_dat_sha256"], m["name"]
    for f in REAL_DIR.iterdir():
        if f.name.endswith((".imatrix.gguf", ".imatrix.dat")):
            shutil.copy(f, d / f.name)
    return d


def split_label(model: str, label: str):
    """(target, imatrix file name as given on llama-quantize's command line, or None)."""
    target, _, suffix = label.partition("+")
    if not suffix:
        return target, None
    if suffix == "imatrix":
        return target, f"{model}.imatrix.gguf"
    if suffix == "imatrix_dat":
        return target, f"{model}.imatrix.dat"
    return target, suffix


def make_plan(workdir: Path, model: str, label: str, monkeypatch) -> wc.Plan:
    target, imatrix = split_label(model, label)
    monkeypatch.chdir(workdir)  # llama-quantize ran in the imatrix file's directory
    return wc.requantize_plan(f"{model}.gguf", target, imatrix=imatrix)


def kv_gold(kv) -> list:
    t = kv.type.name if kv.element_type is None else f"ARRAY[{kv.element_type.name}]"
    return [kv.key, t, kv.value]


@pytest.mark.parametrize("model,label", RUNS)
def test_plan_matches(workdir, model, label, monkeypatch):
    g = gold_model(model)
    run = g["runs"][label]
    plan = make_plan(workdir, model, label, monkeypatch)
    assert [t.name for t in plan.tensors] == g["output_tensor_order"]
    want = [CODES[c] for c in run["types"]]
    got = [t.type for t in plan.tensors]
    bad = [(t.name, w, t.type) for t, w in zip(plan.tensors, want) if t.type != w]
    assert not bad, f"types differ (tensor, llama-quantize, Wick): {bad}"
    assert plan.file_type == run["file_type"]
    keys = [kv.key for kv in plan.metadata]
    order = next(o["keys"] for o in g["output_key_orders"] if label in o["runs"])
    assert keys == order
    by_key = {kv.key: kv for kv in plan.metadata}
    for key, typ, value in run["meta_changed"]:
        assert kv_gold(by_key[key]) == [key, typ, value]
    # everything else is the input's, unchanged
    changed = {k for k, _, _ in run["meta_changed"]}
    with wick.gguf.open(workdir / f"{model}.gguf") as f:
        for kv in plan.metadata:
            if kv.key not in changed:  # same type and value (FLOAT32 as its binary32 number)
                orig = f.metadata.kvs[[x.key for x in f.metadata.kvs].index(kv.key)]
                assert kv == KV.from_dict(orig.to_dict())
    for k in run["meta_removed"]:
        assert k not in by_key
    assert len(got) == len(want)


def check_file(path: Path, model: str, label: str) -> None:
    g = gold_model(model)
    run = g["runs"][label]
    got_sha = hashlib.sha256(path.read_bytes()).hexdigest()
    if got_sha == run["sha256"]:
        return
    # say which tensors differ
    blobs = GOLD["blobs"]
    diffs = []
    with wick.gguf.open(path) as f:
        for name, idx, code in zip(g["output_tensor_order"], run["tensors"], run["types"]):
            t = f.tensors[name]
            raw = f.raw(name).tobytes()
            h = hashlib.sha256(raw).hexdigest()
            if h != blobs[idx][0] or t.type.name != CODES[code]:
                row = raw[: t.type.row_nbytes(t.shape[-1])][: GOLD["row_prefix_bytes"]].hex()
                diffs.append(f"{name}: {t.type.name} vs {CODES[code]}; first row {row[:48]}… vs {blobs[idx][1][:48]}…")
    raise AssertionError(f"{model} {label}: file differs from llama-quantize's"
                         + (": " + "; ".join(diffs[:6]) if diffs else " (metadata or layout only)"))


@pytest.mark.parametrize("model,label", RUNS)
def test_reference_runner_bytes(workdir, tmp_path, model, label, monkeypatch):
    from plan_runner import run_plan

    plan = make_plan(workdir, model, label, monkeypatch)
    out = tmp_path / "out.gguf"
    run_plan(plan, str(out))
    check_file(out, model, label)


@pytest.mark.parametrize("model,label", RUNS)
def test_executor_bytes(workdir, tmp_path, model, label, monkeypatch):
    from wick.convert.execute import execute

    plan = make_plan(workdir, model, label, monkeypatch)
    out = tmp_path / "out.gguf"
    execute(plan, str(out), threads=2)
    check_file(out, model, label)
