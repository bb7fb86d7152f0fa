"""Llama 4 (``Llama4ForCausalLM`` and the text model of ``Llama4ForConditionalGeneration``)
→ GGUF arch ``llama4``.

The converter's ``Llama4Model`` (``conversion/llama.py``) is ``LlamaModel``
without the q/k permutation and with:

* **Two FFN sizes.** config.json's ``intermediate_size`` is the experts' (and
  the shared expert's) row count, ``intermediate_size_mlp`` the dense layers':
  the converter swaps them, so ``llama4.feed_forward_length`` =
  intermediate_size_mlp and ``llama4.expert_feed_forward_length`` =
  intermediate_size; ``interleave_moe_layer_step`` is written too. Layers in
  ``moe_layers`` (every step-th layer) have experts, the others a dense MLP.
* **Fused, transposed experts.** ``feed_forward.experts.gate_up_proj``
  [experts, hidden, 2·ff] is transposed and split in halves into
  ``ffn_gate_exps`` / ``ffn_up_exps``; ``experts.down_proj`` [experts, ff,
  hidden] (no ``.weight``) is transposed into ``ffn_down_exps`` — all strided
  views, nothing copied. The router ``feed_forward.router`` → ``ffn_gate_inp``
  (F32), the shared expert ``feed_forward.shared_expert.*`` → ``*_shexp``.
* **RoPE.** llama3-style ``rope_freqs`` from rope_scaling (Llama 4 has
  high_freq_factor == low_freq_factor, which the converter accepts); QK-norm
  without weights and NoPE layers need no tensors or keys.
* When config.json lists ``layer_types`` all ``full_attention``,
  ``llama4.attention.sliding_window`` = 0.
* **Multimodal.** For ``Llama4ForConditionalGeneration`` the ``text_config``
  is read as the top level, ``language_model.`` is dropped from names, and
  the vision model and projector are left out (llama.cpp converts them to a
  separate mmproj file).

The tokenizer is byte-level BPE with o200k's regex, which the converter's
probe hash names ``llama4``.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple

import numpy as np

from ...gguf import values as V
from ..errors import ConfigError, MissingTensorError, TensorShapeError
from ..lazy import LazyTensor
from . import register
from ._base import CONFIG, Adapter, HParams, MappedTensor, TensorSource, _int
from .llama import LlamaAdapter

# transformers 4.57.6 Llama4TextConfig defaults of the keys the converter reads (structural sizes aside)
_LLAMA4 = {"max_position_embeddings": 4096 * 32, "rms_norm_eps": 1e-5, "rope_theta": 500000, "rope_scaling": None,
           "head_dim": 128, "num_experts_per_tok": 1, "num_local_experts": 16, "interleave_moe_layer_step": 1}


@register
class Llama4Adapter(LlamaAdapter):
    """Llama4ForCausalLM / Llama4ForConditionalGeneration → ``llama4``."""

    name = "llama4"
    hf_architectures = ("Llama4ForCausalLM", "Llama4ForConditionalGeneration")
    gguf_arch = "llama4"
    notes = {"Llama4ForCausalLM": "Llama 4 text; fused experts transposed and split, shared expert, "
                                  "dense layers between MoE layers",
             "Llama4ForConditionalGeneration": "Llama 4 Scout / Maverick: the text model (vision model and "
                                               "projector left out)"}
    vocab_readers = ("gpt2",)
    reads_add_prefix_space = True
    pre_tokenizer_names = {"gpt-4o": "llama4"}
    config_defaults = _LLAMA4
    computes_head_dim = False
    equal_freq_factors = True

    def normalize_config(self, config: Dict[str, Any]) -> Dict[str, Any]:
        """Llama4TextConfig's defaults, then the converter's swap: ``intermediate_size`` becomes
        intermediate_size_mlp (dense layers), the original is kept as ``intermediate_size_moe``."""
        cfg = super().normalize_config(config)
        if "intermediate_size" not in cfg or "intermediate_size_mlp" not in cfg:
            missing = "intermediate_size" if "intermediate_size" not in cfg else "intermediate_size_mlp"
            raise ConfigError(f"convert: {CONFIG}: missing required key {missing!r}", CONFIG)
        cfg["intermediate_size_moe"] = cfg["intermediate_size"]
        cfg["intermediate_size"] = cfg["intermediate_size_mlp"]
        return cfg

    def _moe_layers(self, n_layer: int) -> List[int]:
        step = _int("interleave_moe_layer_step", self.config.get("interleave_moe_layer_step", 1), 1)
        layers = self.config.get("moe_layers")
        if layers is None:
            return list(range(step - 1, n_layer, step))
        if not isinstance(layers, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in layers):
            raise ConfigError(f"convert: {CONFIG}: 'moe_layers' must be a list of layer numbers, got {layers!r}", CONFIG)
        return layers

    def metadata(self, config: Dict[str, Any], hp: HParams, file_type: int) -> List[V.KV]:
        a = self.gguf_arch
        kv = super().metadata(config, hp, file_type)
        kv.append(V.u32(f"{a}.interleave_moe_layer_step",
                        _int("interleave_moe_layer_step", config["interleave_moe_layer_step"], 1)))
        kv.append(V.u32(f"{a}.expert_feed_forward_length", _int("intermediate_size", config["intermediate_size_moe"], 1)))
        types = config.get("layer_types")
        if isinstance(types, list) and all(t == "full_attention" for t in types):
            kv.append(V.u32(f"{a}.attention.sliding_window", 0))
        return kv

    def modify_tensors(self, t: LazyTensor, name: str, bid: Optional[int]) -> Iterable[Tuple[str, LazyTensor]]:
        if "gate_up_proj" in name:
            if t.ndim != 3 or t.shape[-1] % 2:
                raise TensorShapeError(f"convert: {self._file_of(t.name)}: tensor {t.name!r} has shape "
                                       f"{list(t.shape)}; expected [experts, hidden, 2 × expert rows]")
            gate, up = t.transpose(-1, -2).split(t.shape[-1] // 2, dim=1)
            return [(self.map_name(name.replace("gate_up_proj", "gate_proj.weight")), gate),
                    (self.map_name(name.replace("gate_up_proj", "up_proj.weight")), up)]
        if name.endswith("down_proj"):
            return [(self.map_name(name + ".weight"), t.transpose(-1, -2))]
        return Adapter.modify_tensors(self, t, name, bid)  # undo_permute = False: q/k as they are

    def expected_shapes(self, hp: HParams, n_vocab: int) -> Dict[str, Tuple[int, ...]]:
        shapes = super().expected_shapes(hp, n_vocab)
        e, x = hp.n_embd, hp.n_expert
        fm = _int("intermediate_size", self.config["intermediate_size_moe"], 1)
        shapes.update({"FFN_GATE_EXP": (x, fm, e), "FFN_UP_EXP": (x, fm, e), "FFN_DOWN_EXP": (x, e, fm),
                       "FFN_GATE_INP": (x, e), "FFN_GATE_SHEXP": (fm, e), "FFN_UP_SHEXP": (fm, e),
                       "FFN_DOWN_SHEXP": (e, fm)})
        return shapes

    def required_kinds(self, hp: HParams) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
        """Attention and norms in every block (the FFN: :meth:`map_tensors`)."""
        return ("TOKEN_EMBD", "OUTPUT_NORM"), ("ATTN_NORM", "ATTN_Q", "ATTN_K", "ATTN_V", "ATTN_OUT", "FFN_NORM")

    def map_tensors(self, config: Dict[str, Any], hp: HParams, n_vocab: int,
                    tensors: Dict[str, TensorSource]) -> List[MappedTensor]:
        """The converter's walk, then each block's FFN: experts with a shared expert in ``moe_layers``,
        a dense MLP elsewhere."""
        out = super().map_tensors(config, hp, n_vocab, tensors)
        names = {t.name for t in out}
        moe = set(self._moe_layers(hp.n_layer))
        for bid in range(hp.n_layer):
            kinds = ("FFN_GATE_INP", "FFN_GATE_EXP", "FFN_UP_EXP", "FFN_DOWN_EXP", "FFN_GATE_SHEXP", "FFN_UP_SHEXP",
                     "FFN_DOWN_SHEXP") if bid in moe else ("FFN_GATE", "FFN_UP", "FFN_DOWN")
            for kind in kinds:
                g = self.tensor_name(kind, bid)
                if g not in names:
                    raise MissingTensorError(f"convert: missing tensor {self._hf_name_for(g)!r} (GGUF {g!r}) in "
                                             f"{self._checkpoint()} ({CONFIG}: layer {bid} is "
                                             f"{'a mixture-of-experts' if bid in moe else 'a dense'} layer)")
        return out

    # ------------------------------------------------------------ export-hf
    model_types = {"Llama4ForCausalLM": "llama4_text"}
    EXPERTS = None  # stored fused and 3-D, not per expert as Mixtral's (LlamaAdapter)
    hf_tensor_names = {
        **Adapter.hf_tensor_names, "FFN_GATE_INP": "model.layers.{bid}.feed_forward.router",
        "FFN_GATE": "model.layers.{bid}.feed_forward.gate_proj", "FFN_UP": "model.layers.{bid}.feed_forward.up_proj",
        "FFN_DOWN": "model.layers.{bid}.feed_forward.down_proj",
        "FFN_GATE_SHEXP": "model.layers.{bid}.feed_forward.shared_expert.gate_proj",
        "FFN_UP_SHEXP": "model.layers.{bid}.feed_forward.shared_expert.up_proj",
        "FFN_DOWN_SHEXP": "model.layers.{bid}.feed_forward.shared_expert.down_proj",
    }

    def export_class(self, md: Mapping[str, Any], tensors: Mapping[str, Tuple[int, ...]]) -> Optional[str]:
        """Llama4ForCausalLM (a Llama4ForConditionalGeneration file is its text model)."""
        return "Llama4ForCausalLM"

    def export_config(self, md: Mapping[str, Any], tensors: Mapping[str, Tuple[int, ...]], hf_class: str,
                      read: Callable[[str], np.ndarray]) -> Dict[str, Any]:
        """Llama's keys (llama3 RoPE factors with equal high/low factors), the two FFN sizes swapped
        back, the MoE layers from the tensors, and the attention llama.cpp runs, which the file does
        not spell out: with ``attention.sliding_window`` 0 every layer is full attention with RoPE;
        without it, 8192-token chunked attention and RoPE in 3 of 4 layers, NoPE with temperature
        tuning in every 4th (``no_rope_layers``), and q/k L2 norms unless the model has 128 experts
        (Maverick)."""
        a = self.gguf_arch
        cfg = super().export_config(md, tensors, hf_class, read)
        n = cfg["num_hidden_layers"]
        cfg["intermediate_size_mlp"] = cfg["intermediate_size"]
        cfg["intermediate_size"] = int(md[f"{a}.expert_feed_forward_length"])
        cfg["interleave_moe_layer_step"] = int(md[f"{a}.interleave_moe_layer_step"])
        cfg["moe_layers"] = [b for b in range(n) if self.tensor_name("FFN_GATE_INP", b) in tensors]
        if md.get(f"{a}.attention.sliding_window") == 0:
            cfg.update(no_rope_layers=[1] * n, layer_types=["full_attention"] * n, attn_temperature_tuning=False)
        else:
            cfg.update(no_rope_layers=[int((b + 1) % 4 != 0) for b in range(n)], attention_chunk_size=8192,
                       attn_temperature_tuning=True, floor_scale=8192, attn_scale=0.1)
        cfg["use_qk_norm"] = cfg.get("num_local_experts") != 128
        return cfg

    def export_listing(self, tensors: Mapping[str, Tuple[int, ...]], hp: HParams) -> Dict[str, Tuple[int, ...]]:
        """The base listing, with each MoE block's gate and up experts back in one
        ``experts.gate_up_proj`` [experts, hidden, 2·ff] and ``ffn_down_exps`` as
        ``experts.down_proj`` [experts, ff, hidden] (both stored without ``.weight``)."""
        exps = ("ffn_gate_exps", "ffn_up_exps", "ffn_down_exps")
        out = super().export_listing({n: s for n, s in tensors.items() if n.split(".")[-2] not in exps}, hp)
        for name, shape in tensors.items():
            parts = name.split(".")
            if len(parts) != 4 or parts[2] not in ("ffn_gate_exps", "ffn_down_exps"):
                continue
            x, rows, cols = shape
            p = f"model.layers.{parts[1]}.feed_forward.experts."
            if parts[2] == "ffn_gate_exps":
                out[p + "gate_up_proj"] = (x, cols, rows + tensors[f"blk.{parts[1]}.ffn_up_exps.weight"][1])
            else:
                out[p + "down_proj"] = (x, cols, rows)
        return out
