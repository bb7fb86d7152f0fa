"""DeepSeek-V2 / V3 / R1 and Kimi K2 → GGUF arch ``deepseek2``.

What the family does differently (``DeepseekV2Model`` of the pinned
converter's ``conversion/deepseek.py``):

* **Multi-head latent attention.** ``q_proj`` (V2-Lite) or ``q_a_proj`` +
  ``q_a_layernorm`` + ``q_b_proj`` (q LoRA), ``kv_a_proj_with_mqa`` +
  ``kv_a_layernorm``, and ``kv_b_proj`` ``[H·(nope+v), kv_lora]`` split per
  head into ``attn_k_b`` ``[H, kv_lora, nope]`` (each head's nope rows,
  *transposed*) and ``attn_v_b`` ``[H, v, kv_lora]`` — llama.cpp's layout for
  the absorbed-attention kernels. Both are strided views of ``kv_b_proj``
  (the transpose is per head); a ``kv_b_proj`` whose rows disagree with the
  config's heads × (qk_nope_head_dim + v_head_dim) is refused, naming it.
* **MQA in the metadata.** ``head_count_kv`` is written as 1;
  ``attention.key_length`` = kv_lora_rank + qk_rope_head_dim and
  ``value_length`` = kv_lora_rank (the latent cache), plus the ``_mla``
  per-head sizes, ``kv_lora_rank``, ``q_lora_rank`` (only when set),
  ``rope.dimension_count`` = qk_rope_head_dim. No q/k permutation.
* **Experts.** Routed experts ``mlp.experts.N.{down,gate,up}_proj`` stacked
  per layer (in that order), shared experts → ``*_shexp``, the router
  ``mlp.gate`` → ``ffn_gate_inp`` (F32), V3's ``e_score_correction_bias`` →
  ``exp_probs_b.bias``; ``first_k_dense_replace`` leading dense layers
  (``leading_dense_block_count``), expert count / shared count / FF length,
  ``expert_weights_scale`` (routed_scaling_factor) and ``_norm``
  (norm_topk_prob, only when true), the gating function (softmax V2,
  sigmoid V3) and expert groups.
* **YaRN**: the usual rope-scaling keys and ``rope.scaling.yarn_log_multiplier``
  = 0.1 × ``mscale_all_dim`` (llama.cpp's legacy DeepSeek definition).
* **MTP.** V3's next-token-prediction layer (``model.layers.{L}``) is
  skipped, as the converter does (GLM-4.7-Flash keeps it: archs/glm.py).
* **FP8.** V3 / R1 / Kimi K2 ship block-FP8 weights with ``weight_scale_inv``:
  they are dequantized in the executor by the quantized-input decoders
  (:mod:`wick.convert.quantized`) before any view, exactly as the converter's
  ``dequant_model``.
* **Config.** transformers 4.57 knows ``deepseek_v2`` and ``deepseek_v3``:
  the converter then sees their config classes' defaults (``head_dim`` =
  qk_rope_head_dim among them, which makes the base write key/value_length
  early — the DeepSeek values then overwrite them in place). Any other
  ``model_type`` (``kimi_k2``) is read raw, as the converter falls back to
  config.json, so nothing is defaulted but what the converter defaults
  itself (``rms_norm_eps`` 1e-6, ``kv_lora_rank`` 512).
* **Tokenizer.** byte-level BPE ``tokenizer.json`` (pre ``deepseek-llm`` for
  V2, ``deepseek-v3`` for V3/R1); Kimi K2 ships a tiktoken vocabulary that
  the converter can reach only through the model's remote code
  (``tokenization_kimi.py``): Wick reads ``tiktoken.model`` directly (see
  :mod:`wick.convert.tokenizer`, reader ``tiktoken``).
"""

from __future__ import annotations

import re
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple

import numpy as np

from ...gguf import values as V
from ..errors import MissingTensorError, TensorShapeError
from ..lazy import LazyTensor
from . import register
from ._base import CONFIG, Adapter, HParams, MappedTensor, TensorSource, _int, _num, f32_value, find_hparam

