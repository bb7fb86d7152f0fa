"""Wick's bitsandbytes output (``wick.convert(..., format="bnb-nf4")``): model
directories that transformers loads.

Without torch: the directories (CPU rules) against what transformers itself
writes (tests/golden/bnb_out_goldens.json, from gen_bnb_out_goldens.py), the
quantized tensors (CUDA rules) against bitsandbytes' CUDA kernels
(tests/golden/bnb_cuda_cpu_goldens.npz), the choice of linear layers, the
options, bad input.

With torch, transformers and bitsandbytes installed (``make test-bnb``, or
``make test WITH_BNB=1``): bitsandbytes' CPU backend run on the same weights,
Wick's directories loaded by transformers and run (logits equal to
transformers' own quantization, state dicts equal to Wick's tensors), and the
choice of linear layers against transformers' on a dozen architectures.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import struct
from pathlib import Path

import bnb_models
import numpy as np
import pytest

import wick
from conftest import ROOT
from wick.convert import BnbOptionError, BnbOptions, build_bnb_plan
from wick.convert.bnb import BnbPlan, bnb_linear_weights, parse_size

GOLDEN = json.loads((ROOT / "tests" / "golden" / "bnb_out_goldens.json").read_text())
CASES = {c[0]: c for c in bnb_models.CASES}

_HAVE_TORCH = all(importlib.util.find_spec(m) is not None for m in ("torch", "transformers", "bitsandbytes", "accelerate"))
needs_torch = pytest.mark.skipif(not _HAVE_TORCH, reason="Wick's bitsandbytes-output checks against transformers and "
                                 "bitsandbytes need torch, transformers, accelerate and bitsandbytes (make test-bnb)")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    base = tmp_path_factory.mktemp("bnb-models")
    cache = {}

    def get(name: str) -> Path:
        if name not in cache:
            cache[name] = bnb_models.make(name, base)
        return cache[name]
    return get


def st_tensors(path: Path) -> dict:
    """name -> (dtype, shape, bytes) of a safetensors file, in file order."""
    b = path.read_bytes()
    n = struct.unpack("<Q", b[:8])[0]
    header = json.loads(b[8:8 + n])
    header.pop("__metadata__", None)
    return {k: (e["dtype"], e["shape"], b[8 + n + e["data_offsets"][0]:8 + n + e["data_offsets"][1]]) for k, e in header.items()}


def convert_case(case: str, models, out: Path, **extra) -> Path:
    _, model, fmt, opts, shard = CASES[case]
    opts = dict(opts)
    if "skip_modules" in opts:
        opts["skip_modules"] = tuple(opts["skip_modules"])
    wick.convert(models(model), out, format=fmt, rules="cpu", max_shard_size=shard, **opts, **extra)
    return out


# ----------------------------------------------------------- against transformers' files
@pytest.mark.parametrize("case", sorted(GOLDEN["cases"]))
def test_directory_matches_transformers_save_pretrained(models, tmp_path, case):
    g = GOLDEN["cases"][case]
    out = convert_case(case, models, tmp_path / case)
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["quantization_config"] == g["quantization_config"]
    src_cfg = json.loads((models(g["model"]) / "config.json").read_text())
    assert {k: v for k, v in cfg.items() if k != "quantization_config"} == src_cfg
    tensors = {}
    for f in sorted(out.glob("*.safetensors")):
        for name, (dt, shape, data) in st_tensors(f).items():
            tensors[name] = (dt, shape, f.name, data)
    assert set(tensors) == set(g["tensors"]), f"{case}: the keys differ from transformers'"
    for name, want in g["tensors"].items():
        dt, shape, _, data = tensors[name]
        assert [dt, shape] == want[:2], f"{case}: {name} is {dt} {shape}, transformers writes {want[:2]}"
        if len(want) == 4:
            assert hashlib.sha256(data).hexdigest()[:16] == want[3], f"{case}: {name}'s bytes differ from transformers'"
    shards = sorted(f for f in g["files"] if f.endswith(".safetensors"))
    assert sorted(f.name for f in out.glob("*.safetensors")) == shards
    for name, want in g["files"].items():
        path = out / name
        if name.endswith(".safetensors") and len(shards) > 1:
            continue  # the split points differ where documented; the tensors were compared above
        if name == "model.safetensors.index.json":
            index = json.loads(path.read_text())
            assert index["metadata"] == g["index_metadata"]
            assert index["weight_map"] == {k: tensors[k][2] for k in tensors}
            continue
        if name == "generation_config.json":
            # copied from the model: transformers rewrites it with its own version
            assert path.read_bytes() == (models(g["model"]) / name).read_bytes()
            continue
        got = hashlib.sha256(path.read_bytes()).hexdigest()
        assert got == want["sha256"], f"{case}: {name} is not byte-identical to transformers'"


def test_shards_follow_huggingface_hub(models, tmp_path):
    out = convert_case("llama-nf4-shards", models, tmp_path / "o")
    limit = parse_size("500KB")
    for f in out.glob("model-*.safetensors"):
        data = sum(len(d) for _, _, d in st_tensors(f).values())
        assert data <= limit or len(st_tensors(f)) == 1
    assert parse_size("5GB") == 5 * 10**9 and parse_size(123) == 123
    with pytest.raises(BnbOptionError, match="max_shard_size"):
        parse_size("5GiB")


# ----------------------------------------------------------- CUDA rules against CUDA goldens
def _checkpoint(d: Path, name: str, dtype: str, data: np.ndarray, shape) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    bnb_models._tiny_module().write_safetensors(d / "model.safetensors", [(name, dtype, tuple(shape), data)], {"format": "pt"})
    (d / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"], "model_type": "llama",
                                               "tie_word_embeddings": False}))
    return d


def test_cuda_rules_match_bitsandbytes_cuda(tmp_path):
    z = np.load(ROOT / "tests" / "golden" / "bnb_cuda_cpu_goldens.npz")
    name = "model.layers.0.mlp.down_proj.weight"
    for src, dt, data in (("normal_bf16", "BF16", z["input/normal_bf16_bits"].view("<u2")),
                          ("normal_f16", "F16", z["input/normal_f16_bits"].view("<u2"))):
        ck = _checkpoint(tmp_path / src, name, dt, data, (34, 243))
        out = tmp_path / (src + "-out")
        wick.convert(ck, out, format="bnb-nf4", double_quant=False, rules="cuda")
        t = st_tensors(out / "model.safetensors")
        assert t[name][2] == z[f"{src}/cuda/nf464/packed"].tobytes(), f"{src}: packed NF4 codes differ from CUDA's"
        assert t[name + ".absmax"][2] == z[f"{src}/cuda/nf464/absmax"].astype("<f4").tobytes()
    x = z["input/normal"].astype("<f4")
    ck = _checkpoint(tmp_path / "f32", name, "F32", x, (34, 243))
    for qt in ("nf4", "fp4"):
        for bs in (64, 256, 1024):
            out = tmp_path / f"f32-{qt}{bs}"
            wick.convert(ck, out, format="bnb-" + qt, blocksize=bs, rules="cuda")
            t = st_tensors(out / "model.safetensors")
            g = f"normal/cuda/{qt}{bs}n/"
            assert t[name][2] == z[g + "packed"].tobytes(), f"{qt}{bs}: packed codes differ from CUDA's"
            state = json.loads(t[f"{name}.quant_state.bitsandbytes__{qt}"][2])
            if np.float32(state["nested_offset"]) != z[g + "offset"][0]:
                # CUDA's float32 mean differs from Wick's by an ulp here (docs/bitsandbytes.md)
                assert abs(np.float32(state["nested_offset"]) - z[g + "offset"][0]) <= 2 * np.spacing(z[g + "offset"][0])
                continue
            assert t[name + ".absmax"][2] == z[g + "absmax_codes"].tobytes()
            assert t[name + ".nested_absmax"][2] == z[g + "nested_absmax"].astype("<f4").tobytes()


CUDA_GOLDEN = ROOT / "tests" / "golden" / "bnb_out_cuda_goldens.json"


@pytest.mark.skipif(not CUDA_GOLDEN.exists(), reason="no CUDA goldens of whole directories yet: run "
                    "tests/golden/gen_bnb_out_cuda_goldens.py on a machine with a GPU (Wick's own CUDA-rule checks "
                    "above use bnb_cuda_cpu_goldens.npz)")
def test_cuda_rules_match_transformers_on_cuda(models, tmp_path):
    """Wick's directories (CUDA rules) against transformers + bitsandbytes on
    a GPU: every tensor, except that a weight whose nested offset (CUDA's
    float32 mean) differs from Wick's by an ulp is compared on its codes only."""
    g = json.loads(CUDA_GOLDEN.read_text())
    for case, c in g["cases"].items():
        out = tmp_path / case
        wick.convert(models(c["model"]), out, format=c["format"], rules="cuda", compute_dtype=None)
        got = {}
        for f in out.glob("*.safetensors"):
            got.update(st_tensors(f))
        assert set(got) == set(c["tensors"]), case
        for name, (dt, shape, h) in c["tensors"].items():
            weight = name.split(".weight.")[0] + ".weight" if ".weight." in name else name
            mine = got[name]
            assert [mine[0], mine[1]] == [dt, shape], f"{case}: {name}"
            theirs_off = c["nested_offsets"].get(weight)
            if theirs_off is not None and name != weight:
                js = json.loads(got[f"{weight}.quant_state.bitsandbytes__{c['format'][4:]}"][2])
                if js["nested_offset"] != theirs_off:
                    continue  # the parts that depend on the offset
            assert hashlib.sha256(mine[2]).hexdigest()[:16] == h, f"{case}: {name} differs from CUDA bitsandbytes'"


