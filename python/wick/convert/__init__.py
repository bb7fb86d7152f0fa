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
* :mod:`.lora` — PEFT LoRA adapters → GGUF adapters (:func:`convert_lora`, ``wick convert-lora``)
* :mod:`.bnb` — plans for bitsandbytes model directories (``format="bnb-nf4"`` …)
* :mod:`.options` — :class:`PlanOptions`, every option that shapes a plan, declared
  once for the keywords, the command line and the messages
* :mod:`.requantize` — plans for GGUF → GGUF requantization (``llama-quantize``;
  :func:`requantize_model` plans and runs one)
* :mod:`.imatrix_plan` — how an importance matrix enters a plan
* :mod:`.load` — reading a model directory (no tensor data)
* :mod:`.quantized` — quantized checkpoints (FP8, GPTQ, compressed-tensors, ModelOpt, bitsandbytes) as input
* :mod:`.execute` — running a plan: the Go executor, progress, Ctrl-C
* :mod:`.report` — the :class:`~wick.convert.report.ConversionReport`
* :mod:`.errors` — the exceptions

The user's guide is docs/convert.md.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Optional, Union

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
    LoraAdapterError,
    LoraBaseMismatchError,
    MissingTensorError,
    ModelFileNotFoundError,
    ModelFormatError,
    PlanError,
    QuantizedTensorError,
    RequantizeInputError,
    SafetensorsHeaderError,
    TensorShapeError,
    TokenizerError,
    UnexpectedTensorError,
    UnknownTargetError,
    UnsupportedArchitectureError,
    UnsupportedIntermediateError,
    UnsupportedLoraError,
    UnsupportedQuantizationError,
    UnsupportedTokenizerError,
)
from .ggml_types import TARGETS
from .imatrix_plan import ImatrixInfo
from .load import ModelParts, read_model_dir, read_safetensors_header
from .lora import build_lora_plan, convert_lora
from .options import CONVERT, REQUANTIZE, PlanOptions, spell, takes_plan_options
from .plan import Plan, SourceRef, TensorPlan, build_plan_from_parts, format_plan_table
from .quantized import supported_quantization_methods
from .requantize import requantize_plan
from .tokenizer import TokenizerFiles

__all__ = [
    "convert_model", "requantize_model", "build_plan", "build_plan_from_parts", "requantize_plan", "format_plan_table", "ImatrixInfo",
    "read_model_dir", "read_safetensors_header", "PlanOptions",
    "Plan", "TensorPlan", "SourceRef", "ModelParts", "TokenizerFiles", "KV", "ValueType", "TARGETS",
    "supported_architectures",
    "ConvertError", "ConfigError", "MissingTensorError", "ModelFileNotFoundError", "ModelFormatError", "PlanError",
    "SafetensorsHeaderError", "TensorShapeError", "TokenizerError", "UnexpectedTensorError", "UnknownTargetError",
    "UnsupportedArchitectureError", "UnsupportedTokenizerError", "ImatrixError", "ImatrixMismatchError",
    "ImatrixRequiredError", "RequantizeInputError", "UnsupportedIntermediateError", "UnsupportedQuantizationError",
    "QuantizedTensorError", "supported_quantization_methods",
    "FORMATS", "BnbOptions", "BnbPlan", "build_bnb_plan", "format_bnb_plan_table", "BnbOptionError",
    "convert_lora", "build_lora_plan", "LoraAdapterError", "LoraBaseMismatchError", "UnsupportedLoraError",
]


@takes_plan_options(CONVERT)
def build_plan(
    model: Union[str, os.PathLike[str], ModelParts],
    target: str,
    options: Optional[PlanOptions] = None,
    *,
    list_tensors: Optional[Callable[[str], Any]] = None,
    **keywords: Any,
) -> Plan:
    """Plan the conversion of a model directory (or already-read :class:`ModelParts`) to ``target``.

    Args:
        model: a Hugging Face model directory, a Hub model id ``Org/Name`` (from the
            local cache, else downloaded: :mod:`wick.hub`; needs ``wick[hub]``), or
            :class:`ModelParts`.
        target: ``"Q4_K_M"``, ``"Q8_0"``, ``"F16"``, ``"BF16"`` … (``TARGETS``).
        options: a :class:`PlanOptions`; keywords given beside it override its fields.
        list_tensors: ``path -> {name: (dtype, shape)}`` for a .safetensors
            file; default: :func:`read_safetensors_header`.

    Raises:
        ConvertError subclasses naming the file, key or tensor at fault.
        wick.WickTypeError: an unknown option.
    """
    opts = PlanOptions.of(options, keywords, scope=CONVERT, caller="build_plan")
    if isinstance(model, ModelParts):
        parts = model
    else:
        parts = read_model_dir(model, list_tensors or read_safetensors_header, revision=opts.revision)
    return build_plan_from_parts(
        parts.config, parts.tokenizer, parts.tensors, target, opts, dir_name=parts.dir_name,
        model_dir=parts.model_dir, generation_config=parts.generation_config, model_card=parts.model_card)


