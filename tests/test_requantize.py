"""wick.convert.requantize_plan and importance matrices in plans: the rules and the
bad-input errors (tests/test_requantize_golden.py checks the results against
llama-quantize byte for byte)."""

from __future__ import annotations

import importlib.util
import json
import struct
from pathlib import Path

import numpy as np
import pytest
import requantize_models as RM

import wick
import wick.convert as wc
from wick.cli import main as cli_main
from wick.convert.errors import (
    ImatrixError,
    ImatrixMismatchError,
    ImatrixRequiredError,
    RequantizeInputError,
)
from wick.gguf import values as V
from wick.gguf.values import ValueType

ROOT = Path(__file__).resolve().parent.parent
TINY = dict(name="tiny", arch="llama", dtype="F32", n_layer=2, n_embd=256, n_head=4, n_head_kv=2, n_ff=256,
            n_vocab=260, tied=False, n_expert=0, seed=1)
TINY_BF16 = dict(TINY, name="tiny_bf16", dtype="BF16", tied=True, seed=2)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    for m in (TINY, TINY_BF16):
        RM.write_model(m, str(d / f"{m['name']}.gguf"))
    return d


def imatrix_for(path, m, *, drop=(), resize=None, extra=None, metadata=True, chunks=3, datasets=("cal.txt",)):
    """A GGUF imatrix with an entry per 2-D weight but token_embd; ``resize`` maps a
    name to a wrong length."""
    kvs = [V.string("general.type", "imatrix")]
    if metadata:
        if datasets:
            kvs.append(V.array("imatrix.datasets", ValueType.STRING, list(datasets)))
        else:
            kvs.append(V.array("imatrix.datasets", ValueType.UINT32, [0]))  # replaced below
        kvs += [V.u32("imatrix.chunk_count", chunks), V.u32("imatrix.chunk_size", 512)]
    tensors = {}
    for name, ne in RM.tensor_list(m):
        if len(ne) < 2 or name == "token_embd.weight" or name in drop:
            continue
        n = (resize or {}).get(name, ne[0])
        tensors[name + ".in_sum2"] = np.linspace(1, 2, n, dtype=np.float32)
        tensors[name + ".counts"] = np.array([4], np.float32)
    for name, vals in (extra or {}).items():
        tensors[name + ".in_sum2"] = np.asarray(vals, np.float32)
        tensors[name + ".counts"] = np.array([1], np.float32)
    if metadata and not datasets:
        kvs = [kv for kv in kvs if kv.key != "imatrix.datasets"]
        kvs.append(V.KV("imatrix.datasets", ValueType.ARRAY, ["x"], ValueType.STRING))
    wick.gguf.write(path, kvs, tensors, overwrite=True)
    return str(path)


def test_plan_shape(models):
    plan = wc.requantize_plan(models / "tiny.gguf", "Q4_K_M")
    assert plan.reference == "quantize" and plan.hf_architecture is None and plan.architecture == "llama"
    assert plan.model_dir == str(models) and plan.imatrix_file is None and plan.file_type == 15
    t = plan.tensor("blk.0.ffn_down.weight")
    assert t.shape == [256, 256] and t.sources[0].format == "gguf" and t.sources[0].dtype == "F32"
    assert t.sources[0].file == "tiny.gguf" and t.sources[0].shape == [256, 256]
    assert plan.tensor("blk.0.attn_k.weight").sources[0].shape == [128, 256]  # row-major
    assert plan.tensor("output_norm.weight").type == "F32"
    # llama-quantize's order: non-layer tensors first, then by layer, then by name
    names = [t.name for t in plan.tensors]
    assert names[:3] == ["output.weight", "output_norm.weight", "token_embd.weight"]
    assert names[3] == "blk.0.attn_k.weight"
    keys = [kv.key for kv in plan.metadata]
    assert keys[-2:] == ["general.quantization_version", "general.file_type"]
    back = wc.Plan.from_json(plan.to_json())
    assert back.to_json() == plan.to_json() and back.tensors[0].sources[0].format == "gguf"
    assert json.loads(plan.to_json())["tensors"][0]["sources"][0]["format"] == "gguf"
    text = wc.format_plan_table(plan)
    assert "tiny.gguf (GGUF arch 'llama') -> target Q4_K_M" in text and "reproduces llama.cpp quantize" in text


