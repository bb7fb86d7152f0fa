"""Read and write GGUF files, the model format of llama.cpp.

Reading validates the whole file first (in Go: counts, string lengths, dims,
offsets, alignment, overlaps, with overflow-checked arithmetic; a corrupt or
hostile file raises :class:`wick.WickFormatError` naming the problem) and then
maps it: tensor data is never copied until you ask::

    with wick.gguf.open("model.gguf") as f:
        f.metadata["general.architecture"]      # 'llama'
        f.metadata.type("llama.block_count")    # (ValueType.UINT32, None)
        f.tensors["blk.0.attn_q.weight"]         # TensorInfo(type=Q4_K, shape=(2048, 2048), ...)
        f.raw("blk.0.attn_q.weight")             # uint8 blocks, zero-copy
        f.tensor("blk.0.attn_q.weight")          # float32 (dequantized), or a zero-copy view for F32/F16/...

Writing streams tensors into a temporary file beside the destination and
renames it into place only when everything was written (never a partial file)::

    wick.gguf.write("out.gguf",
                    metadata={"general.architecture": "llama",
                              "llama.block_count": wick.gguf.values.u32("llama.block_count", 2)},
                    tensors={"a": np.zeros((4, 32), np.float32),
                             "b": wick.gguf.RawTensor("Q8_0", (4, 32), wick.quantize(x, "Q8_0"))})

Plain Python metadata values are typed as the ``gguf`` package types them
(str → STRING, bool → BOOL, int → INT32, float → FLOAT32, lists → ARRAY of the
first element's type, numpy scalars and 1-D arrays → their own dtype); pass a
:class:`~wick.gguf.values.KV` for any other type (llama.cpp checks types exactly).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Tuple, Union

import numpy as np

from .. import _arrays, _files, _native, _types
from ..errors import WickFileExistsError, WickTypeError, WickValueError
from . import values
from .values import KV, ValueType

ffi = _native.ffi

__all__ = ["open", "write", "GGUFFile", "TensorInfo", "Metadata", "RawTensor", "KV", "ValueType", "values"]

_open = open  # the builtin, before this module's open() shadows it


@dataclass(frozen=True)
class TensorInfo:
    """One tensor of a GGUF file.

    Attributes:
        name: the tensor's name.
        type: its ggml type.
        dims: ggml's order (``dims[0]`` is the row length), as the file stores them.
        shape: row-major order (numpy's), ``dims`` reversed.
        offset: absolute byte offset of the data in its file.
        nbytes: size of the data in bytes.
        part: the index of its file in :attr:`GGUFFile.parts` (0 unless the
            model is split).
    """

    name: str
    type: _types.TypeInfo
    dims: Tuple[int, ...]
    shape: Tuple[int, ...]
    offset: int
    nbytes: int
    part: int = 0

    @property
    def n_elements(self) -> int:
        """Number of elements (1 for a tensor without dimensions)."""
        return math.prod(self.shape)


def _kv_from_json(d: dict) -> KV:
    t = ValueType[d["type"]]
    if t != ValueType.ARRAY:
        v = d["value"]
        return KV(d["key"], t, _native.json_float(v) if t in (ValueType.FLOAT32, ValueType.FLOAT64) else v)
    return KV(d["key"], t, _array_from_json(d["element_type"], d["value"]), ValueType[d["element_type"]])


def _array_from_json(elem: str, value: list) -> list:
    if elem in ("FLOAT32", "FLOAT64"):
        return [_native.json_float(x) for x in value]
    if elem == "ARRAY":
        return [_array_from_json(x["element_type"], x["value"]) for x in value]
    return value


class Metadata(Mapping[str, Any]):
    """The metadata of a GGUF file, in file order: ``metadata[key]`` is the value
    (arrays as lists); :meth:`type` gives its GGUF type; :attr:`kvs` the typed entries."""

    def __init__(self, kvs: List[KV]):
        self.kvs = kvs
        self._by_key = {kv.key: kv for kv in kvs}

    def __getitem__(self, key: str) -> Any:
        return self._by_key[key].value

    def __iter__(self) -> Iterator[str]:
        return (kv.key for kv in self.kvs)

    def __len__(self) -> int:
        return len(self.kvs)

    def type(self, key: str) -> Tuple[ValueType, Optional[ValueType]]:
        """(value type, element type or None) of ``key``."""
        kv = self._by_key[key]
        return kv.type, kv.element_type

    def __repr__(self) -> str:
        return f"<wick.gguf.Metadata: {len(self)} keys>"


class GGUFFile:
    """An open, validated, memory-mapped GGUF model: one file, or every part of a
    split model opened from its first part. Use :func:`open`.

    Attributes:
        path: the file (the first part of a split model).
        parts: the paths of the model's files: ``[path]``, or every part of a
            split model in order.
        version: the GGUF version (2 or 3) of ``path``.
        alignment: the tensor data alignment (``general.alignment``, default 32) of ``path``.
        data_offset: where the tensor data section of ``path`` starts.
        metadata: the :class:`Metadata` of ``path``, in file order (for a split
            model, with its ``split.*`` keys).
        tensors: name → :class:`TensorInfo`, in file order (part by part).
    """

    def __init__(self, path: Union[str, os.PathLike[str]]):
        self.path = str(path)
        buf, n = _native.text(self.path)
        # "-0" is a float's negative zero (Go never spells an integer so); json would make it int 0
        info = json.loads(_native.call_with_result(_native.lib().wick_gguf_describe, buf, n),
                          parse_int=lambda s: -0.0 if s == "-0" else int(s))
        self.version: int = info["version"]
        self.alignment: int = info["alignment"]
        self.data_offset: int = info["data_offset"]
        self.parts: List[str] = [p["path"] for p in info["parts"]]
        self.metadata = Metadata([_kv_from_json(d) for d in info["metadata"]])
        self.tensors: Dict[str, TensorInfo] = {}
        for t in info["tensors"]:
            self.tensors[t["name"]] = TensorInfo(
                name=t["name"], type=_types.type_info(t["type_id"]), dims=tuple(t["dims"]),
                shape=tuple(t["shape"]), offset=t["offset"], nbytes=t["nbytes"], part=t["part"])
        self._maps: List[_files.Mapping] = []
        try:
            for p in self.parts:
                self._maps.append(_files.Mapping(p))
        except BaseException:
            self.close()
            raise

    def _info(self, name: str) -> TensorInfo:
        try:
            return self.tensors[name]
        except KeyError:
            raise KeyError(f"{self.path}: no tensor {name!r}") from None

    def raw(self, name: str) -> np.ndarray:
        """The tensor's stored bytes, zero-copy: uint8 of shape ``shape[:-1] + (row_bytes,)``."""
        t = self._info(name)
        data = self._maps[t.part].view(np.uint8, t.offset, t.nbytes)
        if not t.shape:
            return data
        rows = t.shape[:-1]
        return data.reshape(rows + (t.type.row_nbytes(t.shape[-1]),))

    def tensor(self, name: str, *, threads: Optional[int] = None) -> np.ndarray:
        """The tensor as a numpy array of ``shape``: a zero-copy view for the plain
        element types (F32, F16, F64, I8…I64; BF16 as ``ml_dtypes.bfloat16`` if installed,
        else uint16 bit patterns), dequantized float32 for block types."""
        t = self._info(name)
        plain = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I8": np.int8,
                 "I16": np.int16, "I32": np.int32, "I64": np.int64}
        if t.type.name in plain or t.type.name == "BF16":
            dt = plain.get(t.type.name) or _files.ml_dtype("bfloat16") or np.uint16
            return self._maps[t.part].view(dt, t.offset, t.n_elements).reshape(t.shape)
        from .._quantize import dequantize

        return dequantize(self._maps[t.part].view(np.uint8, t.offset, t.nbytes), t.type, t.shape or (1,),
                          threads=threads)

    def close(self) -> None:
        """Unmap the files (arrays already returned stay valid)."""
        for m in self._maps:
            m.close()

    def __enter__(self) -> GGUFFile:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        parts = f", {len(self.parts)} parts" if len(self.parts) > 1 else ""
        return (f"<wick.gguf.GGUFFile {self.path!r}: v{self.version}, {len(self.metadata)} keys, "
                f"{len(self.tensors)} tensors{parts}>")


