"""Wick's conversions of the architecture fixtures against the pinned llama.cpp pipeline.

tests/golden/arch_goldens.json (from tests/golden/gen_arch_goldens.py: the real
``convert_hf_to_gguf.py`` with torch, then ``llama_model_quantize`` of llama-cpp-python 0.3.36)
holds, for every fixture of tests/arch_fixtures and every target, the SHA-256 of the reference
file and a digest of its metadata and tensors. Here each fixture is rebuilt (its files must hash
as recorded) and converted with ``wick.convert``:

* ``test_conversion_matches_llama_cpp[fixture-target]`` — F16, BF16, Q8_0 (the converter's own
  outputs are the reference), Q4_K_M, Q6_K, and Q4_K_M with an importance matrix (written with
  Wick's GGUF writer; it must hash as the ggml-written one the reference used). Whole-file SHA-256
  first; on a mismatch the first differing metadata key or tensor is reported.
* ``test_llama_cpp_runs_and_tokenizes[fixture]`` (llama-cpp-python installed) — llama.cpp loads
  Wick's Q8_0 file, generates the same greedy tokens as from the reference file, and tokenizes the
  sample strings (tests/arch_fixtures/samples.py: unicode, digits, special tokens, the chat template
  rendered) as it does with the reference file's metadata — and, where the reference agrees with
  Hugging Face ``tokenizers`` on the fixture's tokenizer.json, as ``tokenizers`` does.

A class without a Wick adapter is skipped with a reason naming it (the adapters of issues 10 and 11
remove those skips as they land); so is a fixture the pinned converter itself could not convert.
The control fixture (a class Wick supports today) keeps the harness honest meanwhile.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
import requantize_models as RM

import arch_fixtures as AF
import arch_fixtures.digest as DG
import arch_fixtures.imatrix as AI
import wick
from conftest import ROOT

# WICK_ARCH_GOLDENS: another goldens file (e.g. a scratch run of the generator with --out)
GOLD_PATH = Path(os.environ.get("WICK_ARCH_GOLDENS") or ROOT / "tests" / "golden" / "arch_goldens.json")
GOLD = json.loads(GOLD_PATH.read_text(encoding="utf-8"))
FIXTURES = {f.name: f for f in AF.all_fixtures()}
TARGETS = ["F16", "BF16", "Q8_0", "Q4_K_M", "Q6_K", "Q4_K_M+imatrix"]
CASES = [(name, t) for name in GOLD["fixtures"] for t in TARGETS]


def supported(hf_class: str) -> bool:
    from wick.convert.archs import supported_architectures
    return hf_class in supported_architectures()


def skip_reason(name: str):
    entry = GOLD["fixtures"][name]
    if "targets" not in entry:
        failed = entry["converter"].get("failed", {})
        return (f"{entry['hf_class']} ({name}): the pinned convert_hf_to_gguf.py could not convert this checkpoint "
                f"({failed.get('exception')}); nothing to compare with")
    if not supported(entry["hf_class"]):
        return f"{entry['hf_class']} ({name}): Wick has no adapter for this class yet"
    return None


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Model directories (and imatrix files), built once per fixture and checked against the goldens."""
    cache = {}

    def get(name: str):
        if name not in cache:
            fx = FIXTURES[name]
            root = tmp_path_factory.mktemp(name)
            d = fx.write(root / "model")
            got = AF.file_hashes(d)
            want = GOLD["fixtures"][name]["files"]
            assert got == want, f"{name}: the fixture no longer builds the files the goldens were made from"
            im = root / f"{name}.imatrix.gguf"
            RM.write_imatrix_gguf(str(im), AI.stats_for(DG.tensor_list(GOLD["fixtures"][name])))
            assert hashlib.sha256(im.read_bytes()).hexdigest() == GOLD["fixtures"][name]["imatrix_sha256"], \
                f"{name}: Wick's imatrix file differs from the one llama-quantize was given"
            cache[name] = (d, root)
        return cache[name]

    return get