# ----------------------------------------------------------- which modules, options, errors
def test_linear_selection_rules():
    listing = {
        "model.embed_tokens.weight": ("m", "BF16", (10, 4)), "lm_head.weight": ("m", "BF16", (10, 4)),
        "model.layers.0.self_attn.q_proj.weight": ("m", "BF16", (4, 4)),
        "model.layers.0.self_attn.q_proj.bias": ("m", "BF16", (4,)),
        "model.layers.0.mlp.down_proj.weight": ("m", "BF16", (4, 8)),
        "model.layers.0.block_sparse_moe.gate.weight": ("m", "BF16", (2, 4)),
        "model.layers.0.input_layernorm.weight": ("m", "BF16", (4,)),
        "transformer.wte.weight": ("m", "BF16", (10, 4)),
        "model.layers.0.conv.weight": ("m", "BF16", (4, 1, 3)),
    }
    sel = bnb_linear_weights(listing, {"model_type": "llama"})
    assert sel == {"lm_head.weight": "lm_head", "model.layers.0.self_attn.q_proj.weight": None,
                   "model.layers.0.mlp.down_proj.weight": None, "model.layers.0.block_sparse_moe.gate.weight": None}
    # a skip list replaces the default (lm_head is then quantized, as in transformers)
    sel = bnb_linear_weights(listing, {"model_type": "llama"}, ["mlp", "gate"])
    assert sel["lm_head.weight"] is None and sel["model.layers.0.mlp.down_proj.weight"] == "mlp"
    assert sel["model.layers.0.block_sparse_moe.gate.weight"] == "gate"
    assert sel["model.layers.0.self_attn.q_proj.weight"] is None
    with pytest.raises(wick.convert.UnsupportedArchitectureError, match="Conv1D"):
        bnb_linear_weights(listing, {"model_type": "gpt2"})


