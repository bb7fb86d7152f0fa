"""PEFT LoRA adapter fixtures for ``wick convert-lora`` (tests/test_lora.py) and their
golden generator (tests/golden/gen_lora_goldens.py).

Each fixture is a base model directory (the demo model of examples/make_tiny_llama.py,
or a tiny config.json of another family: only config.json is read by a LoRA conversion)
and an adapter directory laid out as PEFT's ``save_pretrained`` writes it:
adapter_config.json and adapter_model.safetensors with PEFT's tensor names
(``base_model.model.<module>.lora_A.weight`` ``[r, in]``, ``.lora_B.weight`` ``[out, r]``,
``.lora_embedding_A`` ``[r, vocab]``, ``.lora_embedding_B`` ``[hidden, r]``), in the order
safetensors' ``save_file`` writes them (sorted by name for one dtype). The values are
deterministic (splitmix64, tests/arch_fixtures/_common.py), so the files are the same
bytes everywhere; the generator checks with peft itself that the same adapter, set to
these values and saved by PEFT, holds the same tensors.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from arch_fixtures._common import normal_like, tiny, to_dtype_bytes, write_safetensors

ATTN = ("q_proj", "k_proj", "v_proj", "o_proj")
MLP = ("gate_proj", "up_proj", "down_proj")

PEFT_README = """---
base_model: {base}
library_name: peft
tags:
- base_model:adapter:{base}
- lora
- transformers
---

# Model Card for Model ID

A LoRA adapter (a Wick test fixture).
"""


@dataclass
class LoraFixture:
    """One adapter and its base model."""

    name: str
    base: str  # "demo", "demo-untied", or a config.json dict's key in BASE_CONFIGS
    r: int
    alpha: float
    dtype: str  # the adapter tensors' safetensors dtype
    modules: Dict[str, Tuple[int, int]]  # module path (no base_model.model.) -> (out, in) of its weight
    embeddings: Dict[str, Tuple[int, int]] = field(default_factory=dict)  # module -> (vocab, hidden)
    readme: bool = False
    values: Optional[Callable[[str, Tuple[int, ...]], np.ndarray]] = None  # special values by tensor name
    extra_config: Dict[str, Any] = field(default_factory=dict)
    peft: bool = True  # whether PEFT can build this adapter on transformers' class (the generator checks it)

    def target_modules(self) -> List[str]:
        names = {m.rsplit(".", 1)[-1] for m in list(self.modules) + list(self.embeddings)}
        return sorted(names)

    def tensors(self) -> List[Tuple[str, str, Tuple[int, ...], np.ndarray]]:
        """(name, dtype, shape, raw little-endian array), in the file's order."""
        items = []
        for m, (out, inp) in self.modules.items():
            items.append((f"base_model.model.{m}.lora_A.weight", (self.r, inp)))
            items.append((f"base_model.model.{m}.lora_B.weight", (out, self.r)))
        for m, (vocab, hidden) in self.embeddings.items():
            items.append((f"base_model.model.{m}.lora_embedding_A", (self.r, vocab)))
            items.append((f"base_model.model.{m}.lora_embedding_B", (hidden, self.r)))
        out_ = []
        for name, shape in sorted(items):
            v = self.values(name, shape) if self.values else None
            if v is None:
                std = 0.05 if ("lora_A" in name or "embedding_A" in name) else 0.02
                v = normal_like(name, shape, std=std, salt=self.name)
            out_.append((name, self.dtype, shape, to_dtype_bytes(np.asarray(v, np.float32), self.dtype)))
        return out_

    def adapter_config(self, base_path: str) -> dict:
        cfg = {
            "alpha_pattern": {}, "auto_mapping": None, "base_model_name_or_path": base_path, "bias": "none",
            "fan_in_fan_out": False, "inference_mode": True, "init_lora_weights": True, "layers_pattern": None,
            "layers_to_transform": None, "lora_alpha": self.alpha, "lora_dropout": 0.0, "modules_to_save": None,
            "peft_type": "LORA", "r": self.r, "rank_pattern": {}, "revision": None,
            "target_modules": self.target_modules(), "task_type": "CAUSAL_LM", "use_dora": False, "use_rslora": False,
        }
        cfg.update(self.extra_config)
        return cfg


