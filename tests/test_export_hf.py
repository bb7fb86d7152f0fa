"""export-hf: a GGUF model back to a Hugging Face directory (wick.export_hf, ``wick export-hf``).

The round trip, for every architecture and tokenizer kind export-hf rebuilds (tests/export_fixtures.py):
Hugging Face (bf16) → ``wick convert --type BF16`` → ``export-hf --dtype bf16`` gives back

- the source tensors bit for bit (same names, shapes, dtype),
- the config.json values the GGUF carries,
- a tokenizer that tokenizes like the source's (Hugging Face ``tokenizers`` on the sample strings of
  tests/arch_fixtures/samples.py: unicode, digits, whitespace, special tokens in text, a chat rendering;
  with and without the post-processor's special tokens),

and converting the exported directory again reproduces the GGUF byte for byte. With transformers and
torch importable (CI's WITH_BNB=1), transformers loads the directory and its logits equal the source
model's.
"""

from __future__ import annotations

import importlib.util
import json

import export_fixtures as EF
import numpy as np
import pytest

import wick
from arch_fixtures.samples import samples
from wick.convert.errors import ExportError, UnsupportedExportError
from wick.convert.export_hf import export_hf, exportable_architectures
from wick.convert.tokenizer import _PRE_RULES, detect_pre_tokenizer, pre_tokenizer_json

FIXTURES = EF.fixtures()
# config.json keys a GGUF file carries (the rest are transformers defaults the file does not hold)
CARRIED = ("architectures", "model_type", "hidden_size", "intermediate_size", "num_hidden_layers",
           "num_attention_heads", "num_key_value_heads", "max_position_embeddings", "rms_norm_eps", "rope_theta",
           "rope_scaling", "tie_word_embeddings", "vocab_size", "head_dim", "num_local_experts",
           "num_experts_per_tok", "original_max_position_embeddings", "partial_rotary_factor",
           "attention_multiplier", "embedding_multiplier", "residual_multiplier", "logits_scaling")
# and those some families carry
CARRIED_BY = {"deepseek_v2_lite": ("kv_lora_rank", "q_lora_rank", "qk_rope_head_dim", "qk_nope_head_dim", "v_head_dim",
                                     "moe_intermediate_size", "first_k_dense_replace", "n_shared_experts",
                                     "n_routed_experts", "routed_scaling_factor", "norm_topk_prob"),
              "olmo3": ("sliding_window", "layer_types"), "exaone4": ("sliding_window",),
              "phi35_mini": ("sliding_window",),
              "qwen2moe": ("num_experts", "moe_intermediate_size", "shared_expert_intermediate_size", "norm_topk_prob"),
              "gemma2": ("attn_logit_softcapping", "final_logit_softcapping", "sliding_window", "query_pre_attn_scalar"),
              "gemma4_text": ("global_head_dim", "layer_types", "num_global_key_value_heads", "attention_k_eq_v",
                              "num_kv_shared_layers", "sliding_window", "final_logit_softcapping", "rope_parameters",
                              "hidden_size_per_layer_input", "use_double_wide_mlp", "vocab_size_per_layer_input",
                              "enable_moe_block"),
              "ministral3_text": ("rope_parameters",),
              "gemma3_pattern1_softcap": ("final_logit_softcapping", "sliding_window_pattern"),
              "gemma3": ("final_logit_softcapping", "sliding_window", "sliding_window_pattern", "rope_local_base_freq",
                         "query_pre_attn_scalar"),
              "granitemoeshared": ("shared_intermediate_size",),
              "llama4_text": ("intermediate_size_mlp", "interleave_moe_layer_step", "moe_layers", "no_rope_layers",
                              "attention_chunk_size", "use_qk_norm"),
              "olmoe": ("num_experts", "norm_topk_prob", "attention_bias", "clip_qkv"),
              "qwen3moe": ("num_experts", "moe_intermediate_size", "norm_topk_prob", "attention_bias"), "cohere2": ("logit_scale", "sliding_window", "rotary_pct",
                                                             "layer_norm_eps")}
CARRIED_BY["gemma4_per_layer"] = CARRIED_BY["gemma4_text"]
CARRIED_BY["gemma4_moe"] = CARRIED_BY["gemma4_text"] + ("num_experts", "top_k_experts", "moe_intermediate_size")
_HAVE_TORCH = all(importlib.util.find_spec(m) is not None for m in ("torch", "transformers"))


