"""Links across the web UI in a real headless browser (`kb ui` over the sample corpus, Chromium via Playwright):
a runbook draft's citation, an Ask answer's source and a runbook table row open the document page at the
cited passage (its section or message expanded, marked and scrolled to); "Draft a runbook from it" lands on
the draft view with its topic filled; similar incidents are dated, one row per incident.

Screenshots go to tests/artifacts/browser/.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import BrowserContext, Locator, Page, expect

from tests.browser_kit import WAIT_MS, click, see, settled, shot

pytestmark = pytest.mark.slow

TOPIC = "Topic: symptoms, alert or failure mode"
MARKED = "[class*='st-key-section-']:has-text('Cited passage'), [class*='st-key-message-']:has-text('Cited passage')"
POSTMORTEM = "2023-04-21-session-cache-failover-logouts"


def words(text: str, n: int = 8) -> str:
    """The first ``n`` words of a text as one line (what a rendered passage and a quote of it share)."""
    return " ".join(re.sub(r"\[\d+\]", " ", text).split()[:n])


def target(link: Locator) -> tuple[str, int]:
    """The document id and the passage offset a document link names."""
    href = link.get_attribute("href") or ""
    assert href.startswith("./document?"), href
    query = parse_qs(urlparse(href).query)
    return query["id"][0], int(query["at"][0])


def follow(context: BrowserContext, link: Locator) -> Page:
    """Click a document link; Streamlit opens relative Markdown links in a new tab."""
    with context.expect_page(timeout=WAIT_MS) as opened:
        link.click()
    page = opened.value
    page.set_default_timeout(WAIT_MS)
    return page


def opened_at(page: Page, doc_id: str, at: int) -> Locator:
    """The document page shows ``doc_id`` with one part marked as the cited passage, in view; that part."""
    expect(page).to_have_url(re.compile(rf"/document\?id={re.escape(doc_id)}&at={at}$"), timeout=WAIT_MS)
    expect(see(page.get_by_role("combobox", name="Document"))).to_have_value(
        re.compile(rf"^{re.escape(doc_id)} — "), timeout=WAIT_MS
    )
    marked = page.locator(MARKED)
    expect(marked).to_have_count(1, timeout=WAIT_MS)
    expect(marked).to_be_in_viewport(timeout=WAIT_MS)  # scrolled to
    return marked


def test_a_draft_citation_opens_the_cited_section(server: str, page: Page) -> None:
    page.goto(f"{server}/runbooks?view=Draft+a+runbook")  # the address names the view
    see(page.get_by_label(TOPIC)).fill("redis sentinel failover logs users out")
    page.get_by_label(TOPIC).press("Enter")
    click(page, page.get_by_role("button", name="Draft", exact=True))
    body = page.locator(".st-key-draft-body")
    # the first draft of a server also loads the embedding model, on a machine maybe busy with other tests
    expect(body.get_by_role("heading", name="Overview", exact=True)).to_be_visible(timeout=5 * WAIT_MS)
    shot(page, "links-01-draft")

    # the first step and its citation mark: the step is quoted from the passage the mark links to
    step = body.locator("li", has=page.locator("a[href^='./document?']")).first
    mark = step.locator("a[href^='./document?']").first
    expect(mark).to_have_text(re.compile(r"^\[\d+\]$"))
    quote = words(step.inner_text())
    doc_id, at = target(mark)
    # the references list links the same passage under the same number
    reference = body.locator("li", has_text=f"{doc_id}").locator(f"a[href='{mark.get_attribute('href')}']")
    expect(reference.first).to_have_text(mark.inner_text())

    doc = follow(page.context, mark)
    marked = opened_at(doc, doc_id, at)
    expect(marked.get_by_text("Cited passage", exact=False)).to_be_visible()
    # the marked section is open and holds the quoted step
    passage = marked.locator("[data-testid='stExpanderDetails']")
    expect(passage).to_be_visible()
    assert quote in " ".join(passage.inner_text().split()), (quote, passage.inner_text()[:500])
    shot(doc, "links-02-cited-section")


def test_an_ask_source_opens_the_document_at_the_passage(server: str, page: Page) -> None:
    page.goto(f"{server}/ask")
    box = see(page.get_by_placeholder("How did we fix the last Redis failover?"))
    box.fill("how did we fix the last redis failover?")
    box.press("Enter")
    source = page.get_by_test_id("stChatMessage").locator("a[href^='./document?']").first
    see(source)
    doc_id, at = target(source)
    expect(source).to_have_text(re.compile(rf"^{re.escape(doc_id)} §\w+"))
    shot(page, "links-03-ask-sources")
    doc = follow(page.context, source)
    marked = opened_at(doc, doc_id, at)
    expect(marked.get_by_text("Cited passage", exact=False)).to_be_visible()
    shot(doc, "links-04-ask-source-opened")


def test_a_runbook_table_row_opens_the_runbook(server: str, page: Page) -> None:
    page.goto(f"{server}/runbooks")
    see(page.get_by_role("tab", name="All runbooks", selected=True))
    grid = see(page.get_by_test_id("stDataFrame"))
    see(page.get_by_text("Select a row to open its runbook."))
    page.wait_for_timeout(500)  # the grid draws on a canvas once its data arrived
    box = grid.bounding_box()
    assert box is not None
    # the selection checkbox of the second row (rows and the header are 35 px high)
    page.mouse.click(box["x"] + 16, box["y"] + 35 + 35 + 17)
    see(page.get_by_role("heading", name="Incident / document"))
    expect(page).to_have_url(re.compile(r"/document\?id=[\w-]+$"), timeout=WAIT_MS)
    runbook = parse_qs(urlparse(page.url).query)["id"][0]
    expect(page.get_by_role("combobox", name="Document")).to_have_value(re.compile(rf"^{re.escape(runbook)} — "))
    see(page.get_by_test_id("stMetricValue").filter(has_text=re.compile(r"^runbook$")))
    shot(page, "links-05-runbook-row-opened")


def test_draft_a_runbook_from_a_document_lands_on_the_draft_view(server: str, page: Page) -> None:
    page.goto(f"{server}/document?id={POSTMORTEM}")
    title = see(page.get_by_role("heading", level=2)).inner_text().strip()
    click(page, page.get_by_role("button", name="Draft a runbook from it"))
    see(page.get_by_role("heading", name="Runbooks", exact=True))
    # no tab clicked: the draft view is the one shown, its topic filled in
    expect(page.get_by_role("tab", name="Draft a runbook")).to_have_attribute("aria-selected", "true")
    topic = see(page.get_by_label(TOPIC))
    expect(topic).to_have_value(re.compile(re.escape(title)))
    expect(page).to_have_url(re.compile(r"/runbooks\?view=Draft\+a\+runbook&topic="))
    shot(page, "links-06-draft-view-from-document")
    page.reload()  # the address keeps the view and the topic
    expect(see(page.get_by_label(TOPIC))).to_have_value(re.compile(re.escape(title)))
    expect(page.get_by_role("tab", name="Draft a runbook")).to_have_attribute("aria-selected", "true")


def test_similar_incidents_are_dated_one_row_per_incident(server: str, page: Page) -> None:
    page.goto(f"{server}/document?id={POSTMORTEM}")
    page.get_by_role("tab", name="Similar incidents").click()
    rows = page.locator("[class*='st-key-similar-']")
    see(rows.first)
    settled(page)  # rows are drawn one by one: read them once the run has ended
    shot(page, "links-07-similar-incidents")
    texts = rows.all_inner_texts()
    assert len(texts) >= 3, texts
    assert all(re.match(r"\d{4}-\d{2}-\d{2} · ", t) for t in texts), texts
    row_of: dict[str, int] = {}
    pairs = 0
    for n in range(rows.count()):
        links = rows.nth(n).locator("a[href^='./document?']")
        labels = links.all_inner_texts()
        ids = [parse_qs(urlparse(links.nth(k).get_attribute("href") or "").query)["id"][0] for k in range(len(labels))]
        for doc_id in ids:
            assert doc_id not in row_of, f"{doc_id} is shown in two rows"
            row_of[doc_id] = n
        if labels == ["postmortem", "chat log"]:
            assert ids[0] != ids[1]
            pairs += 1
    assert POSTMORTEM not in row_of
    assert pairs >= 1, texts  # an incident's postmortem and its chat log share one row

    pair = next(n for n in range(rows.count()) if rows.nth(n).get_by_role("link", name="chat log").count())
    chat = rows.nth(pair).get_by_role("link", name="chat log")
    doc = follow(page.context, chat)
    see(doc.get_by_test_id("stMetricValue").filter(has_text=re.compile(r"^chat$")))
    shot(doc, "links-08-similar-chat-log-opened")
