"""Hugging Face tokenizer files rebuilt from a GGUF file's ``tokenizer.*`` metadata (export-hf).

The inverse of :mod:`wick.convert.tokenizer`, for the two vocabulary kinds it writes:

``gpt2`` (byte-level BPE)
    ``tokenizer.json`` with a BPE model of every token (their ids kept;
    ``[PAD{id}]`` holes left out), the file's merges, CONTROL tokens also as special
    added tokens and USER_DEFINED ones as plain added tokens; the
    pre-tokenizer of ``tokenizer.ggml.pre`` (the inverse of the structural rule
    table, :func:`wick.convert.tokenizer.pre_tokenizer_json`), the family's
    normalizer (Qwen's NFC), ``ignore_merges`` where llama.cpp ignores merges
    for that pre-tokenizer (Llama 3, GLM-4, Tekken), a ByteLevel decoder, and a post-processor that
    prepends BOS when ``tokenizer.ggml.add_bos_token`` is set (or, when the file sets
    ``add_eos_token`` first, a template that appends EOS alone, as GPT-NeoX's and OLMoE's do).
``llama`` (SentencePiece)
    ``tokenizer.model``, a SentencePiece ``ModelProto`` of the pieces, scores
    and types (model type BPE, byte fallback when the vocabulary has byte
    pieces, ``add_dummy_prefix`` from ``tokenizer.ggml.add_space_prefix``), and
    the ``tokenizer.json`` transformers' ``LlamaTokenizerFast`` builds from it
    (BPE with byte fallback; merges derived from the scores as transformers'
    ``SentencePieceExtractor`` derives them).

``tokenizer_config.json`` names the special tokens (bos/eos/unk/pad, in the
order the GGUF lists their ids so that a new conversion writes them in the
same order), the added tokens (``added_tokens_decoder``), the chat template
and the context length. What the GGUF does not carry cannot come back: the
normalizer of families other than Qwen, ``clean_up_tokenization_spaces``,
extra EOS ids, a tokenizer's Python class.
"""

from __future__ import annotations

import struct
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from .errors import UnsupportedExportError
from .tokenizer import BYTE, CONTROL, NORMAL, PRE_IGNORE_MERGES, UNKNOWN, UNUSED, USER_DEFINED, pre_tokenizer_json

__all__ = ["tokenizer_files", "spm_model_proto", "spm_merges"]

# GGUF key of each special token kind, in SpecialVocab's order (bos, eos, unk, sep, pad, cls, mask)
_SPECIAL_KEYS = (("bos", "tokenizer.ggml.bos_token_id"), ("eos", "tokenizer.ggml.eos_token_id"),
                 ("unk", "tokenizer.ggml.unknown_token_id"), ("sep", "tokenizer.ggml.seperator_token_id"),
                 ("pad", "tokenizer.ggml.padding_token_id"), ("mask", "tokenizer.ggml.mask_token_id"))
Adjust = Callable[[Dict[str, Any]], Dict[str, Any]]
_RANK = {t: i for i, t in enumerate(("bos", "eos", "unk", "sep", "pad", "cls", "mask"))}


def _added(tid: int, content: str, special: bool) -> Dict[str, Any]:
    return {"id": tid, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
            "normalized": not special, "special": special}


def _template(bos: Optional[Tuple[str, int]], eos: Optional[Tuple[str, int]]) -> Dict[str, Any]:
    """A TemplateProcessing post-processor adding ``bos`` before and ``eos`` after each sequence."""
    def seq(s: str) -> List[Dict[str, Any]]:
        out: List[Dict[str, Any]] = []
        if bos:
            out.append({"SpecialToken": {"id": bos[0], "type_id": 0}})
        out.append({"Sequence": {"id": s, "type_id": 0}})
        if eos:
            out.append({"SpecialToken": {"id": eos[0], "type_id": 0}})
        return out
    specials = {t[0]: {"id": t[0], "ids": [t[1]], "tokens": [t[0]]} for t in (bos, eos) if t}
    return {"type": "TemplateProcessing", "single": seq("A"), "pair": seq("A") + seq("B"), "special_tokens": specials}


