"""Small safetensors files written by the reference writer, for the Go reader.

Writes, under io/safetensors/testdata/ref/:
  - all_dtypes.safetensors: one tensor per dtype the safetensors package can
    write (every dtype of the format but F6_E2M3/F6_E3M2), with metadata,
    a scalar and a zero-element tensor;
  - sharded/model-0000{1,2}-of-00002.safetensors and
    sharded/model.safetensors.index.json in the layout Hugging Face's
    save_pretrained uses (the index is written here, in that format);
  - expected.json: for each file and tensor, the dtype, shape and
    data_offsets the reference wrote, the SHA-256 of the tensor bytes, and,
    for dtypes with a float32 conversion, the float32 bit patterns numpy /
    ml_dtypes give (F16 NaNs with the quiet bit set, as ggml widens them).

Run by hand from the repository root, in a venv with safetensors, numpy and
ml_dtypes:

    python -m venv /tmp/stvenv && /tmp/stvenv/bin/pip install safetensors numpy ml_dtypes
    /tmp/stvenv/bin/python tests/golden/gen_safetensors_files.py
"""

import hashlib
import json
import pathlib

import ml_dtypes
import numpy as np
import safetensors
from safetensors import TensorSpec, serialize_file

OUT = pathlib.Path("io/safetensors/testdata/ref")

# safetensors dtype -> (TensorSpec dtype name, numpy dtype for float32
# conversion or None, bits per element)
DTYPES = {
    "BOOL": ("bool", np.bool_, 8),
    "U8": ("uint8", np.uint8, 8),
    "I8": ("int8", np.int8, 8),
    "F8_E5M2": ("float8_e5m2", ml_dtypes.float8_e5m2, 8),
    "F8_E4M3": ("float8_e4m3fn", ml_dtypes.float8_e4m3fn, 8),
    "F8_E8M0": ("float8_e8m0fnu", ml_dtypes.float8_e8m0fnu, 8),
    "F8_E4M3FNUZ": ("float8_e4m3fnuz", ml_dtypes.float8_e4m3fnuz, 8),
    "F8_E5M2FNUZ": ("float8_e5m2fnuz", ml_dtypes.float8_e5m2fnuz, 8),
    "I16": ("int16", np.dtype("<i2"), 16),
    "U16": ("uint16", np.dtype("<u2"), 16),
    "F16": ("float16", np.dtype("<f2"), 16),
    "BF16": ("bfloat16", ml_dtypes.bfloat16, 16),
    "I32": ("int32", np.dtype("<i4"), 32),
    "U32": ("uint32", np.dtype("<u4"), 32),
    "F32": ("float32", np.dtype("<f4"), 32),
    "C64": ("complex64", None, 64),
    "F64": ("float64", np.dtype("<f8"), 64),
    "I64": ("int64", np.dtype("<i8"), 64),
    "U64": ("uint64", np.dtype("<u8"), 64),
    "F4": ("float4_e2m1fn_x2", None, 4),
}

_keep = []  # buffers must outlive serialize_file


def spec(spec_dtype: str, storage_shape, raw: np.ndarray) -> TensorSpec:
    raw = np.ascontiguousarray(raw, dtype=np.uint8)
    _keep.append(raw)
    return TensorSpec(dtype=spec_dtype, shape=list(storage_shape), data_ptr=raw.ctypes.data, data_len=raw.nbytes)


def raw_bytes(rng: np.random.Generator, nbytes: int, dtype: str) -> np.ndarray:
    if dtype == "BOOL":
        return rng.integers(0, 2, nbytes, dtype=np.uint8)
    return rng.integers(0, 256, nbytes, dtype=np.uint8)