def test_options_and_bad_input(models, tmp_path):
    for bad in ({"blocksize": 48}, {"quant_storage": "int4"}, {"compute_dtype": "int8"}, {"rules": "tpu"},
                {"skip_modules": "lm_head"}, {"max_shard_size": "lots"}, {"format": "bnb-nf2"}):
        with pytest.raises(BnbOptionError):
            BnbOptions(**bad)
    with pytest.raises(BnbOptionError, match="GGUF target"):
        wick.convert(models("tiny-llama"), tmp_path / "x", "Q4_K_M", format="bnb-nf4")
    with pytest.raises(BnbOptionError, match="format"):
        wick.convert(models("tiny-llama"), tmp_path / "x", format="onnx")
    # an already quantized checkpoint
    q = tmp_path / "q"
    convert_case("llama-nf4", models, q)
    with pytest.raises(wick.convert.ModelFormatError, match="already quantized"):
        build_bnb_plan(q)
    # an existing output is kept unless overwrite; a directory that is no model directory is never replaced
    with pytest.raises(wick.WickFileExistsError):
        convert_case("llama-nf4", models, q)
    convert_case("llama-int8", models, q, overwrite=True)
    assert json.loads((q / "config.json").read_text())["quantization_config"]["load_in_8bit"]
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "notes.txt").write_text("mine")
    with pytest.raises(wick.WickError, match="without config.json"):
        convert_case("llama-nf4", models, keep, overwrite=True)
    assert (keep / "notes.txt").read_text() == "mine"
    # quant storage: the same bytes, stored as another dtype
    a = convert_case("llama-nf4", models, tmp_path / "u8")
    b = convert_case("llama-nf4", models, tmp_path / "bf16", quant_storage="bfloat16")
    ta, tb = st_tensors(a / "model.safetensors"), st_tensors(b / "model.safetensors")
    w = "model.layers.0.mlp.down_proj.weight"
    assert tb[w][:2] == ("BF16", [49152, 1]) and tb[w][2] == ta[w][2]
    assert json.loads((b / "config.json").read_text())["quantization_config"]["bnb_4bit_quant_storage"] == "bfloat16"


