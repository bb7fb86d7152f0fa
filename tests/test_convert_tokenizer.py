"""Tokenizer metadata: readers, merges, pre-tokenizer choice, special tokens, chat templates, errors."""

from __future__ import annotations

import numpy as np
import pytest

import convert_fixtures as FX
from wick.convert import tokenizer as T
from wick.convert.errors import ModelFileNotFoundError, TokenizerError, UnsupportedTokenizerError
from wick.convert.tokenizer import TokenizerFiles


def meta(files, config, readers=("spm", "llama_hf", "gpt2"), **kw):
    vocab, kvs = T.tokenizer_metadata(readers, files, config, **kw)
    return vocab, {kv.key: kv for kv in kvs}, [kv.key for kv in kvs]


def small_bpe(**kw):
    specials = kw.pop("specials", [("<|begin_of_text|>", 300, True), ("<|eot_id|>", 301, True)])
    return FX.bpe_tokenizer_json(specials=specials, **kw)


CFG = {"vocab_size": 302}


def test_merges_pairs_and_strings_agree():
    a = T._merges(TokenizerFiles(tokenizer_json=small_bpe(merges_form="pairs")))
    b = T._merges(TokenizerFiles(tokenizer_json=small_bpe(merges_form="strings")))
    assert a == b and a[:3] == ["Ġ t", "h e", "Ġt he"]


def test_pair_merges_with_spaces_are_escaped():
    tj = small_bpe()
    tj["model"]["merges"].append(["a b", "c"])
    assert T._merges(TokenizerFiles(tokenizer_json=tj))[-1] == "a\u0120b c"


@pytest.mark.parametrize("bad", [["a", 1], ["a", "b", "c"], "a b", ["a"], ["a", ["b"]]])
def test_pair_merges_name_a_bad_entry(bad):
    tj = small_bpe(merges_form="pairs")
    n = len(tj["model"]["merges"])
    tj["model"]["merges"].append(bad)
    tj["model"]["merges"].append(["x", "y"])
    with pytest.raises(TokenizerError, match=rf"model\.merges\[{n}\] is not a pair of strings"):
        T._merges(TokenizerFiles(tokenizer_json=tj))


def test_pair_merges_keep_their_order_and_escape_only_inner_spaces():
    tj = small_bpe(merges_form="pairs")
    tj["model"]["merges"] = [["a", "b"], [" x", "y "], ["c", "d"]]
    assert T._merges(TokenizerFiles(tokenizer_json=tj)) == ["a b", "\u0120x y\u0120", "c d"]


def test_merges_txt_fallback():
    tj = small_bpe()
    del tj["model"]["merges"]
    txt = "#version: 0.2\nĠ t\nh e\n\nbad line here\n"
    assert T._merges(TokenizerFiles(tokenizer_json=tj, merges_txt=txt)) == ["Ġ t", "h e"]


def test_unknown_merges_format():
    tj = small_bpe()
    tj["model"]["merges"] = [{"a": 1}]
    with pytest.raises(TokenizerError, match="merges"):
        T._merges(TokenizerFiles(tokenizer_json=tj))


@pytest.mark.parametrize("kw,want", [
    (dict(regex=FX.LLAMA3_REGEX, ignore_merges=True, bos="<|begin_of_text|>"), "llama-bpe"),
    (dict(regex=FX.LLAMA3_REGEX, ignore_merges=False, bos="<|begin_of_text|>"), "llama-bpe"),
    (dict(regex=FX.LLAMA3_REGEX, ignore_merges=True), "smaug-bpe"),
    (dict(regex=FX.LLAMA3_REGEX, ignore_merges=False), "smaug-bpe"),
    (dict(regex=FX.QWEN2_REGEX, ignore_merges=False), "qwen2"),
    (dict(regex=T.QWEN35_REGEX, ignore_merges=False), "qwen35"),   # Qwen3.5: \p{M} in letter runs
    (dict(regex=T.O200K_REGEX, ignore_merges=False), "gpt-4o"),
])
def test_pre_tokenizer_from_split_regex(kw, want):
    """Llama 3's regex: ``llama-bpe`` when the post-processor prepends a BOS, ``smaug-bpe`` otherwise
    (what the converter's probe hash depends on; ``ignore_merges`` does not change it)."""
    assert T.detect_pre_tokenizer(small_bpe(**kw)) == want


