"""Qwen3.5 / 3.6 (dense and MoE) → GGUF arch ``qwen35`` / ``qwen35moe``.

What the family does differently (``Qwen3_5TextModel`` / ``Qwen3_5MoeTextModel``
of the pinned converter's ``conversion/qwen.py``, through
``_LinearAttentionVReorderBase``, ``Qwen3NextModel``, ``_QwenMtpMixin`` and
``Qwen2MoeModel``):

* **Hybrid layers.** Every layer but each ``full_attention_interval``-th
  (``layer_types``) is a Gated-DeltaNet linear-attention layer:
  ``linear_attn.in_proj_qkv`` → ``attn_qkv``, ``in_proj_z`` → ``attn_gate``,
  ``in_proj_b`` / ``in_proj_a`` → ``ssm_beta`` / ``ssm_alpha``,
  ``conv1d`` ``[channels, 1, kernel]`` squeezed → ``ssm_conv1d`` (always
  F32, never quantized), ``A_log`` → ``ssm_a`` = −exp(A_log) (F32),
  ``dt_bias`` → ``ssm_dt.bias``, the gated ``norm`` → ``ssm_norm`` (stored as
  the scale itself), ``out_proj`` → ``ssm_out``. The other layers are gated
  full attention (``q_proj`` twice the heads: queries and output gate, q/k
  norms).
* **V heads re-ordered.** With fewer key heads than value heads the
  converter re-orders the value heads from grouped-by-key-head to tiled
  order (llama.cpp's broadcast): the V rows of ``in_proj_qkv``, the rows of
  ``in_proj_z``, ``in_proj_a``/``_b``, ``A_log``, ``dt_bias``, the V channels
  of ``conv1d`` and the columns of ``out_proj`` — all strided views.
* **Norms stored as scale − 1.** Every RMSNorm weight but the gated one
  (``linear_attn.norm``) is written + 1 (F32 arithmetic, as torch does on the
  converter's float32 copy).
* **Rotary.** Interleaved M-RoPE: ``rope.dimension_sections`` from
  ``mrope_section`` (padded to 4; [11, 11, 10, 0] when absent, appended last
  as the converter's mixin does), ``rope.dimension_count`` = head_dim ×
  ``partial_rotary_factor`` (0.25 unless set).
* **Metadata.** ``ssm.conv_kernel``, ``ssm.state_size`` (key head dim),
  ``ssm.group_count`` (key heads), ``ssm.time_step_rank`` (value heads),
  ``ssm.inner_size``, ``attention.recurrent_layers`` (from ``layer_types``,
  the MTP layers false), ``full_attention_interval``.
* **Multi-token prediction.** ``mtp.*`` (``mtp_num_hidden_layers`` layers,
  ``fc``, ``pre_fc_norm_embedding`` / ``_hidden``, ``norm``) becomes block
  L (+ i): ``nextn.eh_proj``, ``nextn.enorm`` / ``hnorm``,
  ``nextn.shared_head_norm`` and a full-attention layer; the block count
  (and so llama-quantize's layer count) is L + MTP layers and
  ``nextn_predict_layers`` is written.
* **MoE** (``Qwen3_5Moe…``): routed experts fused 3-D
  (``mlp.experts.gate_up_proj`` split in halves into gate and up,
  ``down_proj``) or per expert (stacked), router ``mlp.gate`` →
  ``ffn_gate_inp``, shared expert → ``*_shexp`` with its gate
  ``shared_expert_gate`` → ``ffn_gate_inp_shexp`` (F32); expert and shared
  FF lengths; no dense ``feed_forward_length``.
* **Config.** transformers 4.57.6 does not know ``qwen3_5*``, so config.json
  is read raw (``text_config`` over the top level for the
  ``…ForConditionalGeneration`` checkpoints, whose vision tower is dropped).
  Tokenizer: byte-level BPE, pre ``qwen35``.

NVFP4 checkpoints (ModelOpt, compressed-tensors) pass their blocks through
as the converter does; the re-ordered rows of ``in_proj_qkv`` / ``_z`` /
``_a`` / ``_b`` are row views of the blocks and the re-ordered columns of
``out_proj`` a gather of whole blocks within each row (the executor's
pass-through layout; byte for byte as the pinned converter:
tests/golden/qwen35_quantized.json). A value head dimension that is not a whole
number of blocks is refused (:class:`~wick.convert.errors.QuantizedTensorError`).

Difference from the converter: a checkpoint whose config has no (or zero)
``mtp_num_hidden_layers`` and no ``mtp.*`` tensors converts without MTP layers
here; the pinned converter fails on it (an assertion meant for Qwen3-Next).
``ssm_a`` is computed with float64 ``exp`` rounded to float32 (see
convert/ops.go): torch's float32 ``exp`` may differ in the last bit on rare
inputs.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Tuple

from ...gguf import values as V
from ..errors import ConfigError, MissingTensorError, QuantizedTensorError, TensorShapeError
from ..ggml_types import block_size
from ..lazy import LazyTensor
from . import register
from ._base import CONFIG, Adapter, HParams, MappedTensor, TensorSource, _int, _num, find_hparam

#: the converter's ``_Qwen35MRopeMixin._QWEN35_DEFAULT_MROPE_SECTION``
DEFAULT_MROPE_SECTION = [11, 11, 10, 0]
#: ``_QwenMtpMixin.filter_tensors``: top-level ``mtp.*`` modules → the names of a NextN block
MTP_RENAMES = {"fc": "eh_proj", "pre_fc_norm_embedding": "enorm", "pre_fc_norm_hidden": "hnorm",
               "norm": "shared_head.norm"}
_LINEAR_KINDS = ("ATTN_QKV", "ATTN_GATE", "SSM_BETA", "SSM_ALPHA", "SSM_CONV1D", "SSM_NORM", "SSM_OUT")
_FULL_KINDS = ("ATTN_Q", "ATTN_K", "ATTN_V", "ATTN_OUT", "ATTN_Q_NORM", "ATTN_K_NORM")
#: TextModel's keys of the dense FF length (the MoE classes have none: no feed_forward_length)
_DENSE_FF_KEYS = ["prefix_dense_intermediate_size", "dense_intermediate_size", "intermediate_size", "n_inner", "hidden_dim"]
_NEXTN_KINDS = ("NEXTN_EH_PROJ", "NEXTN_ENORM", "NEXTN_HNORM", "NEXTN_SHARED_HEAD_NORM")


class _Qwen35Base(Adapter):
    """What the dense and MoE classes share (the converter's ``_LinearAttentionVReorderBase`` chain)."""

    vocab_readers = ("gpt2",)
    moe = False

    # ------------------------------------------------------------------ hparams
    @staticmethod
    def _mtp_layers(config: Dict[str, Any]) -> int:
        n = config.get("mtp_num_hidden_layers")
        return 0 if n is None else _int("mtp_num_hidden_layers", n)

    def _linear(self, config: Dict[str, Any]) -> Tuple[int, int, int, int, int]:
        """(key heads, key head dim, value heads, value head dim, conv kernel), validated."""
        nk = _int("linear_num_key_heads", find_hparam(config, ["linear_num_key_heads"]), 1)
        dk = _int("linear_key_head_dim", find_hparam(config, ["linear_key_head_dim"]), 1)
        nv = _int("linear_num_value_heads", find_hparam(config, ["linear_num_value_heads"]), 1)
        dv = _int("linear_value_head_dim", find_hparam(config, ["linear_value_head_dim"]), 1)
        kc = _int("linear_conv_kernel_dim", find_hparam(config, ["linear_conv_kernel_dim"]), 1)
        if nv % nk:
            raise ConfigError(f"convert: {CONFIG}: linear_num_value_heads {nv} is not a multiple of "
                              f"linear_num_key_heads {nk}", CONFIG)
        return nk, dk, nv, dv, kc

    def recurrent(self, config: Dict[str, Any]) -> List[bool]:
        """Which of the decoder's layers are linear attention (``layer_types``, else every layer
        but each ``full_attention_interval``-th, as llama.cpp's loader assumes)."""
        n_layer = _int("num_hidden_layers", config["num_hidden_layers"], 1)
        types = config.get("layer_types")
        if types is not None:
            if not isinstance(types, list) or len(types) != n_layer:
                raise ConfigError(f"convert: {CONFIG}: 'layer_types' must list num_hidden_layers={n_layer} entries, "
                                  f"got {types!r}", CONFIG)
            return [t == "linear_attention" for t in types]
        interval = _int("full_attention_interval", config.get("full_attention_interval", 4), 1)
        return [(i + 1) % interval != 0 for i in range(n_layer)]

    def hparams(self, config: Dict[str, Any]) -> HParams:
        """The decoder's hyper-parameters with the MTP layers counted as blocks (the MoE
        classes have no dense FF size: the expert one stands in for the shape checks)."""
        cfg = dict(config)
        if self.moe and find_hparam(cfg, _DENSE_FF_KEYS, required=False) is None:
            cfg["intermediate_size"] = find_hparam(cfg, ["moe_intermediate_size"])
        hp = super().hparams(cfg)
        self._linear(cfg)
        self.recurrent(cfg)
        return HParams(**{**hp.__dict__, "n_layer": hp.n_layer + self._mtp_layers(cfg)})

    # ----------------------------------------------------------------- metadata
    def metadata(self, config: Dict[str, Any], hp: HParams, file_type: int) -> List[V.KV]:
        """TextModel's keys (block count with the MTP layers), then Qwen2-MoE's, the MTP and the SSM keys."""
        a = self.gguf_arch
        kvs = super().metadata(config, hp, file_type)
        if find_hparam(config, _DENSE_FF_KEYS, required=False) is None:
            kvs = [kv for kv in kvs if kv.key != f"{a}.feed_forward_length"]
        if config.get("moe_intermediate_size") is not None:
            kvs.append(V.u32(f"{a}.expert_feed_forward_length", _int("moe_intermediate_size", config["moe_intermediate_size"])))
        if config.get("shared_expert_intermediate_size") is not None:
            kvs.append(V.u32(f"{a}.expert_shared_feed_forward_length",
                             _int("shared_expert_intermediate_size", config["shared_expert_intermediate_size"])))
        n_layer = _int("num_hidden_layers", config["num_hidden_layers"], 1)
        if hp.n_layer > n_layer:
            kvs.append(V.u32(f"{a}.nextn_predict_layers", hp.n_layer - n_layer))
        nk, dk, nv, dv, kc = self._linear(config)
        kvs += [V.u32(f"{a}.ssm.conv_kernel", kc), V.u32(f"{a}.ssm.state_size", dk), V.u32(f"{a}.ssm.group_count", nk),
                V.u32(f"{a}.ssm.time_step_rank", nv), V.u32(f"{a}.ssm.inner_size", dv * nv)]
        if config.get("layer_types") is not None:
            rec = self.recurrent(config) + [False] * (hp.n_layer - n_layer)
            kvs.append(V.array(f"{a}.attention.recurrent_layers", V.ValueType.BOOL, rec))
        kvs.append(V.u32(f"{a}.full_attention_interval",
                         _int("full_attention_interval", config.get("full_attention_interval", 4))))
        head_dim = config.get("head_dim")
        if head_dim is None:
            head_dim = _int("hidden_size", config["hidden_size"]) // _int("num_attention_heads", config["num_attention_heads"], 1)
        rope = self.rope_parameters(config)
        partial = _num("partial_rotary_factor", rope.get("partial_rotary_factor", 0.25))
        kvs.append(V.u32(f"{a}.rope.dimension_count", int(_int("head_dim", head_dim) * partial)))
        if "mrope_section" not in rope:
            kvs.append(V.array(f"{a}.rope.dimension_sections", V.ValueType.INT32, DEFAULT_MROPE_SECTION))
        return kvs

    # ------------------------------------------------------------------ tensors
    def filter_tensor(self, name: str) -> Optional[str]:
        """TextModel's filter, then ``mtp.*`` renamed to block L (+ i) as ``_QwenMtpMixin`` does."""
        name = super().filter_tensor(name)
        if name is None:
            return None
        if name.startswith("model.mtp."):
            name = name.replace("model.", "", 1)
        if name.startswith("mtp."):
            n_layer = _int("num_hidden_layers", self.config["num_hidden_layers"], 1)
            parts = name.split(".", 3)
            if len(parts) == 4 and parts[1] == "layers" and parts[2].isdecimal():
                name = f"model.layers.{n_layer + int(parts[2])}.{parts[3]}"
            elif len(parts) == 3 and parts[1] in MTP_RENAMES:
                name = f"model.layers.{n_layer}.{MTP_RENAMES[parts[1]]}.{parts[2]}"
        return name

    def _reorder_v(self, t: LazyTensor, dim: int, head_dim: int) -> LazyTensor:
        """``_reorder_v_heads`` of a 2-D tensor along ``dim``: value heads grouped by key head → tiled."""
        nk, _dk, nv, _dv, _kc = self._linear(self.config)
        r = nv // nk
        rows, cols = t.shape
        if dim == 0:
            return t.reshape(nk, r, head_dim, cols).permute(1, 0, 2, 3).contiguous_reshape(rows, cols)
        return t.reshape(rows, nk, r, head_dim).permute(0, 2, 1, 3).contiguous_reshape(rows, cols)

    def _check_rows(self, t: LazyTensor, name: str, rows: int, what: str) -> None:
        if t.ndim < 1 or t.shape[0] != rows:
            raise TensorShapeError(f"convert: {self._file_of(t.name)}: tensor {t.name!r} has shape {list(t.shape)}; "
                                   f"expected {rows} rows ({what}, from {CONFIG})")

    def _linear_attention(self, t: LazyTensor, name: str) -> LazyTensor:
        """``_LinearAttentionVReorderBase.modify_tensors``: the value-head re-ordering (when key heads < value heads)."""
        nk, dk, nv, dv, _kc = self._linear(self.config)
        if nk == nv:
            return t
        qk = 2 * nk * dk
        if ".in_proj_qkv." in name:
            self._check_rows(t, name, qk + nv * dv, "2 × linear_num_key_heads × linear_key_head_dim + value heads × dim")
            q_k, v = t.split([qk, nv * dv], dim=0)
            return type(q_k).cat([q_k, self._reorder_v(v, 0, dv)])  # LazyTensor, or a LoRA pair
        if ".in_proj_z." in name:
            self._check_rows(t, name, nv * dv, "linear_num_value_heads × linear_value_head_dim")
            return self._reorder_v(t, 0, dv)
        if ".in_proj_b." in name or ".in_proj_a." in name:
            self._check_rows(t, name, nv, "linear_num_value_heads")
            return self._reorder_v(t, 0, 1)
        if ".A_log" in name or ".dt_bias" in name or ".dt_proj" in name:
            if t.ndim == 1:
                self._check_rows(t, name, nv, "linear_num_value_heads")
                return t.reshape(nk, nv // nk).permute(1, 0).contiguous_reshape(nv)
            return self._reorder_v(t, t.ndim - 1, 1)
        if ".conv1d" in name:
            data = t.squeeze()
            self._check_rows(data, name, qk + nv * dv, "2 × key heads × key head dim + value heads × dim channels")
            q_k, v = data.split([qk, nv * dv], dim=0)
            return type(q_k).cat([q_k, self._reorder_v(v, 0, dv)])  # LazyTensor, or a LoRA pair
        if ".out_proj." in name:
            for hf, src in t.sources:
                blocks = src.decode.passthrough if src.decode is not None else ""
                if blocks and dv % block_size(blocks):
                    raise QuantizedTensorError(
                        f"convert: {src.file}: tensor {hf!r} is stored as {blocks} blocks, whose columns are "
                        f"re-ordered per value head (linear_num_key_heads={nk} < linear_num_value_heads={nv}); "
                        f"Wick moves such blocks only whole, and linear_value_head_dim={dv} is not a multiple of "
                        f"the {block_size(blocks)}-element {blocks} block", hf, src.file)
            if t.ndim != 2 or t.shape[1] != nv * dv:
                raise TensorShapeError(f"convert: {self._file_of(t.name)}: tensor {t.name!r} has shape {list(t.shape)}; "
                                       f"expected {nv * dv} columns (linear_num_value_heads × linear_value_head_dim)")
            return self._reorder_v(t, 1, dv)
        return t

    def modify_tensors(self, t: LazyTensor, name: str, bid: Optional[int]) -> Iterable[Tuple[str, LazyTensor]]:
        if "linear_attn." in name:
            t = self._linear_attention(t, name)
        # Qwen3NextModel.modify_tensors
        if name.endswith(".A_log"):
            t = -t.exp()
        elif name.endswith(".dt_bias"):
            name = name.rpartition(".dt_bias")[0] + ".dt_proj.bias"
        elif "conv1d" in name and 1 in t.shape:  # (already squeezed when its V heads were re-ordered)
            t = t.squeeze()
        elif name.endswith("norm.weight") and not name.endswith("linear_attn.norm.weight"):
            t = t + 1
        return self._moe_tensors(t, name, bid)

    def _moe_tensors(self, t: LazyTensor, name: str, bid: Optional[int]) -> Iterable[Tuple[str, LazyTensor]]:
        """``Qwen2MoeModel.modify_tensors``: fused 3-D experts (gate_up split in halves) or per-expert ones stacked."""
        if name.endswith("mlp.experts.down_proj") or name.endswith("mlp.experts.down_proj.weight"):
            return [(self.map_name(name if name.endswith(".weight") else f"{name}.weight"), t)]
        if name.endswith("mlp.experts.gate_up_proj") or name.endswith("mlp.experts.gate_up_proj.weight"):
            if t.ndim < 3 or t.shape[-2] % 2:
                raise TensorShapeError(f"convert: {self._file_of(t.name)}: tensor {t.name!r} has shape {list(t.shape)}; "
                                       "expected [experts, 2 × expert FF length, hidden size]")
            n_ff = t.shape[-2] // 2
            base = name[:-len(".weight")] if name.endswith(".weight") else name
            base = base[:-len(".gate_up_proj")]
            return [(self.map_name(f"{base}.gate_proj.weight"), t[..., :n_ff, :]),
                    (self.map_name(f"{base}.up_proj.weight"), t[..., n_ff:, :])]
        if "experts" in name:
            n_expert = _int("num_experts", find_hparam(self.config, ["num_local_experts", "num_experts"]), 1)
            return self.stack_experts(t, name, bid, n_expert, ("down_proj", "gate_proj", "up_proj"),
                                      "model.layers.{bid}.mlp.experts.{x}.{w}.weight",
                                      "model.layers.{bid}.mlp.experts.{w}.weight")
        return [(self.map_name(name), t)]

    # ------------------------------------------------------------------- checks
    def expected_shapes(self, hp: HParams, n_vocab: int) -> Dict[str, Tuple[int, ...]]:
        cfg = self.config
        shapes = super().expected_shapes(hp, n_vocab)
        e, q = hp.n_embd, hp.n_head * hp.head_dim
        nk, dk, nv, dv, kc = self._linear(cfg)
        shapes.update({
            "ATTN_Q": (2 * q, e),  # queries and the output gate
            "ATTN_QKV": (2 * nk * dk + nv * dv, e), "ATTN_GATE": (nv * dv, e), "SSM_BETA": (nv, e),
            "SSM_ALPHA": (nv, e), "SSM_CONV1D": (2 * nk * dk + nv * dv, kc), "SSM_NORM": (dv,),
            "SSM_OUT": (e, nv * dv), "ATTN_POST_NORM": (e,), "NEXTN_EH_PROJ": (e, 2 * e), "NEXTN_ENORM": (e,),
            "NEXTN_HNORM": (e,), "NEXTN_SHARED_HEAD_NORM": (e,),
        })
        if self.moe:
            x = hp.n_expert
            fm = _int("moe_intermediate_size", find_hparam(cfg, ["moe_intermediate_size"]), 1)
            shapes.update({"FFN_GATE_EXP": (x, fm, e), "FFN_UP_EXP": (x, fm, e), "FFN_DOWN_EXP": (x, e, fm),
                           "FFN_GATE_INP": (x, e), "FFN_GATE_INP_SHEXP": (1, e)})
            fs = cfg.get("shared_expert_intermediate_size")
            if fs is not None:
                fs = _int("shared_expert_intermediate_size", fs, 1)
                shapes.update({"FFN_GATE_SHEXP": (fs, e), "FFN_UP_SHEXP": (fs, e), "FFN_DOWN_SHEXP": (e, fs)})
        return shapes

    def required_kinds(self, hp: HParams) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
        """Global ones here; the per-layer kinds depend on the layer (checked in :meth:`map_tensors`)."""
        return ("TOKEN_EMBD", "OUTPUT_NORM"), ()

    def map_tensors(self, config: Dict[str, Any], hp: HParams, n_vocab: int,
                    tensors: Dict[str, TensorSource]) -> List[MappedTensor]:
        """The converter's walk, then every block checked for its kind: linear attention (with
        ``ssm_a`` and ``ssm_dt.bias``), full attention, or an MTP block; each with its FFN."""
        out = super().map_tensors(config, hp, n_vocab, tensors)
        names = {t.name for t in out}
        rec = self.recurrent(config)
        n_layer = len(rec)
        ffn = ("FFN_GATE_INP", "FFN_GATE_EXP", "FFN_UP_EXP", "FFN_DOWN_EXP") if self.moe else \
            ("FFN_GATE", "FFN_UP", "FFN_DOWN")
        for bid in range(hp.n_layer):
            wanted = [self.tensor_name(k, bid) for k in ("ATTN_NORM", "ATTN_POST_NORM") + ffn]
            if bid < n_layer and rec[bid]:
                wanted += [self.tensor_name(k, bid) for k in _LINEAR_KINDS]
                wanted += [self.tensor_name("SSM_A", bid, ""), self.tensor_name("SSM_DT", bid, ".bias")]
            else:
                wanted += [self.tensor_name(k, bid) for k in _FULL_KINDS]
            if bid >= n_layer:
                wanted += [self.tensor_name(k, bid) for k in _NEXTN_KINDS]
            for g in wanted:
                if g not in names:
                    kind = "an MTP block" if bid >= n_layer else \
                        ("a linear-attention layer" if rec[bid] else "a full-attention layer")
                    raise MissingTensorError(f"convert: missing tensor {self._hf_name_for(g)!r} (GGUF {g!r}) in the "
                                             f"checkpoint (block {bid} is {kind} per {CONFIG})")
        return out


@register
class Qwen35Adapter(_Qwen35Base):
    """Qwen3_5ForCausalLM / Qwen3_5ForConditionalGeneration (text model) → ``qwen35``."""

    name = "qwen35"
    hf_architectures = ("Qwen3_5ForCausalLM", "Qwen3_5ForConditionalGeneration")
    gguf_arch = "qwen35"
    notes = {
        "Qwen3_5ForCausalLM": "Qwen3.5 / 3.6 dense: hybrid Gated-DeltaNet (SSM tensors, V heads re-ordered, "
                              "A_log → −exp) and gated full attention, norms + 1, M-RoPE, MTP layer kept",
        "Qwen3_5ForConditionalGeneration": "Qwen3.5 / 3.6 dense, the text model (vision tower dropped)",
    }


@register
class Qwen35MoeAdapter(_Qwen35Base):
    """Qwen3_5MoeForCausalLM / Qwen3_5MoeForConditionalGeneration (text model) → ``qwen35moe``."""

    name = "qwen35moe"
    hf_architectures = ("Qwen3_5MoeForCausalLM", "Qwen3_5MoeForConditionalGeneration")
    gguf_arch = "qwen35moe"
    moe = True
    notes = {
        "Qwen3_5MoeForCausalLM": "Qwen3.5 / 3.6 MoE: the dense hybrid layers with routed experts (fused or per "
                                 "expert) and a gated shared expert",
        "Qwen3_5MoeForConditionalGeneration": "Qwen3.5 / 3.6 MoE, the text model (vision tower dropped)",
    }