def open(path: Union[str, os.PathLike[str]]) -> GGUFFile:  # noqa: A001 - the module's natural verb
    """Open and validate a GGUF file (v2 or v3). Given the first part of a split
    model (``NAME-00001-of-0000N.gguf``, as llama.cpp's ``llama-gguf-split``
    writes and llama.cpp loads it), it opens every part as one model, after
    checking that they fit together (``split.no``, ``split.count``,
    ``split.tensors.count``, no tensor twice): a missing part raises
    :class:`wick.WickFileNotFoundError` naming it, an inconsistent one
    :class:`wick.WickFormatError`. A later part opens alone."""
    return GGUFFile(path)


@dataclass(frozen=True)
class RawTensor:
    """Already encoded tensor data to write: ``type`` (a ggml type), ``shape``
    (row-major) and ``data`` (the blocks, e.g. what :func:`wick.quantize` returned)."""

    type: Any
    shape: Tuple[int, ...]
    data: Any


_NUMPY_TO_GGML = {"float32": "F32", "float16": "F16", "float64": "F64", "int8": "I8", "int16": "I16",
                  "int32": "I32", "int64": "I64", "bfloat16": "BF16"}
_NUMPY_TO_VALUE = {"uint8": ValueType.UINT8, "int8": ValueType.INT8, "uint16": ValueType.UINT16,
                   "int16": ValueType.INT16, "uint32": ValueType.UINT32, "int32": ValueType.INT32,
                   "uint64": ValueType.UINT64, "int64": ValueType.INT64, "float32": ValueType.FLOAT32,
                   "float64": ValueType.FLOAT64, "bool": ValueType.BOOL}


