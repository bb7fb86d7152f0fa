"""GLM-4.5 / 4.6 → GGUF arch ``glm4moe``; GLM-4.7-Flash → ``deepseek2``.

What GLM-4.5 does differently (``Glm4MoeModel`` of the pinned converter's
``conversion/glm.py``):

* **Next-token prediction.** The checkpoint carries ``num_nextn_predict_layers``
  extra layers after the decoder (``model.layers.{L}``: a full MoE decoder
  layer plus ``eh_proj``, ``enorm``, ``hnorm`` and ``shared_head.norm``).
  The converter keeps them: the block count is L + nextn (so is the block
  count llama-quantize's rules see), the extra layer's tensors go to
  ``blk.{L}.nextn.*`` and ``glm4moe.nextn_predict_layers`` is written.
* **Partial rotary**: ``rope.dimension_count`` = head_dim ×
  ``partial_rotary_factor`` (0.5 unless set). No q/k permutation (NEOX
  ordering already).
* **Experts**: per-expert ``mlp.experts.N.*`` stacked per layer (down, gate,
  up), shared expert → ``*_shexp``, router → ``ffn_gate_inp`` (F32),
  ``e_score_correction_bias`` → ``exp_probs_b.bias``; sigmoid gating is
  written whatever the config says; expert FF length, shared count, leading
  dense layers, ``expert_weights_scale`` and ``expert_weights_norm`` (written
  whenever norm_topk_prob is set, false included).
* **Tokenizer** (``_set_vocab_glm``): byte-level BPE whose pre-tokenizer has
  the cl100k structure, which llama.cpp's hash table names ``glm4`` for GLM's
  tokenizer (Wick's structural rule alone would say ``smaug-bpe``; both
  tokenize alike); special ids bos = ``[gMASK]``, eot = ``<|user|>``,
  unk = ``<|endoftext|>``, eom = ``<|observation|>`` (each only where the
  tokenizer files did not already set that kind), looked up among the added
  tokens — a tokenizer without them is refused, naming the token.

GLM-4.7-Flash (``Glm4MoeLiteForCausalLM``) is DeepSeek-V2's architecture
(:mod:`.deepseek`: MLA, experts, MQA metadata) with GLM's tokenizer and its
MTP layer kept (``deepseek2.nextn_predict_layers``, block count L + nextn).
transformers 4.57.6 does not know ``glm4_moe_lite``, so config.json is read
raw as the converter falls back to it.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple

import numpy as np

from ...gguf import values as V
from ..errors import TokenizerError
from ..lazy import LazyTensor
from ..tokenizer import TOKENIZER_CONFIG, TOKENIZER_JSON, OrderedKVs, TokenizerFiles, special_vocab
from . import register
from ._base import Adapter, HParams, MappedTensor, TensorSource, _int, _num, f32_value, find_hparam
from .deepseek import DeepseekV2Adapter, check_layers, merge_kvs

#: ``_set_vocab_glm``: special token kinds set from GLM's added tokens (when the files did not set them)
GLM_SPECIAL_TOKENS = (("bos", "[gMASK]"), ("eot", "<|user|>"), ("unk", "<|endoftext|>"), ("eom", "<|observation|>"))


def added_vocab(files: TokenizerFiles) -> Dict[str, int]:
    """transformers' ``get_added_vocab()``: content → id of tokenizer.json's added tokens and
    tokenizer_config.json's ``added_tokens_decoder``."""
    out: Dict[str, int] = {}
    for a in (files.tokenizer_json or {}).get("added_tokens") or []:
        if isinstance(a, dict) and isinstance(a.get("content"), str) and isinstance(a.get("id"), int):
            out[a["content"]] = a["id"]
    atd = (files.tokenizer_config or {}).get("added_tokens_decoder") or {}
    if isinstance(atd, dict):
        for k, d in atd.items():
            if isinstance(d, dict) and isinstance(d.get("content"), str) and str(k).isdecimal():
                out[d["content"]] = int(k)
    return out


