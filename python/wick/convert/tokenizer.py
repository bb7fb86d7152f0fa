"""Tokenizer metadata (``tokenizer.*`` GGUF keys) from Hugging Face tokenizer files.

No tokenizer library is used: everything is read from the JSON files (and the
SentencePiece protobuf) directly, reproducing what llama.cpp's
``convert_hf_to_gguf.py`` (``_set_vocab_sentencepiece``, ``_set_vocab_llama_hf``,
``_set_vocab_gpt2``) and gguf-py's ``SpecialVocab`` write, key for key and in
the same order.

Readers (an adapter lists the ones to try, in order; the first whose files
exist wins, as in the converter):

``spm``
    ``tokenizer.model`` (SentencePiece protobuf, parsed here): tokens, scores
    and types of every piece; ids up to config ``vocab_size`` without a piece
    become ``[PAD{id}]`` (score -10000, UNUSED); ``added_tokens.json`` and
    tokenizer_config.json ``added_tokens_decoder`` entries overwrite their ids
    (score -1000; CONTROL if special or special-looking, else USER_DEFINED).
    ``tokenizer.ggml.model = "llama"``, ``pre = "default"``.
``llama_hf``
    a Llama-2-style ``tokenizer.json`` (BPE with ``byte_fallback`` and a
    ``Sequence`` decoder) without tokenizer.model: base vocabulary then added
    tokens above it, score -1000 each, ``<0xNN>`` → BYTE, the tokenizer's
    special tokens → CONTROL. Model ``"llama"``, pre ``"default"``.
    Unlike the converter, ids up to config ``vocab_size`` that have no token
    are filled with ``[PAD{id}]`` (UNUSED) so the file matches the embedding.
``phi3_spm``
    Phi-3's own SentencePiece reading (``Phi3MiniModel.set_vocab``): as
    ``spm`` up to added_tokens.json, then tokenizer_config.json
    ``added_tokens_decoder`` and tokenizer.json ``added_tokens`` overwrite their
    ids verbatim (score -1000; CONTROL only when marked special, else
    USER_DEFINED; no special-looking heuristic, no ``▁`` rewriting).
``gemma4``
    Gemma 4's reading (``Gemma4Model.set_vocab``): ``tokenizer.json`` as
    ``llama_hf`` reads it (not padded to config ``vocab_size``), except that
    the chat-parser markers ``<|channel>``, ``<channel|>``, ``<|tool_call>``,
    ``<tool_call|>``, ``<|tool_response>``, ``<tool_response|>`` and ``<|"|>``
    are USER_DEFINED (always rendered). Model ``"gemma4"``, no ``pre`` key;
    merges are written (``SpecialVocab(load_merges=True)``) when there are any.
``gpt2``
    byte-level BPE ``tokenizer.json`` (Llama 3, Qwen2/2.5/3, Mistral-Nemo,
    SmolLM): ids 0 … config ``vocab_size``-1 take the vocabulary / added-token
    strings verbatim; holes become ``[PAD{id}]`` (UNUSED); added tokens are
    CONTROL when special or special-looking (``<|…|>``, ``<｜…｜>``,
    ``<pad>``, ``<mask>``, ``<unused…>``…), else USER_DEFINED (with ``▁`` → space).
    "Special" follows transformers: tokenizer_config.json ``added_tokens_decoder``
    flags win over tokenizer.json's, and every token tokenizer_config.json names
    (bos/eos/unk/sep/pad/cls/mask, additional_special_tokens) is special;
    merges from ``model.merges`` in either form (``"a b"`` strings, or
    ``["a", "b"]`` pairs, joined by one space with literal spaces inside a part
    written as U+0120), else ``merges.txt``. Model ``"gpt2"``.

``tiktoken``
    Kimi K2's vocabulary, which the converter reaches only through the model's
    remote code (tokenization_kimi.py's ``TikTokenTokenizer``); Wick reads the
    plain file instead. ``tiktoken.model`` holds one ``<base64 bytes> <rank>``
    line per token, ranks 0 … n-1: token ``rank`` is its bytes in GPT-2's
    byte-to-unicode alphabet (NORMAL); the 256 ids after the ranks are the
    reserved special tokens (CONTROL), named by tokenizer_config.json
    ``added_tokens_decoder``, else ``<|reserved_token_{id}|>``; ids up to
    config ``vocab_size`` without a token become ``[PAD{id}]`` (UNUSED).
    Merges are recovered from the ranks as the converter does (a token whose
    byte-pair encoding with the lower ranks ends in exactly two parts is the
    merge of those parts), in file order. Model ``"gpt2"``, pre ``"kimi-k2"``.
    Only for a tokenizer_config.json naming ``TikTokenTokenizer``; any other
    tokenizer that needs the model's code — or a tiktoken.model that is not
    in the plain form — is refused (:class:`UnsupportedTokenizerError` /
    :class:`TokenizerError`, naming the class or the line).

Special tokens follow ``SpecialVocab``: ids of bos/eos/unk/sep/pad/mask from
tokenizer_config.json ``*_token`` looked up in tokenizer.json ``added_tokens``,
then config.json ``*_token_id`` (integers only; lists such as Llama 3.1's
``eos_token_id: [...]`` are ignored), first source wins; ``add_bos``/``add_eos``/
``add_sep`` inferred from tokenizer.json ``post_processor`` (ByteLevel,
RobertaProcessing, TemplateProcessing) then tokenizer_config.json
``add_*_token``; the chat template from tokenizer_config.json, else
``chat_template.jinja`` (+ ``additional_chat_templates/*.jinja``), else
``chat_template.json`` — only when tokenizer_config.json exists; lowercase /
strip-accents normalizer flags.

The BPE pre-tokenizer (``tokenizer.ggml.pre``)
----------------------------------------------
llama.cpp's converter identifies the pre-tokenizer by encoding a probe string
with the Hugging Face tokenizer (special tokens included) and hashing the ids.
Without a tokenizer library Wick instead recognises the *structure* of
tokenizer.json — which is what llama.cpp actually re-implements for each name
(its regexes):

==========================================================  =============  ====================
ByteLevel must have ``add_prefix_space: false``. Which of ``llama-bpe`` and
``smaug-bpe`` the converter names Llama 3's vocabulary depends only on whether
the post-processor prepends a token (the probe is encoded with special tokens),
not on the model's ``ignore_merges``; tests/golden/pre_tokenizer_evidence.json
records the real converter's answers on llama.cpp's own copies of real
vocabularies (Llama 3, Qwen2, Command R, Refact, StarCoder, GPT-2), which
tests/test_convert_tokenizer.py checks the rule against. An alias is a name the
converter gives a structure when the vocabulary is another one (cl100k is
``dbrx``, Command R's 256k vocabulary ``command-r``…): a shrunk or re-packaged
vocabulary cannot tell them apart, so an adapter names the one its family's
real vocabulary hashes to (``Adapter.pre_tokenizer_names``, e.g.
``{"smaug-bpe": "dbrx"}`` for OLMo 2), and only an alias of the detected
structure is taken. llama.cpp applies the same regexes to a name and its
aliases (``refact``/``starcoder`` differ from ``smollm``/``command-r`` only in
cleaning spaces when detokenizing; ``glm4`` also ignores merges and adds no
BOS). Anything else raises
:class:`~wick.convert.errors.UnsupportedTokenizerError` (pass ``tokenizer_pre=``
to :func:`wick.convert.build_plan` to force a name).

Known deviations from the converter (documented, deliberate): added tokens with
``normalized: false`` are not round-tripped through a tokenizer (identity for
ordinary special tokens); the set-ordered ``tokenizer.chat_templates`` list is
written in file order.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..gguf import values as V
from .errors import TokenizerError, UnsupportedTokenizerError
from .options import spell

# token types (llama_token_type / gguf TokenType)
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6

TOKENIZER_JSON = "tokenizer.json"
TOKENIZER_CONFIG = "tokenizer_config.json"
TOKENIZER_MODEL = "tokenizer.model"
TIKTOKEN_MODEL = "tiktoken.model"


@dataclass
class TokenizerFiles:
    """The tokenizer-related files of a model directory, already parsed.

    Every field is optional; ``None`` means the file does not exist.
    ``tokenizer_model`` is the raw bytes of tokenizer.model (SentencePiece
    protobuf), ``tiktoken_model`` those of tiktoken.model. ``additional_chat_templates`` maps a template name (file stem)
    to its text, in file-name order.
    """

    tokenizer_json: Optional[Dict[str, Any]] = None
    tokenizer_config: Optional[Dict[str, Any]] = None
    tokenizer_model: Optional[bytes] = None
    added_tokens_json: Optional[Dict[str, Any]] = None
    special_tokens_map: Optional[Dict[str, Any]] = None
    merges_txt: Optional[str] = None
    chat_template_jinja: Optional[str] = None
    chat_template_json: Optional[Dict[str, Any]] = None
    additional_chat_templates: Optional[Dict[str, str]] = None
    tiktoken_model: Optional[bytes] = None


@dataclass
class Vocab:
    """The result of reading a tokenizer: what :func:`tokenizer_metadata` writes."""

    model: str  # "llama", "gpt2" or "gemma4"
    pre: str
    tokens: List[str]
    types: List[int]
    scores: Optional[List[float]] = None
    reader: str = ""
    bos_id: Optional[int] = None  # filled from the special-token KVs for display
    merges: Optional[List[str]] = None  # merges the reader derived itself (tiktoken), else None


class OrderedKVs:
    """Mimics GGUFWriter's dict: re-adding a key keeps its first position."""

    def __init__(self) -> None:
        self._d: Dict[str, V.KV] = {}

    def add(self, kv: V.KV) -> None:
        """Set ``kv``; a key already present keeps its position and takes the new value."""
        self._d[kv.key] = kv

    def remove(self, key: str) -> None:
        """Drop ``key`` if present."""
        self._d.pop(key, None)

    def __contains__(self, key: str) -> bool:
        return key in self._d

    def items(self) -> List[V.KV]:
        """The entries, in first-insertion order."""
        return list(self._d.values())


