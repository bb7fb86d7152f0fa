"""wick.convert end to end on the demo model: byte-identical to llama.cpp's own
pipeline (tests/golden/tiny_gguf_sha256.json, made by gen_tiny_gguf_sha256.py
with convert_hf_to_gguf.py and llama-quantize), the report, and bad input:
never a partial output file."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
from pathlib import Path

import demo_imatrix
import numpy as np
import pytest

import wick
from conftest import ROOT
from wick.convert import build_plan
from wick.convert.execute import execute
from wick.convert.plan import Plan

GOLDEN = json.loads((ROOT / "tests" / "golden" / "tiny_gguf_sha256.json").read_text())


def _tiny_module():
    spec = importlib.util.spec_from_file_location("make_tiny_llama", ROOT / "examples" / "make_tiny_llama.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    """The demo model, in a directory named as the golden expects (it becomes general.name)."""
    d = tmp_path_factory.mktemp("models") / GOLDEN["model_dir_name"]
    _tiny_module().make(d)
    for name in ("model.safetensors", "tokenizer.json", "config.json"):
        assert hashlib.sha256((d / name).read_bytes()).hexdigest() == GOLDEN[f"{name}_sha256"], f"demo model {name} changed"
    return d


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("target", sorted(GOLDEN["files"]))
def test_byte_identical_to_llama_cpp(tiny, tmp_path, monkeypatch, target):
    want = GOLDEN["files"][target]
    kw = {}
    if "imatrix" in want:
        # made as `llama-quantize --imatrix tiny-llama.imatrix.dat`: the name as given is recorded
        monkeypatch.chdir(tmp_path)
        demo_imatrix.write(tmp_path)
        kw["imatrix"] = want["imatrix"]
    out = tmp_path / f"{target}.gguf"
    report = wick.convert(tiny, out, target, **kw)
    assert out.stat().st_size == want["size"]
    assert sha256(out) == want["sha256"], f"{target}: differs from llama.cpp's {want['pipeline']}"
    assert report.file_bytes == want["size"] and report.target == target


QUANTIZE_TARGETS = sorted(t for t, f in GOLDEN["files"].items() if f["pipeline"] == "llama-quantize(F32)")


@pytest.fixture(scope="module")
def tiny_f32(tiny, tmp_path_factory) -> Path:
    """Wick's F32 file of the demo model: the converter's, which the golden's llama-quantize runs read."""
    out = tmp_path_factory.mktemp("f32") / "tiny-llama-f32.gguf"
    wick.convert(tiny, out, "F32")
    assert sha256(out) == GOLDEN["files"]["F32"]["sha256"]
    return out


@pytest.mark.parametrize("target", QUANTIZE_TARGETS)
def test_requantize_is_llama_quantize(tiny_f32, tmp_path, monkeypatch, target):
    """`wick quantize F32-file --type T` writes llama-quantize's file (the golden's quantized files are
    llama_model_quantize of that same F32 file)."""
    from wick.convert import requantize_model, requantize_plan

    want = GOLDEN["files"][target]
    kw = {}
    if "imatrix" in want:
        monkeypatch.chdir(tmp_path)
        demo_imatrix.write(tmp_path)
        kw["imatrix"] = want["imatrix"]
    missing = sorted({t.type for t in requantize_plan(tiny_f32, target, **kw).tensors
                      if not wick.type_info(t.type).can_quantize})
    if missing:
        pytest.skip(f"Wick cannot write {', '.join(missing)} yet (needed by {target})")
    out = tmp_path / f"{target}.gguf"
    requantize_model(tiny_f32, out, target, **kw)
    assert sha256(out) == want["sha256"], f"{target}: differs from llama-quantize's file"


