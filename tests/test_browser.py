"""The web UI in a real headless browser: `kb ui` on a free loopback port, driven with Playwright in Debian's
Chromium (apt-get install chromium chromium-driver; nothing is downloaded at run time).

Walks the main flow (search -> document -> draft a runbook -> game day -> a question to the game master)
and checks that markup inside a document stays text. Screenshots of each step go to tests/artifacts/browser/.
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect

from tests.browser_kit import GAMEDAY_DOC, PROBE_DOC, WAIT_MS, PixelServer, click, search, see, settled, shot

# a server of its own: the game day it builds and plays is written to its store
pytestmark = [pytest.mark.slow, pytest.mark.own_server]


def show_all_passages(page: Page, doc_id: str) -> None:
    """Open the expander of a search result's other passages (the best passage is shown, the others behind it)."""
    card = page.locator('[class*="st-key-result-"]', has=page.locator(f".st-key-open-{doc_id}"))
    for expander in card.get_by_test_id("stExpander").all():
        expander.locator("summary").click()


def test_search_document_runbook_draft_and_game_day(server: str, page: Page) -> None:
    page.goto(server)
    see(page.get_by_role("heading", name="Search past incidents"))
    search(page, "pgbouncer pool exhausted")
    # each result's Open button sits in an element keyed open-<document id>
    first = see(page.locator('[class*="st-key-open-"]').first)
    doc_id = re.search(r"st-key-open-(\S+)", first.get_attribute("class") or "").group(1)  # type: ignore[union-attr]
    see(page.locator("strong", has_text=re.compile(r"^1\. ")))
    shot(page, "01-search-results")

    click(page, first.get_by_role("button", name="Open", exact=True))
    see(page.get_by_role("heading", name="Incident / document"))
    chosen = see(page.get_by_role("combobox", name="Document"))
    expect(chosen).to_have_value(re.compile(rf"^{re.escape(doc_id)} — "), timeout=WAIT_MS)
    title = chosen.input_value().split(" — ", 1)[1].strip()
    see(page.get_by_role("heading", name=title, exact=True))
    assert "pgbouncer" in title.lower()
    shot(page, "02-document")

    click(page, page.get_by_role("button", name="Draft a runbook from it"))
    see(page.get_by_role("heading", name="Runbooks", exact=True))
    page.get_by_role("tab", name="Draft a runbook").click()
    topic = see(page.get_by_label("Topic: symptoms, alert or failure mode"))
    expect(topic).to_have_value(re.compile(re.escape(title)))
    shot(page, "03-runbooks-draft-tab")
    click(page, page.get_by_role("button", name="Draft", exact=True))
    # the first draft of a new server embeds the labelled examples it reads steps with: slow on a busy machine
    expect(page.get_by_role("heading", name="Triage", exact=True)).to_be_visible(timeout=5 * WAIT_MS)
    see(page.get_by_text("Assembled without an LLM: every step is quoted from its source.", exact=True))
    shot(page, "04-runbook-draft")

    page.goto(f"{server}/document?id={GAMEDAY_DOC}")
    see(page.get_by_role("heading", name=re.compile(r"^Blocking schema migration")))
    shot(page, "05-postmortem")
    click(page, page.get_by_role("button", name="Build a game day from it"))
    see(page.get_by_role("heading", name="Game day", exact=True))
    click(page, page.get_by_role("button", name="Start", exact=True))
    see(page.get_by_text(re.compile(r"^PAGE: ")))
    chat = see(page.get_by_placeholder("Ask, hypothesise or act", exact=False))
    shot(page, "06-game-day-started")

    settled(page)  # the chat box is drawn by the run that starts the game; a message sent while it draws can be lost
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
    show_all_passages(page, PROBE_DOC)
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
    show_all_passages(page, PROBE_DOC)
    page.wait_for_timeout(2000)  # any image the page would load has been asked for by now
    shot(page, "10-remote-images-not-fetched")
    assert pixels.requests == [], pixels.requests
