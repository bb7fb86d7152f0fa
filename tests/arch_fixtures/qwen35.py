"""Qwen3.5 / 3.6 hybrid models: Gated-DeltaNet linear-attention layers (in_proj_qkv / z / b / a,
depthwise conv1d, A_log, dt_bias, gated RMSNorm) every layer but each fourth, which is gated
full attention (q_proj doubled for the output gate, q/k norms); RMSNorms stored as scale − 1
(the gated one as the scale); interleaved M-RoPE with partial rotary 0.25; one MTP layer.

Dense (Qwen3_5ForCausalLM / Qwen3_5ForConditionalGeneration) and MoE (Qwen3_5Moe…: fused 3-D
``mlp.experts.gate_up_proj`` / ``down_proj`` without a ``.weight`` suffix, shared expert and
its gate). The ConditionalGeneration checkpoints use the transformers 5 layout
(model.language_model.*, model.visual.*, mtp.*, lm_head.weight).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import List

from ._common import QWEN35_REGEX, Fixture, T, norm, pad_to, qwen_tokenizer

E, H, HKV, D = 256, 2, 1, 128          # Qwen3.5-9B: 4096, 16 heads / 4 kv, head_dim 256
NK, DK, NV, DV, KCONV = 2, 64, 4, 64, 4  # linear attention: 16 key heads x 128, 32 value heads x 128
L = 4
LAYER_TYPES = ["linear_attention", "linear_attention", "linear_attention", "full_attention"]
QWEN35_PRE = ("convert_hf_to_gguf_update.py names Qwen/Qwen3.5-9B-Instruct's tokenizer 'qwen35' (regex with \\p{M} in "
              "letter runs)")


def text_config(moe: bool, V: int) -> dict:
    c = {"attention_bias": False, "attention_dropout": 0.0, "attn_output_gate": True, "dtype": "bfloat16",
         "eos_token_id": None, "full_attention_interval": 4, "head_dim": D, "hidden_act": "silu", "hidden_size": E,
         "initializer_range": 0.02, "layer_types": LAYER_TYPES, "linear_conv_kernel_dim": KCONV,
         "linear_key_head_dim": DK, "linear_num_key_heads": NK, "linear_num_value_heads": NV,
         "linear_value_head_dim": DV, "mamba_ssm_dtype": "float32", "max_position_embeddings": 262144,
         "model_type": "qwen3_5_moe_text" if moe else "qwen3_5_text", "mtp_num_hidden_layers": 1,
         "mtp_use_dedicated_embeddings": False, "num_attention_heads": H, "num_hidden_layers": L,
         "num_key_value_heads": HKV, "rms_norm_eps": 1e-06,
         "rope_parameters": {"mrope_interleaved": True, "mrope_section": [6, 5, 5], "partial_rotary_factor": 0.25,
                             "rope_theta": 10000000, "rope_type": "default"},
         "use_cache": True, "vocab_size": V}
    if moe:
        c.update({"moe_intermediate_size": 256, "num_experts": 4, "num_experts_per_tok": 2,
                  "output_router_logits": False, "router_aux_loss_coef": 0.001, "shared_expert_intermediate_size": 256})
    else:
        c["intermediate_size"] = 768   # 12288 in the 9B
    return c


def layer(p: str, kind: str, moe: bool) -> list:
    z = 0.0  # norms stored as scale - 1
    ts = [norm(p + "input_layernorm.weight", E, mean=z, std=0.1), norm(p + "post_attention_layernorm.weight", E, mean=z, std=0.1)]
    if kind == "linear_attention":
        a = p + "linear_attn."
        conv = 2 * NK * DK + NV * DV
        ts += [T(a + "in_proj_qkv.weight", conv, E), T(a + "in_proj_z.weight", NV * DV, E), T(a + "in_proj_b.weight", NV, E),
               T(a + "in_proj_a.weight", NV, E), T(a + "conv1d.weight", conv, 1, KCONV, std=0.2),
               T(a + "A_log", NV, mean=1.5, std=0.5), T(a + "dt_bias", NV, mean=1.0, std=0.2),
               norm(a + "norm.weight", DV), T(a + "out_proj.weight", E, NV * DV)]
    else:
        a = p + "self_attn."
        ts += [T(a + "q_proj.weight", 2 * H * D, E), T(a + "k_proj.weight", HKV * D, E), T(a + "v_proj.weight", HKV * D, E),
               T(a + "o_proj.weight", E, H * D), norm(a + "q_norm.weight", D, mean=z, std=0.1),
               norm(a + "k_norm.weight", D, mean=z, std=0.1)]
    m = p + "mlp."
    if moe:
        X, F, FS = 4, 256, 256
        ts += [T(m + "gate.weight", X, E), T(m + "experts.gate_up_proj", X, 2 * F, E), T(m + "experts.down_proj", X, E, F),
               T(m + "shared_expert.gate_proj.weight", FS, E), T(m + "shared_expert.up_proj.weight", FS, E),
               T(m + "shared_expert.down_proj.weight", E, FS), T(m + "shared_expert_gate.weight", 1, E)]
    else:
        F = 768
        ts += [T(m + "gate_proj.weight", F, E), T(m + "up_proj.weight", F, E), T(m + "down_proj.weight", E, F)]
    return ts


def model_tensors(prefix: str, mtp_prefix: str, moe: bool, V: int) -> list:
    ts = [T(prefix + "embed_tokens.weight", V, E), norm(prefix + "norm.weight", E, mean=0.0, std=0.1),
          T("lm_head.weight", V, E)]
    for i, kind in enumerate(LAYER_TYPES):
        ts += layer(f"{prefix}layers.{i}.", kind, moe)
    # the MTP block: fc over [embedding; hidden], its own pre-norms, one full-attention layer, final norm
    ts += [T(mtp_prefix + "fc.weight", E, 2 * E), norm(mtp_prefix + "pre_fc_norm_embedding.weight", E, mean=0.0, std=0.1),
           norm(mtp_prefix + "pre_fc_norm_hidden.weight", E, mean=0.0, std=0.1),
           norm(mtp_prefix + "norm.weight", E, mean=0.0, std=0.1)]
    ts += layer(mtp_prefix + "layers.0.", "full_attention", moe)
    return ts


def visual(prefix: str, C: int = 64, F: int = 128) -> list:
    v = prefix
    ts = [T(v + "patch_embed.proj.weight", C, 3, 2, 16, 16), T(v + "patch_embed.proj.bias", C),
          T(v + "pos_embed.weight", 16, C)]
    q = v + "blocks.0."
    ts += [norm(q + "norm1.weight", C), T(q + "norm1.bias", C), norm(q + "norm2.weight", C), T(q + "norm2.bias", C),
           T(q + "attn.qkv.weight", 3 * C, C), T(q + "attn.qkv.bias", 3 * C), T(q + "attn.proj.weight", C, C),
           T(q + "attn.proj.bias", C), T(q + "mlp.linear_fc1.weight", F, C), T(q + "mlp.linear_fc1.bias", F),
           T(q + "mlp.linear_fc2.weight", C, F), T(q + "mlp.linear_fc2.bias", C)]
    m = v + "merger."
    ts += [norm(m + "norm.weight", C), T(m + "norm.bias", C), T(m + "linear_fc1.weight", 4 * C, 4 * C),
           T(m + "linear_fc1.bias", 4 * C), T(m + "linear_fc2.weight", E, 4 * C), T(m + "linear_fc2.bias", E)]
    return ts


def build(name: str, hf_class: str, dir_name: str, moe: bool, vlm: bool) -> Fixture:
    b, tc = qwen_tokenizer(QWEN35_REGEX, extra=[("<tool_response>", False), ("</tool_response>", False),
                                                ("<think>", False), ("</think>", False)])
    V = pad_to(b.n_vocab, 64)   # 248320 for 248077 tokens
    text = text_config(moe, V)
    text["eos_token_id"] = b.ids["<|im_end|>"]
    if vlm:
        cfg = {"architectures": [hf_class], "image_token_id": b.ids["<|image_pad|>"],
               "model_type": "qwen3_5_moe" if moe else "qwen3_5", "text_config": text, "tie_word_embeddings": False,
               "transformers_version": "4.57.0.dev0", "video_token_id": b.ids["<|video_pad|>"],
               "vision_config": {"deepstack_visual_indexes": [], "depth": 1, "hidden_act": "gelu_pytorch_tanh",
                                 "hidden_size": 64, "in_channels": 3, "initializer_range": 0.02, "intermediate_size": 128,
                                 "model_type": "qwen3_5_moe" if moe else "qwen3_5", "num_heads": 2,
                                 "num_position_embeddings": 16, "out_hidden_size": E, "patch_size": 16,
                                 "spatial_merge_size": 2, "temporal_patch_size": 2},
               "vision_end_token_id": b.ids["<|vision_end|>"], "vision_start_token_id": b.ids["<|vision_start|>"]}
        ts = model_tensors("model.language_model.", "mtp.", moe, V) + visual("model.visual.")
    else:
        cfg = {"architectures": [hf_class], **text, "tie_word_embeddings": False, "transformers_version": "4.57.0.dev0"}
        ts = model_tensors("model.", "mtp.", moe, V)
    files = {"tokenizer.json": b.tokenizer_json, "tokenizer_config.json": tc,
             "generation_config.json": {"bos_token_id": b.ids["<|endoftext|>"], "do_sample": True,
                                        "eos_token_id": [b.ids["<|im_end|>"], b.ids["<|endoftext|>"]],
                                        "pad_token_id": b.ids["<|endoftext|>"], "temperature": 0.6, "top_k": 20,
                                        "top_p": 0.95, "transformers_version": "4.57.0.dev0"}}
    notes = ("model_type unknown to transformers 4.57.6 (the converter reads config.json); 3 linear-attention layers + "
             "1 full-attention layer + 1 MTP layer; 2 key heads / 4 value heads (the converter reorders V heads)")
    if moe:
        notes += "; 4 experts (of 256) fused 3-D, 2 used, shared expert + gate"
    if vlm:
        notes += "; vision tower (model.visual.*) present, dropped by the text conversion"
    return Fixture(name, hf_class, dir_name, cfg, ts, files, pre="qwen35", pre_source=QWEN35_PRE, notes=notes)


def fixtures() -> List[Fixture]:
    return [build("qwen35", "Qwen3_5ForCausalLM", "Qwen3.5-9B-text", False, False),
            build("qwen35_vlm", "Qwen3_5ForConditionalGeneration", "Qwen3.5-9B", False, True),
            build("qwen35moe", "Qwen3_5MoeForCausalLM", "Qwen3.5-35B-A3B-text", True, False),
            build("qwen35moe_vlm", "Qwen3_5MoeForConditionalGeneration", "Qwen3.5-35B-A3B", True, True)]


# ------------------------------------------------------------------ quantized variants
NVFP4_PROJECTIONS = (".in_proj_qkv", ".in_proj_z", ".in_proj_b", ".in_proj_a")
QUANTIZED_VARIANTS = ("rows", "out_proj", "fp8")


def write_quantized_variant(root: Path, variant: str) -> Path:
    """The ``qwen35`` fixture with some weights stored quantized (tests/quantized_models.py's
    deterministic builders); the model directory (tests/golden/gen_qwen35_quantized.py, the tests):

    * ``rows``: the linear-attention projections in_proj_qkv / z / b / a as ModelOpt NVFP4 blocks;
    * ``out_proj``: those and out_proj as NVFP4;
    * ``fp8``: every 2-D layer weight as block FP8 (``weight_scale_inv``, 128 × 128)."""
    import quantized_models as QM  # noqa: PLC0415 - tests/ on sys.path, as for the other fixtures

    from ._common import tiny
    fx = next(f for f in fixtures() if f.name == "qwen35")
    d = fx.write(Path(root))
    names = NVFP4_PROJECTIONS + ((".out_proj",) if variant == "out_proj" else ())
    out = []
    for i, (name, dt, shape, arr) in enumerate(QM._read_plain(d / "model.safetensors")):
        base = name[:-len(".weight")]
        layer = name.startswith("model.layers.") and name.endswith(".weight")
        if variant == "fp8" and layer and len(shape) == 2 and "norm" not in name:
            out += QM._quantized("fp8-block", base, tuple(shape), 1000 * (i + 1))
        elif variant != "fp8" and layer and base.endswith(names):
            out += QM._quantized("modelopt-nvfp4", base, tuple(shape), 1000 * (i + 1))
        else:
            out.append((name, dt, shape, arr))
    tiny.write_safetensors(d / "model.safetensors", sorted(out, key=lambda t: t[0]), {"format": "pt"})
    if variant == "fp8":
        cfg = json.loads((d / "config.json").read_text(encoding="utf-8"))
        cfg["quantization_config"] = QM.quantization_config("fp8-block")[0]
        (d / "config.json").write_text(json.dumps(cfg, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    else:
        (d / "hf_quant_config.json").write_text(json.dumps({"producer": {"name": "modelopt", "version": "0.31.0"},
                                                            "quantization": {"quant_algo": "NVFP4", "group_size": 16,
                                                                             "exclude_modules": ["lm_head"]}}))
    return d
