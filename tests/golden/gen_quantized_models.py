"""Generate tests/golden/quantized_models.json: what llama.cpp's pipeline makes
of small quantized checkpoints (and, for bitsandbytes, of their
bitsandbytes-dequantized twins).

Run by hand (output committed), from the repository root, with the reference
environment (torch, transformers 4.57.6, bitsandbytes 0.50.2, llama-cpp-python
0.3.36)::

    /work/refvenv/bin/python tests/golden/gen_quantized_models.py

(``LLAMA_CPP_DIR`` overrides the llama.cpp tree, default
``/work/ref/llama_cpp_python-0.3.36/vendor/llama.cpp``.)

For every format of tests/quantized_models.py (the deterministic builder the
tests use too) it builds the fixture in a directory named after the format
and records, per target, the SHA-256 of the GGUF file the reference writes:

* (the converter runs with one patch: the demo tokenizer's pre-tokenizer hash
  is unknown to it, so ``get_vocab_base_pre`` answers ``llama-bpe`` — what
  Wick derives from the tokenizer's structure — instead of raising);
* formats llama.cpp's converter reads (FP8 block / compressed-tensors channel
  / ModelOpt FP8, compressed-tensors int4/int8 pack-quantized, GPTQ 4-bit and
  8-bit v2): the real ``convert_hf_to_gguf.py`` run on the fixture with
  ``--outtype f16`` and ``q8_0`` (targets F16, Q8_0) and ``f32`` followed by
  ``llama_model_quantize`` (Q4_K_M). One deviation, recorded per format in
  ``converter_input``: the converter reads GPTQ's parameters from config.json
  only, so for the ``quantize_config.json`` fixture it is given a copy whose
  config.json carries the same ``quantization_config`` (what Wick reads);
* bitsandbytes (the converter refuses the method): every quantized weight is
  dequantized with bitsandbytes itself on CPU (``dequantize_4bit`` with the
  stored quant state, ``int8_vectorwise_dequant``), written as a plain
  checkpoint in the dequantized dtype (bfloat16/float16 from the quant
  state, float32 for LLM.int8) with config.json minus quantization_config,
  and that checkpoint is converted as above. ``bnb_tensors`` records the
  SHA-256 of each dequantized weight (float32 widening).

NVFP4 (``modelopt-nvfp4``, ``ct-nvfp4``): the converter passes the blocks
through as GGUF NVFP4 (with per-tensor ``.scale`` / ``.input_scale`` F32
tensors); ``llama_model_quantize`` refuses to requantize them, which is
recorded as a null Q4_K_M hash (and checked: the call must fail).

The FP8 formats are also converted with ``--outtype f16 --fp8-as-q8``
(``F16+fp8_as_q8``).

``--formats A B`` regenerates only those formats, merged into the file.

``tensors`` records, per format, the SHA-256 of each tensor's data in the
F32 file (diagnosis: a mismatch there is in dequantization, elsewhere in the
rest of the pipeline).
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
import quantized_models as qm  # noqa: E402

LLAMA = Path(os.environ.get("LLAMA_CPP_DIR", "/work/ref/llama_cpp_python-0.3.36/vendor/llama.cpp"))
sys.path.insert(0, str(LLAMA / "gguf-py"))
import gguf  # noqa: E402

OUT = ROOT / "tests" / "golden" / "quantized_models.json"
TARGETS = {"F16": "f16", "Q8_0": "q8_0", "Q4_K_M": None}
BNB = ("bnb-nf4-dq", "bnb-fp4", "bnb-int8")
FP8 = ("fp8-block", "ct-fp8-channel", "modelopt-fp8", "qwen3-fp8-block")  # also converted with --fp8-as-q8 (F16)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# The fixture's tokenizer is the demo model's small trained BPE, whose probe
# hash is in no table: the converter is run with get_vocab_base_pre answering
# "llama-bpe" (what Wick derives from the tokenizer's structure) when the hash
# is unknown. Nothing else is changed.
_RUN = """
import runpy, sys
sys.path[:0] = [{llama!r}, {gguf!r}]
import conversion.base as b
real = b.TextModel.get_vocab_base_pre
def pre(self, tokenizer):
    try:
        return real(self, tokenizer)
    except NotImplementedError:
        return "llama-bpe"