# transformers 4.57.6 DeepseekV2Config / DeepseekV3Config defaults of the keys the converter reads
_V2_DEFAULTS = {"max_position_embeddings": 2048, "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "rope_scaling": None,
                "first_k_dense_replace": 0, "kv_lora_rank": 512, "q_lora_rank": 1536, "n_group": None,
                "n_routed_experts": 64, "n_shared_experts": 2, "qk_nope_head_dim": 128, "qk_rope_head_dim": 64,
                "routed_scaling_factor": 1.0, "topk_group": None, "v_head_dim": 128, "num_experts_per_tok": None,
                "norm_topk_prob": False, "moe_intermediate_size": 1407, "tie_word_embeddings": False}
_V3_DEFAULTS = {"max_position_embeddings": 4096, "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "rope_scaling": None,
                "moe_intermediate_size": 2048, "num_key_value_heads": 128, "n_shared_experts": 1,
                "n_routed_experts": 256, "routed_scaling_factor": 2.5, "kv_lora_rank": 512, "q_lora_rank": 1536,
                "qk_rope_head_dim": 64, "v_head_dim": 128, "qk_nope_head_dim": 128, "n_group": 8, "topk_group": 4,
                "num_experts_per_tok": 8, "first_k_dense_replace": 3, "norm_topk_prob": True,
                "tie_word_embeddings": False}
_KNOWN_MODEL_TYPES = {"deepseek_v2": _V2_DEFAULTS, "deepseek_v3": _V3_DEFAULTS}


def merge_kvs(kvs: List[V.KV], more: Iterable[V.KV]) -> List[V.KV]:
    """GGUFWriter's dict semantics: a key written again keeps its first position
    and takes the new value (the converter warns "Duplicated key name")."""
    out = list(kvs)
    index = {kv.key: i for i, kv in enumerate(out)}
    for kv in more:
        if kv.key in index:
            out[index[kv.key]] = kv
        else:
            index[kv.key] = len(out)
            out.append(kv)
    return out


