"""Generate tests/golden/mixture_types.json from the real llama-quantize.

Run by hand (output committed):

    /tmp/llvenv/bin/python tests/golden/gen_mixture_types.py

It needs a venv with ``llama-cpp-python`` (which bundles libllama with
``llama_model_quantize``), ``gguf`` and ``numpy``. For each small model below
it writes a deterministic F32 GGUF with gguf's ``GGUFWriter`` (the shape of
what ``convert_hf_to_gguf.py --outtype f32`` produces: 2-D weights, F32 norms
and biases, an optional ``rope_freqs``), quantizes it with
``llama_model_quantize`` to every target (some also with an importance
matrix), and reads back with ``GGUFReader``:

* the type llama-quantize gave every tensor,
* the tensor order of the quantized file,
* the metadata key order of the quantized file (where llama-quantize moves
  ``general.quantization_version`` / ``general.file_type``) and the
  ``general.file_type`` value.

The models are chosen to exercise every branch of the rules Wick
reimplements (``python/wick/convert/mixture.py``): GQA ratios 1, 2, 4, 5;
tied and untied output; 4, 8, 16, 24, 32 and 80 layers (the use_more_bits
patterns and the 70B rule, for llama and qwen2); an 8-expert MoE; a 4-expert
qwen2moe with shared experts (two ffn_down per layer: the IQ1/IQ2 rules count
tensors, the others parse layers); Qwen2-MoE (4 experts, a shared expert and its
gate, narrower experts), Qwen3-MoE (8 experts) and Llama 4 (16 experts and a
shared expert every second layer, dense layers between); qwen3 with head_dim !=
hidden/heads; row lengths that are not multiples of 256 (the K-quant fallback),
of 128 (Q1_0 has no fallback) and of 32 (the F16 fallback).

Runs llama_model_quantize refuses are kept, with its reason: the targets
that need an importance matrix run without one, NVFP4 (llama_ftype 39,
which this llama.cpp cannot make), Q1_0 on rows that are not whole blocks.
The i-quant targets' types come from llama_model_quantize's dry run (see
DRY_RUN_TARGETS), checked against real runs on one model. Each model's
description (arch, hyper-parameters, tensor names and shapes) is stored in the
JSON so the test can replay it without this script.

Mixture-of-experts, MLA and SSM models (``arch_models`` in the JSON; the
section "architecture fixtures" below): the F32 GGUFs the pinned
``convert_hf_to_gguf.py --outtype f32`` makes of some of the architecture
fixtures (tests/arch_fixtures: Qwen2/3 MoE, Qwen3.5 dense and MoE,
DeepSeek-V2-Lite / V3, GLM-4.5, GLM-4.7-Flash, gpt-oss, Llama 4, OLMoE,
Granite MoE) are quantized to ARCH_TARGETS, each with and without an
(all-ones) importance matrix; the converter runs in the interpreter named by
``WICK_REFVENV_PYTHON`` (default ``/work/refvenv/bin/python``: torch,
transformers 4.57.6) through tests/golden/_arch_convert_driver.py. Each
entry records the model facts llama-quantize's rules read from the file
(block count, heads, KV heads, experts), the tensors with their shapes and
input types (gpt-oss's experts are MXFP4: those runs need
``allow_requantize``, recorded), the output order and every run's types.
Run (from the repository root, a few minutes)::

    nice -n 10 .venv/bin/python tests/golden/gen_mixture_types.py

with the worktree's ``.venv`` (``make llama``: llama-cpp-python 0.3.36,
gguf, numpy). ``--arch-only`` regenerates only ``arch_models`` and keeps the
other models' recorded entries (the dense models take most of the time).
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import gguf
import llama_cpp
import numpy as np

OUT = Path(__file__).with_name("mixture_types.json")

# llama_ftype values (include/llama.h)
FTYPES = {
    "F32": 0, "F16": 1, "Q4_0": 2, "Q4_1": 3, "Q8_0": 7, "Q5_0": 8, "Q5_1": 9,
    "Q2_K": 10, "Q3_K_S": 11, "Q3_K_M": 12, "Q3_K_L": 13, "Q4_K_S": 14, "Q4_K_M": 15,
    "Q5_K_S": 16, "Q5_K_M": 17, "Q6_K": 18, "IQ4_NL": 25, "IQ4_XS": 30, "BF16": 32,
    # the i-quant, ternary, FP4 and 1/2-bit targets
    "IQ2_XXS": 19, "IQ2_XS": 20, "Q2_K_S": 21, "IQ3_XS": 22, "IQ3_XXS": 23, "IQ1_S": 24,
    "IQ3_S": 26, "IQ3_M": 27, "IQ2_S": 28, "IQ2_M": 29, "IQ1_M": 31, "TQ1_0": 36, "TQ2_0": 37,
    "MXFP4_MOE": 38, "NVFP4": 39, "Q1_0": 40, "Q2_0": 41,
}
IMATRIX_TARGETS = ["Q4_0", "Q5_0", "IQ4_NL", "IQ4_XS", "Q4_K_M",
                   "IQ2_XXS", "IQ2_XS", "Q2_K_S", "IQ3_XS", "IQ3_XXS", "IQ1_S", "IQ3_S", "IQ3_M",
                   "IQ2_S", "IQ2_M", "IQ1_M", "TQ1_0", "TQ2_0", "MXFP4_MOE", "NVFP4", "Q1_0", "Q2_0"]

# one character per ggml type keeps the file small: a run's "types" is a
# string with one code per tensor of "output_tensor_order"
TYPE_CODES = {
    "F32": "f", "F16": "h", "BF16": "b", "Q4_0": "0", "Q4_1": "1", "Q5_0": "5", "Q5_1": "6",
    "Q8_0": "8", "Q2_K": "B", "Q3_K": "C", "Q4_K": "D", "Q5_K": "E", "Q6_K": "F",
    "IQ4_NL": "n", "IQ4_XS": "x",
    "IQ1_S": "s", "IQ1_M": "m", "IQ2_XXS": "p", "IQ2_XS": "q", "IQ2_S": "r", "IQ3_XXS": "t",
    "IQ3_S": "u", "TQ1_0": "T", "TQ2_0": "U", "MXFP4": "M", "NVFP4": "N", "Q1_0": "Q", "Q2_0": "R",
}

MODELS = [
    # name, arch, n_layer, n_embd, n_head, n_head_kv, head_dim, n_ff, n_vocab, tied, n_expert, extras
    dict(name="llama_16l_gqa4_tied", arch="llama", n_layer=16, n_embd=256, n_head=4, n_head_kv=1,
         head_dim=64, n_ff=512, n_vocab=320, tied=True, n_expert=0, rope_freqs=True),
    dict(name="llama_32l_mha_untied", arch="llama", n_layer=32, n_embd=256, n_head=4, n_head_kv=4,
         head_dim=64, n_ff=256, n_vocab=256, tied=False, n_expert=0, rope_freqs=False),
    dict(name="llama_22l_gqa2_untied", arch="llama", n_layer=22, n_embd=256, n_head=4, n_head_kv=2,
         head_dim=64, n_ff=256, n_vocab=256, tied=False, n_expert=0, rope_freqs=False),
    dict(name="qwen2_24l_e320_tied", arch="qwen2", n_layer=24, n_embd=320, n_head=5, n_head_kv=1,
         head_dim=64, n_ff=512, n_vocab=300, tied=True, n_expert=0, rope_freqs=False),
    dict(name="llama_80l_gqa2_untied", arch="llama", n_layer=80, n_embd=256, n_head=4, n_head_kv=2,
         head_dim=64, n_ff=256, n_vocab=256, tied=False, n_expert=0, rope_freqs=False),
    dict(name="llama_80l_mha_untied", arch="llama", n_layer=80, n_embd=256, n_head=4, n_head_kv=4,
         head_dim=64, n_ff=256, n_vocab=256, tied=False, n_expert=0, rope_freqs=False),
    dict(name="qwen2_80l_mha_tied", arch="qwen2", n_layer=80, n_embd=256, n_head=4, n_head_kv=4,
         head_dim=64, n_ff=256, n_vocab=256, tied=True, n_expert=0, rope_freqs=False),
    dict(name="llama_4l_moe8", arch="llama", n_layer=4, n_embd=256, n_head=4, n_head_kv=1,
         head_dim=64, n_ff=256, n_vocab=256, tied=False, n_expert=8, rope_freqs=False),
    dict(name="qwen3_8l_hd128", arch="qwen3", n_layer=8, n_embd=256, n_head=4, n_head_kv=2,
         head_dim=128, n_ff=512, n_vocab=256, tied=False, n_expert=0, rope_freqs=False),
    dict(name="qwen2moe_16l_moe4_shexp", arch="qwen2moe", n_layer=16, n_embd=256, n_head=4, n_head_kv=4,
         head_dim=64, n_ff=256, n_vocab=256, tied=False, n_expert=4, rope_freqs=False, shexp=True),
    dict(name="llama_4l_e272_untied", arch="llama", n_layer=4, n_embd=272, n_head=4, n_head_kv=4,
         head_dim=68, n_ff=256, n_vocab=256, tied=False, n_expert=0, rope_freqs=False),
    # issue 11's mixtures: routed experts beside shared experts (and their gate), 8 and 16 experts,
    # dense layers between MoE layers (Llama 4); 16 layers so that use_more_bits picks layers
    dict(name="qwen2moe_16l_x4_shexp", arch="qwen2moe", n_layer=16, n_embd=256, n_head=4, n_head_kv=4,
         head_dim=64, n_ff=512, n_vocab=256, tied=False, n_expert=4, rope_freqs=False, n_ff_exp=256,
         n_ff_shexp=512),
    dict(name="qwen3moe_16l_x8_hd128", arch="qwen3moe", n_layer=16, n_embd=256, n_head=4, n_head_kv=2,
         head_dim=128, n_ff=512, n_vocab=256, tied=False, n_expert=8, rope_freqs=False, n_ff_exp=256),
    dict(name="llama4_16l_x16_step2", arch="llama4", n_layer=16, n_embd=256, n_head=4, n_head_kv=2,
         head_dim=64, n_ff=512, n_vocab=256, tied=False, n_expert=16, rope_freqs=True, n_ff_exp=256,
         n_ff_shexp=256, moe_step=2),
]


def tensor_list(m: dict) -> list[tuple[str, list[int]]]:
    """(name, ne) of every tensor of the model, in converter order."""
    E, F, V = m["n_embd"], m["n_ff"], m["n_vocab"]
    Hd, H, Hkv, X = m["head_dim"], m["n_head"], m["n_head_kv"], m["n_expert"]
    out: list[tuple[str, list[int]]] = []
    if m["rope_freqs"]:
        out.append(("rope_freqs.weight", [Hd // 2]))
    out.append(("token_embd.weight", [E, V]))
    out.append(("output_norm.weight", [E]))
    if not m["tied"]:
        out.append(("output.weight", [E, V]))
    for i in range(m["n_layer"]):
        p = f"blk.{i}."
        out.append((p + "attn_norm.weight", [E]))
        out.append((p + "attn_q.weight", [E, H * Hd]))
        out.append((p + "attn_k.weight", [E, Hkv * Hd]))
        out.append((p + "attn_v.weight", [E, Hkv * Hd]))
        if m["arch"] in ("qwen2", "qwen2moe"):
            out.append((p + "attn_q.bias", [H * Hd]))
            out.append((p + "attn_k.bias", [Hkv * Hd]))
            out.append((p + "attn_v.bias", [Hkv * Hd]))
        if m["arch"] in ("qwen3", "qwen3moe"):
            out.append((p + "attn_q_norm.weight", [Hd]))
            out.append((p + "attn_k_norm.weight", [Hd]))
        out.append((p + "attn_output.weight", [H * Hd, E]))
        out.append((p + "ffn_norm.weight", [E]))
        moe_layer = X and (i + 1) % m.get("moe_step", 1) == 0
        if moe_layer:
            Fx, Fs = m.get("n_ff_exp", F), m.get("n_ff_shexp")
            out.append((p + "ffn_gate_inp.weight", [E, X]))
            out.append((p + "ffn_gate_exps.weight", [E, Fx, X]))
            out.append((p + "ffn_up_exps.weight", [E, Fx, X]))
            out.append((p + "ffn_down_exps.weight", [Fx, E, X]))
            if Fs:
                if m["arch"] == "qwen2moe":
                    out.append((p + "ffn_gate_inp_shexp.weight", [E, 1]))
                out.append((p + "ffn_gate_shexp.weight", [E, Fs]))
                out.append((p + "ffn_up_shexp.weight", [E, Fs]))
                out.append((p + "ffn_down_shexp.weight", [Fs, E]))
            elif m.get("shexp"):  # the 1-D shared-expert gate, shared experts as wide as the routed ones
                out.append((p + "ffn_gate_inp_shexp.weight", [E]))
                out.append((p + "ffn_gate_shexp.weight", [E, F]))
                out.append((p + "ffn_up_shexp.weight", [E, F]))
                out.append((p + "ffn_down_shexp.weight", [F, E]))
        else:
            out.append((p + "ffn_gate.weight", [E, F]))
            out.append((p + "ffn_up.weight", [E, F]))
            out.append((p + "ffn_down.weight", [F, E]))
    return out


def write_f32_gguf(m: dict, path: str) -> None:
    rng = np.random.default_rng(1234)
    w = gguf.GGUFWriter(path, m["arch"])
    w.add_type("model")
    w.add_name(m["name"])
    w.add_block_count(m["n_layer"])
    w.add_context_length(256)
    w.add_embedding_length(m["n_embd"])
    w.add_feed_forward_length(m["n_ff"])
    w.add_head_count(m["n_head"])
    w.add_head_count_kv(m["n_head_kv"])
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    if m["head_dim"] * m["n_head"] != m["n_embd"]:
        w.add_key_length(m["head_dim"])
        w.add_value_length(m["head_dim"])
    if m["n_expert"]:
        w.add_expert_count(m["n_expert"])
        w.add_expert_used_count(2)
    if m.get("shexp"):
        w.add_expert_feed_forward_length(m["n_ff"])
        w.add_expert_shared_feed_forward_length(m["n_ff"])
    w.add_file_type(0)
    if m["arch"] in ("llama", "llama4"):
        w.add_vocab_size(m["n_vocab"])
        w.add_rope_dimension_count(m["head_dim"])
    if m.get("n_ff_exp"):
        w.add_expert_feed_forward_length(m["n_ff_exp"])
    if m.get("n_ff_shexp") and m["arch"] == "qwen2moe":
        w.add_expert_shared_feed_forward_length(m["n_ff_shexp"])
    if m.get("moe_step"):
        w.add_interleave_moe_layer_step(m["moe_step"])
    w.add_quantization_version(2)
    # a minimal SentencePiece-style vocabulary so the file is a complete model
    n = m["n_vocab"]
    toks = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    toks = toks[:n] + [f"tok{i}" for i in range(len(toks), n)]
    types = [2, 3, 3] + [6] * 256 + [1] * n
    w.add_tokenizer_model("llama")
    w.add_tokenizer_pre("default")
    w.add_token_list(toks)
    w.add_token_scores([0.0] * n)
    w.add_token_types(types[:n])
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    for name, ne in tensor_list(m):
        shape = tuple(reversed(ne))
        if name == "rope_freqs.weight":
            a = np.ones(shape, dtype=np.float32)
        elif len(ne) == 1:
            a = (1.0 + 0.01 * rng.standard_normal(shape)).astype(np.float32)
        else:
            a = (0.02 * rng.standard_normal(shape)).astype(np.float32)
        w.add_tensor(name, a)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


_LOG: list[str] = []


@llama_cpp.llama_log_callback
def _log_callback(level, text, user_data):
    _LOG.append(text.decode("utf-8", "replace"))


def failure(log: str) -> dict:
    """What a failed llama_model_quantize run logged: the reason (the
    exception's text) and, for the imatrix checks, the offending tensor."""
    out = {}
    for line in log.splitlines():
        if "failed to quantize: " in line:
            out["error"] = line.split("failed to quantize: ", 1)[1].strip()
        elif "offending tensor:" in line:
            out["tensor"] = line.split("offending tensor:", 1)[1].strip()
    if "error" not in out:
        raise RuntimeError("llama_model_quantize failed without saying why:\n" + log[-2000:])
    return out


# targets whose encoders are slow in llama.cpp (grid searches): their types
# come from llama_model_quantize's dry run, which runs the same type choice
# (llama_tensor_get_type in the preliminary loop) and logs each tensor's type
# without quantizing. A run that needs an imatrix it lacks is run for real
# (it fails before quantizing anything), and SELF_CHECK_MODEL's runs are all
# made both ways and must agree.
DRY_RUN_TARGETS = {"IQ2_XXS", "IQ2_XS", "IQ3_XS", "IQ3_XXS", "IQ1_S", "IQ3_S", "IQ3_M", "IQ2_S", "IQ2_M", "IQ1_M"}
SELF_CHECK_MODEL = "qwen3_8l_hd128"
_DRY_LINE = re.compile(r"\[\s*\d+/\s*\d+\]\s+(\S+)\s+- \[[^\]]*\], type =\s*(\S+), size = [^\n]*?(?:\((\w+)\))?\n")


def dry_run_types(log: str) -> dict[str, str]:
    """name -> type of every tensor of a dry run's log."""
    out = {}
    for name, cur, new in _DRY_LINE.findall(log):
        out[name] = (new or cur).upper()
    return out


def quantize(src: str, dst: str, ftype: int, imatrix: dict[str, np.ndarray] | None,
             dry_run: bool = False) -> str:
    """Run llama_model_quantize; returns its log."""
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.dry_run = dry_run
    params.nthread = 2
    keep = []
    if imatrix:
        arr = (llama_cpp.llama_model_imatrix_data * (len(imatrix) + 1))()
        for i, (name, vec) in enumerate(imatrix.items()):
            buf = np.ascontiguousarray(vec, dtype=np.float32)
            keep.append(buf)
            arr[i].name = name.encode()
            arr[i].data = buf.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
            arr[i].size = buf.size
        arr[len(imatrix)].name = None
        keep.append(arr)
        params.imatrix = ctypes.cast(arr, ctypes.POINTER(llama_cpp.llama_model_imatrix_data))
    _LOG.clear()
    rc = llama_cpp.llama_model_quantize(src.encode(), dst.encode(), ctypes.byref(params))
    if rc != 0:
        raise QuantizeFailed(failure("".join(_LOG)))
    return "".join(_LOG)


class QuantizeFailed(Exception):
    """llama_model_quantize returned an error (recorded in the golden)."""


# ggml type ids (ggml.h enum ggml_type); gguf-py 0.19's enum lacks Q2_0
GGML_TYPE_NAMES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 6: "Q5_0", 7: "Q5_1", 8: "Q8_0", 9: "Q8_1", 10: "Q2_K",
    11: "Q3_K", 12: "Q4_K", 13: "Q5_K", 14: "Q6_K", 15: "Q8_K", 16: "IQ2_XXS", 17: "IQ2_XS", 18: "IQ3_XXS",
    19: "IQ1_S", 20: "IQ4_NL", 21: "IQ3_S", 22: "IQ2_S", 23: "IQ4_XS", 29: "IQ1_M", 30: "BF16", 34: "TQ1_0",
    35: "TQ2_0", 39: "MXFP4", 40: "NVFP4", 41: "Q1_0", 42: "Q2_0",
}


