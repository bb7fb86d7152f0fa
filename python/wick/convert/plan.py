"""The conversion plan: plain data describing the GGUF file to write (or,
with format ``"safetensors"``, the Hugging Face model directory: see the end).

Python decides *what* to write; the Go executor decides *how fast*. The plan
crosses the C boundary as JSON (:meth:`Plan.to_json`). It names every
metadata entry with its exact GGUF value type and, for every output tensor,
where its values come from, what to do to them and which ggml type to encode.

JSON schema (version 3)
-----------------------
Version 3 is version 2 with an output ``format``: GGUF plans are unchanged
but for ``"format": "gguf"`` (absent is read as gguf); ``"safetensors"``
plans are described at the end. ::

    {
      "schema": 3,
      "format": "gguf",
      "model_dir": "/path/to/model" | null,   # source files are relative to it
      "hf_architecture": "LlamaForCausalLM", # null for a GGUF input (requantize)
      "architecture": "llama",                # general.architecture
      "target": "Q4_K_M",
      "file_type": 15,                        # general.file_type (llama_ftype)
      "reference": "convert+quantize",        # which llama.cpp pipeline the file
                                              # reproduces: "convert" (the converter
                                              # alone), "convert+quantize" (its F32
                                              # file, then llama-quantize),
                                              # "convert(f16)+quantize" or
                                              # "convert(bf16)+quantize" (a lossy
                                              # intermediate: PlanOptions.intermediate),
                                              # "quantize" (GGUF -> GGUF)
      "alignment": 32,                        # tensor data alignment
      "imatrix_file": "/abs/imatrix.gguf" | null,  # importance matrix the
                                              # tensors' "imatrix" entries name
      "split": {"max_bytes": 0, "max_tensors": 10} | null,  # write a split model as
                                              # llama-gguf-split (exactly one limit
                                              # > 0; the split_max_size/_tensors
                                              # plan options; wick.convert.split)
      "metadata": [                           # in file order
        {"key": "general.architecture", "type": "STRING", "value": "llama"},
        {"key": "llama.block_count", "type": "UINT32", "value": 16},
        {"key": "llama.rope.freq_base", "type": "FLOAT32", "value": 500000.0},
        {"key": "tokenizer.ggml.tokens", "type": "ARRAY",
         "element_type": "STRING", "value": ["!", "\\"", ...]},
        ...
      ],
      "tensors": [                            # in file order
        {
          "name": "blk.0.attn_q.weight",      # GGUF tensor name
          "shape": [2048, 2048],              # GGUF ne order: ne[0] = row length
          "type": "Q4_K",                     # output ggml type name
          "nbytes": 2359296,                  # encoded size (check value)
          "sources": [                        # [] for generated tensors
            {"file": "model.safetensors",     # relative to model_dir
             "tensor": "model.layers.0.self_attn.q_proj.weight",
             "dtype": "BF16",                 # the stored dtype (safetensors name;
                                              # for GGUF sources the ggml type name)
             "shape": [2048, 2048],           # row-major, as stored
             "format": "gguf",                # only for GGUF sources (absent:
                                              # safetensors)
             "decode": {...}}                 # only for quantized checkpoint
                                              # tensors (convert/decode): method,
                                              # logical shape, auxiliary tensors
          ],
          "parts": [                          # [] = each source whole, in order
            {"source": 0, "shape": [32, 32, 2, 2048],
             "strides": [131072, 2048, 65536, 1], "offset": 0}
          ],
          "ops": [{"op": "add", "value": 1.0}],  # element-wise, in order
          "data": null,                       # or {"dtype": "F32",
                                              #  "base64": "<little-endian bytes>"}
          "imatrix": null,                    # or the entry of imatrix_file to use
          "reason": "attn_q: default"         # why this type (display only)
        }, ...
      ]
    }

Value types are the GGUF names (UINT8 … FLOAT64, BOOL, STRING, ARRAY);
arrays carry ``element_type`` (never ARRAY). FLOAT32 values are already
rounded to binary32. Integers are JSON integers.

Tensor semantics:

1. **Read** each source: its stored values widened exactly to float32
   (F32/F16/BF16 and the other safetensors number types), or, with
   ``decode``, the values its decoder yields (a logical tensor of
   ``decode.shape``).
2. **Parts**: the tensor's values in row-major order (rows of ``shape[0]``
   elements) are the elements of each part in turn. A part is a strided view
   of one source: element ``(i0, …, ik)`` of ``shape`` is the source's
   row-major element ``offset + Σ i_j·strides[j]``; its element count is a
   multiple of ``shape[0]``. Parts are made with
   :class:`wick.convert.view.View` (the q/k permutation of Llama is
   ``[n_head, D/2, 2, cols]`` with strides ``[D·cols, cols, D/2·cols, 1]``;
   stacked experts are one source each, with no parts). Each dimension of a
   part moves whole source rows or stays within a row (the executor reads a
   source through its 2-D flattening).
3. **Ops**, in order, on the float32 values (``convert/ops.go``): ``add`` /
   ``mul`` a ``value``, ``neg``, ``exp``, ``round`` to ``dtype`` F16 or BF16
   and back (to mimic torch arithmetic in half precision, or a lossy
   intermediate file: ``PlanOptions.intermediate`` appends
   ``{"op": "round", "dtype": "F16"}`` to every tensor the converter writes
   in an F16 file).
4. **Encode** to ``type``: F32 copy; F16 round-to-nearest-even (as numpy);
   BF16 as ggml/gguf-py (round-to-nearest-even, NaN kept quiet); block types
   row by row with ggml's reference quantizers (and the imatrix entry named by
   ``imatrix`` when present: the weights ``io/imatrix``'s ``Values`` returns,
   ``ne[0]`` per row; for a 3-D expert tensor ``ne[0] * ne[2]`` values,
   expert ``e`` using ``[e*ne[0], (e+1)*ne[0])``). A source whose ``decode``
   has an ``output`` type (a lossless pass-through such as MXFP4 blocks) is
   written as its decoder's encoded rows, with no parts and no ops.

:func:`wick.convert.view.materialize` is the numpy twin of steps 1–3.

Generated tensors (``rope_freqs.weight``) carry their float32 values inline
in ``data`` (base64 of little-endian bytes) and no sources.

The file is GGUF v3 with ``alignment`` 32: header, the metadata in list order,
tensor infos in list order, then the tensor data in the same order.

Safetensors output (``"format": "safetensors"``)
-------------------------------------------------
A Hugging Face model directory: bitsandbytes checkpoints that transformers
loads (:class:`wick.convert.bnb.BnbPlan` makes these plans; Go:
``convert/stplan.go``, ``convert/stwrite.go``). No ``metadata``,
``alignment`` or ``imatrix_file``; instead ``files``, written in list order
into a temporary directory that is renamed into place at the end::

    {
      "schema": 3, "format": "safetensors", "model_dir": "/path/to/model",
      "hf_architecture": "LlamaForCausalLM", "target": "bnb-nf4",
      "options": {...}, "config": {...},      # for display and round trips
      "files": [
        {"name": "model.safetensors", "kind": "safetensors",
         "metadata": {"format": "pt"},        # the header's __metadata__
         "tensors": ["model.layers.0.mlp.down_proj.weight.nested_absmax", ...]},
                                              # names of "tensors" entries, in file order
        {"name": "model.safetensors.index.json", "kind": "index",
         "index": {"total_parameters": 1235814400}},
                                              # written by the executor: the sorted
                                              # weight_map and total_size of the
                                              # safetensors files before it
        {"name": "config.json", "kind": "text", "text": "{...}\n"},
        {"name": "tokenizer.json", "kind": "copy", "source": "tokenizer.json"}
      ],
      "tensors": [                            # each in exactly one file
        {"name": "model.norm.weight", "type": "copy", "dtype": "BF16",
         "shape": [2048], "nbytes": 4096, "sources": [{...}]},
        {"name": "model.layers.0.mlp.down_proj.weight", "type": "bnb.nf4",
         "dtype": "U8", "shape": [8388608, 1], "nbytes": 8388608,
         "sources": [{...}],
         "bnb": {"blocksize": 64, "double_quant": true, "rules": "cuda"}},
        {"name": "model.layers.0.mlp.down_proj.weight.absmax", "type": "bnb.absmax",
         "of": "model.layers.0.mlp.down_proj.weight", "dtype": "U8",
         "shape": [262144], "nbytes": 262144},
        {"name": "….weight.quant_state.bitsandbytes__nf4", "type": "bnb.quant_state",
         "of": "…", "dtype": "U8", "shape": null, "nbytes": null,
         "quant_state": {"json": "{\"quant_type\": \"nf4\", … \"nested_offset\": }",
                         "offset_at": 151}},
        ...
      ]
    }

``shape`` is row-major, as stored, and ``dtype`` a safetensors dtype. The
tensor ``type`` says how the bytes are made:

* ``copy``: the one source's stored bytes, unchanged (same dtype and shape).
* ``bnb.nf4`` / ``bnb.fp4``: bitsandbytes 4-bit codes of the one source's
  flattened values (blocks of ``bnb.blocksize``; ``rules`` ``"cuda"`` or
  ``"cpu"``, see docs/bitsandbytes.md), two per byte, first in the high
  nibble, stored as ``dtype`` (the quant storage): shape
  ``[(n+1)//2 / itemsize, 1]``.
* ``bnb.int8``: LLM.int8 codes (I8, the source's shape) of the one source's
  float16 rounding, row-wise.
* the parts of a weight's state, with ``of`` naming the weight and no
  sources: ``bnb.absmax`` (F32 ``[blocks]``, U8 codes with double
  quantization; in its weight's file or a later one), ``bnb.quant_map`` (F32 ``[16]``,
  the NF4/FP4 table), ``bnb.nested_absmax`` (F32 ``[ceil(blocks/256)]``),
  ``bnb.nested_quant_map`` (F32 ``[256]``, the signed dynamic map),
  ``bnb.quant_state`` (U8: ``quant_state.json``; with double quantization
  the executor inserts the nested offset at byte ``offset_at``, formatted as
  Python's repr of the float, and the shape is ``null`` because only the
  executor knows its length; ``offset_at`` is -1 otherwise),
  ``bnb.scb`` (F32 ``[rows]``) and ``bnb.weight_format`` (U8 scalar 0).

The report has one row per copied tensor and per quantized weight (its bytes
include its state's).
"""

