"""What every architecture adapter shares: hyper-parameters, the generic
metadata of llama.cpp's converter, tensor-name mapping, the converter's tensor
walk, and shape checks.

An adapter is a subclass of :class:`Adapter` in its own module of this
package, decorated with :func:`wick.convert.archs.register`. It mirrors the
converter's model class for the same Hugging Face classes (``conversion/`` of
the pinned llama.cpp) and states only what differs from the shared behaviour:

- class attributes: the Hugging Face classes it accepts, the GGUF
  architecture, tokenizer readers, transformers' config defaults;
- :meth:`Adapter.metadata`: ``set_gguf_parameters`` (call ``super()`` first,
  then add the family's keys, as the converter does);
- :meth:`Adapter.filter_tensor`, :meth:`Adapter.modify_tensors`: the
  converter's ``filter_tensors`` and ``modify_tensors``, written with
  :class:`~wick.convert.lazy.LazyTensor` (torch-like; shape operations become
  strided views, arithmetic becomes plan ops, nothing is computed);
- :meth:`Adapter.extra_tensors` (``generate_extra_tensors``),
  :meth:`Adapter.force_type` (``tensor_force_quant``), tokenizer quirks.

Tensor names come from llama.cpp's own map (:mod:`wick.convert.gguf_names`,
``TensorNameMap``), so a family that keeps Hugging Face's usual names needs no
name table at all.

Everything here mirrors ``conversion/base.py`` (``ModelBase``, ``TextModel``)
so that the metadata keys, their types and their order, and the tensors and
their order, match the reference converter's output.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from ...gguf import values as V
from ..errors import ConfigError, ExportError, MissingTensorError, TensorShapeError, UnexpectedTensorError
from ..gguf_names import matches, tensor_name, tensor_name_map
from ..lazy import LazyTensor, SourceInfo

CONFIG = "config.json"

# source dtypes a plan may name (safetensors spellings); the Go executor widens
# each to float32 exactly before encoding
SOURCE_DTYPES = ("F32", "F16", "BF16")


def find_hparam(config: Dict[str, Any], keys: Sequence[str], required: bool = True) -> Any:
    """The value of the first of ``keys`` present in config.json (as the reference converter looks them up)."""
    for k in keys:
        if k in config:
            return config[k]
    if required:
        raise ConfigError(f"convert: {CONFIG}: missing required key (any of {', '.join(map(repr, keys))})", CONFIG)
    return None


def f32_value(v: Any) -> float:
    """A FLOAT32 metadata value as the shortest decimal that rounds to it (``1e-05``, not
    ``9.999999747378752e-06``): config.json's value back, whenever that decimal was the source."""
    return float(str(np.float32(v)))


def _int(key: str, v: Any, minimum: int = 0) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise ConfigError(f"convert: {CONFIG}: {key!r} must be an integer, got {v!r}", CONFIG)
    if v < minimum:
        raise ConfigError(f"convert: {CONFIG}: {key!r} must be >= {minimum}, got {v}", CONFIG)
    return v


