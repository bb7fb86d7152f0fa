"""OLMoE → GGUF arch ``olmoe``.

The converter's ``OlmoeModel`` (``conversion/olmo.py``) is TextModel with
Qwen2-MoE's expert handling copied in:

* per-expert ``mlp.experts.N.{down,gate,up}_proj`` stacked per layer into
  ``ffn_{down,gate,up}_exps`` (one part per expert, read straight into its
  slice), the router ``mlp.gate`` → ``ffn_gate_inp`` (F32); no shared expert;
* q/k RMS norms over the whole projection width (``attn_q_norm``
  [heads × head_dim], ``attn_k_norm`` [KV heads × head_dim]), no permutation;
* ``olmoe.attention.layer_norm_rms_epsilon`` is written a second time as
  1e-5 whatever config.json says: GGUFWriter keeps the key where it was first
  written, with the new value.

The tokenizer is byte-level BPE, GPT-NeoX based: structurally plain GPT-2,
which the converter's probe hash names ``olmo``.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple

import numpy as np

from ...gguf import values as V
from ..lazy import LazyTensor
from . import register
from ._base import Adapter, HParams
from .deepseek import merge_kvs
from .qwen_moe import MoeExpertsMixin

# transformers 4.57.6 OlmoeConfig defaults of the keys the converter reads
_OLMOE = {"max_position_embeddings": 4096, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "rope_scaling": None,
          "num_experts_per_tok": 8, "num_experts": 64}


@register
class OlmoeAdapter(MoeExpertsMixin, Adapter):
    """OlmoeForCausalLM → ``olmoe``."""

    name = "olmoe"
    hf_architectures = ("OlmoeForCausalLM",)
    gguf_arch = "olmoe"
    summary = "OLMoE; routed experts stacked, full-width q/k norms"
    vocab_readers = ("gpt2",)
    pre_tokenizer_names = {"gpt-2": "olmo"}  # GPT-NeoX-based vocabulary, hashed as allenai/OLMo-1.7-7B-hf's
    config_defaults = _OLMOE

    def metadata(self, config: Dict[str, Any], hp: HParams, file_type: int) -> List[V.KV]:
        kvs = super().metadata(config, hp, file_type)
        return merge_kvs(kvs, [V.f32(f"{self.gguf_arch}.attention.layer_norm_rms_epsilon", 1e-5)])

    def modify_tensors(self, t: LazyTensor, name: str, bid: Optional[int]) -> Iterable[Tuple[str, LazyTensor]]:
        if "experts" in name:  # OlmoeModel knows only the per-expert layout
            expert, weights, merged = self.EXPERTS
            return self.stack_experts(t, name, bid, self.n_routed(), weights, expert, merged)
        return super().modify_tensors(t, name, bid)

    def expected_shapes(self, hp: HParams, n_vocab: int) -> Dict[str, Tuple[int, ...]]:
        shapes = super().expected_shapes(hp, n_vocab)
        shapes["ATTN_Q_NORM"] = (hp.n_head * hp.head_dim,)
        shapes["ATTN_K_NORM"] = (hp.n_head_kv * hp.head_dim,)
        shapes.update(self.expert_shapes(hp, hp.n_ff))
        return shapes

    def required_kinds(self, hp: HParams) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
        glob, block = super().required_kinds(hp)
        return glob, block + ("ATTN_Q_NORM", "ATTN_K_NORM")


    # ------------------------------------------------------------ export-hf
    model_types = {"OlmoeForCausalLM": "olmoe"}
    hf_tensor_names = {**Adapter.hf_tensor_names, "FFN_GATE_INP": "model.layers.{bid}.mlp.gate"}

    def export_class(self, md: Mapping[str, Any], tensors: Mapping[str, Tuple[int, ...]]) -> Optional[str]:
        return "OlmoeForCausalLM"

    def export_config(self, md: Mapping[str, Any], tensors: Mapping[str, Tuple[int, ...]], hf_class: str,
                      read: Callable[[str], np.ndarray]) -> Dict[str, Any]:
        """The generic keys with the experts under ``num_experts``, ``attention_bias`` from the
        tensors and ``norm_topk_prob`` false, as llama.cpp runs OLMoE (the file has no key for it).
        ``rms_norm_eps`` is the file's 1e-5, which the converter writes whatever config.json said."""
        cfg = super().export_config(md, tensors, hf_class, read)
        if "num_local_experts" in cfg:
            cfg["num_experts"] = cfg.pop("num_local_experts")
        cfg["attention_bias"] = "blk.0.attn_q.bias" in tensors
        cfg["norm_topk_prob"] = False
        cfg["clip_qkv"] = None
        return cfg
