"""LoRA adapters: a PEFT adapter directory → the GGUF adapter llama.cpp loads
(``wick convert-lora``, :func:`convert_lora`).

The file is the one the pinned llama.cpp's ``convert_lora_to_gguf.py`` writes
for the same adapter and base model, byte for byte. That script reuses the
base model's converter class: the same tensor-name map and the same
``modify_tensors`` (Llama's q/k permutation, splits of fused projections,
expert stacking), applied to a *pair* of tensors — ``W = B @ A`` — whose
shape operations act on ``B`` (output rows) or ``A`` (input columns) as the
operation requires (its ``LoraTorchTensor``). Wick does the same with the
architecture adapters of :mod:`wick.convert.archs`: each pair is a
:class:`LoraPair` of two :class:`~wick.convert.lazy.LazyTensor`, so a LoRA
conversion is a :class:`~wick.convert.plan.Plan` run by the Go executor like
any model conversion (streamed, atomic output, progress, named errors).

What the reference writes, and Wick with it:

* tensors ``<base GGUF name>.lora_a`` (shape ``[rank, in]`` as torch has it)
  and ``.lora_b`` (``[out, rank]``), pairs in the order the adapter file first
  names their module (the file's data order); ``token_embd.weight.lora_a`` is
  transposed (PEFT's ``lora_embedding_A`` is ``[rank, vocab]``). Norm
  tensors some tools add to adapters (mergekit-extract-lora) are written
  first, as themselves;
* types: ``--type`` F32 (the script's default ``--outtype f32``), F16, BF16 or
  Q8_0 for every pair tensor; 1-D tensors stay F32; with Q8_0 a tensor whose
  rows are not a multiple of 32 (a ``lora_b`` of rank 8 or 16) is F16, as
  gguf-py falls back;
* metadata: ``general.architecture`` (the base model's), ``general.type``
  ``adapter``, ``adapter.type`` ``lora``, the ``general.*`` naming keys made
  from the *adapter* directory (its name, README.md model card,
  config.json/generation_config.json if it has them), ``adapter.lora.alpha``
  (adapter_config.json's ``lora_alpha`` as float32),
  ``adapter.alora.invocation_tokens`` when given, and
  ``general.quantization_version``. No architecture hyper-parameters, no
  tokenizer and no ``general.file_type``: llama.cpp takes those from the base
  GGUF.

Only the base model's config.json is needed (and read); when the base
directory also holds its safetensors, their headers are read too. Wick checks
more than the reference (which then writes a file llama.cpp refuses to load):
every target module must map in the base architecture and every pair's
``B @ A`` must have the base weight's shape (from config.json, and, with the
weights at hand, the adapted weight must be one of them); an adapter
whose effect llama.cpp cannot reproduce (DoRA, rank-stabilised LoRA,
per-module alphas) is refused rather than converted to a different model.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from ..gguf import values as V
from .archs import Adapter, HParams, MappedTensor, adapter_for
from .archs._base import SOURCE_DTYPES
from .errors import (
    ConfigError,
    ConvertError,
    LoraAdapterError,
    LoraBaseMismatchError,
    ModelFileNotFoundError,
    PlanError,
    UnexpectedTensorError,
    UnknownTargetError,
    UnsupportedLoraError,
)
from .lazy import LazyTensor, SourceInfo

__all__ = ["LoraPair", "LORA_TARGETS", "read_adapter_dir", "build_lora_plan", "convert_lora",
           "LoraAdapterError", "LoraBaseMismatchError", "UnsupportedLoraError"]

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"

#: the types ``convert_lora_to_gguf.py --outtype`` offers (but ``auto``), with the
#: llama_ftype the plan records (the file itself has no general.file_type)
LORA_TARGETS: Dict[str, int] = {"F32": 0, "F16": 1, "BF16": 32, "Q8_0": 7}
DEFAULT_TYPE = "F32"  # convert_lora_to_gguf.py's default --outtype f32

# the converter's prepare_tensors skips these names
_SKIP_SUFFIXES = (".attention.masked_bias", ".attention.bias", ".rotary_emb.inv_freq")


class _PairOpError(Exception):
    """A shape operation the pair cannot express (the reference raises NotImplementedError)."""


def base_tensor_name(lora_name: str) -> str:
    """The base checkpoint name of a PEFT tensor name (``get_base_tensor_name``)."""
    base = lora_name.replace("base_model.model.", "")
    base = base.replace(".lora_A.weight", ".weight").replace(".lora_B.weight", ".weight")
    return base.replace(".lora_embedding_A", ".weight").replace(".lora_embedding_B", ".weight")


@dataclass(frozen=True)
class LoraPair:
    """A low-rank update ``W = B @ A`` seen as the weight it changes (llama.cpp's
    ``LoraTorchTensor``): ``a`` is ``(…, rank, cols)``, ``b`` is ``(…, rows, rank)``
    and the pair has the weight's shape ``(…, rows, cols)``. Shape operations go
    to ``b`` when they move rows and to ``a`` when they move columns, with the
    reference's rules (and its limits: what it cannot express raises)."""

    a: LazyTensor
    b: LazyTensor

    @staticmethod
    def of(a: LazyTensor, b: LazyTensor) -> LoraPair:
        """A pair as the reference builds it: mixed dtypes compute in float32."""
        if a.ndim != b.ndim or a.ndim < 2 or a.shape[-2] != b.shape[-1]:
            raise _PairOpError(f"lora_A {list(a.shape)} and lora_B {list(b.shape)} do not make a rank-r pair")
        if a.dtype != b.dtype:
            a, b = a.float(), b.float()
        return LoraPair(a, b)

    # ------------------------------------------------------------------ facts
    @property
    def shape(self) -> Tuple[int, ...]:
        """The shape of the weight the pair updates."""
        return (*self.b.shape[:-1], self.a.shape[-1])

    @property
    def ndim(self) -> int:
        """Number of dimensions of the weight."""
        return len(self.shape)

    @property
    def rank(self) -> int:
        """The LoRA rank."""
        return self.b.shape[-1]

    @property
    def dtype(self) -> str:
        """The dtype the converter computes in (``"F16"`` or ``"F32"``)."""
        return self.a.dtype

    @property
    def name(self) -> str:
        """The adapter's ``lora_B`` tensor name."""
        return self.b.name

    @property
    def sources(self) -> Tuple[Any, ...]:
        """Both halves' sources."""
        return self.a.sources + self.b.sources

    def numel(self) -> int:
        """Elements of the weight."""
        n = 1
        for d in self.shape:
            n *= d
        return n

    # ------------------------------------------------------------ shape ops
    def reshape(self, *shape: Any) -> LoraPair:
        """torch ``reshape`` / ``view``: only the leading (row) dimensions may change."""
        return self._reshape(shape, contiguous=False)

    def contiguous_reshape(self, *shape: Any) -> LoraPair:
        """torch ``.contiguous().reshape(shape)`` (see :meth:`LazyTensor.contiguous_reshape`): as
        :meth:`reshape`, on factors that may have been permuted."""
        return self._reshape(shape, contiguous=True)

    def _reshape(self, shape: Tuple[Any, ...], contiguous: bool) -> LoraPair:
        new = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else tuple(shape)
        orig = self.shape
        if len(new) < 2:
            raise _PairOpError(f"reshape to {list(new)} (a LoRA pair cannot become a vector)")
        if any(d == -1 for d in new):
            n = self.numel()
            known = 1
            for d in new:
                known *= d if d != -1 else 1
            new = tuple(d if d != -1 else n // known for d in new)
        if new[-1] != orig[-1]:
            raise _PairOpError(f"reshape {list(orig)} to {list(new)} (the row length of a LoRA pair cannot change)")
        shape_a = (*(1 for _ in new[:-2]), self.rank, orig[-1])
        shape_b = (*new[:-1], self.rank)
        if contiguous:
            return LoraPair(self.a.contiguous_reshape(*shape_a), self.b.contiguous_reshape(*shape_b))
        return LoraPair(self.a.reshape(*shape_a), self.b.reshape(*shape_b))

    view = reshape

    def permute(self, *dims: Any) -> LoraPair:
        """torch ``permute``: the last dimension kept (rows reordered: ``b``), or a 2-D transpose."""
        if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
            dims = tuple(dims[0])
        n = self.ndim
        rel = tuple(d - n if d >= 0 else d for d in dims)
        if rel[-1] == -1:
            if any(d != 1 for d in self.a.shape[:-2]):
                raise _PairOpError(f"permute {list(dims)} of a pair whose lora_A is {list(self.a.shape)}")
            return LoraPair(self.a, self.b.permute(*(d % n for d in rel)))
        if n == 2 and rel[-1] == -2 and rel[-2] == -1:
            return LoraPair(self.b.permute(1, 0), self.a.permute(1, 0))
        raise _PairOpError(f"permute {list(dims)} of a {n}-D pair")

    def transpose(self, d0: int, d1: int) -> LoraPair:
        """torch ``transpose``."""
        order = list(range(self.ndim))
        order[d0], order[d1] = order[d1], order[d0]
        return self.permute(*order)

    swapaxes = transpose

    @property
    def T(self) -> LoraPair:  # noqa: N802 - torch's name
        """The 2-D transpose."""
        return self.transpose(0, 1)

    def contiguous(self) -> LoraPair:
        """torch ``contiguous``: unchanged."""
        return self

    def float(self) -> LoraPair:
        """torch ``.float()``."""
        return LoraPair(self.a.float(), self.b.float())

    def permute_qk(self, n_head: int) -> LoraPair:
        """llama.cpp's ``LlamaModel.permute`` on a pair: reshape to heads, swap, reshape
        back — which moves the rows of ``b`` and leaves ``a`` as it is."""
        return LoraPair(self.a, self.b.permute_qk(n_head))

    def split(self, sizes: Union[int, Sequence[int]], dim: int = 0) -> List[LoraPair]:
        """torch ``split``: columns split ``a``, rows split ``b``."""
        n = self.ndim
        dim = dim + n if dim < 0 else dim
        if dim == n - 1:
            return [LoraPair(a, self.b) for a in self.a.split(sizes, n - 1)]
        if dim == n - 2:
            return [LoraPair(self.a, b) for b in self.b.split(sizes, n - 2)]
        bs = self.b.split(sizes, dim)
        if self.a.shape[dim] == 1:
            return [LoraPair(self.a, b) for b in bs]
        return [LoraPair(a, b) for a, b in zip(self.a.split(sizes, dim), bs)]

    def chunk(self, k: int, dim: int = 0) -> List[LoraPair]:
        """torch ``chunk`` (equal pieces)."""
        size = self.shape[dim]
        if size % k:
            raise _PairOpError(f"chunk of {size} into {k}")
        return self.split(size // k, dim)

    def __getitem__(self, key: Any) -> LoraPair:
        if isinstance(key, slice) and self.ndim == 2:
            return LoraPair(self.a, self.b[key])
        if isinstance(key, (int, slice)) and self.ndim > 2:
            return LoraPair(self.a[key], self.b[key])
        raise _PairOpError(f"indexing with {key!r}")

    def __mul__(self, c: Any) -> LoraPair:
        """Scaling the output side: ``(c·B) @ A`` (a scalar only, as the reference)."""
        if isinstance(c, bool) or not isinstance(c, (int, float)):
            raise _PairOpError("multiplication by a tensor")
        return LoraPair(self.a, self.b * c)

    __rmul__ = __mul__

    def _unsupported(self, *args: Any) -> Any:
        raise _PairOpError("element-wise arithmetic other than scaling")

    __add__ = __radd__ = __sub__ = __neg__ = exp = squeeze = unsqueeze = flatten = _unsupported

    # --------------------------------------------------------- combinations
    @staticmethod
    def stack(pairs: Sequence[LoraPair], dim: int = 0) -> LoraPair:
        """torch ``stack`` of pairs (experts): both halves stacked."""
        if dim != 0:
            raise _PairOpError(f"stack along dimension {dim}")
        return LoraPair(LazyTensor.stack([p.a for p in pairs]), LazyTensor.stack([p.b for p in pairs]))

    @staticmethod
    def cat(pairs: Sequence[LoraPair], dim: int = 0) -> LoraPair:
        """torch ``cat`` of pairs along the first dimension: 3-D pairs concatenate both
        halves; 2-D pairs must share their ``lora_A`` (only ``b`` grows)."""
        if dim != 0:
            raise _PairOpError(f"cat along dimension {dim}")
        first = pairs[0]
        if first.ndim > 2:
            return LoraPair(LazyTensor.cat([p.a for p in pairs]), LazyTensor.cat([p.b for p in pairs]))
        if all(p.a == first.a for p in pairs[1:]):
            return LoraPair(first.a, LazyTensor.cat([p.b for p in pairs]))
        # the reference compares the values (torch.equal); Wick compares what they are read from
        raise _PairOpError("cat of 2-D pairs with different lora_A tensors")


# ---------------------------------------------------------------- reading
@dataclass
class AdapterDir:
    """A PEFT adapter directory, read (no tensor data)."""

    path: Path
    config: Dict[str, Any]  # adapter_config.json
    tensors: Dict[str, Tuple[str, Tuple[int, ...], int]]  # name -> (dtype, shape, data offset)
    model_card: Dict[str, Any]
    hf_config: Dict[str, Any]  # the adapter directory's own config.json, if any
    generation_config: Dict[str, Any]


def _read_json_file(path: Path, required: bool) -> Optional[Any]:
    if not path.is_file():
        if required:
            raise ModelFileNotFoundError(f"convert-lora: {path.name}: not found in {path.parent}", str(path))
        return None
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise LoraAdapterError(f"convert-lora: {path}: invalid JSON: {e}", path.name) from None


def read_adapter_dir(path: Union[str, os.PathLike[str]]) -> AdapterDir:
    """Read adapter_config.json, the safetensors header of adapter_model.safetensors
    and the directory's model card (README.md front matter).

    Raises:
        ModelFileNotFoundError: the directory, adapter_config.json or
            adapter_model.safetensors is missing (a pickled adapter_model.bin is
            named: Wick reads safetensors only).
        LoraAdapterError: either file is malformed.
    """
    from .general import load_model_card
    from .load import read_safetensors_header

    d = Path(os.fspath(path))
    if not d.is_dir():
        raise ModelFileNotFoundError(f"convert-lora: adapter directory {str(d)!r} not found (or not a directory)", str(d))
    cfg = _read_json_file(d / ADAPTER_CONFIG, True)
    if not isinstance(cfg, dict):
        raise LoraAdapterError(f"convert-lora: {d / ADAPTER_CONFIG}: must hold a JSON object", ADAPTER_CONFIG)
    weights = d / ADAPTER_WEIGHTS
    if not weights.is_file():
        extra = (" (there is an adapter_model.bin: a pickle, which Wick does not read; save the adapter with "
                 "safe_serialization=True, PEFT's default)") if (d / "adapter_model.bin").is_file() else ""
        raise ModelFileNotFoundError(f"convert-lora: {ADAPTER_WEIGHTS}: not found in {d}{extra}", str(weights))
    read_safetensors_header(str(weights))  # validates the header; names the file in its errors
    from .. import safetensors as st

    with st.open(str(weights)) as m:
        tensors = {t.name: (t.dtype, tuple(int(x) for x in t.shape), int(t.offset)) for t in m.tensors.values()}
    readme = d / "README.md"
    card = load_model_card(readme.read_text(encoding="utf-8", errors="replace")) if readme.is_file() else {}
    hf = _read_json_file(d / "config.json", False)
    gen = _read_json_file(d / "generation_config.json", False)
    return AdapterDir(d, cfg, tensors, card, hf if isinstance(hf, dict) else {}, gen if isinstance(gen, dict) else {})


def _read_base_config(base: Union[str, os.PathLike[str]]) -> Tuple[Path, Dict[str, Any]]:
    d = Path(os.fspath(base))
    if not d.is_dir():
        raise ModelFileNotFoundError(f"convert-lora: base model directory {str(d)!r} not found (or not a directory)",
                                     str(d))
    cfg = _read_json_file(d / "config.json", True)
    if not isinstance(cfg, dict):
        raise ConfigError(f"convert-lora: {d / 'config.json'}: must hold a JSON object", "config.json")
    return d, cfg


# ---------------------------------------------------------------- planning
def _check_adapter_config(ad: AdapterDir) -> Tuple[float, Optional[List[int]]]:
    """``lora_alpha`` and the aLoRA invocation tokens, after refusing what llama.cpp cannot run."""
    cfg = ad.config
    where = f"convert-lora: {ad.path / ADAPTER_CONFIG}"
    peft_type = cfg.get("peft_type", "LORA")
    if peft_type != "LORA":
        raise UnsupportedLoraError(f"{where}: peft_type {peft_type!r}: only LoRA adapters convert to GGUF")
    alpha = cfg.get("lora_alpha")
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)):
        raise LoraAdapterError(f"{where}: 'lora_alpha' must be a number, got {alpha!r}", ADAPTER_CONFIG)
    if cfg.get("use_dora"):
        raise UnsupportedLoraError(f"{where}: use_dora: DoRA adapters (lora_magnitude_vector) have no GGUF form "
                                   "in llama.cpp; merge the adapter into the model instead")
    if cfg.get("use_rslora"):
        raise UnsupportedLoraError(f"{where}: use_rslora: rank-stabilised LoRA scales by alpha/sqrt(r), llama.cpp "
                                   "by alpha/r; the converted adapter would not have the trained effect")
    if cfg.get("alpha_pattern"):
        raise UnsupportedLoraError(f"{where}: alpha_pattern: per-module alphas, but a GGUF adapter has one "
                                   "adapter.lora.alpha")
    tokens = cfg.get("alora_invocation_tokens")
    if cfg.get("invocation_string") and not tokens:
        raise UnsupportedLoraError(f"{where}: invocation_string without alora_invocation_tokens: llama.cpp's script "
                                   "tokenizes it with transformers; give the token ids as alora_invocation_tokens")
    if tokens:
        if not isinstance(tokens, list) or not all(isinstance(t, int) and not isinstance(t, bool) and 0 <= t < 2**32
                                                   for t in tokens):
            raise LoraAdapterError(f"{where}: 'alora_invocation_tokens' must be a list of token ids", ADAPTER_CONFIG)
    return float(alpha), (list(tokens) if tokens else None)


