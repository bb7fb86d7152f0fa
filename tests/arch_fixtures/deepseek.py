"""DeepSeek-V2-Lite (DeepseekV2ForCausalLM: MLA without q LoRA, YaRN, one leading dense layer,
shared experts, softmax routing; bf16), DeepSeek-V3 / R1 (DeepseekV3ForCausalLM: q LoRA, sigmoid
routing with e_score_correction_bias, expert groups, block-FP8 weights with weight_scale_inv,
an MTP layer the converter skips) and a Kimi-K2-shaped checkpoint (DeepSeek-V3 architecture,
model_type kimi_k2, tiktoken tokenizer that needs the model's remote code)."""

from __future__ import annotations

import base64
from typing import List

from ._common import (
    DEEPSEEK_V3_SPLITS,
    GPT2_BYTES,
    Fixture,
    T,
    added,
    added_tokens_decoder,
    bpe,
    bpe_vocab,
    byte_level,
    fp8_linear,
    norm,
    split,
    template_processing,
)

DEEPSEEK_LLM_SPLITS = [
    '[\r\n]',
    '\\s?[A-Za-z\xb5\xc0-\xd6\xd8-\xf6\xf8-\u01ba\u01bc-\u01bf\u01c4-\u0293\u0295-\u02af\u0370-\u0373\u0376\u0377\u037b-\u037d\u037f\u0386\u0388-\u038a\u038c\u038e-\u03a1\u03a3-\u03f5\u03f7-\u0481\u048a-\u052f\u0531-\u0556\u10a0-\u10c5\u13a0-\u13f5\u13f8-\u13fd\u1c90-\u1cba\u1cbd-\u1cbf\u1d00-\u1d2b\u1d6b-\u1d77\u1d79-\u1d9a\u1e00-\u1f15\u1f18-\u1f1d\u1f20-\u1f45\u1f48-\u1f4d\u1f50-\u1f57\u1f59\u1f5b\u1f5d\u1f5f-\u1f7d\u1f80-\u1fb4\u1fb6-\u1fbc\u1fbe\u1fc2-\u1fc4\u1fc6-\u1fcc\u1fd0-\u1fd3\u1fd6-\u1fdb\u1fe0-\u1fec\u1ff2-\u1ff4\u1ff6-\u1ffc\u2102\u2107\u210a-\u2113\u2115\u2119-\u211d\u2124\u2126\u2128\u212a-\u212d\u212f-\u2134\u2139\u213c-\u213f\u2145-\u2149\u214e\u2183\u2184\u2c00-\u2c7b\u2c7e-\u2ce4\u2ceb-\u2cee\u2cf2\u2cf3\ua640-\ua66d\ua680-\ua69b\ua722-\ua76f\ua771-\ua787\ua78b-\ua78e\uab70-\uabbf\ufb00-\ufb06\ufb13-\ufb17\uff21-\uff3a\uff41-\uff5a\U00010400-\U0001044f\U000104b0-\U000104d3\U000104d8-\U000104fb\U00010c80-\U00010cb2\U00010cc0-\U00010cf2\U000118a0-\U000118df\U0001e900-\U0001e943]+',
    '\\s?[!-/:-~\uff01-\uff0f\uff1a-\uff5e\u2018-\u201f\u3000-\u3002]+',
    '\\s+$',
    '[\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff]+',
    '\\p{N}+',
]
BOS, EOS, PAD = "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜▁pad▁｜>"
TEMPLATE = ("{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ '<｜User｜>' + "
            "message['content'] }}{% elif message['role'] == 'assistant' %}{{ '<｜Assistant｜>' + message['content'] + "
            "'<｜end▁of▁sentence｜>' }}{% else %}{{ message['content'] }}{% endif %}{% endfor %}"
            "{% if add_generation_prompt %}{{ '<｜Assistant｜>' }}{% endif %}")


def llama_fast_config(b, bos_id):
    return {"add_bos_token": True, "add_eos_token": False, "added_tokens_decoder": added_tokens_decoder(b.added_tokens),
            "bos_token": {"__type": "AddedToken", "content": BOS, "lstrip": False, "normalized": True,
                          "rstrip": False, "single_word": False},
            "chat_template": TEMPLATE, "clean_up_tokenization_spaces": False,
            "eos_token": {"__type": "AddedToken", "content": EOS, "lstrip": False, "normalized": True,
                          "rstrip": False, "single_word": False},
            "legacy": True, "model_max_length": 16384, "pad_token": {"__type": "AddedToken", "content": EOS,
                                                                     "lstrip": False, "normalized": True,
                                                                     "rstrip": False, "single_word": False},
            "sp_model_kwargs": {}, "tokenizer_class": "LlamaTokenizerFast", "unk_token": None,
            "use_default_system_prompt": False}


