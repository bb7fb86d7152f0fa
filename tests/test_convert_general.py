"""general.* metadata heuristics against gguf-py's own (tests/golden/general_metadata.json)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from wick.convert import general as G

GOLDEN = json.loads((Path(__file__).parent / "golden" / "general_metadata.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("mid,params,want", GOLDEN["components"], ids=lambda x: str(x)[:40])
def test_model_id_components(mid, params, want):
    assert list(G.model_id_components(mid, params)) == want


@pytest.mark.parametrize("mid,want", GOLDEN["titles"])
def test_id_to_title(mid, want):
    assert G.id_to_title(mid.split("/")[-1]) == want


@pytest.mark.parametrize("counts,want", GOLDEN["size_labels"])
def test_size_label(counts, want):
    assert G.size_label(*counts) == want


@pytest.mark.parametrize("case", GOLDEN["dirs"], ids=lambda c: c["dir"])
def test_general_keys_for_model_dirs(case):
    p = case["params"]
    got = G.general_metadata(dir_name=case["dir"], config=case["config"], generation_config=case["generation"],
                             model_card=case["model_card"], total_params=p, size_counts=(p, p, 0, 0))
    want = case["expected"]
    assert [kv.key for kv in got] == [w[0] for w in want]
    for kv, (k, t, e, v) in zip(got, want):
        assert kv.type.name == t and (kv.element_type.name if kv.element_type else None) == e, k
        if t == "FLOAT32":
            assert np.float32(kv.value) == np.float32(v), k
        else:
            assert kv.value == v, k


def test_parameter_counts_moe():
    tensors = [("token_embd.weight", [32000, 4096]), ("blk.0.ffn_up_exps.weight", [8, 14336, 4096]),
               ("blk.0.ffn_down_exps.weight", [8, 4096, 14336]), ("blk.0.attn_q.weight", [4096, 4096])]
    total, shared, expert, count = G.parameter_counts(tensors)
    assert total == 32000 * 4096 + 2 * 8 * 14336 * 4096 + 4096 * 4096
    assert shared == 32000 * 4096 + 4096 * 4096
    assert expert == 2 * 14336 * 4096 and count == 8
    assert G.size_label(total, shared, expert, count).startswith("8x")


def test_model_card_without_front_matter():
    assert G.load_model_card("# just a readme\n") == {}
    assert G.load_model_card(None) == {}
