"""Qwen3.5 / 3.6 (qwen35, qwen35moe): plan-level checks and bad input.

The byte-for-byte comparisons with the pinned llama.cpp pipeline are in
tests/test_arch_goldens.py (fixtures qwen35, qwen35_vlm, qwen35moe, qwen35moe_vlm); here:
the value-head re-ordering and the other linear-attention transforms against a numpy
transcription of the converter's torch code, the metadata, per-expert checkpoints, and what a
broken checkpoint gets (an error naming the tensor or key and the file, and no output file).
"""

from __future__ import annotations

import copy
import hashlib
import json

import numpy as np
import pytest

import arch_fixtures as AF
import wick
from arch_fixtures._common import T
from conftest import ROOT
from wick.convert import ConfigError, MissingTensorError, TensorShapeError, UnexpectedTensorError, build_plan
from wick.convert.lazy import LazyTensor, SourceInfo
from wick.convert.plan import LLAMA_FTYPE_MOSTLY_NVFP4
from wick.convert.view import materialize

FIXTURES = AF.by_name()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return AF.builder(tmp_path_factory)


kv = AF.plan_kv


def reorder_v_heads(x, dim, nk, r, hd):
    """The converter's ``_reorder_v_heads`` (reshape → swap the two head dims → reshape), in numpy."""
    shape = list(x.shape)
    new = shape[:dim] + [nk, r, hd] + shape[dim + 1:]
    perm = list(range(len(new)))
    perm[dim], perm[dim + 1] = perm[dim + 1], perm[dim]
    return x.reshape(new).transpose(perm).reshape(shape)


def test_contiguous_reshape_keeps_the_view():
    """torch's .contiguous().reshape() after a permute: same element order, the view keeps its dims."""
    t = LazyTensor.of("w", SourceInfo("m.safetensors", "F32", (12, 5)))
    p = t.reshape(2, 3, 2, 5).permute(1, 0, 2, 3).contiguous_reshape(12, 5)
    assert p.shape == (12, 5)
    src = np.arange(60, dtype=np.float32).reshape(12, 5)
    np.testing.assert_array_equal(materialize([src], p.plan_parts()),
                                  src.reshape(2, 3, 2, 5).transpose(1, 0, 2, 3).reshape(-1))
    assert t.contiguous_reshape(6, -1).shape == (6, 10)  # a plain reshape where one exists
    with pytest.raises(wick.convert.PlanError, match="cannot reshape"):
        p.contiguous_reshape(7, 5)


def test_linear_attention_tensors_match_the_converter(built):
    """Every linear-attention tensor read through its views and ops equals the converter's torch
    code transcribed in numpy (V heads re-ordered from grouped to tiled, A_log → −exp, conv1d squeezed)."""
    plan = build_plan(built("qwen35"), "F32")
    c = FIXTURES["qwen35"].config
    nk, dk, nv, dv, e = (c["linear_num_key_heads"], c["linear_key_head_dim"], c["linear_num_value_heads"],
                         c["linear_value_head_dim"], c["hidden_size"])
    r, qk = nv // nk, 2 * nk * dk
    rng = np.random.default_rng(1)

    def check(gguf_name, hf_suffix, src_shape, want_fn):
        t = plan.tensor(gguf_name)
        assert t.sources[0].tensor == "model.layers.0.linear_attn." + hf_suffix
        src = rng.standard_normal(src_shape).astype(np.float32)
        got = materialize([src], t.parts, t.ops)
        want = want_fn(src).astype(np.float32)
        np.testing.assert_array_equal(got, want.reshape(-1), err_msg=gguf_name)
        assert t.shape == list(reversed(want.shape))

    check("blk.0.attn_qkv.weight", "in_proj_qkv.weight", (qk + nv * dv, e),
          lambda w: np.concatenate([w[:qk], reorder_v_heads(w[qk:], 0, nk, r, dv)]))
    check("blk.0.attn_gate.weight", "in_proj_z.weight", (nv * dv, e), lambda w: reorder_v_heads(w, 0, nk, r, dv))
    check("blk.0.ssm_beta.weight", "in_proj_b.weight", (nv, e), lambda w: reorder_v_heads(w, 0, nk, r, 1))
    check("blk.0.ssm_alpha.weight", "in_proj_a.weight", (nv, e), lambda w: reorder_v_heads(w, 0, nk, r, 1))
    check("blk.0.ssm_dt.bias", "dt_bias", (nv,), lambda w: reorder_v_heads(w[:, None], 0, nk, r, 1)[:, 0])
    check("blk.0.ssm_a", "A_log", (nv,),
          lambda w: -np.exp(reorder_v_heads(w[:, None], 0, nk, r, 1)[:, 0].astype(np.float64)))
    check("blk.0.ssm_conv1d.weight", "conv1d.weight", (qk + nv * dv, 1, c["linear_conv_kernel_dim"]),
          lambda w: np.concatenate([w[:qk, 0], reorder_v_heads(w[qk:, 0], 0, nk, r, dv)]))
    check("blk.0.ssm_out.weight", "out_proj.weight", (e, nv * dv), lambda w: reorder_v_heads(w, 1, nk, r, dv))
    check("blk.0.ssm_norm.weight", "norm.weight", (dv,), lambda w: w)          # the gated norm: as stored
    assert plan.tensor("blk.0.ssm_conv1d.weight").type == "F32"
    q_norm = plan.tensor("blk.3.attn_q_norm.weight")                          # the others: scale - 1 stored
    assert q_norm.ops == [{"op": "add", "value": 1.0}]