@pytest.mark.parametrize("name,target", CASES, ids=[f"{n}-{t}" for n, t in CASES])
def test_conversion_matches_llama_cpp(built, name, target, tmp_path, monkeypatch):
    reason = skip_reason(name)
    if reason:
        pytest.skip(reason)
    d, root = built(name)
    entry = GOLD["fixtures"][name]
    out = tmp_path / "out.gguf"
    if target.endswith("+imatrix"):
        monkeypatch.chdir(root)  # llama-quantize ran in the imatrix file's directory, given by name
        wick.convert(d, out, type=target.split("+")[0], imatrix=f"{name}.imatrix.gguf", threads=2)
    else:
        wick.convert(d, out, type=target, threads=2)
    want = entry["targets"][target]
    if hashlib.sha256(out.read_bytes()).hexdigest() == want["sha256"]:
        return
    diff = DG.first_difference(DG.read_gguf(out), DG.expected(entry, target))
    pytest.fail(f"{name} {target}: Wick's file differs from llama.cpp's ({want['pipeline']}): {diff}")


def _llama_cpp():
    return pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (make test WITH_LLAMA=1)")


def _greedy(llm, prompt, n):
    llm.reset()
    llm.eval(prompt)
    out = []
    for _ in range(n):
        t = llm.sample(temp=0.0)
        out.append(int(t))
        llm.eval([t])
    return out


@pytest.mark.parametrize("name", list(GOLD["fixtures"]))
def test_llama_cpp_runs_and_tokenizes(built, name, tmp_path):
    reason = skip_reason(name)
    if reason:
        pytest.skip(reason)
    llama_cpp = _llama_cpp()
    d, _ = built(name)
    entry = GOLD["fixtures"][name]
    out = tmp_path / "q8.gguf"
    wick.convert(d, out, type="Q8_0", threads=2)
    llm = llama_cpp.Llama(model_path=str(out), n_ctx=64, n_threads=2, n_batch=64, verbose=False, seed=0)
    try:
        ref = entry["targets"]["Q8_0"]["llama_cpp_run"]
        ids = llm.tokenize(b"Hello world, the quick brown fox", add_bos=True)
        assert len(ids) == ref["prompt_tokens"]
        assert _greedy(llm, ids, 4) == ref["generated"], "greedy tokens differ from the reference file's"
        tok = entry["tokenization"]
        got = [llm.tokenize(s.encode("utf-8"), add_bos=False, special=True) for s in tok["strings"]]
        for s, g, r in zip(tok["strings"], got, tok["llama_cpp_reference"]):
            assert g == r, f"{name}: llama.cpp tokenizes {s!r} differently with Wick's metadata"
        hf = _hf_tokens(d, tok["strings"])
        if hf is not None and tok["reference_matches_hf"]:
            for s, g, h in zip(tok["strings"], got, hf):
                if h is not None:
                    assert g == h, f"{name}: {s!r}: llama.cpp {g} != tokenizers {h}"
    finally:
        del llm


def _hf_tokens(d, strings):
    if not (d / "tokenizer.json").is_file():
        return None
    tokenizers = pytest.importorskip("tokenizers")
    t = tokenizers.Tokenizer.from_file(str(d / "tokenizer.json"))
    return [t.encode(s, add_special_tokens=False).ids for s in strings]


def test_digest_reports_the_first_difference():
    """The diff helper names the first differing key / tensor (so a mismatch is actionable)."""
    entry = next(e for e in GOLD["fixtures"].values() if "targets" in e)
    want = DG.expected(entry, "Q4_K_M")
    assert DG.first_difference(want, want) is None
    bad = json.loads(json.dumps(want))
    bad["metadata"][3][2] = "something else"
    assert DG.first_difference(bad, want).startswith(f"metadata {want['metadata'][3][0]!r}")
    bad = json.loads(json.dumps(want))
    bad["tensors"][-1][3] = "0" * 16
    assert "data differ" in DG.first_difference(bad, want)
