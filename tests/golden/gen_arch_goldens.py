"""Generate tests/golden/arch_goldens.json: what the pinned llama.cpp pipeline makes of the
architecture fixtures (tests/arch_fixtures: one model directory per Hugging Face class of
issues 10 and 11).

Run by hand from the repository root (output committed; a few minutes):

    WICK_LLAMA_SITE=.venv/lib/python3.11/site-packages nice -n 10 /work/refvenv/bin/python tests/golden/gen_arch_goldens.py [--only NAME ...] [--llama-cpp DIR]

``/work/refvenv`` has torch 2.11.0, transformers 4.57.6 (as the pinned tree's
requirements say), sentencepiece, protobuf and tokenizers; ``WICK_LLAMA_SITE``
names a site-packages with llama-cpp-python 0.3.36 when that interpreter has
none (``make llama`` in a worktree installs one). ``--llama-cpp`` defaults to
the pinned tree /work/ref/llama_cpp_python-0.3.36/vendor/llama.cpp
(commit 0c1e570). ``--only`` regenerates some fixtures and keeps the others'
recorded entries.

For each fixture it

1. builds the model directory (tests/arch_fixtures) and records the SHA-256 of
   every file in it (tests/test_arch_fixtures.py rebuilds and compares them);
2. runs the pinned ``convert_hf_to_gguf.py`` (real torch) in a fresh
   interpreter through ``_arch_convert_driver.py``, four times: ``--outtype
   f32`` (the lossless intermediate), ``f16``, ``bf16`` and ``q8_0`` (the
   converter's own outputs, which are Wick's reference for those targets, see
   ``wick.convert.ggml_types.TARGETS``). The driver records whether
   transformers parsed config.json, and for BPE tokenizers the converter's own
   pre-tokenizer answer for the fixture's vocabulary (a shrunk vocabulary
   hashes to nothing it knows) before substituting the fixture's ``pre`` —
   the name the converter writes for the family's real tokenizer;
3. quantizes the F32 file with ``llama_model_quantize`` (llama-cpp-python
   0.3.36, two threads) to F16, BF16, Q8_0 (recorded as ``F16@quantize`` …,
   what the issue's wording literally asks for), Q4_K_M and Q6_K, and to Q4_K_M
   with an importance matrix: synthetic statistics for every matrix the F32
   file holds but token_embd and the routers (3-D experts get per-expert
   ``in_sum2`` rows and ``counts``, one expert with no tokens), written with
   ggml's own gguf API as llama-imatrix's ``save_imatrix`` lays it out
   (tests/golden/gen_model_goldens.py's writer) and loaded / passed as the
   llama-quantize tool does;
4. reads every output with gguf-py and records the file's SHA-256 and size, per
   tensor (file order) name, type, shape (ggml order) and the first 16 hex
   digits of the SHA-256 of its bytes, and the metadata keys in order with
   types and values (arrays longer than 16 elements as count + SHA-256 of
   their JSON);
5. loads every output with llama-cpp-python in a child process and greedily
   generates four tokens (``ran``, the tokens, or the error); with the F32
   file it also tokenizes the fixture's sample strings
   (tests/arch_fixtures/samples.py: unicode, digits, special tokens in text,
   the chat template rendered with jinja2) and records those ids beside what
   Hugging Face ``tokenizers`` makes of tokenizer.json (sentencepiece for a
   tokenizer.model-only fixture).

A fixture whose conversion fails is recorded with the converter's error (and
its log tail) instead of targets.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
OUT = HERE / "arch_goldens.json"
DEFAULT_LLAMA_CPP = "/work/ref/llama_cpp_python-0.3.36/vendor/llama.cpp"
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "python"))

try:
    import llama_cpp
except ImportError:
    site = os.environ.get("WICK_LLAMA_SITE")
    if not site:
        raise SystemExit("llama_cpp is not importable: set WICK_LLAMA_SITE to a site-packages with "
                         "llama-cpp-python 0.3.36") from None
    sys.path.append(os.path.abspath(site))
    import llama_cpp

import arch_fixtures  # noqa: E402
import arch_fixtures.digest as DG  # noqa: E402
import arch_fixtures.imatrix as AI  # noqa: E402
import arch_fixtures.samples as AS  # noqa: E402

CONVERTER_TYPES = {"F32": "f32", "F16": "f16", "BF16": "bf16", "Q8_0": "q8_0"}
QUANTIZE_TYPES = {"F16@quantize": 1, "BF16@quantize": 32, "Q8_0@quantize": 7, "Q4_K_M": 15, "Q6_K": 18}
IMATRIX_TARGET = "Q4_K_M+imatrix"
HASH_PREFIX = DG.HASH_PREFIX
ARRAY_INLINE = DG.ARRAY_INLINE


sha = DG.sha
_URL = re.compile(r"[a-z]+://\S+")
_TMP = re.compile(r"/[^\s\"']*/arch-[A-Za-z0-9_]+(-[a-z0-9_]*/?)?")


def clean(v):
    """Recorded messages without the run's temporary paths or any URL (they name hosts)."""
    if isinstance(v, str):
        return _URL.sub("<url>", _TMP.sub("<tmp>/", v))
    if isinstance(v, list):
        return [clean(x) for x in v]
    if isinstance(v, dict):
        return {k: clean(x) for k, x in v.items()}
    return v


