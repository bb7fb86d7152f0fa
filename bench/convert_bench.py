#!/usr/bin/env python3
"""Conversion benchmark: peak RSS and wall time of a whole-model conversion.

    python bench/convert_bench.py [--model DIR] [--types Q8_0 Q4_K_M] [--threads N] [--no-gguf] [--no-bnb]
                                  [--bnb-python PYTHON] [--fp8-repeats N]
                                  [--iq-types IQ2_XXS IQ1_S]

Converts a Llama-3.2-1B-shaped bf16 model (written once by
bench/make_synthetic_1b.py into ``--model``, default ``bench/.cache/synth-1b``;
about 2.5 GB) with ``wick convert`` for each target, in a child process, and
prints its peak resident set size and wall time. Where llama-cpp-python is
installed it also times llama.cpp's own quantizer (``llama_model_quantize``,
i.e. llama-quantize) on the F16 GGUF file that llama.cpp's
``convert_hf_to_gguf.py --outtype f16`` would write (Wick writes that file
byte-identically; its own time is printed as the stand-in for the first of
llama.cpp's two steps), at the same thread count, and prints the ratios.

Types that want an importance matrix (``--iq-types IQ2_XXS IQ1_S``; default
none): a deterministic importance matrix for the model (every 2-D weight of
its F16 file but ``token_embd``, 51200 tokens each, mean weights
pseudo-random in [0.5, 2)) is written once, in llama-imatrix's GGUF layout
(``save_imatrix``: general.type, imatrix.datasets/chunk_count/chunk_size,
``<name>.in_sum2`` and ``<name>.counts`` in name order), into
``<--out>/<model dir>.imatrix.gguf``; then ``wick convert --type T --imatrix
FILE --intermediate F16`` (llama.cpp's two steps round every weight to F16
first; bf16 values below F16's normal range lose bits there, which changes
an occasional block: without the flag Wick quantizes the exact bf16 values
and its file differs from llama.cpp's in a few tensors) and llama.cpp's
llama-quantize step with the same file — a child
process that does what tools/quantize/quantize.cpp does around the library
call: loads the GGUF imatrix (read with the ``gguf`` package; weights =
in_sum2 / count), passes them as ``params.imatrix`` with the tool's
``quantize.imatrix.*`` kv overrides, and calls ``llama_model_quantize`` on
the F16 file. The two outputs must be byte-identical (SHA-256: printed as
"identical" or "DIFFERENT"); wall, CPU and peak RSS are printed side by side
with Wick's ratio to llama.cpp's two steps and to llama-quantize alone.

llama.cpp's first step itself (``convert_hf_to_gguf.py``) needs torch and
transformers and is timed by hand (bench/README.md); ``--llama-step1-s`` gives
that figure (default: the recorded one), and the ratios are printed against
both: the real two steps, and the Wick-F16 stand-in.

The issues' targets: peak RSS ≤ 0.5× llama-quantize's, wall time ≤ 0.5× of
llama.cpp's two steps; for Q4_K_M on 2 threads, wall time ≤ 0.15× of
llama.cpp's two steps and ≤ 6 s. Each run also prints the fixed cost outside
the tensor pass (the whole run minus the executor's own seconds: interpreter
start, planning, tokenizer and metadata, the C boundary, the report).
Results are appended to bench/results/convert-latest.json. Each Wick GGUF
row is the run of median wall time of ``--wick-repeats`` runs (default 3;
llama-quantize runs once), and the wick package's bytecode is written before
any timed run, as installing a wheel writes it (an editable checkout would
otherwise compile the modules it imports, at every run when
PYTHONDONTWRITEBYTECODE is set).

Quantized input (``--fp8-repeats N``, default 2; 0 skips it): the same
model's linear weights as an FP8 checkpoint with 128x128 block scales and as
its exact bfloat16 twin (bench/make_synthetic_fp8.py, written once into
``bench/.cache/synth-1b-fp8`` and ``…-fp8-bf16``), each converted to Q4_K_M,
interleaved N times; the medians of wall and CPU time and their ratio
(target ≤ 1.1×), and whether the two files hold the same tensor bytes.

A Gemma 3 1B conversion (``--no-gemma`` skips it): a Gemma-3-1B-shaped bf16
model (bench/make_synthetic_gemma3_1b.py, written once into ``--gemma-model``,
default ``bench/.cache/synth-gemma3-1b``; about 2 GB, a 262144-piece
SentencePiece vocabulary) converted with ``wick convert`` to each of
``--gemma-types`` beside llama.cpp's two steps: its F16 file (Wick's F16
conversion is byte-identical to ``convert_hf_to_gguf.py --outtype f16`` and
stands in for step 1 unless ``--gemma-llama-step1-s`` gives that step timed
by hand), then ``llama_model_quantize`` on it. Targets (issue 10): wall ≤ 0.5×
of the two steps, peak RSS ≤ 0.25× of llama-quantize's.

The bitsandbytes output (``--no-bnb`` skips it): ``wick convert --format
bnb-nf4`` (NF4, double quantization, blocks of 64: a directory transformers
loads), its wall and CPU time and peak RSS, beside bitsandbytes' own CPU
quantization of the same weights (``bitsandbytes.functional.quantize_4bit(w,
blocksize=64, quant_type="nf4", compress_statistics=True)`` on every linear
weight, at the same torch thread count; only the quantization calls are
timed, not reading the weights nor writing anything) where torch and
bitsandbytes are importable by ``--bnb-python`` (default: this Python).
Wick's figures are the medians of three runs, each into a fresh directory
(the previous one is deleted untimed). Target: Wick ≥ 10× faster.

Mixture of experts (``--no-moe`` skips it; ``--moe-only`` runs nothing else): a
Qwen3-30B-A3B-shaped bf16 model with all 128 experts per layer and its layers
cut to 2 (bench/make_synthetic_qwen3moe.py, written once into ``--moe-model``,
default ``bench/.cache/synth-qwen3moe``; 3.7 GB, 768 expert tensors of which
the executor stacks 128 per output tensor), converted to Q4_K_M by ``wick
convert`` beside llama.cpp's two steps: ``convert_hf_to_gguf.py --outtype
f16`` (the pinned tree's converter, ``--llama-cpp``, run by ``--llama-python``,
a Python with torch and transformers; its pre-tokenizer lookup answers
``qwen2``, the name of the real Qwen3 vocabulary, through
tests/golden/_arch_convert_driver.py) and ``llama_model_quantize`` Q4_K_M of
that F16 file. Without such a Python, Wick's own F16 file (byte-identical to
the converter's) stands in for step 1 and is timed instead, and the line says
so. Targets: Wick's wall time ≤ 0.5× of the two steps, its peak RSS ≤ 0.25×
llama-quantize's. The F16 intermediate (3.7 GB) is deleted after the run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
FTYPES = {"Q8_0": 7, "Q4_K_M": 15, "Q4_K_S": 14, "Q5_K_M": 17, "Q6_K": 18, "Q4_0": 2, "F16": 1}
#: llama.cpp's step 1 (convert_hf_to_gguf.py --outtype f16) on the synthetic 1B model, timed by hand on the
#: benchmark machine (bench/README.md): it needs torch and transformers, which are not bench dependencies.
LLAMA_STEP1_S = 19.1
#: MoE targets: Wick's wall ≤ this fraction of llama.cpp's two steps, its peak RSS ≤ this fraction of llama-quantize's.
MOE_WALL_RATIO, MOE_RSS_RATIO = 0.5, 0.25
DEFAULT_LLAMA_CPP = os.environ.get("WICK_LLAMA_CPP", "/work/ref/llama_cpp_python-0.3.36/vendor/llama.cpp")
#: Targets for Q4_K_M at 2 threads: wall ≤ this fraction of llama.cpp's two steps, and ≤ this many seconds.
Q4_K_M_RATIO, Q4_K_M_SECONDS = 0.15, 6.0


def measured_median(cmd: list, runs: int, report: Path) -> dict:
    """``measured(cmd)`` ``runs`` times: the run of median wall time (its CPU time, RSS and the executor's own
    seconds from its JSON report ``report`` with it), and every run's wall time as ``wall_s_all``."""
    results = []
    for _ in range(max(1, runs)):
        r = measured(cmd)
        r["executor_s"] = json.loads(report.read_text())["seconds"]
        results.append(r)
    results.sort(key=lambda r: r["wall_s"])
    median = dict(results[len(results) // 2])
    median["wall_s_all"] = [r["wall_s"] for r in results]
    return median


def compile_wick_bytecode() -> None:
    """Write the bytecode of every module of the wick package, as installing a wheel does, so that no timed run
    compiles Python source (an editable checkout otherwise compiles at first import, or at every import when
    PYTHONDONTWRITEBYTECODE is set)."""
    import compileall
    import importlib.util

    spec = importlib.util.find_spec("wick")
    if spec is not None and spec.submodule_search_locations:
        for d in spec.submodule_search_locations:
            compileall.compile_dir(d, quiet=1)


def measured(cmd: list) -> dict:
    """Run cmd under a fresh Python wrapper that reports the child's own peak RSS."""
    wrapper = ("import resource, subprocess, sys, json, time; t = time.perf_counter(); "
               "r = subprocess.run(sys.argv[1:]); w = time.perf_counter() - t; "
               "u = resource.getrusage(resource.RUSAGE_CHILDREN); "
               "print(json.dumps({'rc': r.returncode, 'wall_s': w, 'cpu_s': u.ru_utime + u.ru_stime, "
               "'peak_rss_mib': u.ru_maxrss / 1024}))")
    r = subprocess.run([sys.executable, "-c", wrapper] + cmd, capture_output=True, text=True)
    line = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else "{}"
    out = json.loads(line)
    if out.get("rc") != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{r.stdout}\n{r.stderr}")
    return out


# bitsandbytes' own CPU quantization of every linear weight the NF4 plan quantizes,
# timed call by call (reading the weights is not timed).
BNB_REFERENCE = r"""
import json, sys, time
import torch
import bitsandbytes.functional as F
from safetensors import safe_open
model, threads, names = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
torch.set_num_threads(threads)
total, cpu, n = 0.0, 0.0, 0
with safe_open(model + "/model.safetensors", "pt") as f:
    for name in names:
        w = f.get_tensor(name)
        t, c = time.perf_counter(), time.process_time()
        F.quantize_4bit(w, blocksize=64, quant_type="nf4", compress_statistics=True)
        total += time.perf_counter() - t
        cpu += time.process_time() - c
        n += w.numel()
print(json.dumps({"quantize_s": total, "quantize_cpu_s": cpu, "elements": n}))
"""


BNB_REPEATS = 3


def bnb_row(args, wick: list) -> dict:
    """wick convert --format bnb-nf4 beside bitsandbytes' CPU quantize_4bit of the same weights."""
    out = args.out / "synth-bnb-nf4"
    report = args.out / "synth-bnb-nf4.json"
    # Median of BNB_REPEATS runs. The previous run's directory is deleted
    # before each (untimed): replacing a 1 GB file costs 0.3-0.5 s of wall on
    # a disk mounted with discard, and bitsandbytes' figure has no I/O at all.
    runs = []
    for _ in range(BNB_REPEATS):
        shutil.rmtree(out, ignore_errors=True)
        runs.append(measured(wick + ["convert", str(args.model), "-o", str(out), "--format", "bnb-nf4", "--force",
                                     "--no-progress", "--threads", str(args.threads), "--json-report", str(report)]))
    w = {m: statistics.median(r[m] for r in runs) for m in ("wall_s", "cpu_s", "peak_rss_mib")}
    w["runs"] = runs
    rep = json.loads(report.read_text())
    w["executor_s"] = rep["seconds"]
    quantized = [t["name"] for t in rep["tensors"] if t["type"] == "NF4"]
    n = sum(t["elements"] for t in rep["tensors"] if t["type"] == "NF4")
    row = {"type": "bnb-nf4", "threads": args.threads, "wick": w, "quantized_elements": n}
    line = (f"  bnb-nf4 wick (one step, double quant) {w['wall_s']:6.1f} s ({w['cpu_s']:6.1f}) "
            f"[tensors alone: {w['executor_s']:.1f} s]  {w['peak_rss_mib']:6.0f} MiB")
    r = subprocess.run([args.bnb_python, "-c", BNB_REFERENCE, str(args.model), str(args.threads), json.dumps(quantized)],
                       capture_output=True, text=True)
    if r.returncode == 0 and r.stdout.strip():
        ref = json.loads(r.stdout.strip().splitlines()[-1])
        row["bitsandbytes_cpu"] = ref
        line += (f" | bitsandbytes CPU quantize_4bit alone {ref['quantize_s']:6.1f} s ({ref['quantize_cpu_s']:.1f})"
                 f" | wick ×{ref['quantize_s'] / w['wall_s']:.1f} faster in wall time, ×{ref['quantize_cpu_s'] / w['cpu_s']:.1f}"
                 " in CPU time (the whole conversion against bitsandbytes' quantization calls alone)")
    else:
        line += f" | bitsandbytes not run ({args.bnb_python} lacks torch or bitsandbytes)"
    print(line, flush=True)
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=HERE / ".cache" / "synth-1b")
    ap.add_argument("--types", nargs="*", default=["Q8_0", "Q4_0", "Q4_K_M"])
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--out", type=Path, default=HERE / ".cache")
    ap.add_argument("--llama-step1-s", type=float, default=LLAMA_STEP1_S,
                    help="wall seconds of llama.cpp's convert_hf_to_gguf.py --outtype f16 on this model, timed by hand "
                         "(default %(default)s: bench/README.md)")
    ap.add_argument("--fp8-repeats", type=int, default=2)
    ap.add_argument("--wick-repeats", type=int, default=3,
                    help="runs of each Wick GGUF conversion; its row is the run of median wall time (default "
                         "%(default)s; llama-quantize runs once)")
    ap.add_argument("--iq-types", nargs="*", default=[], choices=sorted(IQ_FTYPES), metavar="TYPE",
                    help="also convert to these types with a synthetic importance matrix, beside llama-quantize "
                         "--imatrix, and check the files are identical (default: none; e.g. IQ2_XXS IQ1_S)")
    ap.add_argument("--no-gguf", action="store_true", help="skip the GGUF targets")
    ap.add_argument("--no-bnb", action="store_true", help="skip the bitsandbytes output")
    ap.add_argument("--no-gemma", action="store_true", help="skip the Gemma 3 1B conversion")
    ap.add_argument("--gemma-model", type=Path, default=HERE / ".cache" / "synth-gemma3-1b")
    ap.add_argument("--gemma-types", nargs="*", default=["Q8_0", "Q4_K_M"])
    ap.add_argument("--gemma-llama-step1-s", type=float, default=None,
                    help="wall seconds of llama.cpp's convert_hf_to_gguf.py --outtype f16 on the Gemma model, timed by "
                         "hand (default: Wick's own F16 conversion stands in for it)")
    ap.add_argument("--no-moe", action="store_true", help="skip the mixture-of-experts model")
    ap.add_argument("--moe-only", action="store_true", help="run the mixture-of-experts model only")
    ap.add_argument("--moe-model", type=Path, default=HERE / ".cache" / "synth-qwen3moe")
    ap.add_argument("--llama-cpp", default=DEFAULT_LLAMA_CPP,
                    help="llama.cpp tree with convert_hf_to_gguf.py (default: $WICK_LLAMA_CPP or %(default)s)")
    ap.add_argument("--llama-python", default=os.environ.get("WICK_LLAMA_PYTHON", sys.executable),
                    help="a Python with torch and transformers for convert_hf_to_gguf.py (default: $WICK_LLAMA_PYTHON "
                         "or this one)")
    ap.add_argument("--bnb-python", default=sys.executable,
                    help="a Python with torch and bitsandbytes for the reference timing (default: this one)")
    args = ap.parse_args()
    wick = [sys.executable, "-m", "wick.cli"]
    compile_wick_bytecode()
    if args.moe_only:
        args.out.mkdir(parents=True, exist_ok=True)
        rows = [moe_row(args, wick)]
        (HERE / "results").mkdir(exist_ok=True)
        (HERE / "results" / "convert-moe-latest.json").write_text(json.dumps(
            {"when": time.strftime("%Y-%m-%dT%H:%M:%S"), "model": str(args.moe_model), "rows": rows}, indent=1))
        return 0

    if not (args.no_gguf and args.no_bnb and not args.iq_types) and not (args.model / "model.safetensors").exists():
        print(f"writing the synthetic model to {args.model} (once) ...", flush=True)
        subprocess.run([sys.executable, str(HERE / "make_synthetic_1b.py"), str(args.model)], check=True)
    try:
        import llama_cpp  # noqa: F401

        have_llama = True
    except ImportError:
        have_llama = False

    args.out.mkdir(parents=True, exist_ok=True)
    f16 = args.out / "synth-F16.gguf"
    rows = []
    if not (args.no_gguf and args.no_bnb and not args.iq_types):
        print(f"model {args.model} ({(args.model / 'model.safetensors').stat().st_size / 2**30:.2f} GiB bf16), "
              f"{args.threads} threads; wall s (CPU s), peak RSS MiB")
    step1 = None
    if not args.no_gguf or args.iq_types:
        step1 = measured(wick + ["convert", str(args.model), "-o", str(f16), "--type", "F16", "--force", "--no-progress",
                                 "--threads", str(args.threads)])
        print(f"  wick convert → F16 (llama.cpp's step 1 writes this same file): {step1['wall_s']:.1f} s "
              f"({step1['cpu_s']:.1f}), {step1['peak_rss_mib']:.0f} MiB", flush=True)
    for t in ([] if args.no_gguf else args.types):
        report = args.out / f"synth-{t}.json"
        w = measured_median(wick + ["convert", str(args.model), "-o", str(args.out / f"synth-{t}.gguf"), "--type", t,
                                    "--force", "--no-progress", "--threads", str(args.threads), "--json-report",
                                    str(report)], args.wick_repeats, report)
        row = {"type": t, "threads": args.threads, "wick": w, "wick_f16_step": step1}
        size = (args.model / "model.safetensors").stat().st_size
        w["input_mb_per_s"] = size / w["wall_s"] / 1e6
        w["executor_mb_per_s"] = size / w["executor_s"] / 1e6
        w["outside_tensor_pass_s"] = w["wall_s"] - w["executor_s"]
        line = (f"  {t:<7} wick (one step) {w['wall_s']:6.1f} s ({w['cpu_s']:6.1f}) {w['input_mb_per_s']:5.0f} MB/s of bf16 input"
                f" [tensors alone: {w['executor_s']:.1f} s, {w['executor_mb_per_s']:.0f} MB/s; outside the tensor pass: "
                f"{w['outside_tensor_pass_s']:.1f} s]  {w['peak_rss_mib']:6.0f} MiB")
        if have_llama and t in FTYPES:
            script = ("import sys, llama_cpp; p = llama_cpp.llama_model_quantize_default_params(); "
                      f"p.nthread = {args.threads}; p.ftype = {FTYPES[t]}; "
                      "sys.exit(llama_cpp.llama_model_quantize(sys.argv[1].encode(), sys.argv[2].encode(), p))")
            q = measured([sys.executable, "-c", script, str(f16), str(args.out / f"llama-{t}.gguf")])
            two = step1["wall_s"] + q["wall_s"]
            row["llama_quantize"] = q
            q["input_mb_per_s"] = f16.stat().st_size / q["wall_s"] / 1e6
            real_two = args.llama_step1_s + q["wall_s"]
            row["llama_two_steps_s"] = real_two
            row["wall_ratio_two_steps"] = w["wall_s"] / real_two
            line += (f" | llama-quantize {q['wall_s']:6.1f} s ({q['cpu_s']:6.1f}) {q['input_mb_per_s']:4.0f} MB/s of f16 input"
                     f" {q['peak_rss_mib']:6.0f} MiB"
                     f" | RSS ×{w['peak_rss_mib'] / q['peak_rss_mib']:.2f}, wall ×{w['wall_s'] / real_two:.2f} of llama.cpp's "
                     f"two steps ({args.llama_step1_s:.1f} s by hand + {q['wall_s']:.1f} s), ×{w['wall_s'] / two:.2f} with "
                     f"Wick's F16 run as step 1, ×{w['wall_s'] / q['wall_s']:.2f} of llama-quantize alone")
        print(line, flush=True)
        if t == "Q4_K_M":
            verdicts = [f"wall {w['wall_s']:.1f} s ≤ {Q4_K_M_SECONDS:g} s: {'met' if w['wall_s'] <= Q4_K_M_SECONDS else 'NOT met'}"]
            if "wall_ratio_two_steps" in row:
                r = row["wall_ratio_two_steps"]
                verdicts.append(f"×{r:.2f} ≤ {Q4_K_M_RATIO:g}× of llama.cpp's two steps: "
                                f"{'met' if r <= Q4_K_M_RATIO else 'NOT met'}")
            else:
                verdicts.append(f"≤ {Q4_K_M_RATIO:g}× of llama.cpp's two steps: not measured (llama-cpp-python missing)")
            note = "" if args.threads == 2 else f" (the targets are for 2 threads; this run used {args.threads})"
            print(f"    targets for Q4_K_M{note}: " + "; ".join(verdicts), flush=True)
        rows.append(row)
    if args.iq_types:
        rows += iq_rows(args, wick, f16, step1, have_llama)
    if args.fp8_repeats > 0 and not args.no_gguf:
        rows.append(fp8_row(wick, args))
    if not args.no_gemma:
        rows += gemma_rows(wick, args, have_llama)
    if not args.no_bnb:
        rows.append(bnb_row(args, wick))
    if not args.no_moe:
        rows.append(moe_row(args, wick))
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "convert-latest.json").write_text(json.dumps(
        {"when": time.strftime("%Y-%m-%dT%H:%M:%S"), "model": str(args.model), "rows": rows}, indent=1))
    return 0