# ------------------------------------------------------------ base models
def _tiny_config(arch: str, model_type: str, E: int, H: int, Hkv: int, F: int, L: int, V: int, **extra: Any) -> dict:
    cfg = {"architectures": [arch], "model_type": model_type, "hidden_size": E, "num_attention_heads": H,
           "num_key_value_heads": Hkv, "intermediate_size": F, "num_hidden_layers": L, "vocab_size": V,
           "max_position_embeddings": 4096, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0,
           "tie_word_embeddings": False, "torch_dtype": "bfloat16", "hidden_act": "silu",
           "bos_token_id": 1, "eos_token_id": 2}
    cfg.update(extra)
    return cfg


BASE_CONFIGS: Dict[str, dict] = {
    "qwen2": _tiny_config("Qwen2ForCausalLM", "qwen2", 128, 4, 2, 256, 2, 512, use_sliding_window=False,
                          sliding_window=4096, max_window_layers=2),
    "qwen3": _tiny_config("Qwen3ForCausalLM", "qwen3", 128, 4, 2, 256, 2, 512, head_dim=64, attention_bias=False,
                          use_sliding_window=False, sliding_window=None, max_window_layers=2),
    "phi3": _tiny_config("Phi3ForCausalLM", "phi3", 128, 4, 4, 256, 2, 512, rope_theta=10000.0, rope_scaling=None,
                         original_max_position_embeddings=4096, partial_rotary_factor=1.0, pad_token_id=0,
                         sliding_window=None, resid_pdrop=0.0, embd_pdrop=0.0, attention_dropout=0.0),
    "mixtral": _tiny_config("MixtralForCausalLM", "mixtral", 64, 4, 2, 128, 2, 256, num_local_experts=4,
                            num_experts_per_tok=2, sliding_window=None, router_aux_loss_coef=0.02),
    "ernie": _tiny_config("Ernie4_5ForCausalLM", "ernie4_5", 128, 4, 1, 256, 2, 512, head_dim=32, use_bias=False,
                          rope_theta=500000, pad_token_id=0),
}


