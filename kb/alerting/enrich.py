"""Enrich a firing alert group: the past incidents most like it, the runbook for it, and a cited paragraph of what
helped last time (``enrich``); ``as_json`` gives the result as plain JSON for callers (``kb serve``, the MCP tool).

1. The group's search text is searched as a pasted alert is (``kb.retrieval.alerts.AlertQuery``): the postmortems
   and chat logs, and on their own the runbooks (incident reports, written alike, would crowd runbooks out).
2. Results become incidents: a postmortem, its copies and its chat log are one incident
   (``KnowledgeBase.same_incident``), shown once with the postmortem's date, severity and services. Each is
   labelled strong, partial or weak (``kb.retrieval.relevance``); weak matches are not shown: they are not the
   same incident, and an alert with nothing similar gets no incidents at all.
3. The runbook is the best runbook that is not a weak match (one that declares the group's alert name first),
   opened at the passage that matched (its character offset, as the document page takes it) that an on-call
   engineer should land on (``landing``): the best in a procedure or diagnosis section, as the section classifier
   named it at ingest (``kb.retrieval.sectioning``), and a pointer elsewhere (a references section, a list of
   links) only when nothing else matched.
4. The paragraph (``kb.alerting.helped``) is written from the strong incidents (else the best partial one) and
   the runbook's first action; every claim cites the passage it comes from.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from kb.alerting.helped import write_helped
from kb.alerting.lessons import Statement, first_action, lessons
from kb.alerting.models import AlertGroup, Enrichment, PastIncident, RunbookMatch, Source
from kb.core.enums import SectionName
from kb.core.models import Hit, Kind, RankedDocument
from kb.knowledge import KnowledgeBase
from kb.retrieval.alerts import AlertQuery, parse_alert
from kb.retrieval.relevance import Relevance, relevance
from kb.retrieval.search import Query
from kb.retrieval.similar import norm_title, same_incident
from kb.text.steps import shorten
from kb.text.structure import structure

#: documents searched per incident shown: copies and chat logs of one incident fold into one row
POOL_PER_INCIDENT = 4
#: runbooks searched: the one that declares the alert's name may not be the first by text
RUNBOOK_POOL = 3
#: passages a search shows of each document: a runbook's relevance label is measured on these, as search's is
SHOWN_PASSAGES = 3
#: passages of a runbook its landing passage is chosen from, best first
RUNBOOK_PASSAGES = 6
#: the section types to land on in a runbook: what to check and what to do about it
PROCEDURE_SECTIONS = frozenset({SectionName.triage, SectionName.diagnosis, SectionName.mitigation,
                                SectionName.resolution})
#: incidents whose fixes the paragraph draws on
HELPED_INCIDENTS = 2
#: characters of the matching passage shown as why an incident or runbook was found
WHY_CHARS = 200
NO_LLM = "the documents (no LLM)"
LABELS = {Relevance.strong: "strong", Relevance.partial: "partial", Relevance.weak: "weak"}


def group_of_alert(raw: str, source: Source = "api") -> AlertGroup:
    """An alert group from a pasted or posted alert payload (``parse_alert``: Alertmanager webhook, Prometheus
    alert or alerting rule, JSON or YAML); ``AlertParseError`` when it is not one. Its key is the payload's
    Alertmanager ``groupKey`` when it has one, else a hash of what it is searched with."""
    query = parse_alert(raw, "the alert")
    title = ", ".join(query.alertnames) or shorten(query.text, 80)
    key = hashlib.sha256(query.text.encode()).hexdigest()[:16]
    return AlertGroup(source=source, key=key, status="firing", title=title, text=query.text,
                      alertnames=tuple(query.alertnames), labels=dict(query.labels))


def alert_query(group: AlertGroup) -> AlertQuery:
    """What the group is searched with: its text, alert names and labels."""
    return AlertQuery(text=group.text, alertnames=list(group.alertnames), labels=dict(group.labels))


def empty(group: AlertGroup) -> Enrichment:
    """Nothing found: no incidents, no runbook, no paragraph."""
    return Enrichment(group=group, incidents=(), runbook=None, helped="", citations=(), written_by=NO_LLM)


def enrich(kb: KnowledgeBase, group: AlertGroup, *, incidents: int = 3, exclude: tuple[str, ...] = ()) -> Enrichment:
    """What the knowledge base says about one alert group (see the module's docstring); documents whose ids are in
    ``exclude`` are left out (an evaluation leaves an incident out to see what the others say)."""
    query = alert_query(group)
    if not query.text.strip() or kb.is_empty():
        return empty(group)
    found = kb.measured(query.text, kb.search(Query(text=query.text, k=max(1, incidents) * POOL_PER_INCIDENT,
                                                    kinds=(Kind.postmortem, Kind.chat), exclude=exclude)))
    rows = incident_rows(kb, found)[: max(0, incidents)]
    runbook_doc = best_runbook(kb, query, exclude)
    statements: list[Statement] = []
    strong = [(row, docs) for row, docs in rows if row.relevance == "strong"]
    for _row, docs in (strong or rows[:1])[:HELPED_INCIDENTS]:
        statements += _incident_lessons(kb, docs)
    runbook = None
    if runbook_doc is not None:
        runbook = _runbook_match(runbook_doc)
        step = first_action(kb.record(runbook_doc.record.id))
        statements += [step] if step is not None else []
    partly = not strong
    helped, citations, written_by = write_helped(kb, group, statements, partly=partly)
    return Enrichment(group=group, incidents=tuple(row for row, _ in rows), runbook=runbook, helped=helped,
                      citations=citations, written_by=written_by)


def _incident_lessons(kb: KnowledgeBase, docs: list[RankedDocument]) -> list[Statement]:
    """What the incident's postmortem says (else its chat log's)."""
    for doc in sorted(docs, key=lambda d: d.record.kind != Kind.postmortem):
        said = lessons(kb, kb.record(doc.record.id))
        if any(s.role == "fix" for s in said):
            return said
    return []


def incident_rows(kb: KnowledgeBase, found: list[RankedDocument]) -> list[tuple[PastIncident, list[RankedDocument]]]:
    """One row per incident, best first, weak matches left out; each with the documents folded into it."""
    metas = kb.record_metas()
    groups: list[list[RankedDocument]] = []
    where: dict[str, int] = {}
    for doc in found:
        if relevance(doc) == Relevance.weak:
            continue
        meta = metas.get(doc.record.id)
        mates = set(same_incident(kb, meta)) if meta is not None else set()  # its chat log, or its postmortem
        title = norm_title(doc.record.title)
        known = next((where[m] for m in mates if m in where), None)
        if known is None:
            known = next((n for n, g in enumerate(groups) if norm_title(g[0].record.title) == title
                          and g[0].record.date == doc.record.date), None)
        if known is None:
            known = len(groups)
            groups.append([])
        groups[known].append(doc)
        where[doc.record.id] = known
    return [(_row(docs), docs) for docs in groups]


def _row(docs: list[RankedDocument]) -> PastIncident:
    """The row of one incident: named by its postmortem (else its first document), labelled by its best match."""
    best = docs[0]
    named = next((d for d in docs if d.record.kind == Kind.postmortem), best)
    hit = named.hits[0] if named.hits else None
    return PastIncident(
        doc_id=named.record.id,
        title=named.record.title,
        date=named.record.date.isoformat() if named.record.date else None,
        severity=named.record.severity,
        services=tuple(named.record.services),
        relevance=LABELS[relevance(best)],
        why=shorten(hit.chunk.text, WHY_CHARS) if hit else "",
        start=hit.chunk.start if hit else None,
        others=tuple(d.record.id for d in docs if d is not named),
    )


def best_runbook(kb: KnowledgeBase, query: AlertQuery, exclude: tuple[str, ...] = ()) -> RankedDocument | None:
    """The runbook for the alert: among the best runbooks that are not weak matches, one that declares the
    alert's name, else the best. It keeps its ``RUNBOOK_PASSAGES`` best passages to land on; its label is read
    from the ``SHOWN_PASSAGES`` a search shows."""
    found = kb.search(Query(text=query.text, k=RUNBOOK_POOL, kinds=(Kind.runbook,), exclude=exclude),
                      passages_per_doc=RUNBOOK_PASSAGES)
    shown = kb.measured(query.text, [d.model_copy(update={"hits": d.hits[:SHOWN_PASSAGES]}) for d in found])
    found = [d.model_copy(update={"coverage": s.coverage}) for d, s in zip(found, shown, strict=True)]
    found = [d for d in found if relevance(d) != Relevance.weak]
    if not found:
        return None
    names = {n.lower() for n in query.alertnames}
    metas = kb.record_metas()
    declared = [d for d in found if names & {a.lower() for a in getattr(metas.get(d.record.id), "alerts", [])}]
    return (declared or found)[0]


def landing(hits: Sequence[Hit]) -> Hit | None:
    """The passage of a runbook to open it at, of those that matched (best first): the best in a procedure or
    diagnosis section, else the best that is not a pointer elsewhere, else the best."""
    return min(hits, key=_place, default=None)  # the first of the lowest place: the best of it


def _place(hit: Hit) -> int:
    """0: a procedure or diagnosis passage; 1: other content (symptoms, overview, ...); 2: a pointer elsewhere,
    a references section or a list of links (they repeat the alert's words and say nothing of what to do)."""
    if hit.chunk.section in PROCEDURE_SECTIONS:
        return 0
    return 2 if hit.chunk.section == SectionName.references or structure(hit.chunk.text).link_list else 1


def _runbook_match(doc: RankedDocument) -> RunbookMatch:
    hit = landing(doc.hits)
    return RunbookMatch(doc_id=doc.record.id, title=doc.record.title, relevance=LABELS[relevance(doc)],
                        why=shorten(hit.chunk.text, WHY_CHARS) if hit else "", start=hit.chunk.start if hit else None)


def as_json(enrichment: Enrichment) -> dict[str, Any]:
    """The enrichment as plain JSON (lists, strings, numbers, None): what callers and the MCP tool return."""
    out = asdict(enrichment)
    out["group"]["labels"] = dict(enrichment.group.labels)
    return _lists(out)


def _lists(value: Any) -> Any:
    """Tuples as lists, all the way down."""
    if isinstance(value, dict):
        return {k: _lists(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_lists(v) for v in value]
    return value
