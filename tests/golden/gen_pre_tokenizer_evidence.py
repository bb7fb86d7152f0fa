"""What the pinned converter calls a byte-level BPE pre-tokenizer, for real vocabularies and the
tokenizer.json structures of Wick's structural ``tokenizer.ggml.pre`` rule (not a test).

    nice -n 10 /work/refvenv/bin/python tests/golden/gen_pre_tokenizer_evidence.py

writes tests/golden/pre_tokenizer_evidence.json. The converter names a BPE pre-tokenizer by
hashing the ids its tokenizer gives a probe text (``TextModel.get_vocab_base_pre``); the shrunk
vocabularies of the test fixtures cannot reach those hashes. The real vocabularies llama.cpp
ships for its tokenizer tests (``models/ggml-vocab-*.gguf`` of the pinned tree: tokens, token
types, merges) can: for each, this script builds tokenizer.json files with the structures the
rule tells apart (pre_tokenizer steps, normalizer, post-processor with or without a leading
special token, ``ignore_merges``), loads each with transformers' ``PreTrainedTokenizerFast`` (as
the converter's ``AutoTokenizer`` does for these files) and records what the converter's own,
unmodified ``get_vocab_base_pre`` answers (a name, or the NotImplementedError it raises).

tests/test_convert_tokenizer.py::test_pre_rule_agrees_with_the_converter rebuilds each
structure on a small vocabulary and checks that Wick's rule names the same pre-tokenizer (or, where
the name depends on the vocabulary, lists it as an alias of the same structure).
"""

from __future__ import annotations

import json
import logging
import sys
import tempfile
from pathlib import Path

LLAMA_CPP = Path("/work/ref/llama_cpp_python-0.3.36/vendor/llama.cpp")
OUT = Path(__file__).resolve().parent / "pre_tokenizer_evidence.json"

LLAMA3_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_REGEX = LLAMA3_REGEX.replace(r"\p{N}{1,3}", r"\p{N}")


def split_bytelevel(regex: str) -> list:
    return [{"type": "Split", "pattern": {"Regex": regex}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]


DIGITS_BYTELEVEL = [{"type": "Digits", "individual_digits": True},
                    {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}]
BYTELEVEL = [{"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}]

# (vocabulary file stem, structure name, pre_tokenizer steps, normalizer, prepend BOS, ignore_merges)
CASES = [
    ("llama-bpe", "llama3-regex", split_bytelevel(LLAMA3_REGEX), None, True, True),
    ("llama-bpe", "llama3-regex", split_bytelevel(LLAMA3_REGEX), None, True, False),
    ("llama-bpe", "llama3-regex", split_bytelevel(LLAMA3_REGEX), None, False, True),
    ("llama-bpe", "llama3-regex", split_bytelevel(LLAMA3_REGEX), None, False, False),
    ("qwen2", "qwen2-regex", split_bytelevel(QWEN2_REGEX), "NFC", False, False),
    ("command-r", "digits", DIGITS_BYTELEVEL, "NFC", True, False),
    ("command-r", "digits", DIGITS_BYTELEVEL, None, True, False),
    ("refact", "digits", DIGITS_BYTELEVEL, None, False, False),
    ("starcoder", "digits", DIGITS_BYTELEVEL, None, False, False),
    ("gpt-2", "bytelevel", BYTELEVEL, None, False, False),
]


def read_vocab(stem: str, gguf):
    r = gguf.GGUFReader(str(LLAMA_CPP / "models" / f"ggml-vocab-{stem}.gguf"))
    f = r.fields

    def strings(key):
        return [bytes(f[key].parts[i]).decode("utf-8") for i in f[key].data]

    tokens = strings("tokenizer.ggml.tokens")
    types = [int(f["tokenizer.ggml.token_type"].parts[i][0]) for i in f["tokenizer.ggml.token_type"].data]
    bos = int(f["tokenizer.ggml.bos_token_id"].parts[-1][0])
    return tokens, types, strings("tokenizer.ggml.merges"), bos


def tokenizer_json(tokens, types, merges, bos, steps, normalizer, prepend, ignore_merges) -> dict:
    vocab = {t: i for i, t in enumerate(tokens)}
    specials = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
                 "special": True} for i, t in enumerate(tokens) if types[i] == 3]
    byte_level_post = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True}
    post = byte_level_post
    if prepend:
        b = tokens[bos]
        post = {"type": "Sequence", "processors": [byte_level_post, {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": b, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": b, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": b, "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {b: {"id": b, "ids": [bos], "tokens": [b]}}}]}
    return {"version": "1.0", "truncation": None, "padding": None, "added_tokens": specials,
            "normalizer": {"type": normalizer} if normalizer else None,
            "pre_tokenizer": {"type": "Sequence", "pretokenizers": steps},
            "post_processor": post,
            "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
            "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                      "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                      "ignore_merges": ignore_merges, "vocab": vocab, "merges": merges}}


def main() -> None:
    sys.path.insert(0, str(LLAMA_CPP / "gguf-py"))
    sys.path.insert(0, str(LLAMA_CPP))
    import conversion.base as base  # the converter's own module
    import gguf
    import tokenizers
    import transformers
    from transformers import PreTrainedTokenizerFast

    logging.disable(logging.WARNING)
    cache: dict = {}
    records = []
    for stem, structure, steps, normalizer, prepend, ignore_merges in CASES:
        if stem not in cache:
            cache[stem] = read_vocab(stem, gguf)
        tokens, types, merges, bos = cache[stem]
        tj = tokenizer_json(tokens, types, merges, bos, steps, normalizer, prepend, ignore_merges)
        with tempfile.TemporaryDirectory() as d:
            (Path(d) / "tokenizer.json").write_text(json.dumps(tj), encoding="utf-8")
            tok = PreTrainedTokenizerFast(tokenizer_file=str(Path(d) / "tokenizer.json"))
            try:
                answer = base.TextModel.get_vocab_base_pre(None, tok)
            except NotImplementedError as e:
                answer = f"NotImplementedError: {e}"
        records.append({"vocabulary": f"models/ggml-vocab-{stem}.gguf", "structure": structure,
                        "normalizer": normalizer, "prepends_special_token": prepend, "ignore_merges": ignore_merges,
                        "converter": answer})
        print(stem, structure, normalizer, prepend, ignore_merges, "->", answer)
    OUT.write_text(json.dumps({
        "generator": "tests/golden/gen_pre_tokenizer_evidence.py",
        "llama_cpp": "llama-cpp-python 0.3.36 vendor tree (llama.cpp 0c1e570): conversion/base.py get_vocab_base_pre",
        "transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
        "cases": records}, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