# ------------------------------------------------------------- the converter
def run_converter(llama_cpp_dir: str, model_dir: Path, jobs: dict, pre: str | None, workdir: Path) -> dict:
    """All of ``jobs`` (outtype -> output path) in one converter interpreter; the driver's report."""
    report = workdir / "driver.json"
    cmd = [sys.executable, str(HERE / "_arch_convert_driver.py"), llama_cpp_dir, str(report), pre or "-", str(model_dir),
           *[f"{ot}={out}" for ot, out in jobs.items()]]
    env = dict(os.environ, PYTHONHASHSEED="0", CUDA_VISIBLE_DEVICES="")
    p = subprocess.run(cmd, capture_output=True, text=True, encoding="utf-8", errors="replace", env=env,
                       cwd=str(workdir))
    rep = json.loads(report.read_text()) if report.exists() else {"runs": []}
    rep["rc"] = p.returncode
    if p.returncode != 0:
        rep["log_tail"] = p.stderr.strip().splitlines()[-12:]
    return rep


# ------------------------------------------------------------ quantizing
def _gmg():
    import gen_model_goldens  # noqa: PLC0415  (its writer / loader / quantize helpers)
    return gen_model_goldens


def quantize(src: Path, dst: Path, ftype: int, imatrix: dict | None = None, file_arg: str | None = None,
             allow_requantize: bool = False) -> None:
    """llama_model_quantize (with the llama-quantize tool's imatrix handling when ``imatrix``)."""
    real_defaults = llama_cpp.llama_model_quantize_default_params

    def defaults():
        p = real_defaults()
        p.allow_requantize = allow_requantize
        return p

    if imatrix is None:
        p = defaults()
        p.ftype = ftype
        p.nthread = 2
        if llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), ctypes.byref(p)) != 0:
            raise RuntimeError(f"llama_model_quantize({src.name}, ftype {ftype}) failed")
    else:
        llama_cpp.llama_model_quantize_default_params = defaults
        try:
            _gmg().quantize(str(src), str(dst), ftype, imatrix, file_arg)
        finally:
            llama_cpp.llama_model_quantize_default_params = real_defaults


def quantize_recorded(src: Path, dst: Path, ftype: int, imatrix: dict | None = None,
                      file_arg: str | None = None) -> str:
    """Quantize as llama-quantize does; if it refuses (a source tensor already quantized, e.g. gpt-oss's
    MXFP4 experts: "requantizing from type mxfp4 is disabled"), record that and redo it as
    ``llama-quantize --allow-requantize``. Returns the pipeline description."""
    what = f"llama_model_quantize(F32, ftype {ftype}" + (f", imatrix {file_arg}" if imatrix else "")
    try:
        quantize(src, dst, ftype, imatrix, file_arg)
        return what + ")"
    except RuntimeError:
        quantize(src, dst, ftype, imatrix, file_arg, allow_requantize=True)
        return (what + ", allow_requantize): without --allow-requantize llama-quantize refuses the F32 file "
                "(a tensor in it is already quantized)")


