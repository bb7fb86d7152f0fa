"""Command R7B (Cohere2ForCausalLM): parallel attention/MLP block with one LayerNorm
(weight only), tied embeddings, sliding window every 4th layer global, logit_scale;
Cohere's byte-level BPE (NFC, Digits + ByteLevel, specials first and at the end)."""

from __future__ import annotations

from typing import List

from ._common import (
    DIGITS,
    Fixture,
    T,
    added,
    added_tokens_decoder,
    bpe,
    byte_level,
    llama_attn,
    llama_mlp,
    norm,
    template_processing,
)

FIRST = ["<PAD>", "<UNK>", "<CLS>", "<SEP>", "<MASK_TOKEN>", "<BOS_TOKEN>", "<EOS_TOKEN>", "<EOP_TOKEN>"]
LAST = ["<|START_OF_TURN_TOKEN|>", "<|END_OF_TURN_TOKEN|>", "<|YES_TOKEN|>", "<|NO_TOKEN|>", "<|GOOD_TOKEN|>",
        "<|BAD_TOKEN|>", "<|USER_TOKEN|>", "<|CHATBOT_TOKEN|>", "<|SYSTEM_TOKEN|>", "<|START_RESPONSE|>",
        "<|END_RESPONSE|>"]


def fixtures() -> List[Fixture]:
    b = bpe([(t, True) for t in FIRST], first=True, regex=None, normalizer={"type": "NFC"},
            pre_tokenizer={"type": "Sequence", "pretokenizers": [DIGITS, byte_level(True)]},
            post_processor=template_processing("<BOS_TOKEN>", 5),
            decoder={"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True})
    n = b.n_vocab
    for i, c in enumerate(LAST):
        b.added_tokens.append(added(c, n + i, True))
        b.ids[c] = n + i
    b.tokenizer_json["added_tokens"] = b.added_tokens
    V = n + len(LAST)
    E, H, Hkv, D, F, L = 256, 4, 1, 64, 512, 4   # command-r7b: 4096 / 14336, 32 heads / 8 kv
    eot = b.ids["<|END_OF_TURN_TOKEN|>"]
    cfg = {"architectures": ["Cohere2ForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
           "bos_token_id": 5, "cache_implementation": "hybrid", "eos_token_id": eot, "head_dim": D,
           "hidden_act": "silu", "hidden_size": E, "initializer_range": 0.02, "intermediate_size": F,
           "layer_norm_eps": 1e-05, "layer_switch": 4, "logit_scale": 0.25, "max_position_embeddings": 8192,
           "model_type": "cohere2", "num_attention_heads": H, "num_hidden_layers": L, "num_key_value_heads": Hkv,
           "order_of_interleaved_layers": "local_attn_first", "pad_token_id": 0, "position_embedding_type": "rope_gptj",
           "rope_scaling": None, "rope_theta": 50000, "rotary_pct": 1.0, "sliding_window": 4096,
           "sliding_window_pattern": 4, "torch_dtype": "bfloat16", "transformers_version": "4.48.0.dev0",
           "use_cache": True, "use_embedding_sharing": True, "use_gated_activation": True, "vocab_size": V}
    ts = [T("model.embed_tokens.weight", V, E), norm("model.norm.weight", E)]
    for i in range(L):
        p = f"model.layers.{i}."
        ts += llama_attn(p, E, H, Hkv, D) + llama_mlp(p, E, F) + [norm(p + "input_layernorm.weight", E)]
    tc = {"add_bos_token": True, "add_eos_token": False, "add_prefix_space": False,
          "added_tokens_decoder": added_tokens_decoder(b.added_tokens), "bos_token": "<BOS_TOKEN>",
          "chat_template": "{{ bos_token }}{% for message in messages %}{{ '<|START_OF_TURN_TOKEN|>' + "
                           "('<|USER_TOKEN|>' if message['role'] == 'user' else '<|CHATBOT_TOKEN|>') + "
                           "message['content'] + '<|END_OF_TURN_TOKEN|>' }}{% endfor %}{% if add_generation_prompt %}"
                           "{{ '<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>' }}{% endif %}",
          "clean_up_tokenization_spaces": False, "eos_token": "<|END_OF_TURN_TOKEN|>", "legacy": True,
          "merges_file": None, "model_max_length": 1000000000000000019884624838656, "pad_token": "<PAD>",
          "sp_model_kwargs": {}, "spaces_between_special_tokens": False, "tokenizer_class": "CohereTokenizer",
          "unk_token": None, "use_default_system_prompt": False, "vocab_file": None}
    files = {"tokenizer.json": b.tokenizer_json, "tokenizer_config.json": tc,
             "generation_config.json": {"_from_model_config": True, "bos_token_id": 5, "cache_implementation": "hybrid",
                                        "eos_token_id": eot, "pad_token_id": 0, "transformers_version": "4.48.0.dev0"}}
    return [Fixture("cohere2", "Cohere2ForCausalLM", "c4ai-command-r7b-12-2024", cfg, ts, files, pre="command-r",
                    pre_source="convert_hf_to_gguf_update.py names CohereForAI/c4ai-command-r-v01's tokenizer "
                               "'command-r'; Command R7B ships the same 256000-token vocabulary",
                    notes="4 layers (3 sliding + 1 global); one input LayerNorm per layer, no biases in the checkpoint")]
