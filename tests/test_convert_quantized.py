"""Quantized checkpoints as conversion input (wick.convert.quantized + convert/decode).

The fixtures are built by tests/quantized_models.py (deterministic, a few
hundred KB each); the goldens in tests/golden/quantized_models.json come from
llama.cpp's convert_hf_to_gguf.py + llama_model_quantize on the same files
(bitsandbytes: on their bitsandbytes-dequantized twins), made by
tests/golden/gen_quantized_models.py.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest

import wick
from conftest import ROOT
from wick.convert import (
    PlanError,
    QuantizedTensorError,
    UnsupportedQuantizationError,
    build_plan,
    format_plan_table,
    supported_quantization_methods,
)
from wick.convert.quantized import group_tensors, read_quantization_config

sys.path.insert(0, str(ROOT / "tests"))
import quantized_models as qm  # noqa: E402

GOLDEN = json.loads((ROOT / "tests" / "golden" / "quantized_models.json").read_text())


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    base = tmp_path_factory.mktemp("quantized")
    made = {}

    def get(fmt: str) -> Path:
        if fmt not in made:
            made[fmt] = qm.make(base / fmt, fmt)  # the directory name is general.name's source
        return made[fmt]
    return get


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("fmt", qm.FORMATS)
@pytest.mark.parametrize("target", ["F16", "Q8_0", "Q4_K_M"])
def test_byte_identical_to_llama_cpp(models, tmp_path, fmt, target):
    """The file equals llama.cpp's pipeline on the same quantized checkpoint
    (bitsandbytes: on the checkpoint bitsandbytes dequantizes it to)."""
    out = tmp_path / f"{fmt}-{target}.gguf"
    want = GOLDEN["formats"][fmt]["files"][target]
    if want is None:  # llama-quantize refuses to requantize passed-through NVFP4 blocks; so does Wick
        with pytest.raises(PlanError, match="llama-quantize refuses to requantize"):
            wick.convert(models(fmt), out, type=target)
        assert not out.exists()
        return
    wick.convert(models(fmt), out, type=target)
    assert sha(out) == want


@pytest.mark.parametrize("fmt", ["fp8-block", "ct-fp8-channel", "modelopt-fp8", "qwen3-fp8-block"])
def test_fp8_as_q8(models, tmp_path, fmt):
    """convert_hf_to_gguf.py --fp8-as-q8: FP8 weights as Q8_0, the rest F16."""
    out = tmp_path / "out.gguf"
    wick.convert(models(fmt), out, type="F16", fp8_as_q8=True)
    assert sha(out) == GOLDEN["formats"][fmt]["files"]["F16+fp8_as_q8"]
    with pytest.raises(PlanError, match="fp8_as_q8 writes Q8_0 tensors"):
        build_plan(models(fmt), "Q4_K_M", fp8_as_q8=True)


@pytest.mark.parametrize("fmt", qm.FORMATS)
def test_dequantized_tensors_match_reference(models, tmp_path, fmt):
    """Every tensor of the F32 file (dequantized, q/k permuted) equals the
    reference's: a mismatch here is in the decoding, not the quantizers."""
    out = tmp_path / f"{fmt}-F32.gguf"
    wick.convert(models(fmt), out, type="F32")
    with wick.gguf.open(out) as g:
        got = {t.name: hashlib.sha256(np.ascontiguousarray(g.raw(t.name)).tobytes()).hexdigest() for t in g.tensors.values()}
    assert got == GOLDEN["formats"][fmt]["tensors"]


