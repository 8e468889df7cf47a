"""Every page in a real browser (`kb ui` and Debian's Chromium, tests/browser_kit.py).

- No blank waits: from the first moment, a page shows its title or says what it is doing (a spinner or a
  running status) before its content arrives, and the first page a new server serves says it is loading
  the knowledge base (the model and the store load then). What each page showed, and when, is written to
  tests/artifacts/browser/waits.json.
- Themes: each page (Search with results, Ask with an answer, a postmortem, Runbooks, Game day, Ingest,
  Insights) in the light and in the dark system colour scheme, which Streamlit follows: a full-page
  screenshot under tests/artifacts/browser/themes/<theme>/<page>.png, no exception or error on the page, and
  the screenshot is as dark or as light as its theme.

A page's main content and "usable" (Streamlit idle) are the ones scripts/bench_browser.py times.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from PIL import Image, ImageStat
from playwright.sync_api import Browser, Page

from tests.browser_kit import GAMEDAY_DOC, SHOTS, WAIT_MS
from tests.conftest import ROOT

# a server of its own: the first test needs a new server that has served nothing yet
pytestmark = [pytest.mark.slow, pytest.mark.own_server]

LOADING = "Loading the knowledge base"
# what tells a visitor the page is at work: a spinner (st.spinner, a cache's spinner) or a running st.status
BUSY = '[data-testid="stSpinner"], [data-testid="stExpanderIconSpinner"]'
TITLE = '[data-testid="stHeading"] h1'  # the page's title (a chat page has no stMain)
# Records, from the navigation on, the first moment a title, a busy element (with its text) and the page's
# content appeared. `n` orders what one mutation callback saw at the same time.
OBSERVE = """
(() => {
  const content = CONTENT;
  const seen = (window.__kbSeen = { busy: [] });
  let n = 0;
  const shown = (e) => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden';
  const says = (e, text) => !text || (e.value || e.textContent || '').includes(text);
  const visible = ([selector, text]) => [...document.querySelectorAll(selector)].some((e) => shown(e) && says(e, text));
  const first = (key, found) => { if (!seen[key] && found) seen[key] = { t: performance.now(), n: n }; };
  const scan = () => {
    n += 1;
    first('title', [...document.querySelectorAll(TITLE)].some(shown));
    first('navigation', [...document.querySelectorAll('[data-testid="stSidebarNav"]')].some(shown));
    for (const e of document.querySelectorAll(BUSY)) {
      const text = (e.textContent || '').trim();
      if (!seen.busy.some((b) => b.text === text)) seen.busy.push({ t: performance.now(), n: n, text: text });
    }
    first('content', content.every(visible));
  };
  new MutationObserver(scan).observe(document, { childList: true, subtree: true, characterData: true });
})();
"""


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_browser", ROOT / "scripts" / "bench_browser.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


BENCH = _bench()
VISITS = {v.name: v for v in BENCH.visits(GAMEDAY_DOC, ["pgbouncer pool exhausted"])}
SLUGS = {"Search": "search", "Ask": "ask", "Document": "document", "Runbooks": "runbooks",
         "Summaries": "summaries", "Game day": "gameday", "Ingest": "ingest", "Insights": "insights"}
WAITS = SHOTS / "waits.json"


@pytest.fixture(scope="module")
def visited() -> Iterator[dict[str, Any]]:
    """What this module's server has served so far, and what each visit showed (written out at the end)."""
    log: dict[str, Any] = {"pages": 0, "waits": {}}
    yield log
    SHOTS.mkdir(parents=True, exist_ok=True)
    WAITS.write_text(json.dumps(log["waits"], indent=2), encoding="utf-8")


def open_page(browser: Browser, server: str, name: str, visited: dict[str, Any], scheme: str = "light",
              interact: bool = False) -> tuple[Page, dict[str, Any]]:
    """The page in a fresh context (the given colour scheme), once it is usable (and, with ``interact``, once
    its search or question has been answered); what the observer saw on the way."""
    v = VISITS[name]
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, color_scheme=scheme)  # type: ignore[arg-type]
    context.add_init_script(
        OBSERVE.replace("CONTENT", json.dumps(v.ready)).replace("TITLE", json.dumps(TITLE)).replace("BUSY", json.dumps(BUSY))
    )
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    visited["pages"] += 1
    page.goto(server + v.path, wait_until="commit")
    page.wait_for_function(BENCH.READY_JS, arg=[v.ready, 0], polling="raf")
    seen = page.evaluate("window.__kbSeen")
    if interact and v.send is not None:
        selector, texts = v.send
        box = page.locator(selector).first
        box.fill(texts[0])
        since = float(page.evaluate("performance.now()"))
        box.press(v.key)
        took = float(page.wait_for_function(BENCH.READY_JS, arg=[v.done, since], polling="raf").json_value())
        # what the visitor was told while the answer was on its way (reported, not asserted)
        busy = [b for b in page.evaluate("window.__kbSeen.busy") if b["t"] >= since]
        visited["waits"][f"{v.sent} ({scheme})"] = {
            "answer_ms": round(took), "busy": [{"ms": round(b["t"] - since), "text": b["text"]} for b in busy],
        }
    return page, seen