def describe(path: pathlib.Path) -> dict:
    """What the reference reader sees in path, plus float32 conversions."""
    data = path.read_bytes()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    tensors = {}
    for name, info in safetensors.deserialize(data):
        begin, end = header[name]["data_offsets"]
        raw = bytes(info["data"])
        entry = {
            "dtype": info["dtype"],
            "shape": list(info["shape"]),
            "data_offsets": [begin, end],
            "sha256": hashlib.sha256(raw).hexdigest(),
        }
        conv = DTYPES[info["dtype"]][1]
        if conv is not None:
            if conv is np.bool_:
                vals = (np.frombuffer(raw, np.uint8) != 0).astype(np.float32)
            else:
                vals = np.frombuffer(raw, conv).astype(np.float32)
            bits = vals.view(np.uint32)
            if info["dtype"] == "F16":
                # ggml (and Wick) quiet signalling NaNs when widening F16;
                # numpy keeps them (see gen_safetensors_dtype_tables.py).
                bits = np.where(np.isnan(vals), bits | 0x00400000, bits)
            entry["float32_bits"] = [int(v) for v in bits]
        tensors[name] = entry
    return {"metadata": header.get("__metadata__"), "header_size": n, "tensors": tensors}


def main() -> None:
    rng = np.random.default_rng(20261125)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "sharded").mkdir(exist_ok=True)

    tensors = {}
    for i, (dt, (spec_dt, _, bits)) in enumerate(DTYPES.items()):
        shape = [2, 3] if i % 2 else [5]
        n = int(np.prod(shape))
        if dt == "F4":  # two per byte; TensorSpec takes the byte shape
            tensors[f"t.{dt.lower()}"] = spec(spec_dt, [2, 3], raw_bytes(rng, 6, dt))
            continue
        tensors[f"t.{dt.lower()}"] = spec(spec_dt, shape, raw_bytes(rng, n * bits // 8, dt))
    # Special values that are easy to get wrong.
    f32 = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, 3.4028235e38], dtype="<f4")
    tensors["special.f32"] = spec("float32", [7], f32.view(np.uint8))
    f64 = np.array([1e300, -1e300, 1e-320, 0.1, np.nan, 16777217.0], dtype="<f8")
    tensors["special.f64"] = spec("float64", [6], f64.view(np.uint8))
    i64 = np.array([2**63 - 1, -(2**63), 16777217, 16777219, -33554435, 0], dtype="<i8")
    tensors["special.i64"] = spec("int64", [6], i64.view(np.uint8))
    u64 = np.array([2**64 - 1, 2**63 + 2**39 + 1, 16777217, 0], dtype="<u8")
    tensors["special.u64"] = spec("uint64", [4], u64.view(np.uint8))
    tensors["scalar"] = spec("float32", [], np.array([2.5], dtype="<f4").view(np.uint8))
    tensors["empty"] = spec("float32", [0, 4], np.zeros(0, np.uint8))
    meta = {"format": "pt", "note": "wick test file ünïcode <&>"}
    serialize_file(tensors, str(OUT / "all_dtypes.safetensors"), metadata=meta)

    # A sharded model: shard 1 holds a and b, shard 2 holds c.
    a = np.arange(12, dtype="<f4").reshape(3, 4)
    b = np.arange(6, dtype="<f2").reshape(2, 3)
    c = np.arange(8, dtype="<i8")
    serialize_file(
        {"a": spec("float32", a.shape, a.view(np.uint8)), "b": spec("float16", b.shape, b.view(np.uint8))},
        str(OUT / "sharded/model-00001-of-00002.safetensors"),
        metadata={"format": "pt"},
    )
    serialize_file(
        {"c": spec("int64", c.shape, c.view(np.uint8))},
        str(OUT / "sharded/model-00002-of-00002.safetensors"),
        metadata={"format": "pt"},
    )
    index = {
        "metadata": {"total_size": a.nbytes + b.nbytes + c.nbytes},
        "weight_map": {
            "a": "model-00001-of-00002.safetensors",
            "b": "model-00001-of-00002.safetensors",
            "c": "model-00002-of-00002.safetensors",
        },
    }
    (OUT / "sharded/model.safetensors.index.json").write_text(json.dumps(index, indent=2) + "\n")

    expected = {
        "generator": "tests/golden/gen_safetensors_files.py",
        "safetensors": safetensors.__version__,
        "numpy": np.__version__,
        "ml_dtypes": ml_dtypes.__version__,
        "files": {
            p: describe(OUT / p)
            for p in [
                "all_dtypes.safetensors",
                "sharded/model-00001-of-00002.safetensors",
                "sharded/model-00002-of-00002.safetensors",
            ]
        },
    }
    (OUT / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
