"""The native library: C declarations, lazy loading, status checks, Ctrl-C.

This is the lowest layer of the Python package (see ``docs/architecture.md``):

* The C declarations for cffi (ABI mode: no compiler at install or import
  time) come from the headers the build ships beside the library
  (``libwick.h``, which ``go build`` generates from the exports, and
  ``wick.h``, the shared types): nothing is restated here. The build also
  writes cffi's out-of-line module of them (``_wick_ffi.py``, see
  :mod:`wick._headers`), which is used when it was made from the same header
  bytes: then ``import wick`` neither imports pycparser nor parses C (about
  30 ms of a process's start). Otherwise the headers are parsed at import.
* The library is opened on first use, not at ``import wick``: a program that
  imports Wick and then forks stays safe. Opening it after a fork is fine; using
  a library that was opened *before* the fork raises :class:`WickForkError`
  (the Go runtime's threads do not survive ``fork()``; the child would hang).
* :func:`check` turns a status code and the error buffer into the matching
  :mod:`wick.errors` exception, using the status names the library reports.
* :func:`invoke` makes long calls cancellable: Ctrl-C in the main thread
  stops the Go work within milliseconds instead of waiting for it to finish
  (a persistent watcher thread learns of the SIGINT through the signal wakeup
  fd; see the comment above :func:`invoke`).

Nothing here knows about numpy; :mod:`wick._arrays` prepares the buffers.
"""

from __future__ import annotations

import functools
import json
import math
import os
import select
import signal
import sys
import threading
from pathlib import Path
from typing import Any, Callable, Optional

from ._headers import DIGEST_NAME, FFI_MODULE, HEADER, SHARED_HEADER, declarations, headers_digest  # noqa: F401
from .errors import WickForkError, status_exception

#: ABI version this Python code speaks (export/main.go: abiVersion).
ABI_VERSION = 6

ERRLEN = 4096  # bytes of the error-message buffer handed to every call


def library_name() -> str:
    if sys.platform == "darwin":
        return "libwick.dylib"
    if sys.platform == "win32":
        return "wick.dll"
    return "libwick.so"


def library_path() -> Path:
    """Where the library is: ``$WICK_LIBRARY`` if set, else inside the package."""
    override = os.environ.get("WICK_LIBRARY")
    if override:
        return Path(override)
    return Path(__file__).resolve().parent / "_lib" / library_name()


def _prebuilt_ffi(path: Path) -> Any:
    """The FFI of the prebuilt module beside the library at ``path`` (``_headers.FFI_MODULE``,
    written by the build), or None when there is none or it was made from other headers."""
    module_path = path.with_name(FFI_MODULE)
    try:
        digest = headers_digest(path)
        if not module_path.is_file():
            return None
    except OSError:
        return None
    import importlib.util

    spec = importlib.util.spec_from_file_location("wick._prebuilt_ffi", module_path)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception:  # unreadable, or from another cffi version: parse the headers instead
        return None
    if getattr(module, DIGEST_NAME, None) != digest:
        return None
    return module.ffi


def _parsing_ffi() -> Any:
    """A new cffi FFI that is given the declarations by parsing the headers (``_declare``)."""
    from cffi import FFI

    return FFI()


ffi: Any = _prebuilt_ffi(library_path())
_declared = ffi is not None
if ffi is None:
    ffi = _parsing_ffi()


def _declare(path: Path) -> None:
    """Give cffi the library's declarations (once), or raise ImportError saying what is missing.
    With the prebuilt module they are there from the start."""
    global _declared
    if _declared:
        return
    try:
        text = declarations(path)
    except FileNotFoundError as e:
        raise ImportError(f"Wick's native library at {path} comes without its header {e.filename}, from which "
                          "Python reads the C declarations: reinstall Wick (or run `make lib`).") from None
    ffi.cdef(text)
    _declared = True


def missing_library_message(path: Path) -> str:
    return (
        f"Wick's native library was not found at {path}. It is compiled from Go when the "
        "package is installed: run `pip install .` (or `pip install -e .`) in Wick's source "
        "tree, which needs Go 1.25+ and a C compiler; in a development checkout `make lib` "
        "rebuilds it. Set WICK_LIBRARY to use a library elsewhere."
    )


try:  # declared now when the headers are there, so that ffi.new("wick_ctl *") works before the first call
    _declare(library_path())
except ImportError:  # raised again, with the reason, when the library is first used
    pass

_lock = threading.Lock()
_lib: Any = None
_info: dict | None = None
_forked = False


