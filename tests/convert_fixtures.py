"""Shared fixtures for the tests/test_convert_*.py files: real config.json
structures of well-known checkpoints, their safetensors tensor listings, and
small but real-shaped tokenizer files."""

from __future__ import annotations

import struct
from typing import Dict, List, Optional, Sequence, Tuple

LLAMA3_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_REGEX = LLAMA3_REGEX.replace(r"\p{N}{1,3}", r"\p{N}")

# --------------------------------------------------------------- configs
LLAMA32_1B = {
    "architectures": ["LlamaForCausalLM"], "attention_bias": False, "attention_dropout": 0.0, "bos_token_id": 128000,
    "eos_token_id": 128001, "head_dim": 64, "hidden_act": "silu", "hidden_size": 2048, "initializer_range": 0.02,
    "intermediate_size": 8192, "max_position_embeddings": 131072, "mlp_bias": False, "model_type": "llama",
    "num_attention_heads": 32, "num_hidden_layers": 16, "num_key_value_heads": 8, "pretraining_tp": 1,
    "rms_norm_eps": 1e-05,
    "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                     "original_max_position_embeddings": 8192, "rope_type": "llama3"},
    "rope_theta": 500000.0, "tie_word_embeddings": True, "torch_dtype": "bfloat16", "transformers_version": "4.45.0.dev0",
    "use_cache": True, "vocab_size": 128256,
}

LLAMA2_7B = {
    "_name_or_path": "meta-llama/Llama-2-7b-hf", "architectures": ["LlamaForCausalLM"], "bos_token_id": 1,
    "eos_token_id": 2, "hidden_act": "silu", "hidden_size": 4096, "initializer_range": 0.02, "intermediate_size": 11008,
    "max_position_embeddings": 4096, "model_type": "llama", "num_attention_heads": 32, "num_hidden_layers": 32,
    "num_key_value_heads": 32, "pretraining_tp": 1, "rms_norm_eps": 1e-05, "rope_scaling": None,
    "tie_word_embeddings": False, "torch_dtype": "float16", "transformers_version": "4.31.0.dev0", "use_cache": True,
    "vocab_size": 32000,
}

MISTRAL_7B = {
    "architectures": ["MistralForCausalLM"], "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu",
    "hidden_size": 4096, "initializer_range": 0.02, "intermediate_size": 14336, "max_position_embeddings": 32768,
    "model_type": "mistral", "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8,
    "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "sliding_window": 4096, "tie_word_embeddings": False,
    "torch_dtype": "bfloat16", "transformers_version": "4.34.0.dev0", "use_cache": True, "vocab_size": 32000,
}

QWEN25_05B = {
    "architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 151643, "eos_token_id": 151643,
    "hidden_act": "silu", "hidden_size": 896, "initializer_range": 0.02, "intermediate_size": 4864,
    "max_position_embeddings": 32768, "max_window_layers": 24, "model_type": "qwen2", "num_attention_heads": 14,
    "num_hidden_layers": 24, "num_key_value_heads": 2, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0,
    "sliding_window": 32768, "tie_word_embeddings": True, "torch_dtype": "bfloat16", "transformers_version": "4.40.1",
    "use_cache": True, "use_mrope": False, "use_sliding_window": False, "vocab_size": 151936,
}

QWEN3_06B = {
    "architectures": ["Qwen3ForCausalLM"], "attention_bias": False, "attention_dropout": 0.0, "bos_token_id": 151643,
    "eos_token_id": 151645, "head_dim": 128, "hidden_act": "silu", "hidden_size": 1024, "initializer_range": 0.02,
    "intermediate_size": 3072, "max_position_embeddings": 40960, "max_window_layers": 28, "model_type": "qwen3",
    "num_attention_heads": 16, "num_hidden_layers": 28, "num_key_value_heads": 8, "rms_norm_eps": 1e-06,
    "rope_scaling": None, "rope_theta": 1000000, "sliding_window": None, "tie_word_embeddings": True,
    "torch_dtype": "bfloat16", "transformers_version": "4.51.0", "use_cache": True, "use_sliding_window": False,
    "vocab_size": 151936,
}


