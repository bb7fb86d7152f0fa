"""GLM-4.5 / 4.6 (Glm4MoeForCausalLM: q/k/v biases, partial rotary 0.5, one leading dense layer,
sigmoid routing with e_score_correction_bias, shared expert, and the extra next-token-prediction
layer model.layers.{num_hidden_layers}.* with eh_proj / enorm / hnorm / shared_head.norm) and
GLM-4.7-Flash (Glm4MoeLiteForCausalLM: the DeepSeek-V2 MLA architecture with GLM's tokenizer
and an MTP layer the converter keeps)."""

from __future__ import annotations

from typing import List

from ._common import CL100K_REGEX, Fixture, T, added_tokens_decoder, bpe, experts, llama_attn, llama_mlp, norm
from .deepseek import mla_attn, moe
from .deepseek import mlp as ds_mlp

GLM_SPECIALS = ["<|endoftext|>", "[MASK]", "[gMASK]", "[sMASK]", "<sop>", "<eop>", "<|system|>", "<|user|>",
                "<|assistant|>", "<|observation|>", "<|begin_of_image|>", "<|end_of_image|>", "<|begin_of_video|>",
                "<|end_of_video|>", "<think>", "</think>", "<tool_call>", "</tool_call>"]
TEMPLATE = ("[gMASK]<sop>{%- for m in messages %}{{ '<|' + m['role'] + '|>\n' + m['content'] }}{%- endfor %}"
            "{%- if add_generation_prompt %}{{ '<|assistant|>' }}{%- endif %}")
PRE = ("convert_hf_to_gguf_update.py lists zai-org/GLM-4.5-Air (and GLM-4.7-Flash) with their own hashes, named 'glm4'")


def glm_tokenizer():
    b = bpe([(t, not t.endswith(("think>", "tool_call>"))) for t in GLM_SPECIALS], regex=CL100K_REGEX,
            ignore_merges=False, post_processor={"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False,
                                                 "use_regex": True})
    tc = {"added_tokens_decoder": added_tokens_decoder(b.added_tokens), "additional_special_tokens": GLM_SPECIALS[:14],
          "chat_template": TEMPLATE, "clean_up_tokenization_spaces": False, "do_lower_case": False,
          "eos_token": "<|endoftext|>", "extra_special_tokens": {}, "model_max_length": 128000,
          "pad_token": "<|endoftext|>", "padding_side": "left", "remove_space": False,
          "tokenizer_class": "PreTrainedTokenizerFast"}
    return b, tc


def glm45() -> Fixture:
    b, tc = glm_tokenizer()
    V = b.n_vocab + 4
    E, H, Hkv, D, F, FM, X, L = 256, 4, 2, 64, 608, 352, 8, 2   # GLM-4.5-Air: 4096, 96 heads / 8, 10944 / 1408
    eot = [b.ids["<|endoftext|>"], b.ids["<|user|>"], b.ids["<|observation|>"]]
    cfg = {"architectures": ["Glm4MoeForCausalLM"], "attention_bias": True, "attention_dropout": 0.0,
           "pad_token_id": b.ids["<|endoftext|>"], "eos_token_id": eot, "head_dim": D, "hidden_act": "silu",
           "hidden_size": E, "partial_rotary_factor": 0.5, "initializer_range": 0.02, "intermediate_size": F,
           "max_position_embeddings": 131072, "model_type": "glm4_moe", "moe_intermediate_size": FM,
           "norm_topk_prob": True, "num_attention_heads": H, "n_group": 1, "topk_group": 1, "n_routed_experts": X,
           "n_shared_experts": 1, "routed_scaling_factor": 1.0, "num_experts_per_tok": 2, "first_k_dense_replace": 1,
           "num_hidden_layers": L, "num_key_value_heads": Hkv, "rms_norm_eps": 1e-05, "rope_scaling": None,
           "rope_theta": 1000000, "num_nextn_predict_layers": 1, "tie_word_embeddings": False,
           "torch_dtype": "bfloat16", "transformers_version": "4.54.0", "use_cache": True, "use_qk_norm": False,
           "vocab_size": V}
    ts = [T("model.embed_tokens.weight", V, E), norm("model.norm.weight", E), T("lm_head.weight", V, E)]
    for i in range(L + 1):
        p = f"model.layers.{i}."
        ts += llama_attn(p, E, H, Hkv, D, bias=True)
        if i == 0:
            ts += llama_mlp(p, E, F)
        else:
            ts += experts(p, X, E, FM) + [T(p + "mlp.gate.weight", X, E),
                                          T(p + "mlp.gate.e_score_correction_bias", X, dtype="F32", std=0.01)]
            ts += llama_mlp(p, E, FM, mlp="mlp.shared_experts")
        ts += [norm(p + "input_layernorm.weight", E), norm(p + "post_attention_layernorm.weight", E)]
    p = f"model.layers.{L}."   # the next-token-prediction layer
    ts += [T(p + "eh_proj.weight", E, 2 * E), norm(p + "enorm.weight", E), norm(p + "hnorm.weight", E),
           norm(p + "shared_head.norm.weight", E)]
    files = {"tokenizer.json": b.tokenizer_json, "tokenizer_config.json": tc,
             "generation_config.json": {"_from_model_config": True, "eos_token_id": eot,
                                        "pad_token_id": b.ids["<|endoftext|>"], "temperature": 0.6, "top_p": 0.95,
                                        "transformers_version": "4.54.0"}}
    return Fixture("glm45", "Glm4MoeForCausalLM", "GLM-4.5-Air", cfg, ts, files, pre="glm4", pre_source=PRE,
                   notes="1 dense + 1 MoE layer + the NextN layer (model.layers.2.*: a full MoE decoder layer plus "
                         "eh_proj/enorm/hnorm/shared_head.norm); 8 experts, 2 used; rows of 608/352 (10944/1408)")


