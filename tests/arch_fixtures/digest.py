"""What tests/golden/arch_goldens.json records of a GGUF file, and how a file is compared with it.

:func:`read_gguf` (gguf-py's reader) gives the file's SHA-256 and size, the metadata in order as
``[key, type, value]`` (arrays longer than ARRAY_INLINE and strings longer than 200 characters as
hashes) and per tensor ``[name, type, ggml shape, first 16 hex digits of the SHA-256 of its
bytes]``. :func:`expected` rebuilds the same view of one golden target, and :func:`first_difference`
names the first metadata key or tensor where a file departs from it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import List, Optional

import numpy as np

HASH_PREFIX = 16
ARRAY_INLINE = 16


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def _value(field, gguf) -> tuple:
    t = field.types
    if t[0] == gguf.GGUFValueType.ARRAY:
        et = t[1]
        vals = [field.parts[i] for i in field.data]
        if et == gguf.GGUFValueType.STRING:
            v = [bytes(x).decode("utf-8", errors="surrogateescape") for x in vals]
        else:
            v = [x[0].item() for x in vals]
            if et == gguf.GGUFValueType.FLOAT32:
                v = [float(np.float32(x)) for x in v]
        tname = f"ARRAY[{et.name}]"
        if len(v) > ARRAY_INLINE:
            return tname, {"n": len(v), "sha256": sha(json.dumps(v, ensure_ascii=False).encode("utf-8", "surrogateescape"))}
        return tname, v
    part = field.parts[field.data[0]]
    if t[0] == gguf.GGUFValueType.STRING:
        s = bytes(part).decode("utf-8")
        if len(s) > 200:
            return "STRING", {"len": len(s), "sha256": sha(s.encode())}
        return "STRING", s
    v = part[0].item()
    if t[0] in (gguf.GGUFValueType.FLOAT32, gguf.GGUFValueType.FLOAT64):
        v = float(v)
    return t[0].name, v


def read_gguf(path: Path, gguf=None) -> dict:
    """The recorded view of a GGUF file (``gguf``: a gguf-py module; the installed one by default)."""
    if gguf is None:
        import gguf  # noqa: PLC0415
    r = gguf.GGUFReader(str(path))
    meta = [[f.name, *_value(f, gguf)] for f in r.fields.values() if not f.name.startswith("GGUF.")]
    tensors = []
    for t in r.tensors:
        data = bytes(np.asarray(t.data).reshape(-1).view(np.uint8))
        tensors.append([t.name, t.tensor_type.name, [int(x) for x in t.shape], sha(data)[:HASH_PREFIX]])
    data = Path(path).read_bytes()
    return {"sha256": sha(data), "size": len(data), "metadata": meta, "tensors": tensors}


def expected(entry: dict, label: str) -> dict:
    """One golden target (``entry["targets"][label]``) expanded to :func:`read_gguf`'s view."""
    targets = entry["targets"]
    t = targets[label]
    names = t["tensor_names"] if "tensor_names" in t else targets[t["tensor_order"]]["tensor_names"]
    keys = t["metadata_keys"] if "metadata_keys" in t else targets[t["key_order"]]["metadata_keys"]
    f32 = {m[0]: m for m in targets["F32"]["metadata"]}
    changed = {m[0]: m for m in t.get("metadata_changed", [])}
    meta = [changed.get(k) or f32[k] for k in keys] if label != "F32" else targets["F32"]["metadata"]
    tensors = [[n, ty, shape, h] for (n, shape), (ty, h) in zip(names, t["tensors"])]
    return {"sha256": t["sha256"], "size": t["size"], "metadata": meta, "tensors": tensors}


def first_difference(got: dict, want: dict) -> Optional[str]:
    """A one-line description of the first difference (metadata first, then tensors), or None."""
    gk = [m[0] for m in got["metadata"]]
    wk = [m[0] for m in want["metadata"]]
    for i, (g, w) in enumerate(zip(got["metadata"], want["metadata"])):
        if g[0] != w[0]:
            return f"metadata key #{i}: {g[0]!r}, expected {w[0]!r}"
        if g[1:] != w[1:]:
            return f"metadata {g[0]!r}: {g[1]} {_short(g[2])}, expected {w[1]} {_short(w[2])}"
    if len(gk) != len(wk):
        extra = gk[len(wk):] or wk[len(gk):]
        return f"metadata: {len(gk)} keys, expected {len(wk)} (first unmatched: {extra[0]!r})"
    for i, (g, w) in enumerate(zip(got["tensors"], want["tensors"])):
        if g[0] != w[0]:
            return f"tensor #{i}: {g[0]!r}, expected {w[0]!r}"
        if g[1] != w[1] or g[2] != w[2]:
            return f"tensor {g[0]!r}: {g[1]} {g[2]}, expected {w[1]} {w[2]}"
        if g[3] != w[3]:
            return f"tensor {g[0]!r} ({g[1]} {g[2]}): data differ"
    if len(got["tensors"]) != len(want["tensors"]):
        return f"{len(got['tensors'])} tensors, expected {len(want['tensors'])}"
    if got["sha256"] != want["sha256"]:
        return "same metadata and tensors, but the files differ (alignment, padding or header layout)"
    return None


def _short(v) -> str:
    s = json.dumps(v, ensure_ascii=False)
    return s if len(s) <= 120 else s[:117] + "..."


def tensor_list(entry: dict) -> List[list]:
    """``[[name, type, ggml shape], ...]`` of the converter's F32 file (the imatrix covers these)."""
    f32 = entry["targets"]["F32"]
    return [[n, ty, shape] for (n, shape), (ty, _) in zip(f32["tensor_names"], f32["tensors"])]
