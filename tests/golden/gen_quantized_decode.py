"""Generate convert/decode/testdata/goldens.json: what the real references
decode from the stored tensors of quantized checkpoints.

Run by hand (output committed), from the repository root, with the reference
environment (torch, bitsandbytes 0.50.2; the pinned llama.cpp tree)::

    /work/refvenv/bin/python tests/golden/gen_quantized_decode.py

(``LLAMA_CPP_DIR`` overrides the llama.cpp tree, default
``/work/ref/llama_cpp_python-0.3.36/vendor/llama.cpp``; ``LIBGGML_BASE`` the
``libggml-base.so`` of llama-cpp-python 0.3.36, default: found beside the
installed ``llama_cpp`` package.)

The cases are those of ``allCases`` in convert/decode/decode_test.go, built
from the same counter-based splitmix64 stream (``stream`` there and here), so
the Go test rebuilds every input bit for bit. For each case this script runs
the reference and records the SHA-256 of the decoded tensor (float32,
little-endian, row-major logical shape) or of the encoded ggml rows:

- ``scaled``, ``gptq``, ``int_packed``: llama.cpp's converter itself:
  ``ModelBase.dequant_model`` of conversion/base.py run on a bare model object
  whose ``hparams["quantization_config"]`` and ``model_tensors`` are the case's
  (quant_method ``fp8`` with or without ``weight_block_size``; ``gptq`` with
  ``checkpoint_format`` gptq / gptq_v2; ``compressed-tensors`` pack-quantized
  with a ``weight_shape`` tensor). The decoded tensor is what the lambda it
  installs returns (torch, float32).
- ``nvfp4`` / ``mxfp4`` raw: ``ModelBase._nvfp4_pack``,
  ``ModelBase.repack_mxfp4_blocks`` and, for the gpt-oss ``_blocks`` layout,
  ``GptOssModel.repack_mxfp4`` (its ``add_tensor`` call captured);
  float: ggml's ``dequantize_row_nvfp4`` / ``dequantize_row_mxfp4``
  (libggml-base, ctypes) on those blocks.
- ``bnb_4bit``: ``bitsandbytes.functional.dequantize_4bit`` on CPU with the
  case's ``QuantState`` (nested states through ``state2`` and ``offset``),
  then widened to float32; ``bnb_int8``: ``int8_vectorwise_dequant``.

``int_packed`` cases are also compared with compressed-tensors' own
``unpack_from_int32`` (its dense packing; the decompressor's (q − zero) ·
scale) when the package is importable, e.g. installed with ``pip install
--target DIR --no-deps compressed-tensors loguru pydantic pydantic-core
annotated-types typing-inspection`` and ``PYTHONPATH=DIR``: the result is
recorded in ``cross_checks``.

No value here comes from Wick.
"""

from __future__ import annotations

import ctypes
import glob
import hashlib
import json
import os
import sys

import numpy as np
import torch

LLAMA = os.environ.get("LLAMA_CPP_DIR", "/work/ref/llama_cpp_python-0.3.36/vendor/llama.cpp")
sys.path.insert(0, LLAMA)
sys.path.insert(0, os.path.join(LLAMA, "gguf-py"))

from conversion.base import ModelBase  # noqa: E402
from conversion.gpt_oss import GptOssModel  # noqa: E402
from conversion.llama import LlamaModel  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "convert", "decode", "testdata", "goldens.json")

GAMMA = np.uint64(0x9E3779B97F4A7C15)


def stream(seed: int, n: int) -> bytes:
    """The splitmix64 byte stream of decode_test.go's ``stream``."""
    words = (n + 7) // 8
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + np.arange(1, words + 1, dtype=np.uint64) * GAMMA
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return z.astype("<u8").tobytes()[:n]


SIZES = {"F32": 4, "BF16": 2, "F16": 2, "I32": 4, "I64": 8, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1}
TORCH = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16, "I32": torch.int32, "I64": torch.int64,
         "U8": torch.uint8, "I8": torch.int8, "F8_E4M3": torch.float8_e4m3fn, "F8_E5M2": torch.float8_e5m2}


