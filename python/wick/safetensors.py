"""Read and write safetensors files, the tensor format of Hugging Face models.

Opening validates every header first (in Go: size caps, JSON, duplicate names,
dtypes, shape × dtype size with overflow checks, ranges in bounds, sorted,
non-overlapping, covering the data exactly; a bad file raises
:class:`wick.WickFormatError` naming the file and tensor) and maps the files:
tensors are zero-copy numpy views. A model directory or a
``model.safetensors.index.json`` opens every shard as one model::

    with wick.safetensors.open("./Llama-3.2-1B") as m:
        list(m)                                      # tensor names
        m.tensors["model.norm.weight"]               # TensorInfo(dtype='BF16', shape=(2048,), ...)
        m.get("model.norm.weight")                   # zero-copy (bfloat16 via ml_dtypes, else uint16 bits)
        m.get("model.norm.weight", np.float32)       # converted exactly (also F8_E4M3, F8_E5M2, ...)

    wick.safetensors.write("out.safetensors", {"w": np.zeros((2, 3), np.float32)}, metadata={"format": "np"})
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple, Union

import numpy as np

from . import _arrays, _files, _native
from .errors import WickFileExistsError, WickTypeError, WickValueError

ffi = _native.ffi

__all__ = ["open", "write", "SafetensorsModel", "TensorInfo"]

# safetensors dtype → numpy dtype for zero-copy views (ml_dtypes names for the
# formats numpy lacks; without ml_dtypes those come as unsigned ints of their width).
_VIEW = {"F64": "float64", "F32": "float32", "F16": "float16", "I64": "int64", "I32": "int32", "I16": "int16",
         "I8": "int8", "U64": "uint64", "U32": "uint32", "U16": "uint16", "U8": "uint8", "BOOL": "bool"}
_ML = {"BF16": ("bfloat16", "uint16"), "F8_E4M3": ("float8_e4m3fn", "uint8"), "F8_E5M2": ("float8_e5m2", "uint8"),
       "F8_E8M0": ("float8_e8m0fnu", "uint8"), "F8_E4M3FNUZ": ("float8_e4m3fnuz", "uint8"),
       "F8_E5M2FNUZ": ("float8_e5m2fnuz", "uint8"), "C64": ("complex64", "complex64")}
_FROM_NUMPY = {v: k for k, v in _VIEW.items()}
_FROM_NUMPY.update({"bfloat16": "BF16", "float8_e4m3fn": "F8_E4M3", "float8_e5m2": "F8_E5M2", "complex64": "C64",
                    "float8_e8m0fnu": "F8_E8M0", "float8_e4m3fnuz": "F8_E4M3FNUZ", "float8_e5m2fnuz": "F8_E5M2FNUZ"})


@dataclass(frozen=True)
class TensorInfo:
    """One tensor: ``dtype`` (safetensors name, e.g. ``"BF16"``), row-major ``shape``,
    the ``file`` holding it, the absolute byte ``offset`` of its data and ``nbytes``."""

    name: str
    dtype: str
    shape: Tuple[int, ...]
    file: str
    offset: int
    nbytes: int

    @property
    def n_elements(self) -> int:
        """Number of elements (1 for a 0-d tensor)."""
        return math.prod(self.shape)


class SafetensorsModel(Mapping[str, np.ndarray]):
    """A validated safetensors file, or all shards of a model. Use :func:`open`.

    It is a read-only mapping from tensor name to zero-copy numpy array.

    Attributes:
        path: what was opened (file, index or directory).
        files: the .safetensors files, in order.
        file_metadata: each file's ``__metadata__`` (str → str), by path.
        tensors: name → :class:`TensorInfo`.
    """

    def __init__(self, path: Union[str, os.PathLike[str]]):
        self.path = str(path)
        buf, n = _native.text(self.path)
        info = json.loads(_native.call_with_result(_native.lib().wick_safetensors_describe, buf, n))
        self.files: List[str] = [f["path"] for f in info["files"]]
        #: ``__metadata__`` of each file, by path
        self.file_metadata: Dict[str, Dict[str, str]] = {f["path"]: f["metadata"] or {} for f in info["files"]}
        self.tensors: Dict[str, TensorInfo] = {
            t["name"]: TensorInfo(t["name"], t["dtype"], tuple(t["shape"]), self.files[t["file"]], t["offset"], t["nbytes"])
            for t in info["tensors"]}
        self._maps: Dict[str, _files.Mapping] = {}

    @property
    def metadata(self) -> Dict[str, str]:
        """The ``__metadata__`` of the (first) file."""
        return self.file_metadata[self.files[0]] if self.files else {}

    def _map(self, file: str) -> _files.Mapping:
        if file not in self._maps:
            self._maps[file] = _files.Mapping(file)
        return self._maps[file]

    def _info(self, name: str) -> TensorInfo:
        try:
            return self.tensors[name]
        except KeyError:
            raise KeyError(f"{self.path}: no tensor {name!r}") from None

    def raw(self, name: str) -> np.ndarray:
        """The tensor's bytes, zero-copy (uint8, flat)."""
        t = self._info(name)
        return self._map(t.file).view(np.uint8, t.offset, t.nbytes)

    def get(self, name: str, dtype: Any = None) -> np.ndarray:
        """The tensor as an array of its shape: a zero-copy view in its own dtype, or,
        with ``dtype=np.float32``, converted exactly (every float and int dtype)."""
        t = self._info(name)
        if dtype is not None and np.dtype(dtype) == np.float32 and t.dtype != "F32":
            out = np.empty(t.shape, np.float32)
            raw = self.raw(name)
            dbuf, dlen = _native.text(t.dtype)
            err = _native.errbuf()
            _native.check(_native.lib().wick_safetensors_decode(
                dbuf, dlen, _arrays.ptr(raw, "uint8_t[]"), raw.nbytes, _arrays.ptr(out, "float[]", True), out.size,
                err, _native.ERRLEN), err)
            return out
        if t.dtype in _VIEW:
            dt = np.dtype(_VIEW[t.dtype])
        elif t.dtype in _ML:
            dt = _files.ml_dtype(_ML[t.dtype][0]) or np.dtype(_ML[t.dtype][1])
        else:
            raise WickTypeError(f"{name}: dtype {t.dtype} has no numpy view; use raw() or get(name, np.float32)")
        arr = self._map(t.file).view(dt, t.offset, t.n_elements).reshape(t.shape)
        if dtype is not None and np.dtype(dtype) != arr.dtype:
            raise WickValueError(f"dtype: {name} is {t.dtype}; pass None (its own dtype) or np.float32")
        return arr

    def __getitem__(self, name: str) -> np.ndarray:
        return self.get(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self.tensors)

    def __len__(self) -> int:
        return len(self.tensors)

    def close(self) -> None:
        """Unmap the files (arrays already returned stay valid)."""
        for m in self._maps.values():
            m.close()
        self._maps.clear()

    def __enter__(self) -> SafetensorsModel:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<wick.safetensors.SafetensorsModel {self.path!r}: {len(self.files)} file(s), {len(self.tensors)} tensors>"


