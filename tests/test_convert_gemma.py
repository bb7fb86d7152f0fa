"""Plans of Gemma 2, Gemma 3 and Gemma 4 (python/wick/convert/archs/gemma.py): norms + 1, the embedding
trimmed to the tokenizer, the per-layer metadata and ``rope_freqs`` of Gemma 4, Gemma 4's tokenizer, the
defaults transformers' config classes give, and bad input. The fixtures are tests/arch_fixtures/gemma.py;
tests/test_arch_goldens.py compares whole files with the pinned converter, these check the reasons (no
native library needed)."""

from __future__ import annotations

import dense_variants as DV
import numpy as np
import pytest
from dense_variants import _gemma4_moe_tensors
from test_convert_dense import keys, order, plan

from wick.convert import TokenizerFiles, build_plan_from_parts
from wick.convert.archs import adapter_for
from wick.convert.errors import (
    ConfigError,
    MissingTensorError,
    ModelFileNotFoundError,
    TensorShapeError,
    UnsupportedArchitectureError,
    UnsupportedTokenizerError,
)
from wick.convert.lazy import LazyTensor, SourceInfo
from wick.convert.tokenizer import CONTROL, USER_DEFINED
from wick.convert.view import apply_ops

F32 = np.float32


# ------------------------------------------------------------------------ Gemma 2
def test_gemma2_metadata_and_norms():
    p = plan("gemma2")
    assert p.architecture == "gemma2"
    arch = [k for k in order(p) if k.startswith(("gemma2.", "general.file_type"))]
    assert arch == ["gemma2." + x if x != "file_type" else "general.file_type" for x in (
        "context_length", "embedding_length", "block_count", "feed_forward_length", "attention.head_count",
        "attention.head_count_kv", "attention.layer_norm_rms_epsilon", "attention.key_length",
        "attention.value_length", "file_type", "attn_logit_softcapping", "final_logit_softcapping",
        "attention.sliding_window")]
    k = keys(p, "gemma2")
    assert (k["attn_logit_softcapping"], k["final_logit_softcapping"], k["attention.sliding_window"]) == (50.0, 30.0, 4096)
    assert p.meta("tokenizer.ggml.model") == "llama" and p.meta("tokenizer.ggml.add_space_prefix") is False
    assert order(p)[-1] == "tokenizer.ggml.add_space_prefix"
    # float16 checkpoint: + 1 in float16, as torch computes it; the four block norms and the output norm
    norms = [t for t in p.tensors if t.name.endswith("norm.weight")]
    assert len(norms) == 2 * 4 + 1
    for t in norms:
        assert t.ops == [{"op": "add", "value": 1.0}, {"op": "round", "dtype": "F16"}] and t.type == "F32"
    assert all(not t.ops for t in p.tensors if not t.name.endswith("norm.weight"))
    x = np.array([0.3, -1.0, 1e-4], dtype=np.float16).astype(F32)
    np.testing.assert_array_equal(apply_ops(x, norms[0].ops), (x.astype(np.float16) + np.float16(1)).astype(F32))


def test_gemma2_lm_head_dropped_and_defaults():
    def untied(ts):
        ts["lm_head.weight"] = ("model.safetensors", "F16", (530, 256))

    assert [t.name for t in plan("gemma2", tensors_edit=untied).tensors] == [t.name for t in plan("gemma2").tensors]

    def bare(c):
        del c["attn_logit_softcapping"], c["final_logit_softcapping"], c["sliding_window"], c["rms_norm_eps"]

    k = keys(plan("gemma2", edit=bare), "gemma2")   # Gemma2Config's defaults
    assert (k["attn_logit_softcapping"], k["final_logit_softcapping"], k["attention.sliding_window"]) == (50.0, 30.0, 4096)
    assert k["attention.layer_norm_rms_epsilon"] == F32(1e-6)


