"""Phi-3 / Phi-3.5 (SentencePiece, LongRoPE short/long factors, fused qkv and gate_up),
Phi-4-mini (o200k byte-level BPE as GPT2Tokenizer, GQA, partial rotary 0.75, LongRoPE, tied)
and Phi-4 (cl100k byte-level BPE as GPT2Tokenizer, no rope scaling, no sliding window)."""

from __future__ import annotations

from typing import List

from ._common import (
    CL100K_REGEX,
    O200K_REGEX,
    SPM_BYTE,
    SPM_CONTROL,
    SPM_UNKNOWN,
    Fixture,
    T,
    added,
    added_tokens_decoder,
    bpe,
    norm,
    pad_to,
    spm_hf_tokenizer_json,
    spm_model,
    spm_word_pieces,
    template_processing,
)

PHI3_TEMPLATE = ("{% for message in messages %}{% if message['role'] == 'system' and message['content'] %}"
                 "{{'<|system|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'user' %}"
                 "{{'<|user|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'assistant' %}"
                 "{{'<|assistant|>\n' + message['content'] + '<|end|>\n'}}{% endif %}{% endfor %}"
                 "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}")
PHI3_ADDED = ["<|endoftext|>", "<|assistant|>", "<|placeholder1|>", "<|placeholder2|>", "<|placeholder3|>",
              "<|placeholder4|>", "<|system|>", "<|end|>", "<|placeholder5|>", "<|placeholder6|>", "<|user|>"]


def phi_layers(L: int, E: int, H: int, Hkv: int, D: int, F: int) -> list:
    ts = []
    for i in range(L):
        p = f"model.layers.{i}."
        ts += [T(p + "self_attn.qkv_proj.weight", (H + 2 * Hkv) * D, E), T(p + "self_attn.o_proj.weight", E, H * D),
               T(p + "mlp.gate_up_proj.weight", 2 * F, E), T(p + "mlp.down_proj.weight", E, F),
               norm(p + "input_layernorm.weight", E), norm(p + "post_attention_layernorm.weight", E)]
    return ts


def factors(n: int, lo: float, hi: float) -> List[float]:
    """LongRoPE rescale factors: a smooth ramp as in the real configs."""
    return [round(lo + (hi - lo) * (i / (n - 1)) ** 2, 6) for i in range(n)]