def _special_ids(md: Mapping[str, Any]) -> List[Tuple[str, int]]:
    """(kind, id) of the special tokens, in the order of their keys in the file."""
    keys = {k: t for t, k in _SPECIAL_KEYS}
    return [(keys[k], int(md[k])) for k in md if k in keys]


def _tokenizer_config(md: Mapping[str, Any], tokens: List[str], added: List[Dict[str, Any]],
                      tokenizer_class: str, add_flags: bool) -> Dict[str, Any]:
    added_ids = {a["id"] for a in added}
    tc: Dict[str, Any] = {}
    if md.get("tokenizer.ggml.add_space_prefix") is not None:
        tc["add_prefix_space"] = bool(md["tokenizer.ggml.add_space_prefix"])
    if add_flags:
        for typ in ("bos", "eos"):
            v = md.get(f"tokenizer.ggml.add_{typ}_token")
            if v is not None:
                tc[f"add_{typ}_token"] = bool(v)
    tc["added_tokens_decoder"] = {str(a["id"]): {k: a[k] for k in ("content", "lstrip", "normalized", "rstrip",
                                                                   "single_word", "special")} for a in added}
    # A new conversion finds each special id first through tokenizer_config.json (in SpecialVocab's
    # kind order, for added tokens), then through config.json: name here the kinds whose order in
    # the file that first pass reproduces; config.json carries every id.
    last = -1
    for typ, tid in _special_ids(md):
        if _RANK[typ] < last or tid >= len(tokens) or tid not in added_ids:
            break
        tc[f"{typ}_token"] = tokens[tid]
        last = _RANK[typ]
    names = md.get("tokenizer.chat_templates")
    if names:  # named templates: the list form, default first (as chat_template_kvs reads it)
        tc["chat_template"] = ([{"name": "default", "template": md["tokenizer.chat_template"]}]
                               if md.get("tokenizer.chat_template") is not None else []) + \
            [{"name": n, "template": md.get(f"tokenizer.chat_template.{n}", "")} for n in names]
    elif md.get("tokenizer.chat_template") is not None:
        tc["chat_template"] = md["tokenizer.chat_template"]
    tc["clean_up_tokenization_spaces"] = False
    tc["model_max_length"] = int(md.get(f"{md.get('general.architecture')}.context_length") or 1_000_000_000_000)
    tc["tokenizer_class"] = tokenizer_class
    return tc


