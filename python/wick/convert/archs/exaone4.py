"""LG EXAONE 4.0 (``Exaone4ForCausalLM``) → GGUF arch ``exaone4``.

The converter's ``Exaone4Model``: tensors renamed only (no q/k permutation;
post-attention / post-feedforward norms and per-head q/k norms, which
llama.cpp's name map knows), the generic metadata, then ``exaone4.vocab_size``
and, when the configuration has a sliding window, ``attention.sliding_window``
and ``attention.sliding_window_pattern`` (one bool per layer: from
``layer_types``, else from ``sliding_window_pattern`` — a string such as
``"LLLG"`` repeated over the layers, ``L`` = sliding, or an integer n: every
n-th layer full).

``rope_scaling`` of type ``llama3`` (EXAONE 4.0 1.2B) becomes the F32 tensor
``rope_freqs.weight``, computed as for Llama 3.1 but with a default factor of
16 (:func:`~wick.convert.archs.llama.llama3_rope_factors`).

transformers' ``Exaone4Config`` fills in ``sliding_window`` 4096,
``sliding_window_pattern`` 4 and ``layer_types`` (every fourth layer full); a
``sliding_window_pattern`` string without ``layer_types`` makes it fail, and the
converter then reads config.json as it is — as here. The tokenizer is GPT-2
style byte-level BPE, which the converter's probe hash names ``exaone4``
(structurally ``gpt-2``; llama.cpp treats the two alike).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

import numpy as np

from ...gguf import values as V
from ..errors import ConfigError
from . import register
from ._base import CONFIG, Adapter, HParams, MappedTensor, _int, _num
from .llama import llama3_rope_factors, llama3_rope_scaling

# transformers 4.57 Exaone4Config defaults (structural sizes are not defaulted)
_EXAONE4 = {"max_position_embeddings": 2048, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "rope_scaling": None,
            "num_key_value_heads": 32, "sliding_window": 4096, "sliding_window_pattern": 4}


@register
class Exaone4Adapter(Adapter):
    """Exaone4ForCausalLM → ``exaone4``."""

    name = "exaone4"
    hf_architectures = ("Exaone4ForCausalLM",)
    gguf_arch = "exaone4"
    summary = "LG EXAONE 4.0; sliding-window pattern; llama3 RoPE factors"
    vocab_readers = ("gpt2",)
    pre_tokenizer_names = {"gpt-2": "exaone4"}

    def normalize_config(self, config: Dict[str, Any]) -> Dict[str, Any]:
        probe = {**_EXAONE4, **config}
        swp, n = probe.get("sliding_window_pattern"), probe.get("num_hidden_layers")
        if probe.get("layer_types") is None:
            if probe.get("sliding_window") is None:
                swp = 0
            if isinstance(swp, bool) or not isinstance(swp, int) or swp == 0 or not isinstance(n, int):
                return dict(config)  # Exaone4Config fails: the converter reads config.json as it is
        self.config_defaults = _EXAONE4
        cfg = super().normalize_config(config)
        if cfg.get("layer_types") is None:
            cfg["layer_types"] = ["sliding_attention" if (i + 1) % swp != 0 else "full_attention" for i in range(n)]
        return cfg

    def metadata(self, config: Dict[str, Any], hp: HParams, file_type: int) -> List[V.KV]:
        a = self.gguf_arch
        kv = super().metadata(config, hp, file_type) + [V.u32(f"{a}.vocab_size", hp.n_vocab)]
        if config.get("sliding_window") is None:
            return kv
        kv.append(V.u32(f"{a}.attention.sliding_window", _int("sliding_window", config["sliding_window"])))
        pattern = None
        if "layer_types" in config:
            types = config["layer_types"]
            if not isinstance(types, list):
                raise ConfigError(f"convert: {CONFIG}: 'layer_types' must be a list, got {types!r}", CONFIG)
            pattern = [t == "sliding_attention" for t in types]
        elif "sliding_window_pattern" in config:
            swp = config["sliding_window_pattern"]
            if isinstance(swp, str) and swp:
                pattern = [swp[i % len(swp)] == "L" for i in range(hp.n_layer)]
            elif isinstance(swp, int) and not isinstance(swp, bool) and swp > 0:
                pattern = [(i + 1) % swp != 0 for i in range(hp.n_layer)]
            if pattern is not None and len(pattern) != hp.n_layer:
                pattern = None
        if pattern is not None:
            kv.append(V.array(f"{a}.attention.sliding_window_pattern", V.ValueType.BOOL, pattern))
        return kv

    def extra_tensors(self, config: Dict[str, Any], hp: HParams) -> List[MappedTensor]:
        rp = self.rope_parameters(config)
        rp = rp.get("full_attention", rp)
        kind = rp.get("rope_type", "")
        if not isinstance(kind, str) or kind.lower() != "llama3":
            return []

        def num(key: str, default: float) -> float:
            return _num(f"rope_scaling.{key}", rp.get(key, default))

        low, high = num("low_freq_factor", 1.0), num("high_freq_factor", 4.0)
        if low == high:
            raise ConfigError(f"convert: {CONFIG}: rope_scaling high_freq_factor equals low_freq_factor ({low})", CONFIG)
        data = llama3_rope_factors(num("rope_theta", 10000.0), hp.head_dim, num("factor", 16.0), low, high,
                                   num("original_max_position_embeddings", 8192))
        return [MappedTensor(self.tensor_name("ROPE_FREQS"), [], [len(data)], data=data, force_type="F32")]

    # ------------------------------------------------------------ export-hf
    model_types = {"Exaone4ForCausalLM": "exaone4"}
    hf_tensor_names = {**Adapter.hf_tensor_names, "ATTN_POST_NORM": "model.layers.{bid}.post_attention_layernorm",
                       "FFN_POST_NORM": "model.layers.{bid}.post_feedforward_layernorm"}

    def export_class(self, md: Mapping[str, Any], tensors: Mapping[str, Tuple[int, ...]]) -> Optional[str]:
        return "Exaone4ForCausalLM"

    def export_config(self, md: Mapping[str, Any], tensors: Mapping[str, Tuple[int, ...]], hf_class: str,
                      read: Callable[[str], np.ndarray]) -> Dict[str, Any]:
        """The generic keys; ``sliding_window`` and ``layer_types`` from the window and its pattern
        (no window: ``sliding_window`` null); llama3 ``rope_scaling`` from ``rope_freqs``."""
        a = self.gguf_arch
        cfg = super().export_config(md, tensors, hf_class, read)
        sw = md.get(f"{a}.attention.sliding_window")
        cfg["sliding_window"] = None if sw is None else int(sw)
        pattern = md.get(f"{a}.attention.sliding_window_pattern")
        if pattern is not None:
            cfg["layer_types"] = ["sliding_attention" if p else "full_attention" for p in pattern]
        elif sw is None:
            cfg["layer_types"] = ["full_attention"] * cfg["num_hidden_layers"]
        name = self.tensor_name("ROPE_FREQS")
        if name in tensors:
            head_dim = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
            cfg["rope_scaling"] = llama3_rope_scaling(read(name), cfg.get("rope_theta", 10000.0), head_dim)
        return cfg

    def required_kinds(self, hp: HParams) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
        return ("TOKEN_EMBD", "OUTPUT_NORM"), ("ATTN_Q", "ATTN_K", "ATTN_V", "ATTN_OUT", "ATTN_POST_NORM",
                                               "FFN_GATE", "FFN_UP", "FFN_DOWN", "FFN_POST_NORM")
