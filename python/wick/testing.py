"""Reference implementations to check Wick against (used by Wick's tests and benchmarks).

:class:`GGMLReference` calls ggml's own quantizer, ``ggml_quantize_chunk``, in the
``libggml-base`` library that the ``llama-cpp-python`` package installs (it compiles
llama.cpp from source). Nothing here is needed to use Wick.

    >>> ref = wick.testing.GGMLReference.load()   # None if llama-cpp-python is absent
    >>> ref.quantize(x, "Q4_K")                    # bytes exactly as llama.cpp writes them
"""

from __future__ import annotations

import ctypes
import threading
from pathlib import Path
from typing import Any, Optional, Tuple

import numpy as np

from . import _types


class GGMLReference:
    """ggml's ``ggml_quantize_chunk`` through ctypes.

    ctypes releases the GIL during foreign calls, so :meth:`quantize` with
    ``threads > 1`` runs ggml on row ranges in parallel the way llama-quantize
    does; the result does not depend on it.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lib = ctypes.CDLL(str(path))
        f = self._lib.ggml_quantize_chunk
        f.restype = ctypes.c_size_t
        f.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64,
                      ctypes.c_int64, ctypes.c_void_p]
        self._chunk = f
        r = self._lib.ggml_quantize_requires_imatrix
        r.restype = ctypes.c_bool
        r.argtypes = [ctypes.c_int]
        self._requires_imatrix = r

    @classmethod
    def load(cls) -> Optional[GGMLReference]:
        """The reference from the installed llama-cpp-python, or None if it is not installed."""
        try:
            import llama_cpp  # noqa: F401  (loads the libraries ggml-base depends on)
        except Exception:
            return None
        lib_dir = Path(llama_cpp.__file__).resolve().parent / "lib"
        for name in ("libggml-base.so", "libggml-base.dylib", "ggml-base.dll"):
            if (lib_dir / name).exists():
                return cls(lib_dir / name)
        return None

    @property
    def version(self) -> str:
        """The llama-cpp-python version the library comes from (for reports)."""
        try:
            from importlib.metadata import version

            return "llama-cpp-python " + version("llama-cpp-python")
        except Exception:
            return "unknown"

    def requires_imatrix(self, t: _types.TypeLike) -> bool:
        """Whether ggml refuses to quantize to ``t`` without an importance matrix."""
        return bool(self._requires_imatrix(_types.type_info(t).id))

    def quantize(self, x: np.ndarray, t: _types.TypeLike, imatrix: Any = None, threads: int = 1) -> np.ndarray:
        """Encode float32 ``x`` (rows on the last axis) with ggml; returns uint8 rows like :func:`wick.quantize`."""
        ti = _types.type_info(t)
        x = np.ascontiguousarray(x, dtype=np.float32)
        n_per_row = x.shape[-1]
        nrows = x.size // n_per_row
        row_bytes = ti.row_nbytes(n_per_row)
        out = np.empty(x.shape[:-1] + (row_bytes,), np.uint8)
        imat = None if imatrix is None else np.ascontiguousarray(imatrix, dtype=np.float32)
        imat_ptr = None if imat is None else imat.ctypes.data
        src, dst = x.ctypes.data, out.ctypes.data

        def run(lo: int, hi: int) -> None:
            if hi > lo:
                # start is an element index; ggml writes at dst + start/block*type_size
                self._chunk(ti.id, src, dst, lo * n_per_row, hi - lo, n_per_row, imat_ptr)

        threads = max(1, min(threads, nrows))
        if threads == 1:
            run(0, nrows)
        else:
            step = -(-nrows // threads)
            workers = [threading.Thread(target=run, args=(i, min(nrows, i + step))) for i in range(0, nrows, step)]
            for w in workers:
                w.start()
            for w in workers:
                w.join()
        return out

    def dequantize(self, data: np.ndarray, t: _types.TypeLike, shape: Tuple[int, ...]) -> np.ndarray:
        """Decode ``data`` (bytes of type ``t``, as :func:`wick.quantize` returns them) with ggml's
        ``dequantize_row_<type>`` into float32 of ``shape``, like :func:`wick.dequantize`."""
        ti = _types.type_info(t)
        fn = getattr(self._lib, "dequantize_row_" + ti.name.lower())
        fn.restype = None
        fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
        src = np.ascontiguousarray(data)
        out = np.empty(shape, np.float32)
        fn(src.ctypes.data, out.ctypes.data, out.size)
        return out