def mla_attn(p: str, E: int, H: int, q_lora, kv_lora: int, nope: int, rope: int, v: int, fp8: bool) -> list:
    a = p + "self_attn."
    lin = (lambda n, o, i: fp8_linear(n, o, i)) if fp8 else (lambda n, o, i: [T(n, o, i)])
    ts = []
    if q_lora:
        ts += lin(a + "q_a_proj.weight", q_lora, E) + [norm(a + "q_a_layernorm.weight", q_lora)]
        ts += lin(a + "q_b_proj.weight", H * (nope + rope), q_lora)
    else:
        ts += lin(a + "q_proj.weight", H * (nope + rope), E)
    ts += lin(a + "kv_a_proj_with_mqa.weight", kv_lora + rope, E) + [norm(a + "kv_a_layernorm.weight", kv_lora)]
    ts += lin(a + "kv_b_proj.weight", H * (nope + v), kv_lora) + lin(a + "o_proj.weight", E, H * v)
    return ts


def mlp(p: str, E: int, F: int, fp8: bool, kind: str = "mlp") -> list:
    m = f"{p}{kind}."
    if fp8:
        return fp8_linear(m + "gate_proj.weight", F, E) + fp8_linear(m + "up_proj.weight", F, E) + \
            fp8_linear(m + "down_proj.weight", E, F)
    return [T(m + "gate_proj.weight", F, E), T(m + "up_proj.weight", F, E), T(m + "down_proj.weight", E, F)]


def moe(p: str, E: int, F: int, X: int, n_shared: int, fp8: bool, bias: bool) -> list:
    ts = [T(p + "mlp.gate.weight", X, E)]
    if bias:
        ts.append(T(p + "mlp.gate.e_score_correction_bias", X, dtype="F32", mean=0.0, std=0.01))
    for x in range(X):
        ts += mlp(p, E, F, fp8, f"mlp.experts.{x}")
    ts += mlp(p, E, F * n_shared, fp8, "mlp.shared_experts")
    return ts


