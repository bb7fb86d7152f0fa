"""Reading a Hugging Face model directory into the inputs of the pure planner.

:func:`read_model_dir` parses config.json, the tokenizer files,
generation_config.json and the model card, and lists the checkpoint tensors
(name → file, dtype, shape; a quantized checkpoint's weights grouped with
their scales into logical tensors by :mod:`wick.convert.quantized`). Listing uses a small strict reader of the
safetensors JSON *header* only (:func:`read_safetensors_header`); pass
``list_tensors=`` to use another one (the Go safetensors reader, once the
package is wired to it). No tensor data is read here, except the small JSON
quant states of bitsandbytes 4-bit weights.

Checkpoint files follow the reference converter: ``model.safetensors.index.json``
when present (its ``weight_map`` must agree with the files), else every
``model*.safetensors`` in the directory.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Tuple

from .errors import ConfigError, ModelFileNotFoundError, ModelFormatError, SafetensorsHeaderError, TokenizerError
from .quantized import group_tensors, read_quantization_config
from .tokenizer import TokenizerFiles

TensorListing = Mapping[str, Tuple[str, Sequence[int]]]  # name -> (dtype, shape)

def read_safetensors_header(path: str) -> Dict[str, Tuple[str, Tuple[int, ...]]]:
    """Tensor name → (dtype, shape) of a .safetensors file, validated by Wick's
    Go reader (header size caps, JSON, duplicate names, dtypes, sizes with
    overflow checks, ranges in bounds, sorted, non-overlapping, covering the data
    exactly). No tensor data is read."""
    from .. import safetensors as st
    from ..errors import WickFileNotFoundError, WickFormatError, WickOSError

    name = os.path.basename(path)
    if os.path.isdir(path):
        raise ModelFormatError(f"convert: {name}: is a directory, expected a .safetensors file", name)
    try:
        with st.open(path) as m:
            return {t.name: (t.dtype, t.shape) for t in m.tensors.values()}
    except WickFileNotFoundError:
        raise ModelFileNotFoundError(f"convert: {name}: file not found ({path})", path) from None
    except WickFormatError as e:
        raise SafetensorsHeaderError(f"convert: {e}", name) from None
    except WickOSError as e:
        raise ModelFormatError(f"convert: {name}: {e}", name) from None


def _read_json(path: Path, required: bool, error=ModelFormatError) -> Optional[Any]:
    if not path.is_file():
        if required:
            raise ModelFileNotFoundError(f"convert: {path.name}: not found in {path.parent}", str(path))
        return None
    try:
        # The bytes decoded at once: a text-mode read (newline translation, decoding
        # chunk by chunk) took half again as long on a 9 MB tokenizer.json. Both
        # give the same value whenever this parses (a \r that newline translation
        # would change is whitespace there, JSON refusing it inside strings); on
        # any failure the file is read as before, for the same error and message.
        with open(path, "rb") as f:
            return json.loads(f.read().decode("utf-8"))
    except Exception:  # noqa: BLE001 - read again below, which raises what it always raised
        pass
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise error(f"convert: {path.name}: invalid JSON: {e}", path.name) from None
    except UnicodeDecodeError as e:
        raise error(f"convert: {path.name}: not UTF-8 text: {e}", path.name) from None


def _read_text(path: Path) -> Optional[str]:
    if not path.is_file():
        return None
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ModelFormatError(f"convert: {path.name}: not UTF-8 text: {e}", path.name) from None


def read_tokenizer_files(d: Path) -> TokenizerFiles:
    """Parse the tokenizer files present in directory ``d``."""
    tj = _read_json(d / "tokenizer.json", False, TokenizerError)
    if tj is not None and not isinstance(tj, dict):
        raise TokenizerError("convert: tokenizer.json: must hold a JSON object", "tokenizer.json")
    tc = _read_json(d / "tokenizer_config.json", False, TokenizerError)
    if tc is not None and not isinstance(tc, dict):
        raise TokenizerError("convert: tokenizer_config.json: must hold a JSON object", "tokenizer_config.json")
    tm = (d / "tokenizer.model").read_bytes() if (d / "tokenizer.model").is_file() else None
    tt = (d / "tiktoken.model").read_bytes() if (d / "tiktoken.model").is_file() else None
    add = _read_json(d / "added_tokens.json", False, TokenizerError)
    stm = _read_json(d / "special_tokens_map.json", False, TokenizerError)
    ctj = _read_json(d / "chat_template.json", False, TokenizerError)
    extra = None
    extra_dir = d / "additional_chat_templates"
    if extra_dir.is_dir():
        extra = {p.stem: p.read_text(encoding="utf-8") for p in sorted(extra_dir.glob("*.jinja"))} or None
    return TokenizerFiles(
        tokenizer_json=tj, tokenizer_config=tc, tokenizer_model=tm, added_tokens_json=add,
        special_tokens_map=stm if isinstance(stm, dict) else None, merges_txt=_read_text(d / "merges.txt"),
        chat_template_jinja=_read_text(d / "chat_template.jinja"),
        chat_template_json=ctj if isinstance(ctj, dict) else None, additional_chat_templates=extra,
        tiktoken_model=tt)


def list_checkpoint(d: Path, list_tensors: Callable[[str], TensorListing] = read_safetensors_header
                    ) -> Dict[str, Tuple[str, str, Tuple[int, ...]]]:
    """Tensor name → (file relative to ``d``, dtype, shape) over all checkpoint shards."""
    index_path = d / "model.safetensors.index.json"
    weight_map: Dict[str, str] = {}
    if index_path.is_file():
        index = _read_json(index_path, True)
        wm = index.get("weight_map") if isinstance(index, dict) else None
        if not isinstance(wm, dict) or not all(isinstance(v, str) for v in wm.values()):
            raise ModelFormatError(f"convert: {index_path.name}: 'weight_map' must map tensor names to file names", index_path.name)
        weight_map = wm
        parts = sorted(set(wm.values()))
        for p in parts:
            if "/" in p or "\\" in p or p in ("", ".", ".."):
                raise ModelFormatError(f"convert: {index_path.name}: shard name {p!r} must be a plain file name", index_path.name)
    else:
        parts = sorted(f for f in os.listdir(d) if f.startswith("model") and f.endswith(".safetensors"))
    if not parts:
        raise ModelFileNotFoundError(
            f"convert: no model*.safetensors in {d} (PyTorch .bin checkpoints are not supported)", str(d))
    out: Dict[str, Tuple[str, str, Tuple[int, ...]]] = {}
    for p in parts:
        path = d / p
        if not path.is_file():
            listed = sorted(n for n, f in weight_map.items() if f == p)
            what = (f" (model.safetensors.index.json puts {len(listed)} tensors there, e.g. {listed[0]!r})"
                    if listed else "")
            raise ModelFileNotFoundError(f"convert: {p}: checkpoint shard not found in {d}{what}", str(path))
        for name, (dtype, shape) in list_tensors(str(path)).items():
            if name in out:
                raise ModelFormatError(f"convert: tensor {name!r} appears in both {out[name][0]} and {p}", p)
            out[name] = (p, dtype, tuple(shape))
    if weight_map:
        missing = sorted(set(weight_map) - set(out))
        extra = sorted(set(out) - set(weight_map))
        if missing or extra:
            raise ModelFormatError(
                f"convert: model.safetensors.index.json and the shards disagree: missing {missing[:5]}"
                f"{' …' if len(missing) > 5 else ''}, unlisted {extra[:5]}{' …' if len(extra) > 5 else ''}",
                "model.safetensors.index.json")
        wrong = [n for n in weight_map if out[n][0] != weight_map[n]]
        if wrong:
            n = wrong[0]
            raise ModelFormatError(f"convert: model.safetensors.index.json puts {n!r} in {weight_map[n]}, "
                                   f"but it is in {out[n][0]}", "model.safetensors.index.json")
    return out


@dataclass
class ModelParts:
    """Everything the planner needs from a model directory, already parsed."""

    config: Dict[str, Any]
    tokenizer: TokenizerFiles
    tensors: Dict[str, Tuple[Any, ...]]  # (file, dtype, shape[, quantized.Decode])
    generation_config: Optional[Dict[str, Any]] = None
    model_card: Optional[Dict[str, Any]] = None
    dir_name: Optional[str] = None
    model_dir: Optional[str] = None
    extra: Dict[str, Any] = field(default_factory=dict)
    #: the checkpoint's quantization (:mod:`wick.convert.quantized`), or None
    quantization: Optional[Any] = None


def read_model_dir(path: str | os.PathLike[str],
                   list_tensors: Callable[[str], TensorListing] = read_safetensors_header,
                   revision: Optional[str] = None) -> ModelParts:
    """Read a Hugging Face model directory (no tensor data), or a Hub model id
    ``Org/Name`` through the local cache or a download (:mod:`wick.hub`;
    ``revision``: its branch, tag or commit)."""
    from ..hub import resolve_model
    from .general import load_model_card

    path, dir_name = resolve_model(path, revision)
    d = Path(path)
    if not d.is_dir():
        raise ModelFileNotFoundError(f"convert: model directory {str(d)!r} does not exist or is not a directory", str(d))
    config = _read_json(d / "config.json", True, ConfigError)
    if not isinstance(config, dict):
        raise ConfigError("convert: config.json: must hold a JSON object", "config.json")
    # the quantization method is recognised (or refused) before anything else
    qc = read_quantization_config(config, d)
    gen = None
    try:
        gen = _read_json(d / "generation_config.json", False)
    except ModelFormatError:
        gen = None  # the reference converter ignores an unreadable generation_config.json
    card = load_model_card(_read_text(d / "README.md"))
    tokenizer = read_tokenizer_files(d)
    tensors = group_tensors(qc, list_checkpoint(d, list_tensors), lambda f, n: _read_small_tensor(d / f, n))
    return ModelParts(
        config=config, tokenizer=tokenizer, tensors=tensors,  # type: ignore[arg-type]
        generation_config=gen if isinstance(gen, dict) else None, model_card=card or None,
        dir_name=dir_name or d.resolve().name, model_dir=str(d.resolve()), quantization=qc)


def _read_small_tensor(path: Path, name: str) -> Any:
    """The data of one small tensor (a bitsandbytes quant state), through Wick's reader."""
    from .. import safetensors as st

    with st.open(str(path)) as m:
        return m[name].copy()