def test_dry_run_shows_source_format(models):
    plan = build_plan(models("fp8-block"), "Q4_K_M")
    table = format_plan_table(plan, metadata=False)
    assert "fp8 e4m3 block 128x128" in table
    assert "bnb nf4 b64 dq" in format_plan_table(build_plan(models("bnb-nf4-dq"), "Q8_0"), metadata=False)
    assert "gptq int4" in format_plan_table(build_plan(models("gptq-4bit"), "Q8_0"), metadata=False)
    src = plan.tensor("blk.0.attn_q.weight").sources[0]
    assert src.tensor == "model.layers.0.self_attn.q_proj.weight" and src.dtype == "F8_E4M3"
    assert src.decode["method"] == "scaled" and src.decode["params"] == {"block": [128, 128]}
    assert src.decode["aux"]["scale"]["tensor"] == "model.layers.0.self_attn.q_proj.weight_scale_inv"
    # the plan round-trips through JSON with its decode entries
    again = type(plan).from_json(plan.to_json())
    assert again.tensor("blk.0.attn_q.weight").sources[0].decode == src.decode


def test_nvfp4_blocks_pass_through_first(models):
    """NVFP4 weights keep their blocks (type NVFP4), come first, each followed by
    its scale-2 and input-scale tensors, and make general.file_type MOSTLY_NVFP4."""
    for fmt in qm.PASSTHROUGH:
        plan = build_plan(models(fmt), "F16")
        names = [t.name for t in plan.tensors]
        assert names[:3] == ["blk.0.ffn_down.weight", "blk.0.ffn_down.scale", "blk.0.ffn_down.input_scale"]
        assert plan.tensor("blk.0.attn_q.weight").type == "NVFP4"
        assert plan.tensor("blk.0.attn_q.weight").parts  # the q rows are permuted, blocks and scales alike
        assert plan.meta("general.file_type") == 39 and plan.file_type == 39
        assert build_plan(models(fmt), "Q8_0").meta("general.file_type") == 7
        assert "nvfp4 (passed through)" in format_plan_table(plan, metadata=False)


def test_gptq_weights_come_after_the_others(models):
    """llama.cpp's dequant_model adds GPTQ's weights as new tensors: the
    converter (and so an F16/Q8_0 file) writes them after every other tensor."""
    names = [t.name for t in build_plan(models("gptq-4bit"), "F16").tensors]
    first_q = min(i for i, n in enumerate(names) if n.startswith("blk.") and not n.endswith("norm.weight"))
    assert all(n.endswith("norm.weight") or not n.startswith("blk.") for n in names[:first_q])
    assert names[first_q:] and all(not n.endswith("norm.weight") for n in names[first_q:])


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize("qc, what", [
    ({"quant_method": "awq", "bits": 4, "version": "gemm"}, "'awq'"),
    ({"quant_method": "exl2"}, "'exl2'"),
    ({"quant_method": "hqq"}, "'hqq'"),
    ({"quant_method": "compressed-tensors", "format": "mxfp4-pack-quantized",
      "config_groups": {"g": {"weights": {"num_bits": 4}}}}, "mxfp4-pack-quantized"),
    ({"quant_method": "modelopt", "quant_algo": "W4A16_NVFP4"}, "W4A16_NVFP4"),
    ({"quant_method": "gptq", "bits": 3}, "bits=3"),
])
def test_unsupported_methods_are_named_before_any_work(models, tmp_path, qc, what):
    d = models("fp8-block")
    cfg = json.loads((d / "config.json").read_text())
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text(json.dumps({**cfg, "quantization_config": qc}))  # no weights, no tokenizer
    with pytest.raises(UnsupportedQuantizationError) as e:
        build_plan(bad, "Q8_0")
    msg = str(e.value)
    assert what in msg and "config.json" in msg
    for m in supported_quantization_methods():
        assert m in msg


def test_quantization_config_sources(models):
    """config.json's quantization_config, else ModelOpt's hf_quant_config.json,
    else AutoGPTQ's quantize_config.json; none means not quantized."""
    assert read_quantization_config({}, None) is None
    assert read_quantization_config({"quantization_config": {"quant_method": "fp8", "weight_block_size": [128, 128]}}).method == "fp8"
    d = models("modelopt-fp8")
    qc = read_quantization_config(json.loads((d / "config.json").read_text()), d)
    assert (qc.method, qc.format, qc.source) == ("modelopt", "FP8", "hf_quant_config.json")
    d = models("gptq-8bit-v2")
    qc = read_quantization_config(json.loads((d / "config.json").read_text()), d)
    assert (qc.method, qc.source, dict(qc.params)) == ("gptq", "quantize_config.json", {"bits": 8, "zero_offset": 0})


