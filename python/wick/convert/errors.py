"""Exceptions raised while planning a Hugging Face → GGUF conversion.

Every exception derives from :class:`ConvertError` (a :class:`wick.WickError`),
from the :mod:`wick.errors` class of its kind, and so from the builtin a
caller would expect (``ValueError``, ``KeyError``, ``FileNotFoundError``,
``NotImplementedError``): ``except ValueError``, ``except wick.WickFormatError``
and ``except ConvertError`` all work. Messages start with ``convert:`` and
name the file and, where there is one, the tensor or key at fault, plus what
was expected.

The classes, what each also is, and when it is raised: docs/convert.md
("Errors").
"""

from __future__ import annotations

from typing import Optional

from ..errors import (
    WickError,
    WickFileNotFoundError,
    WickFormatError,
    WickOSError,
    WickUnsupportedError,
    WickValueError,
)


class ConvertError(WickError):
    """Base class of every exception raised by :mod:`wick.convert`."""


class ModelFileNotFoundError(ConvertError, WickFileNotFoundError):
    """A file the conversion needs does not exist."""

    def __init__(self, message: str, filename: Optional[str] = None):
        # FileNotFoundError's own (errno, strerror, filename) form would
        # reformat the message; keep ours verbatim and remember the path.
        Exception.__init__(self, message)
        self.filename = filename

    def __str__(self) -> str:
        return str(self.args[0])


class ModelFormatError(ConvertError, WickFormatError):
    """A model file is unreadable or malformed. ``file`` names it."""

    def __init__(self, message: str, file: Optional[str] = None):
        super().__init__(message)
        self.file = file


class ConfigError(ModelFormatError):
    """config.json lacks a required key or holds a value of the wrong type."""


class TokenizerError(ModelFormatError):
    """tokenizer.json / tokenizer_config.json / tokenizer.model are malformed or inconsistent."""


class SafetensorsHeaderError(ModelFormatError):
    """A .safetensors file's JSON header is malformed."""


class UnsupportedArchitectureError(ConvertError, WickUnsupportedError, ValueError):
    """config.json names an architecture no adapter handles."""


class UnsupportedTokenizerError(ConvertError, WickUnsupportedError, ValueError):
    """The tokenizer kind or its BPE pre-tokenizer is not one Wick recognises."""


class UnknownTargetError(ConvertError, WickValueError):
    """An unknown conversion target or ggml type name."""


class MissingTensorError(ConvertError, KeyError):
    """A tensor the architecture requires is absent from the checkpoint."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


class TensorShapeError(ConvertError, WickValueError):
    """A checkpoint tensor has an unexpected shape or dtype."""


class UnexpectedTensorError(ConvertError, WickUnsupportedError, ValueError):
    """The checkpoint holds a tensor that no rule of the adapter maps."""


class PlanError(ConvertError, WickValueError):
    """A plan given as a dict / JSON is malformed, or the Go executor refused it
    (the library's ``plan`` status)."""


class ImatrixError(ConvertError, WickValueError):
    """An importance matrix that llama-quantize would refuse (missing metadata,
    non-finite values) or that does not fit the model."""


class ImatrixMismatchError(ImatrixError):
    """An imatrix entry's length differs from its tensor's ``ne[0] * ne[2]``, or
    none of the imatrix's entries names a tensor of the model."""


class ImatrixRequiredError(ImatrixError):
    """A tensor's output type needs an importance matrix (ggml's very-low-bit
    types) and none is given for it."""


class UnsupportedIntermediateError(ConvertError, WickUnsupportedError, ValueError):
    """The lossy intermediate asked for cannot be reproduced for this model (the
    converter writes a tensor in a quantized type whatever the outtype)."""


class RequantizeInputError(ConvertError, WickValueError):
    """A GGUF file that Wick cannot requantize: already-quantized tensors, a
    split file, or metadata the type rules need is missing."""


class UnsupportedQuantizationError(ConvertError, WickUnsupportedError, ValueError):
    """The checkpoint is quantized with a method or format Wick cannot read
    (the message names it and lists what is supported). Raised before any
    tensor is planned."""

    def __init__(self, message: str, method: Optional[str] = None):
        super().__init__(message)
        self.method = method


class QuantizedTensorError(ModelFormatError):
    """A quantized weight cannot be decoded: an auxiliary tensor (scale,
    zero point, g_idx, absmax, quant state) is missing or has an inconsistent
    dtype or shape, or a bitsandbytes quant state holds bad JSON. The message
    names the tensor and its file (``file``); ``tensor`` names the tensor."""

    def __init__(self, message: str, tensor: Optional[str] = None, file: Optional[str] = None):
        super().__init__(message, file)
        self.tensor = tensor


class HubError(ConvertError, WickOSError):
    """A Hugging Face Hub model id that cannot be resolved to a local snapshot:
    huggingface_hub is not installed, the repository or revision does not exist
    or is gated, or the download failed. ``repo_id`` names it."""

    def __init__(self, message: str, repo_id: Optional[str] = None):
        Exception.__init__(self, message)
        self.repo_id = repo_id

    def __str__(self) -> str:
        return str(self.args[0])


class HubNotCachedError(ModelFileNotFoundError, HubError):
    """Offline (``HF_HUB_OFFLINE``) and the Hub model is not in the local cache, or
    its cached snapshot lacks files the conversion needs."""

    def __init__(self, message: str, repo_id: Optional[str] = None):
        Exception.__init__(self, message)
        self.filename = repo_id
        self.repo_id = repo_id


class BnbOptionError(ConvertError, ValueError):
    """An unknown output format, or a bitsandbytes output option out of range
    (block size, quant storage, compute dtype, rules, shard size, skip list)."""


class LoraAdapterError(ModelFormatError):
    """The adapter directory is malformed: adapter_config.json unreadable or without
    ``lora_alpha``, a tensor that is neither ``lora_A`` nor ``lora_B``, a ``lora_A``
    without its ``lora_B``, ranks that disagree. ``file`` names the file."""


class LoraBaseMismatchError(ConvertError, WickValueError):
    """The adapter does not fit the base model: a target module the base
    architecture does not have (another architecture, or a layer beyond
    ``num_hidden_layers``), or a pair whose product has another shape than the
    base weight's."""


class UnsupportedLoraError(ConvertError, WickUnsupportedError, ValueError):
    """An adapter llama.cpp cannot run as trained (DoRA, rank-stabilised LoRA,
    per-module alphas, fully trained modules), or a target module whose
    architecture transform a LoRA pair cannot express (as in llama.cpp's script)."""
class ExportError(ConvertError, WickValueError):
    """``export_hf``: a GGUF file that cannot be turned back into a Hugging Face
    model directory (metadata or tensors that do not fit its architecture, an
    option out of range)."""


class UnsupportedExportError(ConvertError, WickUnsupportedError, ValueError):
    """``export_hf``: a GGUF architecture (or tokenizer kind) Wick cannot export
    back to Hugging Face; the message lists the supported ones."""