@pytest.fixture(scope="module")
def round_trips(tmp_path_factory):
    """name → (source dir, first GGUF, exported dir, GGUF of the exported dir), built on demand."""
    root = tmp_path_factory.mktemp("export-hf")
    cache = {}

    def get(name):
        if name not in cache:
            d = root / name
            src = FIXTURES[name].write(d / "src")
            g1 = d / "a.gguf"
            wick.convert(str(src), str(g1), type="BF16", progress=False)
            out = d / "exp" / src.name  # the same directory name: general.name comes from it
            result = export_hf(g1, out)
            g2 = d / "b.gguf"
            wick.convert(str(out), str(g2), type="BF16", progress=False)
            cache[name] = (src, g1, out, g2, result)
        return cache[name]
    return get


def _close(a, b):
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and np.float32(a) == np.float32(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    return a == b


# sources that are not bf16: block-FP8 weights (dequantized by the conversion) and an MTP layer it skips;
# the round trip starts at the GGUF for them
NOT_BF16 = {"deepseek_v3"}


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_round_trip_tensors_config_and_gguf(round_trips, name):
    src, g1, out, g2, result = round_trips(name)
    with wick.safetensors.open(src) as a, wick.safetensors.open(out) as b:
        if name not in NOT_BF16:
            assert sorted(a) == sorted(b)
        for n in a:
            if name in NOT_BF16 and (n not in b or a.tensors[n].dtype != "BF16"):
                continue
            assert b.tensors[n].dtype == a.tensors[n].dtype and b.tensors[n].shape == a.tensors[n].shape, n
            assert a.raw(n).tobytes() == b.raw(n).tobytes(), f"{name}: {n} differs"
    c1 = json.loads((src / "config.json").read_text())
    c2 = json.loads((out / "config.json").read_text())
    assert c2["architectures"] == [FIXTURES[name].hf_class]
    for c in (c1, c2):  # transformers' own spelling of the rope kind
        rs = c.get("rope_scaling")
        if isinstance(rs, dict) and "type" in rs and "rope_type" not in rs and "long_factor" not in rs:
            rs["rope_type"] = rs.pop("type")
        rp = c.get("rope_parameters")
        if isinstance(rp, dict) and rp.get("type") == rp.get("rope_type"):  # the legacy spelling beside the new one
            rp.pop("type", None)
    for k in CARRIED + CARRIED_BY.get(name, ()):
        if k in c1 and (name, k) != ("glm47_flash", "partial_rotary_factor"):  # not read for deepseek2
            if k == "rope_scaling" and isinstance(c1[k], dict) and "long_factor" in c1[k]:
                # LongRoPE factors live as float32 tensors: the float32 values come back
                assert _close(c1[k], c2[k]), k
                continue
            assert _close(c1[k], c2.get(k)), f"{name}: config {k}: {c1[k]!r} != {c2.get(k)!r}"
    with wick.safetensors.open(out) as m:
        assert result.tensors == len(m)
    assert g1.read_bytes() == g2.read_bytes(), f"{name}: converting the exported directory gives another GGUF"


def test_float32_vectors_are_not_rounded(round_trips):
    """DeepSeek V3's router bias is float32 in its checkpoint and in the GGUF: a bf16 export keeps it F32."""
    _src, g1, out, _g2, result = round_trips("deepseek_v3")
    assert result.kept_f32 == ["model.layers.1.mlp.gate.e_score_correction_bias"]  # the only MoE layer's
    with wick.safetensors.open(out) as b, wick.gguf.open(g1) as g:
        assert b.tensors[result.kept_f32[0]].dtype == "F32"
        assert np.array_equal(b.get(result.kept_f32[0]), g.tensor("blk.1.exp_probs_b.bias"))


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_tokenizer_tokenizes_like_the_source(round_trips, name):
    tokenizers = pytest.importorskip("tokenizers")
    src, _g1, out, _g2, _ = round_trips(name)
    if not (src / "tokenizer.json").is_file():
        pytest.skip(f"{name} has only tokenizer.model: test_transformers_loads_the_directory compares with "
                    "transformers' own reading of it")
    a = tokenizers.Tokenizer.from_file(str(src / "tokenizer.json"))
    b = tokenizers.Tokenizer.from_file(str(out / "tokenizer.json"))
    for s in samples(src):
        for special in (False, True):
            assert a.encode(s, add_special_tokens=special).ids == b.encode(s, add_special_tokens=special).ids, \
                f"{name}: {s!r} (add_special_tokens={special})"
        assert b.decode(b.encode(s, add_special_tokens=False).ids, skip_special_tokens=False) == \
            a.decode(a.encode(s, add_special_tokens=False).ids, skip_special_tokens=False)


def test_each_tokenizer_kind_is_covered():
    """The fixtures hold both vocabulary kinds Wick writes, through each reader that writes them."""
    kinds = set()
    for f in FIXTURES.values():
        tc = f.files.get("tokenizer_config.json", {})
        kinds.add("spm" if "tokenizer.model" in f.files else f"bpe:{tc.get('tokenizer_class')}")
    assert {"spm", "bpe:PreTrainedTokenizerFast", "bpe:GPT2Tokenizer", "bpe:Qwen2Tokenizer"} <= kinds
    assert {hf for _, hf in exportable_architectures()} == {f.hf_class for f in FIXTURES.values()}


def test_exportable_classes_are_their_adapters_own():
    from wick.convert.archs import adapter_for

    pairs = exportable_architectures()
    assert ("mistral3", "LlamaForCausalLM") not in pairs  # Mistral3Adapter inherits Llama's hooks, not its class
    for arch, hf in pairs:
        assert adapter_for({"architectures": [hf]}).gguf_arch == arch


@pytest.mark.parametrize("rule", _PRE_RULES, ids=lambda r: r.name)
def test_pre_tokenizer_json_is_the_inverse_of_detection(rule):
    for name in (rule.name,) + rule.aliases:
        pre, _ = pre_tokenizer_json(name)
        tj = {"pre_tokenizer": pre}
        if rule.bos:
            tj["post_processor"] = {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>"}},
                                                                             {"Sequence": {"id": "A"}}]}
        assert detect_pre_tokenizer(tj, {rule.name: name}) == name


