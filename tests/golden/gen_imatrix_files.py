"""Generate io/imatrix/testdata/: importance matrices made by llama.cpp's own llama-imatrix.

Run by hand (output committed), from the repository root::

    .venv/bin/python tests/golden/gen_imatrix_files.py --llama-bin DIR

``DIR`` holds ``llama-imatrix`` built from the llama.cpp source that
llama-cpp-python 0.3.36 vendors (commit recorded in the output; CMake
Release build, ``GGML_NATIVE=OFF``, static libraries, targets
``llama-imatrix`` and ``llama-quantize``). It runs the real tool on two
models of ``tests/requantize_models.py`` (written with Wick's writer) and a
fixed calibration text, and writes:

* ``llama_f32.imatrix.gguf`` — default GGUF format, ``--process-output``
  (so ``output.weight`` has an entry), 3 chunks of 128 tokens;
* ``llama_f32.imatrix.dat`` — the same run with ``--output-format dat``;
* ``moe.imatrix.gguf`` — the 4-expert model: per-expert counts;
* ``expected.json`` — what an independent reader sees in them: the GGUF
  files read with gguf-py's ``GGUFReader``, the .dat parsed here with
  ``struct``, and the weights llama-quantize derives
  (tools/quantize/quantize.cpp ``load_imatrix``: sums / float32(count), 1
  for count 0; legacy: value / float32(ncall)) computed with numpy float32:
  per entry its length, matrices, counts or ncall, the first weights and the
  SHA-256 of all weights (little-endian float32).

``io/imatrix/imatrix_real_test.go`` checks Wick's reader against it, and
``tests/golden/gen_model_goldens.py`` quantizes with these files too.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "python"))

import gguf  # noqa: E402
import requantize_models as RM  # noqa: E402

OUT = ROOT / "io" / "imatrix" / "testdata"
WORDS = ("the of and a to in is you that it he was for on are as with his they at be this have from or one had "
         "by word but not what all were we when your can said there use an each which she do how their if will "
         "up other about out many then them these so some her would make like him into time has look two more "
         "write go see number no way could people my than first water been call who oil its now find long down "
         "day did get come made may part").split()


def calibration_text() -> str:
    r = random.Random(5)
    return " ".join(r.choice(WORDS) for _ in range(3000))


def f32_sha(x: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(x, dtype="<f4").tobytes()).hexdigest()


def describe_gguf(path: Path) -> dict:
    r = gguf.GGUFReader(str(path))
    fields = {f.name: f for f in r.fields.values()}
    ds = fields.get("imatrix.datasets")
    datasets = [bytes(ds.parts[i]).decode() for i in ds.data] if ds else []
    u32 = {k: int(fields[k].parts[fields[k].data[0]][0]) for k in ("imatrix.chunk_count", "imatrix.chunk_size")}
    sums, counts = {}, {}
    for t in r.tensors:
        a = np.asarray(t.data, dtype=np.float32).reshape(-1)
        if t.name.endswith(".in_sum2"):
            sums[t.name[: -len(".in_sum2")]] = a
        elif t.name.endswith(".counts"):
            counts[t.name[: -len(".counts")]] = a
    entries = {}
    for name in sorted(sums):
        s, c = sums[name], counts[name]
        ne0 = s.size // c.size
        w = np.empty(s.size, np.float32)
        ci = [int(np.floor(abs(x) + 0.5)) * (1 if x >= 0 else -1) for x in c]  # lround
        for j, cnt in enumerate(ci):
            fc = np.float32(cnt)
            w[j * ne0:(j + 1) * ne0] = s[j * ne0:(j + 1) * ne0] / fc if fc > 0 else np.float32(1)
        entries[name] = {"length": int(s.size), "matrices": int(c.size), "counts": ci, "ncall": None,
                         "first": [float(x) for x in w[:4]], "weights_sha256": f32_sha(w),
                         "sums_sha256": f32_sha(s)}
    return {"format": "gguf", "datasets": datasets, "chunk_count": u32["imatrix.chunk_count"],
            "chunk_size": u32["imatrix.chunk_size"], "has_metadata": True, "entries": entries}


def describe_dat(path: Path) -> dict:
    b = path.read_bytes()
    off = 0

    def i32() -> int:
        nonlocal off
        v = struct.unpack_from("<i", b, off)[0]
        off += 4
        return v

    entries = {}
    for _ in range(i32()):
        n = i32()
        name = b[off:off + n].decode()
        off += n
        ncall, nval = i32(), i32()
        s = np.frombuffer(b, "<f4", nval, off).astype(np.float32)
        off += 4 * nval
        w = s / np.float32(ncall) if ncall > 0 else s.copy()
        entries[name] = {"length": nval, "matrices": 1, "counts": None, "ncall": ncall,
                         "first": [float(x) for x in w[:4]], "weights_sha256": f32_sha(w), "sums_sha256": f32_sha(s)}
    chunk_count, datasets = 0, []
    if off < len(b):
        chunk_count = i32()
        if off < len(b):
            n = i32()
            if n > 0:
                datasets = [b[off:off + n].decode()]
                off += n
    assert off == len(b), "trailing bytes"
    return {"format": "legacy", "datasets": datasets, "chunk_count": chunk_count, "chunk_size": 0,
            "has_metadata": False, "entries": dict(sorted(entries.items()))}


def llama_cpp_commit() -> str:
    ref = Path("/work/ref/llama_cpp_python-0.3.36/vendor/llama.cpp")
    try:
        return subprocess.run(["git", "-C", str(ref), "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except Exception:
        return "unknown"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--llama-bin", required=True, help="directory with llama-imatrix")
    a = ap.parse_args()
    tool = os.path.join(a.llama_bin, "llama-imatrix")
    runs = [
        ("llama_f32.imatrix.gguf", RM.MODELS[0], ["--chunks", "3", "--process-output"]),
        ("llama_f32.imatrix.dat", RM.MODELS[0], ["--chunks", "3", "--process-output", "--output-format", "dat"]),
        ("moe.imatrix.gguf", RM.MODELS[2], ["--chunks", "2"]),
    ]
    expected = {"generator": "tests/golden/gen_imatrix_files.py", "llama_cpp_commit": llama_cpp_commit(),
                "tool": "llama-imatrix -c 128 -t 2 -f calib.txt", "files": {}}
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "calib.txt").write_text(calibration_text())
        for out_name, m, extra in runs:
            model = os.path.join(tmp, m["name"] + ".gguf")
            if not os.path.exists(model):
                RM.write_model(m, model)
            subprocess.run([tool, "-m", model, "-f", "calib.txt", "-o", out_name, "-c", "128", "-t", "2", *extra],
                           cwd=tmp, check=True, capture_output=True)
            shutil.copy(os.path.join(tmp, out_name), OUT / out_name)
            desc = describe_dat(OUT / out_name) if out_name.endswith(".dat") else describe_gguf(OUT / out_name)
            desc["model"] = m["name"]
            desc["args"] = extra
            expected["files"][out_name] = desc
            print(f"{out_name}: {len(desc['entries'])} entries", file=sys.stderr)
    (OUT / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")


if __name__ == "__main__":
    main()
