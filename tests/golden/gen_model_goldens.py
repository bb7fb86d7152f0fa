"""Generate tests/golden/requantize_goldens.json: what llama-quantize makes of small GGUF models.

Run by hand (output committed), from the repository root, with a Python that
has Wick installed (``make setup lib``) and llama-cpp-python 0.3.36::

    WICK_LLAMA_SITE=/tmp/llvenv/lib/python3.11/site-packages .venv/bin/python tests/golden/gen_model_goldens.py

(``WICK_LLAMA_SITE`` is appended to ``sys.path`` when ``llama_cpp`` is not
importable otherwise, e.g. a venv made with ``make llama`` needs nothing.)

For each model of ``tests/requantize_models.py`` (F32 and BF16 weights;
several layers; GQA; rows of 288 and 352, not multiples of 256; tied and
untied output; a 4-expert MoE) it

1. writes the input GGUF with **Wick's** writer (``wick.gguf.write``; the
   test rebuilds the same bytes: their SHA-256 is recorded);
2. writes an importance matrix for it in both of llama-imatrix's formats:
   GGUF through **ggml's own gguf API** (ctypes into ``libggml-base``: the
   calls ``save_imatrix`` in tools/imatrix/imatrix.cpp makes — general.type,
   imatrix.datasets, imatrix.chunk_count, imatrix.chunk_size, then per entry
   in name order ``<name>.in_sum2`` [ne0, n_mat] and ``<name>.counts``
   [1, n_mat]), and legacy ``.dat`` laid out as ``save_imatrix_legacy`` writes
   it (that writer is not in any library: this script follows its source).
   The statistics are synthetic (``requantize_models.imatrix_stats``); a few
   runs also use the matrices the real llama-imatrix computed for two of the
   models (``io/imatrix/testdata``, see gen_imatrix_files.py);
3. quantizes the model with ``llama_model_quantize`` (libllama of
   llama-cpp-python 0.3.36, two threads) to every target, without and with
   the GGUF imatrix (and with the legacy one for Q4_K_M and Q4_0). The
   llama-quantize *tool* is not in the library, so this script does its two
   steps around the library call as tools/quantize/quantize.cpp does them:
   ``load_imatrix`` (weights = sums / float32(count), 1 where count is 0;
   legacy: value / float32(ncall)) and the kv overrides
   quantize.imatrix.file / .dataset / .entries_count / .chunks_count (the
   file name as given on the command line: the imatrix file's base name,
   the run happening in its directory);
4. reads every output back with gguf-py's ``GGUFReader`` and records per run:
   the SHA-256 of the whole file, per tensor (in output order) its type and
   its bytes (an index into ``blobs``), and the metadata that differs from
   the input (key, type, value). ``blobs`` lists every distinct tensor once:
   the SHA-256 of its bytes and, in hex, the start of its first row (at most
   ROW_PREFIX bytes: whole first rows would make the file ~1 MB), for
   diagnosing a mismatch.

``--llama-bin DIR`` (optional, not needed to regenerate): a directory with
``llama-quantize`` built from the same llama.cpp commit; every imatrix run
is then repeated with the real tool (``--imatrix``) and must give the same
file — a check of step 3's emulation of the tool.
"""

from __future__ import annotations

import argparse
import ctypes
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "python"))

try:
    import llama_cpp
except ImportError:
    site = os.environ.get("WICK_LLAMA_SITE")
    if not site:
        raise SystemExit("llama_cpp is not importable: install llama-cpp-python 0.3.36 (make llama) or set "
                         "WICK_LLAMA_SITE to its site-packages directory") from None
    sys.path.append(site)
    import llama_cpp

import gguf  # noqa: E402  (gguf-py, the reader of the outputs)
import requantize_models as RM  # noqa: E402

OUT = Path(__file__).with_name("requantize_goldens.json")

