"""SIGTERM and SIGHUP stop the command line's work as Ctrl-C does.

Python turns SIGINT into :class:`KeyboardInterrupt`, which stops a long call
into the library cleanly: Go is cancelled and waited for, the output file is
dropped (see ``_native.invoke`` and docs/architecture.md). SIGTERM (``kill``,
a service manager, a batch system's time limit) and SIGHUP (the terminal went
away) would instead end the process at once. :func:`terminate_as_interrupt`
gives them the same clean exit for as long as it is active: their handlers
raise :class:`Terminated`, a KeyboardInterrupt that records the signal, so
every ``except KeyboardInterrupt`` path applies. (Even without it, an output
file is never left half-written: on Linux it has no name until it is
complete, elsewhere a later run removes the temporary files of dead
writers.)

The library leaves these signals alone otherwise: a program that imports
Wick keeps its own signal policy. Conversions run on a helper thread while
the main thread waits, so any Python handler that raises stops them.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterator, List, Optional


class Terminated(KeyboardInterrupt):
    """Raised by the handlers :func:`terminate_as_interrupt` installs."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class _Received:
    """What :func:`terminate_as_interrupt` yields: the signal that came, if any."""

    signum: Optional[int] = None


@contextlib.contextmanager
def terminate_as_interrupt(signums: tuple = ("SIGTERM", "SIGHUP")) -> Iterator[_Received]:
    """While active (in the main thread), the signals named in ``signums``
    raise :class:`Terminated` instead of ending the process. A signal whose
    disposition is not the default (ignored, as ``nohup`` ignores SIGHUP, or
    handled by the program) is left as it is."""
    received = _Received()
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def handler(signum: int, frame: object) -> None:
        received.signum = signum
        raise Terminated(signum)

    saved: List[tuple] = []
    try:
        for name in signums:
            num = getattr(signal, name, None)
            if num is not None and signal.getsignal(num) is signal.SIG_DFL:
                saved.append((num, signal.signal(num, handler)))
        yield received
    finally:
        for num, old in reversed(saved):
            signal.signal(num, old)
