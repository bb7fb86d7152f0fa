"""Generate tests/golden/convert_reference.json from llama.cpp's own convert_hf_to_gguf.py.

Run by hand (output committed):

    python3 -m venv /tmp/refvenv
    /tmp/refvenv/bin/pip install "transformers==4.57.6" tokenizers sentencepiece numpy pyyaml protobuf
    /tmp/refvenv/bin/python tests/golden/gen_convert_reference.py [LLAMA_CPP_DIR]

LLAMA_CPP_DIR defaults to /work/ref/llama_cpp_python-0.3.36/vendor/llama.cpp;
transformers 4.57.6 is the version that tree's requirements pin.

The reference converter needs PyTorch only to move tensor data, which this
script never asks it to do, so ``torch`` is replaced by an inert stand-in
module before the converter is imported. For every fixture model directory
built below (tokenizer files, config.json, generation_config.json and a
small safetensors checkpoint) the script instantiates the converter's model
class exactly as convert_hf_to_gguf.py does, registers the output tensors'
shapes with its GGUF writer (what ``prepare_tensors`` would do, minus the
data) and runs ``prepare_metadata``. It records, in file order, every
metadata key with its GGUF type and value, plus the converter's own mapping
of each checkpoint tensor name to its GGUF name.

The converter identifies BPE pre-tokenizers by hashing the token ids of a
probe text; the fixtures' tokenizers are new, so their hash is unknown to it.
For those the recorded ``tokenizer.ggml.pre`` is ``"<unrecognised:HASH>"`` and
the test checks Wick's structural choice separately.

Each fixture's inputs are stored in the JSON too, so the test needs neither
this script nor the converter.
"""

from __future__ import annotations

import base64
import json
import struct
import sys
import tempfile
import types
from pathlib import Path

import numpy as np

LLAMA_CPP = Path(sys.argv[1] if len(sys.argv) > 1 else "/work/ref/llama_cpp_python-0.3.36/vendor/llama.cpp")
HERE = Path(__file__).resolve().parent
OUT = HERE / "convert_reference.json"
sys.path.insert(0, str(HERE.parents[1] / "examples"))

import transformers  # noqa: E402  (must see the real "torch is absent" state first)
from transformers import AutoConfig, AutoTokenizer  # noqa: E402,F401  (import before the stand-in)


class _Inert:
    """Stands in for any torch object: attribute access and calls return more of it."""

    def __getattr__(self, k):
        return _Inert()

    def __call__(self, *a, **k):
        return _Inert()

    def __getitem__(self, k):
        return _Inert()

    def __mro_entries__(self, bases):
        return (object,)

    def __or__(self, o):
        return self

    __ror__ = __or__


class _InertModule(types.ModuleType):
    def __getattr__(self, k):
        if k.startswith("__"):
            raise AttributeError(k)
        return _Inert()


for _name in ("torch", "torch.nn", "torch.nn.functional", "torch._tensor", "torch.utils", "torch.utils._pytree"):
    sys.modules[_name] = _InertModule(_name)
sys.path.insert(0, str(LLAMA_CPP / "gguf-py"))
sys.path.insert(0, str(LLAMA_CPP))

import conversion  # noqa: E402
import gguf  # noqa: E402  (the tree's own gguf-py)
from conversion import base as conv_base  # noqa: E402

import make_tiny_llama as tiny  # noqa: E402


# ------------------------------------------------------------ fixture pieces
def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field(no: int, wt: int, payload: bytes) -> bytes:
    key = _varint((no << 3) | wt)
    return key + (_varint(len(payload)) + payload if wt == 2 else payload)


def spm_model(pieces) -> bytes:
    """A SentencePiece ModelProto (BPE, byte fallback) holding ``pieces`` = [(text, score, type)]."""
    body = b""
    for text, score, typ in pieces:
        p = _field(1, 2, text.encode("utf-8")) + _field(2, 5, struct.pack("<f", score))
        if typ != 1:
            p += _field(3, 0, _varint(typ))
        body += _field(1, 2, p)
    trainer = _field(3, 0, _varint(2)) + _field(35, 0, _varint(1))
    return body + _field(2, 2, trainer) + _field(3, 2, _field(1, 2, b"identity"))