def test_named_chat_templates_come_back_as_the_converter_reads_them():
    from wick.convert.hf_tokenizer import tokenizer_files
    from wick.convert.tokenizer import chat_template_kvs

    md = {"general.architecture": "llama", "tokenizer.ggml.model": "gpt2", "tokenizer.ggml.pre": "llama-bpe",
          "tokenizer.ggml.tokens": ["a", "b"], "tokenizer.ggml.token_type": [1, 1], "tokenizer.ggml.merges": ["a b"],
          "tokenizer.chat_template.tool_use": "T {{ x }}", "tokenizer.chat_templates": ["tool_use"],
          "tokenizer.chat_template": "D {{ x }}"}
    tc = tokenizer_files(md, "PreTrainedTokenizerFast")["tokenizer_config.json"]
    kvs = chat_template_kvs(tc["chat_template"])
    assert [(kv.key, kv.value) for kv in kvs] == [(k, md[k]) for k in md if "chat_template" in k]


def test_unknown_pre_tokenizer_names_the_known_ones():
    with pytest.raises(wick.WickUnsupportedError, match="llama-bpe"):
        pre_tokenizer_json("no-such-pre")


@pytest.mark.parametrize("dtype", ["f32", "f16"])
def test_other_dtypes_convert_the_values(round_trips, tmp_path, dtype):
    src, g1, _out, _g2, _ = round_trips("qwen3")
    out = tmp_path / "o"
    r = export_hf(g1, out, dtype=dtype)
    assert r.dtype == dtype.upper()
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["torch_dtype"] == {"f32": "float32", "f16": "float16"}[dtype]
    with wick.safetensors.open(src) as a, wick.safetensors.open(out) as b:
        for n in a:
            want = a.get(n, np.float32)
            got = b.get(n, np.float32)
            assert b.tensors[n].dtype == dtype.upper()
            if dtype == "f32":
                assert np.array_equal(want, got), n  # bf16 → f32 is exact
            else:
                assert np.array_equal(want.astype(np.float16).astype(np.float32), got), n


