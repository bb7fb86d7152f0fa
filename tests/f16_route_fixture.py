"""The fixture model of the F16-intermediate golden (tests/golden/gen_f16_route.py).

A small Llama-shaped BF16 checkpoint (two layers, hidden size 256, a
SentencePiece tokenizer, untied output) whose weights are N(0, 0.02), as
trained models' are, plus planted values that an F16 intermediate cannot
hold exactly:

* in ``model.layers.0.mlp.down_proj.weight``: bfloat16 values in float16's
  subnormal range (below 2⁻¹⁴ ≈ 6.1e-5), where float16 keeps fewer bits than
  bfloat16 — the smallest subnormal 2⁻²⁴, exact ties between two subnormals,
  values at and below 2⁻²⁵ (which round to ±0 or ±2⁻²⁴), bfloat16's own
  subnormals — and the largest finite float16 65504's neighbourhood;
* in ``model.embed_tokens.weight``: values beyond float16's range (±65536,
  ±99840), which become ±inf in float16.

N(0, 0.02) alone puts about 0.24 % of the weights below 2⁻¹⁴, so every
large tensor has some. Deterministic: the same bytes on every machine
(numpy's PCG64 and exact float32 → bfloat16 rounding).

Pure numpy, so that the reference environment (the generator) and the test
build the very same files.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

import convert_fixtures as FX

HERE = Path(__file__).resolve().parent
try:
    import make_tiny_llama as tiny
except ImportError:  # run from the generator without the examples directory on the path
    import importlib.util
    import sys

    _spec = importlib.util.spec_from_file_location("make_tiny_llama", HERE.parent / "examples" / "make_tiny_llama.py")
    tiny = importlib.util.module_from_spec(_spec)
    sys.modules["make_tiny_llama"] = tiny
    _spec.loader.exec_module(tiny)

LAYERS, HIDDEN, HEADS, KV_HEADS, FFN, VOCAB = 2, 256, 4, 2, 512, 512

#: bfloat16 bit patterns planted at the start of rows of blk.0.ffn_down
#: (model.layers.0.mlp.down_proj.weight), with what float16 makes of them.
SUBNORMAL_BITS = [
    0x3380,  # 2^-24 = 5.96e-8: the smallest float16 subnormal, exact
    0x3300,  # 2^-25: a tie between 0 and 2^-24: rounds to +0 (even)
    0x3340,  # 1.5·2^-25: rounds up to 2^-24
    0x3280,  # 2^-26: below half the smallest subnormal: +0
    0x33C0,  # 1.5·2^-24: a tie between 2^-24 and 2^-23: rounds to 2^-23 (even)
    0x3520,  # 1.25·2^-21 ≈ 5.96e-7 = 10·2^-24 (exact in float16)
    0x3521,  # 161·2^-28 = 10.0625·2^-24: rounds to 10·2^-24
    0x387F,  # 255·2^-22 ≈ 6.08e-5, just below float16's smallest normal 2^-14 (exact: 1020·2^-24)
    0x3880,  # 2^-14: float16's smallest normal, exact
    0x0001,  # bfloat16's smallest subnormal ≈ 9.2e-41: +0 in float16
    0xB380,  # -2^-24
    0xB300,  # -2^-25: rounds to -0
    0x477F,  # 65280: the largest bfloat16 below float16's maximum 65504, exact
]

#: bfloat16 bit patterns planted in row 3 of token_embd
#: (model.embed_tokens.weight): beyond float16's range, well inside what the
#: quantizers' scales can hold.
OVERFLOW_BITS = [
    0x4780,  # 65536 = 2^16 → +inf in float16
    0xC780,  # -65536 → -inf
    0x47C3,  # 99840 → +inf
    0xC7C3,  # -99840 → -inf
]


def bf16_to_f32(bits: np.ndarray) -> np.ndarray:
    """bfloat16 bit patterns → float32 (exact)."""
    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


def make(out: Path, *, overflow: bool = True, seed: int = 0) -> None:
    """Write the fixture model into ``out``; ``overflow=False`` leaves out the
    values beyond float16's range (a checkpoint the F16 route can quantize)."""
    out.mkdir(parents=True, exist_ok=True)
    pieces = FX.llama2_pieces(VOCAB)
    head_dim = HIDDEN // HEADS
    config = {
        "architectures": ["LlamaForCausalLM"], "bos_token_id": 1, "eos_token_id": 2, "head_dim": head_dim,
        "hidden_act": "silu", "hidden_size": HIDDEN, "initializer_range": 0.02, "intermediate_size": FFN,
        "max_position_embeddings": 4096, "model_type": "llama", "num_attention_heads": HEADS,
        "num_hidden_layers": LAYERS, "num_key_value_heads": KV_HEADS, "pretraining_tp": 1, "rms_norm_eps": 1e-05,
        "rope_scaling": None, "rope_theta": 10000.0, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
        "transformers_version": "4.57.6", "use_cache": True, "vocab_size": VOCAB,
    }
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    (out / "tokenizer.model").write_bytes(FX.spm_model(pieces))
    (out / "tokenizer_config.json").write_text(json.dumps(FX.llama2_tokenizer_config(), indent=2) + "\n")

    rng = np.random.default_rng(seed)

    def w(*shape: int) -> np.ndarray:
        return tiny.f32_to_bf16_bits((0.02 * rng.standard_normal(shape)).astype(np.float32))

    def ones(n: int) -> np.ndarray:
        return tiny.f32_to_bf16_bits(np.ones(n, dtype=np.float32))

    embed = w(VOCAB, HIDDEN)
    if overflow:
        embed[3, :len(OVERFLOW_BITS)] = OVERFLOW_BITS
    tensors = [("model.embed_tokens.weight", "BF16", (VOCAB, HIDDEN), embed),
               ("model.norm.weight", "BF16", (HIDDEN,), ones(HIDDEN)),
               ("lm_head.weight", "BF16", (VOCAB, HIDDEN), w(VOCAB, HIDDEN))]
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        down = w(HIDDEN, FFN)
        if i == 0:
            for k, b in enumerate(SUBNORMAL_BITS):  # one per row, in different Q4_K blocks
                down[k, 7 + 64 * (k % 8)] = b
        tensors += [
            (p + "input_layernorm.weight", "BF16", (HIDDEN,), ones(HIDDEN)),
            (p + "self_attn.q_proj.weight", "BF16", (HEADS * head_dim, HIDDEN), w(HEADS * head_dim, HIDDEN)),
            (p + "self_attn.k_proj.weight", "BF16", (KV_HEADS * head_dim, HIDDEN), w(KV_HEADS * head_dim, HIDDEN)),
            (p + "self_attn.v_proj.weight", "BF16", (KV_HEADS * head_dim, HIDDEN), w(KV_HEADS * head_dim, HIDDEN)),
            (p + "self_attn.o_proj.weight", "BF16", (HIDDEN, HEADS * head_dim), w(HIDDEN, HEADS * head_dim)),
            (p + "post_attention_layernorm.weight", "BF16", (HIDDEN,), ones(HIDDEN)),
            (p + "mlp.gate_proj.weight", "BF16", (FFN, HIDDEN), w(FFN, HIDDEN)),
            (p + "mlp.up_proj.weight", "BF16", (FFN, HIDDEN), w(FFN, HIDDEN)),
            (p + "mlp.down_proj.weight", "BF16", (HIDDEN, FFN), down),
        ]
    tiny.write_safetensors(out / "model.safetensors", tensors, {"format": "pt"})