from __future__ import annotations

import base64
import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from .. import _display
from ..gguf import values as V
from .archs import HParams, MappedTensor, TensorSource, adapter_for
from .errors import ConfigError, PlanError, TensorShapeError
from .general import general_metadata, parameter_counts
from .ggml_types import Target, block_size, is_quantized, row_nbytes, source_dtype_size
from .ggml_types import target as lookup_target
from .imatrix_plan import ImatrixAssigner, ImatrixInfo, append_metadata
from .mixture import MixtureModel, MixtureOptions, allows_quantization, choose_types
from .options import CONVERT, PlanOptions, spell, takes_plan_options
from .quantized import describe
from .split import split_options
from .tokenizer import TokenizerFiles, tokenizer_metadata
from .view import View

SCHEMA_VERSION = 3
ALIGNMENT = 32
QUANTIZATION_VERSION = 2  # GGML_QNT_VERSION
LLAMA_FTYPE_MOSTLY_NVFP4 = 39  # general.file_type of a file holding passed-through NVFP4 blocks
LLAMA_FTYPE_MOSTLY_MXFP4_MOE = 38  # ... and of one holding gpt-oss's MXFP4 experts


@dataclass
class SourceRef:
    """One checkpoint tensor read by an output tensor (``decode``: how a
    quantized checkpoint tensor is turned into values, or None)."""

    file: str
    tensor: str
    dtype: str
    shape: List[int]
    format: str = "safetensors"
    decode: Optional[Dict[str, Any]] = None

    def to_dict(self) -> Dict[str, Any]:
        """The JSON form (an entry of a tensor's ``sources``)."""
        d: Dict[str, Any] = {"file": self.file, "tensor": self.tensor, "dtype": self.dtype, "shape": list(self.shape)}
        if self.format != "safetensors":
            d["format"] = self.format
        if self.decode is not None:
            d["decode"] = self.decode
        return d

    @property
    def logical_shape(self) -> List[int]:
        """The shape of the values the source yields (after decoding)."""
        return list(self.decode["shape"]) if self.decode is not None else list(self.shape)


