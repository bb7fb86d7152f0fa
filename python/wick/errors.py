"""Wick's exceptions.

Every exception Wick raises derives from :class:`WickError`, and also from the
builtin exception a Python user would expect, so both styles work::

    try:
        wick.quantize(x, "Q8_0")
    except ValueError:        # or: except wick.WickError
        ...

=====================  ==========================  ===========================================
class                  also a                      raised when
=====================  ==========================  ===========================================
WickValueError         ValueError                  an argument has a bad value or shape
WickTypeError          TypeError                   an argument has the wrong type or dtype
WickNonFiniteError     ValueError                  input holds NaN/Inf where it cannot
WickFormatError        ValueError                  a file is corrupt, truncated or hostile
WickUnsupportedError   NotImplementedError         a known type/operation Wick cannot do (yet)
WickOSError            OSError                     the operating system refused (file, disk)
WickFileNotFoundError  FileNotFoundError           a file to read does not exist
WickFileExistsError    FileExistsError             an output exists and overwriting was not asked
WickInternalError      RuntimeError                a bug in Wick (a recovered Go panic)
WickCancelledError     -                           a call was cancelled through its control block
WickForkError          RuntimeError                the library is used in a fork()ed child
=====================  ==========================  ===========================================

A cancelled call (Ctrl-C) re-raises :class:`KeyboardInterrupt` after Wick has
stopped and cleaned up.
"""

from __future__ import annotations


class WickError(Exception):
    """Base class of every exception raised by Wick."""


class WickValueError(WickError, ValueError):
    """An argument has a bad value: shape, size, range or an unknown name."""


class WickTypeError(WickError, TypeError):
    """An argument has the wrong type or dtype."""


class WickNonFiniteError(WickValueError):
    """The input holds NaN or ±Inf where the target format cannot represent it."""


class WickFormatError(WickValueError):
    """A file is corrupt, truncated or hostile; the message names the file and the problem."""


class WickUnsupportedError(WickError, NotImplementedError):
    """A known type or operation that Wick cannot perform (yet)."""


class WickOSError(WickError, OSError):
    """The operating system refused an operation (missing file, permissions, full disk)."""


class WickFileNotFoundError(WickOSError, FileNotFoundError):
    """A file Wick was asked to read does not exist."""


class WickFileExistsError(WickOSError, FileExistsError):
    """An output file already exists and overwriting was not asked for."""


class WickInternalError(WickError, RuntimeError):
    """A bug in Wick: a panic in the Go core, caught before it could crash the process."""


class WickCancelledError(WickError):
    """A call was cancelled through its control block.

    Ctrl-C does not raise this: after Wick has stopped, the original
    :class:`KeyboardInterrupt` is re-raised.
    """


class WickForkError(WickError, RuntimeError):
    """Wick's native library was loaded before this process was forked.

    The Go runtime does not survive ``fork()``: the child would hang. Use the
    ``spawn`` or ``forkserver`` start method of :mod:`multiprocessing`
    (``multiprocessing.get_context("spawn")``), or import and use Wick only in
    the children.
    """


# Status names of the native library (see wick_info_json) → exception class.
# "plan" (a conversion plan the Go executor refuses) maps to
# wick.convert.errors.PlanError, resolved by status_exception: importing
# wick.convert here would make every `import wick` pay for it.
STATUS_EXCEPTIONS = {
    "invalid_argument": WickValueError,
    "internal": WickInternalError,
    "os": WickOSError,
    "format": WickFormatError,
    "unsupported": WickUnsupportedError,
    "non_finite": WickNonFiniteError,
    "cancelled": WickCancelledError,
    "not_found": WickFileNotFoundError,
    "exists": WickFileExistsError,
}


def status_exception(name: str) -> type:
    """The exception class for a status name of the native library
    (:class:`WickInternalError` for a name this package does not know)."""
    if name == "plan":
        from .convert.errors import PlanError

        return PlanError
    return STATUS_EXCEPTIONS.get(name, WickInternalError)

__all__ = [
    "WickError",
    "WickValueError",
    "WickTypeError",
    "WickNonFiniteError",
    "WickFormatError",
    "WickUnsupportedError",
    "WickOSError",
    "WickFileNotFoundError",
    "WickFileExistsError",
    "WickInternalError",
    "WickCancelledError",
    "WickForkError",
]
