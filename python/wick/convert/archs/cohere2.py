"""Cohere Command R7B (``Cohere2ForCausalLM``) → GGUF arch ``cohere2``.

The converter's ``Cohere2Model``: tensors renamed only (no q/k permutation;
one ``input_layernorm`` per layer → ``attn_norm``, attention and MLP in
parallel; tied embeddings), the generic metadata, then ``cohere2.logit_scale``,
``attention.sliding_window``, ``vocab_size``, ``rope.dimension_count`` =
``int(rotary_pct × (hidden_size // heads))`` and ``rope.scaling.type`` ``none``.
transformers' ``Cohere2Config`` sets ``head_dim`` (config.json's, else
hidden_size / heads), so ``key_length``/``value_length`` are written, and
defaults ``logit_scale`` 0.0625, ``sliding_window`` 4096, context 8192.

The converter drops ``.bias`` tensors after checking that they are all zero
(llama.cpp's Cohere2 graph has no biases). Wick plans without reading tensor
values, so it cannot make that check: a checkpoint with bias tensors is refused
with an error naming the tensor (Command R7B's checkpoint has none).

The tokenizer is Cohere's 256k byte-level BPE (Digits + ByteLevel), which the
converter's probe hash names ``command-r``.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple

import numpy as np

from ...gguf import values as V
from ..errors import ConfigError, ExportError, UnexpectedTensorError
from ..lazy import LazyTensor
from . import register
from ._base import CONFIG, Adapter, HParams, _int, _num, f32_value

# transformers 4.57 Cohere2Config defaults (structural sizes are not defaulted)
_COHERE2 = {"max_position_embeddings": 8192, "layer_norm_eps": 1e-5, "rope_theta": 10000.0, "rope_scaling": None,
            "logit_scale": 0.0625, "sliding_window": 4096}


@register
class Cohere2Adapter(Adapter):
    """Cohere2ForCausalLM → ``cohere2``."""

    name = "cohere2"
    hf_architectures = ("Cohere2ForCausalLM",)
    gguf_arch = "cohere2"
    summary = "Cohere Command R7B; parallel block, logit scale, sliding window; bias tensors refused"
    vocab_readers = ("gpt2",)
    config_defaults = _COHERE2
    pre_tokenizer_names = {"smollm": "command-r"}  # Cohere's vocabulary hashes as Command R's

    def normalize_config(self, config: Dict[str, Any]) -> Dict[str, Any]:
        cfg = super().normalize_config(config)
        h, n = cfg.get("hidden_size"), cfg.get("num_attention_heads")
        if "head_dim" not in cfg and isinstance(h, int) and isinstance(n, int) and n > 0:
            cfg["head_dim"] = h // n  # Cohere2Config.head_dim (config.json's value wins)
        return cfg

    def metadata(self, config: Dict[str, Any], hp: HParams, file_type: int) -> List[V.KV]:
        a = self.gguf_arch
        kv = super().metadata(config, hp, file_type)
        for key in ("logit_scale", "sliding_window", "rotary_pct"):
            if config.get(key) is None:
                raise ConfigError(f"convert: {CONFIG}: missing required key {key!r}", CONFIG)
        rotary = _num("rotary_pct", config["rotary_pct"])
        kv += [
            V.f32(f"{a}.logit_scale", _num("logit_scale", config["logit_scale"])),
            V.u32(f"{a}.attention.sliding_window", _int("sliding_window", config["sliding_window"])),
            V.u32(f"{a}.vocab_size", hp.n_vocab),
            V.u32(f"{a}.rope.dimension_count", int(rotary * (hp.n_embd // hp.n_head))),
            V.string(f"{a}.rope.scaling.type", "none"),
        ]
        return kv

    def modify_tensors(self, t: LazyTensor, name: str, bid: Optional[int]) -> Iterable[Tuple[str, LazyTensor]]:
        if name.endswith(".bias"):
            raise UnexpectedTensorError(
                f"convert: {self._file_of(t.name)}: tensor {t.name!r}: llama.cpp's converter drops Cohere2 bias tensors "
                "only after checking that they are all zero, which Wick cannot check while planning; this "
                "checkpoint is not supported")
        return super().modify_tensors(t, name, bid)

    # ------------------------------------------------------------ export-hf
    model_types = {"Cohere2ForCausalLM": "cohere2"}

    def export_class(self, md: Mapping[str, Any], tensors: Mapping[str, Tuple[int, ...]]) -> Optional[str]:
        return "Cohere2ForCausalLM"

    def export_config(self, md: Mapping[str, Any], tensors: Mapping[str, Tuple[int, ...]], hf_class: str,
                      read: Callable[[str], np.ndarray]) -> Dict[str, Any]:
        """The generic keys, ``logit_scale``, ``sliding_window`` and ``rotary_pct`` (rope
        dimensions / head size); the sliding-window layer pattern is not in the file (llama.cpp
        fixes it: every fourth layer full, Cohere2Config's default)."""
        a = self.gguf_arch
        cfg = super().export_config(md, tensors, hf_class, read)
        cfg["logit_scale"] = f32_value(md[f"{a}.logit_scale"])
        cfg["sliding_window"] = int(md[f"{a}.attention.sliding_window"])
        head = cfg["hidden_size"] // cfg["num_attention_heads"]
        rot = int(md[f"{a}.rope.dimension_count"])
        cfg["rotary_pct"] = rot / head
        if int(cfg["rotary_pct"] * head) != rot:
            raise ExportError(f"export-hf: {a}.rope.dimension_count {rot} is no rotary_pct of the head size {head}")
        return cfg

    def required_kinds(self, hp: HParams) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
        return ("TOKEN_EMBD", "OUTPUT_NORM"), ("ATTN_NORM", "ATTN_Q", "ATTN_K", "ATTN_V", "ATTN_OUT",
                                               "FFN_GATE", "FFN_UP", "FFN_DOWN")
