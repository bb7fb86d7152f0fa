"""Small Hugging Face model directories for the export-hf round trip (tests/test_export_hf.py), one per
architecture and tokenizer kind export-hf rebuilds, besides the architecture fixtures it also uses
(control_llama32: Llama 3.2 with llama3 RoPE factors, tied, byte-level BPE; phi35_mini: SentencePiece,
LongRoPE; phi4_mini / phi4: GPT2Tokenizer BPE; smollm3; olmo2, olmo3: post-norms, sliding-window pattern;
granite: multipliers, StarCoder-style BPE; exaone4: sliding-window pattern; cohere2: parallel block, logit
scale, BOS template without a ByteLevel step; ernie45: SentencePiece with add_space_prefix; deepseek_v2_lite:
MLA (kv_b split per head), shared experts, YaRN; deepseek_v3: block-FP8 source, q LoRA, router bias, MTP layer; glm45, glm47_flash: next-token-prediction
layers kept, GLM's special tokens):

- ``llama2``: Llama 2 — SentencePiece (tokenizer.model + tokenizer.json), untied, GQA, no RoPE scaling;
- ``llama3_untied``: Llama 3.1 8B-shaped — llama3 RoPE factors (factor 8), untied output;
- ``mistral``: Mistral 7B v0.1 — SentencePiece, no head_dim key;
- ``qwen2``: Qwen2.5 — q/k/v biases, tied, Qwen's NFC byte-level BPE;
- ``qwen3``: Qwen3 — per-head q/k norms, head_dim ≠ hidden/heads;
- ``mixtral``: Mixtral — 4 experts per layer (stacked in the GGUF), router.
"""

from __future__ import annotations

from typing import Dict, List

import arch_fixtures as AF
from arch_fixtures._common import (
    SPM_BYTE,
    SPM_CONTROL,
    SPM_UNKNOWN,
    Fixture,
    T,
    added,
    added_tokens_decoder,
    embeddings,
    experts,
    llama_attn,
    llama_mlp,
    norm,
    qwen_tokenizer,
    spm_hf_tokenizer_json,
    spm_model,
    spm_word_pieces,
    template_processing,
)

E, H, HKV, F, L = 128, 4, 2, 256, 2


def _layers(D: int, *, bias: bool = False, qk_norm=None, mlp=True) -> List:
    ts = []
    for i in range(L):
        p = f"model.layers.{i}."
        ts += llama_attn(p, E, H, HKV, D, bias=bias, qk_norm=qk_norm)
        if mlp:
            ts += llama_mlp(p, E, F)
        ts += [norm(p + "input_layernorm.weight", E), norm(p + "post_attention_layernorm.weight", E)]
    return ts


def _spm_files(bos_eos_template: bool = True) -> tuple:
    pieces = [("<unk>", 0.0, SPM_UNKNOWN), ("<s>", 0.0, SPM_CONTROL), ("</s>", 0.0, SPM_CONTROL)]
    pieces += [(f"<0x{b:02X}>", 0.0, SPM_BYTE) for b in range(256)] + spm_word_pieces()
    specials = [added("<unk>", 0), added("<s>", 1), added("</s>", 2)]
    tc = {"add_bos_token": True, "add_eos_token": False, "added_tokens_decoder": added_tokens_decoder(specials),
          "bos_token": "<s>", "clean_up_tokenization_spaces": False, "eos_token": "</s>", "legacy": True,
          "model_max_length": 1000000000000000019884624838656, "pad_token": None, "sp_model_kwargs": {},
          "tokenizer_class": "LlamaTokenizer", "unk_token": "<unk>"}
    files = {"tokenizer.model": spm_model(pieces, add_dummy_prefix=True),
             "tokenizer.json": spm_hf_tokenizer_json(pieces, specials, prepend=True, strip_decoder=True,
                                                     post_processor=template_processing("<s>", 1)),
             "tokenizer_config.json": tc}
    return pieces, files


def llama2() -> Fixture:
    pieces, files = _spm_files()
    V = len(pieces)
    D = E // H
    cfg = {"architectures": ["LlamaForCausalLM"], "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu",
           "hidden_size": E, "initializer_range": 0.02, "intermediate_size": F, "max_position_embeddings": 4096,
           "model_type": "llama", "num_attention_heads": H, "num_hidden_layers": L, "num_key_value_heads": HKV,
           "pretraining_tp": 1, "rms_norm_eps": 1e-05, "rope_scaling": None, "tie_word_embeddings": False,
           "torch_dtype": "bfloat16", "transformers_version": "4.31.0.dev0", "use_cache": True, "vocab_size": V}
    ts = embeddings(V, E, tied=False) + _layers(D)
    return Fixture("llama2", "LlamaForCausalLM", "Llama-2-7b-hf", cfg, ts, files)


