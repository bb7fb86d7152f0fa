"""Wick: quantize model weights with a fast Go core, byte-exact with ggml and bitsandbytes.

Convert a Hugging Face model directory to a llama.cpp GGUF file in one step
(byte-identical to ``convert_hf_to_gguf.py`` followed by ``llama-quantize``)::

    import wick
    report = wick.convert("./Llama-3.2-1B", "out.gguf", type="Q4_K_M")
    print(report)                            # per tensor: type, size, RMSE, SNR

Quantize numpy arrays to ggml's block formats and bitsandbytes' formats::

    import numpy as np
    x = np.random.default_rng(0).standard_normal((4096, 4096), dtype=np.float32)
    q = wick.quantize(x, "Q4_K")             # uint8 blocks, shape (4096, 2304)
    y = wick.dequantize(q, "Q4_K", x.shape)  # float32, shape (4096, 4096)
    wick.types()                             # the ggml type table

    codes, state = wick.quantize_blockwise(x, blocksize=256)   # bitsandbytes 8-bit
    packed, state = wick.quantize_4bit(x, quant_type="nf4")    # bitsandbytes NF4/FP4

Write a GGUF model back as a Hugging Face directory (safetensors, config.json,
tokenizer) that transformers loads::

    wick.export_hf("model.gguf", "./model-hf", dtype="bf16")

Read and write the files: :mod:`wick.gguf` (``open``, ``write``) and
:mod:`wick.safetensors` (``open``, ``write``).

Every call releases the GIL, splits the work over goroutines (``threads=``),
gives the same bytes for every thread count, and can be interrupted with
Ctrl-C. Errors are :class:`WickError` subclasses that are also the builtin
exception you would expect (``ValueError``, ``TypeError``, ``OSError``, ...).

The native library is loaded on first use. It does not survive ``fork()``:
use the ``spawn`` or ``forkserver`` start methods of :mod:`multiprocessing`
(see :class:`WickForkError`).
"""

from __future__ import annotations

from . import _native, gguf, imatrix, safetensors
from ._quantize import dequantize, quantize
from ._types import TypeInfo, type_info, types
from .blockwise import (
    QuantState,
    code_table,
    dequantize_4bit,
    dequantize_blockwise,
    quantize_4bit,
    quantize_blockwise,
)
from .errors import (
    WickCancelledError,
    WickError,
    WickFileExistsError,
    WickFileNotFoundError,
    WickForkError,
    WickFormatError,
    WickInternalError,
    WickNonFiniteError,
    WickOSError,
    WickTypeError,
    WickUnsupportedError,
    WickValueError,
)


def _version() -> str:
    try:
        from importlib.metadata import PackageNotFoundError, version
    except ImportError:  # pragma: no cover - Python < 3.8
        return "0+unknown"
    try:
        return version("wick")
    except PackageNotFoundError:
        return "0+unknown"


# Fail at import, with instructions, if the library was never built. It is
# opened lazily (first call), which keeps `import wick` cheap and fork-safe.
if not _native.library_path().exists():
    raise ImportError(_native.missing_library_message(_native.library_path()))


def __getattr__(name: str):
    # __version__ is read from the installed package's metadata on first use:
    # importlib.metadata costs about 30 ms of every `import wick`.
    if name == "__version__":
        global __version__
        __version__ = _version()
        return __version__
    # wick.convert (the converter, callable as wick.convert(model, out, type=...))
    # is imported on first use: it carries the model knowledge, which plain
    # quantization does not need.
    if name == "convert":
        import importlib

        return importlib.import_module(".convert", __name__)
    if name == "convert_lora":  # a PEFT LoRA adapter -> GGUF adapter (wick.convert.lora)
        from .convert.lora import convert_lora

        return convert_lora
    if name == "export_hf":  # GGUF back to a Hugging Face directory (wick.convert.export_hf)
        from .convert.export_hf import export_hf

        return export_hf
    raise AttributeError(f"module 'wick' has no attribute {name!r}")


def library_info() -> dict:
    """What the native library reports about itself: ABI version, Go version,
    architecture, status codes and the type table (as plain JSON data)."""
    return dict(_native.info())


def max_threads() -> int:
    """The number of threads a call with ``threads=None`` uses (Go's GOMAXPROCS,
    which follows the container's CPU limit)."""
    return int(_native.lib().wick_max_procs())


__all__ = [
    "__version__",
    "gguf",
    "imatrix",
    "safetensors",
    "convert",
    "convert_lora",
    "export_hf",
    "quantize",
    "dequantize",
    "types",
    "type_info",
    "quantize_blockwise",
    "dequantize_blockwise",
    "quantize_4bit",
    "dequantize_4bit",
    "QuantState",
    "code_table",
    "TypeInfo",
    "library_info",
    "max_threads",
    "WickError",
    "WickValueError",
    "WickTypeError",
    "WickNonFiniteError",
    "WickFormatError",
    "WickUnsupportedError",
    "WickOSError",
    "WickFileNotFoundError",
    "WickFileExistsError",
    "WickInternalError",
    "WickCancelledError",
    "WickForkError",
]
