"""Test hooks into the native library (not part of the public API).

They exist so that the test suite can prove the C boundary contains failures:
a Go panic becomes :class:`WickInternalError`, and Ctrl-C cancels a running
call. The library's ``wick_debug_*`` exports behind them are compiled only
into the test suite's library (``python build_native.py --test-hooks``, which
``make lib`` runs; tests/conftest.py points ``WICK_LIBRARY`` at it): with a
release library these functions raise :class:`RuntimeError`.
"""

from __future__ import annotations

from typing import Any

from . import _native

PANIC_IN_EXPORT = 0
PANIC_IN_WORKER = 1
PANIC_NIL_DEREF = 2


def _hook(name: str) -> Any:
    try:
        return getattr(_native.lib(), name)
    except AttributeError:
        raise RuntimeError(
            f"{name}: the native library at {_native.library_path()} has no test hooks (a release build); "
            "build the test library with `python build_native.py --test-hooks` and set WICK_LIBRARY to it"
        ) from None


def panic(where: int) -> None:
    """Make the Go side panic (in the export, a worker goroutine, or by a nil dereference)."""
    err = _native.errbuf()
    _native.check(_hook("wick_debug_panic")(where, err, _native.ERRLEN), err)


def spin(millis: int, interruptible: bool = True) -> None:
    """Keep the Go side busy for ``millis`` ms; Ctrl-C cancels it like any long call."""
    ctl = _native.ffi.new("wick_ctl *")
    err = _native.errbuf()
    nbytes = _native.INTERRUPTIBLE_BYTES if interruptible else 0
    _native.invoke(_hook("wick_debug_spin"), (millis, ctl, err, _native.ERRLEN), ctl=ctl, err=err, nbytes=nbytes)
