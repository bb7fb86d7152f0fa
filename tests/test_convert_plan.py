"""The plan: JSON schema round trip, ordering rules, dry-run table, errors, and reading model directories."""

from __future__ import annotations

import importlib.util
import json
import re
import struct
from pathlib import Path

import numpy as np
import pytest

import convert_fixtures as FX
import wick
from wick.convert import (
    TokenizerFiles,
    build_plan,
    build_plan_from_parts,
    format_plan_table,
    read_model_dir,
    read_safetensors_header,
)
from wick.convert.errors import (
    ConfigError,
    ConvertError,
    MissingTensorError,
    ModelFileNotFoundError,
    ModelFormatError,
    PlanError,
    SafetensorsHeaderError,
    TensorShapeError,
    TokenizerError,
    UnexpectedTensorError,
    UnknownTargetError,
)
from wick.convert.plan import Plan
from wick.gguf.values import ValueType

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("make_tiny_llama", ROOT / "examples" / "make_tiny_llama.py")
tiny = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tiny)

SMALL = dict(FX.LLAMA32_1B, hidden_size=64, intermediate_size=128, num_attention_heads=4, num_key_value_heads=2,
             head_dim=16, num_hidden_layers=2)


def small_parts(**kw):
    tj, tc = FX.llama3_tokenizer()
    return SMALL, TokenizerFiles(tokenizer_json=tj, tokenizer_config=tc), FX.hf_listing(SMALL, tied=kw.pop("tied", True))


def test_json_round_trip_and_schema():
    cfg, files, tensors = small_parts()
    plan = build_plan_from_parts(cfg, files, tensors, "Q4_K_M", dir_name="x")
    text = plan.to_json()
    d = json.loads(text)
    assert d["schema"] == 3 and d["format"] == "gguf" and d["architecture"] == "llama" and d["target"] == "Q4_K_M" and d["file_type"] == 15
    assert d["reference"] == "convert+quantize" and d["alignment"] == 32
    kv = {m["key"]: m for m in d["metadata"]}
    assert kv["llama.block_count"] == {"key": "llama.block_count", "type": "UINT32", "value": 2}
    assert kv["tokenizer.ggml.tokens"]["type"] == "ARRAY" and kv["tokenizer.ggml.tokens"]["element_type"] == "STRING"
    assert kv["tokenizer.ggml.token_type"]["element_type"] == "INT32"
    assert kv["llama.attention.layer_norm_rms_epsilon"]["value"] == float(np.float32(1e-5))
    t = next(x for x in d["tensors"] if x["name"] == "blk.0.attn_q.weight")
    assert t["sources"] == [{"file": "model.safetensors", "tensor": "model.layers.0.self_attn.q_proj.weight",
                             "dtype": "BF16", "shape": [64, 64]}]
    assert t["shape"] == [64, 64] and t["parts"] == [{"source": 0, "shape": [4, 8, 2, 64], "strides": [1024, 64, 512, 1], "offset": 0}]
    assert t["ops"] == [] and t["data"] is None
    assert t["type"] == "Q5_0" and t["nbytes"] == 64 * 64 // 32 * 22  # 64 % 256 != 0: Q4_K falls back to Q5_0
    rf = next(x for x in d["tensors"] if x["name"] == "rope_freqs.weight")
    data = np.frombuffer(__import__("base64").b64decode(rf["data"]["base64"]), dtype="<f4")
    np.testing.assert_array_equal(data, plan.tensor("rope_freqs.weight").data)
    back = Plan.from_json(text)
    assert back.to_json() == text


def test_tensor_order_quantize_vs_convert():
    cfg, files, tensors = small_parts()
    q = build_plan_from_parts(cfg, files, tensors, "Q4_K_M")
    names = [t.name for t in q.tensors]
    assert names[:3] == ["output_norm.weight", "rope_freqs.weight", "token_embd.weight"]
    assert names[3:5] == ["blk.0.attn_k.weight", "blk.0.attn_norm.weight"]
    f = build_plan_from_parts(cfg, files, tensors, "F16")
    names = [t.name for t in f.tensors]
    # the converter's order: generated tensors, then the checkpoint's tensors sorted by name
    assert names[0] == "rope_freqs.weight"
    assert names[1:4] == ["token_embd.weight", "blk.0.attn_norm.weight", "blk.0.ffn_down.weight"]
    assert f.reference == "convert"
    keys = [kv.key for kv in f.metadata]
    assert keys.index("general.file_type") < keys.index("general.quantization_version") < keys.index("tokenizer.ggml.model")


