"""Exceptions raised while planning a Hugging Face → GGUF conversion.

Every exception derives from :class:`ConvertError` and also from the builtin a
caller would expect (``ValueError``, ``KeyError``, ``FileNotFoundError``), so
``except ValueError`` keeps working. Messages start with ``convert:`` and name
the file and, where there is one, the tensor or key at fault, plus what was
expected.

=============================  ==================  ============================================
class                          also a              raised when
=============================  ==================  ============================================
ModelFileNotFoundError         FileNotFoundError   a required file (config.json, a weight
                                                   shard, a tokenizer file) is missing
ModelFormatError               ValueError          a model file is unreadable or malformed
ConfigError                    ValueError          config.json lacks a key or has a bad value
TokenizerError                 ValueError          tokenizer files are malformed/inconsistent
SafetensorsHeaderError         ValueError          a .safetensors header is malformed
UnsupportedArchitectureError   ValueError          config.json names an architecture Wick
                                                   cannot convert (message lists the supported)
UnsupportedTokenizerError      ValueError          the tokenizer kind or BPE pre-tokenizer is
                                                   not recognised
UnknownTargetError             ValueError          an unknown target / ggml type name
MissingTensorError             KeyError            a tensor the architecture needs is absent
TensorShapeError               ValueError          a tensor has an unexpected shape or dtype
UnexpectedTensorError          ValueError          the checkpoint holds a tensor no rule maps
PlanError                      ValueError          a plan (dict/JSON) is malformed
ImatrixError                   ValueError          an importance matrix cannot be used (llama-
                                                   quantize would refuse it)
ImatrixMismatchError           ValueError          an imatrix entry's size does not match its
                                                   tensor, or no entry names a model tensor
ImatrixRequiredError           ValueError          a tensor's type needs an imatrix and there
                                                   is none for it
RequantizeInputError           ValueError          a GGUF file cannot be requantized (already
                                                   quantized tensors, split, missing keys)
BnbOptionError                 ValueError          an unknown output format or a bitsandbytes
                                                   option out of range (block size, storage …)
=============================  ==================  ============================================

:class:`ConvertError` is a :class:`wick.WickError`, so ``except wick.WickError``
catches conversion errors too.
"""

from __future__ import annotations

from typing import Optional

from ..errors import WickError, WickFormatError


class ConvertError(WickError):
    """Base class of every exception raised by :mod:`wick.convert`."""


class ModelFileNotFoundError(ConvertError, FileNotFoundError):
    """A file the conversion needs does not exist."""

    def __init__(self, message: str, filename: Optional[str] = None):
        # FileNotFoundError's own (errno, strerror, filename) form would
        # reformat the message; keep ours verbatim and remember the path.
        Exception.__init__(self, message)
        self.filename = filename

    def __str__(self) -> str:
        return str(self.args[0])


class ModelFormatError(ConvertError, ValueError):
    """A model file is unreadable or malformed. ``file`` names it."""

    def __init__(self, message: str, file: Optional[str] = None):
        super().__init__(message)
        self.file = file


class ConfigError(ModelFormatError):
    """config.json lacks a required key or holds a value of the wrong type."""


class TokenizerError(ModelFormatError):
    """tokenizer.json / tokenizer_config.json / tokenizer.model are malformed or inconsistent."""


class SafetensorsHeaderError(ModelFormatError, WickFormatError):
    """A .safetensors file's JSON header is malformed."""


class UnsupportedArchitectureError(ConvertError, ValueError):
    """config.json names an architecture no adapter handles."""


class UnsupportedTokenizerError(ConvertError, ValueError):
    """The tokenizer kind or its BPE pre-tokenizer is not one Wick recognises."""


class UnknownTargetError(ConvertError, ValueError):
    """An unknown conversion target or ggml type name."""


class MissingTensorError(ConvertError, KeyError):
    """A tensor the architecture requires is absent from the checkpoint."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


class TensorShapeError(ConvertError, ValueError):
    """A checkpoint tensor has an unexpected shape or dtype."""


class UnexpectedTensorError(ConvertError, ValueError):
    """The checkpoint holds a tensor that no rule of the adapter maps."""


class PlanError(ConvertError, ValueError):
    """A plan given as a dict / JSON is malformed."""


class ImatrixError(ConvertError, ValueError):
    """An importance matrix that llama-quantize would refuse (missing metadata,
    non-finite values) or that does not fit the model."""


class ImatrixMismatchError(ImatrixError):
    """An imatrix entry's length differs from its tensor's ``ne[0] * ne[2]``, or
    none of the imatrix's entries names a tensor of the model."""


class ImatrixRequiredError(ImatrixError):
    """A tensor's output type needs an importance matrix (ggml's very-low-bit
    types) and none is given for it."""


class RequantizeInputError(ConvertError, ValueError):
    """A GGUF file that Wick cannot requantize: already-quantized tensors, a
    split file, or metadata the type rules need is missing."""


class BnbOptionError(ConvertError, ValueError):
    """An unknown output format, or a bitsandbytes output option out of range
    (block size, quant storage, compute dtype, rules, shard size, skip list)."""
