"""Generate tests/golden/f16_route.json: what llama.cpp's F16 route does to a BF16 checkpoint.

Run by hand (output committed), in the reference environment (torch,
transformers 4.57.6, sentencepiece, llama-cpp-python 0.3.36):

    /work/refvenv/bin/python tests/golden/gen_f16_route.py [LLAMA_CPP_DIR]

LLAMA_CPP_DIR defaults to /work/ref/llama_cpp_python-0.3.36/vendor/llama.cpp,
the tree llama-cpp-python 0.3.36 was built from.

For the two fixture models of tests/f16_route_fixture.py (BF16 weights with
float16 subnormals; the second also with values beyond float16's range) it
runs the real pipeline, nothing of Wick's:

1. ``convert_hf_to_gguf.py MODEL --outtype f16|bf16|f32`` (the tree's own
   script, in a subprocess), recording the type of every tensor it writes
   and the SHA-256 of its file;
2. ``llama_model_quantize`` (llama-quantize's library function, in a
   subprocess so that its log can be kept) on each of those files, for
   Q4_K_M, Q4_K_M with ``token_embedding_type`` F16 (a tensor copied as it
   is), Q6_K and Q8_0: return code, error message, SHA-256 and size of the
   output (a failed run leaves a partial file; its size is recorded too).

It also records, from the files themselves, what the F16 intermediate did:
per tensor, how many values float16 changed (and how many became ±inf), and
how many Q4_K / Q6_K blocks of the F16 route's Q4_K_M file differ from the
F32 route's. tests/test_convert_intermediate.py checks Wick against it.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
LLAMA_CPP = Path(sys.argv[1] if len(sys.argv) > 1 else "/work/ref/llama_cpp_python-0.3.36/vendor/llama.cpp")
OUT = HERE / "f16_route.json"

sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(LLAMA_CPP / "gguf-py"))
import f16_route_fixture as FIX  # noqa: E402
import gguf  # noqa: E402  (the tree's own gguf-py)
import llama_cpp  # noqa: E402

MODELS = {"f16-route": False, "f16-route-overflow": True}  # directory name (general.name) -> overflow values
OUTTYPES = ("f16", "bf16", "f32")
# (label, target, token_embedding_type)
QUANTIZE = [("Q4_K_M", "Q4_K_M", None), ("Q4_K_M+token_embd_F16", "Q4_K_M", "F16"), ("Q6_K", "Q6_K", None),
            ("Q8_0", "Q8_0", None)]
FTYPES = {"Q4_K_M": 15, "Q6_K": 18, "Q8_0": 7}
GGML_TYPES = {"F16": 1}

QUANTIZE_CHILD = r"""
import ctypes, sys, llama_cpp
inp, out, ftype, tet = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
llama_cpp.llama_backend_init()
p = llama_cpp.llama_model_quantize_default_params()
p.ftype = ftype
p.nthread = 2
if tet >= 0:
    p.token_embedding_type = tet
