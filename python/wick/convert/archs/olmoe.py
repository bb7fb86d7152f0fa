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

from typing import Any, Dict, Iterable, List, Optional, Tuple

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
            return self.stack_experts(t, name, bid, self.n_routed(), ("down_proj", "gate_proj", "up_proj"),
                                      "model.layers.{bid}.mlp.experts.{x}.{w}.weight",
                                      "model.layers.{bid}.mlp.experts.{w}.weight")
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