DIGITS_BYTELEVEL = {"type": "Sequence", "pretokenizers": [
    {"type": "Digits", "individual_digits": True},
    {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}]}
BYTELEVEL = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}


def _evidence_structure(case):
    kw = dict(ignore_merges=case["ignore_merges"], bos="<|begin_of_text|>" if case["prepends_special_token"] else None)
    s = case["structure"]
    if s in ("llama3-regex", "qwen2-regex"):
        tj = small_bpe(regex=FX.LLAMA3_REGEX if s == "llama3-regex" else FX.QWEN2_REGEX, **kw)
    else:
        tj = small_bpe(**kw)
        tj["pre_tokenizer"] = {"digits": DIGITS_BYTELEVEL, "bytelevel": BYTELEVEL}[s]
    tj["normalizer"] = {"type": case["normalizer"]} if case["normalizer"] else None
    return tj


def _evidence_cases():
    import json
    from pathlib import Path
    path = Path(__file__).resolve().parent / "golden" / "pre_tokenizer_evidence.json"
    return json.loads(path.read_text(encoding="utf-8"))["cases"]


@pytest.mark.parametrize("case", _evidence_cases(),
                         ids=lambda c: f"{c['vocabulary'].split('-', 2)[-1][:-5]}-{c['structure']}-"
                                       f"{'bos' if c['prepends_special_token'] else 'nobos'}-"
                                       f"{'ignore' if c['ignore_merges'] else 'merge'}-{c['normalizer']}")
def test_pre_rule_agrees_with_the_converter(case):
    """tests/golden/pre_tokenizer_evidence.json: what the pinned converter's get_vocab_base_pre answers for
    real vocabularies (llama.cpp's models/ggml-vocab-*.gguf) in each structure. Wick's rule names the same
    pre-tokenizer, or one of the same structure that the family's vocabulary selects (an adapter's
    ``pre_tokenizer_names``)."""
    tj = _evidence_structure(case)
    got = T.detect_pre_tokenizer(tj)
    rule = next(r for r in T._PRE_RULES if r.name == got)
    want = case["converter"]
    assert want in (rule.name,) + rule.aliases, f"{case}: Wick's rule says {got!r}"
    assert T.detect_pre_tokenizer(tj, {got: want}) == want


def test_pre_tokenizer_family_names_only_within_the_structure():
    """An adapter's pre_tokenizer_names picks among the names of the detected structure; nothing else."""
    tj = small_bpe(regex=FX.LLAMA3_REGEX)
    assert T.detect_pre_tokenizer(tj, {"smaug-bpe": "dbrx"}) == "dbrx"
    assert T.detect_pre_tokenizer(tj, {"smaug-bpe": "qwen2"}) == "smaug-bpe"   # another structure: ignored
    assert T.detect_pre_tokenizer(tj, {"llama-bpe": "dbrx"}) == "smaug-bpe"    # another row: ignored
    tj = small_bpe(regex=FX.LLAMA3_REGEX, bos="<|begin_of_text|>")
    assert T.detect_pre_tokenizer(tj, {"smaug-bpe": "dbrx"}) == "llama-bpe"
    tj["pre_tokenizer"] = DIGITS_BYTELEVEL
    assert T.detect_pre_tokenizer(tj, {"smollm": "refact"}) == "refact"
    assert T.detect_pre_tokenizer(tj, {"smollm": "command-r"}) == "command-r"
    tj["pre_tokenizer"] = BYTELEVEL
    assert T.detect_pre_tokenizer(tj, {"gpt-2": "exaone4"}) == "exaone4"
    _, kv, _ = meta(TokenizerFiles(tokenizer_json=tj), CFG, pre_names={"gpt-2": "exaone4"})
    assert kv["tokenizer.ggml.pre"].value == "exaone4"


def test_post_processor_prepends():
    assert T.post_processor_prepends(small_bpe(bos="<|begin_of_text|>"))
    assert not T.post_processor_prepends(small_bpe())
    tj = small_bpe()
    tj["post_processor"] = {"type": "TemplateProcessing", "single": [{"Sequence": {"id": "A", "type_id": 0}}], "pair": []}
    assert not T.post_processor_prepends(tj)
    tj["post_processor"] = {"type": "RobertaProcessing", "cls": ["<s>", 0], "sep": ["</s>", 2]}
    assert T.post_processor_prepends(tj)
    tj["post_processor"] = None
    assert not T.post_processor_prepends(tj)