def test_required_imatrix_refused_as_llama_quantize_does(tiny, tmp_path):
    """Without an imatrix, and with one that lacks a tensor's entry, the targets that need one are
    refused naming the tensor (llama-quantize: 'this quantization requires an imatrix!' and 'Missing
    importance matrix for tensor ... in a very low-bit quantization'); token_embd is exempt."""
    from wick.convert.errors import ImatrixRequiredError

    for target in ("Q2_K_S", "IQ2_XXS", "IQ1_S"):
        with pytest.raises(ImatrixRequiredError, match="'blk.0.attn_k.weight'.*requires an importance matrix"):
            build_plan(tiny, target)
    im = demo_imatrix.write(tmp_path, drop=("blk.2.ffn_down.weight",))
    with pytest.raises(ImatrixRequiredError, match="'blk.2.ffn_down.weight'.*no usable entry"):
        build_plan(tiny, "Q2_K_S", imatrix=im)
    plan = build_plan(tiny, "Q2_K_S", imatrix=demo_imatrix.write(tmp_path))
    assert plan.tensor("token_embd.weight").imatrix is None  # no entry, and none needed
    assert plan.tensor("blk.2.ffn_down.weight").imatrix == "blk.2.ffn_down.weight"


def test_thread_count_does_not_change_the_file(tiny, tmp_path):
    a, b = tmp_path / "a.gguf", tmp_path / "b.gguf"
    wick.convert(tiny, a, "Q4_K_M", threads=1)
    wick.convert(tiny, b, "Q4_K_M", threads=3)
    assert sha256(a) == sha256(b)


def test_report(tiny, tmp_path):
    calls = []
    r = wick.convert(tiny, tmp_path / "o.gguf", "Q4_K_M", progress=lambda d, t, name: calls.append((d, t, name)))
    assert calls and calls[-1][0] == calls[-1][1] and all(c[0] <= c[1] for c in calls)
    with wick.gguf.open(tmp_path / "o.gguf") as g:
        assert [t.name for t in r.tensors] == list(g.tensors)
        for t in r.tensors:
            info = g.tensors[t.name]
            assert (t.type, t.shape, t.bytes) == (info.type.name, info.shape, info.nbytes)
            if t.type == "F32":
                assert t.rmse == 0 and t.snr_db == float("inf")
            else:
                # the figures agree with dequantizing the file ourselves
                back = g.tensor(t.name)
                assert np.isfinite(t.rmse) and 0 < t.rmse < 0.01 and t.max_abs_err >= t.rmse
                assert 10 < t.snr_db < 60
                assert back.shape == t.shape
    rows = r.to_dicts()
    assert rows[0].keys() >= {"name", "type", "shape", "bytes", "rmse", "max_abs_err", "snr_db", "bits_per_weight"}
    assert "<table>" in r._repr_html_() and "Q4_K" in str(r)
    assert 4.5 < r.bits_per_weight < 6
    # totals from Go agree with the tensors; the file size is the file's
    assert r.elements == sum(t.elements for t in r.tensors) and r.bytes == sum(t.bytes for t in r.tensors)
    assert r.file_bytes == (tmp_path / "o.gguf").stat().st_size and r.target == "Q4_K_M"
    # one SNR: the summary's is the report's, over the tensors quantization changed
    lossy = [t for t in r.tensors if t.type != "F32"]
    expect = 10 * np.log10(sum(t.sum_sq for t in lossy) / sum(t.sum_sq_err for t in lossy))
    assert r.snr_db == pytest.approx(expect, rel=1e-12)
    assert f"SNR {r.snr_db:.1f} dB over the quantized tensors" in r.summary()
    assert r.to_dict()["snr_db"] == r.snr_db and r.to_dict()["tensors"] == rows


