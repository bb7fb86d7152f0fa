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

import numpy as np
import pytest

import wick
from conftest import ROOT
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
def test_byte_identical_to_llama_cpp(tiny, tmp_path, target):
    if target == "IQ4_XS" and not wick.type_info("IQ4_XS").can_quantize:
        pytest.skip("Wick has no IQ4_XS encoder yet (not one of the issue's targets)")
    out = tmp_path / f"{target}.gguf"
    report = wick.convert(tiny, out, target)
    want = GOLDEN["files"][target]
    assert out.stat().st_size == want["size"]
    assert sha256(out) == want["sha256"], f"{target}: differs from llama.cpp's {want['pipeline']}"
    assert report.file_bytes == want["size"] and report.target == target


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