def _after_fork_in_child() -> None:
    global _forked
    if _lib is not None:
        _forked = True
    _forget_watcher_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def lib() -> Any:
    """The opened library (opening it on first use)."""
    if _lib is not None and not _forked:
        return _lib
    if _forked:
        raise WickForkError(
            "Wick's native library (a Go runtime) was loaded before this process was "
            "fork()ed, and cannot be used in the child: it would hang. Use "
            "multiprocessing.get_context('spawn') or 'forkserver' (or concurrent.futures "
            "with mp_context=...), or use Wick only in the child processes."
        )
    return _load()


def _load() -> Any:
    global _lib, _info
    with _lock:
        if _lib is not None:
            return _lib
        path = library_path()
        if not path.exists():
            raise ImportError(missing_library_message(path))
        _declare(path)
        try:
            handle = ffi.dlopen(str(path))
        except OSError as e:
            raise ImportError(f"Wick's native library at {path} could not be loaded: {e}") from e
        abi = handle.wick_abi_version()
        if abi != ABI_VERSION:
            raise ImportError(
                f"Wick's native library at {path} speaks ABI version {abi}, but this Python "
                f"package needs version {ABI_VERSION}: the library is stale. Reinstall Wick "
                "(or run `make lib` in a development checkout) and restart Python."
            )
        n = handle.wick_info_json(ffi.NULL, 0)
        buf = ffi.new("char[]", n + 1)
        handle.wick_info_json(buf, n + 1)
        _info = json.loads(ffi.string(buf).decode("utf-8"))
        _lib = handle
        return _lib


def info() -> dict:
    """Everything the library reports about itself (types, status codes, ...)."""
    lib()
    assert _info is not None
    return _info


def errbuf() -> Any:
    return ffi.new("char[]", ERRLEN)


def json_float(v: Any) -> float:
    """A float from the library's JSON, which spells NaN and ±Inf as the strings
    "nan", "inf" and "-inf" (JSON numbers cannot express them)."""
    if isinstance(v, str):
        return {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}[v]
    return float(v)


def text(s: str) -> tuple:
    """(char buffer, byte length) of a str, UTF-8 encoded, for (ptr, len) arguments."""
    b = s.encode("utf-8")
    return ffi.from_buffer("char[]", b), len(b)


def take_result(result_id: int, n: int) -> bytes:
    """Copy out (and free) a result the library stored under ``result_id``."""
    buf = bytearray(n)
    err = errbuf()
    check(lib().wick_result_read(result_id, ffi.from_buffer("uint8_t[]", buf, require_writable=True) if n else ffi.NULL, n,
                                 err, ERRLEN), err)
    return bytes(buf)


def call_with_result(fn: Callable[..., int], *args: Any) -> bytes:
    """Call ``fn(*args, &id, &len, err, errlen)`` and return the result's bytes."""
    rid, rlen = ffi.new("int64_t *"), ffi.new("int64_t *")
    err = errbuf()
    check(fn(*args, rid, rlen, err, ERRLEN), err)
    return take_result(rid[0], rlen[0])


def check(rc: int, err: Any) -> None:
    """Raise the exception that status ``rc`` and the message in ``err`` stand for."""
    if rc == 0:
        return
    names = {code: name for name, code in info()["status"].items()}
    name = names.get(rc, "unknown")
    msg = ffi.string(err).decode("utf-8", "replace") or f"status {name} ({rc})"
    cls = status_exception(name)
    raise cls(msg)


# ---------------------------------------------------------------------------
# Ctrl-C during a long call
#
# Python runs a signal handler only in the main thread, between bytecodes: while
# the main thread is inside a foreign call, Ctrl-C only sets a flag, and the
# KeyboardInterrupt would come when the call returns. What does run at once is
# the C part of Python's handler, which also writes the signal's number as one
# byte to the *wakeup fd* (signal.set_wakeup_fd), from whatever thread the signal
# lands on. So a long call on the main thread points the wakeup fd at a pipe of
# Wick's for the length of the call, and a persistent watcher thread waiting on
# the pipe sets ctl.cancel when a SIGINT byte comes. Go stops within a chunk,
# the call returns, and Python runs the handler, which raises KeyboardInterrupt.
# The call runs on the caller's own thread and stack: its buffers live until Go
# has returned by construction, and there is no thread hand-off per call.
#
# That is sound only while the SIGINT handler is Python's default_int_handler
# (the case of scripts, the REPL, IPython and Jupyter kernels), which always
# raises. Under any other Python handler (asyncio.run's, a "stop after this
# step" flag, ...) nobody can know in advance whether it raises, so the call
# runs on a helper thread while the main thread waits and runs the handler
# during the wait, cancelling Go if it raises. Python 3.9 uses the helper thread
# too: its handlers lack SA_ONSTACK, and Go requires it of a handler that may
# interrupt Go code (cpython#87556).

