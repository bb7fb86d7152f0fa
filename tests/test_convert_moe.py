"""Qwen2/3 MoE, OLMoE, Granite MoE and Llama 4: plan-level checks and bad input.

The byte-for-byte comparisons with the pinned llama.cpp pipeline (F16, BF16, Q8_0, Q4_K_M,
Q6_K, Q4_K_M with a per-expert importance matrix) are in tests/test_arch_goldens.py; here: the
expert tensors as views (checked against numpy), the family keys, and what a broken
mixture-of-experts checkpoint gets — an error of wick.errors naming the tensor and its file,
and no output file.
"""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

import arch_fixtures as AF
import wick
from arch_fixtures._common import T
from wick.convert import (
    MissingTensorError,
    ModelFileNotFoundError,
    TensorShapeError,
    UnexpectedTensorError,
    build_plan,
)
from wick.convert.view import materialize

FIXTURES = AF.by_name()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return AF.builder(tmp_path_factory)


kv = AF.plan_kv


def refused(tmp_path, d, err, *needles):
    """wick.convert refuses ``d`` with ``err`` whose message holds every needle; no output file."""
    out = tmp_path / "out.gguf"
    with pytest.raises(err) as e:
        wick.convert(d, out, type="Q4_K_M")
    assert isinstance(e.value, wick.WickError)
    for n in needles:
        assert n in str(e.value), f"{n!r} not in {str(e.value)!r}"
    assert not out.exists() and not list(tmp_path.glob("*.gguf*"))
    return str(e.value)


# ------------------------------------------------------------------ plans
def test_qwen2moe_plan(built):
    plan = build_plan(built("qwen2moe"), "Q8_0")
    m = kv(plan, "qwen2moe")
    assert m["expert_count"] == 4 and m["expert_used_count"] == 2
    assert m["expert_feed_forward_length"] == 352 and m["expert_shared_feed_forward_length"] == 1024
    up = plan.tensor("blk.1.ffn_up_exps.weight")
    assert up.shape == [256, 352, 4] and up.type == "Q8_0"
    assert [s.tensor for s in up.sources] == [f"model.layers.1.mlp.experts.{x}.up_proj.weight" for x in range(4)]
    gate = plan.tensor("blk.0.ffn_gate_inp_shexp.weight")
    assert gate.shape == [256, 1] and gate.type == "F32"
    assert plan.tensor("blk.0.ffn_gate_inp.weight").type == "F32"
    assert plan.tensor("blk.0.ffn_down_shexp.weight").shape == [1024, 256]
    names = [t.name for t in plan.tensors]  # per layer: experts stacked down, gate, up (the converter's order)
    i = names.index("blk.0.ffn_down_exps.weight")
    assert names[i:i + 3] == ["blk.0.ffn_down_exps.weight", "blk.0.ffn_gate_exps.weight", "blk.0.ffn_up_exps.weight"]


def test_qwen3moe_fused_experts(tmp_path):
    """Checkpoints storing the experts fused and 3-D (gate_up_proj [experts, 2·ff, hidden],
    down_proj [experts, hidden, ff]) are split as the converter splits them."""
    fx = FIXTURES["qwen3moe"]
    x, e, f = 8, 256, 256
    drop = {t.name for t in fx.tensors if ".mlp.experts." in t.name}
    add = []
    for i in range(2):
        p = f"model.layers.{i}.mlp.experts."
        add += [T(p + "gate_up_proj", x, 2 * f, e), T(p + "down_proj", x, e, f)]
    d = AF.write_variant(tmp_path, "qwen3moe", drop=drop, add=add)
    plan = build_plan(d, "F16")
    gate, up, down = (plan.tensor(f"blk.1.ffn_{w}_exps.weight") for w in ("gate", "up", "down"))
    assert gate.shape == up.shape == [e, f, x] and down.shape == [f, e, x]
    src = np.arange(x * 2 * f * e, dtype=np.float32).reshape(x, 2 * f, e)
    np.testing.assert_array_equal(materialize([src], gate.parts), src[:, :f, :].reshape(-1))
    np.testing.assert_array_equal(materialize([src], up.parts), src[:, f:, :].reshape(-1))
    assert down.parts == [] and down.sources[0].tensor == "model.layers.1.mlp.experts.down_proj"
    wick.convert(d, tmp_path / "out.gguf", type="Q4_K_M", threads=2)  # the executor reads these views


