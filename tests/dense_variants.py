"""Variants of the dense architecture fixtures (tests/arch_fixtures) whose config.json or checkpoint
departs from the fixture the way real checkpoints do: keys left to transformers' config defaults, a
``rope_scaling`` transformers refuses (the converter then reads the raw file), other sliding-window
spellings, fused ERNIE projections, a Mistral Small 3.x text model, Gemma 1, Gemma configs leaning on
transformers' defaults (the real Gemma 3 4B's text_config), Gemma 4 per-layer embeddings and experts.

tests/golden/gen_dense_variants.py records what the pinned convert_hf_to_gguf.py writes for each
(``--outtype f32``); tests/test_convert_dense.py::test_variant_matches_the_converter converts each with
Wick and compares the files byte for byte.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Callable, Dict, List, NamedTuple, Optional

import arch_fixtures as AF
from arch_fixtures._common import Fixture, T, norm
from arch_fixtures.gemma import gemma4_layers, gemma4_text_config, gemma_layer


class Variant(NamedTuple):
    name: str
    base: str            # fixture name
    what: str            # what departs from the fixture, and what the converter should do with it
    config: Optional[Callable[[dict], None]] = None
    tensors: Optional[Callable[[list], list]] = None
    files: Optional[Callable[[dict], None]] = None


def _del(*keys: str) -> Callable[[dict], None]:
    def f(c: dict) -> None:
        for k in keys:
            del c[k]
    return f


def _all(*fs: Callable[[dict], None]) -> Callable[[dict], None]:
    def f(c: dict) -> None:
        for g in fs:
            g(c)
    return f


def _phi3_raw_yarn(c: dict) -> None:
    c["rope_scaling"].update(type="yarn", factor=32.0)   # four fields: Phi3Config refuses it


def _olmo2_rope(rs: dict) -> Callable[[dict], None]:
    def f(c: dict) -> None:
        c["rope_scaling"] = rs
        del c["rms_norm_eps"]
    return f


def _exaone4_pattern(p) -> Callable[[dict], None]:
    def f(c: dict) -> None:
        del c["layer_types"]
        c["sliding_window_pattern"] = p
    return f


def _ernie_fused(ts: list) -> list:
    out = []
    for t in ts:
        n = t.name
        if n.endswith(("self_attn.q_proj.weight", "self_attn.k_proj.weight", "mlp.up_proj.weight")):
            continue
        if n.endswith("self_attn.v_proj.weight"):
            out.append(T(n.replace("model.", "ernie.").replace("v_proj", "qkv_proj"), 768, 256))
        elif n.endswith("mlp.gate_proj.weight"):
            out.append(T(n.replace("gate_proj", "up_gate_proj"), 1536, 256))
        else:
            out.append(t)
    return out


def _mistral_small(c: dict) -> None:
    tc = c["text_config"]
    tc.update(model_type="mistral", rope_theta=1000000000.0, sliding_window=None)
    del tc["rope_parameters"], tc["rms_norm_eps"], tc["head_dim"]


def _gemma2_defaults(c: dict) -> None:
    for k in ("attn_logit_softcapping", "final_logit_softcapping", "sliding_window", "rms_norm_eps",
              "max_position_embeddings", "rope_theta"):
        del c[k]


def _gemma2_lm_head(ts: list) -> list:
    emb = next(t for t in ts if t.name == "model.embed_tokens.weight")
    return ts + [T("lm_head.weight", *emb.shape, dtype=emb.dtype)]


def _gemma1(c: dict) -> None:
    c.update(architectures=["GemmaForCausalLM"], model_type="gemma", transformers_version="4.38.0.dev0")
    for k in ("attn_logit_softcapping", "final_logit_softcapping", "sliding_window", "query_pre_attn_scalar",
              "cache_implementation", "hidden_activation"):
        del c[k]


def _gemma1_tensors(ts: list) -> list:
    return [t for t in ts if "feedforward_layernorm" not in t.name]


def _gemma3_4b_defaults(c: dict) -> None:
    for k in ("num_attention_heads", "num_key_value_heads", "head_dim"):   # as the real 4B's text_config
        del c["text_config"][k]


def _gemma3_4b_tensors(ts: list) -> list:
    out = [t for t in ts if ".layers." not in t.name or "vision_tower" in t.name]
    for i in range(2):   # Gemma3TextConfig's 8 heads / 4 KV heads of 256
        out += gemma_layer(f"language_model.model.layers.{i}.", 256, 8, 4, 256, 512, qk_norm=True, dtype="BF16")
    return out


_GEMMA4_PL_TYPES = ["sliding_attention", "full_attention", "sliding_attention"]


def _gemma4_per_layer(c: dict) -> None:
    # Gemma 4 E2B/E4B-style: per-layer embeddings; the last layer (sliding) shares its KV and has the double-wide
    # MLP (llama.cpp gives a shared layer the KV of the last unshared full layer, or the sliding one before it)
    c.update(hidden_size_per_layer_input=16, num_kv_shared_layers=1, use_double_wide_mlp=True,
             layer_types=list(_GEMMA4_PL_TYPES))


def _gemma4_per_layer_tensors(ts: list) -> list:
    V = next(t.shape[0] for t in ts if t.name == "model.embed_tokens.weight")
    cfg = gemma4_text_config(V)
    cfg["layer_types"] = list(_GEMMA4_PL_TYPES)
    out = []
    for t in gemma4_layers("model.", cfg):
        if t.name.startswith("model.layers.2.mlp."):
            t = T(t.name, *(s * 2 if s == 512 else s for s in t.shape))
        out.append(t)
    out += [T("model.embed_tokens_per_layer.weight", V, 3 * 16), T("model.per_layer_model_projection.weight", 3 * 16, 256),
            norm("model.per_layer_projection_norm.weight", 16)]
    for i in range(3):
        p = f"model.layers.{i}."
        out += [T(p + "per_layer_input_gate.weight", 16, 256), T(p + "per_layer_projection.weight", 256, 16),
                norm(p + "post_per_layer_input_norm.weight", 256)]
    return out


def _gemma4_moe(c: dict) -> None:
    # Gemma 4 26B-A4B-style: experts beside the dense MLP in every layer
    c.update(enable_moe_block=True, num_experts=4, top_k_experts=2, moe_intermediate_size=128)


def _gemma4_moe_tensors(ts: list) -> list:
    out = list(ts)
    for i in range(3):
        p = f"model.layers.{i}."
        out += [T(p + "experts.gate_up_proj", 4, 256, 256), T(p + "experts.down_proj", 4, 256, 128),
                T(p + "router.proj.weight", 4, 256), norm(p + "router.scale", 256), norm(p + "router.per_expert_scale", 4),
                norm(p + "pre_feedforward_layernorm_2.weight", 256), norm(p + "post_feedforward_layernorm_1.weight", 256),
                norm(p + "post_feedforward_layernorm_2.weight", 256)]
    return out


VARIANTS: List[Variant] = [
    Variant("phi35_su", "phi35_mini", "rope_scaling type su: Phi3Config renames it longrope",
            config=lambda c: c["rope_scaling"].update(type="su")),
    Variant("phi35_raw_yarn", "phi35_mini", "a four-field yarn rope_scaling: Phi3Config refuses it, the converter "
            "reads config.json (yarn attn_factor)", config=_phi3_raw_yarn),
    Variant("phi35_defaults", "phi35_mini", "no rms_norm_eps, original_max_position_embeddings, sliding_window: "
            "Phi3Config's defaults", config=_del("rms_norm_eps", "original_max_position_embeddings", "sliding_window")),
    Variant("smollm3_defaults", "smollm3", "no rope_theta / max_position_embeddings: SmolLM3Config's 2e6 / 32768",
            config=_del("rope_theta", "max_position_embeddings")),
    Variant("olmo3_defaults", "olmo3", "no sliding_window / layer_types: Olmo3Config's 4096, every fourth layer full",
            config=_del("sliding_window", "layer_types")),
    Variant("olmo2_raw_yarn", "olmo2", "YaRN rope_scaling: Olmo2Config refuses it, the converter reads config.json "
            "(no rms_norm_eps default)",
            config=_olmo2_rope({"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 4096})),
    Variant("olmo2_linear", "olmo2", "linear rope_scaling Olmo2Config accepts; its rms_norm_eps default",
            config=_olmo2_rope({"type": "linear", "factor": 2.0})),
    Variant("granite_head_dim", "granite", "head_dim (ignored), no embedding_multiplier (GraniteConfig's 1.0), "
            "residual_multiplier 0 (not written)",
            config=lambda c: (c.update(head_dim=128, residual_multiplier=0.0), c.pop("embedding_multiplier"))),
    Variant("cohere2_defaults", "cohere2", "rotary_pct 0.5, no head_dim / logit_scale: Cohere2Config's",
            config=_all(lambda c: c.update(rotary_pct=0.5), _del("head_dim", "logit_scale"))),
    Variant("exaone4_default_factor", "exaone4", "llama3 rope_scaling without factor: Exaone4Model's 16",
            config=lambda c: c["rope_scaling"].pop("factor")),
    Variant("exaone4_string_pattern", "exaone4", "sliding_window_pattern LLGL without layer_types: Exaone4Config "
            "fails, the converter reads config.json", config=_all(_exaone4_pattern("LLGL"), _del("rms_norm_eps"))),
    Variant("exaone4_int_pattern", "exaone4", "sliding_window_pattern 2 without layer_types: Exaone4Config's "
            "layer_types", config=_exaone4_pattern(2)),
    Variant("exaone4_no_window", "exaone4", "sliding_window null: no sliding-window keys",
            config=lambda c: c.update(sliding_window=None)),
    Variant("ernie45_fused", "ernie45", "fused ernie.…qkv_proj and up_gate_proj: split", tensors=_ernie_fused),
    Variant("ernie45_defaults", "ernie45", "no head_dim (Ernie4_5Config's 128), add_prefix_space false",
            config=_del("head_dim"),
            files=lambda f: f["tokenizer_config.json"].update(add_prefix_space=False)),
    Variant("gemma2_defaults", "gemma2", "no soft-caps, sliding_window, rms_norm_eps, context, rope_theta: Gemma2Config's; "
            "an lm_head.weight (dropped)", config=_gemma2_defaults, tensors=_gemma2_lm_head),
    Variant("gemma1", "gemma2", "GemmaForCausalLM (Gemma 1 / CodeGemma): two norms per layer, no soft-caps; "
            "the eot id 107", config=_gemma1, tensors=_gemma1_tensors),
    Variant("gemma3_4b_defaults", "gemma3_vlm", "text_config without heads / KV heads / head_dim, as the real 4B: "
            "Gemma3TextConfig's 8 / 4 / 256", config=_gemma3_4b_defaults, tensors=_gemma3_4b_tensors),
    Variant("gemma3_pattern1_softcap", "gemma3_text", "sliding_window_pattern 1 (no sliding-window key), "
            "final_logit_softcapping 30", config=lambda c: c.update(sliding_window_pattern=1, final_logit_softcapping=30.0)),
    Variant("gemma3_bidirectional", "gemma3_text", "use_bidirectional_attention: Gemma3TextConfig halves the window",
            config=lambda c: c.update(use_bidirectional_attention=True)),
    Variant("gemma4_per_layer", "gemma4_text", "per-layer embeddings (hidden_size_per_layer_input 16), sliding/full/sliding, "
            "the last layer KV-shared with a double-wide MLP", config=_gemma4_per_layer, tensors=_gemma4_per_layer_tensors),
    Variant("gemma4_moe", "gemma4_text", "enable_moe_block: 4 experts (fused gate_up, stored without .weight), "
            "router with its scales, the extra norms", config=_gemma4_moe, tensors=_gemma4_moe_tensors),
    Variant("mistral3_small", "mistral3_vlm", "text model_type mistral (Mistral Small 3.x): MistralConfig's "
            "defaults, no YaRN keys", config=_mistral_small),
]


def by_name() -> Dict[str, Variant]:
    return {v.name: v for v in VARIANTS}


def build(v: Variant) -> Fixture:
    """The variant as a fixture (the base fixture with its edits)."""
    fx = AF.by_name()[v.base]
    cfg, files, tensors = copy.deepcopy(fx.config), copy.deepcopy(fx.files), list(fx.tensors)
    if v.config:
        v.config(cfg)
    if v.files:
        v.files(files)
    if v.tensors:
        tensors = v.tensors(tensors)
    return replace(fx, name=v.name, config=cfg, files=files, tensors=tensors, notes=v.what)