def test_convert_targets_types():
    cfg, files, tensors = small_parts(tied=False)
    for target, want in [("F32", "F32"), ("F16", "F16"), ("BF16", "BF16"), ("Q8_0", "Q8_0")]:
        plan = build_plan_from_parts(cfg, files, tensors, target)
        assert plan.tensor("blk.0.attn_q.weight").type == want
        assert plan.tensor("output.weight").type == want
        assert plan.tensor("blk.0.attn_norm.weight").type == "F32"
        assert plan.tensor("rope_freqs.weight").type == "F32"
    # options only llama-quantize has switch the plan to the quantize pipeline
    plan = build_plan_from_parts(cfg, files, tensors, "Q8_0", output_tensor_type="Q6_K")
    assert plan.reference == "convert+quantize" and plan.tensor("output.weight").type == "Q6_K"


def test_q8_0_f16_fallback_for_odd_rows():
    cfg = dict(SMALL, hidden_size=72, head_dim=18)
    tj, tc = FX.llama3_tokenizer()
    plan = build_plan_from_parts(cfg, TokenizerFiles(tokenizer_json=tj, tokenizer_config=tc),
                                 FX.hf_listing(cfg, tied=True), "Q8_0")
    assert plan.tensor("blk.0.attn_q.weight").type == "F16"     # 72 % 32 != 0
    assert plan.tensor("blk.0.ffn_down.weight").type == "Q8_0"  # ne[0] = 128


def test_imatrix_names():
    cfg, files, tensors = small_parts()
    cfg = dict(cfg, num_hidden_layers=16, hidden_size=256, intermediate_size=256, head_dim=64)
    tensors = FX.hf_listing(cfg, tied=True)
    names = {f"blk.{i}.ffn_down.weight" for i in range(16)} | {"blk.0.attn_q.weight", "token_embd.weight"}
    plan = build_plan_from_parts(cfg, files, tensors, "Q4_0", imatrix_names=names)
    assert plan.tensor("blk.0.ffn_down.weight").type == "Q4_1"   # has_imatrix rule
    assert plan.tensor("blk.0.ffn_down.weight").imatrix == "blk.0.ffn_down.weight"
    assert plan.tensor("blk.0.attn_k.weight").imatrix is None     # not in the imatrix
    assert plan.tensor("blk.0.attn_norm.weight").imatrix is None  # not quantized
    plain = build_plan_from_parts(cfg, files, tensors, "Q4_0")
    assert plain.tensor("blk.0.ffn_down.weight").type == "Q4_0"


def test_format_plan_table():
    cfg, files, tensors = small_parts()
    plan = build_plan_from_parts(cfg, files, tensors, "Q4_K_M")
    text = format_plan_table(plan)
    assert "target Q4_K_M" in text and "general.file_type" in text
    assert "blk.0.attn_q.weight" in text and "view4x8x2x64" in text and "(generated)" in text
    assert "tokenizer.ggml.tokens" in text and "ARRAY[STRING]" in text and "(128256 items)" in text
    assert "read ->" in text
    short = format_plan_table(plan, metadata=False)
    assert "tokenizer.ggml.tokens" not in short