def no_error_on(page: Page, what: str) -> None:
    for testid in ("stException", "stAlertContentError"):
        shown = page.get_by_test_id(testid)
        assert shown.count() == 0, f"{what}: {testid}: {shown.first.inner_text()[:1500]}"


def feedback(seen: dict[str, Any]) -> dict[str, Any] | None:
    """The first thing that told the visitor something: the title or a busy element."""
    told = [x for x in [seen.get("title"), *seen["busy"]] if x]
    return min(told, key=lambda x: x["n"]) if told else None


def record(visited: dict[str, Any], key: str, seen: dict[str, Any]) -> None:
    first = feedback(seen)
    content = seen.get("content")
    visited["waits"][key] = {
        "first_feedback_ms": round(first["t"]) if first else None,
        "navigation_ms": round(seen["navigation"]["t"]) if seen.get("navigation") else None,
        "title_ms": round(seen["title"]["t"]) if seen.get("title") else None,
        "busy": [{"ms": round(b["t"]), "text": b["text"]} for b in seen["busy"]],
        "content_ms": round(content["t"]) if content else None,
    }


def test_the_first_page_of_a_new_server_says_it_is_loading(browser: Browser, server: str,
                                                             visited: dict[str, Any]) -> None:
    assert visited["pages"] == 0, "this test needs the module's first visit (a server that has loaded nothing)"
    page, seen = open_page(browser, server, "Search", visited)
    try:
        record(visited, "Search (cold server)", seen)
        no_error_on(page, "Search on a cold server")
        loading = [b for b in seen["busy"] if LOADING in b["text"]]
        assert loading, f"no '{LOADING}...' message while the server loaded: {seen}"
        assert seen.get("content") and loading[0]["n"] <= seen["content"]["n"], seen
    finally:
        page.context.close()


@pytest.mark.parametrize("name", list(SLUGS))
def test_a_page_shows_its_title_or_what_it_is_doing_before_its_content(
    browser: Browser, server: str, visited: dict[str, Any], name: str
) -> None:
    page, seen = open_page(browser, server, name, visited)
    try:
        record(visited, name, seen)
        no_error_on(page, name)
        first = feedback(seen)
        assert seen.get("content"), f"{name}: the observer never saw the content it waited for: {seen}"
        assert first is not None and first["n"] <= seen["content"]["n"], (
            f"{name}: neither its title nor a spinner came before its content: {seen}"
        )
    finally:
        page.context.close()


def luminance(path: Path) -> float:
    with Image.open(path) as image:
        return float(ImageStat.Stat(image.convert("L")).mean[0])


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("name", list(SLUGS))
def test_every_page_in_both_themes(browser: Browser, server: str, visited: dict[str, Any], name: str,
                                   scheme: str) -> None:
    page, _ = open_page(browser, server, name, visited, scheme=scheme, interact=True)
    try:
        no_error_on(page, f"{name} ({scheme})")
        if name == "Search":
            assert page.locator('[class*="st-key-open-"] button').count() >= 1
        if name == "Ask":
            answer = page.get_by_test_id("stChatMessage").filter(has=page.get_by_test_id("stChatMessageAvatarAssistant"))
            assert len(answer.first.inner_text().split()) >= 5
        folder = SHOTS / "themes" / scheme
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{SLUGS[name]}.png"
        # the page scrolls inside Streamlit's main area, not the document: make the window as tall as its content
        tall = page.evaluate(
            "Math.max(document.body.scrollHeight, ...[...document.querySelectorAll("
            "'[data-testid=\"stMain\"], [data-testid=\"stAppScrollToBottomContainer\"]')].map((e) => e.scrollHeight))"
        )
        page.set_viewport_size({"width": 1400, "height": min(max(1000, int(tall)), 8000)})
        page.wait_for_function(BENCH.READY_JS, arg=[VISITS[name].ready, 0], polling="raf")
        page.screenshot(path=str(path), full_page=True)
        mean = luminance(path)
        if scheme == "dark":
            assert mean < 80, f"{name}: the dark screenshot is not dark (mean luminance {mean:.0f} of 255)"
        else:
            assert mean > 175, f"{name}: the light screenshot is not light (mean luminance {mean:.0f} of 255)"
    finally:
        page.context.close()
