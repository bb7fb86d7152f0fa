"""Per-tensor output types, chosen exactly as llama-quantize chooses them.

This is the one place that knows llama.cpp's quantization *mixtures* (what
"Q4_K_M" means tensor by tensor). It reimplements ``src/llama-quant.cpp``
(``tensor_allows_quantization``, ``llama_tensor_get_type``,
``tensor_type_fallback`` and the driver's counters) for the targets in
:data:`wick.convert.ggml_types.TARGETS` and is checked against the real
llama-quantize by ``tests/golden/gen_mixture_types.py`` /
``tests/test_convert_mixture.py``.

The rules, in the order llama-quantize applies them:

1. **Processing order.** Tensors are visited sorted by (layer parsed from a
   ``blk.<n>.`` prefix, -1 for non-layer tensors; then the name, byte-wise).
   The attn_v counter ``i_attention_wv`` advances in that order, so the order
   is part of the result; :func:`quantize_order` gives it (and it is also the
   tensor order of the files llama-quantize writes).
2. **Quantizable at all?** Only tensors with >= 2 dimensions (trailing 1s
   dropped), a name ending in ``weight``, not ``*_norm.weight``, not
   ``ffn_gate_inp.weight`` and not a handful of small special tensors.
   Everything else keeps its current type (F32 in a converter's output).
3. **Overrides** (``output_tensor_type``, ``token_embedding_type``, the
   ``--tensor-type`` regexes, ``pure``) win over the mixture.
4. **Mixture**, only when the target's default type is block-quantized:

   * ``output.weight`` — and ``token_embd.weight`` when the file has no
     ``output.weight`` (tied embeddings) — become Q6_K; Q8_0 if the default
     is Q8_0 or if ne[0] is not a multiple of the default's block size.
   * ``attn_v.weight`` (i = attn_v counter, n = number of attn_v tensors):
     Q2_K: Q4_K if n_gqa >= 4 else Q3_K; Q3_K_M: Q5_K for i < 2 else Q4_K;
     Q3_K_L: Q5_K; IQ4_NL/IQ4_XS: Q5_K if n_gqa >= 4; Q4_K_M/Q5_K_M: Q6_K
     where use_more_bits(i, n); Q4_K_S: Q5_K for i < 4. Then a 70B model
     (llama with 80 layers and GQA, qwen2 with 80 layers) lifts Q3_K/Q4_K
     to Q5_K, and an 8-expert MoE makes it Q8_0.
   * ``attn_k.weight``: Q8_0 for an 8-expert MoE.
   * ``ffn_down`` (i = layer, n = block count): Q2_K: Q3_K; Q3_K_M: Q5_K for
     i < n/16 else Q4_K; Q3_K_L: Q5_K; Q4_K_M: Q6_K where use_more_bits;
     IQ4_NL/IQ4_XS without imatrix: Q5_K for i < n/8; Q5_K_M: Q6_K where
     use_more_bits; Q4_K_S: Q5_K for i < n/8; Q4_0/Q5_0 *with* an imatrix:
     Q4_1/Q5_1 for i < n/8.
   * ``attn_output.weight``: Q2_K: Q3_K; Q3_K_M: Q4_K; Q3_K_L: Q5_K; an
     8-expert MoE: Q5_K for Q2_K, Q3_K_S/M, Q4_K_S/M, IQ4_NL, IQ4_XS.
   * ``attn_qkv.weight`` (fused): Q3_K_M/L: Q4_K; Q4_K_M: Q5_K; Q5_K_M: Q6_K.

   ``use_more_bits(i, n) = i < n/8 or i >= 7n/8 or (i - n/8) % 3 == 2``.
5. **Fallback** when ne[0] is not a multiple of the chosen type's block:
   Q2_K/Q3_K → Q4_0, Q4_K → Q5_0, Q5_K → Q5_1, Q6_K → Q8_0, IQ4_XS → IQ4_NL;
   a 32-block type stays; and if the result still does not divide ne[0]: F16.

Tensor shapes here are GGUF ``ne`` lists (ne[0] = row length).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

from .errors import ConvertError, UnknownTargetError
from .ggml_types import Target, block_size, is_quantized
from .ggml_types import target as lookup_target
from .options import spell

__all__ = [
    "MixtureModel",
    "MixtureOptions",
    "TypeChoice",
    "choose_types",
    "quantize_order",
    "use_more_bits",
    "allows_quantization",
    "requires_imatrix",
    "uses_imatrix",
]


@dataclass(frozen=True)
class MixtureModel:
    """The model facts llama-quantize's rules depend on.

    Attributes:
        arch: GGUF architecture name (``llama``, ``qwen2``, ``qwen3`` …).
        n_layer: block count.
        n_head: attention heads (layer 0).
        n_head_kv: key/value heads (layer 0).
        n_expert: experts per MoE layer (0 for dense models).
    """

    arch: str
    n_layer: int
    n_head: int
    n_head_kv: int
    n_expert: int = 0

    @property
    def n_gqa(self) -> int:
        """``n_head / n_head_kv`` (integer), 0 when n_head_kv is 0."""
        return self.n_head // self.n_head_kv if self.n_head_kv else 0

    @property
    def is_70b(self) -> bool:
        """llama.cpp's ``model.type == LLM_TYPE_70B`` for the archs Wick converts."""
        if self.arch == "llama":
            return self.n_expert != 8 and self.n_layer == 80 and self.n_head != self.n_head_kv
        if self.arch in ("qwen2", "deci", "olmo"):
            return self.n_layer == 80
        if self.arch == "jais2":
            return self.n_layer == 68
        return False


