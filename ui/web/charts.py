"""Charts of the web UI (Altair, shown with ``st.altair_chart``), and the one severity palette.

Severity is coloured from SEVERITY_COLOURS wherever a page colours it: the most alarming level the most
alarming colour (magenta-red, red, orange, amber, then teal and slate for the mild levels, grey when
unknown), each at least 3:1 against both Streamlit themes' backgrounds (WCAG's bar for graphics), so the
same colours read in the light and the dark theme. Axis labels are never cut (service and runbook names are
the point of the chart).
"""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd

from kb.ops.insights import UNKNOWN_SEVERITY, severity_rank

#: Severity -> colour, most alarming first: the legend's order.
SEVERITY_COLOURS: dict[str, str] = {
    "SEV0": "#C71585",
    "SEV1": "#E0321C",
    "SEV2": "#DB7100",
    "SEV3": "#A88600",
    "SEV4": "#1F8FA3",
    "SEV5": "#6C7FB8",
    UNKNOWN_SEVERITY: "#8A8F98",
}
#: A severity outside the palette (none is expected: severities are normalised to SEV0-SEV5).
OTHER_SEVERITY_COLOUR = "#5F6B7A"
#: Counts per service and month: one hue, light (few) to dark (many).
HEAT_RANGE = ["#C6DBEF", "#08519C"]


def severity_scale(severities: list[str]) -> alt.Scale:
    """The colour scale for the severities a chart shows, in the palette's order."""
    domain = sorted(set(severities), key=severity_rank)
    return alt.Scale(domain=domain, range=[SEVERITY_COLOURS.get(s, OTHER_SEVERITY_COLOUR) for s in domain])


def _severity_colour(severities: list[str]) -> alt.Color:
    return alt.Color("severity:N", scale=severity_scale(severities), sort=sorted(set(severities), key=severity_rank),
                     legend=alt.Legend(title="Severity", orient="top"))


def incidents_per_month(rows: list[dict[str, Any]], months: list[str]) -> alt.Chart:
    """Bars of incidents per month (every month between the first and the last), stacked by severity."""
    frame = pd.DataFrame(rows, columns=["month", "severity", "incidents"])
    frame["order"] = [severity_rank(s)[0] for s in frame["severity"]]
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("month:O", title=None, scale=alt.Scale(domain=months), axis=alt.Axis(labelAngle=-45)),
            y=alt.Y("sum(incidents):Q", title="incidents", axis=alt.Axis(tickMinStep=1)),
            color=_severity_colour(list(frame["severity"])),
            order=alt.Order("order:Q", sort="ascending"),
            tooltip=["month:O", "severity:N", alt.Tooltip("sum(incidents):Q", title="incidents")],
        )
    )


def services_by_month(rows: list[dict[str, Any]], months: list[str], services: list[str]) -> alt.Chart:
    """A grid of services (rows, in the given order) by month: each cell the number of incidents that touched
    the service that month, written in it and shaded by it."""
    frame = pd.DataFrame(rows, columns=["month", "service", "incidents"])
    most = int(frame["incidents"].max()) if len(frame) else 1
    base = alt.Chart(frame).encode(
        x=alt.X("month:O", title=None, scale=alt.Scale(domain=months), axis=alt.Axis(labelAngle=-45)),
        y=alt.Y("service:N", title=None, sort=services, axis=alt.Axis(labelLimit=0, labelOverlap=False)),
    )
    cells = base.mark_rect().encode(
        color=alt.Color("incidents:Q", scale=alt.Scale(range=HEAT_RANGE, domainMin=0), legend=None),
        tooltip=["service:N", "month:O", alt.Tooltip("incidents:Q", title="incidents touching it")],
    )
    numbers = base.mark_text(fontSize=11).encode(
        text="incidents:Q",
        color=alt.condition(f"datum.incidents > {most / 2}", alt.value("#FFFFFF"), alt.value("#102A43")),
    )
    return (cells + numbers).properties(height=alt.Step(26))


def severity_bars(mix: dict[str, int]) -> alt.Chart:
    """Incidents per severity, most alarming first, each bar in its severity's colour."""
    frame = pd.DataFrame({"severity": list(mix), "incidents": list(mix.values())})
    order = sorted(mix, key=severity_rank)
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("severity:N", title=None, sort=order, axis=alt.Axis(labelAngle=0)),
            y=alt.Y("incidents:Q", title="incidents", axis=alt.Axis(tickMinStep=1)),
            color=alt.Color("severity:N", scale=severity_scale(order), sort=order, legend=None),
            tooltip=["severity:N", "incidents:Q"],
        )
    )


def mitigation_times(rows: list[dict[str, Any]]) -> alt.Chart:
    """Minutes to mitigate against the incident's date, coloured by severity."""
    frame = pd.DataFrame(rows, columns=["incident", "date", "minutes", "severity"])
    frame["date"] = pd.to_datetime(frame["date"])
    return (
        alt.Chart(frame)
        .mark_circle(size=80, opacity=0.9)
        .encode(
            x=alt.X("date:T", title=None, axis=alt.Axis(format="%Y-%m", labelAngle=-45)),
            y=alt.Y("minutes:Q", title="minutes"),
            color=_severity_colour(list(frame["severity"])),
            tooltip=["incident:N", alt.Tooltip("date:T", format="%Y-%m-%d"), "minutes:Q", "severity:N"],
        )
    )


def labelled_bars(labels: list[str], values: list[int], label_title: str, value_title: str) -> alt.Chart:
    """Horizontal bars, one per label, in the given order, with the labels written out whole."""
    frame = pd.DataFrame({"label": labels, "value": values})
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            y=alt.Y("label:N", title=None, sort=labels, axis=alt.Axis(labelLimit=0, labelOverlap=False)),
            x=alt.X("value:Q", title=value_title, axis=alt.Axis(tickMinStep=1)),
            tooltip=[alt.Tooltip("label:N", title=label_title), alt.Tooltip("value:Q", title=value_title)],
        )
        .properties(height=alt.Step(26))
    )
