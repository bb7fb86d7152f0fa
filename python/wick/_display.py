"""How Wick shows things: one spelling of shapes, sizes, metadata values and tables.

``wick inspect``, ``wick convert --dry-run``, the conversion report and their
HTML forms in Jupyter all format through these helpers, so that a shape, a
float or a byte count reads the same wherever it appears:

* shapes row-major (numpy's order), ``"618×256"``; ``"scalar"`` without dimensions;
* byte counts with thousands separators, ``"129,780"``;
* FLOAT32 metadata as the shortest decimal that is that float32 (``0.9``,
  ``1e-05``), FLOAT64 as Python's ``repr``;
* error metrics with ``"exact"`` for +inf (SNR of an exact tensor) and ``"—"``
  for NaN.
"""

from __future__ import annotations

import html
import math
from typing import Any, Iterable, List, Optional, Sequence

import numpy as np

from .gguf.values import KV, ValueType


def shape(dims: Iterable[int]) -> str:
    """A row-major shape: ``"618×256"``, or ``"scalar"`` for no dimensions."""
    return "×".join(str(int(d)) for d in dims) or "scalar"


def nbytes(n: int) -> str:
    """A byte count with thousands separators."""
    return f"{int(n):,}"


def metric(v: float, spec: str) -> str:
    """An error figure: ``format(v, spec)``, ``"exact"`` for +inf, ``"—"`` for NaN."""
    if math.isnan(v):
        return "—"
    if math.isinf(v):
        return "exact" if v > 0 else "-inf"
    return format(v, spec)


def scalar(v: Any, vtype: Optional[ValueType] = None) -> str:
    """One metadata value: strings quoted, FLOAT32 as its shortest float32 decimal."""
    if isinstance(v, float):
        if vtype == ValueType.FLOAT32 and math.isfinite(v):
            return str(np.float32(v))
        return repr(v)
    return repr(v)


def value(kv: KV, limit: int = 60) -> str:
    """A metadata entry's value, arrays abbreviated to their first items and a count;
    at most ``limit`` characters, newlines escaped."""
    if kv.type == ValueType.ARRAY:
        items = kv.value
        shown = ", ".join(_clip(scalar(x, kv.element_type) if not isinstance(x, list) else f"[{len(x)} items]", 20)
                          for x in items[:5])
        s = f"[{shown}{', …' if len(items) > 5 else ''}] ({len(items)} items)"
    else:
        s = scalar(kv.value, kv.type)
    return _clip(s.replace("\n", "\\n"), limit)


def type_name(kv: KV) -> str:
    """``"UINT32"``, or ``"ARRAY[STRING]"`` for an array."""
    return kv.type.name + (f"[{kv.element_type.name}]" if kv.type == ValueType.ARRAY and kv.element_type else "")


def metadata_rows(kvs: Iterable[KV], limit: int = 60) -> List[Sequence[str]]:
    """The metadata table, header first: key, type, value."""
    return [("key", "type", "value")] + [(kv.key, type_name(kv), value(kv, limit)) for kv in kvs]


def _clip(s: str, limit: int) -> str:
    return s if len(s) <= limit else s[: limit - 1] + "…"


def table(rows: Sequence[Sequence[str]], right: Iterable[int] = (), indent: str = "") -> str:
    """A text table (the first row is the header): columns two spaces apart,
    those in ``right`` right-aligned, trailing blanks removed."""
    right = set(right)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        indent + "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()
        for r in rows)


def html_table(rows: Sequence[Sequence[str]], right: Iterable[int] = (), caption: str = "") -> str:
    """The same table as HTML (the first row is the header)."""
    e = html.escape
    right = set(right)

    def cell(tag: str, i: int, c: str) -> str:
        style = ' style="text-align:right"' if i in right else ' style="text-align:left"'
        return f"<{tag}{style}>{e(c)}</{tag}>"

    head = "".join(cell("th", i, c) for i, c in enumerate(rows[0]))
    body = "".join("<tr>" + "".join(cell("td", i, c) for i, c in enumerate(r)) + "</tr>" for r in rows[1:])
    cap = f"<p><b>{e(caption)}</b></p>" if caption else ""
    return f"<div>{cap}<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
