"""Generate tests/golden/dense_variants.json: what the pinned convert_hf_to_gguf.py writes
(``--outtype f32``) for the config / checkpoint variants of the dense architecture fixtures
(tests/dense_variants.py: config keys left to transformers' defaults, configs transformers refuses,
other sliding-window spellings, fused ERNIE projections, a Mistral Small 3.x text model).

Run by hand from the repository root (output committed; a few minutes):

    nice -n 10 /work/refvenv/bin/python tests/golden/gen_dense_variants.py [--only NAME ...]

``/work/refvenv`` has torch 2.11.0 and transformers 4.57.6 (the pinned tree's requirements). Each
variant's model directory is built (its files' SHA-256 recorded), converted once by the converter's
unchanged ``main()`` through ``_arch_convert_driver.py`` (which, as for arch_goldens.json, substitutes
the base fixture's ``pre`` for the shrunk vocabulary's unknown pre-tokenizer hash and records whether
transformers parsed config.json), and the F32 file recorded as tests/arch_fixtures/digest.py reads it:
SHA-256, size, metadata in order, per-tensor name, type, shape and hash. A converter failure is
recorded with its exception instead.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
OUT = HERE / "dense_variants.json"
LLAMA_CPP = "/work/ref/llama_cpp_python-0.3.36/vendor/llama.cpp"
sys.path.insert(0, str(ROOT / "tests"))

import dense_variants as DV  # noqa: E402

import arch_fixtures  # noqa: E402
import arch_fixtures.digest as DG  # noqa: E402


def convert(fx, tmp: Path) -> dict:
    d = fx.write(tmp / "model")
    entry = {"base": None, "what": fx.notes, "files": arch_fixtures.file_hashes(d)}
    out, report = tmp / "f32.gguf", tmp / "driver.json"
    cmd = [sys.executable, str(HERE / "_arch_convert_driver.py"), LLAMA_CPP, str(report), fx.pre or "-", str(d),
           f"f32={out}"]
    p = subprocess.run(cmd, capture_output=True, text=True, encoding="utf-8", errors="replace", cwd=str(tmp),
                       env=dict(os.environ, PYTHONHASHSEED="0", CUDA_VISIBLE_DEVICES=""))
    rep = json.loads(report.read_text()) if report.exists() else {}
    entry["hparams"] = ((rep.get("hparams") or [{}])[0]).get("source")
    if p.returncode != 0 or not out.exists():
        run = (rep.get("runs") or [{}])[0]
        entry["failed"] = run.get("exception") or p.stderr.strip().splitlines()[-1:]
        return entry
    sys.path.insert(0, LLAMA_CPP + "/gguf-py")
    import gguf  # noqa: PLC0415 - the pinned gguf-py
    entry["F32"] = DG.read_gguf(out, gguf)
    return entry


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", nargs="*")
    args = ap.parse_args()
    old = json.loads(OUT.read_text()) if OUT.exists() else {"variants": {}}
    result = {"generator": "tests/golden/gen_dense_variants.py",
              "reference": "convert_hf_to_gguf.py --outtype f32 of llama-cpp-python 0.3.36's vendor tree (llama.cpp "
                           "0c1e570), torch 2.11.0, transformers 4.57.6",
              "variants": {}}
    for v in DV.VARIANTS:
        if args.only and v.name not in args.only:
            if v.name in old["variants"]:
                result["variants"][v.name] = old["variants"][v.name]
            continue
        with tempfile.TemporaryDirectory(prefix=f"dense-{v.name}-") as tmp:
            entry = convert(DV.build(v), Path(tmp))
        entry["base"] = v.base
        result["variants"][v.name] = entry
        print(v.name, entry.get("hparams"), entry.get("failed") or entry["F32"]["sha256"][:16], flush=True)
    OUT.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