def test_olmoe_plan(built):
    plan = build_plan(built("olmoe"), "Q8_0")
    m = kv(plan, "olmoe")
    assert m["expert_count"] == 8 and m["attention.layer_norm_rms_epsilon"] == pytest.approx(1e-5)
    keys = [k.key for k in plan.metadata]
    assert keys.count("olmoe.attention.layer_norm_rms_epsilon") == 1
    assert plan.tensor("blk.0.attn_q_norm.weight").shape == [256]
    assert plan.meta("tokenizer.ggml.pre") == "olmo"


def test_granitemoe_split(built):
    plan = build_plan(built("granitemoe"), "F16")
    x, f, e = 8, 256, 256
    gate, up = plan.tensor("blk.0.ffn_gate_exps.weight"), plan.tensor("blk.0.ffn_up_exps.weight")
    assert gate.shape == up.shape == [e, f, x]
    src = np.arange(x * 2 * f * e, dtype=np.float32).reshape(x, 2 * f, e)
    np.testing.assert_array_equal(materialize([src], gate.parts), src[:, :f, :].reshape(-1))
    np.testing.assert_array_equal(materialize([src], up.parts), src[:, f:, :].reshape(-1))
    assert plan.tensor("blk.0.ffn_down_exps.weight").sources[0].tensor == "model.layers.0.block_sparse_moe.output_linear.weight"
    m = kv(plan, "granitemoe")
    assert m["expert_count"] == 8 and m["logit_scale"] == 6.0 and "expert_shared_feed_forward_length" not in m


def test_granitemoe_shared(tmp_path):
    """GraniteMoeShared: the fused shared expert is split into gate / up like the routed ones."""
    fs, e = 128, 256
    add = []
    for i in range(2):
        p = f"model.layers.{i}.shared_mlp."
        add += [T(p + "input_linear.weight", 2 * fs, e), T(p + "output_linear.weight", e, fs)]
    d = AF.write_variant(tmp_path, "granitemoe", add=add,
                config={"architectures": ["GraniteMoeSharedForCausalLM"], "shared_intermediate_size": fs})
    plan = build_plan(d, "F16")
    assert kv(plan, "granitemoe")["expert_shared_feed_forward_length"] == fs
    gate, up = plan.tensor("blk.1.ffn_gate_shexp.weight"), plan.tensor("blk.1.ffn_up_shexp.weight")
    src = np.arange(2 * fs * e, dtype=np.float32).reshape(2 * fs, e)
    np.testing.assert_array_equal(materialize([src], gate.parts), src[:fs].reshape(-1))
    np.testing.assert_array_equal(materialize([src], up.parts), src[fs:].reshape(-1))
    assert plan.tensor("blk.1.ffn_down_shexp.weight").shape == [fs, e]


def test_llama4_plan(built):
    plan = build_plan(built("llama4_text"), "F16")
    m = kv(plan, "llama4")
    assert m["feed_forward_length"] == 512 and m["expert_feed_forward_length"] == 256
    assert m["interleave_moe_layer_step"] == 2 and m["expert_count"] == 8
    assert "attention.sliding_window" not in m
    x, e, f = 8, 256, 256
    gate, up, down = (plan.tensor(f"blk.1.ffn_{w}_exps.weight") for w in ("gate", "up", "down"))
    assert gate.shape == up.shape == [e, f, x] and down.shape == [f, e, x]
    src = np.arange(x * e * 2 * f, dtype=np.float32).reshape(x, e, 2 * f)  # [experts, hidden, 2·ff]
    np.testing.assert_array_equal(materialize([src], gate.parts), src.transpose(0, 2, 1)[:, :f, :].reshape(-1))
    np.testing.assert_array_equal(materialize([src], up.parts), src.transpose(0, 2, 1)[:, f:, :].reshape(-1))
    dsrc = np.arange(x * f * e, dtype=np.float32).reshape(x, f, e)
    np.testing.assert_array_equal(materialize([dsrc], down.parts), dsrc.transpose(0, 2, 1).reshape(-1))
    assert plan.tensor("blk.0.ffn_gate.weight").shape == [256, 512]  # dense layer: intermediate_size_mlp
    assert plan.tensor("blk.1.ffn_gate_shexp.weight").shape == [256, 256]
    q = plan.tensor("blk.0.attn_q.weight")
    assert q.parts == []  # Llama 4 is not permuted
    vlm = build_plan(built("llama4_vlm"), "F16")
    assert not any("vision" in t.name or "mm" in t.name.split(".")[0] for t in vlm.tensors)
    assert kv(vlm, "llama4")["interleave_moe_layer_step"] == 1


