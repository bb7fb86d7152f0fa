"""The architecture fixtures (tests/arch_fixtures) still build the exact model directories
the goldens in tests/golden/arch_goldens.json were made from: every file's SHA-256.

A failure here means a builder changed: regenerate the goldens with the command in
tests/golden/gen_arch_goldens.py (the converter must see the new files), or undo the change.
"""

from __future__ import annotations

import json
import math

import pytest

import arch_fixtures as AF
from conftest import ROOT

GOLD = json.loads((ROOT / "tests" / "golden" / "arch_goldens.json").read_text(encoding="utf-8"))
FIXTURES = AF.all_fixtures()


def test_every_fixture_has_goldens():
    assert sorted(f.name for f in FIXTURES) == sorted(GOLD["fixtures"]), \
        "fixtures and goldens differ: regenerate tests/golden/arch_goldens.json"


def test_every_class_of_issues_10_and_11_has_a_fixture():
    wanted = {
        "Gemma2ForCausalLM", "Gemma3ForCausalLM", "Gemma3ForConditionalGeneration", "Gemma4ForCausalLM",
        "Gemma4ForConditionalGeneration", "Phi3ForCausalLM", "Ministral3ForCausalLM", "Mistral3ForConditionalGeneration",
        "Olmo2ForCausalLM", "Olmo3ForCausalLM", "GraniteForCausalLM", "SmolLM3ForCausalLM", "Cohere2ForCausalLM",
        "Exaone4ForCausalLM", "Ernie4_5ForCausalLM",
        "Qwen2MoeForCausalLM", "Qwen3MoeForCausalLM", "Qwen3_5ForCausalLM", "Qwen3_5MoeForCausalLM",
        "Qwen3_5ForConditionalGeneration", "Qwen3_5MoeForConditionalGeneration", "DeepseekV2ForCausalLM",
        "DeepseekV3ForCausalLM", "Glm4MoeLiteForCausalLM", "Glm4MoeForCausalLM", "GptOssForCausalLM",
        "Llama4ForCausalLM", "Llama4ForConditionalGeneration", "OlmoeForCausalLM", "GraniteMoeForCausalLM",
    }
    assert wanted <= {f.hf_class for f in FIXTURES}


@pytest.mark.parametrize("fx", FIXTURES, ids=[f.name for f in FIXTURES])
def test_fixture_files_match_the_goldens(fx, tmp_path):
    d = fx.write(tmp_path)
    assert d.name == GOLD["fixtures"][fx.name]["dir_name"]
    config = json.loads((d / "config.json").read_text())
    assert config["architectures"] == [fx.hf_class]
    got = AF.file_hashes(d)
    want = GOLD["fixtures"][fx.name]["files"]
    assert sorted(got) == sorted(want), f"{fx.name}: files {sorted(got)} != {sorted(want)}"
    changed = [n for n in got if got[n] != want[n]]
    assert not changed, f"{fx.name}: {changed} differ from the goldens (builder changed?)"


def test_fixtures_are_small():
    for fx in FIXTURES:
        n = sum(math.prod(t.shape) for t in fx.tensors)
        assert n < 8_000_000, f"{fx.name}: {n} parameters"