def spm_pieces(words):
    pieces = [("<unk>", 0.0, 2), ("<s>", 0.0, 3), ("</s>", 0.0, 3)]
    pieces += [(f"<0x{i:02X}>", 0.0, 6) for i in range(256)]
    seen = set()
    rank = 0
    for w in words:
        for cand in ("\u2581" + w, w, w[:2], w[-2:], w[:1]):
            if cand not in seen:
                seen.add(cand)
                rank += 1
                pieces.append((cand, -float(rank), 1))
    pieces.append(("<user_sym>", 0.0, 4))  # a USER_DEFINED piece (the converter types it NORMAL)
    return pieces


def llama_hf_tokenizer_json(pieces, merges):
    vocab = {p[0]: i for i, p in enumerate(pieces)}
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": i, "content": c, "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": True} for i, c in enumerate(["<unk>", "<s>", "</s>"])],
        "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "\u2581"},
                                                           {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
        "pre_tokenizer": None,
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                           "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                                    {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
                           "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
        "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
                                                     {"type": "ByteFallback"}, {"type": "Fuse"},
                                                     {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
                  "vocab": vocab, "merges": merges},
    }


def spm_merges(pieces):
    """Merges producing each multi-character piece from two shorter known pieces (rank order)."""
    known = {p[0] for p in pieces}
    merges = []
    for text, _, typ in pieces:
        if typ != 1 or len(text) < 2:
            continue
        for cut in range(1, len(text)):
            a, b = text[:cut], text[cut:]
            if a in known and b in known:
                merges.append(f"{a} {b}")
                break
    return merges


def llama2_tokenizer_config(extra=None):
    tc = {
        "add_bos_token": True, "add_eos_token": False,
        "added_tokens_decoder": {str(i): {"content": c, "lstrip": False, "normalized": False, "rstrip": False,
                                          "single_word": False, "special": True}
                                 for i, c in enumerate(["<unk>", "<s>", "</s>"])},
        "bos_token": "<s>", "clean_up_tokenization_spaces": False, "eos_token": "</s>", "legacy": False,
        "model_max_length": 1000000000000000019884624838656, "pad_token": None, "padding_side": "right",
        "sp_model_kwargs": {}, "tokenizer_class": "LlamaTokenizer", "unk_token": "<unk>", "use_default_system_prompt": False,
    }
    tc.update(extra or {})
    return tc


QWEN_SPECIALS = [("<|endoftext|>", True), ("<|im_start|>", True), ("<|im_end|>", True), ("<tool_call>", False),
                 ("</tool_call>", False), ("<|fim_prefix|>", True), ("\u2581pad_word", False)]

QWEN_TEMPLATE = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
                 "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")


def qwen_tokenizer_json(vocab, merges):
    n = len(vocab)
    tj = tiny.tokenizer_json(vocab, merges, [s for s, _ in QWEN_SPECIALS])
    tj["added_tokens"] = [{"id": n + i, "content": s, "single_word": False, "lstrip": False, "rstrip": False,
                           "normalized": False, "special": sp} for i, (s, sp) in enumerate(QWEN_SPECIALS)]
    tj["normalizer"] = {"type": "NFC"}
    qwen_regex = tiny.LLAMA3_PATTERN.replace(r"\p{N}{1,3}", r"\p{N}")
    tj["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = qwen_regex
    tj["pre_tokenizer"]["pretokenizers"][1]["trim_offsets"] = False
    tj["post_processor"] = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}
    tj["decoder"] = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}
    tj["model"]["ignore_merges"] = False
    return tj