# ----------------------------------------------------------------- helpers
def does_token_look_special(token: str) -> bool:
    """The converter's heuristic for added tokens that should be CONTROL."""
    if token in ("<pad>", "<mask>", "<2mass>", "[@BOS@]"):
        return True
    if token.startswith("<|") and token.endswith("|>"):
        return True
    if token.startswith("<｜") and token.endswith("｜>"):
        return True
    return token.startswith("<unused") and token.endswith(">")


def _need_dict(name: str, d: Any, what: str) -> Dict[str, Any]:
    if not isinstance(d, dict):
        raise TokenizerError(f"convert: {name}: {what} must be an object, got {type(d).__name__}", name)
    return d


def _added_tokens(tj: Optional[Dict[str, Any]]) -> List[Dict[str, Any]]:
    if not tj:
        return []
    at = tj.get("added_tokens", [])
    if at is None:
        return []
    if not isinstance(at, list):
        raise TokenizerError(f"convert: {TOKENIZER_JSON}: 'added_tokens' must be a list", TOKENIZER_JSON)
    for i, a in enumerate(at):
        if not isinstance(a, dict) or not isinstance(a.get("content"), str) or isinstance(a.get("id"), bool) \
                or not isinstance(a.get("id"), int) or a["id"] < 0:
            raise TokenizerError(f"convert: {TOKENIZER_JSON}: added_tokens[{i}] needs a string 'content' and a "
                                 f"non-negative integer 'id', got {a!r}", TOKENIZER_JSON)
    return at


def _model_vocab(tj: Dict[str, Any]) -> Dict[str, int]:
    model = _need_dict(TOKENIZER_JSON, tj.get("model"), "'model'")
    vocab = model.get("vocab")
    if not isinstance(vocab, dict):
        raise TokenizerError(f"convert: {TOKENIZER_JSON}: 'model.vocab' must be an object token → id "
                             f"(model type {model.get('type')!r} is not supported)", TOKENIZER_JSON)
    ids = vocab.values()
    if set(map(type, ids)) <= {int} and min(ids, default=0) >= 0:
        return vocab  # plain non-negative ints: checked at C speed
    for tok, i in vocab.items():
        if isinstance(i, bool) or not isinstance(i, int) or i < 0:
            raise TokenizerError(f"convert: {TOKENIZER_JSON}: model.vocab[{tok!r}] must be a non-negative integer id, got {i!r}",
                                 TOKENIZER_JSON)
    return vocab


# ---------------------------------------------------------- pre-tokenizer
LLAMA3_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
               r"|\s*[\r\n]+|\s+(?!\S)|\s+")
# Qwen3.5 / 3.6: Qwen2's with combining marks (\p{M}) inside letter runs (llama.cpp's LLAMA_VOCAB_PRE_TYPE_QWEN35)
QWEN35_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")
O200K_REGEX = (r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
               r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
               r"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+")
TEKKEN_REGEX = (r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?"
                r"[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")
O200K_REGEX = (r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
               r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
               r"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+")
# DeepSeek LLM (and V2): six Split rules (newlines, Latin-script letters, ASCII/full-width
# punctuation, trailing spaces, CJK, digits); DeepSeek-V3/R1: three
DEEPSEEK_LLM_SPLITS = (
    "[\r\n]",
    "\\s?[A-Za-z\xb5\xc0-\xd6\xd8-\xf6\xf8-\u01ba\u01bc-\u01bf\u01c4-\u0293\u0295-\u02af\u0370-\u0373\u0376"
    "\u0377\u037b-\u037d\u037f\u0386\u0388-\u038a\u038c\u038e-\u03a1\u03a3-\u03f5\u03f7-\u0481\u048a-\u052f"
    "\u0531-\u0556\u10a0-\u10c5\u13a0-\u13f5\u13f8-\u13fd\u1c90-\u1cba\u1cbd-\u1cbf\u1d00-\u1d2b\u1d6b-\u1d77"
    "\u1d79-\u1d9a\u1e00-\u1f15\u1f18-\u1f1d\u1f20-\u1f45\u1f48-\u1f4d\u1f50-\u1f57\u1f59\u1f5b\u1f5d\u1f5f-\u1f7d"
    "\u1f80-\u1fb4\u1fb6-\u1fbc\u1fbe\u1fc2-\u1fc4\u1fc6-\u1fcc\u1fd0-\u1fd3\u1fd6-\u1fdb\u1fe0-\u1fec\u1ff2-\u1ff4"
    "\u1ff6-\u1ffc\u2102\u2107\u210a-\u2113\u2115\u2119-\u211d\u2124\u2126\u2128\u212a-\u212d\u212f-\u2134\u2139"
    "\u213c-\u213f\u2145-\u2149\u214e\u2183\u2184\u2c00-\u2c7b\u2c7e-\u2ce4\u2ceb-\u2cee\u2cf2\u2cf3\ua640-\ua66d"
    "\ua680-\ua69b\ua722-\ua76f\ua771-\ua787\ua78b-\ua78e\uab70-\uabbf\ufb00-\ufb06\ufb13-\ufb17\uff21-\uff3a"
    "\uff41-\uff5a\U00010400-\U0001044f\U000104b0-\U000104d3\U000104d8-\U000104fb\U00010c80-\U00010cb2"
    "\U00010cc0-\U00010cf2\U000118a0-\U000118df\U0001e900-\U0001e943]+",
    "\\s?[!-/:-~\uff01-\uff0f\uff1a-\uff5e\u2018-\u201f\u3000-\u3002]+",
    "\\s+$",
    "[\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff]+",
    "\\p{N}+",
)
DEEPSEEK_V3_SPLITS = (
    r"\p{N}{1,3}",
    "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+",
    r"[!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+"
    r"| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
)