def glm_tokenizer_quirks(files: TokenizerFiles, config: Dict[str, Any], kvs: OrderedKVs) -> None:
    """``_set_vocab_glm``: the ``glm4`` pre-tokenizer name and GLM's special ids (see the module docstring)."""
    pre = next((kv.value for kv in kvs.items() if kv.key == "tokenizer.ggml.pre"), None)
    if pre == "smaug-bpe":
        kvs.add(V.string("tokenizer.ggml.pre", "glm4"))  # same place; the name llama.cpp's table gives GLM's
    sv = special_vocab(files, config, load_merges=True)
    added = added_vocab(files)
    for typ, content in GLM_SPECIAL_TOKENS:
        if content not in added:
            where = TOKENIZER_JSON if files.tokenizer_json is not None else TOKENIZER_CONFIG
            raise TokenizerError(f"convert: {where}: GLM's tokenizer needs the added token {content!r} "
                                 f"(its {typ} token); it is not among the added tokens", where)
        sv.special_token_ids.setdefault(typ, added[content])
    new = sv.kvs()
    for kv in new:  # rewrite the special-vocabulary tail in SpecialVocab's order
        kvs.remove(kv.key)
    for kv in new:
        kvs.add(kv)


@register
class Glm4MoeAdapter(Adapter):
    """Glm4MoeForCausalLM → ``glm4moe``."""

    name = "glm4moe"
    hf_architectures = ("Glm4MoeForCausalLM",)
    gguf_arch = "glm4moe"
    summary = "GLM-4.5, 4.6; partial rotary, sigmoid routing, expert bias, next-token-prediction layer kept"
    vocab_readers = ("gpt2",)
    # transformers 4.57.6 Glm4MoeConfig
    config_defaults = {"max_position_embeddings": 131072, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
                       "rope_scaling": None, "partial_rotary_factor": 0.5, "num_key_value_heads": 8,
                       "moe_intermediate_size": 1408, "num_experts_per_tok": 8, "n_shared_experts": 1,
                       "n_routed_experts": 128, "routed_scaling_factor": 1.0, "n_group": 1, "topk_group": 1,
                       "first_k_dense_replace": 1, "norm_topk_prob": True}

    def hparams(self, config: Dict[str, Any]) -> HParams:
        """The decoder's hyper-parameters with the next-token-prediction layers counted as blocks."""
        hp = super().hparams(config)
        nextn = _int("num_nextn_predict_layers", config.get("num_nextn_predict_layers") or 0)
        return HParams(**{**hp.__dict__, "n_layer": hp.n_layer + nextn})

    def tokenizer_quirks(self, files: Any, config: Dict[str, Any], vocab_size: Optional[int], kvs: Any) -> None:
        glm_tokenizer_quirks(files, config, kvs)

    def metadata(self, config: Dict[str, Any], hp: HParams, file_type: int) -> List[V.KV]:
        """TextModel's keys (block count including the NextN layers), then the GLM-4.5 keys."""
        a = self.gguf_arch
        kvs = super().metadata(config, hp, file_type)
        head_dim = config.get("head_dim")
        if head_dim is None:
            head_dim = _int("hidden_size", config["hidden_size"]) // _int("num_attention_heads", config["num_attention_heads"], 1)
        partial = self.rope_parameters(config).get("partial_rotary_factor", 0.5)
        more = [V.u32(f"{a}.rope.dimension_count", int(_int("head_dim", head_dim) * _num("partial_rotary_factor", partial)))]
        if config.get("n_routed_experts") is not None:
            more.append(V.u32(f"{a}.expert_count", _int("n_routed_experts", config["n_routed_experts"])))
        if config.get("moe_intermediate_size") is not None:
            more.append(V.u32(f"{a}.expert_feed_forward_length", _int("moe_intermediate_size", config["moe_intermediate_size"])))
        if config.get("n_shared_experts") is not None:
            more.append(V.u32(f"{a}.expert_shared_count", _int("n_shared_experts", config["n_shared_experts"])))
        if config.get("first_k_dense_replace") is not None:
            more.append(V.u32(f"{a}.leading_dense_block_count", _int("first_k_dense_replace", config["first_k_dense_replace"])))
        more.append(V.u32(f"{a}.expert_gating_func", 2))  # ExpertGatingFuncType.SIGMOID
        if config.get("routed_scaling_factor") is not None:
            more.append(V.f32(f"{a}.expert_weights_scale", _num("routed_scaling_factor", config["routed_scaling_factor"])))
        if config.get("norm_topk_prob") is not None:
            more.append(V.boolean(f"{a}.expert_weights_norm", bool(config["norm_topk_prob"])))
        if config.get("num_nextn_predict_layers") is not None:
            more.append(V.u32(f"{a}.nextn_predict_layers", _int("num_nextn_predict_layers", config["num_nextn_predict_layers"])))
        return merge_kvs(kvs, more)

    EXPERTS = DeepseekV2Adapter.EXPERTS

    def modify_tensors(self, t: LazyTensor, name: str, bid: Optional[int]) -> Iterable[Tuple[str, LazyTensor]]:
        if "mlp.experts" in name:
            n_expert = _int("n_routed_experts", find_hparam(self.config, ["n_routed_experts"]), 1)
            expert, weights, merged = self.EXPERTS
            return self.stack_experts(t, name, bid, n_expert, weights, expert, merged)
        return super().modify_tensors(t, name, bid)

    # ------------------------------------------------------------ export-hf
    model_types = {"Glm4MoeForCausalLM": "glm4_moe"}
    hf_tensor_names = {**Adapter.hf_tensor_names, "FFN_GATE_INP": "model.layers.{bid}.mlp.gate",
                       "ATTN_POST_NORM": "model.layers.{bid}.post_attention_layernorm",
                       "FFN_EXP_PROBS_B": "model.layers.{bid}.mlp.gate.e_score_correction",
                       "FFN_GATE_SHEXP": "model.layers.{bid}.mlp.shared_experts.gate_proj",
                       "FFN_UP_SHEXP": "model.layers.{bid}.mlp.shared_experts.up_proj",
                       "FFN_DOWN_SHEXP": "model.layers.{bid}.mlp.shared_experts.down_proj"}

    def export_class(self, md: Mapping[str, Any], tensors: Mapping[str, Tuple[int, ...]]) -> Optional[str]:
        return "Glm4MoeForCausalLM"

    def export_config(self, md: Mapping[str, Any], tensors: Mapping[str, Tuple[int, ...]], hf_class: str,
                      read: Callable[[str], np.ndarray]) -> Dict[str, Any]:
        """The inverse of :meth:`metadata`: the decoder's layers without the next-token-prediction
        ones, the partial rotary factor, the MoE keys (the gating is always sigmoid: no key)."""
        a = self.gguf_arch
        cfg = super().export_config(md, tensors, hf_class, read)
        cfg.pop("scoring_func", None)
        nextn = md.get(f"{a}.nextn_predict_layers")
        if nextn is not None:
            cfg["num_nextn_predict_layers"] = int(nextn)
            cfg["num_hidden_layers"] -= int(nextn)
        head_dim = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
        cfg["partial_rotary_factor"] = int(md[f"{a}.rope.dimension_count"]) / head_dim
        if "num_local_experts" in cfg:
            cfg["n_routed_experts"] = cfg.pop("num_local_experts")
        for hf, key in (("moe_intermediate_size", "expert_feed_forward_length"), ("n_shared_experts", "expert_shared_count"),
                        ("first_k_dense_replace", "leading_dense_block_count")):
            if md.get(f"{a}.{key}") is not None:
                cfg[hf] = int(md[f"{a}.{key}"])
        if md.get(f"{a}.expert_weights_scale") is not None:
            cfg["routed_scaling_factor"] = f32_value(md[f"{a}.expert_weights_scale"])
        if md.get(f"{a}.expert_weights_norm") is not None:
            cfg["norm_topk_prob"] = bool(md[f"{a}.expert_weights_norm"])
        cfg["use_qk_norm"] = "blk.0.attn_q_norm.weight" in tensors
        cfg["attention_bias"] = "blk.0.attn_q.bias" in tensors
        return cfg

    def export_listing(self, tensors: Mapping[str, Tuple[int, ...]], hp: HParams) -> Dict[str, Tuple[int, ...]]:
        return {n.replace("e_score_correction.bias", "e_score_correction_bias"): s
                for n, s in super().export_listing(tensors, hp).items()}

    def expected_shapes(self, hp: HParams, n_vocab: int) -> Dict[str, Tuple[int, ...]]:
        shapes = super().expected_shapes(hp, n_vocab)
        fm = self.config.get("moe_intermediate_size")
        if isinstance(fm, int) and not isinstance(fm, bool) and hp.n_expert:
            e = hp.n_embd
            shapes.update({"FFN_GATE_EXP": (hp.n_expert, fm, e), "FFN_UP_EXP": (hp.n_expert, fm, e),
                           "FFN_DOWN_EXP": (hp.n_expert, e, fm), "FFN_GATE_INP": (hp.n_expert, e)})
        return shapes

    def required_kinds(self, hp: HParams) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
        """Attention and norms in every block (the FFN: :meth:`map_tensors`)."""
        return ("TOKEN_EMBD", "OUTPUT_NORM"), ("ATTN_NORM", "ATTN_Q", "ATTN_K", "ATTN_V", "ATTN_OUT")

    def map_tensors(self, config: Dict[str, Any], hp: HParams, n_vocab: int,
                    tensors: Dict[str, TensorSource]) -> List[MappedTensor]:
        """The converter's walk, then each block's FFN: dense below first_k_dense_replace, experts after
        (the NextN layers included)."""
        out = super().map_tensors(config, hp, n_vocab, tensors)
        dense = _int("first_k_dense_replace", config.get("first_k_dense_replace") or 0)
        check_layers(self, out, hp.n_layer, dense, (), f"first_k_dense_replace={dense}")
        return out