def test_non_finite_weight_names_the_tensor(models, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    base = models("tiny-qwen2-f16")
    for f in base.iterdir():
        (src / f.name).write_bytes(f.read_bytes())
    raw = bytearray((src / "model.safetensors").read_bytes())
    n = struct.unpack("<Q", raw[:8])[0]
    e = json.loads(raw[8:8 + n])["model.layers.1.mlp.up_proj.weight"]
    at = 8 + n + e["data_offsets"][0] + 2 * (72 * 3 + 5)  # row 3, column 5
    raw[at:at + 2] = np.array([np.inf], "<f2").tobytes()
    (src / "model.safetensors").write_bytes(bytes(raw))
    out = tmp_path / "out"
    with pytest.raises(wick.WickNonFiniteError, match=r"up_proj.*row 3"):
        wick.convert(src, out, format="bnb-nf4")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"], "a failed conversion left files behind"


@pytest.mark.parametrize("fmt", ["bnb-nf4", "bnb-int8"])
def test_round_trip_to_gguf(models, tmp_path, fmt):
    """Wick's directory is conversion input again (quantized inputs): its GGUF
    F32 tensors are the dequantized weights, and the kept tensors unchanged."""
    out = tmp_path / "bnb"
    wick.convert(models("tiny-llama"), out, format=fmt)
    gguf = tmp_path / "back.gguf"
    wick.convert(out, gguf, "F32")
    with wick.gguf.open(gguf) as g, wick.safetensors.open(models("tiny-llama")) as src:
        assert np.array_equal(g.tensor("token_embd.weight"), src.get("model.embed_tokens.weight", np.float32))
        back = g.tensor("blk.0.ffn_down.weight")
        w = src.get("model.layers.0.mlp.down_proj.weight", np.float32)
        assert back.shape == w.shape and 0 < np.abs(back - w).max() < 0.02


def test_plan_round_trip_and_dry_run(models, capsys):
    plan = wick.convert(models("tiny-qwen2-f16"), "unused", format="bnb-fp4", dry_run=True, double_quant=False)
    assert isinstance(plan, BnbPlan)
    again = BnbPlan.from_json(plan.to_json())
    assert again.to_dict() == plan.to_dict()
    d = plan.to_dict()
    assert d["schema"] == 3 and d["format"] == "safetensors"
    kinds = {t.name: t.type for t in plan.tensors}
    assert kinds["lm_head.weight"] == "copy" and kinds["model.layers.0.self_attn.q_proj.bias"] == "copy"
    assert kinds["model.layers.0.self_attn.q_proj.weight"] == "bnb.fp4"
    from wick.cli import main

    assert main(["convert", str(models("tiny-qwen2-f16")), "--format", "bnb-nf4", "--dry-run"]) == 0
    assert "NF4" in capsys.readouterr().out


def test_cli_convert_and_inspect(models, tmp_path, capsys):
    from wick.cli import main

    out = tmp_path / "cli"
    assert main(["convert", str(models("tiny-llama")), "-o", str(out), "--format", "bnb-int8", "--no-progress"]) == 0
    assert "INT8" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="--type: only for GGUF output"):
        main(["convert", str(models("tiny-llama")), "-o", str(out), "--format", "bnb-nf4", "--type", "Q4_K_M"])
    assert main(["convert", str(models("tiny-llama")), "-o", str(out), "--format", "bnb-nf4", "--force", "--no-progress",
                 "--skip-modules", "down_proj", "--no-double-quant"]) == 0
    capsys.readouterr()
    assert main(["inspect", str(out)]) == 0
    text = capsys.readouterr().out
    assert "quantization_config" in text and "bitsandbytes weights" in text
    assert "model.layers.0.self_attn.q_proj.weight  NF4" in text and "mlp.down_proj.weight  NF4" not in text


