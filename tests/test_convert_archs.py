"""Architecture adapters on the real config.json structures of well-known checkpoints."""

from __future__ import annotations

import math

import numpy as np
import pytest

import convert_fixtures as FX
from wick.convert import TokenizerFiles, build_plan_from_parts
from wick.convert.archs import Adapter, adapter_for, register, supported_architectures
from wick.convert.archs.llama import llama3_rope_factors
from wick.convert.errors import ConfigError, UnsupportedArchitectureError


def permuted(rows: int, cols: int, n_head: int) -> dict:
    """The plan part of llama.cpp's q/k permutation of a [rows, cols] weight in n_head heads."""
    d = rows // n_head
    return {"source": 0, "shape": [n_head, d // 2, 2, cols], "strides": [d * cols, cols, d // 2 * cols, 1], "offset": 0}


def arch_keys(plan, prefix):
    return [(kv.key, kv.type.name, kv.value) for kv in plan.metadata if kv.key.startswith(prefix + ".")]


@pytest.fixture(scope="module")
def llama32():
    tj, tc = FX.llama3_tokenizer()
    return build_plan_from_parts(FX.LLAMA32_1B, TokenizerFiles(tokenizer_json=tj, tokenizer_config=tc),
                                 FX.hf_listing(FX.LLAMA32_1B, tied=True), "Q4_K_M", dir_name="Llama-3.2-1B")


def test_llama32_metadata(llama32):
    f = float(np.float32(1e-5))
    assert arch_keys(llama32, "llama") == [
        ("llama.block_count", "UINT32", 16), ("llama.context_length", "UINT32", 131072),
        ("llama.embedding_length", "UINT32", 2048), ("llama.feed_forward_length", "UINT32", 8192),
        ("llama.attention.head_count", "UINT32", 32), ("llama.attention.head_count_kv", "UINT32", 8),
        ("llama.rope.freq_base", "FLOAT32", 500000.0), ("llama.attention.layer_norm_rms_epsilon", "FLOAT32", f),
        ("llama.attention.key_length", "UINT32", 64), ("llama.attention.value_length", "UINT32", 64),
        ("llama.vocab_size", "UINT32", 128256), ("llama.rope.dimension_count", "UINT32", 64),
    ]
    assert llama32.meta("general.architecture") == "llama"
    assert llama32.meta("general.name") == "Llama 3.2 1B"
    assert llama32.meta("general.basename") == "Llama-3.2" and llama32.meta("general.size_label") == "1B"
    assert [kv.key for kv in llama32.metadata][-2:] == ["general.quantization_version", "general.file_type"]
    assert llama32.meta("general.file_type") == 15
    assert llama32.meta("tokenizer.ggml.model") == "gpt2" and llama32.meta("tokenizer.ggml.pre") == "llama-bpe"
    assert len(llama32.meta("tokenizer.ggml.tokens")) == 128256
    assert llama32.meta("tokenizer.ggml.bos_token_id") == 128000
    assert llama32.meta("tokenizer.ggml.eos_token_id") == 128009
    assert llama32.meta("tokenizer.ggml.add_bos_token") is True
    assert not any(kv.key.startswith("llama.rope.scaling") for kv in llama32.metadata)


def test_llama32_tensors(llama32):
    names = [t.name for t in llama32.tensors]
    assert len(names) == 1 + 2 + 16 * 9 and "output.weight" not in names
    t = llama32.tensor("token_embd.weight")
    assert t.shape == [2048, 128256] and t.type == "Q6_K" and t.sources[0].tensor == "model.embed_tokens.weight"
    q, k, v = (llama32.tensor(f"blk.0.attn_{x}.weight") for x in "qkv")
    assert q.shape == [2048, 2048] and q.parts == [permuted(2048, 2048, 32)]
    assert k.shape == [2048, 512] and k.parts == [permuted(512, 2048, 8)]
    assert v.parts == [] and v.ops == [] and v.type == "Q6_K"
    assert llama32.tensor("blk.0.ffn_down.weight").shape == [8192, 2048]
    assert llama32.tensor("blk.5.attn_norm.weight").type == "F32"
    rf = llama32.tensor("rope_freqs.weight")
    assert rf.shape == [32] and rf.type == "F32" and rf.sources == [] and rf.data.dtype == np.float32


def test_llama3_rope_factors_against_float64_formula():
    got = llama3_rope_factors(500000.0, 64, 32.0, 1.0, 4.0, 8192)
    freqs = 1.0 / 500000.0 ** (np.arange(0, 64, 2) / 64)
    want = []
    for fr in freqs:
        wl = 2 * math.pi / fr
        if wl < 8192 / 4.0:
            want.append(1.0)
        elif wl > 8192 / 1.0:
            want.append(32.0)
        else:
            s = (8192 / wl - 1.0) / 3.0
            want.append(1 / ((1 - s) / 32.0 + s))
    np.testing.assert_allclose(got, want, rtol=2e-6)
    assert got[0] == 1.0 and got[-1] == 32.0
    band = [x for x in got if 1.0 < x < 32.0]
    assert len(band) >= 2  # the transition band is exercised
    assert got.dtype == np.float32


def test_llama2_7b_with_tokenizer_model():
    pieces = FX.llama2_pieces(32000)
    files = TokenizerFiles(tokenizer_model=FX.spm_model(pieces), tokenizer_json=FX.llama_hf_tokenizer_json(pieces),
                           tokenizer_config=FX.llama2_tokenizer_config())
    plan = build_plan_from_parts(FX.LLAMA2_7B, files, FX.hf_listing(FX.LLAMA2_7B, tied=False, dtype="F16"), "Q4_K_M",
                                 dir_name="Llama-2-7b-hf")
    keys = dict((k, (t, v)) for k, t, v in arch_keys(plan, "llama"))
    # transformers' LlamaConfig fills rope_theta and head_dim in, and the converter writes them
    assert keys["llama.rope.freq_base"] == ("FLOAT32", 10000.0)
    assert keys["llama.attention.key_length"] == ("UINT32", 128)
    assert keys["llama.attention.head_count_kv"] == ("UINT32", 32)
    assert keys["llama.context_length"] == ("UINT32", 4096)
    assert plan.meta("tokenizer.ggml.model") == "llama" and plan.meta("tokenizer.ggml.pre") == "default"
    assert plan.meta("tokenizer.ggml.scores")[300] == -41.0
    types = plan.meta("tokenizer.ggml.token_type")
    assert types[0] == 3 and types[1] == 3 and types[3] == 6 and types[300] == 1  # <unk> CONTROL via added_tokens_decoder
    assert plan.meta("tokenizer.ggml.add_bos_token") is True and plan.meta("tokenizer.ggml.add_eos_token") is False
    assert plan.meta("tokenizer.ggml.unknown_token_id") == 0
    assert plan.tensor("output.weight").type == "Q6_K" and plan.tensor("token_embd.weight").type == "Q4_K"
    assert plan.tensor("blk.0.attn_k.weight").parts == [permuted(4096, 4096, 32)]
    assert plan.tensor("blk.0.attn_q.weight").sources[0].dtype == "F16"
    assert len(plan.tensors) == 3 + 32 * 9


def test_mistral_7b():
    pieces = FX.llama2_pieces(32000)
    files = TokenizerFiles(tokenizer_model=FX.spm_model(pieces), tokenizer_config=FX.llama2_tokenizer_config())
    plan = build_plan_from_parts(FX.MISTRAL_7B, files, FX.hf_listing(FX.MISTRAL_7B, tied=False), "Q5_K_M")
    assert plan.architecture == "llama" and plan.hf_architecture == "MistralForCausalLM"
    keys = dict((k, v) for k, _, v in arch_keys(plan, "llama"))
    assert keys["llama.attention.head_count_kv"] == 8 and keys["llama.context_length"] == 32768
    assert "llama.attention.key_length" not in keys  # MistralConfig leaves head_dim unset
    assert keys["llama.rope.dimension_count"] == 128
    assert not any("sliding" in kv.key for kv in plan.metadata)
    assert plan.tensor("blk.0.attn_k.weight").parts == [permuted(1024, 4096, 8)]
    assert plan.tensor("blk.0.attn_k.weight").shape == [4096, 1024]
    assert plan.meta("general.file_type") == 17


def test_qwen25_05b():
    tj, tc = FX.qwen2_tokenizer()
    plan = build_plan_from_parts(FX.QWEN25_05B, TokenizerFiles(tokenizer_json=tj, tokenizer_config=tc),
                                 FX.hf_listing(FX.QWEN25_05B, tied=True, qkv_bias=True), "Q4_K_M")
    assert plan.architecture == "qwen2"
    keys = dict((k, v) for k, _, v in arch_keys(plan, "qwen2"))
    assert keys["qwen2.rope.freq_base"] == 1e6 and keys["qwen2.attention.head_count_kv"] == 2
    assert "qwen2.vocab_size" not in keys and "qwen2.rope.dimension_count" not in keys
    assert "qwen2.attention.key_length" not in keys
    assert plan.meta("tokenizer.ggml.pre") == "qwen2"
    toks, types = plan.meta("tokenizer.ggml.tokens"), plan.meta("tokenizer.ggml.token_type")
    assert len(toks) == 151936 and toks[151643] == "<|endoftext|>" and toks[151935] == "[PAD151935]"
    assert toks[1000] == "[PAD1000]" and types[1000] == 5
    assert types[151643] == 3 and types[151657] == 4  # <tool_call> is not special: USER_DEFINED
    assert plan.meta("tokenizer.ggml.eos_token_id") == 151645   # <|im_end|> from tokenizer_config
    assert plan.meta("tokenizer.ggml.padding_token_id") == 151643
    assert plan.meta("tokenizer.ggml.bos_token_id") == 151643   # from config.json
    assert plan.meta("tokenizer.ggml.add_bos_token") is False
    for t in plan.tensors:
        assert t.parts == [] and t.ops == []
    b = plan.tensor("blk.3.attn_k.bias")
    assert b.shape == [128] and b.type == "F32"
    assert plan.tensor("blk.3.attn_q.bias").shape == [896]
    # hidden 896 is not a multiple of 256: llama-quantize's fallbacks
    assert plan.tensor("token_embd.weight").type == "Q8_0"
    assert plan.tensor("blk.3.attn_q.weight").type == "Q5_0"
    assert plan.tensor("blk.0.ffn_down.weight").type == "Q6_K"  # ne[0] = 4864 = 19 * 256
    assert "output.weight" not in [t.name for t in plan.tensors]


def test_qwen3_06b():
    tj, tc = FX.qwen2_tokenizer()
    plan = build_plan_from_parts(FX.QWEN3_06B, TokenizerFiles(tokenizer_json=tj, tokenizer_config=tc),
                                 FX.hf_listing(FX.QWEN3_06B, tied=True, qk_norm=True), "Q8_0")
    keys = dict((k, v) for k, _, v in arch_keys(plan, "qwen3"))
    assert keys["qwen3.attention.key_length"] == 128 and keys["qwen3.attention.value_length"] == 128
    assert plan.tensor("blk.0.attn_q.weight").shape == [1024, 2048]
    qn = plan.tensor("blk.0.attn_q_norm.weight")
    assert qn.shape == [128] and qn.type == "F32"
    assert plan.tensor("token_embd.weight").type == "Q8_0"
    assert plan.reference == "convert"
    assert [kv.key for kv in plan.metadata].index("general.file_type") < [kv.key for kv in plan.metadata].index("tokenizer.ggml.model")


def test_mixtral_experts_are_stacked():
    cfg = dict(FX.MISTRAL_7B, architectures=["MixtralForCausalLM"], num_local_experts=8, num_experts_per_tok=2,
               hidden_size=256, intermediate_size=512, num_hidden_layers=2, num_attention_heads=8, num_key_value_heads=2,
               vocab_size=512, rope_theta=1e6)
    pieces = FX.llama2_pieces(512)
    plan = build_plan_from_parts(cfg, TokenizerFiles(tokenizer_model=FX.spm_model(pieces)),
                                 FX.hf_listing(cfg, tied=False, n_expert=8), "Q4_K_M")
    assert plan.meta("llama.expert_count") == 8 and plan.meta("llama.expert_used_count") == 2
    g = plan.tensor("blk.1.ffn_gate_exps.weight")
    assert g.shape == [256, 512, 8] and len(g.sources) == 8 and g.parts == []
    assert [s.tensor for s in g.sources][:2] == ["model.layers.1.block_sparse_moe.experts.0.w1.weight",
                                                 "model.layers.1.block_sparse_moe.experts.1.w1.weight"]
    assert plan.tensor("blk.1.ffn_down_exps.weight").shape == [512, 256, 8]
    assert plan.tensor("blk.1.ffn_gate_inp.weight").type == "F32"
    assert plan.tensor("blk.1.attn_v.weight").type == "Q8_0"  # 8 experts


def test_unsupported_architecture_lists_supported():
    with pytest.raises(UnsupportedArchitectureError) as e:
        adapter_for({"architectures": ["GPTNeoXForCausalLM"]})
    msg = str(e.value)
    assert "GPTNeoXForCausalLM" in msg and "LlamaForCausalLM" in msg and "Qwen2ForCausalLM" in msg
    with pytest.raises(ConfigError, match="architectures"):
        adapter_for({"model_type": "llama"})
    assert {"LlamaForCausalLM", "MistralForCausalLM", "MixtralForCausalLM", "Qwen2ForCausalLM",
            "Qwen3ForCausalLM"} <= set(supported_architectures())


def test_adding_an_architecture_is_one_class():
    from wick.convert.archs import _REGISTRY

    try:
        @register
        class _TestArch(Adapter):
            name = "testarch"
            hf_architectures = ("WickTestForCausalLM",)
            gguf_arch = "llama"
            summary = "a test"

        assert isinstance(adapter_for({"architectures": ["WickTestForCausalLM"]}), _TestArch)
    finally:
        _REGISTRY.pop("WickTestForCausalLM", None)
    with pytest.raises(TypeError):
        @register
        class _Clash(Adapter):
            name = "clash"
            hf_architectures = ("LlamaForCausalLM",)
            gguf_arch = "llama"
            summary = "clashes"
    with pytest.raises(TypeError, match="describe"):
        @register
        class _Undocumented(Adapter):
            name = "undocumented"
            hf_architectures = ("WickUndocumentedForCausalLM",)
            gguf_arch = "llama"


@pytest.mark.parametrize("key,value,match", [
    ("hidden_size", "2048", "hidden_size"),
    ("num_attention_heads", 0, "num_attention_heads"),
    ("num_key_value_heads", 7, "multiple"),
    ("rope_theta", "big", "rope_theta"),
    ("max_position_embeddings", 1.5, "max_position_embeddings"),
])
def test_bad_config_values(key, value, match):
    cfg = dict(FX.LLAMA32_1B, **{key: value})
    tj, tc = FX.llama3_tokenizer()
    with pytest.raises(ConfigError, match=match):
        build_plan_from_parts(cfg, TokenizerFiles(tokenizer_json=tj, tokenizer_config=tc),
                              FX.hf_listing(FX.LLAMA32_1B, tied=True), "Q4_K_M")


def test_missing_required_config_key():
    cfg = {k: v for k, v in FX.LLAMA32_1B.items() if k != "num_hidden_layers"}
    tj, tc = FX.llama3_tokenizer()
    with pytest.raises(ConfigError, match="num_hidden_layers"):
        build_plan_from_parts(cfg, TokenizerFiles(tokenizer_json=tj, tokenizer_config=tc), {}, "Q4_K_M")


def test_docs_table_is_the_registry():
    """docs/convert.md's table of supported models is generated from the adapter registry."""
    import re
    from pathlib import Path

    from wick.convert.archs import format_architecture_table

    text = (Path(__file__).resolve().parents[1] / "docs" / "convert.md").read_text(encoding="utf-8")
    m = re.search(r"<!-- architectures: [^\n]*-->\n(.*?)\n<!-- end of architectures -->", text, re.S)
    assert m, "docs/convert.md lost its generated architecture table"
    assert m.group(1) == format_architecture_table(markdown=True), \
        "regenerate the table: python -c 'from wick.convert.archs import format_architecture_table as f; print(f(True))'"
    rows = format_architecture_table().splitlines()
    assert len(rows) == len(supported_architectures())


def test_list_architectures_cli(capsys):
    from wick.cli import main

    assert main(["convert", "--list-architectures"]) == 0
    out = capsys.readouterr().out
    for hf in supported_architectures():
        assert hf in out
