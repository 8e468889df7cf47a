"""One document: its sections rendered, timeline, services, linked chat log and runbooks, similar
incidents, and actions (draft a runbook, build a game day)."""

from __future__ import annotations

import datetime as dt
import re

import streamlit as st

from kb.core.enums import SectionName
from kb.core.errors import KBError
from kb.core.models import Kind, RankedDocument
from kb.gameday.scenario import build_scenario
from kb.gameday.store import ScenarioStore
from kb.generation.markup import inert
from kb.retrieval.search import Query
from kb.retrieval.similar import COVERING, COVERING_RUNBOOK
from ui.web.common import PAGES, escape, open_document, resources, shown_errors


def _similar_row(doc: RankedDocument) -> None:
    """One similar incident or covering runbook: its title, why it matched, a button that opens it."""
    cols = st.columns([6, 1])
    cols[0].markdown(f"**{escape(doc.record.title)}**  \n{escape('; '.join(doc.why[:2]))}")
    if cols[1].button("Open", key=f"sim-{doc.record.id}"):
        open_document(doc.record.id)


res = resources()
st.title("Incident / document")

with shown_errors():
    metas = res.record_metas()
    ids = sorted(metas, key=lambda i: (-(metas[i].date or dt.date.min).toordinal(), i))
    if not ids:
        st.info("No documents yet: add some on the Ingest page.")
        st.stop()
    # the document opened in this session, else the one the address names (a bookmark or a shared link)
    wanted = st.session_state.get("doc_id") or st.query_params.get("id")
    index = ids.index(wanted) if wanted in ids else 0
    doc_id = st.selectbox("Document", ids, index=index, format_func=lambda i: f"{i} — {metas[i].title}")
    st.session_state["doc_id"] = doc_id
    st.query_params["id"] = doc_id  # the address names the document, so it can be bookmarked and shared
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
        st.session_state["draft_topic"] = " ".join([*record.alerts[:1], record.title])[:200]
        st.switch_page(PAGES["runbooks"])
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

    tabs = st.tabs(["Sections", "Timeline", "Related", "Similar incidents"])
    with tabs[0]:
        if record.kind == Kind.chat:
            for m in record.messages[:400]:
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
        else:
            for section in record.sections:
                body = record.text[section.start : section.end]
                if section.heading:  # the expander shows the heading; the text need not repeat it
                    body = re.sub(r"^\s*#{1,6}[^\n]*\n", "", body, count=1)
                if not body.strip():
                    continue
                with st.expander(inert(section.heading or section.name),
                                 expanded=section.name in (SectionName.summary, SectionName.overview)):
                    # Markdown from documents, rendered with images and HTML shown as text
                    st.markdown(inert(body))
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
    with tabs[2]:
        for other in res.same_incident(record):
            label = "Chat log" if record.kind == Kind.postmortem else "Postmortem"
            if st.button(inert(f"{label} of the same incident: {other}"), key=f"doc-same-{other}"):
                open_document(other)
        text = " ".join([*record.alerts[:3], record.title])
        runbooks = res.search(Query(text=text, k=3, kinds=(Kind.runbook,))) if text.strip() else []
        for doc in runbooks:
            if doc.record.id != record.id and st.button(inert(f"Runbook: {doc.record.title}"),
                                                       key=f"doc-rb-{doc.record.id}"):
                open_document(doc.record.id)
    with tabs[3]:
        if record.kind in (Kind.postmortem, Kind.chat):
            found = res.similar(record.id, 5, (Kind.postmortem, Kind.chat), covering=COVERING)
            covering = [d for d in found if d.relation == COVERING_RUNBOOK]
            for doc in [d for d in found if d.relation != COVERING_RUNBOOK]:
                _similar_row(doc)
            if covering:
                st.markdown("**Runbooks that cover this incident**")
                for doc in covering:
                    _similar_row(doc)
        else:
            st.caption("Similar incidents are shown for postmortems and chat logs.")
