"""Gemma 1, 2, 3 and 4 → GGUF archs ``gemma``, ``gemma2``, ``gemma3``, ``gemma4``.

Mirrors ``conversion/gemma.py`` of the pinned llama.cpp (``GemmaModel``,
``Gemma2Model``, ``Gemma3Model``, ``Gemma4Model``).

**Gemma 1** (``GemmaForCausalLM``: Gemma, Gemma 1.1, CodeGemma): as Gemma 2
below with two norms per layer and without the soft-capping and sliding-window
keys; after the SentencePiece keys a second special-token pass writes
``tokenizer.ggml.eot_token_id`` (107 unless the tokenizer files name an
``eot_token``; the converter also sets CodeGemma's prefix/suffix/middle/fsep
ids, which the pinned gguf-py has no keys for).

All of them keep Hugging Face's tensor names (llama.cpp's map knows the four
norms of a Gemma block: ``input_layernorm`` → ``attn_norm``,
``post_attention_layernorm`` → ``post_attention_norm``,
``pre_feedforward_layernorm`` → ``ffn_norm``, ``post_feedforward_layernorm`` →
``post_ffw_norm``), permute nothing and tie the output to the embedding.

**Gemma 2** (``Gemma2ForCausalLM``): every tensor whose name ends in
``norm.weight`` is written as weight + 1 (Gemma's RMSNorm multiplies by
1 + weight; in float16 for a float16 checkpoint, as torch computes it);
``lm_head.weight`` is dropped. Its own metadata, not the generic one: context,
embedding, blocks, feed forward, heads, KV heads, RMS epsilon, key/value
length (``head_dim``), file type, ``attn_logit_softcapping``,
``final_logit_softcapping``, ``attention.sliding_window``. SentencePiece
(tokenizer.model) with ``add_space_prefix`` false.

**Gemma 3** (``Gemma3ForCausalLM``, and the language model of
``Gemma3ForConditionalGeneration``: ``language_model.`` dropped from the
names, ``text_config`` read as the top level, the SigLIP vision tower and the
multimodal projector left out — llama.cpp writes them to a separate mmproj
file): norms + 1 as Gemma 2; the embedding keeps only its first
``n_vocab_real`` rows (the tokenizer's size: tokenizer.model's token count
padded to ``vocab_size``, else tokenizer.json's vocabulary plus added tokens);
the generic metadata, then context length, heads, RMS epsilon, key/value
length, ``rope.freq_base`` (full-attention layers), the final logit soft-cap
when set, ``attention.sliding_window`` (unless ``sliding_window_pattern`` is
1) and the KV heads, each written over the generic key in its place.
Hyper-parameters go through transformers' ``Gemma3TextConfig`` defaults —
including heads (8), KV heads (4), ``head_dim`` (256) and ``vocab_size``
(262208), which the real 4B/12B/27B configs leave to it (the tensor shape
checks still hold every tensor to them). ``attn_logit_softcapping`` must be
unset. SentencePiece without a space prefix when tokenizer.model exists,
else byte-level BPE (a Gemma-style tokenizer.json, Metaspace-like, matches
none of Wick's pre-tokenizer rules there and is refused with a
:class:`~wick.convert.errors.UnsupportedTokenizerError`; every Google Gemma 3
repository ships tokenizer.model).

**Gemma 4** (``Gemma4ForCausalLM``, and the language model of
``Gemma4ForConditionalGeneration``; vision/audio towers and ``embed_vision``
left out): norms are *not* shifted; ``layer_scalar`` → ``blk.N.layer_output_scale``;
sliding layers use ``head_dim`` and ``num_key_value_heads``, full layers
``global_head_dim`` and ``num_global_key_value_heads`` (with
``attention_k_eq_v`` they have no ``v_proj``). After Gemma 3's keys:
``attention.shared_kv_layers``, ``embedding_length_per_layer_input``,
``attention.sliding_window_pattern`` (from ``layer_types``), key/value length
(full) and ``_swa`` (sliding), the per-layer feed-forward length when
``use_double_wide_mlp``, ``attention.head_count_kv`` as a per-layer array,
``rope.dimension_count`` (full head dim) and ``rope.dimension_count_swa``.
A ``rope_freqs`` tensor comes first: 1.0 for the rotated half-dimensions of
the full layers' proportional RoPE, 1e30 for the others. Per-layer-embedding
tensors (``embed_tokens_per_layer``, ``per_layer_model_projection``,
``per_layer_projection_norm``, per block ``per_layer_input_gate`` /
``per_layer_projection`` / ``post_per_layer_input_norm``) are renamed by
llama.cpp's map. transformers 4.57.6 does not know ``gemma4``, so the converter
reads config.json as it is (no defaults), as here. The tokenizer is
tokenizer.json read as Gemma 4 does (model ``gemma4``, merges, no ``pre``; see
:mod:`wick.convert.tokenizer`), then ``add_space_prefix`` false and
``add_bos_token`` true.

Gemma 4 mixture-of-experts checkpoints (``enable_moe_block``, e.g. 26B-A4B;
``num_experts``, ``top_k_experts`` and ``moe_intermediate_size`` required)
keep the dense MLP beside the experts: ``experts.gate_up_proj`` /
``experts.down_proj`` (stored without ``.weight``) → ``ffn_gate_up_exps`` /
``ffn_down_exps``, ``router.proj`` → ``ffn_gate_inp``, ``router.scale`` →
``ffn_gate_inp.scale``, ``router.per_expert_scale`` → ``ffn_down_exps.scale``
(both F32), the extra norms by llama.cpp's map; ``expert_count``,
``expert_used_count`` and ``expert_feed_forward_length`` are written. Refused:
an NVFP4 (ModelOpt / compressed-tensors) Gemma 4 mixture of experts, whose
per-expert scales the converter folds into the experts' ``weight_scale_2``.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple

import numpy as np

from ...gguf import values as V
from ..errors import ConfigError, ExportError, MissingTensorError, TensorShapeError, UnsupportedArchitectureError
from ..lazy import LazyTensor
from ..tokenizer import parse_sentencepiece, special_vocab
from . import register
from ._base import CONFIG, Adapter, HParams, MappedTensor, _int, _num, f32_value

# transformers 4.57.6 Gemma2Config defaults (structural sizes, head_dim and KV heads are not defaulted)
_GEMMA2 = {"max_position_embeddings": 8192, "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "sliding_window": 4096,
           "final_logit_softcapping": 30.0, "attn_logit_softcapping": 50.0}
# transformers 4.57.6 Gemma3TextConfig defaults (hidden size, layers and feed-forward size are not defaulted)
_GEMMA3 = {"num_attention_heads": 8, "num_key_value_heads": 4, "head_dim": 256, "vocab_size": 262_208,
           "max_position_embeddings": 131_072, "rms_norm_eps": 1e-6, "rope_theta": 1_000_000.0,
           "sliding_window": 4096, "final_logit_softcapping": None, "attn_logit_softcapping": None,
           "rope_scaling": None, "rope_local_base_freq": 10_000.0, "use_bidirectional_attention": False}


def _kinds(arch: str) -> Any:
    from ..gguf_names import arch_tensors
    return arch_tensors(arch)


def _put(kvs: List[V.KV], kv: V.KV) -> None:
    """GGUFWriter's add: a key already written takes the new value in its place; a new key is appended."""
    for i, old in enumerate(kvs):
        if old.key == kv.key:
            kvs[i] = kv
            return
    kvs.append(kv)