def pre_tokenizer_signature(tj: Dict[str, Any]) -> Tuple[Tuple[Any, ...], ...]:
    """A normalised description of tokenizer.json's ``pre_tokenizer`` (one tuple per step)."""
    pre = tj.get("pre_tokenizer")
    if pre is None:
        return ()
    pre = _need_dict(TOKENIZER_JSON, pre, "'pre_tokenizer'")
    steps = pre.get("pretokenizers") if pre.get("type") == "Sequence" else [pre]
    if not isinstance(steps, list):
        raise TokenizerError(f"convert: {TOKENIZER_JSON}: pre_tokenizer Sequence needs a 'pretokenizers' list", TOKENIZER_JSON)
    sig = []
    for s in steps:
        s = _need_dict(TOKENIZER_JSON, s, "a pre_tokenizer step")
        t = s.get("type")
        if t == "Split":
            pat = s.get("pattern") or {}
            rx = pat.get("Regex") if isinstance(pat, dict) else None
            lit = pat.get("String") if isinstance(pat, dict) else None
            sig.append(("Split", "regex" if rx is not None else "string", rx if rx is not None else lit,
                        s.get("behavior"), bool(s.get("invert", False))))
        elif t == "ByteLevel":
            sig.append(("ByteLevel", bool(s.get("add_prefix_space", True)), bool(s.get("use_regex", True))))
        elif t == "Digits":
            sig.append(("Digits", bool(s.get("individual_digits", False))))
        else:
            sig.append((str(t),))
    return tuple(sig)


@dataclass(frozen=True)
class _PreRule:
    """One row of the structural ``tokenizer.ggml.pre`` rule (see the module docstring)."""

    name: str
    steps: Tuple[Tuple[Any, ...], ...]  # pre_tokenizer_signature()
    bos: Optional[bool] = None  # whether the post-processor must (True) or must not (False) prepend a token
    # other names the converter writes for this same structure, chosen by the family's vocabulary
    # (llama.cpp applies the same pre-tokenizer regexes to all of them)
    aliases: Tuple[str, ...] = ()


_BYTE_LEVEL = ("ByteLevel", False, False)
_PRE_RULES = (
    _PreRule("qwen2", (("Split", "regex", QWEN2_REGEX, "Isolated", False), _BYTE_LEVEL)),
    _PreRule("qwen35", (("Split", "regex", QWEN35_REGEX, "Isolated", False), _BYTE_LEVEL)),
    _PreRule("tekken", (("Split", "regex", TEKKEN_REGEX, "Isolated", False), _BYTE_LEVEL)),
    _PreRule("gpt-4o", (("Split", "regex", O200K_REGEX, "Isolated", False), _BYTE_LEVEL), aliases=("llama4",)),
    _PreRule("llama-bpe", (("Split", "regex", LLAMA3_REGEX, "Isolated", False), _BYTE_LEVEL), bos=True),
    _PreRule("smaug-bpe", (("Split", "regex", LLAMA3_REGEX, "Isolated", False), _BYTE_LEVEL), bos=False,
             aliases=("dbrx", "glm4")),
    _PreRule("smollm", (("Digits", True), ("ByteLevel", False, True)), aliases=("refact", "starcoder", "command-r")),
    _PreRule("gpt-2", (("ByteLevel", False, True),), aliases=("exaone4", "olmo")),
    _PreRule("deepseek-llm", tuple(("Split", "regex", r, "Isolated", False) for r in DEEPSEEK_LLM_SPLITS)
             + (_BYTE_LEVEL,)),
    _PreRule("deepseek-v3", tuple(("Split", "regex", r, "Isolated", False) for r in DEEPSEEK_V3_SPLITS)
             + (_BYTE_LEVEL,)),
)


#: the normalizer of a family's tokenizer.json, by ``tokenizer.ggml.pre`` (export-hf writes it back;
#: the GGUF does not record it and llama.cpp applies none)
PRE_NORMALIZERS: Dict[str, Dict[str, Any]] = {"qwen2": {"type": "NFC"}}
#: the ``tokenizer.ggml.pre`` names for which llama.cpp takes a word found whole in the vocabulary
#: without merging it (llama-vocab.cpp's ``ignore_merges``; tokenizer.json's ``model.ignore_merges``)
PRE_IGNORE_MERGES = ("llama-bpe", "glm4", "tekken")


def pre_tokenizer_json(name: str) -> Tuple[Dict[str, Any], Optional[Dict[str, Any]]]:
    """The inverse of :func:`detect_pre_tokenizer`: tokenizer.json's ``pre_tokenizer`` of the rule
    that names ``name`` (or lists it as an alias), and the family's normalizer (or None).

    Raises :class:`UnsupportedTokenizerError` listing the names the rule table knows.
    """
    for rule in _PRE_RULES:
        if name == rule.name or name in rule.aliases:
            steps: List[Dict[str, Any]] = []
            for step in rule.steps:
                if step[0] == "Split":
                    key = "Regex" if step[1] == "regex" else "String"
                    steps.append({"type": "Split", "pattern": {key: step[2]}, "behavior": step[3], "invert": step[4]})
                elif step[0] == "ByteLevel":
                    steps.append({"type": "ByteLevel", "add_prefix_space": step[1], "trim_offsets": True,
                                  "use_regex": step[2]})
                elif step[0] == "Digits":
                    steps.append({"type": "Digits", "individual_digits": step[1]})
                else:  # pragma: no cover - the table holds only these three
                    raise ValueError(f"pre-tokenizer step {step!r}")
            pre = steps[0] if len(steps) == 1 else {"type": "Sequence", "pretokenizers": steps}
            return pre, PRE_NORMALIZERS.get(rule.name)
    known = ", ".join(dict.fromkeys(n for r in _PRE_RULES for n in (r.name,) + r.aliases))
    raise UnsupportedTokenizerError(f"export-hf: tokenizer.ggml.pre {name!r} has no known Hugging Face "
                                    f"pre-tokenizer; known: {known}")


def post_processor_prepends(tj: Dict[str, Any]) -> bool:
    """Whether tokenizer.json's post-processor puts a special token before the text (a BOS or CLS).

    The converter's probe encodes with the special tokens, so this changes the ids it hashes:
    with Llama 3's vocabulary it is what separates ``llama-bpe`` from ``smaug-bpe``
    (tests/golden/pre_tokenizer_evidence.json).
    """
    post = tj.get("post_processor")
    if not isinstance(post, dict):
        return False
    procs = post.get("processors") if post.get("type") == "Sequence" else [post]
    for p in procs if isinstance(procs, list) else []:
        if not isinstance(p, dict):
            continue
        if p.get("type") in ("RobertaProcessing", "BertProcessing"):
            return True
        if p.get("type") == "TemplateProcessing":
            single = p.get("single") or []
            if single and isinstance(single[0], dict) and "SpecialToken" in single[0]:
                return True
    return False


def detect_pre_tokenizer(tj: Dict[str, Any], names: Optional[Dict[str, str]] = None) -> str:
    """The ``tokenizer.ggml.pre`` name for a byte-level BPE tokenizer.json (rule table in the module docstring).

    ``names`` maps a structural name to the alias the family's real vocabulary hashes to in the
    converter (an adapter's ``pre_tokenizer_names``, e.g. ``{"smaug-bpe": "dbrx"}`` for OLMo 2);
    only an alias the rule lists for that structure is taken.
    """
    sig = pre_tokenizer_signature(tj)
    bos = post_processor_prepends(tj)
    for rule in _PRE_RULES:
        if sig != rule.steps or (rule.bos is not None and rule.bos != bos):
            continue
        alias = (names or {}).get(rule.name)
        if alias is not None and alias in rule.aliases:
            return alias
        return rule.name
    known = ", ".join(dict.fromkeys(n for r in _PRE_RULES for n in (r.name,) + r.aliases))
    raise UnsupportedTokenizerError(
        f"convert: {TOKENIZER_JSON}: the BPE pre-tokenizer is not recognised (pre_tokenizer = {sig!r}); "
        f"recognised: {known}. If llama.cpp knows this tokenizer, name it: {spell('tokenizer_pre', '<name>')}")


