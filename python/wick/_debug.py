"""Test hooks into the native library (not part of the public API).

They exist so that the test suite can prove the C boundary contains failures:
a Go panic becomes :class:`WickInternalError`, and Ctrl-C cancels a running
call.
"""

from __future__ import annotations

from . import _native

PANIC_IN_EXPORT = 0
PANIC_IN_WORKER = 1
PANIC_NIL_DEREF = 2


def panic(where: int) -> None:
    """Make the Go side panic (in the export, a worker goroutine, or by a nil dereference)."""
    err = _native.errbuf()
    _native.check(_native.lib().wick_debug_panic(where, err, _native.ERRLEN), err)


def spin(millis: int, interruptible: bool = True) -> None:
    """Keep the Go side busy for ``millis`` ms; Ctrl-C cancels it like any long call."""
    ctl = _native.ffi.new("wick_ctl *")
    err = _native.errbuf()
    nbytes = _native.INTERRUPTIBLE_BYTES if interruptible else 0
    _native.invoke(_native.lib().wick_debug_spin, (millis, ctl, err, _native.ERRLEN), ctl=ctl, err=err, nbytes=nbytes)
