# Type stubs for the public API of the wick package.
import builtins
import os
from typing import Any, Callable, Literal, Optional, Sequence, Tuple, Union, overload

import numpy as np
import numpy.typing as npt

from . import gguf as gguf
from . import imatrix as imatrix
from . import safetensors as safetensors
from .convert.bnb import BnbPlan
from .convert.export_hf import ExportResult
from .convert.options import PlanOptions
from .convert.plan import Plan
from .convert.report import ConversionReport
from .errors import (
    WickCancelledError as WickCancelledError,
)
from .errors import (
    WickError as WickError,
)
from .errors import (
    WickFileExistsError as WickFileExistsError,
)
from .errors import (
    WickFileNotFoundError as WickFileNotFoundError,
)
from .errors import (
    WickForkError as WickForkError,
)
from .errors import (
    WickFormatError as WickFormatError,
)
from .errors import (
    WickInternalError as WickInternalError,
)
from .errors import (
    WickNonFiniteError as WickNonFiniteError,
)
from .errors import (
    WickOSError as WickOSError,
)
from .errors import (
    WickTypeError as WickTypeError,
)
from .errors import (
    WickUnsupportedError as WickUnsupportedError,
)
from .errors import (
    WickValueError as WickValueError,
)

__version__: str

class TypeInfo:
    name: str
    id: int
    block_size: int
    type_size: int
    float: bool
    can_quantize: bool
    can_dequantize: bool
    def __init__(self, name: str, id: int, block_size: int, type_size: int, float: bool,
                 can_quantize: bool, can_dequantize: bool) -> None: ...
    def row_nbytes(self, n: int) -> int: ...
    @property
    def bits_per_weight(self) -> builtins.float: ...  # builtins: the field `float` shadows the type here

TypeLike = Union[str, int, TypeInfo]
ShapeLike = Union[int, Sequence[int]]
PathLike = Union[str, os.PathLike[str]]
ProgressLike = Union[bool, Callable[[int, int, str], None], None]

def types() -> Tuple[TypeInfo, ...]: ...
def type_info(t: TypeLike) -> TypeInfo: ...
def library_info() -> dict: ...
def max_threads() -> int: ...
def quantize(
    x: npt.ArrayLike,
    type: TypeLike,
    *,
    threads: Optional[int] = ...,
    imatrix: Optional[npt.ArrayLike] = ...,
    allow_non_finite: bool = ...,
    src_dtype: Optional[str] = ...,
    out: Optional[npt.NDArray[np.uint8]] = ...,
) -> npt.NDArray[np.uint8]: ...
def dequantize(
    data: Union[npt.NDArray[np.uint8], bytes, bytearray, memoryview],
    type: TypeLike,
    shape: ShapeLike,
    *,
    threads: Optional[int] = ...,
    out: Optional[npt.NDArray[np.float32]] = ...,
) -> npt.NDArray[np.float32]: ...

class QuantState:
    absmax: np.ndarray
    blocksize: int
    code: np.ndarray
    dtype: str
    shape: Optional[Tuple[int, ...]]
    quant_type: Optional[str]
    offset: Optional[float]
    state2: Optional[QuantState]
    def __init__(self, absmax: np.ndarray, blocksize: int, code: np.ndarray, dtype: str,
                 shape: Optional[Tuple[int, ...]] = ..., quant_type: Optional[str] = ...,
                 offset: Optional[float] = ..., state2: Optional[QuantState] = ...) -> None: ...
    @property
    def nested(self) -> bool: ...
    def validate(self) -> None: ...
    def as_dict(self, packed: bool = ...) -> dict: ...
    @classmethod
    def from_dict(cls, qs_dict: Any) -> QuantState: ...

def code_table(name: str) -> npt.NDArray[np.float32]: ...
def quantize_blockwise(
    x: npt.ArrayLike,
    blocksize: int = ...,
    code: Optional[npt.ArrayLike] = ...,
    nested: bool = ...,
    *,
    threads: Optional[int] = ...,
    rules: str = ...,
    allow_non_finite: bool = ...,
    src_dtype: Optional[str] = ...,
    nested_offset: Optional[float] = ...,
) -> Tuple[npt.NDArray[np.uint8], QuantState]: ...
def dequantize_blockwise(
    codes: npt.ArrayLike,
    state: QuantState,
    *,
    out_dtype: Any = ...,
    threads: Optional[int] = ...,
    out: Optional[np.ndarray] = ...,
) -> np.ndarray: ...
def quantize_4bit(
    x: npt.ArrayLike,
    blocksize: int = ...,
    quant_type: str = ...,
    compress_statistics: bool = ...,
    *,
    threads: Optional[int] = ...,
    rules: str = ...,
    allow_non_finite: bool = ...,
    src_dtype: Optional[str] = ...,
    nested_offset: Optional[float] = ...,
) -> Tuple[npt.NDArray[np.uint8], QuantState]: ...
def dequantize_4bit(
    packed: npt.ArrayLike,
    state: QuantState,
    *,
    out_dtype: Any = ...,
    threads: Optional[int] = ...,
    rules: str = ...,
    out: Optional[np.ndarray] = ...,
) -> np.ndarray: ...

