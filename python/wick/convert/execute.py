"""Running a plan: the Go executor behind ``wick.convert(...)`` and ``wick convert``.

:func:`execute` hands the plan (JSON) to the native library, which reads the
sources memory-mapped, quantizes row-parallel and streams the GGUF file into a
temporary file that is renamed into place only when everything succeeded.
While it runs, this thread shows progress (a tqdm bar over the source bytes,
with the current tensor and ETA, or your callback) and turns Ctrl-C into a
cancel: Go stops within a chunk, removes the temporary file, and
KeyboardInterrupt is re-raised. No partial output file is ever left behind.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, Callable, Optional, Union

from .. import _native
from .ggml_types import source_dtype_size
from .plan import Plan
from .report import ConversionReport

ProgressCallback = Callable[[int, int, str], None]



def _source_bytes_per_element(t: Any) -> float:
    if t.data is not None or not t.sources:
        return 4.0
    return float(source_dtype_size(t.sources[0].dtype) or 1)


class _Progress:
    """Maps the executor's (elements done, tensor index) to source bytes."""

    def __init__(self, plan: Plan, progress: Union[bool, ProgressCallback, None]):
        self.names = [t.name for t in plan.tensors]
        self.elem_start, self.byte_start, self.bpe = [], [], []
        e = b = 0.0
        for t in plan.tensors:
            n = 1
            for d in t.shape:
                n *= d
            self.elem_start.append(e)
            self.byte_start.append(b)
            self.bpe.append(_source_bytes_per_element(t))
            e += n
            b += n * self.bpe[-1]
        self.total = int(b)
        self.callback: Optional[ProgressCallback] = None
        self.bar: Any = None
        if callable(progress):
            self.callback = progress
        elif progress:
            try:
                from tqdm.auto import tqdm
            except ImportError:  # pragma: no cover - tqdm is a dependency
                tqdm = None
            if tqdm is not None:
                self.bar = tqdm(total=self.total, unit="B", unit_scale=True, unit_divisor=1024, dynamic_ncols=True,
                                desc="converting", leave=True)

    def update(self, done_elements: int, item: int) -> None:
        if not self.names:
            return
        item = min(max(item, 0), len(self.names) - 1)
        done = int(self.byte_start[item] + (done_elements - self.elem_start[item]) * self.bpe[item])
        done = min(max(done, 0), self.total)
        if self.callback is not None:
            self.callback(done, self.total, self.names[item])
        if self.bar is not None:
            self.bar.set_postfix_str(self.names[item], refresh=False)
            self.bar.update(done - self.bar.n)

    def close(self, ok: bool) -> None:
        if self.bar is not None:
            if ok:
                self.bar.update(self.total - self.bar.n)
            self.bar.close()


class _ElementProgress:
    """Progress of a model-directory plan: the executor's elements (source
    values read, first passes included) against its total."""

    def __init__(self, plan: Any, progress: Union[bool, ProgressCallback, None]):
        self.names = [t.name for t in plan.tensors]
        self.callback: Optional[ProgressCallback] = progress if callable(progress) else None
        self.bar: Any = None
        self.total = 0
        if progress and self.callback is None:
            try:
                from tqdm.auto import tqdm
            except ImportError:  # pragma: no cover - tqdm is a dependency
                tqdm = None
            if tqdm is not None:
                self.bar = tqdm(total=0, unit=" weights", unit_scale=True, dynamic_ncols=True, desc="converting",
                                leave=True)

    def update(self, done: int, item: int, total: int) -> None:
        if not self.names or total <= 0:
            return
        self.total = total
        name = self.names[min(max(item, 0), len(self.names) - 1)]
        done = min(max(done, 0), total)
        if self.callback is not None:
            self.callback(done, total, name)
        if self.bar is not None:
            if self.bar.total != total:
                self.bar.total = total
            self.bar.set_postfix_str(name, refresh=False)
            self.bar.update(done - self.bar.n)

    def close(self, ok: bool) -> None:
        if self.bar is not None:
            if ok:
                self.bar.update(self.bar.total - self.bar.n)
            self.bar.close()


