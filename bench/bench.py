#!/usr/bin/env python3
"""Wick's benchmark: Wick beside the reference implementations, as ratios from one run.

    make bench                          # every section; or: python bench/bench.py [--section ggml blockwise ...]

Sections (``--section``, default all):

``ggml``
    For every type Wick can quantize, on the same float32 array: Wick
    (``wick.quantize`` / ``wick.dequantize``), the ``gguf`` package's numpy
    (de)quantizers where it has one, and llama.cpp's ``ggml_quantize_chunk``
    (through llama-cpp-python) when installed. Ends with the issue's targets
    (≥ 4× llama.cpp for Q2_K…Q6_K and IQ4_NL at every thread count, ≥ 3× for
    Q4_0/Q4_1 at 1 thread, ≥ 2× for the i-quants IQ4_XS, IQ3_XXS, IQ3_S, IQ2_XXS,
    IQ2_XS, IQ2_S, IQ1_S, IQ1_M — IQ2_XXS, IQ2_XS and IQ1_S with an importance
    matrix, which ggml requires — and for TQ1_0, TQ2_0, MXFP4, NVFP4, Q1_0, Q2_0)
    and whether this run met them.
``blockwise``
    The bitsandbytes family: 8-bit block-wise at block sizes 4096, 256 and 64,
    NF4 and FP4 at 64, with and without double quantization (nested), float32
    input plus one float16 and one bfloat16 row; Wick beside bitsandbytes on CPU
    (torch CPU tensors, ``torch.set_num_threads(threads)``) when bitsandbytes and
    torch are importable. 8-bit runs at every block size bitsandbytes writes,
    and dequantization to float32, float16 and bfloat16. Ends with the targets
    of the issues (≥ 2 GB/s of float32 input per core; quantization ≥ 1.5×
    bitsandbytes for 8-bit and ≥ 20× for NF4, dequantization ≥ 1.5× for every
    case, at equal threads) and whether this run met them.
``zerocopy``
    ``wick.safetensors``: the time and memory of ``m.get(name)`` on a large
    tensor against the tensor's size and a real copy, proof that the array
    lies inside the file's mapping, and the anonymous memory a quantization
    straight from the mapping allocates.
``calls``
    The Python call path: the per-call cost of making a call cancellable by
    Ctrl-C (``wick._native.invoke``) on a tiny and a 32 MiB input, and how long
    a SIGINT takes to stop a long call (measured in a subprocess).

Every figure is at 1 thread and at every available core. The anchors get the
same thread count: for ``gguf``/llama.cpp the array's rows are split over that
many Python threads (numpy and ctypes release the GIL), as llama-quantize splits
a tensor's rows over its threads; bitsandbytes gets ``torch.set_num_threads``.

Every implementation must hand back a buffer of its own: when an anchor returns
(a view of) its input, as the ``gguf`` package does for F32 (``astype(copy=False)``),
the harness copies the result, so that "quantizing" to F32 is a copy for everyone.

Output arrays are allocated by each call, for every implementation. glibc serves
allocations of 32 MiB and more (every float32 output here) with a fresh ``mmap``,
so each call pays its page faults, often more than the work itself, and not the
same for everyone: numpy asks for huge pages for large arrays (17 faults per
32 MiB output), torch's CPU allocator does not (8193). To compare the kernels,
the harness raises glibc's mmap and trim thresholds (``mallopt``) so that every
implementation's outputs come from reused, already-mapped heap memory (torch's
CPU allocator uses the same malloc). ``--fresh-pages`` keeps the default
allocator: what a script that allocates each output gets.

Figures are MB/s of float32 input (decimal MB: 10^6 bytes; for float16/bfloat16
input and for dequantization: the float32 size of the same elements), the median
of ``--repeats`` runs after one warm-up, or of more runs for a short call, until
they took ``--min-seconds`` (default 0.2 s) in all: the same rule for every
implementation, so that a millisecond figure is not decided by a few
milliseconds of other work on the machine. The median CPU time / wall time is
beside each figure: about 1.0 per thread when the process had its cores to
itself, lower when the shared machine was busy (for calls of a millisecond or
so it is coarse: the kernel adds other threads' CPU time at scheduler ticks). Results are also written as JSON
(``bench/results/latest.json`` and a timestamped copy) for later comparison.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

import wick
from wick import _native
from wick.testing import GGMLReference

RESULTS = Path(__file__).resolve().parent / "results"
SECTIONS = ("ggml", "blockwise", "zerocopy", "calls")


#: a figure's runs last at least this long in all (``--min-seconds``), so that a millisecond call
#: is the median of enough runs that a short burst of other work on the machine does not decide it
MIN_SECONDS = 0.2
#: at most this many runs per figure
MAX_RUNS = 400


def measure(fn: Callable[[], object], repeats: int) -> dict:
    """Median wall time and median CPU/wall ratio of ``fn`` over at least ``repeats`` runs, and more until the
    runs took MIN_SECONDS in all (at most MAX_RUNS)."""
    fn()  # warm-up: page faults, caches, lazy loading
    walls, ratios = [], []
    while len(walls) < repeats or (sum(walls) < MIN_SECONDS and len(walls) < MAX_RUNS):
        c0, w0 = time.process_time(), time.perf_counter()
        fn()
        w, c = time.perf_counter() - w0, time.process_time() - c0
        walls.append(w)
        ratios.append(c / w if w > 0 else 0.0)
    return {"wall_s": statistics.median(walls), "cpu_per_wall": statistics.median(ratios),
            "wall_s_all": walls}


def split_rows(fn: Callable[[np.ndarray], object], x: np.ndarray, threads: int) -> Callable[[], object]:
    """Run ``fn`` on ``threads`` row ranges of ``x`` in parallel Python threads."""
    if threads <= 1:
        return lambda: fn(x)
    parts = np.array_split(x, threads, axis=0)

    def run() -> None:
        ts = [threading.Thread(target=fn, args=(p,)) for p in parts]
        for t in ts:
            t.start()
        for t in ts:
            t.join()

    return run


def reuse_heap_memory() -> bool:
    """Make glibc reuse freed heap memory for large arrays (see the module docstring)."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(name)
        m_trim_threshold, m_mmap_threshold = -1, -3
        return bool(libc.mallopt(m_mmap_threshold, 1 << 30)) and bool(libc.mallopt(m_trim_threshold, 1 << 31))
    except (OSError, AttributeError):
        return False


