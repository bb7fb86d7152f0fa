"""``general.*`` metadata (name, basename, size label, sampling defaults …).

Reproduces gguf-py's ``Metadata.load`` + ``set_gguf_meta_model`` as
``convert_hf_to_gguf.py`` uses them: the model name and its parts (basename,
finetune, version, size label) are guessed from config.json ``_name_or_path``
and then from the model directory name; the size label falls back to the
parameter count of the written tensors; recommended sampler settings come from
generation_config.json.

The model card (README.md YAML front matter: license, tags, languages, base
models, datasets …) is read only when PyYAML is importable — Wick does not
depend on it. Without it those keys are omitted (the rest is unaffected).
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Tuple

from ..gguf import values as V
from .errors import ConfigError

GENERATION_CONFIG = "generation_config.json"


def id_to_title(s: str) -> str:
    """Capitalise words unless they are acronyms or version numbers ("llama-3.2-1b" → "Llama 3.2 1b")."""
    return " ".join(w.title() if w.islower() and not re.match(r"^(v\d+(?:\.\d+)*|\d.*)$", w) else w
                    for w in s.strip().replace("-", " ").split())


def model_id_components(model_id: Optional[str], total_params: int = 0
                        ) -> Tuple[Optional[str], Optional[str], Optional[str], Optional[str], Optional[str], Optional[str]]:
    """Split a model id ("org/Name-7B-Instruct-v0.2") into
    (full name, org, basename, finetune, version, size label) with gguf-py's heuristics."""
    if model_id is None:
        return None, None, None, None, None, None
    if " " in model_id:
        return model_id, None, None, None, None, None
    if "/" in model_id:
        org, name = model_id.split("/", 1)
    else:
        org, name = None, model_id
    if org is not None and len(org) > 0 and org[0] == ".":
        org = None
    parts = [p for p in name.split("-") if p]
    kinds: List[set] = [set() for _ in parts]
    for i, part in enumerate(parts):
        if re.fullmatch(r"(v|iter)?\d+([.]\d+)*", part, re.IGNORECASE):
            kinds[i].add("version")
        elif re.fullmatch(r"i?q\d(_\w)*|b?fp?(16|32)", part, re.IGNORECASE):
            kinds[i].add("type")
            parts[i] = part.upper()
        elif i > 0 and re.fullmatch(r"(([A]|\d+[x])?\d+([._]\d+)?[KMBT][\d]?|small|mini|medium|large|x?xl)", part, re.IGNORECASE):
            part = part.replace("_", ".")
            if part[-1].isdecimal():
                part = part[:-2] + "." + part[-1] + part[-2]
            if len(part) > 1 and part[-2].isdecimal():
                if part[-1] in "kmbt":
                    part = part[:-1] + part[-1].upper()
            if total_params != 0:
                try:
                    label = float(part[:-1]) * pow(1000, " KMBT".find(part[-1]))
                    if (total_params < 0 and label < abs(total_params) // 8) or (
                            total_params > 0 and abs(label - total_params) > 7 * total_params // 8):
                        kinds[i].add("finetune")
                        part = part[:-1] + part[-1].lower()
                except ValueError:
                    pass
            if len(kinds[i]) == 0:
                kinds[i].add("size_label")
            parts[i] = part
        elif i > 0 and re.fullmatch(r"chat|instruct|vision|lora", part, re.IGNORECASE):
            if total_params < 0 and part.lower() == "lora":
                kinds[i].add("type")
            else:
                kinds[i].add("finetune")
    if any(c.isdecimal() for n, t in zip(parts, kinds) if "size_label" in t for c in n):
        for n, t in zip(parts, kinds):
            if "size_label" in t and all(c.isalpha() for c in n):
                t.remove("size_label")
    at_start = True
    for part, t in zip(parts, kinds):
        if at_start and ((len(t) == 0 and part[0].isalpha()) or "version" in t):
            t.add("basename")
        else:
            if at_start:
                at_start = False
            if len(t) == 0:
                t.add("finetune")
    for _part, t in zip(reversed(parts), reversed(kinds)):
        if "basename" in t and len(t) > 1:
            t.remove("basename")
        else:
            break
    basename = "-".join(n for n, t in zip(parts, kinds) if "basename" in t) or None
    size_label = "-".join(dict.fromkeys(s for s, t in zip(parts, kinds) if "size_label" in t).keys()) or None
    finetune = "-".join(f for f, t in zip(parts, kinds) if "finetune" in t) or None
    version = "-".join(v for v, t in zip(parts, kinds) if "version" in t and "basename" not in t) or None
    if size_label is None and finetune is None and version is None:
        basename = None
    return name, org, basename, finetune, version, size_label


def weight_count_label(n: int, min_digits: int = 2) -> str:
    """gguf-py's rounded parameter-count notation ("1.2B", "494M", "33K")."""
    if n > 1e12:
        x, s = n * 1e-12, "T"
    elif n > 1e9:
        x, s = n * 1e-9, "B"
    elif n > 1e6:
        x, s = n * 1e-6, "M"
    else:
        x, s = n * 1e-3, "K"
    fix = max(min_digits - len(str(round(x)).lstrip("0")), 0)
    return f"{x:.{fix}f}{s}"


def size_label(total: int, shared: int, expert: int, expert_count: int) -> str:
    """``general.size_label`` from parameter counts (``8x7.2B`` style for MoE)."""
    if expert_count > 0:
        return f"{expert_count}x{weight_count_label(abs(shared) + abs(expert))}"
    return weight_count_label(abs(total))


def parameter_counts(tensors: List[Tuple[str, List[int]]]) -> Tuple[int, int, int, int]:
    """(total, shared, expert, expert_count) as GGUFWriter.get_total_parameter_count counts them.

    ``tensors`` holds (GGUF name, row-major shape) of every written tensor.
    """
    total = shared = expert = 0
    expert_sum = n_expert_tensors = 0
    for name, shape in tensors:
        size = 1
        for d in shape:
            size *= d
        if "_exps." in name:
            if len(shape) >= 3:
                cnt = shape[-2 if ".bias" in name else -3]
                expert += size // cnt
                expert_sum += cnt
                n_expert_tensors += 1
            else:
                shared += size
        else:
            shared += size
        total += size
    count = expert_sum // n_expert_tensors if n_expert_tensors else 0
    return total, shared, expert, count


def load_model_card(readme: Optional[str]) -> Dict[str, Any]:
    """The YAML front matter of README.md as a dict, or {} (also when PyYAML is not installed)."""
    if not readme:
        return {}
    lines = readme.splitlines()
    if not lines or lines[0] != "---":
        return {}
    body = []
    for line in lines[1:]:
        if line == "---":
            break
        body.append(line)
    text = "\n".join(body) + "\n"
    text = text.replace("- no\n", '- "no"\n').replace("\t", "  ")
    try:
        import yaml  # type: ignore
    except ImportError:
        return {}
    try:
        data = yaml.safe_load(text)
    except Exception:
        return {}
    return data if isinstance(data, dict) else {}


def _card_metadata(meta: Dict[str, Any], card: Dict[str, Any], total_params: int) -> None:
    def use(key: str, card_key: str) -> None:
        if card_key in card and meta.get(key) is None:
            meta[key] = card.get(card_key)

    def use_array(key: str, card_key: str) -> None:
        v = card.get(card_key)
        if v is None:
            return
        cur = meta.get(key) or []
        if isinstance(v, str):
            cur.append(v)
        elif isinstance(v, list):
            cur.extend(v)
        meta[key] = cur

    for prefix in ("", "model_"):
        for k in ("name", "author", "version", "organization", "description", "finetune", "basename", "size_label"):
            use(k, prefix + k)
        for k, ck in (("source_url", "url"), ("source_doi", "doi"), ("source_uuid", "uuid"), ("source_repo_url", "repo_url")):
            use(k, prefix + ck)
    use("name", "model_name")
    use("author", "model_creator")
    use("basename", "model_type")

    def entries(value: Any) -> List[Any]:
        if isinstance(value, str):
            return [value]
        if isinstance(value, list):
            return list(value)
        return []

    def hf_entry(ident: Any) -> Optional[Dict[str, Any]]:
        if isinstance(ident, dict):
            return ident
        if not isinstance(ident, str):
            return None
        e: Dict[str, Any] = {}
        if ident.startswith(("http://", "https://", "ssh://")):
            e["repo_url"] = ident
            if "huggingface.co" in ident:
                m = re.match(r"https?://huggingface.co/([^/]+/[^/]+)$", ident)
                if m:
                    name, org, _, _, version, _ = model_id_components(m.group(1), total_params)
                    if name is not None:
                        e["name"] = id_to_title(name)
                    if org is not None:
                        e["organization"] = id_to_title(org)
                    if version is not None:
                        e["version"] = version
        else:
            name, org, _, _, version, _ = model_id_components(ident, total_params)
            if name is not None:
                e["name"] = id_to_title(name)
            if org is not None:
                e["organization"] = id_to_title(org)
            if version is not None:
                e["version"] = version
            if org is not None and name is not None:
                e["repo_url"] = f"https://huggingface.co/{org}/{name}"
        return e

    if "base_model" in card or "base_models" in card or "base_model_sources" in card:
        src = card.get("base_model", card.get("base_models", card.get("base_model_sources")))
        meta.setdefault("base_models", [])
        if meta["base_models"] is None:
            meta["base_models"] = []
        for ident in entries(src):
            e = hf_entry(ident)
            if e is not None:
                meta["base_models"].append(e)
    if "datasets" in card or "dataset" in card or "dataset_sources" in card:
        src = card.get("datasets", card.get("dataset", card.get("dataset_sources")))
        if meta.get("datasets") is None:
            meta["datasets"] = []
        for ident in entries(src):
            e = hf_entry(ident)
            if e is not None:
                meta["datasets"].append(e)
    use("license", "license")
    use("license_name", "license_name")
    use("license_link", "license_link")
    use_array("tags", "tags")
    use_array("tags", "pipeline_tag")
    use_array("languages", "languages")
    use_array("languages", "language")


_SAMPLING = [
    ("sequence", "sequence", "str"),
    ("top_k", "top_k", "i32"),
    ("top_p", "top_p", "f32"),
    ("min_p", "min_p", "f32"),
    ("xtc_probability", "xtc_probability", "f32"),
    ("xtc_threshold", "xtc_threshold", "f32"),
    ("temp", "temperature", "f32"),
    ("penalty_last_n", "penalty_last_n", "i32"),
    ("penalty_repeat", "penalty_repeat", "f32"),
    ("mirostat", "mirostat", "i32"),
    ("mirostat_tau", "mirostat_tau", "f32"),
    ("mirostat_eta", "mirostat_eta", "f32"),
]


def general_metadata(*, dir_name: Optional[str], config: Dict[str, Any], generation_config: Optional[Dict[str, Any]],
                     model_card: Optional[Dict[str, Any]], total_params: int, size_counts: Tuple[int, int, int, int],
                     name_override: Optional[str] = None) -> List[V.KV]:
    """The ``general.*`` keys the converter writes after ``general.type`` (sampling, name … languages)."""
    meta: Dict[str, Any] = {}
    if model_card:
        _card_metadata(meta, model_card, total_params)
    sources = []
    nop = config.get("_name_or_path")
    if isinstance(nop, str) and nop.count("/") <= 1:
        sources.append(nop)
    if dir_name:
        sources.append(dir_name)
    for mid in sources:
        name, org, basename, finetune, version, label = model_id_components(mid, total_params)
        if meta.get("name") is None and name is not None:
            meta["name"] = id_to_title(name)
        if meta.get("organization") is None and org is not None:
            meta["organization"] = id_to_title(org)
        for k, v in (("basename", basename), ("finetune", finetune), ("version", version), ("size_label", label)):
            if meta.get(k) is None and v is not None:
                meta[k] = v
    if name_override is not None:
        meta["name"] = name_override
    if meta.get("name") is None:
        meta["name"] = dir_name or "model"
    if meta.get("size_label") is None and total_params > 0:
        meta["size_label"] = size_label(*size_counts)

    kv: List[V.KV] = []
    gc = generation_config or {}
    for key, gkey, kind in _SAMPLING:
        v = gc.get(gkey)
        if key == "penalty_repeat" and v is None:
            v = gc.get("repetition_penalty")
        if v is None:
            continue
        full = f"general.sampling.{key}"
        try:
            kv.append({"str": V.string, "i32": V.i32, "f32": V.f32}[kind](full, v))
        except ValueError as e:
            raise ConfigError(f"convert: {GENERATION_CONFIG}: {gkey!r}: {e}", GENERATION_CONFIG) from None

    def s(key: str, value: Any) -> None:
        if value is None:
            return
        if isinstance(value, list) and key == "general.license":
            value = ",".join(map(str, value))
        if not isinstance(value, str):
            value = str(value)
        if value:
            kv.append(V.string(key, value))

    s("general.name", meta.get("name"))
    for k in ("author", "version", "organization", "finetune", "basename", "description", "quantized_by", "size_label"):
        s(f"general.{k}", meta.get(k))
    s("general.license", meta.get("license"))
    s("general.license.name", meta.get("license_name"))
    s("general.license.link", meta.get("license_link"))
    for k in ("url", "doi", "uuid", "repo_url"):
        s(f"general.{k}", meta.get(k))
    for k in ("url", "doi", "uuid", "repo_url"):
        s(f"general.source.{k}", meta.get(f"source_{k}"))
    for group, key in (("base_models", "base_model"), ("datasets", "dataset")):
        entries = meta.get(group)
        if entries is None:
            continue
        kv.append(V.u32(f"general.{key}.count", len(entries)))
        for i, e in enumerate(entries):
            for field in ("name", "author", "version", "organization", "description", "url", "doi", "uuid", "repo_url"):
                if field in e:
                    s(f"general.{key}.{i}.{field}", e[field])
    for group, key in (("tags", "general.tags"), ("languages", "general.languages")):
        vals = meta.get(group)
        if vals:
            kv.append(V.array(key, V.ValueType.STRING, [str(x) for x in vals]))
    return kv