def test_llama4_all_full_attention(tmp_path):
    d = AF.write_variant(tmp_path, "llama4_text", config={"layer_types": ["full_attention"] * 4})
    assert kv(build_plan(d, "F16"), "llama4")["attention.sliding_window"] == 0


# -------------------------------------------------------------- bad input
def test_missing_expert_tensor(tmp_path):
    d = AF.write_variant(tmp_path, "qwen3moe", drop={"model.layers.1.mlp.experts.5.up_proj.weight"})
    msg = refused(tmp_path, d, MissingTensorError, "model.layers.1.mlp.experts.5.up_proj.weight", "model.safetensors")
    assert "gives 8 experts" in msg


def test_missing_expert_shard(tmp_path):
    d = AF.write_variant(tmp_path, "llama4_vlm")
    index = json.loads((d / "model.safetensors.index.json").read_text())
    shard = index["weight_map"]["language_model.model.layers.3.feed_forward.experts.down_proj"]
    (d / shard).unlink()
    listed = sorted(n for n, f in index["weight_map"].items() if f == shard)
    refused(tmp_path, d, ModelFileNotFoundError, shard, "checkpoint shard not found", repr(listed[0]),
            f"puts {len(listed)} tensors there")


def test_missing_expert_file_without_index(tmp_path):
    """Shards without an index: the experts of the lost shard are missing tensors, named."""
    fx = copy.deepcopy(FIXTURES["olmoe"])
    fx.shards = 2
    d = fx.write(tmp_path)
    index = json.loads((d / "model.safetensors.index.json").read_text())
    (d / "model.safetensors.index.json").unlink()
    lost = "model-00002-of-00002.safetensors"
    (d / lost).unlink()
    gone = sorted(n for n, f in index["weight_map"].items() if f == lost and ".mlp.experts." in n)
    assert gone
    msg = refused(tmp_path, d, MissingTensorError, "missing tensor", "model-00001-of-00002.safetensors")
    assert any(n in msg for n in index["weight_map"] if index["weight_map"][n] == lost)


def test_more_experts_than_config(tmp_path):
    d = AF.write_variant(tmp_path, "qwen3moe", config={"num_experts": 4})
    refused(tmp_path, d, UnexpectedTensorError, "model.layers.0.mlp.experts.4.", "model.safetensors",
            "config.json gives 4 experts")


def test_fewer_experts_than_config(tmp_path):
    """The router's rows tell first (it follows the experts in the walk); without a router
    (dropped here) the first missing expert is named."""
    d = AF.write_variant(tmp_path, "olmoe", config={"num_experts": 16})
    refused(tmp_path, d, TensorShapeError, "model.layers.0.mlp.gate.weight", "model.safetensors", "[16, 256]")
    d = AF.write_variant(tmp_path / "b", "olmoe", config={"num_experts": 16},
                drop={"model.layers.0.mlp.gate.weight", "model.layers.1.mlp.gate.weight"})
    refused(tmp_path / "b", d, MissingTensorError, "model.layers.0.mlp.experts.8.down_proj.weight",
            "config.json gives 16 experts", "model.safetensors")


def test_experts_of_unequal_shapes(tmp_path):
    d = AF.write_variant(tmp_path, "qwen2moe", reshape={"model.layers.1.mlp.experts.2.gate_proj.weight": (320, 256)})
    refused(tmp_path, d, TensorShapeError, "model.layers.1.mlp.experts.2.gate_proj.weight", "model.safetensors",
            "[320, 256]", "[352, 256]")


