"""`kb ui` as a supervisor runs it: stopping `kb ui` (its own pid, not its process group) stops the Streamlit server
it started, so nothing is left holding the port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ui.web.local_server import free_port, healthy

pytestmark = pytest.mark.slow


def children(pid: int) -> list[int]:
    """The pids of a process's children (Linux /proc)."""
    found = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in found.read_text().split()] if found.exists() else []


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")  # a zombie is gone too


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads child processes from /proc")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_stopping_kb_ui_stops_its_streamlit_server(tmp_path: Path, sig: signal.Signals) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_") or k == "KB_CACHE_DIR"}
    env["KB_DATA_DIR"] = str(tmp_path / "kb")
    cmd = [sys.executable, "-m", "ui.cli.main", "ui", "--port", str(port), "--address", "127.0.0.1"]
    with (tmp_path / "ui.log").open("w") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while not healthy(url):
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "ui.log").read_text()[-2000:]
            time.sleep(0.2)
        servers = children(proc.pid)
        assert servers, "kb ui runs the Streamlit server as a child"
        os.kill(proc.pid, sig)  # only kb ui, as a supervisor or `kill PID` does
        assert proc.wait(timeout=60) in (0, 128 + sig)
        deadline = time.monotonic() + 30
        while any(alive(p) for p in servers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(alive(p) for p in servers), "the Streamlit server outlived kb ui"
        assert not healthy(url)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
