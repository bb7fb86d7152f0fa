"""Plans for GGUF → GGUF requantization: what ``llama-quantize IN.gguf OUT.gguf TYPE`` does.

:func:`requantize_plan` reads a GGUF model with F32, F16 or BF16 tensors
(metadata and tensor infos only) and returns a :class:`~wick.convert.Plan`
whose sources are the input's tensors (``"format": "gguf"``) and whose
output is, byte for byte, the file ``llama-quantize`` writes
(``src/llama-quant.cpp``, ``llama_model_quantize_impl``):

* **Metadata**: every input key in input order, except that
  ``general.quantization_version`` (UINT32 2) and ``general.file_type``
  (UINT32, the target's ``llama_ftype``) are set again — removed and
  appended, so they move to the end — and the ``split.*`` keys are dropped;
  then the ``quantize.imatrix.*`` keys when an importance matrix is used
  (:mod:`wick.convert.imatrix_plan`).
* **Tensors**: llama-quantize's processing order (by layer, then name;
  :func:`~wick.convert.mixture.quantize_order`), each with the type the
  mixture rules give (:mod:`wick.convert.mixture`, fed the model facts from
  the metadata: ``{arch}.block_count``, ``{arch}.attention.head_count``,
  ``.head_count_kv`` and ``{arch}.expert_count``). Tensors that may not be
  quantized (1-D, norms, …) keep their type. Shapes are unchanged.

A split model (``llama-gguf-split`` output) is read whole from its first part,
as llama-quantize reads it: the metadata is the first part's (less the
``split.*`` keys), the tensors come from every part (:func:`wick.gguf.open`).

Inputs llama-quantize would refuse without ``--allow-requantize`` — any
already-quantized tensor — are refused (:class:`RequantizeInputError`), as
are later parts of a split model and metadata holding arrays of arrays
(ggml cannot read those).
"""

from __future__ import annotations

import math
import os
from typing import Any, List, Optional, Union

from ..gguf import values as V
from ..gguf.values import KV, ValueType
from .errors import RequantizeInputError
from .ggml_types import FLOAT_TYPES
from .ggml_types import target as lookup_target
from .imatrix_plan import ImatrixAssigner, append_metadata
from .mixture import MixtureModel, allows_quantization, choose_types
from .options import REQUANTIZE, PlanOptions, takes_plan_options
from .plan import ALIGNMENT, QUANTIZATION_VERSION, Plan, SourceRef, TensorPlan, ggml_dims, imatrix_info, mixture_options
from .split import split_options

__all__ = ["requantize_plan", "SPLIT_KEYS"]

#: Keys llama-quantize drops (it writes one file).
SPLIT_KEYS = ("split.no", "split.count", "split.tensors.count")


def _int_meta(meta: Any, path: str, key: str, default: Optional[int] = None) -> int:
    """An integer hyper-parameter; arrays (per-layer values) give their first element, as n_head(0) does."""
    if key not in meta:
        if default is None:
            raise RequantizeInputError(f"convert: {path}: metadata key {key!r} is missing; llama.cpp needs it "
                                       "to load the model (and the type rules use it)")
        return default
    t, elem = meta.type(key)
    v = meta[key]
    if t == ValueType.ARRAY:
        if elem not in V._INT_RANGES or not v:
            raise RequantizeInputError(f"convert: {path}: metadata {key!r} is an array of {elem.name if elem else '?'}; "
                                       "expected integers")
        v = v[0]
    elif t not in V._INT_RANGES:
        raise RequantizeInputError(f"convert: {path}: metadata {key!r} is {t.name}; expected an integer")
    return int(v)