# ----------------------------------------------------------- against the real thing
@needs_torch
@pytest.mark.parametrize("fmt", ["bnb-nf4", "bnb-fp4", "bnb-int8"])
def test_cpu_rules_bit_identical_to_bitsandbytes(tmp_path, fmt):
    """Every quantized tensor of Wick's directory equals bitsandbytes' CPU
    backend run on the same weights (shapes with partial blocks, odd element
    counts, zero rows, three dtypes, several block sizes)."""
    import torch
    from bitsandbytes import functional as F

    torch.set_num_threads(1)
    rng = np.random.default_rng(11)
    shapes = [(96, 64), (101, 33), (7, 1000), (300, 80)]
    for dtype, np_dt in (("BF16", None), ("F16", "<f2"), ("F32", "<f4")):
        d = tmp_path / dtype
        d.mkdir()
        tensors, weights = [], {}
        for i, shape in enumerate(shapes):
            x = (rng.standard_normal(shape) * 0.03).astype(np.float32)
            x[1] = 0
            name = f"model.layers.{i}.mlp.up_proj.weight"
            data = bnb_models._bf16_bits(x) if dtype == "BF16" else x.astype(np_dt)
            tensors.append((name, dtype, shape, data))
            weights[name] = torch.from_numpy(data.view(np.int16).astype(np.int16)).view(torch.bfloat16) if dtype == "BF16" \
                else torch.from_numpy(data.astype(np_dt))
        bnb_models._tiny_module().write_safetensors(d / "model.safetensors", tensors)
        (d / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"], "model_type": "llama"}))
        for bs, nested in ((64, True), (128, False), (32, True)) if fmt != "bnb-int8" else ((0, False),):
            out = tmp_path / f"{dtype}-{bs}-{nested}"
            if fmt == "bnb-int8":
                wick.convert(d, out, format=fmt, rules="cpu")
            else:
                wick.convert(d, out, format=fmt, rules="cpu", blocksize=bs, double_quant=nested)
            got = st_tensors(out / "model.safetensors")
            for name, w in weights.items():
                if fmt == "bnb-int8":
                    q, scb, _ = F.int8_vectorwise_quant(w.to(torch.float16))
                    mod = name[:-len(".weight")]
                    assert got[name][2] == q.numpy().tobytes(), f"{dtype} {name}: int8 codes"
                    assert got[mod + ".SCB"][2] == scb.numpy().astype("<f4").tobytes(), f"{dtype} {name}: SCB"
                    continue
                qt = fmt[4:]
                packed, st = F.quantize_4bit(w, blocksize=bs, compress_statistics=nested, quant_type=qt)
                what = f"{dtype} {name} {qt} blocks of {bs}{' nested' if nested else ''}"
                assert got[name][2] == packed.numpy().tobytes(), what + ": packed codes"
                entries = {k: v for k, v in st.as_dict(packed=True).items()}
                for key, value in entries.items():
                    mine = got[f"{name}.{key}"][2]
                    if key.startswith("quant_state."):
                        assert json.loads(mine) == json.loads(bytes(value.numpy())), what + ": quant state"
                        assert mine == bytes(value.numpy()), what + ": quant-state JSON bytes"
                    else:
                        assert mine == value.numpy().tobytes(), f"{what}: {key}"


@needs_torch
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_cpu_rules_offset_is_torch_mean(tmp_path, threads):
    """For 32768 blocks or more PyTorch sums on several threads; the nested
    offset (and so every part of the state) follows torch_threads."""
    import torch
    from bitsandbytes import functional as F

    x = (np.random.default_rng(threads).standard_normal((1100, 2048)) * 0.02).astype("<f4")
    name = "model.layers.0.mlp.up_proj.weight"
    ck = _checkpoint(tmp_path / "ck", name, "F32", x, x.shape)
    out = tmp_path / "out"
    wick.convert(ck, out, format="bnb-nf4", rules="cpu", torch_threads=threads)
    got = st_tensors(out / "model.safetensors")
    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        _, st = F.quantize_4bit(torch.from_numpy(x), blocksize=64, compress_statistics=True, quant_type="nf4")
    finally:
        torch.set_num_threads(saved)
    assert json.loads(got[name + ".quant_state.bitsandbytes__nf4"][2])["nested_offset"] == st.offset.item()
    assert got[name + ".absmax"][2] == st.absmax.numpy().tobytes()


def _load_pair(src: Path, out: Path, fmt: str, compute: str):
    import torch
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    if fmt == "bnb-int8":
        cfg = BitsAndBytesConfig(load_in_8bit=True)
    else:
        cfg = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type=fmt[4:], bnb_4bit_use_double_quant=True,
                                 bnb_4bit_compute_dtype=getattr(torch, compute))
    theirs = AutoModelForCausalLM.from_pretrained(src, quantization_config=cfg, device_map="cpu", dtype="auto")
    mine = AutoModelForCausalLM.from_pretrained(out, device_map="cpu", dtype="auto")  # no quantization arguments
    return theirs, mine


