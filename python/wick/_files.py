"""What wick.gguf and wick.safetensors share: read-only mappings of files and
numpy dtypes by name."""

from __future__ import annotations

import mmap
import os
from typing import Any, Optional

import numpy as np

from .errors import WickTypeError


def ml_dtype(name: str) -> Optional[np.dtype]:
    """An ml_dtypes dtype by name (bfloat16, float8_e4m3fn, ...), or None without ml_dtypes."""
    try:
        import ml_dtypes
    except ImportError:
        return None
    t = getattr(ml_dtypes, name, None)
    return np.dtype(t) if t is not None else None


class Mapping:
    """A read-only mapping of a whole file; numpy views into it stay valid
    after close() (the mapping lives as long as a view does)."""

    def __init__(self, path: str):
        self.path = path
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            self._mm: Any = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
        self.size = size

    def view(self, dtype: Any, offset: int, count: int) -> np.ndarray:
        if self._mm is None:
            raise ValueError(f"{self.path}: the file is closed")
        return np.frombuffer(self._mm, dtype=dtype, count=count, offset=offset)

    def close(self) -> None:
        mm, self._mm = self._mm, None
        if isinstance(mm, mmap.mmap):
            try:
                mm.close()
            except BufferError:
                pass  # numpy views still use it; it is unmapped when the last one goes


def dtype_error(arg: str, dtype: np.dtype, accepted: str) -> WickTypeError:
    return WickTypeError(f"{arg}: dtype {dtype} cannot be stored; expected {accepted}")