@dataclass
class TensorPlan:
    """One output tensor (see the module docstring for the semantics)."""

    name: str
    shape: List[int]
    type: str
    sources: List[SourceRef] = field(default_factory=list)
    parts: List[Dict[str, Any]] = field(default_factory=list)
    ops: List[Dict[str, Any]] = field(default_factory=list)
    data: Optional[np.ndarray] = None
    imatrix: Optional[str] = None
    reason: str = ""

    @property
    def nbytes(self) -> int:
        """Encoded size in bytes."""
        rows = 1
        for d in self.shape[1:]:
            rows *= d
        return row_nbytes(self.type, self.shape[0]) * rows

    def to_dict(self) -> Dict[str, Any]:
        """The JSON form of this tensor (inline ``data`` as base64 of little-endian float32)."""
        data = None
        if self.data is not None:
            data = {"dtype": "F32", "base64": base64.b64encode(np.asarray(self.data, dtype="<f4").tobytes()).decode("ascii")}
        return {
            "name": self.name, "shape": list(self.shape), "type": self.type, "nbytes": self.nbytes,
            "sources": [s.to_dict() for s in self.sources], "parts": [dict(p) for p in self.parts],
            "ops": [dict(o) for o in self.ops],
            "data": data, "imatrix": self.imatrix, "reason": self.reason,
        }

    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> TensorPlan:
        """Rebuild a tensor entry from :meth:`to_dict` output; raises :class:`PlanError`
        when it is malformed or its ``nbytes`` disagrees with its shape and type."""
        try:
            data = None
            if d.get("data") is not None:
                if d["data"].get("dtype") != "F32":
                    raise PlanError(f"convert: tensor {d['name']!r}: inline data must be F32")
                data = np.frombuffer(base64.b64decode(d["data"]["base64"]), dtype="<f4").astype(np.float32)
            t = TensorPlan(
                name=d["name"], shape=[int(x) for x in d["shape"]], type=d["type"],
                sources=[SourceRef(s["file"], s["tensor"], s["dtype"], [int(x) for x in s["shape"]],
                                   s.get("format", "safetensors"), s.get("decode")) for s in d["sources"]],
                parts=[dict(x) for x in d.get("parts") or []], ops=[dict(x) for x in d.get("ops") or []],
                data=data, imatrix=d.get("imatrix"),
                reason=d.get("reason", ""))
        except (KeyError, TypeError, AttributeError, ValueError) as e:
            if isinstance(e, PlanError):
                raise
            raise PlanError(f"convert: malformed tensor entry in plan: {e!r}") from None
        block_size(t.type)
        for src in t.sources:
            if src.format not in ("safetensors", "gguf"):
                raise PlanError(f"convert: tensor {t.name!r}: unknown source format {src.format!r}")
        if "nbytes" in d and int(d["nbytes"]) != t.nbytes:
            raise PlanError(f"convert: tensor {t.name!r}: nbytes {d['nbytes']} does not match shape and type ({t.nbytes})")
        return t