def test_bf16_input(models):
    plan = wc.requantize_plan(models / "tiny_bf16.gguf", "BF16")
    t = plan.tensor("blk.0.attn_q.weight")
    assert t.type == "BF16" and t.sources[0].dtype == "BF16" and "copied" in t.reason
    n = plan.tensor("blk.0.attn_norm.weight")
    assert n.type == "F32" and n.sources[0].dtype == "F32" and "kept F32" in n.reason
    assert plan.tensor("blk.0.attn_q.weight").sources[0].format == "gguf"
    assert wc.requantize_plan(models / "tiny_bf16.gguf", "F16").tensor("blk.0.attn_q.weight").type == "F16"
    # tied: token_embd is the output, Q6_K in Q4_K_M
    assert wc.requantize_plan(models / "tiny_bf16.gguf", "Q4_K_M").tensor("token_embd.weight").type == "Q6_K"


def test_refuses_quantized_input(tmp_path):
    x = np.ones((4, 32), np.float32)
    p = tmp_path / "q.gguf"
    kvs = RM.metadata(TINY)
    wick.gguf.write(p, kvs, {"token_embd.weight": wick.gguf.RawTensor("Q8_0", (4, 32), wick.quantize(x, "Q8_0")),
                             "output_norm.weight": np.ones(32, np.float32)})
    with pytest.raises(RequantizeInputError, match=r"tensor 'token_embd.weight' is Q8_0; Wick requantizes GGUF files"
                                                  r".*--allow-requantize"):
        wc.requantize_plan(p, "Q4_K_M")
    wick.gguf.write(p, kvs, {"token_embd.weight": np.ones((4, 32), np.int32)}, overwrite=True)
    with pytest.raises(RequantizeInputError, match=r"'token_embd.weight' is I32; .*no other element type"):
        wc.requantize_plan(p, "Q4_K_M")


def test_refuses_split_and_missing_keys(tmp_path):
    kvs = RM.metadata(TINY)
    t = {"output_norm.weight": np.ones(256, np.float32), "token_embd.weight": np.ones((260, 256), np.float32)}
    p = tmp_path / "s.gguf"
    wick.gguf.write(p, kvs + [V.KV("split.count", ValueType.UINT16, 2)], t)
    with pytest.raises(wick.WickFormatError, match='key "split.no": inconsistent split model: missing'):
        wc.requantize_plan(p, "Q8_0")  # the first part of a split model needs split.no (tests/test_split.py)
    wick.gguf.write(p, kvs + [V.KV("split.no", ValueType.UINT16, 1), V.KV("split.count", ValueType.UINT16, 2)], t,
                    overwrite=True)
    with pytest.raises(RequantizeInputError, match=r"is part 2 of a split GGUF model of 2 parts; give its first part"):
        wc.requantize_plan(p, "Q8_0")
    wick.gguf.write(p, kvs + [V.KV("split.no", ValueType.UINT16, 0), V.KV("split.count", ValueType.UINT16, 1)], t,
                    overwrite=True)
    keys = [kv.key for kv in wc.requantize_plan(p, "Q8_0").metadata]
    assert "split.no" not in keys and "split.count" not in keys
    wick.gguf.write(p, [kv for kv in kvs if kv.key != "llama.block_count"], t, overwrite=True)
    with pytest.raises(RequantizeInputError, match="'llama.block_count' is missing"):
        wc.requantize_plan(p, "Q8_0")
    wick.gguf.write(p, [kv for kv in kvs if kv.key != "general.architecture"], t, overwrite=True)
    with pytest.raises(RequantizeInputError, match="general.architecture"):
        wc.requantize_plan(p, "Q8_0")
    with pytest.raises(wc.UnknownTargetError):
        wc.requantize_plan(p, "Q9_K")


