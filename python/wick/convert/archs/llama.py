"""Llama (1, 2, 3, 3.1, 3.2, 3.3) → GGUF arch ``llama``.

* q_proj / k_proj weights and biases are permuted from Hugging Face's
  rotate-half RoPE layout to ggml's interleaved pairs (k with the KV-head
  count), as a strided view (:meth:`LazyTensor.permute_qk`).
* Mixtral-style per-expert ``block_sparse_moe.experts.N.w{1,2,3}`` are
  stacked per layer into ``ffn_{gate,down,up}_exps`` (``LlamaModel``
  handles Mistral and Mixtral too).
* Llama 3.1+ ``rope_scaling.rope_type == "llama3"`` writes no scaling keys but
  an F32 tensor ``rope_freqs.weight`` of head_dim/2 per-frequency factors
  (:func:`llama3_rope_factors`).
* Writes ``llama.vocab_size`` and ``llama.rope.dimension_count``; copies
  tokenizer_config.json ``add_prefix_space``; reads the tokenizer as
  SentencePiece (tokenizer.model), then a Llama-style tokenizer.json with byte
  fallback, then byte-level BPE (Llama 3).
* Tied embeddings: no ``lm_head.weight`` in the checkpoint means no
  ``output.weight`` in the file (llama.cpp then reuses ``token_embd``).
"""

from __future__ import annotations

import math
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple

import numpy as np

from ...gguf import values as V
from ..errors import ConfigError, ExportError
from ..lazy import LazyTensor
from ..tokenizer import special_vocab
from . import register
from ._base import CONFIG, Adapter, HParams, MappedTensor, _num, f32_value


def llama3_rope_factors(base: float, dim: int, factor: float = 8.0, low_freq_factor: float = 1.0,
                        high_freq_factor: float = 4.0, old_context_len: float = 8192) -> np.ndarray:
    """The ``rope_freqs`` tensor of Llama 3.1-style RoPE scaling, in float32.

    Follows ``LlamaModel.generate_extra_tensors`` of convert_hf_to_gguf.py
    operation by operation in float32 (the converter uses float32 torch
    tensors with Python scalars, which torch casts to float32):
    ``freq = 1 / base ** (k / dim)`` for k = 0, 2, …, dim-2;
    ``wavelen = 2π / freq``; factor 1 above the high-frequency wavelength
    bound, ``factor`` below the low one, and
    ``1 / ((1 - s) / factor + s)`` with
    ``s = (old_ctx / wavelen - low) / (high - low)`` in between.

    The power is computed in float64 and rounded once to float32 (correctly
    rounded); torch's vectorised ``powf`` is specified to 1 ulp, so in rare
    cases a transition-band value may differ from the converter's by 1 ulp.
    """
    f32 = np.float32
    k = np.arange(0, dim, 2, dtype=np.float32)
    expo = k / f32(dim)
    powed = np.power(np.float64(f32(base)), expo.astype(np.float64)).astype(np.float32)
    freqs = f32(1.0) / powed
    low_wl = f32(old_context_len / low_freq_factor)
    high_wl = f32(old_context_len / high_freq_factor)
    two_pi = f32(2 * math.pi)
    out = np.empty(len(freqs), dtype=np.float32)
    for i, fr in enumerate(freqs):
        wavelen = two_pi / fr
        if wavelen < high_wl:
            out[i] = 1.0
        elif wavelen > low_wl:
            out[i] = f32(factor)
        else:
            smooth = (f32(old_context_len) / wavelen - f32(low_freq_factor)) / f32(high_freq_factor - low_freq_factor)
            out[i] = f32(1) / ((f32(1) - smooth) / f32(factor) + smooth)
    return out