def _need(config: Dict[str, Any], key: str, what: str = "") -> Any:
    if config.get(key) is None:
        where = f" ({what})" if what else ""
        raise ConfigError(f"convert: {CONFIG}: missing required key {key!r}{where}", CONFIG)
    return config[key]


class _GemmaBase(Adapter):
    """What the Gemma adapters share: norms + 1 (``norm_shift``), the embedding trimmed to the tokenizer."""

    norm_shift = 1.0
    trims_embedding = True

    def readers(self, files: Any) -> Tuple[str, ...]:
        # the tokenizer files also size the embedding (``_n_vocab_real``): keep them for map_tensors
        self._tok_files = files
        return self.vocab_readers

    def _n_vocab_real(self, config: Dict[str, Any]) -> Optional[int]:
        """``Gemma3Model.modify_tensors``' ``n_vocab_real``: the embedding rows kept (None: keep all)."""
        files = getattr(self, "_tok_files", None)
        if files is None:
            return None
        if files.tokenizer_model is not None:
            for k in ("vocab_size_per_layer_input", "vocab_size"):  # find_hparam, then the model's own size
                if k in config:
                    if config[k]:
                        return _int(k, config[k], 1)
                    break
            return len(parse_sentencepiece(files.tokenizer_model))
        tj = files.tokenizer_json
        if tj is None:
            return None
        model = tj.get("model") if isinstance(tj.get("model"), dict) else {}
        vocab, added = model.get("vocab"), tj.get("added_tokens")
        if not isinstance(vocab, dict) or not isinstance(added, list):
            return None
        return len(vocab) + len(added)

    def modify_tensors(self, t: LazyTensor, name: str, bid: Optional[int]) -> Iterable[Tuple[str, LazyTensor]]:
        if self.trims_embedding and "embed_tokens.weight" in name:
            n = self._n_vocab_real(self.config)
            if n is not None:
                t = t[:n]
        if self.norm_shift and name.endswith("norm.weight"):
            t = t + self.norm_shift
        return super().modify_tensors(t, name, bid)

    def tokenizer_quirks(self, files: Any, config: Dict[str, Any], vocab_size: Optional[int], kvs: Any) -> None:
        if files.tokenizer_model is not None:
            kvs.add(V.boolean("tokenizer.ggml.add_space_prefix", False))

    def expected_shapes(self, hp: HParams, n_vocab: int) -> Dict[str, Tuple[int, ...]]:
        shapes = super().expected_shapes(hp, n_vocab)
        del shapes["FFN_NORM"]
        e = hp.n_embd
        shapes.update({"ATTN_POST_NORM": (e,), "FFN_PRE_NORM": (e,), "FFN_POST_NORM": (e,)})
        return shapes

    def required_kinds(self, hp: HParams) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
        return ("TOKEN_EMBD", "OUTPUT_NORM"), ("ATTN_NORM", "ATTN_Q", "ATTN_K", "ATTN_V", "ATTN_OUT", "ATTN_POST_NORM",
                                               "FFN_PRE_NORM", "FFN_GATE", "FFN_UP", "FFN_DOWN", "FFN_POST_NORM")

    # ------------------------------------------------------------ export-hf
    #: the block count llama.cpp takes for the 27B model, whose queries it scales by
    #: 1/sqrt(hidden_size / heads) instead of 1/sqrt(head_dim) (None: no such rule)
    layers_27b: Optional[int] = None
    hf_tensor_names = {
        **Adapter.hf_tensor_names, "ATTN_POST_NORM": "model.layers.{bid}.post_attention_layernorm",
        "FFN_PRE_NORM": "model.layers.{bid}.pre_feedforward_layernorm",
        "FFN_POST_NORM": "model.layers.{bid}.post_feedforward_layernorm",
    }

    def export_class(self, md: Mapping[str, Any], tensors: Mapping[str, Tuple[int, ...]]) -> Optional[str]:
        return self.hf_architectures[0]

    def export_tokenizer_class(self, ggml_model: str) -> str:
        return "GemmaTokenizerFast" if ggml_model == "llama" else super().export_tokenizer_class(ggml_model)

    def export_config(self, md: Mapping[str, Any], tensors: Mapping[str, Tuple[int, ...]], hf_class: str,
                      read: Callable[[str], np.ndarray]) -> Dict[str, Any]:
        """The generic keys and ``query_pre_attn_scalar`` as llama.cpp scales the queries (the file has
        no key for it): ``head_dim``, or hidden_size / heads for the 27B model (:attr:`layers_27b`
        blocks), as Gemma's own configs have it."""
        cfg = super().export_config(md, tensors, hf_class, read)
        if self.layers_27b is not None:
            cfg["query_pre_attn_scalar"] = (cfg["hidden_size"] // cfg["num_attention_heads"]
                                            if cfg["num_hidden_layers"] == self.layers_27b else cfg["head_dim"])
        return cfg


