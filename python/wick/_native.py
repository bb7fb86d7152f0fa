"""The native library: C declarations, lazy loading, status checks, Ctrl-C.

This is the lowest layer of the Python package (see ``docs/architecture.md``):

* ``CDEF`` restates the C ABI of ``export/`` for cffi (ABI mode: no compiler
  at install or import time). A test compares it with the header that
  ``go build`` generates, so the two cannot drift apart.
* The library is opened on first use, not at ``import wick``: a program that
  imports Wick and then forks stays safe. Opening it after a fork is fine; using
  a library that was opened *before* the fork raises :class:`WickForkError`
  (the Go runtime's threads do not survive ``fork()``; the child would hang).
* :func:`check` turns a status code and the error buffer into the matching
  :mod:`wick.errors` exception, using the status names the library reports.
* :func:`invoke` runs long calls on a helper thread so that Ctrl-C in the
  main thread cancels the Go work within milliseconds instead of waiting for
  it to finish.

Nothing here knows about numpy; :mod:`wick._arrays` prepares the buffers.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path
from typing import Any, Callable, Optional

from cffi import FFI

from .errors import STATUS_EXCEPTIONS, WickForkError, WickInternalError

#: ABI version this Python code speaks (export/main.go: abiVersion).
ABI_VERSION = 4

# The C declarations of export/ (keep in the order and spelling of the
# generated header; tests/test_native.py checks them against it).
CDEF = """
typedef const uint8_t wick_cbytes;
typedef const float wick_cf32;
typedef const char wick_cchar;
typedef struct wick_ctl {
    int32_t cancel;
    int32_t reserved;
    int64_t done;
    int64_t total;
    int64_t item;
} wick_ctl;

