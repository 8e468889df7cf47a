"""Addresses inside the web UI: every document id and citation shown on a page links to the document page,
opened at the cited passage.

Links are Markdown (``[label](./document?id=ID&at=START)``); Streamlit opens a relative Markdown link in a new
tab, which loads the document page at the passage. Labels built here from document ids and section names are
escaped, so nothing a document holds becomes live Markdown or HTML. The document page marks the section holding
the passage and scrolls to it (``anchor_of``, ``scroll_to``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import urlencode

import streamlit as st

from kb.core.models import Citation
from ui.web.common import PAGES, escape

#: how the Runbooks page names its views in the address (``?view=...``): the labels of its tabs
RUNBOOK_VIEWS = ("All runbooks", "Draft a runbook", "Update a runbook")
DRAFT_VIEW = RUNBOOK_VIEWS[1]
_ANCHOR = re.compile(r"[a-z][a-z0-9-]{0,63}")


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


def citation_label(citation: Citation) -> str:
    """How a citation is named on a page, as plain text: ``doc-id §section``."""
    return f"{citation.doc_id} §{citation.section}" if citation.section else citation.doc_id


def citation_link(citation: Citation, label: str | None = None) -> str:
    """A Markdown link to the cited passage, labelled ``doc-id §section`` (or ``label``, plain text: it is
    escaped here)."""
    return document_link(escape(label if label is not None else citation_label(citation)), citation.doc_id,
                         citation.start)


def citation_links(citations: Sequence[Citation]) -> str:
    """Links to several cited passages, ``; ``-separated, one per passage."""
    unique: dict[tuple[str, int], Citation] = {}
    for c in citations:
        unique.setdefault((c.doc_id, c.start), c)
    return "; ".join(citation_link(c) for c in unique.values())


def marker_link(number: int, citation: Citation) -> str:
    """A numbered citation mark, ``[n]``, linking to its passage."""
    return document_link(f"\\[{number}\\]", citation.doc_id, citation.start)


def runbooks_view(view: str, topic: str = "") -> dict[str, str]:
    """The Runbooks page's address parameters for one of its views (``RUNBOOK_VIEWS``) and a draft topic."""
    if view not in RUNBOOK_VIEWS:
        raise ValueError(f"no Runbooks view {view!r}")
    return {"view": view, **({"topic": topic} if topic else {})}


def draft_from(topic: str) -> None:
    """Go to the Runbooks page's draft view with ``topic`` filled in (the address names both)."""
    st.session_state["view"] = DRAFT_VIEW  # the tabs and the topic box are bound to these keys and the address
    st.session_state["topic"] = topic
    st.switch_page(PAGES["runbooks"], query_params=runbooks_view(DRAFT_VIEW, topic))


def anchor_of(kind: str, number: int) -> str:
    """The stable anchor of a part of the document page: a section (``section-3``) or a chat message
    (``message-12``), counted from 0 in the document. A container keyed by it carries the CSS class
    ``st-key-<anchor>``."""
    anchor = f"{kind}-{number}"
    if not _ANCHOR.fullmatch(anchor):
        raise ValueError(f"not an anchor: {anchor!r}")
    return anchor


def scroll_to(anchor: str) -> None:
    """Scroll the page to the container keyed ``anchor`` once it is drawn. The script is fixed: only an anchor
    made by ``anchor_of`` (letters, digits, dashes) goes into it, never document text."""
    if not _ANCHOR.fullmatch(anchor):
        raise ValueError(f"not an anchor: {anchor!r}")
    st.html(_SCROLL.replace("ANCHOR", anchor), unsafe_allow_javascript=True, width="content")


_SCROLL = """<script>
(() => {
  let tries = 0;
  const go = () => {
    const target = document.querySelector(".st-key-ANCHOR");
    if (target) { target.scrollIntoView({block: "start"}); return; }
    if (++tries < 150) { setTimeout(go, 100); }
  };
  go();
})();
</script>"""