@dataclass(frozen=True)
class MixtureOptions:
    """llama-quantize options that change the chosen types.

    Attributes:
        has_imatrix: an importance matrix is supplied (changes Q4_0/Q5_0/IQ4 rules).
        pure: ``--pure``: every quantizable tensor gets the default type.
        output_tensor_type: ``--output-tensor-type``.
        token_embedding_type: ``--token-embedding-type``.
        tensor_types: ``--tensor-type`` overrides, ``(regex, type)`` pairs; the
            first regex found (``re.search``) in a tensor name wins.
        quantize_output_tensor: False is ``--leave-output-tensor``.
    """

    has_imatrix: bool = False
    pure: bool = False
    output_tensor_type: Optional[str] = None
    token_embedding_type: Optional[str] = None
    tensor_types: Tuple[Tuple[str, str], ...] = field(default_factory=tuple)
    quantize_output_tensor: bool = True


@dataclass(frozen=True)
class TypeChoice:
    """The type chosen for one tensor, and a short human-readable reason."""

    name: str
    type: str
    reason: str


def use_more_bits(i_layer: int, n_layers: int) -> bool:
    """llama-quantize's layer selector for the "_M" mixtures."""
    return i_layer < n_layers // 8 or i_layer >= 7 * n_layers // 8 or (i_layer - n_layers // 8) % 3 == 2


_BLK = re.compile(rb"blk\.([+-]?[0-9]+)\.")


def _layer_of(name: str) -> int:
    m = _BLK.match(name.encode("utf-8"))
    return int(m.group(1)) if m else -1


def quantize_order(names: Sequence[str]) -> List[str]:
    """Tensor names in llama-quantize's processing (and output) order."""
    return sorted(names, key=lambda n: (_layer_of(n), n.encode("utf-8")))


def _n_dims(ne: Sequence[int]) -> int:
    """ggml_n_dims: the number of dimensions with trailing 1s dropped (at least 1)."""
    n = len(ne)
    while n > 1 and ne[n - 1] == 1:
        n -= 1
    return max(n, 1)


# Substrings that exclude a tensor from quantization (tensor_allows_quantization).
_NEVER_QUANTIZE_SUBSTRINGS = (
    "_norm.weight",
    "ffn_gate_inp.weight",
    "ffn_gate_tid2eid.weight",
    "altup",
    "laurel",
    "per_layer_model_proj",
    "ssm_conv1d",
    "shortconv.conv.weight",
    "indexer.k_proj.weight",
    "indexer.q_proj.weight",
    "time_mix_first.weight",
    "time_mix_w0.weight",
    "time_mix_w1.weight",
    "time_mix_w2.weight",
    "time_mix_v0.weight",
    "time_mix_v1.weight",
    "time_mix_v2.weight",
    "time_mix_a0.weight",
    "time_mix_a1.weight",
    "time_mix_a2.weight",
    "time_mix_g1.weight",
    "time_mix_g2.weight",
    "time_mix_decay_w1.weight",
    "time_mix_decay_w2.weight",
    "time_mix_lerp_fused.weight",
    "attn_rel_b.weight",
    ".position_embd",
    "sam.pos_embd",
    "sam.neck.",
    "sam.net_",
    ".rel_pos",
    ".patch_embd",
    ".patch_merger",
    "a.rvq.codebook",
    "mm.a.code_embd",
)
_NEVER_QUANTIZE_NAMES = ("position_embd.weight", "token_types.weight")


