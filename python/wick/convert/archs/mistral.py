"""Mistral and Mixtral → GGUF arch ``llama``.

llama.cpp has no separate architecture for these checkpoints: the reference
converter handles ``MistralForCausalLM`` and ``MixtralForCausalLM`` exactly like
Llama (same keys, q/k permutation with the KV-head count; ``sliding_window``
is not written). Mixtral's per-expert ``w1``/``w2``/``w3`` matrices are
stacked into ``blk.N.ffn_gate_exps`` / ``ffn_down_exps`` / ``ffn_up_exps``
([E, F, n_expert] / [F, E, n_expert]): one source per expert, in order,
and the router ``block_sparse_moe.gate`` becomes ``ffn_gate_inp`` (kept F32).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Mapping, Optional, Tuple

import numpy as np

from . import register
from .llama import LlamaAdapter

# transformers 4.57 MistralConfig / MixtralConfig defaults (head_dim stays unset)
_MISTRAL = {"max_position_embeddings": 4096 * 32, "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "num_key_value_heads": 8}
_MIXTRAL = {"max_position_embeddings": 4096 * 32, "rms_norm_eps": 1e-5, "rope_theta": 1e6, "num_key_value_heads": 8,
            "num_experts_per_tok": 2, "num_local_experts": 8}


@register
class MistralAdapter(LlamaAdapter):
    """MistralForCausalLM / MixtralForCausalLM → ``llama``."""

    name = "mistral"
    hf_architectures = ("MistralForCausalLM", "MixtralForCausalLM")
    notes = {"MistralForCausalLM": "as llama.cpp's converter does (`sliding_window` is not written)",
             "MixtralForCausalLM": "experts stacked into `ffn_*_exps`; the router stays F32"}
    computes_head_dim = False
    model_types = {"MistralForCausalLM": "mistral", "MixtralForCausalLM": "mixtral"}

    def export_class(self, md: Mapping[str, Any], tensors: Mapping[str, Tuple[int, ...]]) -> Optional[str]:
        """A ``llama`` file with experts → MixtralForCausalLM; a dense one without
        ``attention.key_length`` (which every Llama conversion writes) → MistralForCausalLM."""
        return "MixtralForCausalLM" if md.get(f"{self.gguf_arch}.expert_count") else "MistralForCausalLM"

    def export_config(self, md: Mapping[str, Any], tensors: Mapping[str, Tuple[int, ...]], hf_class: str,
                      read: Callable[[str], np.ndarray]) -> Dict[str, Any]:
        """Llama's keys and ``sliding_window: null``: the file has no sliding window (llama.cpp runs
        Mistral with full attention), and MistralConfig's default would be 4096."""
        cfg = super().export_config(md, tensors, hf_class, read)
        cfg["sliding_window"] = None
        return cfg

    def normalize_config(self, config: Dict[str, Any]) -> Dict[str, Any]:
        moe = (config.get("architectures") or [None])[0] == "MixtralForCausalLM"
        self.config_defaults = _MIXTRAL if moe else _MISTRAL
        return super().normalize_config(config)
