#!/usr/bin/env python3
"""Wick's benchmark: Wick beside the reference quantizers, as ratios from one run.

    make bench                       # or: python bench/bench.py [--repeats 7] [--rows 2048]

For every type Wick can quantize it times, on the same float32 array:

* Wick (``wick.quantize`` / ``wick.dequantize``),
* the ``gguf`` package's numpy (de)quantizers, where it has one,
* llama.cpp's ``ggml_quantize_chunk`` (through llama-cpp-python), when installed,

at 1 thread and at every available core. The anchors get the same thread count:
the array's rows are split over that many Python threads (numpy and ctypes release
the GIL), as llama-quantize splits a tensor's rows over its threads.

Every implementation must hand back a buffer of its own: when an anchor returns
(a view of) its input, as the ``gguf`` package does for F32 (``astype(copy=False)``),
the harness copies the result, so that "quantizing" to F32 is a copy for everyone.

Output arrays are allocated by each call, for every implementation. glibc serves
allocations of 32 MiB and more (every float32 output here) with a fresh ``mmap``,
so each call would pay its page faults: about as long as the work itself, the same
for everyone, and it hides the kernels' differences. The harness therefore raises
glibc's mmap and trim thresholds (``mallopt``) so that every implementation's
outputs come from reused, already-mapped heap memory; ``--fresh-pages`` measures
with the default allocator instead.

Figures are MB/s of float32 input (decimal MB: 10^6 bytes), the median of
``--repeats`` runs after one warm-up, with the median CPU time / wall time beside
them: about 1.0 per thread when the process had its cores to itself, lower when
the shared machine was busy. Results are also written as JSON
(``bench/results/latest.json`` and a timestamped copy) for later comparison.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Optional

import numpy as np

import wick
from wick.testing import GGMLReference

RESULTS = Path(__file__).resolve().parent / "results"


def measure(fn: Callable[[], object], repeats: int) -> dict:
    """Median wall time and median CPU/wall ratio of ``fn`` over ``repeats`` runs."""
    fn()  # warm-up: page faults, caches, lazy loading
    walls, ratios = [], []
    for _ in range(repeats):
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


def gguf_supports(quants, qtype, x_small: np.ndarray) -> bool:
    try:
        quants.quantize(x_small, qtype)
        return True
    except NotImplementedError:
        return False


def fmt_rate(r: Optional[dict], nbytes: int) -> str:
    if r is None:
        return "—"
    return f"{nbytes / r['wall_s'] / 1e6:8.0f} ({r['cpu_per_wall']:.2f})"


def fmt_ratio(a: Optional[dict], b: Optional[dict]) -> str:
    if a is None or b is None:
        return "—"
    return f"{b['wall_s'] / a['wall_s']:.1f}×"


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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=2048, help="rows of the test array (default %(default)s)")
    ap.add_argument("--cols", type=int, default=4096, help="row length (default %(default)s)")
    ap.add_argument("--repeats", type=int, default=5, help="timed runs per figure (default %(default)s)")
    ap.add_argument("--types", nargs="*", help="types to run (default: every type Wick can quantize)")
    ap.add_argument("--threads", nargs="*", type=int, help="thread counts (default: 1 and every core)")
    ap.add_argument("--no-dequantize", action="store_true", help="skip the dequantize rows")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--fresh-pages", action="store_true",
                    help="keep glibc's default allocator: every large output is a fresh mmap (page faults included)")
    args = ap.parse_args()
    heap_reuse = False if args.fresh_pages else reuse_heap_memory()

    gguf, quants = gguf_quantizers()
    ggml = GGMLReference.load()
    ncpu = wick.max_threads()
    thread_counts = args.threads or sorted({1, ncpu})
    names = args.types or [t.name for t in wick.types() if t.can_quantize]
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((args.rows, args.cols)) * 0.02).astype(np.float32)
    nbytes = x.nbytes

    print(f"Wick {wick.__version__} benchmark: {args.rows}×{args.cols} float32 ({nbytes / 2**20:.0f} MiB) per call, "
          f"median of {args.repeats} runs; MB/s of float32 input (CPU time/wall time)")
    print(f"anchors: gguf {getattr(gguf, '__version__', None) or (gguf and 'installed') or 'not installed'}, "
          f"llama.cpp {ggml.version if ggml else 'not installed (make bench WITH_LLAMA=1)'}; machine: {machine()['cpu']}, "
          f"{ncpu} threads available; outputs from {'reused heap memory' if heap_reuse else 'fresh pages'}")
    header = f"{'op':<10} {'type':<6} {'thr':>3}  {'wick':>15}  {'gguf-numpy':>15} {'×gguf':>7}  {'llama.cpp':>15} {'×llama':>7}"
    print(header)
    print("-" * len(header))

    results = []
    for name in names:
        t = wick.type_info(name)
        qtype = gguf.GGMLQuantizationType[name] if gguf else None
        has_gguf = bool(gguf) and gguf_supports(quants, qtype, x[:1, : 256 if t.block_size <= 256 else t.block_size])
        has_ggml = ggml is not None and not ggml.requires_imatrix(name)
        encoded = wick.quantize(x, name)
        for threads in thread_counts:
            row = {"op": "quantize", "type": name, "threads": threads, "input_bytes": nbytes}
            row["wick"] = measure(lambda name=name, threads=threads: wick.quantize(x, name, threads=threads), args.repeats)
            row["gguf"] = (measure(split_rows(owning(lambda a, qtype=qtype: quants.quantize(a, qtype)), x, threads), args.repeats)
                           if has_gguf else None)
            row["llama.cpp"] = measure(split_rows(lambda a, name=name: ggml.quantize(a, name), x, threads), args.repeats) if has_ggml else None
            results.append(row)
            print(f"{'quantize':<10} {name:<6} {threads:>3}  {fmt_rate(row['wick'], nbytes):>15}  "
                  f"{fmt_rate(row['gguf'], nbytes):>15} {fmt_ratio(row['wick'], row['gguf']):>7}  "
                  f"{fmt_rate(row['llama.cpp'], nbytes):>15} {fmt_ratio(row['wick'], row['llama.cpp']):>7}", flush=True)
        if args.no_dequantize or not t.can_dequantize:
            continue
        for threads in thread_counts:
            # dequantize figures count the float32 output bytes, so rows compare
            row = {"op": "dequantize", "type": name, "threads": threads, "output_bytes": nbytes}
            row["wick"] = measure(lambda encoded=encoded, name=name, threads=threads:
                                  wick.dequantize(encoded, name, x.shape, threads=threads), args.repeats)
            row["gguf"] = (measure(split_rows(owning(lambda a, qtype=qtype: quants.dequantize(a, qtype)), encoded, threads), args.repeats)
                           if gguf else None)
            row["llama.cpp"] = None
            results.append(row)
            print(f"{'dequantize':<10} {name:<6} {threads:>3}  {fmt_rate(row['wick'], nbytes):>15}  "
                  f"{fmt_rate(row['gguf'], nbytes):>15} {fmt_ratio(row['wick'], row['gguf']):>7}  "
                  f"{'—':>15} {'—':>7}", flush=True)

    doc = {
        "when": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "wick": wick.__version__,
        "library": {k: v for k, v in wick.library_info().items() if k in ("go_version", "goarch", "abi_version")},
        "machine": machine(),
        "anchors": {"gguf": getattr(gguf, "__version__", None) if gguf else None, "llama.cpp": ggml.version if ggml else None},
        "shape": [args.rows, args.cols],
        "repeats": args.repeats,
        "heap_reuse": heap_reuse,
        "units": "MB/s = input_bytes (or output_bytes) / wall_s / 1e6",
        "results": results,
    }
    RESULTS.mkdir(exist_ok=True)
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    for path in [RESULTS / "latest.json", RESULTS / f"bench-{stamp}.json"] + ([args.json] if args.json else []):
        path.write_text(json.dumps(doc, indent=1))
    print(f"\nwrote {RESULTS / 'latest.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
