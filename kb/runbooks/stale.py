"""Incidents since a runbook last changed: those that share a service or an alert with it and concern it
(``incidents_for``), and the runbooks that have such incidents (``stale_runbooks``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from kb.core.models import Kind, Record, StaleRunbook
from kb.retrieval.corpus import Corpus
from kb.retrieval.search import Query


def related_incidents(
    index: dict[str, dict[str, Any]], runbook: Record, since: dt.date | None
) -> list[tuple[str, dict[str, Any]]]:
    """Postmortems and chat logs dated on or after ``since`` that share a service or an alert with the
    runbook and that it does not already cite (by id or by date, "Postmortem 2024-07-22"), newest first."""
    services = {s.lower() for s in runbook.services}
    alerts = set(runbook.alerts)
    floor = int(since.strftime("%Y%m%d")) if since else 0
    out = []
    for rid, meta in index.items():
        if meta.get("kind") not in (Kind.postmortem.value, Kind.chat.value):
            continue
        when = int(meta.get("date_ord") or 0)
        if when < floor or (since and not when):
            continue
        theirs = {s.lower() for s in str(meta.get("services", "")).split("|") if s}
        their_alerts = {a for a in str(meta.get("alerts", "")).split("|") if a}
        if not (services & theirs or alerts & their_alerts):
            continue
        day = f"{when // 10000:04d}-{when // 100 % 100:02d}-{when % 100:02d}"
        if rid in runbook.text or (when and day in runbook.text):
            continue  # the runbook already tells of this incident
        out.append((rid, meta))
    return sorted(out, key=lambda kv: -int(kv[1].get("date_ord") or 0))


#: An incident concerns a runbook when keyword search for the runbook's title and main alert scores it at
#: least this share of what the runbook itself scores (an absolute bar would depend on query length).
CONCERNS = 0.4


def incidents_for(corpus: Corpus, runbook: Record, since: dt.date | None) -> list[str]:
    """Incidents since ``since`` that concern the runbook, newest first: they share a service or an alert with
    it, and either fired its main (first) alert or keyword search for its title and main alert finds them
    nearly as well as the runbook itself."""
    related = related_incidents(corpus.record_metas(), runbook, since)
    if not related:
        return []
    query = Query(text=" ".join([runbook.title, *runbook.alerts[:1]]), k=50)
    scores = {d.record.id: d.score for d in corpus.search(query, mode="bm25", passages_per_doc=1)}
    bar = CONCERNS * scores.get(runbook.id, max(scores.values(), default=0.0))
    main_alert = runbook.alerts[0] if runbook.alerts else None
    return [
        rid
        for rid, meta in related
        if scores.get(rid, 0.0) >= bar > 0 or (main_alert and main_alert in str(meta.get("alerts", "")).split("|"))
    ]


# -- staleness ---------------------------------------------------------------------------------


def stale_runbooks(corpus: Corpus) -> list[StaleRunbook]:
    """Runbooks with incidents about their services or alerts since they last changed, most stale first."""
    index = corpus.record_metas()
    out: list[StaleRunbook] = []
    for rid, meta in list(index.items()):
        if meta.get("kind") != Kind.runbook.value:
            continue
        runbook = corpus.record(rid)
        if runbook.date is None:
            continue
        wanted = set(incidents_for(corpus, runbook, runbook.date))
        related = [(other, m) for other, m in related_incidents(index, runbook, runbook.date) if other in wanted]
        # a postmortem and the chat log of the same incident count once (same day)
        days: dict[int, tuple[str, dict[str, Any]]] = {}
        for other, other_meta in related:
            day = int(other_meta.get("date_ord") or 0)
            if day not in days or other_meta.get("kind") == Kind.postmortem.value:
                days[day] = (other, other_meta)
        if not days:
            continue
        newest_day = max(days)
        newest_id, _ = days[newest_day]
        out.append(
            StaleRunbook(
                runbook_id=rid,
                title=runbook.title,
                last_changed=runbook.date,
                incidents=len(days),
                newest_incident=newest_id,
                newest_date=dt.date(newest_day // 10000, newest_day // 100 % 100, newest_day % 100),
                incident_ids=[days[d][0] for d in sorted(days, reverse=True)],
            )
        )
    return sorted(out, key=lambda s: (-s.incidents, s.last_changed or dt.date.min))
