"""Ministral 3 (Ministral3ForCausalLM, text only) and Mistral3ForConditionalGeneration
(Ministral 3 text model + Pixtral vision tower and projector, transformers 5 layout:
model.language_model.*, model.vision_tower.*, model.multi_modal_projector.*).

Tokenizer: Tekken converted to tokenizer.json (byte-level BPE, ids 0–999 control tokens,
shrunk here to 20), YaRN rope_parameters with llama_4_scaling_beta.
"""

from __future__ import annotations

from typing import List

from ._common import (
    TEKKEN_REGEX,
    Fixture,
    T,
    added_tokens_decoder,
    bpe,
    byte_level,
    llama_attn,
    llama_mlp,
    norm,
    split,
    template_processing,
)

TEKKEN_SPECIALS = ["<unk>", "<s>", "</s>", "[INST]", "[/INST]", "[AVAILABLE_TOOLS]", "[/AVAILABLE_TOOLS]",
                   "[TOOL_RESULTS]", "[/TOOL_RESULTS]", "[TOOL_CALLS]", "[IMG]", "<pad>", "[IMG_BREAK]", "[IMG_END]",
                   "[PREFIX]", "[MIDDLE]", "[SUFFIX]", "[SYSTEM_PROMPT]", "[/SYSTEM_PROMPT]", "[TOOL_CONTENT]"]
TEMPLATE = ("{{- bos_token }}{%- for message in messages %}{%- if message['role'] == 'user' %}"
            "{{- '[INST]' + message['content'] + '[/INST]' }}{%- elif message['role'] == 'system' %}"
            "{{- '[SYSTEM_PROMPT]' + message['content'] + '[/SYSTEM_PROMPT]' }}{%- elif message['role'] == 'assistant' %}"
            "{{- message['content'] + eos_token }}{%- endif %}{%- endfor %}")


