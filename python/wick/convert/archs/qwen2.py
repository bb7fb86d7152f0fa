"""Qwen2 / Qwen2.5 → GGUF arch ``qwen2``.

Differences from Llama: NEOX-style RoPE, so q/k are **not** permuted; q/k/v
projections carry biases (written F32 as ``blk.N.attn_{q,k,v}.bias``); no
``qwen2.vocab_size`` or ``qwen2.rope.dimension_count`` keys (llama.cpp
derives the rotary dimension from the head size). The tokenizer is read as
SentencePiece if a tokenizer.model exists, else as byte-level BPE
(tokenizer.json, pre-tokenizer ``qwen2``). Checkpoints without
``lm_head.weight`` (tied embeddings, e.g. Qwen2.5-0.5B) get no
``output.weight``.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Tuple

from . import register
from ._base import Adapter


@register
class Qwen2Adapter(Adapter):
    """Qwen2ForCausalLM → ``qwen2``."""

    name = "qwen2"
    hf_architectures = ("Qwen2ForCausalLM",)
    gguf_arch = "qwen2"
    summary = "Qwen2, Qwen2.5; q/k/v biases; no permutation"
    vocab_readers = ("spm", "gpt2")
    # transformers 4.57 Qwen2Config (no head_dim attribute)
    config_defaults = {"max_position_embeddings": 32768, "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "rope_scaling": None}
    model_types = {"Qwen2ForCausalLM": "qwen2"}

    def export_class(self, md: Mapping[str, Any], tensors: Mapping[str, Tuple[int, ...]]) -> Optional[str]:
        return "Qwen2ForCausalLM"