def test_imatrix_metadata_and_entries(models, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    imatrix_for(tmp_path / "im.gguf", TINY)
    plan = wc.requantize_plan(models / "tiny.gguf", "Q4_K_M", imatrix="im.gguf")
    assert plan.imatrix_file == str(tmp_path / "im.gguf")
    tail = [(kv.key, kv.type, kv.value) for kv in plan.metadata[-6:]]
    assert tail == [("general.quantization_version", ValueType.UINT32, 2), ("general.file_type", ValueType.UINT32, 15),
                    ("quantize.imatrix.file", ValueType.STRING, "im.gguf"),
                    ("quantize.imatrix.dataset", ValueType.STRING, "cal.txt"),
                    ("quantize.imatrix.entries_count", ValueType.UINT32, 15),
                    ("quantize.imatrix.chunks_count", ValueType.UINT32, 3)]
    assert plan.tensor("blk.1.ffn_up.weight").imatrix == "blk.1.ffn_up.weight"
    assert plan.tensor("output.weight").imatrix == "output.weight"
    assert plan.tensor("token_embd.weight").imatrix is None  # no entry (as llama-imatrix files)
    assert "no imatrix entry" in plan.tensor("token_embd.weight").reason
    assert plan.tensor("blk.0.attn_norm.weight").imatrix is None
    text = wc.format_plan_table(plan, metadata=False)
    assert "importance matrix:" in text and "(used by 15 of" in text
    # Q8_0 ignores the imatrix: no entry named, but llama-quantize still records it
    q8 = wc.requantize_plan(models / "tiny.gguf", "Q8_0", imatrix="im.gguf")
    assert all(t.imatrix is None for t in q8.tensors)
    assert "imatrix unused by Q8_0" in q8.tensor("blk.0.attn_q.weight").reason
    assert "quantize.imatrix.file" in [kv.key for kv in q8.metadata]


def test_imatrix_without_chunks_or_dataset(models, tmp_path):
    p = tmp_path / "im.dat"
    vals = {name: ne[0] for name, ne in RM.tensor_list(TINY) if len(ne) == 2 and name != "token_embd.weight"}
    b = struct.pack("<i", len(vals))
    for name, n in vals.items():
        b += struct.pack("<i", len(name)) + name.encode() + struct.pack("<ii", 2, n) + np.ones(n, "<f4").tobytes()
    p.write_bytes(b)  # no trailer: no chunk count, no dataset
    plan = wc.requantize_plan(models / "tiny.gguf", "Q4_0", imatrix=p)
    keys = [kv.key for kv in plan.metadata]
    assert "quantize.imatrix.dataset" not in keys and "quantize.imatrix.chunks_count" not in keys
    assert keys[-2:] == ["quantize.imatrix.file", "quantize.imatrix.entries_count"]
    assert plan.tensor("blk.0.ffn_down.weight").imatrix == "blk.0.ffn_down.weight"


def test_imatrix_long_path_is_cut_to_127_bytes(models, tmp_path, monkeypatch):
    d = tmp_path / ("é" * 70)  # 140 bytes of UTF-8
    d.mkdir()
    imatrix_for(d / "im.gguf", TINY)
    monkeypatch.chdir(tmp_path)
    given = f"{'é' * 70}/im.gguf"
    plan = wc.requantize_plan(models / "tiny.gguf", "Q4_K_M", imatrix=given)
    v = next(kv.value for kv in plan.metadata if kv.key == "quantize.imatrix.file")
    assert len(v.encode()) == 126 and given.encode().startswith(v.encode())  # 127 would split a character


def test_imatrix_size_mismatch(models, tmp_path):
    im = imatrix_for(tmp_path / "im.gguf", TINY, resize={"blk.1.attn_v.weight": 100})
    with pytest.raises(ImatrixMismatchError, match=r"tensor 'blk.1.attn_v.weight': imatrix .* has 100 values; the "
                                                   r"tensor needs ne\[0\]\*ne\[2\] = 256"):
        wc.requantize_plan(models / "tiny.gguf", "Q4_K_M", imatrix=im)
    # token_embd is exempt, as in llama-quantize: quantized without the entry
    im = imatrix_for(tmp_path / "im2.gguf", TINY, extra={"token_embd.weight": np.ones(7)})
    plan = wc.requantize_plan(models / "tiny.gguf", "Q4_K_M", imatrix=im)
    assert plan.tensor("token_embd.weight").imatrix is None
    assert "imatrix entry size 7 != 256: ignored" in plan.tensor("token_embd.weight").reason


def test_imatrix_for_another_model(models, tmp_path):
    p = tmp_path / "other.dat"
    p.write_bytes(struct.pack("<i", 1) + struct.pack("<i", 9) + b"x.weight1" + struct.pack("<ii", 1, 4)
                  + np.ones(4, "<f4").tobytes())
    with pytest.raises(ImatrixMismatchError, match=r"none of its 1 entries \('x.weight1', …\) names a tensor"):
        wc.requantize_plan(models / "tiny.gguf", "Q4_K_M", imatrix=p)
    # an imatrix that simply lacks some entries is fine (llama-quantize goes on without them)
    im = imatrix_for(tmp_path / "part.gguf", TINY, drop=("blk.0.attn_q.weight",))
    plan = wc.requantize_plan(models / "tiny.gguf", "Q4_K_M", imatrix=im)
    assert plan.tensor("blk.0.attn_q.weight").imatrix is None and plan.tensor("blk.1.attn_q.weight").imatrix


def test_imatrix_refused_as_llama_quantize_does(models, tmp_path):
    im = imatrix_for(tmp_path / "nometa.gguf", TINY, metadata=False)
    with pytest.raises(ImatrixError, match="missing imatrix metadata"):
        wc.requantize_plan(models / "tiny.gguf", "Q4_K_M", imatrix=im)
    # a non-finite weight in an entry the model does not even use
    im = imatrix_for(tmp_path / "nan.gguf", TINY, extra={"unused.weight": [1, np.nan]})
    with pytest.raises(ImatrixError, match=r'entry "unused.weight": non-finite value: weight 1 is NaN'):
        wc.requantize_plan(models / "tiny.gguf", "Q4_K_M", imatrix=im)
    # ... unless it is filtered out, as --exclude-weights does before the check
    plan = wc.requantize_plan(models / "tiny.gguf", "Q4_K_M", imatrix=im, imatrix_exclude=["unused"])
    assert plan.imatrix_file is not None
    with pytest.raises(FileNotFoundError):
        wc.requantize_plan(models / "tiny.gguf", "Q4_K_M", imatrix=tmp_path / "missing.gguf")
    bad = tmp_path / "bad.dat"
    bad.write_bytes(b"\x01\x00")
    with pytest.raises(wick.WickFormatError, match="bad.dat"):
        wc.requantize_plan(models / "tiny.gguf", "Q4_K_M", imatrix=bad)


def test_imatrix_filters(models, tmp_path):
    im = imatrix_for(tmp_path / "im.gguf", TINY)
    plan = wc.requantize_plan(models / "tiny.gguf", "Q4_K_M", imatrix=im, imatrix_exclude=["ffn_"])
    meta = {kv.key: kv.value for kv in plan.metadata}
    assert meta["quantize.imatrix.entries_count"] == 15 - 6
    assert plan.tensor("blk.0.ffn_up.weight").imatrix is None and plan.tensor("blk.0.attn_q.weight").imatrix
    plan = wc.requantize_plan(models / "tiny.gguf", "Q4_K_M", imatrix=im, imatrix_include=["attn_q", "attn_k"])
    assert {kv.key: kv.value for kv in plan.metadata}["quantize.imatrix.entries_count"] == 4
    with pytest.raises(ImatrixError, match="not both"):
        wc.requantize_plan(models / "tiny.gguf", "Q4_K_M", imatrix=im, imatrix_include=["a"], imatrix_exclude=["b"])
    # nothing left: as without an imatrix (no keys, no has_imatrix rule)
    none = wc.requantize_plan(models / "tiny.gguf", "Q4_0", imatrix=im, imatrix_include=["nothing"])
    plain = wc.requantize_plan(models / "tiny.gguf", "Q4_0")
    assert none.imatrix_file is None and none.to_json() == plain.to_json()


def test_types_that_need_an_imatrix(models, tmp_path):
    with pytest.raises(ImatrixRequiredError, match=r"tensor 'blk.0.attn_q.weight': type IQ2_XXS requires an "
                                                   r"importance matrix"):
        wc.requantize_plan(models / "tiny.gguf", "Q4_K_M", tensor_types=[("attn_q", "IQ2_XXS")])
    im = imatrix_for(tmp_path / "im.gguf", TINY, drop=("blk.1.attn_q.weight",))
    with pytest.raises(ImatrixRequiredError, match=r"'blk.1.attn_q.weight': type IQ2_XXS needs an importance matrix "
                                                   r"and the imatrix has no usable entry for it"):
        wc.requantize_plan(models / "tiny.gguf", "Q4_K_M", imatrix=im, tensor_types=[("attn_q", "IQ2_XXS")])
    plan = wc.requantize_plan(models / "tiny.gguf", "Q4_K_M", imatrix=im, tensor_types=[("attn_k", "IQ2_XXS")])
    assert plan.tensor("blk.0.attn_k.weight").type == "IQ2_XXS" and plan.tensor("blk.0.attn_k.weight").imatrix
    # output and token_embd never need one
    assert wc.requantize_plan(models / "tiny.gguf", "Q4_K_M", output_tensor_type="IQ2_XXS").tensor(
        "output.weight").type == "IQ2_XXS"


def test_build_plan_with_imatrix(tmp_path):
    """HF → GGUF with an imatrix: the same llama-quantize semantics (the converter's F32 is the start)."""
    spec = importlib.util.spec_from_file_location("make_tiny_llama", ROOT / "examples" / "make_tiny_llama.py")
    tiny = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tiny)
    tiny.make(tmp_path / "m", layers=8, hidden=256, heads=4, kv_heads=2, ffn=256)
    base = wc.build_plan(tmp_path / "m", "Q8_0")
    assert base.reference == "convert"
    names = {t.name: t.shape for t in base.tensors}
    kvs = [V.string("general.type", "imatrix"), V.array("imatrix.datasets", ValueType.STRING, ["c"]),
           V.u32("imatrix.chunk_count", 1), V.u32("imatrix.chunk_size", 64)]
    tensors = {}
    for name, ne in names.items():
        if len(ne) == 2 and name != "token_embd.weight":
            tensors[name + ".in_sum2"] = np.ones(ne[0], np.float32)
            tensors[name + ".counts"] = np.ones(1, np.float32)
    wick.gguf.write(tmp_path / "im.gguf", kvs, tensors)
    plan = wc.build_plan(tmp_path / "m", "Q4_0", imatrix=tmp_path / "im.gguf")
    assert plan.reference == "convert+quantize" and plan.imatrix_file == str(tmp_path / "im.gguf")
    assert plan.tensor("blk.0.ffn_down.weight").type == "Q4_1"  # has_imatrix rule: layers < n/8
    assert wc.build_plan(tmp_path / "m", "Q4_0").tensor("blk.0.ffn_down.weight").type == "Q4_0"
    assert plan.tensor("blk.0.attn_q.weight").imatrix == "blk.0.attn_q.weight"
    assert [kv.key for kv in plan.metadata][-4:] == ["quantize.imatrix.file", "quantize.imatrix.dataset",
                                                   "quantize.imatrix.entries_count", "quantize.imatrix.chunks_count"]
    # with an imatrix, even Q8_0 is llama-quantize's pipeline
    assert wc.build_plan(tmp_path / "m", "Q8_0", imatrix=tmp_path / "im.gguf").reference == "convert+quantize"
    with pytest.raises(wc.PlanError, match="not both"):
        wc.build_plan(tmp_path / "m", "Q8_0", imatrix=tmp_path / "im.gguf", imatrix_names=["a"])


