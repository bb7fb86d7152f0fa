"""DeepSeek-V2/V3 and Kimi K2 (MLA), GLM-4.5 and GLM-4.7-Flash, gpt-oss: plan-level checks and bad input.

The byte-for-byte comparisons with the pinned llama.cpp pipeline are in
tests/test_arch_goldens.py; here: the family's special tensors as views (the kv_b split
against numpy), metadata, the tiktoken reader, the gpt-oss quantize policy, and what a
broken checkpoint of these families gets (an error naming the tensor or key and the file,
and no output file).
"""

from __future__ import annotations

import copy
import hashlib
import json

import numpy as np
import pytest

import arch_fixtures as AF
import wick
from conftest import ROOT
from wick.convert import (
    ConfigError,
    QuantizedTensorError,
    TensorShapeError,
    TokenizerError,
    TokenizerFiles,
    UnsupportedTokenizerError,
    build_plan,
)
from wick.convert.archs.glm import glm_tokenizer_quirks
from wick.convert.tokenizer import OrderedKVs, gpt2_byte_chars, parse_tiktoken, read_vocab
from wick.convert.view import materialize

GOLD = json.loads((ROOT / "tests" / "golden" / "arch_goldens.json").read_text(encoding="utf-8"))
FIXTURES = AF.by_name()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return AF.builder(tmp_path_factory)


kv = AF.plan_kv


# ------------------------------------------------------------------ DeepSeek
def test_kv_b_split_is_a_per_head_view(built):
    """attn_k_b / attn_v_b read kv_b_proj through views equal to the converter's
    view(H, nope+v, kv_lora) → split → k_b.transpose(1, 2)."""
    plan = build_plan(built("deepseek_v3"), "F16")
    cfg = FIXTURES["deepseek_v3"].config
    h, nope, v, r = cfg["num_key_value_heads"], cfg["qk_nope_head_dim"], cfg["v_head_dim"], cfg["kv_lora_rank"]
    kb, vb = plan.tensor("blk.0.attn_k_b.weight"), plan.tensor("blk.0.attn_v_b.weight")
    assert kb.shape == [nope, r, h] and vb.shape == [r, v, h]
    assert kb.sources[0].tensor == vb.sources[0].tensor == "model.layers.0.self_attn.kv_b_proj.weight"
    assert kb.sources[0].decode["method"] == "scaled"  # block FP8, decoded before the view
    src = np.random.default_rng(0).standard_normal((h * (nope + v), r)).astype(np.float32)
    heads = src.reshape(h, nope + v, r)
    np.testing.assert_array_equal(materialize([src], kb.parts), heads[:, :nope, :].transpose(0, 2, 1).reshape(-1))
    np.testing.assert_array_equal(materialize([src], vb.parts), heads[:, nope:, :].reshape(-1))


def test_deepseek_metadata_and_tensors(built):
    plan = build_plan(built("deepseek_v2_lite"), "Q8_0")
    m = kv(plan, "deepseek2")
    assert m["attention.head_count_kv"] == 1 and m["attention.kv_lora_rank"] == 128
    assert (m["attention.key_length"], m["attention.value_length"]) == (128 + 32, 128)
    assert (m["attention.key_length_mla"], m["attention.value_length_mla"]) == (64, 32)
    assert "attention.q_lora_rank" not in m and "expert_weights_norm" not in m  # q_lora_rank null, norm_topk_prob false
    assert m["leading_dense_block_count"] == 1 and m["expert_gating_func"] == 1
    assert m["rope.scaling.yarn_log_multiplier"] == pytest.approx(0.0707, rel=1e-6)
    keys = [k.key for k in plan.metadata]
    assert keys.count("deepseek2.expert_count") == 1  # written twice by the converter: first place, last value
    names = [t.name for t in plan.tensors]
    assert "blk.0.ffn_gate.weight" in names and "blk.0.ffn_gate_exps.weight" not in names
    assert plan.tensor("blk.1.ffn_down_exps.weight").shape == [32, 256, 4]
    assert plan.tensor("blk.1.ffn_gate_inp.weight").type == "F32"
    v3 = build_plan(built("deepseek_v3"), "Q8_0")
    assert not any(t.name.startswith("blk.2.") for t in v3.tensors)  # the MTP layer is skipped
    assert v3.tensor("blk.1.exp_probs_b.bias").sources[0].tensor == "model.layers.1.mlp.gate.e_score_correction_bias"
    assert kv(v3, "deepseek2")["attention.q_lora_rank"] == 256