def owning(fn: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """``fn``, made to return a buffer of its own when it returned its input (or a view)."""

    def run(a: np.ndarray) -> np.ndarray:
        r = fn(a)
        return r.copy() if np.may_share_memory(r, a) else r

    return run


def gguf_quantizers():
    try:
        import gguf
        from gguf import quants
    except ImportError:
        return None, None
    return gguf, quants


def dist_version(name: str) -> str:
    """The installed version of distribution ``name`` ("installed" if unknown)."""
    try:
        from importlib.metadata import version

        return version(name)
    except Exception:
        return "installed"


def gguf_supports(quants, qtype, x_small: np.ndarray, dequantize: bool = False) -> bool:
    """Whether the gguf package quantizes (or, with dequantize=True, dequantizes) this type."""
    try:
        (quants.dequantize if dequantize else quants.quantize)(x_small, qtype)
        return True
    except NotImplementedError:
        return False


def bitsandbytes_cpu():
    """(torch, bitsandbytes.functional, versions) when both import, else (None, None, reason)."""
    try:
        import torch
    except ImportError:
        return None, None, "not installed (torch missing)"
    try:
        import bitsandbytes
        import bitsandbytes.functional as F
    except Exception as e:  # ImportError, or a broken install
        return None, None, f"not installed ({type(e).__name__}: {str(e).splitlines()[0][:80] if str(e) else ''})"
    return torch, F, f"bitsandbytes {bitsandbytes.__version__}, torch {torch.__version__}"


def mbps(r: Optional[dict], nbytes: int) -> Optional[float]:
    return None if r is None else nbytes / r["wall_s"] / 1e6


def fmt_rate(r: Optional[dict], nbytes: int) -> str:
    if r is None:
        return "—"
    return f"{mbps(r, nbytes):8.0f} ({r['cpu_per_wall']:.2f})"


def ratio(a: Optional[dict], b: Optional[dict]) -> Optional[float]:
    """How many times faster ``a`` ran than ``b``."""
    if a is None or b is None:
        return None
    return b["wall_s"] / a["wall_s"]


def fmt_ratio(a: Optional[dict], b: Optional[dict]) -> str:
    r = ratio(a, b)
    return "—" if r is None else f"{r:.1f}×"


def machine() -> dict:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cpus_available": wick.max_threads(), "os_cpu_count": os.cpu_count(),
            "python": sys.version.split()[0], "numpy": np.__version__, "platform": platform.platform()}


def table(columns: list, left: int = 2) -> Callable[[list], None]:
    """Print the header of a table of (title, width) columns, the first ``left`` of
    them left-aligned; return the row printer."""

    def line(cells: list) -> str:
        return " ".join(f"{c:<{w}}" if i < left else f"{c:>{w}}" for i, (c, (_, w)) in enumerate(zip(cells, columns)))

    header = line([t for t, _ in columns])
    print(header)
    print("-" * len(header))

    def row(cells: list) -> None:
        print(line(cells), flush=True)

    return row