int wick_bnb_quantize_blockwise(int32_t srcDType, wick_cbytes* src, size_t n, wick_cf32* code, size_t codeLen, int32_t blocksize, int32_t rules, uint32_t flags, uint8_t* codes, float* absmax, size_t nAbsmax, int32_t threads, wick_ctl* ctl, char* errBuf, size_t errLen);
int wick_bnb_dequantize_blockwise(wick_cbytes* codes, size_t n, wick_cf32* absmax, size_t nAbsmax, wick_cf32* code, size_t codeLen, int32_t blocksize, int32_t outDType, uint8_t* out, int32_t threads, wick_ctl* ctl, char* errBuf, size_t errLen);
int wick_bnb_quantize_4bit(int32_t srcDType, wick_cbytes* src, size_t n, int32_t quantType, int32_t blocksize, int32_t rules, uint32_t flags, uint8_t* packed, size_t nPacked, float* absmax, size_t nAbsmax, int32_t threads, wick_ctl* ctl, char* errBuf, size_t errLen);
int wick_bnb_dequantize_4bit(wick_cbytes* packed, size_t nPacked, size_t n, wick_cf32* absmax, size_t nAbsmax, int32_t quantType, int32_t blocksize, int32_t outDType, uint8_t* out, int32_t threads, wick_ctl* ctl, char* errBuf, size_t errLen);
int wick_bnb_nested_offset(wick_cf32* absmax, size_t n, float* offset, char* errBuf, size_t errLen);
int wick_bnb_quantize_nested(wick_cf32* absmax, size_t n, float offset, int32_t nestedBlocksize, int32_t rules, uint32_t flags, uint8_t* codes, float* nestedAbsmax, size_t nNested, int32_t threads, char* errBuf, size_t errLen);
int wick_bnb_dequantize_nested(wick_cbytes* codes, size_t n, wick_cf32* nestedAbsmax, size_t nNested, float offset, wick_cf32* code, size_t codeLen, int32_t nestedBlocksize, float* absmax, char* errBuf, size_t errLen);
int wick_bnb_table(int32_t which, float* out, size_t n, char* errBuf, size_t errLen);
int wick_result_read(int64_t id, uint8_t* buf, size_t n, char* errBuf, size_t errLen);
void wick_result_free(int64_t id);
int wick_gguf_describe(wick_cchar* path, size_t pathLen, int64_t* id, int64_t* n, char* errBuf, size_t errLen);
int wick_safetensors_describe(wick_cchar* path, size_t pathLen, int64_t* id, int64_t* n, char* errBuf, size_t errLen);
int wick_safetensors_decode(wick_cchar* dtype, size_t dtypeLen, wick_cbytes* src, size_t srcLen, float* dst, size_t n, char* errBuf, size_t errLen);
int wick_safetensors_write(wick_cchar* path, size_t pathLen, wick_cchar* header, size_t headerLen, uint8_t** bufs, size_t* lens, size_t count, uint32_t flags, char* errBuf, size_t errLen);
int wick_gguf_create(wick_cchar* path, size_t pathLen, wick_cchar* header, size_t headerLen, uint32_t flags, int64_t* handle, char* errBuf, size_t errLen);
int wick_gguf_write(int64_t handle, wick_cbytes* data, size_t n, char* errBuf, size_t errLen);
int wick_gguf_commit(int64_t handle, char* errBuf, size_t errLen);
int wick_gguf_abort(int64_t handle, char* errBuf, size_t errLen);
int wick_convert(wick_cchar* planJSON, size_t planLen, wick_cchar* out, size_t outLen, uint32_t flags, int32_t threads, wick_ctl* ctl, int64_t* id, int64_t* n, char* errBuf, size_t errLen);
int wick_imatrix_describe(wick_cchar* path, size_t pathLen, int64_t* id, int64_t* n, char* errBuf, size_t errLen);
int wick_imatrix_values(wick_cchar* path, size_t pathLen, wick_cchar* name, size_t nameLen, uint32_t flags, float* dst, size_t n, char* errBuf, size_t errLen);
int wick_debug_panic(int32_t where, char* errBuf, size_t errLen);
int wick_debug_spin(int64_t millis, wick_ctl* ctl, char* errBuf, size_t errLen);
int64_t wick_info_json(char* buf, size_t n);
int wick_max_procs(void);
int wick_abi_version(void);
int wick_quantize(int32_t typ, int32_t srcDType, wick_cbytes* src, size_t n, size_t nPerRow, wick_cf32* imatrix, size_t imatrixLen, uint32_t flags, uint8_t* dst, size_t dstLen, int32_t threads, wick_ctl* ctl, char* errBuf, size_t errLen);
int wick_dequantize(int32_t typ, wick_cbytes* src, size_t srcLen, float* dst, size_t n, int32_t threads, wick_ctl* ctl, char* errBuf, size_t errLen);
"""

ERRLEN = 4096  # bytes of the error-message buffer handed to every call

ffi = FFI()
ffi.cdef(CDEF)


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


def missing_library_message(path: Path) -> str:
    return (
        f"Wick's native library was not found at {path}. It is compiled from Go when the "
        "package is installed: run `pip install .` (or `pip install -e .`) in Wick's source "
        "tree, which needs Go 1.25+ and a C compiler; in a development checkout `make lib` "
        "rebuilds it. Set WICK_LIBRARY to use a library elsewhere."
    )


_lock = threading.Lock()
_lib: Any = None
_info: dict | None = None
_forked = False


def _after_fork_in_child() -> None:
    global _forked
    if _lib is not None:
        _forked = True


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
    cls = STATUS_EXCEPTIONS.get(name, WickInternalError)
    raise cls(msg)


# Calls whose input is at least this large run on a helper thread, so that
# Ctrl-C can cancel them; smaller calls finish before anyone could press it.
INTERRUPTIBLE_BYTES = 4 << 20


def invoke(fn: Callable[..., int], args: tuple, *, ctl: Any, err: Any, nbytes: int,
           tick: Optional[Callable[[], None]] = None) -> None:
    """Call ``fn(*args)`` (a library function) and raise on a failure status.

    ``ctl`` must be the ``wick_ctl*`` passed in ``args``. When the call is large
    and made from the main thread, it runs on a helper thread while the main
    thread waits; a KeyboardInterrupt then sets ``ctl.cancel``, waits for Go to
    stop (the helper thread's frame keeps every buffer alive meanwhile), and is
    re-raised.

    ``tick``, if given, is called every 0.1 s while the call runs (and once at
    the end), from the calling thread: progress display reads ``ctl`` there.
    """
    if tick is None and (nbytes < INTERRUPTIBLE_BYTES or threading.current_thread() is not threading.main_thread()):
        check(fn(*args), err)
        return
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
    worker.start()
    try:
        while not done.wait(0.05 if tick is None else 0.1):
            if tick is not None:
                tick()
        if tick is not None:
            tick()
    except KeyboardInterrupt:
        ctl.cancel = 1
        while True:
            try:
                done.wait()
                break
            except KeyboardInterrupt:
                continue
        raise
    result = box[0]
    if isinstance(result, BaseException):  # pragma: no cover
        raise result
    check(result, err)