def test_gemma2_bad_input():
    for key in ("head_dim", "num_key_value_heads"):
        with pytest.raises(ConfigError, match=f"config.json: missing required key '{key}'"):
            plan("gemma2", edit=lambda c, key=key: c.pop(key))
    with pytest.raises(ConfigError, match="config.json.*'attn_logit_softcapping'"):
        plan("gemma2", edit=lambda c: c.update(attn_logit_softcapping=None))
    with pytest.raises(ModelFileNotFoundError, match="tokenizer.model"):
        plan("gemma2", tok_edit=lambda t: setattr(t, "tokenizer_model", None))
    with pytest.raises(MissingTensorError, match=r"pre_feedforward_layernorm.*blk\.1\.ffn_norm"):
        plan("gemma2", tensors_edit=lambda ts: ts.pop("model.layers.1.pre_feedforward_layernorm.weight"))


def test_gemma1():
    """GemmaForCausalLM (tests/dense_variants.py's gemma1, compared with the converter's file there)."""
    fx = DV.build(DV.by_name()["gemma1"])
    p = build_plan_from_parts(fx.config, TokenizerFiles(tokenizer_model=fx.files["tokenizer.model"],
                                                        tokenizer_config=fx.files["tokenizer_config.json"]),
                              {t.name: ("model.safetensors", t.dtype, t.shape) for t in fx.tensors}, "Q8_0",
                              dir_name=fx.dir_name)
    assert p.architecture == "gemma" and [k for k in order(p) if k.startswith("gemma.")][-1] == \
        "gemma.attention.value_length"
    assert "gemma.attn_logit_softcapping" not in order(p) and p.meta("tokenizer.ggml.eot_token_id") == 107
    assert order(p)[-2:] == ["tokenizer.ggml.eot_token_id", "tokenizer.ggml.add_space_prefix"]
    assert p.tensor("blk.1.ffn_norm.weight").sources[0].tensor == "model.layers.1.post_attention_layernorm.weight"
    assert p.tensor("blk.1.ffn_norm.weight").ops[0] == {"op": "add", "value": 1.0}


# ------------------------------------------------------------------------ Gemma 3
def test_gemma3_metadata_overrides_in_place():
    p = plan("gemma3_text")
    arch = [k for k in order(p) if k.startswith("gemma3.")]
    assert arch == ["gemma3." + x for x in (
        "block_count", "context_length", "embedding_length", "feed_forward_length", "attention.head_count",
        "attention.head_count_kv", "rope.freq_base", "rope.freq_base_swa", "attention.layer_norm_rms_epsilon",
        "attention.key_length", "attention.value_length", "attention.sliding_window")]
    k = keys(p, "gemma3")
    assert (k["rope.freq_base"], k["rope.freq_base_swa"], k["attention.sliding_window"]) == (1e6, 1e4, 512)
    assert "final_logit_softcapping" not in k
    assert p.tensor("blk.0.attn_q_norm.weight").ops == [{"op": "add", "value": 1.0}]   # bf16: computed in f32
    assert p.meta("tokenizer.ggml.add_space_prefix") is False

    k = keys(plan("gemma3_text", edit=lambda c: c.update(sliding_window_pattern=1, final_logit_softcapping=30.0)),
             "gemma3")
    assert "attention.sliding_window" not in k and k["final_logit_softcapping"] == 30.0
    k = keys(plan("gemma3_text", edit=lambda c: c.update(use_bidirectional_attention=True)), "gemma3")
    assert k["attention.sliding_window"] == 512 // 2 + 1   # Gemma3TextConfig halves it


def test_gemma3_vlm_text_model_only():
    p = plan("gemma3_vlm")
    names = [t.name for t in p.tensors]
    assert p.architecture == "gemma3" and not any(n.startswith(("v.", "mm.")) for n in names)
    assert all(not s.tensor.startswith(("vision_tower", "multi_modal")) for t in p.tensors for s in t.sources)
    k = keys(p, "gemma3")
    # text_config read as the top level, Gemma3TextConfig's defaults for what it leaves out
    assert (k["context_length"], k["rope.freq_base"], k["rope.scaling.type"], k["rope.scaling.factor"]) == \
        (131072, 1e6, "linear", 8.0)
    assert k["attention.sliding_window"] == 1024
    assert len(p.meta("tokenizer.ggml.tokens")) == p.tensor("token_embd.weight").shape[1] == 576   # padded