def open(path: Union[str, os.PathLike[str]]) -> SafetensorsModel:  # noqa: A001
    """Open a .safetensors file, a ``model.safetensors.index.json``, or a model directory."""
    return SafetensorsModel(path)


def write(
    path: Union[str, os.PathLike[str]],
    tensors: Mapping[str, Any],
    metadata: Optional[Mapping[str, str]] = None,
    *,
    overwrite: bool = False,
) -> None:
    """Write numpy arrays as a safetensors file (in the given order), readable by the
    ``safetensors`` package. Written to a temporary file, synced and renamed into place."""
    entries, arrays = [], []
    for name, a in tensors.items():
        a = np.asarray(a)
        key = a.dtype.name
        if key not in _FROM_NUMPY:
            raise _files.dtype_error(f"tensors[{name!r}]", a.dtype, ", ".join(sorted(_FROM_NUMPY)))
        a = np.require(a.astype(a.dtype.newbyteorder("="), copy=False), requirements=["C"])  # keeps 0-d shapes
        entries.append({"name": name, "dtype": _FROM_NUMPY[key], "shape": list(a.shape)})
        arrays.append(a.reshape(-1).view(np.uint8))
    _write_entries(path, entries, arrays, metadata, overwrite)


def _write_entries(path: Union[str, os.PathLike[str]], entries: List[Dict[str, Any]], arrays: List[np.ndarray],
                   metadata: Optional[Mapping[str, str]], overwrite: bool) -> None:
    """:func:`write` of tensors given as header entries ``{"name", "dtype", "shape"}`` (safetensors
    dtype names) and their little-endian bytes (contiguous uint8 arrays), e.g. BF16 bit patterns
    held as uint16 without ml_dtypes."""
    if metadata is not None and not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise WickTypeError("metadata: safetensors metadata maps str to str")
    header = json.dumps({"tensors": entries, "metadata": dict(metadata) if metadata is not None else None}).encode()
    bufs = ffi.new("uint8_t *[]", max(1, len(arrays)))
    lens = ffi.new("size_t[]", max(1, len(arrays)))
    keep = []
    for i, a in enumerate(arrays):
        p = _arrays.ptr(a, "uint8_t[]") if a.nbytes else ffi.NULL
        keep.append(p)
        bufs[i], lens[i] = p, a.nbytes
    pbuf, plen = _native.text(str(path))
    err = _native.errbuf()
    try:
        _native.check(_native.lib().wick_safetensors_write(pbuf, plen, ffi.from_buffer("char[]", header), len(header),
                                                           bufs, lens, len(arrays), 1 if overwrite else 0, err,
                                                           _native.ERRLEN), err)
    except WickFileExistsError as e:
        raise WickFileExistsError(f"{e} (pass overwrite=True to replace it)") from None