# -------------------------------------------------------- SentencePiece
def _varint(buf: bytes, pos: int, where: str) -> Tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if pos >= len(buf):
            raise TokenizerError(f"convert: {TOKENIZER_MODEL}: truncated varint in {where}", TOKENIZER_MODEL)
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise TokenizerError(f"convert: {TOKENIZER_MODEL}: varint too long in {where}", TOKENIZER_MODEL)


def _fields(buf: bytes, where: str):
    """Iterate (field number, wire type, value) over one protobuf message."""
    pos = 0
    n = len(buf)
    while pos < n:
        key, pos = _varint(buf, pos, where)
        fno, wt = key >> 3, key & 7
        if fno == 0:
            raise TokenizerError(f"convert: {TOKENIZER_MODEL}: field number 0 in {where}", TOKENIZER_MODEL)
        if wt == 0:
            v, pos = _varint(buf, pos, where)
        elif wt == 1:
            if pos + 8 > n:
                raise TokenizerError(f"convert: {TOKENIZER_MODEL}: truncated fixed64 in {where}", TOKENIZER_MODEL)
            v, pos = buf[pos:pos + 8], pos + 8
        elif wt == 2:
            ln, pos = _varint(buf, pos, where)
            if pos + ln > n:
                raise TokenizerError(f"convert: {TOKENIZER_MODEL}: length {ln} runs past the end of {where}", TOKENIZER_MODEL)
            v, pos = buf[pos:pos + ln], pos + ln
        elif wt == 5:
            if pos + 4 > n:
                raise TokenizerError(f"convert: {TOKENIZER_MODEL}: truncated fixed32 in {where}", TOKENIZER_MODEL)
            v, pos = buf[pos:pos + 4], pos + 4
        else:
            raise TokenizerError(f"convert: {TOKENIZER_MODEL}: unsupported protobuf wire type {wt} in {where}", TOKENIZER_MODEL)
        yield fno, wt, v


def parse_sentencepiece(data: bytes) -> List[Tuple[str, float, int]]:
    """(piece, score, type) of every piece of a SentencePiece ``ModelProto``.

    Types are SentencePiece's: 1 NORMAL, 2 UNKNOWN, 3 CONTROL, 4 USER_DEFINED,
    5 UNUSED, 6 BYTE (missing = NORMAL); a missing score is 0.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TokenizerError(f"convert: {TOKENIZER_MODEL}: expected bytes", TOKENIZER_MODEL)
    data = bytes(data)
    pieces = []
    for fno, wt, v in _fields(data, "ModelProto"):
        if fno != 1:
            continue
        if wt != 2:
            raise TokenizerError(f"convert: {TOKENIZER_MODEL}: ModelProto.pieces has wire type {wt}", TOKENIZER_MODEL)
        idx = len(pieces)
        piece, score, ptype = None, 0.0, 1
        for f2, w2, v2 in _fields(v, f"piece {idx}"):
            if f2 == 1 and w2 == 2:
                try:
                    piece = v2.decode("utf-8")
                except UnicodeDecodeError:
                    raise TokenizerError(f"convert: {TOKENIZER_MODEL}: piece {idx} is not valid UTF-8", TOKENIZER_MODEL) from None
            elif f2 == 2 and w2 == 5:
                score = struct.unpack("<f", v2)[0]
            elif f2 == 3 and w2 == 0:
                ptype = v2
        if piece is None:
            raise TokenizerError(f"convert: {TOKENIZER_MODEL}: piece {idx} has no text", TOKENIZER_MODEL)
        if not 1 <= ptype <= 6:
            raise TokenizerError(f"convert: {TOKENIZER_MODEL}: piece {idx} ({piece!r}) has unknown type {ptype}", TOKENIZER_MODEL)
        pieces.append((piece, score, ptype))
    if not pieces:
        raise TokenizerError(f"convert: {TOKENIZER_MODEL}: no pieces (is this a SentencePiece model?)", TOKENIZER_MODEL)
    return pieces


def _spm_pieces(files: TokenizerFiles, vocab_size: Optional[int]) -> Tuple[List[str], List[float], List[int]]:
    """tokenizer.model's pieces padded to ``vocab_size`` with ``[PAD{id}]``, then added_tokens.json."""
    pieces = parse_sentencepiece(files.tokenizer_model)
    n = vocab_size or len(pieces)
    tokens = [f"[PAD{i}]" for i in range(n)]
    scores = [-10000.0] * n
    types = [UNUSED] * n
    for i, (piece, score, ptype) in enumerate(pieces):
        if i >= n:
            break
        tokens[i] = piece
        scores[i] = score
        types[i] = {UNKNOWN: UNKNOWN, CONTROL: CONTROL, UNUSED: UNUSED, BYTE: BYTE}.get(ptype, NORMAL)
    if files.added_tokens_json is not None:
        _need_dict("added_tokens.json", files.added_tokens_json, "the file")
        for text, tid in files.added_tokens_json.items():
            if isinstance(tid, bool) or not isinstance(tid, int) or tid < 0:
                raise TokenizerError(f"convert: added_tokens.json: id of {text!r} must be a non-negative integer", "added_tokens.json")
            if tid >= n:
                continue
            tokens[tid], scores[tid], types[tid] = text, -1000.0, USER_DEFINED
    return tokens, scores, types


def _vocab_spm_phi3(files: TokenizerFiles, vocab_size: Optional[int]) -> Vocab:
    """Phi-3's own SentencePiece reading (``Phi3MiniModel.set_vocab``): after tokenizer.model and
    added_tokens.json, tokenizer_config.json ``added_tokens_decoder`` and then tokenizer.json
    ``added_tokens`` overwrite their ids as they are (score -1000; CONTROL when marked special,
    else USER_DEFINED — no special-looking heuristic, no ``▁`` rewriting)."""
    tokens, scores, types = _spm_pieces(files, vocab_size)
    n = len(tokens)
    overlays = [(TOKENIZER_CONFIG, tid, data) for tid, data in _added_tokens_decoder(files).items()]
    overlays += [(TOKENIZER_JSON, a["id"], a) for a in _added_tokens(files.tokenizer_json)]
    for where, tid, data in overlays:
        if tid < 0 or tid >= n:
            raise TokenizerError(f"convert: {where}: added token {data['content']!r} has id {tid}, beyond the "
                                 f"vocabulary of {n} (config.json vocab_size)", where)
        tokens[tid], scores[tid] = data["content"], -1000.0
        types[tid] = CONTROL if data.get("special") else USER_DEFINED
    return Vocab("llama", "default", tokens, types, scores, reader="phi3_spm")


def _vocab_spm(files: TokenizerFiles, vocab_size: Optional[int]) -> Vocab:
    tokens, scores, types = _spm_pieces(files, vocab_size)
    n = len(tokens)
    for tid, data in _added_tokens_decoder(files).items():
        if tid < 0 or tid >= n:
            continue
        tok = data["content"]
        if data.get("special") or does_token_look_special(tok):
            types[tid] = CONTROL
        else:
            tok = tok.replace("\u2581", " ")
            types[tid] = USER_DEFINED
        scores[tid] = -1000.0
        tokens[tid] = tok
    return Vocab("llama", "default", tokens, types, scores, reader="spm")


# ------------------------------------------------------------- llama_hf
_LLAMA_TOKENIZER_DEFAULTS = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}


def _special_token_strings(files: TokenizerFiles, llama_defaults: bool = True) -> List[str]:
    """transformers' ``all_special_tokens``: the tokens tokenizer_config.json / special_tokens_map.json name."""
    tc = dict(files.tokenizer_config or {})
    if llama_defaults and (str(tc.get("tokenizer_class", "")).startswith("LlamaTokenizer") or not tc.get("tokenizer_class")):
        for k, v in _LLAMA_TOKENIZER_DEFAULTS.items():
            tc.setdefault(k, v)
    for k, v in (files.special_tokens_map or {}).items():
        tc[k] = v

    def content(v: Any) -> Optional[str]:
        if isinstance(v, str):
            return v
        if isinstance(v, dict) and isinstance(v.get("content"), str):
            return v["content"]
        return None

    out: List[str] = []
    for k in ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"):
        c = content(tc.get(k))
        if c is not None and c not in out:
            out.append(c)
    for v in tc.get("additional_special_tokens", []) or []:
        c = content(v)
        if c is not None and c not in out:
            out.append(c)
    return out


