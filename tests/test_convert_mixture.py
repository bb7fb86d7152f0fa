"""llama-quantize's per-tensor type rules (wick.convert.mixture) against the real thing.

tests/golden/mixture_types.json comes from llama.cpp's own llama_model_quantize
(tests/golden/gen_mixture_types.py); every (model, target) pair it holds is
replayed through Wick's rules and must match tensor for tensor, as must the
tensor order and the metadata key order of the quantized files.

``arch_models`` are the pinned converter's F32 files of architecture fixtures
with experts (routed, shared, routers), MLA and SSM tensors, quantized to the
K mixtures with and without an importance matrix: replayed with the model facts
llama-quantize read from each file, and, where Wick has an adapter for the
fixture's class, also through the adapter's plan (its hyper-parameters and
tensor list must lead to the same choices).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wick.convert import mixture as M
from wick.convert.errors import ConvertError, ImatrixRequiredError, UnknownTargetError
from wick.convert.ggml_types import TARGETS, target
from wick.convert.imatrix_plan import ImatrixAssigner

GOLDEN = Path(__file__).parent / "golden" / "mixture_types.json"
DATA = json.loads(GOLDEN.read_text())
CODES = {v: k for k, v in DATA["type_codes"].items()}


def _cases():
    for m in DATA["models"]:
        for label in m["runs"]:
            yield pytest.param(m, label, id=f"{m['spec']['name']}-{label}")


def _model(spec) -> M.MixtureModel:
    return M.MixtureModel(spec["arch"], spec["n_layer"], spec["n_head"], spec["n_head_kv"], spec["n_expert"])


def _check_required(choices, tname, shapes):
    ImatrixAssigner(None, tname).check_required(
        [(c.name, c.type, M.allows_quantization(c.name, shapes[c.name])) for c in choices])


@pytest.mark.parametrize("m,label", list(_cases()))
def test_types_match_llama_quantize(m, label):
    spec = m["spec"]
    run = m["runs"][label]
    tname, _, extra = label.partition("+")
    opts = M.MixtureOptions(has_imatrix=extra == "imatrix")
    tensors = [(n, ne) for n, ne in m["tensors"]]
    shapes = dict(tensors)
    failed = run.get("failed")
    if failed is not None:
        # llama_model_quantize refused this run: Wick refuses it for the same reason
        err = failed["error"]
        if err.startswith("invalid output file type"):
            with pytest.raises(UnknownTargetError, match="no NVFP4 target"):
                target(tname)
        elif err.startswith("no tensor type fallback is defined"):
            with pytest.raises(ConvertError, match="no fallback type is defined for " + tname):
                M.choose_types(_model(spec), tname, tensors, opts)
        elif err == "this quantization requires an imatrix!":
            assert not opts.has_imatrix
            choices = M.choose_types(_model(spec), tname, tensors, opts)
            with pytest.raises(ImatrixRequiredError, match=f"tensor '{failed['tensor']}'"):
                _check_required(choices, tname, shapes)
        else:
            pytest.fail(f"unexpected llama-quantize failure {err!r}")
        return
    choices = M.choose_types(_model(spec), tname, tensors, opts)
    if not opts.has_imatrix:
        _check_required(choices, tname, shapes)  # llama-quantize did not ask for one
    assert [c.name for c in choices] == m["output_tensor_order"]
    want = [CODES[c] for c in run["types"]]
    got = [c.type for c in choices]
    bad = [(c.name, g, w, c.reason) for c, g, w in zip(choices, got, want) if g != w]
    assert not bad, f"{len(bad)} mismatches, first: {bad[:5]}"
    assert run["file_type"] == target(tname).ftype


def _arch_cases():
    for m in DATA.get("arch_models", []):
        for label in m["runs"]:
            yield pytest.param(m, label, id=f"{m['fixture']}-{label}")


def _replay(m, label, model: M.MixtureModel, tensors):
    tname, _, extra = label.partition("+")
    current = {n: CODES[c] for (n, _), c in zip(m["tensors"], m["input_types"])}
    choices = M.choose_types(model, tname, tensors, M.MixtureOptions(has_imatrix=extra == "imatrix"),
                             current_type=current)
    assert [c.name for c in choices] == m["output_tensor_order"]
    want = [CODES[c] for c in m["runs"][label]["types"]]
    bad = [(c.name, c.type, w, c.reason) for c, w in zip(choices, want) if c.type != w]
    assert not bad, f"{len(bad)} mismatches, first: {bad[:5]}"
    assert m["runs"][label]["file_type"] == target(tname).ftype


@pytest.mark.parametrize("m,label", list(_arch_cases()))
def test_arch_types_match_llama_quantize(m, label):
    """Experts, shared experts, routers, MLA and SSM tensors: the types llama-quantize chose."""
    f = m["model"]
    model = M.MixtureModel(f["arch"], f["n_layer"], f["n_head"], f["n_head_kv"], f["n_expert"])
    _replay(m, label, model, [(n, ne) for n, ne in m["tensors"]])


@pytest.fixture(scope="module")
def arch_dirs(tmp_path_factory):
    """The model directory of an architecture fixture whose class has an adapter (built once)."""
    import arch_fixtures as AF
    from wick.convert.archs import supported_architectures
    fixtures = {f.name: f for f in AF.all_fixtures()}
    cache = {}

    def get(name):
        fx = fixtures[name]
        if fx.hf_class not in supported_architectures():
            pytest.skip(f"{fx.hf_class} ({name}): Wick has no adapter for this class yet")
        if name not in cache:
            cache[name] = fx.write(tmp_path_factory.mktemp(name))
        return cache[name]

    return get


@pytest.mark.parametrize("m,label", list(_arch_cases()))
def test_arch_plan_types_match_llama_quantize(arch_dirs, m, label):
    """The same runs through Wick's adapter and plan: its tensor list and hyper-parameters (block count
    with next-token-prediction layers, MLA written as MQA, experts) give llama-quantize's choices."""
    from wick.convert import build_plan

    d = arch_dirs(m["fixture"])
    tname, _, extra = label.partition("+")
    names = [n for n, ne in m["tensors"] if len(ne) >= 2] if extra == "imatrix" else None
    plan = build_plan(d, tname, imatrix_names=names)
    assert [t.name for t in plan.tensors] == m["output_tensor_order"]
    want = dict(zip(m["output_tensor_order"], (CODES[c] for c in m["runs"][label]["types"])))
    bad = [(t.name, t.type, want[t.name], t.reason) for t in plan.tensors if t.type != want[t.name]]
    assert not bad, f"{len(bad)} mismatches, first: {bad[:5]}"


