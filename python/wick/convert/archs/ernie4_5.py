"""Baidu ERNIE 4.5 dense (``Ernie4_5ForCausalLM``, also spelled ``Ernie4_5_ForCausalLM``)
→ GGUF arch ``ernie4_5``.

The converter's ``Ernie4_5Model``: a Llama-shaped block without q/k
permutation and the generic metadata. ``ernie.`` in a tensor name becomes
``model.``; a fused ``qkv_proj`` is split by rows into q (heads × head_dim),
k and v (KV heads × head_dim each), a fused ``up_gate_proj`` into its halves,
the first being the gate (the 0.3B checkpoint has neither).

transformers' ``Ernie4_5Config`` defaults ``head_dim`` to 128 (hidden_size /
heads only when config.json sets it to null), so ``key_length`` /
``value_length`` are always written, and defaults context 131072, rope_theta
500000 and 2 KV heads.

The tokenizer is SentencePiece only (tokenizer.model; a checkpoint without it
is refused, as by the converter); tokenizer_config.json ``add_prefix_space``,
when present, becomes ``tokenizer.ggml.add_space_prefix`` after the other
tokenizer keys.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, Mapping, Optional, Tuple

from ...gguf import values as V
from ..errors import TensorShapeError, TokenizerError
from ..lazy import LazyTensor
from ..tokenizer import TOKENIZER_CONFIG
from . import register
from ._base import Adapter

# transformers 4.57 Ernie4_5Config defaults (structural sizes are not defaulted)
_ERNIE = {"max_position_embeddings": 131072, "rms_norm_eps": 1e-5, "rope_theta": 500000.0, "rope_scaling": None,
          "num_key_value_heads": 2, "head_dim": 128}


@register
class Ernie4_5Adapter(Adapter):  # noqa: N801 - the family's name
    """Ernie4_5ForCausalLM → ``ernie4_5``."""

    name = "ernie4_5"
    hf_architectures = ("Ernie4_5ForCausalLM", "Ernie4_5_ForCausalLM")
    gguf_arch = "ernie4_5"
    summary = "Baidu ERNIE 4.5 dense; fused qkv / up_gate split; SentencePiece"
    vocab_readers = ("spm",)

    def normalize_config(self, config: Dict[str, Any]) -> Dict[str, Any]:
        self.config_defaults = _ERNIE
        explicit_null = "head_dim" in config and config["head_dim"] is None
        cfg = super().normalize_config(config)
        if explicit_null:
            h, n = cfg.get("hidden_size"), cfg.get("num_attention_heads")
            if isinstance(h, int) and isinstance(n, int) and n > 0:
                cfg["head_dim"] = h // n
        return cfg

    def tokenizer_quirks(self, files: Any, config: Dict[str, Any], vocab_size: Optional[int], kvs: Any) -> None:
        """``add_prefix_space`` of tokenizer_config.json, written after the SentencePiece vocabulary."""
        tc = files.tokenizer_config or {}
        if "add_prefix_space" in tc:
            aps = tc["add_prefix_space"]
            if not isinstance(aps, bool):
                raise TokenizerError(f"convert: {TOKENIZER_CONFIG}: 'add_prefix_space' must be a bool, got {aps!r}",
                                     TOKENIZER_CONFIG)
            kvs.add(V.boolean("tokenizer.ggml.add_space_prefix", aps))

    def filter_tensor(self, name: str) -> Optional[str]:
        return super().filter_tensor(name.replace("ernie.", "model."))

    def modify_tensors(self, t: LazyTensor, name: str, bid: Optional[int]) -> Iterable[Tuple[str, LazyTensor]]:
        hp = self.hp
        if ("qkv_proj" in name or "up_gate_proj" in name) and t.ndim == 2:
            rows = (hp.n_head + 2 * hp.n_head_kv) * hp.head_dim if "qkv_proj" in name else 2 * hp.n_ff
            if t.shape[0] != rows:
                raise TensorShapeError(f"convert: {self._file_of(t.name)}: tensor {t.name!r} has shape {list(t.shape)}; "
                                       f"expected {rows} rows from config.json")
        if "qkv_proj" in name:
            q, k, v = t.split([hp.n_head * hp.head_dim, hp.n_head_kv * hp.head_dim, hp.n_head_kv * hp.head_dim])
            return [(self.map_name(name.replace("qkv_proj.weight", f"{x}_proj.weight")), part)
                    for x, part in (("q", q), ("k", k), ("v", v))]
        if "up_gate_proj" in name:
            gate, up = t.split(t.shape[0] // 2)
            return [(self.map_name(name.replace("up_gate_proj.weight", "gate_proj.weight")), gate),
                    (self.map_name(name.replace("up_gate_proj.weight", "up_proj.weight")), up)]
        return super().modify_tensors(t, name, bid)

    # ------------------------------------------------------------ export-hf
    model_types = {"Ernie4_5ForCausalLM": "ernie4_5"}

    def export_class(self, md: Mapping[str, Any], tensors: Mapping[str, Tuple[int, ...]]) -> Optional[str]:
        """Ernie4_5ForCausalLM, with separate q/k/v and gate/up projections (as transformers' class
        has them; a checkpoint that had them fused cannot be told from the file)."""
        return "Ernie4_5ForCausalLM"