def _added_tokens_decoder(files: TokenizerFiles) -> Dict[int, Dict[str, Any]]:
    tc = files.tokenizer_config or {}
    atd = tc.get("added_tokens_decoder") or {}
    _need_dict(TOKENIZER_CONFIG, atd, "'added_tokens_decoder'")
    out: Dict[int, Dict[str, Any]] = {}
    for key, data in atd.items():
        try:
            tid = int(key)
        except ValueError:
            raise TokenizerError(f"convert: {TOKENIZER_CONFIG}: added_tokens_decoder key {key!r} is not an id", TOKENIZER_CONFIG) from None
        if not isinstance(data, dict) or not isinstance(data.get("content"), str):
            raise TokenizerError(f"convert: {TOKENIZER_CONFIG}: added_tokens_decoder[{key}] needs a string 'content'", TOKENIZER_CONFIG)
        out[tid] = data
    return out


def _is_llama_hf(tj: Dict[str, Any]) -> bool:
    model = tj.get("model") if isinstance(tj.get("model"), dict) else {}
    if model.get("type") == "BPE" and model.get("ignore_merges", False) and not model.get("byte_fallback", True):
        return False  # Llama 3: handled by the gpt2 reader
    dec = tj.get("decoder") if isinstance(tj.get("decoder"), dict) else {}
    return model.get("type") == "BPE" and bool(model.get("byte_fallback", False)) and dec.get("type") == "Sequence"


_BYTE_TOKEN = re.compile(r"<0x[0-9A-Fa-f]{2}>")


def _vocab_llama_hf(files: TokenizerFiles, vocab_size: Optional[int]) -> Vocab:
    tj = files.tokenizer_json
    base = _model_vocab(tj)
    n_base = len(base)
    reverse: Dict[int, str] = {}
    for tok, i in base.items():
        reverse[i] = tok
    if sorted(reverse) != list(range(n_base)):
        raise TokenizerError(f"convert: {TOKENIZER_JSON}: model.vocab ids are not 0…{n_base - 1} without gaps", TOKENIZER_JSON)
    added = {a["content"]: a["id"] for a in _added_tokens(tj)}
    full = dict(base)
    full.update(added)
    specials = _special_token_strings(files)
    special_ids = {full[s] for s in specials if s in full}
    tokens: List[str] = []
    types: List[int] = []
    added_list = sorted(((t, i) for t, i in added.items() if i >= n_base), key=lambda x: x[1])
    added_ids = {i for _, i in added_list}
    for i in range(n_base):
        if i in added_ids:
            continue
        text = reverse[i]
        tokens.append(text)
        if _BYTE_TOKEN.fullmatch(text):
            types.append(BYTE)
        else:
            types.append(CONTROL if i in special_ids else NORMAL)
    for _pos, (text, tid) in enumerate(added_list):
        if tid != len(tokens):
            raise TokenizerError(f"convert: {TOKENIZER_JSON}: added token {text!r} has id {tid}, expected {len(tokens)} "
                                 "(added tokens must follow the base vocabulary without gaps)", TOKENIZER_JSON)
        tokens.append(text)
        types.append(CONTROL if text in specials else USER_DEFINED)
    scores = [-1000.0] * len(tokens)
    if vocab_size is not None and vocab_size > len(tokens):
        for i in range(len(tokens), vocab_size):
            tokens.append(f"[PAD{i}]")
            types.append(UNUSED)
            scores.append(-1000.0)
    return Vocab("llama", "default", tokens, types, scores, reader="llama_hf")


# --------------------------------------------------------------- gemma4
#: tokens Gemma4Model.set_vocab makes USER_DEFINED so that llama.cpp's chat parser sees them
GEMMA4_VISIBLE_TOKENS = frozenset({"<|channel>", "<channel|>", "<|tool_call>", "<tool_call|>", "<|tool_response>",
                                   "<tool_response|>", '<|"|>'})


def _vocab_gemma4(files: TokenizerFiles) -> Vocab:
    v = _vocab_llama_hf(files, None)
    types = [USER_DEFINED if t in GEMMA4_VISIBLE_TOKENS else ty for t, ty in zip(v.tokens, v.types)]
    return Vocab("gemma4", "", v.tokens, types, v.scores, reader="gemma4")


# ----------------------------------------------------------------- gpt2
def _vocab_gpt2(files: TokenizerFiles, vocab_size: Optional[int], pre_override: Optional[str],
                pre_names: Optional[Dict[str, str]] = None) -> Vocab:
    tj = files.tokenizer_json
    base = _model_vocab(tj)
    added = _added_tokens(tj)
    atd = _added_tokens_decoder(files)
    full = dict(base)
    for a in added:
        full[a["content"]] = a["id"]
    for tid, data in atd.items():
        full.setdefault(data["content"], tid)
    n = vocab_size if vocab_size is not None else len(full)
    if full and max(full.values()) >= n:
        worst = max(full, key=full.get)
        raise TokenizerError(f"convert: {TOKENIZER_JSON}: token {worst!r} has id {full[worst]}, but config.json vocab_size is {n}",
                             TOKENIZER_JSON)
    pre = pre_override if pre_override is not None else detect_pre_tokenizer(tj, pre_names)
    ids = list(full.values())
    if ids == list(range(len(ids))):
        # The usual layout (tokens listed in id order, added ones after them): the
        # tokens are the keys as they are, no id is shared, the holes are at the end.
        tokens: List[Any] = list(full) + [None] * (n - len(ids))
    else:
        reverse: Dict[int, str] = {i: tok for tok, i in full.items()}
        if len(reverse) != len(full):  # two tokens share an id: name them
            seen: Dict[int, str] = {}
            for tok, i in full.items():
                if i in seen:
                    raise TokenizerError(f"convert: {TOKENIZER_JSON}: id {i} is used by both {seen[i]!r} and {tok!r}",
                                         TOKENIZER_JSON)
                seen[i] = tok
        tokens = list(map(reverse.get, range(n)))
    # What transformers treats as added tokens, and which of them are special:
    # tokenizer.json added_tokens, tokenizer_config.json added_tokens_decoder
    # (whose flags win), and the tokens tokenizer_config.json names as special
    # (bos/eos/…/additional_special_tokens), which are always special.
    named = set(_special_token_strings(files, llama_defaults=False))
    special_by_id: Dict[int, bool] = {}
    for a in added:
        special_by_id.setdefault(a["id"], bool(a.get("special")))
    for tid, data in atd.items():
        special_by_id[tid] = bool(data.get("special"))
    added_contents = {a["content"] for a in added} | {d["content"] for d in atd.values()} | (named & set(full))
    # Every id is NORMAL but the few added tokens and the holes, which are
    # visited alone (a 128K-token vocabulary is a visible part of planning).
    types: List[int] = [NORMAL] * n
    if len(ids) < n:  # holes (ids are distinct by now)
        for i in [i for i, tok in enumerate(tokens) if tok is None]:
            tokens[i], types[i] = f"[PAD{i}]", UNUSED
    for tok in added_contents:
        i = full.get(tok)
        if i is None:
            continue
        special = special_by_id.get(i, False) or tok in named
        if special or does_token_look_special(tok):
            types[i] = CONTROL
        else:
            tokens[i], types[i] = tok.replace("\u2581", " "), USER_DEFINED
    return Vocab("gpt2", pre, tokens, types, None, reader="gpt2")