b.TextModel.get_vocab_base_pre = pre
sys.argv = {argv!r}
runpy.run_path({script!r}, run_name="__main__")
"""


def convert(model: Path, outtype: str, out: Path, *extra: str) -> None:
    argv = ["convert_hf_to_gguf.py", str(model), "--outtype", outtype, "--outfile", str(out), *extra]
    code = _RUN.format(llama=str(LLAMA), gguf=str(LLAMA / "gguf-py"), argv=argv, script=str(LLAMA / "convert_hf_to_gguf.py"))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"convert_hf_to_gguf.py {model.name} --outtype {outtype} failed:\n{r.stderr[-3000:]}")


def quantize(src: Path, out: Path, ftype: int) -> None:
    import llama_cpp
    p = llama_cpp.llama_model_quantize_default_params()
    p.ftype = ftype
    p.nthread = 2
    if llama_cpp.llama_model_quantize(str(src).encode(), str(out).encode(), ctypes.byref(p)) != 0:
        raise RuntimeError(f"llama_model_quantize failed for {src}")


def tensor_hashes(path: Path) -> dict:
    r = gguf.GGUFReader(str(path))
    return {t.name: hashlib.sha256(np.ascontiguousarray(t.data).tobytes()).hexdigest() for t in r.tensors}


def read_st(path: Path) -> dict:
    from safetensors.torch import load_file
    return load_file(str(path))


def bnb_dequantized(model: Path, out: Path, fmt: str) -> dict:
    """Write the bitsandbytes-dequantized twin of a bnb fixture; return per-weight hashes."""
    import bitsandbytes.functional as F
    from safetensors.torch import save_file
    shutil.copytree(model, out)
    cfg = json.loads((model / "config.json").read_text())
    del cfg["quantization_config"]
    (out / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    raw = read_st(model / "model.safetensors")
    plain = {}
    hashes = {}
    dtypes = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
    for name, t in raw.items():
        if ".quant_state." in name or name.endswith((".absmax", ".quant_map", ".nested_absmax", ".nested_quant_map",
                                                     ".SCB", ".weight_format")):
            continue
        qs_key = next((k for k in raw if k.startswith(name + ".quant_state.bitsandbytes__")), None)
        if qs_key is not None:
            st = json.loads(bytes(raw[qs_key].numpy()).decode())
            kw = {}
            if "nested_blocksize" in st:
                state2 = F.QuantState(absmax=raw[name + ".nested_absmax"], code=raw[name + ".nested_quant_map"],
                                      blocksize=st["nested_blocksize"], dtype=torch.float32)
                kw = {"offset": torch.tensor(np.float32(st["nested_offset"])), "state2": state2}
            qs = F.QuantState(absmax=raw[name + ".absmax"], shape=torch.Size(st["shape"]), blocksize=st["blocksize"],
                              code=raw[name + ".quant_map"], quant_type=st["quant_type"],
                              dtype=dtypes[st["dtype"]], **kw)
            t = F.dequantize_4bit(t, qs)
            hashes[name] = hashlib.sha256(t.float().numpy().astype("<f4").tobytes()).hexdigest()
        elif name.endswith(".weight") and name[: -len("weight")] + "SCB" in raw:
            t = F.int8_vectorwise_dequant(t, raw[name[: -len("weight")] + "SCB"])
            hashes[name] = hashlib.sha256(t.numpy().astype("<f4").tobytes()).hexdigest()
        plain[name] = t
    save_file({k: v.contiguous() for k, v in plain.items()}, str(out / "model.safetensors"), metadata={"format": "pt"})
    return hashes


def main() -> None:
    import bitsandbytes
    doc = {"generator": "tests/golden/gen_quantized_models.py",
           "references": {"llama.cpp": "llama-cpp-python 0.3.36 (0c1e570): convert_hf_to_gguf.py + llama_model_quantize",
                          "torch": torch.__version__, "bitsandbytes": bitsandbytes.__version__},
           "formats": {}}
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("--formats", nargs="*", default=list(qm.FORMATS), help="regenerate only these (merged into the file)")
    args = ap.parse_args()
    if OUT.exists() and set(args.formats) != set(qm.FORMATS):
        doc["formats"] = json.loads(OUT.read_text())["formats"]
    ftype = {"Q4_K_M": 15}
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in args.formats:
            model = qm.make(Path(tmp) / "src" / fmt, fmt)
            entry: dict = {"converter_input": "the fixture"}
            src = model
            if fmt in BNB:
                src = Path(tmp) / "deq" / fmt
                entry["bnb_tensors"] = bnb_dequantized(model, src, fmt)
                entry["converter_input"] = "the fixture dequantized by bitsandbytes (CPU)"
            elif (model / "quantize_config.json").is_file():
                src = Path(tmp) / "cfg" / fmt
                shutil.copytree(model, src)
                cfg = json.loads((src / "config.json").read_text())
                cfg["quantization_config"] = json.loads((src / "quantize_config.json").read_text())
                (src / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
                entry["converter_input"] = "the fixture, quantize_config.json copied into config.json"
            f32 = Path(tmp) / f"{fmt}-f32.gguf"
            convert(src, "f32", f32)
            entry["tensors"] = tensor_hashes(f32)
            entry["files"] = {}
            for tgt, outtype in TARGETS.items():
                out = Path(tmp) / f"{fmt}-{tgt}.gguf"
                if outtype:
                    convert(src, outtype, out)
                elif fmt in qm.PASSTHROUGH:
                    try:
                        quantize(f32, out, ftype[tgt])
                    except RuntimeError:
                        entry["files"][tgt] = None  # llama-quantize refuses to requantize NVFP4
                        continue
                    raise RuntimeError(f"llama_model_quantize accepted {fmt}'s passed-through blocks")
                else:
                    quantize(f32, out, ftype[tgt])
                entry["files"][tgt] = sha(out)
            if fmt in FP8:
                out = Path(tmp) / f"{fmt}-F16-fp8-as-q8.gguf"
                convert(src, "f16", out, "--fp8-as-q8")
                entry["files"]["F16+fp8_as_q8"] = sha(out)
            doc["formats"][fmt] = entry
            print(fmt, entry["files"], file=sys.stderr)
    OUT.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    print(f"wrote {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