@takes_plan_options(REQUANTIZE)
def requantize_plan(
    gguf_path: Union[str, os.PathLike[str]],
    target: str,
    options: Optional[PlanOptions] = None,
    **keywords: Any,
) -> Plan:
    """Plan the requantization of a GGUF model to ``target``, as llama-quantize does it.

    Args:
        gguf_path: a GGUF model whose tensors are F32, F16 or BF16.
        target: ``"Q4_K_M"``, ``"Q8_0"``, ``"F16"`` … (``wick.convert.TARGETS``).
        options: a :class:`~wick.convert.options.PlanOptions`; keywords given
            beside it override its fields.

    Returns:
        A :class:`Plan` with ``reference == "quantize"``, ``model_dir`` the
        input's directory and one GGUF source per tensor.

    Raises:
        RequantizeInputError: quantized tensors, a later part of a split model, missing keys.
        ImatrixError and subclasses: see :mod:`wick.convert.imatrix_plan`.
        wick.WickFormatError / wick.WickFileNotFoundError: an unreadable input.
    """
    opts = PlanOptions.of(options, keywords, scope=REQUANTIZE, caller="requantize_plan")
    from .. import gguf as _gguf

    tgt = lookup_target(target)
    path = os.fspath(gguf_path)
    with _gguf.open(path) as g:
        meta = g.metadata
        infos = list(g.tensors.values())
    n_split = _int_meta(meta, path, "split.count", 0) if "split.count" in meta else 0
    if n_split > 1 and _int_meta(meta, path, "split.no", 0) != 0:
        raise RequantizeInputError(f"convert: {path} is part {_int_meta(meta, path, 'split.no') + 1} of a split GGUF "
                                   f"model of {n_split} parts; give its first part (…-00001-of-{n_split:05d}.gguf), "
                                   "which opens them all, as llama-quantize does")
    in_kvs: List[KV] = []
    for kv in meta.kvs:
        if kv.type == ValueType.ARRAY and kv.element_type == ValueType.ARRAY:
            raise RequantizeInputError(f"convert: {path}: metadata {kv.key!r} is an array of arrays, which ggml "
                                       "cannot load")
        vals = kv.value if kv.type == ValueType.ARRAY else [kv.value]
        if ValueType.FLOAT32 in (kv.type, kv.element_type) or ValueType.FLOAT64 in (kv.type, kv.element_type):
            if not all(math.isfinite(x) for x in vals):
                raise RequantizeInputError(f"convert: {path}: metadata {kv.key!r} holds NaN or infinity, which a "
                                           "plan (JSON) cannot carry")
        # FLOAT32 values as the exact binary32 numbers (the plan's convention)
        in_kvs.append(KV.from_dict(kv.to_dict()))
    for t in infos:
        if t.type.name not in FLOAT_TYPES:
            why = ("requantizing already-quantized weights loses quality; llama-quantize needs --allow-requantize "
                   "for it" if t.type.block_size > 1 else "Wick reads no other element type")
            raise RequantizeInputError(
                f"convert: {path}: tensor {t.name!r} is {t.type.name}; Wick requantizes GGUF files whose tensors are "
                f"F32, F16 or BF16 ({why})")
    if "general.architecture" not in meta or meta.type("general.architecture")[0] != ValueType.STRING:
        raise RequantizeInputError(f"convert: {path}: general.architecture is missing or not a string")
    arch = meta["general.architecture"]
    n_layer = _int_meta(meta, path, f"{arch}.block_count")
    n_head = _int_meta(meta, path, f"{arch}.attention.head_count", 0)
    n_head_kv = _int_meta(meta, path, f"{arch}.attention.head_count_kv", n_head)
    n_expert = _int_meta(meta, path, f"{arch}.expert_count", 0)

    info = imatrix_info(opts)
    options = mixture_options(opts, has_imatrix=info is not None and info.active)

    # metadata: copied, then quantization_version and file_type set again, split keys removed
    kvs: List[KV] = [kv for kv in in_kvs if kv.key not in
                     ("general.quantization_version", "general.file_type") + SPLIT_KEYS]
    kvs += [V.u32("general.quantization_version", QUANTIZATION_VERSION), V.u32("general.file_type", tgt.ftype)]
    kvs = append_metadata(kvs, info)
    alignment = ALIGNMENT
    if "general.alignment" in meta:
        alignment = int(meta["general.alignment"])

    by_name = {t.name: t for t in infos}
    mm = MixtureModel(arch, n_layer, n_head, n_head_kv, n_expert)
    choices = choose_types(mm, tgt, [(t.name, list(t.dims)) for t in infos], options, current_type="F32")
    assigner = ImatrixAssigner(info, tgt.name)
    allowed = {c.name: allows_quantization(c.name, list(by_name[c.name].dims), options) for c in choices}
    assigner.check_required([(c.name, c.type, allowed[c.name]) for c in choices])
    model_dir = os.path.dirname(os.path.abspath(path))
    file = os.path.basename(path)
    out: List[TensorPlan] = []
    for c in choices:
        t = by_name[c.name]
        cur = t.type.name
        typ, reason = c.type, c.reason
        if not allowed[c.name]:
            typ, reason = cur, f"not quantized: kept {cur}"
        imat, note = assigner.assign(c.name, list(t.dims), cur, typ)
        if typ == cur:
            reason = f"{reason}; copied" if allowed[c.name] else reason
        if note:
            reason = f"{reason} ({note})"
        out.append(TensorPlan(name=c.name, shape=ggml_dims(t.dims), type=typ,
                              sources=[SourceRef(file, c.name, cur, list(t.shape), "gguf")],
                              imatrix=imat, reason=reason))
    assigner.finish()
    return Plan(hf_architecture=None, architecture=arch, target=tgt.name, file_type=tgt.ftype, reference="quantize",
                metadata=kvs, tensors=out, model_dir=model_dir, alignment=alignment,
                imatrix_file=info.abspath if info is not None and info.active else None,
                split=split_options(opts.split_max_size, opts.split_max_tensors))