def llama_quantize(args, src: Path, t: str, out: Path) -> dict:
    """llama.cpp's llama-quantize (``llama_model_quantize``) of ``src`` to ``t``, measured."""
    script = ("import sys, llama_cpp; p = llama_cpp.llama_model_quantize_default_params(); "
              f"p.nthread = {args.threads}; p.ftype = {FTYPES[t]}; "
              "sys.exit(llama_cpp.llama_model_quantize(sys.argv[1].encode(), sys.argv[2].encode(), p))")
    return measured([sys.executable, "-c", script, str(src), str(out)])


#: issue 10's targets for a Gemma 3 1B conversion: wall and peak RSS against llama.cpp's two steps / llama-quantize
GEMMA_WALL_RATIO, GEMMA_RSS_RATIO = 0.5, 0.25


def gemma_rows(wick: list, args, have_llama: bool) -> list:
    """A Gemma-3-1B-shaped conversion beside llama.cpp's two steps (F16 file, then llama-quantize)."""
    model = args.gemma_model
    if not (model / "model.safetensors").exists():
        print(f"writing the synthetic Gemma 3 1B model to {model} (once) ...", flush=True)
        subprocess.run([sys.executable, str(HERE / "make_synthetic_gemma3_1b.py"), str(model)], check=True)
    size = (model / "model.safetensors").stat().st_size
    print(f"Gemma 3 1B-shaped model {model} ({size / 2**30:.2f} GiB bf16, 262144-piece SentencePiece vocabulary), "
          f"{args.threads} threads", flush=True)
    f16 = args.out / "gemma3-F16.gguf"
    step1 = measured(wick + ["convert", str(model), "-o", str(f16), "--type", "F16", "--force", "--no-progress",
                             "--threads", str(args.threads)])
    by_hand = args.gemma_llama_step1_s
    step1_s = by_hand if by_hand is not None else step1["wall_s"]
    what = "timed by hand" if by_hand is not None else "Wick's F16 run standing in"
    print(f"  wick convert → F16 (llama.cpp's step 1 writes this same file): {step1['wall_s']:.1f} s "
          f"({step1['cpu_s']:.1f}), {step1['peak_rss_mib']:.0f} MiB", flush=True)
    rows = []
    for t in args.gemma_types:
        report = args.out / f"gemma3-{t}.json"
        w = measured(wick + ["convert", str(model), "-o", str(args.out / f"gemma3-{t}.gguf"), "--type", t, "--force",
                             "--no-progress", "--threads", str(args.threads), "--json-report", str(report)])
        w["executor_s"] = json.loads(report.read_text())["seconds"]
        row = {"type": f"gemma3-1b {t}", "threads": args.threads, "wick": w, "wick_f16_step": step1}
        line = (f"  {t:<7} wick (one step) {w['wall_s']:6.1f} s ({w['cpu_s']:6.1f}) [tensors alone: "
                f"{w['executor_s']:.1f} s]  {w['peak_rss_mib']:6.0f} MiB")
        if have_llama and t in FTYPES:
            q = llama_quantize(args, f16, t, args.out / f"gemma3-llama-{t}.gguf")
            two = step1_s + q["wall_s"]
            row.update(llama_quantize=q, llama_step1_s=step1_s, llama_step1_by_hand=by_hand is not None,
                       wall_ratio_two_steps=w["wall_s"] / two, rss_ratio_quantize=w["peak_rss_mib"] / q["peak_rss_mib"])
            wall_ok = row["wall_ratio_two_steps"] <= GEMMA_WALL_RATIO
            rss_ok = row["rss_ratio_quantize"] <= GEMMA_RSS_RATIO
            line += (f" | llama-quantize {q['wall_s']:6.1f} s ({q['cpu_s']:6.1f}) {q['peak_rss_mib']:6.0f} MiB"
                     f" | wall ×{row['wall_ratio_two_steps']:.2f} of llama.cpp's two steps ({step1_s:.1f} s {what} + "
                     f"{q['wall_s']:.1f} s; target ≤ {GEMMA_WALL_RATIO:g}: {'met' if wall_ok else 'NOT met'}), "
                     f"RSS ×{row['rss_ratio_quantize']:.2f} of llama-quantize's (target ≤ {GEMMA_RSS_RATIO:g}: "
                     f"{'met' if rss_ok else 'NOT met'})")
        else:
            line += " | llama-quantize not run (llama-cpp-python missing)"
        print(line, flush=True)
        rows.append(row)
    return rows