def test_report_plot(tiny, tmp_path, monkeypatch):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from wick.convert.report import plot_tradeoff

    r = wick.convert(tiny, tmp_path / "o.gguf", "Q4_K_M")
    ax = r.plot()
    lossy = [t for t in r.tensors if t.sum_sq_err > 0]
    assert [b.get_height() for b in ax.patches] == pytest.approx([t.snr_db for t in lossy])
    assert [x.get_text() for x in ax.get_xticklabels()] == [t.name for t in lossy]
    assert sorted(x.get_text() for x in ax.get_legend().get_texts()) == sorted({t.type for t in lossy})
    ax = r.plot(metric="rmse", quantized_only=False)
    assert len(ax.patches) == len(r.tensors)
    with pytest.raises(wick.WickValueError, match="metric: 'name' is not one of snr_db"):
        r.plot(metric="name")
    r8 = wick.convert(tiny, tmp_path / "o8.gguf", "Q8_0")
    ax = plot_tradeoff([r, r8])
    assert [t.get_text() for t in ax.texts] == ["Q4_K_M", "Q8_0"]
    monkeypatch.setitem(__import__("sys").modules, "matplotlib.pyplot", None)
    with pytest.raises(wick.WickUnsupportedError, match=r'pip install "wick\[notebook\]"'):
        r.plot()


def test_report_reads_the_executor_schema_by_name():
    """The report's fields are the Go report's JSON keys; a library that disagrees is refused."""
    from wick.convert.report import ConversionReport, TensorReport

    t = {"name": "w", "type": "Q8_0", "shape": [32, 2], "source_dtype": "BF16", "elements": 64, "bytes": 68,
         "rmse": 0.5, "max_abs_err": "nan", "sum_sq_err": "inf", "sum_sq": 2.0}
    rep = ConversionReport.from_json({"output": "o.gguf", "target": "Q8_0", "files": ["o.gguf"], "tensors": [t], "elements": 64,
                                      "bytes": 68, "file_bytes": 500, "seconds": 0.25})
    tr = rep.tensors[0]
    assert tr == TensorReport("w", "Q8_0", (2, 32), "BF16", 64, 68, 0.5, float("nan"), float("inf"), 2.0) or \
        (tr.shape, np.isnan(tr.max_abs_err), tr.sum_sq_err) == ((2, 32), True, float("inf"))
    assert tr.snr_db == float("-inf") and rep.seconds == 0.25
    with pytest.raises(wick.WickInternalError, match="stale"):
        TensorReport.from_json({**t, "extra": 1})
    with pytest.raises(wick.WickInternalError, match="stale"):
        TensorReport.from_json({k: v for k, v in t.items() if k != "rmse"})


def test_report_matches_direct_dequantization(tiny, tmp_path):
    r = wick.convert(tiny, tmp_path / "o.gguf", "Q8_0")
    with wick.safetensors.open(tiny) as m, wick.gguf.open(tmp_path / "o.gguf") as g:
        t = next(t for t in r.tensors if t.name == "blk.0.ffn_up.weight")
        src = m.get("model.layers.0.mlp.up_proj.weight", np.float32).astype(np.float64)
        back = g.tensor(t.name).astype(np.float64)
        err = back - src
        assert t.rmse == pytest.approx(np.sqrt(np.mean(err**2)), rel=1e-9)
        assert t.max_abs_err == pytest.approx(np.max(np.abs(err)), rel=1e-12)


def test_dry_run_reads_no_tensor_data(tiny, tmp_path):
    plan = wick.convert(tiny, tmp_path / "never.gguf", "Q4_K_M", dry_run=True)
    assert isinstance(plan, Plan) and not (tmp_path / "never.gguf").exists()
    assert any(t.type == "Q6_K" for t in plan.tensors)


def test_existing_output_is_kept(tiny, tmp_path):
    out = tmp_path / "o.gguf"
    out.write_bytes(b"precious")
    with pytest.raises(wick.WickFileExistsError):
        wick.convert(tiny, out, "Q8_0")
    assert out.read_bytes() == b"precious"
    wick.convert(tiny, out, "Q8_0", overwrite=True)
    assert out.read_bytes()[:4] == b"GGUF"


def test_unwritable_output_directory(tiny, tmp_path):
    # a "directory" that is a file: not writable for anyone, root included
    (tmp_path / "file").write_text("x")
    with pytest.raises(wick.WickOSError, match="not a directory"):
        wick.convert(tiny, tmp_path / "file" / "o.gguf", "Q8_0")
    d = tmp_path / "ro"
    d.mkdir()
    d.chmod(0o500)
    try:
        if os.access(d, os.W_OK):
            pytest.skip("running as a user who can write anywhere")
        with pytest.raises(wick.WickOSError):
            wick.convert(tiny, d / "o.gguf", "Q8_0")
    finally:
        d.chmod(0o700)


