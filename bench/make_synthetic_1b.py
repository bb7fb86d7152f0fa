#!/usr/bin/env python3
"""Write a Llama-3.2-1B-shaped Hugging Face model with random BF16 weights (for benchmarks).

    python bench/make_synthetic_1b.py OUT_DIR [--layers 16] [--seed 0]

The output (~2.5 GB for the full 16 layers) is not committed. It has exactly
the tensor names, shapes and dtype of meta-llama/Llama-3.2-1B (hidden 2048,
16 layers, 32 heads / 8 KV heads of 64, FFN 8192, tied embeddings, llama3
RoPE scaling) and a real-shaped byte-level BPE tokenizer: 128000 base tokens
(the 256 byte symbols plus one token per merge, built deterministically from
random pairs of shorter tokens), 127744 merges in the ``[a, b]`` pair form,
and Llama 3's 256 special tokens at 128000…128255 — the same sizes the real
tokenizer has, so planning and writing the 128256-entry vocabulary is timed
realistically. Weights are N(0, 0.02²) (norms 1), generated and written
tensor by tensor in row chunks, so memory stays small.

Needs only numpy. The safetensors writer below streams the data tensor by
tensor in row chunks (wick.safetensors.write takes whole arrays, which for a
1B model would need the whole model in memory).
"""

from __future__ import annotations

import argparse
import json
import struct
import time
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Tuple

import numpy as np

LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                  r"|\s*[\r\n]+|\s+(?!\S)|\s+")

CONFIG = {
    "architectures": ["LlamaForCausalLM"], "attention_bias": False, "attention_dropout": 0.0, "bos_token_id": 128000,
    "eos_token_id": 128001, "head_dim": 64, "hidden_act": "silu", "hidden_size": 2048, "initializer_range": 0.02,
    "intermediate_size": 8192, "max_position_embeddings": 131072, "mlp_bias": False, "model_type": "llama",
    "num_attention_heads": 32, "num_hidden_layers": 16, "num_key_value_heads": 8, "pretraining_tp": 1,
    "rms_norm_eps": 1e-05,
    "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                     "original_max_position_embeddings": 8192, "rope_type": "llama3"},
    "rope_theta": 500000.0, "tie_word_embeddings": True, "torch_dtype": "bfloat16", "transformers_version": "4.45.0",
    "use_cache": True, "vocab_size": 128256,
}


def byte_symbols() -> List[str]:
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    out, extra = {}, 0
    for b in range(256):
        if b in keep:
            out[b] = chr(b)
        else:
            out[b] = chr(256 + extra)
            extra += 1
    return sorted(out.values(), key=ord)


def synthetic_bpe(n_base: int, seed: int) -> Tuple[List[str], List[Tuple[str, str]]]:
    """A valid BPE vocabulary of ``n_base`` tokens: every merge joins two existing tokens into a new one."""
    rng = np.random.default_rng(seed)
    vocab = byte_symbols()
    known = set(vocab)
    merges: List[Tuple[str, str]] = []
    while len(vocab) < n_base:
        # prefer recent (longer) tokens on the left and short ones on the right, like real merge lists
        a = vocab[int(len(vocab) * rng.random() ** 0.5)]
        b = vocab[int(len(vocab) * rng.random() ** 3)]
        t = a + b
        if len(t) > 24 or t in known:
            continue
        known.add(t)
        vocab.append(t)
        merges.append((a, b))
    return vocab, merges


def special_tokens() -> List[str]:
    names = ["<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>", "<|reserved_special_token_1|>",
             "<|finetune_right_pad_id|>", "<|reserved_special_token_2|>", "<|start_header_id|>", "<|end_header_id|>",
             "<|eom_id|>", "<|eot_id|>", "<|python_tag|>"]
    return names + [f"<|reserved_special_token_{i}|>" for i in range(3, 3 + 256 - len(names))]