def phi35_mini() -> Fixture:
    pieces = [("<unk>", 0.0, SPM_UNKNOWN), ("<s>", 0.0, SPM_CONTROL), ("</s>", 0.0, SPM_CONTROL)]
    pieces += [(f"<0x{b:02X}>", 0.0, SPM_BYTE) for b in range(256)] + spm_word_pieces()
    n_spm = len(pieces)
    extra = [added(t, n_spm + i, t != "<|endoftext|>" and False, rstrip=t not in ("<|endoftext|>",))
             for i, t in enumerate(PHI3_ADDED)]
    for t in extra:
        t["special"] = t["content"] in ("<|endoftext|>", "<|end|>", "<|assistant|>", "<|system|>", "<|user|>")
        t["rstrip"] = t["content"] != "<|endoftext|>"
    specials = [added("<unk>", 0), added("<s>", 1), added("</s>", 2, rstrip=True)] + extra
    V = pad_to(n_spm + len(PHI3_ADDED), 64)  # 32064 for 32011 tokens
    E, H, F, L = 256, 4, 512, 2
    D = E // H
    cfg = {"_name_or_path": "Phi-3.5-mini-instruct", "architectures": ["Phi3ForCausalLM"], "attention_bias": False,
           "attention_dropout": 0.0,
           "auto_map": {"AutoConfig": "configuration_phi3.Phi3Config",
                        "AutoModelForCausalLM": "modeling_phi3.Phi3ForCausalLM"},
           "bos_token_id": 1, "embd_pdrop": 0.0, "eos_token_id": n_spm, "hidden_act": "silu", "hidden_size": E,
           "initializer_range": 0.02, "intermediate_size": F, "max_position_embeddings": 131072, "model_type": "phi3",
           "num_attention_heads": H, "num_hidden_layers": L, "num_key_value_heads": H,
           "original_max_position_embeddings": 4096, "pad_token_id": n_spm, "resid_pdrop": 0.0, "rms_norm_eps": 1e-05,
           "rope_scaling": {"long_factor": factors(D // 2, 1.0800000429153442, 59.0), "short_factor": factors(D // 2, 1.0, 2.5),
                            "type": "longrope"},
           "rope_theta": 10000.0, "sliding_window": 262144, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
           "transformers_version": "4.43.3", "use_cache": True, "vocab_size": V}
    ts = [T("model.embed_tokens.weight", V, E), norm("model.norm.weight", E), T("lm_head.weight", V, E)]
    ts += phi_layers(L, E, H, H, D, F)
    tc = {"add_bos_token": False, "add_eos_token": False, "added_tokens_decoder": added_tokens_decoder(specials),
          "bos_token": "<s>", "chat_template": PHI3_TEMPLATE, "clean_up_tokenization_spaces": False,
          "eos_token": "<|endoftext|>", "legacy": False, "model_max_length": 131072, "pad_token": "<|endoftext|>",
          "padding_side": "left", "sp_model_kwargs": {}, "tokenizer_class": "LlamaTokenizer", "unk_token": "<unk>",
          "use_default_system_prompt": False}
    files = {"tokenizer.model": spm_model(pieces, add_dummy_prefix=True),
             "tokenizer.json": spm_hf_tokenizer_json(pieces, specials, prepend=True, strip_decoder=True,
                                                     post_processor=template_processing("<s>", 1)),
             "tokenizer_config.json": tc,
             "added_tokens.json": {t["content"]: t["id"] for t in extra},
             "special_tokens_map.json": {"bos_token": "<s>", "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>",
                                         "unk_token": "<unk>"},
             "generation_config.json": {"_from_model_config": True, "bos_token_id": 1,
                                        "eos_token_id": [n_spm + 7, n_spm + 0, n_spm + 6][:2], "pad_token_id": n_spm,
                                        "transformers_version": "4.43.3"}}
    return Fixture("phi35_mini", "Phi3ForCausalLM", "Phi-3.5-mini-instruct", cfg, ts, files,
                   notes="SentencePiece + added_tokens.json; LongRoPE factors (head_dim/2 each); vocabulary padded to a "
                         "multiple of 64 as the real 32064")


PHI4_TEMPLATE = ("{% for message in messages %}{% if message['role'] == 'system' and 'tools' in message and "
                 "message['tools'] is not none %}{{ '<|' + message['role'] + '|>' + message['content'] + '<|tool|>' + "
                 "message['tools'] + '<|/tool|>' + '<|end|>' }}{% else %}{{ '<|' + message['role'] + '|>' + "
                 "message['content'] + '<|end|>' }}{% endif %}{% endfor %}{% if add_generation_prompt %}"
                 "{{ '<|assistant|>' }}{% else %}{{ eos_token }}{% endif %}")


def phi4_mini() -> Fixture:
    sp = [("<|endoftext|>", True)] + [(f"<|dummy_{i}|>", True) for i in range(2)] + [
        ("<|system|>", True), ("<|end|>", True), ("<|user|>", True), ("<|assistant|>", True), ("<|tool|>", True),
        ("<|/tool|>", True), ("<|tool_call|>", True), ("<|/tool_call|>", True), ("<|tool_response|>", True),
        ("<|tag|>", True)]
    b = bpe(sp, regex=O200K_REGEX, post_processor={"type": "ByteLevel", "add_prefix_space": False,
                                                   "trim_offsets": True, "use_regex": False},
            decoder={"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True})
    b.tokenizer_json["pre_tokenizer"]["pretokenizers"][-1].update({"trim_offsets": True})
    V = pad_to(b.n_vocab, 64)  # 200064 for 200029 tokens
    E, H, Hkv, F, L = 256, 4, 2, 512, 2
    D = E // H
    eot = b.ids["<|endoftext|>"]
    cfg = {"_name_or_path": "Phi-4-mini-instruct", "architectures": ["Phi3ForCausalLM"], "attention_bias": False,
           "attention_dropout": 0.0,
           "auto_map": {"AutoConfig": "configuration_phi3.Phi3Config",
                        "AutoModelForCausalLM": "modeling_phi3.Phi3ForCausalLM",
                        "AutoTokenizer": "Xenova/gpt-4o"},
           "bos_token_id": eot, "embd_pdrop": 0.0, "eos_token_id": eot, "full_attn_mod": 1, "hidden_act": "silu",
           "hidden_size": E, "initializer_range": 0.02, "intermediate_size": F, "interpolate_factor": 1,
           "lm_head_bias": False, "max_position_embeddings": 131072, "mlp_bias": False, "model_type": "phi3",
           "num_attention_heads": H, "num_hidden_layers": L, "num_key_value_heads": Hkv,
           "original_max_position_embeddings": 4096, "pad_token_id": eot, "partial_rotary_factor": 0.75,
           "resid_pdrop": 0.0, "rms_norm_eps": 1e-05,
           "rope_scaling": {"long_factor": factors(int(D * 0.75) // 2, 1.0, 30.0),
                            "short_factor": factors(int(D * 0.75) // 2, 1.0, 1.0), "type": "longrope"},
           "rope_theta": 10000.0, "sliding_window": 262144, "tie_word_embeddings": True, "torch_dtype": "bfloat16",
           "transformers_version": "4.45.0", "use_cache": True, "vocab_size": V}
    ts = [T("model.embed_tokens.weight", V, E), norm("model.norm.weight", E)] + phi_layers(L, E, H, Hkv, D, F)
    tc = {"add_bos_token": False, "add_eos_token": False, "add_prefix_space": False,
          "added_tokens_decoder": added_tokens_decoder(b.added_tokens), "bos_token": "<|endoftext|>",
          "chat_template": PHI4_TEMPLATE, "clean_up_tokenization_spaces": False, "eos_token": "<|endoftext|>",
          "model_max_length": 131072, "pad_token": "<|endoftext|>", "tokenizer_class": "GPT2Tokenizer",
          "unk_token": "<|endoftext|>"}
    files = {"tokenizer.json": b.tokenizer_json, "tokenizer_config.json": tc,
             "special_tokens_map.json": {"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>",
                                         "pad_token": "<|endoftext|>", "unk_token": "<|endoftext|>"},
             "generation_config.json": {"_from_model_config": True, "bos_token_id": eot,
                                        "eos_token_id": [eot, b.ids["<|end|>"]], "pad_token_id": eot,
                                        "transformers_version": "4.45.0"}}
    return Fixture("phi4_mini", "Phi3ForCausalLM", "Phi-4-mini-instruct", cfg, ts, files, pre="gpt-4o",
                   pre_source="convert_hf_to_gguf_update.py lists Xenova/gpt-4o as 'gpt-4o'; Phi-4-mini's tokenizer is "
                              "o200k (its config's auto_map names Xenova/gpt-4o) and its published GGUF files carry "
                              "tokenizer.ggml.pre 'gpt-4o' (llama.cpp issue 12122)",
                   notes="GPT2Tokenizer (byte-level BPE) instead of SentencePiece; GQA, partial_rotary_factor 0.75 "
                         "(LongRoPE factors for the 48 rotated dims / 2), tied embeddings")


def phi4() -> Fixture:
    sp = [("<|endoftext|>", True), ("<|fim_prefix|>", True), ("<|fim_middle|>", True), ("<|fim_suffix|>", True)]
    sp += [(f"<|dummy_{i}|>", True) for i in range(2)] + [("<|im_start|>", True), ("<|im_end|>", True),
                                                        ("<|im_sep|>", True)]
    b = bpe(sp, regex=CL100K_REGEX, post_processor={"type": "ByteLevel", "add_prefix_space": False,
                                                    "trim_offsets": True, "use_regex": False})
    V = pad_to(b.n_vocab, 64)  # 100352
    E, H, Hkv, F, L = 256, 4, 1, 768, 2   # 5120 / 17920 = 70 * 256
    D = E // H
    cfg = {"architectures": ["Phi3ForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
           "bos_token_id": b.ids["<|endoftext|>"], "embd_pdrop": 0.0, "eos_token_id": b.ids["<|im_end|>"],
           "hidden_act": "silu", "hidden_size": E, "initializer_range": 0.02, "intermediate_size": F,
           "max_position_embeddings": 16384, "model_type": "phi3", "num_attention_heads": H, "num_hidden_layers": L,
           "num_key_value_heads": Hkv, "original_max_position_embeddings": 16384, "pad_token_id": V - 3,
           "resid_pdrop": 0.0, "rms_norm_eps": 1e-05, "rope_scaling": None, "rope_theta": 250000,
           "sliding_window": None, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
           "transformers_version": "4.47.0", "use_cache": True, "vocab_size": V}
    ts = [T("model.embed_tokens.weight", V, E), norm("model.norm.weight", E), T("lm_head.weight", V, E)]
    ts += phi_layers(L, E, H, Hkv, D, F)
    tc = {"add_bos_token": False, "add_eos_token": False, "added_tokens_decoder": added_tokens_decoder(b.added_tokens),
          "bos_token": "<|endoftext|>",
          "chat_template": "{% for message in messages %}{{'<|im_start|>' + message['role'] + '<|im_sep|>' + "
                           "message['content'] + '<|im_end|>'}}{% endfor %}{% if add_generation_prompt %}"
                           "{{ '<|im_start|>assistant<|im_sep|>' }}{% endif %}",
          "clean_up_tokenization_spaces": False, "eos_token": "<|im_end|>", "model_max_length": 16384,
          "pad_token": "<|dummy_1|>", "padding_side": "left", "tokenizer_class": "GPT2Tokenizer",
          "unk_token": "<|endoftext|>"}
    files = {"tokenizer.json": b.tokenizer_json, "tokenizer_config.json": tc,
             "generation_config.json": {"bos_token_id": b.ids["<|endoftext|>"], "eos_token_id": b.ids["<|im_end|>"],
                                        "pad_token_id": b.ids["<|dummy_1|>"], "transformers_version": "4.47.0"}}
    return Fixture("phi4", "Phi3ForCausalLM", "phi-4", cfg, ts, files, pre="dbrx",
                   pre_source="Phi-4's tokenizer is tiktoken cl100k_base (GPT2Tokenizer in tokenizer_config.json) whose "
                              "probe hash is that of databricks/dbrx-base, named 'dbrx' in convert_hf_to_gguf_update.py",
                   notes="rope_scaling null and sliding_window null (the converter writes sliding_window 0, the Phi-4 "
                         "marker); untied; 1 kv head per 4 heads")


def fixtures() -> List[Fixture]:
    return [phi35_mini(), phi4_mini(), phi4()]
