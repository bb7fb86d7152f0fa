"""IBM Granite 3.x dense (``GraniteForCausalLM``) → GGUF arch ``granite``.

The converter's ``GraniteModel`` is ``LlamaModel`` (q/k permuted,
``vocab_size`` and ``rope.dimension_count`` keys, the same tokenizer path with
``add_space_prefix`` from tokenizer_config.json) with these differences:

* ``head_dim`` in config.json is dropped before anything is written (no
  ``key_length``/``value_length``; the rope dimension is hidden_size / heads).
* Granite's multipliers become scales, after Llama's keys and only when
  non-zero: ``attention_multiplier`` → ``granite.attention.scale``,
  ``embedding_multiplier`` → ``granite.embedding_scale``,
  ``residual_multiplier`` → ``granite.residual_scale``, ``logits_scaling`` →
  ``granite.logit_scale``. transformers' ``GraniteConfig`` defaults each to
  1.0, so a config.json without them still writes 1.0.
* Multimodal tensors (``encoder.*``, ``image_*``, layer-wise and spatial
  projectors) are left out.

Granite 4 Vision's language model (config keys ``spatial_target_layers`` /
``deepstack_layer_map``: a deepstack map computed from its vision projector
configuration) is refused. The tokenizer is StarCoder-style (Digits +
ByteLevel), whose vocabulary the converter's probe hash names ``refact``.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

import numpy as np

from ...gguf import values as V
from ..errors import UnsupportedArchitectureError
from . import register
from ._base import CONFIG, HParams, _num, f32_value
from .llama import LlamaAdapter

# transformers 4.57 GraniteConfig defaults (structural sizes are not defaulted)
_GRANITE = {"max_position_embeddings": 2048, "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "rope_scaling": None,
            "embedding_multiplier": 1.0, "logits_scaling": 1.0, "residual_multiplier": 1.0,
            "attention_multiplier": 1.0}


@register
class GraniteAdapter(LlamaAdapter):
    """GraniteForCausalLM → ``granite``."""

    name = "granite"
    hf_architectures = ("GraniteForCausalLM",)
    gguf_arch = "granite"
    summary = "IBM Granite 3.x dense; as Llama, plus attention / embedding / residual / logit scales"
    config_defaults = _GRANITE
    computes_head_dim = False
    pre_tokenizer_names = {"smollm": "refact"}  # Granite's StarCoder-family vocabulary hashes as Refact's

    def normalize_config(self, config: Dict[str, Any]) -> Dict[str, Any]:
        if config.get("spatial_target_layers") or config.get("deepstack_layer_map"):
            raise UnsupportedArchitectureError(
                f"convert: {CONFIG}: this Granite checkpoint is the language model of Granite 4 Vision "
                "(spatial_target_layers / deepstack_layer_map); its deepstack layer map comes from the vision "
                "projector configuration, which Wick does not convert")
        cfg = super().normalize_config(config)
        cfg.pop("head_dim", None)  # GraniteModel ignores it
        return cfg

    def metadata(self, config: Dict[str, Any], hp: HParams, file_type: int) -> List[V.KV]:
        a = self.gguf_arch
        kv = super().metadata(config, hp, file_type)
        for src, key in (("attention_multiplier", "attention.scale"), ("embedding_multiplier", "embedding_scale"),
                         ("residual_multiplier", "residual_scale"), ("logits_scaling", "logit_scale")):
            v: Optional[Any] = config.get(src)
            if v:
                kv.append(V.f32(f"{a}.{key}", _num(src, v)))
        return kv

    def filter_tensor(self, name: str) -> Optional[str]:
        if name.startswith("encoder.") or "image_" in name or "layerwise_projectors" in name \
                or "spatial_projectors" in name:
            return None
        return super().filter_tensor(name)

    # ------------------------------------------------------------ export-hf
    model_types = {"GraniteForCausalLM": "granite"}

    def export_class(self, md: Mapping[str, Any], tensors: Mapping[str, Tuple[int, ...]]) -> Optional[str]:
        return "GraniteForCausalLM"

    def export_config(self, md: Mapping[str, Any], tensors: Mapping[str, Tuple[int, ...]], hf_class: str,
                      read: Callable[[str], np.ndarray]) -> Dict[str, Any]:
        """Llama's keys (without ``head_dim``, which GraniteModel drops) and the four multipliers
        from their scales (a scale the file lacks was 0: the converter writes only non-zero ones)."""
        a = self.gguf_arch
        cfg = super().export_config(md, tensors, hf_class, read)
        cfg.pop("head_dim", None)
        for src, key in (("attention_multiplier", "attention.scale"), ("embedding_multiplier", "embedding_scale"),
                         ("residual_multiplier", "residual_scale"), ("logits_scaling", "logit_scale")):
            v = md.get(f"{a}.{key}")
            cfg[src] = 0.0 if v is None else f32_value(v)
        return cfg