def moe_row(args, wick: list) -> dict:
    """Q4_K_M of the Qwen3-30B-A3B-shaped model: wick convert beside convert_hf_to_gguf.py f16 + llama-quantize."""
    model = args.moe_model
    if not (model / "model.safetensors").exists():
        print(f"writing the synthetic MoE model to {model} (once) ...", flush=True)
        subprocess.run([sys.executable, str(HERE / "make_synthetic_qwen3moe.py"), str(model)], check=True)
    size = (model / "model.safetensors").stat().st_size
    cfg = json.loads((model / "config.json").read_text())
    print(f"MoE model {model} ({size / 2**30:.2f} GiB bf16, Qwen3-30B-A3B-shaped: {cfg['num_experts']} experts, "
          f"{cfg['num_hidden_layers']} layers), {args.threads} threads; wall s (CPU s), peak RSS MiB", flush=True)
    report = args.out / "synth-moe-Q4_K_M.json"
    w = measured(wick + ["convert", str(model), "-o", str(args.out / "synth-moe-Q4_K_M.gguf"), "--type", "Q4_K_M",
                         "--force", "--no-progress", "--threads", str(args.threads), "--json-report", str(report)])
    w["executor_s"] = json.loads(report.read_text())["seconds"]
    row: dict = {"type": "Q4_K_M (MoE)", "threads": args.threads, "model_bytes": size, "wick": w}
    f16 = args.out / "synth-moe-F16.gguf"
    driver = HERE.parent / "tests" / "golden" / "_arch_convert_driver.py"
    ok = subprocess.run([args.llama_python, "-c", "import torch, transformers"], capture_output=True).returncode == 0
    converter = Path(args.llama_cpp) / "convert_hf_to_gguf.py"
    try:
        if ok and converter.is_file():
            step1 = measured([args.llama_python, str(driver), str(args.llama_cpp), str(args.out / "synth-moe-driver.json"),
                              "qwen2", str(model), f"f16={f16}"])
            step1["what"] = "convert_hf_to_gguf.py --outtype f16"
        else:
            step1 = measured(wick + ["convert", str(model), "-o", str(f16), "--type", "F16", "--force", "--no-progress",
                                     "--threads", str(args.threads)])
            step1["what"] = (f"wick convert --type F16 standing in ({args.llama_python} lacks torch/transformers"
                             if not ok else f"wick convert --type F16 standing in (no {converter}") + ")"
        row["llama_step1"] = step1
        q = None
        try:
            import llama_cpp  # noqa: F401
            script = ("import sys, llama_cpp; p = llama_cpp.llama_model_quantize_default_params(); "
                      f"p.nthread = {args.threads}; p.ftype = 15; "
                      "sys.exit(llama_cpp.llama_model_quantize(sys.argv[1].encode(), sys.argv[2].encode(), p))")
            q = measured([sys.executable, "-c", script, str(f16), str(args.out / "llama-moe-Q4_K_M.gguf")])
            row["llama_quantize"] = q
        except ImportError:
            pass
    finally:
        f16.unlink(missing_ok=True)
    line = (f"  Q4_K_M  wick (one step) {w['wall_s']:6.1f} s ({w['cpu_s']:6.1f}) [tensors alone: {w['executor_s']:.1f} s] "
            f"{w['peak_rss_mib']:6.0f} MiB | step 1: {step1['what']} {step1['wall_s']:6.1f} s ({step1['cpu_s']:6.1f}) "
            f"{step1['peak_rss_mib']:6.0f} MiB")
    if q is None:
        print(line + " | llama-quantize not run (llama-cpp-python missing)", flush=True)
        return row
    two = step1["wall_s"] + q["wall_s"]
    row["wall_ratio_two_steps"] = w["wall_s"] / two
    row["rss_ratio_llama_quantize"] = w["peak_rss_mib"] / q["peak_rss_mib"]
    print(line + f" | llama-quantize {q['wall_s']:6.1f} s ({q['cpu_s']:6.1f}) {q['peak_rss_mib']:6.0f} MiB", flush=True)
    print(f"    targets: wall ×{row['wall_ratio_two_steps']:.2f} of llama.cpp's two steps ({two:.1f} s) ≤ {MOE_WALL_RATIO:g}: "
          f"{'met' if row['wall_ratio_two_steps'] <= MOE_WALL_RATIO else 'NOT met'}; peak RSS "
          f"×{row['rss_ratio_llama_quantize']:.2f} of llama-quantize's ≤ {MOE_RSS_RATIO:g}: "
          f"{'met' if row['rss_ratio_llama_quantize'] <= MOE_RSS_RATIO else 'NOT met'}", flush=True)
    return row