def test_metadata(built):
    plan = build_plan(built("qwen35moe_vlm"), "Q8_0")
    m = kv(plan, "qwen35moe")
    assert m["block_count"] == 5 and m["nextn_predict_layers"] == 1
    assert m["attention.recurrent_layers"] == [True, True, True, False, False]
    assert (m["ssm.conv_kernel"], m["ssm.state_size"], m["ssm.group_count"], m["ssm.time_step_rank"],
            m["ssm.inner_size"]) == (4, 64, 2, 4, 256)
    assert m["rope.dimension_count"] == 32 and m["rope.dimension_sections"] == [6, 5, 5, 0]
    assert m["expert_feed_forward_length"] == 256 and m["expert_shared_feed_forward_length"] == 256
    assert "feed_forward_length" not in m
    assert not any(t.name.startswith(("v.", "mm.")) or "visual" in t.name for t in plan.tensors)


def test_default_mrope_section_is_appended_last(tmp_path):
    """Without mrope_section the converter's mixin writes [11, 11, 10, 0] after every other key."""
    rope = dict(FIXTURES["qwen35"].config["rope_parameters"])
    del rope["mrope_section"]
    plan = build_plan(AF.write_variant(tmp_path, "qwen35", config={"rope_parameters": rope}), "F16")
    keys = [k.key for k in plan.metadata if k.key.startswith("qwen35.")]
    assert keys[-1] == "qwen35.rope.dimension_sections"
    assert kv(plan, "qwen35")["rope.dimension_sections"] == [11, 11, 10, 0]


def test_per_expert_checkpoint(tmp_path):
    """Experts stored one tensor per expert (as older exports do) are stacked in expert order, as the
    converter's Qwen2MoeModel does; the file converts."""
    fx = copy.deepcopy(FIXTURES["qwen35moe"])
    x, f, e = 4, 256, 256
    fused = [t.name for t in fx.tensors if t.name.endswith(("experts.gate_up_proj", "experts.down_proj"))]
    fx.tensors = [t for t in fx.tensors if t.name not in fused]
    for name in fused:
        if name.endswith("down_proj"):
            p = name[:-len("down_proj")]
            for i in range(x):
                fx.tensors += [T(f"{p}{i}.gate_proj.weight", f, e), T(f"{p}{i}.up_proj.weight", f, e),
                               T(f"{p}{i}.down_proj.weight", e, f)]
    d = fx.write(tmp_path / "m")
    plan = build_plan(d, "F16")
    gate = plan.tensor("blk.4.ffn_gate_exps.weight")
    assert gate.shape == [e, f, x]
    assert [s.tensor for s in gate.sources] == [f"mtp.layers.0.mlp.experts.{i}.gate_proj.weight" for i in range(x)]
    out = tmp_path / "out.gguf"
    wick.convert(d, out, type="Q8_0", threads=2)
    assert out.stat().st_size > 0


