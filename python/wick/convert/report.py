"""The report of a conversion: per tensor its type, size and how far its values
moved (RMSE, max |error|, SNR against the source weights), and totals.

It prints as a table (the CLI), renders as an HTML table in Jupyter, draws
itself with :meth:`ConversionReport.plot` (matplotlib, ``pip install
"wick[notebook]"``), and turns into plain data with
:meth:`ConversionReport.to_dicts` (no pandas needed; pass that to
``pandas.DataFrame`` if you like).

The Go executor writes the report (``convert.Report`` and
``convert.TensorReport`` in ``convert/execute.go``, as JSON): the fields of
:class:`TensorReport` and :class:`ConversionReport` *are* that JSON's keys,
read by name, and the Python side only adds what derives from them
(``snr_db``, ``bits_per_weight``).

SNR, everywhere in Wick, is ``10·log10(Σx² / Σ(x − x̂)²)`` in dB over a set
of weights ``x`` decoded as ``x̂`` (about 6 dB per bit): per tensor over its
weights, and for the whole conversion over the weights of the tensors that
quantization changed — the exact copies (norms kept F32) are left out, their
energy would flatter the figure. An exact tensor's SNR is ``inf``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from .. import _display
from .._native import json_float

__all__ = ["ConversionReport", "TensorReport", "snr_db", "plot_tradeoff"]


def snr_db(sum_sq: float, sum_sq_err: float) -> float:
    """10·log10(signal energy / error energy): inf when exact, nan without signal."""
    if sum_sq_err == 0:
        return math.nan if sum_sq == 0 else math.inf
    if not math.isfinite(sum_sq_err):
        return -math.inf
    return 10 * math.log10(sum_sq / sum_sq_err) if sum_sq > 0 else -math.inf


# How a JSON value becomes a field value, by the field's annotation; a field may
# name its own conversion in its metadata ("from_json").
_DECODE = {"str": str, "int": int, "float": json_float}


def _from_json(cls: Any, d: Mapping[str, Any], **convert: Any) -> Dict[str, Any]:
    """The constructor arguments of dataclass ``cls`` from the executor's JSON object ``d``,
    whose keys must be exactly the field names (else the library and this package disagree)."""
    names = [f.name for f in fields(cls)]
    if set(d) != set(names):
        from ..errors import WickInternalError

        raise WickInternalError(
            f"the native library's conversion report has the fields {sorted(d)}, but this package reads "
            f"{sorted(names)}: the library is stale or newer than the package (reinstall Wick, or `make lib`)")
    out = {}
    for f in fields(cls):
        decode = convert.get(f.name) or f.metadata.get("from_json") or _DECODE[str(f.type)]
        out[f.name] = decode(d[f.name])
    return out


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
        sum_sq_err, sum_sq: Σ(x − x̂)² and Σx² (float64), the sums behind
            ``rmse`` and ``snr_db``, so that totals over tensors can be formed.
    """

    name: str
    type: str
    shape: Tuple[int, ...] = field(metadata={"from_json": lambda ne: tuple(int(x) for x in reversed(ne))})
    source_dtype: str
    elements: int
    bytes: int
    rmse: float
    max_abs_err: float
    sum_sq_err: float
    sum_sq: float

    @property
    def snr_db(self) -> float:
        """10·log10(sum_sq / sum_sq_err) in dB: ``inf`` when exact."""
        return snr_db(self.sum_sq, self.sum_sq_err)

    @property
    def bits_per_weight(self) -> float:
        """Encoded bits per weight (e.g. 4.5 for Q4_K)."""
        return 8 * self.bytes / self.elements if self.elements else 0.0

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> TensorReport:
        """Build from one tensor entry of the executor's JSON report (whose shape is in ggml order)."""
        return cls(**_from_json(cls, d))

    def to_dict(self) -> Dict[str, Any]:
        """Plain data: every attribute, ``snr_db`` and ``bits_per_weight`` included."""
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["snr_db"] = self.snr_db
        d["bits_per_weight"] = self.bits_per_weight
        return d


