"""``wick convert-lora`` / ``wick.convert_lora``: PEFT LoRA adapters to GGUF adapters,
byte-identical to the pinned llama.cpp's convert_lora_to_gguf.py
(tests/golden/lora_goldens.json, made by tests/golden/gen_lora_goldens.py), run by
llama.cpp on top of the base model (llama-cpp-python), and refused with a named
error when the input is bad."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import lora_fixtures as L
import numpy as np
import pytest

import wick
from wick.convert import (
    LoraAdapterError,
    LoraBaseMismatchError,
    ModelFileNotFoundError,
    UnknownTargetError,
    UnsupportedArchitectureError,
    UnsupportedLoraError,
)
from wick.convert.lora import LoraPair, build_lora_plan

GOLDEN = json.loads((Path(__file__).parent / "golden" / "lora_goldens.json").read_text())
TYPES = {"f32": "F32", "f16": "F16", "bf16": "BF16", "q8_0": "Q8_0"}


def sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Every fixture's base and adapter directories, built once."""
    root = tmp_path_factory.mktemp("lora")
    fx = L.by_name(root / "bases")
    out = {}
    for name, f in fx.items():
        base = root / "bases" / "demo" if f.base == "demo" else L.make_base(f.base, root / "bases" / f.base)
        out[name] = (f, base, L.make_adapter(f, root / "adapters" / name))
    return out


def test_fixtures_are_the_recorded_files(built):
    assert set(built) == set(GOLDEN["fixtures"])
    for name, (_, base, adapter) in built.items():
        want = GOLDEN["fixtures"][name]
        assert {p.name: sha(p) for p in sorted(adapter.iterdir())} == want["files"], name
        assert sha(base / "config.json") == want["base_config_sha256"], name
        assert want["peft"] is None if not built[name][0].peft else want["peft"]["same_tensors"], name


def test_load_order_is_the_files_data_order():
    # the reference iterates safetensors.torch.load_file, which returns data order; Wick sorts by offset
    assert GOLDEN["load_file_order_of_b_then_a"] == ["b", "a"]


@pytest.mark.parametrize("outtype", list(TYPES))
@pytest.mark.parametrize("name", sorted(GOLDEN["fixtures"]))
def test_matches_convert_lora_to_gguf(built, tmp_path, name, outtype):
    _, base, adapter = built[name]
    want = GOLDEN["fixtures"][name]["targets"][outtype]
    out = tmp_path / "a.gguf"
    report = wick.convert_lora(adapter, out, base=base, type=TYPES[outtype])
    if sha(out) != want["sha256"]:
        from wick import gguf

        with gguf.open(out) as g:
            got = [(t.name, t.type, list(t.shape)) for t in g.tensors.values()]
            keys = list(g.metadata)
        assert keys == [m["key"] for m in want["metadata"]]
        assert got == [(t["name"], t["type"], t["shape"]) for t in want["tensors"]]
        pytest.fail(f"{name} {outtype}: same names, types and shapes, other bytes")
    assert out.stat().st_size == want["size"]
    assert len(report.tensors) == len(want["tensors"])


