"""Gemma 2, Gemma 3 (text and vision-language checkpoints) and Gemma 4.

Real structure: SentencePiece ``tokenizer.model`` (BPE, byte fallback, no dummy
prefix) beside the transformers ``tokenizer.json``; ids 0–3 are <pad>, <eos>,
<bos>, <unk>; <start_of_turn>/<end_of_turn> are in the model as user-defined
pieces and special in tokenizer_config.json; embeddings tied; four norms per
layer, stored as (scale − 1) for Gemma 2/3.
"""

from __future__ import annotations

from typing import List, Tuple

from ._common import (
    SPM_BYTE,
    SPM_CONTROL,
    SPM_NORMAL,
    SPM_UNKNOWN,
    SPM_USER_DEFINED,
    Fixture,
    T,
    added,
    added_tokens_decoder,
    llama_attn,
    llama_mlp,
    norm,
    spm_hf_tokenizer_json,
    spm_model,
    spm_word_pieces,
    template_processing,
)

GEMMA_TEMPLATE = ("{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'assistant') %}"
                  "{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}"
                  "{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}"
                  "{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}")


def gemma_pieces(gemma3: bool) -> Tuple[List[Tuple[str, float, int]], dict]:
    """Gemma's SentencePiece layout, shrunk: specials, <unusedN>, turn markers, newline runs,
    byte pieces, then normal pieces; Gemma 3 adds the image markers at the end."""
    p = [("<pad>", 0.0, SPM_CONTROL), ("<eos>", 0.0, SPM_CONTROL), ("<bos>", 0.0, SPM_CONTROL),
         ("<unk>", 0.0, SPM_UNKNOWN), ("<mask>", 0.0, SPM_USER_DEFINED), ("[multimodal]", 0.0, SPM_USER_DEFINED)]
    p += [(f"<unused{i}>", 0.0, SPM_USER_DEFINED) for i in range(4)]
    ids = {"start_of_turn": len(p), "end_of_turn": len(p) + 1}
    p += [("<start_of_turn>", 0.0, SPM_USER_DEFINED), ("<end_of_turn>", 0.0, SPM_USER_DEFINED)]
    p += [("\n" * k, 0.0, SPM_USER_DEFINED) for k in range(1, 4)]
    p += [("\u2581" * k, 0.0, SPM_NORMAL) for k in range(2, 4)]
    p += [(f"<0x{b:02X}>", 0.0, SPM_BYTE) for b in range(256)]
    p += spm_word_pieces()
    if gemma3:
        ids["start_of_image"] = len(p)
        p += [("<start_of_image>", 0.0, SPM_USER_DEFINED), ("<end_of_image>", 0.0, SPM_USER_DEFINED)]
        ids["image_soft_token"] = len(p)
        p += [("<image_soft_token>", 0.0, SPM_USER_DEFINED)]
    return p, ids