#: Calls whose input (or output) is at least this large can be cancelled by
#: Ctrl-C; smaller ones finish before anyone could press it.
INTERRUPTIBLE_BYTES = 4 << 20

try:  # signal.getsignal without its conversion to an enum, which costs 3 µs (an exception inside enum)
    from _signal import getsignal as _getsignal
except ImportError:  # pragma: no cover
    _getsignal = signal.getsignal

_WAKEUP_FD_SAFE = sys.version_info >= (3, 10) and hasattr(signal, "set_wakeup_fd") and hasattr(select, "poll")
_SIGINT = int(signal.SIGINT)
_set_wakeup_fd = functools.partial(signal.set_wakeup_fd, warn_on_full_buffer=False)  # see _Watcher.call
_MAX_RUNS = 4  # of one watched call cancelled by wakeup bytes that raised nothing (see _Watcher.call)
_cancelled_status: int | None = None  # the library's status code for a cancelled call


class _Call:
    """One watched call: its control block and the wakeup bytes it received."""

    __slots__ = ("ctl", "cancelled", "pending")

    def __init__(self, ctl: Any) -> None:
        self.ctl = ctl
        self.cancelled = False
        self.pending = b""


class _Watcher:
    """The pipe that serves as wakeup fd during watched calls, and its thread."""

    def __init__(self) -> None:
        self.rfd, self.wfd = os.pipe()
        os.set_blocking(self.rfd, False)
        os.set_blocking(self.wfd, False)  # set_wakeup_fd requires it
        self.lock = threading.Lock()  # orders the thread's reads against the main thread's final drain
        self.active: _Call | None = None
        self.thread = threading.Thread(target=self._run, name="wick-sigint-watcher", daemon=True)
        try:
            self.thread.start()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        for fd in (self.rfd, self.wfd):
            try:
                os.close(fd)
            except OSError:
                pass

    def _run(self) -> None:
        poller = select.poll()
        poller.register(self.rfd, select.POLLIN)
        while True:
            try:
                poller.poll()
                with self.lock:
                    data = os.read(self.rfd, 512)
                    call = self.active
                    if call is not None:
                        call.pending += data
                        if _SIGINT in data:
                            call.cancelled = True
                            call.ctl.cancel = 1
            except BlockingIOError:
                continue  # the main thread drained the pipe first
            except (OSError, ValueError):  # pragma: no cover - the pipe is gone
                return

    def call(self, fn: Callable[..., int], args: tuple, ctl: Any) -> int | None:
        """``fn(*args)`` with Ctrl-C cancelling it; None when the wakeup fd cannot be set here."""
        call = _Call(ctl)
        self.active = call
        olds: list = []
        try:
            try:
                # Not `old = signal.set_wakeup_fd(...)`: a SIGINT landing during that
                # call would raise KeyboardInterrupt as it returns, before `old` is
                # assigned, and the previous owner's fd would be lost. list.extend
                # over map runs in C, with no point where a handler can run, so the
                # old fd is in `olds` whenever the new one is set.
                olds.extend(map(_set_wakeup_fd, (self.wfd,)))
            except (ValueError, OSError):  # not the main interpreter, ...
                return None
            rc = fn(*args)
            # A SIGINT during the call has raised KeyboardInterrupt right above, as
            # the call returned. A cancellation that gets here came from a wakeup
            # byte left over from an earlier Ctrl-C (one that landed as a call
            # ended, whose KeyboardInterrupt was raised then): run the call again.
            # Such bytes are rare and few; should they keep coming (someone
            # writing to the pipe), the call stops being watched and runs to its end.
            runs = 1
            while call.cancelled and rc == _cancelled_status:
                runs += 1
                if runs > _MAX_RUNS:
                    self.active = None
                call.cancelled = False
                ctl.cancel = 0
                rc = fn(*args)
            return rc
        finally:
            # Give the wakeup fd back before anything else: a second Ctrl-C pending
            # here raises its KeyboardInterrupt only as a call ends (the first point
            # where a handler can run), and the first call here restores the fd.
            if not olds:
                self.active = None
            elif olds[0] in (-1, self.wfd):
                signal.set_wakeup_fd(-1)
                self.active = None  # bytes still in the pipe meant nothing to anyone
            else:  # another library's (an asyncio loop with signal handlers, trio, ...)
                try:
                    signal.set_wakeup_fd(olds[0])
                except (ValueError, OSError):  # pragma: no cover - the owner closed its fd meanwhile
                    signal.set_wakeup_fd(-1)
                finally:
                    self._forward(call, olds[0])

    def _forward(self, call: _Call, old: int) -> None:
        """Pass the signal bytes that came during the call on to the wakeup fd's owner."""
        # Drain the pipe under the lock, so that no byte falls between the watcher
        # thread and this one.
        with self.lock:
            self.active = None
            try:
                call.pending += os.read(self.rfd, 512)
            except OSError:  # BlockingIOError: nothing left
                pass
        if call.pending:
            try:
                os.write(old, call.pending)
            except OSError:  # full (the owner has bytes to read anyway) or closed
                pass


