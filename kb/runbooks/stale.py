"""Incidents since a runbook last changed: those that share a service or an alert with it and concern it
(``incidents_for``), and the runbooks that have such incidents (``stale_runbooks``).
"""

from __future__ import annotations

import datetime as dt

from kb.core.drafts import StaleRunbook
from kb.core.models import Kind, Record, RecordMeta
from kb.retrieval.corpus import Corpus
from kb.retrieval.search import Query


def related_incidents(
    index: dict[str, RecordMeta], runbook: Record, since: dt.date | None
) -> list[tuple[str, RecordMeta]]:
    """Postmortems and chat logs dated on or after ``since`` that share a service or an alert with the
    runbook and that it does not already cite (by id or by date, "Postmortem 2024-07-22"), newest first."""
    services = {s.lower() for s in runbook.services}
    alerts = set(runbook.alerts)
    out = []
    for rid, meta in index.items():
        if meta.kind not in (Kind.postmortem, Kind.chat):
            continue
        when = meta.date
        if since and (when is None or when < since):
            continue
        theirs = {s.lower() for s in meta.services}
        if not (services & theirs or alerts & set(meta.alerts)):
            continue
        if rid in runbook.text or (when and f"{when.year:04d}-{when.month:02d}-{when.day:02d}" in runbook.text):
            continue  # the runbook already tells of this incident
        out.append((rid, meta))
    return sorted(out, key=lambda kv: (kv[1].date is not None, kv[1].date or dt.date.min), reverse=True)


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
        rid for rid, meta in related if scores.get(rid, 0.0) >= bar > 0 or (main_alert and main_alert in meta.alerts)
    ]


# -- staleness ---------------------------------------------------------------------------------


def stale_runbooks(corpus: Corpus) -> list[StaleRunbook]:
    """Runbooks with incidents about their services or alerts since they last changed, most stale first."""
    index = corpus.record_metas()
    out: list[StaleRunbook] = []
    for rid, meta in list(index.items()):
        if meta.kind != Kind.runbook:
            continue
        runbook = corpus.record(rid)
        if runbook.date is None:
            continue
        wanted = set(incidents_for(corpus, runbook, runbook.date))
        related = [(other, m) for other, m in related_incidents(index, runbook, runbook.date) if other in wanted]
        # a postmortem and the chat log of the same incident count once (same day)
        days: dict[dt.date, tuple[str, RecordMeta]] = {}
        for other, other_meta in related:
            day = other_meta.date  # dated: related_incidents since a date leaves undated ones out
            if day is not None and (day not in days or other_meta.kind == Kind.postmortem):
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
                newest_date=newest_day,
                incident_ids=[days[d][0] for d in sorted(days, reverse=True)],
            )
        )
    return sorted(out, key=lambda s: (-s.incidents, s.last_changed or dt.date.min))
