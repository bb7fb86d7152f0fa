"""Small GGUF files written by gguf-py's GGUFWriter, for the Go reader/writer.

Writes, under io/gguf/testdata/:
  - example.gguf: the worked example of spec gguf.md section 9 (288 bytes);
  - all_types.gguf: every metadata value type as a scalar and as an array,
    general.alignment = 64, and tensors of types F32, F16, BF16, Q8_0,
    Q4_K, I8, I16, I32, I64, F64 with 1 to 4 dimensions (raw bytes for the
    quantized ones);
  - nested.gguf: arrays of arrays (which ggml's reader rejects but the
    format and gguf-py allow), no tensors;
  - expected.json: what gguf-py's GGUFReader reads back from each file:
    every KV (key, type, element type, value; floats as IEEE bit patterns)
    and every tensor (name, type id, dims as stored, element count, byte
    size, offset in the data section, SHA-256 of the data), plus the data
    offset and alignment. For nested arrays, which GGUFReader flattens, the
    value recorded is the one written.

Run by hand from the repository root with the gguf package (0.19.0):

    /tmp/gvenv/bin/python tests/golden/gen_gguf_files.py
"""

import hashlib
import json
import pathlib
import struct

import gguf
import numpy as np
from gguf import GGMLQuantizationType as Q
from gguf import GGUFValueType as T

OUT = pathlib.Path("io/gguf/testdata")

NESTED = [[1, 2, 3], ["a", "bc"], [[True], [False, True]], [0.5]]


def write(path: pathlib.Path, build, arch: str = "llama", alignment: int | None = None) -> None:
    w = gguf.GGUFWriter(str(path), arch)
    if alignment is not None:
        w.add_custom_alignment(alignment)
    build(w)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def example(w: gguf.GGUFWriter) -> None:
    w.add_uint32("llama.context_length", 16)
    w.add_float32("llama.rope.freq_base", 10000.0)
    w.add_array("tokenizer.ggml.tokens", ["a", "bc"])
    w.add_tensor("x", np.arange(6, dtype=np.float32).reshape(2, 3))


def all_types(w: gguf.GGUFWriter) -> None:
    rng = np.random.default_rng(20261125)
    w.add_uint8("t.u8", 200)
    w.add_int8("t.i8", -100)
    w.add_uint16("t.u16", 60000)
    w.add_int16("t.i16", -30000)
    w.add_uint32("t.u32", 4000000000)
    w.add_int32("t.i32", -2000000000)
    w.add_float32("t.f32", -1.25e-3)
    w.add_bool("t.bool.true", True)
    w.add_bool("t.bool.false", False)
    w.add_string("t.str", "héllo, wörld")
    w.add_uint64("t.u64", 2**64 - 1)
    w.add_int64("t.i64", -(2**63))
    w.add_float64("t.f64", 2.0**-1074)
    sub = {
        T.UINT8: [0, 1, 255], T.INT8: [-128, 0, 127], T.UINT16: [0, 65535], T.INT16: [-32768, 32767],
        T.UINT32: [0, 2**32 - 1], T.INT32: [-(2**31), 2**31 - 1], T.FLOAT32: [1.5, -0.0, float("inf")],
        T.BOOL: [True, False, True], T.STRING: ["", "x", "ünï"], T.UINT64: [2**64 - 1, 0],
        T.INT64: [-(2**63), 2**63 - 1], T.FLOAT64: [0.1, -1e300],
    }
    for vt, vals in sub.items():
        w.add_key_value(f"a.{vt.name.lower()}", vals, T.ARRAY, sub_type=vt)
    # Tensors: numpy shape is row-major; gguf-py writes dims reversed.
    w.add_tensor("f32.1d", rng.standard_normal(7).astype(np.float32))
    w.add_tensor("f16.2d", rng.standard_normal((3, 5)).astype(np.float16))
    w.add_tensor("bf16.2d", rng.integers(0, 2**16, (2, 4), dtype=np.uint16).view(np.uint8).reshape(2, 8), raw_dtype=Q.BF16)
    w.add_tensor("q8_0", rng.integers(0, 256, (2, 2 * 34), dtype=np.uint8), raw_dtype=Q.Q8_0)
    w.add_tensor("q4_k.3d", rng.integers(0, 256, (2, 1, 144), dtype=np.uint8), raw_dtype=Q.Q4_K)
    w.add_tensor("i8.4d", rng.integers(-128, 128, (1, 2, 3, 4), dtype=np.int8))
    w.add_tensor("i16", rng.integers(-(2**15), 2**15, (5,), dtype=np.int16))
    w.add_tensor("i32.row", rng.integers(-(2**31), 2**31, (1, 3), dtype=np.int32))
    w.add_tensor("i64", rng.integers(-(2**63), 2**63 - 1, (2,), dtype=np.int64))
    w.add_tensor("f64", rng.standard_normal((3,)).astype(np.float64))


def nested(w: gguf.GGUFWriter) -> None:
    w.add_key_value("t.nested", NESTED, T.ARRAY)
    w.add_uint32("t.after", 7)


def jsonable(vtype: T, value):
    if vtype == T.FLOAT32:
        return struct.unpack("<I", struct.pack("<f", value))[0]
    if vtype == T.FLOAT64:
        return struct.unpack("<Q", struct.pack("<d", value))[0]
    return value


def nested_jsonable(value):
    # Values as written; element types inferred as gguf-py does.
    if isinstance(value, list):
        return [nested_jsonable(v) for v in value]
    if isinstance(value, float):
        return jsonable(T.FLOAT32, value)
    return value


def describe(path: pathlib.Path) -> dict:
    r = gguf.GGUFReader(str(path))
    kvs = []
    for field in r.fields.values():
        if field.name.startswith("GGUF."):
            continue
        entry = {"key": field.name, "type": int(field.types[0])}
        if field.types[0] == T.ARRAY:
            entry["elem_type"] = int(field.types[1])
            if field.types[1] == T.ARRAY:
                entry["value"] = nested_jsonable(NESTED)
            else:
                entry["value"] = [jsonable(field.types[1], v) for v in field.contents()]
        else:
            entry["value"] = jsonable(field.types[0], field.contents())
        kvs.append(entry)
    tensors = []
    for t in r.tensors:
        raw = np.ascontiguousarray(t.data).view(np.uint8).tobytes()
        tensors.append({
            "name": t.name,
            "type": int(t.tensor_type),
            "dims": [int(d) for d in t.shape],
            "n_elements": int(t.n_elements),
            "n_bytes": int(t.n_bytes),
            "offset": int(t.data_offset - r.data_offset),
            "sha256": hashlib.sha256(raw).hexdigest(),
        })
    return {
        "size": path.stat().st_size,
        "data_offset": int(r.data_offset),
        "alignment": int(r.alignment),
        "kvs": kvs,
        "tensors": tensors,
    }


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    write(OUT / "example.gguf", example)
    write(OUT / "all_types.gguf", all_types, alignment=64)
    write(OUT / "nested.gguf", nested)
    expected = {
        "generator": "tests/golden/gen_gguf_files.py",
        "gguf": "0.19.0",
        "numpy": np.__version__,
        "files": {name: describe(OUT / name) for name in ["example.gguf", "all_types.gguf", "nested.gguf"]},
    }
    (OUT / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
