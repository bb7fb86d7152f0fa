#!/usr/bin/env python3
"""Write Wick's tiny demo model: a few-MB, Llama-3-shaped Hugging Face model directory.

    python examples/make_tiny_llama.py OUT_DIR [--layers 4] [--hidden 256] [--vocab 1024]

Everything is deterministic (fixed seed, fixed training text), so two runs
produce byte-identical files. The directory holds what a real Llama 3.2
checkpoint holds:

* ``config.json`` — ``LlamaForCausalLM``, GQA (8 heads / 2 KV heads), tied
  embeddings, ``rope_scaling`` of type ``llama3``;
* ``tokenizer.json`` — a byte-level BPE tokenizer *trained here* on a fixed
  text (pure Python): the 256 byte symbols, then one token per merge, then
  Llama 3's special tokens; Llama 3's pre-tokenizer regex and
  ``ignore_merges``; merges in the ``[a, b]`` pair form of transformers ≥ 4.45;
* ``tokenizer_config.json`` (with a Llama-3-style chat template) and
  ``generation_config.json``;
* ``model.safetensors`` — BF16 random weights (std 0.02, norms 1).

The safetensors bytes come from the minimal writer below (header JSON padded
to 8 bytes, tensors back to back), so that the script needs only numpy and
runs before Wick is built. It stays: the golden files record the SHA-256 of
exactly these bytes (tests/golden/tiny_gguf_sha256.json).
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import struct
from pathlib import Path
from typing import Dict, Iterable, List, Tuple

import numpy as np

LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                  r"|\s*[\r\n]+|\s+(?!\S)|\s+")

# An ASCII stand-in for the pattern above, used only to split the training text.
_TRAIN_SPLIT = re.compile(r"'s|'t|'re|'ve|'m|'ll|'d|[^\r\nA-Za-z0-9]?[A-Za-z]+|[0-9]{1,3}| ?[^\sA-Za-z0-9]+[\r\n]*"
                          r"|\s*[\r\n]+|\s+(?!\S)|\s+")

TRAINING_TEXT = """\
Once upon a time, in a small village by the sea, there lived an old fisherman and his wife.
Every morning the fisherman went out in his little boat, and every evening he came home with fish.
The quick brown fox jumps over the lazy dog. The lazy dog did not care; it was asleep in the sun.
Hello world! Hello, Wick. Wick converts Hugging Face models to GGUF files that llama.cpp can load.
A model has layers, and each layer has attention and a feed-forward network with weights.
Quantization stores each weight with fewer bits: eight, six, five, four, three or even two bits per weight.
What is the capital of France? The capital of France is Paris. What is two plus two? Two plus two is four.
Numbers: 0 1 2 3 4 5 6 7 8 9 10 11 12 42 100 1000 2024 3.14159 and 2.71828.
She said: "I've been told it's there, and we'll see if they're right." He'd never thought they'd come.
def add(a, b):\n    return a + b\n\nprint(add(2, 3))\n
The user asks a question and the assistant answers it politely, clearly and briefly.
"""

SPECIAL_TOKENS = ["<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>",
                  "<|reserved_special_token_1|>", "<|finetune_right_pad_id|>", "<|reserved_special_token_2|>",
                  "<|start_header_id|>", "<|end_header_id|>", "<|eom_id|>", "<|eot_id|>", "<|python_tag|>"]

CHAT_TEMPLATE = (
    "{{- bos_token }}\n"
    "{%- for message in messages %}\n"
    "    {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}\n"
    "{%- endfor %}\n"
    "{%- if add_generation_prompt %}\n"
    "    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}\n"
    "{%- endif %}\n"
)


def bytes_to_unicode() -> Dict[int, str]:
    """GPT-2's reversible byte → printable character map used by byte-level BPE."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    mapping = {}
    extra = 0
    for b in range(256):
        if b in keep:
            mapping[b] = chr(b)
        else:
            mapping[b] = chr(256 + extra)
            extra += 1
    return mapping