# llama_ftype values (include/llama.h)
FTYPES = {
    "Q2_K": 10, "Q3_K_S": 11, "Q3_K_M": 12, "Q3_K_L": 13, "Q4_K_S": 14, "Q4_K_M": 15, "Q5_K_S": 16,
    "Q5_K_M": 17, "Q6_K": 18, "Q8_0": 7, "Q4_0": 2, "Q4_1": 3, "Q5_0": 8, "Q5_1": 9, "F16": 1, "BF16": 32,
}
LEGACY_TARGETS = ("Q4_K_M", "Q4_0")
# importance matrices computed by the real llama-imatrix (tests/golden/gen_imatrix_files.py)
REAL_DIR = ROOT / "io" / "imatrix" / "testdata"
REAL_IMATRIX = {
    "llama_f32_gqa2_untied": {"llama_f32.imatrix.gguf": ("Q2_K", "Q4_K_M", "Q4_0"),
                              "llama_f32.imatrix.dat": ("Q4_K_M",)},
    "llama_moe4_f32": {"moe.imatrix.gguf": ("Q3_K_M", "Q4_K_M")},
}
TYPE_CODES = {
    "F32": "f", "F16": "h", "BF16": "b", "Q4_0": "0", "Q4_1": "1", "Q5_0": "5", "Q5_1": "6",
    "Q8_0": "8", "Q2_K": "B", "Q3_K": "C", "Q4_K": "D", "Q5_K": "E", "Q6_K": "F",
}
DATASET, CHUNKS, CHUNK_SIZE = RM.IMATRIX_DATASET, RM.IMATRIX_CHUNKS, RM.IMATRIX_CHUNK_SIZE
ROW_PREFIX = 64


# ----------------------------------------------------------- imatrix files
class _GGMLInitParams(ctypes.Structure):
    _fields_ = [("mem_size", ctypes.c_size_t), ("mem_buffer", ctypes.c_void_p), ("no_alloc", ctypes.c_bool)]


def _ggml() -> ctypes.CDLL:
    lib = ctypes.CDLL(str(Path(llama_cpp.__file__).resolve().parent / "lib" / "libggml-base.so"))
    sig = {
        "ggml_init": (ctypes.c_void_p, [_GGMLInitParams]),
        "ggml_free": (None, [ctypes.c_void_p]),
        "ggml_tensor_overhead": (ctypes.c_size_t, []),
        "ggml_new_tensor_2d": (ctypes.c_void_p, [ctypes.c_void_p, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]),
        "ggml_set_name": (ctypes.c_void_p, [ctypes.c_void_p, ctypes.c_char_p]),
        "ggml_get_data": (ctypes.c_void_p, [ctypes.c_void_p]),
        "gguf_init_empty": (ctypes.c_void_p, []),
        "gguf_free": (None, [ctypes.c_void_p]),
        "gguf_set_val_str": (None, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p]),
        "gguf_set_val_u32": (None, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint32]),
        "gguf_set_arr_str": (None, [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_char_p), ctypes.c_size_t]),
        "gguf_add_tensor": (None, [ctypes.c_void_p, ctypes.c_void_p]),
        "gguf_write_to_file": (ctypes.c_bool, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_bool]),
    }
    for name, (res, args) in sig.items():
        f = getattr(lib, name)
        f.restype, f.argtypes = res, args
    return lib


def write_imatrix_gguf(path: str, stats: dict) -> None:
    """save_imatrix (tools/imatrix/imatrix.cpp) through ggml's gguf API."""
    g = _ggml()
    names = sorted(stats)
    size = 0
    for n in names:
        sums, counts = stats[n]
        size += g.ggml_tensor_overhead() + 4 * sums.size + 64
        size += g.ggml_tensor_overhead() + 4 * counts.size + 64
    ctx = g.ggml_init(_GGMLInitParams(size, None, False))
    gctx = g.gguf_init_empty()
    try:
        g.gguf_set_val_str(gctx, b"general.type", b"imatrix")
        arr = (ctypes.c_char_p * 1)(DATASET.encode())
        g.gguf_set_arr_str(gctx, b"imatrix.datasets", arr, 1)
        g.gguf_set_val_u32(gctx, b"imatrix.chunk_count", CHUNKS)
        g.gguf_set_val_u32(gctx, b"imatrix.chunk_size", CHUNK_SIZE)
        for n in names:
            sums, counts = stats[n]
            nmat, ne0 = sums.shape
            t_s = g.ggml_new_tensor_2d(ctx, 0, ne0, nmat)
            t_c = g.ggml_new_tensor_2d(ctx, 0, 1, nmat)
            g.ggml_set_name(t_s, f"{n}.in_sum2".encode())
            g.ggml_set_name(t_c, f"{n}.counts".encode())
            ctypes.memmove(g.ggml_get_data(t_s), np.ascontiguousarray(sums, np.float32).ctypes.data, 4 * sums.size)
            ctypes.memmove(g.ggml_get_data(t_c), np.ascontiguousarray(counts, np.float32).ctypes.data, 4 * counts.size)
            g.gguf_add_tensor(gctx, t_s)
            g.gguf_add_tensor(gctx, t_c)
        if not g.gguf_write_to_file(gctx, path.encode(), False):
            raise RuntimeError(f"gguf_write_to_file({path}) failed")
    finally:
        g.gguf_free(gctx)
        g.ggml_free(ctx)


