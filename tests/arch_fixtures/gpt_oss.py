"""gpt-oss (GptOssForCausalLM), stored as the published checkpoints are: experts fused and
3-D, MXFP4 (``*_blocks`` uint8 [experts, rows, cols/32, 16] with ``*_scales`` uint8 E8M0
exponents [experts, rows, cols/32]) with bf16 biases, gate/up interleaved row by row; attention
sinks; q/k/v/o biases; router with bias; alternating sliding/full layers; YaRN; o200k_harmony
tokenizer. Hidden size 320 keeps the real model's property (2880) of rows that are multiples
of 32 but not of 256."""

from __future__ import annotations

import zlib
from typing import List

import numpy as np

from ._common import O200K_REGEX, Fixture, T, Tensor, _splitmix, added_tokens_decoder, bpe, llama_attn, norm

HARMONY = [("<|startoftext|>", True), ("<|endoftext|>", True), ("<|reserved_200000|>", True),
           ("<|reserved_200001|>", True), ("<|return|>", True), ("<|constrain|>", True), ("<|reserved_200004|>", True),
           ("<|channel|>", True), ("<|start|>", True), ("<|end|>", True), ("<|message|>", True),
           ("<|reserved_200009|>", True), ("<|reserved_200010|>", True), ("<|reserved_200011|>", True),
           ("<|call|>", True)]


def u8(name: str, shape, lo: int, hi: int) -> Tensor:
    """uint8 values in [lo, hi] (MXFP4 nibble pairs when lo=0, hi=255; E8M0 exponents otherwise)."""
    def raw():
        n = int(np.prod(shape))
        r = _splitmix(zlib.crc32(name.encode()), n)
        return (lo + (r >> np.uint64(13)) % np.uint64(hi - lo + 1)).astype(np.uint8).reshape(tuple(shape))
    return Tensor(name, tuple(shape), "U8", raw=raw)


def fixtures() -> List[Fixture]:
    b = bpe(HARMONY, regex=O200K_REGEX, post_processor={"type": "ByteLevel", "add_prefix_space": False,
                                                        "trim_offsets": True, "use_regex": False})
    V = b.n_vocab + 3
    E, H, Hkv, D, F, L, X = 320, 4, 2, 64, 320, 2, 4   # gpt-oss-20b: 2880 / 2880, 64 heads / 8, head_dim 64, 32 experts / 4
    cfg = {"architectures": ["GptOssForCausalLM"], "attention_bias": True, "attention_dropout": 0.0,
           "eos_token_id": b.ids["<|return|>"], "experts_per_token": 2, "head_dim": D, "hidden_act": "silu",
           "hidden_size": E, "initial_context_length": 4096, "initializer_range": 0.02, "intermediate_size": F,
           "layer_types": ["sliding_attention", "full_attention"], "max_position_embeddings": 131072,
           "model_type": "gpt_oss", "num_attention_heads": H, "num_experts_per_tok": 2, "num_hidden_layers": L,
           "num_key_value_heads": Hkv, "num_local_experts": X, "output_router_logits": False,
           "pad_token_id": b.ids["<|endoftext|>"],
           "quantization_config": {"modules_to_not_convert": ["model.layers.*.self_attn", "model.layers.*.mlp.router",
                                                              "model.embed_tokens", "lm_head"],
                                   "quant_method": "mxfp4"},
           "rms_norm_eps": 1e-05,
           "rope_scaling": {"beta_fast": 32.0, "beta_slow": 1.0, "factor": 32.0, "original_max_position_embeddings": 4096,
                            "rope_type": "yarn", "truncate": False},
           "rope_theta": 150000, "router_aux_loss_coef": 0.9, "sliding_window": 128, "swiglu_limit": 7.0,
           "tie_word_embeddings": False, "transformers_version": "4.55.0.dev0", "use_cache": True, "vocab_size": V}
    ts = [T("model.embed_tokens.weight", V, E), norm("model.norm.weight", E), T("lm_head.weight", V, E)]
    for i in range(L):
        p = f"model.layers.{i}."
        ts += llama_attn(p, E, H, Hkv, D, bias=True, o_bias=True)
        ts += [T(p + "self_attn.sinks", H, std=0.5), T(p + "mlp.router.weight", X, E), T(p + "mlp.router.bias", X),
               norm(p + "input_layernorm.weight", E), norm(p + "post_attention_layernorm.weight", E)]
        m = p + "mlp.experts."
        ts += [u8(m + "gate_up_proj_blocks", (X, 2 * F, E // 32, 16), 0, 255),
               u8(m + "gate_up_proj_scales", (X, 2 * F, E // 32), 118, 122), T(m + "gate_up_proj_bias", X, 2 * F),
               u8(m + "down_proj_blocks", (X, E, F // 32, 16), 0, 255), u8(m + "down_proj_scales", (X, E, F // 32), 118, 122),
               T(m + "down_proj_bias", X, E)]
    tc = {"added_tokens_decoder": added_tokens_decoder(b.added_tokens), "bos_token": "<|startoftext|>",
          "chat_template": "{%- for message in messages -%}{{- '<|start|>' + message['role'] + '<|message|>' + "
                           "message['content'] + '<|end|>' -}}{%- endfor -%}{%- if add_generation_prompt -%}"
                           "<|start|>assistant{%- endif -%}",
          "clean_up_tokenization_spaces": False, "eos_token": "<|return|>", "extra_special_tokens": {},
          "model_input_names": ["input_ids", "attention_mask"], "model_max_length": 1000000000000000019884624838656,
          "pad_token": "<|endoftext|>", "tokenizer_class": "PreTrainedTokenizerFast"}
    files = {"tokenizer.json": b.tokenizer_json, "tokenizer_config.json": tc,
             "generation_config.json": {"bos_token_id": b.ids["<|startoftext|>"], "do_sample": True,
                                        "eos_token_id": [b.ids["<|return|>"], b.ids["<|call|>"]],
                                        "pad_token_id": b.ids["<|endoftext|>"], "transformers_version": "4.55.0.dev0"}}
    return [Fixture("gpt_oss", "GptOssForCausalLM", "gpt-oss-20b", cfg, ts, files, pre="gpt-4o", shards=2,
                    pre_source="convert_hf_to_gguf_update.py names Xenova/gpt-4o's o200k tokenizer 'gpt-4o'; gpt-oss's "
                               "o200k_harmony has the same vocabulary and regex (special tokens aside)",
                    notes="MXFP4 experts (4, 2 used) with bf16 biases; attention sinks; sliding/full alternation; "
                          "sharded in 2 files")]
