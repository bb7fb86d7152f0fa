#!/usr/bin/env python3
"""CUDA goldens for Wick's bitsandbytes output: the model directories
transformers writes when bitsandbytes quantizes the small models of
tests/bnb_models.py on a GPU (the way published ``-bnb-4bit`` checkpoints are
made), for NF4 and FP4 with double quantization and for LLM.int8.

    python tests/golden/gen_bnb_out_cuda_goldens.py

Needs a CUDA GPU and torch (CUDA build), transformers 4.57.6, accelerate and
bitsandbytes 0.50.2 (built for that CUDA). It has not been run yet: the
machines Wick is developed on have no GPU. Writes
tests/golden/bnb_out_cuda_goldens.json (the versions and the GPU, and per
case every tensor's dtype, shape and the SHA-256 of its bytes, 16 hex digits,
plus each weight's nested offset); tests/test_bnb_out.py::test_cuda_rules_match_transformers_on_cuda
checks Wick's directories (CUDA rules) against it once the file exists.

Nothing here runs Wick.
"""

from __future__ import annotations

import hashlib
import json
import struct
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import bnb_models  # noqa: E402

CASES = [
    ("llama-nf4", "tiny-llama", "bnb-nf4"), ("llama-fp4", "tiny-llama", "bnb-fp4"), ("llama-int8", "tiny-llama", "bnb-int8"),
    ("qwen2-f16-nf4", "tiny-qwen2-f16", "bnb-nf4"), ("qwen2-f32-nf4", "tiny-qwen2-f32", "bnb-nf4"),
    ("qwen2-f16-int8", "tiny-qwen2-f16", "bnb-int8"),
]


def main() -> int:
    import bitsandbytes
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    if not torch.cuda.is_available():
        print("needs a CUDA GPU", file=sys.stderr)
        return 1
    out = {"versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                        "bitsandbytes": bitsandbytes.__version__, "gpu": torch.cuda.get_device_name(0),
                        "cuda": torch.version.cuda},
           "cases": {}}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        models = {}
        for case, model, fmt in CASES:
            if model not in models:
                models[model] = bnb_models.make(model, tmp / "models")
            if fmt == "bnb-int8":
                cfg = BitsAndBytesConfig(load_in_8bit=True)
            else:
                cfg = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type=fmt[4:], bnb_4bit_use_double_quant=True)
            m = AutoModelForCausalLM.from_pretrained(models[model], quantization_config=cfg, device_map="cuda:0",
                                                     dtype="auto")
            d = tmp / "out" / case
            m.save_pretrained(d)
            tensors, offsets = {}, {}
            for f in sorted(d.glob("*.safetensors")):
                b = f.read_bytes()
                n = struct.unpack("<Q", b[:8])[0]
                header = json.loads(b[8:8 + n])
                header.pop("__metadata__", None)
                for name, e in header.items():
                    data = b[8 + n + e["data_offsets"][0]:8 + n + e["data_offsets"][1]]
                    tensors[name] = [e["dtype"], e["shape"], hashlib.sha256(data).hexdigest()[:16]]
                    if ".quant_state." in name:
                        offsets[name.split(".quant_state.")[0]] = json.loads(data)["nested_offset"]
            out["cases"][case] = {"model": model, "format": fmt, "tensors": tensors, "nested_offsets": offsets}
            print(case, len(tensors), "tensors", flush=True)
            del m
            torch.cuda.empty_cache()
    (HERE / "bnb_out_cuda_goldens.json").write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