def deepseek_v2_lite() -> Fixture:
    base_specials = [(BOS, True), (EOS, True)]
    b = bpe(base_specials, regex=None, pre_tokenizer={"type": "Sequence", "pretokenizers": [
        *[split(r) for r in DEEPSEEK_LLM_SPLITS], byte_level(False)]},
        post_processor=template_processing(BOS, None), ignore_merges=False,
        decoder={"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True})
    b.tokenizer_json["post_processor"]["special_tokens"][BOS]["ids"] = [b.ids[BOS]]
    V = b.n_vocab + 2   # 102400 rows for 100015 tokens: a few unused ids at the end
    # llama.cpp recognises a q_lora_rank-less ("lite") DeepSeek-V2 by its layer count (26 or 27): without it
    # the file does not load (nor requantize). So 26 thin layers: 1 dense + 25 MoE.
    E, H, KV, NOPE, ROPE, VD = 256, 1, 128, 32, 32, 32     # 2048, 16 heads, kv_lora 512, 128/64/128
    F, FM, X, L = 608, 32, 4, 26                          # 10944 / 1408 (not multiples of 256), 64 experts / 6 used
    cfg = {"architectures": ["DeepseekV2ForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
           "auto_map": {"AutoConfig": "configuration_deepseek.DeepseekV2Config",
                        "AutoModel": "modeling_deepseek.DeepseekV2Model",
                        "AutoModelForCausalLM": "modeling_deepseek.DeepseekV2ForCausalLM"},
           "aux_loss_alpha": 0.001, "bos_token_id": b.ids[BOS], "eos_token_id": b.ids[EOS], "first_k_dense_replace": 1,
           "hidden_act": "silu", "hidden_size": E, "initializer_range": 0.02, "intermediate_size": F,
           "kv_lora_rank": KV, "max_position_embeddings": 163840, "model_type": "deepseek_v2",
           "moe_intermediate_size": FM, "moe_layer_freq": 1, "n_group": 1, "n_routed_experts": X, "n_shared_experts": 2,
           "norm_topk_prob": False, "num_attention_heads": H, "num_experts_per_tok": 2, "num_hidden_layers": L,
           "num_key_value_heads": H, "pretraining_tp": 1, "q_lora_rank": None, "qk_nope_head_dim": NOPE,
           "qk_rope_head_dim": ROPE, "rms_norm_eps": 1e-06,
           "rope_scaling": {"beta_fast": 32, "beta_slow": 1, "factor": 40, "mscale": 0.707, "mscale_all_dim": 0.707,
                            "original_max_position_embeddings": 4096, "type": "yarn"},
           "rope_theta": 10000, "routed_scaling_factor": 1.0, "scoring_func": "softmax", "seq_aux": True,
           "tie_word_embeddings": False, "topk_group": 1, "topk_method": "greedy", "torch_dtype": "bfloat16",
           "transformers_version": "4.33.1", "use_cache": True, "v_head_dim": VD, "vocab_size": V}
    ts = [T("model.embed_tokens.weight", V, E), norm("model.norm.weight", E), T("lm_head.weight", V, E)]
    for i in range(L):
        p = f"model.layers.{i}."
        ts += mla_attn(p, E, H, None, KV, NOPE, ROPE, VD, False)
        ts += mlp(p, E, F, False) if i == 0 else moe(p, E, FM, X, 2, False, False)
        ts += [norm(p + "input_layernorm.weight", E), norm(p + "post_attention_layernorm.weight", E)]
    files = {"tokenizer.json": b.tokenizer_json, "tokenizer_config.json": llama_fast_config(b, b.ids[BOS]),
             "generation_config.json": {"bos_token_id": b.ids[BOS], "do_sample": True, "eos_token_id": b.ids[EOS],
                                        "temperature": 0.3, "top_p": 0.95, "transformers_version": "4.39.3"}}
    return Fixture("deepseek_v2_lite", "DeepseekV2ForCausalLM", "DeepSeek-V2-Lite-Chat", cfg, ts, files,
                   pre="deepseek-llm",
                   pre_source="convert_hf_to_gguf_update.py names deepseek-ai/deepseek-llm-7b-base's tokenizer "
                              "'deepseek-llm'; DeepSeek-V2/V2-Lite reuse that 100k vocabulary and its Split rules",
                   notes="26 thin layers (llama.cpp's deepseek2 loader requires attention.q_lora_rank unless the "
                         "model has 26 or 27 layers): 1 dense + 25 MoE (4 of 64 experts, 2 used, 2 shared); "
                         "q_lora_rank null; YaRN")


def v3_tokenizer():
    specials = [(BOS, True), (EOS, True), (PAD, True)]
    b = bpe(specials, first=True, regex=None, pre_tokenizer={"type": "Sequence", "pretokenizers": [
        *[split(r) for r in DEEPSEEK_V3_SPLITS], byte_level(False)]},
        post_processor=template_processing(BOS, 0), ignore_merges=False,
        decoder={"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True})
    n = b.n_vocab
    for i, c in enumerate(["<｜fim▁hole｜>", "<｜fim▁begin｜>", "<｜fim▁end｜>", "<｜User｜>", "<｜Assistant｜>", "<think>",
                           "</think>", "<｜tool▁calls▁begin｜>", "<｜tool▁calls▁end｜>"]):
        b.added_tokens.append(added(c, n + i, c not in ("<think>", "</think>")))
        b.ids[c] = n + i
    b.tokenizer_json["added_tokens"] = b.added_tokens
    b.n_vocab = n + 9
    return b


def v3_layers(L: int, n_dense: int, E: int, H: int, QL: int, KV: int, NOPE: int, ROPE: int, VD: int, F: int, FM: int,
              X: int, fp8: bool) -> list:
    ts = []
    for i in range(L):
        p = f"model.layers.{i}."
        ts += mla_attn(p, E, H, QL, KV, NOPE, ROPE, VD, fp8)
        ts += mlp(p, E, F, fp8) if i < n_dense else moe(p, E, FM, X, 1, fp8, True)
        ts += [norm(p + "input_layernorm.weight", E), norm(p + "post_attention_layernorm.weight", E)]
    return ts


FP8_QC = {"activation_scheme": "dynamic", "fmt": "e4m3", "quant_method": "fp8", "weight_block_size": [128, 128]}


def deepseek_v3() -> Fixture:
    b = v3_tokenizer()
    V = b.n_vocab + 3
    E, H, QL, KV, NOPE, ROPE, VD = 256, 2, 256, 256, 128, 64, 128   # 7168, 128 heads, q_lora 1536, kv_lora 512
    F, FM, X, L = 512, 256, 8, 2                                   # 18432 / 2048, 256 experts / 8 used, 8 groups
    cfg = {"architectures": ["DeepseekV3ForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
           "auto_map": {"AutoConfig": "configuration_deepseek.DeepseekV3Config",
                        "AutoModel": "modeling_deepseek.DeepseekV3Model",
                        "AutoModelForCausalLM": "modeling_deepseek.DeepseekV3ForCausalLM"},
           "bos_token_id": 0, "eos_token_id": 1, "ep_size": 1, "first_k_dense_replace": 1, "hidden_act": "silu",
           "hidden_size": E, "initializer_range": 0.02, "intermediate_size": F, "kv_lora_rank": KV,
           "max_position_embeddings": 163840, "model_type": "deepseek_v3", "moe_intermediate_size": FM,
           "moe_layer_freq": 1, "n_group": 2, "n_routed_experts": X, "n_shared_experts": 1, "norm_topk_prob": True,
           "num_attention_heads": H, "num_experts_per_tok": 2, "num_hidden_layers": L, "num_key_value_heads": H,
           "num_nextn_predict_layers": 1, "pretraining_tp": 1, "q_lora_rank": QL, "qk_nope_head_dim": NOPE,
           "qk_rope_head_dim": ROPE, "quantization_config": FP8_QC, "rms_norm_eps": 1e-06,
           "rope_scaling": {"beta_fast": 32, "beta_slow": 1, "factor": 40, "mscale": 1.0, "mscale_all_dim": 1.0,
                            "original_max_position_embeddings": 4096, "type": "yarn"},
           "rope_theta": 10000, "routed_scaling_factor": 2.5, "scoring_func": "sigmoid", "seq_aux": True,
           "tie_word_embeddings": False, "topk_group": 1, "topk_method": "noaux_tc", "torch_dtype": "bfloat16",
           "transformers_version": "4.46.3", "use_cache": True, "v_head_dim": VD, "vocab_size": V}
    ts = [T("model.embed_tokens.weight", V, E), norm("model.norm.weight", E), T("lm_head.weight", V, E)]
    ts += v3_layers(L, 1, E, H, QL, KV, NOPE, ROPE, VD, F, FM, X, True)
    # the MTP layer (model.layers.{L}): its own embedding, projections, a MoE decoder layer and the shared head
    p = f"model.layers.{L}."
    ts += [T(p + "embed_tokens.weight", V, E), norm(p + "enorm.weight", E), norm(p + "hnorm.weight", E),
           T(p + "eh_proj.weight", E, 2 * E), norm(p + "shared_head.norm.weight", E), T(p + "shared_head.head.weight", V, E)]
    ts += mla_attn(p, E, H, QL, KV, NOPE, ROPE, VD, True) + moe(p, E, FM, X, 1, True, True)
    ts += [norm(p + "input_layernorm.weight", E), norm(p + "post_attention_layernorm.weight", E)]
    files = {"tokenizer.json": b.tokenizer_json, "tokenizer_config.json": llama_fast_config(b, 0),
             "generation_config.json": {"_from_model_config": True, "bos_token_id": 0, "do_sample": True,
                                        "eos_token_id": 1, "temperature": 0.6, "top_p": 0.95,
                                        "transformers_version": "4.46.3"}}
    return Fixture("deepseek_v3", "DeepseekV3ForCausalLM", "DeepSeek-V3", cfg, ts, files, shards=2, pre="deepseek-v3",
                   pre_source="convert_hf_to_gguf_update.py names deepseek-ai/DeepSeek-V3's tokenizer 'deepseek-v3' "
                              "(DeepSeek-R1 ships the same one)",
                   notes="block-FP8 (float8_e4m3fn + weight_scale_inv, 128x128) as the published checkpoint; 1 dense "
                         "+ 1 MoE layer + the MTP layer; 8 experts in 2 groups, 2 used; sharded in 2 files")


def kimi_k2() -> Fixture:
    base, _ = bpe_vocab()
    inv = {c: bt for bt, c in GPT2_BYTES.items()}
    lines = []
    for rank, tok in enumerate(base):
        raw = bytes(inv[c] for c in tok)
        lines.append(f"{base64.b64encode(raw).decode()} {rank}")
    n = len(base)
    V = n + 256   # 163840 = 163584 + 256: tokenization_kimi reserves 256 special-token ids after the ranks
    specials = {n: "[BOS]", n + 1: "[EOS]", n + 2: "<|im_end|>", n + 3: "<|im_user|>", n + 4: "<|im_assistant|>",
                n + 6: "<|start_header_id|>", n + 7: "<|end_header_id|>", n + 9: "[EOT]", n + 10: "<|im_system|>",
                n + 15: "<|im_middle|>"}
    atd = {str(i): {"content": c, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False,
                    "special": True} for i, c in specials.items()}
    tc = {"added_tokens_decoder": atd, "additional_special_tokens": ["<|im_end|>", "<|im_user|>", "<|im_assistant|>",
                                                                      "<|start_header_id|>", "<|end_header_id|>",
                                                                      "[EOT]", "<|im_system|>", "<|im_middle|>"],
          "auto_map": {"AutoTokenizer": ["tokenization_kimi.TikTokenTokenizer", None]}, "bos_token": "[BOS]",
          "chat_template": "{%- for message in messages -%}{{ '<|im_' + message['role'] + '|>' + message['role'] + "
                           "'<|im_middle|>' + message['content'] + '<|im_end|>' }}{%- endfor -%}"
                           "{%- if add_generation_prompt -%}{{ '<|im_assistant|>assistant<|im_middle|>' }}{%- endif -%}",
          "clean_up_tokenization_spaces": False, "eos_token": "[EOS]", "extra_special_tokens": {},
          "model_max_length": 1000000000000000019884624838656, "pad_token": "[PAD]",
          "tokenizer_class": "TikTokenTokenizer", "unk_token": "[UNK]"}
    E, H, QL, KV, NOPE, ROPE, VD = 256, 2, 256, 256, 128, 64, 128   # 7168, 64 heads, q_lora 1536, kv_lora 512
    F, FM, X, L = 512, 256, 8, 2                                   # 384 experts / 8 used, 1 group
    cfg = {"architectures": ["DeepseekV3ForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
           "auto_map": {"AutoConfig": "configuration_deepseek.DeepseekV3Config",
                        "AutoModel": "modeling_deepseek.DeepseekV3Model",
                        "AutoModelForCausalLM": "modeling_deepseek.DeepseekV3ForCausalLM"},
           "aux_loss_alpha": 0.001, "bos_token_id": n, "eos_token_id": n + 1, "ep_size": 1, "first_k_dense_replace": 1,
           "hidden_act": "silu", "hidden_size": E, "initializer_range": 0.02, "intermediate_size": F,
           "kv_lora_rank": KV, "max_position_embeddings": 131072, "model_type": "kimi_k2", "moe_intermediate_size": FM,
           "moe_layer_freq": 1, "n_group": 1, "n_routed_experts": X, "n_shared_experts": 1, "norm_topk_prob": True,
           "num_attention_heads": H, "num_experts_per_tok": 2, "num_hidden_layers": L, "num_key_value_heads": H,
           "num_nextn_predict_layers": 0, "pretraining_tp": 1, "q_lora_rank": QL, "qk_nope_head_dim": NOPE,
           "qk_rope_head_dim": ROPE, "quantization_config": FP8_QC, "rms_norm_eps": 1e-06,
           "rope_scaling": {"beta_fast": 1.0, "beta_slow": 1.0, "factor": 32.0, "mscale": 1.0, "mscale_all_dim": 1.0,
                            "original_max_position_embeddings": 4096, "type": "yarn"},
           "rope_theta": 50000.0, "routed_scaling_factor": 2.827, "scoring_func": "sigmoid", "seq_aux": True,
           "tie_word_embeddings": False, "topk_group": 1, "topk_method": "noaux_tc", "torch_dtype": "bfloat16",
           "transformers_version": "4.48.3", "use_cache": True, "v_head_dim": VD, "vocab_size": V}
    ts = [T("model.embed_tokens.weight", V, E), norm("model.norm.weight", E), T("lm_head.weight", V, E)]
    ts += v3_layers(L, 1, E, H, QL, KV, NOPE, ROPE, VD, F, FM, X, True)
    files = {"tiktoken.model": "\n".join(lines) + "\n", "tokenizer_config.json": tc,
             "generation_config.json": {"bos_token_id": n, "eos_token_id": n + 1, "max_length": 131072}}
    return Fixture("kimi_k2", "DeepseekV3ForCausalLM", "Kimi-K2-Instruct", cfg, ts, files, pre="kimi-k2",
                   pre_source="convert_hf_to_gguf_update.py lists moonshotai/Kimi-K2-Base as 'kimi-k2' (by hash: the "
                              "tokenizer is only reachable through the model's tokenization_kimi.py)",
                   notes="tiktoken.model + tokenizer_config.json whose auto_map names tokenization_kimi.TikTokenTokenizer "
                         "(the model's remote code, not shipped here: model code is never copied); model_type kimi_k2 "
                         "(unknown to transformers 4.57.6); block-FP8 weights")


KIMI_TOKENIZER_STANDIN = '''"""A stand-in for Kimi K2's tokenization_kimi.py, written for Wick's tests (it is not the model's
code): it provides only what llama.cpp's converter reads from the tokenizer -- ``model._mergeable_ranks``
(tiktoken.model: base64 token, rank), ``special_tokens`` (the 256 ids after the ranks, named from
tokenizer_config.json's added_tokens_decoder, else <|reserved_token_ID|>, as the published tokenizer
names them) and an ``encode`` for the converter's pre-tokenizer probe (bytes, no merging)."""

import base64

from transformers import PreTrainedTokenizer

BYTE_CHARS = {}
_n = 0
for _b in range(256):
    if 33 <= _b <= 126 or 161 <= _b <= 172 or 174 <= _b <= 255:
        BYTE_CHARS[_b] = chr(_b)
    else:
        BYTE_CHARS[_b] = chr(256 + _n)
        _n += 1


class _Ranks:
    def __init__(self, ranks):
        self._mergeable_ranks = ranks


class TikTokenTokenizer(PreTrainedTokenizer):
    vocab_files_names = {"vocab_file": "tiktoken.model"}
    model_input_names = ["input_ids", "attention_mask"]
    num_reserved_special_tokens = 256

    def __init__(self, vocab_file, bos_token="[BOS]", eos_token="[EOS]", unk_token=None, pad_token=None,
                 additional_special_tokens=None, added_tokens_decoder=None, **kwargs):
        ranks = {}
        with open(vocab_file, "rb") as f:
            for line in f:
                if line.strip():
                    tok, rank = line.split()
                    ranks[base64.b64decode(tok)] = int(rank)
        names = {int(i): getattr(t, "content", t) for i, t in (added_tokens_decoder or {}).items()}
        n = len(ranks)
        self.special_tokens = {names.get(i, f"<|reserved_token_{i}|>"): i
                               for i in range(n, n + self.num_reserved_special_tokens)}
        self.model = _Ranks(ranks)
        self.decoder = {r: "".join(BYTE_CHARS[b] for b in t) for t, r in ranks.items()}
        self.decoder.update({i: s for s, i in self.special_tokens.items()})
        self.encoder = {s: i for i, s in self.decoder.items()}
        self.n_words = n + self.num_reserved_special_tokens
        super().__init__(bos_token=bos_token, eos_token=eos_token, unk_token=unk_token, pad_token=pad_token,
                         additional_special_tokens=additional_special_tokens, **kwargs)

    def encode(self, text, **kwargs):
        if kwargs:
            return super().encode(text, **kwargs)
        return [self.model._mergeable_ranks[bytes([b])] for b in text.encode("utf-8")]

    @property
    def vocab_size(self):
        return self.n_words

    def get_vocab(self):
        return dict(self.encoder)

    def _tokenize(self, text, **kwargs):
        return [self.decoder[t] for t in self.encode(text)]

    def _convert_token_to_id(self, token):
        return self.encoder.get(token, 0)

    def _convert_id_to_token(self, index):
        return self.decoder.get(index)

    def convert_tokens_to_string(self, tokens):
        rev = {c: b for b, c in BYTE_CHARS.items()}
        return bytes(rev[c] for c in "".join(tokens) if c in rev).decode("utf-8", "replace")

    def save_vocabulary(self, save_directory, filename_prefix=None):
        return ()
'''


def kimi_k2_standin() -> Fixture:
    fx = kimi_k2()
    fx.name = "kimi_k2_standin"
    fx.files["tokenization_kimi.py"] = KIMI_TOKENIZER_STANDIN
    fx.notes = ("kimi_k2 plus a stand-in tokenization_kimi.py written for these tests (not the model's code: only "
                "the attributes the converter reads -- mergeable ranks from tiktoken.model and the 256 reserved "
                "special ids named from added_tokens_decoder); the reference shows what the converter writes for a "
                "tiktoken vocabulary, which Wick has to read from tiktoken.model directly")
    return fx


def fixtures() -> List[Fixture]:
    return [deepseek_v2_lite(), deepseek_v3(), kimi_k2(), kimi_k2_standin()]