def fill(dtype: str, shape, seed: int) -> bytes:
    """decode_test.go's ``fill``: stream bytes, float scales kept finite."""
    n = int(np.prod(shape, dtype=np.int64)) if shape else 1
    b = bytearray(stream(seed, n * SIZES[dtype]))
    if dtype == "F32":
        v = np.frombuffer(b, "<u4").copy()
        b = bytearray((0x3A000000 | (v & 0x00FFFFFF)).astype("<u4").tobytes())
    elif dtype == "BF16":
        v = np.frombuffer(b, "<u2").copy()
        b = bytearray((0x3A00 | (v & 0x00FF)).astype("<u2").tobytes())
    elif dtype == "F16":
        v = np.frombuffer(b, "<u2").copy()
        b = bytearray((0x1400 | (v & 0x03FF)).astype("<u2").tobytes())
    return bytes(b)


def gidx(n: int, groups: int, seed: int) -> bytes:
    v = np.frombuffer(stream(seed, 4 * n), "<u4") % np.uint32(groups)
    return v.astype("<u4").tobytes()


def tensor(data: bytes, dtype: str, shape) -> torch.Tensor:
    t = torch.from_numpy(np.frombuffer(data, np.uint8).copy())
    return t.view(TORCH[dtype]).reshape(tuple(shape))


def f32_hash(t: torch.Tensor) -> str:
    return hashlib.sha256(t.to(torch.float32).contiguous().numpy().astype("<f4").tobytes()).hexdigest()


def converter_dequant(qconfig, tensors):
    """Run llama.cpp's ModelBase.dequant_model on the given tensors."""
    m = object.__new__(LlamaModel)
    m.hparams = {"quantization_config": qconfig}
    m.model_tensors = {k: (lambda v=v: v) for k, v in tensors.items()}
    m._is_nvfp4 = False
    m.lazy = False
    m._fp8_as_q8 = False
    m._fp8_dequantized = set()
    ModelBase.dequant_model(m)
    return {k: f() for k, f in m.model_tensors.items()}


def libggml():
    path = os.environ.get("LIBGGML_BASE")
    if not path:
        import llama_cpp
        path = glob.glob(os.path.join(os.path.dirname(llama_cpp.__file__), "lib", "libggml-base.so"))[0]
    lib = ctypes.CDLL(path)
    for f in ("dequantize_row_mxfp4", "dequantize_row_nvfp4"):
        getattr(lib, f).argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
        getattr(lib, f).restype = None
    return lib


def ggml_float(lib, name: str, raw: np.ndarray, n: int) -> np.ndarray:
    raw = np.ascontiguousarray(raw, dtype=np.uint8)
    out = np.empty(n, np.float32)
    getattr(lib, f"dequantize_row_{name}")(raw.ctypes.data, out.ctypes.data, n)
    return out


# ------------------------------------------------------------------ cases
def scaled(name, dtype, sdtype, shape, sshape, block, seed):
    w = tensor(fill(dtype, shape, seed), dtype, shape)
    s = tensor(fill(sdtype, sshape, seed + 1), sdtype, sshape)
    qc = {"quant_method": "fp8", "weight_block_size": block}
    out = converter_dequant(qc, {"w": w, "w_scale_inv": s})
    assert "w_scale_inv" not in out
    return name, f32_hash(out["w"])