def tekken():
    b = bpe([(t, True) for t in TEKKEN_SPECIALS], first=True, regex=None,
            pre_tokenizer={"type": "Sequence", "pretokenizers": [split(TEKKEN_REGEX), byte_level(False)]},
            post_processor=template_processing("<s>", 1), ignore_merges=True,
            decoder={"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True})
    tc = {"add_bos_token": True, "add_eos_token": False, "added_tokens_decoder": added_tokens_decoder(b.added_tokens),
          "bos_token": "<s>", "chat_template": TEMPLATE, "clean_up_tokenization_spaces": False, "eos_token": "</s>",
          "legacy": True, "model_max_length": 1000000000000000019884624838656, "pad_token": "<pad>",
          "processor_class": "PixtralProcessor", "tokenizer_class": "LlamaTokenizerFast", "unk_token": "<unk>",
          "use_default_system_prompt": False}
    return b, tc


def text_config(E, H, Hkv, D, F, L, V, tied):
    return {"attention_dropout": 0.0, "bos_token_id": 1, "eos_token_id": 2, "head_dim": D, "hidden_act": "silu",
            "hidden_size": E, "initializer_range": 0.02, "intermediate_size": F, "max_position_embeddings": 262144,
            "model_type": "ministral3", "num_attention_heads": H, "num_hidden_layers": L, "num_key_value_heads": Hkv,
            "pad_token_id": 11, "rms_norm_eps": 1e-05,
            "rope_parameters": {"beta_fast": 32.0, "beta_slow": 1.0, "factor": 16.0, "llama_4_scaling_beta": 0.1,
                                "mscale": 1.0, "mscale_all_dim": 1.0, "original_max_position_embeddings": 16384,
                                "rope_theta": 1000000.0, "rope_type": "yarn", "type": "yarn"},
            "sliding_window": None, "tie_word_embeddings": tied, "use_cache": True, "vocab_size": V}


def ministral3_text() -> Fixture:
    b, tc = tekken()
    E, H, Hkv, D, F, L = 256, 4, 2, 64, 768, 2   # Ministral 3 8B: 4096 / 14336
    cfg = {"architectures": ["Ministral3ForCausalLM"], **text_config(E, H, Hkv, D, F, L, b.n_vocab, False),
           "dtype": "bfloat16", "transformers_version": "5.0.0.dev0"}
    p = "model."
    ts = [T(p + "embed_tokens.weight", b.n_vocab, E), norm(p + "norm.weight", E), T("lm_head.weight", b.n_vocab, E)]
    for i in range(L):
        q = f"{p}layers.{i}."
        ts += llama_attn(q, E, H, Hkv, D) + llama_mlp(q, E, F)
        ts += [norm(q + "input_layernorm.weight", E), norm(q + "post_attention_layernorm.weight", E)]
    tc = dict(tc)
    del tc["processor_class"]
    files = {"tokenizer.json": b.tokenizer_json, "tokenizer_config.json": tc,
             "generation_config.json": {"bos_token_id": 1, "eos_token_id": 2, "max_length": 262144, "pad_token_id": 11,
                                        "transformers_version": "5.0.0.dev0"}}
    return Fixture("ministral3_text", "Ministral3ForCausalLM", "Ministral-3-8B-Instruct-2512", cfg, ts, files,
                   pre="tekken", pre_source="convert_hf_to_gguf_update.py names mistralai/Mistral-Nemo-Base-2407's Tekken "
                                            "tokenizer 'tekken'; Ministral 3 ships the same Tekken vocabulary",
                   notes="model_type ministral3 (unknown to transformers 4.57.6: the converter reads config.json)")


def pixtral_tower(pre: str, C: int, F: int, L: int, patch: int) -> list:
    ts = [T(pre + "patch_conv.weight", C, 3, patch, patch), norm(pre + "ln_pre.weight", C)]
    for i in range(L):
        q = f"{pre}transformer.layers.{i}."
        ts += [norm(q + "attention_norm.weight", C), norm(q + "ffn_norm.weight", C)]
        ts += [T(q + f"attention.{n}_proj.weight", C, C) for n in "qkvo"]
        ts += [T(q + "feed_forward.gate_proj.weight", F, C), T(q + "feed_forward.up_proj.weight", F, C),
               T(q + "feed_forward.down_proj.weight", C, F)]
    return ts


def mistral3_vlm() -> Fixture:
    b, tc = tekken()
    E, H, Hkv, D, F, L = 256, 4, 2, 64, 512, 2   # Ministral 3 3B: 3072 / 9216, tied
    C, CF = 64, 128
    cfg = {"architectures": ["Mistral3ForConditionalGeneration"], "dtype": "bfloat16", "image_token_index": 10,
           "model_type": "mistral3", "multimodal_projector_bias": False, "projector_hidden_act": "gelu",
           "spatial_merge_size": 2, "text_config": text_config(E, H, Hkv, D, F, L, b.n_vocab, True),
           "transformers_version": "5.0.0.dev0",
           "vision_config": {"attention_dropout": 0.0, "head_dim": 32, "hidden_act": "silu", "hidden_size": C,
                             "image_size": 56, "initializer_range": 0.02, "intermediate_size": CF, "model_type": "pixtral",
                             "num_attention_heads": 2, "num_channels": 3, "num_hidden_layers": 1, "patch_size": 14,
                             "rope_theta": 10000.0},
           "vision_feature_layer": -1}
    p = "model.language_model."
    ts = [T(p + "embed_tokens.weight", b.n_vocab, E), norm(p + "norm.weight", E)]
    for i in range(L):
        q = f"{p}layers.{i}."
        ts += llama_attn(q, E, H, Hkv, D) + llama_mlp(q, E, F)
        ts += [norm(q + "input_layernorm.weight", E), norm(q + "post_attention_layernorm.weight", E)]
    ts += pixtral_tower("model.vision_tower.", C, CF, 1, 14)
    m = "model.multi_modal_projector."
    ts += [norm(m + "norm.weight", C), T(m + "patch_merger.merging_layer.weight", C, 4 * C),
           T(m + "linear_1.weight", E, C), T(m + "linear_2.weight", E, E)]
    files = {"tokenizer.json": b.tokenizer_json, "tokenizer_config.json": tc,
             "generation_config.json": {"bos_token_id": 1, "eos_token_id": 2, "max_length": 262144, "pad_token_id": 11,
                                        "transformers_version": "5.0.0.dev0"},
             "preprocessor_config.json": {"image_processor_type": "PixtralImageProcessorFast", "patch_size": 14,
                                          "processor_class": "PixtralProcessor", "size": {"longest_edge": 56}}}
    return Fixture("mistral3_vlm", "Mistral3ForConditionalGeneration", "Ministral-3-3B-Instruct-2512", cfg, ts, files,
                   pre="tekken", pre_source="as ministral3_text (Tekken vocabulary, 'tekken' in convert_hf_to_gguf_update.py)",
                   notes="text_config model_type ministral3 (transformers 4.57.6 cannot parse it: the converter falls "
                         "back to config.json); Pixtral vision tower + projector present (dropped by the text conversion)")


def fixtures() -> List[Fixture]:
    return [ministral3_text(), mistral3_vlm()]
