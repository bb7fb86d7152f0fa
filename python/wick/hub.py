"""Hugging Face Hub model ids: ``wick convert Org/Model`` and ``wick.convert("Org/Model", ...)``.

A model argument that is not a directory and looks like a Hub repository id
(``Org/Name``: one slash; letters, digits, ``-``, ``_`` and ``.``; no ``--``
or ``..``; not starting or ending with ``-`` or ``.``) is resolved through
``huggingface_hub`` (an optional dependency: ``pip install "wick[hub]"``) to
a snapshot directory of its cache, which is then converted like any local
model directory:

1. **The cache first.** If the cache (``HF_HUB_CACHE``, else ``HF_HOME/hub``,
   else ``~/.cache/huggingface/hub``, as huggingface_hub decides) holds a
   snapshot of the revision (``revision=`` / ``--revision``: a branch, tag or
   commit; default ``main``) with everything a conversion reads — config.json,
   a tokenizer file, and every weight shard (those named by
   ``model.safetensors.index.json``, else ``model*.safetensors``) — it is used
   as it is, without touching the network.
2. **Otherwise a download of only what a conversion reads** (:data:`FILES`:
   config.json, generation_config.json, the tokenizer files, README.md for
   the model card, the index; then the weight shards it names, or
   ``model*.safetensors``), with huggingface_hub's progress bars
   (``HF_HUB_DISABLE_PROGRESS_BARS=1`` hides them) and its authentication
   (``HF_TOKEN``, ``hf auth login``). Other weights in the repository
   (``consolidated.safetensors``, ``*.bin``, ``original/``) are not fetched.
3. **Offline** (``HF_HUB_OFFLINE=1``) and not completely cached:
   :class:`~wick.convert.errors.HubNotCachedError` says so and what to run.

The model is converted exactly as its snapshot directory would be if it were
named like the repository (``Org/Model`` as a folder ``Model``):
``general.name`` and the other names derived from the directory come from
``Model``, not from the snapshot's commit-hash folder name. (llama.cpp's
``convert_hf_to_gguf.py --remote Org/Model`` instead sets ``general.name`` to
``Org/Model``.)
"""

from __future__ import annotations

import json
import os
import re
from typing import Any, List, Optional, Tuple

from .convert.errors import HubError, HubNotCachedError, ModelFileNotFoundError

__all__ = ["FILES", "WEIGHT_PATTERN", "INDEX", "is_repo_id", "resolve_model", "snapshot_dir"]

#: The files (patterns relative to the repository) a conversion reads besides
#: the weights: what :func:`wick.convert.read_model_dir` opens.
FILES = (
    "config.json", "generation_config.json", "README.md",
    "tokenizer.json", "tokenizer_config.json", "tokenizer.model", "added_tokens.json", "special_tokens_map.json",
    "tiktoken.model", "merges.txt", "chat_template.json", "chat_template.jinja", "additional_chat_templates/*.jinja",
    "model.safetensors.index.json",
    # quantization configs written beside config.json (wick.convert.quantized)
    "hf_quant_config.json", "quantize_config.json",
)
#: The sharded checkpoint's index.
INDEX = "model.safetensors.index.json"
#: The weights of an unsharded checkpoint (or of one without an index).
WEIGHT_PATTERN = "model*.safetensors"

_PART = r"[A-Za-z0-9](?:[\w.-]{0,94}[A-Za-z0-9_])?"
_REPO_ID = re.compile(rf"({_PART})/({_PART})")


def is_repo_id(model: Any) -> bool:
    """Whether ``model`` reads as a Hub repository id ``Org/Name`` (it is not
    checked to exist, here or on the Hub)."""
    if not isinstance(model, str):
        return False
    m = _REPO_ID.fullmatch(model)
    return bool(m) and "--" not in model and ".." not in model


def _hub() -> Any:
    try:
        import huggingface_hub
        import huggingface_hub.constants  # noqa: F401 - a lazily loaded submodule
    except ImportError:
        return None
    return huggingface_hub


def _cache_dir(hub: Any) -> str:
    return str(hub.constants.HF_HUB_CACHE)


def _missing(d: str) -> List[str]:
    """What snapshot directory ``d`` lacks for a conversion (empty: complete)."""
    missing = []
    if not os.path.isfile(os.path.join(d, "config.json")):
        missing.append("config.json")
    if not any(os.path.isfile(os.path.join(d, f)) for f in ("tokenizer.json", "tokenizer.model")):
        missing.append("tokenizer.json or tokenizer.model")
    index = os.path.join(d, INDEX)
    if os.path.isfile(index):
        shards = _index_shards(index)
        missing += [s for s in shards if not os.path.isfile(os.path.join(d, s))]
    elif not any(f.startswith("model") and f.endswith(".safetensors") for f in os.listdir(d)):
        missing.append(WEIGHT_PATTERN)
    return missing


def _index_shards(index: str) -> List[str]:
    """The shard file names of a safetensors index (plain names only)."""
    try:
        with open(index, encoding="utf-8") as f:
            wm = json.load(f).get("weight_map")
    except (OSError, ValueError, AttributeError) as e:
        raise ModelFileNotFoundError(f"convert: {INDEX}: unreadable ({e})", index) from None
    if not isinstance(wm, dict):
        return []  # read_model_dir reports the malformed index
    return sorted({v for v in wm.values() if isinstance(v, str) and v and "/" not in v and "\\" not in v
                   and v not in (".", "..")})