def qwen_tokenizer_config(n_base):
    return {
        "add_prefix_space": False,
        "added_tokens_decoder": {str(n_base + i): {"content": s, "lstrip": False, "normalized": False, "rstrip": False,
                                                   "single_word": False, "special": sp}
                                 for i, (s, sp) in enumerate(QWEN_SPECIALS)},
        "additional_special_tokens": ["<|im_start|>", "<|im_end|>"],
        "bos_token": None, "chat_template": QWEN_TEMPLATE, "clean_up_tokenization_spaces": False,
        "eos_token": "<|im_end|>", "errors": "replace", "model_max_length": 131072, "pad_token": "<|endoftext|>",
        "split_special_tokens": False, "tokenizer_class": "Qwen2Tokenizer", "unk_token": None,
    }


def hf_tensors(cfg, *, tied, qkv_bias=False, qk_norm=False, moe=0):
    """(name, shape) of a llama-style checkpoint for config ``cfg``."""
    E, F, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    H, Hkv = cfg["num_attention_heads"], cfg.get("num_key_value_heads") or cfg["num_attention_heads"]
    D = cfg.get("head_dim") or E // H
    out = [("model.embed_tokens.weight", (V, E)), ("model.norm.weight", (E,))]
    if not tied:
        out.append(("lm_head.weight", (V, E)))
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        out += [(p + "input_layernorm.weight", (E,)), (p + "post_attention_layernorm.weight", (E,)),
                (p + "self_attn.q_proj.weight", (H * D, E)), (p + "self_attn.k_proj.weight", (Hkv * D, E)),
                (p + "self_attn.v_proj.weight", (Hkv * D, E)), (p + "self_attn.o_proj.weight", (E, H * D))]
        if qkv_bias:
            out += [(p + "self_attn.q_proj.bias", (H * D,)), (p + "self_attn.k_proj.bias", (Hkv * D,)),
                    (p + "self_attn.v_proj.bias", (Hkv * D,))]
        if qk_norm:
            out += [(p + "self_attn.q_norm.weight", (D,)), (p + "self_attn.k_norm.weight", (D,))]
        if moe:
            out.append((p + "block_sparse_moe.gate.weight", (moe, E)))
            for x in range(moe):
                q = f"{p}block_sparse_moe.experts.{x}."
                out += [(q + "w1.weight", (F, E)), (q + "w2.weight", (E, F)), (q + "w3.weight", (F, E))]
        else:
            out += [(p + "mlp.gate_proj.weight", (F, E)), (p + "mlp.up_proj.weight", (F, E)),
                    (p + "mlp.down_proj.weight", (E, F))]
    return out


def base_cfg(arch, **kw):
    cfg = {"architectures": [arch], "hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4,
           "num_hidden_layers": 2, "hidden_act": "silu", "torch_dtype": "bfloat16", "transformers_version": "4.45.0"}
    cfg.update(kw)
    return cfg