@register
class Gemma2Adapter(_GemmaBase):
    """Gemma2ForCausalLM → ``gemma2``."""

    name = "gemma2"
    hf_architectures = ("Gemma2ForCausalLM",)
    gguf_arch = "gemma2"
    summary = "Gemma 2; norms + 1, attention and final logit soft-capping, sliding window; SentencePiece"
    vocab_readers = ("spm",)
    config_defaults = _GEMMA2
    trims_embedding = False

    def normalize_config(self, config: Dict[str, Any]) -> Dict[str, Any]:
        for key in ("num_key_value_heads", "head_dim"):
            _need(config, key)
        return super().normalize_config(config)

    def filter_tensor(self, name: str) -> Optional[str]:
        if name == "lm_head.weight":  # tied; llama.cpp does not use it
            return None
        return super().filter_tensor(name)

    def tokenizer_quirks(self, files: Any, config: Dict[str, Any], vocab_size: Optional[int], kvs: Any) -> None:
        kvs.add(V.boolean("tokenizer.ggml.add_space_prefix", False))

    def _common_keys(self, config: Dict[str, Any], hp: HParams, file_type: int) -> List[V.KV]:
        """The keys Gemma 1 and Gemma 2 write alike, ending with the file type."""
        a = self.gguf_arch
        for key in ("max_position_embeddings", "rms_norm_eps"):
            _need(config, key)
        return [
            V.u32(f"{a}.context_length", _int("max_position_embeddings", config["max_position_embeddings"])),
            V.u32(f"{a}.embedding_length", hp.n_embd),
            V.u32(f"{a}.block_count", hp.n_layer),
            V.u32(f"{a}.feed_forward_length", hp.n_ff),
            V.u32(f"{a}.attention.head_count", hp.n_head),
            V.u32(f"{a}.attention.head_count_kv", hp.n_head_kv),
            V.f32(f"{a}.attention.layer_norm_rms_epsilon", _num("rms_norm_eps", config["rms_norm_eps"])),
            V.u32(f"{a}.attention.key_length", hp.head_dim),
            V.u32(f"{a}.attention.value_length", hp.head_dim),
            V.u32("general.file_type", file_type),
        ]

    def metadata(self, config: Dict[str, Any], hp: HParams, file_type: int) -> List[V.KV]:
        """``Gemma2Model.set_gguf_parameters`` (it does not call the generic one)."""
        a = self.gguf_arch
        kv = self._common_keys(config, hp, file_type)
        for key in ("attn_logit_softcapping", "final_logit_softcapping", "sliding_window"):
            _need(config, key)
        return kv + [
            V.f32(f"{a}.attn_logit_softcapping", _num("attn_logit_softcapping", config["attn_logit_softcapping"])),
            V.f32(f"{a}.final_logit_softcapping", _num("final_logit_softcapping", config["final_logit_softcapping"])),
            V.u32(f"{a}.attention.sliding_window", _int("sliding_window", config["sliding_window"])),
        ]

    def expected_shapes(self, hp: HParams, n_vocab: int) -> Dict[str, Tuple[int, ...]]:
        shapes = super().expected_shapes(hp, n_vocab)
        for k in ("ATTN_Q_NORM", "ATTN_K_NORM"):
            shapes.pop(k, None)
        return shapes

    model_types = {"Gemma2ForCausalLM": "gemma2"}
    layers_27b = 46

    def export_config(self, md: Mapping[str, Any], tensors: Mapping[str, Tuple[int, ...]], hf_class: str,
                      read: Callable[[str], np.ndarray]) -> Dict[str, Any]:
        """Gemma's keys, the two soft-caps and the sliding window; ``rope_theta`` 10000, which the
        file does not hold (the converter writes no RoPE base; llama.cpp's default is 10000)."""
        a = self.gguf_arch
        cfg = super().export_config(md, tensors, hf_class, read)
        cfg.setdefault("rope_theta", 10000.0)
        for key in ("attn_logit_softcapping", "final_logit_softcapping"):
            if md.get(f"{a}.{key}") is not None:
                cfg[key] = f32_value(md[f"{a}.{key}"])
        if md.get(f"{a}.attention.sliding_window") is not None:
            cfg["sliding_window"] = int(md[f"{a}.attention.sliding_window"])
        return cfg