def test_missing_and_bad_tensors():
    cfg, files, tensors = small_parts()
    t = dict(tensors)
    del t["model.layers.1.mlp.up_proj.weight"]
    with pytest.raises(MissingTensorError, match="model.layers.1.mlp.up_proj.weight") as e:
        build_plan_from_parts(cfg, files, t, "Q4_K_M")
    assert isinstance(e.value, KeyError) and isinstance(e.value, ConvertError)
    t = dict(tensors)
    t["model.layers.0.self_attn.k_proj.weight"] = ("model.safetensors", "BF16", [64, 64])
    with pytest.raises(TensorShapeError, match=r"model.safetensors.*k_proj.*\[64, 64\].*\[32, 64\]"):
        build_plan_from_parts(cfg, files, t, "Q4_K_M")
    t = dict(tensors)
    t["model.layers.0.self_attn.k_proj.weight"] = ("model.safetensors", "I8", [32, 64])
    with pytest.raises(TensorShapeError, match="dtype I8"):
        build_plan_from_parts(cfg, files, t, "Q4_K_M")
    t = dict(tensors)
    t["model.layers.0.mlp.extra.weight"] = ("model.safetensors", "BF16", [4])
    with pytest.raises(UnexpectedTensorError, match="mlp.extra"):
        build_plan_from_parts(cfg, files, t, "Q4_K_M")
    t = dict(tensors)
    t["model.layers.7.mlp.up_proj.weight"] = ("model.safetensors", "BF16", [128, 64])
    with pytest.raises(UnexpectedTensorError, match="beyond"):
        build_plan_from_parts(cfg, files, t, "Q4_K_M")
    t = dict(tensors)
    t["model.embed_tokens.weight"] = ("model.safetensors", "BF16", [1000, 64])
    with pytest.raises(TensorShapeError, match="embed_tokens"):
        build_plan_from_parts(cfg, files, t, "Q4_K_M")
    t = dict(tensors)
    t["model.layers.0.self_attn.rotary_emb.inv_freq"] = ("model.safetensors", "F32", [8])  # silently dropped
    assert len(build_plan_from_parts(cfg, files, t, "Q4_K_M").tensors) == 3 + 2 * 9
    with pytest.raises(UnknownTargetError, match="Q4_K_M"):
        build_plan_from_parts(cfg, files, tensors, "Q4_K_XL")


def test_plan_from_dict_rejects_garbage():
    cfg, files, tensors = small_parts()
    d = build_plan_from_parts(cfg, files, tensors, "Q4_K_M").to_dict()
    for mutate in (lambda d: d.update(schema=1), lambda d: d["metadata"][0].update(type="UINT99"),
                   lambda d: d["tensors"][3].update(nbytes=1), lambda d: d["tensors"][3].update(type="Q9_K"),
                   lambda d: d["metadata"][5].update(value=-1), lambda d: d.pop("tensors")):
        bad = json.loads(json.dumps(d))
        mutate(bad)
        with pytest.raises((PlanError, UnknownTargetError)):
            Plan.from_dict(bad)
    with pytest.raises(PlanError):
        Plan.from_json("[1, 2")


# --------------------------------------------------------------- directories
def test_build_plan_from_demo_model_dir(tmp_path):
    tiny.make(tmp_path / "TinyLlama-Demo-v0.1", layers=2, hidden=64, heads=4, kv_heads=2, ffn=128)
    plan = build_plan(tmp_path / "TinyLlama-Demo-v0.1", "Q4_K_M")
    assert plan.model_dir == str((tmp_path / "TinyLlama-Demo-v0.1").resolve())
    assert plan.meta("general.name") == "TinyLlama Demo v0.1" and plan.meta("general.version") == "v0.1"
    assert plan.meta("tokenizer.ggml.pre") == "llama-bpe"
    assert plan.meta("general.sampling.temp") == float(np.float32(0.6))
    n_tok = len(plan.meta("tokenizer.ggml.tokens"))
    assert plan.tensor("token_embd.weight").shape == [64, n_tok]
    assert plan.tensor("blk.1.ffn_down.weight").sources[0].file == "model.safetensors"
    # the demo generator is deterministic
    tiny.make(tmp_path / "again", layers=2, hidden=64, heads=4, kv_heads=2, ffn=128)
    for f in ("tokenizer.json", "model.safetensors", "config.json"):
        assert (tmp_path / "TinyLlama-Demo-v0.1" / f).read_bytes() == (tmp_path / "again" / f).read_bytes()


def write_st(path: Path, entries, data_size=None, raw_header=None):
    header = raw_header if raw_header is not None else json.dumps(entries).encode()
    size = data_size if data_size is not None else max([e["data_offsets"][1] for e in entries.values()
                                                        if isinstance(e, dict) and "data_offsets" in e] + [0])
    path.write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * size)