def make_base(kind: str, d: Path) -> Path:
    """The base model directory: the demo model (whole: llama.cpp runs it), the demo model
    with an untied ``lm_head`` (a copy of the embeddings), or a config.json."""
    d.mkdir(parents=True, exist_ok=True)
    if kind in ("demo", "demo-untied"):
        tiny.make(d)
        if kind == "demo-untied":
            cfg = json.loads((d / "config.json").read_text())
            cfg["tie_word_embeddings"] = False
            (d / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
            raw = _read_tensor_bits(d / "model.safetensors", "model.embed_tokens.weight")
            write_safetensors(d / "model-lm_head.safetensors", [("lm_head.weight", "BF16", raw.shape, raw)],
                              {"format": "pt"})
        return d
    (d / "config.json").write_text(json.dumps(BASE_CONFIGS[kind], indent=2) + "\n")
    return d


def demo_config() -> dict:
    """config.json of the demo model (without building its weights)."""
    import tempfile

    with tempfile.TemporaryDirectory() as t:
        tiny.make(Path(t))
        return json.loads((Path(t) / "config.json").read_text())


def make_adapter(fx: LoraFixture, d: Path, base_path: str = "wick-tests/tiny-base") -> Path:
    """Write the adapter directory of ``fx``."""
    d.mkdir(parents=True, exist_ok=True)
    (d / "adapter_config.json").write_text(json.dumps(fx.adapter_config(base_path), indent=2, sort_keys=True) + "\n")
    write_safetensors(d / "adapter_model.safetensors", fx.tensors(), {"format": "pt"})
    if fx.readme:
        (d / "README.md").write_text(PEFT_README.format(base=base_path))
    return d


# ------------------------------------------------------------ the fixtures
def _layers(L: int, E: int, attn: Dict[str, int], mlp: Dict[str, Tuple[int, int]],
            prefix: str = "model.layers.{i}.") -> Dict[str, Tuple[int, int]]:
    mods: Dict[str, Tuple[int, int]] = {}
    for i in range(L):
        p = prefix.format(i=i)
        for k, out in attn.items():
            mods[p + "self_attn." + k] = (out, E) if k != "o_proj" else (E, out)
        for k, shape in mlp.items():
            mods[p + "mlp." + k] = shape
    return mods


# the demo model (examples/make_tiny_llama.py): hidden 256, 8 heads of 32, 2 KV heads, ffn 768, 4 layers
DEMO_E, DEMO_F, DEMO_L, DEMO_Q, DEMO_KV = 256, 768, 4, 256, 64
PUSH_TOKEN = 300  # the token the push adapter makes llama.cpp generate


def _push_values(vocab: int, embed: np.ndarray) -> Callable[[str, Tuple[int, ...]], Optional[np.ndarray]]:
    """Embedding LoRA of rank 1 adding 100 * (unit vector of PUSH_TOKEN's embedding row) to every
    token's embedding: the residual stream points at that row, and the tied-copy lm_head then
    scores PUSH_TOKEN highest at every position."""
    row = embed[PUSH_TOKEN].astype(np.float64)

    def values(name: str, shape: Tuple[int, ...]) -> Optional[np.ndarray]:
        if name.endswith("lora_embedding_A"):
            return np.ones(shape, np.float32)
        if name.endswith("lora_embedding_B"):
            return (100.0 * row / np.linalg.norm(row)).astype(np.float32).reshape(shape)
        return None

    return values


def fixtures(demo_vocab: Optional[int] = None, demo_embed: Optional[np.ndarray] = None) -> List[LoraFixture]:
    """Every fixture. The push adapter's values need the demo model's embeddings (``demo_embed``,
    float32 ``[vocab, 256]``); without them it is left out."""
    q2 = BASE_CONFIGS["qwen2"]
    q3 = BASE_CONFIGS["qwen3"]
    ph = BASE_CONFIGS["phi3"]
    out = [
        # Llama (q/k permuted): every linear module, float32 as PEFT saves by default, a PEFT model card
        LoraFixture("llama", "demo", 8, 16.0, "F32",
                    _layers(DEMO_L, DEMO_E, {"q_proj": DEMO_Q, "k_proj": DEMO_KV, "v_proj": DEMO_KV, "o_proj": DEMO_Q},
                            {"gate_proj": (DEMO_F, DEMO_E), "up_proj": (DEMO_F, DEMO_E), "down_proj": (DEMO_E, DEMO_F)}),
                    readme=True),
        # Qwen2: rank 32 (Q8_0 for lora_b too), attention only, two layers
        LoraFixture("qwen2", "qwen2", 32, 32.0, "F32",
                    _layers(2, 128, {"q_proj": 128, "k_proj": 64, "v_proj": 64, "o_proj": 128}, {})),
        # Qwen3 (q/k norms in the base, none in the adapter): a bfloat16 adapter
        LoraFixture("qwen3", "qwen3", 16, 8.0, "BF16",
                    _layers(2, 128, {"q_proj": 256, "k_proj": 128, "v_proj": 128, "o_proj": 256},
                            {"gate_proj": (256, 128), "up_proj": (256, 128), "down_proj": (128, 256)})),
        # Phi-3: fused qkv_proj and gate_up_proj (kept fused), a float16 adapter
        LoraFixture("phi3", "phi3", 8, 16.0, "F16",
                    {**{f"model.layers.{i}.self_attn.qkv_proj": (3 * 128, 128) for i in range(2)},
                     **{f"model.layers.{i}.self_attn.o_proj": (128, 128) for i in range(2)},
                     **{f"model.layers.{i}.mlp.gate_up_proj": (2 * 256, 128) for i in range(2)},
                     **{f"model.layers.{i}.mlp.down_proj": (128, 256) for i in range(2)}}),
        # an activated LoRA (aLoRA): its invocation token ids become adapter.alora.invocation_tokens; float16
        LoraFixture("qwen2-alora", "qwen2", 4, 4.0, "F16",
                    {f"model.layers.{i}.self_attn.{p}": (rows, 128) for i in range(2)
                     for p, rows in (("q_proj", 128), ("v_proj", 64))},
                    extra_config={"alora_invocation_tokens": [7, 300, 12]}),
        # Mixtral: LoRA on every expert's w1/w2/w3 (stacked per layer into ffn_*_exps pairs), the router
        # and the permuted q/k projections
        LoraFixture("mixtral", "mixtral", 4, 8.0, "F32",
                    {**_layers(2, 64, {"q_proj": 64, "k_proj": 32}, {}),
                     **{f"model.layers.{i}.block_sparse_moe.experts.{x}.{w}": shape
                        for i in range(2) for x in range(4)
                        for w, shape in (("w1", (128, 64)), ("w2", (64, 128)), ("w3", (128, 64)))},
                     **{f"model.layers.{i}.block_sparse_moe.gate": (4, 64) for i in range(2)}}),
        # ERNIE 4.5 with the fused qkv_proj / up_gate_proj of Baidu's own checkpoints: the converter splits
        # them, so each pair's lora_b is split by rows and the pieces share their lora_A (PEFT cannot build
        # this adapter on transformers' Ernie4_5 classes, which have separate projections)
        LoraFixture("ernie", "ernie", 8, 16.0, "BF16",
                    {**{f"model.layers.{i}.self_attn.qkv_proj": ((4 + 2) * 32, 128) for i in range(2)},
                     **{f"model.layers.{i}.mlp.up_gate_proj": (2 * 256, 128) for i in range(2)}},
                    peft=False),
    ]
    del q2, q3, ph
    if demo_vocab is not None:
        push = LoraFixture("llama-push", "demo-untied", 1, 1.0, "F32",
                           {**{f"model.layers.{i}.self_attn.q_proj": (DEMO_Q, DEMO_E) for i in range(DEMO_L)},
                            **{f"model.layers.{i}.self_attn.k_proj": (DEMO_KV, DEMO_E) for i in range(DEMO_L)},
                            "lm_head": (demo_vocab, DEMO_E)},
                           embeddings={"model.embed_tokens": (demo_vocab, DEMO_E)})
        if demo_embed is not None:
            push.values = _push_values(demo_vocab, demo_embed)
        out.append(push)
    return out


def _read_tensor_bits(path: Path, name: str) -> np.ndarray:
    """A 16-bit tensor of a safetensors file as stored (``<u2``), read with numpy alone
    (the golden generator's interpreter has no Wick)."""
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    info = json.loads(raw[8:8 + n])[name]
    start, end = info["data_offsets"]
    return np.frombuffer(raw[8 + n + start:8 + n + end], "<u2").reshape(info["shape"])


def demo_embeddings(base: Path) -> np.ndarray:
    """The demo model's embedding matrix as float32 (from its BF16 bits)."""
    bits = _read_tensor_bits(base / "model.safetensors", "model.embed_tokens.weight")
    return (bits.astype(np.uint32) << 16).view(np.float32)


def by_name(base_root: Path) -> Dict[str, LoraFixture]:
    """Every fixture by name, the push adapter included (builds the demo model under base_root)."""
    demo = make_base("demo", base_root / "demo")
    emb = demo_embeddings(demo)
    return {f.name: f for f in fixtures(emb.shape[0], emb)}