@register
class GemmaAdapter(Gemma2Adapter):
    """GemmaForCausalLM (Gemma 1, 1.1, CodeGemma) → ``gemma``."""

    name = "gemma"
    hf_architectures = ("GemmaForCausalLM",)
    gguf_arch = "gemma"
    summary = "Gemma 1, 1.1, CodeGemma; norms + 1; SentencePiece, CodeGemma's end-of-turn id"
    config_defaults = {"max_position_embeddings": 8192, "rms_norm_eps": 1e-6, "rope_theta": 10000.0}

    def tokenizer_quirks(self, files: Any, config: Dict[str, Any], vocab_size: Optional[int], kvs: Any) -> None:
        """``GemmaModel.set_vocab``: a second SpecialVocab pass for CodeGemma's infill tokens, of which
        the pinned gguf-py writes only ``eot`` (107 unless the files name it); then no space prefix."""
        sv = special_vocab(files, config, load_merges=False, types=("prefix", "suffix", "middle", "fsep", "eot"))
        for typ, tid in (("prefix", 67), ("suffix", 69), ("middle", 68), ("fsep", 70), ("eot", 107)):
            sv.special_token_ids.setdefault(typ, tid)
        sv.chat_template = None  # not written twice
        for kv in sv.kvs():
            kvs.add(kv)
        kvs.add(V.boolean("tokenizer.ggml.add_space_prefix", False))

    def metadata(self, config: Dict[str, Any], hp: HParams, file_type: int) -> List[V.KV]:
        """``GemmaModel.set_gguf_parameters``: Gemma 2's keys without soft-capping and sliding window."""
        return self._common_keys(config, hp, file_type)

    def expected_shapes(self, hp: HParams, n_vocab: int) -> Dict[str, Tuple[int, ...]]:
        shapes = Adapter.expected_shapes(self, hp, n_vocab)
        for k in ("ATTN_Q_NORM", "ATTN_K_NORM", "OUTPUT"):
            shapes.pop(k, None)
        return shapes

    def required_kinds(self, hp: HParams) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
        return Adapter.required_kinds(self, hp)

    # ------------------------------------------------------------ export-hf
    model_types = {"GemmaForCausalLM": "gemma"}
    layers_27b = None  # Gemma 1 scales the queries by 1/sqrt(head_dim), as llama.cpp does

    def export_tokenizer_config(self, md: Mapping[str, Any], tc: Dict[str, Any]) -> None:
        """``eot_token`` when the file's end-of-turn id is not the converter's default 107 (the tokenizer
        files named it: :meth:`tokenizer_quirks` reads it back from there)."""
        eot, tokens = md.get("tokenizer.ggml.eot_token_id"), md.get("tokenizer.ggml.tokens") or []
        if eot is not None and int(eot) != 107 and int(eot) < len(tokens):
            tc["eot_token"] = tokens[int(eot)]


@register
class Gemma3Adapter(_GemmaBase):
    """Gemma3ForCausalLM / Gemma3ForConditionalGeneration → ``gemma3``."""

    name = "gemma3"
    hf_architectures = ("Gemma3ForCausalLM", "Gemma3ForConditionalGeneration")
    gguf_arch = "gemma3"
    notes = {"Gemma3ForCausalLM": "Gemma 3 (1B, text); norms + 1, q/k norms, sliding window with local RoPE base; "
                                  "SentencePiece without space prefix",
             "Gemma3ForConditionalGeneration": "text model only (Gemma 3 4B/12B/27B); the SigLIP vision tower and "
                                               "projector are left out (llama.cpp writes them to an mmproj file)"}

    def readers(self, files: Any) -> Tuple[str, ...]:
        """``Gemma3Model.set_vocab``: SentencePiece when tokenizer.model exists, else byte-level BPE."""
        super().readers(files)
        return ("spm",) if files.tokenizer_model is not None else ("gpt2",)

    def normalize_config(self, config: Dict[str, Any]) -> Dict[str, Any]:
        self.config_defaults = _GEMMA3
        cfg = super().normalize_config(config)
        if cfg.get("use_bidirectional_attention") and isinstance(cfg.get("sliding_window"), int):
            cfg["sliding_window"] = cfg["sliding_window"] // 2 + 1  # Gemma3TextConfig does this
        return cfg

    def metadata(self, config: Dict[str, Any], hp: HParams, file_type: int) -> List[V.KV]:
        a = self.gguf_arch
        kv = super().metadata(config, hp, file_type)
        if config.get("attn_logit_softcapping") is not None:
            raise ConfigError(f"convert: {CONFIG}: 'attn_logit_softcapping' is set; Gemma 3 has none "
                              "(llama.cpp's converter asserts it is null)", CONFIG)
        rp = self.rope_parameters(config)
        theta = rp.get("full_attention", rp).get("rope_theta", 1_000_000.0)
        _put(kv, V.u32(f"{a}.context_length", _int("max_position_embeddings", config.get("max_position_embeddings", 131072))))
        _put(kv, V.u32(f"{a}.attention.head_count", _int("num_attention_heads", config.get("num_attention_heads", 8))))
        _put(kv, V.f32(f"{a}.attention.layer_norm_rms_epsilon", _num("rms_norm_eps", config.get("rms_norm_eps", 1e-6))))
        head_dim = _int("head_dim", config.get("head_dim", 256))
        _put(kv, V.u32(f"{a}.attention.key_length", head_dim))
        _put(kv, V.u32(f"{a}.attention.value_length", head_dim))
        _put(kv, V.f32(f"{a}.rope.freq_base", _num("rope_theta", theta)))
        softcap = config.get("final_logit_softcapping")
        if softcap:
            _put(kv, V.f32(f"{a}.final_logit_softcapping", _num("final_logit_softcapping", softcap)))
        if config.get("sliding_window_pattern") != 1:
            _put(kv, V.u32(f"{a}.attention.sliding_window", _int("sliding_window", _need(config, "sliding_window"))))
        _put(kv, V.u32(f"{a}.attention.head_count_kv", _int("num_key_value_heads", config.get("num_key_value_heads", 4))))
        return kv

    def required_kinds(self, hp: HParams) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
        glob, per_block = super().required_kinds(hp)
        return glob, per_block + ("ATTN_Q_NORM", "ATTN_K_NORM")

    # ------------------------------------------------------------ export-hf
    model_types = {"Gemma3ForCausalLM": "gemma3_text"}
    layers_27b = 62

    def export_config(self, md: Mapping[str, Any], tensors: Mapping[str, Tuple[int, ...]], hf_class: str,
                      read: Callable[[str], np.ndarray]) -> Dict[str, Any]:
        """Gemma's keys, the local RoPE base, the final soft-cap (null when the file has none), and
        the sliding window with llama.cpp's pattern: every 6th layer global when the file has a window
        (``sliding_window_pattern`` 6), else none (1). A Gemma3ForConditionalGeneration file is
        written as its language model, Gemma3ForCausalLM."""
        a = self.gguf_arch
        cfg = super().export_config(md, tensors, hf_class, read)
        if md.get(f"{a}.rope.freq_base_swa") is not None:
            cfg["rope_local_base_freq"] = f32_value(md[f"{a}.rope.freq_base_swa"])
        soft = md.get(f"{a}.final_logit_softcapping")
        cfg["final_logit_softcapping"] = None if soft is None else f32_value(soft)
        cfg["attn_logit_softcapping"] = None
        window = md.get(f"{a}.attention.sliding_window")
        if window is not None and int(window) > 0:
            cfg["sliding_window"], cfg["sliding_window_pattern"] = int(window), 6
        else:
            cfg["sliding_window_pattern"] = 1
        return cfg