def llama3_rope_scaling(freqs: np.ndarray, base: float, dim: int, equal: bool = False) -> Dict[str, Any]:
    """config.json's ``rope_scaling`` of type ``llama3`` whose :func:`llama3_rope_factors` are exactly
    ``freqs`` (export-hf: the GGUF keeps only the tensor).

    ``factor`` is the largest value; ``low_freq_factor``, ``high_freq_factor`` and
    ``original_max_position_embeddings`` are searched among the values Llama 3.1–3.3 use and
    their neighbours (factors 0.5–32, contexts 1024–131072), and accepted only when the
    recomputed tensor matches bit for bit. With ``equal`` (Llama 4, whose configs have
    ``high_freq_factor == low_freq_factor``: no transition band) equal factors are tried first
    for each context and low factor. Raises :class:`ExportError` when none matches.
    """
    freqs = np.asarray(freqs, dtype=np.float32).reshape(-1)
    factor = f32_value(np.max(freqs))
    tried = 0
    for orig in (8192, 4096, 2048, 16384, 32768, 65536, 131072, 1024):
        for low in (1.0, 2.0, 0.5, 4.0):
            for high in ([low] if equal else []) + [h for h in (4.0, 8.0, 2.0, 16.0, 32.0, 1.0) if h != low]:
                tried += 1
                with np.errstate(divide="ignore", invalid="ignore"):  # an empty band divides by 0 only on its bound
                    got = llama3_rope_factors(base, dim, factor, low, high, orig)
                if got.shape == freqs.shape and np.array_equal(got.view(np.uint32), freqs.view(np.uint32)):
                    return {"factor": factor, "high_freq_factor": high, "low_freq_factor": low,
                            "original_max_position_embeddings": orig, "rope_type": "llama3"}
    raise ExportError(f"export-hf: rope_freqs.weight is not a Llama 3 RoPE scaling Wick recognises (factor {factor}, "
                      f"{tried} combinations of low/high frequency factors and original context tried)")