def test_gemma3_embedding_trimmed_to_the_tokenizer():
    p = plan("gemma3_text", edit=lambda c: c.update(vocab_size=520),
             tensors_edit=lambda ts: ts.update({"model.embed_tokens.weight": ("model.safetensors", "F32", (533, 384))}))
    t = p.tensor("token_embd.weight")
    assert t.shape == [384, 520] and t.parts[0]["shape"] == [520, 384]   # the first rows only
    assert len(p.meta("tokenizer.ggml.tokens")) == 520


def test_gemma3_config_defaults_and_bad_input():
    def bare(c):   # the real 4B leaves heads, KV heads and head_dim to Gemma3TextConfig (8, 4, 256)
        for key in ("num_attention_heads", "num_key_value_heads", "head_dim"):
            del c["text_config"][key]

    with pytest.raises(TensorShapeError, match=r"k_norm.*expected \[256\] from config.json"):
        plan("gemma3_vlm", edit=bare)
    with pytest.raises(ConfigError, match="config.json: missing required key.*hidden_size"):
        plan("gemma3_vlm", edit=lambda c: c["text_config"].pop("hidden_size"))
    with pytest.raises(ConfigError, match="attn_logit_softcapping"):
        plan("gemma3_text", edit=lambda c: c.update(attn_logit_softcapping=50.0))
    with pytest.raises(MissingTensorError, match=r"k_norm.*blk\.2\.attn_k_norm"):
        plan("gemma3_text", tensors_edit=lambda ts: ts.pop("model.layers.2.self_attn.k_norm.weight"))
    # no tokenizer.model: the byte-level BPE path, where a Gemma-style tokenizer.json matches no pre-tokenizer
    # rule (the converter's hash lookup does not know the shrunk vocabulary either)
    with pytest.raises(UnsupportedTokenizerError, match="pre-tokenizer is not recognised"):
        plan("gemma3_text", tok_edit=lambda t: setattr(t, "tokenizer_model", None))


# ------------------------------------------------------------------------ Gemma 4
def test_gemma4_metadata_and_rope_freqs():
    p = plan("gemma4_text")
    k = keys(p, "gemma4")
    assert k["attention.head_count_kv"] == [2, 2, 1] and k["attention.sliding_window_pattern"] == [True, True, False]
    assert (k["attention.key_length"], k["attention.key_length_swa"]) == (128, 64)
    assert (k["rope.dimension_count"], k["rope.dimension_count_swa"]) == (128, 64)
    assert (k["attention.shared_kv_layers"], k["embedding_length_per_layer_input"]) == (0, 0)
    assert order(p).index("gemma4.attention.head_count_kv") == order(p).index("gemma4.attention.head_count") + 1
    rf = p.tensors[0]
    assert rf.name == "rope_freqs.weight" and rf.type == "F32"
    np.testing.assert_array_equal(rf.data, np.array([1.0] * 16 + [1e30] * 48, dtype=F32))  # 128 · 0.25 / 2 rotated
    assert all(not t.ops for t in p.tensors)             # no norm shift in Gemma 4
    assert p.tensor("blk.0.layer_output_scale.weight").shape == [1]
    assert "blk.2.attn_v.weight" not in [t.name for t in p.tensors]   # attention_k_eq_v on the full layer
    assert p.tensor("blk.2.attn_q.weight").shape == [256, 256] and p.tensor("blk.0.attn_q.weight").shape == [256, 128]


def test_gemma4_tokenizer():
    p = plan("gemma4_vlm")
    assert p.meta("tokenizer.ggml.model") == "gemma4" and "tokenizer.ggml.pre" not in order(p)
    toks, types = p.meta("tokenizer.ggml.tokens"), p.meta("tokenizer.ggml.token_type")
    assert types[toks.index("<|channel>")] == USER_DEFINED and types[toks.index('<|"|>')] == USER_DEFINED
    assert types[toks.index("<|turn>")] == CONTROL
    assert p.meta("tokenizer.ggml.merges") and p.meta("tokenizer.ggml.add_bos_token") is True
    assert order(p)[-1] == "tokenizer.ggml.add_space_prefix"