def test_kv_b_inconsistent_with_config(tmp_path):
    d = AF.write_variant(tmp_path, "deepseek_v2_lite", config={"qk_nope_head_dim": 16})
    out = tmp_path / "out.gguf"
    with pytest.raises(TensorShapeError) as e:
        wick.convert(d, out, type="Q8_0")
    msg = str(e.value)
    assert "model.layers.0.self_attn.kv_b_proj.weight" in msg and "model.safetensors" in msg
    assert "qk_nope_head_dim=16" in msg
    assert not out.exists()


def test_fp8_scale_missing(tmp_path):
    d = AF.write_variant(tmp_path, "deepseek_v3", drop={"model.layers.1.mlp.experts.3.up_proj.weight_scale_inv"})
    out = tmp_path / "out.gguf"
    with pytest.raises(QuantizedTensorError) as e:
        wick.convert(d, out, type="Q8_0")
    msg = str(e.value)
    assert "model.layers.1.mlp.experts.3.up_proj.weight" in msg and "weight_scale_inv" in msg
    assert ".safetensors" in msg
    assert not out.exists()


def test_mla_config_key_missing(tmp_path):
    d = AF.write_variant(tmp_path, "kimi_k2_standin", config={"qk_rope_head_dim": None})
    cfg = json.loads((d / "config.json").read_text())
    del cfg["qk_rope_head_dim"]
    (d / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ConfigError, match="qk_rope_head_dim") as e:
        build_plan(d, "Q8_0")
    assert "config.json" in str(e.value)


# ------------------------------------------------------------------ Kimi K2
def test_kimi_real_form_converts_as_the_standin_reference(built, tmp_path):
    """The converter fails on Kimi K2's real form (its tokenizer is only reachable through
    tokenization_kimi.py); Wick reads tiktoken.model directly and writes what the converter
    wrote with the stand-in tokenizer code."""
    out = tmp_path / "kimi.gguf"
    wick.convert(built("kimi_k2"), out, type="Q8_0", threads=2)
    want = GOLD["fixtures"]["kimi_k2_standin"]["targets"]["Q8_0"]["sha256"]
    assert hashlib.sha256(out.read_bytes()).hexdigest() == want
    assert "failed" in GOLD["fixtures"]["kimi_k2"]["converter"]


def _kimi_files(built, **changes):
    d = built("kimi_k2")
    tc = json.loads((d / "tokenizer_config.json").read_text())
    tt = (d / "tiktoken.model").read_bytes()
    return TokenizerFiles(tokenizer_config=changes.get("tc", tc), tiktoken_model=changes.get("tt", tt))


def test_tiktoken_vocabulary(built):
    files = _kimi_files(built)
    cfg = FIXTURES["kimi_k2"].config
    vocab = read_vocab(("gpt2", "tiktoken"), files, cfg["vocab_size"])
    base = parse_tiktoken(files.tiktoken_model)
    n = len(base)
    chars = gpt2_byte_chars()
    assert (vocab.model, vocab.pre, vocab.reader) == ("gpt2", "kimi-k2", "tiktoken")
    assert vocab.tokens[:n] == ["".join(chars[b] for b in t) for t in base]
    assert vocab.tokens[n] == "[BOS]" and vocab.tokens[n + 5] == f"<|reserved_token_{n + 5}|>"
    assert set(vocab.types[n:n + 256]) == {3} and set(vocab.types[:n]) == {1}
    # every merge joins two tokens into a token of the vocabulary
    have = set(vocab.tokens[:n])
    for m in vocab.merges:
        a, b = m.split(" ")
        assert a in have and b in have and a + b in have


@pytest.mark.parametrize("change, err, what", [
    ({"tt": b"not base64 at all!\n"}, TokenizerError, "line 1"),
    ({"tt": b"YQ== 0\nYg== 0\n"}, TokenizerError, "rank 0"),
    ({"tt": b"YQ== 0\nYg== 2\n"}, TokenizerError, "without gaps"),
])
def test_tiktoken_not_plain(built, change, err, what):
    with pytest.raises(err, match=what) as e:
        read_vocab(("gpt2", "tiktoken"), _kimi_files(built, **change), None)
    assert "tiktoken.model" in str(e.value)