@dataclass(repr=False)
class Plan:
    """A complete conversion plan (see the module docstring). ``print()`` it for
    the table ``wick convert --dry-run`` shows; Jupyter shows it as HTML."""

    hf_architecture: Optional[str]
    architecture: str
    target: str
    file_type: int
    reference: str
    metadata: List[V.KV]
    tensors: List[TensorPlan]
    model_dir: Optional[str] = None
    alignment: int = ALIGNMENT
    schema: int = SCHEMA_VERSION
    imatrix_file: Optional[str] = None
    split: Optional[Dict[str, int]] = None

    def meta(self, key: str) -> Any:
        """The value of a metadata key (KeyError if absent)."""
        for kv in self.metadata:
            if kv.key == key:
                return kv.value
        raise KeyError(key)

    def tensor(self, name: str) -> TensorPlan:
        """The output tensor named ``name`` (KeyError if absent)."""
        for t in self.tensors:
            if t.name == name:
                return t
        raise KeyError(name)

    def to_dict(self) -> Dict[str, Any]:
        """The plan as plain JSON-ready data (the schema of the module docstring)."""
        return {
            "schema": self.schema, "format": "gguf", "model_dir": self.model_dir, "hf_architecture": self.hf_architecture,
            "architecture": self.architecture, "target": self.target, "file_type": self.file_type,
            "reference": self.reference, "alignment": self.alignment, "imatrix_file": self.imatrix_file,
            "split": self.split,
            "metadata": [kv.to_dict() for kv in self.metadata],
            "tensors": [t.to_dict() for t in self.tensors],
        }

    def to_json(self, indent: Optional[int] = None, ascii: bool = True) -> str:  # noqa: A002 - json's word
        """The plan as JSON text: non-ASCII escaped (``ascii=True``), or written as itself."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=ascii, allow_nan=False)

    def to_json_bytes(self) -> bytes:
        """The plan as UTF-8 JSON, what the executor reads: non-ASCII text as itself (about half
        the size of escaped JSON for a 128K-token vocabulary, and faster for Go to parse; metadata
        strings are valid Unicode, which :mod:`wick.gguf.values` checks)."""
        return self.to_json(ascii=False).encode("utf-8")

    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> Plan:
        """Rebuild (and validate) a plan from :meth:`to_dict` output."""
        try:
            if d.get("schema") != SCHEMA_VERSION:
                raise PlanError(f"convert: plan schema {d.get('schema')!r} is not {SCHEMA_VERSION}")
            if d.get("format", "gguf") != "gguf":
                raise PlanError(f"convert: plan format {d.get('format')!r} is not 'gguf' (a 'safetensors' plan is a "
                                "wick.convert.bnb.BnbPlan)")
            return Plan(
                hf_architecture=d["hf_architecture"], architecture=d["architecture"], target=d["target"],
                file_type=int(d["file_type"]), reference=d["reference"],
                metadata=[V.KV.from_dict(x) for x in d["metadata"]],
                tensors=[TensorPlan.from_dict(x) for x in d["tensors"]],
                model_dir=d.get("model_dir"), alignment=int(d.get("alignment", ALIGNMENT)), schema=d["schema"],
                imatrix_file=d.get("imatrix_file"), split=d.get("split"))
        except V.MetadataError as e:
            raise PlanError(f"convert: malformed plan: {e}") from None
        except (KeyError, TypeError, AttributeError) as e:
            raise PlanError(f"convert: malformed plan: {e!r}") from None

    @staticmethod
    def from_json(text: str) -> Plan:
        """Inverse of :meth:`to_json`."""
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise PlanError(f"convert: plan is not valid JSON: {e}") from None
        if not isinstance(d, dict):
            raise PlanError("convert: plan JSON must be an object")
        return Plan.from_dict(d)

    @property
    def total_nbytes(self) -> int:
        """Sum of the encoded tensor sizes (without alignment padding)."""
        return sum(t.nbytes for t in self.tensors)

    def __str__(self) -> str:
        return format_plan_table(self)

    def __repr__(self) -> str:
        src = self.hf_architecture or "GGUF"
        return (f"<Plan {src} -> {self.architecture} {self.target}: {len(self.metadata)} metadata keys, "
                f"{len(self.tensors)} tensors, {self.total_nbytes:,} bytes>")

    def _repr_html_(self) -> str:
        return plan_html(self)


def _options_given(o: MixtureOptions) -> bool:
    return bool(o.pure or o.output_tensor_type or o.token_embedding_type or o.tensor_types
                or not o.quantize_output_tensor)


def mixture_options(opts: PlanOptions, has_imatrix: bool) -> MixtureOptions:
    """The llama-quantize options among the plan options."""
    return MixtureOptions(has_imatrix=has_imatrix, pure=opts.pure, output_tensor_type=opts.output_tensor_type,
                          token_embedding_type=opts.token_embedding_type, tensor_types=opts.tensor_types,
                          quantize_output_tensor=not opts.leave_output_tensor)


def imatrix_info(opts: PlanOptions) -> Optional[ImatrixInfo]:
    """The importance matrix the options name, loaded and filtered (None without one)."""
    if opts.imatrix is None or isinstance(opts.imatrix, ImatrixInfo):
        return opts.imatrix
    return ImatrixInfo.load(opts.imatrix, include=opts.imatrix_include, exclude=opts.imatrix_exclude)


@takes_plan_options(CONVERT)
def build_plan_from_parts(
    config: Mapping[str, Any],
    tokenizer: TokenizerFiles,
    tensors: Mapping[str, Tuple[Any, ...]],
    target: str,
    options: Optional[PlanOptions] = None,
    *,
    dir_name: Optional[str] = None,
    model_dir: Optional[str] = None,
    generation_config: Optional[Mapping[str, Any]] = None,
    model_card: Optional[Mapping[str, Any]] = None,
    **keywords: Any,
) -> Plan:
    """Build a plan from already-parsed inputs (no file access but the imatrix).

    Args:
        config: config.json.
        tokenizer: the parsed tokenizer files.
        tensors: checkpoint tensor name → ``(file, dtype, shape)`` with the
            file relative to the model directory, the safetensors dtype
            (``"BF16"`` …) and the row-major shape; a quantized weight
            (grouped by :func:`wick.convert.quantized.group_tensors`) is
            ``(file, logical dtype, logical shape, Decode)``.
        target: ``"Q4_K_M"``, ``"Q8_0"``, ``"F16"`` … (see ``TARGETS``).
        options: a :class:`~wick.convert.options.PlanOptions`; keywords given
            beside it override its fields.
        dir_name: the model directory's name (used for general.name & co.).
        model_dir: recorded in the plan; source files are relative to it.
        generation_config: generation_config.json (sampling defaults).
        model_card: README.md front matter as a dict.

    An importance matrix (``imatrix``: a path, an open file or an
    :class:`ImatrixInfo`) changes the mixture as ``llama-quantize --imatrix``
    does, checks every entry's size against its tensor, records the
    ``quantize.imatrix.*`` metadata and sets ``imatrix_file`` (see
    :mod:`wick.convert.imatrix_plan`); ``imatrix_names`` only changes the
    mixture, for a plan to display.
    """
    opts = PlanOptions.of(options, keywords, scope=CONVERT, caller="build_plan_from_parts")
    if not isinstance(config, Mapping):
        raise ConfigError("convert: config.json must hold a JSON object", "config.json")
    raw_config = dict(config)
    tgt: Target = lookup_target(target)
    adapter = adapter_for(raw_config)
    merged = dict(raw_config)
    if isinstance(merged.get("text_config"), dict):
        merged = {**merged, **merged["text_config"]}
    # hyper-parameters as the reference converter reads them (AutoConfig defaults);
    # tokenizer special ids and general.* come from the raw config.json
    hp_config = adapter.normalize_config(merged)
    hp: HParams = adapter.hparams(hp_config)

    vocab, tok_kvs = tokenizer_metadata(adapter.readers(tokenizer), tokenizer, raw_config,
                                        vocab_size=hp.n_vocab,
                                        reads_add_prefix_space=adapter.reads_add_prefix_space,
                                        pre_override=opts.tokenizer_pre, pre_names=adapter.pre_tokenizer_names,
                                        quirks=adapter.tokenizer_quirks)
    n_vocab = len(vocab.tokens)

    sources: Dict[str, TensorSource] = {}
    for name, entry in tensors.items():
        try:
            file, dtype, shape, *rest = entry
            shape_t = tuple(int(x) for x in shape)
            if len(rest) > 1:
                raise ValueError
        except (TypeError, ValueError):
            raise TensorShapeError(f"convert: tensor {name!r}: expected (file, dtype, shape[, decode]), got {entry!r}") from None
        if any(x < 0 for x in shape_t):
            raise TensorShapeError(f"convert: {file}: tensor {name!r} has a negative dimension {list(shape_t)}")
        dec = rest[0] if rest else None
        sources[name] = TensorSource(str(file), str(dtype), shape_t, dec, tuple(dec.shape) if dec is not None else None)
    mapped: List[MappedTensor] = adapter.extra_tensors(hp_config, hp) + adapter.map_tensors(hp_config, hp, n_vocab, sources)
    mapped = _passthrough_first(mapped)
    file_type = tgt.ftype
    if any(_passthrough(t) == "NVFP4" for t in mapped) and tgt.name in ("F32", "F16", "BF16"):
        file_type = LLAMA_FTYPE_MOSTLY_NVFP4  # the converter's prepare_metadata does this
    elif any(_passthrough(t) == "MXFP4" for t in mapped) and tgt.name in ("F32", "F16", "BF16"):
        file_type = LLAMA_FTYPE_MOSTLY_MXFP4_MOE

    imatrix = imatrix_info(opts)
    imatrix_names = opts.imatrix_names
    active = imatrix is not None and imatrix.active
    options = mixture_options(opts, has_imatrix=(imatrix_names is not None) or active)
    via_quantize = tgt.via_quantize or _options_given(options) or active
    # through an intermediate file (convert_hf_to_gguf.py --outtype f32/bf16/f16): llama-quantize
    # makes every target but that type itself from the converter's file
    inter = opts.intermediate.upper() if opts.intermediate else None
    if inter is not None and tgt.name != inter:
        via_quantize = True
    if opts.fp8_as_q8 and via_quantize:
        raise PlanError(f"convert: fp8_as_q8 writes Q8_0 tensors, which llama-quantize refuses to requantize to "
                        f"{tgt.name}; use it with F32, F16, BF16 or Q8_0")
    # llama-quantize refuses to requantize the blocks the converter passed through; gpt-oss's MXFP4
    # experts are made as --allow-requantize does (they are the model's original weights: see
    # _requantized), NVFP4 blocks are refused
    passed = [t.name for t in mapped if _passthrough(t) and _passthrough(t) != "MXFP4"]
    if passed and via_quantize:
        raise PlanError(
            f"convert: {passed[0]!r} (and {len(passed) - 1} more) is stored as {_passthrough(mapped[0])} blocks, "
            f"which llama.cpp's converter passes through and llama-quantize refuses to requantize; "
            f"convert to F32, F16, BF16 or Q8_0 (those tensors stay as they are)")

    # metadata, in the converter's order
    counts = parameter_counts([(t.name, list(reversed(t.ne))) for t in mapped])
    kvs: List[V.KV] = [V.string("general.architecture", adapter.gguf_arch), *adapter.tensor_metadata(hp_config, hp),
                       V.string("general.type", "model")]
    kvs += general_metadata(dir_name=dir_name, config=raw_config, generation_config=dict(generation_config or {}),
                            model_card=dict(model_card or {}), total_params=counts[0], size_counts=counts,
                            name_override=opts.model_name)
    kvs += adapter.metadata(hp_config, hp, file_type)
    kvs.append(V.u32("general.quantization_version", QUANTIZATION_VERSION))
    kvs += tok_kvs
    keys = [kv.key for kv in kvs]
    if len(set(keys)) != len(keys):
        dup = next(k for k in keys if keys.count(k) > 1)
        raise PlanError(f"convert: metadata key {dup!r} would be written twice")
    if via_quantize:
        # llama-quantize re-sets these two, which moves them to the end
        moved = {k.key: k for k in kvs if k.key in ("general.quantization_version", "general.file_type")}
        kvs = [k for k in kvs if k.key not in moved] + [moved["general.quantization_version"], moved["general.file_type"]]
        kvs = append_metadata(kvs, imatrix)

    if via_quantize:  # llama-quantize reads the converter's file: what it rounded stays rounded
        mapped = [t if _passthrough(t) else _through_intermediate(t, inter or "F32", strict=inter is not None)
                  for t in mapped]
    # the type of each tensor in the converter's file: what llama-quantize starts from
    current = {t.name: _passthrough(t) or _intermediate_type(t, inter or "F32") for t in mapped}
    imatrix_set = set(imatrix_names) if imatrix_names is not None else None
    by_name = {t.name: t for t in mapped}
    out: List[TensorPlan] = []
    if via_quantize:
        mm = MixtureModel(adapter.gguf_arch, hp.n_layer, hp.n_head, hp.n_head_kv, hp.n_expert)
        choices = choose_types(mm, tgt, [(t.name, t.ne) for t in mapped], options, current_type=current)
        assigner = ImatrixAssigner(imatrix, tgt.name)
        if imatrix_set is None:
            assigner.check_required([(c.name, c.type, allows_quantization(c.name, by_name[c.name].ne, options))
                                     for c in choices])
        for c in choices:
            t = by_name[c.name]
            reason = c.reason
            if _passthrough(t) and c.type == _passthrough(t):
                # llama-quantize copies a tensor already of the chosen type
                out.append(_tensor_plan(t, c.type, f"{reason} (copied: already {c.type})", None, ggml_dims(t.ne)))
                continue
            if _passthrough(t):
                t = _requantized(t)
                reason = f"{reason} (requantized from {current[c.name]}, as llama-quantize --allow-requantize)"
            if imatrix_set is not None:
                imat = c.name if (c.name in imatrix_set and c.type != "F32" and is_quantized(c.type)) else None
            else:
                # the converter's output (F32 unless a lossy intermediate) is what llama-quantize starts from
                imat, note = assigner.assign(c.name, t.ne, current[c.name], c.type)
                if note:
                    reason = f"{reason} ({note})"
            out.append(_tensor_plan(t, c.type, reason, imat, ggml_dims(t.ne)))
        assigner.finish()
    else:
        for t in mapped:
            if _passthrough(t):
                out.append(_tensor_plan(t, _passthrough(t), "passed through losslessly, as llama.cpp's converter does", None))
                continue
            if opts.fp8_as_q8 and len(t.ne) >= 2 and not t.name.endswith("_norm.weight") and any(
                    s.decode is not None and s.decode.fp8 for _, s in t.sources):
                out.append(_tensor_plan(t, "Q8_0", "dequantized from FP8: Q8_0 (--fp8-as-q8)", None))
                continue
            if t.force_type is not None:
                typ = t.force_type
                why = "kept F32 (1-D, norm, bias or router)" if typ == "F32" else f"{typ}, as the converter forces it"
            elif tgt.default_type == "F32":
                typ, why = "F32", "F32 target"
            else:
                typ, why = tgt.default_type, "default"
                if t.ne[0] % block_size(typ):
                    typ, why = "F16", f"ne[0]={t.ne[0]} not a multiple of {block_size(tgt.default_type)}: F16"
            out.append(_tensor_plan(t, typ, why, None))

    return Plan(hf_architecture=raw_config["architectures"][0], architecture=adapter.gguf_arch, target=tgt.name,
                file_type=file_type, reference=_reference(via_quantize, opts.intermediate),
                metadata=kvs, tensors=out, model_dir=model_dir,
                imatrix_file=imatrix.abspath if active else None,
                split=split_options(opts.split_max_size, opts.split_max_tensors))


def _reference(via_quantize: bool, intermediate: Optional[str]) -> str:
    if not via_quantize:
        return "convert"
    return f"convert({intermediate})+quantize" if intermediate not in (None, "f32") else "convert+quantize"


def intermediate_of(plan: Plan) -> Optional[str]:
    """The lossy intermediate (``"f16"``, ``"bf16"``) whose pipeline ``plan`` reproduces, or None."""
    ref = plan.reference
    if ref.startswith("convert(") and ref.endswith(")+quantize"):
        return ref[len("convert("):-len(")+quantize")]
    return None


def _intermediate_type(t: MappedTensor, outtype: str) -> str:
    """The type ``convert_hf_to_gguf.py --outtype <outtype>`` writes ``t`` in (prepare_tensors):
    the family's forced type (F32 for 1-D tensors, norms, routers ...), else the outtype."""
    return t.force_type or outtype