# --------------------------------------------------------------------------- ggml


def bench_imatrix(n: int) -> np.ndarray:
    """A fixed importance matrix (positive weights 0.25 .. 4) for the types that need one."""
    return (np.float32(0.25) * (1 + np.arange(n) * 7919 % 16)).astype(np.float32)


def section_ggml(args, x: np.ndarray, thread_counts: list, doc: dict) -> None:
    gguf, quants = gguf_quantizers()
    ggml = GGMLReference.load()
    doc["anchors"]["gguf"] = dist_version("gguf") if gguf else None
    doc["anchors"]["llama.cpp"] = ggml.version if ggml else None
    names = args.types or [t.name for t in wick.types() if t.can_quantize]
    nbytes = x.nbytes
    print(f"\n== ggml types: {x.shape[0]}×{x.shape[1]} float32 ({nbytes / 2**20:.0f} MiB) per call; anchors: gguf "
          f"{doc['anchors']['gguf'] or 'not installed'}, llama.cpp "
          f"{ggml.version if ggml else 'not installed (make bench WITH_LLAMA=1)'}")
    row = table([("op", 10), ("type", 6), ("thr", 3), ("wick", 16), ("gguf-numpy", 16), ("×gguf", 7),
                 ("llama.cpp", 16), ("×llama", 7)])
    for name in names:
        t = wick.type_info(name)
        # the gguf package may predate a type (0.19.0 has no Q1_0/Q2_0): no gguf column then
        qtype = gguf.GGMLQuantizationType.__members__.get(name) if gguf else None
        has_gguf = qtype is not None and gguf_supports(quants, qtype, x[:1, : 256 if t.block_size <= 256 else t.block_size])
        # the types ggml (and so Wick) refuses without an importance matrix get one, both sides
        im = None
        try:
            encoded = wick.quantize(x, name)
        except wick.WickValueError:
            im = bench_imatrix(x.shape[1])
            encoded = wick.quantize(x, name, imatrix=im)
            has_gguf = False
        has_ggml = ggml is not None
        for threads in thread_counts:
            r = {"section": "ggml", "op": "quantize", "type": name, "threads": threads, "input_bytes": nbytes,
                 "imatrix": im is not None}
            r["wick"] = measure(lambda name=name, threads=threads, im=im: wick.quantize(x, name, threads=threads, imatrix=im),
                                args.repeats)
            r["gguf"] = (measure(split_rows(owning(lambda a, qtype=qtype: quants.quantize(a, qtype)), x, threads), args.repeats)
                         if has_gguf else None)
            r["llama.cpp"] = (measure(split_rows(lambda a, name=name, im=im: ggml.quantize(a, name, imatrix=im), x, threads),
                                      args.repeats) if has_ggml else None)
            doc["results"].append(r)
            row(["quantize", name, threads, fmt_rate(r["wick"], nbytes), fmt_rate(r["gguf"], nbytes),
                 fmt_ratio(r["wick"], r["gguf"]), fmt_rate(r["llama.cpp"], nbytes), fmt_ratio(r["wick"], r["llama.cpp"])])
        if args.no_dequantize or not t.can_dequantize:
            continue
        # the gguf package may quantize a type's name without dequantizing it (0.19.0: Q1_0)
        gguf_dequantizes = qtype is not None and gguf_supports(quants, qtype, encoded[:1], dequantize=True)
        for threads in thread_counts:
            # dequantize figures count the float32 output bytes, so rows compare
            r = {"section": "ggml", "op": "dequantize", "type": name, "threads": threads, "output_bytes": nbytes}
            r["wick"] = measure(lambda encoded=encoded, name=name, threads=threads:
                                wick.dequantize(encoded, name, x.shape, threads=threads), args.repeats)
            r["gguf"] = (measure(split_rows(owning(lambda a, qtype=qtype: quants.dequantize(a, qtype)), encoded, threads), args.repeats)
                         if gguf_dequantizes else None)
            r["llama.cpp"] = None
            doc["results"].append(r)
            row(["dequantize", name, threads, fmt_rate(r["wick"], nbytes), fmt_rate(r["gguf"], nbytes),
                 fmt_ratio(r["wick"], r["gguf"]), "—", "—"])
    doc["targets_ggml"] = ggml_targets([r for r in doc["results"] if r.get("section") == "ggml"], nbytes,
                                       None if ggml else "not installed (make bench WITH_LLAMA=1)")


