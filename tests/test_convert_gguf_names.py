"""llama.cpp's names as data (python/wick/convert/gguf_tables.json) and the lookups over them."""

from __future__ import annotations

import copy
import json
import os
import sys
from pathlib import Path

import pytest

from wick.convert import gguf_names as N
from wick.convert.errors import PlanError
from wick.convert.lazy import LazyTensor, SourceInfo


def test_tensor_name_map_semantics():
    m = N.tensor_name_map("llama", 2)
    assert m.get_type_and_name("model.layers.1.self_attn.q_proj.weight", (".weight", ".bias")) == \
        ("ATTN_Q", "blk.1.attn_q.weight")
    assert m.get_name("model.layers.0.self_attn.q_proj.bias", (".weight", ".bias")) == "blk.0.attn_q.bias"
    assert m.get_name("lm_head.weight", (".weight",)) == "output.weight"
    assert m.get_name("model.layers.2.self_attn.q_proj.weight", (".weight",)) is None  # only 2 blocks
    assert m.get_name("model.layers.0.self_attn.q_proj.weight") is None  # suffix not tried
    assert m.get_name("blk.0.attn_q") == "blk.0.attn_q"  # GGUF names map to themselves
    # architectures only map the tensors they have
    assert N.tensor_name_map("qwen3", 1).get_name("model.layers.0.self_attn.q_norm.weight", (".weight",)) == \
        "blk.0.attn_q_norm.weight"
    assert N.tensor_name_map("qwen2", 1).get_name("model.layers.0.self_attn.q_norm.weight", (".weight",)) is None


def test_tensor_names_and_keys():
    assert N.tensor_name("llama", "ATTN_Q", 3) == "blk.3.attn_q.weight"
    assert N.tensor_name("llama", "OUTPUT_NORM") == "output_norm.weight"
    with pytest.raises(KeyError):
        N.tensor_name("qwen2", "ATTN_Q_NORM", 0)
    with pytest.raises(KeyError):
        N.tensor_name("llama", "ATTN_Q")  # needs a block
    assert N.matches("llama", "blk.0.attn_q.bias", "ATTN_Q", 0, ".bias")
    assert not N.matches("llama", "blk.0.attn_q.weight", "ATTN_Q", 1)
    assert N.key("LLM.BLOCK_COUNT", arch="gemma3") == "gemma3.block_count"
    assert N.known_key("gemma3.attention.sliding_window", "gemma3")
    assert N.known_key("general.architecture", "llama") and not N.known_key("llama.not_a_key", "llama")
    assert {"llama", "gemma3", "qwen3moe", "deepseek2", "gpt-oss", "qwen35"} <= set(N.arch_names())


def test_every_key_wick_writes_is_a_llama_cpp_key():
    golden = json.loads((Path(__file__).parent / "golden" / "convert_reference.json").read_text(encoding="utf-8"))
    from test_convert_reference import plan_of
    for fx in golden["fixtures"]:
        plan = plan_of(fx)
        for kv in plan.metadata:
            assert N.known_key(kv.key, plan.architecture), (fx["name"], kv.key)


@pytest.mark.skipif(not os.environ.get("WICK_LLAMA_CPP_DIR"),
                    reason="set WICK_LLAMA_CPP_DIR to a llama.cpp source tree (the pinned one) to compare with its gguf-py")
def test_table_equals_the_pinned_gguf_py():
    """The table and the lookup give gguf-py's TensorNameMap, architecture by architecture (each as in
    a fresh converter process: gguf-py's TensorNameMap updates its class-level block map in place)."""
    sys.path.insert(0, str(Path(os.environ["WICK_LLAMA_CPP_DIR"]) / "gguf-py"))
    from gguf.constants import MODEL_ARCH, MODEL_ARCH_NAMES
    from gguf.tensor_mapping import TensorNameMap
    base = copy.deepcopy(TensorNameMap.block_mappings_cfg)
    for arch in MODEL_ARCH:
        TensorNameMap.block_mappings_cfg = copy.deepcopy(base)
        ref = {k: (v[0].name, v[1]) for k, v in TensorNameMap(arch, 3).mapping.items()}
        assert N.TensorNameMap(MODEL_ARCH_NAMES[arch], 3).mapping == ref, arch


def _lazy(shape, dtype="BF16"):
    return LazyTensor.of("w", SourceInfo("m.safetensors", dtype, tuple(shape)))


def test_lazy_tensor_arithmetic_follows_torch_dtypes():
    assert (_lazy((4,), "BF16") + 1).ops == ({"op": "add", "value": 1.0},)  # bf16 arrives as float32
    f16 = -(_lazy((4,), "F16").exp())
    assert f16.ops == ({"op": "exp"}, {"op": "round", "dtype": "F16"}, {"op": "neg"}, {"op": "round", "dtype": "F16"})
    assert (_lazy((4,), "F16").float() * 2).ops == ({"op": "mul", "value": 2.0},)


def test_lazy_tensor_views_stack_and_cat():
    t = _lazy((8, 6))
    q = t.permute_qk(2)
    assert q.shape == (8, 6) and q.plan_parts()[0]["shape"] == [2, 2, 2, 6]
    with pytest.raises(PlanError, match="needs a copy"):
        q.reshape(2, 4, 6)  # torch copies here; a view cannot follow (the adapter must order its operations)
    assert LazyTensor.stack([q, q]).shape == (2, 8, 6)  # stacking permuted tensors keeps their views
    a, b = t.split([3, 5])
    assert LazyTensor.cat([a, b]).plan_parts() == [a.views[0].part(), b.views[0].part()]
    e0 = LazyTensor.of("e0", SourceInfo("m.safetensors", "BF16", (8, 6)))
    e1 = LazyTensor.of("e1", SourceInfo("m.safetensors", "BF16", (8, 6)))
    st = LazyTensor.stack([e0, e1])
    assert st.shape == (2, 8, 6) and [n for n, _ in st.sources] == ["e0", "e1"] and st.plan_parts() == []
    with pytest.raises(PlanError):
        LazyTensor.stack([e0, e0.T])
    with pytest.raises(PlanError):
        LazyTensor.cat([e0 + 1, e1])  # different element-wise operations
    with pytest.raises(PlanError):
        st.transpose(0, 1)  # shape operations on a stack of parts