def fp8_row(wick: list, args) -> dict:
    """Q4_K_M from an FP8 checkpoint beside the same weights in bf16."""
    import statistics

    fp8, bf16 = args.model.parent / (args.model.name + "-fp8"), args.model.parent / (args.model.name + "-fp8-bf16")
    if not (fp8 / "model.safetensors").exists() or not (bf16 / "model.safetensors").exists():
        print(f"writing the FP8 model and its bf16 twin to {fp8}, {bf16} (once) ...", flush=True)
        subprocess.run([sys.executable, str(HERE / "make_synthetic_fp8.py"), str(fp8), str(bf16)], check=True)
    runs: dict = {"fp8": [], "bf16": []}
    for _ in range(args.fp8_repeats):
        for kind, src in (("bf16", bf16), ("fp8", fp8)):
            runs[kind].append(measured(wick + ["convert", str(src), "-o", str(args.out / f"synth-{kind}-Q4_K_M.gguf"),
                                               "--type", "Q4_K_M", "--force", "--no-progress", "--threads", str(args.threads)]))
    med = {k: {m: statistics.median(r[m] for r in v) for m in ("wall_s", "cpu_s", "peak_rss_mib")} for k, v in runs.items()}
    import wick as _wick
    with _wick.gguf.open(args.out / "synth-fp8-Q4_K_M.gguf") as a, _wick.gguf.open(args.out / "synth-bf16-Q4_K_M.gguf") as b:
        same = list(a.tensors) == list(b.tensors) and all(
            bytes(a.raw(n).data) == bytes(b.raw(n).data) for n in a.tensors)
    row = {"type": "Q4_K_M from FP8", "threads": args.threads, "fp8": med["fp8"], "bf16": med["bf16"],
           "wall_ratio": med["fp8"]["wall_s"] / med["bf16"]["wall_s"],
           "cpu_ratio": med["fp8"]["cpu_s"] / med["bf16"]["cpu_s"], "same_tensors": same, "repeats": args.fp8_repeats}
    print(f"  Q4_K_M from FP8 (128x128 blocks) {med['fp8']['wall_s']:6.1f} s ({med['fp8']['cpu_s']:6.1f}) "
          f"{med['fp8']['peak_rss_mib']:6.0f} MiB | same weights in bf16 {med['bf16']['wall_s']:6.1f} s "
          f"({med['bf16']['cpu_s']:6.1f}) {med['bf16']['peak_rss_mib']:6.0f} MiB | wall ×{row['wall_ratio']:.2f}, "
          f"CPU ×{row['cpu_ratio']:.2f} (target ≤ 1.1); tensors {'identical' if same else 'DIFFER'}", flush=True)
    return row


