"""Llama 4: Scout-shaped Llama4ForConditionalGeneration (text model under language_model.*, a
vision model and projector the text conversion leaves out; every layer MoE with 1 routed + 1
shared expert; fused 3-D experts ``feed_forward.experts.gate_up_proj`` [experts, hidden, 2*ff]
and ``down_proj`` [experts, ff, hidden], transposed and without ``.weight``) and a
Maverick-shaped text-only Llama4ForCausalLM (interleave_moe_layer_step 2: dense layers with
intermediate_size_mlp between MoE layers). QK-norm without weights, NoPE every fourth layer,
llama3 rope scaling; o200k-like BPE with Llama 4's specials."""

from __future__ import annotations

from typing import List

from ._common import (
    O200K_REGEX,
    Fixture,
    T,
    added_tokens_decoder,
    bpe,
    llama_attn,
    llama_mlp,
    norm,
    template_processing,
)

SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>",
            "<|header_start|>", "<|header_end|>", "<|eom|>", "<|eot|>", "<|step|>", "<|text_post_train_reserved_special_token_0|>",
            "<|python_start|>", "<|python_end|>", "<|finetune_right_pad|>", "<|image_start|>", "<|image_end|>",
            "<|image|>", "<|patch|>"]
PRE = ("convert_hf_to_gguf_update.py names meta-llama/Llama-4-Scout-17B-16E-Instruct's tokenizer 'llama4' (Maverick "
       "ships the same)")