#: The issue's targets for the ggml types: Wick's speed-up over llama.cpp's ggml_quantize_chunk on the same
#: array, (type, minimum ratio, thread counts it applies to: None = every measured count).
GGML_TARGETS = [(t, 4.0, None) for t in ("Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL")] + \
    [(t, 3.0, (1,)) for t in ("Q4_0", "Q4_1")] + \
    [(t, 2.0, None) for t in ("IQ4_XS", "IQ3_XXS", "IQ3_S")] + \
    [(t, 2.0, None) for t in ("IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ1_S", "IQ1_M")] + \
    [(t, 2.0, None) for t in ("TQ1_0", "TQ2_0", "MXFP4", "NVFP4", "Q1_0", "Q2_0")]


def ggml_targets(rows: list, nbytes: int, llama_missing: Optional[str]) -> list:
    """Check this run's quantize rows against GGML_TARGETS; print and return the verdicts."""
    verdicts = []
    for typ, want, threads in GGML_TARGETS:
        for r in rows:
            if r["op"] != "quantize" or r["type"] != typ or (threads and r["threads"] not in threads):
                continue
            got = ratio(r["wick"], r["llama.cpp"])
            verdicts.append({"target": f"{typ} quantize ≥ {want:g}× llama.cpp", "type": typ, "threads": r["threads"],
                             "wick_mbps": round(mbps(r["wick"], nbytes)),
                             "llama_mbps": None if r["llama.cpp"] is None else round(mbps(r["llama.cpp"], nbytes)),
                             "value": None if got is None else round(got, 2),
                             "met": None if got is None else got >= want})
    if verdicts:
        print("   targets (quantize, Wick / llama.cpp on the same array and thread count):")
    for v in verdicts:
        if v["met"] is None:
            state = f"not measured: llama.cpp {llama_missing or 'missing'}"
        else:
            state = (f"{'met' if v['met'] else 'NOT met'}: {v['value']}× "
                     f"({v['wick_mbps']} MB/s beside llama.cpp's {v['llama_mbps']})")
        print(f"   - {v['target']} ({v['threads']} thr): {state}")
    return verdicts


# --------------------------------------------------------------------------- blockwise

# (format, blocksize, nested, input dtype)
BLOCKWISE_CASES = [
    ("8-bit", 4096, False, "float32"),
    ("8-bit", 2048, False, "float32"),
    ("8-bit", 1024, False, "float32"),
    ("8-bit", 512, False, "float32"),
    ("8-bit", 256, False, "float32"),
    ("8-bit", 128, False, "float32"),
    ("8-bit", 64, False, "float32"),
    ("8-bit", 4096, True, "float32"),
    ("8-bit", 64, True, "float32"),
    ("NF4", 64, False, "float32"),
    ("NF4", 64, True, "float32"),
    ("FP4", 64, False, "float32"),
    ("FP4", 64, True, "float32"),
    ("8-bit", 4096, False, "float16"),
    ("8-bit", 64, False, "bfloat16"),
    ("NF4", 64, False, "bfloat16"),
    ("NF4", 64, True, "bfloat16"),
    ("NF4", 64, False, "float16"),
    ("FP4", 64, False, "bfloat16"),
]

#: The issue's targets: quantization MB/s of float32 input per core, and speed-ups over bitsandbytes on CPU
#: (quantization per format; dequantization for every case, nested or not, every output dtype).
TARGET_MBPS_PER_CORE = 2000.0
TARGET_RATIO = {"8-bit": 1.5, "NF4": 20.0}
TARGET_DEQUANT_RATIO = 1.5


def _blockwise_inputs(x: np.ndarray, torch) -> dict:
    """The test array in each input dtype: (wick input, wick src_dtype, torch tensor or None)."""
    bits16 = wick.quantize(x, "F16").view(np.uint16)
    bitsbf = wick.quantize(x, "BF16").view(np.uint16)
    out = {"float32": (x, None), "float16": (bits16.view(np.float16), None), "bfloat16": (bitsbf, "bfloat16")}
    tensors = {}
    if torch is not None:
        tensors = {"float32": torch.from_numpy(x), "float16": torch.from_numpy(bits16.view(np.float16)),
                   "bfloat16": torch.from_numpy(bitsbf.view(np.int16)).view(torch.bfloat16)}
    return {k: (v[0], v[1], tensors.get(k)) for k, v in out.items()}