def test_missing_and_broken_inputs(tiny, tmp_path):
    import shutil

    from wick.convert.errors import ConvertError, ModelFileNotFoundError

    broken = tmp_path / "broken"
    shutil.copytree(tiny, broken)
    (broken / "config.json").write_text("{not json")
    with pytest.raises(ConvertError, match="config.json"):
        wick.convert(broken, tmp_path / "o.gguf", "Q8_0")
    (broken / "config.json").write_text((tiny / "config.json").read_text())
    (broken / "tokenizer.json").unlink()
    with pytest.raises(ModelFileNotFoundError, match="tokenizer"):
        wick.convert(broken, tmp_path / "o.gguf", "Q8_0")
    # a shard listed by the index but absent
    shutil.copy(tiny / "tokenizer.json", broken / "tokenizer.json")
    with wick.safetensors.open(broken / "model.safetensors") as m:
        names = list(m)
    (broken / "model.safetensors").rename(broken / "model-00001-of-00001.safetensors")
    index = {"metadata": {}, "weight_map": {n: "model-00001-of-00001.safetensors" for n in names}}
    index["weight_map"][names[0]] = "model-00002-of-00002.safetensors"
    (broken / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(wick.WickError, match="model-00002-of-00002"):
        wick.convert(broken, tmp_path / "o.gguf", "Q8_0")
    assert not (tmp_path / "o.gguf").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_plan_the_executor_refuses_is_a_plan_error(tiny, tmp_path):
    """Go's convert.PlanError has its own status, raised as wick.convert.PlanError."""
    from wick.convert.errors import PlanError

    plan = wick.convert(tiny, tmp_path / "o.gguf", "Q8_0", dry_run=True).to_dict()
    plan["tensors"][1]["ops"] = [{"op": "no_such_op"}]
    with pytest.raises(PlanError, match='tensor "[^"]+": unknown operation "no_such_op"') as e:
        execute(plan, tmp_path / "o.gguf")
    assert isinstance(e.value, wick.WickValueError)
    plan = wick.convert(tiny, tmp_path / "o.gguf", "Q8_0", dry_run=True).to_dict()
    plan["tensors"][1]["sources"][0]["dtype"] = "F32"
    with pytest.raises(PlanError, match="the plan expects F32"):
        execute(plan, tmp_path / "o.gguf")
    assert not (tmp_path / "o.gguf").exists()


def test_non_finite_weight_names_the_tensor(tiny, tmp_path):
    import shutil

    bad = tmp_path / "tiny-llama"
    shutil.copytree(tiny, bad)
    with wick.safetensors.open(bad / "model.safetensors") as m:
        tensors = {k: np.array(m[k]) for k in m}
    name = "model.layers.1.mlp.down_proj.weight"
    arr = tensors[name]
    bits = arr.view(np.uint16).copy()
    bits[3, 7] = 0x7FC0  # a bfloat16 NaN
    tensors[name] = bits.view(arr.dtype)
    wick.safetensors.write(bad / "model.safetensors", tensors, overwrite=True)
    out = tmp_path / "o.gguf"
    with pytest.raises(wick.WickNonFiniteError, match=r'tensor "blk.1.ffn_down.weight".*element 7 of row 3 is NaN'):
        wick.convert(bad, out, "Q4_K_M")
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_cli_convert_and_inspect(tiny, tmp_path, capsys):
    from wick.cli import main

    out = tmp_path / "o.gguf"
    assert main(["convert", str(tiny), "-o", str(out), "--type", "Q4_K_M", "--no-progress",
                 "--json-report", str(tmp_path / "r.json")]) == 0
    text = capsys.readouterr().out
    assert "blk.0.attn_q.weight" in text and "bits/weight" in text
    assert json.loads((tmp_path / "r.json").read_text())["tensors"][0]["name"]
    assert main(["convert", str(tiny), "-o", str(out)]) == 1
    assert "exists; pass --force" in capsys.readouterr().err
    assert main(["inspect", str(out)]) == 0
    assert "general.file_type" in capsys.readouterr().out
    assert main(["convert", str(tiny), "--dry-run", "--type", "Q4_K_M"]) == 0
    assert "Q6_K" in capsys.readouterr().out


def test_dry_run_inspect_and_report_speak_alike(tiny, tmp_path, capsys):
    """Shapes, byte counts and metadata values read the same in --dry-run, inspect and the report."""
    from wick.cli import main

    out = tmp_path / "o.gguf"
    assert main(["convert", str(tiny), "--dry-run", "--type", "Q4_K_M"]) == 0
    dry = capsys.readouterr().out
    assert main(["convert", str(tiny), "-o", str(out), "--type", "Q4_K_M", "--no-progress"]) == 0
    report = capsys.readouterr().out
    assert main(["inspect", str(out)]) == 0
    inspect = capsys.readouterr().out

    def cells(text, name):
        return next(line.split() for line in text.splitlines() if f" {name} " in f" {line} ")

    for name in ("token_embd.weight", "blk.0.ffn_down.weight", "blk.0.attn_k.weight", "output_norm.weight"):
        i, d, r = cells(inspect, name), cells(dry, name), cells(report, name)
        shape, nbytes = i[2], i[3]              # tensor type shape bytes
        assert "×" in shape or shape.isdigit()
        assert (d[2], d[8]) == (shape, nbytes)  # # name shape type ... bytes why
        assert (r[2], r[4]) == (shape, nbytes)  # tensor type shape source bytes ...
    for key in ("llama.attention.layer_norm_rms_epsilon", "general.sampling.top_p", "tokenizer.ggml.tokens"):
        assert cells(dry, key) == cells(inspect, key), key
    assert cells(dry, "llama.attention.layer_norm_rms_epsilon")[-1] == "1e-05"


def test_plan_in_jupyter_is_an_html_table(tiny, tmp_path):
    plan = wick.convert(tiny, tmp_path / "o.gguf", "Q4_K_M", dry_run=True)
    html = plan._repr_html_()
    assert html.count("<table>") == 2 and "<details>" in html  # metadata (folded) and tensors
    assert html.count("<tr>") == 1 + len(plan.metadata) + 1 + len(plan.tensors)
    assert "blk.0.ffn_down.weight" in html and "256×768" in html
    assert repr(plan) == (f"<Plan LlamaForCausalLM -> llama Q4_K_M: {len(plan.metadata)} metadata keys, "
                          f"{len(plan.tensors)} tensors, {plan.total_nbytes:,} bytes>")
    assert str(plan) == wick.convert.format_plan_table(plan)


def test_disk_full_leaves_nothing(tiny, tmp_path):
    """A 1 MiB tmpfs as the output directory (needs the right to mount: root in CI)."""
    mnt = tmp_path / "full"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {r.stderr.strip()}")
    try:
        with pytest.raises(wick.WickOSError, match=r'tensor ".*": write .*no space left on device'):
            wick.convert(tiny, mnt / "o.gguf", "Q8_0")
        assert os.listdir(mnt) == []
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def test_model_card_front_matter_becomes_metadata(tiny, tmp_path):
    """README.md's YAML front matter gives general.license/tags/languages, as
    convert_hf_to_gguf.py reads it (PyYAML is a dependency for this)."""
    import shutil

    d = tmp_path / "carded"
    shutil.copytree(tiny, d)
    (d / "README.md").write_text("---\nlicense: apache-2.0\ntags:\n- text-generation\nlanguage:\n- en\n---\n# A model\n")
    meta = {kv.key: kv.value for kv in wick.convert(d, tmp_path / "o.gguf", "Q8_0", dry_run=True).metadata}
    assert meta["general.license"] == "apache-2.0"
    assert meta["general.tags"] == ["text-generation"] and meta["general.languages"] == ["en"]
