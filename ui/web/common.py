"""What every page shares: the knowledge base opened once per process, the sidebar, and
helpers that show document text as text.

Every string from a document, a generator or an error that reaches an element rendering Markdown (bodies,
expander and button labels, alerts) goes through ``escape`` (all Markdown shown as typed) or ``inert``
(Markdown rendered, but images and HTML shown as text): no address a document names is fetched by the
viewer's browser."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import streamlit as st

from kb.clients.files import database_file
from kb.core.errors import KBError
from kb.core.settings import Settings
from kb.generation.markup import inert
from kb.generation.quoting import quote_parts
from kb.knowledge import KnowledgeBase, open_kb
from kb.retrieval.reasons import terms

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


#: the database file each loaded configuration opened (``database_file``)
_opened: dict[str, str] = {}


def resources() -> KnowledgeBase:
    """The configured knowledge base, loaded once per process, and again when its store folder was deleted or
    made anew (by `kb` in a shell, say): the one loaded would go on reading the old database."""
    settings = Settings()
    key = settings.model_dump_json()
    kb = _load(key)
    if _opened.get(key) != database_file(settings):
        _load.clear()
        kb = _load(key)
    return kb


@st.cache_resource(show_spinner="Loading the knowledge base...", max_entries=1)
def _load(settings_json: str) -> KnowledgeBase:
    """Opened once per server process (and per configuration), shared by every session and rerun: the model
    and the store now, under the spinner, and the LLM client."""
    kb = open_kb(Settings()).load()
    _opened[settings_json] = database_file(kb.settings)
    _ = kb.llm
    return kb


def escape(text: str) -> str:
    """Document text for st.markdown: every Markdown and HTML character shown as itself."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def show_quote(container: Any, text: str) -> None:
    """A quoted answer line: its text as a bullet (each line kept), its code blocks as code."""
    for n, (language, body) in enumerate(quote_parts(text)):
        if language is None:
            container.markdown(("- " if n == 0 else "") + "  \n".join(escape(x) for x in body.split("\n")))
        else:
            container.code(body, language=language or None)


def highlight(text: str, query: str) -> str:
    """Escaped text with the query's words in bold."""
    words = sorted({t for t in terms(query) if len(t) > 2}, key=len, reverse=True)
    safe = escape(text)
    if not words:
        return safe
    pattern = re.compile(r"\b(" + "|".join(re.escape(escape(w)) for w in words) + r")(\w*)", re.I)
    return pattern.sub(lambda m: f"**{m.group(0)}**", safe)


def sidebar(res: KnowledgeBase) -> None:
    s = res.settings
    with st.sidebar:
        st.caption("Knowledge base")
        for label, value in (
            ("Embedding model", res.model_id),
            ("Store", s.store_location),
            ("LLM", s.llm_label),
        ):
            st.markdown(f"**{label}**  \n`{value.replace('`', '')}`")


@contextmanager
def shown_errors() -> Iterator[None]:
    """A knowledge-base error becomes a message on the page, not a traceback."""
    try:
        yield
    except KBError as exc:
        st.error(inert(str(exc)))


def open_document(doc_id: str, start: int | None = None) -> None:
    """Go to the document page at ``doc_id`` (at the passage starting at character ``start``); the address
    names both, so Back and reload keep them."""
    st.session_state["doc_id"] = doc_id
    params = {"id": doc_id, **({"at": str(start)} if start is not None else {})}
    st.switch_page(PAGES["document"], query_params=params)


PAGES: dict[str, st.Page] = {}
