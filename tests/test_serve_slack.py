"""The Slack message of an enrichment: Slack's documented format, links to the web UI, and document text that
stays inert."""

from __future__ import annotations

import re

import pytest

from kb.alerting.addresses import document_address, enrichment_json, outside_link, ui_base
from kb.alerting.models import AlertGroup, Citation, Enrichment, PastIncident, RunbookMatch
from kb.alerting.slack import escape, fit, message
from kb.alerting.slack_check import problems
from ui.web.links import document_url

BASE = "https://kb.example.com/"
HOSTILE = "<!channel> <@U0123ABC> <https://evil.example|click me> @here & <#C999> *bold* `x`"


def group(title: str = "[1] PgBouncerPoolExhausted (orders-db)", link: str | None = "http://am.example:9093",
          ) -> AlertGroup:
    return AlertGroup(source="alertmanager", key="k", status="firing", title=title, text="pgbouncer pool",
                      alertnames=("PgBouncerPoolExhausted",), labels={"service": "orders-db", "severity": "critical"},
                      link=link)


def enrichment(text: str = "pool exhausted", incidents: int = 3, helped: str = "Raising the pool helped [1]; "
               "a rollback fixed it [2].", title: str = "Orders DB pool exhaustion") -> Enrichment:
    past = tuple(PastIncident(doc_id=f"2024-0{i + 1}-01-orders-db", title=f"{title} {i}", date=f"2024-0{i + 1}-01",
                              severity="SEV2", services=("orders-db",), relevance="strong", why=text, start=100 * i)
                 for i in range(incidents))
    runbook = RunbookMatch(doc_id="pgbouncer-pool-exhausted", title="PgBouncer pool exhausted", relevance="strong",
                           why=text, start=4320)
    cites = (Citation(1, past[0].doc_id, past[0].title, 1234, text) if past else
             Citation(1, "pgbouncer-pool-exhausted", "PgBouncer", 4320, text),
             Citation(2, "pgbouncer-pool-exhausted", "PgBouncer pool exhausted", None, text))
    return Enrichment(group(), past, runbook, helped, cites, "the documents (no LLM)")


def all_text(msg: dict[str, object]) -> str:
    return repr(msg)


def test_the_message_keeps_to_slacks_format_and_says_what_on_call_needs() -> None:
    msg = message(enrichment(), BASE)
    assert problems(msg) == []
    kinds = [b["type"] for b in msg["blocks"]]
    assert kinds[0] == "header" and "divider" in kinds and kinds[-1] == "context"
    body = "\n".join(b["text"]["text"] for b in msg["blocks"] if b["type"] == "section")
    assert "<http://am.example:9093|[1] PgBouncerPoolExhausted (orders-db)>" in body  # the alert and its link
    assert "<https://kb.example.com/document?id=2024-01-01-orders-db&at=0|Orders DB pool exhaustion 0>" in body
    assert "2024-01-01 · SEV2 · strong match" in body
    assert "<https://kb.example.com/document?id=pgbouncer-pool-exhausted&at=4320|PgBouncer pool exhausted>" in body
    # each [n] links to its cited passage; a citation without an offset opens the document's top
    assert "helped <https://kb.example.com/document?id=2024-01-01-orders-db&at=1234|[1]>" in body
    assert "fixed it <https://kb.example.com/document?id=pgbouncer-pool-exhausted|[2]>" in body
    context = msg["blocks"][-1]["elements"][0]["text"]
    assert "the documents (no LLM)" in context
    assert msg["text"].startswith("Alert: [1] PgBouncerPoolExhausted") and "3 similar past incidents" in msg["text"]


def test_document_addresses_are_the_web_uis_document_page() -> None:
    for doc_id, start in (("2024-02-27-checkout-5xx", 812), ("id with spaces&more", None)):
        relative = document_url(doc_id, start)
        assert document_address(BASE, doc_id, start) == BASE + relative.removeprefix("./")
    assert ui_base("https://kb.example.com/kb") == "https://kb.example.com/kb/"
    assert ui_base("ftp://kb.example.com") is None and ui_base("") is None and ui_base(None) is None


def test_without_a_ui_base_documents_are_named_by_id_without_links() -> None:
    msg = message(enrichment(), None)
    assert problems(msg) == []
    text = all_text(msg)
    assert "kb.example.com" not in text and "`2024-01-01-orders-db`" in text and "`pgbouncer-pool-exhausted`" in text
    assert "document?id" not in text


