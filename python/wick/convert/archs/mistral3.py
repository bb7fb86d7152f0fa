"""Mistral 3 text models (``Ministral3ForCausalLM``, and the language model of
``Mistral3ForConditionalGeneration``) → GGUF arch ``mistral3``.

The converter's ``Mistral3Model`` hands these to ``Ministral3Model``, which is
``LlamaModel`` under the ``mistral3`` architecture: q/k permuted,
``vocab_size`` and ``rope.dimension_count`` keys, Llama's tokenizer path
(Tekken converted to tokenizer.json: byte-level BPE, pre ``tekken``). The
vision tower and projector of the ConditionalGeneration checkpoints are left
out (``model.vision_tower.*``, ``model.multi_modal_projector.*``) and
``language_model.`` is dropped from the names; ``text_config`` is read as the
top level.

Ministral 3 (``model_type`` ``ministral3``) must have YaRN ``rope_parameters``;
after Llama's keys come ``rope.scaling.yarn_log_multiplier`` =
``mscale_all_dim`` and ``attention.temperature_scale`` =
``llama_4_scaling_beta``. transformers 4.57.6 does not know ``ministral3``, so
the converter reads config.json as it is (no defaults), as here. A text model of
``model_type`` ``mistral`` (Mistral Small 3.1 / 3.2) goes through
``MistralConfig``'s defaults and gets no YaRN keys.

Refused: ``model_type`` ``mistral4`` (the converter's DeepSeek-V2-style MoE
path). Mistral's own format (``params.json``, ``tekken.json`` without
tokenizer.json), which the converter reads with ``mistral_common``, is not
read (Wick needs config.json and tokenizer.json).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

import numpy as np

from ...gguf import values as V
from ..errors import ConfigError, UnsupportedArchitectureError
from . import register
from ._base import CONFIG, HParams, _num, f32_value
from .llama import LlamaAdapter
from .mistral import _MISTRAL


@register
class Mistral3Adapter(LlamaAdapter):
    """Ministral3ForCausalLM / Mistral3ForConditionalGeneration → ``mistral3``."""

    name = "mistral3"
    hf_architectures = ("Ministral3ForCausalLM", "Mistral3ForConditionalGeneration")
    gguf_arch = "mistral3"
    notes = {"Ministral3ForCausalLM": "Ministral 3; as Llama, plus YaRN log multiplier and attention temperature scale",
             "Mistral3ForConditionalGeneration": "text model only (Ministral 3, Mistral Small 3.x); the Pixtral vision "
                                                 "tower and projector are left out"}
    computes_head_dim = False

    def normalize_config(self, config: Dict[str, Any]) -> Dict[str, Any]:
        kind = config.get("model_type")
        if kind == "mistral4":
            raise UnsupportedArchitectureError(
                f"convert: {CONFIG}: model_type 'mistral4' (Mistral 4: a DeepSeek-V2-style mixture of experts, which "
                "llama.cpp converts as arch mistral4) is not supported")
        if kind == "ministral3":
            return dict(config)  # unknown to transformers 4.57.6: the converter reads config.json as it is
        self.config_defaults = _MISTRAL
        return super().normalize_config(config)

    def metadata(self, config: Dict[str, Any], hp: HParams, file_type: int) -> List[V.KV]:
        kv = super().metadata(config, hp, file_type)
        if config.get("model_type") != "ministral3":
            return kv
        rp = self.rope_parameters(config)
        if not rp or rp.get("rope_type") != "yarn":
            raise ConfigError(f"convert: {CONFIG}: Ministral 3 needs YaRN 'rope_parameters' (rope_type 'yarn'), "
                              f"got {rp.get('rope_type')!r}", CONFIG)
        for key in ("mscale_all_dim", "llama_4_scaling_beta"):
            if key not in rp:
                raise ConfigError(f"convert: {CONFIG}: rope_parameters is missing required key {key!r}", CONFIG)
        a = self.gguf_arch
        return kv + [V.f32(f"{a}.rope.scaling.yarn_log_multiplier", _num("mscale_all_dim", rp["mscale_all_dim"])),
                     V.f32(f"{a}.attention.temperature_scale", _num("llama_4_scaling_beta", rp["llama_4_scaling_beta"]))]

    # ------------------------------------------------------------ export-hf
    model_types = {"Ministral3ForCausalLM": "ministral3"}

    def export_class(self, md: Mapping[str, Any], tensors: Mapping[str, Tuple[int, ...]]) -> Optional[str]:
        """Ministral3ForCausalLM for a Ministral 3 file (it has the YaRN log multiplier); a Mistral
        Small 3.x text model (``model_type`` mistral inside Mistral3ForConditionalGeneration, no such
        key) is not exported: its text-only class, MistralForCausalLM, converts to arch ``llama``."""
        return "Ministral3ForCausalLM" if f"{self.gguf_arch}.rope.scaling.yarn_log_multiplier" in md else None

    def export_config(self, md: Mapping[str, Any], tensors: Mapping[str, Tuple[int, ...]], hf_class: str,
                      read: Callable[[str], np.ndarray]) -> Dict[str, Any]:
        """Llama's keys with the RoPE ones as Ministral 3 spells them: ``rope_parameters`` holding the
        YaRN scaling, ``rope_theta``, ``mscale_all_dim`` (the log multiplier; ``mscale``, not in the
        file, taken equal) and ``llama_4_scaling_beta`` (the temperature scale)."""
        a = self.gguf_arch
        cfg = super().export_config(md, tensors, hf_class, read)
        rp = dict(cfg.pop("rope_scaling", None) or {})
        rp["rope_theta"] = cfg.pop("rope_theta", 10000.0)
        m = f32_value(md[f"{a}.rope.scaling.yarn_log_multiplier"])
        rp.update(mscale=m, mscale_all_dim=m)
        if md.get(f"{a}.attention.temperature_scale") is not None:
            rp["llama_4_scaling_beta"] = f32_value(md[f"{a}.attention.temperature_scale"])
        cfg["rope_parameters"] = rp
        cfg["sliding_window"] = None
        return cfg