def read_back(path: str) -> dict:
    """Tensor types and order, metadata key order and general.file_type of a
    GGUF file, from its header (parsed here: gguf-py's reader refuses types
    its enum lacks)."""
    b = Path(path).read_bytes()
    off = 0

    def take(fmt):
        nonlocal off
        v = struct.unpack_from("<" + fmt, b, off)
        off += struct.calcsize("<" + fmt)
        return v[0]

    def string():
        nonlocal off
        n = take("Q")
        off += n
        return b[off - n:off].decode("utf-8")

    scalar = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}

    def value(vt):
        if vt == 8:
            return string()
        if vt == 9:
            et, n = take("I"), take("Q")
            return [value(et) for _ in range(n)]
        return take(scalar[vt])

    assert b[:4] == b"GGUF" and take("4s") and take("I") == 3
    n_tensors, n_kv = take("Q"), take("Q")
    keys, file_type = [], None
    for _ in range(n_kv):
        k = string()
        v = value(take("I"))
        keys.append(k)
        if k == "general.file_type":
            file_type = v
    order, types = [], {}
    for _ in range(n_tensors):
        name = string()
        nd = take("I")
        for _ in range(nd):
            take("Q")
        types[name] = GGML_TYPE_NAMES[take("I")]
        take("Q")
        order.append(name)
    return {"types": types, "order": order, "keys": keys, "file_type": file_type}