def _lora_parameter_counts(tensors: Sequence[Tuple[str, List[int]]]) -> Tuple[int, int, int, int]:
    """GGUFWriter.get_total_parameter_count with its LoRA rule: a ``.lora_b`` right after its
    ``.lora_a`` counts as the weight they update; the total is negated (not exact)."""
    from .general import parameter_counts

    counted: List[Tuple[str, List[int]]] = []
    last_a: Optional[Tuple[str, List[int]]] = None
    for name, shape in tensors:
        if name.endswith(".lora_a"):
            last_a = (name, shape)
            continue
        if name.endswith(".lora_b"):
            if last_a is None or last_a[0] != name[:-1] + "a":
                return 0, 0, 0, 0
            shape = [*shape[:-1], last_a[1][-1]]
        counted.append((name, shape))
    total, shared, expert, count = parameter_counts(counted)
    return (-total if last_a is not None else total), shared, expert, count


class _Walk:
    """The reference's LoraModel.get_tensors + prepare_tensors + modify_tensors over one adapter."""

    def __init__(self, adapter: Adapter, config: Dict[str, Any], hp: HParams, ad: AdapterDir, base_dir: Path):
        self.adapter, self.config, self.hp, self.ad, self.base_dir = adapter, config, hp, ad, base_dir
        adapter.begin_walk(config, hp, {})  # some families' shapes read the config
        self.shapes = adapter.expected_shapes(hp, hp.n_vocab)
        self.base_tensors = _base_tensors(base_dir, adapter)  # {} when the base directory has no weights
        self.out: List[MappedTensor] = []

    def where(self, *names: str) -> str:
        return f"convert-lora: {self.ad.path / ADAPTER_WEIGHTS}: " + " / ".join(repr(n) for n in names)

    def run(self) -> List[MappedTensor]:
        ad, adapter = self.ad, self.adapter
        sources: Dict[str, SourceInfo] = {}
        pairs: Dict[str, Dict[str, Tuple[str, LazyTensor]]] = {}
        plain: List[Tuple[str, LazyTensor]] = []
        # safetensors' load_file yields the tensors in data order
        for name in sorted(ad.tensors, key=lambda n: (ad.tensors[n][2], n)):
            dtype, shape, _ = ad.tensors[name]
            src = SourceInfo(ADAPTER_WEIGHTS, dtype, shape)
            if dtype not in SOURCE_DTYPES:
                raise LoraAdapterError(f"{self.where(name)}: dtype {dtype}; expected one of {', '.join(SOURCE_DTYPES)}",
                                       ADAPTER_WEIGHTS)
            base = base_tensor_name(name)
            new = adapter.filter_tensor(base)
            if new is None:
                continue
            sources[new] = src
            is_a = ".lora_A.weight" in name or ".lora_embedding_A" in name
            is_b = ".lora_B.weight" in name or ".lora_embedding_B" in name
            if not is_a and not is_b:
                if ".base_layer.weight" in name:
                    continue
                if "_layernorm" in name or ".norm" in name:  # mergekit-extract-lora adds these
                    plain.append((new, LazyTensor.of(name, src)))
                    continue
                raise self._not_lora(name)
            pairs.setdefault(new, {})["A" if is_a else "B"] = (name, LazyTensor.of(name, src))
        adapter.begin_walk(self.config, self.hp, sources)  # now with the sources, for messages
        for new, lt in plain:
            self._emit(new, lt)
        for new, halves in pairs.items():
            if "A" not in halves or "B" not in halves:
                have, miss = ("lora_A", "lora_B") if "A" in halves else ("lora_B", "lora_A")
                (only,) = halves.values()
                raise LoraAdapterError(f"{self.where(only[0])}: a {have} tensor without its {miss}", ADAPTER_WEIGHTS)
            (na, a), (nb, b) = halves["A"], halves["B"]
            self._check_base(new, na, nb, a, b)
            try:
                pair = LoraPair.of(a, b)
            except _PairOpError as e:
                raise LoraAdapterError(f"{self.where(na, nb)}: {e}", ADAPTER_WEIGHTS) from None
            self._emit(new, pair, (na, nb))
        try:
            rest = list(adapter.finish())
        except (_PairOpError, PlanError, UnexpectedTensorError) as e:
            raise UnsupportedLoraError(f"convert-lora: {self.ad.path / ADAPTER_WEIGHTS}: {e}") from None
        self._write(rest, "", None, ())
        if getattr(adapter, "_experts", None):
            bid, buf = next(iter(adapter._experts.items()))
            raise LoraBaseMismatchError(f"convert-lora: {self.ad.path / ADAPTER_WEIGHTS}: layer {bid} has LoRA pairs "
                                        f"for only {len(buf)} of its experts, e.g. {sorted(buf)[0]!r}; llama.cpp "
                                        "stacks the experts of a layer into one tensor, so every expert needs one")
        return self.out

    def _check_base(self, name: str, na: str, nb: str, a: LazyTensor, b: LazyTensor) -> None:
        """With the base model's weights at hand: the adapted weight must be one of them, of the
        shape ``B @ A`` has (an embedding's ``[vocab, hidden]`` is ``A^T B^T``)."""
        if not self.base_tensors:
            return
        if name not in self.base_tensors:
            raise LoraBaseMismatchError(
                f"{self.where(na, nb)}: the base model ({self.base_dir}) has no tensor {name!r} to adapt: is --base "
                "the model the adapter was trained on?")
        got = (b.shape[0], a.shape[-1]) if ".lora_embedding_" not in na else (a.shape[-1], b.shape[0])
        if tuple(self.base_tensors[name]) != got:
            raise LoraBaseMismatchError(
                f"{self.where(na, nb)}: B @ A has shape {list(got)}, but {name!r} of the base model "
                f"({self.base_dir}) is {list(self.base_tensors[name])}: the adapter was trained on another model")

    def _not_lora(self, name: str) -> ConvertError:
        hint = ""
        if "lora_magnitude_vector" in name:
            hint = " (a DoRA magnitude vector: DoRA adapters have no GGUF form in llama.cpp)"
        elif ".embed_tokens." in name or ".lm_head." in name or "modules_to_save" in name:
            hint = (" (a fully trained module, e.g. embeddings resized for new tokens: llama.cpp's adapters hold "
                    "only LoRA pairs; merge the adapter into the model instead)")
        return UnsupportedLoraError(f"{self.where(name)}: not a lora_A or lora_B tensor{hint}")

    def _emit(self, name: str, t: Any, lora_names: Tuple[str, ...] = ()) -> None:
        if name.endswith(_SKIP_SUFFIXES):
            return
        bid = next((int(p) for p in name.split(".") if p.isdecimal()), None)
        names = lora_names or (t.name,)
        try:
            dest = list(self.adapter.modify_tensors(t, name, bid))
        except UnexpectedTensorError:
            raise LoraBaseMismatchError(
                f"{self.where(*names)}: the target module {name!r} has no counterpart in the base model's "
                f"architecture {self.adapter.gguf_arch!r} ({self.config['architectures'][0]} with "
                f"{self.hp.n_layer} layers, {self.base_dir / 'config.json'}): is --base the model the adapter was "
                "trained on?") from None
        except (_PairOpError, PlanError) as e:
            raise UnsupportedLoraError(
                f"{self.where(*names)}: the {self.adapter.gguf_arch!r} converter transforms {name!r} in a way a LoRA "
                f"pair cannot express ({e}); llama.cpp's convert_lora_to_gguf.py cannot convert it either") from None
        if name == "lm_head.weight" and not dest:
            raise LoraBaseMismatchError(f"{self.where(*names)}: lm_head is in the adapter, but the base model's "
                                        "converter drops it (tied embeddings)")
        self._write(dest, name, bid, names)

    def _write(self, dest: Iterable[Tuple[str, Any]], name: str, bid: Optional[int], names: Tuple[str, ...]) -> None:
        adapter = self.adapter
        for dest_name, data in dest:
            if "_norm" in dest_name:
                if not isinstance(data, LazyTensor) or data.ndim != 1:
                    raise LoraAdapterError(f"{self.where(*names)}: {dest_name} must be a 1-D norm tensor",
                                           ADAPTER_WEIGHTS)
                self.out.append(adapter._mapped(dest_name, data, name, bid, adapter._kind_of(dest_name, bid)))
                continue
            if not isinstance(data, LoraPair):
                raise self._not_lora(data.name)
            kind = adapter._kind_of(dest_name, bid)
            want = self.shapes.get(kind) if kind else None
            got = tuple(reversed(data.shape)) if kind == "TOKEN_EMBD" else tuple(data.shape)
            if want is not None and dest_name.endswith(".weight") and got != tuple(want):
                raise LoraBaseMismatchError(
                    f"{self.where(*names)}: B @ A has shape {list(got)}, but {dest_name} of the base model is "
                    f"{list(want)} ({self.base_dir / 'config.json'}): the adapter was trained on another model")
            a, b = data.a, data.b
            if "token_embd.weight" in dest_name:
                a = a.T
            for suffix, lt in ((".lora_a", a), (".lora_b", b)):
                self.out.append(adapter._mapped(dest_name + suffix, lt, name, bid, None))


