"""The web UI on a free loopback port, for what drives it from outside (the browser tests, scripts/bench_browser.py):
``serving`` starts the server, waits until it answers, and stops it and everything it started when the block ends.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

HEALTH = "/_stcore/health"  # Streamlit answers "ok" there once it serves


class NotServing(RuntimeError):
    """The server exited or did not answer in time; the message ends with the tail of its log."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (the system's pick)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def healthy(url: str) -> bool:
    """Whether the Streamlit server at ``url`` answers its health check."""
    try:
        with urllib.request.urlopen(url + HEALTH, timeout=2) as r:  # noqa: S310 (a loopback URL built here)
            return bool(r.read().decode().strip() == "ok")
    except OSError:
        return False


@contextmanager
def serving(command: Callable[[int], list[str]], env: dict[str, str], log: Path,
            timeout_s: float = 120) -> Iterator[str]:
    """``command(port)`` (`kb ui --port PORT --address 127.0.0.1`, or `streamlit run` with its options) started in
    ``log``'s folder with ``env``, its output appended to ``log``; yields its address once it answers. The server
    runs in a process group of its own (`kb ui` runs Streamlit as a child): the whole group is stopped at the end.
    Raises NotServing when the process exits or does not answer within ``timeout_s``."""
    port = free_port()
    with log.open("a") as out:
        proc = subprocess.Popen(command(port), env=env, cwd=log.parent, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout_s
            while not healthy(url):
                if proc.poll() is not None or time.monotonic() > deadline:
                    out.flush()
                    raise NotServing(f"{' '.join(command(port)[:6])} did not come up:\n{log.read_text()[-3000:]}")
                time.sleep(0.1)
            yield url
        finally:
            _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=15)
            return
        except subprocess.TimeoutExpired:
            continue