def execute(
    plan: Union[Plan, Any, dict, str],
    output: Union[str, os.PathLike[str]],
    *,
    overwrite: bool = False,
    threads: Optional[int] = None,
    progress: Union[bool, ProgressCallback, None] = False,
    split_max_size: Optional[Union[int, str]] = None,
    split_max_tensors: Optional[int] = None,
) -> ConversionReport:
    """Write the GGUF file ``plan`` describes to ``output`` (or, for a
    :class:`~wick.convert.bnb.BnbPlan`, the model directory).

    Args:
        plan: a :class:`Plan` or :class:`~wick.convert.bnb.BnbPlan`, its dict or its JSON.
        output: the GGUF file (or directory) to create. An existing one is an
            error (:class:`wick.WickFileExistsError`) unless ``overwrite``; a
            directory is replaced only if it is empty or holds a config.json.
        split_max_size, split_max_tensors: write a split model instead, as
            ``llama-gguf-split --split-max-size`` / ``--split-max-tensors``
            would split the file: ``output`` less ``.gguf`` followed by
            ``-00001-of-0000N.gguf`` … (see :mod:`wick.convert.split`); the
            parts appear together or not at all. Given here, they replace the
            plan's ``split`` (which the plan options of the same names set).
            GGUF only.
        threads: quantization threads (None: every available core); the bytes
            never depend on it.
        progress: True for a tqdm progress bar, or ``callback(done_bytes,
            total_bytes, tensor_name)``, called about ten times a second.

    Returns:
        The :class:`ConversionReport`.

    Raises:
        KeyboardInterrupt: on Ctrl-C, after Go has stopped and removed its
            temporary file.
    """
    from .bnb import BnbPlan

    if isinstance(plan, str):
        plan = json.loads(plan) if plan.lstrip().startswith("{") else plan
        if isinstance(plan, str):
            plan = Plan.from_json(plan)
    if isinstance(plan, dict):
        plan = BnbPlan.from_dict(plan) if plan.get("format") == "safetensors" else Plan.from_dict(plan)
    directory = isinstance(plan, BnbPlan)
    from .split import split_options

    if split_max_size is not None or split_max_tensors is not None:
        if directory:
            from .errors import BnbOptionError

            raise BnbOptionError("convert: split_max_size/split_max_tensors split GGUF files; a bitsandbytes "
                                 "directory takes max_shard_size")
        plan = dataclasses.replace(plan, split=split_options(split_max_size, split_max_tensors))
    text = plan.to_json_bytes()
    out = os.fspath(output)
    ffi = _native.ffi
    lib = _native.lib()
    ctl = ffi.new("wick_ctl *")
    err = _native.errbuf()
    rid, rlen = ffi.new("int64_t *"), ffi.new("int64_t *")
    pbuf = ffi.from_buffer("char[]", text)
    obuf, olen = _native.text(out)
    from .._quantize import _threads

    nthreads = _threads(threads)
    bar = _ElementProgress(plan, progress) if directory else _Progress(plan, progress)
    tick = (lambda: bar.update(ctl.done, ctl.item, ctl.total)) if directory else (lambda: bar.update(ctl.done, ctl.item))
    ok = False
    from ..errors import WickFileExistsError

    try:
        _native.invoke(lib.wick_convert, (pbuf, len(text), obuf, olen, 1 if overwrite else 0, nthreads, ctl,
                                          rid, rlen, err, _native.ERRLEN),
                       ctl=ctl, err=err, nbytes=len(text), tick=tick)
        ok = True
    except WickFileExistsError as e:
        raise WickFileExistsError(f"{e} (pass overwrite=True, or --force, to replace it)") from None
    finally:
        bar.close(ok)
    return ConversionReport.from_json(json.loads(_native.take_result(rid[0], rlen[0])))
