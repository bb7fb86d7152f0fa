#!/usr/bin/env python3
"""Write a Gemma-3-1B-shaped Hugging Face model with random BF16 weights (for benchmarks).

    python bench/make_synthetic_gemma3_1b.py OUT_DIR [--layers 26] [--seed 0]

The output (~2.0 GB for the full 26 layers) is not committed. It has exactly
the tensor names, shapes and dtype of google/gemma-3-1b-it
(``Gemma3ForCausalLM``: hidden 1152, 26 layers, 4 heads / 1 KV head of 256,
FFN 6912, q/k norms, four norms per layer, tied embeddings of 262144 rows,
sliding window 512 every 6th layer global) and a real-sized SentencePiece
``tokenizer.model`` of 262144 pieces (Gemma's layout: <pad> <eos> <bos> <unk>,
<unusedN>, the turn markers, the 256 byte pieces, then normal pieces built
deterministically from random letters) — so reading the vocabulary and
writing the 262144-entry token list are timed realistically. Weights are
N(0, 0.02²), norms 1, generated and written tensor by tensor in row chunks
(the writer of bench/make_synthetic_1b.py), so memory stays small.

Needs only numpy.
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
from pathlib import Path
from typing import List, Tuple

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_synthetic_1b import write_model  # noqa: E402

CONFIG = {
    "architectures": ["Gemma3ForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
    "attn_logit_softcapping": None, "bos_token_id": 2, "cache_implementation": "hybrid", "eos_token_id": [1, 106],
    "final_logit_softcapping": None, "head_dim": 256, "hidden_activation": "gelu_pytorch_tanh", "hidden_size": 1152,
    "initializer_range": 0.02, "intermediate_size": 6912, "max_position_embeddings": 32768,
    "model_type": "gemma3_text", "num_attention_heads": 4, "num_hidden_layers": 26, "num_key_value_heads": 1,
    "pad_token_id": 0, "query_pre_attn_scalar": 256, "rms_norm_eps": 1e-06, "rope_local_base_freq": 10000,
    "rope_scaling": None, "rope_theta": 1000000, "sliding_window": 512, "sliding_window_pattern": 6,
    "torch_dtype": "bfloat16", "transformers_version": "4.50.0.dev0", "use_cache": True, "vocab_size": 262144,
}
TEMPLATE = ("{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'assistant') %}"
            "{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}"
            "{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}"
            "{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}")
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, BYTE = 1, 2, 3, 4, 6


def _varint(v: int) -> bytes:
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def _field(no: int, wire: int, payload: bytes) -> bytes:
    key = _varint(no << 3 | wire)
    return key + (_varint(len(payload)) + payload if wire == 2 else payload)


def pieces(n: int, seed: int) -> List[Tuple[str, float, int]]:
    """Gemma's SentencePiece layout at full size: specials, <unusedN>, turn markers, bytes, normal pieces."""
    p = [("<pad>", 0.0, CONTROL), ("<eos>", 0.0, CONTROL), ("<bos>", 0.0, CONTROL), ("<unk>", 0.0, UNKNOWN),
         ("<mask>", 0.0, USER_DEFINED), ("[multimodal]", 0.0, USER_DEFINED)]
    p += [(f"<unused{i}>", 0.0, USER_DEFINED) for i in range(99)]
    p += [("<start_of_turn>", 0.0, USER_DEFINED), ("<end_of_turn>", 0.0, USER_DEFINED)]
    p += [(f"<0x{b:02X}>", 0.0, BYTE) for b in range(256)]
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    seen = {t for t, _, _ in p}
    rank = 0
    while len(p) < n:
        t = "".join(letters[rng.integers(0, 26, size=int(rng.integers(1, 9)))])
        if rng.random() < 0.6:
            t = "\u2581" + t
        if t in seen:
            continue
        seen.add(t)
        p.append((t, -float(rank), NORMAL))
        rank += 1
    return p


def spm_model(ps: List[Tuple[str, float, int]]) -> bytes:
    body = bytearray()
    for text, score, typ in ps:
        e = _field(1, 2, text.encode("utf-8")) + _field(2, 5, struct.pack("<f", score))
        if typ != NORMAL:
            e += _field(3, 0, _varint(typ))
        body += _field(1, 2, e)
    trainer = (_field(3, 0, _varint(2)) + _field(40, 0, _varint(3)) + _field(41, 0, _varint(2))
               + _field(42, 0, _varint(1)) + _field(43, 0, _varint(0)) + _field(35, 0, _varint(1)))
    normalizer = _field(1, 2, b"identity") + _field(3, 0, _varint(0)) + _field(4, 0, _varint(0)) + _field(5, 0, _varint(1))
    return bytes(body) + _field(2, 2, trainer) + _field(3, 2, normalizer)


def write_tokenizer(out: Path, seed: int) -> None:
    ps = pieces(CONFIG["vocab_size"], seed)
    (out / "tokenizer.model").write_bytes(spm_model(ps))
    special = {i: t for i, (t, _, typ) in enumerate(ps[:107]) if typ != NORMAL}
    tc = {"add_bos_token": True, "add_eos_token": False,
          "added_tokens_decoder": {str(i): {"content": t, "lstrip": False, "normalized": False, "rstrip": False,
                                            "single_word": False, "special": i < 4 or i >= 105}
                                   for i, t in special.items()},
          "additional_special_tokens": ["<start_of_turn>", "<end_of_turn>"], "bos_token": "<bos>",
          "chat_template": TEMPLATE, "clean_up_tokenization_spaces": False, "eos_token": "<eos>",
          "pad_token": "<pad>", "spaces_between_special_tokens": False, "tokenizer_class": "GemmaTokenizer",
          "unk_token": "<unk>", "use_default_system_prompt": False}
    (out / "tokenizer_config.json").write_text(json.dumps(tc, indent=2))


def tensor_specs(cfg: dict) -> List[Tuple[str, Tuple[int, ...]]]:
    E, F, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    H, Hkv, D = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    specs = [("model.embed_tokens.weight", (V, E)), ("model.norm.weight", (E,))]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        specs += [(p + "input_layernorm.weight", (E,)), (p + "mlp.down_proj.weight", (E, F)),
                  (p + "mlp.gate_proj.weight", (F, E)), (p + "mlp.up_proj.weight", (F, E)),
                  (p + "post_attention_layernorm.weight", (E,)), (p + "post_feedforward_layernorm.weight", (E,)),
                  (p + "pre_feedforward_layernorm.weight", (E,)), (p + "self_attn.k_norm.weight", (D,)),
                  (p + "self_attn.k_proj.weight", (Hkv * D, E)), (p + "self_attn.o_proj.weight", (E, H * D)),
                  (p + "self_attn.q_norm.weight", (D,)), (p + "self_attn.q_proj.weight", (H * D, E)),
                  (p + "self_attn.v_proj.weight", (Hkv * D, E))]
    return specs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--layers", type=int, default=26, help="number of layers (26 = the real size)")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    write_model(a.out, dict(CONFIG, num_hidden_layers=a.layers),
                {"bos_token_id": 2, "cache_implementation": "hybrid", "do_sample": True, "eos_token_id": [1, 106],
                 "pad_token_id": 0, "top_k": 64, "top_p": 0.95, "transformers_version": "4.50.0.dev0"},
                write_tokenizer, tensor_specs, a.seed)


if __name__ == "__main__":
    main()
