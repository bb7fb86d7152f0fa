"""Read llama.cpp importance-matrix files (``llama-imatrix`` output).

An importance matrix holds, for every weight tensor of a model, per-column
statistics of the activations that multiply it; ``llama-quantize --imatrix``
uses them to weight the quantization error. Both formats ``llama-imatrix``
writes are read (the Go package ``io/imatrix`` does the work and validates
the whole file first; a corrupt or hostile file raises
:class:`wick.WickFormatError`):

* ``"gguf"`` (the default of current llama.cpp): ``<name>.in_sum2`` and
  ``<name>.counts`` tensors plus ``imatrix.*`` metadata;
* ``"legacy"`` (``--output-format dat``).

::

    with wick.imatrix.open("imatrix.gguf") as im:
        im.format                     # 'gguf'
        im.datasets, im.chunk_count   # (['wiki.train.raw'], 100)
        im["blk.0.attn_q.weight"]     # ImatrixEntry(length=2048, matrices=1, counts=(51200,), ...)
        im.values("blk.0.attn_q.weight")   # float32 weights, exactly as llama-quantize uses them

:meth:`ImatrixFile.values` returns what llama-quantize hands to ggml's
quantizers (pass it as ``wick.quantize(x, t, imatrix=...)``): GGUF sums
divided by their token count (weights of 1 for an expert that saw no token),
legacy values divided by the call count.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Tuple, Union

import numpy as np

from . import _native
from .errors import WickFormatError
from .gguf import Metadata, _kv_from_json

ffi = _native.ffi

__all__ = ["open", "ImatrixFile", "ImatrixEntry"]

_open = open


@dataclass(frozen=True)
class ImatrixEntry:
    """The importance data of one weight tensor.

    Attributes:
        name: the weight tensor's GGUF name (``"blk.0.attn_q.weight"``).
        length: number of values: the tensor's row length (``ne[0]``) times
            ``matrices``.
        matrices: experts of a 3-D expert tensor, else 1.
        counts: GGUF format: tokens seen per matrix (rounded as llama.cpp
            does); ``None`` for the legacy format.
        ncall: legacy format: the call count the values are divided by (when
            positive); ``None`` for GGUF.
        finite: every weight is finite (llama-quantize refuses a file with a
            NaN or infinite weight in any entry).
    """

    name: str
    length: int
    matrices: int
    counts: Optional[Tuple[int, ...]]
    ncall: Optional[int]
    finite: bool

    @property
    def row_length(self) -> int:
        """``length // matrices``: the ``ne[0]`` of the tensor the entry is for."""
        return self.length // self.matrices


class ImatrixFile:
    """A validated importance-matrix file. Use :func:`open`.

    Attributes:
        path: the file's path.
        format: ``"gguf"`` or ``"legacy"``.
        datasets: names of the calibration datasets (possibly empty).
        chunk_count: chunks the matrix was computed on (0 when unknown; the
            legacy trailer may hold a negative number).
        chunk_size: tokens per chunk (GGUF; 0 for legacy).
        has_metadata: a GGUF file has ``imatrix.datasets``,
            ``imatrix.chunk_count`` and ``imatrix.chunk_size`` (llama-quantize
            refuses a GGUF imatrix without them). False for legacy files.
        metadata: the GGUF metadata (:class:`wick.gguf.Metadata`; empty for legacy).
        entries: name → :class:`ImatrixEntry`, sorted by name.
    """

    def __init__(self, path: Union[str, os.PathLike[str]]):
        self.path = os.fspath(path)
        buf, n = _native.text(self.path)
        info = json.loads(_native.call_with_result(_native.lib().wick_imatrix_describe, buf, n))
        self.format: str = info["format"]
        self.datasets: List[str] = list(info["datasets"])
        self.chunk_count: int = info["chunk_count"]
        self.chunk_size: int = info["chunk_size"]
        self.has_metadata: bool = info["has_metadata"]
        self.metadata = Metadata([_kv_from_json(d) for d in info["metadata"]])
        self.entries: Dict[str, ImatrixEntry] = {}
        for e in info["entries"]:
            self.entries[e["name"]] = ImatrixEntry(
                name=e["name"], length=e["length"], matrices=e["matrices"],
                counts=tuple(e["counts"]) if e["counts"] is not None else None,
                ncall=e["ncall"], finite=e["finite"])

    def __getitem__(self, name: str) -> ImatrixEntry:
        try:
            return self.entries[name]
        except KeyError:
            raise KeyError(f"{self.path}: no imatrix entry {name!r}") from None

    def __contains__(self, name: object) -> bool:
        return name in self.entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def _read(self, name: str, flags: int) -> np.ndarray:
        e = self[name]
        out = np.empty(e.length, np.float32)
        pbuf, plen = _native.text(self.path)
        nbuf, nlen = _native.text(name)
        err = _native.errbuf()
        _native.check(_native.lib().wick_imatrix_values(pbuf, plen, nbuf, nlen, flags, ffi.from_buffer("float[]", out),
                                                        out.size, err, _native.ERRLEN), err)
        return out

    def values(self, name: str) -> np.ndarray:
        """The weights llama-quantize passes to the quantizers for tensor ``name``
        (float32, ``length`` values, expert-major for expert tensors).

        Raises:
            KeyError: no such entry.
            WickFormatError: a weight is NaN or infinite.
        """
        return self._read(name, 0)

    def sums(self, name: str) -> np.ndarray:
        """The values as stored in the file (GGUF: sums of squared activations;
        legacy: already divided by the token count and multiplied by ``ncall``)."""
        return self._read(name, 1)

    def check_quantize(self) -> None:
        """Raise :class:`wick.WickFormatError` if llama-quantize would refuse this
        file: a GGUF file without the ``imatrix.*`` metadata, or a non-finite weight
        in any entry."""
        if self.format == "gguf" and not self.has_metadata:
            raise WickFormatError(
                f"imatrix: {self.path}: missing imatrix metadata (imatrix.datasets, imatrix.chunk_count, "
                "imatrix.chunk_size); llama-quantize refuses such a file")
        for e in self.entries.values():
            if not e.finite:
                self.values(e.name)  # raises, naming the entry and the value
                raise WickFormatError(f"imatrix: {self.path}: entry {e.name!r} has a non-finite weight")  # pragma: no cover

    def close(self) -> None:
        """Nothing to release (values are read on request); for symmetry with :mod:`wick.gguf`."""

    def __enter__(self) -> ImatrixFile:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<wick.imatrix.ImatrixFile {self.path!r}: {self.format}, {len(self.entries)} entries>"


def open(path: Union[str, os.PathLike[str]]) -> ImatrixFile:  # noqa: A001 - the module's natural verb
    """Open and validate an importance-matrix file (GGUF or legacy ``.dat``)."""
    return ImatrixFile(path)
