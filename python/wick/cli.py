"""The ``wick`` command line."""

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
        print()
        rows = [("tensor", "dtype", "shape", "bytes", "file")]
        for t in m.tensors.values():
            rows.append((t.name, t.dtype, "×".join(map(str, t.shape)) or "scalar", f"{t.nbytes:,}", os.path.basename(t.file)))
        _print_table(rows)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wick", description="Quantize model weights to GGUF with a fast Go core.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = sub.add_parser("types", help="list the ggml types and what Wick can do with each")
    p.set_defaults(func=_cmd_types)
    p = sub.add_parser("inspect", help="print the metadata and tensor table of a GGUF or safetensors file")
    p.add_argument("file", help="a .gguf file, a .safetensors file, an index.json or a model directory")
    p.set_defaults(func=_cmd_inspect)
    p = sub.add_parser("version", help="print Wick's version and its native library's")
    p.set_defaults(func=_cmd_version)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
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