def load_imatrix_tool(path: str) -> dict:
    """What quantize.cpp's load_imatrix makes of an imatrix file: ``weights``
    (entry → float32 weights handed to the library), ``datasets`` and
    ``chunk_count``. The file is read with gguf-py (GGUF) or parsed here
    (legacy, per common_imatrix_load_legacy)."""
    weights = {}
    with open(path, "rb") as f:
        head = f.read(4)
    if head == b"GGUF":
        r = gguf.GGUFReader(path)
        fields = {f.name: f for f in r.fields.values()}
        ds = fields["imatrix.datasets"]
        datasets = [bytes(ds.parts[i]).decode() for i in ds.data]
        cc = fields["imatrix.chunk_count"]
        chunks = int(cc.parts[cc.data[0]][0])
        sums = {t.name[:-8]: np.asarray(t.data, np.float32).reshape(-1) for t in r.tensors if t.name.endswith(".in_sum2")}
        counts = {t.name[:-7]: np.asarray(t.data, np.float32).reshape(-1) for t in r.tensors if t.name.endswith(".counts")}
        for n, s in sums.items():
            c = counts[n]
            ne0 = s.size // c.size
            w = np.empty(s.size, np.float32)
            for j in range(c.size):
                cnt = np.float32(int(np.floor(np.float64(c[j]) + 0.5)))  # lround of a count >= 0
                w[j * ne0:(j + 1) * ne0] = s[j * ne0:(j + 1) * ne0] / cnt if cnt > 0 else np.float32(1)
            weights[n] = w
    else:
        b = Path(path).read_bytes()
        off = 0

        def i32() -> int:
            nonlocal off
            off += 4
            return struct.unpack_from("<i", b, off - 4)[0]

        for _ in range(i32()):
            n = i32()
            name = b[off:off + n].decode()
            off += n
            ncall, nval = i32(), i32()
            v = np.frombuffer(b, "<f4", nval, off).astype(np.float32)
            off += 4 * nval
            weights[name] = v / np.float32(ncall) if ncall > 0 else v
        chunks, datasets = i32(), []
        n = i32()
        if n > 0:
            datasets = [b[off:off + n].decode()]
    return {"weights": {k: np.ascontiguousarray(v, np.float32) for k, v in weights.items()},
            "datasets": datasets, "chunk_count": chunks}


# ------------------------------------------------------------- quantizing
def quantize(src: str, dst: str, ftype: int, imatrix: dict | None, file_arg: str | None) -> None:
    """llama_model_quantize, with the imatrix and the kv overrides quantize.cpp passes for ``--imatrix file_arg``."""
    weights = imatrix["weights"] if imatrix else None
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.nthread = 2
    keep = []
    if weights:
        arr = (llama_cpp.llama_model_imatrix_data * (len(weights) + 1))()
        for i, (name, vec) in enumerate(weights.items()):
            keep.append(vec)
            arr[i].name = name.encode()
            arr[i].data = vec.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
            arr[i].size = vec.size
        arr[len(weights)].name = None
        keep.append(arr)
        params.imatrix = ctypes.cast(arr, ctypes.POINTER(llama_cpp.llama_model_imatrix_data))
        # quantize.cpp's kv overrides, in its order
        items = [("quantize.imatrix.file", llama_cpp.LLAMA_KV_OVERRIDE_TYPE_STR, file_arg.encode()[:127])]
        if imatrix["datasets"]:
            items.append(("quantize.imatrix.dataset", llama_cpp.LLAMA_KV_OVERRIDE_TYPE_STR,
                          imatrix["datasets"][0].encode()[:127]))
        items.append(("quantize.imatrix.entries_count", llama_cpp.LLAMA_KV_OVERRIDE_TYPE_INT, len(weights)))
        if imatrix["chunk_count"] > 0:
            items.append(("quantize.imatrix.chunks_count", llama_cpp.LLAMA_KV_OVERRIDE_TYPE_INT, imatrix["chunk_count"]))
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
        params.kv_overrides = ctypes.cast(kvo, ctypes.POINTER(llama_cpp.llama_model_kv_override))
    rc = llama_cpp.llama_model_quantize(src.encode(), dst.encode(), ctypes.byref(params))
    if rc != 0:
        raise RuntimeError(f"llama_model_quantize({src} -> ftype {ftype}) failed with {rc}")


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def kv_value(field) -> tuple:
    """(type name, value) of a gguf-py ReaderField, arrays as lists."""
    t = field.types
    if t[0] == gguf.GGUFValueType.ARRAY:
        et = t[1]
        vals = [field.parts[i] for i in field.data]
        if et == gguf.GGUFValueType.STRING:
            v = [bytes(x).decode("utf-8") for x in vals]
        else:
            v = [x[0].item() for x in vals]
        return f"ARRAY[{et.name}]", v
    part = field.parts[field.data[0]]
    if t[0] == gguf.GGUFValueType.STRING:
        return "STRING", bytes(part).decode("utf-8")
    v = part[0].item()
    if t[0] == gguf.GGUFValueType.FLOAT32:
        v = float(np.float32(v))
    return t[0].name, v


