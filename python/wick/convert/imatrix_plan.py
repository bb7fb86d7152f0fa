"""Using an importance matrix in a plan, exactly as llama-quantize does.

``llama-quantize --imatrix FILE`` (tools/quantize/quantize.cpp and
src/llama-quant.cpp) does, in this order:

1. **Load** the file (GGUF or legacy); a GGUF imatrix without the
   ``imatrix.datasets`` / ``imatrix.chunk_count`` / ``imatrix.chunk_size``
   metadata is refused.
2. **Filter** the entries: ``--exclude-weights S`` drops every entry whose name
   contains S, ``--include-weights S`` keeps only entries containing one S.
   If no entry is left, the run continues as without an imatrix.
3. **Metadata**, appended after ``general.quantization_version`` and
   ``general.file_type`` (each key is removed first, so it moves to the end):
   ``quantize.imatrix.file`` (STRING, the path as given, cut to 127 bytes),
   ``quantize.imatrix.dataset`` (STRING, the first dataset, cut to 127 bytes;
   only if there is one), ``quantize.imatrix.entries_count`` (UINT32, the
   entries left after filtering) and ``quantize.imatrix.chunks_count``
   (UINT32, the chunk count; only if it is positive).
4. **Refuse non-finite weights** in any remaining entry, used or not.
5. Mixture rules see ``has_imatrix`` (:class:`~wick.convert.mixture.MixtureOptions`).
6. Per tensor that changes type: the entry of the same name is used if its
   length is ``ne[0] * ne[2]``; a missing entry means no imatrix for that
   tensor; a length mismatch is an error — except for ``token_embd``, which
   is then quantized without one.
7. A tensor whose type requires an imatrix (IQ1/IQ2 types, Q2_K in Q2_K_S)
   and has none is an error.

Wick adds one check llama-quantize lacks: if no entry names any tensor the
imatrix could apply to, the file is for another model and the plan is
refused (llama-quantize would silently quantize everything without it).
The plan names an entry only for tensors whose quantizer reads it (not
Q8_0, F16, BF16, F32: ggml ignores the imatrix there).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, List, Mapping, Optional, Sequence, Tuple, Union

from ..gguf import values as V
from .errors import ImatrixError, ImatrixMismatchError, ImatrixRequiredError
from .mixture import requires_imatrix, uses_imatrix

KEY_FILE = "quantize.imatrix.file"
KEY_DATASET = "quantize.imatrix.dataset"
KEY_ENTRIES = "quantize.imatrix.entries_count"
KEY_CHUNKS = "quantize.imatrix.chunks_count"
QUANTIZE_IMATRIX_KEYS = (KEY_FILE, KEY_DATASET, KEY_ENTRIES, KEY_CHUNKS)

# llama_model_kv_override.val_str is char[128]: strncpy(.., 127)
_MAX_STR = 127


def _cut(s: str) -> str:
    """``s`` cut to 127 UTF-8 bytes, as quantize.cpp's strncpy does (at a
    character boundary: a cut inside a character would be invalid UTF-8,
    which Wick's writer refuses)."""
    b = s.encode("utf-8")
    if len(b) <= _MAX_STR:
        return s
    return b[:_MAX_STR].decode("utf-8", "ignore")


@dataclass(frozen=True)
class ImatrixInfo:
    """What the planner needs of an importance matrix (no values).

    Attributes:
        path: the file as the user named it (recorded in ``quantize.imatrix.file``).
        abspath: its absolute path (for the executor).
        entries: entry name → number of values, after include/exclude filtering.
        datasets: the calibration datasets the file names.
        chunk_count: chunks it was computed on (0 or negative: unknown).
        format: ``"gguf"`` or ``"legacy"``.
    """

    path: str
    abspath: str
    entries: Mapping[str, int]
    datasets: Tuple[str, ...] = ()
    chunk_count: int = 0
    format: str = "gguf"

    @classmethod
    def load(cls, path: Union[str, os.PathLike[str], Any], *, include: Sequence[str] = (),
             exclude: Sequence[str] = ()) -> ImatrixInfo:
        """Read an importance-matrix file (or take an open :class:`wick.imatrix.ImatrixFile`)
        and apply llama-quantize's checks and ``--include-weights`` /
        ``--exclude-weights`` filters.

        Raises:
            ImatrixError: a GGUF imatrix without its metadata, a non-finite
                weight in an entry that is kept, or both filters given.
            wick.WickFormatError / FileNotFoundError: the file is corrupt or absent.
        """
        from .. import imatrix as _imatrix

        if include and exclude:
            raise ImatrixError("convert: imatrix: give include or exclude filters, not both (as llama-quantize)")
        f = path if isinstance(path, _imatrix.ImatrixFile) else _imatrix.open(path)
        if f.format == "gguf" and not f.has_metadata:
            raise ImatrixError(
                f"convert: imatrix {f.path}: missing imatrix metadata (imatrix.datasets, imatrix.chunk_count, "
                "imatrix.chunk_size); llama-quantize refuses such a file")
        names = list(f.entries)
        if exclude:
            names = [n for n in names if not any(s in n for s in exclude)]
        if include:
            names = [n for n in names if any(s in n for s in include)]
        for n in names:
            if not f.entries[n].finite:
                try:
                    f.values(n)
                except ValueError as e:
                    raise ImatrixError(f"convert: {e}") from None
                raise ImatrixError(f"convert: imatrix {f.path}: entry {n!r} holds a non-finite weight")  # pragma: no cover
        return cls(path=os.fspath(f.path if isinstance(path, _imatrix.ImatrixFile) else path),
                   abspath=os.path.abspath(f.path), entries={n: f.entries[n].length for n in names},
                   datasets=tuple(f.datasets), chunk_count=int(f.chunk_count), format=f.format)

    @property
    def active(self) -> bool:
        """llama-quantize uses the imatrix only when entries are left after filtering."""
        return bool(self.entries)

    def metadata(self) -> List[V.KV]:
        """The ``quantize.imatrix.*`` keys llama-quantize writes (empty when not :attr:`active`)."""
        if not self.active:
            return []
        kvs = [V.string(KEY_FILE, _cut(self.path))]
        if self.datasets:
            kvs.append(V.string(KEY_DATASET, _cut(self.datasets[0])))
        kvs.append(V.u32(KEY_ENTRIES, len(self.entries)))
        if self.chunk_count > 0:
            kvs.append(V.u32(KEY_CHUNKS, abs(self.chunk_count)))
        return kvs