def train_bpe(text: str, n_merges: int) -> Tuple[List[str], List[Tuple[str, str]]]:
    """A plain byte-level BPE trainer: returns (base vocabulary in id order, merges in rank order).

    Ties between equally frequent pairs are broken by the pair's strings, so
    the result depends on nothing but ``text`` and ``n_merges``.
    """
    b2u = bytes_to_unicode()
    base = [b2u[b] for b in sorted(b2u, key=lambda b: ord(b2u[b]))]
    words = collections.Counter(
        tuple(b2u[b] for b in w.encode("utf-8")) for w in _TRAIN_SPLIT.findall(text))
    vocab = list(base)
    known = set(vocab)
    merges: List[Tuple[str, str]] = []
    while len(merges) < n_merges:
        pairs: Dict[Tuple[str, str], int] = collections.Counter()
        for w, c in words.items():
            for a, b in zip(w, w[1:]):
                pairs[(a, b)] += c
        if not pairs:
            break
        best = max(pairs.items(), key=lambda kv: (kv[1], [-ord(ch) for ch in kv[0][0] + "\x00" + kv[0][1]]))[0]
        merged = best[0] + best[1]
        merges.append(best)
        if merged not in known:
            vocab.append(merged)
            known.add(merged)
        new_words: Dict[Tuple[str, ...], int] = collections.Counter()
        for w, c in words.items():
            out: List[str] = []
            i = 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    out.append(merged)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            new_words[tuple(out)] += c
        words = new_words
    return vocab, merges