# ------------------------------------------------------------------ gpt2
def _gpt2(md: Mapping[str, Any], tokenizer_class: str, adjust: Adjust) -> Dict[str, Any]:
    tokens: List[str] = list(md["tokenizer.ggml.tokens"])
    types: List[int] = list(md.get("tokenizer.ggml.token_type") or [NORMAL] * len(tokens))
    merges: List[str] = list(md.get("tokenizer.ggml.merges") or [])
    pre = md.get("tokenizer.ggml.pre") or "default"
    vocab: Dict[str, int] = {}
    added: List[Dict[str, Any]] = []
    for i, (t, ty) in enumerate(zip(tokens, types)):
        if ty == UNUSED and t == f"[PAD{i}]":
            continue  # a hole of the vocabulary: the converter fills it again from config.json vocab_size
        if ty in (CONTROL, USER_DEFINED):
            added.append(adjust(_added(i, t, ty == CONTROL)))
        # added tokens too: ``tokenizers`` numbers an added token missing from the model's
        # vocabulary after it, whatever its "id" says
        vocab[t] = i
    steps, normalizer = pre_tokenizer_json(pre)
    ids = dict(_special_ids(md))
    bos = (tokens[ids["bos"]], ids["bos"]) if "bos" in ids else None
    eos = (tokens[ids["eos"]], ids["eos"]) if "eos" in ids else None
    add_bos, add_eos = md.get("tokenizer.ggml.add_bos_token"), md.get("tokenizer.ggml.add_eos_token")
    byte_level_post = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}
    # The order of the add_* keys tells the post-processor's shape: a ByteLevel step first sets
    # bos and eos (Llama 3); a template alone sets bos, then sep from its pair, and eos comes from
    # tokenizer_config.json (Cohere)
    add_order = [k for k in md if k in ("tokenizer.ggml.add_bos_token", "tokenizer.ggml.add_eos_token",
                                        "tokenizer.ggml.add_sep_token")]
    template_alone = add_order[:2] == ["tokenizer.ggml.add_bos_token", "tokenizer.ggml.add_sep_token"]
    # a template that only appends EOS (GPT-NeoX's, OLMoE's) sets eos alone; bos then comes from
    # tokenizer_config.json, after it
    eos_alone = add_order[:1] == ["tokenizer.ggml.add_eos_token"] and add_eos and eos and not add_bos
    tc_flags = False
    if eos_alone:
        specials = {eos[0]: {"id": eos[0], "ids": [eos[1]], "tokens": [eos[0]]}}
        post = {"type": "TemplateProcessing",
                "single": [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": eos[0], "type_id": 0}}],
                "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
                         {"SpecialToken": {"id": eos[0], "type_id": 1}}],
                "special_tokens": specials}
        tc_flags = True
    elif add_bos is None and add_eos is None:
        post = None
    elif (add_bos and bos) or (add_eos and eos):
        template = _template(bos if add_bos else None, eos if add_eos else None)
        post = template if template_alone else {"type": "Sequence", "processors": [byte_level_post, template]}
        tc_flags = template_alone
    else:
        post = byte_level_post
    tj = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
        "normalizer": normalizer, "pre_tokenizer": steps, "post_processor": post,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                  "ignore_merges": pre in PRE_IGNORE_MERGES,
                  "vocab": vocab, "merges": [m.split(" ", 1) for m in merges]},
    }
    tc = _tokenizer_config(md, tokens, added, tokenizer_class, add_flags=tc_flags)
    return {"tokenizer.json": tj, "tokenizer_config.json": tc}


# ------------------------------------------------------------- SentencePiece
def _varint(n: int) -> bytes:
    n &= 0xFFFFFFFFFFFFFFFF
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field(no: int, wire: int, payload: bytes) -> bytes:
    key = _varint((no << 3) | wire)
    if wire == 2:
        return key + _varint(len(payload)) + payload
    return key + payload


def spm_model_proto(pieces: List[Tuple[str, float, int]], *, unk_id: int, bos_id: int, eos_id: int, pad_id: int,
                    byte_fallback: bool, add_dummy_prefix: bool) -> bytes:
    """A SentencePiece ``ModelProto`` (model type BPE) of ``pieces`` [(text, score, type)], with the
    trainer spec's special ids and byte fallback and an identity normalizer spec."""
    body = bytearray()
    for text, score, typ in pieces:
        p = _field(1, 2, text.encode("utf-8")) + _field(2, 5, struct.pack("<f", score))
        if typ != NORMAL:
            p += _field(3, 0, _varint(typ))
        body += _field(1, 2, p)
    trainer = (_field(3, 0, _varint(2)) + _field(35, 0, _varint(1 if byte_fallback else 0))
               + _field(40, 0, _varint(unk_id)) + _field(41, 0, _varint(bos_id)) + _field(42, 0, _varint(eos_id))
               + _field(43, 0, _varint(pad_id)))
    normalizer = (_field(1, 2, b"identity") + _field(3, 0, _varint(1 if add_dummy_prefix else 0))
                  + _field(4, 0, _varint(0)) + _field(5, 0, _varint(1)))
    return bytes(body + _field(2, 2, trainer) + _field(3, 2, normalizer))


