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


@pytest.mark.parametrize("what", ["spin", "quantize"])
def test_ctrl_c_cancels_a_long_call_quickly(what):
    code = f"""
        import sys, time
        import numpy as np
        import wick
        from wick import _debug
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
            # the library still works
            print("after", wick.quantize(np.ones((1, 32), np.float32), "Q8_0").shape, flush=True)
            sys.exit(0)
        print("not interrupted", flush=True)
        sys.exit(4)
    """
    p = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "ready"
        time.sleep(0.7)
        sent = time.monotonic()
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
        elapsed = time.monotonic() - sent
    finally:
        p.kill()
    assert p.returncode == 0, (out, err)
    assert "interrupted after" in out and "after (1, 34)" in out
    assert elapsed < 2.0, f"Ctrl-C took {elapsed:.2f} s to stop the call"


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
        _native.ABI_VERSION = 999
        try:
            wick.types()
        except ImportError as e:
            print("refused:", "ABI version 4" in str(e) and "stale" in str(e))
        """
    )
    assert "refused: True" in r.stdout, r.stderr


def test_import_from_another_directory(tmp_path):
    r = run_python("import wick, numpy as np; print(wick.quantize(np.ones((1, 32), np.float32), 'Q8_0').shape)", cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "(1, 34)"