@needs_torch
@pytest.mark.parametrize("model,fmt", [("tiny-llama", "bnb-nf4"), ("tiny-llama", "bnb-fp4"), ("tiny-llama", "bnb-int8"),
                                       ("tiny-qwen2r-f16", "bnb-nf4"), ("tiny-qwen2r-f16", "bnb-int8")])
def test_transformers_loads_and_runs(models, tmp_path, model, fmt):
    """transformers loads Wick's directory with no quantization arguments and
    computes the logits of its own quantization of the same model; its
    state dict is Wick's tensors."""
    import torch

    torch.set_num_threads(1)
    src = models(model)
    compute = "bfloat16" if model == "tiny-llama" else "float16"
    out = tmp_path / "out"
    wick.convert(src, out, format=fmt, rules="cpu", compute_dtype=None if fmt == "bnb-int8" else compute)
    theirs, mine = _load_pair(src, out, fmt, compute)
    sd = mine.state_dict()  # before running: bitsandbytes repacks 4-bit weights for its CPU matmul
    _check_state_dict(src, out, sd)
    ids = torch.tensor([[1, 5, 17, 42, 99, 3, 250]])
    with torch.no_grad():
        a, b = theirs(ids).logits, mine(ids).logits
    assert a.dtype == b.dtype and torch.equal(a, b), f"logits differ by up to {(a - b).abs().max().item()}"


