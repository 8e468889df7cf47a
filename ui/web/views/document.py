"""One document: its sections rendered, timeline, services, linked chat log and runbooks, similar
incidents, and actions (draft a runbook, build a game day)."""

from __future__ import annotations

import datetime as dt
import re

import streamlit as st

from kb.core.enums import SectionName
from kb.core.errors import KBError
from kb.core.models import Kind, RankedDocument, Record
from kb.gameday.scenario import build_scenario
from kb.gameday.store import ScenarioStore
from kb.generation.markup import inert
from kb.retrieval.search import Query
from kb.retrieval.similar import COVERING, COVERING_RUNBOOK
from ui.web.common import PAGES, escape, resources, shown_errors
from ui.web.links import anchor_of, document_link, draft_from, scroll_to


def _cited(spans: list[tuple[int, int]], at: int | None, length: int) -> int | None:
    """Which span (section or message, by index) holds character ``at``: the one around it, else the last one
    starting before it (``at`` between two spans); none when ``at`` lies outside the text."""
    if at is None or not 0 <= at < length:
        return None
    inside = [n for n, (start, end) in enumerate(spans) if start <= at < end]
    before = [n for n, (start, _end) in enumerate(spans) if start <= at]
    found = inside or before
    return found[-1] if found else None


def _at() -> int | None:
    """The cited passage's offset the address names (``at``), when it is a number."""
    raw = st.query_params.get("at", "")
    return int(raw) if raw.isdigit() else None


def _mark_cited() -> None:
    st.caption(":material/format_quote: **Cited passage** (the link you followed points here)")


def _show_sections(record: Record, at: int | None) -> None:
    """The document's sections, each in a container keyed by its anchor; the one holding ``at`` expanded, framed
    and scrolled to."""
    cited = _cited([(s.start, s.end) for s in record.sections], at, len(record.text))
    for n, section in enumerate(record.sections):
        body = record.text[section.start : section.end]
        if section.heading:  # the expander shows the heading; the text need not repeat it
            body = re.sub(r"^\s*#{1,6}[^\n]*\n", "", body, count=1)
        if not body.strip() and n != cited:
            continue
        with st.container(key=anchor_of("section", n), border=n == cited):
            if n == cited:
                _mark_cited()
            expanded = n == cited or section.name in (SectionName.summary, SectionName.overview)
            with st.expander(inert(section.heading or section.name), expanded=expanded):
                # Markdown from documents, rendered with images and HTML shown as text
                st.markdown(inert(body))
    if cited is not None:
        scroll_to(anchor_of("section", cited))


def _show_messages(record: Record, at: int | None) -> None:
    """A chat log's messages; the one holding ``at`` framed and scrolled to (shown even past the first 400)."""
    cited = _cited([(m.start, m.end) for m in record.messages], at, len(record.text))
    for n, m in enumerate(record.messages):
        if n >= 400 and n != cited:
            continue
        with st.container(key=anchor_of("message", n), border=n == cited):
            if n == cited:
                _mark_cited()
            when = m.ts.strftime("%H:%M") if m.ts else ""
            head = f"`{when}` **{escape(m.author)}**:"
            first, _, rest = m.text.partition("\n")
            if first.lstrip().startswith("$ "):  # a command as typed, then its output: shown as code
                st.markdown(head)
                st.code(m.text, language=None)
            elif rest.strip():  # pasted output keeps its lines
                st.markdown(f"{head} {escape(first)}")
                st.code(rest, language=None)
            else:
                st.markdown(f"{head} {escape(m.text)}")
    if cited is not None:
        scroll_to(anchor_of("message", cited))


def _passage_start(doc: RankedDocument) -> int | None:
    return doc.hits[0].chunk.start if doc.hits else None


@st.cache_data(show_spinner=False, max_entries=256)
def _similar_to(store: str, version: str, record_id: str) -> list[RankedDocument]:
    """The documents like ``record_id`` and the runbooks that cover it, worked out once per store version."""
    return res.similar(record_id, 6, (Kind.postmortem, Kind.chat), covering=COVERING)


@st.cache_data(show_spinner=False, max_entries=4096)
def _incident_mates(store: str, version: str, doc_id: str) -> list[str]:
    """The other records of the incident ``doc_id`` belongs to, read once per store version."""
    return res.same_incident(res.record(doc_id))


def _similar_incidents(record: Record) -> None:
    """Past incidents like this one, one row each: its date, its postmortem and chat log linked (the records of
    one incident together), why it matched; then the runbooks that cover it."""
    store, version = res.settings.store_location, res.store.version()
    with st.spinner("Finding similar past incidents..."):
        found = _similar_to(store, version, record.id)
        matched = {d.record.id: d for d in found if d.relation != COVERING_RUNBOOK}
        incidents: list[list[str]] = []  # the records of each incident: the one found, then its other records
        for doc_id in matched:
            if any(doc_id in ids for ids in incidents):
                continue
            mates = _incident_mates(store, version, doc_id)
            incidents.append([doc_id, *(m for m in mates if m in metas and m != record.id)])
    if not incidents:
        st.caption("No similar past incidents found.")
    for n, ids in enumerate(incidents):
        _incident_row(n, ids, matched)
    covering = [d for d in found if d.relation == COVERING_RUNBOOK]
    if covering:
        st.markdown("**Runbooks that cover this incident**")
        for doc in covering:
            st.markdown(f"- {document_link(escape(doc.record.title), doc.record.id, _passage_start(doc))}"
                        f" · {escape('; '.join(doc.why[:2]))}")


