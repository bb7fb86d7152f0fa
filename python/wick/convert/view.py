"""Strided views of checkpoint tensors: how an output tensor's values are
read from its sources, described without touching any data.

llama.cpp's converter reshapes, permutes, slices, splits and concatenates
torch tensors before it writes them (the q/k permutation of Llama, DeepSeek's
split of ``kv_b_proj`` with a per-head transpose, gpt-oss's interleaved
gate/up, Qwen3.5's re-ordered value heads, …). Every one of these is a
*view*: element ``(i0, …, ik)`` of the result is element
``offset + Σ i_j·strides[j]`` of the source in row-major order. A
:class:`View` starts as a whole source and follows the same operations
(:meth:`View.reshape`, :meth:`View.permute`, :meth:`View.transpose`,
indexing with slices and integers, :meth:`View.split`, …) on shapes only;
:meth:`View.part` turns it into a plan ``part`` that the Go executor reads
chunk by chunk (``convert/view.go``), and :func:`materialize` is the numpy
twin that reads it from an array (tests compare the two).

The executor reads a source through its 2-D flattening ``[R, C]`` (``C`` =
the last dimension). A part must be *canonical*: each of its dimensions moves
whole rows (stride a multiple of ``C``) or stays within a row.
:meth:`View.part` splits a dimension that runs across rows (a flat view of
several rows) into a row and a column dimension where that is exact, and
raises :class:`~wick.convert.errors.PlanError` otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from .errors import PlanError

__all__ = ["View", "materialize", "apply_ops", "permute_qk_view"]


def _prod(xs: Sequence[int]) -> int:
    n = 1
    for x in xs:
        n *= int(x)
    return n


@dataclass(frozen=True)
class View:
    """A strided view of a source tensor (shapes only; see the module docstring).

    Attributes:
        source: index of the source in the tensor's ``sources`` list.
        source_shape: the source's row-major shape (after decoding, for a
            quantized checkpoint tensor).
        shape, strides, offset: the view, in elements of the source.
    """

    source: int
    source_shape: Tuple[int, ...]
    shape: Tuple[int, ...]
    strides: Tuple[int, ...]
    offset: int = 0

    @staticmethod
    def of(source_shape: Sequence[int], source: int = 0) -> View:
        """The whole source, as it is stored."""
        shape = tuple(int(d) for d in source_shape)
        strides, s = [], 1
        for d in reversed(shape):
            strides.append(s)
            s *= d
        return View(source, shape, shape, tuple(reversed(strides)), 0)

    # --------------------------------------------------------------- shape ops
    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return len(self.shape)

    def _with(self, shape: Sequence[int], strides: Sequence[int], offset: Optional[int] = None) -> View:
        return View(self.source, self.source_shape, tuple(int(x) for x in shape), tuple(int(x) for x in strides),
                    self.offset if offset is None else int(offset))

    def permute(self, *dims: int) -> View:
        """``torch.permute``: reorder the dimensions."""
        if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
            dims = tuple(dims[0])
        dims = tuple(d % self.ndim for d in dims)
        if sorted(dims) != list(range(self.ndim)):
            raise PlanError(f"convert: view: {dims} is not a permutation of {self.ndim} dimensions")
        return self._with([self.shape[d] for d in dims], [self.strides[d] for d in dims])

    def transpose(self, a: int, b: int) -> View:
        """``torch.transpose``: swap two dimensions."""
        order = list(range(self.ndim))
        a, b = a % self.ndim, b % self.ndim
        order[a], order[b] = order[b], order[a]
        return self.permute(*order)

    @property
    def T(self) -> View:  # noqa: N802 - torch's name
        """The 2-D transpose."""
        if self.ndim != 2:
            raise PlanError(f"convert: view: .T of a {self.ndim}-D view")
        return self.transpose(0, 1)

    def reshape(self, *shape: int) -> View:
        """``torch.reshape`` / ``view`` where it needs no copy (one dimension may be -1).

        A reshape that would need a copy in torch (merging dimensions that
        are not contiguous with each other) raises :class:`PlanError`:
        express it with :meth:`permute` and slices instead.
        """
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        shape = [int(d) for d in shape]
        n = _prod(self.shape)
        if shape.count(-1) > 1:
            raise PlanError("convert: view: reshape with more than one -1")
        if -1 in shape:
            known = _prod(d for d in shape if d != -1)
            if known == 0 or n % known:
                raise PlanError(f"convert: view: cannot reshape {list(self.shape)} to {shape}")
            shape[shape.index(-1)] = n // known
        if _prod(shape) != n:
            raise PlanError(f"convert: view: cannot reshape {list(self.shape)} ({n} elements) to {shape}")
        strides = _reshape_strides(self.shape, self.strides, shape)
        if strides is None:
            raise PlanError(f"convert: view: reshaping {list(self.shape)} (strides {list(self.strides)}) to {shape} "
                            "needs a copy; use permute and slices")
        return self._with(shape, strides)

    view = reshape

    def flatten(self, start: int = 0, end: int = -1) -> View:
        """``torch.flatten`` of dimensions ``start..end`` (no copy)."""
        start, end = start % self.ndim, end % self.ndim
        shape = list(self.shape[:start]) + [_prod(self.shape[start:end + 1])] + list(self.shape[end + 1:])
        return self.reshape(*shape)

    def unsqueeze(self, dim: int) -> View:
        """``torch.unsqueeze``."""
        dim = dim % (self.ndim + 1)
        return self._with(self.shape[:dim] + (1,) + self.shape[dim:], self.strides[:dim] + (0,) + self.strides[dim:])

    def squeeze(self, dim: Optional[int] = None) -> View:
        """``torch.squeeze``: drop dimensions of extent 1 (all, or ``dim``)."""
        keep = [i for i, d in enumerate(self.shape)
                if not (d == 1 and (dim is None or i == dim % self.ndim))]
        if not keep:
            keep = [self.ndim - 1]
        return self._with([self.shape[i] for i in keep], [self.strides[i] for i in keep])

    def __getitem__(self, key: Any) -> View:
        """Indexing with integers, slices (steps > 0) and ``...``, as torch."""
        if not isinstance(key, tuple):
            key = (key,)
        if any(k is Ellipsis for k in key):
            i = next(i for i, k in enumerate(key) if k is Ellipsis)
            fill = self.ndim - (len(key) - 1)
            key = key[:i] + (slice(None),) * fill + key[i + 1:]
        if len(key) > self.ndim:
            raise PlanError(f"convert: view: {len(key)} indices for {self.ndim} dimensions")
        shape, strides, offset = [], [], self.offset
        for j, d in enumerate(self.shape):
            k = key[j] if j < len(key) else slice(None)
            if isinstance(k, (int, np.integer)):
                k = int(k) + (d if k < 0 else 0)
                if not 0 <= k < d:
                    raise PlanError(f"convert: view: index {key[j]} out of range for extent {d}")
                offset += k * self.strides[j]
                continue
            if not isinstance(k, slice):
                raise PlanError(f"convert: view: unsupported index {k!r}")
            start, stop, step = k.indices(d)
            if step <= 0:
                raise PlanError("convert: view: only positive slice steps")
            count = max(0, (stop - start + step - 1) // step)
            if count == 0:
                raise PlanError(f"convert: view: slice {k} of extent {d} is empty")
            offset += start * self.strides[j]
            shape.append(count)
            strides.append(self.strides[j] * step)
        return self._with(shape, strides, offset)

    def split(self, sizes: Union[int, Sequence[int]], dim: int = 0) -> List[View]:
        """``torch.split``: consecutive pieces along ``dim`` (``sizes`` an int or a list)."""
        dim = dim % self.ndim
        n = self.shape[dim]
        if isinstance(sizes, int):
            sizes = [sizes] * (n // sizes) + ([n % sizes] if n % sizes else [])
        if sum(sizes) != n:
            raise PlanError(f"convert: view: split sizes {list(sizes)} do not add up to {n}")
        out, start = [], 0
        for s in sizes:
            idx = [slice(None)] * self.ndim
            idx[dim] = slice(start, start + s)
            out.append(self[tuple(idx)])
            start += s
        return out

    def chunk(self, n: int, dim: int = 0) -> List[View]:
        """``torch.chunk`` into ``n`` equal pieces."""
        d = self.shape[dim % self.ndim]
        if d % n:
            raise PlanError(f"convert: view: extent {d} does not split into {n} equal chunks")
        return self.split(d // n, dim)

    @property
    def numel(self) -> int:
        """Number of elements."""
        return _prod(self.shape)

    # ----------------------------------------------------------------- to plan
    def part(self) -> Dict[str, Any]:
        """The plan ``part`` entry (canonical: every dimension moves rows or stays in a row).

        Dimensions of extent 1 are dropped; a dimension running across rows
        is split into a row and a column dimension where that is exact.
        """
        cols = int(self.source_shape[-1])
        dims = [(d, s) for d, s in zip(self.shape, self.strides) if d != 1]
        if not dims:
            dims = [(1, 1)]
        out: List[Tuple[int, int]] = []
        col0 = self.offset % cols
        reach = col0
        for d, s in dims:
            if d == 1 or s % cols == 0:
                out.append((d, s))
                continue
            if (d - 1) * s + col0 < cols:
                out.append((d, s))
                reach += (d - 1) * s
                continue
            # runs across rows: split into (rows, within a row) when exact
            if col0 == 0 and cols % s == 0 and d % (cols // s) == 0:
                inner = cols // s
                out += [(d // inner, cols), (inner, s)]
                reach += (inner - 1) * s
                continue
            raise PlanError(f"convert: view: shape {list(self.shape)} strides {list(self.strides)} offset {self.offset} "
                            f"cannot be read row by row from a source of shape {list(self.source_shape)}")
        if reach >= cols:
            raise PlanError(f"convert: view: shape {list(self.shape)} strides {list(self.strides)} offset {self.offset} "
                            f"reaches across the rows of a source of shape {list(self.source_shape)}")
        return {"source": self.source, "shape": [d for d, _ in out], "strides": [s for _, s in out],
                "offset": int(self.offset)}

    def is_whole(self) -> bool:
        """True when the view is its source, unchanged (no part entry needed)."""
        return self.offset == 0 and self.shape == self.source_shape and \
            self.strides == View.of(self.source_shape).strides


def _reshape_strides(shape: Sequence[int], strides: Sequence[int], new: Sequence[int]) -> Optional[List[int]]:
    """Strides of ``new`` over the same elements without a copy, or None (numpy's rule)."""
    old = [(d, s) for d, s in zip(shape, strides) if d != 1]
    out = [0] * len(new)
    new_nz = [i for i, d in enumerate(new) if d != 1]
    oi = ni = 0
    while oi < len(old) and ni < len(new_nz):
        # group old dims [oi, oj) and new dims [ni, nj) with equal products
        op, np_ = old[oi][0], new[new_nz[ni]]
        oj, nj = oi + 1, ni + 1
        while op != np_:
            if op < np_:
                op *= old[oj][0]
                oj += 1
            else:
                np_ *= new[new_nz[nj]]
                nj += 1
        # the old group must be contiguous within itself
        for k in range(oi, oj - 1):
            if old[k][1] != old[k + 1][1] * old[k + 1][0]:
                return None
        s = old[oj - 1][1]
        for k in range(nj - 1, ni - 1, -1):
            out[new_nz[k]] = s
            s *= new[new_nz[k]]
        oi, ni = oj, nj
    for i, d in enumerate(new):
        if d == 1:
            out[i] = 0
    return out


def permute_qk_view(v: View, n_head: int) -> View:
    """Hugging Face's rotate-half q/k rows to ggml's interleaved pairs (llama.cpp's ``LlamaModel.permute``).

    ``w.reshape(n_head, 2, D/2, *rest).swapaxes(1, 2)`` with D = rows /
    n_head: output row ``h·D + 2i + j`` is source row ``h·D + j·D/2 + i``.
    Works on weights (2-D) and biases (1-D). The result keeps the split
    dimensions (torch's final reshape back copies; the element order is the
    same).
    """
    rows = v.shape[0]
    if n_head <= 0 or rows % n_head or (rows // n_head) % 2:
        raise PlanError(f"convert: permute_qk: {rows} rows cannot be split into {n_head} heads of even size")
    return v.reshape(n_head, 2, rows // n_head // 2, *v.shape[1:]).transpose(1, 2)


def materialize(sources: Sequence[np.ndarray], parts: Optional[Sequence[Dict[str, Any]]] = None,
                ops: Sequence[Dict[str, Any]] = ()) -> np.ndarray:
    """The values of an output tensor, flat (numpy twin of the Go executor).

    ``sources`` are the (decoded) source arrays; ``parts`` the plan's parts
    (None or empty: each source whole, in order); ``ops`` the element-wise
    operations. Values are widened to float32 first, as the executor does.
    """
    arrays = [np.ascontiguousarray(np.asarray(a, dtype=np.float32)) for a in sources]
    if not parts:
        parts = [View.of(a.shape, i).part() for i, a in enumerate(arrays)]
    pieces = []
    for p in parts:
        flat = arrays[p["source"]].reshape(-1)
        item = flat.itemsize
        got = np.lib.stride_tricks.as_strided(flat[int(p["offset"]):], shape=tuple(p["shape"]),
                                              strides=tuple(int(s) * item for s in p["strides"]), writeable=False)
        pieces.append(np.array(got, dtype=np.float32).reshape(-1))
    out = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
    return apply_ops(out, ops)


def apply_ops(x: np.ndarray, ops: Sequence[Dict[str, Any]]) -> np.ndarray:
    """The plan's element-wise operations on float32 values (numpy twin of convert/ops.go)."""
    x = np.array(x, dtype=np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        for op in ops:
            kind = op.get("op")
            if kind == "add":
                x = (x + np.float32(op["value"])).astype(np.float32)
            elif kind == "mul":
                x = (x * np.float32(op["value"])).astype(np.float32)
            elif kind == "neg":
                x = -x
            elif kind == "exp":
                x = np.exp(x.astype(np.float64)).astype(np.float32)
            elif kind == "round":
                if op.get("dtype") == "F16":
                    x = x.astype(np.float16).astype(np.float32)
                elif op.get("dtype") == "BF16":
                    x = _round_bf16(x)
                else:
                    raise PlanError(f"convert: operation 'round' needs dtype F16 or BF16, got {op.get('dtype')!r}")
            else:
                raise PlanError(f"convert: unknown operation {kind!r}")
    return x


def _round_bf16(x: np.ndarray) -> np.ndarray:
    bits = x.view(np.uint32).astype(np.uint64)
    nan = np.isnan(x)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) & 0xFFFF
    rounded = np.where(nan, (bits >> 16) | 0x40, rounded).astype(np.uint32)
    return (rounded << 16).view(np.float32)