@register
class Glm4MoeLiteAdapter(DeepseekV2Adapter):
    """Glm4MoeLiteForCausalLM → ``deepseek2`` (MLA with GLM's tokenizer; the MTP layer is kept)."""

    name = "glm4moe-lite"
    hf_architectures = ("Glm4MoeLiteForCausalLM",)
    notes = {"Glm4MoeLiteForCausalLM": "GLM-4.7-Flash: DeepSeek-V2's MLA architecture with GLM's tokenizer; "
                                       "the next-token-prediction layer is kept"}
    vocab_readers = ("gpt2",)

    def _nextn(self, config: Dict[str, Any]) -> int:
        return _int("num_nextn_predict_layers", config.get("num_nextn_predict_layers") or 0)

    def hparams(self, config: Dict[str, Any]) -> HParams:
        hp = super().hparams(config)
        self.skip_mtp = self._nextn(config) == 0
        return HParams(**{**hp.__dict__, "n_layer": hp.n_layer + self._nextn(config)})

    def tokenizer_quirks(self, files: Any, config: Dict[str, Any], vocab_size: Optional[int], kvs: Any) -> None:
        glm_tokenizer_quirks(files, config, kvs)

    # ------------------------------------------------------------ export-hf
    model_types = {"Glm4MoeLiteForCausalLM": "glm4_moe_lite"}

    def export_class(self, md: Mapping[str, Any], tensors: Mapping[str, Tuple[int, ...]]) -> Optional[str]:
        """A ``deepseek2`` file with GLM's tokenizer (``glm4``)."""
        return "Glm4MoeLiteForCausalLM" if md.get("tokenizer.ggml.pre") == "glm4" else None

    def export_config(self, md: Mapping[str, Any], tensors: Mapping[str, Tuple[int, ...]], hf_class: str,
                      read: Callable[[str], np.ndarray]) -> Dict[str, Any]:
        """DeepSeek-V2's keys, the decoder's layers without the next-token-prediction ones."""
        cfg = super().export_config(md, tensors, hf_class, read)
        nextn = md.get(f"{self.gguf_arch}.nextn_predict_layers")
        if nextn is not None:
            cfg["num_nextn_predict_layers"] = int(nextn)
            cfg["num_hidden_layers"] -= int(nextn)
        return cfg

    def metadata(self, config: Dict[str, Any], hp: HParams, file_type: int) -> List[V.KV]:
        kvs = super().metadata(config, hp, file_type)
        if self._nextn(config):
            kvs.append(V.u32(f"{self.gguf_arch}.nextn_predict_layers", self._nextn(config)))
        return kvs