def spm_merges(tokens: List[str], scores: List[float]) -> List[List[str]]:
    """The merges transformers' ``SentencePieceExtractor`` derives from a BPE SentencePiece model
    (``generate_merges``, transformers 4.57): every split of a piece into two pieces of the
    vocabulary (per piece, by the ids of the two halves), all ordered by (the merged piece's
    score, the left length, the right length), highest first (stable)."""
    vocab = {t: i for i, t in enumerate(tokens)}
    merges: List[Tuple[str, str, float]] = []
    for piece, score in zip(tokens, scores):
        local = [(piece[:k], piece[k:], score) for k in range(1, len(piece))
                 if piece[:k] in vocab and piece[k:] in vocab]
        local.sort(key=lambda m: (vocab[m[0]], vocab[m[1]]))
        merges += local
    merges.sort(key=lambda m: (m[2], len(m[0]), len(m[1])), reverse=True)
    return [[a, b] for a, b, _ in merges]


def _llama(md: Mapping[str, Any], tokenizer_class: str, adjust: Adjust) -> Dict[str, Any]:
    tokens: List[str] = list(md["tokenizer.ggml.tokens"])
    n = len(tokens)
    scores: List[float] = [float(s) for s in (md.get("tokenizer.ggml.scores") or [0.0] * n)]
    types: List[int] = list(md.get("tokenizer.ggml.token_type") or [NORMAL] * n)
    ids = dict(_special_ids(md))
    unk = ids.get("unk", 0)
    # trailing [PAD{id}] entries come back from config.json vocab_size
    end = n
    while end > 0 and types[end - 1] == UNUSED and tokens[end - 1] == f"[PAD{end - 1}]":
        end -= 1
    pieces = []
    for i in range(end):
        typ = types[i]
        if i == unk and typ in (CONTROL, UNKNOWN):
            typ = UNKNOWN  # SentencePiece needs its unknown piece; an added_tokens_decoder entry re-marks it
        pieces.append((tokens[i], scores[i], typ))
    add_prefix = md.get("tokenizer.ggml.add_space_prefix")
    add_prefix = True if add_prefix is None else bool(add_prefix)
    proto = spm_model_proto(pieces, unk_id=unk, bos_id=ids.get("bos", -1), eos_id=ids.get("eos", -1),
                            pad_id=ids.get("pad", -1), byte_fallback=BYTE in types, add_dummy_prefix=add_prefix)
    # added tokens, as transformers' LlamaConverter makes them: the control, unknown and user-defined
    # pieces, none normalized; tokenizer_config.json lists what a reader overwrote (score -1000)
    added = [adjust(dict(_added(i, tokens[i], types[i] != USER_DEFINED), normalized=False)) for i in range(end)
             if types[i] in (CONTROL, UNKNOWN, USER_DEFINED)]
    decoder_added = [a for a in added if scores[a["id"]] == -1000.0]
    normalizers: List[Dict[str, Any]] = []
    if add_prefix:
        normalizers.append({"type": "Prepend", "prepend": "\u2581"})
    normalizers.append({"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"})
    decoders: List[Dict[str, Any]] = [{"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
                                      {"type": "ByteFallback"}, {"type": "Fuse"}]
    if add_prefix:
        decoders.append({"type": "Strip", "content": " ", "start": 1, "stop": 0})
    add_bos = md.get("tokenizer.ggml.add_bos_token")
    add_eos = md.get("tokenizer.ggml.add_eos_token")
    add_bos = True if add_bos is None else bool(add_bos)  # LlamaTokenizer's default
    bos = (tokens[ids["bos"]], ids["bos"]) if "bos" in ids and add_bos else None
    eos = (tokens[ids["eos"]], ids["eos"]) if "eos" in ids and add_eos else None
    vocab_tokens = tokens[:end]
    tj = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
        "normalizer": {"type": "Sequence", "normalizers": normalizers} if len(normalizers) > 1 else normalizers[0],
        "pre_tokenizer": None,
        "post_processor": _template(bos, eos) if (bos or eos) else None,
        "decoder": {"type": "Sequence", "decoders": decoders},
        "model": {"type": "BPE", "dropout": None, "unk_token": tokens[unk] if unk < end else None,
                  "continuing_subword_prefix": None, "end_of_word_suffix": None, "fuse_unk": True,
                  "byte_fallback": BYTE in types, "ignore_merges": False,
                  "vocab": {t: i for i, t in enumerate(vocab_tokens)},
                  "merges": spm_merges(vocab_tokens, scores[:end])},
    }
    tc = _tokenizer_config(md, tokens, decoder_added, tokenizer_class, add_flags=True)
    if "unk" in ids and "unk_token" not in tc:
        tc["unk_token"] = tokens[ids["unk"]]
    tc["legacy"] = True
    return {"tokenizer.model": proto, "tokenizer.json": tj, "tokenizer_config.json": tc}