def _through_intermediate(t: MappedTensor, inter: str, strict: bool) -> MappedTensor:
    """``t`` as it comes out of the converter's file of type ``inter``: rounded when the
    converter writes it as F16 or BF16 (numpy's ``astype(float16)``, gguf-py's BF16: round
    to nearest even, ±inf beyond the type's range), after its own operations on the values."""
    typ = _intermediate_type(t, inter)
    if typ == "F32" or (typ not in ("F16", "BF16") and not strict):
        return t
    if typ not in ("F16", "BF16"):
        from .errors import UnsupportedIntermediateError

        raise UnsupportedIntermediateError(
            f"convert: tensor {t.name!r}: the converter writes it as {typ} whatever the outtype, and llama-quantize "
            f"would not requantize that; {spell('intermediate', inter.lower())} cannot be reproduced for this model")
    return dataclasses.replace(t, ops=list(t.ops) + [{"op": "round", "dtype": typ}])


def _passthrough(t: MappedTensor) -> str:
    """The ggml type a tensor's stored blocks pass through as, or ""."""
    for _, s in t.sources:
        if s.decode is not None and s.decode.passthrough:
            return s.decode.passthrough
    return ""


def _requantized(t: MappedTensor) -> MappedTensor:
    """A passed-through tensor as llama-quantize --allow-requantize reads it: its blocks decoded
    to float32 (ggml's dequantize_row_*, which the decoder's float output reproduces)."""
    sources = []
    for hf, s in t.sources:
        if s.decode is not None and s.decode.passthrough:
            spec = {k: v for k, v in s.decode.spec.items() if k != "output"}
            label = s.decode.label.replace(" (passed through)", "")
            s = dataclasses.replace(s, decode=dataclasses.replace(s.decode, spec=spec, label=label))
        sources.append((hf, s))
    return dataclasses.replace(t, sources=sources)


