"""Where an enrichment's documents are: web UI addresses, and the enrichment as JSON for a caller.

The document page's address is the one the web UI links to (``ui.web.links.document_url``): ``document?id=ID``
plus ``&at=START``, the character offset of the passage, here made absolute on the configured UI base
(``KB_UI_URL``). Without a base there is no address: a message names documents by id instead.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from kb.alerting.models import Enrichment


def ui_base(url: str | None) -> str | None:
    """The web UI's base address ending in ``/``, or None when ``url`` is unset or not http(s)."""
    if not url or not url.strip():
        return None
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return url.strip().rstrip("/") + "/"


def document_address(base: str | None, doc_id: str, start: int | None = None) -> str | None:
    """The document page for ``doc_id`` at the passage starting at ``start``, under ``base`` (None without one)."""
    if base is None:
        return None
    params: dict[str, str] = {"id": doc_id}
    if start is not None:
        params["at"] = str(start)
    return base + "document?" + urlencode(params)


def outside_link(url: str | None) -> str | None:
    """A sender's own link (Alertmanager, PagerDuty) made safe to put in a message: http(s) only, and the
    characters that end a Slack link (``|``, ``>``), quotes, spaces and controls percent-encoded."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return quote(url.strip(), safe="/:?#[]@!$&'()*+,;=%-._~")


def enrichment_json(enrichment: Enrichment, base: str | None) -> dict[str, Any]:
    """The enrichment as JSON-ready data, each document with its web UI address (``url``, None without a base)."""
    data = asdict(enrichment)
    data["group"]["labels"] = dict(enrichment.group.labels)
    for item in data["incidents"]:
        item["url"] = document_address(base, item["doc_id"], item["start"])
    if data["runbook"] is not None:
        rb = data["runbook"]
        rb["url"] = document_address(base, rb["doc_id"], rb["start"])
    for item in data["citations"]:
        item["url"] = document_address(base, item["doc_id"], item["start"])
    return data
