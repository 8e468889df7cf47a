"""Game day and Summaries in a real headless browser (`kb ui` on a loopback port, Debian's Chromium driven by
Playwright): a scenario just built (from an incident, by the wheel, or from a document's page) is the one
the picker shows, the address names and Start launches, even with another scenario selected and started
before; a summary's citation opens the document page on the cited chat log."""

from __future__ import annotations

import hashlib
import re

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser_kit import GAMEDAY_DOC, WAIT_MS, click, see, settled, shot

# a server of its own: the scenarios and sessions it builds are written to its store
pytestmark = [pytest.mark.slow, pytest.mark.own_server]
OTHER = "2026-01-21-pgbouncer-idle-in-transaction-postmortem"  # a second postmortem, with a chat log
FROM_DOCUMENT = "2025-01-08-session-cache-failover-2025"
CHAT = "2024-09-05-checkout-bad-migration"


def digest(doc_id: str) -> str:
    """The part of a scenario's id that names its postmortem (kb.gameday.scenario.scenario_name)."""
    return hashlib.sha256(doc_id.encode()).hexdigest()[:6]


def choose(page: Page, label: str, option: str) -> None:
    """Pick the option ``option`` of a select box (or "``option`` — title"), typed to filter the list."""
    box = see(page.get_by_role("combobox", name=label))
    box.click()
    page.keyboard.type(option)
    see(page.get_by_role("option", name=re.compile(rf"^{re.escape(option)}( — |$)")).first).click()


def picker(page: Page) -> Locator:
    return see(page.get_by_role("combobox", name="Scenario"))


def new_scenario(page: Page) -> None:
    """Open the New scenario panel (when closed)."""
    see(page.get_by_role("heading", name="Game day", exact=True))
    settled(page)
    panel = page.get_by_test_id("stExpander").locator("details").filter(has_text="New scenario")
    source = page.get_by_role("combobox", name="From incident")
    page.locator('[class*="st-key-gd-build"]').wait_for(state="attached")  # drawn, the panel open or not
    for _ in range(10):  # the panel may still be closing after the last run: open it until it stays open
        if source.is_visible():
            break
        if panel.get_attribute("open") is None:
            panel.locator("summary").click()
        page.wait_for_timeout(500)


def build(page: Page, incident: str) -> None:
    """Build a scenario from ``incident`` in the New scenario panel."""
    new_scenario(page)
    choose(page, "From incident", incident)
    click(page, page.get_by_role("button", name="Build from this incident"))


def started(page: Page) -> str:
    """Start the selected scenario, end it at once, and return the postmortem its debrief names."""
    click(page, page.get_by_role("button", name="Start", exact=True))
    see(page.get_by_text(re.compile(r"^PAGE: ")))
    click(page, page.get_by_role("button", name="End", exact=True))
    source = see(page.locator("li", has_text=re.compile(r"^incident: \S+$")))
    return source.inner_text().split(":", 1)[1].strip()


def shows(page: Page, incident: str) -> str:
    """The picker shows a scenario of ``incident`` and the address names it; that scenario's id."""
    expect(picker(page)).to_have_value(re.compile(rf"-{digest(incident)}-"), timeout=WAIT_MS)
    scenario = picker(page).input_value()
    expect(page).to_have_url(re.compile(rf"[?&]scenario={re.escape(scenario)}(&|$)"), timeout=WAIT_MS)
    return scenario


def test_a_built_scenario_is_the_one_shown_and_started(server: str, page: Page) -> None:
    page.goto(f"{server}/gameday")
    build(page, GAMEDAY_DOC)
    shows(page, GAMEDAY_DOC)
    assert started(page) == GAMEDAY_DOC

    build(page, OTHER)  # another scenario was selected and played: the new one replaces it
    scenario = shows(page, OTHER)
    shot(page, "gameday-01-built-another")
    assert started(page) == OTHER
    shot(page, "gameday-02-started-the-built-one")

    page.goto(f"{server}/gameday?scenario={scenario}")  # a link to the scenario opens it
    expect(picker(page)).to_have_value(scenario, timeout=WAIT_MS)


def test_the_wheel_picks_the_scenario_shown_and_started(server: str, page: Page) -> None:
    page.goto(f"{server}/gameday")
    build(page, GAMEDAY_DOC)
    shows(page, GAMEDAY_DOC)
    assert started(page) == GAMEDAY_DOC  # played to its debrief: no Start button until a new one is chosen
    new_scenario(page)
    click(page, page.get_by_role("button", name="Spin the wheel"))
    see(page.get_by_role("button", name="Start", exact=True))
    scenario = picker(page).input_value()
    shot(page, "gameday-03-spun")
    expect(page).to_have_url(re.compile(rf"[?&]scenario={re.escape(scenario)}(&|$)"), timeout=WAIT_MS)
    incident = started(page)
    assert f"-{digest(incident)}-" in scenario, (scenario, incident)


def test_the_document_page_button_lands_on_its_scenario(server: str, page: Page) -> None:
    page.goto(f"{server}/gameday")
    build(page, GAMEDAY_DOC)
    shows(page, GAMEDAY_DOC)
    assert started(page) == GAMEDAY_DOC
    # to the document page in the same session (the sidebar), and a game day from another postmortem
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Incident / document", exact=True).click()
    see(page.get_by_role("heading", name="Incident / document"))
    choose(page, "Document", FROM_DOCUMENT)
    expect(page.get_by_role("combobox", name="Document")).to_have_value(re.compile(rf"^{FROM_DOCUMENT} — "))
    click(page, page.get_by_role("button", name="Build a game day from it"))
    see(page.get_by_role("heading", name="Game day", exact=True))
    shows(page, FROM_DOCUMENT)
    assert started(page) == FROM_DOCUMENT


def test_a_summary_citation_opens_the_cited_chat_log(server: str, page: Page) -> None:
    page.goto(server)
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Summaries", exact=True).click()
    see(page.get_by_role("heading", name="Incident summaries"))
    choose(page, "Chat log", CHAT)
    expect(page).to_have_url(re.compile(rf"[?&]id={CHAT}(&|$)"), timeout=WAIT_MS)
    # a citation of the chosen log: the previous log's draft stays on the page while this one is made
    cited = page.get_by_role("link", name=re.compile(r"^\[\d+\] \d\d:\d\d$")).and_(
        page.locator(f'a[href*="id={CHAT}&at="]'))
    expect(cited.first).to_be_visible(timeout=3 * WAIT_MS)  # summarising takes a while on a busy machine
    timeline = page.get_by_role("heading", name="Timeline", exact=True)
    expect(timeline).to_have_count(1, timeout=WAIT_MS)  # the previous draft, kept while this one ran, is gone
    see(timeline)
    see(page.get_by_text("Assembled without an LLM", exact=False))
    shot(page, "summaries-01-draft")
    link = cited.first
    href = link.get_attribute("href") or ""
    at = re.search(rf"document\?id={CHAT}&at=(\d+)$", href)
    assert at, href
    if link.get_attribute("target") == "_blank":
        with page.context.expect_page() as opened:
            link.click()
        document = opened.value
    else:
        link.click()
        document = page
    document.set_default_timeout(WAIT_MS)
    see(document.get_by_role("heading", name="Incident / document"))
    expect(document.get_by_role("combobox", name="Document")).to_have_value(
        re.compile(rf"^{re.escape(CHAT)} — "), timeout=WAIT_MS
    )
    expect(document).to_have_url(re.compile(rf"id={CHAT}"), timeout=WAIT_MS)
    shot(document, "summaries-02-cited-document")