def test_hostile_document_text_cannot_mention_link_or_break_out() -> None:
    hostile = enrichment(text=HOSTILE, helped=HOSTILE + " [1]", title=HOSTILE)
    hostile = Enrichment(group(title=HOSTILE, link="http://am.example/x|<!channel>"), hostile.incidents,
                         hostile.runbook, hostile.helped, hostile.citations, HOSTILE)
    msg = message(hostile, BASE)
    assert problems(msg) == []  # the only <...> tokens are our own web links
    for block in msg["blocks"]:
        for obj in [block.get("text"), *block.get("elements", [])]:
            if obj and obj["type"] == "mrkdwn":
                assert obj["verbatim"] is True  # Slack does not auto-link URLs or parse @here in it
                links = re.findall(r"<([^>]*)>", obj["text"])
                assert all(t.startswith(("https://kb.example.com/", "http://am.example/")) for t in links), links
                assert "@here" not in obj["text"] and "<!" not in obj["text"] and "<@" not in obj["text"]
    alert = msg["blocks"][1]["text"]["text"]
    assert "<http://am.example/x%7C%3C!channel%3E|" in alert  # the sender's link cannot close early
    assert "&lt;!channel&gt;" in all_text(msg) and "&amp;" in all_text(msg)


def test_limits_are_kept_for_long_titles_and_passages() -> None:
    long = "x&y<z> " * 2000
    big = enrichment(text=long, helped=long + " [1]", title=long, incidents=30)
    big = Enrichment(group(title=long), big.incidents, big.runbook, big.helped, big.citations, big.written_by)
    msg = message(big, BASE)
    assert problems(msg) == []
    assert len(msg["blocks"][0]["text"]["text"]) <= 150
    assert all(len(b["text"]["text"]) <= 3000 for b in msg["blocks"] if b["type"] == "section")
    assert len(msg["blocks"]) <= 50


def test_fit_never_splits_a_link_or_an_escape() -> None:
    text = "a" * 10 + "<https://kb.example.com/document?id=x|label>" + " &amp; more"
    for limit in range(5, len(text) + 2):
        cut = fit(text, limit)
        assert len(cut) <= limit
        assert problems({"text": cut}) == [], (limit, cut)
        assert not re.search(r"&[a-z]*…$", cut)


def test_escape() -> None:
    assert escape("a & b < c > d") == "a &amp; b &lt; c &gt; d"
    assert "@channel" not in escape("ping @channel now") and "@everyone" not in escape("@Everyone")
    assert escape("mail me@example.com") == "mail me@example.com"


def test_outside_links_are_http_only_and_cannot_close_a_slack_link() -> None:
    assert outside_link("javascript:alert(1)") is None
    assert outside_link("https://acme.pagerduty.com/incidents/P1") == "https://acme.pagerduty.com/incidents/P1"
    assert "|" not in (outside_link("https://x.example/a|b>c d") or "") and ">" not in (
        outside_link("https://x.example/a|b>c d") or "")


@pytest.mark.parametrize(
    ("msg", "wrong"),
    [
        ({"blocks": []}, "no 'text' fallback"),
        ({"text": "hi <!channel>"}, "control sequence <!channel> is not a web link"),
        ({"text": "hi <@U123>"}, "not a web link"),
        ({"text": "a > b"}, "unescaped < or >"),
        ({"text": "t", "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}]}, "over 150"),
        ({"text": "t", "blocks": [{"type": "header", "text": {"type": "mrkdwn", "text": "x"}}]}, "plain_text"),
        ({"text": "t", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]}, "over 3000"),
        ({"text": "t", "blocks": [{"type": "divider"}] * 51}, "at most 50"),
        ({"text": "t", "blocks": [{"type": "context", "elements": []}]}, "1 to 10 elements"),
        ({"text": "t", "blocks": [{"type": "image"}]}, "block type 'image'"),
        ({"text": "t", "blocks": [{"type": "divider", "block_id": "a"}, {"type": "divider", "block_id": "a"}]},
         "unique"),
    ],
)
def test_the_format_check_finds_what_slack_would_refuse(msg: dict[str, object], wrong: str) -> None:
    assert any(wrong in p for p in problems(msg)), problems(msg)


def test_enrichment_json_carries_web_ui_addresses() -> None:
    data = enrichment_json(enrichment(), BASE)
    assert data["group"]["key"] == "k" and data["group"]["labels"] == {"service": "orders-db", "severity": "critical"}
    assert data["incidents"][1]["url"] == "https://kb.example.com/document?id=2024-02-01-orders-db&at=100"
    assert data["runbook"]["url"].endswith("id=pgbouncer-pool-exhausted&at=4320")
    assert data["citations"][0]["n"] == 1 and data["citations"][0]["url"].endswith("&at=1234")
    assert enrichment_json(enrichment(), None)["incidents"][0]["url"] is None