def _scalar_type(key: str, v: Any) -> ValueType:
    if isinstance(v, np.generic):
        t = _NUMPY_TO_VALUE.get(v.dtype.name)
        if t is None:
            raise WickTypeError(f"metadata: {key!r}: numpy {v.dtype} has no GGUF type")
        return t
    if isinstance(v, bool):
        return ValueType.BOOL
    if isinstance(v, int):
        return ValueType.INT32
    if isinstance(v, float):
        return ValueType.FLOAT32
    if isinstance(v, str):
        return ValueType.STRING
    raise WickTypeError(f"metadata: {key!r}: {type(v).__name__} has no GGUF type; pass a wick.gguf.KV")


def _to_kv(key: str, v: Any) -> KV:
    if isinstance(v, KV):
        if v.key != key:
            raise WickValueError(f"metadata: entry {key!r} holds a KV for {v.key!r}")
        return v
    if isinstance(v, np.ndarray):
        if v.ndim != 1:
            raise WickValueError(f"metadata: {key!r}: arrays must be 1-D, got shape {v.shape}")
        t = _NUMPY_TO_VALUE.get(v.dtype.name)
        if t is None:
            raise WickTypeError(f"metadata: {key!r}: numpy {v.dtype} has no GGUF type")
        return values.array(key, t, v.tolist())
    if isinstance(v, (list, tuple)):
        if not v:
            raise WickValueError(f"metadata: {key!r}: empty arrays cannot be written (their type is unknown)")
        return values.array(key, _scalar_type(key, v[0]), list(v))
    t = _scalar_type(key, v)
    return KV.from_dict({"key": key, "type": t.name, "value": v.item() if isinstance(v, np.generic) else v})


