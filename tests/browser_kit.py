"""What the browser tests share: `kb ui` on a free loopback port over a copy of the sample store (plus a
document full of markup), Debian's Chromium driven by Playwright (nothing is downloaded at run time), a
loopback server that records what a page fetches, and small helpers (``see``, ``shot``, ``search``).

tests/conftest.py registers this module as a plugin, so every test module can ask for ``server`` (one `kb ui`
per module), ``browser``, ``page`` and ``pixels``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from tests.conftest import ROOT, sample_store_copy

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = ROOT / "tests" / "artifacts" / "browser"
WAIT_MS = 60_000  # Streamlit renders asynchronously; the first search also loads the model
GAMEDAY_DOC = "2024-09-05-checkout-rollback-bad-migration"
PROBE_DOC = "2025-03-03-markup-probe"
PROBE = """---
title: Markup probe postmortem
date: 2025-03-03
kind: postmortem
services: [checkout]
severity: SEV3
---
# Markup probe postmortem

## Summary

This postmortem carries markup that must stay inert: <script>document.title='pwned'</script>
and an image tag <img src=x onerror="document.title='pwned'"> after which the text goes on as plain words.
A remote image ![probe pixel](PIXEL/markdown.png) and <img src="PIXEL/html.png"> and a reference image
![probe reference][px] are shown as text, never fetched.

[px]: PIXEL/reference.png

## Timeline

- 10:00 ![timeline pixel](PIXEL/timeline.png) the probe alert fired.
"""
# Chromium flags for a closed network: no background connections, no component updates
CHROMIUM_ARGS = [
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def kb_command(*args: str) -> list[str]:
    """`kb ARGS` with this interpreter (the same entry point as the installed `kb` script)."""
    return [sys.executable, "-m", "ui.cli.main", *args]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:  # noqa: S310 (a loopback URL built here)
            return bool(r.read().decode().strip() == "ok")
    except OSError:
        return False


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not (CHROMIUM.exists() and shutil.which("chromedriver")):
        pytest.fail(
            "the browser tests need Debian's Chromium: install it with "
            "`apt-get install -y chromium chromium-driver` (.ci/run does this when it runs as root)",
            pytrace=False,
        )
    return CHROMIUM


class PixelServer:
    """A loopback HTTP server that records every request it gets (the images a page fetched)."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        seen = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                seen.append(self.path)
                self.send_response(404)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> PixelServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def pixels() -> Iterator[PixelServer]:
    with PixelServer() as server:
        yield server


@pytest.fixture(scope="module")
def server(chromium: Path, pristine_sample_store: Path, tmp_path_factory: pytest.TempPathFactory,
           pixels: PixelServer) -> Iterator[str]:
    """`kb ui` on a free loopback port, over the sample corpus plus a document full of markup (its images
    point at the ``pixels`` server)."""
    base = tmp_path_factory.mktemp("browser")
    store = sample_store_copy(pristine_sample_store, base / "store")
    probe = base / "probe" / "postmortems"
    probe.mkdir(parents=True)
    (probe / f"{PROBE_DOC}.md").write_text(PROBE.replace("PIXEL", pixels.url), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_") or k == "KB_CACHE_DIR"}
    env["KB_DATA_DIR"] = str(store)
    ingest = subprocess.run(
        kb_command("ingest", str(probe)), env=env, cwd=base, capture_output=True, text=True, timeout=600, check=False
    )
    assert ingest.returncode == 0, ingest.stderr[-3000:]

    port = free_port()
    log = (base / "ui.log").open("w")
    # its own process group: `kb ui` runs Streamlit as a child, and both must go at the end
    proc = subprocess.Popen(
        kb_command("ui", "--port", str(port), "--address", "127.0.0.1"),
        env=env, cwd=base, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not healthy(f"{url}/_stcore/health"):
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(f"kb ui did not come up:\n{(base / 'ui.log').read_text()[-3000:]}")
            time.sleep(0.2)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)
        log.close()


@pytest.fixture(scope="module")
def browser(chromium: Path) -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(WAIT_MS)
    try:
        yield pg
    finally:
        context.close()


def see(locator: Locator) -> Locator:
    expect(locator).to_be_visible(timeout=WAIT_MS)
    return locator


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def search_box(page: Page) -> Locator:
    """The Search page's query box (a chat input: Enter searches, Shift+Enter adds a line)."""
    return see(page.locator(".st-key-search_box textarea"))


def search(page: Page, text: str) -> None:
    box = search_box(page)
    box.fill(text)
    box.press("Enter")
