"""Lazy tensors: what an adapter does to a checkpoint tensor, written like the
torch code of llama.cpp's converter, recorded as plan data.

An adapter's :meth:`~wick.convert.archs.Adapter.modify_tensors` receives a
:class:`LazyTensor` for each checkpoint tensor and returns the tensors to
write, exactly as ``modify_tensors`` in llama.cpp's ``conversion/`` package
receives and yields torch tensors. Nothing is computed: shape operations
become strided views (:mod:`wick.convert.view`), arithmetic becomes the
plan's element-wise ``ops``, and stacking/concatenation becomes a list of
parts; the Go executor does the work later, chunk by chunk.

torch semantics that matter for exactness are kept: the converter hands
``modify_tensors`` float16 checkpoint tensors *as float16* (everything else
as float32), so arithmetic on a float16 tensor rounds to float16 after each
operation — a ``round`` op follows each arithmetic op of such a tensor
(:attr:`LazyTensor.dtype`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from .errors import PlanError
from .view import View, permute_qk_view

__all__ = ["LazyTensor", "SourceInfo"]


@dataclass(frozen=True)
class SourceInfo:
    """One checkpoint tensor: which file holds it, its stored dtype and shape, and
    (for quantized checkpoints) how it is decoded into values of ``shape``."""

    file: str
    dtype: str
    shape: Tuple[int, ...]
    # a quantized weight: ``wick.convert.quantized.Decode`` (the stored tensor and the
    # executor's decode spec); ``dtype``/``shape`` are then the logical ones
    decode: Optional[Any] = field(default=None, compare=False)
    stored_shape: Optional[Tuple[int, ...]] = None  # the stored shape when decoded (else ``shape``)


@dataclass(frozen=True)
class LazyTensor:
    """The values of a tensor to write, described (see the module docstring).

    Attributes:
        sources: the checkpoint tensors read, as ``(name, SourceInfo)``.
        views: one view per part, in order (each names its source by index).
        ops: element-wise operations applied to every value, in order.
        shape: the torch shape of the result.
        dtype: the torch dtype the converter computes in: ``"F16"`` for a
            float16 checkpoint tensor, else ``"F32"``.
    """

    sources: Tuple[Tuple[str, SourceInfo], ...]
    views: Tuple[View, ...]
    shape: Tuple[int, ...]
    ops: Tuple[Dict[str, Any], ...] = ()
    dtype: str = "F32"

    @staticmethod
    def of(name: str, src: SourceInfo) -> LazyTensor:
        """A whole checkpoint tensor, as the converter hands it to ``modify_tensors``."""
        shape = tuple(int(d) for d in src.shape)
        return LazyTensor(((name, src),), (View.of(shape, 0),), shape, (), "F16" if src.dtype == "F16" else "F32")

    # ------------------------------------------------------------------ facts
    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return len(self.shape)

    def numel(self) -> int:
        """Number of elements."""
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def name(self) -> str:
        """The checkpoint name of the (first) source."""
        return self.sources[0][0]

    def _view(self, what: str) -> View:
        """The single view, with the torch shape (a view may keep extra dimensions
        where torch's final reshape would copy, e.g. after :meth:`permute_qk`)."""
        if len(self.views) != 1:
            raise PlanError(f"convert: {what} of a tensor made of {len(self.views)} parts ({self.name})")
        v = self.views[0]
        return v if v.shape == self.shape else v.reshape(*self.shape)

    def _with_view(self, v: View) -> LazyTensor:
        return replace(self, views=(v,), shape=v.shape)

    # ------------------------------------------------------------ shape ops
    def reshape(self, *shape: int) -> LazyTensor:
        """torch ``reshape`` / ``view`` (no copy needed, see :meth:`View.reshape`)."""
        return self._with_view(self._view("reshape").reshape(*shape))

    view = reshape

    def contiguous_reshape(self, *shape: int) -> LazyTensor:
        """torch ``.contiguous().reshape(shape)``: the values in the tensor's order under a new shape.

        Where a strided view of that shape exists it is a plain :meth:`reshape`;
        otherwise (torch would copy, e.g. after a permute) the view keeps its
        dimensions and only the torch shape changes — the element order is the
        same, so the tensor can be written or concatenated as it is; a later
        shape operation must be expressible on the kept dimensions, else
        :class:`PlanError` (as after :meth:`permute_qk`)."""
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        if len(self.views) != 1:
            raise PlanError(f"convert: reshape of a tensor made of {len(self.views)} parts ({self.name})")
        v = self.views[0]  # as gathered (it may keep dimensions a previous reshape could not merge)
        try:
            return self._with_view(v.reshape(*shape))
        except PlanError:
            pass
        shape = tuple(int(d) for d in shape)
        if -1 in shape:
            known = 1
            for d in shape:
                known *= d if d != -1 else 1
            shape = tuple(v.numel // known if d == -1 else d for d in shape)
        n = 1
        for d in shape:
            n *= d
        if n != v.numel:
            raise PlanError(f"convert: cannot reshape {list(self.shape)} ({v.numel} elements) to {list(shape)} ({self.name})")
        return replace(self, views=(v,), shape=shape)

    def permute(self, *dims: int) -> LazyTensor:
        """torch ``permute``."""
        return self._with_view(self._view("permute").permute(*dims))

    def transpose(self, a: int, b: int) -> LazyTensor:
        """torch ``transpose``."""
        return self._with_view(self._view("transpose").transpose(a, b))

    @property
    def T(self) -> LazyTensor:  # noqa: N802 - torch's name
        """The 2-D transpose."""
        return self._with_view(self._view("T").T)

    def squeeze(self, dim: Optional[int] = None) -> LazyTensor:
        """torch ``squeeze``."""
        return self._with_view(self._view("squeeze").squeeze(dim))

    def unsqueeze(self, dim: int) -> LazyTensor:
        """torch ``unsqueeze``."""
        return self._with_view(self._view("unsqueeze").unsqueeze(dim))

    def flatten(self, start: int = 0, end: int = -1) -> LazyTensor:
        """torch ``flatten``."""
        return self._with_view(self._view("flatten").flatten(start, end))

    def contiguous(self) -> LazyTensor:
        """torch ``contiguous``: values unchanged (views are read in order anyway)."""
        return self

    def __getitem__(self, key: Any) -> LazyTensor:
        return self._with_view(self._view("indexing")[key])

    def split(self, sizes: Union[int, Sequence[int]], dim: int = 0) -> List[LazyTensor]:
        """torch ``split``."""
        return [self._with_view(v) for v in self._view("split").split(sizes, dim)]

    def chunk(self, n: int, dim: int = 0) -> List[LazyTensor]:
        """torch ``chunk`` (equal pieces)."""
        return [self._with_view(v) for v in self._view("chunk").chunk(n, dim)]

    def permute_qk(self, n_head: int) -> LazyTensor:
        """llama.cpp's ``LlamaModel.permute`` (Hugging Face rotate-half → ggml interleaved rows).

        The shape stays; the view keeps the head dimensions (torch's final
        reshape copies, and a later shape operation must be expressible on
        the view, else :class:`PlanError`)."""
        return replace(self, views=(permute_qk_view(self._view("permute_qk"), n_head),))

    # ----------------------------------------------------------- arithmetic
    def _op(self, op: Dict[str, Any]) -> LazyTensor:
        ops = list(self.ops) + [op]
        if self.dtype == "F16":
            ops.append({"op": "round", "dtype": "F16"})
        return replace(self, ops=tuple(ops))

    def __add__(self, c: float) -> LazyTensor:
        return self._op({"op": "add", "value": float(c)})

    __radd__ = __add__

    def __sub__(self, c: float) -> LazyTensor:
        return self._op({"op": "add", "value": -float(c)})

    def __mul__(self, c: float) -> LazyTensor:
        return self._op({"op": "mul", "value": float(c)})

    __rmul__ = __mul__

    def __neg__(self) -> LazyTensor:
        return self._op({"op": "neg"})

    def exp(self) -> LazyTensor:
        """torch ``exp`` (see convert/ops.go on its last-ulp agreement with torch)."""
        return self._op({"op": "exp"})

    def float(self) -> LazyTensor:
        """torch ``.float()``: later arithmetic in float32."""
        return replace(self, dtype="F32")

    # --------------------------------------------------------- combinations
    @staticmethod
    def stack(tensors: Sequence[LazyTensor], dim: int = 0) -> LazyTensor:
        """torch ``stack`` along a new first dimension (experts: one part per tensor)."""
        if dim != 0:
            raise PlanError(f"convert: stack along dimension {dim} is not supported (only 0)")
        first = tensors[0]
        for t in tensors[1:]:
            if t.shape != first.shape:
                raise PlanError(f"convert: cannot stack {t.name} {list(t.shape)} with {first.name} {list(first.shape)}")
        cat = LazyTensor.cat(tensors, 0, _check_shape=False)
        return replace(cat, shape=(len(tensors),) + first.shape)

    @staticmethod
    def cat(tensors: Sequence[LazyTensor], dim: int = 0, _check_shape: bool = True) -> LazyTensor:
        """torch ``cat`` along the first dimension (the parts follow each other)."""
        if not tensors:
            raise PlanError("convert: cat of no tensors")
        first = tensors[0]
        if dim % max(1, first.ndim) != 0:
            raise PlanError(f"convert: cat along dimension {dim} is not supported (only 0)")
        sources: List[Tuple[str, SourceInfo]] = []
        views: List[View] = []
        for t in tensors:
            if t.ops != first.ops or t.dtype != first.dtype:
                raise PlanError(f"convert: cannot combine {t.name} and {first.name}: different element-wise operations")
            if _check_shape and t.shape[1:] != first.shape[1:]:
                raise PlanError(f"convert: cannot concatenate {t.name} {list(t.shape)} with {first.name} {list(first.shape)}")
            index = {}
            for i, s in enumerate(t.sources):
                if s not in sources:
                    sources.append(s)
                index[i] = sources.index(s)
            for v in t.views:
                views.append(replace(v, source=index[v.source]))
        shape = (sum(t.shape[0] for t in tensors),) + first.shape[1:]
        return LazyTensor(tuple(sources), tuple(views), shape, first.ops, first.dtype)

    # --------------------------------------------------------------- to plan
    def plan_parts(self) -> List[Dict[str, Any]]:
        """The plan ``parts`` ([] when every source is read whole, in order)."""
        if len(self.views) == len(self.sources) and all(
                v.source == i and v.is_whole() for i, v in enumerate(self.views)):
            return []
        return [v.part() for v in self.views]
