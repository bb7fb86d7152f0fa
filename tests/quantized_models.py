"""Deterministic builder of small quantized llama checkpoints (test fixtures).

``make(out, fmt)`` writes a two-layer Llama-3-shaped model (the demo model's
tokenizer, hidden 256, 4 heads of 64 with 2 KV heads, ffn 320 — so that FP8
128x128 blocks have partial edge blocks) whose linear weights are stored in
the quantized format ``fmt`` (one of :data:`FORMATS`), the embedding and
norms in bfloat16. Every stored byte comes from the counter-based splitmix64
stream shared with convert/decode's Go tests (:func:`stream`), shaped so that
values are finite and of a sensible size: a quantized checkpoint is only
codes and scales, so no quantizer is involved. The same builder is used by
the tests and by tests/golden/gen_quantized_models.py, which runs the real
references on these files.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
import make_tiny_llama as tiny  # noqa: E402

GAMMA = np.uint64(0x9E3779B97F4A7C15)

HIDDEN, HEADS, KV_HEADS, FFN, LAYERS = 256, 4, 2, 320, 2

#: format -> (quantization_config or None, extra config files)
FORMATS = ("fp8-block", "ct-fp8-channel", "ct-int4-asym", "ct-int8-sym", "gptq-4bit", "gptq-8bit-v2",
           "modelopt-fp8", "bnb-nf4-dq", "bnb-fp4", "bnb-int8", "modelopt-nvfp4", "ct-nvfp4", "qwen3-fp8-block")

#: formats whose weights pass through as GGUF blocks: llama-quantize refuses
#: to requantize them, so only the converter's own targets apply
PASSTHROUGH = ("modelopt-nvfp4", "ct-nvfp4")

NF4 = [-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
       -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
       0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
       0.7229568362236023, 1.0]
FP4 = [0.0, 0.0052083334885537624, 0.6666666865348816, 1.0, 0.3333333432674408, 0.5, 0.1666666716337204, 0.25,
       0.0, -0.0052083334885537624, -0.6666666865348816, -1.0, -0.3333333432674408, -0.5, -0.1666666716337204, -0.25]


def stream(seed: int, n: int) -> bytes:
    """convert/decode's splitmix64 byte stream."""
    words = (n + 7) // 8
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + np.arange(1, words + 1, dtype=np.uint64) * GAMMA
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return z.astype("<u8").tobytes()[:n]


def u8(seed: int, n: int) -> np.ndarray:
    return np.frombuffer(stream(seed, n), np.uint8).copy()


def u32(seed: int, n: int) -> np.ndarray:
    return np.frombuffer(stream(seed, 4 * n), "<u4").copy()


def scale_f32(seed: int, n: int, exp: int = 120) -> np.ndarray:
    """Positive float32 scales in [2^(exp-127), 2^(exp-126)): biased exponent exp, 23 random mantissa bits."""
    return ((np.uint32(exp) << np.uint32(23)) | (u32(seed, n) & np.uint32(0x007FFFFF))).view(np.float32)


def fp8_codes(seed: int, n: int) -> np.ndarray:
    """E4M3 codes with exponent 5..8 (|value| 0.25 .. 3.75): finite, never NaN."""
    b = u8(seed, n)
    return (b & 0x87) | ((((b >> 3) & 3) + 5) << 3).astype(np.uint8)


def _linear(cfg: Dict[str, int]) -> List[Tuple[str, Tuple[int, int]]]:
    d = HIDDEN // HEADS
    out = []
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        out += [(p + "self_attn.q_proj", (HEADS * d, HIDDEN)), (p + "self_attn.k_proj", (KV_HEADS * d, HIDDEN)),
                (p + "self_attn.v_proj", (KV_HEADS * d, HIDDEN)), (p + "self_attn.o_proj", (HIDDEN, HEADS * d)),
                (p + "mlp.gate_proj", (FFN, HIDDEN)), (p + "mlp.up_proj", (FFN, HIDDEN)),
                (p + "mlp.down_proj", (HIDDEN, FFN))]
    return out