# --------------------------------------------------------------- reading
def read_gguf(path: Path, gguf) -> dict:
    return DG.read_gguf(path, gguf)


def compact(targets: dict) -> tuple:
    """Per target: file hash and size, the tensors' types and hashes, and the metadata. Tensor
    names/shapes and key orders are stored once, in the first target that has them
    (``tensor_order`` / ``key_order`` name that target); metadata values in full for F32,
    as the keys whose type or value differ from F32's for the others."""
    base_meta = {m[0]: m[1:] for m in targets["F32"]["metadata"]}
    out = {}
    seen_names: dict = {}
    seen_keys: dict = {}
    for label, got in targets.items():
        e = {"sha256": got["sha256"], "size": got["size"], "pipeline": got["pipeline"]}
        names = json.dumps([[t[0], t[2]] for t in got["tensors"]])
        if names in seen_names:
            e["tensor_order"] = seen_names[names]
        else:
            seen_names[names] = label
            e["tensor_names"] = [[t[0], t[2]] for t in got["tensors"]]
        e["tensors"] = [[t[1], t[3]] for t in got["tensors"]]
        keys = json.dumps([m[0] for m in got["metadata"]])
        if keys in seen_keys:
            e["key_order"] = seen_keys[keys]
        else:
            seen_keys[keys] = label
            e["metadata_keys"] = [m[0] for m in got["metadata"]]
        if label == "F32":
            e["metadata"] = got["metadata"]
        else:
            e["metadata_changed"] = [m for m in got["metadata"] if base_meta.get(m[0]) != m[1:]]
        if "run" in got:
            e["llama_cpp_run"] = got["run"]
        out[label] = e
    return out


# ----------------------------------------------------------- llama.cpp run
RUN_CHILD = r"""
import json, sys
sys.path.append(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2] else None
import llama_cpp
llm = llama_cpp.Llama(model_path=sys.argv[1], n_ctx=64, n_threads=2, n_batch=64, verbose=False, seed=0)
out = {"ran": False}
if len(sys.argv) > 3:
    strings = json.loads(open(sys.argv[3], encoding="utf-8").read())
    out["tokens"] = [llm.tokenize(s.encode("utf-8"), add_bos=False, special=True) for s in strings]
ids = llm.tokenize(b"Hello world, the quick brown fox", add_bos=True)
llm.reset(); llm.eval(ids)
gen = []
for _ in range(4):
    t = llm.sample(temp=0.0); gen.append(int(t)); llm.eval([t])
out.update({"ran": True, "prompt_tokens": len(ids), "generated": gen})
print(json.dumps(out))
"""


def run_llama(path: Path, strings_file: Path | None = None) -> dict:
    site = os.environ.get("WICK_LLAMA_SITE", "")
    args = [sys.executable, "-c", RUN_CHILD, str(path), os.path.abspath(site) if site else ""]
    if strings_file is not None:
        args.append(str(strings_file))
    p = subprocess.run(args, capture_output=True, text=True, encoding="utf-8", errors="replace", timeout=300)
    if p.returncode == 0 and p.stdout.strip():
        return json.loads(p.stdout.strip().splitlines()[-1])
    return {"ran": False, "error": clean((p.stderr.strip().splitlines() or ["?"])[-3:]), "rc": p.returncode}


def hf_tokens(model_dir: Path, strings: list) -> list | None:
    """Hugging Face tokenizers (tokenizer.json) or, for SentencePiece-only fixtures, sentencepiece."""
    if (model_dir / "tokenizer.json").is_file():
        import tokenizers
        tok = tokenizers.Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        return [tok.encode(s, add_special_tokens=False).ids for s in strings]
    if (model_dir / "tokenizer.model").is_file():
        # sentencepiece does not parse special tokens in text: those strings are not compared (None)
        import sentencepiece
        sp = sentencepiece.SentencePieceProcessor(model_file=str(model_dir / "tokenizer.model"))
        specials = [sp.id_to_piece(i) for i in range(sp.get_piece_size()) if sp.is_control(i)]
        return [None if any(t in s for t in specials) else sp.encode(s) for s in strings]
    return None