def test_missing_linear_attention_tensor(tmp_path):
    d = AF.write_variant(tmp_path, "qwen35", drop={"model.layers.1.linear_attn.A_log"})
    out = tmp_path / "out.gguf"
    with pytest.raises(MissingTensorError) as e:
        wick.convert(d, out, type="Q8_0")
    msg = str(e.value)
    assert "model.layers.1.linear_attn.A_log" in msg and "blk.1.ssm_a" in msg and "linear-attention" in msg
    assert not out.exists()


def test_missing_mtp_tensor(tmp_path):
    d = AF.write_variant(tmp_path, "qwen35moe", drop={"mtp.fc.weight"})
    with pytest.raises(MissingTensorError, match=r"blk\.4\.nextn\.eh_proj") as e:
        build_plan(d, "Q8_0")
    assert "MTP block" in str(e.value)


def test_linear_attention_shape_disagrees_with_config(tmp_path):
    d = AF.write_variant(tmp_path, "qwen35", config={"linear_key_head_dim": 32})
    out = tmp_path / "out.gguf"
    with pytest.raises(TensorShapeError) as e:
        wick.convert(d, out, type="Q8_0")
    msg = str(e.value)
    assert "model.layers.0.linear_attn.conv1d.weight" in msg and "model.safetensors" in msg  # the first in order
    assert not out.exists()


def test_value_heads_not_a_multiple_of_key_heads(tmp_path):
    d = AF.write_variant(tmp_path, "qwen35_vlm", text_config={"linear_num_value_heads": 3})
    with pytest.raises(ConfigError, match="linear_num_value_heads 3 is not a multiple of linear_num_key_heads 2"):
        build_plan(d, "Q8_0")


def test_layer_types_length(tmp_path):
    d = AF.write_variant(tmp_path, "qwen35", config={"layer_types": ["linear_attention"] * 3})
    with pytest.raises(ConfigError, match="layer_types"):
        build_plan(d, "Q8_0")


def test_without_mtp(tmp_path):
    """No MTP layers in config.json: mtp.* tensors are refused (a layer beyond the blocks); with none, the
    model converts without NextN layers (the pinned converter fails there: documented difference)."""
    d = AF.write_variant(tmp_path / "a", "qwen35", config={"mtp_num_hidden_layers": 0})
    with pytest.raises(UnexpectedTensorError, match="mtp"):
        build_plan(d, "Q8_0")
    mtp = {t.name for t in FIXTURES["qwen35"].tensors if t.name.startswith("mtp.")}
    d = AF.write_variant(tmp_path / "b", "qwen35", config={"mtp_num_hidden_layers": 0}, drop=mtp)
    plan = build_plan(d, "Q4_K_M")
    m = kv(plan, "qwen35")
    assert m["block_count"] == 4 and "nextn_predict_layers" not in m
    assert m["attention.recurrent_layers"] == [True, True, True, False]


def test_fused_experts_disagree_with_the_expert_count(tmp_path):
    """3 experts in the fused tensors, 4 in config.json: named with its file, no output."""
    fx = copy.deepcopy(FIXTURES["qwen35moe"])
    name = "model.layers.2.mlp.experts.gate_up_proj"
    fx.tensors = [T(name, 3, 2 * 256, 256) if t.name == name else t for t in fx.tensors]
    d = fx.write(tmp_path / "m")
    out = tmp_path / "out.gguf"
    with pytest.raises(TensorShapeError) as e:
        wick.convert(d, out, type="Q4_K_M")
    msg = str(e.value)
    assert name in msg and "model.safetensors" in msg and "[4, 256, 256]" in msg
    assert not out.exists()


def test_per_expert_checkpoint_missing_an_expert(tmp_path):
    fx = copy.deepcopy(FIXTURES["qwen35moe"])
    fused = [t.name for t in fx.tensors if t.name.endswith(("experts.gate_up_proj", "experts.down_proj"))]
    fx.tensors = [t for t in fx.tensors if t.name not in fused]
    for name in fused:
        if name.endswith("down_proj"):
            p = name[:-len("down_proj")]
            for i in range(4):
                fx.tensors += [T(f"{p}{i}.{w}.weight", *((256, 256))) for w in ("gate_proj", "up_proj", "down_proj")]
    fx.tensors = [t for t in fx.tensors if t.name != "model.layers.1.mlp.experts.2.up_proj.weight"]
    d = fx.write(tmp_path / "m")
    out = tmp_path / "out.gguf"
    with pytest.raises(MissingTensorError) as e:
        wick.convert(d, out, type="Q8_0")
    msg = str(e.value)
    assert "'model.layers.1.mlp.experts.2.up_proj.weight'" in msg and "model.safetensors" in msg
    assert not out.exists()