def allows_quantization(name: str, ne: Sequence[int], options: MixtureOptions = MixtureOptions()) -> bool:
    """Whether llama-quantize would (re)type this tensor at all."""
    if _n_dims(ne) < 2:
        return False
    if not name.endswith("weight"):
        return False
    if not options.quantize_output_tensor and name == "output.weight":
        return False
    if name in _NEVER_QUANTIZE_NAMES:
        return False
    return not any(s in name for s in _NEVER_QUANTIZE_SUBSTRINGS)


# tensor_requires_imatrix: the very-low-bit types llama-quantize refuses to
# make without importance data (token_embd and output are exempt)
_REQUIRES_IMATRIX = frozenset({"IQ3_XXS", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ1_M", "IQ1_S"})

# ggml quantizers that ignore the importance matrix they are given
# (quantize_q8_0, quantize_tq1_0, quantize_tq2_0, quantize_mxfp4,
# quantize_nvfp4, the float conversions; quantize_q1_0 and quantize_q2_0
# take it but never read it)
_IGNORES_IMATRIX = frozenset({"F32", "F16", "BF16", "Q8_0", "TQ1_0", "TQ2_0", "MXFP4", "NVFP4", "Q1_0", "Q2_0"})


def requires_imatrix(name: str, type_name: str, target_name: str) -> bool:
    """llama-quantize's ``tensor_requires_imatrix``: whether making tensor
    ``name`` of type ``type_name`` (for target ``target_name``) needs an
    importance matrix. ``token_embd``/``output`` never do; IQ1/IQ2/IQ3_XXS
    types always do; Q2_K only in a Q2_K_S file."""
    if name in ("token_embd.weight", "per_layer_token_embd.weight", "output.weight"):
        return False
    if type_name in _REQUIRES_IMATRIX:
        return True
    return type_name == "Q2_K" and target_name == "Q2_K_S"


def uses_imatrix(type_name: str) -> bool:
    """Whether ggml's quantizer for ``type_name`` reads an importance matrix
    (Q8_0 and the float types ignore it)."""
    block_size(type_name)
    return type_name not in _IGNORES_IMATRIX


# tensor categories (tensor_get_category)
_OUTPUT, _TOKEN_EMBD, _QKV, _KV_B, _V, _K, _Q, _ATTN_OUT, _FFN_UP, _FFN_GATE, _FFN_DOWN, _OTHER = range(12)


def _category(name: str) -> int:
    if name == "output.weight":
        return _OUTPUT
    if name in ("token_embd.weight", "per_layer_token_embd.weight"):
        return _TOKEN_EMBD
    for sub, cat in (
        ("attn_qkv.weight", _QKV),
        ("attn_kv_b.weight", _KV_B),
        ("attn_v.weight", _V),
        ("attn_k.weight", _K),
        ("attn_q.weight", _Q),
        ("attn_output.weight", _ATTN_OUT),
        ("ffn_up", _FFN_UP),
        ("ffn_gate", _FFN_GATE),
        ("ffn_down", _FFN_DOWN),
    ):
        if sub in name:
            return cat
    return _OTHER


# targets whose own branch handles attn_v, attn_k, ffn_down and attn_output
_IQ1_IQ2_TARGETS = frozenset({"IQ2_XXS", "IQ2_XS", "IQ1_S", "IQ2_S", "IQ2_M", "IQ1_M"})
# targets whose output tensor becomes Q5_K rather than Q6_K
_OUTPUT_Q5_K_TARGETS = frozenset({"IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ2_S", "IQ2_M", "IQ1_M"})
# targets whose attn_output becomes Q5_K in an 8-expert model
_ATTN_OUT_MOE8_Q5_K = frozenset({"Q2_K", "IQ3_XS", "IQ3_XXS", "Q3_K_S", "Q3_K_M", "IQ4_NL", "Q4_K_S", "Q4_K_M",
                                 "IQ3_S", "IQ3_M", "IQ4_XS"})

_FALLBACK = {
    "IQ1_S": "IQ4_NL",
    "IQ1_M": "IQ4_NL",
    "IQ2_XXS": "IQ4_NL",
    "IQ2_XS": "IQ4_NL",
    "IQ2_S": "IQ4_NL",
    "IQ3_XXS": "IQ4_NL",
    "IQ3_S": "IQ4_NL",
    "IQ4_XS": "IQ4_NL",
    "Q2_0": "Q4_0",
    "Q2_K": "Q4_0",
    "Q3_K": "Q4_0",
    "TQ1_0": "Q4_0",
    "TQ2_0": "Q4_0",
    "Q4_K": "Q5_0",
    "Q5_K": "Q5_1",
    "Q6_K": "Q8_0",
}


def _fallback(name: str, ncols: int, chosen: str) -> Tuple[str, str]:
    """tensor_type_fallback: a type whose block divides ne[0]; returns (type, reason or '')."""
    qk = block_size(chosen)
    if ncols % qk == 0:
        return chosen, ""
    if chosen in _FALLBACK:
        ret = _FALLBACK[chosen]
    elif qk <= 32:
        ret = chosen
    else:
        raise ConvertError(f"convert: tensor {name!r}: its rows of {ncols} elements are not whole {chosen} blocks of "
                           f"{qk}, and no fallback type is defined for {chosen} (llama-quantize: 'no tensor type "
                           f"fallback is defined for type {chosen.lower()}'); choose another type for it "
                           "(--tensor-type) or another target")
    if ncols % block_size(ret) != 0:
        ret = "F16"
    return ret, f"ne[0]={ncols} not a multiple of {qk}: {chosen} -> {ret}"


class _State:
    def __init__(self, model: MixtureModel, tgt: Target, opts: MixtureOptions, names: Sequence[str]):
        self.model = model
        self.target = tgt
        self.opts = opts
        cats = [_category(n) for n in names]
        self.n_attention_wv = sum(1 for c in cats if c in (_V, _QKV, _KV_B))
        self.tied = _OUTPUT not in cats
        self.n_ffn = model.n_layer
        self.i_attention_wv = 0
        self.i_ffn_down = 0
        self.i_ffn_gate = 0
        self.i_ffn_up = 0

    def layer_info(self, counter: int, name: str) -> Tuple[int, int]:
        if max(1, self.model.n_expert) > 1:
            i = _layer_of(name)
            if not _BLK.match(name.encode("utf-8")):
                raise ConvertError(f"convert: tensor {name!r}: cannot determine its layer (expected a 'blk.N.' prefix)")
            if i < 0 or i >= self.n_ffn:
                raise ConvertError(f"convert: tensor {name!r}: layer {i} is outside [0, {self.n_ffn})")
            return i, self.n_ffn
        return counter, self.n_ffn

    def mixture(self, name: str, ne: Sequence[int], cat: int, new: str) -> Tuple[str, str]:
        """llama_tensor_get_type_impl, branch for branch; returns (type, reason)."""
        ft = self.target.name
        m = self.model
        falcon = m.arch == "falcon"
        iq_low = ft in _IQ1_IQ2_TARGETS
        if m.arch == "glm5-next" and any(s in name for s in ("attn_q_a", "attn_q_b", "nextn.eh_proj")):
            if new not in ("F32", "BF16", "F16"):
                return "Q8_0", "glm5-next: attn_q_a/attn_q_b/nextn.eh_proj stay at Q8_0"
        if cat == _OUTPUT or (self.tied and cat == _TOKEN_EMBD):
            what = "output" if cat == _OUTPUT else "tied token_embd (is the output)"
            if self.opts.output_tensor_type is not None:
                return self.opts.output_tensor_type, f"{what}: --output-tensor-type"
            nx = ne[0]
            qk = block_size(new)
            if ft == "MXFP4_MOE":
                return "Q8_0", f"{what}: MXFP4_MOE -> Q8_0"
            if falcon or nx % qk != 0:
                return "Q8_0", f"{what}: ne[0]={nx} not a multiple of {qk} -> Q8_0"
            if ft in _OUTPUT_Q5_K_TARGETS:
                return "Q5_K", f"{what}: {ft} -> Q5_K"
            if new != "Q8_0":
                return "Q6_K", f"{what} -> Q6_K"
            return new, what
        if ft == "MXFP4_MOE":
            # expert tensors (3-D) -> MXFP4, everything else -> Q8_0; bailingmoe3's
            # 3-D MLA projections are not experts
            if len(ne) > 2 and ne[2] > 1 and (m.arch != "bailingmoe3" or cat in (_FFN_UP, _FFN_GATE, _FFN_DOWN)):
                return "MXFP4", "MXFP4_MOE: expert tensor"
            return "Q8_0", "MXFP4_MOE: not an expert tensor -> Q8_0"
        if cat == _TOKEN_EMBD:
            if self.opts.token_embedding_type is not None:
                return self.opts.token_embedding_type, "token_embd: --token-embedding-type"
            if ft in ("IQ2_XXS", "IQ2_XS", "IQ1_S", "IQ1_M"):
                return "Q2_K", f"token_embd (untied): {ft} -> Q2_K"
            if ft in ("IQ2_S", "IQ2_M", "IQ3_XXS"):
                return "IQ3_S", f"token_embd (untied): {ft} -> IQ3_S"
            if ft in ("TQ1_0", "TQ2_0", "Q2_0"):
                return "Q4_K", f"token_embd (untied): {ft} -> Q4_K"
            return new, "token_embd (untied): default"
        if iq_low:
            return self._mixture_iq_low(ft, cat, new)
        if cat in (_V, _QKV, _KV_B):
            i, n = self.i_attention_wv, self.n_attention_wv
            gqa = m.n_gqa
            reason = "attn_v: default"
            if ft == "Q2_K":
                new = "Q4_K" if gqa >= 4 else "Q3_K"
                reason = f"attn_v: Q2_K with n_gqa={gqa}"
            elif ft == "Q2_K_S" and gqa >= 4:
                new, reason = "Q4_K", f"attn_v: Q2_K_S with n_gqa={gqa} >= 4"
            elif ft == "IQ3_XXS":
                if gqa >= 4:
                    new, reason = "Q4_K", f"attn_v: n_gqa={gqa} >= 4"
                elif not self.opts.has_imatrix:
                    new, reason = "IQ3_S", "attn_v: IQ3_XXS without imatrix -> IQ3_S"
                else:
                    new, reason = "IQ3_XXS", "attn_v: IQ3_XXS with imatrix"
            elif ft in ("IQ3_XS", "IQ3_S") and gqa >= 4:
                new, reason = "Q4_K", f"attn_v: n_gqa={gqa} >= 4"
            elif ft == "IQ3_M":
                new, reason = "Q4_K", "attn_v: IQ3_M"
            elif ft == "Q3_K_M":
                new = "Q5_K" if i < 2 else "Q4_K"
                reason = f"attn_v #{i}: Q3_K_M"
            elif ft == "Q3_K_L":
                new, reason = "Q5_K", "attn_v: Q3_K_L"
            elif ft in ("IQ4_NL", "IQ4_XS") and gqa >= 4:
                new, reason = "Q5_K", f"attn_v: n_gqa={gqa} >= 4"
            elif ft in ("Q4_K_M", "Q5_K_M") and use_more_bits(i, n):
                new, reason = "Q6_K", f"attn_v #{i}/{n}: use_more_bits"
            elif ft == "Q4_K_S" and i < 4:
                new, reason = "Q5_K", f"attn_v #{i} < 4"
            if m.is_70b and new in ("Q3_K", "Q4_K"):
                new, reason = "Q5_K", "attn_v: 70B model"
            if m.n_expert == 8:
                new, reason = "Q8_0", "attn_v: 8 experts"
            self.i_attention_wv += 1
            return new, reason
        if cat == _K:
            if m.n_expert == 8:
                return "Q8_0", "attn_k: 8 experts"
            if ft == "IQ3_XS":
                return "IQ3_XXS", "attn_k: IQ3_XS -> IQ3_XXS"
            if ft == "IQ3_XXS":
                return "IQ2_S", "attn_k: IQ3_XXS -> IQ2_S"
            return new, "default"
        if cat == _Q:
            if ft == "IQ3_XS":
                return "IQ3_XXS", "attn_q: IQ3_XS -> IQ3_XXS"
            if ft == "IQ3_XXS":
                return "IQ2_S", "attn_q: IQ3_XXS -> IQ2_S"
            return new, "default"
        if cat == _FFN_DOWN:
            i, n = self.layer_info(self.i_ffn_down, name)
            reason = "default"
            if ft == "Q2_K":
                new, reason = "Q3_K", "ffn_down: Q2_K"
            elif ft == "Q2_K_S":
                if i < n // 8:
                    new, reason = "Q4_K", f"ffn_down layer {i} < {n}/8"
            elif ft == "IQ3_XXS" and not self.opts.has_imatrix:
                new = "Q4_K" if i < n // 8 else "Q3_K"
                reason = f"ffn_down layer {i}: IQ3_XXS without imatrix"
            elif ft == "Q3_K_M":
                if i < n // 16:
                    new, reason = "Q5_K", f"ffn_down layer {i} < {n}/16"
                elif not falcon or use_more_bits(i, n):
                    new, reason = "Q4_K", "ffn_down: Q3_K_M"
                else:
                    new = "Q3_K"
            elif ft == "IQ3_M" and (i < n // 8 or (m.n_expert == 8 and use_more_bits(i, n))):
                new, reason = "Q4_K", f"ffn_down layer {i}: IQ3_M"
            elif ft == "Q3_K_L":
                new, reason = ("Q4_K" if falcon else "Q5_K"), "ffn_down: Q3_K_L"
            elif ft == "Q4_K_M":
                if falcon:
                    new = "Q6_K" if i < n // 16 else ("Q5_K" if use_more_bits(i, n) else "Q4_K")
                elif use_more_bits(i, n):
                    new, reason = "Q6_K", f"ffn_down layer {i}/{n}: use_more_bits"
            elif i < n // 8 and ft in ("IQ4_NL", "IQ4_XS") and not self.opts.has_imatrix:
                new, reason = "Q5_K", f"ffn_down layer {i} < {n}/8"
            elif ft == "Q5_K_M" and use_more_bits(i, n):
                new, reason = "Q6_K", f"ffn_down layer {i}/{n}: use_more_bits"
            elif ft == "Q4_K_S" and not falcon and i < n // 8:
                new, reason = "Q5_K", f"ffn_down layer {i} < {n}/8"
            elif ft in ("Q4_0", "Q5_0") and self.opts.has_imatrix and i < n // 8:
                new = "Q4_1" if ft == "Q4_0" else "Q5_1"
                reason = f"ffn_down layer {i} < {n}/8 with imatrix"
            self.i_ffn_down += 1
            return new, reason
        if cat == _ATTN_OUT:
            if not falcon:
                if m.n_expert == 8:
                    if ft in _ATTN_OUT_MOE8_Q5_K:
                        return "Q5_K", "attn_output: 8 experts"
                else:
                    lift = {"Q2_K": "Q3_K", "IQ3_XXS": "IQ3_S", "Q3_K_M": "Q4_K", "Q3_K_L": "Q5_K", "IQ3_M": "Q4_K"}
                    if ft in lift:
                        return lift[ft], f"attn_output: {ft}"
            elif ft == "Q3_K_L":
                return "Q4_K", "attn_output: Q3_K_L"
            return new, "default"
        if cat in (_FFN_GATE, _FFN_UP):
            counter = self.i_ffn_gate if cat == _FFN_GATE else self.i_ffn_up
            i, n = self.layer_info(counter, name)
            reason = "default"
            if ft == "IQ3_XS" and n // 8 <= i < 7 * n // 8:
                new, reason = "IQ3_XXS", f"{'ffn_gate' if cat == _FFN_GATE else 'ffn_up'} layer {i}: IQ3_XS"
            if cat == _FFN_GATE:
                self.i_ffn_gate += 1
            else:
                self.i_ffn_up += 1
            return new, reason
        return new, "default"

    def _mixture_iq_low(self, ft: str, cat: int, new: str) -> Tuple[str, str]:
        """The branch for the IQ1_S/IQ1_M/IQ2_* targets (it counts ffn_down
        tensors, experts included, rather than parsing their layer)."""
        m = self.model
        iq2s = ft in ("IQ2_S", "IQ2_M")
        if cat in (_V, _QKV, _KV_B):
            self.i_attention_wv += 1
            if m.n_gqa >= 4 or m.n_expert >= 4:
                return "Q4_K", f"attn_v: n_gqa={m.n_gqa}, n_expert={m.n_expert}"
            return ("IQ3_S" if iq2s else "Q2_K"), f"attn_v: {ft}"
        if m.n_expert == 8 and cat == _K:
            return "Q4_K", "attn_k: 8 experts"
        if cat == _FFN_DOWN:
            i = self.i_ffn_down
            self.i_ffn_down += 1
            if i < self.n_ffn // 8:
                return ("IQ3_S" if iq2s else "Q2_K"), f"ffn_down #{i} < {self.n_ffn}/8"
            return new, "default"
        if cat == _ATTN_OUT:
            if m.n_expert == 8:
                return "Q5_K", "attn_output: 8 experts"
            if ft in ("IQ1_S", "IQ1_M"):
                return "IQ2_XXS", f"attn_output: {ft}"
            if iq2s:
                return "IQ3_S", f"attn_output: {ft}"
        return new, "default"


def _check_type_name(what: str, t: Optional[str]) -> None:
    if t is not None:
        try:
            block_size(t)
        except UnknownTargetError as e:  # name the option too
            raise UnknownTargetError(f"{spell(what)}: {e}") from None


def choose_types(
    model: MixtureModel,
    target,
    tensors: Sequence[Tuple[str, Sequence[int]]],
    options: MixtureOptions = MixtureOptions(),
    current_type: Union[str, Mapping[str, str]] = "F32",
) -> List[TypeChoice]:
    """Choose every tensor's output type as llama-quantize would.

    Args:
        model: the hyper-parameters the rules consult.
        target: a target name (``"Q4_K_M"``) or a :class:`~wick.convert.ggml_types.Target`.
        tensors: ``(gguf name, ne)`` for every tensor of the output file.
        options: llama-quantize options (imatrix present, overrides, ``pure``).
        current_type: the type tensors have before quantization (what
            non-quantizable tensors keep): F32 for a converter's F32 output;
            or a mapping from tensor name to type.

    Returns:
        One :class:`TypeChoice` per tensor, in llama-quantize's processing
        order (:func:`quantize_order`).
    """
    tgt = target if isinstance(target, Target) else lookup_target(target)
    _check_type_name("output_tensor_type", options.output_tensor_type)
    _check_type_name("token_embedding_type", options.token_embedding_type)
    patterns = []
    for pat, t in options.tensor_types:
        _check_type_name("tensor_types", t)
        try:
            patterns.append((re.compile(pat), t))
        except re.error as e:
            raise UnknownTargetError(f"convert: bad --tensor-type regex {pat!r}: {e}") from None
    shapes: Dict[str, Sequence[int]] = {}
    for name, ne in tensors:
        if name in shapes:
            raise ConvertError(f"convert: tensor {name!r} is listed twice")
        shapes[name] = list(ne)
    order = quantize_order(list(shapes))
    st = _State(model, tgt, options, order)
    default = tgt.default_type
    out: List[TypeChoice] = []
    for name in order:
        ne = shapes[name]
        cat = _category(name)
        if not allows_quantization(name, ne, options):
            cur = current_type if isinstance(current_type, str) else current_type[name]
            out.append(TypeChoice(name, cur, "not quantized (1-D, norm or bias)"))
            continue
        if options.token_embedding_type is not None and cat == _TOKEN_EMBD:
            out.append(TypeChoice(name, options.token_embedding_type, "--token-embedding-type"))
            continue
        if options.output_tensor_type is not None and cat == _OUTPUT:
            out.append(TypeChoice(name, options.output_tensor_type, "--output-tensor-type"))
            continue
        new = default
        reason = "default"
        if is_quantized(default):
            manual = False
            for rx, t in patterns:
                if rx.search(name):
                    new, reason, manual = t, f"--tensor-type {rx.pattern}", True
                    break
            if not manual:
                if options.pure:
                    reason = "--pure"
                else:
                    new, reason = st.mixture(name, ne, cat, new)
            fb, why = _fallback(name, ne[0], new)
            if why:
                new, reason = fb, why
        out.append(TypeChoice(name, new, reason))
    return out