def llama_cpp_commit() -> str:
    ref = Path("/work/ref/llama_cpp_python-0.3.36/vendor/llama.cpp")
    try:
        return subprocess.run(["git", "-C", str(ref), "rev-parse", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except Exception:
        return "unknown"


# ------------------------------------------------------------------------------------------------
# architecture fixtures: MoE (routed + shared experts, routers), MLA and SSM tensors (arch_models)
# ------------------------------------------------------------------------------------------------
ROOT = Path(__file__).resolve().parents[2]
PINNED_LLAMA_CPP = "/work/ref/llama_cpp_python-0.3.36/vendor/llama.cpp"
ARCH_FIXTURES = ["qwen2moe", "qwen3moe", "qwen35", "qwen35moe", "deepseek_v2_lite", "deepseek_v3", "glm45",
                 "glm47_flash", "gpt_oss", "llama4_text", "olmoe", "granitemoe"]
ARCH_TARGETS = ["Q4_K_M", "Q3_K_M", "Q2_K", "Q5_K_M", "Q6_K"]


def arch_f32_gguf(fx, tmp: Path) -> Path:
    """The pinned converter's ``--outtype f32`` file of an architecture fixture."""
    model = fx.write(tmp / "model")
    out = tmp / "f32.gguf"
    report = tmp / "driver.json"
    py = os.environ.get("WICK_REFVENV_PYTHON", "/work/refvenv/bin/python")
    env = dict(os.environ, PYTHONHASHSEED="0", CUDA_VISIBLE_DEVICES="")
    p = subprocess.run([py, str(ROOT / "tests" / "golden" / "_arch_convert_driver.py"), PINNED_LLAMA_CPP,
                        str(report), fx.pre or "-", str(model), f"f32={out}"],
                       capture_output=True, text=True, env=env, cwd=str(tmp))
    if p.returncode != 0 or not out.exists():
        raise RuntimeError(f"{fx.name}: convert_hf_to_gguf --outtype f32 failed:\n{p.stderr[-2000:]}")
    return out


def model_facts(r) -> dict:
    """What llama-quantize's rules read from the file's metadata (layer 0 where per layer)."""
    arch = bytes(r.fields["general.architecture"].parts[-1]).decode()

    def get(key, default=None):
        f = r.fields.get(f"{arch}.{key}")
        return default if f is None else int(f.parts[f.data[0]][0])

    n_head = get("attention.head_count")
    return {"arch": arch, "n_layer": get("block_count"), "n_head": n_head,
            "n_head_kv": get("attention.head_count_kv", n_head), "n_expert": get("expert_count", 0)}


def quantize_allowing(src: str, dst: str, ftype: int, imatrix) -> bool:
    """quantize(); if llama-quantize refuses a tensor that is already quantized (gpt-oss's MXFP4
    experts), again as ``--allow-requantize``. Returns whether that was needed."""
    try:
        quantize(src, dst, ftype, imatrix)
        return False
    except RuntimeError:
        real = llama_cpp.llama_model_quantize_default_params

        def defaults():
            p = real()
            p.allow_requantize = True
            return p

        llama_cpp.llama_model_quantize_default_params = defaults
        try:
            quantize(src, dst, ftype, imatrix)
        finally:
            llama_cpp.llama_model_quantize_default_params = real
        return True


def arch_mixture_models() -> list:
    """One ``arch_models`` entry per fixture of ARCH_FIXTURES (see the module docstring)."""
    sys.path.insert(0, str(ROOT / "tests"))
    import arch_fixtures  # noqa: PLC0415

    fixtures = {fx.name: fx for fx in arch_fixtures.all_fixtures()}
    out = []
    for name in ARCH_FIXTURES:
        t0 = time.time()
        fx = fixtures[name]
        with tempfile.TemporaryDirectory(prefix=f"mix-{name}-") as tmp:
            tmp = Path(tmp)
            src = arch_f32_gguf(fx, tmp)
            r = gguf.GGUFReader(str(src))
            tensors = [(t.name, [int(x) for x in t.shape]) for t in r.tensors]
            in_types = {t.name: t.tensor_type.name for t in r.tensors}
            facts = model_facts(r)
            del r
            imat = {n: np.ones(ne[0] * (ne[2] if len(ne) > 2 else 1), dtype=np.float32)
                    for n, ne in tensors if len(ne) >= 2}
            runs, order, requant = {}, None, []
            for tname in ARCH_TARGETS:
                for use_imatrix in (False, True):
                    label = tname + ("+imatrix" if use_imatrix else "")
                    dst = str(tmp / f"{label}.gguf")
                    if quantize_allowing(str(src), dst, FTYPES[tname], imat if use_imatrix else None):
                        requant.append(label)
                    rb = read_back(dst)
                    os.remove(dst)
                    if order is None:
                        order = rb["order"]
                    elif rb["order"] != order:
                        raise RuntimeError(f"{name}: tensor order differs for {label}")
                    runs[label] = {"file_type": rb["file_type"],
                                   "types": "".join(TYPE_CODES[rb["types"][n]] for n in order)}
        out.append({"fixture": name, "hf_class": fx.hf_class, "model": facts,
                    "tensors": [[n, ne] for n, ne in tensors],
                    "input_types": "".join(TYPE_CODES[in_types[n]] for n, _ in tensors),
                    "allow_requantize": requant, "output_tensor_order": order, "runs": runs})
        print(f"{name}: {len(runs)} runs in {time.time() - t0:.1f}s", file=sys.stderr)
    return out
# ------------------------------------------------------------------ end of the architecture fixtures


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser(description="llama_model_quantize's per-tensor types on small models")
    ap.add_argument("--only", nargs="*", metavar="NAME",
                    help="run only these dense models; the other models' entries are kept from the existing JSON")
    ap.add_argument("--arch-only", action="store_true",
                    help="regenerate only arch_models (the architecture fixtures); keep the recorded dense models")
    args = ap.parse_args()
    arch_only = args.arch_only
    kept = {}
    if args.only:
        unknown = set(args.only) - {m["name"] for m in MODELS}
        if unknown:
            raise SystemExit(f"unknown model(s): {sorted(unknown)}")
        kept = {e["spec"]["name"]: e for e in json.loads(OUT.read_text())["models"]}
    llama_cpp.llama_backend_init()
    llama_cpp.llama_log_set(_log_callback, ctypes.c_void_p(0))
    result = {
        "generator": "tests/golden/gen_mixture_types.py",
        "command": "nice -n 10 .venv/bin/python tests/golden/gen_mixture_types.py [--only NAME ... | --arch-only] "
                   "(.venv with llama-cpp-python 0.3.36: make llama)",
        "llama_cpp_python": llama_cpp.__version__,
        "llama_cpp_commit": llama_cpp_commit(),
        "gguf_py": getattr(gguf, "__version__", "0.19.0"),
        "type_codes": TYPE_CODES,
        "note": "input files are F32 (convert_hf_to_gguf --outtype f32 shape); "
                "'+imatrix' runs pass an all-ones importance matrix for every 2-D weight; "
                "a run llama_model_quantize refused has 'failed': the exception's text ('error') "
                "and, for the imatrix check, the offending tensor ('tensor')",
        "models": [],
        "arch_targets": ARCH_TARGETS,
        "arch_models": [],
    }
    if arch_only:  # keep the recorded dense models (see the module docstring)
        result["models"] = json.loads(OUT.read_text())["models"]
    with tempfile.TemporaryDirectory() as tmp:
        for m in ([] if arch_only else MODELS):
            if args.only and m["name"] not in args.only:
                result["models"].append(kept[m["name"]])
                continue
            t0 = time.time()
            src = os.path.join(tmp, m["name"] + ".f32.gguf")
            write_f32_gguf(m, src)
            tensors = tensor_list(m)
            imat = {name: np.ones(ne[0] * (ne[2] if len(ne) > 2 else 1), dtype=np.float32)
                    for name, ne in tensors if len(ne) >= 2}
            runs = {}
            key_orders = {}
            order = None
            for tname, ft in FTYPES.items():
                for use_imatrix in ([False, True] if tname in IMATRIX_TARGETS else [False]):
                    label = tname + ("+imatrix" if use_imatrix else "")
                    dst = os.path.join(tmp, f"{m['name']}.{label}.gguf")
                    dry = None
                    if tname in DRY_RUN_TARGETS:
                        log = quantize(src, dst, ft, imat if use_imatrix else None, dry_run=True)
                        if use_imatrix or "will require an imatrix" not in log:
                            dry = dry_run_types(log)
                            if sorted(dry) != sorted(n for n, _ in tensors):
                                raise RuntimeError(f"{m['name']} {label}: dry run log lists {len(dry)} tensors")
                            if m["name"] != SELF_CHECK_MODEL:
                                runs[label] = {"file_type": ft, "types": dry}  # coded below
                                continue
                    try:
                        quantize(src, dst, ft, imat if use_imatrix else None)
                    except QuantizeFailed as e:
                        runs[label] = {"file_type": ft, "failed": e.args[0]}
                        if os.path.exists(dst):
                            os.remove(dst)
                        continue
                    rb = read_back(dst)
                    os.remove(dst)
                    if dry is not None and dry != rb["types"]:
                        raise RuntimeError(f"{m['name']} {label}: the dry run's types differ from the real run's")
                    if order is None:
                        order = rb["order"]
                    elif rb["order"] != order:
                        raise RuntimeError(f"{m['name']}: tensor order differs for {label}")
                    runs[label] = {"file_type": rb["file_type"], "types": "".join(TYPE_CODES[rb["types"][n]] for n in order)}
                    key_orders.setdefault(json.dumps(rb["keys"]), []).append(label)
            for run in runs.values():
                if isinstance(run.get("types"), dict):
                    run["types"] = "".join(TYPE_CODES[run["types"][n]] for n in order)
            in_keys = read_back(src)["keys"]
            os.remove(src)
            if len(key_orders) != 1:
                raise RuntimeError(f"{m['name']}: key order differs between targets: {key_orders}")
            result["models"].append({
                "spec": m,
                "tensors": [[n, ne] for n, ne in tensors],
                "input_key_order": in_keys,
                "output_key_order": json.loads(next(iter(key_orders))),
                "output_tensor_order": order,
                "runs": runs,
            })
            print(f"{m['name']}: {len(runs)} runs in {time.time() - t0:.1f}s", file=sys.stderr)
    if args.only:  # dense models only: the architecture fixtures' entries are kept
        result["arch_models"] = json.loads(OUT.read_text())["arch_models"]
    else:
        result["arch_models"] = arch_mixture_models()
    # one line per model entry field keeps the file diffable yet compact
    lines = ["{"]
    head = {k: v for k, v in result.items() if k not in ("models", "arch_models")}
    for k, v in head.items():
        lines.append(f" {json.dumps(k)}: {json.dumps(v)},")
    for key in ("models", "arch_models"):
        lines += _dump_list(key, result[key], last=key == "arch_models")
    lines.append("}")
    text = "\n".join(lines) + "\n"
    json.loads(text)  # self-check
    OUT.write_text(text)
    print(f"wrote {OUT}", file=sys.stderr)


def _dump_list(key: str, models: list, last: bool) -> list:
    lines = [f' {json.dumps(key)}: [']
    for mi, entry in enumerate(models):
        lines.append("  {")
        items = list(entry.items())
        for ki, (k, v) in enumerate(items):
            if k == "runs":
                lines.append('   "runs": {')
                labels = list(v)
                for li, label in enumerate(labels):
                    sep = "," if li + 1 < len(labels) else ""
                    lines.append(f"    {json.dumps(label)}: {json.dumps(v[label])}{sep}")
                lines.append("   }" + ("," if ki + 1 < len(items) else ""))
            else:
                lines.append(f"   {json.dumps(k)}: {json.dumps(v)}" + ("," if ki + 1 < len(items) else ""))
        lines.append("  }" + ("," if mi + 1 < len(models) else ""))
    lines.append(" ]" + ("" if last else ","))
    return lines


if __name__ == "__main__":
    main()
