"""What every architecture adapter shares: hyper-parameters, the generic
metadata of llama.cpp's converter, tensor-name mapping and shape checks.

An adapter is a subclass of :class:`Adapter` in its own module of this
package, decorated with :func:`wick.convert.archs.register`. It declares
class attributes (the Hugging Face class names it accepts, the GGUF
architecture, whether q/k are permuted, which tokenizer readers to try) and
may override the hooks (:meth:`Adapter.layer_rules`, :meth:`Adapter.metadata`,
:meth:`Adapter.extra_tensors`, :meth:`Adapter.required`).

Everything here mirrors ``convert_hf_to_gguf.py`` (``TextModel`` and
``LlamaModel``) so that the metadata keys, their types and their order match
the reference converter's output.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ...gguf import values as V
from ..errors import ConfigError, MissingTensorError, TensorShapeError, UnexpectedTensorError

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


@dataclass(frozen=True)
class TensorSource:
    """One tensor of the checkpoint: which file holds it, its dtype and shape (row-major).

    For a quantized weight these are the *logical* dtype and shape (what it
    decodes to) and ``decode`` says how (:class:`wick.convert.quantized.Decode`:
    the stored tensor and the executor's decode spec); adapters map it like
    any other tensor.
    """

    file: str
    dtype: str
    shape: Tuple[int, ...]
    decode: Optional[Any] = field(default=None, compare=False)


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
    sources: List[Tuple[str, TensorSource]]  # (HF name, source); several = stacked
    ne: List[int]  # GGUF dims (ne[0] innermost)
    transforms: List[Dict[str, Any]] = field(default_factory=list)
    data: Optional[np.ndarray] = None  # generated tensors (e.g. rope_freqs), float32
    force_f32: bool = False  # 1-D / norms / biases / router: F32 whatever the target


@dataclass(frozen=True)
class LayerRule:
    """Maps ``model.layers.N.<hf>`` to ``blk.N.<gguf>`` with the row-major shape expected."""

    hf: str
    gguf: str
    shape: Tuple[str, ...]  # symbolic dims: names of HParams-derived sizes
    required: bool = True
    permute: Optional[str] = None  # "q" (n_head) or "k" (n_head_kv)


class Adapter:
    """Base class of an architecture adapter (see the module docstring)."""

    #: adapter name shown to users
    name: str = ""
    #: config.json ``architectures[0]`` values this adapter converts
    hf_architectures: Tuple[str, ...] = ()
    #: ``general.architecture``
    gguf_arch: str = ""
    #: reorder q/k rows from HF's rotate-half RoPE layout to ggml's interleaved one
    permute_qk: bool = False
    #: tokenizer readers to try, in order (see wick.convert.tokenizer.build_vocab)
    vocab_readers: Tuple[str, ...] = ("spm", "gpt2")
    #: write ``{arch}.vocab_size`` and ``{arch}.rope.dimension_count`` (LlamaModel does)
    llama_extras: bool = False
    #: copy tokenizer_config.json ``add_prefix_space`` to tokenizer.ggml.add_space_prefix
    reads_add_prefix_space: bool = False
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
        orig = config.get("original_max_position_embeddings")
        if "full_attention" not in rp and "sliding_attention" not in rp:
            if "rope_theta" not in rp and theta is not None:
                rp["rope_theta"] = theta
            if "rope_type" not in rp and rp.get("type") is not None:
                rp["rope_type"] = rp["type"]
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
        rp = self.rope_parameters(config)
        rp = rp.get("full_attention", rp)
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
        theta = rp.get("rope_theta")
        if theta is not None:
            kv.append(V.f32(f"{a}.rope.freq_base", _num("rope_theta", theta)))
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
        if hp.has_head_dim_key:
            kv.append(V.u32(f"{a}.attention.key_length", hp.head_dim))
            kv.append(V.u32(f"{a}.attention.value_length", hp.head_dim))
        kv.append(V.u32("general.file_type", file_type))
        if self.llama_extras:
            kv.append(V.u32(f"{a}.vocab_size", hp.n_vocab))
            kv.append(V.u32(f"{a}.rope.dimension_count", hp.head_dim))
        return kv

    # ------------------------------------------------------------------ tensors
    def dims(self, hp: HParams, n_vocab: int) -> Dict[str, int]:
        """Symbolic dimension names used by the shape rules."""
        return {
            "E": hp.n_embd, "F": hp.n_ff, "V": n_vocab, "Q": hp.n_head * hp.head_dim,
            "KV": hp.n_head_kv * hp.head_dim, "D": hp.head_dim, "X": hp.n_expert,
        }

    def global_rules(self) -> List[Tuple[str, str, Tuple[str, ...], bool]]:
        """(HF name, GGUF name, row-major shape, required) of the non-layer tensors."""
        return [
            ("model.embed_tokens.weight", "token_embd.weight", ("V", "E"), True),
            ("model.norm.weight", "output_norm.weight", ("E",), True),
            ("lm_head.weight", "output.weight", ("V", "E"), False),
        ]

    def layer_rules(self, hp: HParams) -> List[LayerRule]:
        """The per-layer tensors of a llama-style block. Subclasses add/remove rules."""
        rules = [
            LayerRule("input_layernorm.weight", "attn_norm.weight", ("E",)),
            LayerRule("self_attn.q_proj.weight", "attn_q.weight", ("Q", "E"), permute="q"),
            LayerRule("self_attn.k_proj.weight", "attn_k.weight", ("KV", "E"), permute="k"),
            LayerRule("self_attn.v_proj.weight", "attn_v.weight", ("KV", "E")),
            LayerRule("self_attn.o_proj.weight", "attn_output.weight", ("E", "Q")),
            LayerRule("self_attn.q_proj.bias", "attn_q.bias", ("Q",), required=False, permute="q"),
            LayerRule("self_attn.k_proj.bias", "attn_k.bias", ("KV",), required=False, permute="k"),
            LayerRule("self_attn.v_proj.bias", "attn_v.bias", ("KV",), required=False),
            LayerRule("self_attn.o_proj.bias", "attn_output.bias", ("E",), required=False),
            LayerRule("post_attention_layernorm.weight", "ffn_norm.weight", ("E",)),
        ]
        if hp.n_expert:
            rules.append(LayerRule("block_sparse_moe.gate.weight", "ffn_gate_inp.weight", ("X", "E")))
        else:
            rules += [
                LayerRule("mlp.gate_proj.weight", "ffn_gate.weight", ("F", "E")),
                LayerRule("mlp.up_proj.weight", "ffn_up.weight", ("F", "E")),
                LayerRule("mlp.down_proj.weight", "ffn_down.weight", ("E", "F")),
                LayerRule("mlp.gate_proj.bias", "ffn_gate.bias", ("F",), required=False),
                LayerRule("mlp.up_proj.bias", "ffn_up.bias", ("F",), required=False),
                LayerRule("mlp.down_proj.bias", "ffn_down.bias", ("E",), required=False),
            ]
        return rules

    # names the converter drops without a word
    SKIP_SUFFIXES = (".attention.masked_bias", ".attention.bias", ".rotary_emb.inv_freq")

    def tokenizer_quirks(self, files: Any, config: Dict[str, Any], vocab_size: Optional[int], kvs: Any) -> None:
        """Adjust the tokenizer KVs after the generic reader (``kvs`` is a
        :class:`~wick.convert.tokenizer.OrderedKVs`; re-adding a key keeps its place)."""

    def extra_tensors(self, config: Dict[str, Any], hp: HParams) -> List[MappedTensor]:
        """Tensors generated from config.json (written first, as the converter does)."""
        return []

    @staticmethod
    def _shape(sym: Tuple[str, ...], dims: Dict[str, int]) -> Tuple[int, ...]:
        return tuple(dims[s] for s in sym)

    def map_tensors(self, hp: HParams, n_vocab: int, tensors: Dict[str, TensorSource]) -> List[MappedTensor]:
        """Map every checkpoint tensor to its GGUF tensor, checking names, shapes and dtypes.

        Returns the mapped tensors in the reference converter's order
        (checkpoint files in sorted order, tensor names sorted within a file).
        """
        dims = self.dims(hp, n_vocab)
        globals_ = {hf: (g, sym, req) for hf, g, sym, req in self.global_rules()}
        layer_rules = {r.hf: r for r in self.layer_rules(hp)}
        moe = hp.n_expert > 0
        expert_re = re.compile(r"^model\.layers\.(\d+)\.block_sparse_moe\.experts\.(\d+)\.(w[123])\.weight$")
        layer_re = re.compile(r"^model\.layers\.(\d+)\.(.+)$")

        found: Dict[str, MappedTensor] = {}
        experts: Dict[Tuple[int, str], Dict[int, Tuple[str, TensorSource]]] = {}
        order: List[str] = []
        # converter order: part files sorted, tensor names sorted within each
        for hf_name in sorted(tensors, key=lambda n: converter_order(n, tensors[n])):
            src = tensors[hf_name]
            if hf_name.endswith(self.SKIP_SUFFIXES):
                continue
            if hf_name in globals_:
                gname, sym, _ = globals_[hf_name]
                self._check(hf_name, src, self._shape(sym, dims))
                found[gname] = MappedTensor(gname, [(hf_name, src)], list(reversed(src.shape)))
                order.append(gname)
                continue
            m = expert_re.match(hf_name) if moe else None
            if m:
                bid, xid, w = int(m.group(1)), int(m.group(2)), m.group(3)
                if bid >= hp.n_layer or xid >= hp.n_expert:
                    raise UnexpectedTensorError(f"convert: {src.file}: tensor {hf_name!r}: layer/expert index out of range "
                                                f"({hp.n_layer} layers, {hp.n_expert} experts)")
                want = ("F", "E") if w in ("w1", "w3") else ("E", "F")
                self._check(hf_name, src, self._shape(want, dims))
                experts.setdefault((bid, w), {})[xid] = (hf_name, src)
                continue
            m = layer_re.match(hf_name)
            if m and m.group(2) in layer_rules:
                bid = int(m.group(1))
                if bid >= hp.n_layer:
                    raise UnexpectedTensorError(
                        f"convert: {src.file}: tensor {hf_name!r}: layer {bid} is beyond num_hidden_layers={hp.n_layer}")
                rule = layer_rules[m.group(2)]
                self._check(hf_name, src, self._shape(rule.shape, dims))
                gname = f"blk.{bid}.{rule.gguf}"
                transforms = []
                if self.permute_qk and rule.permute:
                    n = hp.n_head if rule.permute == "q" else hp.n_head_kv
                    transforms.append({"op": "permute_qk", "n_head": n})
                found[gname] = MappedTensor(gname, [(hf_name, src)], list(reversed(src.shape)), transforms)
                order.append(gname)
                continue
            raise UnexpectedTensorError(
                f"convert: {src.file}: tensor {hf_name!r} has no GGUF counterpart for architecture "
                f"{self.gguf_arch!r} (adapter {self.name!r})")

        # stack the experts: the converter emits each stacked tensor when the
        # last of a layer's 3*n_expert experts arrives, in w1, w2, w3 order
        if moe:
            for bid in range(hp.n_layer):
                for w, gsuf in (("w1", "ffn_gate_exps.weight"), ("w2", "ffn_down_exps.weight"), ("w3", "ffn_up_exps.weight")):
                    got = experts.get((bid, w), {})
                    missing = [x for x in range(hp.n_expert) if x not in got]
                    if missing:
                        raise MissingTensorError(
                            f"convert: missing tensor 'model.layers.{bid}.block_sparse_moe.experts.{missing[0]}.{w}.weight' "
                            f"(expected {hp.n_expert} experts)")
                    srcs = [got[x] for x in range(hp.n_expert)]
                    rows, cols = srcs[0][1].shape
                    gname = f"blk.{bid}.{gsuf}"
                    found[gname] = MappedTensor(gname, srcs, [cols, rows, hp.n_expert], [{"op": "stack"}])
            order = self._moe_order(order, found, hp, tensors)

        for hf, (gname, _sym, req) in globals_.items():
            if req and gname not in found:
                raise MissingTensorError(f"convert: missing tensor {hf!r} (GGUF {gname!r}) in the checkpoint")
        for bid in range(hp.n_layer):
            for r in layer_rules.values():
                if r.required and f"blk.{bid}.{r.gguf}" not in found:
                    raise MissingTensorError(
                        f"convert: missing tensor 'model.layers.{bid}.{r.hf}' (GGUF 'blk.{bid}.{r.gguf}') in the checkpoint")
        out = [found[n] for n in order]
        for t in out:
            if len(t.ne) <= 1 or t.name.endswith("_norm.weight") or not t.name.endswith(".weight") \
                    or t.name.endswith("ffn_gate_inp.weight"):
                t.force_f32 = True
        return out

    def _moe_order(self, order: List[str], found: Dict[str, MappedTensor], hp: HParams,
                   tensors: Dict[str, TensorSource]) -> List[str]:
        """Place each stacked expert tensor where the converter emits it: after the
        last of that layer's expert tensors in checkpoint order."""
        layer_of_expert = re.compile(r"^model\.layers\.(\d+)\.block_sparse_moe\.experts\.")
        last_pos: Dict[int, int] = {}
        seq: List[Tuple[str, Optional[int]]] = []  # (gguf name or '', bid marker)
        names = sorted(tensors, key=lambda n: converter_order(n, tensors[n]))
        it = iter(order)
        for hf_name in names:
            if hf_name.endswith(self.SKIP_SUFFIXES):
                continue
            m = layer_of_expert.match(hf_name)
            if m:
                last_pos[int(m.group(1))] = len(seq)
                seq.append(("", int(m.group(1))))
            else:
                seq.append((next(it), None))
        out: List[str] = []
        for i, (g, bid) in enumerate(seq):
            if g:
                out.append(g)
            elif last_pos.get(bid) == i:
                out += [f"blk.{bid}.ffn_gate_exps.weight", f"blk.{bid}.ffn_down_exps.weight", f"blk.{bid}.ffn_up_exps.weight"]
        return out

    @staticmethod
    def _check(hf_name: str, src: TensorSource, want: Tuple[int, ...]) -> None:
        if src.dtype not in SOURCE_DTYPES:
            raise TensorShapeError(
                f"convert: {src.file}: tensor {hf_name!r} has dtype {src.dtype}; expected one of {', '.join(SOURCE_DTYPES)}")
        if tuple(src.shape) != tuple(want):
            raise TensorShapeError(
                f"convert: {src.file}: tensor {hf_name!r} has shape {list(src.shape)}; expected {list(want)} from config.json")