def glm47_flash() -> Fixture:
    b, tc = glm_tokenizer()
    V = b.n_vocab + 4
    E, H, QL, KV, NOPE, ROPE, VD = 256, 2, 256, 256, 192, 64, 256   # GLM-4.7-Flash: 2048, 20 heads, q_lora 768, kv_lora 512
    F, FM, X, L = 512, 256, 8, 2
    eot = [b.ids["<|endoftext|>"], b.ids["<|user|>"], b.ids["<|observation|>"]]
    cfg = {"architectures": ["Glm4MoeLiteForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
           "eos_token_id": eot, "first_k_dense_replace": 1, "hidden_act": "silu", "hidden_size": E,
           "initializer_range": 0.02, "intermediate_size": F, "kv_lora_rank": KV, "max_position_embeddings": 202752,
           "model_type": "glm4_moe_lite", "moe_intermediate_size": FM, "n_group": 1, "n_routed_experts": X,
           "n_shared_experts": 1, "norm_topk_prob": True, "num_attention_heads": H, "num_experts_per_tok": 2,
           "num_hidden_layers": L, "num_key_value_heads": H, "num_nextn_predict_layers": 1,
           "pad_token_id": b.ids["<|endoftext|>"], "partial_rotary_factor": 1.0, "q_lora_rank": QL,
           "qk_nope_head_dim": NOPE, "qk_rope_head_dim": ROPE, "rms_norm_eps": 1e-05, "rope_scaling": None,
           "rope_theta": 1000000, "routed_scaling_factor": 1.8, "scoring_func": "sigmoid", "tie_word_embeddings": False,
           "topk_group": 1, "topk_method": "noaux_tc", "torch_dtype": "bfloat16", "transformers_version": "5.0.0.dev0",
           "use_cache": True, "v_head_dim": VD, "vocab_size": V}
    ts = [T("model.embed_tokens.weight", V, E), norm("model.norm.weight", E), T("lm_head.weight", V, E)]
    for i in range(L + 1):
        p = f"model.layers.{i}."
        ts += mla_attn(p, E, H, QL, KV, NOPE, ROPE, VD, False)
        ts += ds_mlp(p, E, F, False) if i == 0 else moe(p, E, FM, X, 1, False, True)
        ts += [norm(p + "input_layernorm.weight", E), norm(p + "post_attention_layernorm.weight", E)]
    p = f"model.layers.{L}."
    ts += [T(p + "eh_proj.weight", E, 2 * E), norm(p + "enorm.weight", E), norm(p + "hnorm.weight", E),
           norm(p + "shared_head.norm.weight", E)]
    files = {"tokenizer.json": b.tokenizer_json, "tokenizer_config.json": tc,
             "generation_config.json": {"eos_token_id": eot, "pad_token_id": b.ids["<|endoftext|>"],
                                        "temperature": 1.0, "top_p": 0.95, "transformers_version": "5.0.0.dev0"}}
    return Fixture("glm47_flash", "Glm4MoeLiteForCausalLM", "GLM-4.7-Flash", cfg, ts, files, pre="glm4", pre_source=PRE,
                   notes="DeepSeek-V2 MLA layout (deepseek2 in GGUF) with q LoRA, v_head_dim 256; the MTP layer is "
                         "kept; model_type glm4_moe_lite unknown to transformers 4.57.6")


def fixtures() -> List[Fixture]:
    return [glm45(), glm47_flash()]