_watcher: _Watcher | None = None


def _the_watcher() -> _Watcher | None:
    """The watcher (started on first use), or None where it cannot run."""
    global _watcher, _cancelled_status
    if _watcher is None:
        _cancelled_status = info()["status"]["cancelled"]
        try:
            _watcher = _Watcher()
        except (OSError, RuntimeError):  # no pipe or no thread (interpreter shutdown)
            return None
    return _watcher


def _forget_watcher_in_child() -> None:
    """After fork(): the watcher thread did not survive; the pipe is the parent's."""
    global _watcher
    w, _watcher = _watcher, None
    if w is None:
        return
    try:
        # forked from another thread while the main thread was in a watched call
        old = signal.set_wakeup_fd(-1)
        if old != w.wfd:
            signal.set_wakeup_fd(old)
    except (ValueError, OSError):  # pragma: no cover
        pass
    w.close()


def _call_on_helper_thread(fn: Callable[..., int], args: tuple, ctl: Any,
                           tick: Optional[Callable[[], None]] = None) -> int:
    """``fn(*args)`` on a new thread while this thread waits, so that a SIGINT
    handler can run (on the main thread) and ``tick`` can show progress; if
    either raises, Go is cancelled and waited for (the helper thread's frame
    holds the buffers meanwhile) and the exception goes on."""
    box: list = []
    done = threading.Event()

    def target() -> None:
        try:
            box.append(fn(*args))
        except BaseException as e:  # pragma: no cover - cffi does not raise here
            box.append(e)
        finally:
            done.set()

    worker = threading.Thread(target=target, name="wick-call", daemon=True)
    try:
        worker.start()
    except RuntimeError:  # no new threads at interpreter shutdown
        return fn(*args)
    try:
        # The timeout also catches a signal that landed on another thread, which
        # does not interrupt this wait.
        while not done.wait(0.05 if tick is None else 0.1):
            if tick is not None:
                tick()
        if tick is not None:
            tick()
    except BaseException:
        ctl.cancel = 1
        while True:
            try:
                done.wait()
                break
            except BaseException:  # a second Ctrl-C: keep waiting for Go to stop
                continue
        raise
    result = box[0]
    if isinstance(result, BaseException):  # pragma: no cover
        raise result
    return result


def invoke(fn: Callable[..., int], args: tuple, *, ctl: Any, err: Any, nbytes: int,
           tick: Optional[Callable[[], None]] = None) -> None:
    """Call ``fn(*args)`` (a library function) and raise on a failure status.

    ``ctl`` must be the ``wick_ctl*`` passed in ``args``. A call of at least
    :data:`INTERRUPTIBLE_BYTES` made on the main thread can be cancelled by
    Ctrl-C (SIGINT): Go stops within milliseconds, and the exception the SIGINT
    handler raises (KeyboardInterrupt) propagates once Go has returned. Calls
    from other threads run directly: Python delivers KeyboardInterrupt only to
    the main thread.

    ``tick``, if given, is called every 0.1 s while the call runs (and once at
    the end) from the calling thread, which waits while a helper thread makes
    the call: that is how a long conversion shows progress from ``ctl``.
    """
    if tick is not None:
        check(_call_on_helper_thread(fn, args, ctl, tick), err)
        return
    if nbytes < INTERRUPTIBLE_BYTES or threading.current_thread() is not threading.main_thread():
        check(fn(*args), err)
        return
    handler = _getsignal(_SIGINT)
    if handler is signal.default_int_handler and _WAKEUP_FD_SAFE:
        watcher = _the_watcher()
        rc = watcher.call(fn, args, ctl) if watcher is not None else None
        if rc is not None:
            check(rc, err)
            return
    if callable(handler):
        check(_call_on_helper_thread(fn, args, ctl), err)
    else:  # SIG_IGN (Ctrl-C does nothing) or SIG_DFL (it ends the process)
        check(fn(*args), err)