def test_other_remote_tokenizers_are_refused(built):
    tc = json.loads((built("kimi_k2") / "tokenizer_config.json").read_text())
    other = {**tc, "tokenizer_class": "SomeTokenizer", "auto_map": {"AutoTokenizer": ["tok_x.SomeTokenizer", None]}}
    with pytest.raises(UnsupportedTokenizerError, match="SomeTokenizer") as e:
        read_vocab(("gpt2", "tiktoken"), _kimi_files(built, tc=other), None)
    assert "tok_x.SomeTokenizer" in str(e.value)
    with pytest.raises(UnsupportedTokenizerError, match="own code") as e:  # no file Wick could read instead
        read_vocab(("gpt2", "tiktoken"), TokenizerFiles(tokenizer_config=tc), None)
    assert "tokenization_kimi.TikTokenTokenizer" in str(e.value)


# ------------------------------------------------------------------ GLM
def test_glm45_nextn_layer_and_keys(built):
    plan = build_plan(built("glm45"), "Q8_0")
    m = kv(plan, "glm4moe")
    assert m["block_count"] == 3 and m["nextn_predict_layers"] == 1
    assert m["rope.dimension_count"] == 32 and m["expert_gating_func"] == 2 and m["expert_weights_norm"] is True
    assert plan.tensor("blk.2.nextn.eh_proj.weight").sources[0].tensor == "model.layers.2.eh_proj.weight"
    assert plan.meta("tokenizer.ggml.pre") == "glm4"
    tj = json.loads((built("glm45") / "tokenizer.json").read_text())
    ids = {a["content"]: a["id"] for a in tj["added_tokens"]}
    assert plan.meta("tokenizer.ggml.bos_token_id") == ids["[gMASK]"]
    assert plan.meta("tokenizer.ggml.eot_token_id") == ids["<|user|>"]
    assert plan.meta("tokenizer.ggml.eom_token_id") == ids["<|observation|>"]
    lite = build_plan(built("glm47_flash"), "Q8_0")
    assert kv(lite, "deepseek2")["nextn_predict_layers"] == 1 and kv(lite, "deepseek2")["block_count"] == 3
    assert lite.tensor("blk.2.attn_k_b.weight").shape == [192, 256, 2]


def test_glm_tokenizer_without_its_special_tokens(built):
    d = built("glm45")
    tj = json.loads((d / "tokenizer.json").read_text())
    tc = json.loads((d / "tokenizer_config.json").read_text())
    tj["added_tokens"] = [a for a in tj["added_tokens"] if a["content"] != "[gMASK]"]
    tc["added_tokens_decoder"] = {k: v for k, v in tc["added_tokens_decoder"].items() if v["content"] != "[gMASK]"}
    with pytest.raises(TokenizerError, match=r"\[gMASK\]") as e:
        glm_tokenizer_quirks(TokenizerFiles(tokenizer_json=tj, tokenizer_config=tc), FIXTURES["glm45"].config,
                             OrderedKVs())
    assert "tokenizer.json" in str(e.value)


# ------------------------------------------------------------------ gpt-oss
def test_gpt_oss_mxfp4_pass_through(built):
    plan = build_plan(built("gpt_oss"), "F16")
    assert plan.file_type == 38 and plan.meta("general.file_type") == 38
    assert [t.name for t in plan.tensors[:3]] == ["blk.0.ffn_down_exps.weight", "blk.0.ffn_gate_exps.weight",
                                                  "blk.0.ffn_up_exps.weight"]
    gate, up = plan.tensor("blk.0.ffn_gate_exps.weight"), plan.tensor("blk.0.ffn_up_exps.weight")
    assert gate.type == up.type == "MXFP4" and gate.ops == [] and gate.sources[0].decode["output"] == "MXFP4"
    rows = np.arange(4 * 640 * 320, dtype=np.float32).reshape(4, 640, 320)  # [experts, 2F, cols]: even rows are gate
    np.testing.assert_array_equal(materialize([rows], gate.parts), rows[:, 0::2, :].reshape(-1))
    np.testing.assert_array_equal(materialize([rows], up.parts), rows[:, 1::2, :].reshape(-1))
    bias = plan.tensor("blk.0.ffn_up_exps.bias")
    assert bias.type == "F32" and bias.sources[0].tensor == "model.layers.0.mlp.experts.gate_up_proj_bias"
    assert plan.tensor("blk.0.attn_sinks.weight").shape == [4]
    q8 = build_plan(built("gpt_oss"), "Q8_0")
    assert q8.file_type == 7 and q8.tensor("blk.1.ffn_down_exps.weight").type == "MXFP4"


