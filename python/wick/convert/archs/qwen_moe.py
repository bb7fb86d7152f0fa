"""Qwen1.5 / Qwen2 MoE → GGUF arch ``qwen2moe``; Qwen3 MoE → ``qwen3moe``.

What the family does differently (``Qwen2MoeModel`` and ``Qwen3MoeModel`` of
the pinned converter's ``conversion/qwen.py``):

* **Routed experts.** Per-expert ``mlp.experts.N.{down,gate,up}_proj`` are
  stacked per layer (in that order) into ``ffn_{down,gate,up}_exps``
  ([n_expert, rows, cols] in torch order): one part per expert, each read
  straight into its slice of the output (:meth:`Adapter.stack_experts`).
  Checkpoints that already store them fused and 3-D (``mlp.experts.down_proj``,
  ``mlp.experts.gate_up_proj`` [experts, 2·ff, hidden], split in halves into
  gate and up) are converted too, as the converter does.
* **Router** ``mlp.gate`` → ``ffn_gate_inp`` (F32).
* **Shared expert** (Qwen2 MoE): ``mlp.shared_expert.{gate,up,down}_proj`` →
  ``ffn_{gate,up,down}_shexp``, its sigmoid gate ``mlp.shared_expert_gate``
  ([1, hidden]) → ``ffn_gate_inp_shexp`` (F32), and the key
  ``expert_shared_feed_forward_length``. Qwen3 MoE has none.
* Keys after TextModel's: ``expert_feed_forward_length`` (moe_intermediate_size)
  and, when set, ``expert_shared_feed_forward_length``.
* Attention as in Qwen2 (q/k/v biases, no permutation) or Qwen3 (q/k
  per-head norms, ``head_dim`` written). The tokenizer: byte-level BPE
  only (``TextModel.set_vocab``, pre ``qwen2``), unlike the dense Qwen models.
* **No dense layers.** llama.cpp's architectures have experts in every layer
  (their tensor maps have no plain MLP): a config.json whose
  ``mlp_only_layers`` or ``decoder_sparse_step`` makes layers dense is
  refused; every layer's experts (and Qwen2-MoE's shared expert) are checked.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple

import numpy as np

from ...gguf import values as V
from ..errors import MissingTensorError, TensorShapeError, UnsupportedArchitectureError
from ..lazy import LazyTensor
from . import register
from ._base import CONFIG, Adapter, HParams, MappedTensor, TensorSource, _int, find_hparam

# transformers 4.57.6 Qwen2MoeConfig / Qwen3MoeConfig defaults of the keys the converter reads
_QWEN2MOE = {"max_position_embeddings": 32768, "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "rope_scaling": None,
             "moe_intermediate_size": 1408, "shared_expert_intermediate_size": 5632, "num_experts_per_tok": 4,
             "num_experts": 60, "num_key_value_heads": 16}
_QWEN3MOE = {"max_position_embeddings": 32768, "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "rope_scaling": None,
             "moe_intermediate_size": 768, "num_experts_per_tok": 8, "num_experts": 128, "num_key_value_heads": 4}


class MoeExpertsMixin:
    """Per-expert ``mlp.experts.N.{down,gate,up}_proj`` stacked per layer, as ``Qwen2MoeModel`` (and
    ``OlmoeModel``, a copy of it) do; fused 3-D ``mlp.experts.{down,gate_up}_proj`` split."""

    #: the config keys of the routed expert count
    expert_count_keys = ("num_local_experts", "num_experts")
    #: the per-expert layout (what :meth:`Adapter.stack_experts` stacks and export-hf unstacks)
    EXPERTS = ("model.layers.{bid}.mlp.experts.{x}.{w}.weight", ("down_proj", "gate_proj", "up_proj"),
               "model.layers.{bid}.mlp.experts.{w}.weight")

    def n_routed(self) -> int:
        return _int(self.expert_count_keys[-1], find_hparam(self.config, list(self.expert_count_keys)), 1)

    def modify_experts(self, t: LazyTensor, name: str, bid: Optional[int]) -> Optional[List[Tuple[str, LazyTensor]]]:
        """The tensors written for an expert tensor, or None when ``name`` is not one."""
        if name.endswith(("mlp.experts.down_proj", "mlp.experts.down_proj.weight")):
            mapped = name if name.endswith(".weight") else name + ".weight"
            return [(self.map_name(mapped), t)]
        if name.endswith(("mlp.experts.gate_up_proj", "mlp.experts.gate_up_proj.weight")):
            if t.ndim < 3 or t.shape[-2] % 2:
                raise TensorShapeError(f"convert: {self._file_of(t.name)}: tensor {t.name!r} has shape "
                                       f"{list(t.shape)}; expected [experts, 2 × expert rows, hidden]")
            n_ff = t.shape[-2] // 2
            base = name[:-len(".weight")] if name.endswith(".weight") else name
            base = base[:-len(".gate_up_proj")]
            return [(self.map_name(base + ".gate_proj.weight"), t[:, :n_ff, :]),
                    (self.map_name(base + ".up_proj.weight"), t[:, n_ff:, :])]
        if "experts" in name:
            expert, weights, merged = self.EXPERTS
            return self.stack_experts(t, name, bid, self.n_routed(), weights, expert, merged)
        return None

    def expert_shapes(self, hp: HParams, n_ff_exp: int) -> Dict[str, Tuple[int, ...]]:
        e, x = hp.n_embd, hp.n_expert
        return {"FFN_GATE_EXP": (x, n_ff_exp, e), "FFN_UP_EXP": (x, n_ff_exp, e), "FFN_DOWN_EXP": (x, e, n_ff_exp),
                "FFN_GATE_INP": (x, e)}


@register
class Qwen2MoeAdapter(MoeExpertsMixin, Adapter):
    """Qwen2MoeForCausalLM → ``qwen2moe``."""

    name = "qwen2moe"
    hf_architectures = ("Qwen2MoeForCausalLM",)
    gguf_arch = "qwen2moe"
    summary = "Qwen1.5-MoE, Qwen2-MoE; routed experts stacked, shared expert and its sigmoid gate"
    vocab_readers = ("gpt2",)
    config_defaults = _QWEN2MOE

    def metadata(self, config: Dict[str, Any], hp: HParams, file_type: int) -> List[V.KV]:
        """TextModel's keys, then the expert and shared-expert feed-forward lengths."""
        a = self.gguf_arch
        kv = super().metadata(config, hp, file_type)
        if config.get("moe_intermediate_size") is not None:
            kv.append(V.u32(f"{a}.expert_feed_forward_length",
                            _int("moe_intermediate_size", config["moe_intermediate_size"], 1)))
        if config.get("shared_expert_intermediate_size") is not None:
            kv.append(V.u32(f"{a}.expert_shared_feed_forward_length",
                            _int("shared_expert_intermediate_size", config["shared_expert_intermediate_size"], 1)))
        return kv

    def modify_tensors(self, t: LazyTensor, name: str, bid: Optional[int]) -> Iterable[Tuple[str, LazyTensor]]:
        out = self.modify_experts(t, name, bid)
        return super().modify_tensors(t, name, bid) if out is None else out

    def expected_shapes(self, hp: HParams, n_vocab: int) -> Dict[str, Tuple[int, ...]]:
        shapes = super().expected_shapes(hp, n_vocab)
        fm = _int("moe_intermediate_size", find_hparam(self.config, ["moe_intermediate_size"]), 1)
        shapes.update(self.expert_shapes(hp, fm))
        fs = self.config.get("shared_expert_intermediate_size")
        if isinstance(fs, int) and not isinstance(fs, bool):
            e = hp.n_embd
            shapes.update({"FFN_GATE_SHEXP": (fs, e), "FFN_UP_SHEXP": (fs, e), "FFN_DOWN_SHEXP": (e, fs),
                           "FFN_GATE_INP_SHEXP": (1, e)})
        return shapes

    #: the FFN kinds of a sparse layer beside the routed experts
    shared_kinds: Tuple[str, ...] = ("FFN_GATE_SHEXP", "FFN_UP_SHEXP", "FFN_DOWN_SHEXP", "FFN_GATE_INP_SHEXP")

    # ------------------------------------------------------------ export-hf
    model_types = {"Qwen2MoeForCausalLM": "qwen2_moe"}
    hf_tensor_names = {
        **Adapter.hf_tensor_names, "FFN_GATE_INP": "model.layers.{bid}.mlp.gate",
        "FFN_GATE_SHEXP": "model.layers.{bid}.mlp.shared_expert.gate_proj",
        "FFN_UP_SHEXP": "model.layers.{bid}.mlp.shared_expert.up_proj",
        "FFN_DOWN_SHEXP": "model.layers.{bid}.mlp.shared_expert.down_proj",
        "FFN_GATE_INP_SHEXP": "model.layers.{bid}.mlp.shared_expert_gate",
    }
    #: llama.cpp's build of this architecture renormalizes the chosen experts' weights (qwen3moe)
    #: or not (qwen2moe) whatever config.json said: the exported ``norm_topk_prob``
    norm_topk_prob = False

    def export_class(self, md: Mapping[str, Any], tensors: Mapping[str, Tuple[int, ...]]) -> Optional[str]:
        return self.hf_architectures[0]

    def export_config(self, md: Mapping[str, Any], tensors: Mapping[str, Tuple[int, ...]], hf_class: str,
                      read: Callable[[str], np.ndarray]) -> Dict[str, Any]:
        """The generic keys with the experts under ``num_experts``, the expert and shared-expert
        sizes, the q/k/v biases from the tensors (``qkv_bias`` for Qwen2-MoE, ``attention_bias`` for
        Qwen3-MoE), and ``norm_topk_prob`` as llama.cpp runs the architecture (the file has no key)."""
        a = self.gguf_arch
        cfg = super().export_config(md, tensors, hf_class, read)
        if "num_local_experts" in cfg:
            cfg["num_experts"] = cfg.pop("num_local_experts")
        for hf, key in (("moe_intermediate_size", "expert_feed_forward_length"),
                        ("shared_expert_intermediate_size", "expert_shared_feed_forward_length")):
            if md.get(f"{a}.{key}") is not None:
                cfg[hf] = int(md[f"{a}.{key}"])
        cfg["qkv_bias" if hf_class == "Qwen2MoeForCausalLM" else "attention_bias"] = "blk.0.attn_q.bias" in tensors
        cfg["norm_topk_prob"] = self.norm_topk_prob
        cfg["decoder_sparse_step"], cfg["mlp_only_layers"] = 1, []
        return cfg

    def hparams(self, config: Dict[str, Any]) -> HParams:
        """The base hyper-parameters; a config.json with dense layers is refused (:meth:`sparse_layers`)."""
        hp = super().hparams(config)
        self.sparse_layers(config, hp.n_layer)
        return hp

    def sparse_layers(self, config: Dict[str, Any], n_layer: int) -> List[int]:
        """Every layer: llama.cpp's ``qwen2moe`` / ``qwen3moe`` have no dense layers (their tensor map
        has no plain MLP, so the converter cannot map one), so a config.json that makes some layers
        dense (``mlp_only_layers``, ``decoder_sparse_step`` > 1, as transformers reads them) is refused."""
        only = config.get("mlp_only_layers") or []
        step = config.get("decoder_sparse_step", 1)
        if only or step not in (1, None):
            raise UnsupportedArchitectureError(
                f"convert: {CONFIG}: mlp_only_layers={only!r}, decoder_sparse_step={step!r} make some layers dense; "
                f"llama.cpp's {self.gguf_arch!r} architecture has experts in every layer (its converter cannot map "
                f"a dense MLP)")
        return list(range(n_layer))

    def required_kinds(self, hp: HParams) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
        """Attention and norms in every block (the FFN: :meth:`map_tensors`)."""
        return ("TOKEN_EMBD", "OUTPUT_NORM"), ("ATTN_NORM", "ATTN_Q", "ATTN_K", "ATTN_V", "ATTN_OUT", "FFN_NORM")

    def map_tensors(self, config: Dict[str, Any], hp: HParams, n_vocab: int,
                    tensors: Dict[str, TensorSource]) -> List[MappedTensor]:
        """The converter's walk, then each block's experts (and Qwen2-MoE's shared expert)."""
        out = super().map_tensors(config, hp, n_vocab, tensors)
        names = {t.name for t in out}
        for bid in self.sparse_layers(config, hp.n_layer):
            for kind in ("FFN_GATE_INP", "FFN_GATE_EXP", "FFN_UP_EXP", "FFN_DOWN_EXP") + self.shared_kinds:
                g = self.tensor_name(kind, bid)
                if g not in names:
                    raise MissingTensorError(
                        f"convert: missing tensor {self._hf_name_for(g)!r} (GGUF {g!r}) in {self._checkpoint()} "
                        f"(every layer of {self.gguf_arch!r} is a mixture-of-experts layer)")
        return out


@register
class Qwen3MoeAdapter(Qwen2MoeAdapter):
    """Qwen3MoeForCausalLM → ``qwen3moe``."""

    name = "qwen3moe"
    hf_architectures = ("Qwen3MoeForCausalLM",)
    gguf_arch = "qwen3moe"
    summary = "Qwen3 MoE (Qwen3-30B-A3B, 235B-A22B, Coder); routed experts stacked, q/k norms"
    vocab_readers = ("gpt2",)
    config_defaults = _QWEN3MOE
    shared_kinds = ()
    model_types = {"Qwen3MoeForCausalLM": "qwen3_moe"}
    norm_topk_prob = True
