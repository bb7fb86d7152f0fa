"""Shared pieces of the architecture fixtures: deterministic weights, a
safetensors writer, byte-level BPE and SentencePiece tokenizer builders, and
the :class:`Fixture` record every family module fills in.

Everything here is plain integer / IEEE arithmetic with numpy, so the bytes a
fixture builds are the same on every machine (the tests compare their
SHA-256 with the values recorded in tests/golden/arch_goldens.json).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

ROOT = Path(__file__).resolve().parents[2]

_spec = importlib.util.spec_from_file_location("make_tiny_llama", ROOT / "examples" / "make_tiny_llama.py")
tiny = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tiny)

# ------------------------------------------------------------------ weights
_M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def _splitmix(seed: int, n: int) -> np.ndarray:
    """n outputs of splitmix64 started at ``seed`` (uint64 wrap-around arithmetic)."""
    with np.errstate(over="ignore"):
        x = np.uint64(seed & 0xFFFFFFFFFFFFFFFF) + np.arange(1, n + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def normal_like(name: str, shape: Sequence[int], std: float = 0.02, mean: float = 0.0, salt: str = "") -> np.ndarray:
    """Deterministic, roughly N(mean, std) float32 values for the tensor ``name``
    (Irwin–Hall sum of four 16-bit uniforms from splitmix64 seeded by the name)."""
    n = int(np.prod(shape)) if len(shape) else 1
    seed = zlib.crc32((salt + name).encode()) | (len(name) << 32)
    r = _splitmix(seed, n)
    s = np.zeros(n, np.int64)
    for k in range(4):
        s += ((r >> np.uint64(16 * k)) & np.uint64(0xFFFF)).astype(np.int64)
    z = (s - 131070).astype(np.float64) / 37837.0  # variance of the sum of 4 uniforms on [0, 65535]
    return (mean + std * z).astype(np.float32).reshape(tuple(shape))


def to_dtype_bytes(a: np.ndarray, dtype: str) -> np.ndarray:
    """float32 values as the little-endian array of a safetensors dtype."""
    if dtype == "BF16":
        return tiny.f32_to_bf16_bits(a).astype("<u2")
    if dtype == "F16":
        return a.astype("<f2")
    if dtype == "F32":
        return a.astype("<f4")
    raise ValueError(dtype)


def write_safetensors(path: Path, tensors: Sequence[Tuple[str, str, Tuple[int, ...], np.ndarray]],
                      metadata: Optional[Dict[str, str]] = None) -> None:
    """(name, dtype, shape, raw array) → one .safetensors file, tensors in the given order."""
    tiny.write_safetensors(path, tensors, metadata)


# ---------------------------------------------------------------- tokenizers
GPT2_BYTES = tiny.bytes_to_unicode()
TRAINING_TEXT = tiny.TRAINING_TEXT + (
    "Ünïcödé — émojis and 中文字符, numbers 1234567 and 3.14159. The model's layers weigh tokens; "
    "hello world, hello there! def main():\n    return 42\n")


def trained_bpe(n_merges: int = 240) -> Tuple[List[str], List[Tuple[str, str]]]:
    """Base 256 byte symbols + merged tokens (vocabulary in id order) and the merges."""
    return tiny.train_bpe(TRAINING_TEXT, n_merges)


_BPE_CACHE: Dict[int, Tuple[List[str], List[Tuple[str, str]]]] = {}


def bpe_vocab(n_merges: int = 240) -> Tuple[List[str], List[Tuple[str, str]]]:
    if n_merges not in _BPE_CACHE:
        _BPE_CACHE[n_merges] = trained_bpe(n_merges)
    return _BPE_CACHE[n_merges]


def added(content: str, id_: int, special: bool = True, normalized: bool = False, lstrip: bool = False,
          rstrip: bool = False) -> dict:
    return {"id": id_, "content": content, "single_word": False, "lstrip": lstrip, "rstrip": rstrip,
            "normalized": normalized, "special": special}


def added_tokens_decoder(tokens: Sequence[dict]) -> dict:
    return {str(t["id"]): {k: t[k] for k in ("content", "lstrip", "normalized", "rstrip", "single_word", "special")}
            for t in tokens}


def byte_level_bpe_json(vocab: Sequence[str], merges: Sequence[Tuple[str, str]], added_tokens: Sequence[dict], *,
                        regex: Optional[str], normalizer: Optional[dict] = None, merges_as_pairs: bool = True,
                        ignore_merges: bool = False, trim_offsets: bool = False, add_prefix_space: bool = False,
                        post_processor: Optional[dict] = None, decoder: Optional[dict] = None,
                        byte_level_use_regex: bool = False, extra_pretokenizers: Sequence[dict] = ()) -> dict:
    """A byte-level BPE tokenizer.json (GPT-2 byte alphabet) with a Split(regex) + ByteLevel pre-tokenizer."""
    bl = {"type": "ByteLevel", "add_prefix_space": add_prefix_space, "trim_offsets": trim_offsets,
          "use_regex": byte_level_use_regex}
    if regex is None:
        pre = dict(bl)
    else:
        pre = {"type": "Sequence", "pretokenizers": [
            *extra_pretokenizers,
            {"type": "Split", "pattern": {"Regex": regex}, "behavior": "Isolated", "invert": False}, bl]}
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": list(added_tokens),
        "normalizer": normalizer,
        "pre_tokenizer": pre,
        "post_processor": post_processor if post_processor is not None else
        {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
        "decoder": decoder if decoder is not None else
        {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": ignore_merges,
                  "vocab": {t: i for i, t in enumerate(vocab)},
                  "merges": [[a, b] for a, b in merges] if merges_as_pairs else [f"{a} {b}" for a, b in merges]},
    }


def template_processing(bos: Optional[str], bos_id: Optional[int], eos: Optional[str] = None,
                        eos_id: Optional[int] = None) -> dict:
    """A TemplateProcessing post-processor adding ``bos`` (and ``eos``) around a sequence."""
    single: List[dict] = []
    pair: List[dict] = []
    special: Dict[str, dict] = {}
    if bos is not None:
        single.append({"SpecialToken": {"id": bos, "type_id": 0}})
        pair.append({"SpecialToken": {"id": bos, "type_id": 0}})
        special[bos] = {"id": bos, "ids": [bos_id], "tokens": [bos]}
    single.append({"Sequence": {"id": "A", "type_id": 0}})
    pair.append({"Sequence": {"id": "A", "type_id": 0}})
    if eos is not None:
        single.append({"SpecialToken": {"id": eos, "type_id": 0}})
        pair.append({"SpecialToken": {"id": eos, "type_id": 0}})
        special[eos] = {"id": eos, "ids": [eos_id], "tokens": [eos]}
    if bos is not None:
        pair.append({"SpecialToken": {"id": bos, "type_id": 1}})
    pair.append({"Sequence": {"id": "B", "type_id": 1}})
    if eos is not None:
        pair.append({"SpecialToken": {"id": eos, "type_id": 1}})
    return {"type": "TemplateProcessing", "single": single, "pair": pair, "special_tokens": special}


# SentencePiece ModelProto (protobuf wire format)
def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(no: int, wt: int, payload: bytes) -> bytes:
    key = _varint((no << 3) | wt)
    return key + (_varint(len(payload)) + payload if wt == 2 else payload)


SPM_NORMAL, SPM_UNKNOWN, SPM_CONTROL, SPM_USER_DEFINED, SPM_UNUSED, SPM_BYTE = 1, 2, 3, 4, 5, 6


def spm_model(pieces: Sequence[Tuple[str, float, int]], *, add_dummy_prefix: bool, unk_id: int = 0, bos_id: int = 1,
              eos_id: int = 2, pad_id: int = -1, byte_fallback: bool = True) -> bytes:
    """A SentencePiece BPE model: pieces [(text, score, type)], trainer spec (model_type BPE, the
    special ids, byte_fallback) and normalizer spec (identity, add_dummy_prefix)."""
    body = b""
    for text, score, typ in pieces:
        p = _field(1, 2, text.encode("utf-8")) + _field(2, 5, struct.pack("<f", score))
        if typ != SPM_NORMAL:
            p += _field(3, 0, _varint(typ))
        body += _field(1, 2, p)

    def i32(no: int, v: int) -> bytes:
        return _field(no, 0, _varint(v & 0xFFFFFFFFFFFFFFFF))

    trainer = (_field(3, 0, _varint(2)) + i32(40, unk_id) + i32(41, bos_id) + i32(42, eos_id) + i32(43, pad_id)
               + _field(35, 0, _varint(1 if byte_fallback else 0)))
    normalizer = (_field(1, 2, b"identity") + _field(3, 0, _varint(1 if add_dummy_prefix else 0))
                  + _field(4, 0, _varint(0)) + _field(5, 0, _varint(1)))
    return body + _field(2, 2, trainer) + _field(3, 2, normalizer)


SPM_WORDS = ["the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "hello", "world", "model", "layer",
             "token", "weight", "numbers", "and", "special", "in", "text", "user", "assistant", "system",
             "what", "is", "a", "of", "to", "you", "I", "it"]


def spm_word_pieces(start_rank: int = 0) -> List[Tuple[str, float, int]]:
    """Normal pieces for a small SentencePiece vocabulary: '▁' and every letter/digit, then words
    with and without the '▁' prefix and their halves, scored by rank."""
    out: List[Tuple[str, float, int]] = []
    seen = set()
    rank = start_rank

    def put(t: str) -> None:
        nonlocal rank
        if t and t not in seen:
            seen.add(t)
            out.append((t, -float(rank), SPM_NORMAL))
            rank += 1

    put("\u2581")
    for w in SPM_WORDS:
        put("\u2581" + w)
        put(w)
        for cut in range(2, len(w)):
            put(w[:cut])
            put("\u2581" + w[:cut])
    for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,!?'-:;()\u00fc\u00e9":
        put(c)
    return out


def spm_merges(pieces: Sequence[Tuple[str, float, int]]) -> List[str]:
    """The merges transformers derives from a SentencePiece BPE model: every split of a piece into
    two pieces of the vocabulary, ordered by the merged piece's id, then the left and right ids."""
    ids = {p[0]: i for i, p in enumerate(pieces) if p[2] in (SPM_NORMAL, SPM_USER_DEFINED)}
    merges = []
    for text, i in ids.items():
        for cut in range(1, len(text)):
            a, b = text[:cut], text[cut:]
            if a in ids and b in ids:
                merges.append((i, ids[a], ids[b], f"{a} {b}"))
    return [m[3] for m in sorted(merges)]