def test_gpt_oss_block_targets_requantize(built):
    """Q4_K_M & co. are made as llama-quantize --allow-requantize makes them from the converter's
    file: the MXFP4 blocks decoded (float output of the mxfp4 decoder), then the mixture's type."""
    plan = build_plan(built("gpt_oss"), "Q4_K_M")
    t = plan.tensor("blk.0.ffn_gate_exps.weight")
    assert t.type == "Q5_0" and "output" not in t.sources[0].decode and t.parts
    assert "requantized from MXFP4" in t.reason and "--allow-requantize" in t.reason
    assert plan.meta("general.file_type") == 15


def test_gpt_oss_mxfp4_moe_target(built):
    """MXFP4_MOE: llama-quantize copies the experts the converter passed through as MXFP4 (already the
    type its rule chooses for 3-D tensors) and makes every other matrix Q8_0 (the output too)."""
    plan = build_plan(built("gpt_oss"), "MXFP4_MOE")
    assert plan.meta("general.file_type") == 38 and plan.reference != "convert"
    for name in ("blk.0.ffn_gate_exps.weight", "blk.0.ffn_up_exps.weight", "blk.1.ffn_down_exps.weight"):
        t = plan.tensor(name)
        assert t.type == "MXFP4" and "copied: already MXFP4" in t.reason, (name, t.reason)
    assert plan.tensor("blk.0.attn_q.weight").type == "Q8_0"
    assert plan.tensor("output.weight").type == "Q8_0"
    assert plan.tensor("blk.0.ffn_up_exps.bias").type == "F32"


def test_gpt_oss_mxfp4_scales_missing(tmp_path):
    d = AF.write_variant(tmp_path, "gpt_oss", drop={"model.layers.1.mlp.experts.down_proj_scales"})
    out = tmp_path / "out.gguf"
    with pytest.raises(QuantizedTensorError) as e:
        wick.convert(d, out, type="F16")
    msg = str(e.value)
    assert "model.layers.1.mlp.experts.down_proj_scales" in msg and ".safetensors" in msg
    assert not out.exists()


def test_glm_nextn_layer_without_experts(tmp_path):
    """The NextN layer is a full MoE block: without its experts the checkpoint is incomplete."""
    fx = FIXTURES["glm45"]
    drop = {t.name for t in fx.tensors if t.name.startswith("model.layers.2.mlp.experts.")}
    d = AF.write_variant(tmp_path, "glm45", drop=drop)
    out = tmp_path / "out.gguf"
    with pytest.raises(wick.convert.MissingTensorError, match=r"blk\.2\.ffn_gate_exps") as e:
        wick.convert(d, out, type="Q8_0")
    assert "model.layers.2.mlp.experts" in str(e.value) and "first_k_dense_replace=1" in str(e.value)
    assert not out.exists()


def test_gpt_oss_plain_experts(tmp_path):
    """A dequantized (bf16) gpt-oss checkpoint stores the experts [experts, in, out]: transposed,
    then gate/up de-interleaved, as the converter does; no MXFP4 file type."""
    from arch_fixtures._common import T

    fx = copy.deepcopy(FIXTURES["gpt_oss"])
    x, e, f = 4, 320, 320
    fx.config.pop("quantization_config")
    fx.tensors = [t for t in fx.tensors if not t.name.endswith(("_blocks", "_scales"))]
    for i in range(2):
        m = f"model.layers.{i}.mlp.experts."
        fx.tensors += [T(m + "gate_up_proj", x, e, 2 * f), T(m + "down_proj", x, f, e)]
    d = fx.write(tmp_path)
    plan = build_plan(d, "F16")
    assert plan.file_type == 1
    wick.convert(d, tmp_path / "out.gguf", type="Q8_0", threads=2)  # the executor reads these views
    gate, up, down = (plan.tensor(f"blk.0.ffn_{w}_exps.weight") for w in ("gate", "up", "down"))
    assert gate.shape == up.shape == [e, f, x] and down.shape == [f, e, x] and gate.type == "F16"
    src = np.arange(x * e * 2 * f, dtype=np.float32).reshape(x, e, 2 * f)
    np.testing.assert_array_equal(materialize([src], gate.parts), src.transpose(0, 2, 1)[:, 0::2, :].reshape(-1))
    np.testing.assert_array_equal(materialize([src], up.parts), src.transpose(0, 2, 1)[:, 1::2, :].reshape(-1))
    dsrc = np.arange(x * f * e, dtype=np.float32).reshape(x, f, e)
    np.testing.assert_array_equal(materialize([dsrc], down.parts), dsrc.transpose(0, 2, 1).reshape(-1))