def tokenizer_json(vocab: List[str], merges: List[Tuple[str, str]], specials: List[str]) -> dict:
    n = len(vocab)
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {"id": n + i, "content": s, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": True} for i, s in enumerate(specials)],
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": LLAMA3_PATTERN}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]},
        "post_processor": {"type": "Sequence", "processors": [
            {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
            {"type": "TemplateProcessing",
             "single": [{"SpecialToken": {"id": specials[0], "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
             "pair": [{"SpecialToken": {"id": specials[0], "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                      {"SpecialToken": {"id": specials[0], "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
             "special_tokens": {specials[0]: {"id": specials[0], "ids": [n], "tokens": [specials[0]]}}}]},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": True,
                  "vocab": {t: i for i, t in enumerate(vocab)}, "merges": [[a, b] for a, b in merges]},
    }


def tokenizer_config(vocab_size: int, specials: List[str]) -> dict:
    return {
        "added_tokens_decoder": {
            str(vocab_size + i): {"content": s, "lstrip": False, "normalized": False, "rstrip": False,
                                  "single_word": False, "special": True} for i, s in enumerate(specials)},
        "bos_token": "<|begin_of_text|>",
        "chat_template": CHAT_TEMPLATE,
        "clean_up_tokenization_spaces": True,
        "eos_token": "<|eot_id|>",
        "model_input_names": ["input_ids", "attention_mask"],
        "model_max_length": 2048,
        "tokenizer_class": "PreTrainedTokenizerFast",
    }


# --------------------------------------------------------------------------
# Minimal safetensors writer — a stand-in until Wick's own writer lands.
def f32_to_bf16_bits(a: np.ndarray) -> np.ndarray:
    """float32 → bfloat16 bit patterns, rounding to nearest even (NaN stays NaN)."""
    u = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)
    rounded = ((u + np.uint32(0x7FFF) + ((u >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16)).astype(np.uint16)
    nan = np.isnan(a)
    if nan.any():
        rounded[nan] = ((u[nan] >> np.uint32(16)) | np.uint32(0x40)).astype(np.uint16)
    return rounded


def write_safetensors(path: Path, tensors: Iterable[Tuple[str, str, Tuple[int, ...], np.ndarray]],
                      metadata: Dict[str, str] | None = None) -> None:
    """Write (name, dtype, shape, raw little-endian array) tuples as one .safetensors file."""
    items = list(tensors)
    header: Dict[str, object] = {}
    if metadata:
        header["__metadata__"] = metadata
    offset = 0
    for name, dtype, shape, data in items:
        nbytes = data.nbytes
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for _, _, _, data in items:
            f.write(np.ascontiguousarray(data).tobytes())
# --------------------------------------------------------------------------


def make(out: Path, layers: int = 4, hidden: int = 256, heads: int = 8, kv_heads: int = 2,
         ffn: int = 768, vocab_target: int = 1024, seed: int = 0) -> None:
    """Write the demo model into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    vocab, merges = train_bpe(TRAINING_TEXT, vocab_target - 256)
    # pad the base vocabulary with merges of merges only if training ran out of pairs
    specials = list(SPECIAL_TOKENS)
    n_vocab = len(vocab) + len(specials)
    head_dim = hidden // heads
    config = {
        "architectures": ["LlamaForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": len(vocab),
        "eos_token_id": [len(vocab) + 1, len(vocab) + 9],
        "head_dim": head_dim,
        "hidden_act": "silu",
        "hidden_size": hidden,
        "initializer_range": 0.02,
        "intermediate_size": ffn,
        "max_position_embeddings": 2048,
        "mlp_bias": False,
        "model_type": "llama",
        "num_attention_heads": heads,
        "num_hidden_layers": layers,
        "num_key_value_heads": kv_heads,
        "pretraining_tp": 1,
        "rms_norm_eps": 1e-05,
        "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                         "original_max_position_embeddings": 8192, "rope_type": "llama3"},
        "rope_theta": 500000.0,
        "tie_word_embeddings": True,
        "torch_dtype": "bfloat16",
        "transformers_version": "4.45.0",
        "use_cache": True,
        "vocab_size": n_vocab,
    }
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    (out / "generation_config.json").write_text(json.dumps(
        {"bos_token_id": len(vocab), "do_sample": True, "eos_token_id": [len(vocab) + 1, len(vocab) + 9],
         "temperature": 0.6, "top_p": 0.9, "transformers_version": "4.45.0"}, indent=2) + "\n")
    (out / "tokenizer.json").write_text(json.dumps(tokenizer_json(vocab, merges, specials), ensure_ascii=False, indent=1) + "\n",
                                        encoding="utf-8")
    (out / "tokenizer_config.json").write_text(json.dumps(tokenizer_config(len(vocab), specials), indent=2) + "\n")

    rng = np.random.default_rng(seed)

    def w(*shape: int) -> np.ndarray:
        return f32_to_bf16_bits((0.02 * rng.standard_normal(shape)).astype(np.float32))

    def ones(n: int) -> np.ndarray:
        return f32_to_bf16_bits(np.ones(n, dtype=np.float32))

    tensors = [("model.embed_tokens.weight", "BF16", (n_vocab, hidden), w(n_vocab, hidden)),
               ("model.norm.weight", "BF16", (hidden,), ones(hidden))]
    for i in range(layers):
        p = f"model.layers.{i}."
        tensors += [
            (p + "input_layernorm.weight", "BF16", (hidden,), ones(hidden)),
            (p + "self_attn.q_proj.weight", "BF16", (heads * head_dim, hidden), w(heads * head_dim, hidden)),
            (p + "self_attn.k_proj.weight", "BF16", (kv_heads * head_dim, hidden), w(kv_heads * head_dim, hidden)),
            (p + "self_attn.v_proj.weight", "BF16", (kv_heads * head_dim, hidden), w(kv_heads * head_dim, hidden)),
            (p + "self_attn.o_proj.weight", "BF16", (hidden, heads * head_dim), w(hidden, heads * head_dim)),
            (p + "post_attention_layernorm.weight", "BF16", (hidden,), ones(hidden)),
            (p + "mlp.gate_proj.weight", "BF16", (ffn, hidden), w(ffn, hidden)),
            (p + "mlp.up_proj.weight", "BF16", (ffn, hidden), w(ffn, hidden)),
            (p + "mlp.down_proj.weight", "BF16", (hidden, ffn), w(hidden, ffn)),
        ]
    write_safetensors(out / "model.safetensors", tensors, {"format": "pt"})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path, help="output directory")
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--ffn", type=int, default=768)
    ap.add_argument("--vocab", type=int, default=1024, help="base vocabulary size (bytes + merges)")
    a = ap.parse_args()
    make(a.out, a.layers, a.hidden, a.heads, a.kv_heads, a.ffn, a.vocab)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