def tokenizer():
    b = bpe([(t, True) for t in SPECIALS], regex=O200K_REGEX, ignore_merges=True,
            post_processor={"type": "Sequence", "processors": [
                {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
                template_processing("<|begin_of_text|>", None)]})
    b.tokenizer_json["post_processor"]["processors"][1]["special_tokens"]["<|begin_of_text|>"]["ids"] = \
        [b.ids["<|begin_of_text|>"]]
    tc = {"added_tokens_decoder": added_tokens_decoder(b.added_tokens), "bos_token": "<|begin_of_text|>",
          "chat_template": "{{- bos_token }}{%- for message in messages %}{{- '<|header_start|>' + message['role'] + "
                           "'<|header_end|>\n\n' + message['content'] + '<|eot|>' }}{%- endfor %}"
                           "{%- if add_generation_prompt %}{{- '<|header_start|>assistant<|header_end|>\n\n' }}{%- endif %}",
          "clean_up_tokenization_spaces": False, "eos_token": "<|eot|>", "extra_special_tokens": {},
          "model_input_names": ["input_ids", "attention_mask"], "model_max_length": 10485760,
          "pad_token": "<|finetune_right_pad|>", "processor_class": "Llama4Processor",
          "tokenizer_class": "PreTrainedTokenizerFast"}
    return b, tc


def text_config(b, V, E, H, Hkv, D, F, FMLP, L, X, step) -> dict:
    return {"attention_bias": False, "attention_chunk_size": 8192, "attention_dropout": 0.0,
            "bos_token_id": b.ids["<|begin_of_text|>"],
            "eos_token_id": [b.ids["<|end_of_text|>"], b.ids["<|eom|>"], b.ids["<|eot|>"]], "for_llm_compressor": False,
            "head_dim": D, "hidden_act": "silu", "hidden_size": E, "initializer_range": 0.02,
            "interleave_moe_layer_step": step, "intermediate_size": F, "intermediate_size_mlp": FMLP,
            "max_position_embeddings": 10485760, "model_type": "llama4_text",
            "moe_layers": [i for i in range(L) if (i + 1) % step == 0], "no_rope_layers": [1, 1, 1, 0][:L],
            "num_attention_heads": H, "num_experts_per_tok": 1, "num_hidden_layers": L, "num_key_value_heads": Hkv,
            "num_local_experts": X, "output_router_logits": False, "pad_token_id": b.ids["<|finetune_right_pad|>"],
            "rms_norm_eps": 1e-05,
            "rope_scaling": {"factor": 16.0, "high_freq_factor": 1.0, "low_freq_factor": 1.0,
                             "original_max_position_embeddings": 8192, "rope_type": "llama3"},
            "rope_theta": 500000.0, "router_aux_loss_coef": 0.001, "router_jitter_noise": 0.0,
            "torch_dtype": "bfloat16", "use_cache": True, "use_qk_norm": True, "vocab_size": V}


def layers(prefix: str, E, H, Hkv, D, F, FMLP, L, X, step) -> list:
    ts = []
    for i in range(L):
        p = f"{prefix}layers.{i}."
        ts += llama_attn(p, E, H, Hkv, D) + [norm(p + "input_layernorm.weight", E),
                                             norm(p + "post_attention_layernorm.weight", E)]
        if (i + 1) % step == 0:
            f = p + "feed_forward."
            ts += [T(f + "router.weight", X, E), T(f + "experts.gate_up_proj", X, E, 2 * F),
                   T(f + "experts.down_proj", X, F, E)]
            ts += llama_mlp(p, E, F, mlp="feed_forward.shared_expert")
        else:
            ts += llama_mlp(p, E, FMLP, mlp="feed_forward")
    return ts


def scout_vlm() -> Fixture:
    b, tc = tokenizer()
    V = b.n_vocab + 4
    E, H, Hkv, D, F, FMLP, L, X = 256, 4, 2, 64, 256, 512, 4, 4   # Scout: 5120, 40/8 heads, 8192 / 16384, 16 experts
    C = 64
    cfg = {"architectures": ["Llama4ForConditionalGeneration"], "boi_token_index": b.ids["<|image_start|>"],
           "eoi_token_index": b.ids["<|image_end|>"], "image_token_index": b.ids["<|patch|>"],
           "model_type": "llama4", "text_config": text_config(b, V, E, H, Hkv, D, F, FMLP, L, X, 1),
           "tie_word_embeddings": False, "torch_dtype": "bfloat16", "transformers_version": "4.51.0.dev0",
           "vision_config": {"attention_dropout": 0.0, "hidden_act": "gelu", "hidden_size": C, "image_size": 28,
                             "initializer_range": 0.02, "intermediate_size": 128, "model_type": "llama4_vision_model",
                             "multi_modal_projector_bias": False, "norm_eps": 1e-05, "num_attention_heads": 2,
                             "num_channels": 3, "num_hidden_layers": 1, "patch_size": 14, "pixel_shuffle_ratio": 0.5,
                             "projector_dropout": 0.0, "projector_input_dim": E, "projector_output_dim": E,
                             "rope_theta": 10000, "vision_feature_layer": -1,
                             "vision_feature_select_strategy": "default", "vision_output_dim": E}}
    lm = "language_model.model."
    ts = [T(lm + "embed_tokens.weight", V, E), norm(lm + "norm.weight", E), T("language_model.lm_head.weight", V, E)]
    ts += layers(lm, E, H, Hkv, D, F, FMLP, L, X, 1)
    v = "vision_model."
    ts += [T(v + "patch_embedding.linear.weight", C, 3 * 14 * 14), T(v + "class_embedding", C),
           T(v + "positional_embedding_vlm", 5, C), norm(v + "layernorm_pre.weight", C), T(v + "layernorm_pre.bias", C),
           norm(v + "layernorm_post.weight", C), T(v + "layernorm_post.bias", C),
           T(v + "vision_adapter.mlp.fc1.weight", 128, 4 * C), T(v + "vision_adapter.mlp.fc2.weight", E, 128)]
    q = v + "model.layers.0."
    ts += [norm(q + "input_layernorm.weight", C), T(q + "input_layernorm.bias", C),
           norm(q + "post_attention_layernorm.weight", C), T(q + "post_attention_layernorm.bias", C),
           T(q + "mlp.fc1.weight", 128, C), T(q + "mlp.fc1.bias", 128), T(q + "mlp.fc2.weight", C, 128),
           T(q + "mlp.fc2.bias", C)]
    for n in ("q_proj", "k_proj", "v_proj", "o_proj"):
        ts += [T(q + f"self_attn.{n}.weight", C, C), T(q + f"self_attn.{n}.bias", C)]
    ts += [T("multi_modal_projector.linear_1.weight", E, E)]
    files = {"tokenizer.json": b.tokenizer_json, "tokenizer_config.json": tc,
             "generation_config.json": {"bos_token_id": b.ids["<|begin_of_text|>"],
                                        "eos_token_id": [b.ids["<|end_of_text|>"], b.ids["<|eom|>"], b.ids["<|eot|>"]],
                                        "pad_token_id": b.ids["<|finetune_right_pad|>"], "temperature": 0.6,
                                        "top_p": 0.9, "transformers_version": "4.51.0.dev0"}}
    return Fixture("llama4_vlm", "Llama4ForConditionalGeneration", "Llama-4-Scout-17B-16E-Instruct", cfg, ts, files,
                   pre="llama4", pre_source=PRE, shards=2,
                   notes="4 MoE layers (4 experts, 1 used, shared expert); vision model + projector present (dropped "
                         "by the text conversion); sharded in 2 files")


def maverick_text() -> Fixture:
    b, tc = tokenizer()
    del tc["processor_class"]
    V = b.n_vocab + 4
    E, H, Hkv, D, F, FMLP, L, X = 256, 4, 2, 64, 256, 512, 4, 8   # Maverick: 128 experts, step 2
    cfg = {"architectures": ["Llama4ForCausalLM"], **text_config(b, V, E, H, Hkv, D, F, FMLP, L, X, 2),
           "tie_word_embeddings": False, "transformers_version": "4.51.0.dev0"}
    ts = [T("model.embed_tokens.weight", V, E), norm("model.norm.weight", E), T("lm_head.weight", V, E)]
    ts += layers("model.", E, H, Hkv, D, F, FMLP, L, X, 2)
    files = {"tokenizer.json": b.tokenizer_json, "tokenizer_config.json": tc,
             "generation_config.json": {"bos_token_id": b.ids["<|begin_of_text|>"],
                                        "eos_token_id": [b.ids["<|end_of_text|>"], b.ids["<|eom|>"], b.ids["<|eot|>"]],
                                        "pad_token_id": b.ids["<|finetune_right_pad|>"],
                                        "transformers_version": "4.51.0.dev0"}}
    return Fixture("llama4_text", "Llama4ForCausalLM", "Llama-4-Maverick-17B-128E-Instruct-text", cfg, ts, files,
                   pre="llama4", pre_source=PRE,
                   notes="interleave_moe_layer_step 2: dense layers (intermediate_size_mlp) alternate with MoE layers "
                         "(8 experts, 1 used, shared expert)")


def fixtures() -> List[Fixture]:
    return [scout_vlm(), maverick_text()]