def _passthrough_first(mapped: List[MappedTensor]) -> List[MappedTensor]:
    """llama.cpp's converter writes the blocks it passes through (NVFP4) before
    every other tensor, each followed by its per-tensor scale tensors."""
    first: List[MappedTensor] = []
    for t in mapped:
        if not _passthrough(t):
            continue
        first.append(t)
        base = t.name[: -len(".weight")] if t.name.endswith(".weight") else t.name
        for _, s in t.sources:
            for suffix, values in s.decode.extras:
                extra = MappedTensor.generated(base + suffix, np.array(values, dtype=np.float32))
                extra.force_type = "F32"  # written by gguf_writer.add_tensor as float32
                first.append(extra)
    if not first:
        return mapped
    return first + [t for t in mapped if not _passthrough(t)]


def _source_ref(hf: str, s: TensorSource) -> SourceRef:
    if s.decode is None:
        return SourceRef(s.file, hf, s.dtype, list(s.shape))
    d = s.decode
    return SourceRef(s.file, d.tensor, d.dtype, list(d.shape), decode=json.loads(json.dumps(dict(d.spec))))


def ggml_dims(ne: Sequence[int]) -> List[int]:
    """``ne`` as a file ggml writes (llama-quantize, llama-gguf-split) has it: trailing
    dimensions of 1 dropped (ggml_n_dims), at least one dimension kept. gguf-py, which
    the converter writes with, keeps every dimension given."""
    dims = [int(d) for d in ne]
    while len(dims) > 1 and dims[-1] == 1:
        dims.pop()
    return dims


