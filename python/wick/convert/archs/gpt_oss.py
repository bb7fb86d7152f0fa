"""gpt-oss → GGUF arch ``gpt-oss``.

What the family does differently (``GptOssModel`` of the pinned converter's
``conversion/gpt_oss.py``):

* **MXFP4 experts pass through.** The published checkpoints store the
  routed experts fused and 3-D in MXFP4 (``quant_method: mxfp4``):
  ``mlp.experts.{gate_up,down}_proj_blocks`` (uint8 ``[experts, rows,
  cols/32, 16]``) with ``_scales`` (E8M0 exponents ``[experts, rows,
  cols/32]``). :mod:`wick.convert.quantized` groups each pair into one
  logical tensor (``..._blocks``) whose blocks the executor re-lays into
  GGUF MXFP4 blocks bit for bit (the converter's ``repack_mxfp4``: scale
  byte, then the 16 code bytes re-ordered); nothing is dequantized. Those
  tensors are written first, as the converter writes them from
  ``generate_extra_tensors``, and ``general.file_type`` is 38
  (MOSTLY_MXFP4_MOE) for the F32/F16/BF16 targets (7 for Q8_0).
* **Interleaved gate/up.** ``gate_up_proj`` holds gate and up rows
  alternately: even rows → ``ffn_gate_exps``, odd rows → ``ffn_up_exps``
  (a row-gather view, so the MXFP4 blocks of each row pass through as they
  are), and ``gate_up_proj_bias`` likewise by columns → ``ffn_gate_exps.bias``
  / ``ffn_up_exps.bias``. A checkpoint with plain (bf16) experts stores them
  transposed (``[experts, in, out]``): they are transposed back first.
* **Attention sinks**: ``self_attn.sinks`` → ``blk.N.attn_sinks.weight`` (F32).
* Keys: ``attention.sliding_window`` and ``expert_feed_forward_length``
  (= intermediate_size) after TextModel's; byte-level BPE (pre ``gpt-4o``).
* **Quantized targets.** llama-quantize refuses to requantize MXFP4 tensors
  unless given ``--allow-requantize``; the MXFP4 blocks are the model's
  original weights (gpt-oss is released in MXFP4), so Wick makes the
  Q4_K_M/Q6_K/... targets as ``--allow-requantize`` does: each MXFP4 tensor
  decoded exactly as ggml's ``dequantize_row_mxfp4`` and quantized to the
  mixture's type (a target whose type for a tensor is MXFP4 itself copies
  the blocks). See docs/convert.md ("gpt-oss").
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Tuple

from ...gguf import values as V
from ..lazy import LazyTensor
from . import register
from ._base import Adapter, HParams, _int, find_hparam


@register
class GptOssAdapter(Adapter):
    """GptOssForCausalLM → ``gpt-oss``."""

    name = "gpt-oss"
    hf_architectures = ("GptOssForCausalLM",)
    gguf_arch = "gpt-oss"
    summary = ("gpt-oss; MXFP4 experts passed through losslessly (requantized as llama-quantize "
               "--allow-requantize for block targets), gate/up de-interleaved, attention sinks")
    vocab_readers = ("gpt2",)
    # transformers 4.57.6 GptOssConfig
    config_defaults = {"num_local_experts": 128, "intermediate_size": 2880, "head_dim": 64,
                       "num_key_value_heads": 8, "sliding_window": 128, "rope_theta": 150000.0,
                       "max_position_embeddings": 131072, "rms_norm_eps": 1e-5, "num_experts_per_tok": 4,
                       "rope_scaling": {"rope_type": "yarn", "factor": 32.0, "beta_fast": 32.0, "beta_slow": 1.0,
                                        "truncate": False, "original_max_position_embeddings": 4096}}

    def metadata(self, config: Dict[str, Any], hp: HParams, file_type: int) -> List[V.KV]:
        a = self.gguf_arch
        return super().metadata(config, hp, file_type) + [
            V.u32(f"{a}.attention.sliding_window", _int("sliding_window", find_hparam(config, ["sliding_window"]))),
            V.u32(f"{a}.expert_feed_forward_length", hp.n_ff),
        ]

    def filter_tensor(self, name: str) -> Optional[str]:
        if "sinks" in name:
            name += ".weight"
        return super().filter_tensor(name)

    def modify_tensors(self, t: LazyTensor, name: str, bid: Optional[int]) -> Iterable[Tuple[str, LazyTensor]]:
        if name.endswith("_blocks"):  # MXFP4 experts (blocks + scales, grouped): written from their blocks
            if "down_proj" in name:
                return [(self.map_name(name.replace("down_proj_blocks", "down_proj.weight")), t)]
            if "gate_up_proj" in name:
                return [(self.map_name(name.replace("gate_up_proj_blocks", "gate_proj.weight")), t[:, ::2, :]),
                        (self.map_name(name.replace("gate_up_proj_blocks", "up_proj.weight")), t[:, 1::2, :])]
        if "down_proj" in name:
            if name.endswith("_bias"):
                name = name.replace("down_proj_bias", "down_proj.bias")
            else:  # plain experts are stored [experts, in, out]
                name = name.replace("down_proj", "down_proj.weight")
                t = t.transpose(-1, -2)
        if "gate_up_proj" in name:
            if name.endswith("_bias"):
                return [(self.map_name(name.replace("gate_up_proj_bias", "gate_proj.bias")), t[..., ::2]),
                        (self.map_name(name.replace("gate_up_proj_bias", "up_proj.bias")), t[..., 1::2])]
            t = t.transpose(-1, -2)
            return [(self.map_name(name.replace("gate_up_proj", "gate_proj.weight")), t[:, ::2, :]),
                    (self.map_name(name.replace("gate_up_proj", "up_proj.weight")), t[:, 1::2, :])]
        return super().modify_tensors(t, name, bid)

    def expected_shapes(self, hp: HParams, n_vocab: int) -> Dict[str, Tuple[int, ...]]:
        shapes = super().expected_shapes(hp, n_vocab)
        e, f, x = hp.n_embd, hp.n_ff, hp.n_expert
        shapes.update({"FFN_GATE_EXP": (x, f, e), "FFN_UP_EXP": (x, f, e), "FFN_DOWN_EXP": (x, e, f),
                       "FFN_GATE_INP": (x, e), "ATTN_SINKS": (hp.n_head,), "ATTN_POST_NORM": (e,)})
        return shapes

    def required_kinds(self, hp: HParams) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
        return ("TOKEN_EMBD", "OUTPUT_NORM"), ("ATTN_NORM", "ATTN_Q", "ATTN_K", "ATTN_V", "ATTN_OUT", "ATTN_SINKS",
                                               "ATTN_POST_NORM", "FFN_GATE_INP", "FFN_GATE_EXP", "FFN_UP_EXP",
                                               "FFN_DOWN_EXP")