def _num(key: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ConfigError(f"convert: {CONFIG}: {key!r} must be a finite number, got {v!r}", CONFIG)
    return float(v)


@dataclass(frozen=True)
class HParams:
    """The hyper-parameters of a decoder-only transformer, from config.json."""

    n_layer: int
    n_embd: int
    n_ff: int
    n_head: int
    n_head_kv: int
    head_dim: int
    n_vocab: int
    n_expert: int = 0
    n_expert_used: int = 0
    has_head_dim_key: bool = False


# One tensor of the checkpoint: which file holds it, its dtype and shape (row-major).
TensorSource = SourceInfo


def converter_order(name: str, src: TensorSource) -> Tuple[int, str, str]:
    """Where llama.cpp's converter meets a checkpoint tensor: part files in
    sorted order, names sorted within a file — except the weights its
    dequant_model *adds* (GPTQ ``qweight`` and compressed-tensors
    ``weight_packed`` become new ``.weight`` entries), which come after every
    other tensor, in the order of their stored names."""
    if src.decode is not None and getattr(src.decode, "appended", False):
        return (1, src.file, src.decode.tensor)
    return (0, src.file, name)


@dataclass
class MappedTensor:
    """An output tensor before its type is chosen."""

    name: str  # GGUF name
    sources: List[Tuple[str, TensorSource]]  # (HF name, source)
    ne: List[int]  # GGUF dims (ne[0] innermost)
    parts: List[Dict[str, Any]] = field(default_factory=list)  # plan parts (View.part()); [] = sources whole
    ops: List[Dict[str, Any]] = field(default_factory=list)  # element-wise operations (plan "ops")
    data: Optional[np.ndarray] = None  # generated tensors (e.g. rope_freqs), float32
    # the type the converter itself writes regardless of --outtype: "F32" (1-D,
    # norms, routers, non-weights), another type from the family's
    # tensor_force_quant, or None (the target's type)
    force_type: Optional[str] = None
    kind: Optional[str] = None  # llama.cpp's MODEL_TENSOR name, when known

    @staticmethod
    def generated(name: str, data: np.ndarray) -> MappedTensor:
        """A tensor computed from config.json (``generate_extra_tensors``), float32."""
        data = np.asarray(data, dtype=np.float32)
        return MappedTensor(name, [], list(reversed(data.shape)), data=data)


class Adapter:
    """Base class of an architecture adapter (see the module docstring)."""

    #: adapter name shown to users
    name: str = ""
    #: config.json ``architectures[0]`` values this adapter converts
    hf_architectures: Tuple[str, ...] = ()
    #: ``general.architecture``
    gguf_arch: str = ""
    #: one line for the table of supported models (docs/convert.md, ``--list-architectures``)
    summary: str = ""
    #: per Hugging Face class notes where they differ from ``summary``
    notes: Dict[str, str] = {}
    #: tokenizer readers to try, in order (see wick.convert.tokenizer.build_vocab)
    vocab_readers: Tuple[str, ...] = ("spm", "gpt2")
    #: copy tokenizer_config.json ``add_prefix_space`` to tokenizer.ggml.add_space_prefix
    reads_add_prefix_space: bool = False
    #: ``tokenizer.ggml.pre``: the name the converter's hash gives this family's real vocabulary
    #: where the structural rule names another one of the same structure, e.g. ``{"smaug-bpe": "dbrx"}``
    #: (see :func:`wick.convert.tokenizer.detect_pre_tokenizer`)
    pre_tokenizer_names: Dict[str, str] = {}
    #: defaults the transformers config class fills in when config.json omits a
    #: key (the reference converter reads hyper-parameters through
    #: ``AutoConfig.from_pretrained(...).to_dict()``, transformers 4.57)
    config_defaults: Dict[str, Any] = {}
    #: the config class sets ``head_dim = hidden_size // num_attention_heads``
    #: when it is missing or null (LlamaConfig does; MistralConfig does not)
    computes_head_dim: bool = False

    def normalize_config(self, config: Dict[str, Any]) -> Dict[str, Any]:
        """config.json as the reference converter sees it after ``AutoConfig`` (defaults filled in).

        Structural sizes (hidden_size, layers, heads, vocab_size, intermediate
        size) are *not* defaulted: a config.json without them is an error here,
        where transformers would silently assume a 7B shape.
        """
        cfg = dict(config)
        for k, v in self.config_defaults.items():
            if k not in cfg:
                cfg[k] = v
        if cfg.get("num_key_value_heads") is None and "num_attention_heads" in cfg:
            cfg["num_key_value_heads"] = cfg["num_attention_heads"]
        if self.computes_head_dim and cfg.get("head_dim") is None:
            h, n = cfg.get("hidden_size"), cfg.get("num_attention_heads")
            if isinstance(h, int) and isinstance(n, int) and not isinstance(h, bool) and n > 0:
                cfg["head_dim"] = h // n
        rs = cfg.get("rope_scaling")
        if isinstance(rs, dict) and "type" in rs and "rope_type" not in rs:
            cfg["rope_scaling"] = {**rs, "rope_type": rs["type"]}
        return cfg

    # ------------------------------------------------------------------ hparams
    def hparams(self, config: Dict[str, Any]) -> HParams:
        """Validated hyper-parameters (raises :class:`ConfigError` naming the key)."""
        n_layer = _int("num_hidden_layers", find_hparam(config, ["n_layers", "num_hidden_layers", "n_layer", "num_layers"]), 1)
        n_embd = _int("hidden_size", find_hparam(config, ["hidden_size", "n_embd", "dim"]), 1)
        n_ff = _int("intermediate_size", find_hparam(
            config, ["prefix_dense_intermediate_size", "dense_intermediate_size", "intermediate_size", "n_inner", "hidden_dim"]), 1)
        n_head = _int("num_attention_heads", find_hparam(config, ["num_attention_heads", "n_head", "n_heads"]), 1)
        kv = find_hparam(config, ["num_key_value_heads", "n_kv_heads"], required=False)
        n_head_kv = n_head if kv is None else _int("num_key_value_heads", kv, 1)
        if n_head % n_head_kv:
            raise ConfigError(f"convert: {CONFIG}: num_attention_heads {n_head} is not a multiple of num_key_value_heads {n_head_kv}", CONFIG)
        hd = config.get("head_dim")
        if hd is None:
            if n_embd % n_head:
                raise ConfigError(f"convert: {CONFIG}: hidden_size {n_embd} is not a multiple of num_attention_heads {n_head} and there is no head_dim", CONFIG)
            head_dim = n_embd // n_head
        else:
            head_dim = _int("head_dim", hd, 2)
        if head_dim % 2:
            raise ConfigError(f"convert: {CONFIG}: the head dimension {head_dim} must be even for RoPE", CONFIG)
        if "vocab_size" not in config:
            raise ConfigError(f"convert: {CONFIG}: missing required key 'vocab_size'", CONFIG)
        n_vocab = _int("vocab_size", config["vocab_size"], 1)
        ne = find_hparam(config, ["num_local_experts", "num_experts", "n_routed_experts"], required=False)
        nu = find_hparam(config, ["num_experts_per_tok", "num_experts_per_token", "top_k_experts"], required=False)
        return HParams(
            n_layer=n_layer, n_embd=n_embd, n_ff=n_ff, n_head=n_head, n_head_kv=n_head_kv, head_dim=head_dim,
            n_vocab=n_vocab,
            n_expert=0 if ne is None else _int("num_local_experts", ne, 0),
            n_expert_used=0 if nu is None else _int("num_experts_per_tok", nu, 0),
            has_head_dim_key=hd is not None,
        )

    # ----------------------------------------------------------------- metadata
    @staticmethod
    def rope_parameters(config: Dict[str, Any]) -> Dict[str, Any]:
        """``rope_parameters`` / ``rope_scaling`` merged with the top-level rope keys, as TextModel does."""
        rp = config.get("rope_parameters", config.get("rope_scaling")) or {}
        if not isinstance(rp, dict):
            raise ConfigError(f"convert: {CONFIG}: 'rope_scaling' must be an object or null, got {rp!r}", CONFIG)
        rp = dict(rp)
        theta = find_hparam(config, ["global_rope_theta", "rope_global_theta", "rope_theta_global", "rope_theta", "rotary_emb_base"], required=False)
        local = find_hparam(config, ["local_rope_theta", "rope_local_theta", "rope_theta_local", "swa_rope_theta",
                                     "rope_local_base_freq"], required=False)
        partial = find_hparam(config, ["partial_rotary_factor", "rope_pct", "rope_percent"], required=False)
        orig = config.get("original_max_position_embeddings")
        if "full_attention" not in rp and "sliding_attention" not in rp:
            if local is not None:
                rp["sliding_attention"] = {"rope_theta": local}
            if "rope_theta" not in rp and theta is not None:
                rp["rope_theta"] = theta
            if "rope_type" not in rp and rp.get("type") is not None:
                rp["rope_type"] = rp["type"]
            if "partial_rotary_factor" not in rp and partial is not None:
                rp["partial_rotary_factor"] = partial
            if "original_max_position_embeddings" not in rp and orig is not None:
                rp["original_max_position_embeddings"] = orig
        return rp

    def metadata(self, config: Dict[str, Any], hp: HParams, file_type: int) -> List[V.KV]:
        """The architecture keys, in the reference converter's order (ends with general.file_type)."""
        a = self.gguf_arch
        kv: List[V.KV] = [V.u32(f"{a}.block_count", hp.n_layer)]
        n_ctx = find_hparam(config, ["max_position_embeddings", "n_ctx", "n_positions", "max_length", "max_sequence_length", "model_max_length"], required=False)
        if n_ctx is not None:
            kv.append(V.u32(f"{a}.context_length", _int("max_position_embeddings", n_ctx)))
        kv.append(V.u32(f"{a}.embedding_length", hp.n_embd))
        kv.append(V.u32(f"{a}.feed_forward_length", hp.n_ff))
        kv.append(V.u32(f"{a}.attention.head_count", hp.n_head))
        if find_hparam(config, ["num_key_value_heads", "n_kv_heads"], required=False) is not None:
            kv.append(V.u32(f"{a}.attention.head_count_kv", hp.n_head_kv))
        if config.get("is_causal") is False:
            kv.append(V.boolean(f"{a}.attention.causal", False))
        rope_all = self.rope_parameters(config)
        rp = rope_all.get("full_attention", rope_all)
        rope_type = rp.get("rope_type")
        if rope_type is not None:
            if not isinstance(rope_type, str):
                raise ConfigError(f"convert: {CONFIG}: rope type must be a string, got {rope_type!r}", CONFIG)
            factor = rp.get("factor")
            if rope_type == "linear" and factor is not None:
                kv.append(V.string(f"{a}.rope.scaling.type", "linear"))
                kv.append(V.f32(f"{a}.rope.scaling.factor", _num("rope_scaling.factor", factor)))
            elif rope_type == "yarn" and factor is not None:
                kv.append(V.string(f"{a}.rope.scaling.type", "yarn"))
                kv.append(V.f32(f"{a}.rope.scaling.factor", _num("rope_scaling.factor", factor)))
                if "original_max_position_embeddings" not in rp:
                    raise ConfigError(f"convert: {CONFIG}: yarn rope scaling needs 'original_max_position_embeddings'", CONFIG)
                kv.append(V.u32(f"{a}.rope.scaling.original_context_length",
                                _int("original_max_position_embeddings", rp["original_max_position_embeddings"])))
                for src, key in (("extrapolation_factor", "yarn_ext_factor"),):
                    if rp.get(src) is not None:
                        kv.append(V.f32(f"{a}.rope.scaling.{key}", _num(src, rp[src])))
                attn = rp.get("attention_factor", rp.get("attn_factor"))
                if attn is not None:
                    kv.append(V.f32(f"{a}.rope.scaling.yarn_attn_factor", _num("attention_factor", attn)))
                for src, key in (("beta_fast", "yarn_beta_fast"), ("beta_slow", "yarn_beta_slow")):
                    if rp.get(src) is not None:
                        kv.append(V.f32(f"{a}.rope.scaling.{key}", _num(src, rp[src])))
            elif rope_type in ("su", "longrope"):
                kv.append(V.string(f"{a}.rope.scaling.type", "longrope"))
            # "llama3" becomes the rope_freqs tensor (extra_tensors); "dynamic",
            # "default" and unknown kinds write nothing, as in the converter.
        if "mrope_section" in rope_all:
            sections = list(rope_all["mrope_section"]) + [0] * 4
            kv.append(V.array(f"{a}.rope.dimension_sections", V.ValueType.INT32, sections[:4]))
        theta = rp.get("rope_theta")
        if theta is not None:
            kv.append(V.f32(f"{a}.rope.freq_base", _num("rope_theta", theta)))
        local = (rope_all.get("sliding_attention") or {}).get("rope_theta")
        if local is not None:
            kv.append(V.f32(f"{a}.rope.freq_base_swa", _num("rope_local_base_freq", local)))
        eps = find_hparam(config, ["rms_norm_eps", "norm_eps"], required=False)
        if eps is not None:
            kv.append(V.f32(f"{a}.attention.layer_norm_rms_epsilon", _num("rms_norm_eps", eps)))
        leps = find_hparam(config, ["layer_norm_eps", "layer_norm_epsilon", "norm_epsilon"], required=False)
        if leps is not None:
            kv.append(V.f32(f"{a}.attention.layer_norm_epsilon", _num("layer_norm_eps", leps)))
        if find_hparam(config, ["num_local_experts", "num_experts", "n_routed_experts"], required=False) is not None:
            kv.append(V.u32(f"{a}.expert_count", hp.n_expert))
        if find_hparam(config, ["num_experts_per_tok", "num_experts_per_token", "top_k_experts"], required=False) is not None:
            kv.append(V.u32(f"{a}.expert_used_count", hp.n_expert_used))
        if config.get("n_group") is not None:
            kv.append(V.u32(f"{a}.expert_group_count", _int("n_group", config["n_group"])))
        if config.get("topk_group") is not None:
            kv.append(V.u32(f"{a}.expert_group_used_count", _int("topk_group", config["topk_group"])))
        score = find_hparam(config, ["score_function", "scoring_func", "score_func", "moe_router_activation",
                                     "moe_router_activation_func", "expert_selection_fn"], required=False)
        if score is not None:
            gating = {"softmax": 1, "sigmoid": 2, "sqrtsoftplus": 4}  # llama.cpp's ExpertGatingFuncType
            if score not in gating:
                raise ConfigError(f"convert: {CONFIG}: unsupported expert score function {score!r} "
                                  f"(llama.cpp knows {', '.join(gating)})", CONFIG)
            kv.append(V.u32(f"{a}.expert_gating_func", gating[score]))
        if hp.has_head_dim_key:
            kv.append(V.u32(f"{a}.attention.key_length", hp.head_dim))
            kv.append(V.u32(f"{a}.attention.value_length", hp.head_dim))
        kv.append(V.u32("general.file_type", file_type))
        return kv

    def readers(self, files: Any) -> Tuple[str, ...]:
        """The tokenizer readers to try for these files (``files``: a
        :class:`~wick.convert.tokenizer.TokenizerFiles`); the base: :attr:`vocab_readers`.
        Families whose converter picks its tokenizer path from the files override it."""
        return self.vocab_readers

    def tensor_metadata(self, config: Dict[str, Any], hp: HParams) -> List[V.KV]:
        """Keys the converter writes while it prepares the tensors (in ``generate_extra_tensors``),
        before its other metadata: they follow ``general.architecture`` in the file."""
        return []

    def tokenizer_quirks(self, files: Any, config: Dict[str, Any], vocab_size: Optional[int], kvs: Any) -> None:
        """Adjust the tokenizer KVs after the generic reader (``kvs`` is a
        :class:`~wick.convert.tokenizer.OrderedKVs`; re-adding a key keeps its place)."""

    def extra_tensors(self, config: Dict[str, Any], hp: HParams) -> List[MappedTensor]:
        """``generate_extra_tensors``: tensors computed from config.json (written first)."""
        return []

    # ------------------------------------------------------------------ tensors
    #: checkpoint names the converter drops without a word
    SKIP_SUFFIXES = (".attention.masked_bias", ".attention.bias", ".rotary_emb.inv_freq")
    #: TextModel.filter_tensors: multimodal tensors the text conversion leaves out
    MULTIMODAL_PREFIXES = ("mlp", "vit.", "vpm.", "siglip2.", "conformer.", "merger.", "resampler.", "sound_encoder.",
                           "sound_projection.", "speech_embeddings.")
    MULTIMODAL_PARTS = ("visual.", "vision.", "audio.", "talker.", "vision_", "audio_", "token2wav.", "code2wav.",
                        "projector.", "pre_mm_projector_norm", "image_newline", "view_seperator", "patch_embed",
                        "patch_embedding", "patch_merger.", "patch_merge_mlp.", "model.connector.")
    #: tensor kinds prepare_tensors always writes F32
    F32_KINDS = ("FFN_GATE_INP", "FFN_GATE_INP_SHEXP", "POS_EMBD", "TOKEN_TYPES", "SSM_CONV1D", "SHORTCONV_CONV",
                 "TIME_MIX_FIRST", "TIME_MIX_W1", "TIME_MIX_W2", "TIME_MIX_DECAY_W1", "TIME_MIX_DECAY_W2",
                 "TIME_MIX_LERP_FUSED", "POSNET_NORM1", "POSNET_NORM2", "V_ENC_EMBD_POS", "A_ENC_EMBD_POS",
                 "ALTUP_CORRECT_COEF", "ALTUP_PREDICT_COEF", "SSM_CONV1D_Q", "SSM_CONV1D_K", "SSM_CONV1D_V",
                 "INDEXER_PROJ")

    def block_count(self, config: Dict[str, Any], hp: HParams) -> int:
        """The converter's ``self.block_count`` (the tensor map's size); families with extra
        blocks (next-token-prediction layers) override it."""
        return hp.n_layer

    def filter_tensor(self, name: str) -> Optional[str]:
        """``filter_tensors``: the name to convert the tensor under, or None to leave it out.

        The base drops multimodal tensors (vision towers, projectors, audio),
        as ``TextModel.filter_tensors`` does, then renames as
        ``ModelBase.filter_tensors`` does (``language_model.`` removed anywhere,
        ``e_score_correction_bias`` → ``e_score_correction.bias``); families may
        rename first and call ``super()``.
        """
        if name.startswith(self.MULTIMODAL_PREFIXES) or any(p in name for p in self.MULTIMODAL_PARTS):
            return None
        # ModelBase.filter_tensors
        if name.endswith("e_score_correction_bias"):
            name = name.replace("e_score_correction_bias", "e_score_correction.bias")
        return name.replace("language_model.", "")

    def map_name(self, name: str, try_suffixes: Sequence[str] = (".weight", ".bias")) -> str:
        """``map_tensor_name``: llama.cpp's name for a checkpoint tensor name."""
        found = self._names.get_name(name, try_suffixes)
        if found is None:
            raise UnexpectedTensorError(
                f"convert: {self._file_of(name)}: tensor {name!r} has no GGUF counterpart for architecture "
                f"{self.gguf_arch!r} (adapter {self.name!r})")
        return found

    def tensor_name(self, kind: str, bid: Optional[int] = None, suffix: str = ".weight") -> str:
        """``format_tensor_name``: the GGUF name of a tensor kind (``ATTN_Q`` → ``blk.N.attn_q.weight``)."""
        return tensor_name(self.gguf_arch, kind, bid, suffix)

    def matches(self, name: str, kind: str, bid: Optional[int], suffix: str = ".weight") -> bool:
        """``match_model_tensor_name``."""
        return matches(self.gguf_arch, name, kind, bid, suffix)

    def modify_tensors(self, t: LazyTensor, name: str, bid: Optional[int]) -> Iterable[Tuple[str, LazyTensor]]:
        """``modify_tensors``: the tensors to write for checkpoint tensor ``name`` (default: renamed)."""
        return [(self.map_name(name), t)]

    def force_type(self, name: str, new_name: str, bid: Optional[int], n_dims: int) -> Optional[str]:
        """``tensor_force_quant``: a ggml type the converter forces on this tensor, or None."""
        return None

    def finish(self) -> Iterable[Tuple[str, LazyTensor]]:
        """Tensors still buffered after the last checkpoint tensor (the default has none)."""
        return []

    def stack_experts(self, t: LazyTensor, name: str, bid: int, n_expert: int, weights: Sequence[str],
                      expert_name: str, merged_name: str) -> List[Tuple[str, LazyTensor]]:
        """Buffer per-expert tensors of block ``bid``; once all ``n_expert × len(weights)`` are in,
        stack each weight's experts (in expert order, ``weights`` order) under
        ``merged_name.format(bid=, w=)`` mapped to its GGUF name, as the converters do.

        ``expert_name.format(bid=, x=, w=)`` is each expert tensor's checkpoint name. Only
        views are buffered (no tensor data): the executor later reads each expert's rows
        straight into its slice of the stacked output.

        Refused with an error naming the tensor and its file: an expert numbered at or beyond
        ``n_expert`` (the checkpoint has more experts than config.json says), a tensor that is
        not one of ``weights``, experts of unequal shapes; a layer left incomplete (a missing
        expert tensor or shard, or fewer experts than config.json says) is reported after the
        walk, naming the first missing tensor (:meth:`_check_experts_complete`).
        """
        pattern = re.escape(expert_name).replace(re.escape("{bid}"), str(bid)).replace(re.escape("{x}"), r"(\d+)")
        pattern = pattern.replace(re.escape("{w}"), "(" + "|".join(re.escape(w) for w in weights) + ")")
        m = re.fullmatch(pattern, name)
        if m is None:
            raise UnexpectedTensorError(f"convert: {self._file_of(t.name)}: tensor {t.name!r} is not one of the "
                                        f"experts × {list(weights)} of layer {bid} "
                                        f"(expected names like {expert_name.format(bid=bid, x=0, w=weights[0])!r})")
        if int(m.group(1)) >= n_expert:
            raise UnexpectedTensorError(f"convert: {self._file_of(t.name)}: tensor {t.name!r} is expert {int(m.group(1))}, "
                                        f"but {CONFIG} gives {n_expert} experts (numbered 0 to {n_expert - 1}): "
                                        f"the checkpoint and its config disagree")
        buf = self._experts.setdefault(bid, {})
        self._expert_specs[bid] = (n_expert, tuple(weights), expert_name)
        buf[name] = t
        if len(buf) < n_expert * len(weights):
            return []
        out = []
        for w in weights:
            datas = [buf.pop(expert_name.format(bid=bid, x=x, w=w)) for x in range(n_expert)]
            self._check_expert_shapes(datas)
            stacked = type(datas[0]).stack(datas)  # LazyTensor, or a LoRA pair's stack
            out += list(self.modify_expert_stack(stacked, merged_name.format(bid=bid, w=w), bid))
        del self._experts[bid]
        return out

    def _check_expert_shapes(self, datas: Sequence[LazyTensor]) -> None:
        """All experts of one weight must have one shape: the odd one out (against the shape most of
        them have) is named with its file."""
        shapes = [tuple(d.shape) for d in datas]
        common = max(set(shapes), key=lambda s: (shapes.count(s), -shapes.index(s)))
        for d, sh in zip(datas, shapes):
            if sh != common:
                raise TensorShapeError(f"convert: {self._file_of(d.name)}: tensor {d.name!r} has shape {list(sh)}; "
                                       f"the other experts of its layer have {list(common)}")

    def _check_experts_complete(self) -> None:
        """After the walk: a layer whose experts never all arrived names its first missing tensor."""
        if not self._experts:
            return
        bid = min(self._experts)
        buf = self._experts[bid]
        n_expert, weights, expert_name = self._expert_specs[bid]
        present = sorted(buf)
        files = sorted({self._file_of(n) for n in present})
        for x in range(n_expert):
            for w in weights:
                want = expert_name.format(bid=bid, x=x, w=w)
                if want not in buf:
                    raise MissingTensorError(
                        f"convert: missing tensor {want!r} in the checkpoint: layer {bid} has {len(buf)} of its "
                        f"{n_expert} × {len(weights)} expert tensors ({CONFIG} gives {n_expert} experts; the others "
                        f"are in {', '.join(files)})")

    def modify_expert_stack(self, t: LazyTensor, merged_name: str, bid: int) -> Iterable[Tuple[str, LazyTensor]]:
        """How a stacked expert tensor is written (the base: renamed with :meth:`map_name`)."""
        return [(self.map_name(merged_name), t)]

    def expected_shapes(self, hp: HParams, n_vocab: int) -> Dict[str, Tuple[int, ...]]:
        """Torch shapes the written tensors must have, by tensor kind (checked against every
        output of that kind; kinds not listed are not checked). Families with other shapes override."""
        q, kv = hp.n_head * hp.head_dim, hp.n_head_kv * hp.head_dim
        e, f = hp.n_embd, hp.n_ff
        return {
            "TOKEN_EMBD": (n_vocab, e), "OUTPUT": (n_vocab, e), "OUTPUT_NORM": (e,), "ATTN_NORM": (e,),
            "ATTN_Q": (q, e), "ATTN_K": (kv, e), "ATTN_V": (kv, e), "ATTN_OUT": (e, q), "FFN_NORM": (e,),
            "ATTN_Q_NORM": (hp.head_dim,), "ATTN_K_NORM": (hp.head_dim,),
            "FFN_GATE": (f, e), "FFN_UP": (f, e), "FFN_DOWN": (e, f),
        }

    def required_kinds(self, hp: HParams) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
        """(global kinds, per-block kinds) a complete checkpoint must have (checked after the
        walk, so that a missing tensor is named before any work). The base: a llama-style block,
        dense or with routed experts."""
        ffn = ("FFN_GATE_INP", "FFN_GATE_EXP", "FFN_DOWN_EXP", "FFN_UP_EXP") if hp.n_expert else \
            ("FFN_GATE", "FFN_UP", "FFN_DOWN")
        return ("TOKEN_EMBD", "OUTPUT_NORM"), ("ATTN_NORM", "ATTN_Q", "ATTN_K", "ATTN_V", "ATTN_OUT", "FFN_NORM") + ffn

    def _file_of(self, name: str) -> str:
        src = getattr(self, "_sources", {}).get(name)
        return src.file if src is not None else "checkpoint"

    def begin_walk(self, config: Dict[str, Any], hp: HParams, tensors: Dict[str, TensorSource]) -> None:
        """Set up a walk over a checkpoint's tensors (what :meth:`map_tensors` does first; the LoRA
        walk of :mod:`wick.convert.lora` calls it too): the config, the name map, the sources by
        name (for messages) and the expert buffers."""
        self.config, self.hp = config, hp
        self._names = tensor_name_map(self.gguf_arch, self.block_count(config, hp))
        self._sources = dict(tensors)
        self._experts: Dict[int, Dict[str, LazyTensor]] = {}
        self._expert_specs: Dict[int, Tuple[int, Tuple[str, ...], str]] = {}

    def map_tensors(self, config: Dict[str, Any], hp: HParams, n_vocab: int,
                    tensors: Dict[str, TensorSource]) -> List[MappedTensor]:
        """Walk the checkpoint as ``prepare_tensors`` does and return the tensors to write, in order.

        Order: checkpoint files in sorted order, tensor names sorted within a
        file; each tensor goes through :meth:`filter_tensor` and
        :meth:`modify_tensors`, which may rename, drop, transform, buffer
        (experts) or split it. Every source's dtype and every output's shape
        are checked.
        """
        self.begin_walk(config, hp, tensors)
        shapes = self.expected_shapes(hp, n_vocab)
        out: List[MappedTensor] = []

        def emit(pairs: Iterable[Tuple[str, LazyTensor]], name: str, bid: Optional[int]) -> None:
            for new_name, lt in pairs:
                kind = self._kind_of(new_name, bid)
                want = shapes.get(kind) if kind else None
                if want is not None and tuple(lt.shape) != tuple(want) and new_name.endswith(".weight"):
                    raise TensorShapeError(
                        f"convert: {self._file_of(lt.name)}: tensor {lt.name!r} ({new_name}) has shape {list(lt.shape)}; "
                        f"expected {list(want)} from config.json")
                out.append(self._mapped(new_name, lt, name, bid, kind))

        for name in sorted(tensors, key=lambda n: converter_order(n, tensors[n])):
            src = tensors[name]
            new = self.filter_tensor(name)
            if new is None or new.endswith(self.SKIP_SUFFIXES):
                continue
            self._check_dtype(name, src)
            bid = next((int(p) for p in new.split(".") if p.isdecimal()), None)
            if bid is not None and bid >= self.block_count(config, hp):
                raise UnexpectedTensorError(
                    f"convert: {src.file}: tensor {name!r}: layer {bid} is beyond num_hidden_layers={hp.n_layer}")
            emit(self.modify_tensors(LazyTensor.of(name, src), new, bid), new, bid)
        emit(self.finish(), "", None)
        self._check_experts_complete()
        self._check_complete(out, hp)
        return out

    def _kind_of(self, gguf_name: str, bid: Optional[int]) -> Optional[str]:
        from ..gguf_names import arch_tensors
        for kind in arch_tensors(self.gguf_arch):
            for suffix in (".weight", ".bias"):
                if self.matches(gguf_name, kind, bid, suffix):
                    return kind
        return None

    def _mapped(self, new_name: str, lt: LazyTensor, name: str, bid: Optional[int], kind: Optional[str]) -> MappedTensor:
        n_dims = lt.ndim
        forced = self.force_type(name, new_name, bid, n_dims)
        if n_dims <= 1 or new_name.endswith("_norm.weight"):
            forced = "F32"
        if forced is None and ((kind is not None and kind in self.F32_KINDS)
                               or new_name[-7:] not in (".weight", ".lora_a", ".lora_b")):
            forced = "F32"
        return MappedTensor(new_name, list(lt.sources), list(reversed(lt.shape)), lt.plan_parts(), list(lt.ops),
                            force_type=forced, kind=kind)

    def _check_complete(self, out: List[MappedTensor], hp: HParams) -> None:
        names = {t.name for t in out}
        glob, per_block = self.required_kinds(hp)
        wanted = [self.tensor_name(k) for k in glob] + \
            [self.tensor_name(k, bid) for bid in range(hp.n_layer) for k in per_block]
        for want in wanted:
            if want not in names:
                raise MissingTensorError(f"convert: missing tensor {self._hf_name_for(want)!r} (GGUF {want!r}) "
                                         f"in {self._checkpoint()}")

    def _checkpoint(self) -> str:
        """"the checkpoint (its files)", for messages about a tensor that is in none of them."""
        files = sorted({s.file for s in getattr(self, "_sources", {}).values()})
        more = f", … {len(files) - 3} more" if len(files) > 3 else ""
        return f"the checkpoint ({', '.join(files[:3])}{more})" if files else "the checkpoint"

    def _hf_name_for(self, gguf_name: str) -> str:
        """The checkpoint name llama.cpp's map expects for ``gguf_name``, in the checkpoint's own naming."""
        base = gguf_name.rsplit(".", 1)[0] if gguf_name.endswith((".weight", ".bias")) else gguf_name  # ssm_a: no suffix
        suffix = gguf_name[len(base):]
        candidates = [k for k, (_kind, g) in self._names.mapping.items() if g == base and k != base]
        present = list(self._sources)
        # the name other layers of this checkpoint use for it
        shapes = {re.sub(r"\.\d+\.", ".#.", n) for n in present}
        for k in candidates:
            if re.sub(r"\.\d+\.", ".#.", k + suffix) in shapes:
                return k + suffix
        for depth in (2, 1):  # a sibling in the same module first, then the same top-level prefix
            for k in candidates:
                prefix = k.rsplit(".", depth)[0] + "."
                if any(n.startswith(prefix) for n in present):
                    return k + suffix
        return (candidates[0] + suffix) if candidates else gguf_name

    # ------------------------------------------------- export-hf (GGUF → Hugging Face)
    #: transformers class → config.json ``model_type`` of the classes :meth:`export_class` may name
    model_types: Dict[str, str] = {}
    #: export-hf: the checkpoint name of each tensor kind in this family's transformers classes
    #: (``{bid}``: the block), where llama.cpp's map (:mod:`wick.convert.gguf_names`) lists several
    #: names for one GGUF tensor. Every name is checked by running :meth:`map_tensors` on the
    #: rebuilt listing: it must give back the GGUF file's tensors, names and shapes.
    hf_tensor_names: Dict[str, str] = {
        "TOKEN_EMBD": "model.embed_tokens", "OUTPUT_NORM": "model.norm", "OUTPUT": "lm_head",
        "ATTN_NORM": "model.layers.{bid}.input_layernorm", "ATTN_Q": "model.layers.{bid}.self_attn.q_proj",
        "ATTN_K": "model.layers.{bid}.self_attn.k_proj", "ATTN_V": "model.layers.{bid}.self_attn.v_proj",
        "ATTN_OUT": "model.layers.{bid}.self_attn.o_proj", "ATTN_Q_NORM": "model.layers.{bid}.self_attn.q_norm",
        "ATTN_K_NORM": "model.layers.{bid}.self_attn.k_norm", "FFN_NORM": "model.layers.{bid}.post_attention_layernorm",
        "FFN_GATE": "model.layers.{bid}.mlp.gate_proj", "FFN_UP": "model.layers.{bid}.mlp.up_proj",
        "FFN_DOWN": "model.layers.{bid}.mlp.down_proj",
    }

    def export_class(self, md: Mapping[str, Any], tensors: Mapping[str, Tuple[int, ...]]) -> Optional[str]:
        """export-hf: the transformers class a GGUF file of :attr:`gguf_arch` is written back as
        (``md``: its metadata, ``tensors``: torch shapes by GGUF name), or None when this adapter
        does not export it (the base: None, not exportable)."""
        return None

    def export_config(self, md: Mapping[str, Any], tensors: Mapping[str, Tuple[int, ...]], hf_class: str,
                      read: Callable[[str], np.ndarray]) -> Dict[str, Any]:
        """export-hf: config.json rebuilt from the GGUF metadata — the inverse of :meth:`metadata`
        for the keys the file carries (the base: the generic ``TextModel`` keys). Values the file
        does not hold (``sliding_window`` of Mistral, a list of EOS ids) are left to the class defaults.
        ``read(name)`` gives a GGUF tensor's values (float32), for keys llama.cpp turned into tensors."""
        a = self.gguf_arch

        def get(key: str) -> Any:
            return md.get(f"{a}.{key}")

        cfg: Dict[str, Any] = {"architectures": [hf_class], "model_type": self.model_types[hf_class]}
        for hf, key in (("hidden_size", "embedding_length"), ("intermediate_size", "feed_forward_length"),
                        ("num_hidden_layers", "block_count"), ("num_attention_heads", "attention.head_count"),
                        ("num_key_value_heads", "attention.head_count_kv"),
                        ("max_position_embeddings", "context_length"), ("head_dim", "attention.key_length"),
                        ("num_local_experts", "expert_count"), ("num_experts_per_tok", "expert_used_count")):
            if get(key) is not None:
                cfg[hf] = int(get(key))
        for hf, key in (("n_group", "expert_group_count"), ("topk_group", "expert_group_used_count")):
            if get(key) is not None:
                cfg[hf] = int(get(key))
        if get("expert_gating_func") is not None:
            cfg["scoring_func"] = {1: "softmax", 2: "sigmoid", 4: "sqrtsoftplus"}[int(get("expert_gating_func"))]
        for hf, key in (("rms_norm_eps", "attention.layer_norm_rms_epsilon"), ("rope_theta", "rope.freq_base"),
                        ("layer_norm_eps", "attention.layer_norm_epsilon")):
            if get(key) is not None:
                cfg[hf] = f32_value(get(key))
        kind = get("rope.scaling.type")
        if kind in ("linear", "yarn"):
            rs: Dict[str, Any] = {"rope_type": kind, "factor": f32_value(get("rope.scaling.factor"))}
            if kind == "yarn":
                rs["original_max_position_embeddings"] = int(get("rope.scaling.original_context_length"))
                for hk, gk in (("extrapolation_factor", "yarn_ext_factor"), ("attention_factor", "yarn_attn_factor"),
                               ("beta_fast", "yarn_beta_fast"), ("beta_slow", "yarn_beta_slow")):
                    if get(f"rope.scaling.{gk}") is not None:
                        rs[hk] = f32_value(get(f"rope.scaling.{gk}"))
            cfg["rope_scaling"] = rs
        elif kind not in (None, "none"):
            raise ExportError(f"export-hf: rope scaling type {kind!r} ({a}.rope.scaling.type) cannot be written back "
                              "to config.json yet")
        from ..gguf_names import arch_tensors
        cfg["tie_word_embeddings"] = "OUTPUT" not in arch_tensors(a) or self.tensor_name("OUTPUT") not in tensors
        cfg["vocab_size"] = int(tensors[self.tensor_name("TOKEN_EMBD")][0])
        for typ in ("bos", "eos", "pad"):
            tid = md.get(f"tokenizer.ggml.{typ}_token_id" if typ != "pad" else "tokenizer.ggml.padding_token_id")
            if tid is not None:
                cfg[f"{typ}_token_id"] = int(tid)
        return cfg

    def export_listing(self, tensors: Mapping[str, Tuple[int, ...]], hp: HParams) -> Dict[str, Tuple[int, ...]]:
        """export-hf: the checkpoint's tensors (name → torch shape) that :meth:`map_tensors`
        turns into the GGUF tensors ``tensors`` (GGUF name → torch shape; generated tensors
        such as ``rope_freqs`` already left out). The base renames each tensor by its kind with
        :attr:`hf_tensor_names`; families that stack experts override :meth:`export_experts`."""
        from ..gguf_names import arch_tensors
        self._names = tensor_name_map(self.gguf_arch, hp.n_layer)
        kinds = arch_tensors(self.gguf_arch)
        out: Dict[str, Tuple[int, ...]] = {}
        for name, shape in tensors.items():
            bid = next((int(p) for p in name.split(".") if p.isdecimal()), None)
            found = None
            for kind in kinds:
                for suffix in (".weight", ".bias"):
                    if self.matches(name, kind, bid, suffix):
                        found = (kind, suffix)
            if found is None:
                raise ExportError(f"export-hf: GGUF tensor {name!r} is not a tensor of architecture {self.gguf_arch!r}")
            kind, suffix = found
            experts = self.export_experts(kind, bid, suffix, shape)
            if experts is not None:
                out.update(experts)
                continue
            template = self.hf_tensor_names.get(kind)
            if template is None:  # a kind llama.cpp's map knows by one checkpoint name only
                base = name[:-len(suffix)]
                names = [k for k, (kd, g) in self._names.mapping.items() if kd == kind and g == base and k != base]
                if len(names) == 1:
                    out[names[0] + suffix] = tuple(shape)
                    continue
                raise ExportError(f"export-hf: adapter {self.name!r} has no Hugging Face name for GGUF tensor {name!r} "
                                  f"(kind {kind})")
            out[template.format(bid=bid) + suffix] = tuple(shape)
        return out

    def export_tokenizer_class(self, ggml_model: str) -> str:
        """export-hf: tokenizer_config.json ``tokenizer_class`` for a vocabulary of
        ``tokenizer.ggml.model`` ``ggml_model`` (``"gpt2"`` or ``"llama"``)."""
        return "LlamaTokenizerFast" if ggml_model == "llama" else "PreTrainedTokenizerFast"

    def export_tokenizer_config(self, md: Mapping[str, Any], tc: Dict[str, Any]) -> None:
        """export-hf: add to tokenizer_config.json ``tc`` what this family's tokenizer reading takes
        from it beyond the generic special tokens (the base: nothing)."""

    def export_added_token(self, md: Mapping[str, Any], token: Dict[str, Any]) -> Dict[str, Any]:
        """export-hf: an added token of tokenizer.json (``content``, ``special``, ``lstrip``,
        ``rstrip``, …) with the flags the GGUF does not record but llama.cpp applies to this
        family (the base: as it is)."""
        return token

    #: a family that stacks per-expert tensors: (checkpoint name of one expert's tensor, with
    #: ``{bid}``, ``{x}`` and ``{w}``; the weights, in stacking order; the stacked tensor's name
    #: for :meth:`map_name`) — what :meth:`stack_experts` is called with, and export-hf unstacks
    EXPERTS: Optional[Tuple[str, Tuple[str, ...], str]] = None

    def export_experts(self, kind: str, bid: Optional[int], suffix: str, shape: Tuple[int, ...]
                       ) -> Optional[Dict[str, Tuple[int, ...]]]:
        """export-hf: the per-expert checkpoint tensors a stacked expert tensor of ``kind`` came from
        (name → shape), from :attr:`EXPERTS`; None when ``kind`` is not a stacked one."""
        if self.EXPERTS is None or bid is None or not kind.endswith("_EXP"):
            return None
        expert, weights, merged = self.EXPERTS
        for w in weights:
            if self.map_name(merged.format(bid=bid, w=w)) == self.tensor_name(kind, bid, suffix):
                return {expert.format(bid=bid, x=x, w=w): tuple(shape[1:]) for x in range(shape[0])}
        return None

    def _check_dtype(self, name: str, src: TensorSource) -> None:
        if src.decode is None and src.dtype not in SOURCE_DTYPES:
            raise TensorShapeError(
                f"convert: {src.file}: tensor {name!r} has dtype {src.dtype}; expected one of {', '.join(SOURCE_DTYPES)}")
