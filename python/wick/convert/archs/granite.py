"""IBM Granite 3.x dense (``GraniteForCausalLM``) → GGUF arch ``granite``; Granite MoE
(``GraniteMoeForCausalLM``, ``GraniteMoeSharedForCausalLM``) → ``granitemoe`` (see
:class:`GraniteMoeAdapter`).

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

from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple

import numpy as np

from ...gguf import values as V
from ..errors import TensorShapeError, UnsupportedArchitectureError
from ..lazy import LazyTensor
from . import register
from ._base import CONFIG, Adapter, HParams, _int, _num, f32_value
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


@register
class GraniteMoeAdapter(GraniteAdapter):
    """GraniteMoeForCausalLM / GraniteMoeSharedForCausalLM → ``granitemoe``.

    The converter's ``GraniteMoeModel`` is ``GraniteModel`` with experts stored fused and 3-D:
    ``block_sparse_moe.input_linear`` [experts, 2·ff, hidden] holds gate then up (JetMoE's
    parallel experts) and is split in halves into ``ffn_gate_exps`` / ``ffn_up_exps``;
    ``output_linear`` → ``ffn_down_exps``, the router ``router.layer`` → ``ffn_gate_inp`` (F32).
    GraniteMoeShared's ``shared_mlp.input_linear`` [2·shared ff, hidden] is split likewise into
    ``ffn_gate_shexp`` / ``ffn_up_shexp`` (``ffn_gate`` / ``ffn_up`` when the model has no routed
    experts), and ``shared_intermediate_size`` becomes ``expert_shared_feed_forward_length``.
    """

    name = "granitemoe"
    hf_architectures = ("GraniteMoeForCausalLM", "GraniteMoeSharedForCausalLM")
    gguf_arch = "granitemoe"
    notes = {"GraniteMoeForCausalLM": "IBM Granite 3.x MoE; fused experts split into gate / up; Granite's scales",
             "GraniteMoeSharedForCausalLM": "as GraniteMoe, plus a shared expert (fused, split into gate / up)"}
    config_defaults = {**_GRANITE, "num_local_experts": 8, "num_experts_per_tok": 2}

    def metadata(self, config: Dict[str, Any], hp: HParams, file_type: int) -> List[V.KV]:
        kv = super().metadata(config, hp, file_type)
        shared = config.get("shared_intermediate_size")
        if shared:
            kv.append(V.u32(f"{self.gguf_arch}.expert_shared_feed_forward_length",
                            _int("shared_intermediate_size", shared, 1)))
        return kv

    def _split_fused(self, t: LazyTensor, key: str, kinds: Tuple[str, str], bid: Optional[int]):
        ff = _int(key, self.config.get(key), 1)
        if t.shape[-2] != 2 * ff:
            raise TensorShapeError(f"convert: {self._file_of(t.name)}: tensor {t.name!r} has shape {list(t.shape)}; "
                                   f"its rows must be 2 × {key} = {2 * ff} (gate then up)")
        gate, up = t.split(ff, dim=t.ndim - 2)
        return [(self.tensor_name(kinds[0], bid), gate), (self.tensor_name(kinds[1], bid), up)]

    def modify_tensors(self, t: LazyTensor, name: str, bid: Optional[int]) -> Iterable[Tuple[str, LazyTensor]]:
        if name.endswith("block_sparse_moe.input_linear.weight"):
            return self._split_fused(t, "intermediate_size", ("FFN_GATE_EXP", "FFN_UP_EXP"), bid)
        if name.endswith("shared_mlp.input_linear.weight"):
            kinds = ("FFN_GATE_SHEXP", "FFN_UP_SHEXP") if self.hp.n_expert else ("FFN_GATE", "FFN_UP")
            return self._split_fused(t, "shared_intermediate_size", kinds, bid)
        if not self.hp.n_expert and name.endswith("shared_mlp.output_linear.weight"):
            return [(self.tensor_name("FFN_DOWN", bid), t)]
        return super().modify_tensors(t, name, bid)

    def expected_shapes(self, hp: HParams, n_vocab: int) -> Dict[str, Tuple[int, ...]]:
        shapes = super().expected_shapes(hp, n_vocab)
        e, f, x = hp.n_embd, hp.n_ff, hp.n_expert
        shapes.update({"FFN_GATE_EXP": (x, f, e), "FFN_UP_EXP": (x, f, e), "FFN_DOWN_EXP": (x, e, f),
                       "FFN_GATE_INP": (x, e)})
        fs = self.config.get("shared_intermediate_size")
        if isinstance(fs, int) and not isinstance(fs, bool):
            shapes.update({"FFN_GATE_SHEXP": (fs, e), "FFN_UP_SHEXP": (fs, e), "FFN_DOWN_SHEXP": (e, fs)})
        return shapes

    def required_kinds(self, hp: HParams) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
        glob, block = super().required_kinds(hp)
        if self.config.get("shared_intermediate_size") and hp.n_expert:
            block += ("FFN_GATE_SHEXP", "FFN_UP_SHEXP", "FFN_DOWN_SHEXP")
        return glob, block

    # ------------------------------------------------------------ export-hf
    model_types = {"GraniteMoeForCausalLM": "granitemoe", "GraniteMoeSharedForCausalLM": "granitemoeshared"}
    EXPERTS = None  # stored fused and 3-D, not per expert as Mixtral's (LlamaAdapter)
    hf_tensor_names = {**Adapter.hf_tensor_names, "FFN_GATE_INP": "model.layers.{bid}.block_sparse_moe.router.layer",
                       "FFN_DOWN_EXP": "model.layers.{bid}.block_sparse_moe.output_linear",
                       "FFN_DOWN_SHEXP": "model.layers.{bid}.shared_mlp.output_linear"}

    def export_class(self, md: Mapping[str, Any], tensors: Mapping[str, Tuple[int, ...]]) -> Optional[str]:
        """GraniteMoeShared when the file has a shared expert, else GraniteMoe; a file without routed
        experts (the converter's dense shared-MLP case) is not exported."""
        a = self.gguf_arch
        if not md.get(f"{a}.expert_count"):
            return None
        return "GraniteMoeSharedForCausalLM" if md.get(f"{a}.expert_shared_feed_forward_length") else \
            "GraniteMoeForCausalLM"

    def export_config(self, md: Mapping[str, Any], tensors: Mapping[str, Tuple[int, ...]], hf_class: str,
                      read: Callable[[str], np.ndarray]) -> Dict[str, Any]:
        """Granite's keys, the experts, and GraniteMoeShared's ``shared_intermediate_size``."""
        cfg = super().export_config(md, tensors, hf_class, read)
        shared = md.get(f"{self.gguf_arch}.expert_shared_feed_forward_length")
        if shared:
            cfg["shared_intermediate_size"] = int(shared)
        return cfg

    def export_listing(self, tensors: Mapping[str, Tuple[int, ...]], hp: HParams) -> Dict[str, Tuple[int, ...]]:
        """The base listing, with each block's gate and up experts (and shared gate and up) back in
        one fused ``input_linear`` [.., 2·ff, hidden], gate rows first."""
        fused = {"ffn_gate_exps": "block_sparse_moe.input_linear", "ffn_gate_shexp": "shared_mlp.input_linear"}
        pairs = {"ffn_gate_exps": "ffn_up_exps", "ffn_gate_shexp": "ffn_up_shexp"}
        split = set(fused) | set(pairs.values())
        rest = {n: s for n, s in tensors.items() if n.split(".")[2:3] == [] or n.split(".")[2] not in split}
        out = super().export_listing(rest, hp)
        for name, shape in tensors.items():
            parts = name.split(".")
            if len(parts) == 4 and parts[2] in fused:
                up = tensors[f"blk.{parts[1]}.{pairs[parts[2]]}.weight"]
                out[f"model.layers.{parts[1]}.{fused[parts[2]]}.weight"] = \
                    tuple(shape[:-2]) + (shape[-2] + up[-2], shape[-1])
        return out
