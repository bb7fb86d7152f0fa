"""OLMo 2, OLMo 3 (dolma2 tokenizer: cl100k vocabulary; full-width q/k norms; post-norms only;
OLMo 3 sliding-window layer_types) and OLMoE (GPT-NeoX style tokenizer, 3 per-expert tensors,
full-width q/k norms)."""

from __future__ import annotations

from typing import List

from ._common import (
    CL100K_REGEX,
    Fixture,
    T,
    added_tokens_decoder,
    bpe,
    byte_level,
    experts,
    llama_attn,
    llama_mlp,
    norm,
    pad_to,
)

OLMO_TEMPLATE = ("{{ bos_token }}{% for message in messages %}{% if message['role'] == 'system' %}"
                 "{{ '<|system|>\n' + message['content'] + '\n' }}{% elif message['role'] == 'user' %}"
                 "{{ '<|user|>\n' + message['content'] + '\n' }}{% elif message['role'] == 'assistant' %}"
                 "{{ '<|assistant|>\n' + message['content'] + eos_token + '\n' }}{% endif %}{% endfor %}"
                 "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}")


def dolma2():
    sp = [("<|endoftext|>", True), ("<|fim_prefix|>", True), ("<|fim_middle|>", True), ("<|fim_suffix|>", True),
          ("|||PHONE_NUMBER|||", False), ("|||EMAIL_ADDRESS|||", False), ("|||IP_ADDRESS|||", False),
          ("<|im_start|>", True), ("<|im_end|>", True), ("<|pad|>", True)]
    b = bpe(sp, regex=CL100K_REGEX, post_processor={"type": "ByteLevel", "add_prefix_space": True,
                                                    "trim_offsets": False, "use_regex": True})
    tc = {"add_bos_token": False, "add_eos_token": False, "added_tokens_decoder": added_tokens_decoder(b.added_tokens),
          "bos_token": "<|endoftext|>", "chat_template": OLMO_TEMPLATE, "clean_up_tokenization_spaces": False,
          "eos_token": "<|endoftext|>", "model_max_length": 65536, "pad_token": "<|pad|>",
          "tokenizer_class": "GPT2Tokenizer", "unk_token": "<|endoftext|>"}
    return b, tc


def olmo_layers(L: int, E: int, H: int, Hkv: int, D: int, F: int) -> list:
    ts = []
    for i in range(L):
        p = f"model.layers.{i}."
        ts += llama_attn(p, E, H, Hkv, D, qk_norm="full") + llama_mlp(p, E, F)
        ts += [norm(p + "post_attention_layernorm.weight", E), norm(p + "post_feedforward_layernorm.weight", E)]
    return ts


DOLMA2_PRE = ("OLMo 2/3 use allenai's dolma2 tokenizer: tiktoken cl100k_base's vocabulary and GPT-4 regex plus a few "
              "added tokens, so the converter's probe hash is that of databricks/dbrx-base ('dbrx' in "
              "convert_hf_to_gguf_update.py)")