#: llama_ftype of the targets --iq-types accepts (llama.h enum llama_ftype).
IQ_FTYPES = {"IQ2_XXS": 19, "IQ2_XS": 20, "IQ3_XS": 22, "IQ3_XXS": 23, "IQ1_S": 24, "IQ4_NL": 25, "IQ3_S": 26,
             "IQ3_M": 27, "IQ2_S": 28, "IQ2_M": 29, "IQ4_XS": 30, "IQ1_M": 31, "Q2_K_S": 21}
#: the synthetic importance matrix's metadata: tokens per entry = chunks × chunk size
IMATRIX_DATASET, IMATRIX_CHUNKS, IMATRIX_CHUNK_SIZE = "synthetic-bench", 100, 512


def imatrix_entries(f16: Path) -> dict:
    """GGUF name → row length (ne[0]) of every 2-D weight in ``f16`` but token_embd: what llama-imatrix records."""
    import gguf

    r = gguf.GGUFReader(f16)
    return {t.name: int(t.shape[0]) for t in r.tensors
            if len(t.shape) == 2 and t.name != "token_embd.weight"}


def imatrix_stats(entries: dict) -> dict:
    """name → (in_sum2 float32[ne0], count): mean weights pseudo-random in [0.5, 2), seeded by the name."""
    import zlib

    import numpy as np

    count = IMATRIX_CHUNKS * IMATRIX_CHUNK_SIZE
    out = {}
    for name, ne0 in entries.items():
        u = np.random.default_rng(zlib.crc32(name.encode())).random(ne0)
        out[name] = ((0.5 + 1.5 * u) * count).astype(np.float32), count
    return out