def _listing(d: Path):
    from wick.convert.load import list_checkpoint
    return list_checkpoint(d)


def test_missing_scale_names_tensor_and_file(models):
    d = models("gptq-4bit")
    listing = _listing(d)
    del listing["model.layers.1.mlp.up_proj.qzeros"]
    qc = read_quantization_config(json.loads((d / "config.json").read_text()), d)
    with pytest.raises(QuantizedTensorError) as e:
        group_tensors(qc, listing)
    assert "model.layers.1.mlp.up_proj.qzeros" in str(e.value) and "model.safetensors" in str(e.value)


def test_inconsistent_block_scale(models):
    d = models("fp8-block")
    listing = _listing(d)
    f, dt, _ = listing["model.layers.0.mlp.down_proj.weight_scale_inv"]
    listing["model.layers.0.mlp.down_proj.weight_scale_inv"] = (f, dt, (2, 2))  # 320 columns need 3 blocks
    qc = read_quantization_config(json.loads((d / "config.json").read_text()), d)
    with pytest.raises(QuantizedTensorError, match=r"down_proj.weight_scale_inv.*needs 3 in dimension 1"):
        group_tensors(qc, listing)


def test_bad_quant_state_json(models):
    d = models("bnb-nf4-dq")
    listing = _listing(d)
    qc = read_quantization_config(json.loads((d / "config.json").read_text()), d)
    from wick.convert.load import _read_small_tensor
    key = "model.layers.0.mlp.up_proj.weight.quant_state.bitsandbytes__nf4"

    def read(f, n):
        return np.frombuffer(b"{not json", np.uint8) if n == key else _read_small_tensor(d / f, n)
    with pytest.raises(QuantizedTensorError, match=r"up_proj.weight.quant_state.bitsandbytes__nf4.*not a JSON quant state"):
        group_tensors(qc, listing, read)
    with pytest.raises(QuantizedTensorError, match=r"quant state 'blocksize' is '64'; expected int"):
        group_tensors(qc, listing, lambda f, n: np.frombuffer(
            json.dumps({"quant_type": "nf4", "blocksize": "64", "dtype": "bfloat16", "shape": [1, 1]}).encode(), np.uint8))


def test_decoder_errors_reach_python_before_writing(models, tmp_path):
    """An inconsistency only the data shows (a g_idx out of range) is found by
    the Go decoder before anything is written: no output file."""
    import shutil
    d = tmp_path / "gptq-4bit"
    shutil.copytree(models("gptq-4bit"), d)
    raw = bytearray((d / "model.safetensors").read_bytes())
    n = int.from_bytes(raw[:8], "little")
    hdr = json.loads(raw[8:8 + n])
    a, _ = hdr["model.layers.1.mlp.up_proj.g_idx"]["data_offsets"]
    raw[8 + n + a:8 + n + a + 4] = (99).to_bytes(4, "little")
    (d / "model.safetensors").write_bytes(bytes(raw))
    out = tmp_path / "out.gguf"
    with pytest.raises(wick.WickError, match=r"tensor \"model.layers.1.mlp.up_proj.g_idx\" in model.safetensors: g_idx\[0\] = 99 is outside the 2 groups"):
        wick.convert(d, out, type="Q8_0")
    assert not out.exists()


def test_library_decodes_every_planned_method():
    """The Go library's decode methods (wick_info_json) cover every method the planner emits."""
    from wick import _native
    planned = {"scaled", "gptq", "int_packed", "nvfp4", "bnb_4bit", "bnb_int8"}
    assert planned <= set(_native.info()["decode_methods"])