@dataclass(repr=False)
class ConversionReport:
    """What :func:`wick.convert` wrote: ``print()`` it for a table, display it in
    Jupyter for an HTML table, :meth:`plot` it, or take :meth:`to_dicts` as plain data.

    Attributes:
        output: the GGUF file written (the first part of a split model), or the
            bitsandbytes model directory.
        target: the conversion target (``"Q4_K_M"``...).
        files: the files written: ``[output]``, or every part of a split model.
        tensors: one :class:`TensorReport` per tensor, in file order.
        elements: number of weights in the file.
        bytes: tensor data bytes (the file also holds metadata and padding).
        file_bytes: size of the file (of all parts for a split model; of every
            file of a model directory).
        seconds: wall time of the conversion.
    """

    output: str
    target: str
    files: List[str] = field(metadata={"from_json": list})
    tensors: List[TensorReport] = field(metadata={"from_json": lambda ts: [TensorReport.from_json(t) for t in ts]})
    elements: int
    bytes: int
    file_bytes: int
    seconds: float

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> ConversionReport:
        """Build from the executor's JSON report (``convert.Report``)."""
        return cls(**_from_json(cls, d))

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
        """SNR in dB over the weights of the tensors quantization changed (``sum_sq_err > 0``):
        exact copies such as the F32 norms are left out, their energy would flatter the
        figure. ``inf`` when every tensor is exact."""
        lossy = [t for t in self.tensors if t.sum_sq_err > 0]
        if not lossy:
            return math.inf if any(t.sum_sq > 0 for t in self.tensors) else math.nan
        return snr_db(sum(t.sum_sq for t in lossy), sum(t.sum_sq_err for t in lossy))

    def to_dicts(self) -> List[Dict[str, Any]]:
        """One plain dict per tensor (:meth:`TensorReport.to_dict`: name, type, shape,
        source_dtype, elements, bytes, rmse, max_abs_err, sum_sq_err, sum_sq, snr_db,
        bits_per_weight)."""
        return [t.to_dict() for t in self.tensors]

    def to_dict(self) -> Dict[str, Any]:
        """The whole report as plain data (what ``wick convert --json-report`` writes):
        every attribute, with ``tensors`` as :meth:`to_dicts`."""
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["tensors"] = self.to_dicts()
        d["snr_db"] = self.snr_db
        d["bits_per_weight"] = self.bits_per_weight
        return d

    def summary(self) -> str:
        """One line: file, target, tensor and weight counts, size, bits/weight, RMSE, SNR, time."""
        parts = f" (first of {len(self.files)} parts)" if len(self.files) > 1 else ""
        return (f"{self.output}{parts}: {self.target}, {len(self.tensors)} tensors, {self.elements:,} weights, "
                f"{self.file_bytes / 2**20:,.1f} MiB, {self.bits_per_weight:.2f} bits/weight, "
                f"RMSE {self.rmse:.3g}, SNR {_display.metric(self.snr_db, '.1f')} dB over the quantized tensors, "
                f"{self.seconds:.1f} s")

    _HEADER = ("tensor", "type", "shape", "source", "bytes", "bits/w", "RMSE", "max|err|", "SNR dB")
    _RIGHT = (4, 5, 6, 7, 8)

    def _rows(self) -> List[Tuple[str, ...]]:
        return [(t.name, t.type, _display.shape(t.shape), t.source_dtype, _display.nbytes(t.bytes),
                 f"{t.bits_per_weight:.2f}", _display.metric(t.rmse, ".3g"), _display.metric(t.max_abs_err, ".3g"),
                 _display.metric(t.snr_db, ".1f")) for t in self.tensors]

    def table(self, limit: Optional[int] = None) -> str:
        """The per-tensor table as text (``limit`` rows at most, then a count)."""
        rows = self._rows()
        shown = rows if limit is None or len(rows) <= limit else rows[:limit]
        text = _display.table([self._HEADER] + shown, right=self._RIGHT)
        if len(shown) < len(rows):
            text += f"\n... {len(rows) - len(shown)} more tensors"
        return text

    def __str__(self) -> str:
        return self.table() + "\n\n" + self.summary()

    def __repr__(self) -> str:
        return (f"<ConversionReport {self.output}: {self.target}, {len(self.tensors)} tensors, "
                f"{self.bits_per_weight:.2f} bits/weight, SNR {_display.metric(self.snr_db, '.1f')} dB>")

    def _repr_html_(self) -> str:
        return _display.html_table([self._HEADER] + self._rows(), right=self._RIGHT, caption=self.summary())

    def plot(self, ax: Any = None, *, metric: str = "snr_db", quantized_only: bool = True) -> Any:
        """A bar chart of ``metric`` per tensor, coloured by the ggml type written.

        Needs matplotlib (``pip install "wick[notebook]"``).

        Args:
            ax: the matplotlib Axes to draw on (default: a new figure).
            metric: a numeric attribute of :class:`TensorReport`: ``"snr_db"``
                (default), ``"rmse"``, ``"max_abs_err"``, ``"bits_per_weight"``.
            quantized_only: leave out the tensors quantization did not change
                (exact copies such as the F32 norms; their SNR is infinite).

        Returns:
            The Axes.
        """
        if metric not in _METRICS:
            from ..errors import WickValueError

            raise WickValueError(f"metric: {metric!r} is not one of {', '.join(_METRICS)}")
        plt, patch = _pyplot()
        rows = [t for t in self.tensors if t.sum_sq_err > 0 or not quantized_only]
        types = list(dict.fromkeys(t.type for t in rows))
        colors = {t: f"C{i % 10}" for i, t in enumerate(types)}
        if ax is None:
            _, ax = plt.subplots(figsize=(max(6.0, 0.16 * len(rows) + 2), 3.8), layout="constrained")
        ax.bar(range(len(rows)), [getattr(t, metric) for t in rows], color=[colors[t.type] for t in rows])
        ax.set_xticks(range(len(rows)), [t.name for t in rows], rotation=90, fontsize=7)
        ax.set_ylabel(_AXIS.get(metric, metric))
        ax.set_title(f"{self.target}: {_AXIS.get(metric, metric)} per tensor")
        ax.legend(handles=[patch(color=c, label=t) for t, c in colors.items()], title="type")
        return ax


