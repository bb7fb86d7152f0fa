"""Split output: the options ``split_max_size=`` / ``split_max_tensors=``
(``--split-max-size`` / ``--split-max-tensors``) of :func:`wick.convert`,
:func:`wick.convert.requantize_model` and ``wick convert`` / ``wick quantize``.

With either option the executor writes, instead of ``OUTPUT``, the files
``PREFIX-00001-of-0000N.gguf`` … that llama.cpp's ``llama-gguf-split --split``
makes of the single file (``PREFIX`` is ``OUTPUT`` less a ``.gguf`` suffix),
byte for byte: all metadata in the first part followed by ``split.no``
(UINT16), ``split.tensors.count`` (INT32) and ``split.count`` (UINT16); only
those three keys in the others; tensors in order, a new part starting before
the tensor that would take the part's tensor data (each tensor padded to 32
bytes; metadata not counted) over ``split_max_size``, or after
``split_max_tensors`` tensors. llama.cpp loads the model from the first part.
The Go side (``io/gguf``, ``WithSplit``) does the work; this module checks and
normalizes the options.
"""

from __future__ import annotations

import re
from typing import Any, Dict, Optional, Union

from ..errors import WickValueError

__all__ = ["parse_split_size", "split_options"]

_UNITS = {"": 1, "M": 1000 * 1000, "G": 1000 * 1000 * 1000}


def parse_split_size(size: Union[int, str]) -> int:
    """``split_max_size`` in bytes: an int is bytes; a string is ``"N"`` (bytes),
    ``"NM"`` (N·10^6) or ``"NG"`` (N·10^9) with a positive integer N, as
    ``llama-gguf-split --split-max-size`` reads ``500M`` or ``2G`` (decimal
    units; Wick also takes ``m``/``g``). llama-gguf-split reads ``"1.5G"`` as 1 G
    and refuses a size without unit; Wick refuses the first and reads the
    second as bytes.
    """
    if isinstance(size, bool):
        raise WickValueError(f"split_max_size: expected bytes or a size such as '500M' or '2G', got {size!r}")
    if isinstance(size, int):
        n = size
    elif isinstance(size, str):
        m = re.fullmatch(r"\s*(\d+)\s*([MGmg]?)\s*", size)
        if not m:
            raise WickValueError(f"split_max_size: {size!r} is not a size: give a whole number of bytes, or N M "
                                 "(N·10^6 bytes) or N G (N·10^9 bytes), e.g. '500M', '2G' (as llama-gguf-split)")
        n = int(m.group(1)) * _UNITS[m.group(2).upper()]
    else:
        raise WickValueError(f"split_max_size: expected bytes or a size such as '500M' or '2G', "
                             f"got {type(size).__name__}")
    if n <= 0:
        raise WickValueError(f"split_max_size: must be positive, got {size!r}")
    return n


def split_options(split_max_size: Optional[Union[int, str]] = None,
                  split_max_tensors: Optional[int] = None) -> Optional[Dict[str, Any]]:
    """The plan's ``"split"`` entry for the executor, or None for a single file.

    Raises:
        wick.WickValueError: both options given (llama-gguf-split takes one),
            a size that does not parse, or a tensor count below 1.
    """
    if split_max_size is None and split_max_tensors is None:
        return None
    if split_max_size is not None and split_max_tensors is not None:
        raise WickValueError("split: give split_max_size or split_max_tensors, not both "
                             "(as llama-gguf-split takes --split-max-size or --split-max-tensors)")
    if split_max_tensors is not None:
        if isinstance(split_max_tensors, bool) or not isinstance(split_max_tensors, int) or split_max_tensors < 1:
            raise WickValueError(f"split_max_tensors: expected a whole number ≥ 1, got {split_max_tensors!r}")
        return {"max_bytes": 0, "max_tensors": split_max_tensors}
    return {"max_bytes": parse_split_size(split_max_size), "max_tensors": 0}
