# Type stubs for the public API of the wick package.
from typing import Any, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

from . import gguf as gguf
from . import imatrix as imatrix
from . import safetensors as safetensors
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
    def bits_per_weight(self) -> float: ...

TypeLike = Union[str, int, TypeInfo]
ShapeLike = Union[int, Sequence[int]]

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
    codes: npt.ArrayLike, state: QuantState, *, out_dtype: Any = ..., threads: Optional[int] = ...
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
    packed: npt.ArrayLike, state: QuantState, *, out_dtype: Any = ..., threads: Optional[int] = ...
) -> np.ndarray: ...

# wick.convert is a callable module: wick.convert(model_dir, output, type=...) converts,
# and wick.convert.build_plan, wick.convert.format_plan_table, ... plan.
def convert(model: Any, output: Any, type: str = ..., **kwargs: Any) -> Any: ...
