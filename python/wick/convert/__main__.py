"""``python -m wick.convert MODEL_DIR --type Q4_K_M``: print the conversion plan (a dry run).

Prints :func:`~wick.convert.format_plan_table`, or the plan JSON with
``--json``. Nothing is converted; this works without Wick's native library.
"""

from __future__ import annotations

import argparse
import sys

from . import TARGETS, build_plan, format_plan_table
from .errors import ConvertError


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m wick.convert", description="Show the plan for converting a "
                                 "Hugging Face model directory to GGUF (dry run).")
    ap.add_argument("model", help="Hugging Face model directory (config.json, tokenizer, *.safetensors)")
    ap.add_argument("--type", default="Q8_0", help=f"target: {', '.join(TARGETS)} (default Q8_0)")
    ap.add_argument("--json", action="store_true", help="print the plan as JSON instead of a table")
    ap.add_argument("--no-metadata", action="store_true", help="table: leave out the metadata section")
    ap.add_argument("--tokenizer-pre", help="force tokenizer.ggml.pre for a byte-level BPE tokenizer")
    ap.add_argument("--pure", action="store_true", help="no mixture: every quantizable tensor gets the default type")
    ap.add_argument("--output-tensor-type", help="ggml type for output.weight")
    ap.add_argument("--token-embedding-type", help="ggml type for token_embd.weight")
    ap.add_argument("--tensor-type", action="append", default=[], metavar="REGEX=TYPE",
                    help="override the type of tensors whose name matches REGEX (repeatable)")
    ap.add_argument("--leave-output-tensor", action="store_true", help="keep output.weight unquantized")
    ap.add_argument("--imatrix", help="importance matrix file (llama-imatrix output), as llama-quantize --imatrix")
    a = ap.parse_args(argv)
    overrides = []
    for item in a.tensor_type:
        pat, sep, typ = item.rpartition("=")
        if not sep or not pat:
            ap.error(f"--tensor-type expects REGEX=TYPE, got {item!r}")
        overrides.append((pat, typ.upper()))
    try:
        plan = build_plan(a.model, a.type, tokenizer_pre=a.tokenizer_pre, pure=a.pure,
                          output_tensor_type=a.output_tensor_type and a.output_tensor_type.upper(),
                          token_embedding_type=a.token_embedding_type and a.token_embedding_type.upper(),
                          tensor_types=overrides, leave_output_tensor=a.leave_output_tensor, imatrix=a.imatrix)
    except (ConvertError, OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if a.json:
        print(plan.to_json(indent=1))
    else:
        print(format_plan_table(plan, metadata=not a.no_metadata))
    return 0


if __name__ == "__main__":
    sys.exit(main())
