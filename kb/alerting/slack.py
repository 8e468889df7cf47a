"""An enrichment as a Slack message: a ``text`` fallback (notifications) and Block Kit ``blocks``.

Slack's documented limits are kept: a header's plain text at most 150 characters, a section's text at most
3,000, a context at most 10 elements, at most 50 blocks. Links are ``<url|label>``.

Document and alert text is hostile. In mrkdwn every ``&``, ``<`` and ``>`` it holds is escaped (``&amp;``,
``&lt;``, ``&gt;``), so it cannot open a link, a user or channel mention (``<@U123>``, ``<!channel>``) or a
date token, and every mrkdwn text object is ``verbatim`` (Slack does not turn bare URLs, ``@here`` or
``#channel`` into links or mentions). The only links are those built here: documents on the web UI and the
sender's own page.
"""

from __future__ import annotations

import re
from typing import Any

from kb.alerting.addresses import document_address, outside_link
from kb.alerting.models import Citation, Enrichment, PastIncident, RunbookMatch

HEADER_MAX = 150
SECTION_MAX = 3000
FALLBACK_MAX = 600
SOURCES = {"alertmanager": "Alertmanager", "pagerduty": "PagerDuty", "api": "an API call"}
_MARKER = re.compile(r"\[(\d{1,3})\]")  # syntax: a citation marker [n]
#: words a person could read as a broadcast mention; a word joiner after ``@`` keeps them plain
_BROADCAST = re.compile(r"@(?=(channel|here|everyone)\b)", re.IGNORECASE)


def escape(text: str) -> str:
    """``text`` as inert mrkdwn: the three control characters escaped, broadcast words defused."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BROADCAST.sub("@\u2060", text)


def link(url: str | None, label: str) -> str:
    """``<url|label>`` with ``label`` escaped; the escaped label alone without a url."""
    label = escape(" ".join(label.split())).replace("|", "¦")
    return f"<{url}|{label}>" if url else label


def fit(mrkdwn: str, limit: int) -> str:
    """``mrkdwn`` cut to ``limit`` characters (ending in ``…``) without splitting a link or an escape."""
    if len(mrkdwn) <= limit:
        return mrkdwn
    cut = mrkdwn[: limit - 1]
    opened = cut.rfind("<")
    if opened > cut.rfind(">"):
        cut = cut[:opened]
    amp = cut.rfind("&")
    if amp >= 0 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + "…"


def _plain(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _section(mrkdwn: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": fit(mrkdwn, SECTION_MAX), "verbatim": True}}


def _incident_line(item: PastIncident, base: str | None) -> str:
    name = link(document_address(base, item.doc_id, item.start), item.title or item.doc_id)
    facts = [f for f in (item.date, item.severity, f"{item.relevance} match" if item.relevance else "") if f]
    line = f"• {name}" + (f" — {escape(' · '.join(facts))}" if facts else "")
    if base is None:
        line += f" (`{escape(item.doc_id)}`)"
    if item.why:
        line += f"\n      ↳ {escape(_plain(item.why, 240))}"
    return line


def _runbook_text(runbook: RunbookMatch, base: str | None) -> str:
    name = link(document_address(base, runbook.doc_id, runbook.start), runbook.title or runbook.doc_id)
    text = f"*Runbook*: {name}" + (f" ({escape(runbook.relevance)} match)" if runbook.relevance else "")
    if base is None:
        text += f" `{escape(runbook.doc_id)}`"
    if runbook.why:
        text += f"\n↳ {escape(_plain(runbook.why, 400))}"
    return text


def _helped_text(helped: str, citations: tuple[Citation, ...], base: str | None) -> str:
    """The paragraph escaped, each ``[n]`` of a known citation made a link to its passage."""
    by_n = {c.n: c for c in citations}

    def marker(match: re.Match[str]) -> str:
        cited = by_n.get(int(match.group(1)))
        url = document_address(base, cited.doc_id, cited.start) if cited else None
        return f"<{url}|[{match.group(1)}]>" if url else match.group(0)

    return "*What helped last time*\n" + _MARKER.sub(marker, escape(" ".join(helped.split())))


def _sources_text(citations: tuple[Citation, ...], base: str | None) -> str:
    lines = [f"[{c.n}] {link(document_address(base, c.doc_id, c.start), c.title or c.doc_id)}"
             + (f" `{escape(c.doc_id)}`" if base is None else "") for c in citations]
    return "*Sources*\n" + "\n".join(lines)


def _alert_text(enrichment: Enrichment) -> str:
    group = enrichment.group
    source = SOURCES.get(group.source, group.source)
    name = link(outside_link(group.link), group.title) if group.link else f"*{escape(group.title)}*"
    shown = [f"{k}={v}" for k, v in group.labels.items() if k in ("service", "severity", "namespace", "priority",
                                                                   "urgency", "team", "cluster")]
    tail = f"\n`{escape(_plain(', '.join(shown), 300))}`" if shown else ""
    return f"{name}\nFiring, from {escape(source)}.{tail}"


def message(enrichment: Enrichment, base: str | None) -> dict[str, Any]:
    """The Slack message for ``enrichment``; document links under the web UI ``base`` (ids shown without one)."""
    group = enrichment.group
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _plain(f"Alert: {group.title}", HEADER_MAX)}},
        _section(_alert_text(enrichment)),
        {"type": "divider"},
    ]
    if enrichment.incidents:
        lines = "\n".join(_incident_line(i, base) for i in enrichment.incidents)
        blocks.append(_section(f"*Similar past incidents*\n{lines}"))
    else:
        blocks.append(_section("*Similar past incidents*\nNone found in the knowledge base."))
    if enrichment.runbook is not None:
        blocks.append(_section(_runbook_text(enrichment.runbook, base)))
    if enrichment.helped.strip():
        blocks.append(_section(_helped_text(enrichment.helped, enrichment.citations, base)))
        if enrichment.citations:
            blocks.append(_section(_sources_text(enrichment.citations, base)))
    blocks.append({"type": "divider"})
    blocks.append({"type": "context", "elements": [
        {"type": "mrkdwn", "text": fit(f"Written by {escape(enrichment.written_by)} · incident knowledge base",
                                       SECTION_MAX), "verbatim": True},
    ]})
    count = len(enrichment.incidents)
    fallback = f"Alert: {group.title} · {count} similar past incident{'s' if count != 1 else ''}"
    if enrichment.runbook is not None:
        fallback += f" · runbook: {enrichment.runbook.title}"
    return {"text": fit(escape(fallback), FALLBACK_MAX), "blocks": blocks[:50]}