def hf_listing(cfg: dict, *, tied: bool, qkv_bias: bool = False, qk_norm: bool = False, n_expert: int = 0,
               dtype: str = "BF16", shards: int = 1) -> Dict[str, Tuple[str, str, List[int]]]:
    """name -> (file, dtype, shape) of a llama-style checkpoint for config ``cfg``."""
    E, F, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    H = cfg["num_attention_heads"]
    Hkv = cfg.get("num_key_value_heads") or H
    D = cfg.get("head_dim") or E // H
    L = cfg["num_hidden_layers"]
    names: List[Tuple[str, List[int]]] = [("model.embed_tokens.weight", [V, E]), ("model.norm.weight", [E])]
    if not tied:
        names.append(("lm_head.weight", [V, E]))
    for i in range(L):
        p = f"model.layers.{i}."
        names += [(p + "input_layernorm.weight", [E]), (p + "post_attention_layernorm.weight", [E]),
                  (p + "self_attn.q_proj.weight", [H * D, E]), (p + "self_attn.k_proj.weight", [Hkv * D, E]),
                  (p + "self_attn.v_proj.weight", [Hkv * D, E]), (p + "self_attn.o_proj.weight", [E, H * D])]
        if qkv_bias:
            names += [(p + "self_attn.q_proj.bias", [H * D]), (p + "self_attn.k_proj.bias", [Hkv * D]),
                      (p + "self_attn.v_proj.bias", [Hkv * D])]
        if qk_norm:
            names += [(p + "self_attn.q_norm.weight", [D]), (p + "self_attn.k_norm.weight", [D])]
        if n_expert:
            names.append((p + "block_sparse_moe.gate.weight", [n_expert, E]))
            for x in range(n_expert):
                q = f"{p}block_sparse_moe.experts.{x}."
                names += [(q + "w1.weight", [F, E]), (q + "w2.weight", [E, F]), (q + "w3.weight", [F, E])]
        else:
            names += [(p + "mlp.gate_proj.weight", [F, E]), (p + "mlp.up_proj.weight", [F, E]),
                      (p + "mlp.down_proj.weight", [E, F])]
    out = {}
    for n, shape in names:
        if shards == 1:
            f = "model.safetensors"
        else:
            layer = int(n.split(".")[2]) if n.startswith("model.layers.") else L
            f = f"model-{1 + layer * shards // (L + 1):05d}-of-{shards:05d}.safetensors"
        out[n] = (f, dtype, shape)
    return out