def test_pre_tokenizer_smollm_and_gpt2():
    tj = small_bpe()
    tj["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Digits", "individual_digits": True},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}]}
    assert T.detect_pre_tokenizer(tj) == "smollm"
    tj["pre_tokenizer"] = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    assert T.detect_pre_tokenizer(tj) == "gpt-2"


def test_unknown_pre_tokenizer_is_an_error_unless_overridden():
    tj = small_bpe(regex=r"\p{L}+|\s+")
    with pytest.raises(UnsupportedTokenizerError, match="tokenizer_pre"):
        meta(TokenizerFiles(tokenizer_json=tj), CFG)
    _, kv, _ = meta(TokenizerFiles(tokenizer_json=tj), CFG, pre_override="gpt-4o")
    assert kv["tokenizer.ggml.pre"].value == "gpt-4o"
    tj = small_bpe()
    tj["pre_tokenizer"]["pretokenizers"][1]["add_prefix_space"] = True
    with pytest.raises(UnsupportedTokenizerError):
        T.detect_pre_tokenizer(tj)


def test_gpt2_tokens_types_padding_and_order():
    tj = small_bpe(specials=[("<|begin_of_text|>", 300, True), ("<tool>", 301, False), ("<|im_x|>", 302, False),
                             ("\u2581word", 303, False)], bos="<|begin_of_text|>")
    tc = {"bos_token": "<|begin_of_text|>", "eos_token": "<tool>"}
    vocab, kv, keys = meta(TokenizerFiles(tokenizer_json=tj, tokenizer_config=tc), {"vocab_size": 310, "eos_token_id": [1, 2]})
    assert keys[:4] == ["tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.ggml.tokens", "tokenizer.ggml.token_type"]
    assert keys[4] == "tokenizer.ggml.merges" and "tokenizer.ggml.scores" not in kv
    toks, types = vocab.tokens, vocab.types
    assert len(toks) == 310 and toks[0] == "!" and toks[256] == "Ġt"
    assert types[300] == T.CONTROL
    assert types[301] == T.CONTROL         # named as eos_token: special
    assert types[302] == T.CONTROL         # <|…|> looks special
    assert (toks[303], types[303]) == (" word", T.USER_DEFINED)
    assert (toks[309], types[309]) == ("[PAD309]", T.UNUSED)
    assert kv["tokenizer.ggml.bos_token_id"].value == 300
    assert kv["tokenizer.ggml.eos_token_id"].value == 301  # the list in config.json is ignored
    assert kv["tokenizer.ggml.add_bos_token"].value is True and kv["tokenizer.ggml.add_eos_token"].value is False


def test_special_ids_fall_back_to_config_json():
    tj = small_bpe()
    _, kv, keys = meta(TokenizerFiles(tokenizer_json=tj), {"vocab_size": 302, "bos_token_id": 300, "eos_token_id": 301,
                                                           "pad_token_id": 5000})
    assert kv["tokenizer.ggml.bos_token_id"].value == 300 and kv["tokenizer.ggml.eos_token_id"].value == 301
    assert kv["tokenizer.ggml.padding_token_id"].value == 5000  # gpt2 path: no range check (as the converter)
    assert "tokenizer.chat_template" not in kv  # no tokenizer_config.json: no template