@pytest.mark.parametrize("name", ["llama2", "qwen3moe", "gemma3", "llama4_text"])
def test_quantized_gguf_gives_the_dequantized_values(round_trips, tmp_path, name):
    """A Q8_0 file: the exported tensors are its dequantized values, every transform undone exactly
    (q/k permutation, stacked or fused experts, Gemma's norm + 1: converting the f32 export to F32 gives
    back each dequantized GGUF tensor bit for bit)."""
    src, *_ = round_trips(name)
    q = tmp_path / "q.gguf"
    wick.convert(str(src), str(q), type="Q8_0", progress=False)
    out = tmp_path / "exp" / src.name
    r = export_hf(q, out, dtype="f32")
    assert "Q8_0" in r.dequantized
    f32 = tmp_path / "f32.gguf"
    wick.convert(str(out), str(f32), type="F32", progress=False)
    with wick.gguf.open(q) as a, wick.gguf.open(f32) as b:
        assert list(a.tensors) == list(b.tensors)
        for n in a.tensors:
            assert np.array_equal(np.asarray(a.tensor(n), np.float32), np.asarray(b.tensor(n), np.float32)), n


def test_shards_as_transformers_names_them(round_trips, tmp_path):
    src, g1, *_ = round_trips("mixtral")
    out = tmp_path / "exp" / src.name
    r = export_hf(g1, out, max_shard_size="100KB")
    shards = sorted(p.name for p in out.glob("model-*.safetensors"))
    n = len(shards)
    assert n > 2 and shards == [f"model-{i:05d}-of-{n:05d}.safetensors" for i in range(1, n + 1)]
    assert not (out / "model.safetensors").exists()
    index = json.loads((out / "model.safetensors.index.json").read_text())
    with wick.safetensors.open(out) as m:
        assert set(index["weight_map"]) == set(m)
        assert index["metadata"]["total_size"] == sum(t.nbytes for t in m.tensors.values())
        assert all(t.nbytes <= 100_000 or len([x for x in m.tensors.values() if x.file == t.file]) == 1
                   for t in m.tensors.values())
    g2 = tmp_path / "b.gguf"
    wick.convert(str(out), str(g2), type="BF16", progress=False)
    assert g2.read_bytes() == g1.read_bytes()
    assert r.files[-1] == "model.safetensors.index.json"


def test_unsupported_architecture_lists_the_supported_ones(tmp_path):
    g = tmp_path / "bert.gguf"
    wick.gguf.write(g, metadata={"general.architecture": "bert"}, tensors={"x": np.zeros((2, 32), np.float32)})
    with pytest.raises(UnsupportedExportError, match=r"'bert'.*supported: .*qwen3 \(Qwen3ForCausalLM\)"):
        export_hf(g, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    with pytest.raises(UnsupportedExportError, match="GptOssForCausalLM.*supported"):
        export_hf(g, tmp_path / "out", architecture="GptOssForCausalLM")


def test_architecture_option(round_trips, tmp_path):
    _src, g1, *_ = round_trips("qwen2")
    with pytest.raises(ExportError, match="qwen3.*'qwen2'"):
        export_hf(g1, tmp_path / "o", architecture="Qwen3ForCausalLM")
    _src, g1, *_ = round_trips("granitemoe")  # GraniteMoeAdapter subclasses the dense Granite adapter
    with pytest.raises(ExportError, match="GraniteForCausalLM.*'granite'.*'granitemoe'"):
        export_hf(g1, tmp_path / "o", architecture="GraniteForCausalLM")
    _src, g1, *_ = round_trips("llama2")
    export_hf(g1, tmp_path / "m", architecture="MistralForCausalLM")
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    assert cfg["architectures"] == ["MistralForCausalLM"] and cfg["sliding_window"] is None


def test_bad_dtype_and_existing_output(round_trips, tmp_path):
    _src, g1, *_ = round_trips("qwen3")
    with pytest.raises(ExportError, match="dtype 'int8'"):
        export_hf(g1, tmp_path / "o", dtype="int8")
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "keep.txt").write_text("x")
    with pytest.raises(wick.WickFileExistsError, match="exists"):
        export_hf(g1, tmp_path / "o")
    with pytest.raises(ExportError, match="not a model directory"):
        export_hf(g1, tmp_path / "o", overwrite=True)
    assert (tmp_path / "o" / "keep.txt").read_text() == "x"
    export_hf(g1, tmp_path / "p")
    export_hf(g1, tmp_path / "p", overwrite=True, dtype="f32")
    assert json.loads((tmp_path / "p" / "config.json").read_text())["torch_dtype"] == "float32"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o", "p"]