def olmo2() -> Fixture:
    b, tc = dolma2()
    V = pad_to(b.n_vocab, 128)  # 100352 for 100278 tokens
    E, H, F, L = 256, 4, 768, 2   # OLMo 2 7B: 4096 / 11008 (43 * 256)
    cfg = {"architectures": ["Olmo2ForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
           "bos_token_id": None, "eos_token_id": b.ids["<|endoftext|>"], "hidden_act": "silu", "hidden_size": E,
           "initializer_range": 0.02, "intermediate_size": F, "max_position_embeddings": 4096, "model_type": "olmo2",
           "num_attention_heads": H, "num_hidden_layers": L, "num_key_value_heads": H, "pad_token_id": b.ids["<|pad|>"],
           "rms_norm_eps": 1e-06, "rope_scaling": None, "rope_theta": 500000, "tie_word_embeddings": False,
           "torch_dtype": "bfloat16", "transformers_version": "4.47.0.dev0", "use_cache": True, "vocab_size": V}
    ts = [T("model.embed_tokens.weight", V, E), norm("model.norm.weight", E), T("lm_head.weight", V, E)]
    ts += olmo_layers(L, E, H, H, E // H, F)
    files = {"tokenizer.json": b.tokenizer_json, "tokenizer_config.json": tc,
             "generation_config.json": {"_from_model_config": True, "eos_token_id": b.ids["<|endoftext|>"],
                                        "pad_token_id": b.ids["<|pad|>"], "transformers_version": "4.47.0.dev0"}}
    return Fixture("olmo2", "Olmo2ForCausalLM", "OLMo-2-1124-7B-Instruct", cfg, ts, files, pre="dbrx",
                   pre_source=DOLMA2_PRE, notes="no input norm: post-attention / post-feedforward norms; q/k norms over "
                                                "the full projection width")


def olmo3() -> Fixture:
    b, tc = dolma2()
    V = pad_to(b.n_vocab, 128)
    E, H, F, L = 256, 4, 768, 4
    cfg = {"architectures": ["Olmo3ForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
           "bos_token_id": None, "eos_token_id": b.ids["<|im_end|>"], "hidden_act": "silu", "hidden_size": E,
           "initializer_range": 0.02, "intermediate_size": F,
           "layer_types": ["sliding_attention", "sliding_attention", "sliding_attention", "full_attention"],
           "max_position_embeddings": 65536, "model_type": "olmo3", "num_attention_heads": H, "num_hidden_layers": L,
           "num_key_value_heads": H, "pad_token_id": b.ids["<|pad|>"], "rms_norm_eps": 1e-06,
           "rope_scaling": {"attention_factor": 1.2079441541679836, "beta_fast": 32, "beta_slow": 1, "factor": 8.0,
                            "original_max_position_embeddings": 8192, "rope_type": "yarn"},
           "rope_theta": 500000, "sliding_window": 4096, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
           "transformers_version": "4.57.0", "use_cache": True, "vocab_size": V}
    ts = [T("model.embed_tokens.weight", V, E), norm("model.norm.weight", E), T("lm_head.weight", V, E)]
    ts += olmo_layers(L, E, H, H, E // H, F)
    tc = dict(tc, eos_token="<|im_end|>",
              chat_template="{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] "
                            "+ '<|im_end|>\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}"
                            "{% endif %}")
    files = {"tokenizer.json": b.tokenizer_json, "tokenizer_config.json": tc,
             "generation_config.json": {"do_sample": True, "eos_token_id": [b.ids["<|im_end|>"], b.ids["<|endoftext|>"]],
                                        "pad_token_id": b.ids["<|pad|>"], "temperature": 0.6, "top_p": 0.95,
                                        "transformers_version": "4.57.0"}}
    return Fixture("olmo3", "Olmo3ForCausalLM", "Olmo-3-7B-Instruct", cfg, ts, files, pre="dbrx", pre_source=DOLMA2_PRE,
                   notes="layer_types: three sliding-window layers then a full one; YaRN rope_scaling")


def olmoe() -> Fixture:
    sp = [("|||IP_ADDRESS|||", False), ("<|padding|>", True)]
    b = bpe(sp + [], first=True, regex=None, pre_tokenizer=byte_level(True), normalizer={"type": "NFC"},
            post_processor={"type": "TemplateProcessing",
                            "single": [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}}],
                            "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
                                     {"SpecialToken": {"id": "<|endoftext|>", "type_id": 1}}],
                            "special_tokens": {}}, merges_as_pairs=False)
    # <|endoftext|> and the PII markers sit after the base vocabulary, as in the real 50280-token vocabulary
    n = b.n_vocab
    extra = [("|||EMAIL_ADDRESS|||", False), ("|||PHONE_NUMBER|||", False), ("<|endoftext|>", True)]
    from ._common import added
    for i, (c, s) in enumerate(extra):
        t = added(c, n + i, s)
        b.added_tokens.append(t)
        b.ids[c] = n + i
    b.tokenizer_json["added_tokens"] = b.added_tokens
    b.tokenizer_json["post_processor"]["special_tokens"] = {
        "<|endoftext|>": {"id": "<|endoftext|>", "ids": [b.ids["<|endoftext|>"]], "tokens": ["<|endoftext|>"]}}
    V = pad_to(n + len(extra), 64)  # 50304
    E, H, F, L, X = 256, 4, 256, 2, 8   # OLMoE: 2048 / 1024, 64 experts, 8 used
    eot = b.ids["<|endoftext|>"]
    cfg = {"architectures": ["OlmoeForCausalLM"], "attention_bias": False, "attention_dropout": 0.0, "clip_qkv": None,
           "eos_token_id": eot, "hidden_act": "silu", "hidden_size": E, "initializer_range": 0.02,
           "intermediate_size": F, "max_position_embeddings": 4096, "model_type": "olmoe", "norm_topk_prob": False,
           "num_attention_heads": H, "num_experts": X, "num_experts_per_tok": 2, "num_hidden_layers": L,
           "num_key_value_heads": H, "output_router_logits": False, "pad_token_id": 1, "rms_norm_eps": 1e-05,
           "rope_scaling": None, "rope_theta": 10000.0, "router_aux_loss_coef": 0.01, "tie_word_embeddings": False,
           "torch_dtype": "bfloat16", "transformers_version": "4.43.0.dev0", "use_cache": True, "vocab_size": V}
    ts = [T("model.embed_tokens.weight", V, E), norm("model.norm.weight", E), T("lm_head.weight", V, E)]
    for i in range(L):
        p = f"model.layers.{i}."
        ts += llama_attn(p, E, H, H, E // H, qk_norm="full") + experts(p, X, E, F)
        ts += [T(p + "mlp.gate.weight", X, E), norm(p + "input_layernorm.weight", E),
               norm(p + "post_attention_layernorm.weight", E)]
    tc = {"add_bos_token": False, "add_eos_token": False, "added_tokens_decoder": added_tokens_decoder(b.added_tokens),
          "bos_token": None, "clean_up_tokenization_spaces": True, "eos_token": "<|endoftext|>",
          "model_max_length": 1000000000000000019884624838656, "pad_token": "<|padding|>",
          "tokenizer_class": "GPTNeoXTokenizer", "unk_token": None}
    files = {"tokenizer.json": b.tokenizer_json, "tokenizer_config.json": tc,
             "generation_config.json": {"_from_model_config": True, "eos_token_id": eot, "pad_token_id": 1,
                                        "transformers_version": "4.43.0.dev0"}}
    return Fixture("olmoe", "OlmoeForCausalLM", "OLMoE-1B-7B-0924", cfg, ts, files, pre="olmo",
                   pre_source="convert_hf_to_gguf_update.py names allenai/OLMo-1.7-7B-hf's tokenizer 'olmo'; OLMoE "
                              "reuses that GPT-NeoX-based vocabulary (gpt-neox-olmo-dolma-v1_5)",
                   notes="8 experts (of 64), 2 used; expert rows of 256")


def fixtures() -> List[Fixture]:
    return [olmo2(), olmo3(), olmoe()]
