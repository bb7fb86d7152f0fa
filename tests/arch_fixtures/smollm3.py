"""SmolLM3: Llama-3 style tokenizer (<|begin_of_text|> … <|im_start|>/<|im_end|> added tokens),
GQA, tied embeddings, every fourth layer without RoPE (no_rope_layers)."""

from __future__ import annotations

from typing import List

from ._common import (
    CL100K_REGEX,
    Fixture,
    T,
    added_tokens_decoder,
    bpe,
    llama_attn,
    llama_mlp,
    norm,
    template_processing,
)


def fixtures() -> List[Fixture]:
    sp = [("<|begin_of_text|>", True), ("<|end_of_text|>", True), ("<|reserved_special_token_0|>", True),
          ("<|reserved_special_token_1|>", True), ("<|finetune_right_pad_id|>", True), ("<|step_id|>", True),
          ("<|start_header_id|>", True), ("<|end_header_id|>", True), ("<|eom_id|>", True), ("<|eot_id|>", True),
          ("<|python_tag|>", True), ("<|im_start|>", True), ("<|im_end|>", True), ("<think>", False),
          ("</think>", False), ("<tool_call>", False), ("</tool_call>", False)]
    b = bpe(sp, regex=CL100K_REGEX, ignore_merges=True, trim_offsets=True,
            post_processor={"type": "Sequence", "processors": [
                {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
                template_processing(None, None)]})
    E, H, Hkv, F, L = 256, 4, 1, 768, 4   # SmolLM3-3B: 2048 / 11008 (43 * 256), 16 heads / 4 kv
    cfg = {"architectures": ["SmolLM3ForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
           "bos_token_id": None, "eos_token_id": b.ids["<|im_end|>"], "hidden_act": "silu", "hidden_size": E,
           "initializer_range": 0.02, "intermediate_size": F, "layer_types": ["full_attention"] * L,
           "max_position_embeddings": 65536, "max_window_layers": 28, "mlp_bias": False, "model_type": "smollm3",
           "no_rope_layer_interval": 4, "no_rope_layers": [1, 1, 1, 0], "num_attention_heads": H,
           "num_hidden_layers": L, "num_key_value_heads": Hkv, "pad_token_id": b.ids["<|finetune_right_pad_id|>"],
           "pretraining_tp": 2, "rms_norm_eps": 1e-06, "rope_scaling": None, "rope_theta": 5000000.0,
           "sliding_window": None, "tie_word_embeddings": True, "torch_dtype": "bfloat16",
           "transformers_version": "4.54.0.dev0", "use_cache": False, "use_sliding_window": False,
           "vocab_size": b.n_vocab}
    ts = [T("model.embed_tokens.weight", b.n_vocab, E), norm("model.norm.weight", E)]
    for i in range(L):
        p = f"model.layers.{i}."
        ts += llama_attn(p, E, H, Hkv, E // H) + llama_mlp(p, E, F)
        ts += [norm(p + "input_layernorm.weight", E), norm(p + "post_attention_layernorm.weight", E)]
    tc = {"added_tokens_decoder": added_tokens_decoder(b.added_tokens), "bos_token": None,
          "chat_template": "{%- for message in messages %}{{- '<|im_start|>' + message['role'] + '\n' + "
                           "message['content'] + '<|im_end|>\n' }}{%- endfor %}{%- if add_generation_prompt %}"
                           "{{- '<|im_start|>assistant\n' }}{%- endif %}",
          "clean_up_tokenization_spaces": True, "eos_token": "<|im_end|>", "fast": False,
          "model_input_names": ["input_ids", "attention_mask"], "model_max_length": 131072,
          "pad_token": "<|im_end|>", "tokenizer_class": "PreTrainedTokenizerFast"}
    files = {"tokenizer.json": b.tokenizer_json, "tokenizer_config.json": tc,
             "special_tokens_map.json": {"eos_token": "<|im_end|>", "pad_token": "<|im_end|>"},
             "generation_config.json": {"bos_token_id": b.ids["<|im_start|>"], "eos_token_id": b.ids["<|im_end|>"],
                                        "pad_token_id": b.ids["<|finetune_right_pad_id|>"], "temperature": 0.6,
                                        "top_p": 0.95, "transformers_version": "4.54.0.dev0"}}
    return [Fixture("smollm3", "SmolLM3ForCausalLM", "SmolLM3-3B", cfg, ts, files, pre="smaug-bpe",
                    pre_source="SmolLM3's Llama-3-derived tokenizer hashes to abacusai/Smaug-Llama-3-70B-Instruct's entry "
                               "('smaug-bpe' in convert_hf_to_gguf_update.py): the published SmolLM3 GGUF files carry "
                               "'smaug-bpe' (noted when SmolLM3 support was added to other GGUF readers)",
                    notes="4 layers so that no_rope_layers has a NoPE layer; the converter permutes q/k as for Llama")]
