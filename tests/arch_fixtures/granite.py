"""Granite 3.x dense (GraniteForCausalLM) and MoE (GraniteMoeForCausalLM: fused 3-D
``input_linear`` [experts, 2*ff, hidden] and ``output_linear``, router ``router.layer``);
StarCoder-style byte-level BPE (Digits + ByteLevel), specials first."""

from __future__ import annotations

from typing import List

from ._common import DIGITS, Fixture, T, added, added_tokens_decoder, bpe, byte_level, llama_attn, llama_mlp, norm

STARCODER_SPECIALS = ["<|end_of_text|>", "<fim_prefix>", "<fim_middle>", "<fim_suffix>", "<fim_pad>", "<filename>",
                      "<gh_stars>", "<issue_start>", "<issue_comment>", "<issue_closed>", "<jupyter_start>",
                      "<jupyter_text>", "<jupyter_code>", "<jupyter_output>", "<empty_output>", "<commit_before>",
                      "<commit_msg>", "<commit_after>", "<reponame>"]
ROLE_TOKENS = ["<|start_of_role|>", "<|end_of_role|>", "<|tool_call|>"]
TEMPLATE = ("{%- for message in messages %}{{- '<|start_of_role|>' + message['role'] + '<|end_of_role|>' + "
            "message['content'] + '<|end_of_text|>\n' }}{%- endfor %}{%- if add_generation_prompt %}"
            "{{- '<|start_of_role|>assistant<|end_of_role|>' }}{%- endif %}")
PRE_SOURCE = ("convert_hf_to_gguf_update.py names smallcloudai/Refact-1_6-base's StarCoder-family tokenizer 'refact'; "
              "IBM Granite 3.x/4.x reuse that vocabulary and their published GGUF files carry tokenizer.ggml.pre "
              "'refact' (e.g. llama.cpp PR 22101's granite-4.0 log)")


def granite_tokenizer():
    b = bpe([(t, True) for t in STARCODER_SPECIALS], first=True, regex=None,
            pre_tokenizer={"type": "Sequence", "pretokenizers": [DIGITS, byte_level(True)]},
            decoder={"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
            post_processor={"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
            merges_as_pairs=False)
    n = b.n_vocab
    for i, c in enumerate(ROLE_TOKENS):
        b.added_tokens.append(added(c, n + i, True))
        b.ids[c] = n + i
    b.tokenizer_json["added_tokens"] = b.added_tokens
    b.n_vocab = n + len(ROLE_TOKENS)
    tc = {"add_bos_token": False, "add_prefix_space": False, "added_tokens_decoder": added_tokens_decoder(b.added_tokens),
          "additional_special_tokens": ROLE_TOKENS, "bos_token": "<|end_of_text|>", "chat_template": TEMPLATE,
          "clean_up_tokenization_spaces": True, "eos_token": "<|end_of_text|>", "errors": "replace",
          "model_max_length": 9223372036854775807, "pad_token": "<|end_of_text|>", "padding_side": "left",
          "tokenizer_class": "GPT2Tokenizer", "unk_token": "<|end_of_text|>", "vocab_file": None}
    return b, tc


def granite() -> Fixture:
    b, tc = granite_tokenizer()
    E, H, Hkv, F, L = 256, 4, 1, 512, 2   # granite-3.3-2b: 2048 / 8192, GQA 32/8, tied
    cfg = {"architectures": ["GraniteForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
           "attention_multiplier": 0.015625, "bos_token_id": 0, "embedding_multiplier": 12.0, "eos_token_id": 0,
           "hidden_act": "silu", "hidden_size": E, "initializer_range": 0.02, "intermediate_size": F,
           "logits_scaling": 8.0, "max_position_embeddings": 131072, "mlp_bias": False, "model_type": "granite",
           "num_attention_heads": H, "num_hidden_layers": L, "num_key_value_heads": Hkv, "pad_token_id": 0,
           "residual_multiplier": 0.22, "rms_norm_eps": 1e-05, "rope_scaling": None, "rope_theta": 10000000.0,
           "tie_word_embeddings": True, "torch_dtype": "bfloat16", "transformers_version": "4.49.0", "use_cache": True,
           "vocab_size": b.n_vocab}
    ts = [T("model.embed_tokens.weight", b.n_vocab, E), norm("model.norm.weight", E)]
    for i in range(L):
        p = f"model.layers.{i}."
        ts += llama_attn(p, E, H, Hkv, E // H) + llama_mlp(p, E, F)
        ts += [norm(p + "input_layernorm.weight", E), norm(p + "post_attention_layernorm.weight", E)]
    files = {"tokenizer.json": b.tokenizer_json, "tokenizer_config.json": tc,
             "generation_config.json": {"_from_model_config": True, "bos_token_id": 0, "eos_token_id": 0,
                                        "pad_token_id": 0, "transformers_version": "4.49.0"}}
    return Fixture("granite", "GraniteForCausalLM", "granite-3.3-2b-instruct", cfg, ts, files, pre="refact",
                   pre_source=PRE_SOURCE, notes="embedding/attention/residual multipliers and logits_scaling; tied")


def granitemoe() -> Fixture:
    b, tc = granite_tokenizer()
    E, H, Hkv, F, L, X = 256, 4, 2, 256, 2, 8   # granite-3.1-1b-a400m: 1024 / 512, 32 experts, 8 used
    cfg = {"architectures": ["GraniteMoeForCausalLM"], "attention_bias": False, "attention_dropout": 0.1,
           "attention_multiplier": 0.015625, "bos_token_id": 0, "embedding_multiplier": 12.0, "eos_token_id": 0,
           "hidden_act": "silu", "hidden_size": E, "initializer_range": 0.02, "intermediate_size": F,
           "logits_scaling": 6.0, "max_position_embeddings": 131072, "model_type": "granitemoe",
           "num_attention_heads": H, "num_experts_per_tok": 2, "num_hidden_layers": L, "num_key_value_heads": Hkv,
           "num_local_experts": X, "output_router_logits": False, "pad_token_id": 0, "residual_multiplier": 0.22,
           "rms_norm_eps": 1e-06, "rope_scaling": None, "rope_theta": 10000000.0, "router_aux_loss_coef": 0.0,
           "tie_word_embeddings": True, "torch_dtype": "bfloat16", "transformers_version": "4.47.0.dev0",
           "use_cache": True, "vocab_size": b.n_vocab}
    ts = [T("model.embed_tokens.weight", b.n_vocab, E), norm("model.norm.weight", E)]
    for i in range(L):
        p = f"model.layers.{i}."
        ts += llama_attn(p, E, H, Hkv, E // H)
        ts += [T(p + "block_sparse_moe.input_linear.weight", X, 2 * F, E),
               T(p + "block_sparse_moe.output_linear.weight", X, E, F),
               T(p + "block_sparse_moe.router.layer.weight", X, E),
               norm(p + "input_layernorm.weight", E), norm(p + "post_attention_layernorm.weight", E)]
    files = {"tokenizer.json": b.tokenizer_json, "tokenizer_config.json": tc,
             "generation_config.json": {"_from_model_config": True, "bos_token_id": 0, "eos_token_id": 0,
                                        "pad_token_id": 0, "transformers_version": "4.47.0.dev0"}}
    return Fixture("granitemoe", "GraniteMoeForCausalLM", "granite-3.1-1b-a400m-instruct", cfg, ts, files, pre="refact",
                   pre_source=PRE_SOURCE, notes="experts stored fused and 3-D (input_linear = gate|up); 8 experts, 2 used")


def fixtures() -> List[Fixture]:
    return [granite(), granitemoe()]