def _merges(files: TokenizerFiles) -> List[str]:
    tj = files.tokenizer_json or {}
    model = tj.get("model") if isinstance(tj.get("model"), dict) else {}
    merges = model.get("merges")
    if isinstance(merges, list) and merges:
        if isinstance(merges[0], str):
            for i, m in enumerate(merges):
                if not isinstance(m, str):
                    raise TokenizerError(f"convert: {TOKENIZER_JSON}: model.merges[{i}] is not a string", TOKENIZER_JSON)
            return list(merges)
        if isinstance(merges[0], list) and len(merges[0]) == 2 and isinstance(merges[0][0], str):
            # A 280K-merge vocabulary makes this a visible part of planning, so the
            # common case runs at C speed: every entry a list of two strings
            # (" ".join refuses a non-string) with no space inside a part, which
            # the loop below would turn into "\u0120" (as the converter does).
            if set(map(type, merges)) == {list} and set(map(len, merges)) == {2}:
                try:
                    out = list(map(" ".join, merges))
                except TypeError:
                    out = None
                if out is not None and "".join(out).count(" ") == len(out):
                    return out
            out = []
            append, g = out.append, "\u0120"
            for i, pair in enumerate(merges):
                if isinstance(pair, list) and len(pair) == 2:
                    a, b = pair
                    if isinstance(a, str) and isinstance(b, str):
                        append(f"{a.replace(' ', g)} {b.replace(' ', g)}")
                        continue
                raise TokenizerError(f"convert: {TOKENIZER_JSON}: model.merges[{i}] is not a pair of strings", TOKENIZER_JSON)
            return out
        raise TokenizerError(f"convert: {TOKENIZER_JSON}: unknown model.merges format (first entry {merges[0]!r})", TOKENIZER_JSON)
    if files.merges_txt is not None:
        lines = files.merges_txt.splitlines(keepends=True)
        if lines and lines[0].strip().startswith("#"):
            lines = lines[1:]
        out = []
        for line in lines:
            parts = line.strip().split(None, 3)
            if not parts:
                continue
            if len(parts) != 2:
                continue  # the converter skips malformed lines with a warning
            out.append(f"{parts[0]} {parts[1]}")
        return out
    return []


# ------------------------------------------------------------- tiktoken
#: reserved special-token ids after the ranks (tokenization_kimi.py's num_reserved_special_tokens)
TIKTOKEN_RESERVED = 256
#: tokenizer classes whose tiktoken.model Wick reads directly, and the pre-tokenizer llama.cpp names for each
TIKTOKEN_CLASSES = {"TikTokenTokenizer": "kimi-k2"}


def gpt2_byte_chars() -> List[str]:
    """GPT-2's byte-to-unicode alphabet (``bytes_to_unicode``): the character standing for each byte."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    out: List[str] = [""] * 256
    extra = 0
    for b in range(256):
        if b in keep:
            out[b] = chr(b)
        else:
            out[b] = chr(256 + extra)
            extra += 1
    return out


def remote_tokenizer_class(files: TokenizerFiles) -> Optional[str]:
    """The tokenizer class tokenizer_config.json's ``auto_map`` loads from the model's own code, or None."""
    tc = files.tokenizer_config or {}
    am = tc.get("auto_map")
    entry = am.get("AutoTokenizer") if isinstance(am, dict) else None
    if isinstance(entry, list):
        entry = next((e for e in entry if isinstance(e, str)), None)
    return entry if isinstance(entry, str) else None


def parse_tiktoken(data: bytes) -> List[bytes]:
    """The tokens of a plain tiktoken file, by rank (ranks must be 0 … n-1, each once)."""
    import base64
    import binascii

    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TokenizerError(f"convert: {TIKTOKEN_MODEL}: expected bytes", TIKTOKEN_MODEL)
    by_rank: Dict[int, bytes] = {}
    for no, line in enumerate(bytes(data).splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        try:
            if len(parts) != 2:
                raise ValueError
            tok, rank = base64.b64decode(parts[0], validate=True), int(parts[1])
        except (ValueError, binascii.Error):
            raise TokenizerError(f"convert: {TIKTOKEN_MODEL}: line {no} is not '<base64 token> <rank>' "
                                 f"(a plain tiktoken file)", TIKTOKEN_MODEL) from None
        if rank in by_rank or rank < 0:
            raise TokenizerError(f"convert: {TIKTOKEN_MODEL}: line {no}: rank {rank} is negative or repeated",
                                 TIKTOKEN_MODEL)
        by_rank[rank] = tok
    if not by_rank:
        raise TokenizerError(f"convert: {TIKTOKEN_MODEL}: no tokens", TIKTOKEN_MODEL)
    if sorted(by_rank) != list(range(len(by_rank))):
        raise TokenizerError(f"convert: {TIKTOKEN_MODEL}: ranks are not 0 … {len(by_rank) - 1} without gaps",
                             TIKTOKEN_MODEL)
    if len(set(by_rank.values())) != len(by_rank):
        raise TokenizerError(f"convert: {TIKTOKEN_MODEL}: a token appears twice", TIKTOKEN_MODEL)
    return [by_rank[r] for r in range(len(by_rank))]


def _bpe_parts(ranks: Dict[bytes, int], token: bytes, max_rank: int) -> List[bytes]:
    """Byte-pair encoding of ``token`` with the merges of rank below ``max_rank`` (lowest rank first,
    leftmost on ties), as the converter's ``QwenModel.bpe`` computes it."""
    parts = [token[i:i + 1] for i in range(len(token))]
    while len(parts) > 1:
        best, at = None, -1
        for i in range(len(parts) - 1):
            r = ranks.get(parts[i] + parts[i + 1])
            if r is not None and (best is None or r < best):
                best, at = r, i
        if best is None or best >= max_rank:
            break
        parts[at:at + 2] = [parts[at] + parts[at + 1]]
    return parts


def _vocab_tiktoken(files: TokenizerFiles, vocab_size: Optional[int]) -> Vocab:
    tc = files.tokenizer_config or {}
    cls = tc.get("tokenizer_class")
    remote = remote_tokenizer_class(files)
    name = cls if isinstance(cls, str) else (remote.rsplit(".", 1)[-1] if remote else None)
    if name not in TIKTOKEN_CLASSES:
        raise UnsupportedTokenizerError(
            f"convert: {TOKENIZER_CONFIG}: {TIKTOKEN_MODEL} with tokenizer class {name!r}: the tokenizer is only "
            f"reachable through the model's own code{f' ({remote})' if remote else ''}, which Wick does not run; "
            f"Wick reads {TIKTOKEN_MODEL} directly as {', '.join(TIKTOKEN_CLASSES)} lays it out (Kimi K2)")
    base = parse_tiktoken(files.tiktoken_model)
    ranks = {t: r for r, t in enumerate(base)}
    chars = gpt2_byte_chars()

    def text(t: bytes) -> str:
        return "".join(chars[b] for b in t)

    names = {tid: d["content"] for tid, d in _added_tokens_decoder(files).items()}
    n_base = len(base)
    specials = {names.get(i, f"<|reserved_token_{i}|>"): i for i in range(n_base, n_base + TIKTOKEN_RESERVED)}
    merged = {text(t): r for r, t in enumerate(base)}
    merged.update(specials)
    reverse = {i: t for t, i in merged.items()}
    special_ids = set(specials.values())
    n = vocab_size if vocab_size is not None else n_base + TIKTOKEN_RESERVED
    tokens: List[str] = []
    types: List[int] = []
    for i in range(n):
        if i not in reverse:
            tokens.append(f"[PAD{i}]")
            types.append(UNUSED)
        else:
            tokens.append(reverse[i])
            types.append(CONTROL if i in special_ids else NORMAL)
    merges = []
    for r, t in enumerate(base):
        if len(t) == 1:
            continue
        parts = _bpe_parts(ranks, t, r)
        if len(parts) == 2:
            merges.append(f"{text(parts[0])} {text(parts[1])}")
    return Vocab("gpt2", TIKTOKEN_CLASSES[name], tokens, types, None, reader="tiktoken", merges=merges)


