"""GGUF → Hugging Face model directory: ``wick.export_hf(...)`` / ``wick export-hf``.

The inverse of a conversion, for the architectures whose adapter knows how
(:meth:`~wick.convert.archs.Adapter.export_class`). Nothing here restates what
the conversion does; the adapter's forward walk is run again and undone:

1. config.json from the metadata (:meth:`Adapter.export_config`: the inverse of
   :meth:`Adapter.metadata`, with values llama.cpp turned into tensors, such as
   Llama 3.1's ``rope_freqs`` or Phi-3's LongRoPE factors, recovered from them
   and checked by recomputing the tensors bit for bit);
2. the checkpoint's tensor names and shapes (:meth:`Adapter.export_listing`:
   the family's Hugging Face names of each tensor kind, experts unstacked);
3. :meth:`Adapter.map_tensors` on that listing — the very walk a conversion
   makes — which must give back the GGUF file's tensor names and shapes, and
   says for every GGUF element which checkpoint element it came from (the q/k
   permutation, expert stacking, slices are all strided views,
   :mod:`wick.convert.view`); each view is written backwards, a scatter, and
   element-wise operations are undone where that is exact (:meth:`_Reader.inverted`);
4. the tokenizer from the ``tokenizer.*`` metadata (:mod:`.hf_tokenizer`).

Tensors are read one checkpoint tensor at a time from the memory-mapped GGUF
(quantized tensors dequantized row range by row range with Wick's decoders)
and written in shards of at most ``max_shard_size`` bytes, as transformers'
``save_pretrained`` names them; a shard above :data:`SPILL_BYTES` is assembled
tensor by tensor in a scratch file (the safetensors writer takes a file's
buffers at once), so memory holds about one tensor. The output
directory is filled beside its destination under a temporary name and renamed
into place at the end: it appears complete or not at all (an error or Ctrl-C
removes the temporary directory; after ``kill -9`` a ``.NAME.*.tmp`` directory
may remain).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import nullcontext as _nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Union

import numpy as np

from .. import gguf as _gguf
from ..errors import WickFileExistsError
from .archs import _REGISTRY as _ADAPTERS
from .archs import Adapter, _load_all
from .bnb import _shards, parse_size
from .errors import ExportError, UnsupportedExportError
from .general import _SAMPLING
from .hf_tokenizer import tokenizer_files
from .lazy import SourceInfo

__all__ = ["export_hf", "ExportResult", "DTYPES", "exportable_architectures", "unexported_architectures"]

#: output dtypes: name → (safetensors dtype, config.json torch_dtype, bytes per element)
DTYPES = {"bf16": ("BF16", "bfloat16", 2), "f16": ("F16", "float16", 2), "f32": ("F32", "float32", 4)}
#: shards larger than this are assembled in a scratch file beside them, tensor by tensor
SPILL_BYTES = 256 << 20


@dataclass
class ExportResult:
    """What :func:`export_hf` wrote.

    Attributes:
        path: the model directory.
        architecture: config.json ``architectures[0]``.
        dtype: the tensors' safetensors dtype (``BF16``, ``F16``, ``F32``).
        files: the files written, in order.
        tensors: number of checkpoint tensors written.
        dequantized: GGUF tensor types that were dequantized (block types; their
            values are the dequantized ones, not the original weights).
        kept_f32: 1-D tensors written F32 because the file holds them as float32 values
            that ``dtype`` would round (e.g. DeepSeek V3's router bias).
    """

    path: Path
    architecture: str
    dtype: str
    files: List[str] = field(default_factory=list)
    tensors: int = 0
    dequantized: List[str] = field(default_factory=list)
    kept_f32: List[str] = field(default_factory=list)


def exportable_architectures() -> List[Tuple[str, str]]:
    """``(GGUF architecture, Hugging Face class)`` pairs export-hf writes, sorted."""
    _load_all()
    out = set()
    for cls in set(_ADAPTERS.values()):
        for hf in cls.model_types:
            if hf in cls.hf_architectures:  # a subclass inherits its parent's table, not its classes
                out.add((cls.gguf_arch, hf))
    return sorted(out)


def unexported_architectures() -> List[str]:
    """GGUF architectures ``wick convert`` writes that export-hf cannot write back yet, sorted."""
    _load_all()
    done = {a for a, _ in exportable_architectures()}
    return sorted({cls.gguf_arch for cls in set(_ADAPTERS.values())} - done)


def _supported() -> str:
    return ", ".join(f"{a} ({hf})" for a, hf in exportable_architectures())


def _pick_adapter(md: Mapping[str, Any], shapes: Mapping[str, Tuple[int, ...]],
                  architecture: Optional[str]) -> Tuple[Adapter, str]:
    _load_all()
    arch = md.get("general.architecture")
    if architecture is not None:
        cls = _ADAPTERS.get(architecture)
        if cls is None or architecture not in cls.model_types or architecture not in cls.hf_architectures:
            raise UnsupportedExportError(f"export-hf: architecture {architecture!r} cannot be exported; "
                                         f"supported: {_supported()}")
        if cls.gguf_arch != arch:
            raise ExportError(f"export-hf: {architecture} is written to GGUF architecture {cls.gguf_arch!r}, "
                              f"but the file is {arch!r}")
        return cls(), architecture
    for cls in sorted(set(_ADAPTERS.values()), key=lambda c: c.__name__):
        if cls.gguf_arch != arch:
            continue
        adapter = cls()
        hf = adapter.export_class(md, shapes)
        if hf is not None and hf in cls.hf_architectures and hf in cls.model_types:
            return adapter, hf
    raise UnsupportedExportError(f"export-hf: GGUF architecture {arch!r} cannot be exported to Hugging Face yet; "
                                 f"supported: {_supported()}")


# ------------------------------------------------------------ tensor values
class _Reader:
    """Values of GGUF tensors, flat ranges at a time, in the output's storage (uint16 bits for
    BF16/F16, float32 for F32)."""

    def __init__(self, f: _gguf.GGUFFile, dtype: str):
        self.f, self.dtype = f, dtype
        self.dequantized: List[str] = []

    def _flat(self, name: str, dtype: Any) -> np.ndarray:
        """A plain tensor's elements, flat and zero-copy, as ``dtype`` (uint16 for BF16/F16 bits:
        no ml_dtypes needed)."""
        info = self.f.tensors[name]
        return self.f._maps[info.part].view(dtype, info.offset, info.n_elements)

    def f32(self, name: str) -> np.ndarray:
        """A whole tensor as float32 (for recovering config values)."""
        info = self.f.tensors[name]
        return self._float32(name, 0, info.n_elements)

    def _float32(self, name: str, pos: int, count: int) -> np.ndarray:
        info = self.f.tensors[name]
        t = info.type.name
        if t == "BF16":
            bits = self._flat(name, np.uint16)[pos:pos + count]
            return (bits.astype(np.uint32) << 16).view(np.float32)
        if t in ("F32", "F16"):
            return self._flat(name, np.float32 if t == "F32" else np.float16)[pos:pos + count].astype(np.float32)
        from .._quantize import dequantize
        ne0 = info.shape[-1] if info.shape else 1
        r0, r1 = pos // ne0, -(-(pos + count) // ne0)
        raw = self.f.raw(name).reshape(-1, info.type.row_nbytes(ne0))
        if t not in self.dequantized:
            self.dequantized.append(t)
        vals = dequantize(raw[r0:r1], info.type, (r1 - r0, ne0)).reshape(-1)
        return vals[pos - r0 * ne0:pos - r0 * ne0 + count]

    def _storage(self, x: np.ndarray) -> np.ndarray:
        if self.dtype == "BF16":
            return _bf16_bits(x)
        if self.dtype == "F16":
            with np.errstate(over="ignore"):
                return x.astype(np.float16).view(np.uint16)
        return np.asarray(x, dtype=np.float32)

    def _widen(self, stored: np.ndarray) -> np.ndarray:
        if self.dtype == "BF16":
            return (stored.astype(np.uint32) << 16).view(np.float32)
        if self.dtype == "F16":
            return stored.view(np.float16).astype(np.float32)
        return stored

    def inverted(self, name: str, pos: int, count: int, ops: List[Dict[str, Any]]) -> np.ndarray:
        """Values of a tensor the conversion transformed element-wise (Gemma's norm + 1): the
        operations undone, then stored; accepted only when the conversion's own operations
        (:func:`wick.convert.view.apply_ops`) on the stored values give back the file's values
        bit for bit, i.e. when a new conversion writes the same tensor."""
        from .view import apply_ops
        x = self._float32(name, pos, count)
        stored = self._storage(_inverse_ops(x, ops, name))
        back = apply_ops(self._widen(stored), ops)
        if not np.array_equal(back.view(np.uint32), np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)):
            raise ExportError(f"export-hf: tensor {name!r}: undoing {[o['op'] for o in ops]} in {self.dtype} does not "
                              "give values the conversion maps back to the file's; try dtype='f32'")
        return stored

    def values(self, name: str, pos: int, count: int) -> np.ndarray:
        t = self.f.tensors[name].type.name
        if self.dtype == "BF16":
            if t == "BF16":
                return self._flat(name, np.uint16)[pos:pos + count]
            return _bf16_bits(self._float32(name, pos, count))
        if self.dtype == "F16":
            if t == "F16":
                return self._flat(name, np.uint16)[pos:pos + count]
            with np.errstate(over="ignore"):
                return self._float32(name, pos, count).astype(np.float16).view(np.uint16)
        return self._float32(name, pos, count)


def _bf16_bits(x: np.ndarray) -> np.ndarray:
    """float32 → bfloat16 bit patterns, round to nearest even (NaN stays NaN), as torch rounds."""
    bits = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) & 0xFFFF
    nan = np.isnan(x)
    return np.where(nan, (bits >> 16) | 0x40, rounded).astype(np.uint16)


# ------------------------------------------------------------------ layout
def _plan(adapter: Adapter, config: Dict[str, Any], shapes: Dict[str, Tuple[int, ...]], reader: _Reader,
          path: str) -> Tuple[Dict[str, Tuple[int, ...]], Dict[str, List[Tuple[str, Dict[str, Any], int]]]]:
    """The checkpoint tensors (name → shape, in the GGUF file's order) and, for each, where its
    elements are: ``(GGUF tensor, view of the checkpoint tensor, position in the GGUF tensor)``."""
    hp_config = adapter.normalize_config(config)
    hp = adapter.hparams(hp_config)
    extra = {t.name: t for t in adapter.extra_tensors(hp_config, hp)}
    for name, t in extra.items():
        if name not in shapes:
            raise ExportError(f"export-hf: {path}: the rebuilt config.json implies tensor {name!r}, which the file lacks")
        got = reader.f32(name)
        want = np.asarray(t.data, dtype=np.float32).reshape(-1)
        if got.shape != want.shape or not np.array_equal(got.view(np.uint32), want.view(np.uint32)):
            raise ExportError(f"export-hf: {path}: tensor {name!r} differs from what the rebuilt config.json gives")
    gguf_shapes = {n: s for n, s in shapes.items() if n not in extra}
    listing = adapter.export_listing(gguf_shapes, hp)
    sources = {n: SourceInfo("model.safetensors", "BF16", tuple(s)) for n, s in listing.items()}
    n_vocab = gguf_shapes[adapter.tensor_name("TOKEN_EMBD")][0]
    try:
        mapped = adapter.map_tensors(hp_config, hp, n_vocab, sources)
    except Exception as e:  # the adapter's own message, said as an export problem
        raise ExportError(f"export-hf: {path}: the tensors do not fit architecture {adapter.name!r}: {e}") from e
    got = {m.name: tuple(reversed(m.ne)) for m in mapped}
    for name, shape in gguf_shapes.items():
        if got.get(name) != tuple(shape):
            raise ExportError(f"export-hf: {path}: GGUF tensor {name!r} {list(shape)} is not rebuilt by adapter "
                              f"{adapter.name!r} (it gives {list(got[name]) if name in got else 'no such tensor'})")
    for name in got:
        if name not in gguf_shapes:
            raise ExportError(f"export-hf: {path}: the file lacks tensor {name!r} of architecture {adapter.name!r}")
    where: Dict[str, List[Tuple[str, Dict[str, Any], int]]] = {n: [] for n in listing}
    order: Dict[str, int] = {}
    file_order = {n: i for i, n in enumerate(shapes)}
    for m in sorted(mapped, key=lambda m: file_order[m.name]):
        parts = m.parts or [{"source": i, "shape": list(s.shape), "strides": _strides(s.shape), "offset": 0}
                            for i, (_, s) in enumerate(m.sources)]
        pos = 0
        for p in parts:
            if m.ops:
                p = dict(p, ops=list(m.ops))
            hf = m.sources[p["source"]][0]
            where[hf].append((m.name, p, pos))
            order.setdefault(hf, len(order))
            pos += int(np.prod(p["shape"], dtype=np.int64))
    for hf, entries in where.items():
        covered = sum(int(np.prod(p["shape"], dtype=np.int64)) for _, p, _ in entries)
        if covered != int(np.prod(listing[hf], dtype=np.int64)):
            raise ExportError(f"export-hf: {path}: checkpoint tensor {hf!r} is not rebuilt exactly once "
                              f"({covered} of {int(np.prod(listing[hf]))} elements)")
    ordered = {n: tuple(listing[n]) for n in sorted(listing, key=lambda n: order[n])}
    return ordered, where


def _strides(shape: Tuple[int, ...]) -> List[int]:
    out, s = [], 1
    for d in reversed(shape):
        out.append(s)
        s *= d
    return list(reversed(out))


def _tensor(name: str, shape: Tuple[int, ...], entries: List[Tuple[str, Dict[str, Any], int]],
            reader: _Reader) -> np.ndarray:
    """One checkpoint tensor, flat, in the output storage: each view written backwards."""
    storage = np.float32 if reader.dtype == "F32" else np.uint16
    n = int(np.prod(shape, dtype=np.int64))
    out = np.empty(max(n, 1), dtype=storage)
    item = out.itemsize
    for gname, p, pos in entries:
        count = int(np.prod(p["shape"], dtype=np.int64))
        dst = np.lib.stride_tricks.as_strided(out[int(p["offset"]):], shape=tuple(p["shape"]),
                                              strides=tuple(int(s) * item for s in p["strides"]))
        vals = reader.inverted(gname, pos, count, p["ops"]) if p.get("ops") else reader.values(gname, pos, count)
        dst[...] = vals.reshape(tuple(p["shape"]))
    return out[:n]


def _inverse_ops(x: np.ndarray, ops: List[Dict[str, Any]], name: str) -> np.ndarray:
    """The plan's element-wise operations undone, last first, in float32 (``round`` needs no undoing)."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for op in reversed(ops):
            kind = op.get("op")
            if kind == "add":
                x = (x - np.float32(op["value"])).astype(np.float32)
            elif kind == "mul":
                x = (x / np.float32(op["value"])).astype(np.float32)
            elif kind == "neg":
                x = -x
            elif kind == "exp":
                x = np.log(x.astype(np.float64)).astype(np.float32)
            elif kind != "round":
                raise ExportError(f"export-hf: tensor {name!r}: operation {kind!r} cannot be undone")
    return x


# ------------------------------------------------------------------- files
def _generation_config(md: Mapping[str, Any], config: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    gc: Dict[str, Any] = {}
    for key in ("bos_token_id", "eos_token_id"):
        if key in config:
            gc[key] = config[key]
    for key, gkey, kind in _SAMPLING:
        v = md.get(f"general.sampling.{key}")
        if v is None:
            continue
        gc[gkey] = float(str(np.float32(v))) if kind == "f32" else v
    return gc or None


def _json_bytes(d: Any) -> bytes:
    return (json.dumps(d, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _write_file(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def export_hf(gguf: Union[str, os.PathLike[str]], output: Union[str, os.PathLike[str]], *, dtype: str = "bf16",
              architecture: Optional[str] = None, max_shard_size: Union[int, str] = "5GB", overwrite: bool = False,
              progress: Optional[Callable[[int, int, str], None]] = None) -> ExportResult:
    """Write a GGUF model back as a Hugging Face model directory (safetensors shards,
    config.json, generation_config.json, tokenizer files) that transformers loads.

    Args:
        gguf: the GGUF file (the first part of a split model opens every part).
        output: the directory to create.
        dtype: ``"bf16"``, ``"f16"`` or ``"f32"``: the tensors' dtype. A GGUF tensor already of
            that type is copied bit for bit; others are converted (round to nearest even) and
            quantized ones are dequantized first: their values are the dequantized values.
            A 1-D float32 tensor that the dtype would round stays F32 (``kept_f32``).
        architecture: the transformers class to write (e.g. ``"MistralForCausalLM"``, which a
            ``llama`` GGUF cannot tell from Llama); default: the adapter's choice.
        max_shard_size: bytes, or a size like ``"5GB"``, per safetensors file
            (``model-00001-of-0000N.safetensors`` + ``model.safetensors.index.json`` when
            there are several, as transformers writes them).
        overwrite: replace an existing output directory (it must hold a config.json or be empty).
        progress: called as ``progress(done, total, tensor_name)`` after each tensor.

    Returns:
        An :class:`ExportResult`.

    Raises:
        UnsupportedExportError: an architecture or tokenizer Wick cannot export (the message
            lists the supported ones).
        ExportError: a file whose metadata and tensors do not fit its architecture.
        WickFileExistsError: ``output`` exists and ``overwrite`` is false.
    """
    key = str(dtype).lower()
    key = {"bfloat16": "bf16", "float16": "f16", "float32": "f32"}.get(key, key)  # torch's spellings too
    if key not in DTYPES:
        raise ExportError(f"export-hf: dtype {dtype!r}: expected one of {', '.join(DTYPES)}")
    st_dtype, torch_dtype, itemsize = DTYPES[key]
    limit = parse_size(max_shard_size)
    out = Path(output)
    if out.exists() or out.is_symlink():
        if not overwrite:
            raise WickFileExistsError(f"export-hf: {out} exists (pass overwrite=True / --force to replace it)")
        if not out.is_dir() or (any(out.iterdir()) and not (out / "config.json").is_file()):
            raise ExportError(f"export-hf: {out} is not a model directory (no config.json); not replacing it")
    with _gguf.open(gguf) as f:
        md = f.metadata
        path = f.path
        shapes = {n: tuple(t.shape) for n, t in f.tensors.items()}
        adapter, hf_class = _pick_adapter(md, shapes, architecture)
        reader = _Reader(f, st_dtype)
        config = adapter.export_config(md, shapes, hf_class, reader.f32)
        config["torch_dtype"] = torch_dtype
        listing, where = _plan(adapter, config, shapes, reader, path)
        tok = tokenizer_files(md, adapter.export_tokenizer_class(str(md.get("tokenizer.ggml.model"))),
                              lambda t: adapter.export_added_token(md, t))
        adapter.export_tokenizer_config(md, tok["tokenizer_config.json"])
        # a 1-D float32 tensor of the file that the dtype would round (DeepSeek V3's router bias,
        # kept float32 by its checkpoint) stays F32; the norms of a BF16 conversion come back exactly
        exact32 = _Reader(f, "F32")
        keep32 = set()
        if st_dtype != "F32":
            for n, shape in listing.items():
                if len(shape) == 1 and all(f.tensors[g].type.name == "F32" for g, _, _ in where[n]):
                    v = _tensor(n, shape, where[n], exact32)
                    back = (_bf16_bits(v).astype(np.uint32) << 16).view(np.float32) if st_dtype == "BF16" else \
                        v.astype(np.float16).astype(np.float32)
                    if not np.array_equal(back.view(np.uint32), v.view(np.uint32)):
                        keep32.add(n)
        sizes = [(n, int(np.prod(s, dtype=np.int64)) * (4 if n in keep32 else itemsize)) for n, s in listing.items()]
        shards = _shards(sizes, limit)
        names = (["model.safetensors"] if len(shards) == 1 else
                 [f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors" for i in range(len(shards))])
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
        result = ExportResult(out, hf_class, st_dtype)
        try:
            files: Dict[str, bytes] = {"config.json": _json_bytes(config)}
            gc = _generation_config(md, config)
            if gc is not None:
                files["generation_config.json"] = _json_bytes(gc)
            for fname, content in tok.items():
                files[fname] = content if isinstance(content, bytes) else _json_bytes(content)
            for fname, data in files.items():
                _write_file(tmp / fname, data)
                result.files.append(fname)
            from ..safetensors import _write_entries
            done = 0
            weight_map: Dict[str, str] = {}
            nbytes = dict(sizes)
            for shard, fname in zip(shards, names):
                # a large shard goes through a scratch file tensor by tensor (the writer takes a
                # shard's buffers at once): memory holds one tensor, not one shard
                spill = sum(nbytes[n] for n in shard) > SPILL_BYTES
                scratch = tmp / f".{fname}.scratch"
                entries, arrays, spans = [], [], []
                with open(scratch, "w+b") if spill else _nullcontext() as fh:
                    for name in shard:
                        r = exact32 if name in keep32 else reader
                        flat = _tensor(name, listing[name], where[name], r).view(np.uint8)
                        entries.append({"name": name, "dtype": r.dtype, "shape": list(listing[name])})
                        if spill:
                            spans.append((fh.tell(), flat.nbytes))
                            fh.write(flat.data)
                        else:
                            arrays.append(flat)
                        del flat
                        weight_map[name] = fname
                        done += 1
                        if progress is not None:
                            progress(done, len(listing), name)
                if spill:
                    mm = np.memmap(scratch, dtype=np.uint8, mode="r") if any(n for _, n in spans) else None
                    arrays = [mm[o:o + n] if n else np.zeros(0, np.uint8) for o, n in spans]
                _write_entries(tmp / fname, entries, arrays, {"format": "pt"}, False)
                del entries, arrays
                if spill:
                    del mm
                    scratch.unlink()
                result.files.append(fname)
            if len(shards) > 1:
                index = {"metadata": {"total_size": sum(n for _, n in sizes)},
                         "weight_map": dict(sorted(weight_map.items()))}
                _write_file(tmp / "model.safetensors.index.json", _json_bytes(index))
                result.files.append("model.safetensors.index.json")
            result.tensors = len(listing)
            result.dequantized = sorted(set(reader.dequantized) | set(exact32.dequantized))
            result.kept_f32 = sorted(keep32)
            _commit(tmp, out, overwrite)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return result


def _commit(tmp: Path, out: Path, overwrite: bool) -> None:
    """Rename the filled temporary directory into place (an existing one moved aside first)."""
    old = None
    if out.exists():
        if not overwrite:
            raise WickFileExistsError(f"export-hf: {out} appeared while exporting; not replacing it")
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
        os.rename(out, old / out.name)
    try:
        os.rename(tmp, out)
    except BaseException:
        if old is not None:
            os.rename(old / out.name, out)
            shutil.rmtree(old, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    try:
        fd = os.open(out.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass
