"""Small deterministic GGUF models for the requantization oracle.

Shared by ``tests/golden/gen_model_goldens.py`` (which quantizes them with
llama.cpp) and ``tests/test_requantize_golden.py`` (which requantizes them
with Wick): both rebuild exactly the same files with :func:`write_model`.

The values come from numpy's PCG64 *raw* 64-bit stream (``random_raw``,
whose output numpy keeps stable) turned into floats with exact integer and
correctly rounded float64 arithmetic only — no transcendental functions,
whose last bits can differ between platforms — so a model's bytes do not
depend on the machine. ``model_sha256`` pins them.

The models are what ``convert_hf_to_gguf.py`` writes for llama/qwen2
checkpoints (2-D weights in the model's dtype, 1-D norms and biases in
F32), with a complete minimal SentencePiece vocabulary so that llama.cpp can
load and run them.
"""

from __future__ import annotations

import hashlib
import math
import struct
from typing import Dict, List, Tuple

import numpy as np

# the synthetic importance matrices' metadata
IMATRIX_DATASET = "calibration.txt"
IMATRIX_CHUNKS = 4
IMATRIX_CHUNK_SIZE = 48

# name, arch, dtype of the 2-D weights, layers, n_embd, heads, kv heads, n_ff, vocab, tied, experts
MODELS: List[dict] = [
    # GQA 2, untied output, ffn_down rows of 352 (not a multiple of 256: the
    # K-quant fallbacks), everything else 256 wide (real K-quants)
    dict(name="llama_f32_gqa2_untied", arch="llama", dtype="F32", n_layer=4, n_embd=256, n_head=4, n_head_kv=2,
         n_ff=352, n_vocab=320, tied=False, n_expert=0, seed=101),
    # GQA 4, tied output (token_embd is the output), rows of 288 everywhere
    # but ffn_down (512), q/k/v biases
    dict(name="qwen2_bf16_gqa4_tied", arch="qwen2", dtype="BF16", n_layer=3, n_embd=288, n_head=4, n_head_kv=1,
         n_ff=512, n_vocab=320, tied=True, n_expert=0, seed=202),
    # a mixture of experts: 3-D expert tensors, per-expert imatrix rows
    dict(name="llama_moe4_f32", arch="llama", dtype="F32", n_layer=2, n_embd=256, n_head=4, n_head_kv=4,
         n_ff=256, n_vocab=288, tied=False, n_expert=4, seed=303),
]


def tensor_list(m: dict) -> List[Tuple[str, List[int]]]:
    """``(name, ne)`` of every tensor, in the order the converter writes them."""
    E, F, V, X = m["n_embd"], m["n_ff"], m["n_vocab"], m["n_expert"]
    H, Hkv = m["n_head"], m["n_head_kv"]
    hd = E // H
    out: List[Tuple[str, List[int]]] = [("token_embd.weight", [E, V]), ("output_norm.weight", [E])]
    if not m["tied"]:
        out.append(("output.weight", [E, V]))
    for i in range(m["n_layer"]):
        p = f"blk.{i}."
        out.append((p + "attn_norm.weight", [E]))
        out.append((p + "attn_q.weight", [E, H * hd]))
        out.append((p + "attn_k.weight", [E, Hkv * hd]))
        out.append((p + "attn_v.weight", [E, Hkv * hd]))
        if m["arch"] == "qwen2":
            out.append((p + "attn_q.bias", [H * hd]))
            out.append((p + "attn_k.bias", [Hkv * hd]))
            out.append((p + "attn_v.bias", [Hkv * hd]))
        out.append((p + "attn_output.weight", [H * hd, E]))
        out.append((p + "ffn_norm.weight", [E]))
        if X:
            out.append((p + "ffn_gate_inp.weight", [E, X]))
            out.append((p + "ffn_gate_exps.weight", [E, F, X]))
            out.append((p + "ffn_down_exps.weight", [F, E, X]))
            out.append((p + "ffn_up_exps.weight", [E, F, X]))
        else:
            out.append((p + "ffn_gate.weight", [E, F]))
            out.append((p + "ffn_down.weight", [F, E]))
            out.append((p + "ffn_up.weight", [E, F]))
    return out


def _uniforms(rng: np.random.Generator, n: int) -> np.ndarray:
    """n floats uniform in [0, 1) with 24 random bits each, exactly."""
    raw = rng.bit_generator.random_raw(n)
    return (raw >> np.uint64(40)).astype(np.float64) / float(1 << 24)


def _normalish(rng: np.random.Generator, n: int) -> np.ndarray:
    """Approximately N(0, 1) (Irwin–Hall of 4 uniforms, scaled), float64, exact operations only."""
    u = _uniforms(rng, 4 * n).reshape(4, n)
    return (u[0] + u[1] + u[2] + u[3] - 2.0) * math.sqrt(3.0)


def tensor_values(m: dict, name: str, ne: List[int], rng: np.random.Generator) -> np.ndarray:
    """The float32 values of one tensor (row-major shape = reversed ne)."""
    shape = tuple(reversed(ne))
    n = int(np.prod(shape))
    if name.endswith("_norm.weight"):
        v = 1.0 + 0.1 * _normalish(rng, n)
    elif name.endswith(".bias"):
        v = 0.05 * _normalish(rng, n)
    else:
        v = 0.02 * _normalish(rng, n)
        # a few outliers, as real weights have
        k = max(1, n // 997)
        idx = (rng.bit_generator.random_raw(k) % np.uint64(n)).astype(np.int64)
        v[idx] *= 12.0
    return v.astype(np.float32).reshape(shape)


def f32_to_bf16_bits(a: np.ndarray) -> np.ndarray:
    """float32 → bfloat16 bit patterns, round to nearest even (as gguf-py / ggml do for finite values)."""
    u = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    r = (u + np.uint64(0x7FFF) + ((u >> np.uint64(16)) & np.uint64(1))) >> np.uint64(16)
    return r.astype(np.uint16)


def metadata(m: dict):
    """The model's metadata as typed KVs, in the converter's order."""
    from wick.gguf import values as V
    from wick.gguf.values import ValueType

    a = m["arch"]
    n = m["n_vocab"]
    toks = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    toks = toks[:n] + [f"tok{i}" for i in range(len(toks), n)]
    ttypes = ([2, 3, 3] + [6] * 256 + [1] * n)[:n]
    ftype = {"F32": 0, "F16": 1, "BF16": 32}[m["dtype"]]
    kvs = [
        V.string("general.architecture", a),
        V.string("general.type", "model"),
        V.string("general.name", m["name"]),
        V.u32(f"{a}.block_count", m["n_layer"]),
        V.u32(f"{a}.context_length", 512),
        V.u32(f"{a}.embedding_length", m["n_embd"]),
        V.u32(f"{a}.feed_forward_length", m["n_ff"]),
        V.u32(f"{a}.attention.head_count", m["n_head"]),
        V.u32(f"{a}.attention.head_count_kv", m["n_head_kv"]),
        V.f32(f"{a}.rope.freq_base", 10000.0),
        V.f32(f"{a}.attention.layer_norm_rms_epsilon", 1e-5),
    ]
    if m["n_expert"]:
        kvs += [V.u32(f"{a}.expert_count", m["n_expert"]), V.u32(f"{a}.expert_used_count", 2)]
    kvs.append(V.u32("general.file_type", ftype))
    if a == "llama":
        kvs += [V.u32("llama.vocab_size", n), V.u32("llama.rope.dimension_count", m["n_embd"] // m["n_head"])]
    kvs += [
        V.u32("general.quantization_version", 2),
        V.string("tokenizer.ggml.model", "llama"),
        V.string("tokenizer.ggml.pre", "default"),
        V.array("tokenizer.ggml.tokens", ValueType.STRING, toks),
        V.array("tokenizer.ggml.scores", ValueType.FLOAT32, [0.0] * n),
        V.array("tokenizer.ggml.token_type", ValueType.INT32, ttypes),
        V.u32("tokenizer.ggml.bos_token_id", 1),
        V.u32("tokenizer.ggml.eos_token_id", 2),
    ]
    return kvs


def tensors(m: dict) -> Dict[str, np.ndarray]:
    """Every tensor's float32 values (before any BF16 rounding), in file order."""
    rng = np.random.Generator(np.random.PCG64(m["seed"]))
    return {name: tensor_values(m, name, ne, rng) for name, ne in tensor_list(m)}


def write_model(m: dict, path: str) -> None:
    """Write model ``m`` as a GGUF file with Wick's writer."""
    import wick

    out = {}
    for name, a in tensors(m).items():
        if m["dtype"] == "BF16" and a.ndim >= 2:
            out[name] = wick.gguf.RawTensor("BF16", a.shape, f32_to_bf16_bits(a).view(np.uint8))
        elif m["dtype"] == "F16" and a.ndim >= 2:
            out[name] = a.astype(np.float16)
        else:
            out[name] = a
    wick.gguf.write(path, metadata(m), out, overwrite=True)


def file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def imatrix_stats(m: dict, seed: int = 7) -> Dict[str, Tuple[np.ndarray, np.ndarray]]:
    """Synthetic importance data for every 2-D/3-D weight but token_embd (llama-imatrix
    never sees it: it is a lookup, not a matrix product): ``name -> (sums, counts)``
    with sums of shape (n_matrices, ne0) and counts of shape (n_matrices,), as the
    GGUF format stores them. Sums are sums of squares over ``count`` tokens
    (96–160, so that the legacy format's ncall = ceil(max count / 48) is 2–4);
    one expert of each expert tensor saw no token (count 0).
    """
    rng = np.random.Generator(np.random.PCG64(seed))
    out = {}
    for name, ne in tensor_list(m):
        if len(ne) < 2 or name == "token_embd.weight" or "ffn_gate_inp" in name or not name.endswith(".weight"):
            continue
        nmat = ne[2] if len(ne) > 2 else 1
        counts = np.array([96 + 32 * (j % 3) for j in range(nmat)], dtype=np.float32)  # 96, 128, 160 tokens
        if nmat > 1:
            counts[1] = 0
        u = _uniforms(rng, nmat * ne[0]).reshape(nmat, ne[0])
        mean_sq = (0.05 + 4.0 * u * u).astype(np.float64)
        sums = (mean_sq * counts[:, None].astype(np.float64)).astype(np.float32)
        sums[counts == 0] = 0.0
        out[name] = (sums, counts)
    return out


def legacy_ncall(counts: np.ndarray) -> int:
    """save_imatrix_legacy: ceil(max count / chunk size)."""
    return int((int(counts.max()) + IMATRIX_CHUNK_SIZE - 1) // IMATRIX_CHUNK_SIZE)


def write_imatrix_dat(path: str, stats: dict) -> None:
    """save_imatrix_legacy (tools/imatrix/imatrix.cpp), byte for byte: entries in
    name order; values (sum / count) * ncall in float32, 1 for a matrix without tokens."""
    names = sorted(stats)
    with open(path, "wb") as f:
        f.write(struct.pack("<i", len(names)))
        for n in names:
            sums, counts = stats[n]
            nmat, ne0 = sums.shape
            b = n.encode()
            f.write(struct.pack("<i", len(b)) + b)
            ncall = legacy_ncall(counts)
            f.write(struct.pack("<ii", ncall, sums.size))
            vals = np.empty(sums.shape, np.float32)
            for j in range(nmat):
                c = np.float32(counts[j])
                if c == 0:
                    vals[j] = np.float32(1) / np.float32(1) * np.float32(ncall)
                else:
                    vals[j] = (sums[j] / c) * np.float32(ncall)
            f.write(vals.astype("<f4").tobytes())
        f.write(struct.pack("<i", IMATRIX_CHUNKS))
        d = IMATRIX_DATASET.encode()
        f.write(struct.pack("<i", len(d)) + d)


def write_imatrix_gguf(path: str, stats: dict) -> None:
    """The GGUF imatrix of ``stats`` with **Wick's** writer, laid out as llama-imatrix's
    save_imatrix lays it out (the generator writes it with ggml's own gguf API;
    the two files must be identical)."""
    import wick
    from wick.gguf import values as V
    from wick.gguf.values import ValueType

    kvs = [V.string("general.type", "imatrix"), V.array("imatrix.datasets", ValueType.STRING, [IMATRIX_DATASET]),
           V.u32("imatrix.chunk_count", IMATRIX_CHUNKS), V.u32("imatrix.chunk_size", IMATRIX_CHUNK_SIZE)]
    tensors = {}
    for n in sorted(stats):
        sums, counts = stats[n]
        nmat = sums.shape[0]
        # ggml stores n_dims without trailing 1s: [ne0] and [1] for a single matrix
        tensors[n + ".in_sum2"] = np.ascontiguousarray(sums if nmat > 1 else sums[0], np.float32)
        tensors[n + ".counts"] = np.ascontiguousarray(counts, np.float32).reshape((nmat, 1) if nmat > 1 else (1,))
    wick.gguf.write(path, kvs, tensors, overwrite=True)