# ------------------------------------------------------------------ main
def do_fixture(fx, llama_cpp_dir: str, gguf) -> dict:
    t0 = time.time()
    entry: dict = {"hf_class": fx.hf_class, "dir_name": fx.dir_name, "notes": fx.notes}
    with tempfile.TemporaryDirectory(prefix=f"arch-{fx.name}-") as tmp:
        tmp = Path(tmp)
        d = fx.write(tmp / "model")
        entry["files"] = arch_fixtures.file_hashes(d)
        entry["pre"] = {"name": fx.pre, "source": fx.pre_source} if fx.pre else None
        outs = {}
        jobs = {ot: tmp / f"{label}.gguf" for label, ot in CONVERTER_TYPES.items()}
        rep = run_converter(llama_cpp_dir, d, jobs, fx.pre, tmp)
        for label, ot in CONVERTER_TYPES.items():
            run = next((r for r in rep["runs"] if r["outtype"] == ot), None)
            if run is not None and run["rc"] == 0 and jobs[ot].exists():
                outs[label] = jobs[ot]
        entry["converter"] = clean({"hparams": (rep.get("hparams") or [{}])[0],
                                    "pre_lookup": (rep.get("pre_lookups") or [None])[0]})
        if len(outs) != len(CONVERTER_TYPES):
            bad = next((r for r in rep["runs"] if r["rc"] != 0), {"outtype": "?", "exception": None})
            entry["converter"]["failed"] = clean({"outtype": bad["outtype"], "exception": bad.get("exception"),
                                                  "log_tail": rep.get("log_tail"),
                                                  "warnings": rep.get("warnings", [])[-8:]})
            print(f"{fx.name}: converter FAILED ({bad['outtype']}): {bad.get('exception')}", file=sys.stderr)
            if "F32" not in outs:
                return entry
        f32 = outs["F32"]
        targets = {}
        for label, out in outs.items():
            targets[label] = {**read_gguf(out, gguf), "pipeline": f"convert_hf_to_gguf --outtype {CONVERTER_TYPES[label]}"}
        for label, ft in QUANTIZE_TYPES.items():
            out = tmp / f"{label}.gguf"
            pipeline = quantize_recorded(f32, out, ft)
            targets[label] = {**read_gguf(out, gguf), "pipeline": pipeline}
            outs[label] = out
        # importance matrix, named as llama-quantize's command line names it (the run in its directory)
        stats = AI.stats_for(targets["F32"]["tensors"])
        im_name = f"{fx.name}.imatrix.gguf"
        _gmg().write_imatrix_gguf(str(tmp / im_name), stats)
        entry["imatrix_sha256"] = sha((tmp / im_name).read_bytes())
        loaded = _gmg().load_imatrix_tool(str(tmp / im_name))
        out = tmp / "imatrix.gguf"
        cwd = os.getcwd()
        os.chdir(tmp)
        try:
            pipeline = quantize_recorded(f32, out, QUANTIZE_TYPES["Q4_K_M"], loaded, im_name)
        finally:
            os.chdir(cwd)
        targets[IMATRIX_TARGET] = {**read_gguf(out, gguf), "pipeline": pipeline}
        outs[IMATRIX_TARGET] = out
        strings = AS.samples(d)
        sfile = tmp / "strings.json"
        sfile.write_text(json.dumps(strings, ensure_ascii=False), encoding="utf-8")
        for label, path in outs.items():
            targets[label]["run"] = run_llama(path, sfile if label == "F32" else None)
        ref_tokens = targets["F32"]["run"].pop("tokens", None)
        hf = hf_tokens(d, strings)
        # None: nothing to compare with (no tokenizer.json / tokenizer.model, e.g. Kimi's tiktoken.model)
        same = None if hf is None or ref_tokens is None else all(h is None or h == r for h, r in zip(hf, ref_tokens))
        entry["tokenization"] = {"strings": strings, "llama_cpp_reference": ref_tokens,
                                 "hf": "same" if same and hf == ref_tokens else hf,
                                 "reference_matches_hf": same,
                                 "hf_source": "tokenizer.json" if (d / "tokenizer.json").is_file() else
                                 "tokenizer.model" if (d / "tokenizer.model").is_file() else None}
        entry["targets"] = compact(targets)
        ran = [k for k, v in targets.items() if v["run"].get("ran")]
        entry["llama_cpp_ran"] = {"all": len(ran) == len(targets), "ran": ran}
    print(f"{fx.name}: {len(targets)} targets, llama.cpp ran {len(ran)}/{len(targets)} in {time.time() - t0:.1f}s",
          file=sys.stderr)
    return entry


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--llama-cpp", default=DEFAULT_LLAMA_CPP)
    ap.add_argument("--only", nargs="*", default=None)
    ap.add_argument("--out", type=Path, default=OUT, help="output file (default: tests/golden/arch_goldens.json)")
    a = ap.parse_args()
    out_path = a.out
    sys.path.insert(0, a.llama_cpp + "/gguf-py")
    import gguf  # the pinned tree's gguf-py
    llama_cpp.llama_backend_init()
    old = json.loads(out_path.read_text()) if out_path.exists() and a.only else {"fixtures": {}}
    try:
        commit = subprocess.run(["git", "-C", a.llama_cpp, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    except Exception:
        commit = ""
    import torch
    import transformers
    result = {
        "generator": "tests/golden/gen_arch_goldens.py",
        "command": "WICK_LLAMA_SITE=.venv/lib/python3.11/site-packages nice -n 10 /work/refvenv/bin/python "
                   "tests/golden/gen_arch_goldens.py",
        "llama_cpp_python": llama_cpp.__version__, "llama_cpp_commit": commit or "0c1e570",
        "torch": torch.__version__.split("+")[0], "transformers": transformers.__version__,
        "converter_targets": CONVERTER_TYPES, "quantize_targets": QUANTIZE_TYPES, "imatrix_target": IMATRIX_TARGET,
        "imatrix": {"dataset": AI.DATASET, "chunks": AI.CHUNKS, "chunk_size": AI.CHUNK_SIZE},
        "tensor_hash_prefix": HASH_PREFIX, "array_inline_max": ARRAY_INLINE,
        "fixtures": dict(old.get("fixtures", {})),
    }
    for fx in arch_fixtures.all_fixtures():
        if a.only and fx.name not in a.only:
            continue
        result["fixtures"][fx.name] = do_fixture(fx, a.llama_cpp, gguf)
    order = [fx.name for fx in arch_fixtures.all_fixtures()]
    result["fixtures"] = {k: result["fixtures"][k] for k in order if k in result["fixtures"]}
    out_path.write_text(dump(result))
    print(f"wrote {out_path} ({out_path.stat().st_size} bytes)", file=sys.stderr)


def dump(result: dict) -> str:
    """One line per tensor list / metadata list: diffable, yet compact."""
    lines = ["{"]
    head = [(k, v) for k, v in result.items() if k != "fixtures"]
    for k, v in head:
        lines.append(f" {json.dumps(k)}: {json.dumps(v)},")
    lines.append(' "fixtures": {')
    fxs = list(result["fixtures"].items())
    for i, (name, e) in enumerate(fxs):
        lines.append(f"  {json.dumps(name)}: {{")
        items = list(e.items())
        for j, (k, v) in enumerate(items):
            comma = "," if j + 1 < len(items) else ""
            if k == "targets":
                lines.append('   "targets": {')
                labels = list(v)
                for li, label in enumerate(labels):
                    sep = "," if li + 1 < len(labels) else ""
                    lines.append(f"    {json.dumps(label)}: {json.dumps(v[label], ensure_ascii=False)}{sep}")
                lines.append("   }" + comma)
            else:
                lines.append(f"   {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}{comma}")
        lines.append("  }" + ("," if i + 1 < len(fxs) else ""))
    lines.append(" }")
    lines.append("}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