def test_cli_quantize(models, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    imatrix_for(tmp_path / "im.gguf", TINY)
    src = str(models / "tiny.gguf")
    assert cli_main(["quantize", src, "--type", "q4_k_m", "--imatrix", "im.gguf", "--dry-run", "--no-metadata"]) == 0
    out = capsys.readouterr().out
    assert "target Q4_K_M" in out and "importance matrix:" in out and "blk.0.attn_q.weight" in out
    assert cli_main(["quantize", src, "--type", "Q8_0", "--dry-run", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["reference"] == "quantize"
    capsys.readouterr()
    assert cli_main(["quantize", src, "--type", "Q4_0", "--include-weights", "x", "--dry-run"]) == 1
    assert "--include-weights / --exclude-weights need --imatrix" in capsys.readouterr().err
    with pytest.raises(wick.WickValueError, match="imatrix_include / imatrix_exclude need imatrix"):
        wc.requantize_plan(src, "Q4_0", imatrix_include=["x"])
    with pytest.raises(SystemExit, match="-o/--output is required"):
        cli_main(["quantize", src, "--type", "Q4_0"])
    assert cli_main(["quantize", src, "--type", "Q4_K_M", "--imatrix", "im.gguf", "-o", "out.gguf", "--no-progress"]) == 0
    assert "out.gguf" in capsys.readouterr().out
    # the same file as the Python API writes
    wc.requantize_model(src, tmp_path / "api.gguf", "Q4_K_M", imatrix="im.gguf")
    assert (tmp_path / "out.gguf").read_bytes() == (tmp_path / "api.gguf").read_bytes()
    assert cli_main(["quantize", src, "--type", "Q4_K_M", "-o", "out.gguf"]) == 1
    assert "exists; pass --force" in capsys.readouterr().err
    assert cli_main(["quantize", str(tmp_path / "nope.gguf"), "--type", "Q4_K_M", "--dry-run"]) == 1
    assert "nope.gguf" in capsys.readouterr().err
    assert isinstance(wc.requantize_model(src, "unused.gguf", "Q6_K", dry_run=True), wc.Plan)


def test_trailing_dimensions_of_one_are_dropped_as_llama_quantize_does(tmp_path):
    """ggml writes ne without trailing 1s (ggml_n_dims): a [32, 1] tensor comes out of
    llama-quantize as [32]; Wick's file is byte for byte llama-quantize's."""
    import ctypes
    import hashlib

    import numpy as np
    import requantize_models as RM

    import wick

    m = RM.MODELS[0]
    tensors = dict(RM.tensors(m))
    tensors["rope_freqs.weight"] = np.ones((1, 32), np.float32)  # ne [32, 1]
    src = tmp_path / "in.gguf"
    wick.gguf.write(str(src), RM.metadata(m), tensors, overwrite=True)
    plan = wick.convert.requantize_model(str(src), str(tmp_path / "unused.gguf"), "Q8_0", dry_run=True)
    assert plan.tensor("rope_freqs.weight").shape == [32]
    llama_cpp = pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (make test WITH_LLAMA=1)")
    ours, ref = tmp_path / "wick.gguf", tmp_path / "llama.gguf"
    wick.convert.requantize_model(str(src), str(ours), "Q8_0")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype, params.nthread = 7, 2
    assert llama_cpp.llama_model_quantize(str(src).encode(), str(ref).encode(), ctypes.byref(params)) == 0
    assert hashlib.sha256(ours.read_bytes()).digest() == hashlib.sha256(ref.read_bytes()).digest()
