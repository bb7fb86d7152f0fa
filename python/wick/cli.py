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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wick", description="Quantize model weights to GGUF with a fast Go core.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = sub.add_parser("types", help="list the ggml types and what Wick can do with each")
    p.set_defaults(func=_cmd_types)
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