def read_file(path: str) -> dict:
    r = gguf.GGUFReader(path)
    meta = {f.name: kv_value(f) for f in r.fields.values() if not f.name.startswith("GGUF.")}
    keys = [f.name for f in r.fields.values() if not f.name.startswith("GGUF.")]
    tensors = []
    for t in r.tensors:
        data = bytes(np.asarray(t.data).reshape(-1).view(np.uint8))
        rows = int(np.prod(t.shape[1:])) if len(t.shape) > 1 else 1
        row = data[: len(data) // rows]
        tensors.append((t.name, t.tensor_type.name, sha(data), row[:ROW_PREFIX].hex()))
    with open(path, "rb") as f:
        file_sha = sha(f.read())
    return {"meta": meta, "keys": keys, "tensors": tensors, "sha256": file_sha}


def llama_cpp_commit() -> str:
    ref = Path("/work/ref/llama_cpp_python-0.3.36/vendor/llama.cpp")
    try:
        return subprocess.run(["git", "-C", str(ref), "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except Exception:
        return "unknown"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--llama-bin", help="directory with llama-quantize built from the same commit (cross-check)")
    a = ap.parse_args()
    llama_cpp.llama_backend_init()
    result = {
        "generator": "tests/golden/gen_model_goldens.py",
        "command": "WICK_LLAMA_SITE=/tmp/llvenv/lib/python3.11/site-packages .venv/bin/python "
                   "tests/golden/gen_model_goldens.py",
        "llama_cpp_python": llama_cpp.__version__,
        "llama_cpp_commit": llama_cpp_commit(),
        "gguf_py": getattr(gguf, "__version__", "0.19.0"),
        "type_codes": TYPE_CODES,
        "imatrix": {"dataset": DATASET, "chunks": CHUNKS, "chunk_size": CHUNK_SIZE, "legacy_targets": LEGACY_TARGETS},
        "cross_checked_with_llama_quantize_tool": bool(a.llama_bin),
        "row_prefix_bytes": ROW_PREFIX,
        "models": [],
        "blobs": [],
    }
    blobs: dict = {}  # sha256 -> (index, row prefix)
    with tempfile.TemporaryDirectory() as tmp:
        for m in RM.MODELS:
            t0 = time.time()
            src = os.path.join(tmp, m["name"] + ".gguf")
            RM.write_model(m, src)
            stats = RM.imatrix_stats(m)
            im_gguf = m["name"] + ".imatrix.gguf"
            im_dat = m["name"] + ".imatrix.dat"
            write_imatrix_gguf(os.path.join(tmp, im_gguf), stats)
            RM.write_imatrix_dat(os.path.join(tmp, im_dat), stats)
            loaded = {im_gguf: load_imatrix_tool(os.path.join(tmp, im_gguf)),
                      im_dat: load_imatrix_tool(os.path.join(tmp, im_dat))}
            real = REAL_IMATRIX.get(m["name"], {})
            for fname in real:
                shutil.copy(REAL_DIR / fname, os.path.join(tmp, fname))
                loaded[fname] = load_imatrix_tool(os.path.join(tmp, fname))
            src_info = read_file(src)
            runs = {}
            order = None
            key_orders: dict = {}
            jobs = []
            for target in FTYPES:
                jobs += [(target, "", None), (target, "+imatrix", im_gguf)]
                if target in LEGACY_TARGETS:
                    jobs.append((target, "+imatrix_dat", im_dat))
            for fname, targets in real.items():
                jobs += [(target, "+" + fname, fname) for target in targets]
            for target, suffix, im in jobs:
                ft = FTYPES[target]
                label = target + suffix
                dst = os.path.join(tmp, "out.gguf")
                quantize(src, dst, ft, loaded[im] if im else None, im)
                got = read_file(dst)
                if a.llama_bin and im:
                    tool_out = os.path.join(tmp, "tool.gguf")
                    subprocess.run([os.path.join(a.llama_bin, "llama-quantize"), "--imatrix", im, src, tool_out,
                                    target, "2"], cwd=tmp, check=True, capture_output=True)
                    if read_file(tool_out)["sha256"] != got["sha256"]:
                        raise RuntimeError(f"{m['name']} {label}: llama-quantize and the emulation differ")
                    os.remove(tool_out)
                os.remove(dst)
                names = [t[0] for t in got["tensors"]]
                if order is None:
                    order = names
                elif names != order:
                    raise RuntimeError(f"{m['name']}: tensor order differs for {label}")
                for _, _, h, row in got["tensors"]:
                    if h not in blobs:
                        blobs[h] = (len(blobs), row)
                diff = [[k, *v] for k, v in got["meta"].items() if src_info["meta"].get(k) != v]
                removed = [k for k in src_info["meta"] if k not in got["meta"]]
                runs[label] = {
                    "file_type": ft,
                    "sha256": got["sha256"],
                    "types": "".join(TYPE_CODES[t[1]] for t in got["tensors"]),
                    "tensors": [blobs[t[2]][0] for t in got["tensors"]],
                    "meta_changed": diff,
                    "meta_removed": removed,
                }
                key_orders.setdefault(json.dumps(got["keys"]), []).append(label)
            with open(src, "rb") as f:
                model_sha = sha(f.read())
            result["models"].append({
                "spec": m,
                "model_sha256": model_sha,
                "imatrix_gguf_sha256": RM.file_sha256(os.path.join(tmp, im_gguf)),
                "imatrix_dat_sha256": RM.file_sha256(os.path.join(tmp, im_dat)),
                "input_key_order": src_info["keys"],
                "output_key_orders": [{"keys": json.loads(k), "runs": v} for k, v in key_orders.items()],
                "output_tensor_order": order,
                "runs": runs,
            })
            print(f"{m['name']}: {len(runs)} runs in {time.time() - t0:.1f}s", file=sys.stderr)
    result["blobs"] = [[h, row] for h, (_, row) in sorted(blobs.items(), key=lambda kv: kv[1][0])]
    text = dump(result)
    json.loads(text)
    OUT.write_text(text)
    print(f"wrote {OUT} ({len(text)} bytes, {len(blobs)} distinct tensors)", file=sys.stderr)


def dump(result: dict) -> str:
    """One line per run / row: diffable, yet compact."""
    lines = ["{"]
    head = {k: v for k, v in result.items() if k not in ("models", "blobs")}
    for k, v in head.items():
        lines.append(f" {json.dumps(k)}: {json.dumps(v)},")
    lines.append(' "models": [')
    for mi, entry in enumerate(result["models"]):
        lines.append("  {")
        items = list(entry.items())
        for ki, (k, v) in enumerate(items):
            comma = "," if ki + 1 < len(items) else ""
            if k == "runs":
                lines.append('   "runs": {')
                labels = list(v)
                for li, label in enumerate(labels):
                    sep = "," if li + 1 < len(labels) else ""
                    lines.append(f"    {json.dumps(label)}: {json.dumps(v[label])}{sep}")
                lines.append("   }" + comma)
            else:
                lines.append(f"   {json.dumps(k)}: {json.dumps(v)}{comma}")
        lines.append("  }" + ("," if mi + 1 < len(result["models"]) else ""))
    lines.append(" ],")
    lines.append(' "blobs": [')
    blobs = result["blobs"]
    for i, b in enumerate(blobs):
        lines.append(f"  {json.dumps(b)}" + ("," if i + 1 < len(blobs) else ""))
    lines.append(" ]")
    lines.append("}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