def llama3_untied() -> Fixture:
    base = AF.by_name()["control_llama32"]
    cfg = dict(base.config, tie_word_embeddings=False, max_position_embeddings=131072,
               rope_scaling={"factor": 8.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                             "original_max_position_embeddings": 8192, "rope_type": "llama3"})
    ts = list(base.tensors) + [T("lm_head.weight", cfg["vocab_size"], cfg["hidden_size"])]
    return Fixture("llama3_untied", "LlamaForCausalLM", "Llama-3.1-8B-Instruct", cfg, ts, dict(base.files))


def mistral() -> Fixture:
    pieces, files = _spm_files()
    V = len(pieces)
    cfg = {"architectures": ["MistralForCausalLM"], "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu",
           "hidden_size": E, "initializer_range": 0.02, "intermediate_size": F, "max_position_embeddings": 32768,
           "model_type": "mistral", "num_attention_heads": H, "num_hidden_layers": L, "num_key_value_heads": HKV,
           "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "sliding_window": 4096, "tie_word_embeddings": False,
           "torch_dtype": "bfloat16", "transformers_version": "4.34.0.dev0", "use_cache": True, "vocab_size": V}
    ts = embeddings(V, E, tied=False) + _layers(E // H)
    return Fixture("mistral", "MistralForCausalLM", "Mistral-7B-v0.1", cfg, ts, files)


def mixtral() -> Fixture:
    pieces, files = _spm_files()
    V = len(pieces)
    n_exp = 4
    cfg = {"architectures": ["MixtralForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 1, "eos_token_id": 2,
           "hidden_act": "silu", "hidden_size": E, "initializer_range": 0.02, "intermediate_size": F,
           "max_position_embeddings": 32768, "model_type": "mixtral", "num_attention_heads": H,
           "num_experts_per_tok": 2, "num_hidden_layers": L, "num_key_value_heads": HKV, "num_local_experts": n_exp,
           "output_router_logits": False, "rms_norm_eps": 1e-05, "rope_theta": 1000000.0, "router_aux_loss_coef": 0.02,
           "sliding_window": None, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
           "transformers_version": "4.36.0.dev0", "use_cache": True, "vocab_size": V}
    ts = embeddings(V, E, tied=False) + _layers(E // H, mlp=False)
    for i in range(L):
        p = f"model.layers.{i}."
        ts += experts(p, n_exp, E, F, names=("w1", "w3", "w2"), prefix="block_sparse_moe.experts")
        ts.append(T(p + "block_sparse_moe.gate.weight", n_exp, E))
    return Fixture("mixtral", "MixtralForCausalLM", "Mixtral-8x7B-v0.1", cfg, ts, files)


def qwen2() -> Fixture:
    b, tc = qwen_tokenizer()
    V = b.n_vocab
    cfg = {"architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": b.ids["<|endoftext|>"],
           "eos_token_id": b.ids["<|im_end|>"], "hidden_act": "silu", "hidden_size": E, "initializer_range": 0.02,
           "intermediate_size": F, "max_position_embeddings": 32768, "max_window_layers": 21, "model_type": "qwen2",
           "num_attention_heads": H, "num_hidden_layers": L, "num_key_value_heads": HKV, "rms_norm_eps": 1e-06,
           "rope_theta": 1000000.0, "sliding_window": 32768, "tie_word_embeddings": True, "torch_dtype": "bfloat16",
           "transformers_version": "4.43.1", "use_cache": True, "use_sliding_window": False, "vocab_size": V}
    ts = embeddings(V, E, tied=True) + _layers(E // H, bias=True)
    files = {"tokenizer.json": b.tokenizer_json, "tokenizer_config.json": tc}
    return Fixture("qwen2", "Qwen2ForCausalLM", "Qwen2.5-0.5B-Instruct", cfg, ts, files, pre="qwen2")


def qwen3() -> Fixture:
    b, tc = qwen_tokenizer()
    V = b.n_vocab
    D = 64  # ≠ hidden_size / heads (32)
    cfg = {"architectures": ["Qwen3ForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
           "bos_token_id": b.ids["<|endoftext|>"], "eos_token_id": b.ids["<|im_end|>"], "head_dim": D,
           "hidden_act": "silu", "hidden_size": E, "initializer_range": 0.02, "intermediate_size": F,
           "max_position_embeddings": 40960, "max_window_layers": 28, "model_type": "qwen3", "num_attention_heads": H,
           "num_hidden_layers": L, "num_key_value_heads": HKV, "rms_norm_eps": 1e-06, "rope_scaling": None,
           "rope_theta": 1000000, "sliding_window": None, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
           "transformers_version": "4.51.0", "use_cache": True, "use_sliding_window": False, "vocab_size": V}
    ts = embeddings(V, E, tied=False) + _layers(D, qk_norm="head")
    files = {"tokenizer.json": b.tokenizer_json, "tokenizer_config.json": tc}
    return Fixture("qwen3", "Qwen3ForCausalLM", "Qwen3-0.6B", cfg, ts, files, pre="qwen2")


def _gemma(name: str, arch_name: str) -> Fixture:
    """A Gemma 2 / 3 architecture fixture in bfloat16 with ``query_pre_attn_scalar`` = head_dim, as
    Gemma's real configs below 27B have it and llama.cpp scales the queries (the GGUF has no key for
    it; the architecture fixtures keep 256 with a smaller head_dim)."""
    base = AF.by_name()[arch_name]
    cfg = dict(base.config, query_pre_attn_scalar=base.config["head_dim"], torch_dtype="bfloat16")
    ts = [T(t.name, *t.shape, std=t.std, mean=t.mean) for t in base.tensors]
    return Fixture(name, base.hf_class, base.dir_name, cfg, ts, dict(base.files))


def gemma2() -> Fixture:
    """Gemma 2 in bfloat16 (the architecture fixture's float16 norms + 1 lose bits in float16, which
    tests/test_export_hf.py::test_float16_norm_shift checks on its own)."""
    return _gemma("gemma2", "gemma2")


def gemma() -> Fixture:
    """Gemma 1 (7B-shaped, shrunk; bfloat16): Gemma 2's fixture with two norms per layer and without the
    soft-capping and sliding-window keys."""
    base = _gemma("gemma", "gemma2")
    cfg = {k: v for k, v in base.config.items()
           if k not in ("attn_logit_softcapping", "final_logit_softcapping", "sliding_window", "query_pre_attn_scalar",
                        "cache_implementation")}
    cfg.update(architectures=["GemmaForCausalLM"], model_type="gemma", eos_token_id=1)
    ts = [t for t in base.tensors if not t.name.endswith(("pre_feedforward_layernorm.weight",
                                                          "post_feedforward_layernorm.weight"))]
    files = dict(base.files)
    # the end-of-turn id named by the tokenizer files (not llama.cpp's default 107): it must come back
    files["tokenizer_config.json"] = dict(files["tokenizer_config.json"], eot_token="<end_of_turn>")
    return Fixture("gemma", "GemmaForCausalLM", "gemma-7b", cfg, ts, files)


def gemma3() -> Fixture:
    """Gemma 3 1B-shaped (text): norms + 1, q/k norms, sliding window every 6th layer global."""
    return _gemma("gemma3", "gemma3_text")


def granitemoeshared() -> Fixture:
    """GraniteMoeShared (Granite 4.0 tiny-style MoE with a shared expert): the granitemoe architecture
    fixture plus each layer's fused ``shared_mlp.input_linear`` [2·shared ff, hidden] and
    ``shared_mlp.output_linear``."""
    base = AF.by_name()["granitemoe"]
    E, FS = base.config["hidden_size"], 384
    cfg = dict(base.config, architectures=["GraniteMoeSharedForCausalLM"], model_type="granitemoeshared",
               shared_intermediate_size=FS)
    ts = list(base.tensors)
    for i in range(base.config["num_hidden_layers"]):
        p = f"model.layers.{i}.shared_mlp."
        ts += [T(p + "input_linear.weight", 2 * FS, E), T(p + "output_linear.weight", E, FS)]
    return Fixture("granitemoeshared", "GraniteMoeSharedForCausalLM", "granite-moe-shared", cfg, ts, dict(base.files))


def _variant(name: str, **config) -> Fixture:
    """A variant of tests/dense_variants.py, its config.json updated with ``config``."""
    import dense_variants as DV

    fx = DV.build(DV.by_name()[name])
    return Fixture(name, fx.hf_class, fx.dir_name, dict(fx.config, **config), list(fx.tensors), dict(fx.files))


def fixtures() -> Dict[str, Fixture]:
    """Every round-trip fixture by name: these and the architecture fixtures export-hf covers."""
    out = {f.name: f for f in (llama2(), llama3_untied(), mistral(), mixtral(), qwen2(), qwen3(), gemma(), gemma2(), gemma3(),
                                             granitemoeshared(), _variant("gemma4_per_layer"), _variant("gemma4_moe"),
                                             _variant("gemma3_pattern1_softcap", query_pre_attn_scalar=128))}
    arch = AF.by_name()
    for name in ("control_llama32", "phi35_mini", "phi4_mini", "phi4", "smollm3", "olmo2", "olmo3", "granite",
                 "exaone4", "cohere2", "ernie45", "deepseek_v2_lite", "deepseek_v3", "glm45", "glm47_flash",
                 "qwen2moe", "qwen3moe", "olmoe", "granitemoe", "llama4_text", "gemma4_text", "ministral3_text"):
        out[name] = arch[name]
    return out