def test_fused_experts_count_disagrees(tmp_path):
    d = AF.write_variant(tmp_path, "granitemoe", config={"num_local_experts": 4})
    refused(tmp_path, d, TensorShapeError, "model.layers.0.block_sparse_moe.input_linear.weight", "model.safetensors",
            "[4, 256, 256]")
    d2 = AF.write_variant(tmp_path / "l4", "llama4_text",
                 reshape={"model.layers.3.feed_forward.experts.down_proj": (7, 256, 256)})
    refused(tmp_path / "l4", d2, TensorShapeError, "model.layers.3.feed_forward.experts.down_proj",
            "model.safetensors")


def test_moe_layer_without_experts(tmp_path):
    """A layer config.json makes sparse must have its experts (and Qwen2-MoE's shared expert)."""
    fx = FIXTURES["qwen2moe"]
    drop = {t.name for t in fx.tensors if t.name.startswith("model.layers.1.mlp.shared_expert.")}
    d = AF.write_variant(tmp_path, "qwen2moe", drop=drop)
    refused(tmp_path, d, MissingTensorError, "model.layers.1.mlp.shared_expert.", "mixture-of-experts layer")


def test_qwen_dense_layers_refused(tmp_path):
    """llama.cpp's qwen3moe has experts in every layer (no plain MLP in its tensor map): a config.json
    making layers dense is refused up front, and a stray dense MLP tensor is named."""
    fx = FIXTURES["qwen3moe"]
    drop = {t.name for t in fx.tensors if t.name.startswith(("model.layers.0.mlp.experts.", "model.layers.0.mlp.gate."))}
    dense = [T(f"model.layers.0.mlp.{w}_proj.weight", *shape)
             for w, shape in (("gate", (512, 256)), ("up", (512, 256)), ("down", (256, 512)))]
    d = AF.write_variant(tmp_path, "qwen3moe", drop=drop, add=dense, config={"mlp_only_layers": [0], "intermediate_size": 512})
    refused(tmp_path, d, wick.convert.UnsupportedArchitectureError, "mlp_only_layers=[0]", "'qwen3moe'")
    d2 = AF.write_variant(tmp_path / "b", "qwen3moe", drop=drop, add=dense, config={"intermediate_size": 512})
    refused(tmp_path / "b", d2, UnexpectedTensorError, "model.layers.0.mlp.down_proj.weight", "model.safetensors")


def test_qwen3moe_block_fp8_experts(tmp_path):
    """Qwen3-30B-A3B-FP8's layout: every linear weight block-FP8 with weight_scale_inv; the experts
    are dequantized by the quantized-input decoders, then stacked like bf16 experts."""
    from arch_fixtures._common import fp8_linear
    from arch_fixtures.deepseek import FP8_QC

    fx = copy.deepcopy(FIXTURES["qwen3moe"])
    x, e, f = 8, 256, 256
    fx.tensors = [t for t in fx.tensors if ".mlp.experts." not in t.name]
    for i in range(2):
        for j in range(x):
            p = f"model.layers.{i}.mlp.experts.{j}."
            fx.tensors += fp8_linear(p + "gate_proj.weight", f, e) + fp8_linear(p + "up_proj.weight", f, e) + \
                fp8_linear(p + "down_proj.weight", e, f)
    fx.config["quantization_config"] = dict(FP8_QC)
    d = fx.write(tmp_path)
    plan = build_plan(d, "Q8_0")
    up = plan.tensor("blk.1.ffn_up_exps.weight")
    assert up.shape == [e, f, x] and len(up.sources) == x
    assert all(s.decode and "weight_scale_inv" in json.dumps(s.decode) for s in up.sources)
    wick.convert(d, tmp_path / "out.gguf", type="Q4_K_M", threads=2)
    drop = "model.layers.1.mlp.experts.3.up_proj.weight_scale_inv"
    fx.tensors = [t for t in fx.tensors if t.name != drop]
    d2 = fx.write(tmp_path / "b")
    refused(tmp_path / "b", d2, wick.convert.QuantizedTensorError, "model.layers.1.mlp.experts.3.up_proj.weight",
            "weight_scale_inv")