def _metadata_json(kv: KV) -> dict:
    d = kv.to_dict()

    def enc(x: Any) -> Any:
        if isinstance(x, float) and not math.isfinite(x):
            return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")
        return x

    if kv.type in (ValueType.FLOAT32, ValueType.FLOAT64):
        d["value"] = enc(d["value"])
    elif kv.element_type in (ValueType.FLOAT32, ValueType.FLOAT64):
        d["value"] = [enc(x) for x in d["value"]]
    return d


def _tensor_entry(name: str, t: Any) -> Tuple[dict, np.ndarray]:
    if isinstance(t, RawTensor):
        ti = _types.type_info(t.type)
        shape = _arrays.as_shape(t.shape, f"tensors[{name!r}].shape")
        data = _arrays.byte_source(t.data, f"tensors[{name!r}].data")
        need = ti.row_nbytes(shape[-1]) * math.prod(shape[:-1])
        if data.nbytes != need:
            raise WickValueError(f"tensors[{name!r}]: holds {data.nbytes} bytes; {ti.name} of shape {shape} takes {need}")
        return {"name": name, "type": ti.name, "dims": list(reversed(shape))}, data
    a = np.asarray(t)
    key = "bfloat16" if _arrays.is_bfloat16(a.dtype) else a.dtype.name
    if key not in _NUMPY_TO_GGML:
        raise _files.dtype_error(f"tensors[{name!r}]", a.dtype,
                                 "float32, float16, bfloat16, float64, int8/16/32/64, or a wick.gguf.RawTensor")
    if a.ndim == 0:
        a = a.reshape(1)
    a = np.ascontiguousarray(a.astype(a.dtype.newbyteorder("="), copy=False))
    return {"name": name, "type": _NUMPY_TO_GGML[key], "dims": list(reversed(a.shape))}, a.reshape(-1).view(np.uint8)


def write(
    path: Union[str, os.PathLike[str]],
    metadata: Union[Mapping[str, Any], Iterable[KV]] = (),
    tensors: Mapping[str, Any] = {},  # noqa: B006 - read only
    *,
    overwrite: bool = False,
) -> None:
    """Write a GGUF v3 file: metadata in the given order, then the tensors in the
    given order (numpy arrays of F32/F16/BF16/F64/I8…I64, or :class:`RawTensor`
    blocks). Alignment follows ``general.alignment`` when present (default 32).

    The file is written to a temporary file beside ``path``, synced and renamed
    into place; on any error nothing is left behind. An existing ``path`` raises
    :class:`wick.WickFileExistsError` unless ``overwrite=True``.
    """
    if isinstance(metadata, Mapping):
        kvs = [_to_kv(k, v) for k, v in metadata.items()]
    else:
        kvs = list(metadata)
        for kv in kvs:
            if not isinstance(kv, KV):
                raise WickTypeError(f"metadata: expected a mapping or KV entries, got {type(kv).__name__}")
    entries = [_tensor_entry(name, t) for name, t in tensors.items()]
    header = json.dumps({"metadata": [_metadata_json(kv) for kv in kvs], "tensors": [e for e, _ in entries]},
                        allow_nan=False).encode("utf-8")
    lib = _native.lib()
    pbuf, plen = _native.text(str(path))
    handle = ffi.new("int64_t *")
    err = _native.errbuf()
    try:
        _native.check(lib.wick_gguf_create(pbuf, plen, ffi.from_buffer("char[]", header), len(header),
                                           1 if overwrite else 0, handle, err, _native.ERRLEN), err)
    except WickFileExistsError as e:
        raise WickFileExistsError(f"{e} (pass overwrite=True to replace it)") from None
    try:
        for _, data in entries:
            if data.nbytes:
                _native.check(lib.wick_gguf_write(handle[0], _arrays.ptr(data, "uint8_t[]"), data.nbytes, err,
                                                  _native.ERRLEN), err)
        _native.check(lib.wick_gguf_commit(handle[0], err, _native.ERRLEN), err)
    except BaseException:
        lib.wick_gguf_abort(handle[0], ffi.NULL, 0)  # removes the temporary file; no-op if already gone
        raise