def _blockwise_calls(fmt: str, bs: int, nested: bool, xin: np.ndarray, src_dtype: Optional[str], tin, F) -> tuple:
    """(quantize(threads), dequantize(encoded, threads)) for Wick and (quantize(), dequantize(encoded))
    for bitsandbytes, for one case of BLOCKWISE_CASES."""
    if fmt == "8-bit":
        return (lambda t: wick.quantize_blockwise(xin, blocksize=bs, nested=nested, threads=t, src_dtype=src_dtype),
                lambda enc, t: wick.dequantize_blockwise(enc[0], enc[1], threads=t),
                lambda: F.quantize_blockwise(tin, blocksize=bs, nested=nested),
                lambda enc: F.dequantize_blockwise(enc[0], enc[1]))
    qt = fmt.lower()
    return (lambda t: wick.quantize_4bit(xin, blocksize=bs, quant_type=qt, compress_statistics=nested, threads=t,
                                         src_dtype=src_dtype),
            lambda enc, t: wick.dequantize_4bit(enc[0], enc[1], threads=t),
            lambda: F.quantize_4bit(tin, blocksize=bs, quant_type=qt, compress_statistics=nested),
            lambda enc: F.dequantize_4bit(enc[0], enc[1]))


def section_blockwise(args, x: np.ndarray, thread_counts: list, doc: dict) -> None:
    torch, F, bnb_version = bitsandbytes_cpu()
    doc["anchors"]["bitsandbytes"] = bnb_version if F is not None else None
    inputs = _blockwise_inputs(x, torch)
    n = x.size
    f32_bytes = 4 * n
    print(f"\n== bitsandbytes block-wise family: {n / 2**20:.0f} Mi elements ({f32_bytes / 2**20:.0f} MiB as float32) "
          f"per call; bitsandbytes on CPU: {bnb_version}")
    print("   MB/s of float32-equivalent input (quantize) or output (dequantize); the bitsandbytes column ran on "
          "torch CPU tensors with torch.set_num_threads(thr)")
    # Every Wick figure is taken before the first bitsandbytes call: torch's OpenMP
    # threads keep spinning for a while after each parallel region, and measured
    # in between, Wick's two threads would share the cores with them.
    jobs = []
    for fmt, bs, nested, dtype in BLOCKWISE_CASES:
        xin, src_dtype, tin = inputs[dtype]
        wq, wd, bq, bd = _blockwise_calls(fmt, bs, nested, xin, src_dtype, tin, F)
        wenc = wq(None)
        label = f"{fmt} {bs}{' nested' if nested else ''}{'' if dtype == 'float32' else ' ' + dtype}"
        for op in ("quantize", "dequantize"):
            for threads in thread_counts:
                r = {"section": "blockwise", "op": op, "format": fmt, "blocksize": bs, "nested": nested,
                     "dtype": dtype, "threads": threads, "elements": n, "float32_bytes": f32_bytes}
                if op == "quantize":
                    r["wick"] = measure(lambda wq=wq, threads=threads: wq(threads), args.repeats)
                else:
                    r["wick"] = measure(lambda wd=wd, wenc=wenc, threads=threads: wd(wenc, threads), args.repeats)
                r["bitsandbytes"] = None
                jobs.append((r, label, bq, bd, F is not None and tin is not None))
    if F is not None:
        saved_torch_threads = torch.get_num_threads()
        encoded: dict = {}
        try:
            for r, label, bq, bd, has_bnb in jobs:
                if not has_bnb:
                    continue
                torch.set_num_threads(r["threads"])
                if r["op"] == "quantize":
                    r["bitsandbytes"] = measure(bq, args.repeats)
                else:
                    benc = encoded.setdefault(label, bq())
                    r["bitsandbytes"] = measure(lambda bd=bd, benc=benc: bd(benc), args.repeats)
        finally:
            torch.set_num_threads(saved_torch_threads)
    row = table([("op", 10), ("format", 16), ("thr", 3), ("wick", 16), ("bitsandbytes", 16), ("×bnb", 7)])
    for r, label, _, _, has_bnb in jobs:
        doc["results"].append(r)
        row([r["op"], label, r["threads"], fmt_rate(r["wick"], f32_bytes),
             fmt_rate(r["bitsandbytes"], f32_bytes) if has_bnb else "not installed",
             fmt_ratio(r["wick"], r["bitsandbytes"])])
    doc["targets"] = blockwise_targets([j[0] for j in jobs], f32_bytes, bnb_version if F is None else None)


