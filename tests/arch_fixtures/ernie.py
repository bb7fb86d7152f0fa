"""ERNIE 4.5 0.3B (Ernie4_5ForCausalLM): Llama-like dense block, GQA with head_dim 128, tied
embeddings; SentencePiece tokenizer.model with the special tokens inside the model, no
tokenizer.json (the real -PT repository ships tokenizer.model + tokenizer_config.json)."""

from __future__ import annotations

from typing import List

from ._common import (
    SPM_BYTE,
    SPM_CONTROL,
    SPM_UNKNOWN,
    SPM_USER_DEFINED,
    Fixture,
    T,
    added,
    added_tokens_decoder,
    llama_attn,
    llama_mlp,
    norm,
    spm_model,
    spm_word_pieces,
)


def fixtures() -> List[Fixture]:
    pieces = [("<unk>", 0.0, SPM_UNKNOWN), ("<s>", 0.0, SPM_CONTROL), ("</s>", 0.0, SPM_CONTROL),
              ("0", 0.0, SPM_USER_DEFINED), ("1", 0.0, SPM_USER_DEFINED)]
    pieces += [(f"<0x{b:02X}>", 0.0, SPM_BYTE) for b in range(256)]
    pieces += [p for p in spm_word_pieces() if p[0] not in ("0", "1")]
    n = len(pieces)
    extra = ["<|begin_of_sentence|>", "<|end_of_sentence|>", "<|IMAGE_PLACEHOLDER|>", "<mask:0>", "<mask:1>",
             "<|im_start|>", "<|im_end|>", "<think>", "</think>"]
    pieces += [(t, 0.0, SPM_CONTROL if not t.startswith("<think") and not t.startswith("</think") else SPM_USER_DEFINED)
               for t in extra]
    V = len(pieces)
    E, H, Hkv, D, F, L = 256, 4, 1, 128, 768, 2   # 0.3B: 1024 / 3072, 16 heads / 2 kv, head_dim 128
    cfg = {"architectures": ["Ernie4_5ForCausalLM"], "bos_token_id": 1, "eos_token_id": 2, "head_dim": D,
           "hidden_act": "silu", "hidden_size": E, "intermediate_size": F, "max_position_embeddings": 131072,
           "model_type": "ernie4_5", "num_attention_heads": H, "num_hidden_layers": L, "num_key_value_heads": Hkv,
           "pad_token_id": 0, "rms_norm_eps": 1e-05, "rope_theta": 500000, "tie_word_embeddings": True,
           "torch_dtype": "bfloat16", "use_bias": False, "use_cache": False, "vocab_size": V}
    ts = [T("model.embed_tokens.weight", V, E), norm("model.norm.weight", E)]
    for i in range(L):
        p = f"model.layers.{i}."
        ts += llama_attn(p, E, H, Hkv, D) + llama_mlp(p, E, F)
        ts += [norm(p + "input_layernorm.weight", E), norm(p + "post_attention_layernorm.weight", E)]
    specials = [added("<unk>", 0), added("<s>", 1), added("</s>", 2)]
    specials += [added(t, n + i, not t.endswith("think>")) for i, t in enumerate(extra)]
    tc = {"add_bos_token": False, "add_eos_token": False, "added_tokens_decoder": added_tokens_decoder(specials),
          "additional_special_tokens": ["<|IMAGE_PLACEHOLDER|>", "<|im_start|>", "<|im_end|>"],
          "bos_token": "<s>", "chat_template": "{%- if not add_generation_prompt is defined %}{%- set add_generation_prompt = "
                                               "false %}{%- endif %}{{- bos_token }}{%- for message in messages %}"
                                               "{{- message['role'] + ': ' + message['content'] + '\n' }}{%- endfor %}"
                                               "{%- if add_generation_prompt %}{{- 'Assistant: ' }}{%- endif %}",
          "clean_up_tokenization_spaces": False, "cls_token": "<|begin_of_sentence|>", "eos_token": "</s>",
          "header_start_token": "<mask:0>", "header_end_token": "<mask:1>", "legacy": True,
          "mask_token": "<mask:1>", "model_max_length": 131072, "pad_token": "<unk>", "padding_side": "left",
          "sep_token": "<|end_of_sentence|>", "split_special_tokens": False, "tokenizer_class": "LlamaTokenizer",
          "unk_token": "<unk>"}
    files = {"tokenizer.model": spm_model(pieces, add_dummy_prefix=True), "tokenizer_config.json": tc,
             "special_tokens_map.json": {"bos_token": "<s>", "eos_token": "</s>", "pad_token": "<unk>",
                                         "unk_token": "<unk>"},
             "generation_config.json": {"bos_token_id": 1, "do_sample": True, "eos_token_id": 2, "pad_token_id": 0,
                                        "repetition_penalty": 1.0, "temperature": 0.8, "top_p": 0.8}}
    return [Fixture("ernie45", "Ernie4_5ForCausalLM", "ERNIE-4.5-0.3B-PT", cfg, ts, files,
                    notes="SentencePiece only (no tokenizer.json): the harness compares tokenization with the "
                          "sentencepiece library instead of tokenizers")]