def _gemma4(md: Mapping[str, Any], tokenizer_class: str, adjust: Adjust) -> Dict[str, Any]:
    """Gemma 4's tokenizer.json (``tokenizer.ggml.model`` ``gemma4``): SentencePiece-style BPE over
    ``▁`` with byte fallback and the file's merges, spaces split off before each word as Gemma's
    tokenizer.json does; CONTROL tokens are special added tokens named in tokenizer_config.json
    (the reader makes exactly the named ones CONTROL), USER_DEFINED ones (the chat-parser markers)
    plain added tokens."""
    tokens: List[str] = list(md["tokenizer.ggml.tokens"])
    types: List[int] = list(md.get("tokenizer.ggml.token_type") or [NORMAL] * len(tokens))
    merges: List[str] = list(md.get("tokenizer.ggml.merges") or [])
    ids = dict(_special_ids(md))
    added = [adjust(dict(_added(i, t, ty == CONTROL), normalized=False)) for i, (t, ty) in enumerate(zip(tokens, types))
             if ty in (CONTROL, USER_DEFINED, UNKNOWN)]
    add_bos = md.get("tokenizer.ggml.add_bos_token")
    bos = (tokens[ids["bos"]], ids["bos"]) if "bos" in ids and add_bos else None
    eos = (tokens[ids["eos"]], ids["eos"]) if "eos" in ids and md.get("tokenizer.ggml.add_eos_token") else None
    tj = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
        "normalizer": {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"},
        "pre_tokenizer": {"type": "Split", "pattern": {"String": " "}, "behavior": "MergedWithPrevious", "invert": False},
        "post_processor": _template(bos, eos) if (bos or eos) else None,
        "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
                                                     {"type": "ByteFallback"}, {"type": "Fuse"}]},
        "model": {"type": "BPE", "dropout": None, "unk_token": tokens[ids["unk"]] if "unk" in ids else None,
                  "continuing_subword_prefix": None, "end_of_word_suffix": None, "fuse_unk": True,
                  "byte_fallback": BYTE in types, "ignore_merges": False,
                  "vocab": {t: i for i, t in enumerate(tokens)}, "merges": [m.split(" ", 1) for m in merges]},
    }
    tc = _tokenizer_config(md, tokens, [a for a in added if a["special"]], tokenizer_class, add_flags=False)
    named = {tc[k] for k in tc if k.endswith("_token") and isinstance(tc[k], str)}
    extra = [t for t, ty in zip(tokens, types) if ty == CONTROL and t not in named]
    if extra:
        tc["additional_special_tokens"] = extra
    return {"tokenizer.json": tj, "tokenizer_config.json": tc}


def tokenizer_files(md: Mapping[str, Any], tokenizer_class: str, adjust: Optional[Adjust] = None) -> Dict[str, Any]:
    """The tokenizer files (name → JSON-able dict, or bytes) for a GGUF file's metadata ``md``;
    ``tokenizer_class`` is tokenizer_config.json's, ``adjust`` may change each added token's
    flags (the adapter's choices: :meth:`~wick.convert.archs.Adapter.export_added_token`)."""
    model = md.get("tokenizer.ggml.model")
    adjust = adjust or (lambda t: t)
    if model == "gpt2":
        return _gpt2(md, tokenizer_class, adjust)
    if model == "llama":
        return _llama(md, tokenizer_class, adjust)
    if model == "gemma4":
        return _gemma4(md, tokenizer_class, adjust)
    raise UnsupportedExportError(f"export-hf: tokenizer.ggml.model {model!r} cannot be rebuilt yet; supported: "
                                 "'gpt2' (byte-level BPE), 'llama' (SentencePiece), 'gemma4'")