def fixtures():
    vocab, merges = tiny.train_bpe(tiny.TRAINING_TEXT, 300)
    n = len(vocab)
    words = ["the", "quick", "brown", "fox", "hello", "world", "model", "layer", "token", "weight"]
    pieces = spm_pieces(words)
    fx = []

    # 1. Llama 3.2 style: byte-level BPE, pair-form merges, llama3 rope, tied, GQA, head_dim key
    cfg = tiny_cfg = base_cfg("LlamaForCausalLM", num_key_value_heads=2, head_dim=16, vocab_size=n + 11,
                              max_position_embeddings=2048, rms_norm_eps=1e-5, rope_theta=500000.0,
                              rope_scaling={"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                                            "original_max_position_embeddings": 8192, "rope_type": "llama3"},
                              tie_word_embeddings=True, bos_token_id=n, eos_token_id=[n + 1, n + 9],
                              _name_or_path="meta-llama/Llama-3.2-1B-Instruct")
    fx.append(dict(name="llama3_bpe_pairs", dir="Llama-3.2-1B-Instruct", config=cfg, tensors=hf_tensors(cfg, tied=True),
                   files={"tokenizer.json": tiny.tokenizer_json(vocab, merges, tiny.SPECIAL_TOKENS),
                          "tokenizer_config.json": tiny.tokenizer_config(n, tiny.SPECIAL_TOKENS),
                          "generation_config.json": {"bos_token_id": n, "do_sample": True, "eos_token_id": [n + 1, n + 9],
                                                     "temperature": 0.6, "top_p": 0.9}},
                   wick_pre="llama-bpe"))

    # 2. the same tokenizer with string merges, extra added tokens, named chat templates, untied
    tj = tiny.tokenizer_json(vocab, merges, tiny.SPECIAL_TOKENS + ["<tool>", "\u2581spaced"])
    tj["model"]["merges"] = [f"{a} {b}" for a, b in merges]
    tj["added_tokens"][-2]["special"] = False
    tj["added_tokens"][-1]["special"] = False
    tc = tiny.tokenizer_config(n, tiny.SPECIAL_TOKENS + ["<tool>", "\u2581spaced"])
    tc["add_bos_token"] = False  # disagrees with the post_processor: the converter keeps the latter
    tc["chat_template"] = [{"name": "default", "template": "{{ messages }}"}, {"name": "tool_use", "template": "{{ tools }}"}]
    tc["eos_token"] = {"__type": "AddedToken", "content": "<|end_of_text|>", "lstrip": False, "normalized": False,
                       "rstrip": False, "single_word": False, "special": True}
    cfg = dict(tiny_cfg, vocab_size=n + 13 + 3, tie_word_embeddings=False, rope_scaling=None, head_dim=None,
               rope_theta=10000, _name_or_path="some/path/too/deep")
    fx.append(dict(name="llama3_bpe_strings_untied", dir="My-Finetune-8B-Chat-v2", config=cfg,
                   tensors=hf_tensors(cfg, tied=False),
                   files={"tokenizer.json": tj, "tokenizer_config.json": tc,
                          "generation_config.json": {"top_k": 40, "repetition_penalty": 1.1}},
                   wick_pre="llama-bpe"))

    # 2b. added-token flags only in tokenizer.json (no added_tokens_decoder); a non-special-looking eos
    tj = tiny.tokenizer_json(vocab, merges, tiny.SPECIAL_TOKENS + ["<tool>", "\u2581spaced", "<eos_marker>"])
    for a in tj["added_tokens"][-3:]:
        a["special"] = False
    tj["added_tokens"][-2]["normalized"] = True
    tc = tiny.tokenizer_config(n, [])
    del tc["added_tokens_decoder"]
    tc["eos_token"] = "<eos_marker>"
    cfg = dict(tiny_cfg, vocab_size=n + 14, eos_token_id=n + 13)
    fx.append(dict(name="llama3_bpe_json_flags", dir="llama3-flags", config=cfg, tensors=hf_tensors(cfg, tied=True),
                   files={"tokenizer.json": tj, "tokenizer_config.json": tc}, wick_pre="llama-bpe"))

    # 3. Qwen2.5 style: qwen2 regex, NFC, biases, tied, padded vocabulary, add_prefix_space
    cfg = base_cfg("Qwen2ForCausalLM", num_key_value_heads=2, vocab_size=n + len(QWEN_SPECIALS) + 9,
                   max_position_embeddings=32768, rms_norm_eps=1e-6, rope_theta=1000000.0, tie_word_embeddings=True,
                   bos_token_id=n, eos_token_id=n, sliding_window=32768, use_sliding_window=False, max_window_layers=2)
    fx.append(dict(name="qwen2_bpe", dir="Qwen2.5-0.5B-Instruct", config=cfg, tensors=hf_tensors(cfg, tied=True, qkv_bias=True),
                   files={"tokenizer.json": qwen_tokenizer_json(vocab, merges), "tokenizer_config.json": qwen_tokenizer_config(n),
                          "generation_config.json": {"bos_token_id": n, "eos_token_id": [n + 2, n], "pad_token_id": n,
                                                     "do_sample": True, "repetition_penalty": 1.1, "temperature": 0.7,
                                                     "top_p": 0.8, "top_k": 20}},
                   wick_pre="qwen2"))

    # 3b. Qwen2.5 long-context (YaRN) rope scaling
    cfg = dict(cfg, rope_scaling={"factor": 4.0, "original_max_position_embeddings": 32768, "type": "yarn",
                                  "beta_fast": 32.0, "beta_slow": 1.0}, max_position_embeddings=131072)
    fx.append(dict(name="qwen2_yarn", dir="Qwen2.5-7B-Instruct-1M", config=cfg,
                   tensors=hf_tensors(cfg, tied=True, qkv_bias=True),
                   files={"tokenizer.json": qwen_tokenizer_json(vocab, merges), "tokenizer_config.json": qwen_tokenizer_config(n)},
                   wick_pre="qwen2"))

    # 4. Qwen3 style: q/k norms, head_dim != hidden/heads, untied
    cfg = base_cfg("Qwen3ForCausalLM", num_key_value_heads=2, head_dim=32, vocab_size=n + len(QWEN_SPECIALS),
                   max_position_embeddings=40960, rms_norm_eps=1e-6, rope_theta=1000000, tie_word_embeddings=False,
                   attention_bias=False, bos_token_id=n, eos_token_id=n + 2)
    fx.append(dict(name="qwen3_bpe", dir="Qwen3-0.6B", config=cfg, tensors=hf_tensors(cfg, tied=False, qk_norm=True),
                   files={"tokenizer.json": qwen_tokenizer_json(vocab, merges), "tokenizer_config.json": qwen_tokenizer_config(n)},
                   wick_pre="qwen2"))

    # 5. Llama 2 style: SentencePiece tokenizer.model + tokenizer.json, no rope_theta/head_dim/kv heads in config
    n_spm = len(pieces)
    cfg = base_cfg("LlamaForCausalLM", vocab_size=n_spm + 3, max_position_embeddings=4096, rms_norm_eps=1e-5,
                   rope_scaling=None, tie_word_embeddings=False, bos_token_id=1, eos_token_id=2, pretraining_tp=1,
                   _name_or_path="meta-llama/Llama-2-7b-hf")
    tc = llama2_tokenizer_config({"add_prefix_space": True, "added_tokens_decoder": {
        **llama2_tokenizer_config()["added_tokens_decoder"],
        str(n_spm): {"content": "<|im_start|>", "special": False, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False},
        str(n_spm + 1): {"content": "\u2581user_word", "special": False, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False}}})
    fx.append(dict(name="llama2_spm", dir="Llama-2-7b-hf", config=cfg, tensors=hf_tensors(cfg, tied=False),
                   files={"tokenizer.model": spm_model(pieces),
                          "tokenizer.json": llama_hf_tokenizer_json(pieces, spm_merges(pieces)),
                          "tokenizer_config.json": tc, "generation_config.json": {"temperature": 0.6, "top_p": 0.9}},
                   wick_pre="default"))

    # 6. Llama 2 style with tokenizer.json only (byte-fallback BPE: the LlamaHfVocab path)
    cfg = dict(cfg, vocab_size=n_spm, _name_or_path="meta-llama/Llama-2-7b-chat-hf")
    fx.append(dict(name="llama2_hf_json_only", dir="Llama-2-7b-chat-hf", config=cfg, tensors=hf_tensors(cfg, tied=False),
                   files={"tokenizer.json": llama_hf_tokenizer_json(pieces, spm_merges(pieces)),
                          "tokenizer_config.json": llama2_tokenizer_config()},
                   wick_pre="default"))

    # 7. Mistral 7B v0.1 style: SentencePiece, GQA, sliding_window
    cfg = base_cfg("MistralForCausalLM", num_key_value_heads=2, vocab_size=n_spm, max_position_embeddings=32768,
                   rms_norm_eps=1e-5, rope_theta=10000.0, sliding_window=4096, tie_word_embeddings=False,
                   bos_token_id=1, eos_token_id=2)
    fx.append(dict(name="mistral_spm", dir="Mistral-7B-v0.1", config=cfg, tensors=hf_tensors(cfg, tied=False),
                   files={"tokenizer.model": spm_model(pieces),
                          "tokenizer_config.json": llama2_tokenizer_config({"add_bos_token": True})},
                   wick_pre="default"))

    # 7a. linear rope scaling, old "type" spelling
    cfg = base_cfg("LlamaForCausalLM", vocab_size=n_spm, max_position_embeddings=8192, rms_norm_eps=1e-6,
                   rope_scaling={"type": "linear", "factor": 2.0}, tie_word_embeddings=False)
    fx.append(dict(name="llama_linear_rope", dir="vicuna-7b-16k", config=cfg, tensors=hf_tensors(cfg, tied=False),
                   files={"tokenizer.model": spm_model(pieces), "tokenizer_config.json": llama2_tokenizer_config()},
                   wick_pre="default"))

    # 7b. CodeLlama: 32016 tokens triggers the converter's infill-token special case
    cfg = base_cfg("LlamaForCausalLM", vocab_size=32016, max_position_embeddings=16384, rms_norm_eps=1e-5,
                   rope_theta=1000000, tie_word_embeddings=False, bos_token_id=1, eos_token_id=2)
    fx.append(dict(name="codellama_spm", dir="CodeLlama-7b-hf", config=cfg, tensors=hf_tensors(cfg, tied=False),
                   files={"tokenizer.model": spm_model(pieces), "tokenizer_config.json": llama2_tokenizer_config()},
                   wick_pre="default", omit_arrays=["tokenizer.ggml.tokens", "tokenizer.ggml.scores",
                                                   "tokenizer.ggml.token_type"]))

    # 8. Mixtral style: 4 experts, 2 used
    cfg = base_cfg("MixtralForCausalLM", num_key_value_heads=2, vocab_size=n_spm, max_position_embeddings=32768,
                   rms_norm_eps=1e-5, rope_theta=1000000.0, num_local_experts=4, num_experts_per_tok=2,
                   tie_word_embeddings=False, bos_token_id=1, eos_token_id=2, router_aux_loss_coef=0.02)
    fx.append(dict(name="mixtral_spm", dir="Mixtral-8x7B-v0.1", config=cfg, tensors=hf_tensors(cfg, tied=False, moe=4),
                   files={"tokenizer.model": spm_model(pieces), "tokenizer_config.json": llama2_tokenizer_config()},
                   wick_pre="default"))
    return fx


# ------------------------------------------------------------------- oracle
def _jsonable(v):
    if isinstance(v, (bytes, bytearray)):
        return v.decode("utf-8")
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if hasattr(v, "value") and not isinstance(v, (int, float, str, bool)):
        return v.value
    if isinstance(v, np.generic):
        return v.item()
    return v


def _probe_text(fn) -> str:
    """The converter's pre-tokenizer probe string, read from its source."""
    import ast
    import inspect
    import textwrap
    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "chktxt" for t in node.targets):
            return ast.literal_eval(node.value)
    raise RuntimeError("probe text not found")