def _incident_row(n: int, ids: list[str], matched: dict[str, RankedDocument]) -> None:
    """One past incident: its date and title, a link to each of its records (at the passage that matched,
    for those that did), why it matched."""
    ordered = sorted(ids, key=lambda i: (metas[i].kind != Kind.postmortem, i))
    date = next((metas[i].date for i in ordered if metas[i].date), None)
    links = " · ".join(
        document_link(escape(_KIND_LABEL.get(metas[i].kind, metas[i].kind.value)), i,
                      _passage_start(matched[i]) if i in matched else None)
        for i in ordered
    )
    why = next(matched[i].why for i in ids if i in matched)
    with st.container(border=True, key=f"similar-{n}"):
        st.markdown(
            f"**{escape(str(date or 'undated'))}** · **{escape(metas[ordered[0]].title)}**  \n{links}  \n"
            + escape("; ".join(why[:2]))
        )


_KIND_LABEL = {Kind.postmortem: "postmortem", Kind.chat: "chat log", Kind.runbook: "runbook"}


res = resources()
st.title("Incident / document")

with shown_errors():
    with st.spinner("Reading the list of documents..."):
        metas = res.record_metas()
    ids = sorted(metas, key=lambda i: (-(metas[i].date or dt.date.min).toordinal(), i))
    if not ids:
        st.info("No documents yet: add some on the Ingest page.")
        st.stop()
    # the document the address names (a followed link, a bookmark), else the one opened in this session
    named = st.query_params.get("id")
    wanted = named if named in ids else st.session_state.get("doc_id")
    index = ids.index(wanted) if wanted in ids else 0
    doc_id = st.selectbox("Document", ids, index=index, format_func=lambda i: f"{i} — {metas[i].title}")
    at = _at() if doc_id == named else None  # a passage belongs to the document the address named
    if doc_id != named:
        st.query_params.pop("at", None)
    st.session_state["doc_id"] = doc_id
    st.query_params["id"] = doc_id  # the address names the document, so it can be bookmarked and shared
    with st.spinner("Opening the document..."):
        record = res.record(doc_id)

    st.header(escape(record.title))
    facts = st.columns(4)
    facts[0].metric("Kind", record.kind.value)
    facts[1].metric("Severity", record.severity or "-")
    facts[2].metric("Date", str(record.date or "-"))
    facts[3].metric("Duration", record.duration or "-")
    st.markdown("**Services:** " + escape(", ".join(record.services) or "-"))
    if record.alerts:
        st.markdown("**Alerts:** " + escape(", ".join(record.alerts)))

    actions = st.columns(3)
    if actions[0].button("Draft a runbook from it", key="doc-draft"):
        draft_from(" ".join([*record.alerts[:1], record.title])[:200])
    if record.kind == Kind.postmortem and actions[1].button("Build a game day from it", key="doc-gameday"):
        try:
            with st.spinner("Building a game day scenario from this incident..."):
                scenario = build_scenario(res, record.id, "medium")
            ScenarioStore(res.settings).save(scenario)
            st.session_state["scenario_id"] = scenario.id
            st.session_state.pop("gd_session", None)
            st.switch_page(PAGES["gameday"])
        except KBError as exc:
            st.error(inert(str(exc)))

    # only the open tab is worked out: similar incidents and related runbooks take seconds
    tabs = st.tabs(["Sections", "Timeline", "Related", "Similar incidents"], key="doc_tab", on_change="rerun")
    if tabs[0].open is not False:
        with tabs[0]:
            if record.kind == Kind.chat:
                _show_messages(record, at)
            else:
                _show_sections(record, at)
    if tabs[1].open is not False:
        with tabs[1]:
            timeline = [s for s in record.sections if s.name == SectionName.timeline]
            if timeline:
                st.markdown(inert(record.text[timeline[0].start : timeline[0].end]))
            elif record.messages:
                st.dataframe(
                    [
                        {"time": str(m.ts or ""), "who": m.author, "message": m.text.split("\n", 1)[0][:200]}
                        for m in record.messages
                    ],
                    hide_index=True,
                )
            else:
                st.caption("No timeline in this document.")
    if tabs[2].open is not False:
        with tabs[2]:
            label = "Chat log" if record.kind == Kind.postmortem else "Postmortem"
            for other in res.same_incident(record):
                st.markdown(f"- {label} of the same incident: {document_link(escape(other), other)}")
            text = " ".join([*record.alerts[:3], record.title])
            with st.spinner("Finding the runbooks about it..."):
                runbooks = res.search(Query(text=text, k=3, kinds=(Kind.runbook,))) if text.strip() else []
            for doc in runbooks:
                if doc.record.id != record.id:
                    link = document_link(escape(doc.record.title), doc.record.id, _passage_start(doc))
                    st.markdown(f"- Runbook: {link}")
    if tabs[3].open is not False:
        with tabs[3]:
            if record.kind in (Kind.postmortem, Kind.chat):
                _similar_incidents(record)
            else:
                st.caption("Similar incidents are shown for postmortems and chat logs.")
