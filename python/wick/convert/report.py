"""The report of a conversion: per tensor its type, size and how far its values
moved (RMSE, max |error|, SNR against the source weights), and totals.

It prints as a table (the CLI), renders as an HTML table in Jupyter, and turns
into plain data with :meth:`ConversionReport.to_dicts` (no pandas needed; pass
that to ``pandas.DataFrame`` if you like).
"""

from __future__ import annotations

import html
import math
from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Optional, Tuple

from .._native import json_float


def snr_db(sum_sq: float, sum_sq_err: float) -> float:
    """10·log10(signal energy / error energy): inf when exact, nan without signal."""
    if sum_sq_err == 0:
        return math.nan if sum_sq == 0 else math.inf
    if not math.isfinite(sum_sq_err):
        return -math.inf
    return 10 * math.log10(sum_sq / sum_sq_err) if sum_sq > 0 else -math.inf


@dataclass(frozen=True)
class TensorReport:
    """One written tensor and how far its values moved.

    Attributes:
        name: the GGUF tensor name (for a bitsandbytes directory: the
            checkpoint's name of the weight or kept tensor).
        type: the ggml type written (``"Q4_K"``, ``"F32"``, ...); for a
            bitsandbytes directory ``"NF4"``, ``"FP4"``, ``"INT8"`` or the
            dtype a kept tensor is copied in.
        shape: row-major (numpy's order).
        source_dtype: the safetensors dtype it was read from (``"BF16"``...).
        elements: number of weights.
        bytes: encoded size in the file (a bitsandbytes weight: its codes and
            every part of its quantization state).
        rmse: root-mean-square error of the decoded values against the
            float32 widening of the source (after transforms).
        max_abs_err: largest absolute error.
        snr_db: 10·log10(sum_sq / sum_sq_err): ``inf`` when exact.
        sum_sq_err, sum_sq: the sums behind rmse and snr_db (float64), so
            totals over several tensors can be formed.
    """

    name: str
    type: str
    shape: Tuple[int, ...]
    source_dtype: str
    elements: int
    bytes: int
    rmse: float
    max_abs_err: float
    snr_db: float
    sum_sq_err: float
    sum_sq: float

    @property
    def bits_per_weight(self) -> float:
        """Encoded bits per weight (e.g. 4.5 for Q4_K)."""
        return 8 * self.bytes / self.elements if self.elements else 0.0

    @classmethod
    def from_json(cls, d: Dict[str, Any]) -> TensorReport:
        """Build from one tensor entry of the executor's JSON report (shape in ggml order)."""
        se, sq = json_float(d["sum_sq_err"]), json_float(d["sum_sq"])
        return cls(name=d["name"], type=d["type"], shape=tuple(reversed(d["shape"])), source_dtype=d["source_dtype"],
                   elements=int(d["elements"]), bytes=int(d["bytes"]), rmse=json_float(d["rmse"]),
                   max_abs_err=json_float(d["max_abs_err"]), snr_db=snr_db(sq, se), sum_sq_err=se, sum_sq=sq)


def _fmt(v: float, spec: str) -> str:
    if math.isnan(v):
        return "—"
    if math.isinf(v):
        return "exact" if v > 0 else "-inf"
    return format(v, spec)


@dataclass
class ConversionReport:
    """What :func:`wick.convert` wrote: ``print()`` it for a table, display it in
    Jupyter for an HTML table, or take :meth:`to_dicts` as plain data.

    Attributes:
        output: the GGUF file (or model directory) written.
        target: the conversion target (``"Q4_K_M"``...).
        tensors: one :class:`TensorReport` per tensor, in file order.
        seconds: wall time of the conversion.
        file_bytes: size of the file (tensor data, metadata and padding); of
            all the directory's files for a model directory.
    """

    output: str
    target: str
    tensors: List[TensorReport]
    seconds: float
    file_bytes: int

    @property
    def elements(self) -> int:
        """Number of weights in the file."""
        return sum(t.elements for t in self.tensors)

    @property
    def bytes(self) -> int:
        """Tensor data bytes (the file also holds metadata and padding: ``file_bytes``)."""
        return sum(t.bytes for t in self.tensors)

    @property
    def bits_per_weight(self) -> float:
        """Tensor data bits per weight, over the whole file."""
        return 8 * self.bytes / self.elements if self.elements else 0.0

    @property
    def rmse(self) -> float:
        """RMSE over every weight of the model."""
        return math.sqrt(sum(t.sum_sq_err for t in self.tensors) / self.elements) if self.elements else 0.0

    @property
    def snr_db(self) -> float:
        """SNR over every weight of the model."""
        return snr_db(sum(t.sum_sq for t in self.tensors), sum(t.sum_sq_err for t in self.tensors))

    def to_dicts(self) -> List[Dict[str, Any]]:
        """One plain dict per tensor (name, type, shape, source_dtype, elements, bytes,
        bits_per_weight, rmse, max_abs_err, snr_db)."""
        out = []
        for t in self.tensors:
            d = asdict(t)
            d.pop("sum_sq_err")
            d.pop("sum_sq")
            d["bits_per_weight"] = t.bits_per_weight
            out.append(d)
        return out

    @property
    def snr_db_lossy(self) -> float:
        """SNR over the tensors that changed (the quantized ones), leaving out the
        exact copies (norms kept as F32), whose energy would flatter the figure."""
        lossy = [t for t in self.tensors if t.sum_sq_err > 0]
        return snr_db(sum(t.sum_sq for t in lossy), sum(t.sum_sq_err for t in lossy))

    def summary(self) -> str:
        """One line: file, target, tensor and weight counts, size, bits/weight, RMSE, SNR, time."""
        return (f"{self.output}: {self.target}, {len(self.tensors)} tensors, {self.elements:,} weights, "
                f"{self.file_bytes / 2**20:,.1f} MiB, {self.bits_per_weight:.2f} bits/weight, "
                f"RMSE {self.rmse:.3g}, SNR {_fmt(self.snr_db_lossy, '.1f')} dB over the quantized tensors, "
                f"{self.seconds:.1f} s")

    def _rows(self) -> List[Tuple[str, ...]]:
        rows = []
        for t in self.tensors:
            rows.append((t.name, t.type, "×".join(map(str, t.shape)), t.source_dtype, f"{t.bytes:,}",
                         f"{t.bits_per_weight:.2f}", _fmt(t.rmse, ".3g"), _fmt(t.max_abs_err, ".3g"), _fmt(t.snr_db, ".1f")))
        return rows

    _HEADER = ("tensor", "type", "shape", "source", "bytes", "bits/w", "RMSE", "max|err|", "SNR dB")

    def table(self, limit: Optional[int] = None) -> str:
        """The per-tensor table as text (``limit`` rows at most, then a count)."""
        rows = self._rows()
        shown = rows if limit is None or len(rows) <= limit else rows[:limit]
        allrows = [self._HEADER] + shown
        widths = [max(len(r[i]) for r in allrows) for i in range(len(self._HEADER))]
        right = {4, 5, 6, 7, 8}
        lines = ["  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()
                 for r in allrows]
        if len(shown) < len(rows):
            lines.append(f"... {len(rows) - len(shown)} more tensors")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table() + "\n\n" + self.summary()

    def _repr_html_(self) -> str:
        e = html.escape
        head = "".join(f"<th>{e(h)}</th>" for h in self._HEADER)
        body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in self._rows())
        return (f"<div><p><b>{e(self.summary())}</b></p><table><thead><tr>{head}</tr></thead>"
                f"<tbody>{body}</tbody></table></div>")
