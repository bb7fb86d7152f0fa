"""OLMo 2 and OLMo 3 (``Olmo2ForCausalLM``, ``Olmo3ForCausalLM``) → GGUF arch ``olmo2``.

The converter's ``Olmo2Model`` renames only: no q/k permutation, the generic
metadata. What differs from Llama is the block's structure, which llama.cpp's
name map already knows: no input norm, ``post_attention_layernorm`` /
``post_feedforward_layernorm`` → ``blk.N.post_attention_norm`` /
``post_ffw_norm``, and q/k RMS norms over the whole projection width
(``attn_q_norm`` [heads × head_dim], ``attn_k_norm`` [KV heads × head_dim]).

When the configuration has ``sliding_window`` (always for OLMo 3, whose
``Olmo3Config`` defaults it to 4096), ``olmo2.attention.sliding_window`` and
``olmo2.attention.sliding_window_pattern`` (one bool per layer: true for
``sliding_attention`` in ``layer_types``; without layer_types every fourth
layer is full) follow the generic keys.

Hyper-parameters go through transformers' ``Olmo2Config`` / ``Olmo3Config``
defaults. ``Olmo2Config`` accepts only a ``rope_scaling`` of exactly
``type`` (linear or dynamic) and a float ``factor`` > 1; with any other the
converter reads config.json as it is (no defaults), and so does Wick.

The tokenizer is allenai's dolma2: cl100k_base's vocabulary, which the
converter's probe hash names ``dbrx`` (structurally ``smaug-bpe``).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

import numpy as np

from ...gguf import values as V
from ..errors import ConfigError
from . import register
from ._base import CONFIG, Adapter, HParams, _int

# transformers 4.57 Olmo2Config / Olmo3Config defaults (structural sizes are not defaulted)
_OLMO2 = {"max_position_embeddings": 2048, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "rope_scaling": None}
_OLMO3 = {**_OLMO2, "sliding_window": 4096}


def _olmo2_accepts(rope_scaling: Any) -> bool:
    """``Olmo2Config._rope_scaling_validation``."""
    if rope_scaling is None:
        return True
    return (isinstance(rope_scaling, dict) and len(rope_scaling) == 2
            and rope_scaling.get("type") in ("linear", "dynamic")
            and isinstance(rope_scaling.get("factor"), float) and rope_scaling["factor"] > 1.0)


@register
class Olmo2Adapter(Adapter):
    """Olmo2ForCausalLM / Olmo3ForCausalLM → ``olmo2``."""

    name = "olmo2"
    hf_architectures = ("Olmo2ForCausalLM", "Olmo3ForCausalLM")
    gguf_arch = "olmo2"
    notes = {"Olmo2ForCausalLM": "OLMo 2; post-norms, full-width q/k norms",
             "Olmo3ForCausalLM": "OLMo 3; as OLMo 2, plus sliding window and its per-layer pattern"}
    vocab_readers = ("gpt2",)
    pre_tokenizer_names = {"smaug-bpe": "dbrx"}  # dolma2 = cl100k_base, hashed as databricks/dbrx-base

    def normalize_config(self, config: Dict[str, Any]) -> Dict[str, Any]:
        olmo3 = (config.get("architectures") or [None])[0] == "Olmo3ForCausalLM"
        if not olmo3 and not _olmo2_accepts(config.get("rope_scaling")):
            return dict(config)  # transformers refuses it: the converter reads config.json as it is
        self.config_defaults = _OLMO3 if olmo3 else _OLMO2
        cfg = super().normalize_config(config)
        if olmo3 and cfg.get("layer_types") is None:
            n = cfg.get("num_hidden_layers")
            if isinstance(n, int) and not isinstance(n, bool):
                cfg["layer_types"] = ["sliding_attention" if (i + 1) % 4 else "full_attention" for i in range(n)]
        return cfg

    def metadata(self, config: Dict[str, Any], hp: HParams, file_type: int) -> List[V.KV]:
        kv = super().metadata(config, hp, file_type)
        if "sliding_window" not in config:
            return kv
        a = self.gguf_arch
        sw = config["sliding_window"]
        if sw is None:
            raise ConfigError(f"convert: {CONFIG}: 'sliding_window' is null (the converter needs a number)", CONFIG)
        kv.append(V.u32(f"{a}.attention.sliding_window", _int("sliding_window", sw)))
        types = config.get("layer_types")
        if types is not None:
            if not isinstance(types, list):
                raise ConfigError(f"convert: {CONFIG}: 'layer_types' must be a list, got {types!r}", CONFIG)
            pattern = [t == "sliding_attention" for t in types]
        else:
            pattern = [(i + 1) % 4 != 0 for i in range(hp.n_layer)]
        kv.append(V.array(f"{a}.attention.sliding_window_pattern", V.ValueType.BOOL, pattern))
        return kv

    # ------------------------------------------------------------ export-hf
    model_types = {"Olmo2ForCausalLM": "olmo2", "Olmo3ForCausalLM": "olmo3"}
    hf_tensor_names = {**Adapter.hf_tensor_names, "ATTN_POST_NORM": "model.layers.{bid}.post_attention_layernorm",
                       "FFN_POST_NORM": "model.layers.{bid}.post_feedforward_layernorm"}

    def export_class(self, md: Mapping[str, Any], tensors: Mapping[str, Tuple[int, ...]]) -> Optional[str]:
        """OLMo 3 when the file has a sliding window (Olmo3Config always has one), else OLMo 2."""
        return "Olmo3ForCausalLM" if md.get(f"{self.gguf_arch}.attention.sliding_window") is not None \
            else "Olmo2ForCausalLM"

    def export_config(self, md: Mapping[str, Any], tensors: Mapping[str, Tuple[int, ...]], hf_class: str,
                      read: Callable[[str], np.ndarray]) -> Dict[str, Any]:
        """The generic keys, and ``sliding_window`` / ``layer_types`` from the window and its pattern."""
        a = self.gguf_arch
        cfg = super().export_config(md, tensors, hf_class, read)
        if md.get(f"{a}.attention.sliding_window") is not None:
            cfg["sliding_window"] = int(md[f"{a}.attention.sliding_window"])
            pattern = md.get(f"{a}.attention.sliding_window_pattern")
            if pattern is not None:
                cfg["layer_types"] = ["sliding_attention" if p else "full_attention" for p in pattern]
        return cfg

    def expected_shapes(self, hp: HParams, n_vocab: int) -> Dict[str, Tuple[int, ...]]:
        shapes = super().expected_shapes(hp, n_vocab)
        shapes["ATTN_Q_NORM"] = (hp.n_head * hp.head_dim,)
        shapes["ATTN_K_NORM"] = (hp.n_head_kv * hp.head_dim,)
        shapes["ATTN_POST_NORM"] = shapes["FFN_POST_NORM"] = (hp.n_embd,)
        return shapes

    def required_kinds(self, hp: HParams) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
        return ("TOKEN_EMBD", "OUTPUT_NORM"), ("ATTN_Q", "ATTN_K", "ATTN_V", "ATTN_OUT", "ATTN_Q_NORM", "ATTN_K_NORM",
                                               "ATTN_POST_NORM", "FFN_GATE", "FFN_UP", "FFN_DOWN", "FFN_POST_NORM")