def gemma_tokenizer_files(gemma3: bool) -> Tuple[dict, int, dict]:
    pieces, ids = gemma_pieces(gemma3)
    specials = [added("<pad>", 0), added("<eos>", 1), added("<bos>", 2), added("<unk>", 3), added("<mask>", 4, False),
                added("[multimodal]", 5, False)]
    specials += [added(f"<unused{i}>", 6 + i, False) for i in range(4)]
    specials += [added("<start_of_turn>", ids["start_of_turn"]), added("<end_of_turn>", ids["end_of_turn"])]
    if gemma3:
        specials += [added("<start_of_image>", ids["start_of_image"]), added("<end_of_image>", ids["start_of_image"] + 1),
                     added("<image_soft_token>", ids["image_soft_token"])]
    tj = spm_hf_tokenizer_json(pieces, specials, prepend=False, post_processor=template_processing("<bos>", 2))
    tc = {"add_bos_token": True, "add_eos_token": False, "added_tokens_decoder": added_tokens_decoder(specials),
          "additional_special_tokens": ["<start_of_turn>", "<end_of_turn>"], "bos_token": "<bos>",
          "chat_template": GEMMA_TEMPLATE, "clean_up_tokenization_spaces": False, "eos_token": "<eos>",
          "model_max_length": 1000000000000000019884624838656, "pad_token": "<pad>", "sp_model_kwargs": {},
          "spaces_between_special_tokens": False, "tokenizer_class": "GemmaTokenizer", "unk_token": "<unk>",
          "use_default_system_prompt": False}
    if gemma3:
        tc.update({"boi_token": "<start_of_image>", "eoi_token": "<end_of_image>", "image_token": "<image_soft_token>",
                   "processor_class": "Gemma3Processor"})
        tc["extra_special_tokens"] = {"boi_token": "<start_of_image>", "eoi_token": "<end_of_image>",
                                      "image_token": "<image_soft_token>"}
    files = {"tokenizer.model": spm_model(pieces, add_dummy_prefix=False, unk_id=3, bos_id=2, eos_id=1, pad_id=0),
             "tokenizer.json": tj, "tokenizer_config.json": tc,
             "special_tokens_map.json": {"bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>",
                                         "unk_token": "<unk>",
                                         "additional_special_tokens": ["<start_of_turn>", "<end_of_turn>"]}}
    return files, len(pieces), ids


def gemma_layer(p: str, E: int, H: int, Hkv: int, D: int, F: int, *, qk_norm: bool, dtype: str) -> list:
    out = llama_attn(p, E, H, Hkv, D, qk_norm="head" if qk_norm else None, dtype=dtype) + llama_mlp(p, E, F, dtype=dtype)
    # stored as scale - 1 (the converter adds 1): values around 0
    for n in ("input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm", "post_feedforward_layernorm"):
        out.append(norm(f"{p}{n}.weight", E, dtype, mean=0.3, std=0.2))
    if qk_norm:
        for t in out:
            if t.name.endswith(("q_norm.weight", "k_norm.weight")):
                t.mean, t.std = 0.0, 0.1
    return out


