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
  applied to that F32 file. A target llama-quantize refuses to make without
  an importance matrix is made with the demo one of tests/demo_imatrix.py,
  passed as ``llama-quantize --imatrix tiny-llama.imatrix.dat`` passes it
  (the weights and quantize.cpp's four ``quantize.imatrix.*`` kv overrides);
  its entry records ``"imatrix"``. A target llama-quantize cannot make at
  all is recorded with ``"failed"``.

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
sys.path.insert(0, str(ROOT / "tests"))
import demo_imatrix  # noqa: E402

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


_LOG: list = []


@llama_cpp.llama_log_callback
def _log_callback(level, text, user_data):
    _LOG.append(text.decode("utf-8", "replace"))


def quantize(src: Path, dst: Path, ftype: int, with_imatrix: bool) -> str:
    """llama_model_quantize as ``llama-quantize [--imatrix tiny-llama.imatrix.dat]``
    runs it; returns "" or the reason it failed."""
    p = llama_cpp.llama_model_quantize_default_params()
    p.ftype = ftype
    p.nthread = 2
    keep = []
    if with_imatrix:
        weights = demo_imatrix.entries()
        arr = (llama_cpp.llama_model_imatrix_data * (len(weights) + 1))()
        for i, (name, vec) in enumerate(weights.items()):
            vec = np.ascontiguousarray(vec / np.float32(1), np.float32)  # legacy: value / ncall
            keep.append(vec)
            arr[i].name = name.encode()
            arr[i].data = vec.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
            arr[i].size = vec.size
        arr[len(weights)].name = None
        keep.append(arr)
        p.imatrix = ctypes.cast(arr, ctypes.POINTER(llama_cpp.llama_model_imatrix_data))
        # quantize.cpp's kv overrides for --imatrix FILE, in its order
        items = [("quantize.imatrix.file", llama_cpp.LLAMA_KV_OVERRIDE_TYPE_STR, demo_imatrix.FILE_NAME.encode()),
                 ("quantize.imatrix.dataset", llama_cpp.LLAMA_KV_OVERRIDE_TYPE_STR, demo_imatrix.DATASET.encode()),
                 ("quantize.imatrix.entries_count", llama_cpp.LLAMA_KV_OVERRIDE_TYPE_INT, len(weights)),
                 ("quantize.imatrix.chunks_count", llama_cpp.LLAMA_KV_OVERRIDE_TYPE_INT, demo_imatrix.CHUNKS)]
        kvo = (llama_cpp.llama_model_kv_override * (len(items) + 1))()
        for i, (k, tag, v) in enumerate(items):
            kvo[i].key = k.encode()
            kvo[i].tag = tag
            if tag == llama_cpp.LLAMA_KV_OVERRIDE_TYPE_STR:
                kvo[i].value.val_str = v
            else:
                kvo[i].value.val_i64 = v
        kvo[len(items)].key = b""
        keep.append(kvo)
        p.kv_overrides = ctypes.cast(kvo, ctypes.POINTER(llama_cpp.llama_model_kv_override))
    _LOG.clear()
    if llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), ctypes.byref(p)) == 0:
        return ""
    for line in "".join(_LOG).splitlines():
        if "failed to quantize: " in line:
            return line.split("failed to quantize: ", 1)[1].strip()
    raise RuntimeError("llama_model_quantize failed without saying why")


# llama_ftype values llama.h defines that llama-quantize cannot make (not Wick targets)
NOT_TARGETS = {"NVFP4": 39}


def main() -> None:
    llama_cpp.llama_backend_init()
    llama_cpp.llama_log_set(_log_callback, ctypes.c_void_p(0))
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
            entry = {}
            if not tgt.via_quantize:
                write_convert_file(model, name, out)
            else:
                err = quantize(f32, out, tgt.ftype, False)
                if err == "this quantization requires an imatrix!":
                    err = quantize(f32, out, tgt.ftype, True)
                    entry["imatrix"] = demo_imatrix.FILE_NAME
                if err:
                    raise RuntimeError(f"llama_model_quantize failed for {name}: {err}")
            data = out.read_bytes()
            entry.update(sha256=hashlib.sha256(data).hexdigest(), size=len(data),
                         pipeline="llama-quantize(F32)" if tgt.via_quantize else "convert_hf_to_gguf")
            res["files"][name] = dict(sorted(entry.items(), key=lambda kv: kv[0] == "imatrix"))
            print(name, res["files"][name], file=sys.stderr)
        for name, ftype in NOT_TARGETS.items():
            err = quantize(f32, Path(tmp) / f"{name}.gguf", ftype, False)
            if not err:
                raise RuntimeError(f"llama_model_quantize made {name}: make it a target")
            res["failed"] = {name: {"ftype": ftype, "failed": err}}
    OUT.write_text(json.dumps(res, indent=1) + "\n")
    print(f"wrote {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