@pytest.mark.parametrize("exc", [RuntimeError("disk on fire"), KeyboardInterrupt()])
def test_nothing_is_left_behind_on_error_or_interrupt(round_trips, tmp_path, monkeypatch, exc):
    import wick.convert.export_hf as X

    _src, g1, *_ = round_trips("qwen3")
    real = X._tensor
    calls = []

    def failing(*a, **k):
        calls.append(1)
        if len(calls) == 3:
            raise exc
        return real(*a, **k)

    monkeypatch.setattr(X, "_tensor", failing)
    with pytest.raises(type(exc)):
        export_hf(g1, tmp_path / "o", max_shard_size="50KB")
    assert list(tmp_path.iterdir()) == []


def test_rope_freqs_of_an_unknown_scaling_is_an_error():
    from wick.convert.archs.llama import llama3_rope_factors, llama3_rope_scaling

    f = llama3_rope_factors(500000.0, 64, 8.0, 1.0, 4.0, 8192)
    assert llama3_rope_scaling(f, 500000.0, 64) == {"factor": 8.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                                                    "original_max_position_embeddings": 8192, "rope_type": "llama3"}
    with pytest.raises(ExportError, match="rope_freqs"):
        llama3_rope_scaling(f * np.float32(1.001), 500000.0, 64)


