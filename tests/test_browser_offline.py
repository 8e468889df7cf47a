"""Nothing leaves the machine from the browser either: every request any page of the web UI makes (scripts,
styles, fonts, the tab icon, the websocket) goes to the app's own origin. Checked in real headless Chromium
over `kb ui` on every page of the sidebar, a search with results and a document."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from urllib.parse import urljoin, urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser_kit import GAMEDAY_DOC, WAIT_MS, PixelServer, search, see, shot

pytestmark = pytest.mark.slow

#: The pages every run must visit (the sidebar may list more; those are visited too).
PAGES = ["Search", "Ask", "Incident / document", "Runbooks", "Game day", "Ingest", "Insights"]


class Recorder:
    """Every address a browser context asks for: requests (documents, scripts, styles, fonts, images, the
    tab icon) and websockets."""

    def __init__(self, context: BrowserContext) -> None:
        self.urls: list[str] = []
        context.on("request", lambda request: self.urls.append(request.url))
        context.on("page", self.watch)

    def watch(self, page: Page) -> None:
        page.on("websocket", lambda socket: self.urls.append(socket.url))

    def foreign(self, origin: str) -> list[str]:
        """The addresses not on ``origin`` (data: and blob: URLs are made in the page: no request)."""
        host = urlsplit(origin).netloc
        return sorted({u for u in self.urls if urlsplit(u).scheme not in ("data", "blob") and urlsplit(u).netloc != host})


@pytest.fixture
def recorded(browser: Browser) -> Iterator[tuple[Page, Recorder]]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    recorder = Recorder(context)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    try:
        yield page, recorder
    finally:
        context.close()


def settled(page: Page) -> None:
    """Wait until the page's script run has finished (Streamlit shows a status widget while it runs)."""
    see(page.locator("h1").first)
    page.wait_for_timeout(1500)
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=WAIT_MS)


def icons(page: Page) -> list[str]:
    return page.eval_on_selector_all('link[rel~="icon"]', "links => links.map(l => l.href)")


def test_the_recorder_sees_a_request_to_another_host(recorded: tuple[Page, Recorder], pixels: PixelServer) -> None:
    page, recorder = recorded
    page.set_content(f'<img src="{pixels.url}/control.png">')
    deadline = time.monotonic() + 10
    while f"{pixels.url}/control.png" not in recorder.foreign("http://127.0.0.1:1") and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert f"{pixels.url}/control.png" in recorder.foreign("http://127.0.0.1:1")


def test_every_page_asks_only_its_own_server(server: str, recorded: tuple[Page, Recorder]) -> None:
    page, recorder = recorded
    page.goto(server)
    settled(page)
    nav = page.get_by_test_id("stSidebarNav").get_by_role("link")
    expect(nav.first).to_be_visible()
    # a link's text is its icon's name (a ligature of the icon font) and, on its last line, the page's title
    links = {
        nav.nth(i).inner_text().strip().splitlines()[-1]: nav.nth(i).get_attribute("href") or ""
        for i in range(nav.count())
    }
    assert set(PAGES) <= set(links), links
    for name, href in links.items():
        page.goto(urljoin(server + "/", href))
        settled(page)
        if name == "Insights":
            see(page.get_by_role("heading", name="Stale runbooks"))  # the last chart, after the slow parts
        for icon in icons(page):
            assert icon.startswith("data:") or icon.startswith(server), (name, icon)
        shot(page, f"offline-{re.sub(r'[^a-z]+', '-', name.lower())}")

    page.goto(server)
    settled(page)
    search(page, "pgbouncer pool exhausted")
    see(page.locator("strong", has_text=re.compile(r"^1\. ")))
    settled(page)
    page.goto(f"{server}/document?id={GAMEDAY_DOC}")
    see(page.get_by_role("heading", name=re.compile(r"^Blocking schema migration")))
    settled(page)
    shot(page, "offline-document")

    assert recorder.foreign(server) == [], "requests that left the machine:\n" + "\n".join(recorder.foreign(server))
    # the sidebar's Material icons come from the font Streamlit ships, served by the app itself
    assert any(u.startswith(server) and "MaterialSymbols" in u for u in recorder.urls)
    assert any(u.startswith(server.replace("http", "ws", 1)) for u in recorder.urls)  # the app's websocket