def test_template_processing_trailing_eos_and_roberta():
    tj = small_bpe()
    tj["post_processor"] = {"type": "TemplateProcessing",
                            "single": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
                                       {"Sequence": {"id": "A", "type_id": 0}},
                                       {"SpecialToken": {"id": "<|eot_id|>", "type_id": 0}}],
                            "pair": [], "special_tokens": {}}
    tc = {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"}
    _, kv, _ = meta(TokenizerFiles(tokenizer_json=tj, tokenizer_config=tc), CFG)
    assert kv["tokenizer.ggml.add_bos_token"].value is True and kv["tokenizer.ggml.add_eos_token"].value is True
    tj["post_processor"] = {"type": "RobertaProcessing", "sep": ["<|eot_id|>", 301], "cls": ["<|begin_of_text|>", 300]}
    _, kv, _ = meta(TokenizerFiles(tokenizer_json=tj, tokenizer_config=dict(tc)), CFG)
    assert [kv[f"tokenizer.ggml.add_{x}_token"].value for x in ("bos", "eos", "sep")] == [True, True, True]


def test_tokenizer_config_add_flags_when_no_post_processor():
    tj = small_bpe()
    tj["post_processor"] = None
    tc = {"add_bos_token": False, "add_eos_token": True, "bos_token": "<|begin_of_text|>"}
    _, kv, keys = meta(TokenizerFiles(tokenizer_json=tj, tokenizer_config=tc), CFG)
    assert kv["tokenizer.ggml.add_bos_token"].value is False and kv["tokenizer.ggml.add_eos_token"].value is True
    assert keys.index("tokenizer.ggml.bos_token_id") < keys.index("tokenizer.ggml.add_bos_token")


def test_chat_templates():
    tj = small_bpe()
    tc = {"chat_template": [{"name": "default", "template": "D"}, {"name": "tool use!", "template": "T"},
                            {"name": "rag", "template": "R"}]}
    _, kv, keys = meta(TokenizerFiles(tokenizer_json=tj, tokenizer_config=tc), CFG)
    assert kv["tokenizer.chat_template"].value == "D"
    assert kv["tokenizer.chat_template.tool_use_"].value == "T"
    assert kv["tokenizer.chat_templates"].value == ["tool_use_", "rag"]
    assert keys[-1] == "tokenizer.chat_template"
    files = TokenizerFiles(tokenizer_json=tj, tokenizer_config={"eos_token": "x"}, chat_template_jinja="J",
                           additional_chat_templates={"extra": "E"})
    _, kv, _ = meta(files, CFG)
    assert kv["tokenizer.chat_template"].value == "J" and kv["tokenizer.chat_template.extra"].value == "E"
    files = TokenizerFiles(tokenizer_json=tj, tokenizer_config={"eos_token": "x"}, chat_template_json={"chat_template": "C"})
    assert meta(files, CFG)[1]["tokenizer.chat_template"].value == "C"


def test_normalizer_flags():
    tj = small_bpe()
    tj["normalizer"] = {"type": "Sequence", "normalizers": [{"type": "NFD"}, {"type": "Lowercase"}, {"type": "StripAccents"}]}
    _, kv, _ = meta(TokenizerFiles(tokenizer_json=tj), CFG)
    assert kv["tokenizer.ggml.normalizer.lowercase"].value is True
    assert kv["tokenizer.ggml.normalizer.strip_accents"].value is True


def test_sentencepiece_reader():
    pieces = FX.llama2_pieces(400) + [("<user>", 0.0, 4), ("<unused0>", 0.0, 5)]
    files = TokenizerFiles(tokenizer_model=FX.spm_model(pieces), added_tokens_json={"<extra>": 405, "<far>": 9999},
                           tokenizer_config={"added_tokens_decoder": {"403": {"content": "<|im_start|>", "special": False},
                                                                      "404": {"content": "\u2581hi", "special": False}}})
    vocab, kv, keys = meta(files, {"vocab_size": 408, "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 500})
    assert keys[:5] == ["tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.ggml.tokens", "tokenizer.ggml.scores",
                        "tokenizer.ggml.token_type"]
    assert vocab.model == "llama" and vocab.pre == "default"
    t, s, ty = vocab.tokens, vocab.scores, vocab.types
    assert (t[0], ty[0]) == ("<unk>", T.UNKNOWN) and ty[1] == T.CONTROL and (t[3], ty[3]) == ("<0x00>", T.BYTE)
    assert (t[260], s[260], ty[260]) == ("\u2581p1", -1.0, T.NORMAL)
    assert ty[400] == T.NORMAL and ty[401] == T.UNUSED          # USER_DEFINED piece → NORMAL, as the converter
    assert (t[403], ty[403], s[403]) == ("<|im_start|>", T.CONTROL, -1000.0)
    assert (t[404], ty[404]) == (" hi", T.USER_DEFINED)
    assert (t[405], ty[405], s[405]) == ("<extra>", T.USER_DEFINED, -1000.0)
    assert (t[407], s[407], ty[407]) == ("[PAD407]", -10000.0, T.UNUSED)
    assert kv["tokenizer.ggml.bos_token_id"].value == 1
    assert "tokenizer.ggml.padding_token_id" not in kv   # 500 >= n_vocab: dropped
    assert "tokenizer.ggml.merges" not in kv


def test_phi3_sentencepiece_reader():
    """Phi-3's own reading: added_tokens_decoder and tokenizer.json's added tokens overwrite their ids as they
    are (CONTROL only when special: no special-looking heuristic, no ▁ rewriting); an id beyond the vocabulary
    is an error (the converter fails on it)."""
    pieces = FX.llama2_pieces(400)
    atd = {"403": {"content": "<|im_start|>", "special": False}, "404": {"content": "\u2581hi", "special": False},
           "405": {"content": "<|end|>", "special": True}}
    tj = {"added_tokens": [{"id": 406, "content": "<|user|>", "special": True},
                           {"id": 403, "content": "<|im_start|>", "special": True}]}
    files = TokenizerFiles(tokenizer_model=FX.spm_model(pieces), added_tokens_json={"<extra>": 402, "<far>": 9999},
                           tokenizer_config={"added_tokens_decoder": atd}, tokenizer_json=tj)
    vocab, kv, _ = meta(files, {"vocab_size": 408}, readers=("phi3_spm",))
    assert vocab.reader == "phi3_spm" and vocab.model == "llama" and vocab.pre == "default"
    t, s, ty = vocab.tokens, vocab.scores, vocab.types
    assert (t[402], ty[402], s[402]) == ("<extra>", T.USER_DEFINED, -1000.0)
    assert (t[403], ty[403]) == ("<|im_start|>", T.CONTROL)       # tokenizer.json's flag comes last
    assert (t[404], ty[404]) == ("\u2581hi", T.USER_DEFINED)       # kept as it is
    assert (t[405], ty[405], s[405]) == ("<|end|>", T.CONTROL, -1000.0)
    assert (t[406], ty[406]) == ("<|user|>", T.CONTROL)
    assert (t[407], ty[407]) == ("[PAD407]", T.UNUSED)
    generic, _, _ = meta(files, {"vocab_size": 408}, readers=("spm",))
    assert generic.types[403] == T.CONTROL and generic.tokens[404] == " hi" and generic.types[406] == T.UNUSED
    files.tokenizer_config = {"added_tokens_decoder": {"500": {"content": "<x>", "special": True}}}
    with pytest.raises(TokenizerError, match="500"):
        meta(files, {"vocab_size": 408}, readers=("phi3_spm",))


def test_sentencepiece_scores_are_float32_exact():
    pieces = [("<unk>", 0.0, 2), ("a", -0.1, 1), ("b", -1e-30, 1), ("c", 3.4e38, 1)]
    parsed = T.parse_sentencepiece(FX.spm_model(pieces))
    for (_, s, _), (_, ps, _) in zip(pieces, parsed):
        assert ps == float(np.float32(s))


@pytest.mark.parametrize("mutate,match", [
    (lambda b: b[:-3], "truncated|past the end"),
    (lambda b: b"\x0b" + b, "wire type"),
    (lambda b: b"\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", "varint too long|past the end"),
    (lambda b: b"", "no pieces"),
    (lambda b: b"\x0a\x02\x10\x01", "no text"),
])
def test_sentencepiece_malformed(mutate, match):
    good = FX.spm_model(FX.llama2_pieces(300))
    with pytest.raises(TokenizerError, match=match):
        T.parse_sentencepiece(mutate(good))


def test_llama_hf_reader():
    pieces = FX.llama2_pieces(300)
    tj = FX.llama_hf_tokenizer_json(pieces)
    tj["added_tokens"].append({"id": 300, "content": "<|im_start|>", "special": True})
    tj["added_tokens"].append({"id": 301, "content": "<notspecial>", "special": False})
    tc = FX.llama2_tokenizer_config()
    tc["additional_special_tokens"] = ["<|im_start|>"]
    vocab, kv, _ = meta(TokenizerFiles(tokenizer_json=tj, tokenizer_config=tc), {"vocab_size": 304})
    assert vocab.reader == "llama_hf" and vocab.model == "llama"
    assert vocab.types[:4] == [T.CONTROL, T.CONTROL, T.CONTROL, T.BYTE] and vocab.types[259] == T.NORMAL
    assert vocab.types[300] == T.CONTROL and vocab.types[301] == T.USER_DEFINED
    assert set(vocab.scores) == {-1000.0}
    assert vocab.tokens[302:] == ["[PAD302]", "[PAD303]"]
    assert kv["tokenizer.ggml.add_bos_token"].value is True


def test_reader_order_prefers_tokenizer_model():
    pieces = FX.llama2_pieces(300)
    files = TokenizerFiles(tokenizer_model=FX.spm_model(pieces), tokenizer_json=FX.llama_hf_tokenizer_json(pieces))
    assert meta(files, {"vocab_size": 300})[0].reader == "spm"
    assert meta(files, {"vocab_size": 300}, readers=("llama_hf", "gpt2"))[0].reader == "llama_hf"


def test_errors():
    with pytest.raises(ModelFileNotFoundError, match="tokenizer"):
        meta(TokenizerFiles(), CFG)
    tj = small_bpe()
    tj["model"] = {"type": "Unigram", "vocab": [["a", 0.0]]}
    with pytest.raises(UnsupportedTokenizerError, match="Unigram"):
        meta(TokenizerFiles(tokenizer_json=tj), CFG)
    tj = small_bpe()
    del tj["model"]["vocab"]
    with pytest.raises(TokenizerError, match="model.vocab"):
        meta(TokenizerFiles(tokenizer_json=tj), CFG)
    with pytest.raises(TokenizerError, match="vocab_size is 100"):
        meta(TokenizerFiles(tokenizer_json=small_bpe()), {"vocab_size": 100})
    # an added token re-using a base token's string moves it (as HF's get_vocab does): the old id becomes a hole
    vocab, _, _ = meta(TokenizerFiles(tokenizer_json=small_bpe(specials=[("Ġt", 300, True)])), CFG)
    assert vocab.tokens[256] == "[PAD256]" and vocab.tokens[300] == "Ġt"
    tj = small_bpe()
    tj["model"]["merges"] = []
    with pytest.raises(TokenizerError, match="merges"):
        meta(TokenizerFiles(tokenizer_json=tj), CFG)
    tj = small_bpe(specials=[("[PAD301]", 300, True)])
    with pytest.raises(TokenizerError, match="unique"):
        meta(TokenizerFiles(tokenizer_json=tj), {"vocab_size": 302})
    tj = small_bpe()
    tj["added_tokens"].append({"id": "x", "content": "y"})
    with pytest.raises(TokenizerError, match="added_tokens"):
        meta(TokenizerFiles(tokenizer_json=tj), CFG)


def _splits(regexes):
    return {"type": "Sequence", "pretokenizers": [
        *[{"type": "Split", "pattern": {"Regex": r}, "behavior": "Isolated", "invert": False} for r in regexes],
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]}


def _arch_regexes():
    import arch_fixtures._common as C
    import arch_fixtures.deepseek as D
    return {"gpt-4o": [C.O200K_REGEX], "deepseek-llm": D.DEEPSEEK_LLM_SPLITS, "deepseek-v3": C.DEEPSEEK_V3_SPLITS}


@pytest.mark.parametrize("want", ["gpt-4o", "deepseek-llm", "deepseek-v3"])
def test_pre_tokenizer_gpt4o_and_deepseek(want):
    """The Split rules of the real tokenizer.json files (as tests/arch_fixtures reproduces them)."""
    tj = small_bpe()
    tj["pre_tokenizer"] = _splits(_arch_regexes()[want])
    assert T.detect_pre_tokenizer(tj) == want
    tj["pre_tokenizer"]["pretokenizers"] = tj["pre_tokenizer"]["pretokenizers"][1:]  # one rule short
    with pytest.raises(UnsupportedTokenizerError):
        T.detect_pre_tokenizer(tj)


def test_repeated_token_strings_are_refused_by_name():
    """An added token whose U+2581 becomes a space can repeat a vocabulary entry;
    llama.cpp needs unique strings, and the error names both ids."""
    tj = small_bpe()
    tj["model"]["vocab"][" "] = 302
    tj["added_tokens"].append({"id": 303, "content": "\u2581", "single_word": False, "lstrip": False, "rstrip": False,
                               "normalized": False, "special": False})
    with pytest.raises(TokenizerError, match=r"token string ' ' appears at ids 302 and 303"):
        meta(TokenizerFiles(tokenizer_json=tj), {"vocab_size": 304})
    del tj["model"]["vocab"][" "]
    tj["model"]["vocab"]["x"] = 302
    vocab, kv, _ = meta(TokenizerFiles(tokenizer_json=tj), {"vocab_size": 304})
    assert vocab.tokens[302:] == ["x", " "] and kv["tokenizer.ggml.token_type"].value[302:] == [T.NORMAL, T.USER_DEFINED]


def test_two_tokens_with_one_id_are_refused_by_name():
    tj = small_bpe()
    tj["model"]["vocab"]["zz"] = 5
    first = next(t for t, i in tj["model"]["vocab"].items() if i == 5)
    with pytest.raises(TokenizerError, match=rf"id 5 is used by both {first!r} and 'zz'"):
        meta(TokenizerFiles(tokenizer_json=tj), CFG)


@pytest.mark.parametrize("data", [
    b'{"a": [1, "x\\u00e9"],\r\n "b": "\xc3\xa9"}\r\n',  # CRLF whitespace: the same value
    b'{"a":\r1}\r',  # lone CRs between tokens
    b'\xef\xbb\xbf{"a": 1}',  # a BOM: refused by both readings
    b'{"a": "x\ry"}',  # a raw CR inside a string: refused (a text-mode read makes it a LF)
    b'{"a": 1,\r\n\r\n "b": }',  # invalid JSON after CRLFs: line and column as before
    b'{"a": "' + b"x" * 20000 + b'\xff"}',  # invalid UTF-8 past the text reader's first chunk
    b'{"a": "\xed\xa0\x80"}',  # an encoded surrogate
    b'[NaN, 1e400, -0.0, 12345678901234567890]',
])
def test_read_json_matches_a_text_mode_read(tmp_path, data):
    """_read_json reads the file's bytes at once (faster than a text-mode read); it gives
    the value, or raises the error with the message, that reading it as text gave."""
    import json

    from wick.convert.load import _read_json
    p = tmp_path / "tokenizer.json"
    p.write_bytes(data)
    try:
        with open(p, encoding="utf-8") as f:
            want, want_err = json.load(f), None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        want, want_err = None, e
    if want_err is None:
        got = _read_json(p, True, TokenizerError)
        assert got is not None and json.dumps(got) == json.dumps(want)  # NaN-safe (NaN != NaN)
    else:
        with pytest.raises(TokenizerError) as e:
            _read_json(p, True, TokenizerError)
        assert str(want_err) in str(e.value)


@pytest.mark.parametrize("extra", [0, 8])
def test_gpt2_vocab_in_any_order_reads_the_same(extra):
    """The GPT-2 reader takes tokens listed in id order, with no holes, as they are
    (the usual layout); the same vocabulary listed in another order (added tokens
    first, base ones shuffled) gives the same tokens, types and holes at the end."""
    import random
    tj = small_bpe()
    base = [t for t, _ in sorted(tj["model"]["vocab"].items(), key=lambda kv: kv[1])]
    k = len(base)
    added = [dict(a, id=k + j) for j, a in enumerate(sorted(tj["added_tokens"], key=lambda a: a["id"]))]
    dense = dict(tj, model=dict(tj["model"], vocab={t: i for i, t in enumerate(base)}), added_tokens=added)
    ids = list(dense["model"]["vocab"].values()) + [a["id"] for a in added]
    assert ids == list(range(len(ids)))  # the layout the reader takes as it is
    n = len(ids) + extra
    want = T._vocab_gpt2(TokenizerFiles(tokenizer_json=dense), n, None)
    items = list(dense["model"]["vocab"].items())
    random.Random(5).shuffle(items)
    shuffled = dict(dense, model=dict(dense["model"], vocab=dict(items)), added_tokens=added[::-1])
    got = T._vocab_gpt2(TokenizerFiles(tokenizer_json=shuffled), n, None)
    assert (got.tokens, got.types) == (want.tokens, want.types)
    assert want.tokens[:k] == base and want.types[k:k + 2] == [T.CONTROL] * 2
    assert want.tokens[len(ids):] == [f"[PAD{i}]" for i in range(len(ids), n)]