def test_cli(round_trips, tmp_path, capsys):
    from wick.cli import main

    _src, g1, *_ = round_trips("qwen2")
    assert main(["export-hf", str(g1), "-o", str(tmp_path / "o"), "--dtype", "bf16", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "Qwen2ForCausalLM" in out and "model.safetensors" in out
    assert main(["export-hf", str(g1), "-o", str(tmp_path / "o"), "--no-progress"]) == 1
    assert "exists" in capsys.readouterr().err
    assert main(["export-hf", "--list-architectures"]) == 0
    out = capsys.readouterr().out
    assert "MixtralForCausalLM" in out and "Qwen3MoeForCausalLM" in out
    assert out.splitlines()[-1].startswith("not exported yet") and "gpt-oss" in out.splitlines()[-1]


@pytest.mark.skipif(not _HAVE_TORCH, reason="loading the exported directory needs torch and transformers (make test-bnb)")
@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_transformers_loads_the_directory(round_trips, name):
    import torch
    import transformers

    if name in NOT_BF16:
        pytest.skip(f"{name}'s source is block-FP8 (transformers needs an accelerator to load it)")
    unknown = {"glm47_flash": "glm4_moe_lite", "gemma4_text": "gemma4_text", "gemma4_per_layer": "gemma4_text",
               "gemma4_moe": "gemma4_text", "ministral3_text": "ministral3"}
    if name in unknown:
        pytest.skip(f"transformers 4.57.6 does not know model_type {unknown[name]}")
    src, _g1, out, _g2, _ = round_trips(name)
    ids = torch.tensor([[1, 5, 9, 42, 7, 3]])
    logits = []
    for d in (src, out):
        model = transformers.AutoModelForCausalLM.from_pretrained(d, torch_dtype=torch.float32)
        model.eval()
        with torch.no_grad():
            logits.append(model(ids).logits)
    assert torch.equal(logits[0], logits[1]), name
    ta = transformers.AutoTokenizer.from_pretrained(src)
    tb = transformers.AutoTokenizer.from_pretrained(out)
    strings = samples(src)
    if name == "ernie45":
        # ERNIE's SentencePiece model has user-defined pieces "0" and "1", which transformers splits
        # off as added tokens; the converter writes them NORMAL (as llama.cpp's does), so the GGUF,
        # llama.cpp and the export tokenize digits by the merges instead (docs/export-hf.md)
        strings = [s for s in strings if not any(c in "01" for c in s)]
        assert strings
    for s in strings:
        # without the post-processor's tokens: Phi-3.5's tokenizer_config.json says add_bos_token
        # false while its tokenizer.json prepends <s>; the GGUF (and llama.cpp) follow tokenizer.json
        assert ta(s, add_special_tokens=False)["input_ids"] == tb(s, add_special_tokens=False)["input_ids"], \
            f"{name}: {s!r}"


def test_split_gguf_input(round_trips, tmp_path):
    """The first part of a split model exports the whole model, as the single file does."""
    src, g1, out, *_ = round_trips("llama2")
    wick.convert(str(src), str(tmp_path / "s.gguf"), type="BF16", split_max_tensors=5, progress=False)
    parts = sorted(tmp_path.glob("s-*.gguf"))
    assert len(parts) > 2
    export_hf(parts[0], tmp_path / "exp")
    with wick.safetensors.open(out) as a, wick.safetensors.open(tmp_path / "exp") as b:
        assert sorted(a) == sorted(b) and all(a.raw(n).tobytes() == b.raw(n).tobytes() for n in a)


def test_large_shards_are_assembled_tensor_by_tensor(round_trips, tmp_path, monkeypatch):
    """Above SPILL_BYTES a shard is written through a scratch file (memory: one tensor); the files are
    the same as when it is assembled in memory, and no scratch file remains."""
    import wick.convert.export_hf as X

    _src, g1, out, *_ = round_trips("mixtral")
    monkeypatch.setattr(X, "SPILL_BYTES", 1000)
    export_hf(g1, tmp_path / "spilled", max_shard_size="300KB")
    monkeypatch.setattr(X, "SPILL_BYTES", 1 << 40)
    export_hf(g1, tmp_path / "memory", max_shard_size="300KB")
    a = sorted(p.name for p in (tmp_path / "spilled").iterdir())
    assert a == sorted(p.name for p in (tmp_path / "memory").iterdir()) and not any("scratch" in n for n in a)
    for n in a:
        assert (tmp_path / "spilled" / n).read_bytes() == (tmp_path / "memory" / n).read_bytes(), n


@pytest.mark.slow
@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="signals a real subprocess")
@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM", "SIGHUP"])
def test_signal_mid_export_leaves_the_folder_as_it_was(tmp_path_factory, tmp_path, sig):
    """A real ``wick export-hf`` stopped by a signal while it dequantizes exits 128 + the signal's
    number, says nothing was written, and leaves the destination's folder as it was."""
    import importlib.util
    import signal as S
    import subprocess
    import sys
    import time

    from conftest import ROOT

    q = tmp_path_factory.getbasetemp() / "signal-model-q4.gguf"
    if not q.exists():
        spec = importlib.util.spec_from_file_location("make_tiny_llama", ROOT / "examples" / "make_tiny_llama.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        d = tmp_path_factory.mktemp("signal-model") / "model"
        mod.make(d, layers=8, hidden=1024, heads=16, kv_heads=4, ffn=4096)
        wick.convert(str(d), str(q), type="Q4_K_M", progress=False)
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "notes.txt").write_text("a file that was here before\n")
    out = dest / "hf"
    p = subprocess.Popen([sys.executable, "-m", "wick", "export-hf", str(q), "-o", str(out), "--no-progress"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and p.poll() is None and \
                not any((t / "config.json").exists() for t in dest.glob(".hf.*.tmp")):
            time.sleep(0.01)
        time.sleep(0.3)  # into the tensors
        assert p.poll() is None, "the export ended before it could be stopped: " + p.communicate()[1]
        sent = time.monotonic()
        p.send_signal(getattr(S, sig))
        _, err = p.communicate(timeout=60)
        elapsed = time.monotonic() - sent
    finally:
        p.kill()
        p.wait()
    assert p.returncode == 128 + getattr(S, sig), err
    assert f"interrupted; nothing was written to {out}" in err, err
    assert elapsed < 2, f"took {elapsed:.2f} s to stop"
    assert sorted(x.name for x in dest.iterdir()) == ["notes.txt"]


def test_element_wise_operations_are_undone(tmp_path, monkeypatch):
    """A family whose conversion adds 1 to its norms (Gemma's rule): the export subtracts it, checked by
    redoing the conversion's own operation, and the round trip stays exact."""
    from wick.convert import archs
    from wick.convert.archs.qwen3 import Qwen3Adapter

    class PlusOne(Qwen3Adapter):
        def modify_tensors(self, t, name, bid):
            if name.endswith("norm.weight"):
                t = t + 1
            return super().modify_tensors(t, name, bid)

    archs._load_all()
    monkeypatch.setitem(archs._REGISTRY, "Qwen3ForCausalLM", PlusOne)
    src = FIXTURES["qwen3"].write(tmp_path / "src")
    g1 = tmp_path / "a.gguf"
    wick.convert(str(src), str(g1), type="BF16", progress=False)
    with wick.gguf.open(g1) as g, wick.safetensors.open(src) as s:  # the operation is in the file
        assert np.array_equal(g.tensor("output_norm.weight"), s.get("model.norm.weight", np.float32) + 1)
    out = tmp_path / "exp" / src.name
    export_hf(g1, out)
    with wick.safetensors.open(src) as a, wick.safetensors.open(out) as b:
        assert all(a.raw(n).tobytes() == b.raw(n).tobytes() for n in a)
    g2 = tmp_path / "b.gguf"
    wick.convert(str(out), str(g2), type="BF16", progress=False)
    assert g1.read_bytes() == g2.read_bytes()


def test_an_operation_that_cannot_be_undone_exactly_is_an_error(round_trips, monkeypatch):
    import wick.convert.export_hf as X

    _src, g1, *_ = round_trips("qwen3")
    r = X._Reader(wick.gguf.open(g1), "BF16")
    with pytest.raises(ExportError, match="undoing"):
        r.inverted("output_norm.weight", 0, 8, [{"op": "mul", "value": 3.0}])
    got = r.inverted("output_norm.weight", 0, 8, [{"op": "mul", "value": 2.0}])  # a power of two is exact
    assert np.array_equal((got.astype(np.uint32) << 16).view(np.float32) * 2, r.f32("output_norm.weight")[:8])


def test_ignore_merges_follows_llama_cpp(round_trips):
    """llama.cpp ignores the merges of a word found whole in the vocabulary for Llama 3's and GLM's
    pre-tokenizers, as their tokenizer.json say (``model.ignore_merges``); the export says it too."""
    for name, want in (("control_llama32", True), ("glm45", True), ("qwen2", False)):
        _src, _g1, out, *_ = round_trips(name)
        assert json.loads((out / "tokenizer.json").read_text())["model"]["ignore_merges"] is want, name


def test_float16_norm_shift(tmp_path):
    """Gemma 2 in float16: the conversion adds 1 to the norms in float16 (as torch does), which loses the
    low bits of weights near 0.3. The f16 export subtracts it again and gives weights whose norm + 1 is
    the file's: converting the export gives the same GGUF bytes, every other tensor comes back bit for
    bit, and each norm differs from the source only where float16(w + 1) cannot tell them apart."""
    import arch_fixtures as AF

    src = AF.by_name()["gemma2"].write(tmp_path / "src")
    g1 = tmp_path / "a.gguf"
    wick.convert(str(src), str(g1), type="F16", progress=False)
    out = tmp_path / "exp" / src.name
    export_hf(g1, out, dtype="f16")
    g2 = tmp_path / "b.gguf"
    wick.convert(str(out), str(g2), type="F16", progress=False)
    assert g1.read_bytes() == g2.read_bytes()
    changed = 0
    with wick.safetensors.open(src) as a, wick.safetensors.open(out) as b:
        assert sorted(a) == sorted(b)
        for n in a:
            assert b.tensors[n].dtype == "F16"
            if not n.endswith("norm.weight"):
                assert a.raw(n).tobytes() == b.raw(n).tobytes(), n
                continue
            x, y = a.get(n).astype(np.float16), b.get(n).astype(np.float16)
            assert np.array_equal(x + np.float16(1), y + np.float16(1)), n
            changed += int(np.count_nonzero(x != y))
    assert changed  # the float16 addition does lose bits of these weights


@pytest.mark.parametrize("name,cls", [("llama4_vlm", "Llama4ForCausalLM"), ("gemma3_vlm", "Gemma3ForCausalLM"),
                                      ("gemma4_vlm", "Gemma4ForCausalLM"), ("mistral3_vlm", "Ministral3ForCausalLM")])
def test_vision_language_file_exports_its_text_model(tmp_path, name, cls):
    """A GGUF converted from a vision-language checkpoint holds its text model (llama.cpp writes the
    vision tower to an mmproj file): it exports as the text class, with the language model's tensors
    bit for bit (Gemma 3's embedding as the conversion trimmed it to the tokenizer), and converting the
    export gives the same GGUF bytes."""
    import arch_fixtures as AF

    src = AF.by_name()[name].write(tmp_path / "src")
    g1 = tmp_path / "a.gguf"
    wick.convert(str(src), str(g1), type="BF16", progress=False)
    out = tmp_path / "exp" / src.name
    assert export_hf(g1, out).architecture == cls
    with wick.safetensors.open(src) as a, wick.safetensors.open(out) as b:
        for n in b:
            x = a.get(next(s for s in (n.replace("model.", "model.language_model.", 1),
                                       "language_model." + n) if s in a.tensors))
            y = b.get(n)
            if n == "model.embed_tokens.weight" and x.shape != y.shape:
                assert name == "gemma3_vlm" and y.shape[0] < x.shape[0]
                x = x[:y.shape[0]]
            assert x.shape == y.shape and np.array_equal(x, y), n
    g2 = tmp_path / "b.gguf"
    wick.convert(str(out), str(g2), type="BF16", progress=False)
    assert g1.read_bytes() == g2.read_bytes()


def test_fused_expert_checkpoint_exports_per_expert(tmp_path):
    """A Qwen3-MoE checkpoint storing its experts fused and 3-D (``mlp.experts.gate_up_proj``,
    ``down_proj``) gives the GGUF a per-expert one would: the export writes the per-expert layout
    transformers 4.57's Qwen3MoeForCausalLM loads (each expert's gate / up rows and down matrix), and
    converting it gives the same GGUF bytes."""
    from arch_fixtures._common import T

    base = FIXTURES["qwen3moe"]
    x, e, f = base.config["num_experts"], base.config["hidden_size"], base.config["moe_intermediate_size"]
    ts = [t for t in base.tensors if ".mlp.experts." not in t.name]
    for i in range(base.config["num_hidden_layers"]):
        p = f"model.layers.{i}.mlp.experts."
        ts += [T(p + "gate_up_proj", x, 2 * f, e), T(p + "down_proj", x, e, f)]
    fused = EF.Fixture("qwen3moe_fused", base.hf_class, base.dir_name, base.config, ts, dict(base.files))
    src = fused.write(tmp_path / "src")
    g1 = tmp_path / "a.gguf"
    wick.convert(str(src), str(g1), type="BF16", progress=False)
    out = tmp_path / "exp" / src.name
    export_hf(g1, out)
    with wick.safetensors.open(src) as a, wick.safetensors.open(out) as b:
        for i in range(base.config["num_hidden_layers"]):
            p = f"model.layers.{i}.mlp.experts."
            gu, down = a.get(p + "gate_up_proj"), a.get(p + "down_proj")
            for j in range(x):
                for w, want in (("gate_proj", gu[j, :f]), ("up_proj", gu[j, f:]), ("down_proj", down[j])):
                    got = b.get(f"{p}{j}.{w}.weight")
                    assert got.shape == want.shape and np.array_equal(got.view(np.uint32), want.view(np.uint32))
    g2 = tmp_path / "b.gguf"
    wick.convert(str(out), str(g2), type="BF16", progress=False)
    assert g1.read_bytes() == g2.read_bytes()


def test_architectures_not_exported_yet_are_refused(tmp_path):
    """Every GGUF architecture ``wick convert`` writes that export-hf does not (gpt-oss: MXFP4 experts) is
    refused with the list of supported ones, and nothing is written."""
    from wick.convert.export_hf import unexported_architectures

    missing = unexported_architectures()
    assert "gpt-oss" in missing and not {a for a, _ in exportable_architectures()} & set(missing)
    for arch in missing:
        g = tmp_path / f"{arch}.gguf"
        wick.gguf.write(g, metadata={"general.architecture": arch}, tensors={"x": np.zeros((2, 32), np.float32)})
        with pytest.raises(UnsupportedExportError, match=f"'{arch}'.*supported: "):
            export_hf(g, tmp_path / "out")
        assert not (tmp_path / "out").exists()
