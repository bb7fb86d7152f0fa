"""Quantized checkpoints as conversion input.

A quantized checkpoint stores a weight as several tensors: the quantized
values and their scales, zero points, group indices or quant state. This
module reads the checkpoint's ``quantization_config`` (config.json, or the
separate files the quantization tools write), recognises the method before
any work, and groups each quantized weight with its auxiliary tensors into
ONE logical tensor: the plain weight name the architecture adapters already
map (``model.layers.0.mlp.down_proj.weight``), with its logical dtype and
row-major shape, carrying a *decode spec* for the Go executor
(``convert/decode``: method, logical shape, auxiliary tensors by role,
parameters). Adapters need no change.

What is read, and how each weight is decoded (exactly as the reference
computes it, see convert/decode's package documentation):

=====================================  ===============  ==========================================
``quantization_config``                decode method    reference
=====================================  ===============  ==========================================
``quant_method: fp8`` (DeepSeek,       ``scaled``       llama.cpp's ``dequant_simple``: FP8 weight
Qwen ``-FP8``): ``weight_scale_inv``                    × block (``weight_block_size``), per-row
                                                        or per-tensor scale, float32
``compressed-tensors``                 ``scaled``       the same, ``weight_scale`` with strategy
``float-quantized`` / ``int-quantized``                 ``channel`` / ``block`` (and ``tensor``)
/ ``naive-quantized``
``compressed-tensors``                 ``int_packed``   llama.cpp's ``dequant_packed``: int4/int8
``pack-quantized``                                      groups, symmetric or with zero points
``modelopt`` FP8 (``hf_quant_config``  ``scaled``       ``dequant_simple`` with ``weight_scale``
``.json`` or config.json)
``gptq`` (config.json, or              ``gptq``         llama.cpp's ``dequant_gptq``: 2/4/8 bits,
``quantize_config.json``)                               g_idx (act-order), checkpoint_format
                                                        ``gptq`` / ``gptq_v2``
``bitsandbytes`` 4-bit                 ``bnb_4bit``     bitsandbytes' ``dequantize_4bit`` (CPU):
(``-bnb-4bit``)                                         NF4/FP4, double quantization, in the
                                                        quant state's dtype
``bitsandbytes`` 8-bit                 ``bnb_int8``     bitsandbytes' ``int8_vectorwise_dequant``
(LLM.int8: ``weight`` + ``SCB``)                        (float32)
``modelopt`` NVFP4, compressed-tensors ``nvfp4``        passed through: llama.cpp's ``_nvfp4_pack``
``nvfp4-pack-quantized``               (output NVFP4)   (GGUF NVFP4 blocks, lossless), with
                                                        ``.scale`` / ``.input_scale`` F32 tensors
``quant_method: mxfp4`` (gpt-oss:      ``mxfp4``        passed through: gpt-oss's ``repack_mxfp4``
``*_blocks`` + ``*_scales`` experts)   (output MXFP4)   (GGUF MXFP4 blocks, lossless)
=====================================  ===============  ==========================================

llama.cpp's converter computes every dequantized weight in float32 (the
logical dtype here is ``F32``); the bitsandbytes weights take the dtype of
their quant state (4-bit) or float32 (8-bit), as bitsandbytes returns them.
The dequantized weights then go through the usual plan (q/k permutation,
mixture, encoding) as if the checkpoint had held them.

NVFP4 weights are not dequantized: as llama.cpp's converter does, their
blocks pass through as GGUF NVFP4 (written first, each followed by its
per-tensor scale 2 and input scale as F32 ``.scale`` / ``.input_scale``
tensors when they are not 1; compressed-tensors' ``*_global_scale`` are the
reciprocals), and ``general.file_type`` becomes MOSTLY_NVFP4 for the F32,
F16 and BF16 targets. llama-quantize refuses to requantize such blocks, so
the block-quantized targets (Q4_K_M, ...) are refused too (PlanError).

gpt-oss's MXFP4 experts pass through the same way: each ``X_blocks`` (uint8
``[..., rows, cols/32, 16]``) with its ``X_scales`` (E8M0 ``[..., rows,
cols/32]``) becomes one logical tensor named ``X_blocks`` of shape ``[...,
rows, cols]`` (the gpt-oss adapter maps and splits it), written as GGUF
MXFP4 blocks first, and ``general.file_type`` becomes MOSTLY_MXFP4_MOE for
the F32, F16 and BF16 targets. For the block-quantized targets Wick makes
what ``llama-quantize --allow-requantize`` makes of the converter's file:
the blocks are decoded exactly as ggml's ``dequantize_row_mxfp4`` and
quantized to the mixture's type (see docs/convert.md, "gpt-oss").

Not read (:class:`~wick.convert.errors.UnsupportedQuantizationError`, raised
before anything else is planned, naming the method and listing these):
compressed-tensors ``mxfp4-pack-quantized`` (which llama.cpp's converter
only reads for Kimi/DeepSeek-V4 experts; Wick's decoder has the re-layout),
ModelOpt W4A16_NVFP4 and mixed NVFP4/FP8 checkpoints, AWQ's legacy GEMM
packing, EXL2, HQQ, BitNet, and anything else.

Tensors the converter drops are dropped: ``weight_scale_inv`` and
``weight_scale`` once applied, activation and KV-cache scales
(``input_scale``, ``activation_scale``, ``k_scale``, ``v_scale``), and the
bitsandbytes bookkeeping (``weight_format``). Deliberate differences from
llama.cpp's converter, each because the converter fails where Wick reads the
checkpoint: bitsandbytes (it refuses the method); GPTQ described only by
``quantize_config.json`` (it reads config.json only); compressed-tensors
``float-quantized`` with strategy ``tensor`` (it asserts channel or block)
and checkpoints that also store activation scales (it stops at the unmapped
``input_scale``).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Tuple

from .errors import ConfigError, QuantizedTensorError, UnsupportedQuantizationError

Listing = Dict[str, Tuple[str, str, Tuple[int, ...]]]  # name -> (file, dtype, shape)

#: method -> what Wick reads of it (for messages and docs)
SUPPORTED = {
    "fp8": "float8 weights with weight_scale_inv (block, per-row or per-tensor)",
    "compressed-tensors": "float-quantized / int-quantized / naive-quantized (channel, block, tensor), "
                          "pack-quantized (int4/int8 groups, optional zero points) and nvfp4-pack-quantized "
                          "(passed through)",
    "modelopt": "FP8 (weight_scale) and NVFP4 (passed through)",
    "gptq": "2-, 4- and 8-bit, g_idx, checkpoint_format gptq or gptq_v2",
    "bitsandbytes": "4-bit NF4/FP4 with or without double quantization, 8-bit LLM.int8",
    "mxfp4": "gpt-oss MXFP4 experts (_blocks with _scales, passed through)",
}

#: names of tensors every method drops: activation and KV-cache scales
_DROPPED = (".input_scale", ".input_zero_point", ".output_scale", ".k_scale", ".v_scale",
            ".activation_scale", "_activation_scale")


def supported_quantization_methods() -> Dict[str, str]:
    """The quantization methods Wick reads as conversion input, with what it reads of each."""
    return dict(SUPPORTED)


def _supported_list() -> str:
    return "; ".join(f"{k} ({v})" for k, v in SUPPORTED.items())


def _unsupported(what: str, method: Optional[str], source: str) -> UnsupportedQuantizationError:
    return UnsupportedQuantizationError(
        f"convert: {source}: {what} is not supported as conversion input; supported: {_supported_list()}", method)


@dataclass(frozen=True)
class QuantConfig:
    """A recognised ``quantization_config``: the method and what decoding needs."""

    method: str          # "fp8", "compressed-tensors", "modelopt", "gptq", "bitsandbytes"
    source: str          # the file it came from
    format: str = ""     # compressed-tensors format / modelopt algo / bnb "4bit" | "8bit"
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Decode:
    """How one logical tensor is decoded: the stored main tensor and the spec
    of the plan source's ``decode`` entry (``convert/decode``'s ``Spec``)."""

    tensor: str
    dtype: str
    shape: Tuple[int, ...]
    spec: Mapping[str, Any]
    label: str  # the source format, for ``--dry-run``
    fp8: bool = False  # dequantized from float8 (llama.cpp's ``--fp8-as-q8`` set)
    appended: bool = False  # a new tensor of dequant_model (GPTQ, pack-quantized): written after the others
    #: NVFP4 pass-through: the per-tensor float32 tensors llama.cpp writes
    #: beside the weight, as (GGUF suffix replacing ".weight", values):
    #: (".scale", scale 2) and (".input_scale", ...) when not trivially 1
    extras: Tuple[Tuple[str, Tuple[float, ...]], ...] = ()

    @property
    def passthrough(self) -> str:
        """The ggml type the stored blocks pass through as ("" when decoded to floats)."""
        return str(self.spec.get("output") or "")


def _json_file(path: Path) -> Optional[Dict[str, Any]]:
    if not path.is_file():
        return None
    try:
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"convert: {path.name}: invalid JSON: {e}", path.name) from None
    if not isinstance(d, dict):
        raise ConfigError(f"convert: {path.name}: must hold a JSON object", path.name)
    return d


def read_quantization_config(config: Mapping[str, Any], model_dir: Optional[str | os.PathLike[str]] = None
                             ) -> Optional[QuantConfig]:
    """Recognise the checkpoint's quantization (``None``: not quantized).

    Looks where llama.cpp's converter looks — config.json's
    ``quantization_config``, then ``hf_quant_config.json`` (ModelOpt) — and
    also in ``quantize_config.json`` (AutoGPTQ). Raises
    :class:`UnsupportedQuantizationError` for a method or format that cannot
    be read, and :class:`ConfigError` for a malformed entry.
    """
    d = Path(model_dir) if model_dir is not None else None
    qc = config.get("quantization_config")
    src = "config.json"
    if qc is not None and not isinstance(qc, dict):
        raise ConfigError("convert: config.json: 'quantization_config' must be an object", "config.json")
    if d is not None:
        hf = _json_file(d / "hf_quant_config.json")
        if hf is not None and (not qc or not qc.get("quant_algo")):
            q = hf.get("quantization") or {}
            producer = str((hf.get("producer") or {}).get("name") or "").lower()
            qc = {**(qc or {}), **q}
            qc.setdefault("quant_method", producer or None)
            src = "hf_quant_config.json"
        if not qc:
            gq = _json_file(d / "quantize_config.json")
            if gq is not None:
                qc = {"quant_method": gq.get("quant_method", "gptq"), **gq}
                src = "quantize_config.json"
    if not qc:
        return None
    method = qc.get("quant_method")
    if isinstance(method, str):
        method = method.lower()
    if method == "fp8":
        bs = qc.get("weight_block_size")
        if bs is not None and (not isinstance(bs, list) or not all(isinstance(b, int) and b > 0 for b in bs)):
            raise ConfigError(f"convert: {src}: weight_block_size must be a list of positive integers, got {bs!r}", src)
        return QuantConfig("fp8", src, params={"block": bs})
    if method == "gptq":
        bits = qc.get("bits")
        if bits not in (2, 4, 8):
            raise _unsupported(f"GPTQ with bits={bits!r}", "gptq", src)
        fmt = qc.get("checkpoint_format", "gptq")
        if fmt not in ("gptq", "gptq_v2"):
            raise _unsupported(f"GPTQ checkpoint_format {fmt!r}", "gptq", src)
        return QuantConfig("gptq", src, fmt, {"bits": bits, "zero_offset": 1 if fmt == "gptq" else 0})
    if method == "compressed-tensors":
        return _compressed_tensors(qc, src)
    if method == "modelopt":
        algo = str(qc.get("quant_algo") or "")
        layers = qc.get("quantized_layers") or {}
        if algo.upper() == "NVFP4" and not layers:
            return QuantConfig("modelopt", src, "NVFP4")
        if "NVFP4" in algo.upper() or any("NVFP4" in str(v.get("quant_algo", "")).upper()
                                          for v in layers.values() if isinstance(v, dict)):
            raise _unsupported(f"ModelOpt {algo or 'mixed'} (only whole-model NVFP4 is read)", "modelopt", src)
        if algo.upper() not in ("FP8", "FP8_PER_CHANNEL_PER_TOKEN", ""):
            raise _unsupported(f"ModelOpt quant_algo {algo!r}", "modelopt", src)
        return QuantConfig("modelopt", src, algo or "FP8")
    if method == "bitsandbytes":
        if qc.get("load_in_4bit"):
            return QuantConfig("bitsandbytes", src, "4bit")
        if qc.get("load_in_8bit"):
            return QuantConfig("bitsandbytes", src, "8bit")
        raise ConfigError(f"convert: {src}: bitsandbytes quantization_config sets neither load_in_4bit nor load_in_8bit", src)
    if method == "mxfp4":
        return QuantConfig("mxfp4", src, "gpt-oss")
    raise _unsupported(f"quantization method {method!r}", method if isinstance(method, str) else None, src)


def _compressed_tensors(qc: Mapping[str, Any], src: str) -> QuantConfig:
    fmt = qc.get("format")
    groups = qc.get("config_groups") or {}
    if not isinstance(groups, dict) or not groups:
        raise ConfigError(f"convert: {src}: compressed-tensors needs 'config_groups'", src)
    sparsity = qc.get("sparsity_config")
    if isinstance(sparsity, dict) and sparsity.get("format") not in (None, "dense"):
        raise _unsupported(f"compressed-tensors sparsity format {sparsity.get('format')!r}", "compressed-tensors", src)
    gfmts = {g.get("format") for g in groups.values() if isinstance(g, dict)}
    if fmt == "nvfp4-pack-quantized":
        return QuantConfig("compressed-tensors", src, fmt)
    if fmt == "mxfp4-pack-quantized" or fmt == "mixed-precision" and (
            gfmts & {"nvfp4-pack-quantized", "mxfp4-pack-quantized"}):
        raise _unsupported(f"compressed-tensors format {fmt!r} (llama.cpp's converter reads MXFP4 only for "
                           "Kimi/DeepSeek-V4 experts)", "compressed-tensors", src)
    if len(groups) > 1:
        raise _unsupported("compressed-tensors with several config groups (llama.cpp reads one)", "compressed-tensors", src)
    w = next(iter(groups.values())).get("weights") or {}
    if not isinstance(w, dict):
        raise ConfigError(f"convert: {src}: config_groups weights must be an object", src)
    if fmt in ("float-quantized", "int-quantized", "naive-quantized"):
        strategy = w.get("strategy")
        if strategy not in ("channel", "block", "tensor"):
            raise _unsupported(f"compressed-tensors {fmt} with strategy {strategy!r}", "compressed-tensors", src)
        if w.get("group_size") is not None:
            raise _unsupported(f"compressed-tensors {fmt} with group_size", "compressed-tensors", src)
        if w.get("actorder"):
            raise _unsupported("compressed-tensors act-order (weight_g_idx)", "compressed-tensors", src)
        fp8 = fmt == "float-quantized" and w.get("type") == "float" and w.get("num_bits") == 8
        return QuantConfig("compressed-tensors", src, fmt, {"block": w.get("block_structure"), "fp8": fp8,
                                                           "strategy": strategy})
    if fmt == "pack-quantized":
        if w.get("strategy") != "group" or w.get("type", "int") != "int":
            raise _unsupported(f"compressed-tensors pack-quantized with strategy {w.get('strategy')!r} "
                               f"type {w.get('type')!r} (llama.cpp reads int groups)", "compressed-tensors", src)
        bits, gs = w.get("num_bits"), w.get("group_size")
        if bits not in (2, 4, 8) or not isinstance(gs, int) or gs <= 0:
            raise _unsupported(f"compressed-tensors pack-quantized with num_bits={bits!r} group_size={gs!r}",
                               "compressed-tensors", src)
        if w.get("actorder"):
            raise _unsupported("compressed-tensors act-order (weight_g_idx)", "compressed-tensors", src)
        return QuantConfig("compressed-tensors", src, fmt, {"bits": bits, "group_size": gs})
    raise _unsupported(f"compressed-tensors format {fmt!r}", "compressed-tensors", src)


# ------------------------------------------------------------------ grouping
def _ref(tensors: Listing, name: str) -> Dict[str, Any]:
    file, dtype, shape = tensors[name]
    return {"file": file, "tensor": name, "dtype": dtype, "shape": [int(x) for x in shape]}


def _need(tensors: Listing, name: str, weight: str) -> None:
    if name not in tensors:
        raise QuantizedTensorError(
            f"convert: {tensors[weight][0]}: quantized weight {weight!r} has no {name!r} in the checkpoint",
            name, tensors[weight][0])


def _bad(tensors: Listing, name: str, msg: str) -> QuantizedTensorError:
    file = tensors[name][0] if name in tensors else None
    return QuantizedTensorError(f"convert: {file}: tensor {name!r}: {msg}", name, file)


def _dims(shape: Sequence[int]) -> str:
    return "x".join(str(x) for x in shape) or "scalar"


def group_tensors(qc: Optional[QuantConfig], tensors: Listing,
                  read_tensor: Optional[Callable[[str, str], Any]] = None
                  ) -> Dict[str, Tuple[str, str, Tuple[int, ...], Optional[Decode]]]:
    """Group each quantized weight with its auxiliary tensors into one logical tensor.

    Args:
        qc: the recognised quantization (:func:`read_quantization_config`);
            ``None`` returns the listing unchanged.
        tensors: checkpoint tensor name → (file, dtype, shape).
        read_tensor: ``(file, tensor) -> numpy array`` for the few tiny
            tensors planning must read (bitsandbytes quant states); the
            default raises, so only bitsandbytes 4-bit checkpoints need it.

    Returns name → (file, dtype, shape, decode): the logical tensors (decode
    set) and every other tensor as it was (decode ``None``), dropped tensors
    removed. Checks presence, dtypes and shapes of the auxiliary tensors
    (:class:`QuantizedTensorError` names the tensor and file); the Go decoder
    checks the rest (index ranges) before writing anything.
    """
    out: Dict[str, Tuple[str, str, Tuple[int, ...], Optional[Decode]]] = {
        n: (f, dt, tuple(sh), None) for n, (f, dt, sh) in tensors.items()}
    if qc is None:
        return out
    used: set = set()

    def put(name: str, main: str, logical_shape: Sequence[int], dtype: str, spec: Dict[str, Any],
            label: str, aux: Sequence[str], fp8: bool = False, extras: Tuple = ()) -> None:
        f, dt, sh = tensors[main]
        spec = {**spec, "shape": [int(x) for x in logical_shape]}
        appended = spec["method"] in ("gptq", "int_packed")
        out[name] = (f, dtype, tuple(int(x) for x in logical_shape),
                     Decode(main, dt, tuple(sh), spec, label, fp8, appended, tuple(extras)))
        for a in (main, *aux):
            if a != name:
                used.add(a)

    if qc.format in ("NVFP4", "nvfp4-pack-quantized"):
        _group_nvfp4(qc, tensors, read_tensor, put, used)
    elif qc.method == "mxfp4":
        for bname in sorted(tensors):
            if not bname.endswith("_blocks"):
                continue
            sname = bname[: -len("_blocks")] + "_scales"
            _need(tensors, sname, bname)
            bdt, bsh = tensors[bname][1], tensors[bname][2]
            sdt, ssh = tensors[sname][1], tensors[sname][2]
            if bdt != "U8" or len(bsh) < 3 or bsh[-1] != 16:
                raise _bad(tensors, bname, f"is {bdt} {list(bsh)}; gpt-oss MXFP4 blocks are U8 [..., rows, cols/32, 16]")
            if sdt not in ("U8", "F8_E8M0") or tuple(ssh) != tuple(bsh[:-1]):
                raise _bad(tensors, sname, f"is {sdt} {list(ssh)}; the scales of {bname!r} {list(bsh)} are U8 "
                                           f"{list(bsh[:-1])}")
            spec = {"method": "mxfp4", "aux": {"scale": _ref(tensors, sname)}, "params": {"layout": "gpt-oss"},
                    "output": "MXFP4"}
            put(bname, bname, [*bsh[:-2], bsh[-2] * 32], "F32", spec, "mxfp4 (passed through)", [sname])
        for n in tensors:
            if n.endswith("_scales") and n not in used:
                raise _bad(tensors, n, f"is an MXFP4 scale of {n[: -len('_scales')] + '_blocks'!r}, which is not in "
                                       f"the checkpoint")
    elif qc.method in ("fp8", "compressed-tensors", "modelopt") and qc.format != "pack-quantized":
        suffix = "_scale_inv" if qc.method == "fp8" else "_scale"
        block = qc.params.get("block")
        for sname in sorted(tensors):
            if not sname.endswith(".weight" + suffix):
                continue
            wname = sname[: -len(suffix)]
            if wname not in tensors:
                if qc.method == "modelopt":  # the converter drops an orphan scale
                    used.add(sname)
                    continue
                raise _bad(tensors, sname, f"is a scale of {wname!r}, which is not in the checkpoint")
            wdt, wsh = tensors[wname][1], tensors[wname][2]
            sdt, ssh = tensors[sname][1], tensors[sname][2]
            if wdt not in ("F8_E4M3", "F8_E5M2", "I8", "BF16", "F16", "F32"):
                raise _bad(tensors, wname, f"has dtype {wdt}; a scaled weight is float8, int8 or a float dtype")
            if sdt not in ("F32", "BF16", "F16", "F64"):
                raise _bad(tensors, sname, f"has dtype {sdt}; a scale is F32, BF16, F16 or F64")
            _check_scale(tensors, wname, sname, wsh, ssh, block)
            # llama.cpp's _fp8_dequantized set: every fp8-method weight, compressed-tensors
            # float-quantized 8-bit floats, ModelOpt weights stored as float8
            fp8 = {"fp8": True, "compressed-tensors": bool(qc.params.get("fp8")),
                   "modelopt": wdt.startswith("F8_")}[qc.method]
            what = {"F8_E4M3": "fp8 e4m3", "F8_E5M2": "fp8 e5m2", "I8": "int8"}.get(wdt, wdt.lower())
            if block:
                how = "block " + "x".join(map(str, block))
            elif all(x == 1 for x in ssh):
                how = "per-tensor"
            else:
                how = "per-channel"
            params = {"block": list(block)} if block else {}
            spec = {"method": "scaled", "aux": {"scale": _ref(tensors, sname)}, "params": params}
            put(wname, wname, wsh, "F32", spec, f"{what} {how}", [sname], fp8)
        for n in sorted(tensors):  # a float8 weight whose scale is missing cannot be read at all
            if tensors[n][1].startswith("F8_") and out[n][3] is None and n not in used:
                _need(tensors, n + suffix, n)
    elif qc.method == "compressed-tensors":  # pack-quantized
        bits, gs = qc.params["bits"], qc.params["group_size"]
        for pname in sorted(tensors):
            if not pname.endswith(".weight_packed"):
                continue
            base = pname[: -len("_packed")]
            scale, shape, zero, gidx = base + "_scale", base + "_shape", base + "_zero_point", base + "_g_idx"
            _need(tensors, scale, pname)
            if gidx in tensors:
                raise _bad(tensors, gidx, "act-order (weight_g_idx) is not read by llama.cpp's converter, nor by Wick")
            pdt, psh = tensors[pname][1], tensors[pname][2]
            sdt, ssh = tensors[scale][1], tensors[scale][2]
            if pdt != "I32" or len(psh) != 2:
                raise _bad(tensors, pname, f"is {pdt} {list(psh)}; pack-quantized weights are 2-D I32")
            if sdt not in ("F32", "BF16", "F16") or len(ssh) != 2 or ssh[0] != psh[0]:
                raise _bad(tensors, scale, f"is {sdt} {list(ssh)}; expected a float [{psh[0]}, groups] scale")
            cols = ssh[1] * gs
            pack = 32 // bits
            if (cols + pack - 1) // pack != psh[1]:
                raise _bad(tensors, scale, f"{ssh[1]} groups of {gs} make {cols} columns, which {pname!r} "
                                           f"({list(psh)}, {pack} per word) does not hold")
            aux = {"scale": _ref(tensors, scale)}
            if shape in tensors:
                aux["shape"] = _ref(tensors, shape)
            if zero in tensors:
                aux["zero"] = _ref(tensors, zero)
            spec = {"method": "int_packed", "aux": aux, "params": {"bits": bits, "group_size": gs}}
            label = f"int{bits} g{gs} {'asym' if zero in tensors else 'sym'}"
            put(base, pname, [psh[0], cols], "F32", spec, label, list(aux_name for aux_name in (scale, shape, zero)
                                                                     if aux_name in tensors))
    elif qc.method == "gptq":
        bits = qc.params["bits"]
        for qname in sorted(tensors):
            if not qname.endswith(".qweight"):
                continue
            base = qname[: -len(".qweight")]
            names = {"scale": base + ".scales", "zero": base + ".qzeros", "g_idx": base + ".g_idx"}
            for n in names.values():
                _need(tensors, n, qname)
            qdt, qsh = tensors[qname][1], tensors[qname][2]
            if qdt != "I32" or len(qsh) != 2:
                raise _bad(tensors, qname, f"is {qdt} {list(qsh)}; GPTQ qweight is 2-D I32")
            ssh = tensors[names["scale"]][2]
            if len(ssh) != 2 or ssh[1] != qsh[1]:
                raise _bad(tensors, names["scale"], f"shape {list(ssh)} is not [groups, {qsh[1]}]")
            pack = 32 // bits
            if tensors[names["zero"]][2] != (ssh[0], qsh[1] // pack):
                raise _bad(tensors, names["zero"], f"shape {list(tensors[names['zero']][2])} is not "
                                                   f"[{ssh[0]}, {qsh[1] // pack}]")
            if tensors[names["g_idx"]][2] != (qsh[0] * pack,):
                raise _bad(tensors, names["g_idx"], f"shape {list(tensors[names['g_idx']][2])} is not [{qsh[0] * pack}]")
            spec = {"method": "gptq", "aux": {r: _ref(tensors, n) for r, n in names.items()},
                    "params": {"bits": bits, "zero_offset": qc.params["zero_offset"]}}
            put(base + ".weight", qname, [qsh[1], qsh[0] * pack], "F32", spec,
                f"gptq int{bits}{'' if qc.format == 'gptq' else ' v2'}", list(names.values()))
    elif qc.method == "bitsandbytes" and qc.format == "8bit":
        for sname in sorted(tensors):
            if not sname.endswith(".SCB"):
                continue
            wname = sname[: -len("SCB")] + "weight"
            if wname not in tensors:
                raise _bad(tensors, sname, f"is the row statistics of {wname!r}, which is not in the checkpoint")
            wdt, wsh = tensors[wname][1], tensors[wname][2]
            if wdt != "I8" or len(wsh) != 2:
                raise _bad(tensors, wname, f"is {wdt} {list(wsh)}; an LLM.int8 weight is 2-D I8")
            if tensors[sname][1] != "F32" or tensors[sname][2] != (wsh[0],):
                raise _bad(tensors, sname, f"is {tensors[sname][1]} {list(tensors[sname][2])}; expected F32 [{wsh[0]}]")
            spec = {"method": "bnb_int8", "aux": {"scb": _ref(tensors, sname)}, "params": {}}
            fmt = sname[: -len("SCB")] + "weight_format"
            put(wname, wname, wsh, "F32", spec, "bnb int8", [sname] + ([fmt] if fmt in tensors else []))
    elif qc.method == "bitsandbytes":
        for qsname in sorted(tensors):
            for qt in ("nf4", "fp4"):
                if qsname.endswith(".quant_state.bitsandbytes__" + qt):
                    break
            else:
                continue
            wname = qsname[: -len(".quant_state.bitsandbytes__" + qt)]
            _need(tensors, wname, qsname)
            state = _bnb_state(tensors, qsname, qt, read_tensor)
            put(wname, wname, state["shape"], state["dtype"], state["spec"], state["label"], state["aux"])
    # what the converter drops without a word
    for n in tensors:
        if n.endswith(_DROPPED):
            used.add(n)
    # auxiliary tensors left without their weight
    for n in used:
        out.pop(n, None)
    return out


def _scalar(tensors: Listing, name: str, read_tensor: Optional[Callable[[str, str], Any]]) -> float:
    """The float32 value of a one-element scale tensor (read now: it becomes plan data)."""
    import numpy as np

    f, dt, sh = tensors[name]
    if dt not in ("F32", "BF16", "F16") or math.prod(sh) != 1:
        raise _bad(tensors, name, f"is {dt} {list(sh)}; expected a one-element float scale")
    if read_tensor is None:
        raise _bad(tensors, name, "reading a per-tensor scale needs a tensor reader")
    a = np.asarray(read_tensor(f, name)).reshape(-1)
    if dt == "BF16" and a.dtype == np.uint16:
        a = (a.astype(np.uint32) << np.uint32(16)).view(np.float32)
    v = np.float32(a[0])
    if not np.isfinite(v):
        raise _bad(tensors, name, f"is {v}; a scale must be finite")
    return float(v)


def _group_nvfp4(qc: QuantConfig, tensors: Listing, read_tensor: Optional[Callable[[str, str], Any]],
                 put: Callable[..., None], used: set) -> None:
    """NVFP4 weights (ModelOpt; compressed-tensors renamed to ModelOpt's names
    as the converter does) pass through as GGUF NVFP4 blocks (_nvfp4_pack),
    with the per-tensor scale 2 and input scale as separate F32 tensors."""
    import numpy as np

    ct = qc.method == "compressed-tensors"
    packed_suffix = ".weight_packed" if ct else ".weight"
    for sname in sorted(tensors):
        if not sname.endswith(".weight_scale"):
            continue
        base = sname[: -len(".weight_scale")]
        main = base + packed_suffix
        if main not in tensors:
            if not ct:  # the converter drops an orphan ModelOpt scale
                used.add(sname)
                continue
            raise _bad(tensors, sname, f"is an NVFP4 scale of {main!r}, which is not in the checkpoint")
        if len(tensors[sname][2]) < 2:
            raise _unsupported(f"a checkpoint mixing NVFP4 and per-channel scales ({sname!r})", qc.method, qc.source)
        mdt, msh = tensors[main][1], tensors[main][2]
        sdt, ssh = tensors[sname][1], tensors[sname][2]
        if mdt != "U8" or len(msh) != 2:
            raise _bad(tensors, main, f"is {mdt} {list(msh)}; NVFP4 weights are 2-D U8 (two codes per byte)")
        cols = 2 * msh[1]
        if sdt not in ("F8_E4M3", "U8") or tuple(ssh) != (msh[0], cols // 16):
            raise _bad(tensors, sname, f"is {sdt} {list(ssh)}; expected F8_E4M3 [{msh[0]}, {cols // 16}]")
        if cols % 64:
            raise _bad(tensors, main, f"rows of {cols} values are not whole NVFP4 super-blocks of 64")
        extras = []
        if ct:
            pairs = ((".scale", base + ".weight_global_scale"), (".input_scale", base + ".input_global_scale"))
        else:
            pairs = ((".scale", base + ".weight_scale_2"), (".input_scale", base + ".input_scale"))
        for suffix, src in pairs:
            if src not in tensors:
                continue
            v = _scalar(tensors, src, read_tensor)
            if ct:  # compressed-tensors stores the reciprocal ("global" scale)
                v = float(np.float32(1.0) / np.float32(v))
            used.add(src)
            if not abs(float(np.float32(v)) - 1.0) < 1e-6:  # _scale_is_trivial
                extras.append((suffix, (v,)))
        spec = {"method": "nvfp4", "aux": {"scale": _ref(tensors, sname)}, "params": {}, "output": "NVFP4"}
        put(base + ".weight", main, [msh[0], cols], "F32", spec, "nvfp4 (passed through)", [sname], extras=extras)


def _check_scale(tensors: Listing, wname: str, sname: str, wsh: Sequence[int], ssh: Sequence[int],
                 block: Optional[Sequence[int]]) -> None:
    if block:
        if len(ssh) != len(wsh) or len(block) > len(wsh):
            raise _bad(tensors, sname, f"shape {list(ssh)} does not fit weight {wname!r} {list(wsh)} "
                                       f"in blocks {list(block)}")
        off = len(wsh) - len(block)
        for d in range(len(wsh)):
            want = -(-wsh[d] // block[d - off]) if d >= off else wsh[d]
            if ssh[d] != want and not (d < off and ssh[d] == 1):
                raise _bad(tensors, sname, f"shape {list(ssh)}: weight {wname!r} {list(wsh)} in blocks "
                                           f"{list(block)} needs {want} in dimension {d}")
        return
    if len(ssh) > len(wsh) or any(s not in (1, w) for s, w in zip(list(ssh) + [1] * (len(wsh) - len(ssh)), wsh)):
        raise _bad(tensors, sname, f"shape {list(ssh)} does not broadcast to weight {wname!r} {list(wsh)}")


_BNB_DTYPES = {"float32": "F32", "float16": "F16", "bfloat16": "BF16"}


def _bnb_state(tensors: Listing, qsname: str, qt: str, read_tensor: Optional[Callable[[str, str], Any]]
               ) -> Dict[str, Any]:
    file = tensors[qsname][0]
    if read_tensor is None:
        raise _bad(tensors, qsname, "reading a bitsandbytes quant state needs a tensor reader")
    wname = qsname[: -len(".quant_state.bitsandbytes__" + qt)]
    raw = read_tensor(file, qsname)
    try:
        text = bytes(memoryview(raw).cast("B")).decode("utf-8")
        st = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError, TypeError, ValueError) as e:
        raise _bad(tensors, qsname, f"is not a JSON quant state: {e}") from None
    if not isinstance(st, dict):
        raise _bad(tensors, qsname, "quant state must be a JSON object")

    def field_(key: str, typ: Any) -> Any:
        v = st.get(key)
        if not isinstance(v, typ) or isinstance(v, bool):
            raise _bad(tensors, qsname, f"quant state {key!r} is {v!r}; expected {getattr(typ, '__name__', typ)}")
        return v

    if st.get("quant_type", qt) != qt:
        raise _bad(tensors, qsname, f"quant state says quant_type {st.get('quant_type')!r} but its key says {qt!r}")
    bs = field_("blocksize", int)
    shape = field_("shape", list)
    if not shape or not all(isinstance(x, int) and x > 0 for x in shape):
        raise _bad(tensors, qsname, f"quant state shape {shape!r} is not a list of positive integers")
    dtype = _BNB_DTYPES.get(st.get("dtype"))
    if dtype is None:
        raise _bad(tensors, qsname, f"quant state dtype {st.get('dtype')!r} is not one of {', '.join(_BNB_DTYPES)}")
    n = math.prod(shape)
    blocks = -(-n // bs)
    if tensors[wname][1] != "U8" or math.prod(tensors[wname][2]) != (n + 1) // 2:
        raise _bad(tensors, wname, f"is {tensors[wname][1]} {list(tensors[wname][2])}; a 4-bit weight of shape "
                                   f"{shape} is {(n + 1) // 2} U8 bytes")
    aux = {"absmax": wname + ".absmax", "quant_map": wname + ".quant_map"}
    nested = "nested_blocksize" in st or wname + ".nested_absmax" in tensors
    params: Dict[str, Any] = {"quant_type": qt, "blocksize": bs, "dtype": st["dtype"]}
    if nested:
        aux["nested_absmax"] = wname + ".nested_absmax"
        aux["nested_quant_map"] = wname + ".nested_quant_map"
        params["nested_blocksize"] = field_("nested_blocksize", int)
        off = st.get("nested_offset")
        if not isinstance(off, (int, float)) or isinstance(off, bool) or not math.isfinite(off):
            raise _bad(tensors, qsname, f"quant state nested_offset is {off!r}; expected a finite number")
        params["offset"] = float(off)
    for n_ in aux.values():
        _need(tensors, n_, wname)
    am = tensors[aux["absmax"]]
    if am[2] != (blocks,) or am[1] != ("U8" if nested else "F32"):
        raise _bad(tensors, aux["absmax"], f"is {am[1]} {list(am[2])}; expected {'U8' if nested else 'F32'} [{blocks}]")
    if nested:
        nb = params["nested_blocksize"]
        na = tensors[aux["nested_absmax"]]
        if na[2] != (-(-blocks // nb),) or na[1] != "F32":
            raise _bad(tensors, aux["nested_absmax"], f"is {na[1]} {list(na[2])}; expected F32 [{-(-blocks // nb)}]")
    spec = {"method": "bnb_4bit", "aux": {r: _ref(tensors, x) for r, x in aux.items()}, "params": params}
    label = f"bnb {qt} b{bs}{' dq' if nested else ''}"
    return {"shape": shape, "dtype": dtype, "spec": spec, "label": label, "aux": [*aux.values(), qsname]}


def describe(decode: Optional[Mapping[str, Any]], dtype: str) -> str:
    """A short description of a plan source's format (the ``from`` column of ``--dry-run``)."""
    if not decode:
        return dtype
    m, p = decode.get("method"), decode.get("params") or {}
    aux = decode.get("aux") or {}
    if m == "scaled":
        what = {"F8_E4M3": "fp8 e4m3", "F8_E5M2": "fp8 e5m2", "I8": "int8"}.get(dtype, dtype.lower())
        if p.get("block"):
            return f"{what} block " + "x".join(str(b) for b in p["block"])
        shape = (aux.get("scale") or {}).get("shape") or []
        return f"{what} {'per-tensor' if all(x == 1 for x in shape) else 'per-channel'}"
    if m == "gptq":
        return f"gptq int{p.get('bits')}{'' if p.get('zero_offset', 1) else ' v2'}"
    if m == "int_packed":
        return f"int{p.get('bits')} g{p.get('group_size')} {'asym' if 'zero' in aux else 'sym'}"
    if m == "bnb_4bit":
        return f"bnb {p.get('quant_type')} b{p.get('blocksize')}{' dq' if 'nested_absmax' in aux else ''}"
    if m == "bnb_int8":
        return "bnb int8"
    if m in ("nvfp4", "mxfp4"):
        return f"{m} (passed through)" if decode.get("output") else str(m)
    return str(m)


def plan_quantized_listing(config: Mapping[str, Any], model_dir: Optional[str | os.PathLike[str]], tensors: Listing,
                           read_tensor: Optional[Callable[[str, str], Any]] = None
                           ) -> Tuple[Optional[QuantConfig], Dict[str, Tuple[str, str, Tuple[int, ...], Optional[Decode]]]]:
    """:func:`read_quantization_config` then :func:`group_tensors`."""
    qc = read_quantization_config(config, model_dir)
    return qc, group_tensors(qc, tensors, read_tensor)


__all__ = ["SUPPORTED", "QuantConfig", "Decode", "read_quantization_config", "group_tensors", "describe",
           "supported_quantization_methods", "plan_quantized_listing"]
