"""The hazards of a Go runtime inside Python (notes/go-python-bridge.md §5):
many Python threads at once, the GIL, fork(), Ctrl-C. Anything that could
hang or kill the interpreter runs in a subprocess with a timeout."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import wick
from conftest import run_python
from wick import _debug


def test_many_python_threads_at_once(rng):
    xs = [rng.standard_normal((64, 1024)).astype(np.float32) * (i + 1) for i in range(8)]
    expected = [wick.quantize(x, "Q8_0", threads=1) for x in xs]
    results: dict = {}
    errors: list = []

    def work(i: int) -> None:
        try:
            for _ in range(20):
                q = wick.quantize(xs[i], "Q8_0", threads=2)
                y = wick.dequantize(q, "Q8_0", xs[i].shape)
                assert np.array_equal(q, expected[i])
                results[i] = y
        except BaseException as e:  # collected for the main thread
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert sorted(results) == list(range(8))


def test_gil_is_released_during_a_call():
    """A Python thread keeps running while Go works."""
    counter = [0]
    stop = threading.Event()

    def count() -> None:
        while not stop.is_set():
            counter[0] += 1

    t = threading.Thread(target=count)
    t.start()
    try:
        time.sleep(0.05)
        before = counter[0]
        _debug.spin(300, interruptible=False)  # a direct call on this thread
        during = counter[0] - before
    finally:
        stop.set()
        t.join()
    assert during > 1000, f"the counting thread advanced only {during} times in 300 ms"


def test_fork_after_load_raises_clear_error_in_child():
    code = """
        import os, sys
        import numpy as np
        import wick
        x = np.ones((1, 32), np.float32)
        wick.quantize(x, "Q8_0")              # loads the Go runtime
        pid = os.fork()
        if pid == 0:
            try:
                wick.quantize(x, "Q8_0")
            except wick.WickForkError as e:
                print("child:", type(e).__name__, "spawn" in str(e), flush=True)
                os._exit(0)
            os._exit(3)
        _, status = os.waitpid(pid, 0)
        print("parent ok", os.waitstatus_to_exitcode(status), wick.quantize(x, "Q8_0").shape, flush=True)
    """
    r = run_python(code, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "child: WickForkError True" in r.stdout
    assert "parent ok 0 (1, 34)" in r.stdout


def test_fork_before_load_is_fine_and_spawn_pool_works(tmp_path):
    # `import wick` alone does not start Go, so forking afterwards is safe;
    # a spawn pool works even after the parent has loaded the library.
    script = tmp_path / "pool.py"
    script.write_text(textwrap.dedent("""
        import multiprocessing as mp, os
        import numpy as np
        import wick

        def job(i):
            x = np.full((2, 64), i, np.float32)
            return int(wick.quantize(x, "Q8_0").sum())

        if __name__ == "__main__":
            with mp.get_context("fork").Pool(2) as pool:        # library not loaded yet
                forked = pool.map(job, range(4))
            job(0)                                               # now it is
            with mp.get_context("spawn").Pool(2) as pool:
                spawned = pool.map(job, range(4))
            print(forked == spawned, forked)
    """))
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("True")


# How the SIGINT handler is set up before the call, for the Ctrl-C tests.
SETUPS = {
    # Python's own handler: the call runs on the main thread, the watcher thread cancels it
    "default": "",
    # any other handler: the call runs on a helper thread while the main thread waits
    "custom-handler": "signal.signal(signal.SIGINT, lambda s, f: signal.default_int_handler(s, f))",
    # as on Python 3.9 (handlers without SA_ONSTACK): the helper thread too
    "no-wakeup-fd": "from wick import _native; _native._WAKEUP_FD_SAFE = False",
    # another library (an asyncio loop with signal handlers, trio) owns the wakeup fd
    "foreign-wakeup-fd": "import socket; _r, _w = socket.socketpair(); _w.setblocking(False); "
                         "signal.set_wakeup_fd(_w.fileno())",
}


def _interrupt(code: str, after: float = 0.7):
    """Run ``code`` in a subprocess, send it SIGINT ``after`` s after it prints "ready";
    return (stdout, stderr, seconds from the signal to the process's exit)."""
    p = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        assert p.stdout.readline().strip() == "ready"
        time.sleep(after)
        sent = time.monotonic()
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
        elapsed = time.monotonic() - sent
    finally:
        p.kill()
    assert p.returncode == 0, (out, err)
    return out, err, elapsed


@pytest.mark.parametrize("what,setup", [("quantize", "default")] + [("spin", s) for s in SETUPS])
def test_ctrl_c_cancels_a_long_call_quickly(what, setup):
    code = f"""
        import signal, sys, time
        import numpy as np
        import wick
        from wick import _debug
        {SETUPS[setup]}
        x = np.ones((1 << 12, 1 << 15), np.float32)  # 512 MiB: seconds of Q8_0 work on one thread
        print("ready", flush=True)
        t0 = time.monotonic()
        try:
            if "{what}" == "spin":
                _debug.spin(20_000)
            else:
                for _ in range(20):
                    wick.quantize(x, "Q8_0", threads=1)
        except KeyboardInterrupt:
            print("interrupted after %.3f s" % (time.monotonic() - t0), flush=True)
            # the library still works, and the wakeup fd is back to what it was
            print("after", wick.quantize(np.ones((1, 32), np.float32), "Q8_0").shape, flush=True)
            print("wakeup fd restored", signal.set_wakeup_fd(-1) == ({"_w.fileno()" if setup == "foreign-wakeup-fd" else "-1"}))
            sys.exit(0)
        print("not interrupted", flush=True)
        sys.exit(4)
    """
    out, err, elapsed = _interrupt(code)
    assert "interrupted after" in out and "after (1, 34)" in out, (out, err)
    assert "wakeup fd restored True" in out, (out, err)
    assert elapsed < 2.0, f"Ctrl-C took {elapsed:.2f} s to stop the call"


def test_ctrl_c_raises_what_a_custom_handler_raises():
    out, err, elapsed = _interrupt("""
        import signal, sys
        import numpy as np
        from wick import _debug
        def stop(signum, frame):
            raise RuntimeError("stop requested")
        signal.signal(signal.SIGINT, stop)
        print("ready", flush=True)
        try:
            _debug.spin(20_000)
        except RuntimeError as e:
            print("raised:", e, flush=True)
            _debug.spin(10)  # the library still works
            sys.exit(0)
        sys.exit(4)
    """)
    assert "raised: stop requested" in out, (out, err)
    assert elapsed < 2.0, f"the handler's exception took {elapsed:.2f} s"


def test_ctrl_c_with_a_handler_that_does_not_raise_lets_the_call_finish():
    out, err, _ = _interrupt("""
        import signal, sys, time
        import numpy as np
        import wick
        from wick import _debug
        seen = []
        signal.signal(signal.SIGINT, lambda s, f: seen.append(s))
        x = np.random.default_rng(0).standard_normal((2048, 4096)).astype(np.float32)
        expected = wick.quantize(x, "Q8_0", threads=1)
        print("ready", flush=True)
        t0 = time.monotonic()
        _debug.spin(1500)
        elapsed = time.monotonic() - t0
        same = all(np.array_equal(wick.quantize(x, "Q8_0", threads=1), expected) for _ in range(3))
        print(f"finished after {elapsed:.2f} s; handler calls {len(seen)}; same bytes {same}", flush=True)
    """, after=0.5)
    line = next(s for s in out.splitlines() if s.startswith("finished"))
    assert "handler calls 1; same bytes True" in line, (out, err)
    assert float(line.split()[2]) >= 1.45, line  # the call ran to its end


def test_long_calls_on_the_main_thread_start_no_thread():
    """With Python's own SIGINT handler a long call runs on the calling (main) thread:
    the only thread involved is the one persistent watcher."""
    assert threading.current_thread() is threading.main_thread()
    wick.quantize(np.ones((1, 32), np.float32), "Q8_0")
    fd_before = signal.set_wakeup_fd(-1)
    signal.set_wakeup_fd(fd_before)
    names: list = []

    def sample() -> None:
        time.sleep(0.1)
        names.extend(t.name for t in threading.enumerate())

    t = threading.Thread(target=sample)
    t.start()
    _debug.spin(300)
    t.join()
    assert "wick-sigint-watcher" in names and "wick-call" not in names, names
    fd_after = signal.set_wakeup_fd(-1)
    signal.set_wakeup_fd(fd_after)
    assert fd_after == fd_before


def test_signals_during_a_call_reach_the_wakeup_fd_they_were_meant_for():
    """A library that owns the wakeup fd (asyncio's signal handlers, trio) still sees
    every signal that arrives while Wick has it pointed elsewhere."""
    r = run_python("""
        import os, signal, socket, threading, time
        from wick import _debug
        r, w = socket.socketpair()
        w.setblocking(False)
        signal.set_wakeup_fd(w.fileno())
        got = []
        signal.signal(signal.SIGUSR1, lambda s, f: got.append(s))
        def send():
            time.sleep(0.2)
            os.kill(os.getpid(), signal.SIGUSR1)
        threading.Thread(target=send).start()
        _debug.spin(600)
        time.sleep(0.05)
        print("restored", signal.set_wakeup_fd(-1) == w.fileno())
        r.setblocking(False)
        print("bytes", list(r.recv(64)), "handled", got == [signal.SIGUSR1], int(signal.SIGUSR1))
    """)
    assert r.returncode == 0, r.stderr
    assert "restored True" in r.stdout
    usr1 = int(r.stdout.split()[-1])
    assert f"bytes [{usr1}] handled True" in r.stdout, r.stdout


def test_a_stray_wakeup_byte_does_not_fail_or_change_a_call():
    """A SIGINT byte that reaches the watcher with no KeyboardInterrupt behind it (one
    left from a Ctrl-C that landed as the previous call ended) cancels the call in Go;
    it is then run again, to the same bytes. Should such bytes never stop, the call
    stops being watched after a few runs and still ends. (In a subprocess: a bug here
    is a hang.)"""
    r = run_python("""
        import os, signal, threading, time
        import numpy as np
        import wick
        from wick import _debug, _native
        _debug.spin(10)
        watcher = _native._watcher

        def strays(count, every, stop):
            for _ in range(count):
                if stop.wait(every):
                    return
                os.write(watcher.wfd, bytes([signal.SIGINT]))

        stop = threading.Event()
        threading.Thread(target=strays, args=(1, 0.15, stop)).start()
        t0 = time.monotonic()
        _debug.spin(400)  # cancelled at 0.15 s, then run again in full
        print("spin took %.3f" % (time.monotonic() - t0), flush=True)

        x = np.random.default_rng(5).standard_normal((512, 4096)).astype(np.float32)  # 8 MiB: watched
        expected = wick.quantize(x, "Q4_K", threads=1)
        for count in (3, 1_000_000):  # a few stray bytes, then an endless stream of them
            stop = threading.Event()
            th = threading.Thread(target=strays, args=(count, 0.002, stop))
            th.start()
            try:
                same = all(np.array_equal(wick.quantize(x, "Q4_K", threads=1), expected) for _ in range(3))
            finally:
                stop.set()
                th.join()
            print(count, "same", same, flush=True)
    """, timeout=120)
    assert r.returncode == 0, r.stderr
    took = float(r.stdout.split()[2])
    assert took >= 0.5, f"spin(400) took {took:.3f} s: it was not restarted"
    assert "3 same True" in r.stdout and "1000000 same True" in r.stdout, r.stdout


def test_fork_from_another_thread_during_a_call_leaves_the_child_clean():
    """The child of a fork() made while the main thread was in a watched call does not
    keep Wick's pipe as its wakeup fd (its signals would cancel the parent's calls)."""
    r = run_python("""
        import os, signal, threading, time
        from wick import _debug, _native
        def forker():
            time.sleep(0.2)
            pid = os.fork()
            if pid == 0:
                print("child wakeup fd", signal.set_wakeup_fd(-1), "watcher", _native._watcher, flush=True)
                os._exit(0)
            print("child exit", os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), flush=True)
        t = threading.Thread(target=forker)
        t.start()
        _debug.spin(600)
        t.join()
        print("parent done", flush=True)
    """)
    assert r.returncode == 0, r.stderr
    assert "child wakeup fd -1 watcher None" in r.stdout, r.stdout
    assert "child exit 0" in r.stdout and "parent done" in r.stdout


def test_main_thread_and_other_threads_make_long_calls_at_once(rng):
    xs = [rng.standard_normal((512, 4096)).astype(np.float32) for _ in range(3)]  # 8 MiB each
    expected = [wick.quantize(x, "Q6_K", threads=1) for x in xs]
    errors: list = []

    def work(i: int) -> None:
        try:
            for _ in range(3):
                assert np.array_equal(wick.quantize(xs[i], "Q6_K", threads=1), expected[i])
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in (1, 2)]
    for t in threads:
        t.start()
    for _ in range(3):  # the main thread's calls go through the watcher meanwhile
        assert np.array_equal(wick.quantize(xs[0], "Q6_K", threads=1), expected[0])
    for t in threads:
        t.join(120)
    assert not errors