def write_imatrix_gguf(path: Path, stats: dict) -> None:
    """A GGUF v3 file laid out as llama-imatrix's save_imatrix writes it through ggml's gguf API: general.type,
    imatrix.datasets, imatrix.chunk_count, imatrix.chunk_size, then per entry in name order ``<name>.in_sum2`` (F32
    [ne0]) and ``<name>.counts`` (F32 [1]); ggml_n_dims drops the trailing 1 of their [ne0, 1] / [1, 1] shapes.
    Checked by hand (2026-12-06): byte-identical to what tests/golden/gen_model_goldens.py's write_imatrix_gguf,
    which makes save_imatrix's calls into ggml's gguf API, writes for the same statistics."""
    import struct

    import numpy as np

    def text(v: str) -> bytes:
        b = v.encode()
        return struct.pack("<Q", len(b)) + b

    kv = (text("general.type") + struct.pack("<I", 8) + text("imatrix")
          + text("imatrix.datasets") + struct.pack("<IIQ", 9, 8, 1) + text(IMATRIX_DATASET)
          + text("imatrix.chunk_count") + struct.pack("<II", 4, IMATRIX_CHUNKS)
          + text("imatrix.chunk_size") + struct.pack("<II", 4, IMATRIX_CHUNK_SIZE))
    infos, blobs, off = b"", [], 0
    for name in sorted(stats):
        sums, count = stats[name]
        for suffix, arr in ((".in_sum2", sums), (".counts", np.array([count], np.float32))):
            infos += text(name + suffix) + struct.pack("<IQIQ", 1, arr.size, 0, off)
            data = arr.astype("<f4").tobytes()
            pad = -len(data) % 32
            blobs.append(data + b"\0" * pad)
            off += len(data) + pad
    head = b"GGUF" + struct.pack("<IQQ", 3, 2 * len(stats), 4) + kv + infos
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(head + b"\0" * (-len(head) % 32) + b"".join(blobs))
    tmp.replace(path)