def nvfp4_variant(root, out_proj: bool):
    from arch_fixtures.qwen35 import write_quantized_variant
    return write_quantized_variant(root, "out_proj" if out_proj else "rows")


QUANT_GOLD = json.loads((ROOT / "tests" / "golden" / "qwen35_quantized.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def quantized_dirs(tmp_path_factory):
    from arch_fixtures.qwen35 import write_quantized_variant
    cache = {}

    def get(variant):
        if variant not in cache:
            d = write_quantized_variant(tmp_path_factory.mktemp(variant), variant)
            assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in d.iterdir()} == \
                QUANT_GOLD["variants"][variant]["files"], "the NVFP4 variant no longer builds the golden's files"
            cache[variant] = d
        return cache[variant]
    return get


@pytest.mark.parametrize("variant", ["rows", "out_proj", "fp8"])
@pytest.mark.parametrize("target", ["F32", "F16", "BF16", "Q8_0"])
def test_quantized_checkpoints_match_the_converter(quantized_dirs, variant, target, tmp_path):
    """tests/golden/qwen35_quantized.json (gen_qwen35_quantized.py: the pinned converter's files): byte for
    byte — NVFP4 rows re-ordered (qkv / z / a / b), out_proj's columns re-ordered as whole blocks, and
    block FP8 dequantized before the views."""
    out = tmp_path / "out.gguf"
    wick.convert(quantized_dirs(variant), out, type=target, threads=2)
    assert hashlib.sha256(out.read_bytes()).hexdigest() == QUANT_GOLD["variants"][variant]["targets"][target]


def test_nvfp4_projections_pass_through_with_rows_reordered(tmp_path):
    """NVFP4 blocks pass through; the value-head re-ordering of in_proj_qkv / z / a / b is a gather of whole
    block rows."""
    d = nvfp4_variant(tmp_path / "m", out_proj=False)
    plan = build_plan(d, "F32")
    c = FIXTURES["qwen35"].config
    nk, dk, nv, dv = (c["linear_num_key_heads"], c["linear_key_head_dim"], c["linear_num_value_heads"],
                      c["linear_value_head_dim"])
    qkv = plan.tensor("blk.0.attn_qkv.weight")
    assert qkv.type == "NVFP4" and plan.file_type == LLAMA_FTYPE_MOSTLY_NVFP4
    assert plan.tensors[0].type == "NVFP4"  # passed-through blocks first, as the converter writes them
    rows = np.arange(2 * nk * dk + nv * dv, dtype=np.float32)[:, None]
    qk = 2 * nk * dk
    want = np.concatenate([rows[:qk], reorder_v_heads(rows[qk:], 0, nk, nv // nk, dv)])[:, 0]
    cols = c["hidden_size"]
    got = materialize([np.repeat(rows, cols, axis=1)], qkv.parts).reshape(-1, cols)[:, 0]
    np.testing.assert_array_equal(got, want)
    wick.convert(d, tmp_path / "out.gguf", type="F32", threads=2)


def test_nvfp4_out_proj_head_not_whole_blocks_is_refused():
    """A value head of 32 columns would split NVFP4's 64-element blocks: refused, naming the tensor."""
    from types import SimpleNamespace

    from wick.convert.archs.qwen35 import Qwen35Adapter

    a = Qwen35Adapter()
    a.config = {**FIXTURES["qwen35"].config, "linear_value_head_dim": 32, "linear_num_value_heads": 8}
    name = "model.layers.0.linear_attn.out_proj.weight"
    src = SourceInfo("model-00002.safetensors", "F32", (256, 256), decode=SimpleNamespace(passthrough="NVFP4"))
    with pytest.raises(wick.convert.QuantizedTensorError) as e:
        a._linear_attention(LazyTensor.of(name, src), name)
    assert name in str(e.value) and "model-00002.safetensors" in str(e.value) and "linear_value_head_dim=32" in str(e.value)
    assert e.value.tensor == name
    a.config["linear_value_head_dim"], a.config["linear_num_value_heads"] = 64, 4   # whole blocks: a block gather
    assert a._linear_attention(LazyTensor.of(name, src), name).shape == (256, 256)