def append_metadata(kvs: List[V.KV], info: Optional[ImatrixInfo]) -> List[V.KV]:
    """``kvs`` with the imatrix keys set as llama-quantize sets them (removed, then appended)."""
    if info is None or not info.active:
        return kvs
    new = info.metadata()
    keys = {kv.key for kv in new}
    return [kv for kv in kvs if kv.key not in keys] + new


_TOKEN_EMBD = ("token_embd.weight", "per_layer_token_embd.weight")


@dataclass
class ImatrixAssigner:
    """Decides, tensor by tensor, which imatrix entry a plan uses (see the module docstring).

    Call :meth:`assign` for every tensor in processing order, then :meth:`finish`.
    """

    info: Optional[ImatrixInfo]
    target: str
    matched: int = 0
    candidates: int = 0
    missing: List[str] = field(default_factory=list)

    def check_required(self, choices: Sequence[Tuple[str, str, bool]]) -> None:
        """Without an imatrix: refuse types that need one. ``choices`` are
        ``(name, type, allows_quantization)``."""
        if self.info is not None and self.info.active:
            return
        for name, typ, allowed in choices:
            if allowed and requires_imatrix(name, typ, self.target):
                raise ImatrixRequiredError(
                    f"convert: tensor {name!r}: type {typ} requires an importance matrix (llama-quantize: "
                    "'this quantization requires an imatrix!'); pass imatrix=... or choose another type")

    def assign(self, name: str, ne: Sequence[int], cur_type: str, new_type: str) -> Tuple[Optional[str], str]:
        """The entry name to use for this tensor (or None) and a note for the plan table."""
        if cur_type == new_type:
            return None, ""  # copied as it is
        info = self.info if (self.info is not None and self.info.active) else None
        entry: Optional[str] = None
        note = ""
        if info is not None:
            if uses_imatrix(new_type):
                self.candidates += 1
            n = info.entries.get(name)
            want = int(ne[0]) * (int(ne[2]) if len(ne) > 2 else 1)
            if n is None:
                note = "no imatrix entry"
                if uses_imatrix(new_type):
                    self.missing.append(name)
            elif n != want:
                if name not in _TOKEN_EMBD:
                    raise ImatrixMismatchError(
                        f"convert: tensor {name!r}: imatrix {info.path} entry has {n} values; the tensor needs "
                        f"ne[0]*ne[2] = {want} (is the imatrix for another model?)")
                note = f"imatrix entry size {n} != {want}: ignored"
            else:
                entry = name
                if uses_imatrix(new_type):
                    self.matched += 1
        if entry is None and requires_imatrix(name, new_type, self.target):
            raise ImatrixRequiredError(
                f"convert: tensor {name!r}: type {new_type} needs an importance matrix and "
                f"{'the imatrix has no usable entry for it' if info is not None else 'none was given'} "
                "(llama-quantize: 'Missing importance matrix for tensor ... in a very low-bit quantization')")
        if entry is not None and not uses_imatrix(new_type):
            return None, f"imatrix unused by {new_type}"
        return entry, note

    def finish(self) -> None:
        """Refuse an imatrix none of whose entries fits a tensor that would use it."""
        info = self.info
        if info is None or not info.active or self.candidates == 0 or self.matched:
            return
        sample = ", ".join(repr(n) for n in list(info.entries)[:3])
        raise ImatrixMismatchError(
            f"convert: imatrix {info.path}: none of its {len(info.entries)} entries ({sample}, …) names a tensor "
            f"this plan quantizes (e.g. {self.missing[0]!r}); is it for another model?")