def spm_hf_tokenizer_json(pieces: Sequence[Tuple[str, float, int]], added_tokens: Sequence[dict], *,
                          prepend: bool, post_processor: Optional[dict], unk: str = "<unk>",
                          strip_decoder: bool = False) -> dict:
    """The tokenizer.json transformers writes for a SentencePiece BPE model with byte fallback."""
    normalizers: List[dict] = []
    if prepend:
        normalizers.append({"type": "Prepend", "prepend": "\u2581"})
    normalizers.append({"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"})
    decoders: List[dict] = [{"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
                            {"type": "ByteFallback"}, {"type": "Fuse"}]
    if strip_decoder:
        decoders.append({"type": "Strip", "content": " ", "start": 1, "stop": 0})
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": list(added_tokens),
        "normalizer": {"type": "Sequence", "normalizers": normalizers} if len(normalizers) > 1 else normalizers[0],
        "pre_tokenizer": None if prepend else {"type": "Split", "pattern": {"String": " "}, "behavior": "MergedWithPrevious",
                                                "invert": False},
        "post_processor": post_processor,
        "decoder": {"type": "Sequence", "decoders": decoders},
        "model": {"type": "BPE", "dropout": None, "unk_token": unk, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
                  "vocab": {p[0]: i for i, p in enumerate(pieces)}, "merges": spm_merges(pieces)},
    }