def blockwise_targets(rows: list, f32_bytes: int, bnb_missing: Optional[str]) -> list:
    """Check this run's float32 quantize rows against the issue's targets; print and return the verdicts."""
    plain = [r for r in rows if r["op"] == "quantize" and r["dtype"] == "float32" and not r["nested"]]
    verdicts = []
    for fmt in ("8-bit", "NF4", "FP4"):
        one = [r for r in plain if r["format"] == fmt and r["threads"] == 1]
        if one:
            worst = min(one, key=lambda r: mbps(r["wick"], f32_bytes))
            v = mbps(worst["wick"], f32_bytes)
            verdicts.append({"target": f"{fmt} quantize ≥ {TARGET_MBPS_PER_CORE:.0f} MB/s per core", "format": fmt,
                             "value": round(v), "blocksize": worst["blocksize"], "met": v >= TARGET_MBPS_PER_CORE})
    for fmt, want in TARGET_RATIO.items():
        if bnb_missing:
            verdicts.append({"target": f"{fmt} quantize ≥ {want:g}× bitsandbytes CPU", "format": fmt, "value": None,
                             "met": None})
            continue
        for r in plain:
            if r["format"] != fmt:
                continue
            got = ratio(r["wick"], r["bitsandbytes"])
            verdicts.append({"target": f"{fmt} quantize ≥ {want:g}× bitsandbytes CPU", "format": fmt,
                             "blocksize": r["blocksize"], "threads": r["threads"],
                             "value": None if got is None else round(got, 1), "met": None if got is None else got >= want})
    for r in rows:
        if r["op"] != "dequantize":
            continue
        label = f"{r['format']} {r['blocksize']}{' nested' if r['nested'] else ''} → {r['dtype']}"
        want = TARGET_DEQUANT_RATIO
        if bnb_missing:
            verdicts.append({"target": f"dequantize {label} ≥ {want:g}× bitsandbytes CPU", "format": r["format"],
                             "value": None, "met": None})
            continue
        got = ratio(r["wick"], r["bitsandbytes"])
        verdicts.append({"target": f"dequantize {label} ≥ {want:g}× bitsandbytes CPU", "format": r["format"],
                         "blocksize": r["blocksize"], "threads": r["threads"], "dequantize": True,
                         "value": None if got is None else round(got, 2), "met": None if got is None else got >= want})
    print("   targets (quantize: float32, not nested; dequantize: every case):")
    for v in verdicts:
        if "blocksize" not in v:
            where = ""
        elif v.get("dequantize"):
            where = f" ({v['threads']} thr)"
        elif "threads" in v:
            where = f" (block {v['blocksize']}, {v['threads']} thr)"
        else:
            where = f" (block {v['blocksize']}, the slowest block size)"
        if v["met"] is None:
            state = f"not measured: bitsandbytes {bnb_missing or 'missing'}"
        else:
            state = ("met" if v["met"] else "NOT met") + f": {v['value']}" + ("×" if "×" in v["target"] else " MB/s")
        print(f"   - {v['target']}{where}: {state}")
    return verdicts


# --------------------------------------------------------------------------- zero copy


def _rss_kib() -> dict:
    """RssAnon and RssFile of this process in KiB (Linux), or {}."""
    out = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(("RssAnon:", "RssFile:")):
                k, v = line.split(":", 1)
                out[k] = int(v.split()[0])
    except OSError:
        pass
    return out