def test_safetensors_header_reader(tmp_path):
    p = tmp_path / "a.safetensors"
    write_st(p, {"__metadata__": {"format": "pt"}, "x": {"dtype": "BF16", "shape": [2, 3], "data_offsets": [0, 12]},
                 "y": {"dtype": "F32", "shape": [], "data_offsets": [12, 16]}})
    assert read_safetensors_header(str(p)) == {"x": ("BF16", (2, 3)), "y": ("F32", ())}
    bad = [
        ({"x": {"dtype": "BF16", "shape": [2, 3], "data_offsets": [0, 10]}}, None, "needs 12 bytes"),
        ({"x": {"dtype": "Q4", "shape": [2], "data_offsets": [0, 2]}}, None, "unknown dtype"),
        ({"x": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 0]}}, None, r"shape\[0\] = -1 is not an integer"),
        ({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, 4, "beyond the end"),
        ({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
          "y": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, None, "overlap"),
    ]
    for entries, size, match in bad:
        write_st(p, entries, size)
        with pytest.raises(SafetensorsHeaderError, match=match) as e:
            read_safetensors_header(str(p))
        assert "a.safetensors" in str(e.value) and isinstance(e.value, ValueError)
    write_st(p, None, 0, raw_header=b"{not json")
    with pytest.raises(SafetensorsHeaderError, match="JSON"):
        read_safetensors_header(str(p))
    p.write_bytes(b"\x01\x02")
    with pytest.raises(SafetensorsHeaderError, match="truncated"):
        read_safetensors_header(str(p))
    p.write_bytes(struct.pack("<Q", 1 << 40) + b"{}")
    with pytest.raises(SafetensorsHeaderError, match="header too large"):
        read_safetensors_header(str(p))
    with pytest.raises(ModelFileNotFoundError):
        read_safetensors_header(str(tmp_path / "nope.safetensors"))


def test_model_dir_errors(tmp_path):
    with pytest.raises(ModelFileNotFoundError, match="does not exist"):
        read_model_dir(tmp_path / "missing")
    d = tmp_path / "m"
    tiny.make(d, layers=1, hidden=64, heads=4, kv_heads=2, ffn=128)
    (d / "config.json").write_text("{broken")
    with pytest.raises(ConfigError, match="config.json: invalid JSON"):
        read_model_dir(d)
    (d / "config.json").unlink()
    with pytest.raises(ModelFileNotFoundError, match="config.json"):
        read_model_dir(d)
    tiny.make(d, layers=1, hidden=64, heads=4, kv_heads=2, ffn=128)
    (d / "tokenizer.json").write_text("[]")
    with pytest.raises(TokenizerError, match="tokenizer.json"):
        read_model_dir(d)
    tiny.make(d, layers=1, hidden=64, heads=4, kv_heads=2, ffn=128)
    (d / "model.safetensors").rename(d / "weights.bin")
    with pytest.raises(ModelFileNotFoundError, match="safetensors"):
        read_model_dir(d)


def test_error_classes_are_wick_errors_of_their_kind():
    """Conversion errors are the wick.errors class of their kind, and keep their builtin bases."""
    from wick.convert import errors as E

    kinds = {
        E.ModelFileNotFoundError: (wick.WickFileNotFoundError, wick.WickOSError, FileNotFoundError),
        E.ModelFormatError: (wick.WickFormatError, ValueError),
        E.ConfigError: (wick.WickFormatError, E.ModelFormatError, ValueError),
        E.TokenizerError: (wick.WickFormatError, ValueError),
        E.SafetensorsHeaderError: (wick.WickFormatError, ValueError),
        E.UnsupportedArchitectureError: (wick.WickUnsupportedError, NotImplementedError, ValueError),
        E.UnsupportedTokenizerError: (wick.WickUnsupportedError, ValueError),
        E.UnexpectedTensorError: (wick.WickUnsupportedError, ValueError),
        E.UnknownTargetError: (wick.WickValueError,),
        E.TensorShapeError: (wick.WickValueError,),
        E.PlanError: (wick.WickValueError,),
        E.ImatrixMismatchError: (wick.WickValueError, E.ImatrixError),
        E.RequantizeInputError: (wick.WickValueError,),
        E.MissingTensorError: (KeyError,),
    }
    for cls, bases in kinds.items():
        assert issubclass(cls, E.ConvertError) and issubclass(cls, wick.WickError), cls
        for b in bases:
            assert issubclass(cls, b), (cls, b)
    e = E.ModelFileNotFoundError("convert: config.json: not found in /m", "/m/config.json")
    assert (str(e), e.filename, e.errno) == ("convert: config.json: not found in /m", "/m/config.json", None)
    with pytest.raises(wick.WickOSError, match="does not exist"):
        read_model_dir("/nonexistent/model")


def test_sharded_checkpoint_with_index(tmp_path):
    d = tmp_path / "sharded"
    tiny.make(d, layers=2, hidden=64, heads=4, kv_heads=2, ffn=128)
    whole = read_safetensors_header(str(d / "model.safetensors"))
    (d / "model.safetensors").unlink()
    names = sorted(whole)
    parts = {"model-00001-of-00002.safetensors": names[::2], "model-00002-of-00002.safetensors": names[1::2]}
    wm = {}
    for fname, ns in parts.items():
        entries, off = {}, 0
        for n in ns:
            dt, shape = whole[n]
            nb = int(np.prod(shape)) * 2
            entries[n] = {"dtype": dt, "shape": list(shape), "data_offsets": [off, off + nb]}
            off += nb
            wm[n] = fname
        write_st(d / fname, entries)
    (d / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": wm}))
    parts_read = read_model_dir(d)
    assert {v[0] for v in parts_read.tensors.values()} == set(parts)
    plan = build_plan(parts_read, "Q8_0")
    assert plan.tensor("blk.1.attn_q.weight").sources[0].file == wm["model.layers.1.self_attn.q_proj.weight"]
    wm["model.norm.weight"] = "model-00002-of-00002.safetensors" if wm["model.norm.weight"].startswith("model-00001") \
        else "model-00001-of-00002.safetensors"
    (d / "model.safetensors.index.json").write_text(json.dumps({"weight_map": wm}))
    with pytest.raises(ModelFormatError, match="model.norm.weight"):
        read_model_dir(d)
    wm["extra.weight"] = "model-00003-of-00003.safetensors"
    (d / "model.safetensors.index.json").write_text(json.dumps({"weight_map": wm}))
    with pytest.raises(ModelFileNotFoundError, match="00003"):
        read_model_dir(d)


def test_values_types():
    from wick.gguf import values as V
    assert V.u32("a", 5).type == ValueType.UINT32
    assert V.f32("a", 0.1).value == float(np.float32(0.1))
    with pytest.raises(V.MetadataError):
        V.u32("a", -1)
    with pytest.raises(V.MetadataError):
        V.u32("a", 2 ** 32)
    with pytest.raises(V.MetadataError):
        V.u32("a", True)
    with pytest.raises(V.MetadataError):
        V.f32("a", 1e39)
    with pytest.raises(V.MetadataError):
        V.array("a", ValueType.STRING, [])
    with pytest.raises(V.MetadataError):
        V.array("a", ValueType.INT32, [1, 2 ** 31])
    with pytest.raises(V.MetadataError):
        V.string("a", "\ud800")
    assert V.array("a", ValueType.FLOAT32, [0.1, 1]).value == [float(np.float32(0.1)), 1.0]


@pytest.mark.parametrize("values, message", [
    (["a", "b", 3, "d"], r"\[2\]: expected a string, got int"),
    (["a", None], r"\[1\]: expected a string, got NoneType"),
    (["a", b"b"], r"\[1\]: expected a string, got bytes"),
    (["a", "\ud800"], "not valid Unicode"),
])
def test_string_arrays_name_the_bad_element(values, message):
    from wick.gguf import values as V
    with pytest.raises(V.MetadataError, match=message):
        V.array("k", ValueType.STRING, values)


def test_string_arrays_refuse_surrogates_as_utf8_does():
    """Elements are checked by encoding them as UTF-16 (faster): exactly the strings
    UTF-8 refuses (surrogate code points, alone or as a pair, anywhere) are refused,
    with UTF-8's reason in the message; every other code point passes."""
    from wick.gguf import values as V
    cases = ["\ud800", "\udfff", "a\ud834\udd1eb", "\udbff", "x" * 100 + "\udc00"]
    for bad in cases:
        with pytest.raises(UnicodeEncodeError) as utf8:
            bad.encode("utf-8")
        with pytest.raises(V.MetadataError, match=re.escape(f"not valid Unicode ({utf8.value.reason})")):
            V.array("k", ValueType.STRING, ["ok", bad, "é"])
    good = ["\U0001d11e", "\ud7ff\ue000", "\U0010ffff", "\x00\x7f\x80\xff", "Ġ\u0100", ""]
    assert V.array("k", ValueType.STRING, good).value == good


@pytest.mark.parametrize("values, message", [
    ([1, True, 3], r"\[1\]: True is not a valid INT32"),
    ([0, 2 ** 31], r"\[1\]: 2147483648 is not a valid INT32"),
    ([-2 ** 31 - 1, 0], r"\[0\]: -2147483649 is not a valid INT32"),
    ([1, 2.0], r"\[1\]: 2.0 is not a valid INT32"),
    ([1, "2"], r"\[1\]: '2' is not a valid INT32"),
])
def test_int_arrays_name_the_bad_element(values, message):
    from wick.gguf import values as V
    with pytest.raises(V.MetadataError, match=message):
        V.array("k", ValueType.INT32, values)


def test_int_arrays_take_numpy_integers_as_python_ints():
    from wick.gguf import values as V
    kv = V.array("k", ValueType.INT32, [np.int64(5), 6, np.uint8(7)])
    assert kv.value == [5, 6, 7] and all(type(x) is int for x in kv.value)
    kv = V.array("k", ValueType.UINT32, range(3))
    assert kv.value == [0, 1, 2] and [type(x) for x in kv.value] == [int] * 3
    assert V.array("k", ValueType.INT32, [-2 ** 31, 2 ** 31 - 1]).value == [-2 ** 31, 2 ** 31 - 1]


def test_dry_run_cli(tmp_path, capsys):
    from wick.cli import main
    tiny.make(tmp_path / "m", layers=1, hidden=64, heads=4, kv_heads=2, ffn=128)
    m = str(tmp_path / "m")
    assert main(["convert", m, "--dry-run", "--type", "q4_k_m", "--no-metadata", "--tensor-type", r"ffn_up=q8_0"]) == 0
    out = capsys.readouterr().out
    assert "target Q4_K_M" in out and "blk.0.ffn_up.weight" in out and "--tensor-type ffn_up" in out
    assert "metadata (" not in out
    assert main(["convert", m, "--dry-run", "--type", "F16", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["target"] == "F16"
    assert main(["convert", str(tmp_path / "nope"), "--dry-run", "--type", "F16"]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_plan_options_are_one_dataclass(tmp_path):
    """Keywords, an options object and the command line are the same options."""
    import dataclasses
    import inspect

    from wick.cli import build_parser
    from wick.convert import requantize_model, requantize_plan
    from wick.convert.options import CONVERT, REQUANTIZE, PlanOptions

    cfg, files, tensors = small_parts()
    by_kw = build_plan_from_parts(cfg, files, tensors, "Q4_K_M", pure=True, tensor_types=[("ffn_up", "Q8_0")])
    opts = PlanOptions(pure=True, tensor_types=[["ffn_up", "Q8_0"]])
    assert opts.tensor_types == (("ffn_up", "Q8_0"),)
    by_obj = build_plan_from_parts(cfg, files, tensors, "Q4_K_M", opts)
    assert by_kw.to_json() == by_obj.to_json()
    # keywords win over the object
    assert build_plan_from_parts(cfg, files, tensors, "Q4_K_M", opts, pure=False).to_json() != by_obj.to_json()
    # every option is a keyword-only parameter of every function that takes it, in the declared order
    for fn, scope in ((build_plan, CONVERT), (build_plan_from_parts, CONVERT), (wick.convert.convert_model, CONVERT),
                      (wick.convert, CONVERT), (requantize_plan, REQUANTIZE), (requantize_model, REQUANTIZE)):
        params = inspect.signature(fn).parameters
        names = [n for n in params if n in PlanOptions.names()]
        assert names == list(PlanOptions.names(scope)), fn
        assert all(params[n].kind == inspect.Parameter.KEYWORD_ONLY for n in names)
        doc = inspect.getdoc(type(fn).__call__ if fn is wick.convert else fn)
        assert "Plan options" in doc and "--tensor-type" in doc
    # ... and every option with a flag is on the command line of the commands whose planner takes it
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices
    for command, scope in (("convert", CONVERT), ("quantize", REQUANTIZE)):
        flags = {s for a in sub[command]._actions for s in a.option_strings}
        for f in dataclasses.fields(PlanOptions):
            if f.metadata["flag"]:
                assert (f.metadata["flag"] in flags) == (scope in f.metadata["scope"]), (command, f.name)
    args = sub["convert"].parse_args(["m", "--pure", "--tensor-type", "a=q8_0", "--tensor-type", "b=Q6_K",
                                      "--output-tensor-type", "q6_k", "--tokenizer-pre", "llama-bpe"])
    assert PlanOptions.from_arguments(args, CONVERT) == PlanOptions(
        pure=True, tensor_types=(("a", "Q8_0"), ("b", "Q6_K")), output_tensor_type="Q6_K", tokenizer_pre="llama-bpe")
    # unknown keywords and options another planner takes are named
    with pytest.raises(wick.WickTypeError, match=r"build_plan_from_parts\(\): 'purity' is not an option; the options "
                                                 r"are: revision, tokenizer_pre, model_name, pure"):
        build_plan_from_parts(cfg, files, tensors, "Q4_K_M", purity=True)
    with pytest.raises(TypeError, match="'tokenizer_pre' does not apply to requantizing a GGUF file"):
        requantize_plan(tmp_path / "x.gguf", "Q4_K_M", tokenizer_pre="llama-bpe")
    with pytest.raises(TypeError, match="options tokenizer_pre do not apply"):
        requantize_plan(tmp_path / "x.gguf", "Q4_K_M", PlanOptions(tokenizer_pre="x"))
    with pytest.raises(wick.WickTypeError, match=r"tensor_types: expected \(regex, type\) pairs"):
        PlanOptions(tensor_types=["ffn_up=Q8_0"])


def test_messages_name_options_as_the_caller_spells_them(tmp_path, capsys, monkeypatch):
    """Python callers read keywords (dry_run=True), command-line users read flags (--dry-run)."""
    import dataclasses

    from wick import _types
    from wick.cli import main

    # a target whose type Wick cannot write: IQ4_XS, made unwritable for the test
    real = _types.type_info
    monkeypatch.setattr(_types, "type_info", lambda t: (dataclasses.replace(real(t), can_quantize=False)
                                                        if real(t).name == "IQ4_XS" else real(t)))
    d = tmp_path / "m"
    tiny.make(d, layers=1, hidden=256, heads=4, kv_heads=2, ffn=256)
    with pytest.raises(wick.WickUnsupportedError, match=r"IQ4_XS.*shown by dry_run=True"):
        wick.convert(d, tmp_path / "o.gguf", "IQ4_XS")
    assert main(["convert", str(d), "-o", str(tmp_path / "o.gguf"), "--type", "IQ4_XS"]) == 1
    err = capsys.readouterr().err
    assert "shown by --dry-run" in err and "dry_run" not in err
    with pytest.raises(UnknownTargetError, match="^output_tensor_type: convert: unknown ggml type 'Q9'"):
        wick.convert(d, tmp_path / "o.gguf", "Q4_K_M", output_tensor_type="Q9", dry_run=True)
    assert main(["convert", str(d), "--type", "Q4_K_M", "--output-tensor-type", "q9", "--dry-run"]) == 1
    assert "wick: error: --output-tensor-type: convert: unknown ggml type 'Q9'" in capsys.readouterr().err


def test_plan_json_bytes_for_the_executor():
    """The executor reads UTF-8 JSON with non-ASCII text as itself; it parses to the same plan."""
    cfg, files, tensors = small_parts()
    from wick.convert import Plan

    plan = build_plan_from_parts(cfg, files, tensors, "Q8_0")
    raw = plan.to_json_bytes()
    assert raw == plan.to_json(ascii=False).encode("utf-8") and len(raw) < len(plan.to_json().encode())
    assert Plan.from_json(raw.decode("utf-8")).to_dict() == plan.to_dict()