# ``wick.convert_lora``: a PEFT LoRA adapter directory to the GGUF adapter llama.cpp
# loads (wick.convert.lora; what convert_lora_to_gguf.py writes, byte for byte).
@overload
def convert_lora(
    adapter_dir: PathLike,
    output: PathLike,
    *,
    base: PathLike,
    type: Optional[str] = ...,
    threads: Optional[int] = ...,
    overwrite: bool = ...,
    progress: ProgressLike = ...,
    dry_run: Literal[False] = ...,
) -> ConversionReport: ...
@overload
def convert_lora(
    adapter_dir: PathLike,
    output: PathLike,
    *,
    base: PathLike,
    type: Optional[str] = ...,
    threads: Optional[int] = ...,
    overwrite: bool = ...,
    progress: ProgressLike = ...,
    dry_run: Literal[True],
) -> Plan: ...
# GGUF → Hugging Face model directory (wick.convert.export_hf; docs/export-hf.md)
def export_hf(
    gguf: PathLike,
    output: PathLike,
    *,
    dtype: Literal["bf16", "f16", "f32"] = ...,
    architecture: Optional[str] = ...,
    max_shard_size: Union[int, str] = ...,
    overwrite: bool = ...,
    progress: Optional[Callable[[int, int, str], None]] = ...,
) -> ExportResult: ...

# ``wick.convert`` is a callable module: ``wick.convert(model, output, type=...)``
# converts, and ``wick.convert.build_plan`` etc. are importable from it. The plan
# options after ``options`` are the fields of wick.convert.options.PlanOptions
# (the runtime signature is generated from it; tests/test_api_docs.py compares).
# ``format="bnb-nf4"`` (``"bnb-fp4"``, ``"bnb-int8"``) writes a bitsandbytes model
# directory instead (its options, wick.convert.BnbOptions' fields, are keywords);
# its dry run returns a ``wick.convert.bnb.BnbPlan``.
@overload
def convert(
    model: PathLike,
    output: PathLike,
    type: Optional[str] = ...,
    *,
    format: str = ...,
    threads: Optional[int] = ...,
    overwrite: bool = ...,
    progress: ProgressLike = ...,
    dry_run: Literal[False] = ...,
    options: Optional[PlanOptions] = ...,
    revision: Optional[str] = ...,
    tokenizer_pre: Optional[str] = ...,
    model_name: Optional[str] = ...,
    pure: bool = ...,
    output_tensor_type: Optional[str] = ...,
    token_embedding_type: Optional[str] = ...,
    tensor_types: Sequence[Tuple[str, str]] = ...,
    leave_output_tensor: bool = ...,
    imatrix: Any = ...,
    imatrix_include: Sequence[str] = ...,
    imatrix_exclude: Sequence[str] = ...,
    intermediate: Optional[Literal["f32", "bf16", "f16"]] = ...,
    split_max_size: Optional[Union[int, str]] = ...,
    split_max_tensors: Optional[int] = ...,
    fp8_as_q8: bool = ...,
    imatrix_names: Optional[Sequence[str]] = ...,
) -> ConversionReport: ...
@overload
def convert(
    model: PathLike,
    output: PathLike,
    type: Optional[str] = ...,
    *,
    format: str = ...,
    threads: Optional[int] = ...,
    overwrite: bool = ...,
    progress: ProgressLike = ...,
    dry_run: Literal[True],
    options: Optional[PlanOptions] = ...,
    revision: Optional[str] = ...,
    tokenizer_pre: Optional[str] = ...,
    model_name: Optional[str] = ...,
    pure: bool = ...,
    output_tensor_type: Optional[str] = ...,
    token_embedding_type: Optional[str] = ...,
    tensor_types: Sequence[Tuple[str, str]] = ...,
    leave_output_tensor: bool = ...,
    imatrix: Any = ...,
    imatrix_include: Sequence[str] = ...,
    imatrix_exclude: Sequence[str] = ...,
    intermediate: Optional[Literal["f32", "bf16", "f16"]] = ...,
    split_max_size: Optional[Union[int, str]] = ...,
    split_max_tensors: Optional[int] = ...,
    fp8_as_q8: bool = ...,
    imatrix_names: Optional[Sequence[str]] = ...,
) -> Union[Plan, BnbPlan]: ...