def _tensor_plan(t: MappedTensor, typ: str, reason: str, imatrix: Optional[str],
                 shape: Optional[List[int]] = None) -> TensorPlan:
    return TensorPlan(
        name=t.name, shape=list(t.ne) if shape is None else shape, type=typ,
        sources=[_source_ref(hf, s) for hf, s in t.sources],
        parts=list(t.parts), ops=list(t.ops), data=t.data, imatrix=imatrix, reason=reason)


# ------------------------------------------------------------------ display
def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1024
    return f"{n:.2f} TiB"  # pragma: no cover


def describe_transform(t: TensorPlan) -> str:
    """A short description of a tensor's parts and operations (the dry-run's "transform" column)."""
    words = []
    if len(t.sources) > 1 and not t.parts:
        words.append(f"stack({len(t.sources)})")
    for p in t.parts:
        src = t.sources[p["source"]]
        whole = View.of(src.logical_shape).part()
        if p != {**whole, "source": p["source"]}:
            words.append("view" + "x".join(map(str, p["shape"])))
    for o in t.ops:
        if o.get("op") in ("add", "mul"):
            words.append(f"{o['op']}({o['value']:g})")
        elif o.get("op") == "round":
            words.append(f"round({o['dtype']})")
        else:
            words.append(str(o.get("op")))
    return ",".join(words) or "-"


