"""Plans of the dense families of issue 10 (Phi-3/4, Mistral 3, OLMo 2/3, Granite, SmolLM3, Command R7B,
EXAONE 4, ERNIE 4.5): their metadata and special tensors, the config defaults and fallbacks the converter
gets from transformers, and bad input. The fixtures are those of tests/arch_fixtures (the checkpoints' real
structure); tests/test_arch_goldens.py compares whole files with the pinned converter, these check the
reasons (no native library needed), and test_variant_matches_the_converter compares Wick's files with the
converter's for configurations the fixtures do not cover (tests/dense_variants.py)."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import dense_variants as DV
import numpy as np
import pytest

import arch_fixtures as AF
import arch_fixtures.digest as DG
from wick.convert import TokenizerFiles, build_plan_from_parts
from wick.convert.archs.llama import llama3_rope_factors
from wick.convert.errors import (
    ConfigError,
    MissingTensorError,
    ModelFileNotFoundError,
    TensorShapeError,
    UnexpectedTensorError,
    UnsupportedArchitectureError,
)

FIXTURES = AF.by_name()
F32 = np.float32


def parts(name):
    """(config, tokenizer files, tensor listing) of a fixture, copies to edit."""
    fx = FIXTURES[name]
    f = copy.deepcopy(fx.files)
    tok = TokenizerFiles(tokenizer_json=f.get("tokenizer.json"), tokenizer_config=f.get("tokenizer_config.json"),
                         tokenizer_model=f.get("tokenizer.model"), added_tokens_json=f.get("added_tokens.json"),
                         special_tokens_map=f.get("special_tokens_map.json"))
    tensors = {t.name: ("model.safetensors", t.dtype, tuple(t.shape)) for t in fx.tensors}
    return copy.deepcopy(fx.config), tok, tensors


def plan(name, target="Q8_0", edit=None, tensors_edit=None, tok_edit=None):
    cfg, tok, tensors = parts(name)
    if edit:
        edit(cfg)
    if tensors_edit:
        tensors_edit(tensors)
    if tok_edit:
        tok_edit(tok)
    return build_plan_from_parts(cfg, tok, tensors, target, dir_name=FIXTURES[name].dir_name)


def keys(p, prefix):
    return {kv.key[len(prefix) + 1:]: kv.value for kv in p.metadata if kv.key.startswith(prefix + ".")}


def order(p):
    return [kv.key for kv in p.metadata]


# ------------------------------------------------------------------ Phi-3 / Phi-4
def test_phi35_longrope_and_fused_projections():
    p = plan("phi35_mini")
    cfg = FIXTURES["phi35_mini"].config
    assert p.architecture == "phi3"
    # the converter writes attn_factor while generating the factor tensors: before general.type
    assert order(p)[:3] == ["general.architecture", "phi3.rope.scaling.attn_factor", "general.type"]
    k = keys(p, "phi3")
    assert k["rope.scaling.attn_factor"] == F32(math.sqrt(1 + math.log(131072 / 4096) / math.log(4096)))
    assert (k["context_length"], k["rope.scaling.original_context_length"]) == (131072, 4096)
    assert k["rope.dimension_count"] == 64 and k["attention.sliding_window"] == 262144
    phi_keys = [x for x in order(p) if x.startswith("phi3.") and x != "phi3.rope.scaling.attn_factor"]
    assert phi_keys == ["phi3." + x for x in (
        "context_length", "rope.scaling.original_context_length", "embedding_length", "feed_forward_length",
        "block_count", "attention.head_count", "attention.head_count_kv", "attention.layer_norm_rms_epsilon",
        "rope.dimension_count", "rope.freq_base", "attention.sliding_window")]
    assert [t.name for t in p.tensors[:2]] == ["rope_factors_long.weight", "rope_factors_short.weight"]
    for t, key in zip(p.tensors[:2], ("long_factor", "short_factor")):
        assert t.type == "F32" and t.sources == []
        np.testing.assert_array_equal(t.data, np.array(cfg["rope_scaling"][key], dtype=np.float32))
    qkv, up = p.tensor("blk.0.attn_qkv.weight"), p.tensor("blk.0.ffn_up.weight")
    assert qkv.shape == [256, 768] and qkv.parts == [] and qkv.sources[0].tensor == "model.layers.0.self_attn.qkv_proj.weight"
    assert up.shape == [256, 1024] and up.sources[0].tensor == "model.layers.0.mlp.gate_up_proj.weight"
    assert not any(t.name.endswith(("attn_q.weight", "ffn_gate.weight")) for t in p.tensors)
    assert p.meta("tokenizer.ggml.model") == "llama" and p.meta("tokenizer.ggml.pre") == "default"
    types = p.meta("tokenizer.ggml.token_type")
    end = p.meta("tokenizer.ggml.tokens").index("<|end|>")
    assert types[end] == 3   # special in tokenizer.json: CONTROL (Phi-3's own reading)


def test_phi4_and_phi4_mini():
    p = plan("phi4")
    k = keys(p, "phi3")
    assert k["attention.sliding_window"] == 0 and "rope.scaling.attn_factor" not in k   # Phi-4's marker
    assert not any(t.name.startswith("rope_factors") for t in p.tensors)
    assert p.meta("tokenizer.ggml.model") == "gpt2" and p.meta("tokenizer.ggml.pre") == "dbrx"
    p = plan("phi4_mini")
    k = keys(p, "phi3")
    assert k["rope.dimension_count"] == 48 and k["attention.head_count_kv"] == 2   # partial_rotary_factor 0.75
    assert p.tensor("rope_factors_long.weight").shape == [24]
    assert p.meta("tokenizer.ggml.pre") == "gpt-4o" and "output.weight" not in [t.name for t in p.tensors]


def test_phi3_rope_scaling_as_transformers_reads_it():
    def su(c):
        c["rope_scaling"]["type"] = "su"          # Phi3Config renames su/yarn to longrope

    assert keys(plan("phi35_mini", edit=su), "phi3")["rope.scaling.attn_factor"] == \
        keys(plan("phi35_mini"), "phi3")["rope.scaling.attn_factor"]

    def refused(c):                               # four fields: Phi3Config refuses, the converter reads the raw file
        c["rope_scaling"].update(type="yarn", factor=32.0)

    k = keys(plan("phi35_mini", edit=refused), "phi3")
    assert k["rope.scaling.attn_factor"] == F32(0.1 * math.log(32) + 1.0)

    def refused_without_eps(c):
        refused(c)
        del c["rms_norm_eps"]                     # no Phi3Config default on the raw path

    with pytest.raises(ConfigError, match="rms_norm_eps"):
        plan("phi35_mini", edit=refused_without_eps)

    def defaults(c):
        del c["rms_norm_eps"], c["original_max_position_embeddings"], c["sliding_window"]

    k = keys(plan("phi35_mini", edit=defaults), "phi3")
    assert k["attention.layer_norm_rms_epsilon"] == F32(1e-5) and k["rope.scaling.original_context_length"] == 4096
    assert k["attention.sliding_window"] == 0


def test_phi3_bad_input():
    def short(c):
        c["rope_scaling"]["long_factor"] = c["rope_scaling"]["long_factor"][:-1]

    with pytest.raises(ConfigError, match="long_factor"):
        plan("phi35_mini", edit=short)

    with pytest.raises(MissingTensorError, match=r"qkv_proj.*blk\.1\.attn_qkv"):
        plan("phi35_mini", tensors_edit=lambda ts: ts.pop("model.layers.1.self_attn.qkv_proj.weight"))

    def wrong(ts):
        ts["model.layers.0.mlp.gate_up_proj.weight"] = ("model.safetensors", "BF16", (512, 256))

    with pytest.raises(TensorShapeError, match="gate_up_proj.*expected \\[1024, 256\\]"):
        plan("phi35_mini", tensors_edit=wrong)

    def extra(ts):
        ts["model.layers.0.self_attn.rotary.weight"] = ("model.safetensors", "BF16", (4,))

    with pytest.raises(UnexpectedTensorError, match="model.safetensors.*rotary"):
        plan("phi35_mini", tensors_edit=extra)


# ------------------------------------------------------------------------ SmolLM3
def test_smollm3():
    p = plan("smollm3")
    k = keys(p, "smollm3")
    assert p.architecture == "smollm3" and k["vocab_size"] == 513 and k["rope.dimension_count"] == 64
    assert "attention.key_length" not in k
    q = p.tensor("blk.0.attn_q.weight")
    assert q.parts and q.parts[0]["shape"] == [4, 32, 2, 256]   # permuted as for Llama
    assert p.meta("tokenizer.ggml.pre") == "smaug-bpe"            # no BOS in its post-processor

    def bare(c):
        del c["rope_theta"], c["max_position_embeddings"]

    k = keys(plan("smollm3", edit=bare), "smollm3")
    assert k["rope.freq_base"] == 2000000.0 and k["context_length"] == 32768   # SmolLM3Config defaults


# -------------------------------------------------------------------- OLMo 2 / 3
def test_olmo2_and_olmo3():
    p = plan("olmo2")
    k = keys(p, "olmo2")
    assert "attention.sliding_window" not in k and p.meta("tokenizer.ggml.pre") == "dbrx"
    assert p.tensor("blk.0.attn_q_norm.weight").shape == [256] and p.tensor("blk.0.attn_q.weight").parts == []
    assert p.tensor("blk.1.post_ffw_norm.weight").type == "F32"
    p = plan("olmo3")
    k = keys(p, "olmo2")
    assert k["attention.sliding_window"] == 4096 and k["attention.sliding_window_pattern"] == [True, True, True, False]
    assert k["rope.scaling.type"] == "yarn" and k["rope.scaling.original_context_length"] == 8192
    assert order(p).index("olmo2.attention.sliding_window") > order(p).index("general.file_type")

    def no_window(c):
        del c["sliding_window"], c["layer_types"]  # Olmo3Config: 4096, every fourth layer full

    k = keys(plan("olmo3", edit=no_window), "olmo2")
    assert k["attention.sliding_window"] == 4096 and k["attention.sliding_window_pattern"] == [True, True, True, False]


def test_olmo2_rope_scaling_refused_by_transformers():
    def yarn(c):
        c["rope_scaling"] = {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 4096}
        del c["rms_norm_eps"]

    k = keys(plan("olmo2", edit=yarn), "olmo2")
    assert k["rope.scaling.type"] == "yarn"
    assert "attention.layer_norm_rms_epsilon" not in k   # raw config.json: no Olmo2Config default

    def linear(c):
        c["rope_scaling"] = {"type": "linear", "factor": 2.0}
        del c["rms_norm_eps"]

    k = keys(plan("olmo2", edit=linear), "olmo2")
    assert k["rope.scaling.factor"] == 2.0 and k["attention.layer_norm_rms_epsilon"] == F32(1e-5)


def test_olmo2_bad_input():
    def wide(ts):
        ts["model.layers.0.self_attn.k_norm.weight"] = ("model.safetensors", "BF16", (64,))

    with pytest.raises(TensorShapeError, match="k_norm.*expected \\[256\\]"):
        plan("olmo2", tensors_edit=wide)
    with pytest.raises(MissingTensorError, match="post_feedforward_layernorm"):
        plan("olmo2", tensors_edit=lambda ts: ts.pop("model.layers.0.post_feedforward_layernorm.weight"))


# ------------------------------------------------------------------------- Granite
def test_granite_scales_and_head_dim():
    p = plan("granite")
    k = keys(p, "granite")
    assert (k["attention.scale"], k["embedding_scale"], k["logit_scale"]) == (0.015625, 12.0, 8.0)
    assert k["residual_scale"] == F32(0.22)
    assert order(p).index("granite.attention.scale") == order(p).index("granite.rope.dimension_count") + 1
    assert p.meta("tokenizer.ggml.pre") == "refact" and p.meta("tokenizer.ggml.add_space_prefix") is False

    def edit(c):
        c["head_dim"] = 128                       # ignored by the converter
        del c["embedding_multiplier"]             # GraniteConfig default 1.0: still written
        c["residual_multiplier"] = 0.0            # zero: not written

    k = keys(plan("granite", edit=edit), "granite")
    assert "attention.key_length" not in k and k["rope.dimension_count"] == 64
    assert k["embedding_scale"] == 1.0 and "residual_scale" not in k


def test_granite_multimodal_tensors_and_vision_model():
    def extra(ts):
        ts["encoder.layers.0.weight"] = ("model.safetensors", "BF16", (4, 4))
        ts["model.image_newline"] = ("model.safetensors", "BF16", (4,))

    assert len(plan("granite", tensors_edit=extra).tensors) == len(plan("granite").tensors)
    with pytest.raises(UnsupportedArchitectureError, match="Granite 4 Vision"):
        plan("granite", edit=lambda c: c.update(deepstack_layer_map=[[1, 2]]))


# ------------------------------------------------------------------- Command R7B
def test_cohere2_metadata():
    p = plan("cohere2")
    k = keys(p, "cohere2")
    tail = [x for x in order(p) if x.startswith("cohere2.")][-5:]
    assert tail == ["cohere2." + x for x in ("logit_scale", "attention.sliding_window", "vocab_size",
                                             "rope.dimension_count", "rope.scaling.type")]
    assert k["rope.scaling.type"] == "none" and k["attention.key_length"] == 64
    assert k["attention.layer_norm_epsilon"] == F32(1e-5) and "attention.layer_norm_rms_epsilon" not in k
    assert p.meta("tokenizer.ggml.pre") == "command-r"

    def edit(c):
        c["rotary_pct"] = 0.5
        del c["head_dim"], c["logit_scale"]       # Cohere2Config: hidden // heads, 0.0625

    k = keys(plan("cohere2", edit=edit), "cohere2")
    assert k["rope.dimension_count"] == 32 and k["attention.key_length"] == 64 and k["logit_scale"] == 0.0625
    with pytest.raises(ConfigError, match="rotary_pct"):
        plan("cohere2", edit=lambda c: c.pop("rotary_pct"))


def test_cohere2_bias_tensors_are_refused():
    """A deliberate difference: the converter drops bias tensors that are all zero (and fails on others);
    Wick cannot read values while planning and refuses them, naming the tensor and its file."""
    def bias(ts):
        ts["model.layers.0.self_attn.q_proj.bias"] = ("model.safetensors", "BF16", (256,))

    with pytest.raises(UnexpectedTensorError, match=r"model\.safetensors: tensor 'model\.layers\.0\.self_attn\.q_proj\.bias'"):
        plan("cohere2", tensors_edit=bias)


# ------------------------------------------------------------------------ EXAONE 4
def test_exaone4():
    p = plan("exaone4")
    k = keys(p, "exaone4")
    assert k["vocab_size"] == 510 and k["attention.sliding_window_pattern"] == [True, True, True, False]
    assert p.meta("tokenizer.ggml.pre") == "exaone4"
    rf = p.tensors[0]
    assert rf.name == "rope_freqs.weight" and rf.type == "F32"
    np.testing.assert_array_equal(rf.data, llama3_rope_factors(1000000.0, 64, 16.0, 1.0, 4.0, 8192))

    def default_factor(c):
        del c["rope_scaling"]["factor"]           # Exaone4Model's default factor is 16, not Llama's 8

    np.testing.assert_array_equal(plan("exaone4", edit=default_factor).tensors[0].data, rf.data)


def test_exaone4_sliding_window_pattern():
    def string(c):                                # Exaone4Config fails on it: the raw config.json is read
        del c["layer_types"]
        c["sliding_window_pattern"] = "LLGL"
        del c["rms_norm_eps"]

    k = keys(plan("exaone4", edit=string), "exaone4")
    assert k["attention.sliding_window_pattern"] == [True, True, False, True]
    assert "attention.layer_norm_rms_epsilon" not in k

    def integer(c):                               # Exaone4Config makes layer_types from it
        del c["layer_types"]
        c["sliding_window_pattern"] = 2

    assert keys(plan("exaone4", edit=integer), "exaone4")["attention.sliding_window_pattern"] == [True, False] * 2
    k = keys(plan("exaone4", edit=lambda c: c.update(sliding_window=None)), "exaone4")
    assert "attention.sliding_window" not in k and "attention.sliding_window_pattern" not in k


# ----------------------------------------------------------------------- ERNIE 4.5
def _fused_ernie(ts):
    for i in range(2):
        p = f"model.layers.{i}."
        for x in ("q", "k", "v"):
            ts.pop(p + f"self_attn.{x}_proj.weight")
        ts.pop(p + "mlp.gate_proj.weight"), ts.pop(p + "mlp.up_proj.weight")
        ts[p.replace("model.", "ernie.") + "self_attn.qkv_proj.weight"] = ("model.safetensors", "BF16", (768, 256))
        ts[p + "mlp.up_gate_proj.weight"] = ("model.safetensors", "BF16", (1536, 256))


def test_ernie45_fused_projections_are_split():
    p = plan("ernie45", tensors_edit=_fused_ernie)
    q, k, v = (p.tensor(f"blk.1.attn_{x}.weight") for x in "qkv")
    assert (q.shape, k.shape, v.shape) == ([256, 512], [256, 128], [256, 128])
    assert q.sources[0].tensor == "ernie.layers.1.self_attn.qkv_proj.weight"
    assert [x.parts[0]["offset"] for x in (q, k, v)] == [0, 512 * 256, 640 * 256]
    gate, up = p.tensor("blk.0.ffn_gate.weight"), p.tensor("blk.0.ffn_up.weight")
    assert gate.parts[0]["offset"] == 0 and up.parts[0]["offset"] == 768 * 256   # the first half is the gate

    def odd(ts):
        _fused_ernie(ts)
        ts["ernie.layers.0.self_attn.qkv_proj.weight"] = ("model.safetensors", "BF16", (700, 256))

    with pytest.raises(TensorShapeError, match="qkv_proj.*768 rows"):
        plan("ernie45", tensors_edit=odd)


def test_ernie45_config_and_tokenizer():
    k = keys(plan("ernie45", edit=lambda c: c.pop("head_dim")), "ernie4_5")
    assert k["attention.key_length"] == 128           # Ernie4_5Config's default, not hidden / heads
    p = plan("ernie45", tok_edit=lambda t: t.tokenizer_config.update(add_prefix_space=False))
    assert order(p)[-1] == "tokenizer.ggml.add_space_prefix" and p.meta("tokenizer.ggml.add_space_prefix") is False
    with pytest.raises(ModelFileNotFoundError, match="tokenizer.model"):
        plan("ernie45", tok_edit=lambda t: setattr(t, "tokenizer_model", None))


# ---------------------------------------------------------------------- Mistral 3
def test_ministral3():
    p = plan("ministral3_text")
    k = keys(p, "mistral3")
    assert k["rope.scaling.yarn_log_multiplier"] == 1.0 and k["attention.temperature_scale"] == F32(0.1)
    assert order(p).index("mistral3.attention.temperature_scale") == order(p).index("general.file_type") + 4
    assert p.meta("tokenizer.ggml.pre") == "tekken"
    assert p.tensor("blk.0.attn_k.weight").parts[0]["shape"][0] == 2   # permuted with the KV-head count
    vlm = plan("mistral3_vlm")
    names = [t.name for t in vlm.tensors]
    assert len(names) == 2 + 2 * 9 and all(not ("vision" in n or "mm" in n) for n in names)
    assert vlm.tensor("token_embd.weight").sources[0].tensor == "model.language_model.embed_tokens.weight"


def test_mistral3_model_types():
    def plain(c):                                     # Mistral Small 3.x: MistralConfig, no YaRN keys
        c["text_config"]["model_type"] = "mistral"
        c["text_config"]["rope_parameters"] = None
        c["text_config"]["rope_theta"] = 1000000000.0
        del c["text_config"]["rms_norm_eps"]

    k = keys(plan("mistral3_vlm", edit=plain), "mistral3")
    assert "rope.scaling.yarn_log_multiplier" not in k and k["attention.layer_norm_rms_epsilon"] == F32(1e-6)
    with pytest.raises(UnsupportedArchitectureError, match="mistral4"):
        plan("mistral3_vlm", edit=lambda c: c["text_config"].update(model_type="mistral4"))

    def linear(c):
        c["rope_parameters"] = {"rope_type": "linear", "factor": 2.0, "rope_theta": 1e6}

    with pytest.raises(ConfigError, match="YaRN"):
        plan("ministral3_text", edit=linear)
    with pytest.raises(ConfigError, match="llama_4_scaling_beta"):
        plan("ministral3_text", edit=lambda c: c["rope_parameters"].pop("llama_4_scaling_beta"))


# -------------------------------------------- variants against the real converter
VARIANT_GOLD = json.loads((Path(__file__).resolve().parent / "golden" / "dense_variants.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", list(VARIANT_GOLD["variants"]))
def test_variant_matches_the_converter(name, tmp_path):
    """tests/dense_variants.py: configs that lean on transformers' defaults or that it refuses, other
    sliding-window spellings, fused ERNIE projections, a Mistral Small 3.x text model. Wick's F32 file is
    byte for byte the pinned converter's --outtype f32 (tests/golden/dense_variants.json)."""
    import wick
    want = VARIANT_GOLD["variants"][name]
    fx = DV.build(DV.by_name()[name])
    d = fx.write(tmp_path / "model")
    assert AF.file_hashes(d) == want["files"], f"{name}: the variant no longer builds the files the golden was made from"
    out = tmp_path / "f32.gguf"
    wick.convert(d, out, type="F32", threads=2)
    got = DG.read_gguf(out)
    if got["sha256"] != want["F32"]["sha256"]:
        pytest.fail(f"{name}: Wick's F32 file differs from the converter's: {DG.first_difference(got, want['F32'])}")


def test_every_variant_has_a_golden():
    assert sorted(VARIANT_GOLD["variants"]) == sorted(v.name for v in DV.VARIANTS), \
        "regenerate tests/golden/dense_variants.json (tests/golden/gen_dense_variants.py)"
