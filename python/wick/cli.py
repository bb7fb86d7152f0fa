"""The ``wick`` command line (also ``python -m wick``).

Subcommands: ``convert`` (a Hugging Face model directory to GGUF, with a dry
run), ``quantize`` (GGUF → GGUF), ``export-hf`` (GGUF back to a Hugging Face
directory), ``inspect`` (metadata and tensors of a GGUF or safetensors file),
``types`` (the ggml type table) and ``version``. Errors print one line,
``wick: error: ...``, and exit 1; Ctrl-C exits 130, and SIGTERM / SIGHUP stop
the work the same clean way (exit 128 + the signal's number). See docs/cli.md.
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any, Callable, List, Optional


def _cmd_types(args: argparse.Namespace) -> int:
    import wick
    from wick import _display

    rows = [("name", "id", "block", "bytes", "bits/w", "quantize", "dequantize")]
    for t in wick.types():
        rows.append((t.name, str(t.id), str(t.block_size), str(t.type_size), f"{t.bits_per_weight:.4g}",
                     "yes" if t.can_quantize else "-", "yes" if t.can_dequantize else "-"))
    print(_display.table(rows, right=(1, 2, 3, 4)))
    from wick.convert.ggml_types import TARGETS

    print()
    print("conversion targets (wick convert/quantize --type): llama-quantize's names and per-tensor mixtures")
    rows = [("target", "llama_ftype", "default type", "imatrix")]
    for tg in TARGETS.values():
        im = "required" if tg.needs_imatrix else ("optional" if tg.via_quantize else "-")
        rows.append((tg.name, str(tg.ftype), tg.default_type, im))
    print(_display.table(rows, right=(1,)))
    return 0


def _target_help() -> str:
    """The --type choices, from the target table."""
    from wick.convert.ggml_types import TARGETS

    names = list(TARGETS)
    need = [t.name for t in TARGETS.values() if t.needs_imatrix]
    return ", ".join(names) + f" ({', '.join(need)} need --imatrix)"


def _cmd_version(args: argparse.Namespace) -> int:
    import wick

    info = wick.library_info()
    print(f"wick {wick.__version__} (native library ABI {info['abi_version']}, {info['go_version']}, {info['goarch']})")
    return 0


def _cmd_inspect(args: argparse.Namespace) -> int:
    import os

    import wick
    from wick import _display as D

    path = args.file
    is_gguf = False
    if os.path.isfile(path):
        with open(path, "rb") as f:
            is_gguf = f.read(4) == b"GGUF"
    if is_gguf:
        with wick.gguf.open(path) as g:
            print(f"{path}: GGUF v{g.version}, alignment {g.alignment}, {len(g.metadata)} metadata keys, {len(g.tensors)} tensors")
            if len(g.parts) > 1:
                print(f"split model: {len(g.parts)} parts: " + ", ".join(os.path.basename(p) for p in g.parts))
            print()
            print(D.table(D.metadata_rows(g.metadata.kvs)))
            print()
            split = len(g.parts) > 1
            rows = [("tensor", "type", "shape", "bytes") + (("part",) if split else ())]
            total = 0
            for t in g.tensors.values():
                rows.append((t.name, t.type.name, D.shape(t.shape), D.nbytes(t.nbytes))
                            + ((str(t.part + 1),) if split else ()))
                total += t.nbytes
            print(D.table(rows, right=(3,)))
            n = sum(t.n_elements for t in g.tensors.values())
            bpw = f", {8 * total / n:.2f} bits per weight" if n else ""
            print(f"\n{len(g.tensors)} tensors, {D.nbytes(total)} bytes{bpw}")
        return 0
    with wick.safetensors.open(path) as m:
        print(f"{path}: safetensors, {len(m.files)} file(s), {len(m.tensors)} tensors")
        for f, meta in m.file_metadata.items():
            if meta:
                print(f"  {os.path.basename(f)} metadata: {D.scalar(meta)[:200]}")
        qc = _quantization_config(path)
        if qc is not None:
            print(f"  config.json quantization_config: {D.scalar(qc)[:400]}")
        print()
        rows = [("tensor", "dtype", "shape", "bytes", "file")]
        for t in m.tensors.values():
            rows.append((t.name, t.dtype, D.shape(t.shape), D.nbytes(t.nbytes), os.path.basename(t.file)))
        print(D.table(rows, right=(3,)))
        _print_quant_states(m)
    return 0


def _quantization_config(path: str) -> Optional[dict]:
    """config.json's quantization_config beside a model directory's shards, or None."""
    import json
    import os

    d = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    try:
        with open(os.path.join(d, "config.json"), encoding="utf-8") as f:
            qc = json.load(f).get("quantization_config")
    except (OSError, ValueError, AttributeError):
        return None
    return qc if isinstance(qc, dict) else None


def _print_quant_states(m: Any) -> None:
    """The bitsandbytes weights of a checkpoint: 4-bit quant states and LLM.int8 row scales."""
    import wick
    from wick import _display as D

    names = set(m.tensors)
    rows = [("weight", "format", "shape", "dtype", "blocksize", "double quant", "bytes (with state)")]
    for key in sorted(n for n in names if ".quant_state.bitsandbytes__" in n):
        weight = key.split(".quant_state.")[0]
        parts = {n: m[n] for n in names if n.startswith(weight + ".") and n != weight}
        state = wick.QuantState.from_dict(parts)
        nested = f"yes (offset {state.offset:.6g})" if state.nested else "no"
        size = sum(m.tensors[n].nbytes for n in parts) + (m.tensors[weight].nbytes if weight in names else 0)
        rows.append((weight, state.quant_type.upper(), D.shape(state.shape), state.dtype, str(state.blocksize),
                     nested, D.nbytes(size)))
    for scb in sorted(n for n in names if n.endswith(".SCB")):
        weight = scb[:-len(".SCB")] + ".weight"
        if weight in names:
            t = m.tensors[weight]
            size = t.nbytes + m.tensors[scb].nbytes + sum(m.tensors[n].nbytes for n in names if n == weight + "_format")
            rows.append((weight, "LLM.int8", D.shape(t.shape), "float16 (row-wise int8)", "-", "-", D.nbytes(size)))
    if len(rows) > 1:
        print(f"\nbitsandbytes weights ({len(rows) - 1}):")
        print(D.table(rows, right=(6,)))


def _cmd_convert(args: argparse.Namespace) -> int:
    from wick.convert import build_plan
    from wick.convert.options import CONVERT, PlanOptions

    if args.list_architectures:
        from wick.convert.archs import format_architecture_table

        print(format_architecture_table())
        return 0
    if not args.model:
        raise SystemExit("wick: error: the model (a directory or a Hub id Org/Name) is required (or use --list-architectures)")
    if args.format != "gguf":
        return _convert_bnb(args)
    return _run_plan(args, lambda: build_plan(args.model, (args.type or "Q8_0").upper(),
                                              PlanOptions.from_arguments(args, CONVERT)))


def _bnb_options(args: argparse.Namespace) -> dict:
    """The bitsandbytes output options given on the command line (the GGUF ones refused)."""
    from wick.convert.options import CONVERT, PlanOptions

    gguf_only = (["--type"] if args.type else []) + sorted(
        PlanOptions.__dataclass_fields__[n].metadata["flag"] for n in PlanOptions.from_arguments(args, CONVERT).changed())
    if gguf_only:
        raise SystemExit(f"wick: error: {', '.join(gguf_only)}: only for GGUF output, not --format {args.format}")
    opts = {"double_quant": not args.no_double_quant, "blocksize": args.blocksize, "rules": args.rules,
            "quant_storage": args.quant_storage, "max_shard_size": args.max_shard_size,
            "torch_threads": args.torch_threads}
    if args.compute_dtype:
        opts["compute_dtype"] = args.compute_dtype
    if args.skip_modules:
        opts["skip_modules"] = tuple(m for item in args.skip_modules for m in item.split(",") if m)
    return opts


def _convert_bnb(args: argparse.Namespace) -> int:
    """``wick convert DIR -o OUT_DIR --format bnb-nf4|bnb-fp4|bnb-int8``."""
    import os

    from wick.convert import build_bnb_plan, format_bnb_plan_table
    from wick.convert.execute import execute

    opts = _bnb_options(args)
    if not args.dry_run:
        if not args.output:
            raise SystemExit("wick: error: -o/--output is required (or use --dry-run)")
        if os.path.exists(args.output) and not args.force:
            print(f"wick: error: {args.output} exists; pass --force to replace it", file=sys.stderr)
            return 1
    plan = build_bnb_plan(args.model, format=args.format, **opts)
    if args.dry_run:
        print(plan.to_json(indent=1) if args.json else format_bnb_plan_table(plan))
        return 0
    try:
        report = execute(plan, args.output, overwrite=args.force, threads=args.threads,
                         progress=not args.no_progress and sys.stderr.isatty() or args.progress)
    except KeyboardInterrupt:
        print(f"wick: interrupted; nothing was written to {args.output}", file=sys.stderr)
        return 130
    print(report)
    if args.json_report:
        _write_json_report(report, args.json_report)
    return 0


def _add_bnb_options(p: argparse.ArgumentParser) -> None:
    from wick.convert.bnb import BLOCKSIZES, FORMATS

    g = p.add_argument_group("bitsandbytes output (--format bnb-nf4, bnb-fp4, bnb-int8)")
    g.add_argument("--format", default="gguf", choices=("gguf",) + FORMATS,
                   help="gguf (default): a GGUF file; bnb-nf4, bnb-fp4, bnb-int8: a Hugging Face model directory of "
                   "bitsandbytes 4-bit or LLM.int8 weights that transformers loads (-o names the directory)")
    g.add_argument("--no-double-quant", action="store_true", help="4-bit: keep absmax in float32 (no double quantization)")
    g.add_argument("--blocksize", type=int, default=64, choices=BLOCKSIZES, help="4-bit: elements per block (64)")
    g.add_argument("--compute-dtype", choices=("bfloat16", "float16", "float32"),
                   help="4-bit: bnb_4bit_compute_dtype (default: the checkpoint's dtype)")
    g.add_argument("--quant-storage", default="uint8", choices=("uint8", "int8", "float16", "bfloat16", "float32"),
                   help="4-bit: the dtype the packed codes are stored as (uint8)")
    g.add_argument("--skip-modules", action="append", default=[], metavar="NAME[,NAME]",
                   help="llm_int8_skip_modules: modules to keep unquantized instead of the default (lm_head); repeatable")
    g.add_argument("--rules", default="cuda", choices=("cuda", "cpu"),
                   help="bitsandbytes' CUDA kernels (default: what published checkpoints use) or its CPU backend")
    g.add_argument("--max-shard-size", default="5GB", help="largest safetensors shard (5GB, decimal units as transformers)")
    g.add_argument("--torch-threads", type=int, default=1,
                   help="--rules cpu: the torch thread count whose float32 mean the nested offset reproduces (1)")


def _cmd_quantize(args: argparse.Namespace) -> int:
    from wick.convert import requantize_plan
    from wick.convert.options import REQUANTIZE, PlanOptions

    return _run_plan(args, lambda: requantize_plan(args.input, args.type.upper(),
                                                   PlanOptions.from_arguments(args, REQUANTIZE)))


def _cmd_convert_lora(args: argparse.Namespace) -> int:
    from wick.convert.lora import build_lora_plan

    return _run_plan(args, lambda: build_lora_plan(args.adapter, args.base, args.type))
def _cmd_export_hf(args: argparse.Namespace) -> int:
    from wick.convert.export_hf import export_hf, exportable_architectures, unexported_architectures

    if args.list_architectures:
        pairs = exportable_architectures()
        width = max(len(a) for a, _ in pairs)
        for arch, hf in pairs:
            print(f"{arch:<{width}}  {hf}")
        print(f"not exported yet (wick convert writes them): {', '.join(unexported_architectures())}")
        return 0
    if not args.gguf or not args.output:
        raise SystemExit("wick: error: export-hf needs a GGUF file and -o/--output")
    bar = None
    if not args.no_progress and (sys.stderr.isatty() or args.progress):
        from tqdm.auto import tqdm

        bar = tqdm(unit="tensor", dynamic_ncols=True, leave=False)

    def progress(done: int, total: int, name: str) -> None:
        bar.total = total
        bar.set_postfix_str(name, refresh=False)
        bar.update(done - bar.n)

    try:
        result = export_hf(args.gguf, args.output, dtype=args.dtype, architecture=args.architecture,
                           max_shard_size=args.max_shard_size, overwrite=args.force,
                           progress=progress if bar is not None else None)
    except KeyboardInterrupt:
        print(f"wick: interrupted; nothing was written to {args.output}", file=sys.stderr)
        return 130
    finally:
        if bar is not None:
            bar.close()
    note = f"; dequantized from {', '.join(result.dequantized)}" if result.dequantized else ""
    print(f"{result.path}: {result.architecture}, {result.tensors} tensors as {result.dtype}{note}")
    for f in result.files:
        print(f"  {f}")
    return 0


def _run_plan(args: argparse.Namespace, make_plan: Callable[[], Any]) -> int:
    """Plan, then print the plan (--dry-run) or execute it and print the report."""
    from wick.convert import _execute, format_plan_table

    if not args.dry_run:
        if not args.output:
            raise SystemExit("wick: error: -o/--output is required (or use --dry-run)")
        if _output_exists(args):
            print(f"wick: error: {args.output} exists; pass --force to replace it", file=sys.stderr)
            return 1
    plan = make_plan()
    if args.dry_run:
        print(plan.to_json(indent=1) if args.json else format_plan_table(plan, metadata=not args.no_metadata))
        return 0
    try:
        report = _execute(plan, args.output, overwrite=args.force, threads=args.threads,
                          progress=not args.no_progress and sys.stderr.isatty() or args.progress)
    except KeyboardInterrupt:
        print(f"wick: interrupted; nothing was written to {args.output}", file=sys.stderr)
        return 130
    print(report)
    if args.json_report:
        _write_json_report(report, args.json_report)
    return 0


def _json_safe(v: object) -> object:
    """NaN and ±inf as the strings "nan", "inf", "-inf" (as the library writes them): JSON has no such numbers."""
    if isinstance(v, float) and not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if isinstance(v, dict):
        return {k: _json_safe(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_json_safe(x) for x in v]
    return v


def _write_json_report(report: object, path: str) -> None:
    import json

    with open(path, "w", encoding="utf-8") as f:
        json.dump(_json_safe(report.to_dict()), f, indent=1, allow_nan=False)


def _add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", help="the GGUF file to write")
    p.add_argument("--threads", type=int, help="quantization threads (default: every available core)")
    p.add_argument("--dry-run", action="store_true", help="print the plan (metadata and per-tensor types) and stop")
    p.add_argument("--force", action="store_true", help="replace an existing output file")
    p.add_argument("--json-report", metavar="PATH", help="also write the per-tensor report as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--progress", action="store_true", help="a progress bar even when stderr is not a terminal")
    p.add_argument("--json", action="store_true", help="with --dry-run: print the plan as JSON")
    p.add_argument("--no-metadata", action="store_true", help="with --dry-run: leave out the metadata section")


def _output_exists(args: argparse.Namespace) -> bool:
    """Whether -o names an existing file (split output: the parts, checked by the writer)."""
    import os

    split = args.split_max_size is not None or args.split_max_tensors is not None
    return not split and os.path.exists(args.output) and not args.force


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``wick`` command and its subcommands."""
    from wick.convert.options import CONVERT, REQUANTIZE, PlanOptions

    parser = argparse.ArgumentParser(prog="wick", description="Quantize model weights to GGUF with a fast Go core.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = sub.add_parser("types", help="list the ggml types and what Wick can do with each")
    p.set_defaults(func=_cmd_types)
    p = sub.add_parser("inspect", help="print the metadata and tensor table of a GGUF or safetensors file")
    p.add_argument("file", help="a .gguf file, a .safetensors file, an index.json or a model directory")
    p.set_defaults(func=_cmd_inspect)
    p = sub.add_parser("convert", help="convert a Hugging Face model (directory or Hub id) to a quantized GGUF file "
                       "(or a bitsandbytes model directory)",
                       description="Convert a Hugging Face model directory (config.json, tokenizer, safetensors) to a "
                       "GGUF file llama.cpp loads, quantized with llama-quantize's per-tensor mixture for --type; "
                       "or, with --format bnb-nf4/bnb-fp4/bnb-int8, to a bitsandbytes model directory that "
                       "transformers' from_pretrained loads.")
    p.add_argument("model", nargs="?", help="the model directory, or a Hugging Face Hub model id Org/Name (from the "
                   "cache, else downloaded; needs wick[hub])")
    p.add_argument("--list-architectures", action="store_true",
                   help="list the Hugging Face model classes Wick converts, with their GGUF architecture, and exit")
    p.add_argument("--type", help=f"GGUF target (default Q8_0): {_target_help()}")
    _add_run_options(p)
    PlanOptions.add_arguments(p, CONVERT)
    _add_bnb_options(p)
    p.set_defaults(func=_cmd_convert)
    p = sub.add_parser("convert-lora", help="convert a PEFT LoRA adapter to a GGUF adapter for llama.cpp",
                       description="Convert a PEFT LoRA adapter directory (adapter_config.json, "
                       "adapter_model.safetensors) to the GGUF adapter llama.cpp loads with --lora: the file "
                       "llama.cpp's convert_lora_to_gguf.py writes, byte for byte. Only the base model's config.json "
                       "is read.")
    p.add_argument("adapter", help="the adapter directory")
    p.add_argument("--base", required=True, help="the base model's Hugging Face directory (its config.json is read)")
    p.add_argument("--type", default="F32", type=str.upper, choices=("F32", "F16", "BF16", "Q8_0"),
                   help="F32 (default, as convert_lora_to_gguf.py), F16, BF16 or Q8_0")
    _add_run_options(p)
    p.set_defaults(func=_cmd_convert_lora, split_max_size=None, split_max_tensors=None)
    p = sub.add_parser("quantize", help="requantize an F32/F16/BF16 GGUF model as llama-quantize does",
                       description="Requantize a GGUF model whose tensors are F32, F16 or BF16 to --type, writing the "
                       "file llama-quantize would write (same per-tensor types, metadata and bytes), optionally "
                       "weighted by an importance matrix (--imatrix).")
    p.add_argument("input", help="the GGUF model to requantize")
    p.add_argument("--type", required=True, help=f"target: {_target_help()}")
    _add_run_options(p)
    PlanOptions.add_arguments(p, REQUANTIZE)
    p.set_defaults(func=_cmd_quantize)
    p = sub.add_parser("export-hf", help="write a GGUF model back as a Hugging Face model directory (safetensors, "
                       "config.json, tokenizer) that transformers loads",
                       description="Write a GGUF model back as a Hugging Face model directory: safetensors shards "
                       "(dequantized; the q/k permutation, expert stacking and other transforms undone), "
                       "config.json, generation_config.json, tokenizer.json and tokenizer_config.json (and "
                       "tokenizer.model for SentencePiece vocabularies). See docs/export-hf.md.")
    p.add_argument("gguf", nargs="?", help="the GGUF file (the first part of a split model)")
    p.add_argument("-o", "--output", help="the model directory to create")
    p.add_argument("--dtype", default="bf16", choices=("bf16", "f16", "f32"), help="tensor dtype (default bf16)")
    p.add_argument("--architecture", help="the transformers class to write (default: from the file)")
    p.add_argument("--max-shard-size", default="5GB", help="largest safetensors file, e.g. 5GB (default), 500MB")
    p.add_argument("--force", action="store_true", help="replace an existing output directory")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--progress", action="store_true", help="a progress bar even when stderr is not a terminal")
    p.add_argument("--list-architectures", action="store_true",
                   help="list the GGUF architectures and Hugging Face classes export-hf writes, and exit")
    p.set_defaults(func=_cmd_export_hf)
    p = sub.add_parser("version", help="print Wick's version and its native library's")
    p.set_defaults(func=_cmd_version)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Run the ``wick`` command with ``argv`` (default: ``sys.argv[1:]``) and return its
    exit status: 0 success, 1 error (printed as one line), 2 usage, 130 interrupted
    (129 and 143 for SIGHUP and SIGTERM, which stop the work as Ctrl-C does).
    An internal error (a bug in Wick) propagates with its traceback."""
    from wick._signals import terminate_as_interrupt

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from wick.convert.options import command_line

    try:
        with command_line(), terminate_as_interrupt() as received:  # messages name options by their flags
            status = args.func(args)
        return 128 + received.signum if status == 130 and received.signum else status
    except KeyboardInterrupt as e:
        print("wick: interrupted", file=sys.stderr)
        return 128 + getattr(e, "signum", 2)
    except BrokenPipeError:
        # the reader went away (`wick inspect f.gguf | head`): not worth a message; point stdout
        # at /dev/null so that the flush at exit does not fail again
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as e:  # a readable message, not a traceback
        from wick.errors import WickInternalError

        if isinstance(e, WickInternalError):
            raise
        print(f"wick: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