# --------------------------------------------------------- special vocab
_ID_KEYS = {
    "bos": "tokenizer.ggml.bos_token_id",
    "eos": "tokenizer.ggml.eos_token_id",
    "unk": "tokenizer.ggml.unknown_token_id",
    "sep": "tokenizer.ggml.seperator_token_id",
    "pad": "tokenizer.ggml.padding_token_id",
    "mask": "tokenizer.ggml.mask_token_id",
    "eot": "tokenizer.ggml.eot_token_id",
    "eom": "tokenizer.ggml.eom_token_id",
}
_ADD_KEYS = {"bos": "tokenizer.ggml.add_bos_token", "eos": "tokenizer.ggml.add_eos_token", "sep": "tokenizer.ggml.add_sep_token"}


@dataclass
class SpecialVocab:
    """gguf-py's SpecialVocab, computed from parsed files."""

    merges: List[str] = field(default_factory=list)
    special_token_ids: Dict[str, int] = field(default_factory=dict)
    add_special_token: Dict[str, bool] = field(default_factory=dict)
    chat_template: Any = None
    normalizer_lowercase: Optional[bool] = None
    normalizer_strip_accents: Optional[bool] = None

    def kvs(self) -> List[V.KV]:
        """The KV entries in ``add_to_gguf`` order."""
        out = OrderedKVs()
        if self.merges:
            out.add(V.array("tokenizer.ggml.merges", V.ValueType.STRING, self.merges))
        for typ, tid in self.special_token_ids.items():
            if typ in _ID_KEYS:
                out.add(V.u32(_ID_KEYS[typ], tid))
        for typ, val in self.add_special_token.items():
            if typ in _ADD_KEYS:
                out.add(V.boolean(_ADD_KEYS[typ], val))
        for kv in chat_template_kvs(self.chat_template):
            out.add(kv)
        if self.normalizer_lowercase is not None:
            out.add(V.boolean("tokenizer.ggml.normalizer.lowercase", self.normalizer_lowercase))
        if self.normalizer_strip_accents is not None:
            out.add(V.boolean("tokenizer.ggml.normalizer.strip_accents", self.normalizer_strip_accents))
        return out.items()


def chat_template_kvs(value: Any) -> List[V.KV]:
    """GGUFWriter.add_chat_template: a string, or a list of {name, template}."""
    if value is None:
        return []
    if isinstance(value, str):
        return [V.string("tokenizer.chat_template", value)] if value else []
    out: List[V.KV] = []
    default = None
    names: List[str] = []
    for choice in value:
        if not isinstance(choice, dict):
            raise TokenizerError(f"convert: {TOKENIZER_CONFIG}: chat_template list entries must be objects", TOKENIZER_CONFIG)
        name = choice.get("name", "") or ""
        tmpl = choice.get("template")
        name = "".join(c if (c.isascii() and c.isalnum()) else "_" for c in str(name))
        if name and tmpl is not None:
            if not isinstance(tmpl, str):
                raise TokenizerError(f"convert: {TOKENIZER_CONFIG}: chat template {name!r} is not a string", TOKENIZER_CONFIG)
            if name == "default":
                default = tmpl
            else:
                if name not in names:
                    names.append(name)
                if tmpl:
                    out.append(V.string(f"tokenizer.chat_template.{name}", tmpl))
    if names:
        out.append(V.array("tokenizer.chat_templates", V.ValueType.STRING, names))
    if default:
        out.append(V.string("tokenizer.chat_template", default))
    return out


def _parse_normalizer(sv: SpecialVocab, norm: Any) -> None:
    if not isinstance(norm, dict):
        return
    t = norm.get("type")
    if t == "Lowercase":
        sv.normalizer_lowercase = True
    elif t == "StripAccents":
        sv.normalizer_strip_accents = True
    elif t == "BertNormalizer":
        if "lowercase" in norm:
            sv.normalizer_lowercase = norm["lowercase"]
        if "strip_accents" in norm:
            sv.normalizer_strip_accents = norm["strip_accents"]
    elif t == "Sequence":
        for n in norm.get("normalizers", []) or []:
            _parse_normalizer(sv, n)


def special_vocab(files: TokenizerFiles, config: Dict[str, Any], *, load_merges: bool,
                  n_vocab: Optional[int] = None, types: Sequence[str] = ("bos", "eos", "unk", "sep", "pad", "cls", "mask")
                  ) -> SpecialVocab:
    """Port of gguf-py ``SpecialVocab`` (see the module docstring)."""
    sv = SpecialVocab()
    stypes = list(types)

    def set_id(typ: str, tid: Any) -> None:
        if isinstance(tid, bool) or not isinstance(tid, int):
            return
        if tid < 0:
            raise TokenizerError(f"convert: invalid id {tid} for special token {typ!r}")
        if n_vocab is None or tid < n_vocab:
            sv.special_token_ids.setdefault(typ, tid)

    tj = files.tokenizer_json
    tc = dict(files.tokenizer_config) if files.tokenizer_config is not None else None
    if tj is not None:
        if load_merges:
            sv.merges = _merges(files)
        if tj.get("normalizer"):
            _parse_normalizer(sv, tj["normalizer"])
        added = _added_tokens(tj)
    else:
        added = []
    if tj:
        cfg = tc or {}
        s_bos, s_cls, s_eos, s_sep = cfg.get("bos_token"), cfg.get("cls_token"), cfg.get("eos_token"), cfg.get("sep_token")
        if not s_bos and s_cls and tc:
            tc["bos_token"] = s_bos = s_cls
        if not s_eos and s_sep and tc:
            tc["eos_token"] = s_eos = s_sep
        post = tj.get("post_processor")
        if post:
            post = _need_dict(TOKENIZER_JSON, post, "'post_processor'")
            procs = post.get("processors", [post])
            for proc in procs if isinstance(procs, list) else []:
                if not isinstance(proc, dict):
                    continue
                ptype = proc.get("type")
                if ptype == "ByteLevel":
                    sv.add_special_token.setdefault("bos", False)
                    sv.add_special_token.setdefault("eos", False)
                elif ptype == "RobertaProcessing":
                    sv.add_special_token["bos"] = True
                    sv.add_special_token["eos"] = True
                    sv.add_special_token["sep"] = True
                    if not s_cls and tc:
                        s_cls = (proc.get("cls") or [s_bos])[0]
                        tc["cls_token"] = s_cls
                    if not s_sep and tc:
                        s_sep = (proc.get("sep") or [s_eos])[0]
                        tc["sep_token"] = s_sep
                elif ptype == "TemplateProcessing":
                    single = proc.get("single", []) or []
                    pair = proc.get("pair", []) or []

                    def sid(entry: Any) -> Any:
                        return entry.get("SpecialToken", {}).get("id") if isinstance(entry, dict) else None

                    first = last = None
                    if len(single) > 1:
                        first = sid(single[0])
                        if first:
                            if not tc:
                                s_bos = first
                            elif first not in (s_bos, s_cls):
                                if not s_bos:
                                    tc["bos_token"] = s_bos = first
                                if not s_cls:
                                    tc["cls_token"] = s_cls = first
                            sv.add_special_token["bos"] = first in (s_bos, s_cls)
                        last = sid(single[-1])
                        if last:
                            if not tc:
                                s_eos = last
                            elif last != s_eos:
                                if "eot" not in stypes:
                                    stypes.append("eot")
                                    tc["eot_token"] = s_eos
                                elif "eom" not in stypes:
                                    stypes.append("eom")
                                    tc["eom_token"] = s_eos
                                tc["eos_token"] = s_eos = last
                            sv.add_special_token["eos"] = last == s_eos
                    if pair:
                        start = 1 if first and sid(pair[0]) == first else 0
                        stop = -1 if last and sid(pair[-1]) == last else None
                        mid = pair[slice(start, stop)]
                        if mid:
                            a = mid[0].get("Sequence", {}).get("id") if isinstance(mid[0], dict) else None
                            b = mid[-1].get("Sequence", {}).get("id") if isinstance(mid[-1], dict) else None
                            mid = mid[1:-1]
                            if a == "A" and b == "B" and mid:
                                add_sep = False
                                e0 = sid(mid[0])
                                if e0 and e0 in (s_sep, s_eos) and not last:
                                    add_sep = True
                                if len(mid) == 2:
                                    e1 = sid(mid[1])
                                    if e1 and e1 in (s_sep, s_eos):
                                        add_sep = True
                                sv.add_special_token["sep"] = add_sep
                                if add_sep and not s_sep and tc:
                                    tc["sep_token"] = s_eos
    if tc:
        alt: Any = None
        if files.chat_template_jinja is not None:
            alt = files.chat_template_jinja
            if files.additional_chat_templates:
                alt = [{"name": "default", "template": alt}] + [
                    {"name": k, "template": v} for k, v in files.additional_chat_templates.items()]
        elif files.chat_template_json is not None:
            alt = files.chat_template_json.get("chat_template") if isinstance(files.chat_template_json, dict) else None
        ct = tc.get("chat_template", alt)
        if ct is None or isinstance(ct, (str, list)):
            sv.chat_template = ct
        for typ in stypes:
            add = tc.get(f"add_{typ}_token")
            if isinstance(add, bool) and typ not in sv.add_special_token:
                sv.add_special_token[typ] = add
            entry = tc.get(f"{typ}_token")
            if isinstance(entry, str):
                content = entry
            elif isinstance(entry, dict) and isinstance(entry.get("content"), str):
                content = entry["content"]
            else:
                continue
            tid = next((a.get("id") for a in added if a.get("content") == content), None)
            set_id(typ, tid)
    if config is not None:
        tcfg = config.get("text_config") if isinstance(config.get("text_config"), dict) else {}
        for typ in stypes:
            tid = config.get(f"{typ}_token_id")
            if tid is None:
                tid = tcfg.get(f"{typ}_token_id")
            set_id(typ, tid)
    return sv