def _base_tensors(base_dir: Path, adapter: Adapter) -> Dict[str, Tuple[int, ...]]:
    """The base checkpoint's tensor shapes by (filtered) name, from the safetensors headers of
    ``base_dir`` when it holds any (no data is read); {} for a directory of config files only."""
    from .load import read_safetensors_header

    out: Dict[str, Tuple[int, ...]] = {}
    for f in sorted(base_dir.glob("*.safetensors")):
        for name, (_, shape) in read_safetensors_header(str(f)).items():
            new = adapter.filter_tensor(name)
            if new is not None:
                out[new] = tuple(int(x) for x in shape)
    return out


def _lora_target(type_: Optional[str]) -> str:
    t = (type_ or DEFAULT_TYPE)
    if not isinstance(t, str) or t.upper() not in LORA_TARGETS:
        raise UnknownTargetError(f"convert-lora: type {t!r}: a LoRA adapter is written as one of "
                                 f"{', '.join(LORA_TARGETS)} (convert_lora_to_gguf.py's --outtype f32/f16/bf16/q8_0)")
    return t.upper()


def build_lora_plan(adapter_dir: Union[str, os.PathLike[str]], base: Union[str, os.PathLike[str]],
                    type: Optional[str] = None) -> Any:  # noqa: A002 - the natural name
    """Plan the GGUF file of a PEFT LoRA adapter (no tensor data is read).

    Args:
        adapter_dir: the adapter directory (adapter_config.json, adapter_model.safetensors).
        base: the base model's directory; only its config.json is read.
        type: ``"F32"`` (default, as the reference's ``--outtype f32``), ``"F16"``,
            ``"BF16"`` or ``"Q8_0"``.

    Returns:
        A :class:`~wick.convert.plan.Plan` (``reference`` ``"convert_lora"``).
    """
    from .general import general_metadata
    from .ggml_types import block_size
    from .plan import Plan, _tensor_plan

    target = _lora_target(type)
    ad = read_adapter_dir(adapter_dir)
    alpha, tokens = _check_adapter_config(ad)
    base_dir, raw = _read_base_config(base)
    adapter = adapter_for(raw)
    merged = dict(raw)
    if isinstance(merged.get("text_config"), dict):
        merged = {**merged, **merged["text_config"]}
    hp_config = adapter.normalize_config(merged)
    hp = adapter.hparams(hp_config)
    mapped = _Walk(adapter, hp_config, hp, ad, base_dir).run()
    if not mapped:
        raise LoraAdapterError(f"convert-lora: {ad.path / ADAPTER_WEIGHTS}: no LoRA tensors", ADAPTER_WEIGHTS)

    out = []
    for t in mapped:
        if t.force_type is not None:
            typ, why = t.force_type, "kept F32 (1-D or norm)" if t.force_type == "F32" else f"{t.force_type}, forced"
        else:
            typ, why = target, "--type"
            if t.ne[0] % block_size(typ):
                typ, why = "F16", f"ne[0]={t.ne[0]} not a multiple of {block_size(target)}: F16, as gguf-py falls back"
        out.append(_tensor_plan(t, typ, why, None))

    counts = _lora_parameter_counts([(t.name, list(reversed(t.shape))) for t in out])
    kvs: List[V.KV] = [V.string("general.architecture", adapter.gguf_arch), V.string("general.type", "adapter"),
                       V.string("adapter.type", "lora")]
    kvs += general_metadata(dir_name=ad.path.resolve().name, config=ad.hf_config,
                            generation_config=ad.generation_config, model_card=ad.model_card,
                            total_params=counts[0], size_counts=counts)
    kvs.append(V.f32("adapter.lora.alpha", alpha))
    if tokens:
        kvs.append(V.array("adapter.alora.invocation_tokens", V.ValueType.UINT32, tokens))
    kvs.append(V.u32("general.quantization_version", 2))
    return Plan(hf_architecture=raw["architectures"][0], architecture=adapter.gguf_arch, target=target,
                file_type=LORA_TARGETS[target], reference="convert_lora", metadata=kvs, tensors=out,
                model_dir=str(ad.path.resolve()))