def gptq(name, bits, n_in, n_out, groups, zoff, seed):
    pack = 32 // bits
    q = tensor(fill("I32", [n_in // pack, n_out], seed), "I32", [n_in // pack, n_out])
    s = tensor(fill("F16", [groups, n_out], seed + 1), "F16", [groups, n_out])
    z = tensor(fill("I32", [groups, n_out // pack], seed + 2), "I32", [groups, n_out // pack])
    g = tensor(gidx(n_in, groups, seed + 3), "I32", [n_in])
    qc = {"quant_method": "gptq", "bits": bits, "checkpoint_format": "gptq" if zoff == 1 else "gptq_v2"}
    out = converter_dequant(qc, {"l.qweight": q, "l.scales": s, "l.qzeros": z, "l.g_idx": g})
    assert set(out) == {"l.weight"}
    return name, f32_hash(out["l.weight"])


def packed(name, bits, rows, cols, group, zero, sdtype, seed):
    pack = 32 // bits
    w = tensor(fill("I32", [rows, (cols + pack - 1) // pack], seed), "I32", [rows, (cols + pack - 1) // pack])
    s = tensor(fill(sdtype, [rows, cols // group], seed + 1), sdtype, [rows, cols // group])
    t = {"l.weight_packed": w, "l.weight_scale": s, "l.weight_shape": torch.tensor([rows, cols], dtype=torch.int64)}
    if zero:
        zs = [(rows + pack - 1) // pack, cols // group]
        t["l.weight_zero_point"] = tensor(fill("I32", zs, seed + 2), "I32", zs)
    qc = {"quant_method": "compressed-tensors", "format": "pack-quantized",
          "config_groups": {"group_0": {"weights": {"strategy": "group", "type": "int", "num_bits": bits, "group_size": group}}}}
    out = converter_dequant(qc, t)
    assert set(out) == {"l.weight"}
    CROSS[name] = ct_crosscheck(out["l.weight"], w, s, t.get("l.weight_zero_point"), bits, rows, cols, group)
    return name, f32_hash(out["l.weight"])


CROSS: dict = {}


def ct_crosscheck(ref, w, s, z, bits, rows, cols, group) -> str:
    """Compare the converter's dequantization with compressed-tensors' own
    unpacking (``unpack_from_int32``), when that package is importable
    (PYTHONPATH), as its decompressor computes: (q - zero) · scale."""
    try:
        from compressed_tensors.compressors.pack_quantized.helpers import unpack_from_int32
    except ImportError:
        return "compressed-tensors not importable: not cross-checked"
    q = unpack_from_int32(w, bits, torch.Size([rows, cols])).to(torch.int32)
    if z is not None:
        zp = unpack_from_int32(z, bits, torch.Size([rows, cols // group]), packed_dim=0).to(torch.int32)
        q = q - zp.repeat_interleave(group, dim=1)
    vals = q.float() * s.float().repeat_interleave(group, dim=1)
    assert torch.equal(vals.view(torch.int32), ref.view(torch.int32)), f"compressed-tensors disagrees on {rows}x{cols}"
    import compressed_tensors
    return f"equal to compressed-tensors {compressed_tensors.__version__} unpack_from_int32"


class _Writer:
    def add_tensor(self, name, data, raw_dtype=None):
        self.data = data


def fp4(lib, name, nv, layout, shape, output, seed):
    nd = len(shape)
    cols = shape[-1]
    lead = list(shape[:-1])
    wshape = lead + ([cols // 32, 16] if layout == "gpt-oss" else [cols // 2])
    group, sdt = (16, "F8_E4M3") if nv else (32, "U8")
    w = tensor(fill("U8", wshape, seed), "U8", wshape)
    s = tensor(fill(sdt, lead + [cols // group], seed + 1), sdt, lead + [cols // group])
    if nv:
        raw, _ = ModelBase._nvfp4_pack(w, s)
    elif layout == "gpt-oss":
        assert nd == 3
        m = object.__new__(GptOssModel)
        m.gguf_writer = _Writer()
        m.repack_mxfp4("x", w, s)
        raw = m.gguf_writer.data
    else:
        rows = int(np.prod(lead))
        raw = ModelBase.repack_mxfp4_blocks(w.reshape(rows, cols // 2), s.reshape(rows, cols // 32))
    raw = np.ascontiguousarray(raw, dtype=np.uint8)
    if output:
        return name, hashlib.sha256(raw.tobytes()).hexdigest()
    n = int(np.prod(shape))
    vals = ggml_float(lib, "nvfp4" if nv else "mxfp4", raw, n)
    return name, hashlib.sha256(vals.astype("<f4").tobytes()).hexdigest()


def bnb4(name, qt, shape, bs, nested, dtype, seed):
    import bitsandbytes.functional as F
    n = int(np.prod(shape))
    blocks = -(-n // bs)
    w = tensor(fill("U8", [(n + 1) // 2, 1], seed), "U8", [(n + 1) // 2, 1])
    code = F.get_4bit_type(qt, device="cpu")
    td = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[dtype]
    if nested:
        codes = tensor(fill("U8", [blocks], seed + 1), "U8", [blocks])
        na = tensor(fill("F32", [-(-blocks // 256)], seed + 2), "F32", [-(-blocks // 256)])
        nm = tensor(fill("F32", [256], seed + 3), "F32", [256])
        state2 = F.QuantState(absmax=na, code=nm, blocksize=256, dtype=torch.float32)
        qs = F.QuantState(absmax=codes, shape=torch.Size(shape), code=code, blocksize=bs, quant_type=qt, dtype=td,
                          offset=torch.tensor(np.float32(0.0123)), state2=state2)
    else:
        absmax = tensor(fill("F32", [blocks], seed + 1), "F32", [blocks])
        qs = F.QuantState(absmax=absmax, shape=torch.Size(shape), code=code, blocksize=bs, quant_type=qt, dtype=td)
    out = F.dequantize_4bit(w, qs)
    assert out.dtype == td and tuple(out.shape) == tuple(shape)
    return name, f32_hash(out)


def int8(name, rows, cols, seed):
    import bitsandbytes.functional as F
    w = tensor(fill("I8", [rows, cols], seed), "I8", [rows, cols])
    s = tensor(fill("F32", [rows], seed + 1), "F32", [rows])
    out = F.int8_vectorwise_dequant(w, s)
    assert out.dtype == torch.float32
    return name, f32_hash(out)


def main() -> None:
    lib = libggml()
    cases = [
        scaled("fp8-e4m3-block-exact", "F8_E4M3", "F32", [256, 384], [2, 3], [128, 128], 10),
        scaled("fp8-e4m3-block-partial", "F8_E4M3", "F32", [200, 300], [2, 3], [128, 128], 11),
        scaled("fp8-e4m3-block-bf16", "F8_E4M3", "BF16", [130, 129], [2, 2], [128, 128], 12),
        scaled("fp8-e4m3-block-3d", "F8_E4M3", "F32", [3, 130, 70], [3, 2, 2], [128, 64], 13),
        scaled("fp8-e5m2-channel", "F8_E5M2", "F32", [64, 96], [64, 1], None, 14),
        scaled("fp8-e4m3-channel-1d", "F8_E4M3", "BF16", [64, 96], [64], None, 15),
        scaled("fp8-e4m3-tensor", "F8_E4M3", "F32", [33, 65], [], None, 16),
        scaled("fp8-e4m3-tensor-1", "F8_E4M3", "F32", [33, 65], [1], None, 17),
        scaled("int8-channel", "I8", "F16", [48, 80], [48, 1], None, 18),
        scaled("bf16-tensor", "BF16", "F32", [8, 16], [], None, 19),
        gptq("gptq-4bit-g32", 4, 128, 64, 4, 1, 20),
        gptq("gptq-4bit-actorder", 4, 256, 40, 8, 1, 21),
        gptq("gptq-8bit-v2", 8, 96, 36, 3, 0, 22),
        gptq("gptq-2bit", 2, 64, 48, 2, 1, 23),
        gptq("gptq-4bit-1group", 4, 64, 16, 1, 1, 24),
        packed("packed-int4-sym", 4, 40, 128, 32, False, "BF16", 30),
        packed("packed-int4-asym", 4, 41, 128, 64, True, "F16", 31),
        packed("packed-int8-asym", 8, 9, 60, 20, True, "F32", 32),
        packed("packed-int4-pad", 4, 16, 36, 12, False, "F32", 33),
        fp4(lib, "nvfp4-float", True, "", [24, 128], "", 40),
        fp4(lib, "nvfp4-raw", True, "", [24, 192], "NVFP4", 41),
        fp4(lib, "mxfp4-float", False, "", [20, 96], "", 42),
        fp4(lib, "mxfp4-raw", False, "packed", [20, 64], "MXFP4", 43),
        fp4(lib, "mxfp4-gptoss-raw", False, "gpt-oss", [2, 6, 64], "MXFP4", 44),
        fp4(lib, "mxfp4-gptoss-float", False, "gpt-oss", [2, 6, 96], "", 45),
        bnb4("bnb-nf4-bf16", "nf4", [64, 128], 64, False, "bfloat16", 50),
        bnb4("bnb-fp4-f16-nested", "fp4", [48, 192], 64, True, "float16", 51),
        bnb4("bnb-nf4-f32-nested-odd", "nf4", [33, 97], 128, True, "float32", 52),
        bnb4("bnb-fp4-f32", "fp4", [7, 5], 32, False, "float32", 53),
        int8("bnb-int8", 40, 72, 60),
    ]
    import bitsandbytes
    doc = {
        "generator": "tests/golden/gen_quantized_decode.py",
        "references": {"llama.cpp": "llama-cpp-python 0.3.36 (0c1e570), conversion/base.py, conversion/gpt_oss.py, libggml-base",
                       "torch": torch.__version__, "bitsandbytes": bitsandbytes.__version__},
        "sha256": dict(cases),
        "cross_checks": CROSS,
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"wrote {len(cases)} cases to {OUT}")


if __name__ == "__main__":
    main()
