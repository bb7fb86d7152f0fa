"""Qwen3 (dense) → GGUF arch ``qwen3``.

Like Qwen2 (no q/k permutation, tokenizer read the same way) but without
q/k/v biases and with per-head RMS norms on queries and keys:
``self_attn.q_norm`` / ``k_norm`` → ``blk.N.attn_q_norm`` / ``attn_k_norm``
(shape [head_dim], F32). Qwen3 configs carry ``head_dim`` (128), which differs
from hidden_size / num_attention_heads for the small models, so
``qwen3.attention.key_length`` / ``value_length`` are written.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Tuple

from . import register
from ._base import Adapter


@register
class Qwen3Adapter(Adapter):
    """Qwen3ForCausalLM → ``qwen3``."""

    name = "qwen3"
    hf_architectures = ("Qwen3ForCausalLM",)
    gguf_arch = "qwen3"
    summary = "dense Qwen3; q/k norms"
    vocab_readers = ("spm", "gpt2")
    # transformers 4.57 Qwen3Config: head_dim defaults to 128, not hidden/heads
    config_defaults = {"max_position_embeddings": 32768, "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "rope_scaling": None,
                       "head_dim": 128}
    model_types = {"Qwen3ForCausalLM": "qwen3"}

    def export_class(self, md: Mapping[str, Any], tensors: Mapping[str, Tuple[int, ...]]) -> Optional[str]:
        return "Qwen3ForCausalLM"