@register
class LlamaAdapter(Adapter):
    """LlamaForCausalLM → ``llama``."""

    name = "llama"
    hf_architectures = ("LlamaForCausalLM", "LLaMAForCausalLM")
    gguf_arch = "llama"
    summary = "Llama 1, 2, 3, 3.1, 3.2, 3.3, CodeLlama; q/k permuted; Llama 3.1+ RoPE factors"
    vocab_readers = ("spm", "llama_hf", "gpt2")
    reads_add_prefix_space = True
    # transformers 4.57 LlamaConfig
    config_defaults = {"max_position_embeddings": 2048, "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "rope_scaling": None}
    computes_head_dim = True
    #: llama3 RoPE scaling with high_freq_factor == low_freq_factor is accepted (Llama 4 ships it:
    #: the transition band is empty, as in the converter); Llama 3.x refuses it as a broken config
    equal_freq_factors = False

    def tokenizer_quirks(self, files: Any, config: Dict[str, Any], vocab_size: Optional[int], kvs: Any) -> None:
        """LlamaModel.set_vocab's special cases, keyed on the vocabulary size.

        CodeLlama (32016 tokens): a second special-token pass for the infill
        tokens; only ``eot`` (32010 unless set) has a GGUF key. Granite small
        models (49152 tokens): ``add_bos_token`` false.
        """
        if vocab_size == 32016:
            sv = special_vocab(files, config, load_merges=False, types=("prefix", "suffix", "middle", "eot"))
            for typ, tid in (("prefix", 32007), ("suffix", 32008), ("middle", 32009), ("eot", 32010)):
                sv.special_token_ids.setdefault(typ, tid)
            for kv in sv.kvs():
                kvs.add(kv)
        if vocab_size == 49152:
            kvs.add(V.boolean("tokenizer.ggml.add_bos_token", False))

    def metadata(self, config: Dict[str, Any], hp: HParams, file_type: int) -> List[V.KV]:
        """TextModel's keys, then ``llama.vocab_size`` and ``llama.rope.dimension_count``."""
        return super().metadata(config, hp, file_type) + [
            V.u32(f"{self.gguf_arch}.vocab_size", hp.n_vocab),
            V.u32(f"{self.gguf_arch}.rope.dimension_count", hp.head_dim),
        ]

    def extra_tensors(self, config: Dict[str, Any], hp: HParams) -> List[MappedTensor]:
        rp = self.rope_parameters(config)
        rp = rp.get("full_attention", rp)
        rope_type = rp.get("rope_type", "")
        if not isinstance(rope_type, str) or rope_type.lower() != "llama3":
            return []

        def num(key: str, default: float) -> float:
            v = rp.get(key, default)
            return _num(f"rope_scaling.{key}", v)

        base = num("rope_theta", 10000.0)
        low = num("low_freq_factor", 1.0)
        high = num("high_freq_factor", 4.0)
        if high == low and not self.equal_freq_factors:
            raise ConfigError(f"convert: {CONFIG}: rope_scaling high_freq_factor equals low_freq_factor ({low})", CONFIG)
        with np.errstate(divide="ignore", invalid="ignore"):  # only a wavelength exactly on the bound divides by 0
            data = llama3_rope_factors(
                base, hp.head_dim, num("factor", 8.0), low, high, num("original_max_position_embeddings", 8192))
        return [MappedTensor("rope_freqs.weight", [], [len(data)], data=data, force_type="F32")]

    #: Mixtral's experts
    EXPERTS = ("model.layers.{bid}.block_sparse_moe.experts.{x}.{w}.weight", ("w1", "w2", "w3"),
               "layers.{bid}.feed_forward.experts.{w}.weight")
    model_types = {"LlamaForCausalLM": "llama"}
    hf_tensor_names = {**Adapter.hf_tensor_names, "FFN_GATE_INP": "model.layers.{bid}.block_sparse_moe.gate"}

    def modify_tensors(self, t: LazyTensor, name: str, bid: Optional[int]) -> Iterable[Tuple[str, LazyTensor]]:
        if name.endswith(("q_proj.weight", "q_proj.bias")):
            t = t.permute_qk(self.hp.n_head)
        if name.endswith(("k_proj.weight", "k_proj.bias")):
            t = t.permute_qk(self.hp.n_head_kv)
        if "block_sparse_moe.experts" in name:
            expert, weights, merged = self.EXPERTS
            return self.stack_experts(t, name, bid, self.hp.n_expert, weights, expert, merged)
        return super().modify_tensors(t, name, bid)

    # ------------------------------------------------------------ export-hf
    def export_class(self, md: Mapping[str, Any], tensors: Mapping[str, Tuple[int, ...]]) -> Optional[str]:
        """A dense ``llama`` file with ``attention.key_length`` → LlamaForCausalLM. (transformers'
        LlamaConfig always has a head_dim, so a Llama conversion writes that key; a Mistral one,
        without head_dim, does not: those and Mixtral's, with experts, are MistralAdapter's.)"""
        a = self.gguf_arch
        if md.get(f"{a}.expert_count") or md.get(f"{a}.attention.key_length") is None:
            return None
        return "LlamaForCausalLM"

    def export_config(self, md: Mapping[str, Any], tensors: Mapping[str, Tuple[int, ...]], hf_class: str,
                      read: Callable[[str], np.ndarray]) -> Dict[str, Any]:
        """The generic keys, ``attention_bias`` / ``mlp_bias`` from the tensors, and Llama 3.1's
        ``rope_scaling`` recovered from ``rope_freqs`` (:func:`llama3_rope_scaling`)."""
        cfg = super().export_config(md, tensors, hf_class, read)
        if "blk.0.attn_q.bias" in tensors:
            cfg["attention_bias"] = True
        if "blk.0.ffn_up.bias" in tensors:
            cfg["mlp_bias"] = True
        if "rope_freqs.weight" in tensors:
            head_dim = int(md.get(f"{self.gguf_arch}.rope.dimension_count") or cfg["hidden_size"] // cfg["num_attention_heads"])
            cfg["rope_scaling"] = llama3_rope_scaling(read("rope_freqs.weight"), cfg.get("rope_theta", 10000.0), head_dim,
                                                      equal=self.equal_freq_factors)
        return cfg
