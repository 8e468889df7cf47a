"""Search: free text or a pasted alert, filters, results with highlighted passages and why they matched."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from kb.core.models import Kind
from kb.generation.markup import inert
from kb.generation.quoting import quoted
from kb.retrieval.alerts import AlertParseError, looks_like_alert, parse_alert
from kb.retrieval.search import Query
from ui.web.common import escape, highlight, open_document, resources, shown_errors

st.title("Search past incidents")
res = resources()

with shown_errors():
    if not res.record_metas():
        st.info("The knowledge base is empty. Add postmortems, runbooks and chat logs on the Ingest page.")
    text = st.text_area(
        "Symptoms, an error message, or a pasted alert (Alertmanager / Prometheus, JSON or YAML)",
        key="search_text",
        height=110,
        placeholder="checkout 502 errors after a deploy",
    )
    services = res.services()
    severities = res.severities()
    c1, c2, c3, c4 = st.columns([2, 2, 1.5, 2])  # severity chips (SEV1) need room to show
    kinds = c1.multiselect("Kind", [k.value for k in Kind], key="search_kinds")
    chosen_services = c2.multiselect("Service", services, key="search_services")
    chosen_severities = c3.multiselect("Severity", severities, key="search_severities")
    dates = c4.date_input("Date range", value=[], key="search_dates", min_value=dt.date(2000, 1, 1))
    s1, s2 = st.columns([4, 1])
    k = s1.slider("Results", 1, 20, 8, key="search_k")
    newest = s2.toggle("Newest first", key="search_newest", help="The best matches, shown newest first")

    query_text = text.strip()
    note = None
    if looks_like_alert(query_text):
        try:
            alert = parse_alert(query_text, "the pasted alert")
            note = f"Searching with the alert: {', '.join(alert.alertnames) or 'unnamed'}"
            query_text = alert.text
        except AlertParseError as exc:
            st.warning(inert(f"{exc}; searching it as text"))
    if query_text:
        since = dates[0] if isinstance(dates, tuple) and len(dates) >= 1 else None
        until = dates[1] if isinstance(dates, tuple) and len(dates) == 2 else None
        query = Query(
            text=query_text,
            k=k,
            kinds=tuple(Kind(x) for x in kinds),
            services=tuple(chosen_services),
            severities=tuple(chosen_severities),
            since=since,
            until=until,
            newest_first=newest,
        )
        results = res.search(query)
        if note:
            st.caption(inert(note))
        if not results:
            st.info("Nothing matches. Try other words or fewer filters.")
        for n, doc in enumerate(results, start=1):
            rec = doc.record
            meta = " · ".join(
                x for x in (rec.kind.value, rec.severity or "", str(rec.date or ""), ", ".join(rec.services)) if x
            )
            with st.container(border=True):
                top = st.columns([6, 1])
                top[0].markdown(f"**{n}. {escape(rec.title)}**  \n{escape(meta)} · score {doc.score:.2f}")
                if top[1].button("Open", key=f"open-{rec.id}"):
                    open_document(rec.id)
                for reason in doc.why:
                    st.caption(escape(reason))
                for hit in doc.hits:
                    # list items, timeline entries, chat messages and commands keep their lines
                    passage = highlight(quoted(hit.chunk.text[:600]), query_text).replace("\n", "  \n")
                    st.markdown(f"*{escape(hit.chunk.section)}* ({hit.retriever})  \n{passage}")
