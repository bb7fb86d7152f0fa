"""Generate tests/golden/general_metadata.json from gguf-py's own Metadata heuristics.

Run by hand (output committed), with a venv that has PyYAML (gguf-py's
metadata module imports it) — e.g. the one of gen_convert_reference.py:

    /tmp/refvenv/bin/python tests/golden/gen_general_metadata.py [LLAMA_CPP_DIR]

It imports gguf-py from the llama.cpp tree (default
/work/ref/llama_cpp_python-0.3.36/vendor/llama.cpp) and records:

* ``model_id_components`` for real model ids, with several parameter counts;
* ``id_to_title`` and ``size_label`` results;
* the ``general.*`` keys ``Metadata.load`` + ``set_gguf_meta_model`` write for
  a few model directories (directory name, config.json ``_name_or_path``,
  generation_config.json sampling settings, README.md model card), stored
  with the parsed model card so the test needs no YAML parser.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

LLAMA_CPP = Path(sys.argv[1] if len(sys.argv) > 1 else "/work/ref/llama_cpp_python-0.3.36/vendor/llama.cpp")
sys.path.insert(0, str(LLAMA_CPP / "gguf-py"))

import gguf  # noqa: E402
from gguf.metadata import Metadata  # noqa: E402
from gguf.utility import size_label  # noqa: E402

OUT = Path(__file__).with_name("general_metadata.json")

IDS = [
    "meta-llama/Llama-3.2-1B", "meta-llama/Llama-3.2-1B-Instruct", "meta-llama/Meta-Llama-3.1-8B-Instruct",
    "meta-llama/Llama-2-7b-hf", "meta-llama/Llama-2-13b-chat-hf", "mistralai/Mistral-7B-v0.1",
    "mistralai/Mistral-7B-Instruct-v0.3", "mistralai/Mixtral-8x7B-Instruct-v0.1", "Qwen/Qwen2.5-0.5B-Instruct",
    "Qwen/Qwen2.5-Coder-32B-Instruct", "Qwen/Qwen3-0.6B", "HuggingFaceTB/SmolLM-135M", "bigscience/bloom-7b1",
    "TheBloke/Mistral-7B-Instruct-v0.2-GGUF", "NousResearch/Hermes-3-Llama-3.1-8B", "Llama-3.2-1B", "tiny",
    "./relative-model", "model with spaces", "microsoft/phi-2", "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B",
    "google/gemma-2-2b-it", "EleutherAI/pythia-70m-deduped", "my-model-32k-context-7B", "iter1-base-Q4_K_M",
    "org/Model-v1.5-mini-lora", "A-B-C-1.5B-q4_0", "x/Large-Model-XL-70B-fp16",
]
PARAMS = [0, 1_235_814_400, 7_241_732_096, 135_000_000, -1_000_000]
COUNTS = [(1_235_814_400, 0, 0, 0), (494_032_768, 0, 0, 0), (7_241_732_096, 0, 0, 0), (999_999, 0, 0, 0),
          (46_702_792_704, 1_605_787_648, 5_637_144_576, 8), (70_553_706_496, 0, 0, 0), (12_345, 0, 0, 0),
          (1_000_000_000_001, 0, 0, 0)]

DIRS = [
    dict(dir="Llama-3.2-1B-Instruct", config={"_name_or_path": "meta-llama/Llama-3.2-1B-Instruct"},
         generation={"temperature": 0.6, "top_p": 0.9, "do_sample": True}, readme=None, params=1_235_814_400),
    dict(dir="snapshot-abc123", config={"_name_or_path": "/home/user/models/x"}, generation=None,
         readme="---\nlicense: apache-2.0\nlanguage:\n- en\n- no\ntags:\n- chat\npipeline_tag: text-generation\n"
                "base_model: Qwen/Qwen2.5-0.5B\ndatasets:\n- HuggingFaceH4/ultrachat_200k\n---\n# Model\n",
         params=494_032_768),
    dict(dir="Mistral-7B-Instruct-v0.3", config={}, generation={"top_k": 50, "repetition_penalty": 1.1},
         readme="---\nlicense: [mit, apache-2.0]\nbase_model:\n- mistralai/Mistral-7B-v0.3\n"
                "- https://huggingface.co/org/Other-Model-1B\nmodel_creator: Mistral AI\n---\n", params=7_248_023_552),
    dict(dir="weird_name", config={"_name_or_path": "a/b/c"}, generation={"temperature": 1}, readme="no front matter\n",
         params=33_000),
]


def kv_list(w):
    out = []
    for key, val in w.kv_data[0].items():
        sub = val.sub_type
        if val.type == gguf.GGUFValueType.ARRAY and sub is None:
            sub = gguf.GGUFValueType.get_type(val.value[0])
        out.append([key, val.type.name, sub.name if sub is not None else None, val.value])
    return out


def main() -> None:
    res = {"generator": "tests/golden/gen_general_metadata.py", "gguf_py": str(LLAMA_CPP / "gguf-py"),
           "components": [], "titles": [], "size_labels": [], "dirs": []}
    for mid in IDS:
        for p in PARAMS:
            res["components"].append([mid, p, list(Metadata.get_model_id_components(mid, p))])
        res["titles"].append([mid, Metadata.id_to_title(mid.split("/")[-1])])
    for c in COUNTS:
        res["size_labels"].append([list(c), size_label(*c)])
    with tempfile.TemporaryDirectory() as tmp:
        for case in DIRS:
            d = Path(tmp) / case["dir"]
            d.mkdir()
            (d / "config.json").write_text(json.dumps(case["config"]))
            if case["generation"] is not None:
                (d / "generation_config.json").write_text(json.dumps(case["generation"]))
            if case["readme"] is not None:
                (d / "README.md").write_text(case["readme"])
            md = Metadata.load(None, d, None, case["params"])
            if md.name is None:
                md.name = d.name
            if md.size_label is None and case["params"] > 0:
                md.size_label = size_label(case["params"], case["params"], 0, 0)
            w = gguf.GGUFWriter(path=None, arch="llama")
            w.kv_data[0].clear()
            md.set_gguf_meta_model(w)
            res["dirs"].append({**case, "model_card": Metadata.load_model_card(d), "expected": kv_list(w)})
    OUT.write_text(json.dumps(res, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    print(f"wrote {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
