"""Planning a bitsandbytes checkpoint: a Hugging Face model directory that
``AutoModelForCausalLM.from_pretrained(OUT_DIR)`` loads (with bitsandbytes
installed, no quantization arguments), made on any CPU without torch.

``wick convert DIR -o OUT_DIR --format bnb-nf4`` (or ``bnb-fp4``, ``bnb-int8``)
is split as the GGUF conversion is: :func:`build_bnb_plan` decides *what* the
directory holds — which tensors are quantized and which are copied, every
tensor's name, dtype and shape, the shards and their order, config.json with
its ``quantization_config``, the files copied — as a :class:`BnbPlan` (plan
schema 3, format ``"safetensors"``, documented in :mod:`wick.convert.plan`);
the Go executor computes the values and streams the files.

What transformers does, and Wick with it:

* **Which modules are quantized.** ``replace_with_bnb_linear`` turns every
  ``nn.Linear`` into ``Linear4bit`` (``Linear8bitLt`` for 8-bit) except the
  modules to leave out: by default the output embeddings (``lm_head``,
  GPT-NeoX's ``embed_out``; with tied embeddings also the tied input
  embeddings, and the last module), or
  exactly ``llm_int8_skip_modules`` when given. A module is left out when its
  own name is in the list, or a listed name ``k`` has ``k + "."`` inside the
  module's full name or equals it. Wick decides from the checkpoint's names:
  a tensor ``X.weight`` of two dimensions is an ``nn.Linear`` weight unless
  ``X`` is an embedding (a last name part containing ``embed``, other than
  ``embed_out``, or ``wte``, ``wpe``); biases, norms, embeddings and everything else keep their stored
  dtype and bytes. (``tests/test_bnb_out.py`` checks this rule against
  transformers' own on a dozen architectures.) Models built on GPT-2's
  ``Conv1D`` (transposed weights) are refused.
* **4-bit weights** (``Params4bit``): quantized from their stored dtype, which
  the quant state records; ``X.weight`` holds the packed codes, ``[(n+1)//2 /
  itemsize, 1]`` of the quant storage dtype, beside ``X.weight.absmax``,
  ``.quant_map`` and, with double quantization, ``.nested_absmax`` and
  ``.nested_quant_map``, and ``X.weight.quant_state.bitsandbytes__nf4`` (or
  ``__fp4``): the JSON of the other entries as uint8.
* **8-bit weights** (``Int8Params``): the float16 rounding of the weight is
  quantized row-wise (LLM.int8): ``X.weight`` int8 of the weight's shape,
  ``X.SCB`` float32 per row and ``X.weight_format`` (uint8 0, row-major).
* **Files.** ``save_pretrained``'s: shards of at most ``max_shard_size``
  (decimal units, 5GB by default) split greedily in the model's order as
  huggingface_hub does, each shard's tensors in safetensors' own order (dtype
  by size, then name), ``__metadata__`` ``{"format": "pt"}``, and with more
  than one shard ``model.safetensors.index.json`` (``total_parameters``,
  ``total_size``, the sorted ``weight_map``). config.json is the source's
  with ``quantization_config`` added, written as transformers writes JSON
  (sorted keys, two-space indent). The tokenizer and generation files are
  copied. Tied ``lm_head.weight`` duplicates are dropped, as
  ``save_pretrained`` drops them.

Where Wick's directory differs from ``save_pretrained``'s: config.json keeps
the source's keys as they are (transformers rewrites the whole config
through its config class); shards follow a natural order of the checkpoint's
names rather than the model's module order, so with several shards the
split points can differ. Single-file outputs are byte-identical to
transformers' (tests/test_bnb_out.py).
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from .errors import (
    BnbOptionError,
    ConfigError,
    ModelFileNotFoundError,
    ModelFormatError,
    PlanError,
    TensorShapeError,
    UnsupportedArchitectureError,
)
from .load import ModelParts, _read_json, list_checkpoint, read_safetensors_header
from .plan import SCHEMA_VERSION, SourceRef
from .tokenizer import TokenizerFiles

__all__ = ["FORMATS", "BnbOptions", "BnbPlan", "StTensor", "OutFile", "build_bnb_plan", "bnb_linear_weights",
           "format_bnb_plan_table", "parse_size"]

#: The output formats this module plans.
FORMATS = ("bnb-nf4", "bnb-fp4", "bnb-int8")

# torch dtype name -> safetensors dtype of the stored 4-bit codes
_STORAGE = {"uint8": "U8", "int8": "I8", "float16": "F16", "bfloat16": "BF16", "float32": "F32"}
# safetensors dtype -> the dtype name bitsandbytes records
_STATE_DTYPE = {"BF16": "bfloat16", "F16": "float16", "F32": "float32"}
_DTYPE_SIZE = {"F64": 8, "I64": 8, "U64": 8, "F32": 4, "I32": 4, "U32": 4, "F16": 2, "BF16": 2, "I16": 2, "U16": 2,
               "I8": 1, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1, "F8_E8M0": 1}
# safetensors' order within a file: dtype (its enum order, descending), then name
_ST_RANK = {d: i for i, d in enumerate(("BOOL", "F4", "F6_E2M3", "F6_E3M2", "U8", "I8", "F8_E5M2", "F8_E4M3",
                                         "F8_E8M0", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "F64", "I64",
                                         "U64"))}
BLOCKSIZES = (32, 64, 128, 256, 512, 1024, 2048, 4096)
_CONV1D_MODELS = ("gpt2", "openai-gpt", "imagegpt", "decision_transformer", "clvp")
# files save_pretrained and the tokenizer's save_pretrained leave in a model directory
_COPIED = ("generation_config.json", "tokenizer.json", "tokenizer_config.json", "tokenizer.model",
           "special_tokens_map.json", "added_tokens.json", "vocab.json", "vocab.txt", "merges.txt",
           "chat_template.jinja", "chat_template.json", "spiece.model", "sentencepiece.bpe.model")


def parse_size(size: Union[int, str]) -> int:
    """A shard size as huggingface_hub reads it: an int of bytes, or a string
    like ``"5GB"`` (decimal: KB = 1000 … TB), ``"500MiB"`` is not accepted."""
    if isinstance(size, int) and not isinstance(size, bool):
        if size <= 0:
            raise BnbOptionError(f"convert: max_shard_size is {size}; expected a positive number of bytes")
        return size
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?B)\s*", str(size).upper())
    if not m:
        raise BnbOptionError(f"convert: max_shard_size {size!r}: expected bytes or a size like '5GB', '500MB'")
    n = int(float(m.group(1)) * {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}[m.group(2)])
    if n <= 0:
        raise BnbOptionError(f"convert: max_shard_size {size!r} is not positive")
    return n


@dataclass(frozen=True)
class BnbOptions:
    """What a bitsandbytes checkpoint is made of (transformers' ``BitsAndBytesConfig``).

    Attributes:
        format: ``"bnb-nf4"``, ``"bnb-fp4"`` (``load_in_4bit`` with that
            ``bnb_4bit_quant_type``) or ``"bnb-int8"`` (``load_in_8bit``).
        double_quant: 4-bit: ``bnb_4bit_use_double_quant`` (default True, as
            the published ``-bnb-4bit`` checkpoints use).
        blocksize: 4-bit: elements per absmax block (64; transformers always
            uses 64; 32 … 4096 are valid bitsandbytes states).
        compute_dtype: 4-bit: ``bnb_4bit_compute_dtype`` (``"bfloat16"``,
            ``"float16"``, ``"float32"``); None: the checkpoint's dtype
            (transformers' own default is float32).
        quant_storage: 4-bit: ``bnb_4bit_quant_storage``, the dtype the packed
            codes are stored as (``"uint8"``, ``"int8"``, ``"float16"``,
            ``"bfloat16"``, ``"float32"``).
        skip_modules: ``llm_int8_skip_modules``: module names to leave
            unquantized instead of transformers' default (the output head).
        rules: ``"cuda"`` (bitsandbytes' CUDA kernels, what published
            checkpoints were made with) or ``"cpu"`` (its CPU backend).
        max_shard_size: the largest shard, bytes or ``"5GB"`` (decimal units).
        torch_threads: CPU rules, double quantization: the nested offset is
            PyTorch's float32 mean, whose summation order depends on torch's
            thread count for tensors of 32768 blocks or more: the
            ``torch.get_num_threads()`` of the run to reproduce (1).
    """

    format: str = "bnb-nf4"
    double_quant: bool = True
    blocksize: int = 64
    compute_dtype: Optional[str] = None
    quant_storage: str = "uint8"
    skip_modules: Optional[Tuple[str, ...]] = None
    rules: str = "cuda"
    max_shard_size: Union[int, str] = "5GB"
    torch_threads: int = 1

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise BnbOptionError(f"convert: format {self.format!r}: expected one of {', '.join(('gguf',) + FORMATS)}")
        if self.blocksize not in BLOCKSIZES or isinstance(self.blocksize, bool):
            raise BnbOptionError(f"convert: blocksize {self.blocksize!r}: expected one of {BLOCKSIZES}")
        if self.compute_dtype is not None and self.compute_dtype not in ("bfloat16", "float16", "float32"):
            raise BnbOptionError(f"convert: compute_dtype {self.compute_dtype!r}: expected bfloat16, float16 or float32")
        if self.quant_storage not in _STORAGE:
            raise BnbOptionError(f"convert: quant_storage {self.quant_storage!r}: expected one of {', '.join(_STORAGE)}")
        if self.rules not in ("cuda", "cpu"):
            raise BnbOptionError(f"convert: rules {self.rules!r}: expected 'cuda' or 'cpu'")
        if self.skip_modules is not None:
            if isinstance(self.skip_modules, str) or not all(isinstance(s, str) and s for s in self.skip_modules):
                raise BnbOptionError(f"convert: skip_modules {self.skip_modules!r}: expected a list of module names")
            object.__setattr__(self, "skip_modules", tuple(self.skip_modules))
        parse_size(self.max_shard_size)
        if isinstance(self.torch_threads, bool) or not isinstance(self.torch_threads, int) or self.torch_threads < 1:
            raise BnbOptionError(f"convert: torch_threads {self.torch_threads!r}: expected a positive int")

    @property
    def four_bit(self) -> bool:
        """Whether the format is NF4/FP4 (else LLM.int8)."""
        return self.format != "bnb-int8"

    @property
    def quant_type(self) -> str:
        """``"nf4"``, ``"fp4"`` or ``"int8"``."""
        return self.format[len("bnb-"):]


# ------------------------------------------------------------------ selection
# output heads that are nn.Linear modules although their names say embedding
_OUTPUT_HEADS = ("lm_head", "embed_out")


def _is_embedding(module: str) -> bool:
    last = module.rsplit(".", 1)[-1].lower()
    return ("embed" in last and last not in _OUTPUT_HEADS) or last in ("wte", "wpe")


def default_skip_modules(tensors: Mapping[str, Any], config: Mapping[str, Any]) -> List[str]:
    """transformers' ``get_keys_to_not_convert`` from names: the output head
    (``lm_head``; GPT-NeoX's ``embed_out``) and, with tied embeddings, the
    input embeddings too."""
    skip = list(_OUTPUT_HEADS)
    if config.get("tie_word_embeddings"):
        skip += sorted({n.rsplit(".", 1)[0] for n in tensors if n.endswith(".weight") and _is_embedding(n[:-7])
                        and "layers." not in n})
    return skip


def _skipped(module: str, skip: Sequence[str]) -> Optional[str]:
    child = module.rsplit(".", 1)[-1]
    for k in skip:
        if child == k or k + "." in module or k == module:
            return k
    return None


def bnb_linear_weights(tensors: Mapping[str, Tuple[str, str, Sequence[int]]], config: Mapping[str, Any],
                       skip_modules: Optional[Sequence[str]] = None) -> Dict[str, Optional[str]]:
    """The ``nn.Linear`` weights of a checkpoint and whether transformers
    quantizes them: name → None (quantized) or the skip-list entry that
    leaves it unquantized. Tensors that are not Linear weights are absent.

    Args:
        tensors: name → (file, dtype, shape), as :func:`read_model_dir` lists them.
        config: config.json.
        skip_modules: ``llm_int8_skip_modules``; None: transformers' default.
    """
    if config.get("model_type") in _CONV1D_MODELS:
        raise UnsupportedArchitectureError(
            f"convert: model_type {config.get('model_type')!r} stores its linear layers as GPT-2 Conv1D (transposed); "
            "Wick's bitsandbytes output supports nn.Linear models")
    skip = default_skip_modules(tensors, config) if skip_modules is None else list(skip_modules)
    out: Dict[str, Optional[str]] = {}
    for name, (_, _, shape) in tensors.items():
        if not name.endswith(".weight") or len(shape) != 2 or _is_embedding(name[:-7]):
            continue
        out[name] = _skipped(name[:-7], skip)
    return out


# ------------------------------------------------------------------ the plan
@dataclass
class StTensor:
    """One tensor of the output's safetensors files (see plan.py's schema)."""

    name: str
    dtype: str
    shape: Optional[List[int]]  # None: a nested quant state, sized by the executor
    type: str
    sources: List[SourceRef] = field(default_factory=list)
    of: Optional[str] = None
    bnb: Optional[Dict[str, Any]] = None
    quant_state: Optional[Dict[str, Any]] = None
    reason: str = ""

    @property
    def nbytes(self) -> Optional[int]:
        """Stored size in bytes (None while unknown: a nested quant state)."""
        if self.shape is None:
            return None
        n = 1
        for d in self.shape:
            n *= d
        return n * _DTYPE_SIZE[self.dtype]

    def to_dict(self) -> Dict[str, Any]:
        """The JSON form (an entry of the plan's ``tensors``)."""
        d: Dict[str, Any] = {"name": self.name, "type": self.type, "dtype": self.dtype,
                             "shape": None if self.shape is None else list(self.shape), "nbytes": self.nbytes,
                             "sources": [s.to_dict() for s in self.sources], "reason": self.reason}
        if self.of is not None:
            d["of"] = self.of
        if self.bnb is not None:
            d["bnb"] = dict(self.bnb)
        if self.quant_state is not None:
            d["quant_state"] = dict(self.quant_state)
        return d

    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> StTensor:
        """Inverse of :meth:`to_dict`."""
        return StTensor(name=d["name"], dtype=d["dtype"], shape=None if d.get("shape") is None else [int(x) for x in d["shape"]],
                        type=d["type"], sources=[SourceRef(s["file"], s["tensor"], s["dtype"], [int(x) for x in s["shape"]],
                                                           s.get("format", "safetensors"), s.get("decode"))
                                                 for s in d.get("sources") or []],
                        of=d.get("of"), bnb=d.get("bnb"), quant_state=d.get("quant_state"), reason=d.get("reason", ""))


@dataclass
class OutFile:
    """One file of the output directory: ``kind`` is ``"safetensors"``,
    ``"index"``, ``"text"`` or ``"copy"``."""

    name: str
    kind: str
    tensors: List[str] = field(default_factory=list)
    metadata: Optional[Dict[str, str]] = None
    text: Optional[str] = None
    source: Optional[str] = None
    index: Optional[Dict[str, Any]] = None

    def to_dict(self) -> Dict[str, Any]:
        """The JSON form (an entry of the plan's ``files``)."""
        d: Dict[str, Any] = {"name": self.name, "kind": self.kind}
        if self.kind == "safetensors":
            d["tensors"], d["metadata"] = list(self.tensors), dict(self.metadata or {})
        elif self.kind == "text":
            d["text"] = self.text
        elif self.kind == "copy":
            d["source"] = self.source
        elif self.kind == "index":
            d["index"] = dict(self.index or {})
        return d

    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> OutFile:
        """Inverse of :meth:`to_dict`."""
        return OutFile(name=d["name"], kind=d["kind"], tensors=list(d.get("tensors") or []), metadata=d.get("metadata"),
                       text=d.get("text"), source=d.get("source"), index=d.get("index"))


@dataclass
class BnbPlan:
    """The plan of a bitsandbytes model directory (schema 3, format ``"safetensors"``).

    ``tensors`` are in the model's order (weights followed by the parts of
    their state); ``files`` in writing order, each safetensors file listing
    its tensors in file order.
    """

    hf_architecture: str
    target: str
    options: BnbOptions
    tensors: List[StTensor]
    files: List[OutFile]
    config: Dict[str, Any]
    model_dir: Optional[str] = None
    schema: int = SCHEMA_VERSION
    format: str = "safetensors"

    def tensor(self, name: str) -> StTensor:
        """The output tensor named ``name`` (KeyError if absent)."""
        for t in self.tensors:
            if t.name == name:
                return t
        raise KeyError(name)

    @property
    def quantized(self) -> List[StTensor]:
        """The quantized weights."""
        return [t for t in self.tensors if t.type.startswith("bnb.") and t.of is None]

    def to_dict(self) -> Dict[str, Any]:
        """Plain JSON-ready data."""
        o = self.options
        return {"schema": self.schema, "format": self.format, "model_dir": self.model_dir,
                "hf_architecture": self.hf_architecture, "target": self.target,
                "options": {"format": o.format, "double_quant": o.double_quant, "blocksize": o.blocksize,
                            "compute_dtype": o.compute_dtype, "quant_storage": o.quant_storage,
                            "skip_modules": list(o.skip_modules) if o.skip_modules is not None else None,
                            "rules": o.rules, "max_shard_size": o.max_shard_size, "torch_threads": o.torch_threads},
                "config": self.config,
                "tensors": [t.to_dict() for t in self.tensors], "files": [f.to_dict() for f in self.files]}

    def to_json(self, indent: Optional[int] = None) -> str:
        """The plan as JSON text (non-ASCII escaped)."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=True, allow_nan=False)

    def to_json_bytes(self) -> bytes:
        """The plan as the executor reads it (UTF-8 JSON, as :meth:`Plan.to_json_bytes`)."""
        return json.dumps(self.to_dict(), ensure_ascii=False, allow_nan=False).encode("utf-8")

    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> BnbPlan:
        """Rebuild a plan from :meth:`to_dict` output; raises :class:`PlanError` when malformed."""
        try:
            if d.get("schema") != SCHEMA_VERSION or d.get("format") != "safetensors":
                raise PlanError(f"convert: plan schema {d.get('schema')!r} format {d.get('format')!r} is not "
                                f"{SCHEMA_VERSION} 'safetensors'")
            o = dict(d["options"])
            if o.get("skip_modules") is not None:
                o["skip_modules"] = tuple(o["skip_modules"])
            return BnbPlan(hf_architecture=d["hf_architecture"], target=d["target"], options=BnbOptions(**o),
                           tensors=[StTensor.from_dict(t) for t in d["tensors"]],
                           files=[OutFile.from_dict(f) for f in d["files"]], config=dict(d.get("config") or {}),
                           model_dir=d.get("model_dir"))
        except (KeyError, TypeError, AttributeError) as e:
            raise PlanError(f"convert: malformed plan: {e!r}") from None

    @staticmethod
    def from_json(text: str) -> BnbPlan:
        """Inverse of :meth:`to_json`."""
        try:
            return BnbPlan.from_dict(json.loads(text))
        except json.JSONDecodeError as e:
            raise PlanError(f"convert: plan is not valid JSON: {e}") from None


def _natural_key(name: str) -> Tuple:
    """The model's order, as well as names tell it: embeddings, then the
    blocks by index, then the rest, the output head last."""
    parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in name.split("."))
    if name.startswith("lm_head."):
        group = 3
    elif any(p.isdigit() for p in name.split(".")):
        group = 1
    elif _is_embedding(name.rsplit(".", 1)[0]):
        group = 0
    else:
        group = 2
    return (group, parts)


def _read_model(model: Union[str, os.PathLike[str]]) -> ModelParts:
    """config.json and the checkpoint's tensor listing (the tokenizer files
    are copied, not parsed)."""
    d = Path(model)
    if not d.is_dir():
        raise ModelFileNotFoundError(f"convert: model directory {str(d)!r} does not exist or is not a directory", str(d))
    config = _read_json(d / "config.json", True, ConfigError)
    if not isinstance(config, dict):
        raise ConfigError("convert: config.json: must hold a JSON object", "config.json")
    return ModelParts(config=config, tokenizer=TokenizerFiles(), tensors=list_checkpoint(d, read_safetensors_header),
                      dir_name=d.resolve().name, model_dir=str(d.resolve()))


def _quant_state_json(qt: str, blocksize: int, dtype: str, shape: Sequence[int], nested: bool) -> Dict[str, Any]:
    """The JSON bitsandbytes packs (json.dumps of the state's non-tensor
    entries, in as_dict order), and where the nested offset goes."""
    d: Dict[str, Any] = {"quant_type": qt, "blocksize": blocksize, "dtype": dtype, "shape": list(shape)}
    if not nested:
        return {"json": json.dumps(d), "offset_at": -1}
    d.update({"nested_blocksize": 256, "nested_dtype": "float32"})
    head = json.dumps(d)[:-1] + ', "nested_offset": '
    return {"json": head + "}", "offset_at": len(head)}


def quantization_config(o: BnbOptions, compute_dtype: str) -> Dict[str, Any]:
    """The ``quantization_config`` transformers writes into config.json
    (``BitsAndBytesConfig.to_dict()``, transformers 4.57)."""
    four = o.four_bit
    return {
        "_load_in_4bit": four, "_load_in_8bit": not four,
        "bnb_4bit_compute_dtype": compute_dtype if four else "float32",
        "bnb_4bit_quant_storage": o.quant_storage if four else "uint8",
        "bnb_4bit_quant_type": o.quant_type if four else "fp4",
        "bnb_4bit_use_double_quant": o.double_quant if four else False,
        "llm_int8_enable_fp32_cpu_offload": False, "llm_int8_has_fp16_weight": False,
        "llm_int8_skip_modules": list(o.skip_modules) if o.skip_modules is not None else None,
        "llm_int8_threshold": 6.0, "load_in_4bit": four, "load_in_8bit": not four, "quant_method": "bitsandbytes",
    }


def _shards(items: List[Tuple[str, int]], max_size: int) -> List[List[str]]:
    """huggingface_hub's split_state_dict_into_shards: greedily in order, a
    tensor larger than the limit alone in its own shard."""
    shards: List[List[str]] = []
    cur: List[str] = []
    size = 0
    for name, n in items:
        if n > max_size:
            shards.append([name])
            continue
        if size + n > max_size:
            shards.append(cur)
            cur, size = [], 0
        cur.append(name)
        size += n
    if cur:
        shards.append(cur)
    return [s for s in shards if s]


def build_bnb_plan(model: Union[str, os.PathLike[str], ModelParts], options: Optional[BnbOptions] = None,
                   **kwargs: Any) -> BnbPlan:
    """Plan a bitsandbytes model directory for ``model`` (a Hugging Face
    model directory, or :class:`ModelParts`). Options as :class:`BnbOptions`
    or its fields as keyword arguments.

    Raises:
        ConvertError subclasses naming the file, tensor or option at fault:
        a checkpoint that is already quantized (``quantization_config``), a
        quantized weight whose dtype is not BF16/F16/F32, Conv1D models, bad
        options (:class:`BnbOptionError`).
    """
    if options is None:
        options = BnbOptions(**kwargs)
    elif kwargs:
        raise BnbOptionError(f"convert: give options or keyword arguments, not both ({sorted(kwargs)})")
    o = options
    parts = model if isinstance(model, ModelParts) else _read_model(model)
    config = dict(parts.config)
    if config.get("quantization_config") is not None:
        qc = config["quantization_config"]
        method = qc.get("quant_method") if isinstance(qc, dict) else qc
        raise ModelFormatError(f"convert: config.json: the checkpoint is already quantized ({method}); "
                               "a bitsandbytes output needs float weights", "config.json")
    arch = (config.get("architectures") or ["?"])[0]
    tensors = parts.tensors
    linear = bnb_linear_weights(tensors, config, o.skip_modules)
    drop = set()
    if config.get("tie_word_embeddings") and "lm_head.weight" in tensors:
        drop.add("lm_head.weight")  # save_pretrained drops the tied duplicate
    dtypes = {}
    for name, skip in linear.items():
        if skip is None and name not in drop:
            dt = tensors[name][1]
            if dt not in _STATE_DTYPE:
                raise TensorShapeError(f"convert: {tensors[name][0]}: tensor {name!r} is {dt}; bitsandbytes "
                                       "quantizes BF16, F16 or F32 weights")
            dtypes[name] = dt
    if not dtypes:
        raise PlanError(f"convert: no linear layer to quantize in {parts.model_dir or 'the model'} "
                        f"(skip_modules {list(o.skip_modules) if o.skip_modules is not None else 'default'})")
    cfg_dtype = config.get("torch_dtype") or config.get("dtype")
    compute = o.compute_dtype or (cfg_dtype if cfg_dtype in ("bfloat16", "float16", "float32")
                                  else _STATE_DTYPE[next(iter(dtypes.values()))])
    qt = o.quant_type
    storage = _STORAGE[o.quant_storage]
    bnb: Dict[str, Any] = {"rules": o.rules}
    if o.four_bit:
        bnb.update(blocksize=o.blocksize, double_quant=o.double_quant)
        if o.rules == "cpu" and o.double_quant:
            bnb["torch_threads"] = o.torch_threads

    out: List[StTensor] = []
    params = 0
    for name in sorted(tensors, key=_natural_key):
        if name in drop:
            continue
        file, dt, shape = tensors[name]
        shape = [int(s) for s in shape]
        n = math.prod(shape)
        params += n
        src = [SourceRef(file, name, dt, shape)]
        if name not in dtypes:
            why = "kept: not a linear layer" if name not in linear else f"kept: skipped module ({linear[name]})"
            out.append(StTensor(name, dt, shape, "copy", src, reason=why))
            continue
        if not o.four_bit:
            mod = name[:-len(".weight")]
            out.append(StTensor(name, "I8", shape, "bnb.int8", src, bnb=dict(bnb), reason="LLM.int8"))
            out.append(StTensor(mod + ".SCB", "F32", [n // shape[-1]], "bnb.scb", of=name))
            out.append(StTensor(mod + ".weight_format", "U8", [], "bnb.weight_format", of=name))
            continue
        packed = (n + 1) // 2
        size = _DTYPE_SIZE[storage]
        if packed % size:
            raise BnbOptionError(f"convert: quant_storage {o.quant_storage}: tensor {name!r} packs into {packed} bytes, "
                                 f"not a whole number of {o.quant_storage} values")
        blocks = -(-n // o.blocksize)
        out.append(StTensor(name, storage, [packed // size, 1], "bnb." + qt, src, bnb=dict(bnb),
                            reason=f"{qt.upper()}, blocks of {o.blocksize}" + (", double quant" if o.double_quant else "")))
        out.append(StTensor(name + ".absmax", "U8" if o.double_quant else "F32", [blocks], "bnb.absmax", of=name))
        out.append(StTensor(name + ".quant_map", "F32", [16], "bnb.quant_map", of=name))
        if o.double_quant:
            out.append(StTensor(name + ".nested_absmax", "F32", [-(-blocks // 256)], "bnb.nested_absmax", of=name))
            out.append(StTensor(name + ".nested_quant_map", "F32", [256], "bnb.nested_quant_map", of=name))
        qs = _quant_state_json(qt, o.blocksize, _STATE_DTYPE[dtypes[name]], shape, o.double_quant)
        out.append(StTensor(f"{name}.quant_state.bitsandbytes__{qt}", "U8",
                            None if o.double_quant else [len(qs["json"])], "bnb.quant_state", of=name, quant_state=qs))

    # shards: greedy in the model's order; a nested JSON's length is
    # estimated (its offset takes at most 24 characters)
    est = [(t.name, t.nbytes if t.nbytes is not None else len(t.quant_state["json"]) + 20) for t in out]
    groups = _shards(est, parse_size(o.max_shard_size))
    by_name = {t.name: t for t in out}
    files: List[OutFile] = []
    for i, names in enumerate(groups):
        fname = "model.safetensors" if len(groups) == 1 else f"model-{i + 1:05d}-of-{len(groups):05d}.safetensors"
        order = sorted(names, key=lambda n: (-_ST_RANK[by_name[n].dtype], n))
        files.append(OutFile(fname, "safetensors", tensors=order, metadata={"format": "pt"}))
    if len(groups) > 1:
        files.append(OutFile("model.safetensors.index.json", "index", index={"total_parameters": params}))
    new_config = dict(config)
    new_config["quantization_config"] = quantization_config(o, compute)
    files.append(OutFile("config.json", "text", text=json.dumps(new_config, indent=2, sort_keys=True) + "\n"))
    model_dir = parts.model_dir
    if model_dir is not None:
        for f in _COPIED:
            if os.path.isfile(os.path.join(model_dir, f)):
                files.append(OutFile(f, "copy", source=f))
    return BnbPlan(hf_architecture=arch, target=o.format, options=o, tensors=out, files=files, config=new_config,
                   model_dir=model_dir)


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1024
    return f"{n:.2f} GiB"  # pragma: no cover


def format_bnb_plan_table(plan: BnbPlan) -> str:
    """A readable rendering of the plan (what ``wick convert --format bnb-… --dry-run`` prints)."""
    o = plan.options
    lines = [f"{plan.hf_architecture} -> bitsandbytes {o.quant_type.upper()} directory "
             f"({f'blocks of {o.blocksize}, ' if o.four_bit else ''}"
             f"{'double quantization, ' if o.four_bit and o.double_quant else ''}{o.rules} rules)", ""]
    rows = [("name", "stored", "shape", "from", "size", "why")]
    total_src = total_out = 0
    parts: Dict[str, int] = {}
    for t in plan.tensors:
        if t.of is not None:
            parts[t.of] = parts.get(t.of, 0) + (t.nbytes or 0)
    for t in plan.tensors:
        if t.of is not None:
            continue
        s = t.sources[0]
        src_bytes = math.prod(s.shape) * _DTYPE_SIZE.get(s.dtype, 1)
        size = (t.nbytes or 0) + parts.get(t.name, 0)
        total_src += src_bytes
        total_out += size
        kind = t.type[len("bnb."):].upper() if t.type.startswith("bnb.") else t.dtype
        rows.append((t.name, kind, "x".join(map(str, s.shape)), s.dtype, _human(size), t.reason))
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]) - 1)]
    for r in rows:
        lines.append("  " + "  ".join(r[c].ljust(widths[c]) for c in range(len(widths))) + "  " + r[-1])
    lines.append("")
    lines.append("files: " + ", ".join(f.name for f in plan.files))
    lines.append(f"tensor data: {_human(total_src)} read -> about {_human(total_out)} written")
    return "\n".join(lines)