def run_reference(d: Path, fx: dict) -> dict:
    cls = conversion.get_model_class(fx["config"]["architectures"][0])
    real_pre = conv_base.TextModel.get_vocab_base_pre

    def pre(self, tokenizer):
        try:
            return real_pre(self, tokenizer)
        except NotImplementedError:
            from hashlib import sha256
            h = sha256(str(tokenizer.encode(_probe_text(real_pre))).encode()).hexdigest()
            return f"<unrecognised:{h}>"

    conv_base.TextModel.get_vocab_base_pre = pre
    m = cls(d, gguf.LlamaFileType.ALL_F32, d / "out.gguf", eager=False)
    # register output tensors (names from the converter's own map, shapes from the checkpoint)
    mapping = []
    hp = m.hparams
    head_dim = hp.get("head_dim") or hp["hidden_size"] // hp["num_attention_heads"]
    rp = m.rope_parameters.get("full_attention", m.rope_parameters)
    if isinstance(rp.get("rope_type"), str) and rp["rope_type"].lower() == "llama3":
        m.gguf_writer.add_tensor_info("rope_freqs.weight", (head_dim // 2,), np.dtype(np.float32), head_dim // 2 * 4)
    experts = {}
    for name, shape in sorted(fx["tensors"]):
        if ".experts." in name:
            bid = int(name.split(".")[2])
            experts.setdefault(bid, []).append((name, shape))
            continue
        new = m.map_tensor_name(name)
        mapping.append([name, new])
        m.gguf_writer.add_tensor_info(new, shape, np.dtype(np.float32), int(np.prod(shape)) * 4)
    for bid, lst in sorted(experts.items()):
        nx = hp["num_local_experts"]
        for w in ("w1", "w2", "w3"):
            shp = next(s for n, s in lst if n.endswith(f".{w}.weight"))
            new = m.map_tensor_name(f"layers.{bid}.feed_forward.experts.{w}.weight")
            mapping.append([f"model.layers.{bid}.block_sparse_moe.experts.*.{w}.weight", new])
            m.gguf_writer.add_tensor_info(new, (nx, *shp), np.dtype(np.float32), nx * int(np.prod(shp)) * 4)
    m.prepare_metadata(vocab_only=False)
    kvs = []
    for key, val in m.gguf_writer.kv_data[0].items():
        sub = val.sub_type
        if val.type == gguf.GGUFValueType.ARRAY and sub is None:
            sub = gguf.GGUFValueType.get_type(val.value[0])  # what the writer packs the elements as
        kvs.append([key, val.type.name, sub.name if sub is not None else None, _jsonable(val.value)])
    conv_base.TextModel.get_vocab_base_pre = real_pre
    return {"metadata": kvs, "tensor_map": mapping}


def write_fixture(d: Path, fx: dict) -> None:
    d.mkdir(parents=True)
    (d / "config.json").write_text(json.dumps(fx["config"], indent=1))
    for fname, content in fx["files"].items():
        if isinstance(content, bytes):
            (d / fname).write_bytes(content)
        else:
            (d / fname).write_text(json.dumps(content, ensure_ascii=False, indent=1), encoding="utf-8")
    tiny.write_safetensors(d / "model.safetensors",
                           [(n, "BF16", tuple(s), np.zeros(s, dtype=np.uint16)) for n, s in fx["tensors"]])


def main() -> None:
    out = {
        "generator": "tests/golden/gen_convert_reference.py",
        "reference": f"{LLAMA_CPP} (convert_hf_to_gguf.py + gguf-py), transformers {transformers.__version__}",
        "fixtures": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        for fx in fixtures():
            d = Path(tmp) / fx["name"] / fx["dir"]
            write_fixture(d, fx)
            ref = run_reference(d, fx)
            files = {k: ({"base64": base64.b64encode(v).decode()} if isinstance(v, bytes) else v) for k, v in fx["files"].items()}
            for kv in ref["metadata"]:
                if kv[0] in fx.get("omit_arrays", ()):
                    kv[3] = None  # too large to store; the test skips the value
            out["fixtures"].append({
                "name": fx["name"], "dir": fx["dir"], "config": fx["config"], "files": files,
                "tensors": {n: ["model.safetensors", "BF16", list(s)] for n, s in fx["tensors"]},
                "wick_pre": fx["wick_pre"], **ref,
            })
            print(f"{fx['name']}: {len(ref['metadata'])} keys", file=sys.stderr)
    OUT.write_text(json.dumps(out, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