def _traced_peak(fn: Callable[[], object]) -> tuple:
    """(result of fn, peak bytes allocated meanwhile as tracemalloc sees them: Python
    objects and numpy array data, which numpy reports to tracemalloc)."""
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        result = fn()
        return result, tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def section_zerocopy(args, doc: dict) -> None:
    n_mib = args.zerocopy_mib
    rows, cols = n_mib * 64, 4096  # float32: 16 KiB per row
    print(f"\n== zero copy: a {n_mib} MiB float32 tensor read from a safetensors file through wick.safetensors")
    with tempfile.TemporaryDirectory(prefix="wick-bench-") as tmp:
        path = Path(tmp) / "big.safetensors"
        big = np.random.default_rng(1).standard_normal((rows, cols), dtype=np.float32)
        wick.safetensors.write(path, {"small": np.ones(3, np.float32), "big": big})
        nbytes = big.nbytes
        del big
        with wick.safetensors.open(path) as m:
            info = m.tensors["big"]
            rss0 = _rss_kib()
            t0 = time.perf_counter()
            a = m.get("big")
            first_get_s = time.perf_counter() - t0
            _, get_alloc = _traced_peak(lambda: m.get("big"))
            get = measure(lambda: m.get("big"), max(args.repeats, 20))
            whole = np.frombuffer(m._map(info.file)._mm, np.uint8)  # the file's whole mapping
            offset = a.ctypes.data - whole.ctypes.data
            inside = bool(np.shares_memory(a, whole)) and offset == info.offset and not a.flags.owndata
            checksum = float(a.sum(dtype=np.float64))  # touches every page of the tensor
            rss1 = _rss_kib()
            copy = measure(lambda a=a: np.array(a, copy=True), max(1, args.repeats // 2))
            q, q_alloc = _traced_peak(lambda a=a: wick.quantize(a, "Q8_0"))
            qbytes = q.nbytes
            del q, a, whole
    r = {
        "tensor_bytes": nbytes, "offset_in_file": offset, "shares_file_mapping": inside, "checksum": checksum,
        "get_first_s": first_get_s, "get": get, "get_allocated_bytes": get_alloc, "copy": copy,
        "rss_anon_mib_after_reading_all": (rss1.get("RssAnon", 0) - rss0.get("RssAnon", 0)) / 1024 if rss0 else None,
        "rss_file_mib_after_reading_all": (rss1.get("RssFile", 0) - rss0.get("RssFile", 0)) / 1024 if rss0 else None,
        "quantize_q8_0_output_bytes": qbytes, "quantize_q8_0_allocated_bytes": q_alloc,
    }
    doc["zerocopy"] = r
    print(f"   m.get(name) of the {nbytes / 2**20:.0f} MiB tensor: first call {first_get_s * 1e6:.0f} µs, then median "
          f"{get['wall_s'] * 1e6:.1f} µs, allocating {get_alloc} bytes; a copy (np.array) takes "
          f"{copy['wall_s'] * 1e3:.1f} ms ({nbytes / copy['wall_s'] / 1e6:.0f} MB/s)")
    print(f"   the array is a view inside the file's mapping: {'yes' if inside else 'NO'} (it starts at byte {offset} "
          f"of the mapping; the tensor's data offset in the file is {info.offset})")
    if rss0:
        print(f"   after reading every element: anonymous memory {r['rss_anon_mib_after_reading_all']:+.1f} MiB, "
              f"file-backed (page cache) {r['rss_file_mib_after_reading_all']:+.1f} MiB")
    print(f"   wick.quantize(m.get(name), 'Q8_0') allocates {q_alloc / 2**20:.2f} MiB for its "
          f"{qbytes / 2**20:.2f} MiB output: the input is read in place")


# --------------------------------------------------------------------------- call overhead

CTRL_C_PROBE = """
import os, signal, sys, threading, time
import numpy as np
import wick
from wick import _debug
x = np.ones((1, 32), np.float32); wick.quantize(x, "Q8_0")  # load the library first
sent = []
def press():
    time.sleep(0.3)
    sent.append(time.perf_counter())
    os.kill(os.getpid(), signal.SIGINT)
threading.Thread(target=press, daemon=True).start()
try:
    _debug.spin(10_000)
    print("not interrupted")
except KeyboardInterrupt:
    print(time.perf_counter() - sent[0])
"""


def _per_call(fn: Callable[[], object], calls: int) -> float:
    """Seconds per call of ``fn`` over a batch of ``calls`` calls."""
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t0) / calls


def section_calls(args, x: np.ndarray, doc: dict) -> None:
    small = np.ones((1, 32), np.float32)
    print("\n== the Python call path: what making a call cancellable by Ctrl-C costs (wick.quantize to Q8_0 on the "
          "main thread, threads=1; medians over interleaved rounds)")
    saved_bytes, saved_handler = _native.INTERRUPTIBLE_BYTES, signal.getsignal(signal.SIGINT)

    def custom_handler(signum, frame):  # any handler but Python's own sends calls to a helper thread
        raise KeyboardInterrupt

    ways = {"direct call (not cancellable)": (1 << 62, signal.default_int_handler),
            "cancellable: watcher thread": (0, signal.default_int_handler),
            "cancellable: helper thread": (0, custom_handler)}
    inputs = {"small": (small, 1000), "large": (x, 3)}
    times: dict = {w: {k: [] for k in inputs} for w in ways}
    try:
        for _ in range(max(args.repeats, 7)):  # rounds: every way in turn, so that the machine's load hits all alike
            for way, (threshold, handler) in ways.items():
                _native.INTERRUPTIBLE_BYTES = threshold
                signal.signal(signal.SIGINT, handler)
                for k, (a, calls) in inputs.items():
                    wick.quantize(a, "Q8_0", threads=1)  # warm
                    times[way][k].append(_per_call(lambda a=a: wick.quantize(a, "Q8_0", threads=1), calls))
    finally:
        _native.INTERRUPTIBLE_BYTES = saved_bytes
        signal.signal(signal.SIGINT, saved_handler)
    base = "direct call (not cancellable)"
    out = {}
    row = table([("path", 30), ("1×32 float32: µs", 17), ("+µs", 8), (f"{x.nbytes / 2**20:.0f} MiB float32: ms", 21),
                 ("+µs", 8)], left=1)
    for way in ways:
        r: dict = {}
        for k in inputs:
            r[f"{k}_s"] = statistics.median(times[way][k])
            # the overhead: median of the per-round differences from the direct call
            r[f"{k}_overhead_s"] = statistics.median(t - b for t, b in zip(times[way][k], times[base][k]))
        out[way] = r
        row([way, f"{r['small_s'] * 1e6:.1f}", "" if way == base else f"{r['small_overhead_s'] * 1e6:+.1f}",
             f"{r['large_s'] * 1e3:.2f}", "" if way == base else f"{r['large_overhead_s'] * 1e6:+.0f}"])
    lat = []
    # The probe's 10 s Go call is a test hook (wick_debug_spin), which only the
    # test suite's build of the library has (`make lib` builds it).
    env = dict(os.environ)
    test_lib = Path(__file__).resolve().parent.parent / "build" / "test-lib" / _native.library_name()
    env.setdefault("WICK_LIBRARY", str(test_lib))
    for _ in range(3):
        p = subprocess.run([sys.executable, "-c", textwrap.dedent(CTRL_C_PROBE)], capture_output=True, text=True, timeout=60,
                           env=env)
        try:
            lat.append(float(p.stdout.strip()))
        except ValueError:
            print(f"   Ctrl-C probe failed: {p.stdout.strip()} {p.stderr.strip()[-300:]}")
    if lat:
        print(f"   SIGINT → KeyboardInterrupt out of a 10 s call: median {statistics.median(lat) * 1e3:.1f} ms "
              f"({', '.join(f'{v * 1e3:.1f}' for v in lat)})")
    doc["calls"] = {"paths": out, "ctrl_c_latency_s": lat, "interruptible_bytes": saved_bytes}


# --------------------------------------------------------------------------- main


def main() -> int:
    global MIN_SECONDS
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--section", nargs="*", choices=SECTIONS, help="sections to run (default: all)")
    ap.add_argument("--rows", type=int, default=2048, help="rows of the test array (default %(default)s)")
    ap.add_argument("--cols", type=int, default=4096, help="row length (default %(default)s)")
    ap.add_argument("--repeats", type=int, default=5, help="timed runs per figure (default %(default)s)")
    ap.add_argument("--min-seconds", type=float, default=MIN_SECONDS,
                    help="more runs for a short call, until the runs of a figure took this long (default %(default)s)")
    ap.add_argument("--types", nargs="*", help="ggml types to run (default: every type Wick can quantize)")
    ap.add_argument("--threads", nargs="*", type=int, help="thread counts (default: 1 and every core)")
    ap.add_argument("--no-dequantize", action="store_true", help="skip the ggml dequantize rows")
    ap.add_argument("--zerocopy-mib", type=int, default=256, help="size of the zero-copy tensor (default %(default)s)")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--fresh-pages", action="store_true",
                    help="keep glibc's default allocator: every large output is a fresh mmap (page faults included)")
    args = ap.parse_args()
    MIN_SECONDS = args.min_seconds
    sections = args.section or list(SECTIONS)
    heap_reuse = False if args.fresh_pages else reuse_heap_memory()

    ncpu = wick.max_threads()
    thread_counts = args.threads or sorted({1, ncpu})
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((args.rows, args.cols)) * 0.02).astype(np.float32)

    print(f"Wick {wick.__version__} benchmark, sections {', '.join(sections)}: median of ≥ {args.repeats} runs (≥ {MIN_SECONDS:g} s); "
          f"MB/s (CPU time/wall time)")
    print(f"machine: {machine()['cpu']}, {ncpu} threads available; outputs from "
          f"{'reused heap memory' if heap_reuse else 'fresh pages'}")
    doc: dict[str, Any] = {
        "when": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "wick": wick.__version__,
        "library": {k: v for k, v in wick.library_info().items() if k in ("go_version", "goarch", "abi_version")},
        "machine": machine(),
        "sections": sections,
        "anchors": {},
        "shape": [args.rows, args.cols],
        "threads": thread_counts,
        "repeats": args.repeats,
        "min_seconds": MIN_SECONDS,
        "heap_reuse": heap_reuse,
        "units": "MB/s = input_bytes (or output_bytes, or float32_bytes) / wall_s / 1e6",
        "results": [],
    }
    if "ggml" in sections:
        section_ggml(args, x, thread_counts, doc)
    if "blockwise" in sections:
        section_blockwise(args, x, thread_counts, doc)
    if "zerocopy" in sections:
        section_zerocopy(args, doc)
    if "calls" in sections:
        section_calls(args, x, doc)

    RESULTS.mkdir(exist_ok=True)
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    for path in [RESULTS / "latest.json", RESULTS / f"bench-{stamp}.json"] + ([args.json] if args.json else []):
        path.write_text(json.dumps(doc, indent=1))
    print(f"\nwrote {RESULTS / 'latest.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
