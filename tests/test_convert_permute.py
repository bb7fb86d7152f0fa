"""The q/k permutation (HF rotate-half RoPE layout → ggml interleaved pairs)."""

from __future__ import annotations

import numpy as np
import pytest

from wick.convert.errors import PlanError
from wick.convert.view import View, materialize, permute_qk_view


def permute_qk_rows(w: np.ndarray, n_head: int) -> np.ndarray:
    """Wick's q/k permutation of ``w``: the plan part of a 1-D view of its row numbers, read by
    the numpy twin of the executor (exact for any dtype of ``w``)."""
    rows = np.arange(w.shape[0], dtype=np.float32)
    order = materialize([rows], [permute_qk_view(View.of(rows.shape), n_head).part()]).astype(np.int64)
    return w[order]


def spec_formula(w: np.ndarray, n_head: int) -> np.ndarray:
    """llama-export.md §5 read literally: new_row(h, 2i + j) = old_row(h, j·(D/2) + i)."""
    rows = w.shape[0]
    d = rows // n_head
    out = np.empty_like(w)
    for h in range(n_head):
        for i in range(d // 2):
            for j in (0, 1):
                out[h * d + 2 * i + j] = w[h * d + j * (d // 2) + i]
    return out


def reshape_formulation(w: np.ndarray, n_head: int) -> np.ndarray:
    """The same reordering as a reshape (n, 2, D/2, …) → swap axes 1, 2 → reshape back."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def rope_rotate_half(q: np.ndarray, pos: int, d: int, base: float = 10000.0) -> np.ndarray:
    """HF RoPE: dims i and i + D/2 of each head rotate together."""
    inv = base ** (-np.arange(0, d, 2) / d)
    c, s = np.cos(pos * inv), np.sin(pos * inv)
    q = q.reshape(-1, d)
    a, b = q[:, : d // 2], q[:, d // 2:]
    return np.concatenate([a * c - b * s, b * c + a * s], axis=1).reshape(-1)


def rope_interleaved(q: np.ndarray, pos: int, d: int, base: float = 10000.0) -> np.ndarray:
    """ggml's normal RoPE (llama arch): dims 2i and 2i + 1 rotate together."""
    inv = base ** (-np.arange(0, d, 2) / d)
    c, s = np.cos(pos * inv), np.sin(pos * inv)
    q = q.reshape(-1, d)
    a, b = q[:, 0::2], q[:, 1::2]
    out = np.empty_like(q)
    out[:, 0::2] = a * c - b * s
    out[:, 1::2] = b * c + a * s
    return out.reshape(-1)


@pytest.mark.parametrize("n_head,d,cols", [(1, 2, 1), (4, 8, 5), (32, 64, 3), (8, 128, 2), (2, 6, 4)])
def test_matches_spec_formula_and_reshape(n_head, d, cols):
    rng = np.random.default_rng(n_head * 1000 + d)
    w = rng.standard_normal((n_head * d, cols)).astype(np.float32)
    got = permute_qk_rows(w, n_head)
    np.testing.assert_array_equal(got, spec_formula(w, n_head))
    np.testing.assert_array_equal(got, reshape_formulation(w, n_head))
    # the 2-D part the adapters write reads the same values
    part = permute_qk_view(View.of(w.shape), n_head).part()
    np.testing.assert_array_equal(materialize([w], [part]).reshape(w.shape), got)
    # a permutation: same multiset of rows, and not the identity unless D == 2
    assert sorted(map(tuple, got)) == sorted(map(tuple, w))
    if d > 2:
        assert not np.array_equal(got, w)


def test_bias_is_permuted_like_rows():
    b = np.arange(4 * 8, dtype=np.float32)
    got = permute_qk_rows(b, 4)
    np.testing.assert_array_equal(got[:8], [0, 4, 1, 5, 2, 6, 3, 7])
    np.testing.assert_array_equal(got, spec_formula(b[:, None], 4)[:, 0])


@pytest.mark.parametrize("n_head,n_kv,d", [(8, 8, 16), (8, 2, 16), (4, 1, 32)])
def test_permuted_weights_give_the_same_attention_under_ggml_rope(n_head, n_kv, d):
    """The defining property: interleaved RoPE on permuted rows == permuted rotate-half RoPE,
    so q·k scores (what attention sees) are unchanged. k uses the KV-head count."""
    rng = np.random.default_rng(7)
    e = 24
    wq = rng.standard_normal((n_head * d, e))
    wk = rng.standard_normal((n_kv * d, e))
    x1, x2 = rng.standard_normal(e), rng.standard_normal(e)
    pq, pk = permute_qk_rows(wq, n_head), permute_qk_rows(wk, n_kv)
    for pos_q, pos_k in [(0, 0), (5, 3), (100, 17)]:
        q_hf = rope_rotate_half(wq @ x1, pos_q, d).reshape(n_head, d)
        k_hf = rope_rotate_half(wk @ x2, pos_k, d).reshape(n_kv, d)
        q_gg = rope_interleaved(pq @ x1, pos_q, d).reshape(n_head, d)
        k_gg = rope_interleaved(pk @ x2, pos_k, d).reshape(n_kv, d)
        g = n_head // n_kv
        s_hf = np.array([q_hf[h] @ k_hf[h // g] for h in range(n_head)])
        s_gg = np.array([q_gg[h] @ k_gg[h // g] for h in range(n_head)])
        np.testing.assert_allclose(s_gg, s_hf, rtol=1e-10, atol=1e-10)
    # without the permutation the scores differ (so the test can fail)
    q_bad = rope_interleaved(wq @ x1, 5, d).reshape(n_head, d)
    k_bad = rope_interleaved(wk @ x2, 3, d).reshape(n_kv, d)
    q_hf = rope_rotate_half(wq @ x1, 5, d).reshape(n_head, d)
    k_hf = rope_rotate_half(wk @ x2, 3, d).reshape(n_kv, d)
    assert not np.allclose([q_bad[0] @ k_bad[0]], [q_hf[0] @ k_hf[0]])


def test_stack_and_errors():
    a, b = np.ones((4, 3)), np.zeros((4, 3))
    out = materialize([a, b])  # several sources, no parts: stacked in order
    np.testing.assert_array_equal(out, np.concatenate([a.ravel(), b.ravel()]))
    with pytest.raises(PlanError):
        permute_qk_rows(np.ones((6, 2)), 4)  # 6 rows do not split into 4 heads
    with pytest.raises(PlanError):
        permute_qk_rows(np.ones((6, 2)), 2)  # head size 3 is odd
    with pytest.raises(PlanError):
        materialize([a], ops=[{"op": "rotate"}])
