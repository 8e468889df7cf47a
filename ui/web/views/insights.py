"""Insights, counted in incidents: incidents per month by severity, incidents touching each service, severity
mix, time to mitigate, recurring failure modes, stale runbooks."""

from __future__ import annotations

import streamlit as st

from kb.ops import insights
from kb.runbooks.stale import stale_runbooks
from ui.web import charts
from ui.web.common import escape, resources, shown_errors
from ui.web.links import document_link

#: Services shown on their own rows in the per-service grid; the rest share one row.
TOP_SERVICES = 10

res = resources()
st.title("Insights")

with shown_errors():
    with st.spinner("Counting incidents..."):
        found = insights.incidents(res)
    if not found:
        st.info("No incidents yet: ingest postmortems or incident chat logs.")
        st.stop()
    dated = [inc for inc in found if inc.month]
    months = insights.months(found)
    written = sum(inc.kind.value == "postmortem" for inc in found)
    undated = len(found) - len(dated)
    st.caption(
        f"{len(found)} incidents: {written} with a postmortem, {len(found) - written} known only from a chat log. "
        "An incident counts once however many documents tell of it (its postmortem, a copy of it, its chat log)."
        + (f" {undated} undated incidents are left out of the monthly charts." if undated else "")
    )
    if dated:
        st.subheader("Incidents per month")
        st.altair_chart(charts.incidents_per_month(insights.per_month(found), months), width="stretch")
        st.subheader("Incidents touching each service, per month")
        services = insights.busiest_services(dated, TOP_SERVICES)
        rows = insights.per_service_month(dated, TOP_SERVICES)
        if any(r["service"] == insights.OTHER_SERVICES for r in rows):
            services.append(insights.OTHER_SERVICES)
        st.altair_chart(charts.services_by_month(rows, months, services), width="stretch")
        st.caption(
            "Each cell counts the incidents that touched the service that month. An incident that touched "
            "several services is counted in each of their rows, so a month's column can add up to more than its "
            f"incidents. The {TOP_SERVICES} services with the most incidents have a row each; "
            f"'{insights.OTHER_SERVICES}' counts the incidents that touched any of the rest."
        )
    left, right = st.columns(2)
    with left:
        st.subheader("Severity mix")
        st.altair_chart(charts.severity_bars(insights.severity_mix(found)), width="stretch")
    with right:
        st.subheader("Time to mitigate (minutes)")
        with st.spinner("Reading durations..."):
            ttm = insights.time_to_mitigate(res, found)
        if ttm:
            st.altair_chart(charts.mitigation_times(ttm), width="stretch")
        else:
            st.caption("No durations recorded.")
    st.subheader("Recurring failure modes")
    with st.spinner("Grouping similar incidents..."):
        modes = insights.failure_modes(res, found)
    if not modes:
        st.caption("No groups of similar incidents yet.")
    for mode in modes:
        st.markdown(
            f"**{escape(mode.label)}** ({len(mode.incidents)} incidents; {escape(', '.join(mode.services))})  \n"
            + ", ".join(document_link(escape(rid), rid) for rid in mode.incidents)
        )
    st.subheader("Stale runbooks")
    with st.spinner("Checking runbooks against later incidents..."):
        stale = stale_runbooks(res)
    if stale:
        st.altair_chart(
            charts.labelled_bars([s.runbook_id for s in stale], [s.incidents for s in stale], "runbook",
                                 "incidents since last change"),
            width="stretch",
        )
    else:
        st.caption("Every runbook is newer than the incidents about its services.")
