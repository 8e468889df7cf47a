"""The Search page in a real headless browser (`kb ui` over the sample store, Chromium via Playwright): the search
lives in the address and survives Back, the sidebar and a pasted link; the button labelled Search searches what is
in the box, Enter searches and Shift+Enter adds a line, a pasted multi-line alert keeps its lines, and without the
page's Enter script the button still searches; passages read as text (no raw Markdown) and each result says how
well it matches. Screenshots go to tests/artifacts/browser/."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser_kit import WAIT_MS, click, enter_searches, search, search_box, see, shot

pytestmark = pytest.mark.slow

FIRST = re.compile(r"^1\. ")
ALERT = """{
  "labels": {"alertname": "PgBouncerPoolExhausted", "namespace": "data", "severity": "critical"},
  "annotations": {"summary": "PgBouncer pool orders/orders_app has waiting clients"}
}"""
LABEL = re.compile(r"^(strong|partial|weak) match$")


def results(page: Page) -> Locator:
    """The result cards shown."""
    return page.locator('[class*="st-key-result-"]')


def shown_count(page: Page) -> int:
    """How many results the page says it shows ("8 results, best first"), once it says so."""
    caption = see(page.get_by_text(re.compile(r"^\d+ results?, (best|newest) first$")))
    return int(caption.inner_text().split()[0])


def params(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlparse(page.url).query)


def wait_for_param(page: Page, name: str, value: str) -> None:
    page.wait_for_function(
        "([n, v]) => new URLSearchParams(location.search).getAll(n).includes(v)", arg=[name, value], timeout=WAIT_MS
    )


def test_the_address_carries_the_search_and_back_restores_it(server: str, page: Page, browser: Browser) -> None:
    page.goto(server)
    see(page.get_by_role("heading", name="Search past incidents"))
    page.get_by_role("combobox", name=re.compile("Kind")).click()
    page.get_by_role("option", name="postmortem", exact=True).click()
    page.keyboard.press("Escape")
    search(page, "pgbouncer pool exhausted")
    see(page.locator("strong", has_text=FIRST))
    wait_for_param(page, "q", "pgbouncer pool exhausted")
    assert params(page)["kind"] == ["postmortem"]
    assert set(params(page)) == {"q", "kind"}, page.url  # defaults stay out of the address
    first_title = page.locator("strong", has_text=FIRST).first.inner_text()
    count = shown_count(page)
    assert count > 1
    expect(results(page)).to_have_count(count)
    shot(page, "search-01-results")

    card = results(page).first
    click(page, card.locator('[class*="st-key-open-"]').get_by_role("button", name="Open", exact=True))
    see(page.get_by_role("heading", name="Incident / document"))
    page.go_back()
    see(page.get_by_role("heading", name="Search past incidents"))
    expect(search_box(page)).to_have_value("pgbouncer pool exhausted")
    expect(page.locator("strong", has_text=FIRST).first).to_have_text(first_title, timeout=WAIT_MS)
    expect(results(page)).to_have_count(count)
    see(page.get_by_test_id("stMultiSelect").filter(has_text="Kind").get_by_text("postmortem", exact=True))
    assert params(page)["q"] == ["pgbouncer pool exhausted"]
    shot(page, "search-02-back")

    # to another page by the sidebar and back: the same search
    page.get_by_test_id("stSidebarNav").get_by_text("Ask", exact=True).click()
    see(page.get_by_role("heading", name="Ask", exact=False))
    page.get_by_test_id("stSidebarNav").get_by_text("Search", exact=True).click()
    expect(search_box(page)).to_have_value("pgbouncer pool exhausted")
    expect(page.locator("strong", has_text=FIRST).first).to_have_text(first_title, timeout=WAIT_MS)
    wait_for_param(page, "q", "pgbouncer pool exhausted")

    # the address pasted in a new browser: the same search, filters and results
    address = page.url
    other = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        fresh = other.new_page()
        fresh.set_default_timeout(WAIT_MS)
        fresh.goto(address)
        expect(search_box(fresh)).to_have_value("pgbouncer pool exhausted")
        expect(fresh.locator("strong", has_text=FIRST).first).to_have_text(first_title, timeout=WAIT_MS)
        expect(results(fresh)).to_have_count(count)
        kinds = [t.lower() for t in results(fresh).all_inner_texts()]
        assert all("postmortem" in t for t in kinds)
        shot(fresh, "search-03-pasted-address")
    finally:
        other.close()


def test_enter_searches_and_shift_enter_adds_a_line(server: str, page: Page) -> None:
    page.goto(server)
    box = search_box(page)
    enter_searches(page)
    box.click()
    page.keyboard.type("redis failover")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("sentinel quorum lost")
    expect(box).to_have_value("redis failover\nsentinel quorum lost")
    page.wait_for_timeout(1500)  # a search, had one been sent, would have started by now
    assert results(page).count() == 0
    assert "q" not in params(page)
    shot(page, "search-04-two-lines")

    page.keyboard.press("Enter")
    see(page.locator("strong", has_text=FIRST))
    wait_for_param(page, "q", "redis failover\nsentinel quorum lost")
    expect(box).to_have_value("redis failover\nsentinel quorum lost")  # still there, editable
    box.fill("kafka consumer lag")
    box.press("Enter")
    wait_for_param(page, "q", "kafka consumer lag")
    expect(results(page).first).to_contain_text(re.compile("kafka", re.I), timeout=WAIT_MS)


def search_button(page: Page) -> Locator:
    """The button labelled Search, under the box."""
    return see(page.get_by_role("button", name="Search", exact=True))


def test_the_search_button_searches_a_pasted_alert(server: str, page: Page) -> None:
    page.goto(server)
    box = search_box(page)
    button = search_button(page)
    assert button.bounding_box()["y"] > box.bounding_box()["y"]  # type: ignore[index]  # under the box
    box.click()
    page.keyboard.insert_text(ALERT)  # what a paste does: the text arrives whole, no key is pressed
    expect(box).to_have_value(ALERT)
    page.wait_for_timeout(1500)
    assert results(page).count() == 0 and "q" not in params(page)  # pasting does not search
    button.click()
    see(page.locator("strong", has_text=FIRST))
    see(page.get_by_text("Searching with the alert: PgBouncerPoolExhausted"))
    wait_for_param(page, "q", ALERT)
    expect(box).to_have_value(ALERT)  # its lines kept, still there to edit
    expect(results(page).first).to_contain_text("PgBouncer", timeout=WAIT_MS)
    shot(page, "search-06-pasted-alert")

    box.fill("certificate expired tls handshake")
    search_button(page).click()
    wait_for_param(page, "q", "certificate expired tls handshake")
    expect(box).to_have_value("certificate expired tls handshake")
    expect(page.get_by_text("Searching with the alert")).to_have_count(0, timeout=WAIT_MS)


def test_without_the_enter_script_the_button_still_searches(server: str, page: Page) -> None:
    # the script stands down when it finds its flag set: the page as it is when the script does not run
    page.add_init_script("window.kbEnterSends_search_box = true")
    page.goto(server)
    box = search_box(page)
    box.click()
    page.keyboard.type("redis failover")
    page.keyboard.press("Enter")  # a new line now, not a search
    page.keyboard.type("sentinel quorum lost")
    expect(box).to_have_value("redis failover\nsentinel quorum lost")
    page.wait_for_timeout(1500)
    assert results(page).count() == 0 and "q" not in params(page)
    search_button(page).click()
    see(page.locator("strong", has_text=FIRST))
    wait_for_param(page, "q", "redis failover\nsentinel quorum lost")
    expect(box).to_have_value("redis failover\nsentinel quorum lost")


def test_passages_read_as_text_with_an_honest_label(server: str, page: Page) -> None:
    page.goto(server)
    # the PgBouncer runbook's passages hold headings, lists, code blocks and inline code
    search(page, "pgbouncer pool exhausted symptoms alerts")
    see(page.locator("strong", has_text=FIRST))
    cards = results(page)
    expect(cards).to_have_count(shown_count(page))
    expect(cards.first).to_contain_text("PgBouncer", timeout=WAIT_MS)
    see(cards.first.get_by_test_id("stCode").first)  # a code block shown as code
    see(cards.first.locator("code").first)  # inline code shown as code
    shot(page, "search-05-passages")
    shown = "\n".join(cards.all_inner_texts())
    assert "## " not in shown and "```" not in shown, shown
    assert not re.search(r"`[^`\n]+`", shown), shown
    assert not re.search(r"\bscore \d", shown), shown
    for n in range(cards.count()):  # every result says how well it matches, in words
        assert LABEL.search(cards.nth(n).locator(".stMarkdownBadge").first.inner_text().strip())
    # the title links to the document page, at the best passage
    link = cards.first.locator("a", has_text="PgBouncer").first
    href = link.get_attribute("href") or ""
    assert re.search(r"document\?id=[^&]+&at=\d+$", href), href