def test_gemma4_per_layer_variants():
    def double_wide(c):
        c.update(use_double_wide_mlp=True, num_kv_shared_layers=1)

    def wide_tensors(ts):
        for n in ("gate_proj", "up_proj"):
            ts[f"model.layers.2.mlp.{n}.weight"] = ("model.safetensors", "BF16", (1024, 256))
        ts["model.layers.2.mlp.down_proj.weight"] = ("model.safetensors", "BF16", (256, 1024))

    k = keys(plan("gemma4_text", edit=double_wide, tensors_edit=wide_tensors), "gemma4")
    assert k["feed_forward_length"] == [512, 512, 1024] and k["attention.shared_kv_layers"] == 1
    with pytest.raises(TensorShapeError, match=r"layer 2: full attention"):
        plan("gemma4_text", edit=double_wide)

    def per_layer(ts):
        ts["model.embed_tokens_per_layer.weight"] = ("model.safetensors", "BF16", (534, 3 * 16))
        ts["model.per_layer_model_projection.weight"] = ("model.safetensors", "BF16", (3 * 16, 256))
        ts["model.per_layer_projection_norm.weight"] = ("model.safetensors", "BF16", (16,))
        for i in range(3):
            ts[f"model.layers.{i}.per_layer_input_gate.weight"] = ("model.safetensors", "BF16", (16, 256))
            ts[f"model.layers.{i}.per_layer_projection.weight"] = ("model.safetensors", "BF16", (256, 16))
            ts[f"model.layers.{i}.post_per_layer_input_norm.weight"] = ("model.safetensors", "BF16", (256,))

    p = plan("gemma4_text", edit=lambda c: c.update(hidden_size_per_layer_input=16), tensors_edit=per_layer)
    names = [t.name for t in p.tensors]
    assert {"per_layer_token_embd.weight", "per_layer_model_proj.weight", "per_layer_proj_norm.weight",
            "blk.0.inp_gate.weight", "blk.0.proj.weight", "blk.0.post_norm.weight"} <= set(names)
    assert keys(p, "gemma4")["embedding_length_per_layer_input"] == 16
    assert p.tensor("per_layer_token_embd.weight").shape == [48, 534]   # not trimmed (not embed_tokens)


def test_gemma4_bad_input():
    with pytest.raises(ConfigError, match="config.json: missing required key 'global_head_dim'"):
        plan("gemma4_text", edit=lambda c: c.pop("global_head_dim"))
    for key in ("layer_types", "num_kv_shared_layers"):
        with pytest.raises(ConfigError, match=f"config.json: missing required key '{key}'"):
            plan("gemma4_vlm", edit=lambda c, key=key: c["text_config"].pop(key))
    with pytest.raises(ConfigError, match="proportional"):
        plan("gemma4_text", edit=lambda c: c["rope_parameters"]["full_attention"].update(rope_type="default"))
    with pytest.raises(ConfigError, match="partial_rotary_factor"):
        plan("gemma4_text", edit=lambda c: c["rope_parameters"]["full_attention"].pop("partial_rotary_factor"))
    with pytest.raises(ConfigError, match="layer_types' has 2 entries"):
        plan("gemma4_text", edit=lambda c: c["layer_types"].pop())
    with pytest.raises(ConfigError, match="config.json: missing required key 'moe_intermediate_size'"):
        plan("gemma4_text", edit=lambda c: c.update(enable_moe_block=True, num_experts=8, top_k_experts=2))
    with pytest.raises(MissingTensorError, match=r"v_proj.*blk\.1\.attn_v"):   # a sliding layer needs its v_proj
        plan("gemma4_text", tensors_edit=lambda ts: ts.pop("model.layers.1.self_attn.v_proj.weight"))
    with pytest.raises(MissingTensorError, match=r"v_proj.*blk\.2\.attn_v"):   # so does a full one without k_eq_v
        plan("gemma4_text", edit=lambda c: c.update(attention_k_eq_v=False))
    with pytest.raises(MissingTensorError, match=r"k_norm.*blk\.1\.attn_k_norm"):
        plan("gemma4_text", tensors_edit=lambda ts: ts.pop("model.layers.1.self_attn.k_norm.weight"))

    def shared_without_kv(c_ts):   # a KV-shared layer may come without k/v projections and k norm
        for n in ("k_proj", "v_proj", "k_norm"):
            c_ts.pop(f"model.layers.2.self_attn.{n}.weight", None)

    p = plan("gemma4_text", edit=lambda c: c.update(num_kv_shared_layers=1), tensors_edit=shared_without_kv)
    assert "blk.2.attn_k.weight" not in [t.name for t in p.tensors]

    def narrow(ts):
        ts["model.layers.2.self_attn.k_proj.weight"] = ("model.safetensors", "BF16", (64, 256))

    with pytest.raises(TensorShapeError, match=r"k_proj.*expected \[128, 256\].*layer 2: full attention"):
        plan("gemma4_text", tensors_edit=narrow)


