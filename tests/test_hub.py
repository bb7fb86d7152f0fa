"""Hub model ids (wick.hub): ``wick convert Org/Model`` from a Hugging Face cache
laid out as huggingface_hub lays it out (models--Org--Name/refs, snapshots/<commit>
of relative symlinks into blobs/), offline; the download path with
huggingface_hub.snapshot_download replaced by a fake that records what is asked
and fills the cache from a local "remote" folder. No network."""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import wick
from conftest import ROOT
from wick import hub
from wick.convert.errors import HubError, HubNotCachedError, ModelFileNotFoundError

huggingface_hub = pytest.importorskip("huggingface_hub")
pytest.importorskip("huggingface_hub.constants")  # a lazily loaded submodule: make it an attribute
REAL_SNAPSHOT_DOWNLOAD = huggingface_hub.snapshot_download

GOLDEN = json.loads((ROOT / "tests" / "golden" / "tiny_gguf_sha256.json").read_text())
NAME = GOLDEN["model_dir_name"]  # the golden's general.name comes from a folder of this name
REPO = f"wick-test/{NAME}"
COMMIT = "0" * 39 + "1"
COMMIT_V1 = "0" * 39 + "2"


def _tiny_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_tiny_llama", ROOT / "examples" / "make_tiny_llama.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("src") / NAME
    _tiny_module().make(d)
    return d


