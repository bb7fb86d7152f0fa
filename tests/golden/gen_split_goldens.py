"""Generate tests/golden/split_goldens.json: how llama.cpp's ``llama-gguf-split``
splits GGUF files that Wick wrote.

Run by hand (output committed), from the repository root, with Wick installed
(``make setup lib``) and a ``llama-gguf-split`` built from the pinned llama.cpp
(llama-cpp-python 0.3.36's vendor/llama.cpp, commit 0c1e570; any out-of-tree
CMake build of the ``llama-gguf-split`` target, e.g. with ``-DLLAMA_CURL=OFF``)::

    .venv/bin/python tests/golden/gen_split_goldens.py --llama-bin /path/to/build/bin

For each case of ``tests/split_models.py`` it

1. writes the single GGUF file with Wick (the demo model converted to a
   target, or the "wide" model requantized), and for the demo model checks it
   against tests/golden/tiny_gguf_sha256.json (llama.cpp's own pipeline);
2. runs ``llama-gguf-split --split ARGS SINGLE.gguf OUT`` and records the
   SHA-256 and size of every part it writes (``OUT-00001-of-0000N.gguf`` …),
   in order, with the number of tensors in each (read back with gguf-py's
   GGUFReader), or — when llama-gguf-split refuses — that it did, and its
   message.

The JSON also records the exact command lines and ``llama-gguf-split
--version``. tests/test_split.py makes the same single files, asks Wick for the
split output directly (``split_max_size=`` / ``split_max_tensors=``) and
compares every part's hash.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

import split_models as SM  # noqa: E402


def sha256(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--llama-bin", required=True, type=Path, help="directory holding llama-gguf-split")
    ap.add_argument("--out", type=Path, default=ROOT / "tests" / "golden" / "split_goldens.json")
    args = ap.parse_args()
    tool = args.llama_bin / "llama-gguf-split"
    if not tool.is_file():
        sys.exit(f"no llama-gguf-split in {args.llama_bin}")
    version = subprocess.run([str(tool), "--version"], capture_output=True, text=True)
    import gguf  # gguf-py, to count each part's tensors

    tiny_golden = json.loads((ROOT / "tests" / "golden" / "tiny_gguf_sha256.json").read_text())
    cases = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for case in SM.CASES:
            single = work / f"{case['name']}.gguf"
            SM.single_file(case, work, single)
            rec = {"name": case["name"], "model": case["model"], "target": case["target"], "args": case["args"],
                   "input_sha256": sha256(single), "input_size": single.stat().st_size}
            if case["model"] == "tiny":
                want = tiny_golden["files"][case["target"]]["sha256"]
                assert rec["input_sha256"] == want, f"{case['name']}: Wick's single file differs from llama.cpp's"
                rec["input_is_llama_cpp_pipeline"] = True
            prefix = work / "parts" / case["name"] / "split"
            prefix.parent.mkdir(parents=True)
            cmd = [str(tool), "--split", *case["args"], str(single), str(prefix)]
            p = subprocess.run(cmd, capture_output=True, text=True)
            rec["command"] = "llama-gguf-split --split " + " ".join(case["args"]) + " SINGLE.gguf OUT"
            parts = sorted(prefix.parent.iterdir())
            if p.returncode != 0:
                msg = [ln for ln in (p.stdout + p.stderr).splitlines() if ln.startswith("error:")]
                rec["error"] = msg[0] if msg else f"exit status {p.returncode}"
                rec["parts"] = [q.name for q in parts]  # what it left behind
            else:
                rec["parts"] = [{"suffix": q.name[len("split"):], "sha256": sha256(q), "size": q.stat().st_size,
                                 "tensors": len(gguf.GGUFReader(q).tensors)} for q in parts]
            cases.append(rec)
            print(case["name"], rec.get("error") or [(x["suffix"], x["tensors"]) for x in rec["parts"]])
    out = {
        "generator": "tests/golden/gen_split_goldens.py",
        "reference": "llama-gguf-split (tools/gguf-split) of llama.cpp 0c1e570, llama-cpp-python 0.3.36's vendor tree",
        "llama_gguf_split_version": (version.stdout + version.stderr).strip(),
        "cases": cases,
    }
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    print("wrote", args.out)


if __name__ == "__main__":
    main()
