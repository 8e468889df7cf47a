"""Insights: incidents per service per month, severity mix, recurring failure modes, time to mitigate,
stale runbooks."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from kb.ops import insights
from kb.runbooks.stale import stale_runbooks
from ui.web.common import escape, resources, shown_errors

res = resources()
st.title("Insights")

with shown_errors():
    rows = insights.per_service_month(res)
    if not rows:
        st.info("No dated postmortems yet.")
        st.stop()
    st.subheader("Incidents per service per month")
    frame = pd.DataFrame(rows).pivot_table(index="month", columns="service", values="incidents", fill_value=0)
    # every month between the first and the last, so a quiet month shows as a gap, not as nothing
    frame = frame.reindex(insights.month_range(frame.index.min(), frame.index.max()), fill_value=0)
    st.bar_chart(frame)
    left, right = st.columns(2)
    with left:
        st.subheader("Severity mix")
        mix = insights.severity_mix(res)
        st.bar_chart(pd.DataFrame({"incidents": list(mix.values())}, index=list(mix.keys())))
    with right:
        st.subheader("Time to mitigate (minutes)")
        ttm = insights.time_to_mitigate(res)
        if ttm:
            st.scatter_chart(pd.DataFrame(ttm), x="date", y="minutes", color="severity")
        else:
            st.caption("No durations recorded.")
    st.subheader("Recurring failure modes")
    modes = insights.failure_modes(res)
    if not modes:
        st.caption("No groups of similar incidents yet.")
    for mode in modes:
        st.markdown(
            f"**{escape(mode.label)}** ({len(mode.incidents)} incidents; {escape(', '.join(mode.services))})  \n"
            + escape(", ".join(mode.incidents))
        )
    st.subheader("Stale runbooks")
    stale = stale_runbooks(res)
    if stale:
        st.bar_chart(
            pd.DataFrame(
                {"incidents since last change": [s.incidents for s in stale]}, index=[s.runbook_id for s in stale]
            ),
            horizontal=True,
        )
    else:
        st.caption("Every runbook is newer than the incidents about its services.")
