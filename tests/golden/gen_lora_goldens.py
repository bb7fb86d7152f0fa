"""Generate tests/golden/lora_goldens.json: what the pinned llama.cpp's
convert_lora_to_gguf.py makes of the PEFT adapter fixtures of tests/lora_fixtures.py.

Run by hand from the repository root (output committed; about a minute):

    nice -n 10 /work/refvenv/bin/python tests/golden/gen_lora_goldens.py [--llama-cpp DIR]

``/work/refvenv`` has torch 2.11.0, transformers 4.57.6, peft 0.21.2 and
safetensors 0.8.0 (the ``versions`` entry records them); Wick's own package is
imported from ``python/`` (its native library built by ``make lib``) only to
build the fixtures' files. ``--llama-cpp`` defaults to the pinned tree
/work/ref/llama_cpp_python-0.3.36/vendor/llama.cpp (commit 0c1e570).

For each fixture it

1. builds the base model directory and the adapter directory
   (tests/lora_fixtures.py) and records the SHA-256 of the adapter's files and
   of the base config.json (tests/test_lora.py rebuilds and compares them);
2. checks the adapter against peft itself: the base model made by transformers
   from config.json, ``get_peft_model`` with the fixture's ``LoraConfig`` (rank,
   alpha, target modules; the adapter's dtype kept), the fixture's tensors
   loaded with ``set_peft_model_state_dict`` (no missing or unexpected key), and
   ``save_pretrained`` (``save_embedding_layers=False``): the tensors PEFT writes must be the fixture's (names,
   dtypes, shapes, bytes; whether the whole file is the same bytes is recorded);
   (not for a fixture PEFT cannot build on transformers' classes: ERNIE's fused
   projections, recorded as ``"peft": null``);
3. runs ``convert_lora_to_gguf.py ADAPTER --base BASE --outtype T --outfile F``
   (real torch, its own interpreter) for T = f32 (its default), f16, bf16 and
   q8_0;
4. reads every output with the tree's gguf-py and records the file's SHA-256
   and size, per tensor (file order) name, type, shape (ggml order) and the
   first 16 hex digits of the SHA-256 of its bytes, and the metadata keys in
   order with types and values.

It also records in which order ``safetensors.torch.load_file`` (which the
script iterates) returns a file's tensors: a probe file whose data order is
not its name order.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
OUT = HERE / "lora_goldens.json"
DEFAULT_LLAMA_CPP = "/work/ref/llama_cpp_python-0.3.36/vendor/llama.cpp"
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "python"))

OUTTYPES = ("f32", "f16", "bf16", "q8_0")


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def peft_check(fx, base: Path, adapter: Path, tmp: Path) -> dict:
    import torch
    from peft import LoraConfig, get_peft_model, set_peft_model_state_dict
    from safetensors.torch import load_file
    from transformers import AutoConfig, AutoModelForCausalLM

    dtype = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}[fx.dtype]
    torch.manual_seed(0)
    cfg = AutoConfig.from_pretrained(base)
    model = AutoModelForCausalLM.from_config(cfg, torch_dtype=dtype)
    lc = LoraConfig(r=fx.r, lora_alpha=fx.alpha, target_modules=fx.target_modules(), lora_dropout=0.0,
                    task_type="CAUSAL_LM")
    pm = get_peft_model(model, lc, autocast_adapter_dtype=False)
    want = load_file(adapter / "adapter_model.safetensors")
    res = set_peft_model_state_dict(pm, want)
    missing = [k for k in res.missing_keys if "lora_" in k]
    assert not missing and not res.unexpected_keys, (fx.name, missing[:3], res.unexpected_keys[:3])
    out = tmp / f"peft-{fx.name}"
    # with embed_tokens among the targets PEFT would also save the whole embedding matrix
    # (save_embedding_layers="auto"), for adapters trained with new tokens; these are not
    pm.save_pretrained(out, save_embedding_layers=False)
    got = load_file(out / "adapter_model.safetensors")
    same = sorted(got) == sorted(want) and all(
        got[k].dtype == want[k].dtype and tuple(got[k].shape) == tuple(want[k].shape)
        and torch.equal(got[k].view(-1).view(torch.uint8), want[k].view(-1).view(torch.uint8)) for k in want)
    assert same, f"{fx.name}: PEFT saves other tensors than the fixture's"
    saved_cfg = json.loads((out / "adapter_config.json").read_text())
    return {"same_tensors": same,
            "same_file_bytes": sha(out / "adapter_model.safetensors") == sha(adapter / "adapter_model.safetensors"),
            "peft_tensor_names": list(got),
            "peft_adapter_config": {k: sorted(v) if isinstance(v, list) else v  # PEFT keeps a set: any order
                                    for k, v in ((k, saved_cfg.get(k)) for k in (
                                        "peft_type", "r", "lora_alpha", "target_modules", "use_dora", "use_rslora",
                                        "task_type"))}}


def read_gguf(path: Path, llama_cpp: str) -> dict:
    sys.path.insert(0, os.path.join(llama_cpp, "gguf-py"))
    import gguf

    r = gguf.GGUFReader(str(path))
    tensors = []
    for t in r.tensors:
        tensors.append({"name": t.name, "type": t.tensor_type.name, "shape": [int(x) for x in t.shape],
                        "sha16": hashlib.sha256(bytes(t.data.tobytes())).hexdigest()[:16]})
    meta = []
    for f in r.fields.values():
        if f.name.startswith("GGUF."):
            continue
        vt = f.types[0].name if f.types else "?"
        val = f.contents()
        if isinstance(val, list) and len(val) > 16:
            val = {"count": len(val), "sha256": hashlib.sha256(json.dumps(val).encode()).hexdigest()}
        meta.append({"key": f.name, "type": vt, "value": val})
    return {"sha256": sha(path), "size": path.stat().st_size, "tensors": tensors, "metadata": meta}


def load_file_order(tmp: Path) -> list:
    import lora_fixtures  # noqa: F401 - makes arch_fixtures importable
    import numpy as np
    from safetensors.torch import load_file

    from arch_fixtures._common import write_safetensors

    p = tmp / "probe.safetensors"
    write_safetensors(p, [("b", "F32", (2,), np.zeros(2, "<f4")), ("a", "F32", (2,), np.ones(2, "<f4"))],
                      {"format": "pt"})
    return list(load_file(p))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--llama-cpp", default=DEFAULT_LLAMA_CPP)
    args = ap.parse_args()
    import lora_fixtures as L
    import peft
    import safetensors
    import torch
    import transformers

    result: dict = {"versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                                 "peft": peft.__version__, "safetensors": safetensors.__version__},
                    "llama_cpp": args.llama_cpp, "outtypes": list(OUTTYPES), "fixtures": {}}
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        result["load_file_order_of_b_then_a"] = load_file_order(tmp)
        fixtures = L.by_name(tmp / "bases")
        for name, fx in fixtures.items():
            base = tmp / "bases" / "demo" if fx.base == "demo" else L.make_base(fx.base, tmp / "bases" / fx.base)
            adapter = L.make_adapter(fx, tmp / "adapters" / name)
            entry: dict = {"base": fx.base, "files": {p.name: sha(p) for p in sorted(adapter.iterdir())},
                           "base_config_sha256": sha(base / "config.json")}
            entry["peft"] = peft_check(fx, base, adapter, tmp) if fx.peft else None
            entry["targets"] = {}
            for ot in OUTTYPES:
                out = tmp / f"{name}-{ot}.gguf"
                cmd = [sys.executable, os.path.join(args.llama_cpp, "convert_lora_to_gguf.py"), str(adapter),
                       "--base", str(base), "--outtype", ot, "--outfile", str(out)]
                p = subprocess.run(cmd, capture_output=True, text=True)
                if p.returncode != 0:
                    entry["targets"][ot] = {"error": p.stderr[-2000:]}
                    print(f"{name} {ot}: FAILED\n{p.stderr[-2000:]}", file=sys.stderr)
                    continue
                entry["targets"][ot] = read_gguf(out, args.llama_cpp)
                print(f"{name} {ot}: {entry['targets'][ot]['sha256'][:16]}", file=sys.stderr)
            result["fixtures"][name] = entry
    result["command"] = "nice -n 10 /work/refvenv/bin/python tests/golden/gen_lora_goldens.py"
    OUT.write_text(json.dumps(result, indent=1, sort_keys=False) + "\n")
    print(f"wrote {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