# ------------------------------------------------------------------ fixture
@dataclass
class Tensor:
    """One checkpoint tensor: name, shape, safetensors dtype and how its values are made."""
    name: str
    shape: Tuple[int, ...]
    dtype: str = "BF16"
    std: float = 0.02
    mean: float = 0.0
    raw: Optional[Callable[[], np.ndarray]] = None  # bytes of an integer tensor (U8 blocks, …)

    def data(self) -> np.ndarray:
        if self.raw is not None:
            return self.raw()
        return to_dtype_bytes(normal_like(self.name, self.shape, self.std, self.mean), self.dtype)


@dataclass
class Fixture:
    """A model directory: files written as JSON / bytes, plus the safetensors checkpoint."""
    name: str                      # fixture id (the key in arch_goldens.json)
    hf_class: str                  # config.json architectures[0]
    dir_name: str                  # directory name (becomes general.name / basename)
    config: dict
    tensors: List[Tensor]
    files: Dict[str, Any] = field(default_factory=dict)  # file name → dict (JSON) / bytes / str
    pre: Optional[str] = None      # tokenizer.ggml.pre of the real tokenizer (BPE families)
    pre_source: str = ""           # how ``pre`` was determined
    notes: str = ""
    shards: int = 1
    convert_args: Tuple[str, ...] = ()

    def write(self, root: Path) -> Path:
        """Write the model directory ``root / dir_name`` and return it."""
        d = Path(root) / self.dir_name
        d.mkdir(parents=True, exist_ok=False)
        (d / "config.json").write_text(json.dumps(self.config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        for fname, content in self.files.items():
            if isinstance(content, bytes):
                (d / fname).write_bytes(content)
            elif isinstance(content, str):
                (d / fname).write_text(content, encoding="utf-8")
            else:
                (d / fname).write_text(json.dumps(content, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        ts = sorted(self.tensors, key=lambda t: t.name)
        if len({t.name for t in ts}) != len(ts):
            raise ValueError(f"{self.name}: duplicate tensor names")
        if self.shards == 1:
            write_safetensors(d / "model.safetensors", [(t.name, t.dtype, t.shape, t.data()) for t in ts],
                              {"format": "pt"})
        else:
            parts: List[List[Tensor]] = [[] for _ in range(self.shards)]
            for i, t in enumerate(ts):
                parts[i * self.shards // len(ts)].append(t)
            weight_map = {}
            total = 0
            for k, part in enumerate(parts):
                fname = f"model-{k + 1:05d}-of-{self.shards:05d}.safetensors"
                write_safetensors(d / fname, [(t.name, t.dtype, t.shape, t.data()) for t in part], {"format": "pt"})
                for t in part:
                    weight_map[t.name] = fname
                    total += t.data().nbytes
            index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
            (d / "model.safetensors.index.json").write_text(json.dumps(index, indent=2) + "\n")
        return d


def file_hashes(d: Path) -> Dict[str, str]:
    """SHA-256 of every file in a fixture directory, by name."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(Path(d).iterdir()) if p.is_file()}


# ------------------------------------------------------------ tensor lists
def T(name: str, *shape: int, dtype: str = "BF16", std: float = 0.02, mean: float = 0.0) -> Tensor:
    return Tensor(name, tuple(shape), dtype, std, mean)


def norm(name: str, n: int, dtype: str = "BF16", mean: float = 1.0, std: float = 0.05) -> Tensor:
    """A norm weight around its real value (``mean``)."""
    return Tensor(name, (n,), dtype, std, mean)


def llama_attn(p: str, E: int, H: int, Hkv: int, D: int, *, bias: bool = False, o_bias: bool = False,
               qk_norm: Optional[str] = None, dtype: str = "BF16", attn: str = "self_attn") -> List[Tensor]:
    """q/k/v/o projections (+ biases, + q/k norms of width D ("head") or full width ("full"))."""
    a = f"{p}{attn}."
    out = [T(a + "q_proj.weight", H * D, E, dtype=dtype), T(a + "k_proj.weight", Hkv * D, E, dtype=dtype),
           T(a + "v_proj.weight", Hkv * D, E, dtype=dtype), T(a + "o_proj.weight", E, H * D, dtype=dtype)]
    if bias:
        out += [T(a + "q_proj.bias", H * D, dtype=dtype), T(a + "k_proj.bias", Hkv * D, dtype=dtype),
                T(a + "v_proj.bias", Hkv * D, dtype=dtype)]
    if o_bias:
        out.append(T(a + "o_proj.bias", E, dtype=dtype))
    if qk_norm == "head":
        out += [norm(a + "q_norm.weight", D, dtype), norm(a + "k_norm.weight", D, dtype)]
    elif qk_norm == "full":
        out += [norm(a + "q_norm.weight", H * D, dtype), norm(a + "k_norm.weight", Hkv * D, dtype)]
    return out


def llama_mlp(p: str, E: int, F: int, *, dtype: str = "BF16", mlp: str = "mlp", bias: bool = False) -> List[Tensor]:
    m = f"{p}{mlp}."
    out = [T(m + "gate_proj.weight", F, E, dtype=dtype), T(m + "up_proj.weight", F, E, dtype=dtype),
           T(m + "down_proj.weight", E, F, dtype=dtype)]
    if bias:
        out += [T(m + "gate_proj.bias", F, dtype=dtype), T(m + "up_proj.bias", F, dtype=dtype),
                T(m + "down_proj.bias", E, dtype=dtype)]
    return out


def experts(p: str, n: int, E: int, F: int, *, dtype: str = "BF16", names=("gate_proj", "up_proj", "down_proj"),
            prefix: str = "mlp.experts") -> List[Tensor]:
    """Per-expert 2-D tensors ``{p}{prefix}.{x}.{gate,up,down}.weight``."""
    g, u, dn = names
    out = []
    for x in range(n):
        q = f"{p}{prefix}.{x}."
        out += [T(q + f"{g}.weight", F, E, dtype=dtype), T(q + f"{u}.weight", F, E, dtype=dtype),
                T(q + f"{dn}.weight", E, F, dtype=dtype)]
    return out


def embeddings(V: int, E: int, *, tied: bool, dtype: str = "BF16", prefix: str = "model.",
               final_norm_mean: float = 1.0) -> List[Tensor]:
    out = [T(f"{prefix}embed_tokens.weight", V, E, dtype=dtype), norm(f"{prefix}norm.weight", E, dtype, final_norm_mean)]
    if not tied:
        out.append(T("lm_head.weight", V, E, dtype=dtype))
    return out


# ----------------------------------------------------------- BPE families
CL100K_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")               # Llama 3, GPT-4 cl100k (dbrx, OLMo 2, Phi-4), GLM-4
QWEN2_REGEX = CL100K_REGEX.replace(r"\p{N}{1,3}", r"\p{N}")
QWEN35_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")
O200K_REGEX = (r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
               r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
               r"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+")  # gpt-4o, Llama 4
TEKKEN_REGEX = (r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+"
                r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*"
                r"|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+")
DEEPSEEK_V3_SPLITS = [r"\p{N}{1,3}", "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+",
                      r"[!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+"
                      r"| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"]
DIGITS = {"type": "Digits", "individual_digits": True}


def split(regex: str) -> dict:
    return {"type": "Split", "pattern": {"Regex": regex}, "behavior": "Isolated", "invert": False}


@dataclass
class Bpe:
    """A byte-level BPE vocabulary with added tokens: ``ids`` maps each added token to its id."""
    tokenizer_json: dict
    added_tokens: List[dict]
    ids: Dict[str, int]
    n_vocab: int


def bpe(specials: Sequence[Tuple[str, bool]], *, first: bool = False, regex: Optional[str] = CL100K_REGEX,
        pre_tokenizer: Optional[dict] = None, normalizer: Optional[dict] = None, n_merges: int = 240,
        post_processor: Optional[dict] = None, decoder: Optional[dict] = None, ignore_merges: bool = False,
        merges_as_pairs: bool = True, trim_offsets: bool = False, gap: int = 0) -> Bpe:
    """The trained byte-level vocabulary plus ``specials`` [(content, special)] placed before it
    (``first``) or after it (with ``gap`` unused ids in between, as in vocabularies whose added
    tokens start at a round number)."""
    base, merges = bpe_vocab(n_merges)
    if first:
        start_base, start_sp = len(specials), 0
    else:
        start_base, start_sp = 0, len(base) + gap
    vocab = {t: start_base + i for i, t in enumerate(base)}
    toks = [added(c, start_sp + i, sp) for i, (c, sp) in enumerate(specials)]
    if first:
        # vocabularies that open with their control tokens (StarCoder/Granite, Cohere, Tekken, DeepSeek-V3,
        # EXAONE, GPT-NeoX) list them in model.vocab as well as in added_tokens (tokenizers ignores the
        # added tokens' "id" and numbers any token missing from the model's vocabulary after it)
        vocab.update({t["content"]: t["id"] for t in toks})
    tj = byte_level_bpe_json([], merges, toks, regex=regex, normalizer=normalizer, merges_as_pairs=merges_as_pairs,
                             ignore_merges=ignore_merges, trim_offsets=trim_offsets, post_processor=post_processor,
                             decoder=decoder)
    tj["model"]["vocab"] = vocab
    if pre_tokenizer is not None:
        tj["pre_tokenizer"] = pre_tokenizer
    n = len(base) + len(specials) + gap
    return Bpe(tj, toks, {c: start_sp + i for i, (c, _) in enumerate(specials)}, n)


def byte_level(use_regex: bool, add_prefix_space: bool = False, trim_offsets: bool = True) -> dict:
    return {"type": "ByteLevel", "add_prefix_space": add_prefix_space, "trim_offsets": trim_offsets,
            "use_regex": use_regex}


def pad_to(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


# ------------------------------------------------------------ Qwen vocabulary
QWEN_SPECIALS = [("<|endoftext|>", True), ("<|im_start|>", True), ("<|im_end|>", True), ("<|object_ref_start|>", True),
                 ("<|object_ref_end|>", True), ("<|box_start|>", True), ("<|box_end|>", True), ("<|quad_start|>", True),
                 ("<|quad_end|>", True), ("<|vision_start|>", True), ("<|vision_end|>", True), ("<|vision_pad|>", True),
                 ("<|image_pad|>", True), ("<|video_pad|>", True), ("<tool_call>", False), ("</tool_call>", False),
                 ("<|fim_prefix|>", False), ("<|fim_middle|>", False), ("<|fim_suffix|>", False), ("<|fim_pad|>", False),
                 ("<|repo_name|>", False), ("<|file_sep|>", False)]
QWEN_TEMPLATE = ("{%- for message in messages %}{{- '<|im_start|>' + message['role'] + '\n' + message['content'] + "
                 "'<|im_end|>' + '\n' }}{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\n' }}"
                 "{%- endif %}")


def qwen_tokenizer(regex: str = QWEN2_REGEX, extra: Sequence[Tuple[str, bool]] = ()) -> Tuple[Bpe, dict]:
    """Qwen2/2.5/3 style: NFC, byte-level BPE, added tokens after the vocabulary, no BOS."""
    b = bpe(list(QWEN_SPECIALS) + list(extra), regex=regex, normalizer={"type": "NFC"},
            post_processor={"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
            decoder={"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False})
    tc = {"add_bos_token": False, "add_prefix_space": False, "added_tokens_decoder": added_tokens_decoder(b.added_tokens),
          "additional_special_tokens": ["<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
                                        "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>",
                                        "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>",
                                        "<|video_pad|>"],
          "bos_token": None, "chat_template": QWEN_TEMPLATE, "clean_up_tokenization_spaces": False,
          "eos_token": "<|im_end|>", "errors": "replace", "model_max_length": 131072, "pad_token": "<|endoftext|>",
          "split_special_tokens": False, "tokenizer_class": "Qwen2Tokenizer", "unk_token": None}
    return b, tc


# -------------------------------------------------------------- quantized
def fp8_e4m3_tensor(name: str, shape: Sequence[int]) -> Tensor:
    """A float8_e4m3fn weight as a block-FP8 checkpoint stores it: random sign, exponent field 1–10
    and mantissa (never NaN); paired with :func:`fp8_scale_inv`."""
    def raw() -> np.ndarray:
        n = int(np.prod(shape))
        r = _splitmix(zlib.crc32(name.encode()), n)
        sign = ((r >> np.uint64(7)) & np.uint64(1)).astype(np.uint8) << np.uint8(7)
        exp = (((r >> np.uint64(8)) & np.uint64(0xFFFF)) % np.uint64(10) + np.uint64(1)).astype(np.uint8) << np.uint8(3)
        man = ((r >> np.uint64(24)) & np.uint64(7)).astype(np.uint8)
        return (sign | exp | man).reshape(tuple(shape))
    return Tensor(name, tuple(shape), "F8_E4M3", raw=raw)


def fp8_scale_inv(name: str, shape: Sequence[int], block: int = 128) -> Tensor:
    """The float32 ``weight_scale_inv`` of a block-FP8 weight of ``shape`` (one per 128×128 block)."""
    s = tuple(-(-d // block) for d in shape)
    return Tensor(name + "_scale_inv", s, "F32", std=0.0005, mean=0.003)


def fp8_linear(name: str, out: int, inp: int) -> List[Tensor]:
    return [fp8_e4m3_tensor(name, (out, inp)), fp8_scale_inv(name, (out, inp))]