def _cached(hub: Any, repo_id: str, revision: Optional[str]) -> Tuple[Optional[str], List[str]]:
    """(the cached snapshot directory of the revision or None, what it lacks)."""
    cfg = hub.try_to_load_from_cache(repo_id, "config.json", revision=revision)
    if isinstance(cfg, str):
        d = os.path.dirname(cfg)
    else:  # no config.json in the snapshot (or no snapshot): find the snapshot through its refs
        d = _snapshot_from_refs(_cache_dir(hub), repo_id, revision)
        if d is None:
            return None, []
    return d, _missing(d)


def _snapshot_from_refs(cache: str, repo_id: str, revision: Optional[str]) -> Optional[str]:
    repo = os.path.join(cache, "models--" + repo_id.replace("/", "--"))
    rev = revision or "main"
    commit = rev
    ref = os.path.join(repo, "refs", rev)
    if os.path.isfile(ref):
        with open(ref, encoding="utf-8") as f:
            commit = f.read().strip()
    d = os.path.join(repo, "snapshots", commit)
    return d if os.path.isdir(d) else None


def _rev(revision: Optional[str]) -> str:
    return f" --revision {revision}" if revision else ""


def _download(hub: Any, repo_id: str, revision: Optional[str], patterns: List[str]) -> str:
    try:
        return str(hub.snapshot_download(repo_id, revision=revision, allow_patterns=patterns))
    except Exception as e:  # huggingface_hub's errors, by name: their module moved between versions
        kind = type(e).__name__
        at = f" at revision {revision!r}" if revision else ""
        if kind == "RepositoryNotFoundError":
            msg = (f"no model {repo_id!r} on the Hugging Face Hub (or it is private: log in with `hf auth login` "
                   "or set HF_TOKEN)")
        elif kind == "GatedRepoError":
            msg = f"{repo_id} is gated: accept its conditions on its Hub page, then log in (`hf auth login` or HF_TOKEN)"
        elif kind == "RevisionNotFoundError":
            msg = f"{repo_id} has no revision {revision!r}"
        elif kind in ("LocalEntryNotFoundError", "IncompleteSnapshotError"):
            msg = (f"{repo_id}{at} could not be downloaded (the Hub cannot be reached) and is not completely in the "
                   f"cache ({_cache_dir(hub)}): {e}")
        elif isinstance(e, (OSError, ValueError)) or kind.endswith("Error"):
            msg = f"downloading {repo_id}{at} failed: {kind}: {e}"
        else:
            raise
        raise HubError(f"convert: {msg}", repo_id) from None


def snapshot_dir(repo_id: str, revision: Optional[str] = None) -> str:
    """The local snapshot directory of Hub model ``repo_id`` at ``revision`` holding
    everything a conversion reads: from the cache when complete there, else
    downloaded (only :data:`FILES` and the weight shards).

    Raises:
        HubError: huggingface_hub is not installed, the repository or revision
            is unknown or gated, or the download failed.
        HubNotCachedError: offline (``HF_HUB_OFFLINE``) and not completely cached.
    """
    hub = _hub()
    if hub is None:
        raise HubError(f"convert: {repo_id!r} is not a directory; to convert it as a Hugging Face Hub model id, "
                       "install huggingface_hub: pip install 'wick[hub]'", repo_id)
    d, missing = _cached(hub, repo_id, revision)
    if d is not None and not missing:
        return d
    if hub.constants.HF_HUB_OFFLINE:
        at = f" (revision {revision})" if revision else ""
        state = (f"has an incomplete snapshot of it{at}, without {', '.join(missing[:3])}"
                 f"{' …' if len(missing) > 3 else ''}" if d is not None else f"has no snapshot of it{at}")
        raise HubNotCachedError(
            f"convert: {repo_id!r} is not a local directory, and as a Hugging Face Hub model id it cannot be used: "
            f"the cache ({_cache_dir(hub)}) {state}, and HF_HUB_OFFLINE is set, so nothing is downloaded. "
            f"Run `hf download {repo_id}{_rev(revision)}` where the Hub is reachable, or unset HF_HUB_OFFLINE "
            "to let Wick download only the files it needs, or give a local model directory.", repo_id)
    small = _download(hub, repo_id, revision, list(FILES))
    commit = os.path.basename(small)  # the same commit for the weights, even if the branch moves meanwhile
    index = os.path.join(small, INDEX)
    weights = _index_shards(index) if os.path.isfile(index) else [WEIGHT_PATTERN]
    d = _download(hub, repo_id, commit, weights)
    missing = _missing(d)
    if missing:
        raise ModelFileNotFoundError(
            f"convert: the Hugging Face Hub model {repo_id}{f' (revision {revision})' if revision else ''} has no "
            f"{', '.join(missing)} (Wick converts safetensors checkpoints with config.json and a tokenizer)", d)
    return d


def resolve_model(model: Any, revision: Optional[str] = None) -> Tuple[str, Optional[str]]:
    """``(directory, name)`` for the model argument of a conversion: a local
    directory as it is (``name`` None: the directory's own), or a Hub model id's
    snapshot (:func:`snapshot_dir`) with ``name`` its repository name, the
    directory name the metadata would take from a download named like the
    repository. Anything else comes back unchanged, for the caller to report.

    Raises:
        ModelFileNotFoundError: ``revision`` given with a local directory.
        HubError, HubNotCachedError: see :func:`snapshot_dir`.
    """
    path = os.fspath(model)
    if os.path.isdir(path) or os.path.exists(path) or not is_repo_id(path):
        if revision is not None:
            raise ModelFileNotFoundError(
                f"convert: revision={revision!r} applies to Hugging Face Hub model ids (Org/Name); {path!r} is "
                "not one" + (" (it is a local path)" if os.path.exists(path) else ""), path)
        return path, None
    return snapshot_dir(path, revision), path.split("/", 1)[1]
