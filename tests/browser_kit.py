"""What the browser tests share: `kb ui` on a free loopback port over a copy of the sample store (plus a
document full of markup), Debian's Chromium driven by Playwright (nothing is downloaded at run time), a
loopback server that records what a page fetches, and small helpers (``see``, ``shot``, ``search``).

tests/conftest.py registers this module as a plugin, so every test module can ask for ``server``, ``browser``,
``page`` and ``pixels``. A test process starts one Chromium (``browser``; each ``page`` is a fresh context of it)
and one `kb ui` that the browser modules share (``server``, warmed by one search). A module that writes to the
store (ingest, runbook approval, game days) or needs a new, cold server marks itself
``pytestmark = [pytest.mark.slow, pytest.mark.own_server]`` and gets a `kb ui` of its own over its own copy.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, Playwright, expect, sync_playwright

from tests.conftest import ROOT, sample_store_copy
from ui.web import keys
from ui.web.local_server import NotServing, serving

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = ROOT / "tests" / "artifacts" / "browser"
OWN_SERVER = "own_server"  # the marker of a module that needs a `kb ui` of its own
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


def kb_env(store: Path) -> dict[str, str]:
    """The environment of a `kb` over ``store``: none of the caller's KB_ settings but the shared vector cache."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_") or k == "KB_CACHE_DIR"}
    env["KB_DATA_DIR"] = str(store)
    return env


@pytest.fixture(scope="session")
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


@pytest.fixture(scope="session")
def pixels() -> Iterator[PixelServer]:
    """The image server the markup probe's images point at (one per test process, like the stores that name it)."""
    with PixelServer() as server:
        yield server


@pytest.fixture(scope="session")
def browser_store(pristine_sample_store: Path, tmp_path_factory: pytest.TempPathFactory, pixels: PixelServer) -> Path:
    """The sample store plus the markup probe (its images on the ``pixels`` server), built once per test process;
    each server runs over a copy of it."""
    base = tmp_path_factory.mktemp("browser-store")
    store = sample_store_copy(pristine_sample_store, base / "store")
    probe = base / "probe" / "postmortems"
    probe.mkdir(parents=True)
    (probe / f"{PROBE_DOC}.md").write_text(PROBE.replace("PIXEL", pixels.url), encoding="utf-8")
    ingest = subprocess.run(kb_command("ingest", str(probe)), env=kb_env(store), cwd=base, capture_output=True,
                            text=True, timeout=600, check=False)
    assert ingest.returncode == 0, ingest.stderr[-3000:]
    return store


@contextmanager
def ui_server(chromium: Path, browser_store: Path, base: Path) -> Iterator[str]:
    """`kb ui` on a free loopback port over a copy of ``browser_store`` in ``base``, until the block ends."""
    store = sample_store_copy(browser_store, base / "store")
    try:
        with serving(lambda port: kb_command("ui", "--port", str(port), "--address", "127.0.0.1"), kb_env(store),
                     base / "ui.log", timeout_s=120) as url:
            yield url
    except NotServing as e:
        pytest.fail(str(e), pytrace=False)


def warm(browser: Browser, url: str) -> None:
    """One search on the server, so the knowledge base (model, store, keyword index) is loaded before any test."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        pg = context.new_page()
        pg.set_default_timeout(5 * WAIT_MS)
        pg.goto(url)
        search(pg, "pgbouncer pool exhausted")
        expect(pg.locator('[class*="st-key-open-"]').first).to_be_visible(timeout=5 * WAIT_MS)
    finally:
        context.close()


class Shared:
    """The `kb ui` the modules without ``own_server`` share in a test process, and whether it was warmed."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.warm = False


@pytest.fixture(scope="session")
def shared_server(chromium: Path, browser_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shared]:
    with ui_server(chromium, browser_store, tmp_path_factory.mktemp("shared-ui")) as url:
        yield Shared(url)


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest, chromium: Path, browser_store: Path, browser: Browser,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`kb ui` on a loopback port over the sample corpus plus a document full of markup (its images point at the
    ``pixels`` server). Modules marked ``own_server`` (they write to the store, or need a server that has served
    nothing yet) get one of their own, new and cold; the others share one per test process, warmed by one search
    before its first test."""
    if request.node.get_closest_marker(OWN_SERVER) is not None:
        with ui_server(chromium, browser_store, tmp_path_factory.mktemp("ui")) as url:
            yield url
        return
    shared: Shared = request.getfixturevalue("shared_server")
    if not shared.warm:
        warm(browser, shared.url)
        shared.warm = True
    yield shared.url


class Chromium:
    """One headless Chromium for the browser modules that run one after another in a test process. Playwright's
    sync API marks an asyncio loop as running while it is started, which asyncio.run() refuses: it is stopped before
    a test that does not use it (``pytest_runtest_setup``) and at the end of the run."""

    def __init__(self) -> None:
        self.playwright: Playwright | None = None
        self.browser: Browser | None = None

    def launch(self, executable: Path) -> Browser:
        if self.browser is None or not self.browser.is_connected():
            self.stop()
            self.playwright = sync_playwright().start()
            self.browser = self.playwright.chromium.launch(executable_path=str(executable), args=CHROMIUM_ARGS)
        return self.browser

    def stop(self) -> None:
        if self.browser is not None:
            self.browser.close()
        if self.playwright is not None:
            self.playwright.stop()
        self.playwright = self.browser = None


CHROMIUM_PROCESS = Chromium()


def pytest_runtest_setup(item: pytest.Item) -> None:
    if "browser" not in getattr(item, "fixturenames", ()):
        CHROMIUM_PROCESS.stop()


def pytest_sessionfinish(session: pytest.Session) -> None:
    CHROMIUM_PROCESS.stop()


@pytest.fixture(scope="module")
def browser(chromium: Path) -> Browser:
    """Headless Chromium, kept for the next module that uses it (each test gets a fresh context: ``page``)."""
    return CHROMIUM_PROCESS.launch(chromium)


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


def settled(page: Page) -> None:
    """Wait until the page's script run is over (a run redraws what it drew, and closes panels it reopens)."""
    expect(page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]')).to_be_attached(
        timeout=WAIT_MS)


def click(page: Page, target: Locator) -> None:
    """Click ``target`` once the page's script run is over, as a person does when the page stops running: while a
    run draws, elements above the target appear and go (a spinner, the last run's leftovers), and a click aimed at
    it between Playwright's check and the press can land elsewhere and be lost."""
    settled(page)
    target.click()


def enter_searches(page: Page) -> None:
    """Wait until Enter in the search box searches: the page's own script (ui/web/keys.py) marks the document when
    it is in place, which can be a moment after the box is drawn; an Enter before it adds a line instead."""
    expect(page.locator("html." + keys.marker("search_box"))).to_be_attached(timeout=WAIT_MS)


def search(page: Page, text: str) -> None:
    box = search_box(page)
    settled(page)  # a key pressed while the page's first run is still drawing can be lost with the redraw
    enter_searches(page)
    box.fill(text)
    box.press("Enter")
