"""The web UI in a real headless browser: `kb ui` on a free loopback port, driven with Playwright in Debian's
Chromium (apt-get install chromium chromium-driver; nothing is downloaded at run time).

Walks the main flow (search -> document -> draft a runbook -> game day -> a question to the game master)
and checks that markup inside a document stays text. Screenshots of each step go to tests/artifacts/browser/.
"""

from __future__ import annotations

import os
import re
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

from tests.conftest import ROOT, sample_store_copy

try:
    from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright
except ImportError:  # pragma: no cover
    pytest.fail("the browser tests need Playwright: pip install -e '.[dev]'", pytrace=False)

pytestmark = pytest.mark.slow

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


def search(page: Page, text: str) -> None:
    box = see(page.get_by_label("Symptoms, an error message", exact=False))
    box.fill(text)
    box.press("Control+Enter")  # a text area sends its value on Ctrl+Enter (or when it loses focus)


def test_search_document_runbook_draft_and_game_day(server: str, page: Page) -> None:
    page.goto(server)
    see(page.get_by_role("heading", name="Search past incidents"))
    search(page, "pgbouncer pool exhausted")
    # each result's Open button sits in an element keyed open-<document id>
    first = see(page.locator('[class*="st-key-open-"]').first)
    doc_id = re.search(r"st-key-open-(\S+)", first.get_attribute("class") or "").group(1)  # type: ignore[union-attr]
    see(page.locator("strong", has_text=re.compile(r"^1\. ")))
    shot(page, "01-search-results")

    first.get_by_role("button", name="Open", exact=True).click()
    see(page.get_by_role("heading", name="Incident / document"))
    chosen = see(page.get_by_role("combobox", name="Document"))
    expect(chosen).to_have_value(re.compile(rf"^{re.escape(doc_id)} — "), timeout=WAIT_MS)
    title = chosen.input_value().split(" — ", 1)[1].strip()
    see(page.get_by_role("heading", name=title, exact=True))
    assert "pgbouncer" in title.lower()
    shot(page, "02-document")

    page.get_by_role("button", name="Draft a runbook from it").click()
    see(page.get_by_role("heading", name="Runbooks", exact=True))
    page.get_by_role("tab", name="Draft a runbook").click()
    topic = see(page.get_by_label("Topic: symptoms, alert or failure mode"))
    expect(topic).to_have_value(re.compile(re.escape(title)))
    shot(page, "03-runbooks-draft-tab")
    page.get_by_role("button", name="Draft", exact=True).click()
    see(page.get_by_role("heading", name="Triage", exact=True))
    see(page.get_by_text("Assembled without an LLM: every step is quoted from its source.", exact=True))
    shot(page, "04-runbook-draft")

    page.goto(f"{server}/document?id={GAMEDAY_DOC}")
    see(page.get_by_role("heading", name=re.compile(r"^Blocking schema migration")))
    shot(page, "05-postmortem")
    page.get_by_role("button", name="Build a game day from it").click()
    see(page.get_by_role("heading", name="Game day", exact=True))
    page.get_by_role("button", name="Start", exact=True).click()
    see(page.get_by_text(re.compile(r"^PAGE: ")))
    chat = see(page.get_by_placeholder("Ask, hypothesise or act", exact=False))
    shot(page, "06-game-day-started")

    chat.fill("what changed?")
    chat.press("Enter")
    messages = page.get_by_test_id("stChatMessage")
    expect(messages).to_have_count(2, timeout=WAIT_MS)
    expect(messages.nth(0)).to_contain_text("what changed?")
    # the answer's text, not only its avatar ("smart_toy"), which renders first
    expect(messages.nth(1)).to_contain_text(re.compile(r"[A-Za-z]{3,}\s+[A-Za-z]{3,}"), timeout=WAIT_MS)
    answer = messages.nth(1).inner_text()
    assert re.search(r"[A-Za-z]{3,}\s+[A-Za-z]{3,}", answer.replace("smart_toy", "")), answer
    shot(page, "07-game-day-answer")


def test_markup_in_a_document_stays_inert(server: str, page: Page) -> None:
    page.goto(f"{server}/document?id={PROBE_DOC}")
    see(page.get_by_role("heading", name="Markup probe postmortem", exact=True))
    body = see(page.get_by_text("after which the text goes on as plain words", exact=False))
    expect(body).to_contain_text("<script>document.title='pwned'</script>")
    expect(body).to_contain_text("<img src=x onerror=")
    assert page.locator('img[src="x"]').count() == 0
    assert page.title() != "pwned"
    shot(page, "08-markup-document")

    page.goto(server)
    search(page, "markup probe postmortem")
    see(page.locator(f".st-key-open-{PROBE_DOC}"))
    see(page.get_by_text("after which the text goes on", exact=False).first)
    assert page.locator('img[src="x"]').count() == 0
    shot(page, "09-markup-search-results")
    assert page.title() != "pwned", "a script in a document ran"


def test_no_image_a_document_names_is_fetched(server: str, page: Page, pixels: PixelServer) -> None:
    # the harness sees a fetch when there is one
    page.set_content(f'<img src="{pixels.url}/control.png">')
    deadline = time.monotonic() + 10
    while "/control.png" not in pixels.requests and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "/control.png" in pixels.requests
    pixels.requests.clear()

    page.goto(f"{server}/document?id={PROBE_DOC}")
    see(page.get_by_role("heading", name="Markup probe postmortem", exact=True))
    body = see(page.get_by_text("are shown as text, never fetched", exact=False))
    expect(body).to_contain_text(f"{pixels.url}/markdown.png")  # the address is shown, as text
    page.get_by_role("tab", name="Timeline").click()
    see(page.locator("li:visible", has_text="the probe alert fired").first)
    page.goto(server)
    search(page, "markup probe remote image pixel")
    see(page.locator(f".st-key-open-{PROBE_DOC}"))
    page.wait_for_timeout(2000)  # any image the page would load has been asked for by now
    shot(page, "10-remote-images-not-fetched")
    assert pixels.requests == [], pixels.requests
