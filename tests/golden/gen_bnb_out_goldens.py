#!/usr/bin/env python3
"""Goldens for Wick's bitsandbytes output: the model directories transformers
itself writes when it quantizes the small models of tests/bnb_models.py with
bitsandbytes on the CPU and saves them (``save_pretrained``).

    /work/refvenv/bin/python tests/golden/gen_bnb_out_goldens.py

(any environment with torch, transformers 4.57.6, accelerate and bitsandbytes
0.50.2, CPU backend; no GPU). Writes tests/golden/bnb_out_goldens.json: per
case the versions, the options, every file's size and SHA-256 (config.json:
its ``quantization_config`` instead), every tensor's dtype, shape, file and
the SHA-256 of its bytes, the quant-state JSON texts, and the index's
metadata (per-tensor hashes only where Wick's file layout differs from
transformers': without double quantization and with several shards).
tests/test_bnb_out.py checks Wick's directories (CPU rules) against them
without torch.

Nothing here runs Wick.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import bnb_models  # noqa: E402


def st_tensors(path: Path) -> dict:
    """name -> [dtype, shape, sha256 of the bytes (16 hex digits)] of a safetensors file, in file order."""
    b = path.read_bytes()
    n = struct.unpack("<Q", b[:8])[0]
    header = json.loads(b[8:8 + n])
    header.pop("__metadata__", None)
    out = {}
    for name, e in header.items():
        lo, hi = e["data_offsets"]
        data = b[8 + n + lo:8 + n + hi]
        out[name] = [e["dtype"], e["shape"], hashlib.sha256(data).hexdigest()[:16]]
    return out


def main() -> int:
    import accelerate
    import bitsandbytes
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    torch.set_num_threads(1)  # the nested offset is torch's float32 mean, which depends on it for large tensors
    goldens = {"versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                            "bitsandbytes": bitsandbytes.__version__, "accelerate": accelerate.__version__,
                            "cpu_capability": torch.backends.cpu.get_cpu_capability()},
               "cases": {}}
    dtypes = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        models = {}
        for case, model, fmt, opts, shard in bnb_models.CASES:
            if model not in models:
                models[model] = bnb_models.make(model, tmp / "models")
            if fmt == "bnb-int8":
                cfg = BitsAndBytesConfig(load_in_8bit=True, llm_int8_skip_modules=opts.get("skip_modules"))
            else:
                cfg = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type=fmt[4:],
                                         bnb_4bit_use_double_quant=opts["double_quant"],
                                         bnb_4bit_compute_dtype=dtypes[opts["compute_dtype"]],
                                         llm_int8_skip_modules=opts.get("skip_modules"))
            m = AutoModelForCausalLM.from_pretrained(models[model], quantization_config=cfg, device_map="cpu",
                                                     dtype="auto")
            out = tmp / "out" / case
            m.save_pretrained(out, max_shard_size=shard)
            entry = {"model": model, "format": fmt, "options": opts, "max_shard_size": shard, "files": {},
                     "tensors": {}}
            per_tensor = shard != "5GB" or not opts.get("double_quant", True)
            for f in sorted(out.iterdir()):
                if f.name == "config.json":
                    entry["quantization_config"] = json.loads(f.read_text())["quantization_config"]
                    continue
                entry["files"][f.name] = {"size": f.stat().st_size, "sha256": hashlib.sha256(f.read_bytes()).hexdigest()}
                if f.suffix == ".safetensors":
                    for name, (dt, shape, h) in st_tensors(f).items():
                        entry["tensors"][name] = [dt, shape, f.name] + ([h] if per_tensor else [])
                if f.name == "model.safetensors.index.json":
                    entry["index_metadata"] = json.loads(f.read_text())["metadata"]
            goldens["cases"][case] = entry
            print(case, len(entry["tensors"]), "tensors", flush=True)
    text = json.dumps(goldens, indent=1, sort_keys=True)
    # one line per tensor
    text = re.sub(r'\[\n\s+"([A-Z0-9_]+)",\n\s+\[([\d,\s]*)\],\n\s+("[^"]+")(,\n\s+"[0-9a-f]{16}")?\n\s+\]',
                  lambda m: "[" + ", ".join([json.dumps(m.group(1)), "[" + ", ".join(x.strip() for x in m.group(2).split(",") if x.strip()) + "]",
                                             m.group(3)] + ([m.group(4).split(",")[-1].strip()] if m.group(4) else [])) + "]",
                  text)
    (HERE / "bnb_out_goldens.json").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