# ------------------------------------------------------------- tokenizers
def byte_chars() -> List[str]:
    """GPT-2's byte → printable character map, in vocabulary order."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    m, extra = {}, 0
    for b in range(256):
        if b in keep:
            m[b] = chr(b)
        else:
            m[b] = chr(256 + extra)
            extra += 1
    return sorted(m.values(), key=ord)


MERGES = [("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("Ġ", "a"), ("i", "n"), ("Ġ", "w"), ("o", "r"), ("Ġw", "or"),
          ("l", "d"), ("Ġwor", "ld"), ("e", "r"), ("Ġ", "Ġ"), ("ĠĠ", "ĠĠ")]


def bpe_tokenizer_json(*, specials: Sequence[Tuple[str, int, bool]], regex: str = LLAMA3_REGEX, merges_form: str = "pairs",
                       ignore_merges: bool = True, byte_level_trim: bool = True, bos: Optional[str] = None,
                       extra_merges: Sequence[Tuple[str, str]] = ()) -> dict:
    """A byte-level BPE tokenizer.json: 256 byte symbols + one token per merge + ``specials`` (content, id, special)."""
    vocab = {c: i for i, c in enumerate(byte_chars())}
    merges = list(MERGES) + list(extra_merges)
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    tj = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": i, "content": c, "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": sp} for c, i, sp in specials],
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": regex}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": byte_level_trim, "use_regex": False}]},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": ignore_merges,
                  "vocab": vocab,
                  "merges": [[a, b] for a, b in merges] if merges_form == "pairs" else [f"{a} {b}" for a, b in merges]},
    }
    if bos is not None:
        tj["post_processor"] = {"type": "Sequence", "processors": [
            tj["post_processor"],
            {"type": "TemplateProcessing",
             "single": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
             "pair": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                      {"SpecialToken": {"id": bos, "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
             "special_tokens": {}}]}
    return tj


def llama3_tokenizer() -> Tuple[dict, dict]:
    """Llama 3 shaped: a small base vocabulary, the 256 special tokens at 128000…128255."""
    specials = [("<|begin_of_text|>", 128000, True), ("<|end_of_text|>", 128001, True)]
    specials += [(f"<|reserved_special_token_{i}|>", 128002 + i, True) for i in range(4)]
    specials += [("<|start_header_id|>", 128006, True), ("<|end_header_id|>", 128007, True),
                 ("<|eom_id|>", 128008, True), ("<|eot_id|>", 128009, True)]
    specials += [(f"<|reserved_special_token_{i}|>", 128006 + i, True) for i in range(4, 250)]
    tj = bpe_tokenizer_json(specials=specials, bos="<|begin_of_text|>")
    tc = {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>", "clean_up_tokenization_spaces": True,
          "model_max_length": 131072, "tokenizer_class": "PreTrainedTokenizerFast",
          "chat_template": "{{- bos_token }}{%- for m in messages %}{{ m['content'] }}<|eot_id|>{%- endfor %}"}
    return tj, tc


def qwen2_tokenizer() -> Tuple[dict, dict]:
    """Qwen2.5 shaped: added tokens at 151643… (some not special), NFC, no BOS."""
    names = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
             "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>", "<|vision_end|>",
             "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>", "<tool_call>", "</tool_call>", "<|fim_prefix|>",
             "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>"]
    specials = [(n, 151643 + i, not n.startswith("<tool") and not n.startswith("</tool")
                 and not n.startswith("<|fim") and n not in ("<|repo_name|>", "<|file_sep|>"))
                for i, n in enumerate(names)]
    tj = bpe_tokenizer_json(specials=specials, regex=QWEN2_REGEX, ignore_merges=False, byte_level_trim=False)
    tj["normalizer"] = {"type": "NFC"}
    tj["post_processor"] = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}
    tc = {"add_prefix_space": False, "bos_token": None, "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>",
          "unk_token": None, "errors": "replace", "model_max_length": 131072, "split_special_tokens": False,
          "tokenizer_class": "Qwen2Tokenizer", "additional_special_tokens": ["<|im_start|>", "<|im_end|>"],
          "chat_template": "{%- for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}"
                           "<|im_end|>\n{%- endfor %}"}
    return tj, tc


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(no: int, wt: int, payload: bytes) -> bytes:
    key = _varint((no << 3) | wt)
    return key + (_varint(len(payload)) + payload if wt == 2 else payload)


def spm_model(pieces: Sequence[Tuple[str, float, int]]) -> bytes:
    """Serialize a SentencePiece ModelProto with ``pieces`` [(text, score, type)] (protobuf wire format)."""
    body = b""
    for text, score, typ in pieces:
        p = _field(1, 2, text.encode("utf-8")) + _field(2, 5, struct.pack("<f", score))
        if typ != 1:
            p += _field(3, 0, _varint(typ))
        body += _field(1, 2, p)
    # trainer_spec: model_type BPE (field 3 = 2), byte_fallback (field 35) = true
    return body + _field(2, 2, _field(3, 0, _varint(2)) + _field(35, 0, _varint(1)))


def llama2_pieces(n: int = 32000) -> List[Tuple[str, float, int]]:
    """Llama 2 shaped SentencePiece pieces: <unk>, <s>, </s>, 256 byte pieces, then n-259 normal pieces."""
    pieces = [("<unk>", 0.0, 2), ("<s>", 0.0, 3), ("</s>", 0.0, 3)] + [(f"<0x{i:02X}>", 0.0, 6) for i in range(256)]
    for i in range(n - len(pieces)):
        pieces.append((f"\u2581p{i}", -float(i), 1))
    return pieces


def llama2_tokenizer_config() -> dict:
    return {
        "add_bos_token": True, "add_eos_token": False, "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
        "pad_token": None, "legacy": False, "tokenizer_class": "LlamaTokenizer",
        "added_tokens_decoder": {str(i): {"content": c, "special": True, "lstrip": False, "normalized": False,
                                          "rstrip": False, "single_word": False}
                                 for i, c in enumerate(["<unk>", "<s>", "</s>"])},
    }


def llama_hf_tokenizer_json(pieces: Sequence[Tuple[str, float, int]]) -> dict:
    """A Llama-2 style tokenizer.json (BPE with byte_fallback, Sequence decoder) for ``pieces``."""
    vocab = {p[0]: i for i, p in enumerate(pieces)}
    return {
        "version": "1.0",
        "added_tokens": [{"id": i, "content": c, "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": True} for i, c in enumerate(["<unk>", "<s>", "</s>"])],
        "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "\u2581"},
                                                           {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
        "pre_tokenizer": None,
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                           "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                                    {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
                           "special_tokens": {}},
        "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
                                                     {"type": "ByteFallback"}, {"type": "Fuse"}]},
        "model": {"type": "BPE", "unk_token": "<unk>", "fuse_unk": True, "byte_fallback": True, "vocab": vocab,
                  "merges": ["\u2581 p"]},
    }