@register
class Gemma4Adapter(Gemma3Adapter):
    """Gemma4ForCausalLM / Gemma4ForConditionalGeneration → ``gemma4``."""

    name = "gemma4"
    hf_architectures = ("Gemma4ForCausalLM", "Gemma4ForConditionalGeneration")
    gguf_arch = "gemma4"
    notes = {"Gemma4ForCausalLM": "Gemma 4 (dense, or experts beside the MLP); sliding/full layers with their own "
                                  "head sizes and KV heads, proportional RoPE factors, layer output scale, per-layer "
                                  "embeddings",
             "Gemma4ForConditionalGeneration": "text model only (dense or mixture of experts); the vision/audio "
                                               "towers are left out"}
    norm_shift = 0.0
    vocab_readers = ("gemma4",)

    def readers(self, files: Any) -> Tuple[str, ...]:
        _GemmaBase.readers(self, files)
        return self.vocab_readers

    def normalize_config(self, config: Dict[str, Any]) -> Dict[str, Any]:
        # transformers 4.57.6 does not know gemma4: the converter reads config.json as it is
        if config.get("enable_moe_block"):
            for key in ("num_experts", "top_k_experts", "moe_intermediate_size"):
                _need(config, key, "enable_moe_block is set")
        for key in ("num_kv_shared_layers", "layer_types", "head_dim", "num_key_value_heads"):
            _need(config, key)
        if not isinstance(config["layer_types"], list):
            raise ConfigError(f"convert: {CONFIG}: 'layer_types' must be a list, got {config['layer_types']!r}", CONFIG)
        n = config.get("num_hidden_layers")
        if isinstance(n, int) and len(config["layer_types"]) != n:
            raise ConfigError(f"convert: {CONFIG}: 'layer_types' has {len(config['layer_types'])} entries for "
                              f"num_hidden_layers={n}", CONFIG)
        return dict(config)

    def tokenizer_quirks(self, files: Any, config: Dict[str, Any], vocab_size: Optional[int], kvs: Any) -> None:
        kvs.add(V.boolean("tokenizer.ggml.add_space_prefix", False))
        kvs.add(V.boolean("tokenizer.ggml.add_bos_token", True))

    # ------------------------------------------------------------- per layer
    def _full_value(self, config: Dict[str, Any], top: str, per_layer: str) -> Optional[int]:
        """``global_head_dim`` / ``num_global_key_value_heads``, else the first full layer's
        ``per_layer_config`` entry (as the converter looks them up)."""
        v = config.get(top)
        if v is not None:
            return v
        plc = config.get("per_layer_config")
        if isinstance(plc, dict):
            types = config.get("layer_types", [])
            for idx, lc in plc.items():
                i = int(idx)
                if i < len(types) and types[i] == "full_attention" and isinstance(lc, dict) and per_layer in lc:
                    return lc[per_layer]
        return None

    def _head_dim_full(self, config: Dict[str, Any]) -> int:
        hd = self._full_value(config, "global_head_dim", "head_dim")
        if hd is None:
            raise ConfigError(f"convert: {CONFIG}: missing required key 'global_head_dim' (the full-attention "
                              "layers' head size)", CONFIG)
        return _int("global_head_dim", hd, 2)

    def _swa(self, config: Dict[str, Any]) -> List[bool]:
        return [t == "sliding_attention" for t in config["layer_types"]]

    def _layer(self, bid: int) -> Tuple[int, int, int]:
        """(head_dim, KV heads, feed-forward size) of block ``bid``."""
        cfg, hp = self.config, self.hp
        swa = self._swa(cfg)
        full = bid < len(swa) and not swa[bid]
        hd = self._head_dim_full(cfg) if full else hp.head_dim
        kv_full = self._full_value(cfg, "num_global_key_value_heads", "num_key_value_heads")
        n_kv = kv_full if (full and kv_full is not None) else hp.n_head_kv
        ff = hp.n_ff
        if cfg.get("use_double_wide_mlp") and bid >= hp.n_layer - cfg["num_kv_shared_layers"]:
            ff *= 2
        return hd, n_kv, ff

    def metadata(self, config: Dict[str, Any], hp: HParams, file_type: int) -> List[V.KV]:
        a = self.gguf_arch
        kv = super().metadata(config, hp, file_type)
        n_shared = _int("num_kv_shared_layers", config["num_kv_shared_layers"])
        _put(kv, V.u32(f"{a}.attention.shared_kv_layers", n_shared))
        _put(kv, V.u32(f"{a}.embedding_length_per_layer_input",
                       _int("hidden_size_per_layer_input", config.get("hidden_size_per_layer_input") or 0)))
        swa = self._swa(config)
        _put(kv, V.array(f"{a}.attention.sliding_window_pattern", V.ValueType.BOOL, swa))
        hd_full, hd_swa = self._head_dim_full(config), hp.head_dim
        _put(kv, V.u32(f"{a}.attention.key_length", hd_full))
        _put(kv, V.u32(f"{a}.attention.value_length", hd_full))
        _put(kv, V.u32(f"{a}.attention.key_length_swa", hd_swa))
        _put(kv, V.u32(f"{a}.attention.value_length_swa", hd_swa))
        expert_ff = next((config[k] for k in ("expert_intermediate_size", "moe_intermediate_size") if k in config), None)
        if expert_ff is not None:
            _put(kv, V.u32(f"{a}.expert_feed_forward_length", _int("moe_intermediate_size", expert_ff)))
        if config.get("use_double_wide_mlp"):
            first_shared = hp.n_layer - n_shared
            _put(kv, V.array(f"{a}.feed_forward_length", V.ValueType.INT32,
                             [hp.n_ff if i < first_shared else hp.n_ff * 2 for i in range(hp.n_layer)]))
        kv_full = self._full_value(config, "num_global_key_value_heads", "num_key_value_heads")
        if kv_full is not None:
            kv_full = _int("num_global_key_value_heads", kv_full, 1)
            _put(kv, V.array(f"{a}.attention.head_count_kv", V.ValueType.INT32,
                             [hp.n_head_kv if s else kv_full for s in swa]))
        rp = self.rope_parameters(config)
        prf = rp.get("partial_rotary_factor", 1.0)
        _put(kv, V.u32(f"{a}.rope.dimension_count", hd_full))
        _put(kv, V.u32(f"{a}.rope.dimension_count_swa", int(hd_swa * _num("partial_rotary_factor", prf))))
        return kv

    def extra_tensors(self, config: Dict[str, Any], hp: HParams) -> List[MappedTensor]:
        """``rope_freqs``: the full layers' proportional RoPE as per-frequency factors."""
        rp = config.get("rope_parameters")
        full = rp.get("full_attention") if isinstance(rp, dict) else None
        if not isinstance(full, dict) or full.get("rope_type") != "proportional":
            raise ConfigError(f"convert: {CONFIG}: Gemma 4 needs rope_parameters.full_attention with rope_type "
                              f"'proportional' (llama.cpp's converter asserts it), got {full!r}", CONFIG)
        hd = self._head_dim_full(config)
        prf = _num("rope_parameters.full_attention.partial_rotary_factor", _need(full, "partial_rotary_factor",
                                                                                 "in rope_parameters.full_attention"))
        n_rot = int(hd * prf / 2)
        n_unrot = int(hd / 2) - n_rot
        data = np.array([1.0] * n_rot + [1e30] * n_unrot, dtype=np.float32)
        return [MappedTensor(self.tensor_name("ROPE_FREQS"), [], [len(data)], data=data, force_type="F32")]

    def filter_tensor(self, name: str) -> Optional[str]:
        if name.endswith(("per_dim_scale", "layer_scalar")):
            name = name + ".weight"
        if ".experts." in name and not name.endswith((".weight", ".weight_scale", ".weight_scale_2", ".input_scale")):
            name += ".weight"
        return super().filter_tensor(name)

    def modify_tensors(self, t: LazyTensor, name: str, bid: Optional[int]) -> Iterable[Tuple[str, LazyTensor]]:
        if bid is not None and name.endswith("router.scale"):
            return [(self.tensor_name("FFN_GATE_INP", bid, ".scale"), t)]
        if bid is not None and ".per_expert_scale" in name:
            if any(getattr(src.decode, "passthrough", "") == "NVFP4" for src in self._sources.values()):
                raise UnsupportedArchitectureError(
                    f"convert: {self._file_of(t.name)}: tensor {t.name!r}: llama.cpp's converter folds Gemma 4's "
                    "per-expert scales into the NVFP4 experts' weight_scale_2, which Wick does not do; NVFP4 Gemma 4 "
                    "mixture-of-experts checkpoints are not supported")
            return [(self.tensor_name("FFN_DOWN_EXP", bid, ".scale"), t)]
        out = list(super().modify_tensors(t, name, bid))
        if bid is not None:
            hd, n_kv, ff = self._layer(bid)
            e, q = self.hp.n_embd, self.hp.n_head * hd
            want = {"ATTN_Q": (q, e), "ATTN_K": (n_kv * hd, e), "ATTN_V": (n_kv * hd, e), "ATTN_OUT": (e, q),
                    "ATTN_Q_NORM": (hd,), "ATTN_K_NORM": (hd,), "FFN_GATE": (ff, e), "FFN_UP": (ff, e),
                    "FFN_DOWN": (e, ff)}
            if self.hp.n_expert:
                x, fe = self.hp.n_expert, _int("moe_intermediate_size", self.config["moe_intermediate_size"], 1)
                want.update({"FFN_GATE_INP": (x, e), "FFN_GATE_UP_EXP": (x, 2 * fe, e), "FFN_DOWN_EXP": (x, e, fe)})
            for new_name, lt in out:
                kind = self._kind_of(new_name, bid)
                if kind in want and tuple(lt.shape) != want[kind]:
                    raise TensorShapeError(
                        f"convert: {self._file_of(lt.name)}: tensor {lt.name!r} ({new_name}) has shape "
                        f"{list(lt.shape)}; expected {list(want[kind])} from config.json (layer {bid}: "
                        f"{'sliding' if self._swa(self.config)[bid] else 'full'} attention)")
        return out

    def expected_shapes(self, hp: HParams, n_vocab: int) -> Dict[str, Tuple[int, ...]]:
        shapes = super().expected_shapes(hp, n_vocab)
        for k in ("ATTN_Q", "ATTN_K", "ATTN_V", "ATTN_OUT", "ATTN_Q_NORM", "ATTN_K_NORM", "FFN_GATE", "FFN_UP",
                  "FFN_DOWN", "FFN_GATE_INP", "FFN_GATE_UP_EXP", "FFN_DOWN_EXP"):
            shapes.pop(k, None)  # per layer: checked in modify_tensors
        return shapes

    def required_kinds(self, hp: HParams) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
        glob, per_block = super().required_kinds(hp)
        return glob, tuple(k for k in per_block if k not in ("ATTN_K", "ATTN_V", "ATTN_K_NORM"))

    # ------------------------------------------------------------ export-hf
    model_types = {"Gemma4ForCausalLM": "gemma4_text"}
    layers_27b = None
    hf_tensor_names = {**_GemmaBase.hf_tensor_names, "FFN_NORM": "model.layers.{bid}.pre_feedforward_layernorm",
                       "FFN_PRE_NORM": "model.layers.{bid}.pre_feedforward_layernorm",
                       "LAYER_OUT_SCALE": "model.layers.{bid}.layer_scalar",
                       "FFN_GATE_INP": "model.layers.{bid}.router.proj",
                       "FFN_GATE_UP_EXP": "model.layers.{bid}.experts.gate_up_proj",
                       "FFN_DOWN_EXP": "model.layers.{bid}.experts.down_proj"}

    def export_class(self, md: Mapping[str, Any], tensors: Mapping[str, Tuple[int, ...]]) -> Optional[str]:
        """Gemma4ForCausalLM (a Gemma4ForConditionalGeneration file is its text model)."""
        return "Gemma4ForCausalLM"

    def export_tokenizer_class(self, ggml_model: str) -> str:
        return "GemmaTokenizerFast"

    def export_config(self, md: Mapping[str, Any], tensors: Mapping[str, Tuple[int, ...]], hf_class: str,
                      read: Callable[[str], np.ndarray]) -> Dict[str, Any]:
        """The inverse of :meth:`metadata`: the sliding and full layers' head sizes and KV heads (from
        the per-layer array), ``layer_types`` from the sliding-window pattern, ``attention_k_eq_v`` from
        the full layers without ``attn_v``, the KV-shared layers, the double-wide MLP, and
        ``rope_parameters`` with the full layers' ``partial_rotary_factor`` read off ``rope_freqs``
        (its 1.0 entries; the tensor is then checked by recomputing it)."""
        a = self.gguf_arch
        kv_arr = md.get(f"{a}.attention.head_count_kv")
        ff_arr = md.get(f"{a}.feed_forward_length")
        swa = [bool(x) for x in md[f"{a}.attention.sliding_window_pattern"]]
        flat = dict(md)
        if isinstance(kv_arr, list):
            flat[f"{a}.attention.head_count_kv"] = next((k for k, s in zip(kv_arr, swa) if s), kv_arr[0])
        if isinstance(ff_arr, list):
            flat[f"{a}.feed_forward_length"] = ff_arr[0]
        cfg = Adapter.export_config(self, flat, tensors, hf_class, read)
        n = cfg["num_hidden_layers"]
        hd_full, hd_swa = int(md[f"{a}.attention.key_length"]), int(md[f"{a}.attention.key_length_swa"])
        cfg["head_dim"], cfg["global_head_dim"] = hd_swa, hd_full
        cfg["layer_types"] = ["sliding_attention" if s else "full_attention" for s in swa]
        if isinstance(kv_arr, list):
            cfg["num_global_key_value_heads"] = next((k for k, s in zip(kv_arr, swa) if not s), kv_arr[0])
        n_shared = int(md.get(f"{a}.attention.shared_kv_layers", 0))
        cfg["num_kv_shared_layers"] = n_shared
        cfg["attention_k_eq_v"] = any(not swa[b] and self.tensor_name("ATTN_V", b) not in tensors
                                      for b in range(n - n_shared))
        cfg["use_double_wide_mlp"] = isinstance(ff_arr, list) and len(set(ff_arr)) > 1
        cfg["hidden_size_per_layer_input"] = int(md.get(f"{a}.embedding_length_per_layer_input", 0))
        per_layer = self.tensor_name("PER_LAYER_TOKEN_EMBD") if "PER_LAYER_TOKEN_EMBD" in _kinds(a) else None
        cfg["vocab_size_per_layer_input"] = int(tensors[per_layer][0]) if per_layer in tensors else cfg["vocab_size"]
        if md.get(f"{a}.attention.sliding_window") is not None:
            cfg["sliding_window"] = int(md[f"{a}.attention.sliding_window"])
        soft = md.get(f"{a}.final_logit_softcapping")
        cfg["final_logit_softcapping"] = None if soft is None else f32_value(soft)
        freqs = read(self.tensor_name("ROPE_FREQS"))
        full = {"partial_rotary_factor": 2 * int(np.count_nonzero(freqs == 1.0)) / hd_full,
                "rope_theta": cfg.pop("rope_theta", 10000.0), "rope_type": "proportional"}
        cfg["rope_parameters"] = {"full_attention": full, "sliding_attention": {
            "rope_theta": f32_value(md.get(f"{a}.rope.freq_base_swa", 10000.0)), "rope_type": "default"}}
        rot_swa = int(md.get(f"{a}.rope.dimension_count_swa", hd_swa))
        if rot_swa != hd_swa:
            cfg["rope_parameters"]["partial_rotary_factor"] = rot_swa / hd_swa
        cfg["enable_moe_block"] = "num_local_experts" in cfg
        cfg["num_experts"] = cfg.pop("num_local_experts", None)
        cfg["top_k_experts"] = cfg.pop("num_experts_per_tok", None)
        ff_exp = md.get(f"{a}.expert_feed_forward_length")
        cfg["moe_intermediate_size"] = None if ff_exp is None else int(ff_exp)
        cfg["tie_word_embeddings"] = True
        return cfg

    def export_listing(self, tensors: Mapping[str, Tuple[int, ...]], hp: HParams) -> Dict[str, Tuple[int, ...]]:
        """The base listing, with ``layer_scalar`` and ``per_dim_scale`` under their checkpoint names
        (stored without ``.weight``)."""
        scales = {n: s for n, s in tensors.items() if n.endswith(".scale")}
        out = {(n[:-len(".weight")] if n.endswith(("layer_scalar.weight", "per_dim_scale.weight")) or
                ".experts." in n else n): s
               for n, s in super().export_listing({n: s for n, s in tensors.items() if n not in scales}, hp).items()}
        for name, shape in scales.items():  # the router's scales (mixture of experts)
            bid = int(name.split(".")[1])
            if name == self.tensor_name("FFN_GATE_INP", bid, ".scale"):
                out[f"model.layers.{bid}.router.scale"] = tuple(shape)
            elif name == self.tensor_name("FFN_DOWN_EXP", bid, ".scale"):
                out[f"model.layers.{bid}.router.per_expert_scale"] = tuple(shape)
            else:
                raise ExportError(f"export-hf: GGUF tensor {name!r} is not a tensor of architecture {self.gguf_arch!r}")
        return out

    def _check_complete(self, out: List[MappedTensor], hp: HParams) -> None:
        super()._check_complete(out, hp)
        names = {t.name for t in out}
        swa = self._swa(self.config)
        first_shared = hp.n_layer - int(self.config["num_kv_shared_layers"])
        for bid in range(hp.n_layer):
            if self.tensor_name("FFN_GATE_INP", bid) not in names:
                continue
            kinds = ["FFN_DOWN_EXP", "FFN_PRE_NORM_2", "FFN_POST_NORM_1", "FFN_POST_NORM_2"]
            if self.tensor_name("FFN_GATE_UP_EXP", bid) not in names:
                kinds += ["FFN_GATE_EXP", "FFN_UP_EXP"]
            for k in kinds:
                want = self.tensor_name(k, bid)
                if want not in names:
                    raise MissingTensorError(f"convert: missing tensor {self._hf_name_for(want)!r} (GGUF {want!r}) "
                                             f"in the checkpoint (layer {bid} has a router)")
            if self.tensor_name("FFN_GATE_INP", bid, ".scale") not in names:
                raise MissingTensorError(f"convert: missing tensor 'model.layers.{bid}.router.scale' (GGUF "
                                         f"{self.tensor_name('FFN_GATE_INP', bid, '.scale')!r}) in the checkpoint")
        for bid in range(min(hp.n_layer, first_shared)):
            kinds = ["ATTN_K", "ATTN_K_NORM"]  # KV-shared layers may leave these out (llama.cpp's kv_flags)
            if swa[bid] or not self.config.get("attention_k_eq_v"):
                kinds.append("ATTN_V")  # full layers with attention_k_eq_v use k as v
            for k in kinds:
                want = self.tensor_name(k, bid)
                if want not in names:
                    raise MissingTensorError(f"convert: missing tensor {self._hf_name_for(want)!r} (GGUF {want!r}) "
                                             f"in the checkpoint")