def _etag(data: bytes, lfs: bool) -> str:
    """The blob name huggingface_hub uses: the LFS sha256, else git's blob sha1."""
    if lfs:
        return hashlib.sha256(data).hexdigest()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def add_snapshot(cache: Path, repo_id: str, commit: str, src: Path, files=None, refs=("main",)) -> Path:
    """Put ``files`` of ``src`` (default: all) into ``cache`` as snapshot ``commit``
    of ``repo_id``, exactly as huggingface_hub stores a download."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    snap = repo / "snapshots" / commit
    (repo / "blobs").mkdir(parents=True, exist_ok=True)
    (repo / "refs").mkdir(exist_ok=True)
    snap.mkdir(parents=True, exist_ok=True)
    for ref in refs:
        (repo / "refs" / ref).write_text(commit)  # no newline, as huggingface_hub writes it
    names = files if files is not None else [str(p.relative_to(src)) for p in src.rglob("*") if p.is_file()]
    for name in names:
        data = (src / name).read_bytes()
        blob = repo / "blobs" / _etag(data, name.endswith(".safetensors"))
        blob.write_bytes(data)
        link = snap / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    return snap


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """An empty Hugging Face cache that huggingface_hub (already imported) uses, offline."""
    c = tmp_path / "hf" / "hub"
    c.mkdir(parents=True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(c))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)

    def no_download(*a, **k):
        raise AssertionError(f"snapshot_download called: {a} {k}")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", no_download)
    return c


def sha256(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.mark.parametrize("s, ok", [
    ("Org/Model", True), ("meta-llama/Llama-3.2-1B", True), ("a/b", True), ("Qwen/Qwen2.5-0.5B-Instruct", True),
    ("gpt2", False), ("./Org/Model", False), ("/Org/Model", False), ("Org/Model/extra", False), ("Org//Model", False),
    ("Org/-Model", False), ("Org/Model.", False), ("Org/Mo--del", False), ("Org/Mo..del", False), ("~/Model", False),
    ("Org/Mo del", False), ("", False),
])
def test_is_repo_id(s, ok):
    assert hub.is_repo_id(s) is ok


def test_converts_from_the_cache_offline(tiny, cache, tmp_path):
    snap = add_snapshot(cache, REPO, COMMIT, tiny)
    # the layout is huggingface_hub's own: its cache lookup finds the snapshot
    assert REAL_SNAPSHOT_DOWNLOAD(REPO, local_files_only=True) == str(snap)
    assert huggingface_hub.try_to_load_from_cache(REPO, "model.safetensors") == str(snap / "model.safetensors")
    out = tmp_path / "q8.gguf"
    report = wick.convert(REPO, out, "Q8_0")
    # named like the repository: the bytes of llama.cpp's pipeline run on a folder of that name
    assert sha256(out) == GOLDEN["files"]["Q8_0"]["sha256"]
    assert report.output == str(out)
    plan = wick.convert(REPO, out, "Q4_K_M", dry_run=True)
    assert plan.meta("general.name") == wick.convert(tiny, out, "Q4_K_M", dry_run=True).meta("general.name")
    assert plan.model_dir == str((cache / f"models--wick-test--{NAME}" / "snapshots" / COMMIT).resolve())


def test_revision(tiny, cache, tmp_path):
    add_snapshot(cache, REPO, COMMIT, tiny)
    v1 = tmp_path / "v1" / NAME
    shutil.copytree(tiny, v1)
    gen = json.loads((v1 / "generation_config.json").read_text())
    gen["temperature"] = 0.25
    (v1 / "generation_config.json").write_text(json.dumps(gen))
    add_snapshot(cache, REPO, COMMIT_V1, v1, refs=("v1",))

    def temp(**kw):
        return wick.convert(REPO, tmp_path / "x.gguf", "Q8_0", dry_run=True, **kw).meta("general.sampling.temp")

    assert temp() != 0.25
    assert temp(revision="v1") == 0.25
    assert temp(revision=COMMIT_V1) == 0.25
    assert temp(revision=COMMIT) != 0.25
    with pytest.raises(HubNotCachedError, match=r"revision v2.*hf download wick-test/tiny-llama --revision v2"):
        temp(revision="v2")
    with pytest.raises(ModelFileNotFoundError, match="applies to Hugging Face Hub model ids"):
        wick.convert(tiny, tmp_path / "x.gguf", "Q8_0", dry_run=True, revision="v1")


def test_offline_and_not_cached(tiny, cache, tmp_path):
    with pytest.raises(HubNotCachedError) as e:
        wick.convert(REPO, tmp_path / "o.gguf", "Q8_0")
    msg = str(e.value)
    assert "HF_HUB_OFFLINE" in msg and f"hf download {REPO}" in msg and str(cache) in msg and "no snapshot" in msg
    assert isinstance(e.value, FileNotFoundError) and isinstance(e.value, wick.WickError)
    # a snapshot without the weights (e.g. only the config was ever fetched)
    add_snapshot(cache, REPO, COMMIT, tiny, files=["config.json", "tokenizer.json", "tokenizer_config.json"])
    with pytest.raises(HubNotCachedError, match=r"incomplete snapshot of it, without model\*\.safetensors"):
        wick.convert(REPO, tmp_path / "o.gguf", "Q8_0")
    assert not (tmp_path / "o.gguf").exists()


def test_cli_from_the_cache_with_environment(tiny, tmp_path):
    """The real environment variables, read by huggingface_hub at import: HF_HOME
    locates the cache, HF_HUB_OFFLINE forbids the network."""
    add_snapshot(tmp_path / "home" / "hub", REPO, COMMIT, tiny)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update(HF_HOME=str(tmp_path / "home"), HF_HUB_OFFLINE="1")
    out = tmp_path / "o.gguf"
    run = [sys.executable, "-m", "wick", "convert"]
    p = subprocess.run(run + [REPO, "-o", str(out), "--type", "Q8_0"], capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stderr
    assert sha256(out) == GOLDEN["files"]["Q8_0"]["sha256"]
    p = subprocess.run(run + ["wick-test/absent", "-o", str(tmp_path / "x.gguf")], capture_output=True, text=True,
                       env=env)
    assert p.returncode == 1 and p.stderr.startswith("wick: error: convert: 'wick-test/absent' is not a local")
    assert "hf download wick-test/absent" in p.stderr and "HF_HUB_OFFLINE" in p.stderr
    env["HF_HUB_CACHE"] = str(tmp_path / "elsewhere")  # takes precedence over HF_HOME
    p = subprocess.run(run + [REPO, "--dry-run"], capture_output=True, text=True, env=env)
    assert p.returncode == 1 and "elsewhere" in p.stderr


def _sharded_remote(tiny: Path, remote: Path) -> list:
    """The tiny model as a two-shard checkpoint with an index, plus files a
    conversion must not fetch."""
    shutil.copytree(tiny, remote)
    (remote / "model.safetensors").unlink()
    with wick.safetensors.open(tiny / "model.safetensors") as m:
        names = list(m)
        tensors = {n: m[n] for n in names}
    shards = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    half = len(names) // 2
    weight_map = {}
    for shard, part in zip(shards, (names[:half], names[half:])):
        wick.safetensors.write(remote / shard, {n: tensors[n] for n in part}, metadata={"format": "pt"})
        weight_map.update({n: shard for n in part})
    (remote / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    (remote / "consolidated.safetensors").write_bytes(b"never fetched")
    (remote / "pytorch_model.bin").write_bytes(b"never fetched")
    (remote / "original").mkdir()
    (remote / "original" / "params.json").write_text("{}")
    return shards


def test_downloads_only_what_a_conversion_reads(tiny, cache, tmp_path, monkeypatch):
    remote = tmp_path / "remote" / NAME
    shards = _sharded_remote(tiny, remote)
    calls = []

    def fake_snapshot_download(repo_id, *, revision=None, allow_patterns=None, **kw):
        """Fills the cache from ``remote`` as huggingface_hub would: only files matching allow_patterns."""
        calls.append((repo_id, revision, list(allow_patterns)))
        assert repo_id == REPO and not kw
        files = [str(p.relative_to(remote)) for p in remote.rglob("*") if p.is_file()]
        picked = [f for f in files if any(fnmatch.fnmatch(f, pat) for pat in allow_patterns)]
        return str(add_snapshot(cache, repo_id, COMMIT, remote, files=picked))

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    out = tmp_path / "o.gguf"
    wick.convert(REPO, out, "Q8_0", revision="main")
    assert calls == [(REPO, "main", list(hub.FILES)), (REPO, COMMIT, shards)]
    snap = cache / f"models--wick-test--{NAME}" / "snapshots" / COMMIT
    got = sorted(str(p.relative_to(snap)) for p in snap.rglob("*"))
    assert "consolidated.safetensors" not in got and "pytorch_model.bin" not in got and "original" not in got
    wick.convert(remote, tmp_path / "local.gguf", "Q8_0")  # the "remote" folder converted directly
    assert sha256(out) == sha256(tmp_path / "local.gguf")
    # now complete in the cache: the next conversion downloads nothing
    calls.clear()
    wick.convert(REPO, tmp_path / "again.gguf", "Q8_0")
    assert calls == []


def test_unsharded_download_pattern_and_errors(tiny, cache, tmp_path, monkeypatch):
    calls = []

    def fake(repo_id, *, revision=None, allow_patterns=None, **kw):
        calls.append(list(allow_patterns))
        files = [f for f in os.listdir(tiny) if any(fnmatch.fnmatch(f, p) for p in allow_patterns)]
        return str(add_snapshot(cache, repo_id, COMMIT, tiny, files=files))

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake)
    wick.convert(REPO, tmp_path / "o.gguf", "Q8_0", dry_run=True)
    assert calls == [list(hub.FILES), [hub.WEIGHT_PATTERN]]

    # huggingface_hub's errors become HubError with a message saying what to do
    for kind, text in [("RepositoryNotFoundError", "no model 'wick-test/other'"), ("GatedRepoError", "gated"),
                       ("RevisionNotFoundError", "no revision"), ("LocalEntryNotFoundError", "cannot be reached")]:
        err = type(kind, (Exception,), {})

        def failing(*a, err=err, **k):
            raise err("boom")

        monkeypatch.setattr(huggingface_hub, "snapshot_download", failing)
        with pytest.raises(HubError, match=text):
            wick.convert("wick-test/other", tmp_path / "o.gguf", "Q8_0")


def test_without_huggingface_hub(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # import fails
    with pytest.raises(HubError, match=r"pip install 'wick\[hub\]'"):
        wick.convert("Org/Model", tmp_path / "o.gguf", "Q8_0")
    # a missing local path that is no Hub id keeps its own error
    with pytest.raises(ModelFileNotFoundError, match="does not exist"):
        wick.convert("./not-here", tmp_path / "o.gguf", "Q8_0")


def test_files_cover_what_a_conversion_reads(tiny, tmp_path, monkeypatch):
    """Every file read_model_dir looks at matches hub.FILES or a weight shard, so
    a download of those is enough."""
    from wick.convert.load import read_model_dir

    d = tmp_path / "m"
    shutil.copytree(tiny, d)
    (d / "additional_chat_templates").mkdir()
    (d / "additional_chat_templates" / "tool_use.jinja").write_text("{{ x }}")
    probed = []
    real = Path.is_file

    def is_file(p):
        if str(p).startswith(str(d)):
            probed.append(str(p.relative_to(d)))
        return real(p)

    monkeypatch.setattr(Path, "is_file", is_file)
    read_model_dir(d)
    assert "config.json" in probed and "tokenizer.model" in probed and "model.safetensors" in probed
    patterns = list(hub.FILES) + [hub.WEIGHT_PATTERN]
    stray = [p for p in probed if not any(fnmatch.fnmatch(p, pat) for pat in patterns)]
    assert stray == []
