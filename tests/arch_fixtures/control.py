"""A control fixture of a class Wick already converts (Llama 3.2-shaped LlamaForCausalLM):
it makes the harness (tests/test_arch_goldens.py) run end to end today, so that a broken
harness cannot hide behind the skips of the classes whose adapters are still to come."""

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
          ("<|python_tag|>", True)]
    b = bpe(sp, regex=CL100K_REGEX, ignore_merges=True, trim_offsets=True,
            post_processor={"type": "Sequence", "processors": [
                {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
                template_processing("<|begin_of_text|>", None)]})
    b.tokenizer_json["post_processor"]["processors"][1]["special_tokens"]["<|begin_of_text|>"]["ids"] = \
        [b.ids["<|begin_of_text|>"]]
    E, H, Hkv, D, F, L = 256, 4, 2, 64, 768, 2
    bos, eot = b.ids["<|begin_of_text|>"], b.ids["<|eot_id|>"]
    cfg = {"architectures": ["LlamaForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
           "bos_token_id": bos, "eos_token_id": [b.ids["<|end_of_text|>"], b.ids["<|eom_id|>"], eot], "head_dim": D,
           "hidden_act": "silu", "hidden_size": E, "initializer_range": 0.02, "intermediate_size": F,
           "max_position_embeddings": 131072, "mlp_bias": False, "model_type": "llama", "num_attention_heads": H,
           "num_hidden_layers": L, "num_key_value_heads": Hkv, "pretraining_tp": 1, "rms_norm_eps": 1e-05,
           "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                            "original_max_position_embeddings": 8192, "rope_type": "llama3"},
           "rope_theta": 500000.0, "tie_word_embeddings": True, "torch_dtype": "bfloat16",
           "transformers_version": "4.45.0.dev0", "use_cache": True, "vocab_size": b.n_vocab}
    ts = [T("model.embed_tokens.weight", b.n_vocab, E), norm("model.norm.weight", E)]
    for i in range(L):
        p = f"model.layers.{i}."
        ts += llama_attn(p, E, H, Hkv, D) + llama_mlp(p, E, F)
        ts += [norm(p + "input_layernorm.weight", E), norm(p + "post_attention_layernorm.weight", E)]
    tc = {"added_tokens_decoder": added_tokens_decoder(b.added_tokens), "bos_token": "<|begin_of_text|>",
          "chat_template": "{{- bos_token }}{%- for m in messages %}{{- '<|start_header_id|>' + m['role'] + "
                           "'<|end_header_id|>\n\n' + m['content'] + '<|eot_id|>' }}{%- endfor %}"
                           "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}"
                           "{%- endif %}",
          "clean_up_tokenization_spaces": True, "eos_token": "<|eot_id|>",
          "model_input_names": ["input_ids", "attention_mask"], "model_max_length": 131072,
          "tokenizer_class": "PreTrainedTokenizerFast"}
    files = {"tokenizer.json": b.tokenizer_json, "tokenizer_config.json": tc,
             "generation_config.json": {"bos_token_id": bos, "do_sample": True,
                                        "eos_token_id": [b.ids["<|end_of_text|>"], b.ids["<|eom_id|>"], eot],
                                        "temperature": 0.6, "top_p": 0.9, "transformers_version": "4.45.0.dev0"}}
    return [Fixture("control_llama32", "LlamaForCausalLM", "Llama-3.2-1B-Instruct", cfg, ts, files, pre="llama-bpe",
                    pre_source="convert_hf_to_gguf_update.py names meta-llama/Meta-Llama-3-8B's tokenizer 'llama-bpe'",
                    notes="control: a class Wick already supports, so that the harness runs end to end")]
