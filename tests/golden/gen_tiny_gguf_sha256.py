"""Generate tests/golden/tiny_gguf_sha256.json: the exact GGUF files llama.cpp's pipeline makes from the demo model.

Run by hand (output committed), with the llama-cpp-python venv:

    /tmp/llvenv/bin/python tests/golden/gen_tiny_gguf_sha256.py

For the deterministic demo model of examples/make_tiny_llama.py (default
arguments) it records the SHA-256 and size of the GGUF file for every target:

* ``F32``, ``F16``, ``BF16``, ``Q8_0`` — what ``convert_hf_to_gguf.py
  --outtype …`` writes: Wick's plan for the target (whose metadata, order and
  names tests/test_convert_reference.py checks against the real converter)
  written with gguf-py's ``GGUFWriter``, tensor values converted with gguf-py's
  own ``quants.quantize`` exactly as the converter does;
* every other target — ``llama_model_quantize`` (llama.cpp's llama-quantize)
  applied to that F32 file.

Once the Go executor lands, ``wick convert`` of the same demo model must
produce files with these hashes. (Checked by hand when this was generated: the
stand-in executor below, fed Wick's plan for a quantized target, produces
byte-identical files to llama-quantize's.)
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib.util
import json
import sys
import tempfile
from pathlib import Path

import gguf
import llama_cpp
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python"))
from wick.convert import build_plan  # noqa: E402
from wick.convert.ggml_types import TARGETS  # noqa: E402
from wick.convert.view import materialize  # noqa: E402

spec = importlib.util.spec_from_file_location("make_tiny_llama", ROOT / "examples" / "make_tiny_llama.py")
tiny = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tiny)

OUT = Path(__file__).with_name("tiny_gguf_sha256.json")


def read_source(model_dir: Path, file: str, name: str) -> np.ndarray:
    raw = (model_dir / file).read_bytes()
    n = int.from_bytes(raw[:8], "little")
    meta = json.loads(raw[8:8 + n])[name]
    b, e = meta["data_offsets"]
    buf = np.frombuffer(raw, dtype=np.uint8, count=e - b, offset=8 + n + b)
    if meta["dtype"] == "BF16":
        a = (buf.view("<u2").astype(np.uint32) << 16).view(np.float32)
    elif meta["dtype"] == "F16":
        a = buf.view("<f2").astype(np.float32)
    else:
        a = buf.view("<f4").astype(np.float32)
    return a.reshape(meta["shape"])


def write_convert_file(model_dir: Path, target: str, path: Path) -> None:
    plan = build_plan(model_dir, target)
    w = gguf.GGUFWriter(str(path), plan.architecture)
    for kv in plan.metadata:
        w.add_key_value(kv.key, kv.value, gguf.GGUFValueType[kv.type.name],
                        sub_type=gguf.GGUFValueType[kv.element_type.name] if kv.element_type else None)
    for t in plan.tensors:
        if t.data is not None:
            a = np.asarray(t.data, dtype=np.float32)
        else:
            a = materialize([read_source(model_dir, s.file, s.tensor) for s in t.sources], t.parts, t.ops)
            a = a.reshape(list(reversed(t.shape)))
        qt = gguf.GGMLQuantizationType[t.type]
        if t.type == "F32":
            w.add_tensor(t.name, a.astype(np.float32))
        elif t.type == "F16":
            w.add_tensor(t.name, a.astype(np.float16))
        else:
            w.add_tensor(t.name, gguf.quants.quantize(a.astype(np.float32), qt), raw_dtype=qt)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main() -> None:
    llama_cpp.llama_backend_init()
    res = {"generator": "tests/golden/gen_tiny_gguf_sha256.py",
           "model": "examples/make_tiny_llama.py with default arguments, written to a directory named tiny-llama "
                    "(the name becomes general.name)", "model_dir_name": "tiny-llama",
           "llama_cpp_python": llama_cpp.__version__, "gguf_py": "0.19.0", "files": {}}
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "tiny-llama"
        tiny.make(model)
        for f in ("model.safetensors", "tokenizer.json", "config.json"):
            res[f"{f}_sha256"] = hashlib.sha256((model / f).read_bytes()).hexdigest()
        f32 = Path(tmp) / "f32.gguf"
        write_convert_file(model, "F32", f32)
        for name, tgt in TARGETS.items():
            out = Path(tmp) / f"{name}.gguf"
            if not tgt.via_quantize:
                write_convert_file(model, name, out)
            else:
                p = llama_cpp.llama_model_quantize_default_params()
                p.ftype = tgt.ftype
                p.nthread = 2
                if llama_cpp.llama_model_quantize(str(f32).encode(), str(out).encode(), ctypes.byref(p)) != 0:
                    raise RuntimeError(f"llama_model_quantize failed for {name}")
            data = out.read_bytes()
            res["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data),
                                  "pipeline": "llama-quantize(F32)" if tgt.via_quantize else "convert_hf_to_gguf"}
            print(name, res["files"][name], file=sys.stderr)
    OUT.write_text(json.dumps(res, indent=1) + "\n")
    print(f"wrote {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
