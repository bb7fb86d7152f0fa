"""Reading a Hugging Face model directory into the inputs of the pure planner.

:func:`read_model_dir` parses config.json, the tokenizer files,
generation_config.json and the model card, and lists the checkpoint tensors
(name → file, dtype, shape). Listing uses a small strict reader of the
safetensors JSON *header* only (:func:`read_safetensors_header`); pass
``list_tensors=`` to use another one (the Go safetensors reader, once the
package is wired to it). No tensor data is read here.

Checkpoint files follow the reference converter: ``model.safetensors.index.json``
when present (its ``weight_map`` must agree with the files), else every
``model*.safetensors`` in the directory.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Tuple

from .errors import ConfigError, ModelFileNotFoundError, ModelFormatError, SafetensorsHeaderError, TokenizerError
from .tokenizer import TokenizerFiles

TensorListing = Mapping[str, Tuple[str, Sequence[int]]]  # name -> (dtype, shape)

MAX_HEADER = 100 * 1024 * 1024  # the safetensors format's own limit

_DTYPE_SIZES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "F8_E8M0": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8,
}


def read_safetensors_header(path: str) -> Dict[str, Tuple[str, Tuple[int, ...]]]:
    """Tensor name → (dtype, shape) from a .safetensors file's header, strictly checked.

    Checks: the 8-byte little-endian header length is within the file and the
    format's 100 MiB limit; the header is a JSON object; every entry has a
    known ``dtype``, a non-negative integer ``shape`` and ``data_offsets``
    [begin, end] that lie inside the data section and match the byte size of
    dtype × shape; tensors do not overlap.
    """
    name = os.path.basename(path)
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            head = f.read(8)
            if len(head) < 8:
                raise SafetensorsHeaderError(f"convert: {name}: file too short for a safetensors header ({size} bytes)", name)
            (n,) = struct.unpack("<Q", head)
            if n > MAX_HEADER or 8 + n > size:
                raise SafetensorsHeaderError(
                    f"convert: {name}: header length {n} exceeds the file size {size} or the 100 MiB limit", name)
            raw = f.read(n)
    except FileNotFoundError:
        raise ModelFileNotFoundError(f"convert: {name}: file not found ({path})", path) from None
    except IsADirectoryError:
        raise ModelFormatError(f"convert: {name}: is a directory, expected a .safetensors file", name) from None
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SafetensorsHeaderError(f"convert: {name}: header is not valid JSON: {e}", name) from None
    if not isinstance(header, dict):
        raise SafetensorsHeaderError(f"convert: {name}: header must be a JSON object", name)
    data_size = size - 8 - n
    out: Dict[str, Tuple[str, Tuple[int, ...]]] = {}
    spans = []
    for tname, meta in header.items():
        if tname == "__metadata__":
            continue
        if not isinstance(meta, dict):
            raise SafetensorsHeaderError(f"convert: {name}: tensor {tname!r}: entry must be an object", name)
        dtype, shape, offs = meta.get("dtype"), meta.get("shape"), meta.get("data_offsets")
        if dtype not in _DTYPE_SIZES:
            raise SafetensorsHeaderError(f"convert: {name}: tensor {tname!r}: unknown dtype {dtype!r}", name)
        if not isinstance(shape, list) or any(isinstance(d, bool) or not isinstance(d, int) or d < 0 for d in shape):
            raise SafetensorsHeaderError(f"convert: {name}: tensor {tname!r}: shape must be a list of non-negative integers, got {shape!r}", name)
        if (not isinstance(offs, list) or len(offs) != 2
                or any(isinstance(o, bool) or not isinstance(o, int) for o in offs) or not 0 <= offs[0] <= offs[1] <= data_size):
            raise SafetensorsHeaderError(
                f"convert: {name}: tensor {tname!r}: data_offsets {offs!r} outside the data section of {data_size} bytes", name)
        count = 1
        for d in shape:
            count *= d
        if offs[1] - offs[0] != count * _DTYPE_SIZES[dtype]:
            raise SafetensorsHeaderError(
                f"convert: {name}: tensor {tname!r}: {offs[1] - offs[0]} data bytes, expected {count * _DTYPE_SIZES[dtype]} "
                f"for {dtype} {shape}", name)
        spans.append((offs[0], offs[1], tname))
        out[tname] = (dtype, tuple(shape))
    spans.sort()
    for (_b0, e0, n0), (b1, _e1, n1) in zip(spans, spans[1:]):
        if b1 < e0:
            raise SafetensorsHeaderError(f"convert: {name}: tensors {n0!r} and {n1!r} overlap", name)
    return out


def _read_json(path: Path, required: bool, error=ModelFormatError) -> Optional[Any]:
    if not path.is_file():
        if required:
            raise ModelFileNotFoundError(f"convert: {path.name}: not found in {path.parent}", str(path))
        return None
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
        chat_template_json=ctj if isinstance(ctj, dict) else None, additional_chat_templates=extra)


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
            raise ModelFileNotFoundError(f"convert: {p}: checkpoint shard not found in {d}", str(path))
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
    tensors: Dict[str, Tuple[str, str, Tuple[int, ...]]]
    generation_config: Optional[Dict[str, Any]] = None
    model_card: Optional[Dict[str, Any]] = None
    dir_name: Optional[str] = None
    model_dir: Optional[str] = None
    extra: Dict[str, Any] = field(default_factory=dict)


def read_model_dir(path: str | os.PathLike[str],
                   list_tensors: Callable[[str], TensorListing] = read_safetensors_header) -> ModelParts:
    """Read a Hugging Face model directory (no tensor data)."""
    from .general import load_model_card

    d = Path(path)
    if not d.is_dir():
        raise ModelFileNotFoundError(f"convert: model directory {str(d)!r} does not exist or is not a directory", str(d))
    config = _read_json(d / "config.json", True, ConfigError)
    if not isinstance(config, dict):
        raise ConfigError("convert: config.json: must hold a JSON object", "config.json")
    gen = None
    try:
        gen = _read_json(d / "generation_config.json", False)
    except ModelFormatError:
        gen = None  # the reference converter ignores an unreadable generation_config.json
    card = load_model_card(_read_text(d / "README.md"))
    return ModelParts(
        config=config, tokenizer=read_tokenizer_files(d), tensors=list_checkpoint(d, list_tensors),
        generation_config=gen if isinstance(gen, dict) else None, model_card=card or None,
        dir_name=d.resolve().name, model_dir=str(d.resolve()))
