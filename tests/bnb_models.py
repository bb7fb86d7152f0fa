"""Small Hugging Face models for the bitsandbytes-output tests and their
golden generator (tests/golden/gen_bnb_out_goldens.py), written with numpy
only so that the tests rebuild byte-identical inputs without torch.

* ``tiny-llama``: the demo model (examples/make_tiny_llama.py): Llama 3
  shaped, BF16, tied embeddings, a real tokenizer.
* ``tiny-qwen2-f16`` / ``tiny-qwen2-f32``: Qwen2 shaped, F16 or F32, q/k/v
  biases, an untied ``lm_head``, rows of 72 and 100 (an MLP weight of 7200
  elements: its last 64-block is partial), no tokenizer.
* ``tiny-qwen2r-f16``: the same with every output dimension a multiple of 32,
  X
  is then impossible), to run the model.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def _tiny_module():
    spec = importlib.util.spec_from_file_location("make_tiny_llama", ROOT / "examples" / "make_tiny_llama.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _bf16_bits(x: np.ndarray) -> np.ndarray:
    """float32 -> bfloat16 bit patterns, round to nearest even (finite input)."""
    b = x.astype(np.float32).view(np.uint32)
    return ((b + 0x7FFF + ((b >> 16) & 1)) >> 16).astype(np.uint16)


def tiny_qwen2(out: Path, dtype: str = "F16", seed: int = 7, runnable: bool = False) -> None:
    """Write the Qwen2-shaped model in ``dtype`` (F16, F32 or BF16) to ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    E, F, V, H, Hkv, D, L = (128, 192, 300, 4, 1, 32, 2) if runnable else (72, 100, 300, 3, 1, 24, 2)
    config = {
        "architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 1, "eos_token_id": 2,
        "hidden_act": "silu", "hidden_size": E, "initializer_range": 0.02, "intermediate_size": F,
        "max_position_embeddings": 256, "max_window_layers": L, "model_type": "qwen2", "num_attention_heads": H,
        "num_hidden_layers": L, "num_key_value_heads": Hkv, "rms_norm_eps": 1e-06, "rope_theta": 10000.0,
        "sliding_window": None, "tie_word_embeddings": False,
        "torch_dtype": {"F16": "float16", "F32": "float32", "BF16": "bfloat16"}[dtype],
        "use_cache": True, "use_sliding_window": False, "vocab_size": V,
    }
    rng = np.random.default_rng(seed)
    shapes: List[Tuple[str, Tuple[int, ...], float]] = [("model.embed_tokens.weight", (V, E), 0.02), ("model.norm.weight", (E,), -1),
                                                         ("lm_head.weight", (V, E), 0.02)]
    for i in range(L):
        p = f"model.layers.{i}."
        shapes += [(p + "input_layernorm.weight", (E,), -1), (p + "post_attention_layernorm.weight", (E,), -1),
                   (p + "self_attn.q_proj.weight", (H * D, E), 0.02), (p + "self_attn.q_proj.bias", (H * D,), 0.1),
                   (p + "self_attn.k_proj.weight", (Hkv * D, E), 0.02), (p + "self_attn.k_proj.bias", (Hkv * D,), 0.1),
                   (p + "self_attn.v_proj.weight", (Hkv * D, E), 0.02), (p + "self_attn.v_proj.bias", (Hkv * D,), 0.1),
                   (p + "self_attn.o_proj.weight", (E, H * D), 0.02), (p + "mlp.gate_proj.weight", (F, E), 0.02),
                   (p + "mlp.up_proj.weight", (F, E), 0.02), (p + "mlp.down_proj.weight", (E, F), 0.02)]
    tensors = []
    for name, shape, std in sorted(shapes):
        if std < 0:  # norms: around 1
            x = 1 + rng.standard_normal(shape) * 0.05
        else:
            x = rng.standard_normal(shape) * std
            if name.endswith("mlp.down_proj.weight"):
                x[3, :] = 0  # a zero row
                x[5, 7] = 0.4  # an outlier
        x = x.astype(np.float32)
        if dtype == "F16":
            data = x.astype("<f2")
        elif dtype == "BF16":
            data = _bf16_bits(x).astype("<u2")
        else:
            data = x.astype("<f4")
        tensors.append((name, dtype, shape, data))
    _tiny_module().write_safetensors(out / "model.safetensors", tensors, {"format": "pt"})
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    (out / "generation_config.json").write_text(json.dumps({"bos_token_id": 1, "eos_token_id": 2}, indent=2) + "\n")


def make(name: str, out: Path) -> Path:
    """Write the model ``name`` into ``out / name`` and return that directory."""
    d = out / name
    if name == "tiny-llama":
        _tiny_module().make(d)
    elif name.startswith(("tiny-qwen2-", "tiny-qwen2r-")):
        tiny_qwen2(d, name.rsplit("-", 1)[1].upper(), runnable=name.startswith("tiny-qwen2r-"))
    else:
        raise KeyError(name)
    return d


#: The cases of tests/golden/bnb_out_goldens.json: (case id, model, format,
#: BitsAndBytesConfig options, save_pretrained's max_shard_size).
CASES: List[Tuple[str, str, str, Dict, str]] = [
    ("llama-nf4", "tiny-llama", "bnb-nf4", {"double_quant": True, "compute_dtype": "bfloat16"}, "5GB"),
    ("llama-fp4-plain", "tiny-llama", "bnb-fp4", {"double_quant": False, "compute_dtype": "float32"}, "5GB"),
    ("llama-int8", "tiny-llama", "bnb-int8", {}, "5GB"),
    ("llama-nf4-shards", "tiny-llama", "bnb-nf4", {"double_quant": True, "compute_dtype": "bfloat16"}, "500KB"),
    ("qwen2-f16-nf4", "tiny-qwen2-f16", "bnb-nf4", {"double_quant": True, "compute_dtype": "float16"}, "5GB"),
    ("qwen2-f16-fp4", "tiny-qwen2-f16", "bnb-fp4", {"double_quant": True, "compute_dtype": "float16"}, "5GB"),
    ("qwen2-f32-nf4", "tiny-qwen2-f32", "bnb-nf4", {"double_quant": True, "compute_dtype": "float32"}, "5GB"),
    ("qwen2-f16-int8", "tiny-qwen2-f16", "bnb-int8", {}, "5GB"),
    ("qwen2-f16-nf4-skip", "tiny-qwen2-f16", "bnb-nf4", {"double_quant": True, "compute_dtype": "float16",
                                                         "skip_modules": ["down_proj"]}, "5GB"),
]