def test_command_line_default_type_is_f32_and_dry_run(built, tmp_path, capsys):
    from wick.cli import main

    _, base, adapter = built["qwen2"]
    out = tmp_path / "q.gguf"
    assert main(["convert-lora", str(adapter), "--base", str(base), "-o", str(out), "--no-progress"]) == 0
    assert sha(out) == GOLDEN["fixtures"]["qwen2"]["targets"]["f32"]["sha256"]
    capsys.readouterr()
    assert main(["convert-lora", str(adapter), "--base", str(base), "--type", "q8_0", "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "blk.0.attn_q.weight.lora_b" in text and "adapter.lora.alpha" in text and "Q8_0" in text
    assert main(["convert-lora", str(adapter), "--base", str(base), "-o", str(out), "--no-progress"]) == 1  # exists


def test_plan_applies_the_q_k_permutation_to_lora_b_only(built):
    f, base, adapter = built["llama"]
    plan = build_lora_plan(adapter, base, "F32")
    q_a, q_b = plan.tensor("blk.0.attn_q.weight.lora_a"), plan.tensor("blk.0.attn_q.weight.lora_b")
    v_b = plan.tensor("blk.0.attn_v.weight.lora_b")
    assert q_a.parts == [] and v_b.parts == []
    assert q_b.parts and q_b.parts[0]["shape"][:2] == [8, 16]  # 8 heads, D/2 = 16 pairs
    assert q_b.shape == [8, 256] and q_a.shape == [256, 8]  # ggml order: lora_b ne = [rank, out]
    assert "general.file_type" not in [kv.key for kv in plan.metadata]
    assert plan.meta("adapter.lora.alpha") == 16.0 and plan.meta("general.type") == "adapter"


def test_lora_pair_shape_rules():
    from wick.convert.lazy import LazyTensor, SourceInfo

    a = LazyTensor.of("a", SourceInfo("f", "F32", (4, 6)))
    b = LazyTensor.of("b", SourceInfo("f", "F32", (8, 4)))
    p = LoraPair.of(a, b)
    assert p.shape == (8, 6) and p.rank == 4
    t = p.T
    assert t.shape == (6, 8) and t.a.shape == (4, 8) and t.b.shape == (6, 4)
    q, k = p.split([5, 3])
    assert q.shape == (5, 6) and k.shape == (3, 6) and q.a is p.a
    left, right = p.split(3, dim=1)
    assert left.shape == (8, 3) and left.b is p.b
    r = p.reshape(2, 4, 6)
    assert r.shape == (2, 4, 6) and r.a.shape == (1, 4, 6) and r.b.shape == (2, 4, 4)
    assert (p * 2.0).b.ops == ({"op": "mul", "value": 2.0},)
    f16 = LoraPair.of(LazyTensor.of("a", SourceInfo("f", "F16", (4, 6))), b)
    assert f16.dtype == "F32"  # mixed dtypes compute in float32, as the reference
    from wick.convert.lora import _PairOpError

    with pytest.raises(_PairOpError):
        p.reshape(8, 3, 2)  # the row length of a pair cannot change
    with pytest.raises(_PairOpError):
        p + 1.0


# ------------------------------------------------------------------ llama.cpp runs it
def test_llama_cpp_runs_the_adapter_and_it_pushes_its_token(built, tmp_path):
    llama_cpp = pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (make test WITH_LLAMA=1)")
    f, base, adapter = built["llama-push"]
    # the premise of the push adapter: in the demo model, PUSH_TOKEN's embedding row scores itself highest
    emb = L.demo_embeddings(base)
    assert int(np.argmax(emb @ emb[L.PUSH_TOKEN])) == L.PUSH_TOKEN
    model = tmp_path / "base-f32.gguf"
    wick.convert(base, model, "F32")
    results = {}
    for typ in ("F32", "Q8_0"):
        lora = tmp_path / f"push-{typ}.gguf"
        wick.convert_lora(adapter, lora, base=base, type=typ)
        results[typ] = _generate(llama_cpp, model, lora)
    plain = _generate(llama_cpp, model, None)
    assert plain != [L.PUSH_TOKEN] * 6  # the base model alone says something else
    assert results["F32"] == [L.PUSH_TOKEN] * 6
    assert results["Q8_0"] == [L.PUSH_TOKEN] * 6


def _generate(llama_cpp, model: Path, lora) -> list:
    kw = {"lora_path": str(lora)} if lora is not None else {}
    llm = llama_cpp.Llama(model_path=str(model), n_ctx=64, n_threads=2, verbose=False, seed=0, **kw)
    try:
        llm.reset()
        llm.eval(llm.tokenize(b"The quick brown fox", add_bos=True))
        out = []
        for _ in range(6):
            t = llm.sample(temp=0.0)
            out.append(int(t))
            llm.eval([t])
        return out
    finally:
        del llm


# ------------------------------------------------------------------ bad input
@pytest.fixture
def qwen2(built, tmp_path):
    f, base, adapter = built["qwen2"]
    d = tmp_path / "adapter"
    shutil.copytree(adapter, d)
    return f, base, d


def _no_output(tmp_path: Path) -> None:
    assert not list(tmp_path.glob("*.gguf")) and not list(tmp_path.glob(".*"))


def test_missing_adapter_config(qwen2, tmp_path):
    _, base, d = qwen2
    (d / "adapter_config.json").unlink()
    with pytest.raises(ModelFileNotFoundError, match="adapter_config.json: not found"):
        wick.convert_lora(d, tmp_path / "o.gguf", base=base)
    _no_output(tmp_path)


def test_missing_safetensors_names_the_pickle(qwen2, tmp_path):
    _, base, d = qwen2
    (d / "adapter_model.safetensors").rename(d / "adapter_model.bin")
    with pytest.raises(ModelFileNotFoundError, match=r"adapter_model.safetensors: not found.*adapter_model.bin"):
        wick.convert_lora(d, tmp_path / "o.gguf", base=base)
    _no_output(tmp_path)


def test_missing_base_config(qwen2, tmp_path):
    _, _, d = qwen2
    (tmp_path / "nobase").mkdir()
    with pytest.raises(ModelFileNotFoundError, match="config.json: not found"):
        wick.convert_lora(d, tmp_path / "o.gguf", base=tmp_path / "nobase")


def test_base_of_another_architecture(built, tmp_path):
    _, _, d = built["phi3"]  # fused qkv_proj / gate_up_proj, which the (Llama) demo model does not have
    _, demo, _ = built["llama"]
    with pytest.raises(LoraBaseMismatchError, match=r"down_proj.lora_A.weight' / .*B @ A has shape \[128, 256\], "
                                                    r"but 'model.layers.0.mlp.down_proj.weight' of the base model"):
        wick.convert_lora(d, tmp_path / "o.gguf", base=demo)
    _, _, d = built["mixtral"]  # experts, which the demo model does not have
    with pytest.raises(LoraBaseMismatchError, match=r"experts.0.w1.lora_A.weight'.*has no tensor "
                                                    r"'model.layers.0.block_sparse_moe.experts.0.w1.weight'.*--base"):
        wick.convert_lora(d, tmp_path / "o.gguf", base=demo)
    _no_output(tmp_path)


def test_layer_beyond_the_base(built, qwen2, tmp_path):
    _, base, d = qwen2
    from arch_fixtures._common import write_safetensors

    m = "base_model.model.model.layers.7.self_attn.q_proj"  # the base has 2 layers
    write_safetensors(d / "adapter_model.safetensors", [(m + ".lora_A.weight", "F32", (4, 128), np.zeros((4, 128), "<f4")),
                                                       (m + ".lora_B.weight", "F32", (128, 4), np.zeros((128, 4), "<f4"))])
    with pytest.raises(LoraBaseMismatchError, match=r"layers.7.self_attn.q_proj.*no counterpart.*2 layers"):
        wick.convert_lora(d, tmp_path / "o.gguf", base=base)


def test_base_with_other_shapes(built, qwen2, tmp_path):
    _, _, d = qwen2
    _, q3_base, _ = built["qwen3"]  # Qwen3 base: same names, head_dim 64 makes k_proj 128 rows (k_proj comes first)
    with pytest.raises(LoraBaseMismatchError, match=r"k_proj.lora_B.weight.: B @ A has shape \[64, 128\], but blk.0.attn_k.weight of the base model is \[128, 128\]"):
        wick.convert_lora(d, tmp_path / "o.gguf", base=q3_base)


def test_unsupported_base_architecture(qwen2, tmp_path):
    _, _, d = qwen2
    b = tmp_path / "b"
    b.mkdir()
    (b / "config.json").write_text(json.dumps({"architectures": ["GPT2LMHeadModel"]}))
    with pytest.raises(UnsupportedArchitectureError, match="GPT2LMHeadModel"):
        wick.convert_lora(d, tmp_path / "o.gguf", base=b)


def test_target_module_wick_cannot_map(qwen2, tmp_path):
    _, base, d = qwen2
    extra = [("base_model.model.model.layers.0.self_attn.rotary_thing.lora_A.weight", "F32", (4, 128),
              np.zeros((4, 128), "<f4")),
             ("base_model.model.model.layers.0.self_attn.rotary_thing.lora_B.weight", "F32", (128, 4),
              np.zeros((128, 4), "<f4"))]
    from arch_fixtures._common import write_safetensors

    write_safetensors(d / "adapter_model.safetensors", extra, {"format": "pt"})
    with pytest.raises(LoraBaseMismatchError, match=r"rotary_thing.*no counterpart"):
        wick.convert_lora(d, tmp_path / "o.gguf", base=base)


@pytest.mark.parametrize("change, error, match", [
    ({"use_dora": True}, UnsupportedLoraError, "DoRA"),
    ({"use_rslora": True}, UnsupportedLoraError, "rank-stabilised"),
    ({"alpha_pattern": {"q_proj": 4}}, UnsupportedLoraError, "alpha_pattern"),
    ({"peft_type": "IA3"}, UnsupportedLoraError, "peft_type 'IA3'"),
    ({"invocation_string": "<|assistant|>"}, UnsupportedLoraError, "give the token ids as alora_invocation_tokens"),
    ({"alora_invocation_tokens": [1, -2]}, LoraAdapterError, "must be a list of token ids"),
    ({"lora_alpha": "x"}, LoraAdapterError, "'lora_alpha' must be a number"),
])
def test_adapter_config_refused(qwen2, tmp_path, change, error, match):
    _, base, d = qwen2
    cfg = json.loads((d / "adapter_config.json").read_text())
    cfg.update(change)
    (d / "adapter_config.json").write_text(json.dumps(cfg))
    with pytest.raises(error, match=match):
        wick.convert_lora(d, tmp_path / "o.gguf", base=base)
    _no_output(tmp_path)


def test_lora_a_without_lora_b_and_non_lora_tensor(qwen2, tmp_path):
    _, base, d = qwen2
    from arch_fixtures._common import write_safetensors

    a = "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"
    write_safetensors(d / "adapter_model.safetensors", [(a, "F32", (32, 128), np.zeros((32, 128), "<f4"))])
    with pytest.raises(LoraAdapterError, match=r"q_proj.lora_A.weight'.*without its lora_B"):
        wick.convert_lora(d, tmp_path / "o.gguf", base=base)
    m = "base_model.model.model.layers.0.self_attn.q_proj.lora_magnitude_vector"
    write_safetensors(d / "adapter_model.safetensors", [(m, "F32", (128,), np.zeros(128, "<f4"))])
    with pytest.raises(UnsupportedLoraError, match=r"lora_magnitude_vector'.*not a lora_A or lora_B.*DoRA"):
        wick.convert_lora(d, tmp_path / "o.gguf", base=base)


def test_unsupported_type_names_the_argument(qwen2, tmp_path):
    _, base, d = qwen2
    with pytest.raises(UnknownTargetError, match=r"type 'Q4_K_M'.*F32, F16, BF16, Q8_0"):
        wick.convert_lora(d, tmp_path / "o.gguf", base=base, type="Q4_K_M")
    from wick.cli import main

    with pytest.raises(SystemExit):
        main(["convert-lora", str(d), "--base", str(base), "-o", str(tmp_path / "o.gguf"), "--type", "Q4_K"])
    _no_output(tmp_path)


# ------------------------------------------------------------------ every architecture
def _arch_fixtures():
    import arch_fixtures
    from wick.convert import supported_architectures

    ok = set(supported_architectures())
    return [f for f in arch_fixtures.all_fixtures()
            if f.hf_class in ok and all(t.dtype in ("F32", "F16", "BF16") and t.raw is None for t in f.tensors)]


@pytest.mark.parametrize("fx", _arch_fixtures(), ids=lambda f: f.name)
def test_every_architecture_makes_adapters_llama_cpp_accepts(fx, tmp_path):
    """An adapter on every linear layer of each architecture fixture: every pair is named after a
    tensor the model conversion of the same checkpoint writes, with the shapes llama.cpp's adapter
    loader requires (lora_a ne = [in, r], lora_b ne = [r, out] of the weight's ne = [in, out]); or
    the family's transform is one a pair cannot express, and the error says so."""
    from arch_fixtures._common import write_safetensors
    from wick.convert import build_plan_from_parts
    from wick.convert.load import read_tokenizer_files

    base = tmp_path / "base"
    base.mkdir()
    (base / "config.json").write_text(json.dumps(fx.config))
    for fname, content in fx.files.items():
        if isinstance(content, bytes):
            (base / fname).write_bytes(content)
        else:
            (base / fname).write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    listing = {t.name: ("model.safetensors", t.dtype, t.shape) for t in fx.tensors}
    model = build_plan_from_parts(fx.config, read_tokenizer_files(base), listing, "F32")
    shapes = {t.name: t.shape for t in model.tensors}
    r = 4
    pairs = []
    for t in sorted(fx.tensors, key=lambda t: t.name):
        if len(t.shape) == 2 and t.name.endswith(".weight") and "layers." in t.name and "norm" not in t.name \
                and "embed" not in t.name:
            m = "base_model.model." + t.name[:-len(".weight")]
            pairs += [(m + ".lora_A.weight", "F32", (r, t.shape[1]), np.zeros((r, t.shape[1]), "<f4")),
                      (m + ".lora_B.weight", "F32", (t.shape[0], r), np.zeros((t.shape[0], r), "<f4"))]
    assert pairs
    ad = tmp_path / "adapter"
    ad.mkdir()
    write_safetensors(ad / "adapter_model.safetensors", sorted(pairs), {"format": "pt"})
    (ad / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": r, "lora_alpha": 8}))
    try:
        plan = build_lora_plan(ad, base, "F32")
    except UnsupportedLoraError as e:
        assert "cannot express" in str(e) and fx.hf_class in CANNOT_EXPRESS, (fx.name, str(e))
        return
    assert fx.hf_class not in CANNOT_EXPRESS
    names = [t.name for t in plan.tensors]
    assert len(names) == len(set(names))
    for t in plan.tensors:
        if t.name.endswith(".lora_b"):
            continue
        assert t.name.endswith(".lora_a"), t.name
        w = t.name[:-len(".lora_a")]
        a, b = t.shape, plan.tensor(w + ".lora_b").shape
        assert w in shapes, (fx.name, w)
        assert (shapes[w][0], shapes[w][1]) == (a[0], b[1]) and a[1] == b[0] == r, (fx.name, w, shapes[w], a, b)
        assert shapes[w][2:] == a[2:] == b[2:], (fx.name, w)


# families whose converter reshapes a projection in a way llama.cpp's LoraTorchTensor cannot follow
# (DeepSeek-style MLA: kv_b_proj is split into k_b / v_b with a transposition of a 3-D view)
# kv_b's split and transpose (DeepSeek, GLM-4.7-Flash); Qwen3.5's value-head re-ordering of
# linear_attn.out_proj's columns (a pair's row length cannot change: the reference raises too)
CANNOT_EXPRESS = {"DeepseekV2ForCausalLM", "DeepseekV3ForCausalLM", "Glm4MoeLiteForCausalLM",
                  "Qwen3_5ForCausalLM", "Qwen3_5ForConditionalGeneration", "Qwen3_5MoeForCausalLM",
                  "Qwen3_5MoeForConditionalGeneration"}


def test_llama_cpp_with_the_adapter_computes_the_merged_model(built, tmp_path):
    """The Llama adapter (every linear layer; q/k pairs permuted) on the demo model in llama.cpp gives the
    logits of the model merged in numpy as PEFT defines it, W + alpha/r * B @ A, converted on its own."""
    llama_cpp = pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (make test WITH_LLAMA=1)")
    from arch_fixtures._common import write_safetensors

    f, base, adapter = built["llama"]
    raw = (base / "model.safetensors").read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    lora = {name: np.frombuffer(a.tobytes(), "<f4").reshape(shape) for name, _, shape, a in f.tensors()}
    merged_items = []
    for name, info in sorted((k, v) for k, v in header.items() if k != "__metadata__"):
        s, e = info["data_offsets"]
        w = (np.frombuffer(raw[8 + n + s:8 + n + e], "<u2").astype(np.uint32) << 16).view(np.float32)
        w = w.reshape(info["shape"]).astype(np.float64)
        m = "base_model.model." + name[:-len(".weight")]
        if m + ".lora_A.weight" in lora:
            w = w + f.alpha / f.r * (lora[m + ".lora_B.weight"].astype(np.float64) @ lora[m + ".lora_A.weight"])
        merged_items.append((name, "F32", tuple(info["shape"]), w.astype("<f4")))
    merged = tmp_path / "merged"
    shutil.copytree(base, merged, ignore=shutil.ignore_patterns("*.safetensors"))
    write_safetensors(merged / "model.safetensors", merged_items, {"format": "pt"})
    wick.convert(base, tmp_path / "base.gguf", "F32")
    wick.convert(merged, tmp_path / "merged.gguf", "F32")
    wick.convert_lora(adapter, tmp_path / "lora.gguf", base=base)

    def logits(model: Path, lora_path=None) -> np.ndarray:
        kw = {"lora_path": str(lora_path)} if lora_path is not None else {}
        llm = llama_cpp.Llama(model_path=str(model), n_ctx=64, n_threads=2, verbose=False, seed=0, logits_all=True,
                              **kw)
        try:
            llm.eval(llm.tokenize(b"The quick brown fox jumps", add_bos=True))
            return np.array(llm.scores[llm.n_tokens - 1], dtype=np.float64)
        finally:
            del llm

    plain, with_lora, want = logits(tmp_path / "base.gguf"), logits(tmp_path / "base.gguf", tmp_path / "lora.gguf"), \
        logits(tmp_path / "merged.gguf")
    change = np.abs(want - plain).max()
    assert change > 0.05  # the adapter matters (0.71 here; with lora_b left unpermuted llama.cpp is 0.045 off)
    assert np.abs(with_lora - want).max() < 1e-3 * max(1.0, change), (np.abs(with_lora - want).max(), change)
    assert int(np.argmax(with_lora)) == int(np.argmax(want))