def _headline(plan: Plan) -> List[str]:
    if plan.reference == "convert_lora":
        lines = [f"LoRA adapter of a {plan.hf_architecture} -> GGUF adapter (arch {plan.architecture!r}), type "
                 f"{plan.target} (reproduces llama.cpp convert_lora_to_gguf.py --outtype {plan.target.lower()})"]
    elif plan.hf_architecture is None:
        first = next((t.sources[0] for t in plan.tensors if t.sources), None)
        src = first.file if first is not None else "GGUF"
        lines = [f"{src} (GGUF arch {plan.architecture!r}) -> target {plan.target} "
                 f"(general.file_type {plan.file_type}; reproduces llama.cpp {plan.reference})"]
    else:
        lines = [f"{plan.hf_architecture} -> GGUF arch {plan.architecture!r}, target {plan.target} "
                 f"(general.file_type {plan.file_type}; reproduces llama.cpp {plan.reference})"]
    if plan.imatrix_file is not None:
        used = sum(1 for t in plan.tensors if t.imatrix is not None)
        lines.append(f"importance matrix: {plan.imatrix_file} (used by {used} of {len(plan.tensors)} tensors)")
    if plan.split:
        limit = (f"at most {plan.split['max_tensors']} tensors" if plan.split.get("max_tensors")
                 else f"at most {_display.nbytes(plan.split['max_bytes'])} bytes of tensor data")
        lines.append(f"split model: parts of {limit} each, as llama-gguf-split")
    return lines


_TENSOR_HEADER = ("#", "name", "shape", "type", "from", "source", "transform", "imatrix", "bytes", "why")
_TENSOR_RIGHT = (0, 8)


def _tensor_rows(plan: Plan) -> List[Tuple[str, ...]]:
    rows = []
    for i, t in enumerate(plan.tensors):
        if t.sources:
            s0 = t.sources[0]
            dt = describe(s0.decode, s0.dtype)
            src = s0.tensor if len(t.sources) == 1 else f"{s0.tensor} (+{len(t.sources) - 1})"
        else:
            dt, src = "gen", "(generated)"
        tr = describe_transform(t)
        im = "yes" if t.imatrix == t.name else (t.imatrix or "-")
        rows.append((str(i), t.name, _display.shape(reversed(t.shape)), t.type, dt, src, tr, im,
                     _display.nbytes(t.nbytes), t.reason))
    return rows


def _totals(plan: Plan) -> List[str]:
    def stored_bytes(dtype: str, shape: Sequence[int]) -> int:
        n = 1
        for d in shape:
            n *= d
        return n * source_dtype_size(dtype)

    src_total = 0
    for t in plan.tensors:
        for s in t.sources:
            src_total += stored_bytes(s.dtype, s.shape)
            for a in ((s.decode or {}).get("aux") or {}).values():  # scales & co. of a quantized weight
                src_total += stored_bytes(a.get("dtype"), a.get("shape") or [])
    by_type: Dict[str, Tuple[int, int]] = {}
    for t in plan.tensors:
        c, b = by_type.get(t.type, (0, 0))
        by_type[t.type] = (c + 1, b + t.nbytes)
    summary = ", ".join(f"{k}: {c} ({_human(b)})" for k, (c, b) in sorted(by_type.items(), key=lambda kv: -kv[1][1]))
    return [f"types: {summary}", f"tensor data: {_human(src_total)} read -> {_human(plan.total_nbytes)} written"]


def format_plan_table(plan: Plan, *, metadata: bool = True, max_value_chars: int = 60) -> str:
    """A readable rendering of the plan (what ``wick convert --dry-run`` prints):
    shapes row-major and values as ``wick inspect`` and the report show them."""
    lines = _headline(plan)
    if metadata:
        lines += ["", f"metadata ({len(plan.metadata)} keys):",
                  _display.table(_display.metadata_rows(plan.metadata, max_value_chars), indent="  ")]
    lines += ["", f"tensors ({len(plan.tensors)}):",
              _display.table([_TENSOR_HEADER] + _tensor_rows(plan), right=_TENSOR_RIGHT, indent="  "), ""]
    lines += _totals(plan)
    return "\n".join(lines)


def plan_html(plan: Plan, *, metadata: bool = True) -> str:
    """The plan as HTML (how Jupyter shows a :class:`Plan`): the same headline,
    metadata (folded) and tensor table as :func:`format_plan_table`."""
    import html

    e = html.escape
    parts = ["<div>"] + [f"<p><b>{e(line)}</b></p>" for line in _headline(plan)]
    if metadata:
        parts.append(f"<details><summary>metadata ({len(plan.metadata)} keys)</summary>"
                     f"{_display.html_table(_display.metadata_rows(plan.metadata))}</details>")
    parts.append(_display.html_table([_TENSOR_HEADER] + _tensor_rows(plan), right=_TENSOR_RIGHT,
                                     caption=f"tensors ({len(plan.tensors)})"))
    parts += [f"<p>{e(line)}</p>" for line in _totals(plan)] + ["</div>"]
    return "".join(parts)