def write_tokenizer(out: Path, seed: int) -> None:
    vocab, merges = synthetic_bpe(128000, seed)
    specials = special_tokens()
    tj = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": 128000 + i, "content": s, "single_word": False, "lstrip": False, "rstrip": False,
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
             "special_tokens": {specials[0]: {"id": specials[0], "ids": [128000], "tokens": [specials[0]]}}}]},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": True,
                  "vocab": {t: i for i, t in enumerate(vocab)}, "merges": [[a, b] for a, b in merges]},
    }
    (out / "tokenizer.json").write_text(json.dumps(tj, ensure_ascii=False), encoding="utf-8")
    tc = {"added_tokens_decoder": {str(128000 + i): {"content": s, "lstrip": False, "normalized": False, "rstrip": False,
                                                     "single_word": False, "special": True} for i, s in enumerate(specials)},
          "bos_token": specials[0], "clean_up_tokenization_spaces": True, "eos_token": specials[1],
          "model_input_names": ["input_ids", "attention_mask"], "model_max_length": 131072,
          "tokenizer_class": "PreTrainedTokenizerFast"}
    (out / "tokenizer_config.json").write_text(json.dumps(tc, indent=2))


def tensor_specs(cfg: dict) -> List[Tuple[str, Tuple[int, ...]]]:
    E, F, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    H, Hkv, D = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    specs = [("model.embed_tokens.weight", (V, E)), ("model.norm.weight", (E,))]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        specs += [(p + "input_layernorm.weight", (E,)), (p + "mlp.down_proj.weight", (E, F)),
                  (p + "mlp.gate_proj.weight", (F, E)), (p + "mlp.up_proj.weight", (F, E)),
                  (p + "post_attention_layernorm.weight", (E,)), (p + "self_attn.k_proj.weight", (Hkv * D, E)),
                  (p + "self_attn.o_proj.weight", (E, H * D)), (p + "self_attn.q_proj.weight", (H * D, E)),
                  (p + "self_attn.v_proj.weight", (Hkv * D, E))]
    return specs


def bf16_bits(a: np.ndarray) -> np.ndarray:
    """float32 → bfloat16 bit patterns, round to nearest even (inputs here are finite)."""
    u = a.view(np.uint32)
    return ((u + np.uint32(0x7FFF) + ((u >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16)).astype("<u2")


def chunks(name: str, shape: Tuple[int, ...], rng: np.random.Generator, rows_per_chunk: int = 4096) -> Iterator[bytes]:
    if len(shape) == 1:
        yield bf16_bits(np.ones(shape, dtype=np.float32)).tobytes()
        return
    rows, cols = shape
    for r in range(0, rows, rows_per_chunk):
        n = min(rows_per_chunk, rows - r)
        yield bf16_bits(rng.standard_normal((n, cols), dtype=np.float32) * np.float32(0.02)).tobytes()


def write_weights(path: Path, specs: List[Tuple[str, Tuple[int, ...]]], seed: int) -> int:
    """Stream a .safetensors file (stand-in for Wick's writer): header, then each tensor in row chunks."""
    header: Dict[str, object] = {"__metadata__": {"format": "pt"}}
    off = 0
    for name, shape in specs:
        nb = int(np.prod(shape)) * 2
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [off, off + nb]}
        off += nb
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    rng = np.random.default_rng(seed)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for name, shape in specs:
            for buf in chunks(name, shape, rng):
                f.write(buf)
    return off


def write_model(out: Path, cfg: dict, generation_config: dict, write_tokenizer: Callable[[Path, int], None],
                tensor_specs: Callable[[dict], List[Tuple[str, Tuple[int, ...]]]], seed: int) -> None:
    """Write a synthetic model directory ``out``: config.json (``cfg``), generation_config.json,
    the tokenizer files (``write_tokenizer(out, seed)``) and model.safetensors (the tensors
    ``tensor_specs(cfg)`` streamed by :func:`write_weights`); print how long each part took."""
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    (out / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    (out / "generation_config.json").write_text(json.dumps(generation_config, indent=2) + "\n")
    write_tokenizer(out, seed)
    t1 = time.time()
    nbytes = write_weights(out / "model.safetensors", tensor_specs(cfg), seed)
    print(f"wrote {out}: tokenizer in {t1 - t0:.1f}s, {nbytes / 2**30:.2f} GiB of weights in {time.time() - t1:.1f}s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--layers", type=int, default=16, help="number of layers (16 = the real size)")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    write_model(a.out, dict(CONFIG, num_hidden_layers=a.layers),
                {"bos_token_id": 128000, "do_sample": True, "eos_token_id": 128001, "temperature": 0.6, "top_p": 0.9,
                 "transformers_version": "4.45.0"}, write_tokenizer, tensor_specs, a.seed)


if __name__ == "__main__":
    main()
