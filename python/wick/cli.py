"""The ``wick`` command line (also ``python -m wick``).

Subcommands: ``convert`` (a Hugging Face model directory to GGUF, with a dry
run), ``inspect`` (metadata and tensors of a GGUF or safetensors file),
``types`` (the ggml type table) and ``version``. Errors print one line,
``wick: error: ...``, and exit 1; Ctrl-C exits 130. See docs/cli.md.
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional


def _cmd_types(args: argparse.Namespace) -> int:
    import wick

    rows = [("name", "id", "block", "bytes", "bits/w", "quantize", "dequantize")]
    for t in wick.types():
        rows.append((t.name, str(t.id), str(t.block_size), str(t.type_size), f"{t.bits_per_weight:.4g}",
                     "yes" if t.can_quantize else "-", "yes" if t.can_dequantize else "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    return 0


def _cmd_version(args: argparse.Namespace) -> int:
    import wick

    info = wick.library_info()
    print(f"wick {wick.__version__} (native library ABI {info['abi_version']}, {info['go_version']}, {info['goarch']})")
    return 0


def _fmt_value(v: object, limit: int = 60) -> str:
    if isinstance(v, list):
        head = ", ".join(_fmt_value(x, 20) for x in v[:5])
        return f"[{head}{', ...' if len(v) > 5 else ''}] ({len(v)} items)"
    s = repr(v)
    return s if len(s) <= limit else s[: limit - 3] + "..."


def _print_table(rows: list) -> None:
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())


def _cmd_inspect(args: argparse.Namespace) -> int:
    import os

    import wick

    path = args.file
    is_gguf = False
    if os.path.isfile(path):
        with open(path, "rb") as f:
            is_gguf = f.read(4) == b"GGUF"
    if is_gguf:
        with wick.gguf.open(path) as g:
            print(f"{path}: GGUF v{g.version}, alignment {g.alignment}, {len(g.metadata)} metadata keys, {len(g.tensors)} tensors\n")
            rows = [("key", "type", "value")]
            for kv in g.metadata.kvs:
                t = kv.type.name + (f"[{kv.element_type.name}]" if kv.element_type is not None else "")
                rows.append((kv.key, t, _fmt_value(kv.value)))
            _print_table(rows)
            print()
            rows = [("tensor", "type", "shape", "bytes")]
            total = 0
            for t in g.tensors.values():
                rows.append((t.name, t.type.name, "×".join(map(str, t.shape)) or "scalar", f"{t.nbytes:,}"))
                total += t.nbytes
            _print_table(rows)
            n = sum(t.n_elements for t in g.tensors.values())
            bpw = f", {8 * total / n:.2f} bits per weight" if n else ""
            print(f"\n{len(g.tensors)} tensors, {total:,} bytes{bpw}")
        return 0
    with wick.safetensors.open(path) as m:
        print(f"{path}: safetensors, {len(m.files)} file(s), {len(m.tensors)} tensors")
        for f, meta in m.file_metadata.items():
            if meta:
                print(f"  {os.path.basename(f)} metadata: {_fmt_value(meta, 200)}")
        qc = _quantization_config(path)
        if qc is not None:
            print(f"  config.json quantization_config: {_fmt_value(qc, 400)}")
        print()
        rows = [("tensor", "dtype", "shape", "bytes", "file")]
        for t in m.tensors.values():
            rows.append((t.name, t.dtype, "×".join(map(str, t.shape)) or "scalar", f"{t.nbytes:,}", os.path.basename(t.file)))
        _print_table(rows)
        _print_quant_states(m)
    return 0


def _quantization_config(path: str):
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


def _print_quant_states(m) -> None:
    """The bitsandbytes weights of a checkpoint: 4-bit quant states and LLM.int8 row scales."""
    import wick

    names = set(m.tensors)
    rows = [("weight", "format", "shape", "dtype", "blocksize", "double quant", "bytes (with state)")]
    for key in sorted(n for n in names if ".quant_state.bitsandbytes__" in n):
        weight = key.split(".quant_state.")[0]
        parts = {n: m[n] for n in names if n.startswith(weight + ".") and n != weight}
        state = wick.QuantState.from_dict(parts)
        nested = f"yes (offset {state.offset:.6g})" if state.nested else "no"
        size = sum(m.tensors[n].nbytes for n in parts) + (m.tensors[weight].nbytes if weight in names else 0)
        rows.append((weight, state.quant_type.upper(), "×".join(map(str, state.shape)), state.dtype, str(state.blocksize),
                     nested, f"{size:,}"))
    for scb in sorted(n for n in names if n.endswith(".SCB")):
        weight = scb[:-len(".SCB")] + ".weight"
        if weight in names:
            t = m.tensors[weight]
            size = t.nbytes + m.tensors[scb].nbytes + sum(m.tensors[n].nbytes for n in names if n == weight + "_format")
            rows.append((weight, "LLM.int8", "×".join(map(str, t.shape)), "float16 (row-wise int8)", "-", "-", f"{size:,}"))
    if len(rows) > 1:
        print(f"\nbitsandbytes weights ({len(rows) - 1}):")
        _print_table(rows)


def _plan_options(args: argparse.Namespace) -> dict:
    overrides = []
    for item in args.tensor_type:
        pat, sep, typ = item.rpartition("=")
        if not sep or not pat:
            raise SystemExit(f"wick: error: --tensor-type expects REGEX=TYPE, got {item!r}")
        overrides.append((pat, typ.upper()))
    opts = {"pure": args.pure, "tensor_types": overrides, "leave_output_tensor": args.leave_output_tensor}
    if args.output_tensor_type:
        opts["output_tensor_type"] = args.output_tensor_type.upper()
    if args.token_embedding_type:
        opts["token_embedding_type"] = args.token_embedding_type.upper()
    if getattr(args, "tokenizer_pre", None):
        opts["tokenizer_pre"] = args.tokenizer_pre
    if args.imatrix:
        opts["imatrix"] = args.imatrix
        opts["imatrix_include"] = args.include_weights
        opts["imatrix_exclude"] = args.exclude_weights
    elif args.include_weights or args.exclude_weights:
        raise SystemExit("wick: error: --include-weights / --exclude-weights need --imatrix")
    return opts


def _bnb_options(args: argparse.Namespace) -> dict:
    """The bitsandbytes output options given on the command line."""
    gguf_only = [flag for flag, given in (("--type", args.type), ("--pure", args.pure), ("--imatrix", args.imatrix),
                                          ("--tensor-type", args.tensor_type),
                                          ("--output-tensor-type", args.output_tensor_type),
                                          ("--token-embedding-type", args.token_embedding_type),
                                          ("--leave-output-tensor", args.leave_output_tensor),
                                          ("--tokenizer-pre", args.tokenizer_pre)) if given]
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


def _cmd_convert(args: argparse.Namespace) -> int:
    import json
    import os

    import wick
    from wick.convert import build_plan, format_plan_table

    if args.format != "gguf":
        return _convert_bnb(args)
    target = (args.type or "Q8_0").upper()
    if args.dry_run:
        print(format_plan_table(build_plan(args.model, target, **_plan_options(args))))
        return 0
    if not args.output:
        raise SystemExit("wick: error: -o/--output is required (or use --dry-run)")
    if os.path.exists(args.output) and not args.force:
        print(f"wick: error: {args.output} exists; pass --force to replace it", file=sys.stderr)
        return 1
    try:
        report = wick.convert(args.model, args.output, target, threads=args.threads, overwrite=args.force,
                              progress=not args.no_progress and sys.stderr.isatty() or args.progress,
                              **_plan_options(args))
    except KeyboardInterrupt:
        print(f"wick: interrupted; nothing was written to {args.output}", file=sys.stderr)
        return 130
    print(report)
    if args.json_report:
        with open(args.json_report, "w", encoding="utf-8") as f:
            json.dump({"output": report.output, "target": report.target, "seconds": report.seconds,
                       "file_bytes": report.file_bytes, "tensors": report.to_dicts()}, f, indent=1)
    return 0


def _convert_bnb(args: argparse.Namespace) -> int:
    """``wick convert DIR -o OUT_DIR --format bnb-nf4|bnb-fp4|bnb-int8``."""
    import json
    import os

    import wick
    from wick.convert import build_bnb_plan, format_bnb_plan_table

    opts = _bnb_options(args)
    if args.dry_run:
        print(format_bnb_plan_table(build_bnb_plan(args.model, format=args.format, **opts)))
        return 0
    if not args.output:
        raise SystemExit("wick: error: -o/--output is required (or use --dry-run)")
    if os.path.exists(args.output) and not args.force:
        print(f"wick: error: {args.output} exists; pass --force to replace it", file=sys.stderr)
        return 1
    try:
        report = wick.convert(args.model, args.output, format=args.format, threads=args.threads, overwrite=args.force,
                              progress=not args.no_progress and sys.stderr.isatty() or args.progress, **opts)
    except KeyboardInterrupt:
        print(f"wick: interrupted; nothing was written to {args.output}", file=sys.stderr)
        return 130
    print(report)
    if args.json_report:
        with open(args.json_report, "w", encoding="utf-8") as f:
            json.dump({"output": report.output, "target": report.target, "seconds": report.seconds,
                       "file_bytes": report.file_bytes, "tensors": report.to_dicts()}, f, indent=1)
    return 0


def _add_bnb_options(p: argparse.ArgumentParser) -> None:
    from wick.convert.bnb import BLOCKSIZES, FORMATS

    g = p.add_argument_group("bitsandbytes output (--format bnb-nf4, bnb-fp4, bnb-int8)")
    g.add_argument("--format", default="gguf", choices=("gguf",) + FORMATS,
                   help="gguf (default): a GGUF file; bnb-nf4, bnb-fp4, bnb-int8: a Hugging Face model directory of "
                   "bitsandbytes 4-bit or LLM.int8 weights that transformers loads")
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


def _add_plan_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pure", action="store_true", help="no mixture: every quantizable tensor gets the target's default type")
    p.add_argument("--output-tensor-type", help="ggml type for output.weight")
    p.add_argument("--token-embedding-type", help="ggml type for token_embd.weight")
    p.add_argument("--tensor-type", action="append", default=[], metavar="REGEX=TYPE",
                   help="override the type of tensors whose name matches REGEX (repeatable)")
    p.add_argument("--leave-output-tensor", action="store_true", help="keep output.weight unquantized")
    p.add_argument("--imatrix", metavar="FILE",
                   help="importance matrix (llama-imatrix output, GGUF or legacy .dat), as llama-quantize --imatrix")
    p.add_argument("--include-weights", action="append", default=[], metavar="NAME",
                   help="use the imatrix only for tensors whose name contains NAME (repeatable)")
    p.add_argument("--exclude-weights", action="append", default=[], metavar="NAME",
                   help="do not use the imatrix for tensors whose name contains NAME (repeatable)")


def _add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", help="the GGUF file (or, for --format bnb-*, the directory) to write")
    p.add_argument("--threads", type=int, help="quantization threads (default: every available core)")
    p.add_argument("--dry-run", action="store_true", help="print the plan (metadata and per-tensor types) and stop")
    p.add_argument("--force", action="store_true", help="replace an existing output file (or model directory)")
    p.add_argument("--json-report", metavar="PATH", help="also write the per-tensor report as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--progress", action="store_true", help="a progress bar even when stderr is not a terminal")


def _cmd_quantize(args: argparse.Namespace) -> int:
    import json
    import os

    from wick.convert import format_plan_table, requantize_plan

    target = args.type.upper()
    plan = requantize_plan(args.input, target, **_plan_options(args))
    if args.dry_run:
        print(plan.to_json(indent=1) if args.json else format_plan_table(plan, metadata=not args.no_metadata))
        return 0
    if not args.output:
        raise SystemExit("wick: error: -o/--output is required (or use --dry-run)")
    if os.path.exists(args.output) and not args.force:
        print(f"wick: error: {args.output} exists; pass --force to replace it", file=sys.stderr)
        return 1
    from wick.convert.execute import execute

    try:
        report = execute(plan, args.output, overwrite=args.force, threads=args.threads,
                         progress=not args.no_progress and sys.stderr.isatty() or args.progress)
    except KeyboardInterrupt:
        print(f"wick: interrupted; nothing was written to {args.output}", file=sys.stderr)
        return 130
    print(report)
    if args.json_report:
        with open(args.json_report, "w", encoding="utf-8") as f:
            json.dump({"output": report.output, "target": report.target, "seconds": report.seconds,
                       "file_bytes": report.file_bytes, "tensors": report.to_dicts()}, f, indent=1)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``wick`` command and its subcommands."""
    parser = argparse.ArgumentParser(prog="wick", description="Quantize model weights to GGUF with a fast Go core.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = sub.add_parser("types", help="list the ggml types and what Wick can do with each")
    p.set_defaults(func=_cmd_types)
    p = sub.add_parser("inspect", help="print the metadata and tensor table of a GGUF or safetensors file")
    p.add_argument("file", help="a .gguf file, a .safetensors file, an index.json or a model directory")
    p.set_defaults(func=_cmd_inspect)
    p = sub.add_parser("convert", help="convert a Hugging Face model directory to a quantized GGUF file "
                       "(or a bitsandbytes model directory)",
                       description="Convert a Hugging Face model directory (config.json, tokenizer, safetensors) to a "
                       "GGUF file llama.cpp loads, quantized with llama-quantize's per-tensor mixture for --type; "
                       "or, with --format bnb-nf4/bnb-fp4/bnb-int8, to a bitsandbytes model directory that "
                       "transformers' from_pretrained loads.")
    p.add_argument("model", help="the model directory")
    p.add_argument("--type", help="GGUF target: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K_S/M/L, "
                   "Q4_K_S/M, Q5_K_S/M, Q6_K, IQ4_NL (default Q8_0)")
    _add_run_options(p)
    p.add_argument("--tokenizer-pre", help="force tokenizer.ggml.pre (byte-level BPE only)")
    _add_plan_options(p)
    _add_bnb_options(p)
    p.set_defaults(func=_cmd_convert)
    p = sub.add_parser("quantize", help="requantize an F32/F16/BF16 GGUF model as llama-quantize does",
                       description="Requantize a GGUF model whose tensors are F32, F16 or BF16 to --type, writing the "
                       "file llama-quantize would write (same per-tensor types, metadata and bytes), optionally "
                       "weighted by an importance matrix (--imatrix).")
    p.add_argument("input", help="the GGUF model to requantize")
    p.add_argument("--type", required=True, help="target: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, "
                   "Q3_K_S/M/L, Q4_K_S/M, Q5_K_S/M, Q6_K, IQ4_NL")
    _add_run_options(p)
    p.add_argument("--json", action="store_true", help="with --dry-run: print the plan as JSON")
    p.add_argument("--no-metadata", action="store_true", help="with --dry-run: leave out the metadata section")
    _add_plan_options(p)
    p.set_defaults(func=_cmd_quantize)
    p = sub.add_parser("version", help="print Wick's version and its native library's")
    p.set_defaults(func=_cmd_version)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Run the ``wick`` command with ``argv`` (default: ``sys.argv[1:]``) and return its
    exit status: 0 success, 1 error (printed as one line), 2 usage, 130 interrupted.
    An internal error (a bug in Wick) propagates with its traceback."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("wick: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # a readable message, not a traceback
        from wick.errors import WickInternalError

        if isinstance(e, WickInternalError):
            raise
        print(f"wick: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
