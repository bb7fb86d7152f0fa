"""A conversion stopped by a signal leaves the destination folder as it was.

A real ``wick convert`` subprocess writes a 120M-parameter model; once Go has
the output open, the test sends SIGKILL, SIGTERM, SIGHUP or SIGINT. SIGKILL
gives the process no chance to clean up: on Linux the output is an unnamed
temporary file (O_TMPFILE) that vanishes with it. The other three stop the
work cleanly (exit 128 + the signal's number, a message saying nothing was
written). Either way the folder holds exactly what it held before, and an
existing output file that --force was about to replace is intact.

Where unnamed files are unavailable (other systems, file systems without
O_TMPFILE) a killed writer leaves a temporary file whose name tells a later
writer that its process is gone; io/internal/atomicfile's
TestSweepRemovesTheFilesOfDeadWritersOnly kills a real writer to test that.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="watches /proc for the output file"),
]


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    spec = importlib.util.spec_from_file_location("make_tiny_llama", ROOT / "examples" / "make_tiny_llama.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    d = tmp_path_factory.mktemp("signals") / "model"
    mod.make(d, layers=8, hidden=1024, heads=16, kv_heads=4, ffn=4096)
    return d


def snapshot(folder: Path) -> dict:
    """Every entry of the folder: name → (size, mtime_ns, inode, sha256)."""
    out = {}
    for p in sorted(folder.iterdir()):
        st = p.lstat()
        out[p.name] = (st.st_size, st.st_mtime_ns, st.st_ino, hashlib.sha256(p.read_bytes()).hexdigest())
    return out


def writing_into(pid: int, folder: Path) -> bool:
    """Whether process pid has a file in folder open (the output, named or not)."""
    prefix = str(folder) + os.sep
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith(prefix):
            return True
    return False


CASES = [
    (signal.SIGKILL, True), (signal.SIGTERM, True), (signal.SIGHUP, True), (signal.SIGINT, True),
    (signal.SIGKILL, False), (signal.SIGTERM, False),
]


@pytest.mark.parametrize("sig, existing", CASES, ids=[f"{s.name}-{'force' if e else 'new'}" for s, e in CASES])
def test_signal_mid_conversion_leaves_the_folder_as_it_was(model, tmp_path, sig, existing):
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "notes.txt").write_text("a file that was here before\n")
    out = dest / "out.gguf"
    cmd = [sys.executable, "-m", "wick", "convert", str(model), "-o", str(out), "--type", "Q2_K", "--threads", "1",
           "--no-progress"]
    if existing:
        out.write_bytes(b"an older conversion" * 1000)
        cmd.append("--force")
    before = snapshot(dest)
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and p.poll() is None and not writing_into(p.pid, dest):
            time.sleep(0.01)
        time.sleep(0.2)  # well into the tensor data
        assert p.poll() is None, "the conversion ended before it could be stopped: " + p.communicate()[1]
        sent = time.monotonic()
        p.send_signal(sig)
        _, err = p.communicate(timeout=60)
        elapsed = time.monotonic() - sent
    finally:
        p.kill()
        p.wait()
    if sig == signal.SIGKILL:
        assert p.returncode == -signal.SIGKILL
    else:
        assert p.returncode == 128 + sig, err
        assert f"interrupted; nothing was written to {out}" in err, err
        assert elapsed < 2, f"took {elapsed:.2f} s to stop"
    assert snapshot(dest) == before