def test_gemma4_experts():
    """Gemma 4 26B-A4B-style experts beside the dense MLP (tests/dense_variants.py's gemma4_moe, which
    test_variant_matches_the_converter compares with the converter's file)."""
    def moe(c):
        c.update(enable_moe_block=True, num_experts=4, top_k_experts=2, moe_intermediate_size=128)

    def tensors(ts):
        for t in _gemma4_moe_tensors([]):
            ts[t.name] = ("model.safetensors", t.dtype, t.shape)

    p = plan("gemma4_text", target="Q4_K_M", edit=moe, tensors_edit=tensors)
    k = keys(p, "gemma4")
    assert (k["expert_count"], k["expert_used_count"], k["expert_feed_forward_length"]) == (4, 2, 128)
    assert p.tensor("blk.0.ffn_gate_up_exps.weight").shape == [256, 256, 4]
    assert p.tensor("blk.0.ffn_down_exps.weight").shape == [128, 256, 4]
    for name in ("blk.0.ffn_gate_inp.scale", "blk.0.ffn_down_exps.scale", "blk.0.ffn_gate_inp.weight"):
        assert p.tensor(name).type == "F32"
    assert p.tensor("blk.1.ffn_down_exps.scale").sources[0].tensor == "model.layers.1.router.per_expert_scale"

    def no_down(ts):
        tensors(ts)
        del ts["model.layers.2.experts.down_proj"]

    with pytest.raises(MissingTensorError, match=r"experts.down_proj.*blk\.2\.ffn_down_exps.*router"):
        plan("gemma4_text", edit=moe, tensors_edit=no_down)

    def wrong(ts):
        tensors(ts)
        ts["model.layers.0.experts.gate_up_proj"] = ("model.safetensors", "BF16", (4, 128, 256))

    with pytest.raises(TensorShapeError, match=r"gate_up_proj.*expected \[4, 256, 256\]"):
        plan("gemma4_text", edit=moe, tensors_edit=wrong)


def test_gemma4_nvfp4_experts_refused():
    """The converter folds router.per_expert_scale into NVFP4 experts' weight_scale_2; Wick does not, and
    refuses such a checkpoint, naming the tensor."""
    class NVFP4Decode:   # what wick.convert.quantized attaches to a passed-through NVFP4 weight
        passthrough, appended, fp8 = "NVFP4", False, False

    a = adapter_for({"architectures": ["Gemma4ForCausalLM"]})
    a._sources = {"model.layers.0.experts.0.down_proj.weight": SourceInfo("model.safetensors", "BF16", (4, 4),
                                                                           NVFP4Decode())}
    name = "model.layers.0.router.per_expert_scale"
    with pytest.raises(UnsupportedArchitectureError, match=r"per_expert_scale.*weight_scale_2.*not supported"):
        a.modify_tensors(LazyTensor.of(name, SourceInfo("model.safetensors", "BF16", (4,))), name, 0)