def _check_state_dict(src: Path, out: Path, sd: dict) -> None:
    import torch

    files = {}
    for f in out.glob("*.safetensors"):
        files.update(st_tensors(f))
    tied = {"lm_head.weight"} if json.loads((src / "config.json").read_text()).get("tie_word_embeddings") else set()
    assert set(sd) - set(files) == tied and set(files) <= set(sd)
    for name, (_, _, data) in files.items():
        if name in sd:
            t = sd[name]
            got = t.contiguous().view(-1).view(torch.uint8).numpy().tobytes() if t.dim() else t.numpy().tobytes()
            assert got == data, f"{name}: the loaded tensor differs from Wick's"


@needs_torch
def test_linear_selection_matches_transformers():
    """Wick's choice of quantized weights (from names and shapes) is
    transformers' replace_with_bnb_linear's, on small configurations of the
    architectures Wick converts to GGUF and other causal LMs."""
    import torch
    from accelerate import init_empty_weights
    from transformers import AutoConfig, AutoModelForCausalLM, BitsAndBytesConfig
    from transformers.integrations.bitsandbytes import get_keys_to_not_convert, replace_with_bnb_linear

    small = dict(hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4, vocab_size=300,
                 pad_token_id=0, bos_token_id=1, eos_token_id=2)
    archs = [("llama", {"tie_word_embeddings": True}), ("llama", {"tie_word_embeddings": False}), ("mistral", {}),
             ("mixtral", {"num_local_experts": 4, "num_experts_per_tok": 2}), ("qwen2", {"tie_word_embeddings": True}),
             ("qwen3", {}), ("qwen2_moe", {"num_experts": 4, "moe_intermediate_size": 32,
                                           "shared_expert_intermediate_size": 48}),
             ("gemma", {"head_dim": 16}), ("phi3", {}), ("stablelm", {}), ("gpt_neox", {}), ("opt", {"ffn_dim": 96,
                                                                                                   "word_embed_proj_dim": 64}),
             ("falcon", {}), ("starcoder2", {})]
    for model_type, extra in archs:
        cfg = AutoConfig.for_model(model_type, **{**small, **extra})
        for skip in (None, ["o_proj", "mlp"]):
            with init_empty_weights():
                m = AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16)
            listing = {k: ("model.safetensors", "BF16", tuple(v.shape)) for k, v in m.state_dict().items()}
            if cfg.tie_word_embeddings:
                for k in getattr(m, "_tied_weights_keys", None) or []:
                    listing.pop(k, None)
            qc = BitsAndBytesConfig(load_in_4bit=True, llm_int8_skip_modules=skip)
            not_convert = get_keys_to_not_convert(m) if skip is None else list(skip)
            replace_with_bnb_linear(m, modules_to_not_convert=not_convert, quantization_config=qc)
            # (a tied lm_head, absent from the checkpoint, has nothing to quantize)
            theirs = sorted(f"{n}.weight" for n, mod in m.named_modules()
                            if type(mod).__name__ == "Linear4bit" and f"{n}.weight" in listing)
            sel = bnb_linear_weights(listing, cfg.to_dict(), skip)
            mine = sorted(n for n, why in sel.items() if why is None)
            assert mine == theirs, f"{model_type} (skip {skip}): Wick quantizes {set(mine) ^ set(theirs)} differently"


def test_bench_and_docs_mention_the_command():
    text = (ROOT / "docs" / "bitsandbytes.md").read_text()
    assert "--format bnb-nf4" in text and "format=\"bnb-nf4\"" in text and "from_pretrained" in text
    assert os.path.exists(ROOT / "tests" / "golden" / "gen_bnb_out_goldens.py")
