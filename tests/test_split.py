"""Split GGUF output (``split_max_size=`` / ``split_max_tensors=``, ``--split-max-size`` /
``--split-max-tensors``) byte-identical to what llama.cpp's ``llama-gguf-split --split``
makes of Wick's single file (tests/golden/split_goldens.json, made by
gen_split_goldens.py with the real tool); llama.cpp loads the split model from
its first part; wick.gguf.open, wick inspect and wick quantize read it as one
model; the parts appear all together or not at all."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import split_models as SM
import wick
from conftest import ROOT
from wick.convert import requantize_model
from wick.convert.split import parse_split_size, split_options

GOLDEN = json.loads((ROOT / "tests" / "golden" / "split_goldens.json").read_text())
CASES = {c["name"]: c for c in GOLDEN["cases"]}
assert [c["name"] for c in SM.CASES] == list(CASES), "split_models.CASES and the golden disagree: regenerate"


def sha256(p: Path) -> str:
    return hashlib.sha256(Path(p).read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("split")


@pytest.fixture(scope="module")
def singles(work):
    """case name → Wick's single file for it (checked against the golden's input hash)."""
    made = {}

    def get(name: str) -> Path:
        if name not in made:
            case = CASES[name]
            out = work / f"single-{name}.gguf"
            SM.single_file(case, work, out)
            assert sha256(out) == case["input_sha256"], (
                f"{name}: Wick's single file changed; if that is intended, regenerate tests/golden/split_goldens.json "
                "with gen_split_goldens.py")
            made[name] = out
        return made[name]

    return get


def _write_split(case: dict, work: Path, out: Path):
    opts = SM.wick_split_options(case["args"])
    if case["model"] == "tiny":
        return wick.convert(SM.make_tiny(work), out, case["target"], **opts)
    src = work / "wide-f32-input.gguf"
    if not src.exists():
        SM.make_wide(src)
    return requantize_model(src, out, case["target"], **opts)


@pytest.mark.parametrize("name", list(CASES))
def test_byte_identical_to_llama_gguf_split(name, work, singles, tmp_path):
    case = CASES[name]
    singles(name)  # the same input llama-gguf-split split
    out = tmp_path / "model.gguf"
    if "error" in case:
        with pytest.raises(wick.WickValueError, match="alone exceed the split size of 1000000 bytes"):
            _write_split(case, work, out)
        assert sorted(os.listdir(tmp_path)) == case["parts"] == []
        return
    report = _write_split(case, work, out)
    want = [tmp_path / f"model{p['suffix']}" for p in case["parts"]]
    assert report.files == [str(p) for p in want] and report.output == str(want[0])
    assert sorted(os.listdir(tmp_path)) == [p.name for p in want]  # nothing else: no temporary file either
    for p, g in zip(want, case["parts"]):
        assert p.stat().st_size == g["size"] and sha256(p) == g["sha256"], f"{p.name} differs from llama-gguf-split's"
    assert report.file_bytes == sum(g["size"] for g in case["parts"])
    assert "parts)" in report.summary() or len(want) == 1


def test_split_model_reads_as_one(work, singles, tmp_path):
    single = singles("tiny-Q8_0-tensors-10")
    _write_split(CASES["tiny-Q8_0-tensors-10"], work, tmp_path / "m.gguf")
    with wick.gguf.open(single) as s, wick.gguf.open(tmp_path / "m-00001-of-00004.gguf") as m:
        assert m.parts == [str(tmp_path / f"m-0000{i}-of-00004.gguf") for i in range(1, 5)]
        assert [kv for kv in m.metadata.kvs if not kv.key.startswith("split.")] == s.metadata.kvs
        assert [m.metadata[k] for k in ("split.no", "split.count", "split.tensors.count")] == [0, 4, 39]
        assert m.metadata.type("split.count")[0].name == "UINT16"
        assert m.metadata.type("split.tensors.count")[0].name == "INT32"
        assert list(m.tensors) == list(s.tensors)
        assert [t.part for t in m.tensors.values()] == [i // 10 for i in range(39)]
        for name in s.tensors:
            assert np.array_equal(m.raw(name), s.raw(name)), name
        assert np.array_equal(m.tensor("blk.0.ffn_up.weight"), s.tensor("blk.0.ffn_up.weight"))
        assert "4 parts" in repr(m)
    # a later part alone
    with wick.gguf.open(tmp_path / "m-00003-of-00004.gguf") as p3:
        assert len(p3.parts) == 1 and len(p3.tensors) == 10 and p3.metadata["split.no"] == 2
    # a missing part is named
    os.rename(tmp_path / "m-00003-of-00004.gguf", tmp_path / "gone.gguf")
    with pytest.raises(wick.WickFileNotFoundError, match=r"part 3 of 4 .*m-00003-of-00004\.gguf"):
        wick.gguf.open(tmp_path / "m-00001-of-00004.gguf")
    # and a part of another split
    other = tmp_path / "o"
    other.mkdir()
    _write_split(CASES["tiny-Q4_K_M-size-1M"], work, other / "m.gguf")
    os.replace(other / "m-00002-of-00002.gguf", tmp_path / "m-00003-of-00004.gguf")
    with pytest.raises(wick.WickFormatError, match=r"m-00003-of-00004\.gguf: key \"split.no\": .*1, but the file is "
                       r"named as part 3 of 4"):
        wick.gguf.open(tmp_path / "m-00001-of-00004.gguf")


def test_inspect_split(work, tmp_path, capsys):
    from wick.cli import main

    _write_split(CASES["tiny-Q4_K_M-size-1M"], work, tmp_path / "m.gguf")
    assert main(["inspect", str(tmp_path / "m-00001-of-00002.gguf")]) == 0
    out = capsys.readouterr().out
    assert "split model: 2 parts: m-00001-of-00002.gguf, m-00002-of-00002.gguf" in out
    assert "39 tensors," in out.splitlines()[-1] and "split.count" in out


def test_quantize_split_input(work, singles, tmp_path):
    """wick quantize given the first part of a split F16 model writes what it writes
    from the single file (llama-quantize reads a split model the same way)."""
    src = tmp_path / "f16.gguf"
    wick.convert(SM.make_tiny(work), src, "F16", split_max_tensors=7)
    parts = sorted(p.name for p in tmp_path.iterdir())
    assert parts == [f"f16-0000{i}-of-00006.gguf" for i in range(1, 7)]
    a, b = tmp_path / "from-split.gguf", tmp_path / "from-single.gguf"
    requantize_model(tmp_path / "f16-00001-of-00006.gguf", a, "Q4_K_M")
    single = tmp_path / "single-f16.gguf"
    wick.convert(SM.make_tiny(work), single, "F16")
    requantize_model(single, b, "Q4_K_M")
    assert sha256(a) == sha256(b)
    # and split again on the way out, from the CLI
    from wick.cli import main

    assert main(["quantize", str(tmp_path / "f16-00001-of-00006.gguf"), "-o", str(tmp_path / "q.gguf"), "--type",
                 "Q4_K_M", "--split-max-size", "1M"]) == 0
    with wick.gguf.open(tmp_path / "q-00001-of-00002.gguf") as q, wick.gguf.open(b) as s:
        assert len(q.parts) == 2 and list(q.tensors) == list(s.tensors)
        assert all(np.array_equal(q.raw(n), s.raw(n)) for n in s.tensors)
    with pytest.raises(wick.convert.RequantizeInputError, match="give its first part"):
        requantize_model(tmp_path / "f16-00002-of-00006.gguf", tmp_path / "x.gguf", "Q8_0")


def test_cli_convert_split(work, tmp_path, capsys):
    from wick.cli import main

    model = SM.make_tiny(work)
    case = CASES["tiny-Q8_0-tensors-10"]
    out = tmp_path / "cli.gguf"
    assert main(["convert", str(model), "-o", str(out), "--type", "Q8_0", "--split-max-tensors", "10",
                 "--json-report", str(tmp_path / "r.json")]) == 0
    assert "cli-00001-of-00004.gguf (first of 4 parts)" in capsys.readouterr().out
    for p in case["parts"]:
        assert sha256(tmp_path / f"cli{p['suffix']}") == p["sha256"]
    assert json.loads((tmp_path / "r.json").read_text())["files"][3].endswith("cli-00004-of-00004.gguf")
    # existing parts are not replaced without --force (the others are not written either)
    for i in range(1, 4):
        os.remove(tmp_path / f"cli-0000{i}-of-00004.gguf")
    (tmp_path / "cli-00004-of-00004.gguf").write_bytes(b"mine")
    assert main(["convert", str(model), "-o", str(out), "--type", "Q8_0", "--split-max-tensors", "10"]) == 1
    err = capsys.readouterr().err
    assert "cli-00004-of-00004.gguf: file already exists" in err and "--force" in err and "tensor" not in err
    assert not (tmp_path / "cli-00001-of-00004.gguf").exists()
    assert (tmp_path / "cli-00004-of-00004.gguf").read_bytes() == b"mine"
    assert main(["convert", str(model), "-o", str(out), "--type", "Q8_0", "--split-max-tensors", "10", "--force"]) == 0
    assert sha256(tmp_path / "cli-00004-of-00004.gguf") == case["parts"][3]["sha256"]
    # llama-gguf-split takes one limit
    assert main(["convert", str(model), "-o", str(out), "--split-max-tensors", "10", "--split-max-size", "1M"]) == 1
    assert "not both" in capsys.readouterr().err


@pytest.mark.parametrize("value, n", [("1M", 10**6), ("2G", 2 * 10**9), ("500m", 5 * 10**8), ("123", 123),
                                      (4096, 4096), (" 3M ", 3 * 10**6)])
def test_parse_split_size(value, n):
    assert parse_split_size(value) == n


@pytest.mark.parametrize("value", ["1.5G", "1K", "M", "-1M", "0", 0, -5, True, 1.5, "1 MB"])
def test_bad_split_size(value):
    with pytest.raises(wick.WickValueError, match="split_max_size"):
        parse_split_size(value)


def test_split_options():
    assert split_options() is None
    assert split_options(split_max_tensors=3) == {"max_bytes": 0, "max_tensors": 3}
    assert split_options("2G") == {"max_bytes": 2 * 10**9, "max_tensors": 0}
    for bad in (0, -1, 2.0, True):
        with pytest.raises(wick.WickValueError, match="split_max_tensors"):
            split_options(split_max_tensors=bad)
    with pytest.raises(wick.WickValueError, match="not both"):
        split_options("1M", 3)


def test_failure_leaves_no_part(work, tmp_path):
    """A NaN in a tensor of the last part: no part appears (the others were complete)."""
    import shutil

    bad = tmp_path / SM.TINY_DIR_NAME
    shutil.copytree(SM.make_tiny(work), bad)
    with wick.safetensors.open(bad / "model.safetensors") as m:
        tensors = {k: np.array(m[k]) for k in m}
    name = "model.layers.3.mlp.up_proj.weight"  # blk.3.ffn_up: the last tensor of the Q4_K_M file
    bits = tensors[name].view(np.uint16).copy()
    bits[0, 0] = 0x7FC0
    tensors[name] = bits.view(tensors[name].dtype)
    wick.safetensors.write(bad / "model.safetensors", tensors, overwrite=True)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(wick.WickNonFiniteError, match="blk.3.ffn_up.weight"):
        wick.convert(bad, out / "m.gguf", "Q4_K_M", split_max_size="1M")
    assert os.listdir(out) == []


def _start_cli(model: Path, out: Path, *args: str) -> subprocess.Popen:
    code = f"""
        import sys
        from wick.cli import main
        sys.exit(main(["convert", {str(model)!r}, "-o", {str(out)!r}, "--type", "Q2_K", "--threads", "1",
                       "--split-max-size", "1M", *{list(args)!r}]))
    """
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for_temporary(d: Path, p: subprocess.Popen) -> None:
    """Until the process has a file open in d (on Linux an unnamed O_TMPFILE one, seen in /proc)."""
    from test_signals import writing_into

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and p.poll() is None and not (
            writing_into(p.pid, d) or any(q.name.startswith(".") for q in d.iterdir())):
        time.sleep(0.01)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_interrupted_or_killed_leaves_no_part(tmp_path, sig):
    """Ctrl-C or kill -9 while the parts are being written: no part is ever
    visible (and on Linux, where the parts are unnamed O_TMPFILE files until
    they are complete, nothing at all is left)."""
    model = tmp_path / "model"
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_tiny_llama", ROOT / "examples" / "make_tiny_llama.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.make(model, layers=8, hidden=1024, heads=16, kv_heads=4, ffn=4096)
    out = tmp_path / "out"
    out.mkdir()
    p = _start_cli(model, out / "m.gguf")
    try:
        _wait_for_temporary(out, p)
        time.sleep(0.3)
        assert p.poll() is None, p.communicate()
        p.send_signal(sig)
        _, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
    if sig == signal.SIGINT:
        assert p.returncode == 130 and "interrupted" in err
        assert os.listdir(out) == []
    else:
        assert p.returncode == -signal.SIGKILL
        assert [n for n in os.listdir(out) if not n.startswith(".")] == []
        if sys.platform.startswith("linux"):
            assert os.listdir(out) == []


def test_llama_cpp_loads_the_split_model(work, singles, tmp_path):
    llama_cpp = pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (make test WITH_LLAMA=1)")
    _write_split(CASES["tiny-Q4_K_M-size-1M"], work, tmp_path / "m.gguf")

    def greedy(path: Path, n: int = 8):
        llm = llama_cpp.Llama(model_path=str(path), n_ctx=128, n_threads=2, verbose=False, seed=0)
        ids = llm.tokenize(b"The quick brown fox", add_bos=True)
        llm.eval(ids)
        out = []
        for _ in range(n):
            t = llm.sample(temp=0.0)
            out.append(t)
            llm.eval([t])
        return out

    got = greedy(tmp_path / "m-00001-of-00002.gguf")
    assert len(got) == 8 and got == greedy(singles("tiny-Q4_K_M-size-1M"))