# ------------------------------------------------------------------ entry
def read_vocab(readers: Sequence[str], files: TokenizerFiles, vocab_size: Optional[int],
               pre_override: Optional[str] = None, pre_names: Optional[Dict[str, str]] = None) -> Vocab:
    """Read tokens/types/scores with the first applicable reader of ``readers``."""
    tried = []
    for r in readers:
        if r in ("spm", "phi3_spm"):
            tried.append(TOKENIZER_MODEL)
            if files.tokenizer_model is not None:
                return _vocab_spm(files, vocab_size) if r == "spm" else _vocab_spm_phi3(files, vocab_size)
        elif r == "llama_hf":
            tried.append(f"{TOKENIZER_JSON} (Llama BPE with byte fallback)")
            if files.tokenizer_json is not None and _is_llama_hf(files.tokenizer_json):
                return _vocab_llama_hf(files, vocab_size)
        elif r == "gemma4":
            tried.append(f"{TOKENIZER_JSON} (Gemma 4: BPE with byte fallback)")
            if files.tokenizer_json is not None and _is_llama_hf(files.tokenizer_json):
                return _vocab_gemma4(files)
        elif r == "gpt2":
            tried.append(f"{TOKENIZER_JSON} (byte-level BPE)")
            if files.tokenizer_json is not None:
                model = files.tokenizer_json.get("model")
                if not isinstance(model, dict) or model.get("type") != "BPE":
                    kind = model.get("type") if isinstance(model, dict) else None
                    raise UnsupportedTokenizerError(
                        f"convert: {TOKENIZER_JSON}: tokenizer model type {kind!r} is not supported (expected a BPE model)")
                return _vocab_gpt2(files, vocab_size, pre_override, pre_names)
        elif r == "tiktoken":
            tried.append(f"{TIKTOKEN_MODEL} (Kimi's tiktoken vocabulary)")
            if files.tiktoken_model is not None:
                return _vocab_tiktoken(files, vocab_size)
        else:
            raise ValueError(f"unknown tokenizer reader {r!r}")
    remote = remote_tokenizer_class(files)
    if remote is not None:
        raise UnsupportedTokenizerError(
            f"convert: {TOKENIZER_CONFIG}: the tokenizer is only reachable through the model's own code "
            f"(auto_map AutoTokenizer {remote!r}), which Wick does not run, and there is no file Wick can read "
            f"instead (looked for: {', '.join(tried)})")
    from .errors import ModelFileNotFoundError
    raise ModelFileNotFoundError(f"convert: no usable tokenizer found; looked for: {', '.join(tried)}")


def tokenizer_metadata(readers: Sequence[str], files: TokenizerFiles, config: Dict[str, Any], *,
                       vocab_size: Optional[int] = None, reads_add_prefix_space: bool = False,
                       pre_override: Optional[str] = None, pre_names: Optional[Dict[str, str]] = None,
                       quirks=None) -> Tuple[Vocab, List[V.KV]]:
    """The ``tokenizer.*`` KV entries in the converter's order, and the vocabulary read.

    ``config`` is the raw config.json (its ``*_token_id`` entries are the
    fallback special ids); ``vocab_size`` (default: config ``vocab_size``)
    sizes the token list; ``pre_names`` is the adapter's ``pre_tokenizer_names``
    (see :func:`detect_pre_tokenizer`).
    """
    if vocab_size is None:
        vs = config.get("vocab_size")
        vocab_size = vs if isinstance(vs, int) and not isinstance(vs, bool) and vs > 0 else None
    kvs = OrderedKVs()
    tc = files.tokenizer_config
    if reads_add_prefix_space and tc is not None and tc.get("add_prefix_space") is not None:
        aps = tc["add_prefix_space"]
        if not isinstance(aps, bool):
            raise TokenizerError(f"convert: {TOKENIZER_CONFIG}: 'add_prefix_space' must be a bool, got {aps!r}", TOKENIZER_CONFIG)
        kvs.add(V.boolean("tokenizer.ggml.add_space_prefix", aps))
    vocab = read_vocab(readers, files, vocab_size, pre_override, pre_names)
    if len(set(vocab.tokens)) != len(vocab.tokens):  # name the first repeat
        seen: Dict[str, int] = {}
        for i, t in enumerate(vocab.tokens):
            j = seen.setdefault(t, i)
            if j != i:
                raise TokenizerError(f"convert: token string {t!r} appears at ids {j} and {i}; llama.cpp requires unique tokens")
    kvs.add(V.string("tokenizer.ggml.model", vocab.model))
    if vocab.pre:
        kvs.add(V.string("tokenizer.ggml.pre", vocab.pre))
    kvs.add(V.array("tokenizer.ggml.tokens", V.ValueType.STRING, vocab.tokens))
    if vocab.scores is not None:
        kvs.add(V.array("tokenizer.ggml.scores", V.ValueType.FLOAT32, vocab.scores))
    kvs.add(V.array("tokenizer.ggml.token_type", V.ValueType.INT32, vocab.types))
    if vocab.merges is not None:  # the reader's own merges (add_token_merges), SpecialVocab without merges
        sv = special_vocab(files, config, load_merges=False)
        sv.merges = list(vocab.merges)
    elif vocab.model == "gpt2":
        sv = special_vocab(files, config, load_merges=True)
        if not sv.merges:
            raise TokenizerError(f"convert: {TOKENIZER_JSON}: a BPE tokenizer needs merges (model.merges or merges.txt); "
                                 "llama.cpp refuses a gpt2 vocabulary without them", TOKENIZER_JSON)
    elif vocab.model == "gemma4":  # SpecialVocab(dir, load_merges=True): merges if any, no n_vocab bound
        sv = special_vocab(files, config, load_merges=True)
    else:
        sv = special_vocab(files, config, load_merges=False, n_vocab=len(vocab.tokens))
    for kv in sv.kvs():
        kvs.add(kv)
    vocab.bos_id = sv.special_token_ids.get("bos")
    if quirks is not None:
        quirks(files, config, vocab_size, kvs)
    return vocab, kvs.items()