sys.exit(llama_cpp.llama_model_quantize(inp.encode(), out.encode(), ctypes.byref(p)))
"""


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def convert(model: Path, outtype: str, out: Path) -> None:
    r = subprocess.run([sys.executable, str(LLAMA_CPP / "convert_hf_to_gguf.py"), str(model), "--outtype", outtype,
                        "--outfile", str(out)], capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError(f"convert_hf_to_gguf.py --outtype {outtype} failed:\n{r.stderr[-2000:]}")


def quantize(inp: Path, out: Path, target: str, tet: str | None) -> dict:
    r = subprocess.run([sys.executable, "-c", QUANTIZE_CHILD, str(inp), str(out), str(FTYPES[target]),
                        str(GGML_TYPES[tet] if tet else -1)], capture_output=True, text=True)
    res: dict = {"rc": r.returncode}
    if r.returncode:
        res["error"] = next((line.split("failed to quantize: ", 1)[1] for line in r.stderr.splitlines()
                             if "failed to quantize: " in line), r.stderr.strip().splitlines()[-1])
        res["partial_file_bytes"] = out.stat().st_size if out.exists() else None
    else:
        res["sha256"] = sha256(out)
        res["size"] = out.stat().st_size
    return res


def tensors(path: Path) -> dict:
    """name -> (type name, values as a float32 array, or the raw blocks)."""
    r = gguf.GGUFReader(str(path))
    return {t.name: (t.tensor_type.name, np.array(t.data)) for t in r.tensors}


def source_values(model: Path) -> dict:
    """The checkpoint's BF16 tensors widened to float32, by Hugging Face name."""
    raw = (model / "model.safetensors").read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        b, e = meta["data_offsets"]
        out[name] = FIX.bf16_to_f32(np.frombuffer(raw, np.uint16, (e - b) // 2, 8 + n + b)).reshape(meta["shape"])
    return out


def block_diffs(a: dict, b: dict) -> dict:
    """Per quantized tensor of two files with the same layout: how many blocks differ."""
    out = {}
    for name, (typ, data) in a.items():
        if typ in ("F32", "F16", "BF16"):
            continue
        block_bytes = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType[typ]][1]
        x = data.reshape(-1, block_bytes)
        y = b[name][1].reshape(-1, block_bytes)
        n = int((x != y).any(axis=1).sum())
        if n:
            out[name] = {"type": typ, "blocks": int(x.shape[0]), "differ": n}
    return out


def main() -> None:
    res: dict = {
        "generator": "tests/golden/gen_f16_route.py",
        "llama_cpp_python": llama_cpp.__version__,
        "llama_cpp_tree": "llama.cpp as vendored in llama-cpp-python " + llama_cpp.__version__ + " (or LLAMA_CPP_DIR)",
        "fixture": "tests/f16_route_fixture.py make(dir, overflow=...), dir named as the key",
        "models": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, overflow in MODELS.items():
            model = tmp / name
            FIX.make(model, overflow=overflow)
            entry: dict = {"overflow": overflow, "files": {f: sha256(model / f) for f in
                                                           ("model.safetensors", "config.json", "tokenizer.model")},
                           "convert": {}, "quantize": {}}
            src = source_values(model)
            for outtype in OUTTYPES:
                conv = tmp / f"{name}-{outtype}.gguf"
                convert(model, outtype, conv)
                ts = tensors(conv)
                entry["convert"][outtype] = {"sha256": sha256(conv), "size": conv.stat().st_size,
                                             "types": {t: typ for t, (typ, _) in ts.items()}}
                for label, target, tet in QUANTIZE:
                    q = tmp / f"{name}-{outtype}-{label}.gguf"
                    entry["quantize"].setdefault(label, {})[outtype] = quantize(conv, q, target, tet)
                    print(name, outtype, label, entry["quantize"][label][outtype], file=sys.stderr)
            # what float16 did to the weights: the converter's F16 file against the checkpoint
            f16 = tensors(tmp / f"{name}-f16.gguf")
            by_gguf = {"token_embd.weight": "model.embed_tokens.weight", "output.weight": "lm_head.weight",
                       "blk.0.ffn_down.weight": "model.layers.0.mlp.down_proj.weight"}
            changed = {}
            for gname, hname in by_gguf.items():
                typ, vals = f16[gname]
                x = src[hname].ravel()
                y = vals.astype(np.float32).ravel()
                changed[gname] = {"type": typ, "values": int(x.size), "changed": int((x != y).sum()),
                                  "below_2^-14": int(((x != 0) & (np.abs(x) < 2.0 ** -14)).sum()),
                                  "inf": int(np.isinf(y).sum())}
            entry["f16_rounding"] = changed
            planted = src["model.layers.0.mlp.down_proj.weight"]
            f16_down = f16["blk.0.ffn_down.weight"][1].astype(np.float32)
            entry["planted"] = [{"bf16_bits": f"0x{b:04X}", "value": float(FIX.bf16_to_f32(np.uint16(b))),
                                 "in_f16": float(f16_down[k, 7 + 64 * (k % 8)])}
                                for k, b in enumerate(FIX.SUBNORMAL_BITS)]
            assert all(float(planted[k, 7 + 64 * (k % 8)]) == p["value"] for k, p in enumerate(entry["planted"]))
            ok = entry["quantize"]["Q4_K_M"]
            if ok["f16"]["rc"] == 0 and ok["f32"]["rc"] == 0:
                entry["q4_k_m_blocks_f16_vs_f32"] = block_diffs(tensors(tmp / f"{name}-f16-Q4_K_M.gguf"),
                                                                tensors(tmp / f"{name}-f32-Q4_K_M.gguf"))
            res["models"][name] = entry
    OUT.write_text(json.dumps(res, indent=1) + "\n")
    print(f"wrote {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