def test_golden_covers_every_target():
    labels = set(DATA["models"][0]["runs"])
    assert {t for t in TARGETS} <= labels
    # the i-quant, ternary, FP4 and 1/2-bit targets also with an imatrix, on two MoE models too
    moe = [m for m in DATA["models"] if m["spec"]["n_expert"]]
    assert len(moe) >= 2
    for t in ("IQ1_S", "IQ1_M", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ2_M", "IQ3_XXS", "IQ3_XS", "IQ3_S", "IQ3_M",
              "IQ4_XS", "TQ1_0", "TQ2_0", "MXFP4_MOE", "Q2_K_S", "Q1_0", "Q2_0"):
        assert all(t in m["runs"] and t + "+imatrix" in m["runs"] for m in DATA["models"]), t
    # the golden exercises the interesting branches: these must all occur somewhere
    seen = {CODES[c] for m in DATA["models"] for r in m["runs"].values() for c in r.get("types", "")}
    assert {"Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "F16", "IQ4_NL"} <= seen
    assert {"IQ1_S", "IQ1_M", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ3_XXS", "IQ3_S", "IQ4_XS", "TQ1_0", "TQ2_0",
            "MXFP4", "Q1_0", "Q2_0"} <= seen
    # and llama-quantize's refusals: a missing imatrix, NVFP4, Q1_0 without a fallback
    errors = {r["failed"]["error"] for m in DATA["models"] for r in m["runs"].values() if "failed" in r}
    assert {"this quantization requires an imatrix!", "invalid output file type 39",
            "no tensor type fallback is defined for type q1_0"} <= errors


def test_arch_golden_covers_experts_mla_and_ssm():
    """The architecture runs hold each kind of tensor issue 11 names, with and without an imatrix for
    every K mixture, and exercise the 8-expert rules (attn_v Q8_0, attn_output Q5_K)."""
    models = DATA["arch_models"]
    names = {n for m in models for n, _ in m["tensors"]}
    for part in ("_exps.weight", "_shexp.weight", "ffn_gate_inp.weight", "ffn_gate_inp_shexp.weight", "attn_k_b.weight",
                 "attn_v_b.weight", "attn_kv_a_mqa.weight", "attn_q_a.weight", "ssm_conv1d.weight", "ssm_out.weight",
                 "ssm_alpha.weight", "attn_qkv.weight", "nextn.eh_proj.weight", "exp_probs_b.bias"):
        assert any(n.endswith(part) for n in names), part
    for m in models:
        assert set(m["runs"]) == {t + x for t in DATA["arch_targets"] for x in ("", "+imatrix")}
    assert {"Q4_K_M", "Q3_K_M", "Q2_K", "Q5_K_M", "Q6_K"} <= set(DATA["arch_targets"])
    eight = [m for m in models if m["model"]["n_expert"] == 8]
    assert eight and all(
        CODES[m["runs"]["Q4_K_M"]["types"][m["output_tensor_order"].index("blk.0.attn_output.weight")]] == "Q5_K"
        for m in eight if "blk.0.attn_output.weight" in m["output_tensor_order"])


def test_quantize_moves_file_type_keys_to_the_end():
    for m in DATA["models"]:
        inp, out = m["input_key_order"], m["output_key_order"]
        assert out[-2:] == ["general.quantization_version", "general.file_type"]
        rest = [k for k in inp if k not in ("general.quantization_version", "general.file_type")]
        assert out[:-2] == rest


# ------------------------------------------------------------------ table tests
@pytest.mark.parametrize("n,layers", [
    (16, [0, 1, 4, 7, 10, 13, 14, 15]),
    (22, [0, 1, 4, 7, 10, 13, 16, 19, 20, 21]),
    (24, [0, 1, 2, 5, 8, 11, 14, 17, 20, 21, 22, 23]),
    (28, [0, 1, 2, 5, 8, 11, 14, 17, 20, 23, 24, 25, 26, 27]),
    (32, [0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31]),
])
def test_use_more_bits_layers(n, layers):
    assert [i for i in range(n) if M.use_more_bits(i, n)] == layers


def _llama(n_layer=32, n_head=32, n_head_kv=8, E=4096, F=14336, V=128256, tied=False, n_expert=0):
    ts = [("token_embd.weight", [E, V]), ("output_norm.weight", [E])]
    if not tied:
        ts.append(("output.weight", [E, V]))
    D = E // n_head
    for i in range(n_layer):
        p = f"blk.{i}."
        ts += [(p + "attn_norm.weight", [E]), (p + "attn_q.weight", [E, E]), (p + "attn_k.weight", [E, n_head_kv * D]),
               (p + "attn_v.weight", [E, n_head_kv * D]), (p + "attn_output.weight", [E, E]), (p + "ffn_norm.weight", [E]),
               (p + "ffn_gate.weight", [E, F]), (p + "ffn_up.weight", [E, F]), (p + "ffn_down.weight", [F, E])]
    return M.MixtureModel("llama", n_layer, n_head, n_head_kv, n_expert), ts


def test_llama3_8b_q4_k_m_table():
    model, ts = _llama()
    got = {c.name: c.type for c in M.choose_types(model, "Q4_K_M", ts)}
    more = {0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31}
    assert got["output.weight"] == "Q6_K"
    assert got["token_embd.weight"] == "Q4_K"
    assert got["output_norm.weight"] == "F32"
    for i in range(32):
        want = "Q6_K" if i in more else "Q4_K"
        assert got[f"blk.{i}.attn_v.weight"] == want
        assert got[f"blk.{i}.ffn_down.weight"] == want
        for t in ("attn_q", "attn_k", "attn_output", "ffn_gate", "ffn_up"):
            assert got[f"blk.{i}.{t}.weight"] == "Q4_K"
        assert got[f"blk.{i}.attn_norm.weight"] == "F32"


@pytest.mark.parametrize("tgt,v0,v1,v5,down0,down5,out_", [
    ("Q2_K", "Q4_K", "Q4_K", "Q4_K", "Q3_K", "Q3_K", "Q3_K"),   # n_gqa = 4
    ("Q3_K_S", "Q3_K", "Q3_K", "Q3_K", "Q3_K", "Q3_K", "Q3_K"),
    ("Q3_K_M", "Q5_K", "Q5_K", "Q4_K", "Q5_K", "Q4_K", "Q4_K"),
    ("Q3_K_L", "Q5_K", "Q5_K", "Q5_K", "Q5_K", "Q5_K", "Q5_K"),
    ("Q4_K_S", "Q5_K", "Q5_K", "Q4_K", "Q5_K", "Q4_K", "Q4_K"),
    ("Q5_K_S", "Q5_K", "Q5_K", "Q5_K", "Q5_K", "Q5_K", "Q5_K"),
    ("Q5_K_M", "Q6_K", "Q6_K", "Q5_K", "Q6_K", "Q5_K", "Q5_K"),
    ("Q6_K", "Q6_K", "Q6_K", "Q6_K", "Q6_K", "Q6_K", "Q6_K"),
    ("Q8_0", "Q8_0", "Q8_0", "Q8_0", "Q8_0", "Q8_0", "Q8_0"),
    ("Q4_0", "Q4_0", "Q4_0", "Q4_0", "Q4_0", "Q4_0", "Q4_0"),
    ("F16", "F16", "F16", "F16", "F16", "F16", "F16"),
])
def test_llama3_8b_targets_table(tgt, v0, v1, v5, down0, down5, out_):
    model, ts = _llama()
    got = {c.name: c.type for c in M.choose_types(model, tgt, ts)}
    assert (got["blk.0.attn_v.weight"], got["blk.1.attn_v.weight"], got["blk.5.attn_v.weight"]) == (v0, v1, v5)
    assert (got["blk.0.ffn_down.weight"], got["blk.5.ffn_down.weight"]) == (down0, down5)
    assert got["blk.5.attn_output.weight"] == out_
    if tgt in ("F16", "Q8_0"):
        assert got["output.weight"] == tgt
    else:
        assert got["output.weight"] == "Q6_K"


def test_tied_embedding_is_treated_as_output():
    model, ts = _llama(n_layer=16, E=2048, F=8192, tied=True)
    got = {c.name: c.type for c in M.choose_types(model, "Q4_K_M", ts)}
    assert "output.weight" not in got
    assert got["token_embd.weight"] == "Q6_K"
    got = {c.name: c.type for c in M.choose_types(model, "Q8_0", ts)}
    assert got["token_embd.weight"] == "Q8_0"


def test_fallback_not_multiple_of_256():
    # Qwen2.5-0.5B: hidden 896 = 3.5 * 256; ffn 4864 = 19 * 256
    E, F = 896, 4864
    ts = [("token_embd.weight", [E, 151936]), ("blk.0.attn_q.weight", [E, E]), ("blk.0.attn_v.weight", [E, 128]),
          ("blk.0.ffn_down.weight", [F, E]), ("blk.0.ffn_up.weight", [E, F])]
    model = M.MixtureModel("qwen2", 1, 14, 2)
    got = {c.name: c.type for c in M.choose_types(model, "Q4_K_M", ts)}
    assert got["token_embd.weight"] == "Q8_0"   # tied output, 896 % 256 != 0
    assert got["blk.0.attn_q.weight"] == "Q5_0"  # Q4_K fallback
    assert got["blk.0.attn_v.weight"] == "Q8_0"  # Q6_K (use_more_bits) fallback
    assert got["blk.0.ffn_down.weight"] == "Q6_K"
    assert got["blk.0.ffn_up.weight"] == "Q5_0"
    got = {c.name: c.type for c in M.choose_types(model, "Q5_K_S", ts)}
    assert got["blk.0.attn_q.weight"] == "Q5_1"
    got = {c.name: c.type for c in M.choose_types(model, "Q3_K_S", ts)}
    assert got["blk.0.attn_q.weight"] == "Q4_0"


def test_fallback_to_f16_when_not_multiple_of_32():
    ts = [("blk.0.attn_q.weight", [80, 80]), ("output.weight", [80, 100])]
    got = {c.name: c.type for c in M.choose_types(M.MixtureModel("llama", 1, 1, 1), "Q4_K_M", ts)}
    assert got == {"blk.0.attn_q.weight": "F16", "output.weight": "F16"}


def test_moe_8_experts():
    E, F = 4096, 14336
    ts = [("output.weight", [E, 32000]), ("blk.0.attn_v.weight", [E, 1024]), ("blk.0.attn_k.weight", [E, 1024]),
          ("blk.0.attn_output.weight", [E, E]), ("blk.0.ffn_gate_inp.weight", [E, 8]),
          ("blk.0.ffn_down_exps.weight", [F, E, 8]), ("blk.0.ffn_up_exps.weight", [E, F, 8])]
    model = M.MixtureModel("llama", 32, 32, 8, n_expert=8)
    got = {c.name: c.type for c in M.choose_types(model, "Q4_K_M", ts)}
    assert got["blk.0.attn_v.weight"] == "Q8_0"
    assert got["blk.0.attn_k.weight"] == "Q8_0"
    assert got["blk.0.attn_output.weight"] == "Q5_K"
    assert got["blk.0.ffn_gate_inp.weight"] == "F32"
    assert got["blk.0.ffn_down_exps.weight"] == "Q6_K"  # layer 0 uses more bits
    assert got["blk.0.ffn_up_exps.weight"] == "Q4_K"


def test_70b_rule():
    model, ts = _llama(n_layer=80, n_head=64, n_head_kv=8, E=8192, F=28672)
    assert model.is_70b
    got = {c.name: c.type for c in M.choose_types(model, "Q4_K_M", ts)}
    assert got["blk.20.attn_v.weight"] == "Q5_K"   # Q4_K lifted
    assert got["blk.0.attn_v.weight"] == "Q6_K"
    assert not M.MixtureModel("llama", 80, 64, 64).is_70b   # 65B: no GQA
    assert M.MixtureModel("qwen2", 80, 64, 64).is_70b
    assert not M.MixtureModel("qwen3", 80, 64, 8).is_70b


def test_imatrix_rules():
    model, ts = _llama(n_layer=16)
    plain = {c.name: c.type for c in M.choose_types(model, "Q4_0", ts)}
    imat = {c.name: c.type for c in M.choose_types(model, "Q4_0", ts, M.MixtureOptions(has_imatrix=True))}
    assert plain["blk.1.ffn_down.weight"] == "Q4_0"
    assert imat["blk.1.ffn_down.weight"] == "Q4_1"   # i < n/8 = 2
    assert imat["blk.2.ffn_down.weight"] == "Q4_0"


def test_overrides_and_pure():
    model, ts = _llama(n_layer=8)
    got = {c.name: c.type for c in M.choose_types(model, "Q4_K_M", ts, M.MixtureOptions(pure=True))}
    # --pure skips the whole mixture, the output rule included
    assert got["blk.0.attn_v.weight"] == "Q4_K" and got["output.weight"] == "Q4_K"
    opts = M.MixtureOptions(output_tensor_type="Q8_0", token_embedding_type="Q6_K",
                            tensor_types=((r"attn_q\.weight", "Q8_0"), (r"ffn_.*", "Q5_K")))
    got = {c.name: c.type for c in M.choose_types(model, "Q4_K_M", ts, opts)}
    assert got["output.weight"] == "Q8_0"
    assert got["token_embd.weight"] == "Q6_K"
    assert got["blk.3.attn_q.weight"] == "Q8_0"
    assert got["blk.3.ffn_down.weight"] == "Q5_K"
    assert got["blk.2.attn_v.weight"] == "Q4_K"  # attn_v #2 of 8 does not use more bits
    assert got["blk.3.attn_v.weight"] == "Q6_K"  # #3 does: (3 - 8/8) % 3 == 2
    got = {c.name: c.type for c in M.choose_types(model, "Q4_K_M", ts, M.MixtureOptions(quantize_output_tensor=False))}
    assert got["output.weight"] == "F32"


def test_processing_order():
    names = ["blk.10.attn_q.weight", "output.weight", "blk.2.ffn_up.weight", "blk.2.attn_k.weight", "token_embd.weight",
             "rope_freqs.weight", "output_norm.weight"]
    assert M.quantize_order(names) == ["output.weight", "output_norm.weight", "rope_freqs.weight", "token_embd.weight",
                                       "blk.2.attn_k.weight", "blk.2.ffn_up.weight", "blk.10.attn_q.weight"]


def test_unknown_target_and_type():
    with pytest.raises(UnknownTargetError, match="Q4_K_M"):
        target("Q4_Z")
    assert target("q4_k").name == "Q4_K_M"
    model, ts = _llama(n_layer=2)
    with pytest.raises(UnknownTargetError):
        M.choose_types(model, "Q4_K_M", ts, M.MixtureOptions(output_tensor_type="Q9_K"))