def bench_imatrix(args, f16: Path) -> Path:
    """The model's synthetic importance matrix, written once into ``args.out`` (rewritten if its entries differ)."""
    import gguf

    path = args.out / f"{args.model.name}.imatrix.gguf"
    entries = imatrix_entries(f16)
    if path.exists():
        have = {t.name[:-len(".in_sum2")]: int(t.shape[0]) for t in gguf.GGUFReader(path).tensors
                if t.name.endswith(".in_sum2")}
        if have == entries:
            return path
    print(f"writing the importance matrix {path} ({len(entries)} entries, once) ...", flush=True)
    write_imatrix_gguf(path, imatrix_stats(entries))
    return path


# llama-quantize --imatrix FILE as tools/quantize/quantize.cpp does it around llama_model_quantize: load_imatrix
# (GGUF: weights = in_sum2 / float(count), 1 where the count is 0), params.imatrix, then the kv overrides
# quantize.imatrix.file / .dataset / .entries_count / .chunks_count in the tool's order. Loading is timed too.
LLAMA_QUANTIZE_IMATRIX = r"""
import ctypes, sys
import gguf, llama_cpp, numpy as np
src, dst, imatrix_file, ftype, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
r = gguf.GGUFReader(imatrix_file)
fields = {f.name: f for f in r.fields.values()}
if not all(k in fields for k in ("imatrix.datasets", "imatrix.chunk_count", "imatrix.chunk_size")):
    sys.exit(f"missing imatrix metadata in file {imatrix_file}")
ds = fields["imatrix.datasets"]
datasets = [bytes(ds.parts[i]).decode() for i in ds.data]
cc = fields["imatrix.chunk_count"]
chunks = int(cc.parts[cc.data[0]][0])
sums = {t.name[:-8]: np.asarray(t.data, np.float32).reshape(-1) for t in r.tensors if t.name.endswith(".in_sum2")}
counts = {t.name[:-7]: np.asarray(t.data, np.float32).reshape(-1) for t in r.tensors if t.name.endswith(".counts")}
weights = {}
for name, s in sums.items():
    c = counts[name]
    ne0 = s.size // c.size
    w = np.empty(s.size, np.float32)
    for j in range(c.size):
        cnt = np.float32(int(np.floor(np.float64(c[j]) + 0.5)))  # common_imatrix_load keeps int64 counts (lround)
        w[j * ne0:(j + 1) * ne0] = s[j * ne0:(j + 1) * ne0] / cnt if cnt > 0 else np.float32(1)
    weights[name] = w
p = llama_cpp.llama_model_quantize_default_params()
p.nthread, p.ftype = threads, ftype
arr = (llama_cpp.llama_model_imatrix_data * (len(weights) + 1))()
for i, (name, w) in enumerate(weights.items()):
    arr[i].name, arr[i].data, arr[i].size = name.encode(), w.ctypes.data_as(ctypes.POINTER(ctypes.c_float)), w.size
arr[len(weights)].name = None
p.imatrix = ctypes.cast(arr, ctypes.POINTER(llama_cpp.llama_model_imatrix_data))
STR, INT = llama_cpp.LLAMA_KV_OVERRIDE_TYPE_STR, llama_cpp.LLAMA_KV_OVERRIDE_TYPE_INT
items = [("quantize.imatrix.file", STR, imatrix_file.encode()[:127])]
if datasets:
    items.append(("quantize.imatrix.dataset", STR, datasets[0].encode()[:127]))
items.append(("quantize.imatrix.entries_count", INT, len(weights)))
if chunks > 0:
    items.append(("quantize.imatrix.chunks_count", INT, chunks))
kvo = (llama_cpp.llama_model_kv_override * (len(items) + 1))()
for i, (k, tag, v) in enumerate(items):
    kvo[i].key, kvo[i].tag = k.encode(), tag
    if tag == STR:
        kvo[i].value.val_str = v
    else:
        kvo[i].value.val_i64 = v
kvo[len(items)].key = b""
p.kv_overrides = ctypes.cast(kvo, ctypes.POINTER(llama_cpp.llama_model_kv_override))
sys.exit(llama_cpp.llama_model_quantize(src.encode(), dst.encode(), ctypes.byref(p)))
"""


