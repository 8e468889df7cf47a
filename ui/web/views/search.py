"""Search: free text or a pasted alert, filters, one card per document with its best passage and why it matched.

The search lives in the address (``?q=...&kind=postmortem&service=checkout``, only what differs from the defaults)
and in the session: Back after opening a result, the sidebar and a pasted link all bring it back. The box is a
text area in a form with a Search button: the button (or Ctrl+Enter) searches, and a small script of the page's own
makes Enter search too while Shift+Enter adds a line (pasted alerts, JSON and YAML keep their lines); the query
stays in the box, editable, after searching. Without the script Enter adds a line and the button still searches.
"""

from __future__ import annotations

import datetime as dt

import streamlit as st

from kb.core.models import Kind, RankedDocument
from kb.generation.markup import inert
from kb.retrieval.alerts import AlertParseError, looks_like_alert, parse_alert
from kb.retrieval.relevance import ONLY_WEAK, Relevance, only_weak, relevance
from kb.retrieval.search import Query
from ui.web.common import PAGES, escape, resources, shown_errors
from ui.web.keys import enter_sends
from ui.web.links import document_link
from ui.web.passages import show_passage
from ui.web.search_state import DEFAULT_K, MAX_K, SearchState, from_params, has_search

BOX = "search_box"  # the text area
BUTTON = "search_button"  # the form's Search button
QUERY = "search_query"  # the query searched, kept across pages (widget keys are dropped when the page is left)
SAVED = "search_saved"  # the whole search as last shown
WRITTEN = "search_written"  # the address as this page last wrote it
BOX_LABEL = "Symptoms, an error message, or a pasted alert (Alertmanager / Prometheus, JSON or YAML)"
BADGE = {Relevance.strong: ":green-badge[strong match]", Relevance.partial: ":orange-badge[partial match]",
         Relevance.weak: ":gray-badge[weak match]"}

st.title("Search past incidents")
res = resources()
ss = st.session_state


def _submitted() -> None:
    """The form was sent (the Search button, Enter or Ctrl+Enter): the box's text is the query now."""
    text = ss.get(BOX)
    if isinstance(text, str):
        ss[QUERY] = text


def _apply(state: SearchState) -> None:
    """Show ``state``: the query in the box, the filters in their widgets (set before they are drawn)."""
    ss[QUERY] = state.query
    ss[BOX] = state.query
    ss["search_kinds"] = state.kinds
    ss["search_services"] = state.services
    ss["search_severities"] = state.severities
    ss["search_dates"] = tuple(d for d in (state.since, state.until) if d)
    ss["search_k"] = state.k
    ss["search_newest"] = state.newest


def _restore(services: list[str], severities: list[str]) -> None:
    """The search to show: the address's when it names one this page did not write (Back to an older search, a
    pasted or bookmarked link); else the session's when the page was left and is shown again (the sidebar)."""
    params = st.query_params
    if has_search(params):
        state = from_params(params.get_all, [k.value for k in Kind], services, severities)
        if state.params() != ss.get(WRITTEN):
            _apply(state)
            return
    if "search_kinds" not in ss and isinstance(ss.get(SAVED), SearchState):
        _apply(ss[SAVED])


def _current() -> SearchState:
    dates = ss.get("search_dates") or ()
    dates = dates if isinstance(dates, (tuple, list)) else (dates,)
    return SearchState(
        query=str(ss.get(QUERY) or ""),
        kinds=list(ss.get("search_kinds") or []),
        services=list(ss.get("search_services") or []),
        severities=list(ss.get("search_severities") or []),
        since=dates[0] if len(dates) >= 1 else None,
        until=dates[1] if len(dates) == 2 else None,
        k=int(ss.get("search_k") or DEFAULT_K),
        newest=bool(ss.get("search_newest")),
    )


def _remember(state: SearchState) -> None:
    """Put the search shown in the address (only non-default values) and in the session."""
    wanted = state.params()
    shown = {name: st.query_params.get_all(name) for name in st.query_params}
    if shown != {n: v if isinstance(v, list) else [v] for n, v in wanted.items()}:
        st.query_params.from_dict(wanted)
    ss[WRITTEN] = wanted
    ss[SAVED] = state.copy()


