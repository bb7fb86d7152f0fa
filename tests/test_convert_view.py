"""Strided views and element-wise operations of conversion plans.

- :class:`wick.convert.view.View` follows torch's shape operations exactly
  (checked against numpy doing the same operations on real arrays);
- the Go executor reads parts and applies ops exactly as the numpy twin
  :func:`wick.convert.view.materialize` (random views, every source dtype
  path, chunk sizes that cut views anywhere).
"""

from __future__ import annotations

import numpy as np
import pytest
import safetensors.numpy as stnp

import wick.gguf
from wick.convert.errors import PlanError
from wick.convert.execute import execute
from wick.convert.plan import Plan, SourceRef, TensorPlan
from wick.convert.view import View, apply_ops, materialize, permute_qk_view
from wick.gguf import values as V


def random_ops(rng, v: View, a: np.ndarray):
    """Apply the same random shape operations to a View and a numpy array."""
    for _ in range(int(rng.integers(1, 5))):
        kind = rng.integers(0, 5)
        nd = a.ndim
        if kind == 0 and nd >= 2:
            i, j = rng.choice(nd, 2, replace=False)
            v, a = v.transpose(int(i), int(j)), np.swapaxes(a, i, j)
        elif kind == 1:
            j = int(rng.integers(0, nd))
            n = a.shape[j]
            start = int(rng.integers(0, n))
            step = int(rng.integers(1, 4))
            stop = int(rng.integers(start + 1, n + 1))
            idx = [slice(None)] * nd
            idx[j] = slice(start, stop, step)
            v, a = v[tuple(idx)], a[tuple(idx)]
        elif kind == 2:
            j = int(rng.integers(0, nd))
            n = a.shape[j]
            divs = [d for d in range(2, n) if n % d == 0]
            if divs and a.flags.c_contiguous:
                d = int(rng.choice(divs))
                shape = a.shape[:j] + (d, n // d) + a.shape[j + 1:]
                v, a = v.reshape(*shape), a.reshape(shape)
        elif kind == 3 and nd >= 2:
            perm = [int(x) for x in rng.permutation(nd)]
            v, a = v.permute(*perm), np.transpose(a, perm)
        elif kind == 4 and nd >= 2:
            j = int(rng.integers(0, nd))
            i = int(rng.integers(0, a.shape[j]))
            v, a = v[(slice(None),) * j + (i,)], a[(slice(None),) * j + (i,)]
    return v, a


def test_view_follows_numpy_shape_operations():
    rng = np.random.default_rng(5)
    checked = 0
    for _ in range(2000):
        shape = tuple(int(x) for x in rng.integers(1, 9, size=int(rng.integers(1, 4))))
        a = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
        v, b = random_ops(rng, View.of(shape), a)
        assert v.shape == b.shape
        try:
            part = v.part()
        except PlanError:
            continue  # a view that cannot be read row by row: refused, never misread
        np.testing.assert_array_equal(materialize([a], [part]), b.reshape(-1))
        checked += 1
    assert checked > 1500


def test_reshape_that_needs_a_copy_is_refused():
    v = View.of((4, 6)).T  # [6, 4] with strides (1, 6)
    with pytest.raises(PlanError, match="needs a copy"):
        v.reshape(24)
    # splitting one transposed dimension needs no copy
    assert v.reshape(2, 3, 4).strides == (3, 1, 6)


def test_split_chunk_and_permute_qk():
    v = View.of((10, 3))
    a, b = v.split([4, 6])
    assert (a.shape, a.offset, b.shape, b.offset) == ((4, 3), 0, (6, 3), 12)
    g, u = View.of((5, 8)).chunk(2, dim=1)
    assert g.part() == {"source": 0, "shape": [5, 4], "strides": [8, 1], "offset": 0}
    assert u.part()["offset"] == 4
    with pytest.raises(PlanError):
        permute_qk_view(View.of((6, 2)), 4)


OPS = [[], [{"op": "add", "value": 1.0}], [{"op": "add", "value": 1.0}, {"op": "round", "dtype": "F16"}],
       [{"op": "exp"}, {"op": "neg"}], [{"op": "mul", "value": -0.5}, {"op": "round", "dtype": "BF16"}]]


def test_apply_ops_semantics():
    x = np.array([0.5, -2.0, 70000.0, 1e-8, np.nan], np.float32)
    np.testing.assert_array_equal(apply_ops(x, [{"op": "add", "value": 1.0}]), x + np.float32(1))
    r = apply_ops(x, [{"op": "round", "dtype": "F16"}])
    assert r[2] == np.inf and r[3] == np.float32(np.float16(1e-8)) and np.isnan(r[4])
    b = apply_ops(np.array([1.00390625, 1.01171875], np.float32), [{"op": "round", "dtype": "BF16"}])
    np.testing.assert_array_equal(b, [1.0, 1.015625])  # ties to even
    with pytest.raises(PlanError):
        apply_ops(x, [{"op": "cube"}])


def _bf16(a: np.ndarray) -> np.ndarray:
    """bfloat16 values (truncated from float32: exact, and enough for a test input)."""
    import ml_dtypes
    return ((a.astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)).view(ml_dtypes.bfloat16)


@pytest.mark.parametrize("seed", range(6))
def test_executor_matches_numpy_twin(tmp_path, seed):
    """Random parts and ops over F32, F16, BF16, F64 and I8 sources, written F32 by the Go executor,
    equal the numpy twin bit for bit (convert/view_test.go cuts views into random chunks)."""
    rng = np.random.default_rng(100 + seed)
    shapes = {"a": (12, 16), "b": (3, 8, 6), "c": (40,), "d": (6, 10), "e": (8, 12)}
    arrays = {k: rng.standard_normal(s).astype(np.float32) for k, s in shapes.items()}
    stored = {
        "a": arrays["a"],
        "b": arrays["b"].astype(np.float16),
        "c": _bf16(arrays["c"]),
        "d": arrays["d"].astype(np.float64),
        "e": rng.integers(-128, 127, size=shapes["e"]).astype(np.int8),
    }
    dtypes = {"a": "F32", "b": "F16", "c": "BF16", "d": "F64", "e": "I8"}
    values = {  # what the executor reads: the stored values widened to float32
        "a": stored["a"], "b": stored["b"].astype(np.float32),
        "c": stored["c"].astype(np.float32), "d": stored["d"].astype(np.float32),
        "e": stored["e"].astype(np.float32),
    }
    st = {k: v for k, v in stored.items()}
    stnp.save_file(st, str(tmp_path / "model.safetensors"))
    tensors, want = [], {}
    for i in range(8):
        names = list(shapes)
        picks = [names[int(j)] for j in rng.choice(len(names), size=int(rng.integers(1, 3)), replace=False)]
        sources = [SourceRef("model.safetensors", k, dtypes[k], list(shapes[k])) for k in picks]
        parts, pieces = [], []
        for si, k in enumerate(picks):
            for _ in range(20):
                v, b = random_ops(rng, View.of(shapes[k], si), np.arange(np.prod(shapes[k])).reshape(shapes[k]))
                try:
                    parts.append(v.part())
                    pieces.append(values[k].reshape(-1)[b.reshape(-1)])
                    break
                except PlanError:
                    continue
        n = sum(p.size for p in pieces)
        row = int(np.gcd.reduce([p.size for p in pieces]))  # every part is whole rows
        ops = OPS[int(rng.integers(0, len(OPS)))]
        name = f"t{i}"
        tensors.append(TensorPlan(name=name, shape=[row, n // row], type="F32", sources=sources, parts=parts, ops=ops))
        want[name] = apply_ops(np.concatenate(pieces), ops)
        np.testing.assert_array_equal(materialize([values[k] for k in picks], parts, ops), want[name])
    plan = Plan(hf_architecture=None, architecture="test", target="F32", file_type=0, reference="convert",
                metadata=[V.string("general.architecture", "test")], tensors=tensors, model_dir=str(tmp_path))
    out = tmp_path / "out.gguf"
    execute(plan, str(out))
    g = wick.gguf.open(str(out))
    for name, w in want.items():
        got = g.tensor(name).reshape(-1)
        np.testing.assert_array_equal(got.view(np.uint32), w.view(np.uint32), err_msg=name)