def sha256(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 24), b""):
            h.update(chunk)
    return h.hexdigest()


def iq_rows(args, wick: list, f16: Path, step1: dict, have_llama: bool) -> list:
    """``--iq-types``: wick convert --imatrix --intermediate F16 beside llama-quantize --imatrix on the F16 file;
    byte-identity checked."""
    imatrix = bench_imatrix(args, f16)
    size = (args.model / "model.safetensors").stat().st_size
    rows = []
    for t in args.iq_types:
        out, report = args.out / f"synth-{t}-imatrix.gguf", args.out / f"synth-{t}-imatrix.json"
        w = measured(wick + ["convert", str(args.model), "-o", str(out), "--type", t, "--imatrix", str(imatrix),
                             "--intermediate", "F16", "--force", "--no-progress", "--threads", str(args.threads), "--json-report", str(report)])
        w["executor_s"] = json.loads(report.read_text())["seconds"]
        w["input_mb_per_s"] = size / w["wall_s"] / 1e6
        row = {"type": f"{t}+imatrix", "threads": args.threads, "wick": w, "wick_f16_step": step1,
               "imatrix": str(imatrix)}
        line = (f"  {t:<7} +imatrix wick (one step, --intermediate F16) {w['wall_s']:6.1f} s ({w['cpu_s']:6.1f}) "
                f"{w['input_mb_per_s']:5.0f} MB/s of bf16 input [tensors alone: {w['executor_s']:.1f} s]  "
                f"{w['peak_rss_mib']:6.0f} MiB")
        if not have_llama:
            print(line + " | llama-quantize not run (llama-cpp-python missing)", flush=True)
            rows.append(row)
            continue
        ref = args.out / f"llama-{t}-imatrix.gguf"
        q = measured([sys.executable, "-c", LLAMA_QUANTIZE_IMATRIX, str(f16), str(ref), str(imatrix),
                      str(IQ_FTYPES[t]), str(args.threads)])
        same = sha256(out) == sha256(ref)
        real_two = args.llama_step1_s + q["wall_s"]
        two = step1["wall_s"] + q["wall_s"]
        row.update(llama_quantize=q, identical=same, llama_two_steps_s=real_two,
                   wall_ratio_two_steps=w["wall_s"] / real_two, wall_ratio_quantize=w["wall_s"] / q["wall_s"],
                   cpu_ratio_quantize=w["cpu_s"] / q["cpu_s"], rss_ratio_quantize=w["peak_rss_mib"] / q["peak_rss_mib"])
        print(line + f" | llama-quantize --imatrix {q['wall_s']:6.1f} s ({q['cpu_s']:6.1f}) {q['peak_rss_mib']:6.0f} MiB"
              f" | files {'identical' if same else 'DIFFERENT'} (SHA-256)", flush=True)
        print(f"    wall ×{row['wall_ratio_two_steps']:.2f} of llama.cpp's two steps ({args.llama_step1_s:.1f} s by hand + "
              f"{q['wall_s']:.1f} s), ×{w['wall_s'] / two:.2f} with Wick's F16 run as step 1, "
              f"×{row['wall_ratio_quantize']:.2f} of llama-quantize alone; CPU ×{row['cpu_ratio_quantize']:.2f} and "
              f"peak RSS ×{row['rss_ratio_quantize']:.2f} of llama-quantize's", flush=True)
        rows.append(row)
    return rows


if __name__ == "__main__":
    sys.exit(main())
