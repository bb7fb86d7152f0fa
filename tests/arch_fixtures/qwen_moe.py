"""Qwen1.5/2 MoE (Qwen2MoeForCausalLM: per-expert tensors, shared expert and its sigmoid
gate, q/k/v biases, expert rows of 1408 → here 352, not a multiple of 256) and Qwen3 MoE
(Qwen3MoeForCausalLM: per-expert tensors, q/k norms, no shared expert)."""

from __future__ import annotations

from typing import List

from ._common import Fixture, T, experts, llama_attn, norm, pad_to, qwen_tokenizer

QWEN2_PRE = ("convert_hf_to_gguf_update.py names Qwen/Qwen1.5-7B's tokenizer 'qwen2'; the Qwen1.5/Qwen2/Qwen3 MoE "
             "models ship the same vocabulary and regex")


def qwen2moe() -> Fixture:
    b, tc = qwen_tokenizer()
    V = pad_to(b.n_vocab, 128)  # 151936
    E, H, F, FS, L, X = 256, 4, 352, 1024, 2, 4   # Qwen1.5-MoE-A2.7B: 2048, moe 1408, shared 5632, 60 experts / 4 used
    cfg = {"architectures": ["Qwen2MoeForCausalLM"], "attention_dropout": 0.0, "bos_token_id": b.ids["<|endoftext|>"],
           "decoder_sparse_step": 1, "eos_token_id": b.ids["<|endoftext|>"], "hidden_act": "silu", "hidden_size": E,
           "initializer_range": 0.02, "intermediate_size": 1408, "max_position_embeddings": 8192,
           "max_window_layers": 21, "model_type": "qwen2_moe", "moe_intermediate_size": F, "norm_topk_prob": False,
           "num_attention_heads": H, "num_experts": X, "num_experts_per_tok": 2, "num_hidden_layers": L,
           "num_key_value_heads": H, "output_router_logits": False, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0,
           "router_aux_loss_coef": 0.001, "shared_expert_intermediate_size": FS, "sliding_window": 32768,
           "tie_word_embeddings": False, "torch_dtype": "bfloat16", "transformers_version": "4.40.0.dev0",
           "use_cache": True, "use_sliding_window": False, "vocab_size": V}
    ts = [T("model.embed_tokens.weight", V, E), norm("model.norm.weight", E), T("lm_head.weight", V, E)]
    for i in range(L):
        p = f"model.layers.{i}."
        ts += llama_attn(p, E, H, H, E // H, bias=True) + experts(p, X, E, F)
        ts += [T(p + "mlp.gate.weight", X, E), T(p + "mlp.shared_expert.gate_proj.weight", FS, E),
               T(p + "mlp.shared_expert.up_proj.weight", FS, E), T(p + "mlp.shared_expert.down_proj.weight", E, FS),
               T(p + "mlp.shared_expert_gate.weight", 1, E),
               norm(p + "input_layernorm.weight", E), norm(p + "post_attention_layernorm.weight", E)]
    tc = dict(tc, eos_token="<|endoftext|>")
    files = {"tokenizer.json": b.tokenizer_json, "tokenizer_config.json": tc,
             "generation_config.json": {"bos_token_id": b.ids["<|endoftext|>"], "do_sample": False,
                                        "eos_token_id": b.ids["<|endoftext|>"], "max_new_tokens": 2048,
                                        "transformers_version": "4.40.0.dev0"}}
    return Fixture("qwen2moe", "Qwen2MoeForCausalLM", "Qwen1.5-MoE-A2.7B", cfg, ts, files, pre="qwen2",
                   pre_source=QWEN2_PRE, notes="4 of 60 experts, 2 used; expert rows of 352 (1408 in the real model)")


def qwen3moe() -> Fixture:
    b, tc = qwen_tokenizer(extra=[("<tool_response>", False), ("</tool_response>", False), ("<think>", False),
                                  ("</think>", False)])
    V = pad_to(b.n_vocab, 128)
    E, H, Hkv, D, F, L, X = 256, 4, 2, 64, 256, 2, 8   # Qwen3-30B-A3B: 2048, head_dim 128, moe 768, 128 experts / 8 used
    cfg = {"architectures": ["Qwen3MoeForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
           "bos_token_id": b.ids["<|endoftext|>"], "decoder_sparse_step": 1, "eos_token_id": b.ids["<|im_end|>"],
           "head_dim": D, "hidden_act": "silu", "hidden_size": E, "initializer_range": 0.02, "intermediate_size": 6144,
           "max_position_embeddings": 40960, "max_window_layers": 48, "mlp_only_layers": [], "model_type": "qwen3_moe",
           "moe_intermediate_size": F, "norm_topk_prob": True, "num_attention_heads": H, "num_experts": X,
           "num_experts_per_tok": 2, "num_hidden_layers": L, "num_key_value_heads": Hkv, "output_router_logits": False,
           "rms_norm_eps": 1e-06, "rope_scaling": None, "rope_theta": 1000000.0, "router_aux_loss_coef": 0.001,
           "sliding_window": None, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
           "transformers_version": "4.51.0", "use_cache": True, "use_sliding_window": False, "vocab_size": V}
    ts = [T("model.embed_tokens.weight", V, E), norm("model.norm.weight", E), T("lm_head.weight", V, E)]
    for i in range(L):
        p = f"model.layers.{i}."
        ts += llama_attn(p, E, H, Hkv, D, qk_norm="head") + experts(p, X, E, F)
        ts += [T(p + "mlp.gate.weight", X, E), norm(p + "input_layernorm.weight", E),
               norm(p + "post_attention_layernorm.weight", E)]
    files = {"tokenizer.json": b.tokenizer_json, "tokenizer_config.json": tc,
             "generation_config.json": {"bos_token_id": b.ids["<|endoftext|>"], "do_sample": True,
                                        "eos_token_id": [b.ids["<|im_end|>"], b.ids["<|endoftext|>"]],
                                        "pad_token_id": b.ids["<|endoftext|>"], "temperature": 0.6, "top_k": 20,
                                        "top_p": 0.95, "transformers_version": "4.51.0"}}
    return Fixture("qwen3moe", "Qwen3MoeForCausalLM", "Qwen3-30B-A3B", cfg, ts, files, pre="qwen2", pre_source=QWEN2_PRE,
                   notes="8 of 128 experts, 2 used; head_dim 64 with hidden 256 (128 with 2048 in the real model)")


def fixtures() -> List[Fixture]:
    return [qwen2moe(), qwen3moe()]
