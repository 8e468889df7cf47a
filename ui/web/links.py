"""Addresses inside the web UI: every document id and citation shown on a page links to the document page,
opened at the cited passage."""

from __future__ import annotations

from urllib.parse import urlencode


def document_url(doc_id: str, start: int | None = None) -> str:
    """The document page's address for ``doc_id``, at the passage that starts at character ``start``
    (relative, so it works behind any host and port)."""
    params: dict[str, str] = {"id": doc_id}
    if start is not None:
        params["at"] = str(start)
    return "./document?" + urlencode(params)


def document_link(label: str, doc_id: str, start: int | None = None) -> str:
    """A Markdown link to the document page; ``label`` must already be escaped for Markdown."""
    return f"[{label}]({document_url(doc_id, start)})"
