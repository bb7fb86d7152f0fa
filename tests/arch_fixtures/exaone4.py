"""EXAONE 4.0 32B layout: hybrid attention (sliding_window_pattern "LLLG", layer_types),
q/k norms, post-attention and post-feedforward norms only, llama3 rope scaling in the 1.2B
(here: none, as the 32B), untied; GPT-2 style byte-level BPE."""

from __future__ import annotations

from typing import List

from ._common import Fixture, T, added_tokens_decoder, bpe, byte_level, llama_attn, llama_mlp, norm


def fixtures() -> List[Fixture]:
    sp = [("[PAD]", True), ("[BOS]", True), ("[EOS]", True), ("[UNK]", True), ("[SEP]", True), ("[MASK]", True),
          ("<|system|>", True), ("<|user|>", True), ("<|assistant|>", True), ("<|endofturn|>", True),
          ("<think>", False), ("</think>", False), ("<tool_call>", False), ("</tool_call>", False)]
    b = bpe(sp, first=True, regex=None, pre_tokenizer=byte_level(True),
            post_processor={"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True})
    E, H, Hkv, D, F, L = 256, 4, 1, 64, 768, 4   # EXAONE-4.0-32B: 5120 / 27392 (107 * 256), 40 heads / 8 kv
    eot = b.ids["<|endofturn|>"]
    cfg = {"architectures": ["Exaone4ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 1, "eos_token_id": eot,
           "head_dim": D, "hidden_act": "silu", "hidden_size": E, "initializer_range": 0.02, "intermediate_size": F,
           "layer_types": ["sliding_attention", "sliding_attention", "sliding_attention", "full_attention"],
           "max_position_embeddings": 131072, "model_type": "exaone4", "num_attention_heads": H,
           "num_hidden_layers": L, "num_key_value_heads": Hkv, "pad_token_id": 0, "rms_norm_eps": 1e-05,
           "rope_scaling": {"factor": 16.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                            "original_max_position_embeddings": 8192, "rope_type": "llama3"},
           "rope_theta": 1000000, "sliding_window": 4096, "sliding_window_pattern": "LLLG",
           "tie_word_embeddings": False, "torch_dtype": "bfloat16", "transformers_version": "4.54.0",
           "use_cache": True, "vocab_size": b.n_vocab}
    ts = [T("model.embed_tokens.weight", b.n_vocab, E), norm("model.norm.weight", E), T("lm_head.weight", b.n_vocab, E)]
    for i in range(L):
        p = f"model.layers.{i}."
        ts += llama_attn(p, E, H, Hkv, D, qk_norm="head") + llama_mlp(p, E, F)
        ts += [norm(p + "post_attention_layernorm.weight", E), norm(p + "post_feedforward_layernorm.weight", E)]
    tc = {"add_bos_token": False, "add_eos_token": False, "added_tokens_decoder": added_tokens_decoder(b.added_tokens),
          "bos_token": "[BOS]",
          "chat_template": "{% for message in messages %}{{ '[|' + message['role'] + '|]' + message['content'] + "
                           "'<|endofturn|>\n' }}{% endfor %}{% if add_generation_prompt %}{{ '[|assistant|]' }}{% endif %}",
          "clean_up_tokenization_spaces": False, "eos_token": "<|endofturn|>", "model_max_length": 1000000000000000019884624838656,
          "pad_token": "[PAD]", "tokenizer_class": "GPT2Tokenizer", "unk_token": "[UNK]"}
    files = {"tokenizer.json": b.tokenizer_json, "tokenizer_config.json": tc,
             "generation_config.json": {"bos_token_id": 1, "eos_token_id": eot, "pad_token_id": 0,
                                        "transformers_version": "4.54.0"}}
    return [Fixture("exaone4", "Exaone4ForCausalLM", "EXAONE-4.0-32B", cfg, ts, files, pre="exaone4",
                    pre_source="convert_hf_to_gguf_update.py names LGAI-EXAONE/EXAONE-4.0-32B's tokenizer 'exaone4'",
                    notes="llama3 rope_scaling (the converter adds rope_freqs.weight); LLLG hybrid attention")]