def _quantized(fmt: str, name: str, shape: Tuple[int, int], seed: int) -> List[Tuple[str, str, Tuple[int, ...], np.ndarray]]:
    r, c = shape
    w = name + ".weight"
    if fmt in ("fp8-block", "ct-fp8-channel", "modelopt-fp8", "qwen3-fp8-block"):
        t = [(w, "F8_E4M3", (r, c), fp8_codes(seed, r * c))]
        if fmt in ("fp8-block", "qwen3-fp8-block"):
            sh = (-(-r // 128), -(-c // 128))
            t.append((w + "_scale_inv", "F32", sh, scale_f32(seed + 1, sh[0] * sh[1])))
        elif fmt == "ct-fp8-channel":
            t.append((w + "_scale", "BF16", (r, 1), tiny.f32_to_bf16_bits(scale_f32(seed + 1, r))))
        else:
            t += [(w + "_scale", "F32", (), scale_f32(seed + 1, 1)),
                  (name + ".input_scale", "F32", (), scale_f32(seed + 2, 1))]
        return t
    if fmt in ("ct-int4-asym", "ct-int8-sym"):
        bits, group = (4, 64) if fmt == "ct-int4-asym" else (8, 32)
        pack = 32 // bits
        t = [(w + "_packed", "I32", (r, -(-c // pack)), u32(seed, r * -(-c // pack))),
             (w + "_scale", "BF16", (r, c // group), tiny.f32_to_bf16_bits(scale_f32(seed + 1, r * (c // group), 118))),
             (w + "_shape", "I64", (2,), np.array([r, c], "<i8"))]
        if fmt == "ct-int4-asym":
            zs = (-(-r // pack), c // group)
            t.append((w + "_zero_point", "I32", zs, u32(seed + 2, zs[0] * zs[1])))
        return t
    if fmt in ("gptq-4bit", "gptq-8bit-v2"):
        bits = 4 if fmt == "gptq-4bit" else 8
        pack, group = 32 // bits, 128
        groups = -(-c // group)
        g = (u32(seed + 3, c) % np.uint32(groups)).astype("<i4")  # act-order: any group per column
        return [(name + ".qweight", "I32", (c // pack, r), u32(seed, (c // pack) * r)),
                (name + ".qzeros", "I32", (groups, r // pack), u32(seed + 2, groups * (r // pack))),
                (name + ".scales", "F16", (groups, r), scale_f32(seed + 1, groups * r, 118).astype(np.float16)),
                (name + ".g_idx", "I32", (c,), g)]
    if fmt in ("bnb-nf4-dq", "bnb-fp4"):
        n, bs = r * c, 64
        blocks = -(-n // bs)
        qt = "nf4" if fmt == "bnb-nf4-dq" else "fp4"
        t = [(w, "U8", ((n + 1) // 2, 1), u8(seed, (n + 1) // 2)),
             (w + ".quant_map", "F32", (16,), np.array(NF4 if qt == "nf4" else FP4, np.float32))]
        state = {"quant_type": qt, "blocksize": bs, "dtype": "bfloat16" if qt == "nf4" else "float16", "shape": [r, c]}
        if fmt == "bnb-nf4-dq":
            nb = -(-blocks // 256)
            nested_map = np.sort((u32(seed + 3, 256) >> np.uint32(8)).astype(np.float32) / np.float32(1 << 23) - 1)
            t += [(w + ".absmax", "U8", (blocks,), u8(seed + 1, blocks)),
                  (w + ".nested_absmax", "F32", (nb,), scale_f32(seed + 2, nb, 120)),
                  (w + ".nested_quant_map", "F32", (256,), nested_map.astype(np.float32))]
            state.update({"nested_blocksize": 256, "nested_offset": 0.03125, "nested_dtype": "float32"})
        else:
            t.append((w + ".absmax", "F32", (blocks,), scale_f32(seed + 1, blocks, 122)))
        js = np.frombuffer(json.dumps(state).encode(), np.uint8)
        t.append((w + ".quant_state.bitsandbytes__" + qt, "U8", (len(js),), js))
        return t
    if fmt in ("modelopt-nvfp4", "ct-nvfp4"):
        b = u8(seed + 1, r * (c // 16))
        scales = (b & 0x07) | ((((b >> 3) & 3) + 5) << 3).astype(np.uint8)  # positive E4M3, 0.25 .. 3.75
        s2 = scale_f32(seed + 2, 1, 118)
        inp = scale_f32(seed + 3, 1, 123)
        if fmt == "modelopt-nvfp4":
            return [(w, "U8", (r, c // 2), u8(seed, r * c // 2)), (w + "_scale", "F8_E4M3", (r, c // 16), scales),
                    (w + "_scale_2", "F32", (), s2), (name + ".input_scale", "F32", (), inp)]
        return [(w + "_packed", "U8", (r, c // 2), u8(seed, r * c // 2)), (w + "_scale", "F8_E4M3", (r, c // 16), scales),
                (w + "_global_scale", "F32", (1,), np.float32(1) / s2), (name + ".input_global_scale", "F32", (1,),
                                                                          np.float32(1) / inp)]
    if fmt == "bnb-int8":
        return [(w, "I8", (r, c), u8(seed, r * c).view(np.int8)),
                (name + ".SCB", "F32", (r,), scale_f32(seed + 1, r, 123)),
                (name + ".weight_format", "U8", (), np.array(0, np.uint8))]
    raise ValueError(f"unknown fixture format {fmt!r}")


def quantization_config(fmt: str) -> Tuple[dict, Dict[str, dict]]:
    """(config.json's quantization_config or {}, extra JSON files) of a format."""
    if fmt in ("fp8-block", "qwen3-fp8-block"):
        return {"quant_method": "fp8", "fmt": "e4m3", "activation_scheme": "dynamic", "weight_block_size": [128, 128]}, {}
    if fmt == "ct-fp8-channel":
        return {"quant_method": "compressed-tensors", "format": "float-quantized", "quantization_status": "compressed",
                "config_groups": {"group_0": {"targets": ["Linear"], "weights": {
                    "num_bits": 8, "type": "float", "strategy": "channel", "symmetric": True, "dynamic": False},
                    "input_activations": {"num_bits": 8, "type": "float", "strategy": "token", "dynamic": True}}},
                "ignore": ["lm_head"]}, {}
    if fmt in ("ct-int4-asym", "ct-int8-sym"):
        bits, group = (4, 64) if fmt == "ct-int4-asym" else (8, 32)
        return {"quant_method": "compressed-tensors", "format": "pack-quantized", "quantization_status": "compressed",
                "config_groups": {"group_0": {"targets": ["Linear"], "weights": {
                    "num_bits": bits, "type": "int", "strategy": "group", "group_size": group,
                    "symmetric": fmt != "ct-int4-asym", "dynamic": False}}}, "ignore": ["lm_head"]}, {}
    if fmt == "gptq-4bit":
        return {"quant_method": "gptq", "bits": 4, "group_size": 128, "desc_act": True, "sym": True,
                "checkpoint_format": "gptq"}, {}
    if fmt == "gptq-8bit-v2":
        return {}, {"quantize_config.json": {"quant_method": "gptq", "bits": 8, "group_size": 128, "desc_act": True,
                                             "sym": False, "checkpoint_format": "gptq_v2"}}
    if fmt == "modelopt-fp8":
        return {}, {"hf_quant_config.json": {"producer": {"name": "modelopt", "version": "0.31.0"},
                                             "quantization": {"quant_algo": "FP8", "kv_cache_quant_algo": None,
                                                              "exclude_modules": ["lm_head"]}}}
    if fmt in ("bnb-nf4-dq", "bnb-fp4"):
        return {"quant_method": "bitsandbytes", "load_in_4bit": True, "load_in_8bit": False,
                "bnb_4bit_quant_type": "nf4" if fmt == "bnb-nf4-dq" else "fp4",
                "bnb_4bit_use_double_quant": fmt == "bnb-nf4-dq", "bnb_4bit_compute_dtype": "bfloat16",
                "bnb_4bit_quant_storage": "uint8", "llm_int8_skip_modules": None}, {}
    if fmt == "modelopt-nvfp4":
        return {}, {"hf_quant_config.json": {"producer": {"name": "modelopt", "version": "0.31.0"},
                                             "quantization": {"quant_algo": "NVFP4", "group_size": 16,
                                                              "kv_cache_quant_algo": None, "exclude_modules": ["lm_head"]}}}
    if fmt == "ct-nvfp4":
        return {"quant_method": "compressed-tensors", "format": "nvfp4-pack-quantized", "quantization_status": "compressed",
                "config_groups": {"group_0": {"targets": ["Linear"], "format": "nvfp4-pack-quantized", "weights": {
                    "num_bits": 4, "type": "float", "strategy": "tensor_group", "group_size": 16, "symmetric": True,
                    "dynamic": False}, "input_activations": {"num_bits": 4, "type": "float", "strategy": "tensor_group",
                                                             "group_size": 16, "dynamic": "local"}}},
                "ignore": ["lm_head"]}, {}
    if fmt == "bnb-int8":
        return {"quant_method": "bitsandbytes", "load_in_4bit": False, "load_in_8bit": True,
                "llm_int8_threshold": 6.0, "llm_int8_skip_modules": None}, {}
    raise ValueError(f"unknown fixture format {fmt!r}")


def make(out: Path, fmt: str) -> Path:
    """Write the fixture model of format ``fmt`` into ``out`` (created) and return ``out``."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown fixture format {fmt!r}; known: {', '.join(FORMATS)}")
    out = Path(out)
    tiny.make(out, layers=LAYERS, hidden=HIDDEN, heads=HEADS, kv_heads=KV_HEADS, ffn=FFN, vocab_target=512)
    cfg = json.loads((out / "config.json").read_text())
    if fmt.startswith("qwen3-"):  # a Qwen3-FP8-style model: q/k norms, no q/k permutation, NEOX RoPE
        cfg.update({"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "rope_theta": 1000000.0,
                    "rope_scaling": None, "tie_word_embeddings": True, "max_window_layers": LAYERS,
                    "use_sliding_window": False, "sliding_window": None, "attention_bias": False})
    qc, files = quantization_config(fmt)
    if qc:
        cfg["quantization_config"] = qc
    (out / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    for fname, content in files.items():
        (out / fname).write_text(json.dumps(content, indent=2) + "\n")
    # keep the demo model's embedding and norms; replace the linear weights
    plain = _read_plain(out / "model.safetensors")
    tensors = [t for t in plain if not any(t[0] == n + ".weight" for n, _ in _linear({}))]
    if fmt.startswith("qwen3-"):
        d = HIDDEN // HEADS
        for i in range(LAYERS):
            for n in ("q_norm", "k_norm"):
                vals = np.float32(1) + scale_f32(7000 + i, d, 122)
                tensors.append((f"model.layers.{i}.self_attn.{n}.weight", "BF16", (d,), tiny.f32_to_bf16_bits(vals)))
    for i, (name, shape) in enumerate(_linear({})):
        tensors += _quantized(fmt, name, shape, 1000 * (i + 1))
    tensors.sort(key=lambda t: t[0])
    tiny.write_safetensors(out / "model.safetensors", tensors, {"format": "pt"})
    return out


def _read_plain(path: Path) -> List[Tuple[str, str, Tuple[int, ...], np.ndarray]]:
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    base = 8 + n
    out = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        out.append((name, info["dtype"], tuple(info["shape"]), np.frombuffer(raw[base + a:base + b], np.uint8).copy()))
    return out


if __name__ == "__main__":
    make(Path(sys.argv[1]), sys.argv[2])
    print(f"wrote {sys.argv[1]} ({sys.argv[2]})")