def gemma2() -> Fixture:
    files, n_vocab, ids = gemma_tokenizer_files(False)
    E, H, Hkv, D, F, L = 256, 4, 2, 64, 512, 2
    cfg = {"architectures": ["Gemma2ForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
           "attn_logit_softcapping": 50.0, "bos_token_id": 2, "cache_implementation": "hybrid", "eos_token_id": [1, 107],
           "final_logit_softcapping": 30.0, "head_dim": D, "hidden_act": "gelu_pytorch_tanh",
           "hidden_activation": "gelu_pytorch_tanh", "hidden_size": E, "initializer_range": 0.02, "intermediate_size": F,
           "max_position_embeddings": 8192, "model_type": "gemma2", "num_attention_heads": H, "num_hidden_layers": L,
           "num_key_value_heads": Hkv, "pad_token_id": 0, "query_pre_attn_scalar": 256, "rms_norm_eps": 1e-06,
           "rope_theta": 10000.0, "sliding_window": 4096, "torch_dtype": "float16", "transformers_version": "4.42.4",
           "use_cache": True, "vocab_size": n_vocab}
    dt = "F16"
    ts = [T("model.embed_tokens.weight", n_vocab, E, dtype=dt), norm("model.norm.weight", E, dt, 0.3, 0.2)]
    for i in range(L):
        ts += gemma_layer(f"model.layers.{i}.", E, H, Hkv, D, F, qk_norm=False, dtype=dt)
    files["generation_config.json"] = {"_from_model_config": True, "bos_token_id": 2, "cache_implementation": "hybrid",
                                       "eos_token_id": [1, 107], "pad_token_id": 0, "transformers_version": "4.42.4"}
    return Fixture("gemma2", "Gemma2ForCausalLM", "gemma-2-2b-it", cfg, ts, files,
                   notes="float16 weights (the converter does its element-wise transforms in float16 for f16 sources)")


def gemma3_text() -> Fixture:
    files, n_vocab, ids = gemma_tokenizer_files(True)
    E, H, Hkv, D, F, L = 384, 2, 1, 128, 768, 3   # 1152 / 6912 in Gemma 3 1B: a row length that is not a multiple of 256
    cfg = {"architectures": ["Gemma3ForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
           "attn_logit_softcapping": None, "bos_token_id": 2, "cache_implementation": "hybrid", "eos_token_id": [1, 106],
           "final_logit_softcapping": None, "head_dim": D, "hidden_activation": "gelu_pytorch_tanh", "hidden_size": E,
           "initializer_range": 0.02, "intermediate_size": F, "max_position_embeddings": 32768,
           "model_type": "gemma3_text", "num_attention_heads": H, "num_hidden_layers": L, "num_key_value_heads": Hkv,
           "pad_token_id": 0, "query_pre_attn_scalar": 256, "rms_norm_eps": 1e-06, "rope_local_base_freq": 10000,
           "rope_scaling": None, "rope_theta": 1000000, "sliding_window": 512, "sliding_window_pattern": 6,
           "torch_dtype": "bfloat16", "transformers_version": "4.50.0.dev0", "use_cache": True, "vocab_size": n_vocab}
    ts = [T("model.embed_tokens.weight", n_vocab, E), norm("model.norm.weight", E, "BF16", 0.3, 0.2)]
    for i in range(L):
        ts += gemma_layer(f"model.layers.{i}.", E, H, Hkv, D, F, qk_norm=True, dtype="BF16")
    files["generation_config.json"] = {"bos_token_id": 2, "cache_implementation": "hybrid", "do_sample": True,
                                       "eos_token_id": [1, 106], "pad_token_id": 0, "top_k": 64, "top_p": 0.95,
                                       "transformers_version": "4.50.0.dev0"}
    return Fixture("gemma3_text", "Gemma3ForCausalLM", "gemma-3-1b-it", cfg, ts, files,
                   notes="hidden 384 (Gemma 3 1B: 1152): rows that are not a multiple of 256")


def siglip_tower(prefix: str, C: int, F: int, L: int, patch: int, n_pos: int) -> list:
    v = f"{prefix}vision_model."
    ts = [T(v + "embeddings.patch_embedding.weight", C, 3, patch, patch), T(v + "embeddings.patch_embedding.bias", C),
          T(v + "embeddings.position_embedding.weight", n_pos, C), norm(v + "post_layernorm.weight", C),
          T(v + "post_layernorm.bias", C)]
    for i in range(L):
        q = f"{v}encoder.layers.{i}."
        ts += [norm(q + "layer_norm1.weight", C), T(q + "layer_norm1.bias", C), norm(q + "layer_norm2.weight", C),
               T(q + "layer_norm2.bias", C), T(q + "mlp.fc1.weight", F, C), T(q + "mlp.fc1.bias", F),
               T(q + "mlp.fc2.weight", C, F), T(q + "mlp.fc2.bias", C)]
        for n in ("q_proj", "k_proj", "v_proj", "out_proj"):
            ts += [T(q + f"self_attn.{n}.weight", C, C), T(q + f"self_attn.{n}.bias", C)]
    return ts


def gemma3_vlm() -> Fixture:
    files, n_vocab, ids = gemma_tokenizer_files(True)
    E, H, Hkv, D, F, L = 256, 2, 1, 128, 512, 2
    n_embd_rows = n_vocab + 64 - (n_vocab % 64)  # Gemma 3 4B: 262208 embedding rows for 262145 tokens
    text = {"hidden_size": E, "intermediate_size": F, "model_type": "gemma3_text", "num_hidden_layers": L,
            "num_attention_heads": H, "num_key_value_heads": Hkv, "head_dim": D, "vocab_size": n_embd_rows,
            "rope_scaling": {"factor": 8.0, "rope_type": "linear"}, "sliding_window": 1024}
    vision = {"hidden_size": 64, "image_size": 28, "intermediate_size": 128, "model_type": "siglip_vision_model",
              "num_attention_heads": 2, "num_hidden_layers": 1, "patch_size": 14, "vision_use_head": False}
    cfg = {"architectures": ["Gemma3ForConditionalGeneration"], "boi_token_index": ids["start_of_image"],
           "eoi_token_index": ids["start_of_image"] + 1, "eos_token_id": [1, 106],
           "image_token_index": ids["image_soft_token"], "initializer_range": 0.02, "mm_tokens_per_image": 4,
           "model_type": "gemma3", "text_config": text, "torch_dtype": "bfloat16",
           "transformers_version": "4.50.0.dev0", "vision_config": vision}
    lm = "language_model.model."
    ts = [T(lm + "embed_tokens.weight", n_embd_rows, E), norm(lm + "norm.weight", E, "BF16", 0.3, 0.2)]
    for i in range(L):
        ts += gemma_layer(f"{lm}layers.{i}.", E, H, Hkv, D, F, qk_norm=True, dtype="BF16")
    ts += siglip_tower("vision_tower.", 64, 128, 1, 14, 4)
    ts += [T("multi_modal_projector.mm_input_projection_weight", 64, E),
           norm("multi_modal_projector.mm_soft_emb_norm.weight", 64, "BF16", 0.0, 0.1)]
    files["generation_config.json"] = {"bos_token_id": 2, "cache_implementation": "hybrid", "do_sample": True,
                                       "eos_token_id": [1, 106], "pad_token_id": 0, "top_k": 64, "top_p": 0.95,
                                       "transformers_version": "4.50.0.dev0"}
    files["preprocessor_config.json"] = {"do_convert_rgb": None, "do_normalize": True, "do_rescale": True,
                                         "do_resize": True, "image_mean": [0.5, 0.5, 0.5],
                                         "image_processor_type": "Gemma3ImageProcessor", "image_seq_length": 4,
                                         "image_std": [0.5, 0.5, 0.5], "processor_class": "Gemma3Processor",
                                         "resample": 2, "rescale_factor": 0.00392156862745098,
                                         "size": {"height": 28, "width": 28}}
    return Fixture("gemma3_vlm", "Gemma3ForConditionalGeneration", "gemma-3-4b-it", cfg, ts, files,
                   notes="text_config spells out heads/head_dim/vocab_size (the real 4B leaves them to transformers' "
                         "defaults); embedding rows padded past the tokenizer as in the real 4B (262208 rows, "
                         "262145 tokens); vision tower and projector present (the text conversion drops them)")


# ------------------------------------------------------------------ Gemma 4
GEMMA4_SPECIALS = ["<|turn>", "<turn|>", "<|channel>", "<channel|>", "<|tool_call>", "<tool_call|>", "<|tool_response>",
                   "<tool_response|>", '<|"|>', "<|image>", "<image|>", "<|image|>"]
GEMMA4_TEMPLATE = ("{{ bos_token }}{% for message in messages %}{{ '<|turn>' + message['role'] + '\n' + "
                   "message['content'] | trim + '<turn|>\n' }}{% endfor %}{% if add_generation_prompt %}"
                   "{{ '<|turn>model\n' }}{% endif %}")


def gemma4_tokenizer():
    """Gemma 4 ships tokenizer.json only: SentencePiece-style BPE (▁ for spaces, byte fallback, merges)."""
    p = [("<pad>", 0.0, SPM_CONTROL), ("<eos>", 0.0, SPM_CONTROL), ("<bos>", 0.0, SPM_CONTROL),
         ("<unk>", 0.0, SPM_UNKNOWN), ("<mask>", 0.0, SPM_USER_DEFINED), ("[multimodal]", 0.0, SPM_USER_DEFINED)]
    first_special = len(p)
    p += [(t, 0.0, SPM_USER_DEFINED) for t in GEMMA4_SPECIALS]
    p += [("\n" * k, 0.0, SPM_USER_DEFINED) for k in range(1, 4)]
    p += [(f"<0x{b:02X}>", 0.0, SPM_BYTE) for b in range(256)]
    p += spm_word_pieces()
    specials = [added("<pad>", 0), added("<eos>", 1), added("<bos>", 2), added("<unk>", 3), added("<mask>", 4, False),
                added("[multimodal]", 5, False)]
    specials += [added(t, first_special + i, t not in ('<|"|>',)) for i, t in enumerate(GEMMA4_SPECIALS)]
    tj = spm_hf_tokenizer_json(p, specials, prepend=False, post_processor=template_processing("<bos>", 2))
    tc = {"added_tokens_decoder": added_tokens_decoder(specials), "additional_special_tokens": GEMMA4_SPECIALS,
          "bos_token": "<bos>", "chat_template": GEMMA4_TEMPLATE,
          "clean_up_tokenization_spaces": False, "eos_token": "<eos>", "extra_special_tokens": {},
          "model_max_length": 1000000000000000019884624838656, "pad_token": "<pad>", "padding_side": "left",
          "processor_class": "Gemma4Processor", "spaces_between_special_tokens": False,
          "tokenizer_class": "GemmaTokenizer", "unk_token": "<unk>"}
    return tj, tc, len(p)


def gemma4_text_config(V: int) -> dict:
    return {"attention_bias": False, "attention_dropout": 0.0, "attention_k_eq_v": True, "bos_token_id": 2,
            "enable_moe_block": False, "eos_token_id": 1, "final_logit_softcapping": 30.0, "global_head_dim": 128,
            "head_dim": 64, "hidden_activation": "gelu_pytorch_tanh", "hidden_size": 256, "hidden_size_per_layer_input": 0,
            "initializer_range": 0.02, "intermediate_size": 512,
            "layer_types": ["sliding_attention", "sliding_attention", "full_attention"],
            "max_position_embeddings": 262144, "model_type": "gemma4_text", "moe_intermediate_size": None,
            "num_attention_heads": 2, "num_experts": None,
            "num_global_key_value_heads": 1, "num_hidden_layers": 3, "num_key_value_heads": 2,
            "num_kv_shared_layers": 0, "pad_token_id": 0, "rms_norm_eps": 1e-06,
            "rope_parameters": {"full_attention": {"partial_rotary_factor": 0.25, "rope_theta": 1000000.0,
                                                   "rope_type": "proportional"},
                                "sliding_attention": {"rope_theta": 10000.0, "rope_type": "default"}},
            "sliding_window": 1024, "tie_word_embeddings": True, "top_k_experts": None,
            "use_bidirectional_attention": "vision",
            "use_cache": True, "use_double_wide_mlp": False, "vocab_size": V, "vocab_size_per_layer_input": V}


def gemma4_layers(prefix: str, cfg: dict) -> list:
    E, F = cfg["hidden_size"], cfg["intermediate_size"]
    ts = [T(prefix + "embed_tokens.weight", cfg["vocab_size"], E), norm(prefix + "norm.weight", E)]
    for i, kind in enumerate(cfg["layer_types"]):
        p = f"{prefix}layers.{i}."
        full = kind == "full_attention"
        D = cfg["global_head_dim"] if full else cfg["head_dim"]
        Hkv = cfg["num_global_key_value_heads"] if full else cfg["num_key_value_heads"]
        a = p + "self_attn."
        ts += [T(a + "q_proj.weight", cfg["num_attention_heads"] * D, E), T(a + "k_proj.weight", Hkv * D, E),
               T(a + "o_proj.weight", E, cfg["num_attention_heads"] * D), norm(a + "q_norm.weight", D),
               norm(a + "k_norm.weight", D)]
        if not (full and cfg["attention_k_eq_v"]):
            ts.append(T(a + "v_proj.weight", Hkv * D, E))
        ts += llama_mlp(p, E, F)
        for n in ("input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm", "post_feedforward_layernorm"):
            ts.append(norm(f"{p}{n}.weight", E))
        ts.append(T(p + "layer_scalar", 1, mean=0.5, std=0.01))
    return ts


GEMMA4_NOTES = ("3 layers (2 sliding + 1 full; the real 31B has 5:1 over 60); full layers use global_head_dim and "
                "num_global_key_value_heads with attention_k_eq_v (no v_proj); proportional partial RoPE on full layers "
                "(the converter adds rope_freqs); model_type gemma4 unknown to transformers 4.57.6 (config.json is read)")


def gemma4_text() -> Fixture:
    tj, tc, V = gemma4_tokenizer()
    del tc["processor_class"]
    cfg = {"architectures": ["Gemma4ForCausalLM"], **gemma4_text_config(V), "dtype": "bfloat16",
           "transformers_version": "5.5.0.dev0"}
    ts = gemma4_layers("model.", cfg)
    files = {"tokenizer.json": tj, "tokenizer_config.json": tc,
             "generation_config.json": {"bos_token_id": 2, "do_sample": True, "eos_token_id": [1, 106],
                                        "pad_token_id": 0, "top_k": 64, "top_p": 0.95,
                                        "transformers_version": "5.5.0.dev0"}}
    return Fixture("gemma4_text", "Gemma4ForCausalLM", "gemma-4-31B-it-text", cfg, ts, files, notes=GEMMA4_NOTES)


def gemma4_vlm() -> Fixture:
    tj, tc, V = gemma4_tokenizer()
    text = gemma4_text_config(V)
    C = 64
    cfg = {"architectures": ["Gemma4ForConditionalGeneration"], "audio_config": None, "boi_token_id": 15,
           "dtype": "bfloat16", "eoi_token_id": 16, "image_token_id": 17, "initializer_range": 0.02,
           "model_type": "gemma4", "text_config": text, "tie_word_embeddings": True,
           "transformers_version": "5.5.0.dev0",
           "vision_config": {"attention_bias": False, "head_dim": 32, "hidden_activation": "gelu_pytorch_tanh",
                             "hidden_size": C, "intermediate_size": 128, "model_type": "gemma4_vision",
                             "num_attention_heads": 2, "num_hidden_layers": 1, "num_key_value_heads": 2,
                             "patch_size": 16, "pooling_kernel_size": 3, "position_embedding_size": 64,
                             "rms_norm_eps": 1e-06, "standardize": False}}
    ts = gemma4_layers("model.language_model.", text)
    v = "model.vision_tower."
    ts += [T(v + "patch_embedder.input_proj.weight", C, 3 * 16 * 16),
           T(v + "patch_embedder.position_embedding_table", 2, 64, C)]
    q = v + "encoder.layers.0."
    ts += [T(q + f"self_attn.{n}_proj.linear.weight", C, C) for n in "qkvo"]
    ts += [norm(q + "self_attn.q_norm.weight", 32), norm(q + "self_attn.k_norm.weight", 32),
           T(q + "mlp.gate_proj.linear.weight", 128, C), T(q + "mlp.up_proj.linear.weight", 128, C),
           T(q + "mlp.down_proj.linear.weight", C, 128)]
    for n in ("input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm", "post_feedforward_layernorm"):
        ts.append(norm(f"{q}{n}.weight", C))
    ts.append(T("model.embed_vision.embedding_projection.weight", text["hidden_size"], C))
    files = {"tokenizer.json": tj, "tokenizer_config.json": tc,
             "generation_config.json": {"bos_token_id": 2, "do_sample": True, "eos_token_id": [1, 106],
                                        "pad_token_id": 0, "top_k": 64, "top_p": 0.95,
                                        "transformers_version": "5.5.0.dev0"}}
    return Fixture("gemma4_vlm", "Gemma4ForConditionalGeneration", "gemma-4-31B-it", cfg, ts, files,
                   notes=GEMMA4_NOTES + "; vision tower and embed_vision projector present (dropped by the text "
                                        "conversion)")


def fixtures() -> List[Fixture]:
    return [gemma2(), gemma3_text(), gemma3_vlm(), gemma4_text(), gemma4_vlm()]