def test_missing_library_import_error_says_what_to_do(tmp_path):
    r = run_python("import wick", env={"WICK_LIBRARY": str(tmp_path / "nope.so")})
    assert r.returncode != 0
    assert "ImportError" in r.stderr
    assert "pip install" in r.stderr and "Go 1.25" in r.stderr and "make lib" in r.stderr


def test_stale_library_is_refused(tmp_path):
    r = run_python(
        """
        import wick
        from wick import _native
        real, _native.ABI_VERSION = _native.ABI_VERSION, 999
        try:
            wick.types()
        except ImportError as e:
            print("refused:", f"ABI version {real}" in str(e) and "stale" in str(e))
        """
    )
    assert "refused: True" in r.stdout, r.stderr


def test_import_from_another_directory(tmp_path):
    r = run_python("import wick, numpy as np; print(wick.quantize(np.ones((1, 32), np.float32), 'Q8_0').shape)", cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "(1, 34)"


def test_jupyter_interrupt_stops_a_long_call():
    """Jupyter's "interrupt kernel" sends SIGINT to the kernel process, whose code runs
    on the main thread under Python's default handler (ipykernel sets it for each
    execution). Runs where ipykernel and jupyter_client are installed (not part of
    the test dependencies: run it by hand)."""
    pytest.importorskip("ipykernel")
    manager = pytest.importorskip("jupyter_client.manager")
    km, kc = manager.start_new_kernel(kernel_name="python3")  # ipykernel's own spec: this interpreter
    try:
        kc.execute_interactive("import wick, numpy as np; from wick import _debug; _debug.spin(10)", timeout=60)
        msg_id = kc.execute("_debug.spin(20_000)")
        time.sleep(1.0)
        sent = time.monotonic()
        km.interrupt_kernel()
        reply = kc.get_shell_msg(timeout=30)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = kc.get_shell_msg(timeout=30)
        elapsed = time.monotonic() - sent
        assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "KeyboardInterrupt", reply["content"]
        assert elapsed < 2.0, f"the interrupt took {elapsed:.2f} s to stop the call"
        out: list = []
        kc.execute_interactive("import threading; print(wick.quantize(np.ones((1, 32), np.float32), 'Q8_0').shape, "
                               "[t.name for t in threading.enumerate()])", timeout=60,
                               output_hook=lambda m: out.append(m["content"].get("text", "")))
        assert "(1, 34)" in "".join(out)
        assert "wick-sigint-watcher" in "".join(out)  # the call ran in place, not on a helper thread
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