@takes_plan_options(CONVERT)
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
    options: Optional[PlanOptions] = None,
    **keywords: Any,
) -> Any:
    """Convert a Hugging Face model directory to a llama.cpp-ready GGUF file in one step,
    or (``format="bnb-nf4"``, ``"bnb-fp4"``, ``"bnb-int8"``) to a bitsandbytes model
    directory that transformers loads.

    Args:
        model: the model directory (config.json, tokenizer.json / tokenizer.model,
            *.safetensors or a sharded index), or a Hugging Face Hub model id
            ``Org/Name`` (``revision=`` picks a branch, tag or commit): from the local
            cache, else only the files a conversion needs are downloaded (:mod:`wick.hub`).
            A bitsandbytes format needs a local directory.
        output: the GGUF file to write, or the directory for a bitsandbytes
            format; never left half-written (written beside it and renamed into
            place at the end).
        type: the GGUF target: ``"Q4_K_M"``, ``"Q8_0"`` (the default), ``"F16"``, … (see
            ``TARGETS``); tensors get llama-quantize's per-tensor types for it.
        format: ``"gguf"`` (default), or ``"bnb-nf4"``, ``"bnb-fp4"``, ``"bnb-int8"``: a
            Hugging Face directory of bitsandbytes 4-bit or LLM.int8 safetensors
            shards with config.json's ``quantization_config`` (see
            :mod:`wick.convert.bnb`); its options, :class:`BnbOptions`' fields
            (``double_quant``, ``blocksize``, ``compute_dtype``, ``quant_storage``,
            ``skip_modules``, ``rules``, ``max_shard_size``, ``torch_threads``), are
            keywords, and the plan options below do not apply.
        threads: quantization threads (None: every core); the bytes never depend on it.
        overwrite: replace an existing ``output``.
        progress: True for a progress bar, or ``callback(done_bytes, total_bytes, tensor)``.
        dry_run: only plan: return the :class:`Plan` (a :class:`BnbPlan` for the
            bitsandbytes formats) without reading any tensor data.
        options: a :class:`PlanOptions`; the plan options below, given as
            keywords, override its fields.

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
        if options is not None:
            raise BnbOptionError(f"convert: options= holds GGUF plan options; format {format!r} takes "
                                 "BnbOptions fields as keywords")
        plan = build_bnb_plan(model, BnbOptions(format=format, **keywords))
        if dry_run:
            return plan
        from .execute import execute

        return execute(plan, output, overwrite=overwrite, threads=threads, progress=progress)
    plan = build_plan(model, type or "Q8_0", PlanOptions.of(options, keywords, scope=CONVERT, caller="convert"))
    if dry_run:
        return plan
    return _execute(plan, output, overwrite=overwrite, threads=threads, progress=progress)


def _execute(plan: Plan, output: Any, **run: Any) -> Any:
    from .. import _types
    from ..errors import WickUnsupportedError
    from .execute import execute

    def passed_through(t: TensorPlan) -> bool:  # blocks copied as stored (NVFP4 from a quantized checkpoint)
        return bool(t.sources) and all(s.decode and s.decode.get("output") == t.type for s in t.sources)

    missing = sorted({t.type for t in plan.tensors
                      if not _types.type_info(t.type).can_quantize and not passed_through(t)})
    if missing:
        raise WickUnsupportedError(f"type: {plan.target} needs {', '.join(missing)}, which Wick cannot write yet; "
                                   f"choose another target (the plan itself is shown by {spell('dry_run', True)})")
    from ..errors import WickNonFiniteError
    from .plan import intermediate_of

    try:
        return execute(plan, output, **run)
    except WickNonFiniteError as e:
        inter = intermediate_of(plan)
        if inter is None:
            raise
        top = {"f16": "±65504", "bf16": "±3.39e38"}[inter]
        raise WickNonFiniteError(
            f"{e} (with {spell('intermediate', inter)}: a finite weight beyond {top} becomes infinite in the "
            f"{inter.upper()} intermediate, as in convert_hf_to_gguf.py --outtype {inter}, and llama-quantize "
            "refuses that file: \"tensor ... has invalid data\"; the default, lossless route keeps the value)") from None


@takes_plan_options(REQUANTIZE)
def requantize_model(
    input: Union[str, os.PathLike[str]],  # noqa: A002 - the natural name
    output: Union[str, os.PathLike[str]],
    type: str = "Q8_0",
    *,
    threads: Optional[int] = None,
    overwrite: bool = False,
    progress: Any = False,
    dry_run: bool = False,
    options: Optional[PlanOptions] = None,
    **keywords: Any,
) -> Any:
    """Requantize an F32/F16/BF16 GGUF model in one step: the file ``llama-quantize
    input output type [--imatrix FILE]`` writes, byte for byte.

    Args:
        input: the GGUF model (tensors F32, F16 or BF16).
        output: the GGUF file to write (never left half-written).
        type: the target (``"Q4_K_M"``, ``"Q8_0"``, …; see ``TARGETS``).
        threads, overwrite, progress: as :func:`convert_model`.
        dry_run: only plan: return the :class:`Plan`.
        options: a :class:`PlanOptions`; the plan options below, given as
            keywords, override its fields.

    Returns:
        The :class:`~wick.convert.report.ConversionReport`, or the plan when ``dry_run``.
    """
    plan = requantize_plan(input, type, PlanOptions.of(options, keywords, scope=REQUANTIZE,
                                                       caller="requantize_model"))
    if dry_run:
        return plan
    return _execute(plan, output, overwrite=overwrite, threads=threads, progress=progress)


class _CallableModule(__import__("types").ModuleType):
    """Lets ``wick.convert(model, output, type=...)`` be called while
    ``wick.convert.build_plan`` etc. stay importable from the same name."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return convert_model(*args, **kwargs)

    __call__.__doc__ = convert_model.__doc__


def _method_signature(fn: Callable[..., Any]) -> Any:
    import inspect

    sig = inspect.signature(fn)
    return sig.replace(parameters=[inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY)]
                       + list(sig.parameters.values()))


_CallableModule.__call__.__signature__ = _method_signature(convert_model)  # type: ignore[attr-defined]


__import__("sys").modules[__name__].__class__ = _CallableModule
