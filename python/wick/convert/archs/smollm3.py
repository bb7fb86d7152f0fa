"""SmolLM3 (``SmolLM3ForCausalLM``) → GGUF arch ``smollm3``.

The converter's ``SmolLM3Model`` is ``LlamaModel`` under another architecture
name: q/k permuted, ``smollm3.vocab_size`` and ``smollm3.rope.dimension_count``,
tied embeddings without ``output.weight``. The NoPE layers
(``no_rope_layers``, every fourth layer) are not written: llama.cpp's SmolLM3
graph hard-codes that interval. The tokenizer is Llama 3's vocabulary without a
BOS in its post-processor, which the converter's probe hash names
``smaug-bpe``. Hyper-parameters go through transformers' ``SmolLM3Config``
(rope_theta 2e6, context 32768 and rms_norm_eps 1e-6 by default).
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Tuple

from . import register
from .llama import LlamaAdapter


@register
class SmolLM3Adapter(LlamaAdapter):
    """SmolLM3ForCausalLM → ``smollm3``."""

    name = "smollm3"
    hf_architectures = ("SmolLM3ForCausalLM",)
    gguf_arch = "smollm3"
    summary = "SmolLM3; as Llama (q/k permuted); NoPE layers implied by llama.cpp"
    # transformers 4.57 SmolLM3Config (head_dim is not one of its attributes)
    config_defaults = {"max_position_embeddings": 32768, "rms_norm_eps": 1e-6, "rope_theta": 2000000.0,
                       "rope_scaling": None, "num_key_value_heads": 4}
    computes_head_dim = False
    model_types = {"SmolLM3ForCausalLM": "smollm3"}

    def export_class(self, md: Mapping[str, Any], tensors: Mapping[str, Tuple[int, ...]]) -> Optional[str]:
        return "SmolLM3ForCausalLM"