@register
class DeepseekV2Adapter(Adapter):
    """DeepseekV2ForCausalLM / DeepseekV3ForCausalLM → ``deepseek2``."""

    name = "deepseek2"
    hf_architectures = ("DeepseekV2ForCausalLM", "DeepseekV3ForCausalLM")
    gguf_arch = "deepseek2"
    notes = {
        "DeepseekV2ForCausalLM": "DeepSeek-V2, V2-Lite; MLA (kv_b split per head into attn_k_b/attn_v_b), "
                                 "shared experts, YaRN",
        "DeepseekV3ForCausalLM": "DeepSeek-V3, R1, Kimi K2 (tiktoken.model read directly); block-FP8 dequantized; "
                                 "expert bias; MTP layer skipped",
    }
    vocab_readers = ("gpt2", "tiktoken")
    #: the converter's ``skip_mtp``: drop layers at and beyond num_hidden_layers
    skip_mtp = True

    def normalize_config(self, config: Dict[str, Any]) -> Dict[str, Any]:
        """transformers' config class defaults for the model types it knows (V2, V3), else config.json raw."""
        defaults = _KNOWN_MODEL_TYPES.get(config.get("model_type"))
        if defaults is None:
            self.config_defaults = {}
            cfg = dict(config)
            rs = cfg.get("rope_scaling")
            if isinstance(rs, dict) and "type" in rs and "rope_type" not in rs:
                cfg["rope_scaling"] = {**rs, "rope_type": rs["type"]}
            return cfg
        self.config_defaults = defaults
        cfg = super().normalize_config(config)
        if "qk_rope_head_dim" in cfg and not isinstance(cfg["qk_rope_head_dim"], bool):
            cfg["head_dim"] = cfg["qk_rope_head_dim"]  # both config classes set head_dim = qk_rope_head_dim
        return cfg

    # ------------------------------------------------------------------ hparams
    def _mla(self, config: Dict[str, Any]) -> Tuple[int, int, int, int, Optional[int]]:
        """(kv_lora_rank, qk_nope_head_dim, qk_rope_head_dim, v_head_dim, q_lora_rank or None), validated."""
        kv_lora = _int("kv_lora_rank", config.get("kv_lora_rank", 512), 1)
        nope = _int("qk_nope_head_dim", find_hparam(config, ["qk_nope_head_dim"]), 1)
        rope = _int("qk_rope_head_dim", find_hparam(config, ["qk_rope_head_dim"]), 2)
        v = _int("v_head_dim", find_hparam(config, ["v_head_dim"]), 1)
        q_lora = config.get("q_lora_rank")
        return kv_lora, nope, rope, v, None if q_lora is None else _int("q_lora_rank", q_lora, 1)

    def hparams(self, config: Dict[str, Any]) -> HParams:
        """The base hyper-parameters with the MLA sizes checked; the head dimension is not
        hidden_size / heads (GLM-4.7-Flash's does not even divide), so it is never derived."""
        self._mla(config)
        cfg = dict(config)
        cfg.setdefault("head_dim", cfg["qk_rope_head_dim"])
        hp = super().hparams(cfg)
        # MLA is written as MQA: llama.cpp (and so llama-quantize's rules) see one KV head
        hp = HParams(**{**hp.__dict__, "n_head_kv": 1, "has_head_dim_key": "head_dim" in config})
        moe = find_hparam(config, ["moe_intermediate_size", "intermediate_size"])
        _int("moe_intermediate_size", moe, 1)
        return hp

    def block_count(self, config: Dict[str, Any], hp: HParams) -> int:
        return hp.n_layer

    # ----------------------------------------------------------------- metadata
    def metadata(self, config: Dict[str, Any], hp: HParams, file_type: int) -> List[V.KV]:
        """``DeepseekV2Model.set_gguf_parameters``: TextModel's keys with head_count_kv = 1, then the MLA and MoE keys."""
        a = self.gguf_arch
        cfg = dict(config)
        cfg["num_key_value_heads"] = 1  # MLA is written as MQA
        cfg.setdefault("rms_norm_eps", 1e-6)
        kvs = super().metadata(cfg, hp, file_type)
        kv_lora, nope, rope, v, q_lora = self._mla(cfg)
        more: List[V.KV] = []
        has_moe = cfg.get("n_routed_experts") is not None
        dense = cfg.get("first_k_dense_replace")
        if dense is None:
            dense = cfg["num_hidden_layers"] if not has_moe else 0
        more.append(V.u32(f"{a}.leading_dense_block_count", _int("first_k_dense_replace", dense)))
        more.append(V.u32(f"{a}.vocab_size", hp.n_vocab))
        if q_lora is not None:
            more.append(V.u32(f"{a}.attention.q_lora_rank", q_lora))
        more += [V.u32(f"{a}.attention.kv_lora_rank", kv_lora),
                 V.u32(f"{a}.attention.key_length", kv_lora + rope),
                 V.u32(f"{a}.attention.value_length", kv_lora),
                 V.u32(f"{a}.attention.key_length_mla", nope + rope),
                 V.u32(f"{a}.attention.value_length_mla", v)]
        moe_ff = find_hparam(cfg, ["moe_intermediate_size", "intermediate_size"])
        more.append(V.u32(f"{a}.expert_feed_forward_length", _int("moe_intermediate_size", moe_ff, 1)))
        if has_moe:
            more.append(V.u32(f"{a}.expert_count", _int("n_routed_experts", cfg["n_routed_experts"])))
        more.append(V.u32(f"{a}.expert_shared_count", _int("n_shared_experts", cfg.get("n_shared_experts", 0))))
        if cfg.get("routed_scaling_factor") is not None:
            more.append(V.f32(f"{a}.expert_weights_scale", _num("routed_scaling_factor", cfg["routed_scaling_factor"])))
        if cfg.get("norm_topk_prob"):
            more.append(V.boolean(f"{a}.expert_weights_norm", bool(cfg["norm_topk_prob"])))
        more.append(V.u32(f"{a}.rope.dimension_count", rope))
        mscale = self.rope_parameters(cfg).get("mscale_all_dim")
        if mscale is not None:
            more.append(V.f32(f"{a}.rope.scaling.yarn_log_multiplier", 0.1 * _num("rope_scaling.mscale_all_dim", mscale)))
        return merge_kvs(kvs, more)

    # ------------------------------------------------------------------ tensors
    def filter_tensor(self, name: str) -> Optional[str]:
        """DeepSeek-OCR's vision encoders and, with ``skip_mtp``, the MTP layers are left out."""
        if "sam_model" in name or "qwen2_model" in name:
            return None
        if self.skip_mtp:
            m = re.match(r"model.layers.(\d+)", name)
            if m and int(m.group(1)) >= self.hp.n_layer:
                return None
        if self.config.get("tie_word_embeddings", False) and name in ("lm_head.weight", "model.lm_head.weight"):
            return None
        return super().filter_tensor(name)

    EXPERTS = ("model.layers.{bid}.mlp.experts.{x}.{w}.weight", ("down_proj", "gate_proj", "up_proj"),
               "model.layers.{bid}.mlp.experts.{w}.weight")

    def modify_tensors(self, t: LazyTensor, name: str, bid: Optional[int]) -> Iterable[Tuple[str, LazyTensor]]:
        if "mlp.experts" in name:
            n_expert = _int("n_routed_experts", find_hparam(self.config, ["n_routed_experts"]), 1)
            expert, weights, merged = self.EXPERTS
            return self.stack_experts(t, name, bid, n_expert, weights, expert, merged)
        if name.endswith("kv_b_proj.weight"):
            return self._split_kv_b(t, name)
        return super().modify_tensors(t, name, bid)

    def _split_kv_b(self, t: LazyTensor, name: str) -> List[Tuple[str, LazyTensor]]:
        """kv_b [H·(nope+v), kv_lora] → attn_k_b [H, kv_lora, nope] (per-head transpose) and attn_v_b [H, v, kv_lora]."""
        kv_lora, nope, _rope, v, _q = self._mla(self.config)
        n_head_kv = _int("num_key_value_heads", find_hparam(self.config, ["num_key_value_heads"]), 1)
        if t.ndim != 2 or t.shape[0] != n_head_kv * (nope + v) or t.shape[1] != kv_lora:
            raise TensorShapeError(
                f"convert: {self._file_of(t.name)}: tensor {t.name!r} has shape {list(t.shape)}; config.json's "
                f"num_key_value_heads={n_head_kv} × (qk_nope_head_dim={nope} + v_head_dim={v}) and "
                f"kv_lora_rank={kv_lora} make [{n_head_kv * (nope + v)}, {kv_lora}]")
        kv_b = t.view(n_head_kv, nope + v, kv_lora)
        k_b, v_b = kv_b.split([nope, v], dim=1)
        k_b = k_b.transpose(1, 2)
        return [(self.map_name(name.replace("kv_b_proj", "k_b_proj")), k_b),
                (self.map_name(name.replace("kv_b_proj", "v_b_proj")), v_b)]

    # ------------------------------------------------------------ export-hf
    model_types = {"DeepseekV2ForCausalLM": "deepseek_v2", "DeepseekV3ForCausalLM": "deepseek_v3"}
    hf_tensor_names = {
        **Adapter.hf_tensor_names,
        "ATTN_Q_A": "model.layers.{bid}.self_attn.q_a_proj", "ATTN_Q_A_NORM": "model.layers.{bid}.self_attn.q_a_layernorm",
        "ATTN_Q_B": "model.layers.{bid}.self_attn.q_b_proj",
        "ATTN_KV_A_MQA": "model.layers.{bid}.self_attn.kv_a_proj_with_mqa",
        "ATTN_KV_A_NORM": "model.layers.{bid}.self_attn.kv_a_layernorm",
        "FFN_GATE_INP": "model.layers.{bid}.mlp.gate", "FFN_EXP_PROBS_B": "model.layers.{bid}.mlp.gate.e_score_correction",
        "FFN_GATE_SHEXP": "model.layers.{bid}.mlp.shared_experts.gate_proj",
        "FFN_UP_SHEXP": "model.layers.{bid}.mlp.shared_experts.up_proj",
        "FFN_DOWN_SHEXP": "model.layers.{bid}.mlp.shared_experts.down_proj",
    }

    def export_class(self, md: Mapping[str, Any], tensors: Mapping[str, Tuple[int, ...]]) -> Optional[str]:
        """V3 when the router is sigmoid-gated or has its score-correction bias (V3, R1), else V2;
        none for GLM-4.7-Flash's files (GLM's tokenizer, ``glm4``), which Glm4MoeLiteAdapter exports."""
        a = self.gguf_arch
        if md.get("tokenizer.ggml.pre") == "glm4":
            return None
        v3 = md.get(f"{a}.expert_gating_func") == 2 or any(n.endswith("exp_probs_b.bias") for n in tensors)
        return "DeepseekV3ForCausalLM" if v3 else "DeepseekV2ForCausalLM"

    def export_config(self, md: Mapping[str, Any], tensors: Mapping[str, Tuple[int, ...]], hf_class: str,
                      read: Callable[[str], np.ndarray]) -> Dict[str, Any]:
        """The inverse of :meth:`metadata`: the MLA sizes from the ``_mla`` lengths, the KV heads from
        ``attn_k_b`` (the file says 1: MLA written as MQA), the MoE keys, and YaRN's
        ``mscale_all_dim`` = yarn_log_multiplier / 0.1 (``mscale`` is not in the file: taken equal,
        as DeepSeek's configs have it)."""
        a = self.gguf_arch
        cfg = super().export_config(md, tensors, hf_class, read)
        rope = int(md[f"{a}.rope.dimension_count"])
        cfg.pop("head_dim", None)  # key_length here is the latent cache's, not a head size
        cfg["num_key_value_heads"] = int(tensors["blk.0.attn_k_b.weight"][0])
        cfg["kv_lora_rank"] = int(md[f"{a}.attention.kv_lora_rank"])
        cfg["q_lora_rank"] = int(md[f"{a}.attention.q_lora_rank"]) if f"{a}.attention.q_lora_rank" in md else None
        cfg["qk_rope_head_dim"] = rope
        cfg["qk_nope_head_dim"] = int(md[f"{a}.attention.key_length_mla"]) - rope
        cfg["v_head_dim"] = int(md[f"{a}.attention.value_length_mla"])
        cfg["moe_intermediate_size"] = int(md[f"{a}.expert_feed_forward_length"])
        cfg["first_k_dense_replace"] = int(md[f"{a}.leading_dense_block_count"])
        cfg["n_shared_experts"] = int(md[f"{a}.expert_shared_count"])
        if "num_local_experts" in cfg:
            cfg["n_routed_experts"] = cfg.pop("num_local_experts")
        cfg["routed_scaling_factor"] = f32_value(md.get(f"{a}.expert_weights_scale", 1.0))
        cfg["norm_topk_prob"] = bool(md.get(f"{a}.expert_weights_norm", False))
        log_mul = md.get(f"{a}.rope.scaling.yarn_log_multiplier")
        if log_mul is not None and isinstance(cfg.get("rope_scaling"), dict):
            want = np.float32(log_mul)
            m = next((c for c in (round(float(want) / 0.1, k) for k in range(1, 10))
                      if np.float32(0.1 * c) == want), float(want) / 0.1)  # the shortest decimal giving it back
            cfg["rope_scaling"].update(mscale=m, mscale_all_dim=m)
        return cfg

    def export_listing(self, tensors: Mapping[str, Tuple[int, ...]], hp: HParams) -> Dict[str, Tuple[int, ...]]:
        """The base listing, with each block's ``attn_k_b`` / ``attn_v_b`` back in one ``kv_b_proj``
        and the router's bias under its checkpoint name ``e_score_correction_bias``."""
        kv = {n: s for n, s in tensors.items() if n.endswith(("attn_k_b.weight", "attn_v_b.weight"))}
        out = {}
        for name, shape in super().export_listing({n: s for n, s in tensors.items() if n not in kv}, hp).items():
            out[name.replace("e_score_correction.bias", "e_score_correction_bias")] = shape
        for name, (n_kv, kv_lora, nope) in ((n, s) for n, s in kv.items() if n.endswith("attn_k_b.weight")):
            bid = int(name.split(".")[1])
            v = tensors[f"blk.{bid}.attn_v_b.weight"][1]
            out[f"model.layers.{bid}.self_attn.kv_b_proj.weight"] = (n_kv * (nope + v), kv_lora)
        return out

    def expected_shapes(self, hp: HParams, n_vocab: int) -> Dict[str, Tuple[int, ...]]:
        cfg = self.config
        kv_lora, nope, rope, v, q_lora = self._mla(cfg)
        e, h = hp.n_embd, hp.n_head
        n_kv = _int("num_key_value_heads", find_hparam(cfg, ["num_key_value_heads"]), 1)
        fm = _int("moe_intermediate_size", find_hparam(cfg, ["moe_intermediate_size", "intermediate_size"]), 1)
        shapes: Dict[str, Tuple[int, ...]] = {
            "TOKEN_EMBD": (n_vocab, e), "OUTPUT": (n_vocab, e), "OUTPUT_NORM": (e,), "ATTN_NORM": (e,),
            "FFN_NORM": (e,), "ATTN_Q": (h * (nope + rope), e),
            "ATTN_KV_A_MQA": (kv_lora + rope, e), "ATTN_KV_A_NORM": (kv_lora,),
            "ATTN_K_B": (n_kv, kv_lora, nope), "ATTN_V_B": (n_kv, v, kv_lora), "ATTN_OUT": (e, h * v),
            "FFN_GATE": (hp.n_ff, e), "FFN_UP": (hp.n_ff, e), "FFN_DOWN": (e, hp.n_ff),
            "FFN_GATE_EXP": (hp.n_expert, fm, e), "FFN_UP_EXP": (hp.n_expert, fm, e),
            "FFN_DOWN_EXP": (hp.n_expert, e, fm), "FFN_GATE_INP": (hp.n_expert, e),
        }
        if q_lora is not None:
            shapes.update({"ATTN_Q_A": (q_lora, e), "ATTN_Q_A_NORM": (q_lora,), "ATTN_Q_B": (h * (nope + rope), q_lora)})
        n_shared = cfg.get("n_shared_experts")
        if isinstance(n_shared, int) and not isinstance(n_shared, bool) and n_shared > 0:
            shapes.update({"FFN_GATE_SHEXP": (fm * n_shared, e), "FFN_UP_SHEXP": (fm * n_shared, e),
                           "FFN_DOWN_SHEXP": (e, fm * n_shared)})
        return shapes

    def required_kinds(self, hp: HParams) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
        """Every layer has MLA attention (q directly or through q LoRA, checked with the FFN in :meth:`map_tensors`)."""
        return ("TOKEN_EMBD", "OUTPUT_NORM"), ("ATTN_NORM", "ATTN_KV_A_MQA", "ATTN_KV_A_NORM", "ATTN_K_B", "ATTN_V_B",
                                               "ATTN_OUT", "FFN_NORM")

    def map_tensors(self, config: Dict[str, Any], hp: HParams, n_vocab: int,
                    tensors: Dict[str, TensorSource]) -> List[MappedTensor]:
        """The converter's walk, then a per-layer check of the query projection and the FFN
        (dense for the first ``first_k_dense_replace`` layers, experts after)."""
        out = super().map_tensors(config, hp, n_vocab, tensors)
        _kv_lora, _nope, _rope, _v, q_lora = self._mla(config)
        dense = config.get("first_k_dense_replace")
        if dense is None:
            dense = config["num_hidden_layers"] if config.get("n_routed_experts") is None else 0
        q = ("ATTN_Q_A", "ATTN_Q_A_NORM", "ATTN_Q_B") if q_lora is not None else ("ATTN_Q",)
        check_layers(self, out, hp.n_layer, dense, q, f"q_lora_rank={q_lora}, first_k_dense_replace={dense}")
        return out


def check_layers(adapter: Adapter, out: List[MappedTensor], n_layer: int, dense: int, kinds: Tuple[str, ...],
                 why: str) -> None:
    """Every block has ``kinds``, a dense FFN below ``dense`` and routed experts from there on
    (leading dense layers), else :class:`MissingTensorError` naming the checkpoint tensor."""
    names = {t.name for t in out}
    for bid in range(n_layer):
        ffn = ("FFN_GATE", "FFN_UP", "FFN_DOWN") if bid < dense else \
            ("FFN_GATE_INP", "FFN_GATE_EXP", "FFN_UP_EXP", "FFN_DOWN_EXP")
        for kind in kinds + ffn:
            g = adapter.tensor_name(kind, bid)
            if g not in names:
                raise MissingTensorError(f"convert: missing tensor {adapter._hf_name_for(g)!r} (GGUF {g!r}) in the "
                                         f"checkpoint ({CONFIG} has {why})")