_METRICS = ("snr_db", "rmse", "max_abs_err", "bits_per_weight", "bytes", "elements", "sum_sq_err", "sum_sq")
_AXIS = {"snr_db": "SNR (dB)", "rmse": "RMSE", "max_abs_err": "max |error|", "bits_per_weight": "bits per weight"}


def _pyplot() -> Tuple[Any, Any]:
    try:
        import matplotlib.pyplot as plt
        from matplotlib.patches import Patch
    except ImportError:
        from ..errors import WickUnsupportedError

        raise WickUnsupportedError("plotting needs matplotlib: pip install \"wick[notebook]\"") from None
    return plt, Patch


def plot_tradeoff(reports: Iterable[ConversionReport], ax: Any = None, *,
                  labels: Optional[Sequence[str]] = None) -> Any:
    """Size against error: one point per report, bits per weight (whole file)
    against :attr:`ConversionReport.snr_db`, labelled by target.

    Needs matplotlib (``pip install "wick[notebook]"``).

    Args:
        reports: reports of the same model converted to several targets.
        ax: the matplotlib Axes to draw on (default: a new figure).
        labels: one label per report (default: its target).

    Returns:
        The Axes.
    """
    plt, _ = _pyplot()
    reports = list(reports)
    labels = list(labels) if labels is not None else [r.target for r in reports]
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4), layout="constrained")
    for r, label in zip(reports, labels):
        ax.scatter(r.bits_per_weight, r.snr_db)
        ax.annotate(label, (r.bits_per_weight, r.snr_db), textcoords="offset points", xytext=(5, -3))
    ax.set_xlabel("bits per weight (whole file)")
    ax.set_ylabel("SNR of the quantized tensors (dB)")
    ax.set_title("Size against error")
    return ax
