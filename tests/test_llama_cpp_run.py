"""llama.cpp itself loads and runs what Wick writes (llama-cpp-python, pinned
in the Makefile; `.ci/run` installs it, local runs without it skip), and
tokenizes with Wick's tokenizer metadata exactly as the Hugging Face
`tokenizers` package tokenizes with the model's tokenizer.json."""

from __future__ import annotations

import importlib.util
import json

import demo_imatrix
import pytest

import wick
from conftest import ROOT
from wick.convert import build_plan

llama_cpp = pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (make test WITH_LLAMA=1)")
tokenizers = pytest.importorskip("tokenizers")

STRINGS = [
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "  leading spaces and\ttabs\nnewlines",
    "numbers 1234567 and 3.14159",
    "Ünïcödé — émojis 🤖🚀 and 中文字符",
    "don't won't I'm you're",
    "",
    "a",
    "<|begin_of_text|>special tokens in text<|eot_id|>",
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    spec = importlib.util.spec_from_file_location("make_tiny_llama", ROOT / "examples" / "make_tiny_llama.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    d = tmp_path_factory.mktemp("m") / "tiny-llama"
    mod.make(d)
    return d


def load(path):
    return llama_cpp.Llama(model_path=str(path), n_ctx=128, n_threads=2, verbose=False, seed=0)


def greedy(llm, prompt, n):
    """n tokens of greedy decoding through llama.cpp's eval/sample (the
    high-level completion call of llama-cpp-python 0.3.36 fails with
    "failed to find a memory slot" on any model; the low-level path works)."""
    llm.reset()
    llm.eval(prompt)
    out = []
    for _ in range(n):
        t = llm.sample(temp=0.0)
        out.append(t)
        llm.eval([t])
    return out


@pytest.mark.parametrize("target", ["F16", "Q8_0", "Q4_K_M", "Q2_K"])
def test_llama_cpp_loads_and_generates(tiny, tmp_path, target):
    out = tmp_path / f"{target}.gguf"
    wick.convert(tiny, out, target)
    llm = load(out)
    ids = llm.tokenize(b"The quick brown fox", add_bos=True)
    assert len(ids) > 2
    first = greedy(llm, ids, 8)
    again = greedy(load(out), ids, 8)
    assert len(first) == 8 and first == again
    assert all(0 <= t < llm.n_vocab() for t in first)
    assert llm.detokenize(first)  # decodes to bytes
    del llm


# the targets made of i-quants, ternary, FP4 and 1/2-bit types; those
# llama-quantize makes only with an importance matrix get the demo one
# (tests/golden/tiny_gguf_sha256.json records which)
LOW_BIT_TARGETS = ["IQ1_S", "IQ1_M", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ2_M", "IQ3_XXS", "IQ3_XS", "IQ3_S",
                   "IQ3_M", "IQ4_XS", "TQ1_0", "TQ2_0", "MXFP4_MOE", "Q2_K_S", "Q1_0", "Q2_0"]
TINY_GOLDEN = json.loads((ROOT / "tests" / "golden" / "tiny_gguf_sha256.json").read_text())["files"]


@pytest.mark.parametrize("target", LOW_BIT_TARGETS)
def test_llama_cpp_runs_low_bit_targets(tiny, tmp_path, target):
    kw = {}
    if "imatrix" in TINY_GOLDEN[target]:
        kw["imatrix"] = demo_imatrix.write(tmp_path)
    missing = sorted({t.type for t in build_plan(tiny, target, **kw).tensors
                      if not wick.type_info(t.type).can_quantize})
    if missing:
        pytest.skip(f"Wick cannot write {', '.join(missing)} yet (needed by {target})")
    out = tmp_path / f"{target}.gguf"
    report = wick.convert(tiny, out, target, **kw)
    assert report.target == target
    llm = load(out)
    ids = llm.tokenize(b"The quick brown fox", add_bos=True)
    first = greedy(llm, ids, 8)
    assert len(first) == 8 and all(0 <= t < llm.n_vocab() for t in first)
    assert first == greedy(load(out), ids, 8)  # deterministic
    del llm


def test_tokenization_matches_hugging_face(tiny, tmp_path):
    out = tmp_path / "q8.gguf"
    wick.convert(tiny, out, "Q8_0")
    llm = load(out)
    hf = tokenizers.Tokenizer.from_file(str(tiny / "tokenizer.json"))
    for s in STRINGS:
        want = hf.encode(s, add_special_tokens=False).ids
        got = llm.tokenize(s.encode("utf-8"), add_bos=False, special=True)  # HF parses added tokens in text too
        assert got == want, s
        # and back
        assert llm.detokenize(got, special=True).decode("utf-8", errors="replace") == hf.decode(want, skip_special_tokens=False)
    del llm