def _open(doc_id: str, start: int | None) -> None:
    """The document page, at the passage (one step in the browser's history, so Back returns to this search)."""
    ss["doc_id"] = doc_id
    st.switch_page(PAGES["document"], query_params={"id": doc_id, **({"at": str(start)} if start is not None else {})})


def _card(n: int, doc: RankedDocument, query_text: str) -> None:
    rec = doc.record
    best = doc.hits[0] if doc.hits else None
    facts = (rec.kind.value, rec.severity or "", str(rec.date or ""), ", ".join(rec.services))
    meta = " · ".join(x for x in facts if x)
    with st.container(border=True, key=f"result-{n}"):
        top = st.columns([8, 1])
        title = document_link(escape(rec.title), rec.id, best.chunk.start if best else None)
        top[0].markdown(f"**{n}. {title}** {BADGE[relevance(doc)]}  \n{escape(meta)}")
        if top[1].button("Open", key=f"open-{rec.id}", help="Open the document at its best passage"):
            _open(rec.id, best.chunk.start if best else None)
        if doc.why:
            st.caption(escape(" · ".join(doc.why)))
        if best is None:
            return
        st.caption(escape(best.chunk.heading or best.chunk.section))
        show_passage(st, best.chunk.text, query_text, best.chunk.heading)
        if len(doc.hits) > 1:
            with st.expander(f"{len(doc.hits) - 1} more matching passage{'s' if len(doc.hits) > 2 else ''}"):
                for hit in doc.hits[1:]:
                    st.caption(escape(hit.chunk.heading or hit.chunk.section))
                    show_passage(st, hit.chunk.text, query_text, hit.chunk.heading)


with shown_errors():
    if not res.record_metas():
        st.info("The knowledge base is empty. Add postmortems, runbooks and chat logs on the Ingest page.")
    services = res.services()
    severities = res.severities()
    _restore(services, severities)
    if BOX not in ss:  # back from another page: the box shows the query searched
        ss[BOX] = str(ss.get(QUERY) or "")
    with st.form("search-form", border=False):
        st.text_area(BOX_LABEL, key=BOX, placeholder="checkout 502 errors after a deploy", height="content")
        with st.container(horizontal=True, vertical_alignment="center"):
            st.form_submit_button("Search", key=BUTTON, type="primary", on_click=_submitted)
            st.caption("Enter searches; Shift+Enter starts a new line.")
            enter_sends(BOX, BUTTON)
    c1, c2, c3, c4 = st.columns([2, 2, 1.5, 2])  # severity chips (SEV1) need room to show
    c1.multiselect("Kind", [k.value for k in Kind], key="search_kinds")
    c2.multiselect("Service", services, key="search_services")
    c3.multiselect("Severity", severities, key="search_severities")
    c4.date_input("Date range", value=[], key="search_dates", min_value=dt.date(2000, 1, 1))
    s1, s2 = st.columns([4, 1])
    ss.setdefault("search_k", DEFAULT_K)
    s1.slider("Results", 1, MAX_K, key="search_k")
    s2.toggle("Newest first", key="search_newest", help="The best matches, shown newest first")

    state = _current()
    _remember(state)
    query_text = state.query.strip()
    note = None
    if looks_like_alert(query_text):
        try:
            alert = parse_alert(query_text, "the pasted alert")
            note = f"Searching with the alert: {', '.join(alert.alertnames) or 'unnamed'}"
            query_text = alert.text
        except AlertParseError as exc:
            st.warning(inert(f"{exc}; searching it as text"))
    if query_text:
        query = Query(
            text=query_text,
            k=state.k,
            kinds=tuple(Kind(x) for x in state.kinds),
            services=tuple(state.services),
            severities=tuple(state.severities),
            since=state.since,
            until=state.until,
            newest_first=state.newest,
        )
        with st.spinner("Searching..."):
            results = res.measured(query_text, res.search(query))  # measured for the match labels
        if note:
            st.caption(inert(note))
        if not results:
            st.info("Nothing matches. Try other words or fewer filters.")
        else:
            st.caption(f"{len(results)} result{'s' if len(results) > 1 else ''}"
                       + (", newest first" if state.newest else ", best first"))
            if only_weak(results):
                st.info(ONLY_WEAK + " Try other words or fewer filters.")
        for n, doc in enumerate(results, start=1):
            _card(n, doc, query_text)
