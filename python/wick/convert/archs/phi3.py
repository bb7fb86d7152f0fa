"""Phi-3, Phi-3.5, Phi-4 and Phi-4-mini (``Phi3ForCausalLM``) → GGUF arch ``phi3``.

What the converter's ``Phi3MiniModel`` does differently from Llama:

* The checkpoint's fused projections stay fused, renamed only:
  ``self_attn.qkv_proj`` → ``blk.N.attn_qkv`` (q, k, v rows stacked) and
  ``mlp.gate_up_proj`` → ``blk.N.ffn_up`` (2 × intermediate_size rows, gate
  first); no q/k permutation (llama.cpp's Phi-3 graph uses NEOX RoPE).
* Its own metadata, not the generic one, in its own order:
  context length, ``rope.scaling.original_context_length``, embedding, feed
  forward, blocks, heads, KV heads, RMS epsilon, ``rope.dimension_count`` =
  ``int(partial_rotary_factor × hidden_size) // heads``, ``rope.freq_base``,
  file type, then ``attention.sliding_window`` (0 when config.json has none:
  llama.cpp's marker for Phi-4).
* LongRoPE (``rope_scaling.long_factor`` present): two F32 tensors
  ``rope_factors_long`` / ``rope_factors_short`` (rope dims / 2 values each)
  come first, and ``rope.scaling.attn_factor`` =
  √(1 + ln(s) / ln(original context)) (``su``/``longrope``) or
  0.1 ln(s) + 1 (``yarn``), s = context / original context (1 when s ≤ 1).
  The converter writes that key while it generates the tensors, so it sits
  right after ``general.architecture`` in the file.
* Tokenizer: tokenizer_config.json ``tokenizer_class`` ``GPT2Tokenizer``
  (Phi-4, Phi-4-mini) → byte-level BPE (pre ``gpt-4o`` for Phi-4-mini's o200k,
  ``dbrx`` for Phi-4's cl100k); otherwise its own SentencePiece reading
  (reader ``phi3_spm``: tokenizer.model, added_tokens.json, then
  ``added_tokens_decoder`` and tokenizer.json's added tokens, CONTROL only when
  marked special). (A tokenizer_config.json without ``tokenizer_class`` makes
  the converter fail with a KeyError; Wick reads it as SentencePiece.)
* Hyper-parameters come through transformers' ``Phi3Config``: its defaults,
  ``rope_scaling.type`` ``su``/``yarn`` renamed ``longrope``; a rope_scaling it
  refuses (not exactly type + short_factor + long_factor of rope dims / 2
  values) makes the converter read config.json as it is — as here.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

import numpy as np

from ...gguf import values as V
from ..errors import ConfigError, ExportError
from . import register
from ._base import CONFIG, Adapter, HParams, MappedTensor, _int, _num, f32_value, find_hparam

# transformers 4.57 Phi3Config defaults (the structural sizes are not defaulted, see Adapter.normalize_config)
_PHI3_DEFAULTS = {"max_position_embeddings": 4096, "original_max_position_embeddings": 4096, "rms_norm_eps": 1e-5,
                  "rope_theta": 10000.0, "rope_scaling": None, "partial_rotary_factor": 1.0, "sliding_window": None}


def _phi3_config_accepts(cfg: Dict[str, Any]) -> bool:
    """Whether ``Phi3Config._rope_scaling_validation`` passes (after its su/yarn → longrope rename)."""
    rs = cfg.get("rope_scaling")
    if rs is None:
        return True
    if not isinstance(rs, dict) or len(rs) != 3 or rs.get("type") != "longrope":
        return False
    try:
        rot = int(cfg["hidden_size"] // cfg["num_attention_heads"] * cfg.get("partial_rotary_factor", 1.0))
    except (KeyError, TypeError, ZeroDivisionError):
        return False
    for k in ("short_factor", "long_factor"):
        f = rs.get(k)
        if not isinstance(f, list) or not all(isinstance(x, (int, float)) for x in f) or len(f) != rot // 2:
            return False
    return True


@register
class Phi3Adapter(Adapter):
    """Phi3ForCausalLM → ``phi3``."""

    name = "phi3"
    hf_architectures = ("Phi3ForCausalLM",)
    gguf_arch = "phi3"
    summary = ("Phi-3, Phi-3.5, Phi-4, Phi-4-mini; fused qkv / gate_up kept; LongRoPE factor tensors; "
               "SentencePiece or GPT-2 BPE by tokenizer class")
    pre_tokenizer_names = {"smaug-bpe": "dbrx"}  # Phi-4: cl100k_base hashes as databricks/dbrx-base

    def normalize_config(self, config: Dict[str, Any]) -> Dict[str, Any]:
        cfg = dict(config)
        rs = cfg.get("rope_scaling")
        if isinstance(rs, dict) and rs.get("type") in ("su", "yarn"):
            cfg["rope_scaling"] = {**rs, "type": "longrope"}
        probe = {**_PHI3_DEFAULTS, **cfg}
        if probe.get("num_key_value_heads") is None and "num_attention_heads" in probe:
            probe["num_key_value_heads"] = probe["num_attention_heads"]
        if not _phi3_config_accepts(probe):
            # transformers refuses the config: the converter reads config.json as it is
            self.config_defaults = {}
            return super().normalize_config(dict(config))
        self.config_defaults = _PHI3_DEFAULTS
        return super().normalize_config(cfg)

    def readers(self, files: Any) -> Tuple[str, ...]:
        """``GPT2Tokenizer`` in tokenizer_config.json: byte-level BPE; otherwise Phi-3's SentencePiece reading."""
        tc = files.tokenizer_config or {}
        return ("gpt2",) if tc.get("tokenizer_class") == "GPT2Tokenizer" else ("phi3_spm",)

    # ----------------------------------------------------------------- rope
    def _rope(self, config: Dict[str, Any], hp: HParams) -> Tuple[Dict[str, Any], int, int, int]:
        rp = self.rope_parameters(config)
        n_ctx = _int("max_position_embeddings", find_hparam(config, ["n_positions", "max_position_embeddings"]))
        if "original_max_position_embeddings" not in rp:
            raise ConfigError(f"convert: {CONFIG}: missing required key 'original_max_position_embeddings'", CONFIG)
        orig = _int("original_max_position_embeddings", rp["original_max_position_embeddings"], 1)
        rot = _num("partial_rotary_factor", rp.get("partial_rotary_factor", 1.0))
        return rp, n_ctx, orig, int(rot * hp.n_embd) // hp.n_head

    def _long_rope(self, config: Dict[str, Any], hp: HParams) -> Optional[Tuple[float, List[float], List[float]]]:
        """(attn_factor, long factors, short factors) when the config has LongRoPE factors, as
        ``generate_extra_tensors`` computes them, else None."""
        rp, n_ctx, orig, rope_dims = self._rope(config, hp)
        long_f, short_f = rp.get("long_factor"), rp.get("short_factor")
        if not long_f:
            return None
        scale = n_ctx / orig
        kind = rp.get("rope_type", "")
        if not isinstance(kind, str) or not kind:
            raise ConfigError(f"convert: {CONFIG}: rope_scaling has long_factor but no 'type'", CONFIG)
        kind = kind.lower()
        if kind in ("su", "longrope"):
            attn = math.sqrt(1 + math.log(scale) / math.log(orig)) if scale > 1.0 else 1.0
        elif kind == "yarn":
            attn = 0.1 * math.log(scale) + 1.0 if scale > 1.0 else 1.0
        else:
            raise ConfigError(f"convert: {CONFIG}: rope scaling type {kind!r} with long_factor is not supported "
                              "(llama.cpp's converter knows su, longrope and yarn)", CONFIG)
        if not short_f:
            raise ConfigError(f"convert: {CONFIG}: rope_scaling has long_factor but no short_factor", CONFIG)
        out = []
        for key, f in (("long_factor", long_f), ("short_factor", short_f)):
            if not isinstance(f, list) or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in f):
                raise ConfigError(f"convert: {CONFIG}: rope_scaling.{key} must be a list of numbers", CONFIG)
            if len(f) * 2 != rope_dims:
                raise ConfigError(f"convert: {CONFIG}: rope_scaling.{key} has {len(f)} values; the rope dimension "
                                  f"count {rope_dims} needs {rope_dims / 2}", CONFIG)
            out.append([float(x) for x in f])
        return attn, out[0], out[1]

    def tensor_metadata(self, config: Dict[str, Any], hp: HParams) -> List[V.KV]:
        lr = self._long_rope(config, hp)
        return [] if lr is None else [V.f32(f"{self.gguf_arch}.rope.scaling.attn_factor", lr[0])]

    def extra_tensors(self, config: Dict[str, Any], hp: HParams) -> List[MappedTensor]:
        lr = self._long_rope(config, hp)
        if lr is None:
            return []
        out = []
        for kind, values in (("ROPE_FACTORS_LONG", lr[1]), ("ROPE_FACTORS_SHORT", lr[2])):
            t = MappedTensor.generated(self.tensor_name(kind), np.array(values, dtype=np.float32))
            t.force_type = "F32"  # 1-D: the converter keeps it F32
            out.append(t)
        return out

    # ------------------------------------------------------------- metadata
    def metadata(self, config: Dict[str, Any], hp: HParams, file_type: int) -> List[V.KV]:
        """``Phi3MiniModel.set_gguf_parameters`` (it does not call the generic one)."""
        a = self.gguf_arch
        rp, n_ctx, orig, rope_dims = self._rope(config, hp)
        n_head_kv = _int("num_key_value_heads", find_hparam(config, ["num_key_value_heads", "n_head_kv"]), 1)
        eps = _num("rms_norm_eps", find_hparam(config, ["rms_norm_eps"]))
        theta = rp.get("full_attention", rp).get("rope_theta")
        if theta is None:
            raise ConfigError(f"convert: {CONFIG}: missing required key 'rope_theta'", CONFIG)
        sw = config.get("sliding_window")
        return [
            V.u32(f"{a}.context_length", n_ctx),
            V.u32(f"{a}.rope.scaling.original_context_length", orig),
            V.u32(f"{a}.embedding_length", hp.n_embd),
            V.u32(f"{a}.feed_forward_length", _int("intermediate_size", find_hparam(config, ["intermediate_size"]))),
            V.u32(f"{a}.block_count", hp.n_layer),
            V.u32(f"{a}.attention.head_count", hp.n_head),
            V.u32(f"{a}.attention.head_count_kv", n_head_kv),
            V.f32(f"{a}.attention.layer_norm_rms_epsilon", eps),
            V.u32(f"{a}.rope.dimension_count", rope_dims),
            V.f32(f"{a}.rope.freq_base", _num("rope_theta", theta)),
            V.u32("general.file_type", file_type),
            V.u32(f"{a}.attention.sliding_window", 0 if sw is None else _int("sliding_window", sw)),
        ]

    # -------------------------------------------------------------- tensors
    def expected_shapes(self, hp: HParams, n_vocab: int) -> Dict[str, Tuple[int, ...]]:
        shapes = super().expected_shapes(hp, n_vocab)
        for k in ("ATTN_Q", "ATTN_K", "ATTN_V", "FFN_GATE"):
            del shapes[k]
        shapes["ATTN_QKV"] = ((hp.n_head + 2 * hp.n_head_kv) * hp.head_dim, hp.n_embd)
        shapes["FFN_UP"] = (2 * hp.n_ff, hp.n_embd)
        return shapes

    # ------------------------------------------------------------ export-hf
    model_types = {"Phi3ForCausalLM": "phi3"}
    hf_tensor_names = {**Adapter.hf_tensor_names, "ATTN_QKV": "model.layers.{bid}.self_attn.qkv_proj",
                       "FFN_UP": "model.layers.{bid}.mlp.gate_up_proj"}

    def export_class(self, md: Mapping[str, Any], tensors: Mapping[str, Tuple[int, ...]]) -> Optional[str]:
        return "Phi3ForCausalLM"

    def export_tokenizer_class(self, ggml_model: str) -> str:
        """``GPT2Tokenizer`` for a byte-level BPE vocabulary (what makes :meth:`readers` read it as one)."""
        return "GPT2Tokenizer" if ggml_model == "gpt2" else "LlamaTokenizer"

    def export_added_token(self, md: Mapping[str, Any], token: Dict[str, Any]) -> Dict[str, Any]:
        """llama.cpp's Phi-3 rule (llama-vocab.cpp): every special token strips the whitespace after
        it, except ``<unk>``, ``<s>`` and ``<|endoftext|>`` (``</s>`` does), as Phi-3's own
        tokenizer.json marks them. llama.cpp recognises Phi-3 by ``general.name`` containing
        ``phi-3``/``phi3`` (a converted "Phi-3.5-mini-instruct" is named "Phi 3.5 Mini Instruct",
        which it misses); here: a ``phi3`` file with a SentencePiece vocabulary (Phi-3, Phi-3.5;
        Phi-4's byte-level BPE has no such flags)."""
        if md.get("tokenizer.ggml.model") == "llama":
            token = dict(token, rstrip=token["content"] not in ("<unk>", "<s>", "<|endoftext|>"))
        return token

    def export_config(self, md: Mapping[str, Any], tensors: Mapping[str, Tuple[int, ...]], hf_class: str,
                      read: Callable[[str], np.ndarray]) -> Dict[str, Any]:
        """The inverse of :meth:`metadata`: ``partial_rotary_factor`` from the rope dimension count,
        ``sliding_window`` 0 → null, LongRoPE factors from ``rope_factors_long`` / ``_short``."""
        a = self.gguf_arch
        cfg = super().export_config(md, tensors, hf_class, read)
        cfg["original_max_position_embeddings"] = int(md[f"{a}.rope.scaling.original_context_length"])
        rope_dims = int(md[f"{a}.rope.dimension_count"])
        hidden, heads = cfg["hidden_size"], cfg["num_attention_heads"]
        if rope_dims * heads != hidden:
            prf = rope_dims * heads / hidden
            if int(prf * hidden) // heads != rope_dims:
                raise ExportError(f"export-hf: {a}.rope.dimension_count {rope_dims} is no partial_rotary_factor "
                                  f"of hidden_size {hidden} / {heads} heads")
            cfg["partial_rotary_factor"] = prf
        sw = md.get(f"{a}.attention.sliding_window")
        cfg["sliding_window"] = None if not sw else int(sw)
        long_name, short_name = self.tensor_name("ROPE_FACTORS_LONG"), self.tensor_name("ROPE_FACTORS_SHORT")
        if long_name in tensors:
            cfg["rope_scaling"] = {"long_factor": [f32_value(x) for x in read(long_name)],
                                   "short_factor": [f32_value(x) for x in read(short_name)], "type": "longrope"}
        return cfg

    def required_kinds(self, hp: HParams) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
        return ("TOKEN_EMBD", "OUTPUT_NORM"), ("ATTN_NORM", "ATTN_QKV", "ATTN_OUT", "FFN_NORM", "FFN_UP", "FFN_DOWN")
