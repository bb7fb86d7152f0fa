#!/usr/bin/env python3
"""Write a Qwen3-30B-A3B-shaped Hugging Face model with random BF16 weights, layers cut (for benchmarks).

    python bench/make_synthetic_qwen3moe.py OUT_DIR [--layers 2] [--experts 128] [--seed 0]

The output is not committed (bench/.cache is git-ignored). Every layer has the
real layer's tensors, names, shapes and dtype (Qwen/Qwen3-30B-A3B: hidden
2048, 32 query heads / 4 KV heads of 128 with q/k norms, all 128 experts of
768 rows each stored one tensor per expert and projection, the router
``mlp.gate``), with untied 151936-row embeddings and output; only the number
of layers is cut (48 → 2 by default: 3.7 GB of bf16, of which 2.4 GB are the
768 expert tensors). The tokenizer is byte-level BPE with Qwen2's regex and
the real sizes: 151643 tokens (the 256 byte symbols and one per merge, built
deterministically as bench/make_synthetic_1b.py builds Llama 3's) and Qwen3's
26 special tokens from 151643 on. Weights are N(0, 0.02²) (norms 1),
generated and written tensor by tensor in row chunks, so memory stays small.

Needs only numpy (and bench/make_synthetic_1b.py beside it).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import List, Tuple

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import make_synthetic_1b as S1B  # noqa: E402  (the BPE builder and the streaming safetensors writer)

QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                 r"|\s*[\r\n]+|\s+(?!\S)|\s+")
N_BASE = 151643
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
            "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>", "<|vision_end|>",
            "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>", "<tool_call>", "</tool_call>", "<|fim_prefix|>",
            "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>", "<tool_response>",
            "</tool_response>", "<think>", "</think>"]
NOT_SPECIAL = {"<tool_call>", "</tool_call>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>",
               "<|repo_name|>", "<|file_sep|>", "<tool_response>", "</tool_response>", "<think>", "</think>"}

CONFIG = {
    "architectures": ["Qwen3MoeForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
    "bos_token_id": 151643, "decoder_sparse_step": 1, "eos_token_id": 151645, "head_dim": 128, "hidden_act": "silu",
    "hidden_size": 2048, "initializer_range": 0.02, "intermediate_size": 6144, "max_position_embeddings": 40960,
    "max_window_layers": 48, "mlp_only_layers": [], "model_type": "qwen3_moe", "moe_intermediate_size": 768,
    "norm_topk_prob": True, "num_attention_heads": 32, "num_experts": 128, "num_experts_per_tok": 8,
    "num_hidden_layers": 48, "num_key_value_heads": 4, "output_router_logits": False, "rms_norm_eps": 1e-06,
    "rope_scaling": None, "rope_theta": 1000000.0, "router_aux_loss_coef": 0.001, "sliding_window": None,
    "tie_word_embeddings": False, "torch_dtype": "bfloat16", "transformers_version": "4.51.0", "use_cache": True,
    "use_sliding_window": False, "vocab_size": 151936,
}


def write_tokenizer(out: Path, seed: int) -> None:
    vocab, merges = S1B.synthetic_bpe(N_BASE, seed)
    added = [{"id": N_BASE + i, "content": s, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": s not in NOT_SPECIAL} for i, s in enumerate(SPECIALS)]
    tj = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added, "normalizer": {"type": "NFC"},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": QWEN2_PATTERN}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}]},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
        "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": {t: i for i, t in enumerate(vocab)}, "merges": [[a, b] for a, b in merges]},
    }
    (out / "tokenizer.json").write_text(json.dumps(tj, ensure_ascii=False), encoding="utf-8")
    tc = {"add_bos_token": False, "add_prefix_space": False,
          "added_tokens_decoder": {str(a["id"]): {k: a[k] for k in ("content", "lstrip", "normalized", "rstrip",
                                                                    "single_word", "special")} for a in added},
          "bos_token": None, "clean_up_tokenization_spaces": False, "eos_token": "<|im_end|>", "errors": "replace",
          "model_max_length": 131072, "pad_token": "<|endoftext|>", "split_special_tokens": False,
          "tokenizer_class": "Qwen2Tokenizer", "unk_token": None}
    (out / "tokenizer_config.json").write_text(json.dumps(tc, indent=2))


def tensor_specs(cfg: dict) -> List[Tuple[str, Tuple[int, ...]]]:
    E, V, X, F = cfg["hidden_size"], cfg["vocab_size"], cfg["num_experts"], cfg["moe_intermediate_size"]
    H, Hkv, D = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    specs = [("lm_head.weight", (V, E)), ("model.embed_tokens.weight", (V, E)), ("model.norm.weight", (E,))]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        specs += [(p + "input_layernorm.weight", (E,)), (p + "mlp.gate.weight", (X, E)),
                  (p + "post_attention_layernorm.weight", (E,)),
                  (p + "self_attn.k_norm.weight", (D,)), (p + "self_attn.k_proj.weight", (Hkv * D, E)),
                  (p + "self_attn.o_proj.weight", (E, H * D)), (p + "self_attn.q_norm.weight", (D,)),
                  (p + "self_attn.q_proj.weight", (H * D, E)), (p + "self_attn.v_proj.weight", (Hkv * D, E))]
        for x in range(X):
            q = f"{p}mlp.experts.{x}."
            specs += [(q + "down_proj.weight", (E, F)), (q + "gate_proj.weight", (F, E)), (q + "up_proj.weight", (F, E))]
    return sorted(specs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--layers", type=int, default=2, help="number of layers (48 = the real size)")
    ap.add_argument("--experts", type=int, default=128, help="experts per layer (128 = the real count)")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    cfg = dict(CONFIG, num_hidden_layers=a.layers, max_window_layers=a.layers, num_experts=a.experts,
               num_experts_per_tok=min(8, a.experts))
    S1B.write_model(a.out, cfg,
                    {"bos_token_id": 151643, "do_sample": True, "eos_token_id": [151645, 151643], "pad_token_id": 151643,
                     "temperature": 0.6, "top_k": 20, "top_p": 0.95, "transformers_version": "4.51.0"},
                    write_tokenizer, tensor_specs, a.seed)


if __name__ == "__main__":
    main()