def convert_lora(
    adapter_dir: Union[str, os.PathLike[str]],
    output: Union[str, os.PathLike[str]],
    *,
    base: Union[str, os.PathLike[str]],
    type: Optional[str] = None,  # noqa: A002 - the natural name
    threads: Optional[int] = None,
    overwrite: bool = False,
    progress: Any = False,
    dry_run: bool = False,
) -> Any:
    """Convert a PEFT LoRA adapter to the GGUF adapter llama.cpp loads
    (``llama-cli -m base.gguf --lora adapter.gguf``; ``Llama(..., lora_path=...)``):
    the file the pinned llama.cpp's ``convert_lora_to_gguf.py ADAPTER_DIR --base BASE
    --outtype TYPE`` writes, byte for byte.

    Args:
        adapter_dir: the adapter directory: adapter_config.json and
            adapter_model.safetensors, as PEFT's ``save_pretrained`` writes them.
        output: the GGUF file to write (never left half-written).
        base: the base model's Hugging Face directory; only its config.json is read
            (architecture, layer and head counts, shapes).
        type: ``"F32"`` (default, as the reference), ``"F16"``, ``"BF16"`` or ``"Q8_0"``
            (a tensor whose rows are not a multiple of 32 is F16, as in the reference).
        threads, overwrite, progress: as :func:`wick.convert`.
        dry_run: only plan: return the :class:`~wick.convert.plan.Plan`.

    Returns:
        The :class:`~wick.convert.report.ConversionReport`, or the plan when ``dry_run``.

    Raises:
        ModelFileNotFoundError: a directory, adapter_config.json,
            adapter_model.safetensors or the base config.json is missing.
        LoraAdapterError: the adapter files are malformed (names the file and tensor).
        LoraBaseMismatchError: the adapter does not fit ``base`` (names the tensors).
        UnsupportedLoraError: DoRA, rsLoRA, per-module alphas, fully trained modules,
            or a transform a LoRA pair cannot express.
        UnsupportedArchitectureError: ``base`` is an architecture Wick does not convert.
        UnknownTargetError: ``type`` is not one of the four.
        wick.WickFileExistsError: ``output`` exists and ``overwrite`` is false.

    Example::

        wick.convert_lora("./my-adapter", "adapter-f16.gguf", base="./Llama-3.2-1B", type="F16")
    """
    plan = build_lora_plan(adapter_dir, base, type)
    if dry_run:
        return plan
    from . import _execute

    return _execute(plan, output, overwrite=overwrite, threads=threads, progress=progress)
