"""Reference float32 values of every 8- and 16-bit safetensors dtype code.

Writes io/safetensors/testdata/dtype_tables.json, the oracle for the Go test
TestDecodeAllCodes: for each 8-bit dtype the float32 bit pattern of all 256
codes, and for each 16-bit dtype the SHA-256 of the 65,536 float32 values
(little-endian) of all codes, as numpy and ml_dtypes convert them.

Run by hand from the repository root, in a venv with numpy and ml_dtypes:

    python -m venv /tmp/stvenv && /tmp/stvenv/bin/pip install numpy ml_dtypes
    /tmp/stvenv/bin/python tests/golden/gen_safetensors_dtype_tables.py

The safetensors names map to ml_dtypes as PyTorch and the safetensors
package map them (F8_E4M3 is float8_e4m3fn, F8_E8M0 is float8_e8m0fnu).

One adjustment: for F16 the quiet bit (0x00400000) is set on every NaN.
Wick widens F16 as ggml's ggml_compute_fp16_to_fp32 does, whose float
multiply quiets signalling NaNs (0x7C01 -> 0x7FC02000); numpy keeps them
signalling (0x7C01 -> 0x7F802000). Every other value is numpy's, bit for bit.
"""

import hashlib
import json
import pathlib

import ml_dtypes
import numpy as np

EIGHT_BIT = {
    "U8": np.uint8,
    "I8": np.int8,
    "BOOL": np.bool_,
    "F8_E5M2": ml_dtypes.float8_e5m2,
    "F8_E4M3": ml_dtypes.float8_e4m3fn,
    "F8_E4M3FNUZ": ml_dtypes.float8_e4m3fnuz,
    "F8_E5M2FNUZ": ml_dtypes.float8_e5m2fnuz,
    "F8_E8M0": ml_dtypes.float8_e8m0fnu,
}

SIXTEEN_BIT = {
    "U16": np.dtype("<u2"),
    "I16": np.dtype("<i2"),
    "F16": np.dtype("<f2"),
    "BF16": ml_dtypes.bfloat16,
}


def main() -> None:
    codes8 = np.arange(256, dtype=np.uint8)
    codes16 = np.arange(65536, dtype=np.uint16)
    tables = {}
    for name, dt in EIGHT_BIT.items():
        if dt is np.bool_:
            # numpy bool_ is only defined for bytes 0 and 1; any non-zero byte
            # is true, which is what safetensors readers see.
            vals = (codes8 != 0).astype(np.float32)
        else:
            vals = codes8.view(dt).astype(np.float32)
        tables[name] = [int(v) for v in vals.view(np.uint32)]
    sha = {}
    for name, dt in SIXTEEN_BIT.items():
        vals = codes16.view(dt).astype(np.float32).astype("<f4")
        if name == "F16":
            bits = vals.view(np.uint32)
            vals = np.where(np.isnan(vals), bits | 0x00400000, bits).astype("<u4").view("<f4")
        sha[name] = hashlib.sha256(vals.tobytes()).hexdigest()
    out = {
        "generator": "tests/golden/gen_safetensors_dtype_tables.py",
        "numpy": np.__version__,
        "ml_dtypes": ml_dtypes.__version__,
        "tables8": tables,
        "sha256_16": sha,
    }
    path = pathlib.Path("io/safetensors/testdata/dtype_tables.json")
    path.write_text(json.dumps(out, indent=1) + "\n")
    print("wrote", path)


if __name__ == "__main__":
    main()
