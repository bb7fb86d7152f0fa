"""Converting a Hugging Face model directory to GGUF: ``wick.convert(...)``.

This module is callable::

    report = wick.convert("./Llama-3.2-1B", "out.gguf", type="Q4_K_M")   # see convert_model
    plan = wick.convert("./Llama-3.2-1B", "out.gguf", type="Q4_K_M", dry_run=True)
    report = wick.convert("./Llama-3.2-1B", "Llama-3.2-1B-bnb-4bit", format="bnb-nf4")  # a directory for transformers

``wick convert ./Llama-3.2-1B -o out.gguf --type Q4_K_M`` is split in two:
this package decides *what* to write — every metadata key with its exact GGUF
type, and per output tensor its source tensor(s), name, shape, ggml type and
transforms — as a plain-data :class:`Plan`; the Go executor reads the
safetensors, transforms, quantizes and writes the file.

The plan reproduces llama.cpp's own pipeline: ``convert_hf_to_gguf.py``
(metadata, tokenizer, tensor names, q/k permutation, ``rope_freqs``) and, for
quantized targets, ``llama-quantize`` (the per-tensor mixture rules, tensor
order and the position of ``general.file_type``).

Typical use::

    from wick.convert import build_plan, format_plan_table
    plan = build_plan("./Llama-3.2-1B", "Q4_K_M")
    print(format_plan_table(plan))        # --dry-run
    plan_json = plan.to_json()            # handed to the Go executor

    # GGUF -> GGUF, as llama-quantize (with an importance matrix)
    from wick.convert import requantize_model
    requantize_model("model-f16.gguf", "model-q4_k_m.gguf", "Q4_K_M", imatrix="imatrix.gguf")

Pieces:

* :mod:`.archs` — one adapter module per architecture (llama, mistral, qwen2, qwen3)
* :mod:`.tokenizer` — tokenizer.* metadata from tokenizer.json / tokenizer.model
* :mod:`.mixture` — llama-quantize's per-tensor type rules
* :mod:`.plan` — the plan data structure and its JSON schema
* :mod:`.bnb` — plans for bitsandbytes model directories (``format="bnb-nf4"`` …)
* :mod:`.requantize` — plans for GGUF → GGUF requantization (``llama-quantize``;
  :func:`requantize_model` plans and runs one)
* :mod:`.imatrix_plan` — how an importance matrix enters a plan
* :mod:`.load` — reading a model directory (no tensor data)
* :mod:`.execute` — running a plan: the Go executor, progress, Ctrl-C
* :mod:`.report` — the :class:`~wick.convert.report.ConversionReport`
* :mod:`.errors` — the exceptions

The user's guide is docs/convert.md.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Iterable, Optional, Sequence, Tuple, Union

from ..gguf.values import KV, ValueType
from .archs import supported_architectures
from .bnb import FORMATS, BnbOptions, BnbPlan, build_bnb_plan, format_bnb_plan_table
from .errors import (
    BnbOptionError,
    ConfigError,
    ConvertError,
    ImatrixError,
    ImatrixMismatchError,
    ImatrixRequiredError,
    MissingTensorError,
    ModelFileNotFoundError,
    ModelFormatError,
    PlanError,
    RequantizeInputError,
    SafetensorsHeaderError,
    TensorShapeError,
    TokenizerError,
    UnexpectedTensorError,
    UnknownTargetError,
    UnsupportedArchitectureError,
    UnsupportedTokenizerError,
)
from .ggml_types import TARGETS
from .imatrix_plan import ImatrixInfo
from .load import ModelParts, read_model_dir, read_safetensors_header
from .plan import Plan, SourceRef, TensorPlan, build_plan_from_parts, format_plan_table
from .requantize import requantize_plan
from .tokenizer import TokenizerFiles

__all__ = [
    "convert_model", "requantize_model", "build_plan", "build_plan_from_parts", "requantize_plan", "format_plan_table", "ImatrixInfo",
    "read_model_dir", "read_safetensors_header",
    "Plan", "TensorPlan", "SourceRef", "ModelParts", "TokenizerFiles", "KV", "ValueType", "TARGETS",
    "supported_architectures",
    "ConvertError", "ConfigError", "MissingTensorError", "ModelFileNotFoundError", "ModelFormatError", "PlanError",
    "SafetensorsHeaderError", "TensorShapeError", "TokenizerError", "UnexpectedTensorError", "UnknownTargetError",
    "UnsupportedArchitectureError", "UnsupportedTokenizerError", "ImatrixError", "ImatrixMismatchError",
    "ImatrixRequiredError", "RequantizeInputError",
    "FORMATS", "BnbOptions", "BnbPlan", "build_bnb_plan", "format_bnb_plan_table", "BnbOptionError",
]


def build_plan(
    model: Union[str, os.PathLike[str], ModelParts],
    target: str,
    *,
    imatrix_names: Optional[Iterable[str]] = None,
    imatrix: Any = None,
    imatrix_include: Sequence[str] = (),
    imatrix_exclude: Sequence[str] = (),
    list_tensors: Optional[Callable[[str], Any]] = None,
    tokenizer_pre: Optional[str] = None,
    model_name: Optional[str] = None,
    pure: bool = False,
    output_tensor_type: Optional[str] = None,
    token_embedding_type: Optional[str] = None,
    tensor_types: Sequence[Tuple[str, str]] = (),
    leave_output_tensor: bool = False,
) -> Plan:
    """Plan the conversion of a model directory (or already-read :class:`ModelParts`) to ``target``.

    Args:
        model: a Hugging Face model directory, or :class:`ModelParts`.
        target: ``"Q4_K_M"``, ``"Q8_0"``, ``"F16"``, ``"BF16"`` … (``TARGETS``).
        imatrix_names: GGUF tensor names covered by an importance matrix
            (None: no imatrix); names only, for a plan to display.
        imatrix: an importance-matrix file (path, :class:`wick.imatrix.ImatrixFile`
            or :class:`ImatrixInfo`) used as ``llama-quantize --imatrix``: it
            changes the mixture, is checked against the tensors, adds the
            ``quantize.imatrix.*`` metadata and sets the plan's ``imatrix_file``.
        imatrix_include, imatrix_exclude: llama-quantize's
            ``--include-weights`` / ``--exclude-weights`` (name substrings).
        list_tensors: ``path -> {name: (dtype, shape)}`` for a .safetensors
            file; default: :func:`read_safetensors_header`.
        tokenizer_pre: force ``tokenizer.ggml.pre`` (byte-level BPE only).
        model_name: force ``general.name``.
        pure, output_tensor_type, token_embedding_type, tensor_types,
        leave_output_tensor: as llama-quantize's options of the same names.

    Raises:
        ConvertError subclasses naming the file, key or tensor at fault.
    """
    if isinstance(model, ModelParts):
        parts = model
    else:
        parts = read_model_dir(model, list_tensors or read_safetensors_header)
    info = None
    if imatrix is not None:
        info = imatrix if isinstance(imatrix, ImatrixInfo) else ImatrixInfo.load(
            imatrix, include=imatrix_include, exclude=imatrix_exclude)
    return build_plan_from_parts(
        parts.config, parts.tokenizer, parts.tensors, target,
        imatrix_names=imatrix_names, imatrix=info, dir_name=parts.dir_name, model_dir=parts.model_dir,
        generation_config=parts.generation_config, model_card=parts.model_card, tokenizer_pre=tokenizer_pre,
        model_name=model_name, pure=pure, output_tensor_type=output_tensor_type,
        token_embedding_type=token_embedding_type, tensor_types=tensor_types, leave_output_tensor=leave_output_tensor)


def convert_model(
    model: Union[str, os.PathLike[str]],
    output: Union[str, os.PathLike[str]],
    type: Optional[str] = None,
    *,
    format: str = "gguf",  # noqa: A002 - the natural name
    threads: Optional[int] = None,
    overwrite: bool = False,
    progress: Any = False,
    dry_run: bool = False,
    **plan_options: Any,
) -> Any:
    """Convert a Hugging Face model directory to a llama.cpp-ready GGUF file in one step,
    or (``format="bnb-nf4"``, ``"bnb-fp4"``, ``"bnb-int8"``) to a bitsandbytes model
    directory that transformers loads.

    Args:
        model: the model directory (config.json, tokenizer.json / tokenizer.model,
            *.safetensors or a sharded index).
        output: the GGUF file to write, or the directory for a bitsandbytes
            format; never left half-written (written beside it and renamed into
            place at the end).
        type: the GGUF target: ``"Q4_K_M"``, ``"Q8_0"`` (the default), ``"F16"``, … (see
            ``TARGETS``); tensors get llama-quantize's per-tensor types for it.
        format: ``"gguf"`` (default), or ``"bnb-nf4"``, ``"bnb-fp4"``, ``"bnb-int8"``: a
            Hugging Face directory of bitsandbytes 4-bit or LLM.int8 safetensors
            shards with config.json's ``quantization_config`` (see
            :mod:`wick.convert.bnb`; its options ``double_quant``, ``blocksize``,
            ``compute_dtype``, ``quant_storage``, ``skip_modules``, ``rules``,
            ``max_shard_size`` are keyword arguments).
        threads: quantization threads (None: every core); the bytes never depend on it.
        overwrite: replace an existing ``output``.
        progress: True for a progress bar, or ``callback(done_bytes, total_bytes, tensor)``.
        dry_run: only plan: return the :class:`Plan` (a :class:`BnbPlan` for the
            bitsandbytes formats) without reading any tensor data.
        plan_options: passed to :func:`build_plan` (``tokenizer_pre``, ``pure``,
            ``tensor_types``, ``output_tensor_type``, …), or to :class:`BnbOptions`.

    Returns:
        A :class:`~wick.convert.report.ConversionReport` (per-tensor type, size, RMSE,
        max |error| and SNR; prints as a table, renders as HTML in Jupyter), or the
        plan when ``dry_run``.

    Raises:
        ConvertError: a subclass naming the file, key or tensor at fault when the
            model directory cannot be converted (missing files, unsupported
            architecture or tokenizer, unknown target, ...).
        wick.WickFileExistsError: ``output`` exists and ``overwrite`` is false.
        wick.WickNonFiniteError: a weight is NaN or infinite (names the tensor).
        wick.WickOSError: the operating system refused (unwritable directory, full disk).
        KeyboardInterrupt: Ctrl-C, after the executor stopped and removed its
            temporary file.

    Example::

        report = wick.convert("./tiny-llama", "tiny.gguf", type="Q4_K_M", progress=True)
        print(report.summary())
        worst = min(report.tensors, key=lambda t: t.snr_db)
    """
    if format != "gguf":
        if format not in FORMATS:
            raise BnbOptionError(f"convert: format {format!r}: expected one of {', '.join(('gguf',) + FORMATS)}")
        if type is not None:
            raise BnbOptionError(f"convert: type {type!r} is a GGUF target; format {format!r} takes none")
        plan = build_bnb_plan(model, BnbOptions(format=format, **plan_options))
        if dry_run:
            return plan
        from .execute import execute

        return execute(plan, output, overwrite=overwrite, threads=threads, progress=progress)
    plan = build_plan(model, type or "Q8_0", **plan_options)
    if dry_run:
        return plan
    from .. import _types
    from ..errors import WickUnsupportedError
    from .execute import execute

    missing = sorted({t.type for t in plan.tensors if not _types.type_info(t.type).can_quantize})
    if missing:
        raise WickUnsupportedError(f"type: {type} needs {', '.join(missing)}, which Wick cannot write yet; "
                                   "choose another target (the plan itself is available with dry_run=True)")

    return execute(plan, output, overwrite=overwrite, threads=threads, progress=progress)


def requantize_model(
    input: Union[str, os.PathLike[str]],  # noqa: A002 - the natural name
    output: Union[str, os.PathLike[str]],
    type: str = "Q8_0",
    *,
    imatrix: Any = None,
    threads: Optional[int] = None,
    overwrite: bool = False,
    progress: Any = False,
    dry_run: bool = False,
    **plan_options: Any,
) -> Any:
    """Requantize an F32/F16/BF16 GGUF model in one step: the file ``llama-quantize
    input output type [--imatrix FILE]`` writes, byte for byte.

    Args:
        input: the GGUF model (tensors F32, F16 or BF16).
        output: the GGUF file to write (never left half-written).
        type: the target (``"Q4_K_M"``, ``"Q8_0"``, …; see ``TARGETS``).
        imatrix: an importance-matrix file (llama-imatrix output, GGUF or legacy .dat).
        threads, overwrite, progress: as :func:`convert_model`.
        dry_run: only plan: return the :class:`Plan`.
        plan_options: passed to :func:`requantize_plan` (``pure``, ``tensor_types``,
            ``imatrix_include``, ``imatrix_exclude``, …).

    Returns:
        The :class:`~wick.convert.report.ConversionReport`, or the plan when ``dry_run``.
    """
    plan = requantize_plan(input, type, imatrix=imatrix, **plan_options)
    if dry_run:
        return plan
    from .execute import execute

    return execute(plan, output, overwrite=overwrite, threads=threads, progress=progress)


class _CallableModule(__import__("types").ModuleType):
    """Lets ``wick.convert(model, output, type=...)`` be called while
    ``wick.convert.build_plan`` etc. stay importable from the same name."""

    def __call__(
        self,
        model: Union[str, os.PathLike[str]],
        output: Union[str, os.PathLike[str]],
        type: Optional[str] = None,
        *,
        format: str = "gguf",  # noqa: A002 - the natural name
        threads: Optional[int] = None,
        overwrite: bool = False,
        progress: Any = False,
        dry_run: bool = False,
        **plan_options: Any,
    ) -> Any:
        return convert_model(model, output, type, format=format, threads=threads, overwrite=overwrite,
                             progress=progress, dry_run=dry_run, **plan_options)

    __call__.__doc__ = convert_model.__doc__


__import__("sys").modules[__name__].__class__ = _CallableModule
