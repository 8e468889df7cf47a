"""Figures about the knowledge base for charts, counted in incidents: incidents per month (by severity) and
per service, severity mix, recurring failure modes (clusters of similar incidents), time to mitigate.

An incident is counted once however many documents tell of it: a postmortem together with its copies (the
PDF and the Markdown of one report: same day, same title) and the chat logs of the same incident (same day,
a shared service: ``kb.retrieval.similar.same_incident``); a chat log that no postmortem covers is an
incident of its own (one not written up yet). An incident that touches several services is one incident: it
counts once in every total, and once for each service it touches in the per-service figures.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kb.core.models import Kind, RecordMeta
from kb.retrieval.corpus import Corpus
from kb.retrieval.similar import norm_title, same_incident

#: Incidents whose document vectors are at least this close join one failure mode.
CLUSTER_COSINE = 0.75
#: The severity of an incident whose documents name none.
UNKNOWN_SEVERITY = "unknown"
#: The services of an incident whose documents name none.
NO_SERVICE = "(no service)"
#: In per-service figures, the services after the busiest ones are shown together under this name.
OTHER_SERVICES = "other services"


@dataclass
class Incident:
    """One incident, whatever documents tell of it."""

    id: str  # its postmortem's id (the first of its copies), or the chat log's when it has no postmortem
    kind: Kind  # postmortem, or chat for an incident no postmortem covers yet
    date: dt.date | None
    services: list[str]  # as its postmortem names them (every copy's), in their order, each once
    severity: str  # 'SEV2', or UNKNOWN_SEVERITY
    documents: list[str] = field(default_factory=list)  # every document of it, ``id`` first

    @property
    def month(self) -> str | None:
        return f"{self.date.year:04d}-{self.date.month:02d}" if self.date else None


@dataclass
class FailureMode:
    """Incidents that look alike."""

    label: str
    incidents: list[str] = field(default_factory=list)
    services: list[str] = field(default_factory=list)


def severity_rank(severity: str) -> tuple[int, str]:
    """Sort key: SEV0, SEV1, SEV2, ... then anything else, the unknown severity last."""
    match = re.fullmatch(r"SEV(\d)", severity)
    if match:
        return (int(match.group(1)), "")
    return (99 if severity == UNKNOWN_SEVERITY else 98, severity)


def _incident(rid: str, meta: RecordMeta) -> Incident:
    return Incident(
        id=rid, kind=meta.kind, date=meta.date, services=list(dict.fromkeys(meta.services)),
        severity=meta.severity or UNKNOWN_SEVERITY, documents=[rid],
    )


def incidents(corpus: Corpus) -> list[Incident]:
    """Every incident, by id: postmortems with their copies and chat logs, then chat logs of their own."""
    metas = corpus.record_metas()
    found: dict[str, Incident] = {}
    copies: dict[tuple[dt.date | None, str], str] = {}  # (day, title) -> the incident that holds them
    for rid in sorted(r for r, m in metas.items() if m.kind == Kind.postmortem):
        meta = metas[rid]
        key = (meta.date, norm_title(meta.title))
        held = copies.get(key) if meta.date and key[1] else None
        if held is None:
            found[rid] = _incident(rid, meta)
            copies[key] = rid
            continue
        first = found[held]
        first.documents.append(rid)
        first.services = list(dict.fromkeys([*first.services, *meta.services]))
        if first.severity == UNKNOWN_SEVERITY and meta.severity:
            first.severity = meta.severity
    owner = {doc: inc.id for inc in found.values() for doc in inc.documents}
    for rid in sorted(r for r, m in metas.items() if m.kind == Kind.chat):
        postmortems = [other for other in same_incident(corpus, metas[rid]) if other in owner]
        if postmortems:
            found[owner[postmortems[0]]].documents.append(rid)
        else:
            found[rid] = _incident(rid, metas[rid])
    return sorted(found.values(), key=lambda inc: inc.id)


def month_range(first: str, last: str) -> list[str]:
    """Every month from ``first`` to ``last`` ('YYYY-MM'), both included."""
    year, month = int(first[:4]), int(first[5:7])
    out = []
    while f"{year:04d}-{month:02d}" <= last:
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def months(found: list[Incident]) -> list[str]:
    """Every month from the first dated incident's to the last one's (a quiet month is a month too)."""
    dated = sorted(inc.month for inc in found if inc.month)
    return month_range(dated[0], dated[-1]) if dated else []


def per_month(found: list[Incident]) -> list[dict[str, Any]]:
    """Rows of (month 'YYYY-MM', severity, incidents): each dated incident counted once."""
    counts = Counter((inc.month, inc.severity) for inc in found if inc.month)
    return [
        {"month": m, "severity": s, "incidents": n}
        for (m, s), n in sorted(counts.items(), key=lambda kv: (kv[0][0], severity_rank(kv[0][1])))
    ]


def busiest_services(found: list[Incident], top: int) -> list[str]:
    """The ``top`` services that the most incidents touch, busiest first (ties by name, NO_SERVICE after them)."""
    touched = Counter(s for inc in found for s in inc.services or [NO_SERVICE])
    ranked = sorted(touched.items(), key=lambda kv: (-kv[1], kv[0] == NO_SERVICE, kv[0].lower()))
    return [s for s, _ in ranked[:top]]


def per_service_month(found: list[Incident], top: int = 8) -> list[dict[str, Any]]:
    """Rows of (month, service, incidents touching it) for the ``top`` busiest services, and for the rest
    together under OTHER_SERVICES (an incident touching two of them counts once there). An incident touching
    several services is in the row of each: the rows of a month do not add up to its incidents."""
    shown = busiest_services(found, top)
    counts: Counter[tuple[str, str]] = Counter()
    for inc in found:
        if not inc.month:
            continue
        names = {s if s in shown else OTHER_SERVICES for s in inc.services or [NO_SERVICE]}
        for name in names:
            counts[(inc.month, name)] += 1
    order = {name: n for n, name in enumerate([*shown, OTHER_SERVICES])}
    return [
        {"month": m, "service": s, "incidents": n}
        for (m, s), n in sorted(counts.items(), key=lambda kv: (kv[0][0], order[kv[0][1]]))
    ]


def severity_mix(found: list[Incident]) -> dict[str, int]:
    """Incidents per severity, SEV1 first, unknown last."""
    counts = Counter(inc.severity for inc in found)
    return {s: counts[s] for s in sorted(counts, key=severity_rank)}


def minutes(duration: str | None) -> int | None:
    """'1h 06m', '47m', '2h', '51 minutes' -> minutes."""
    if not duration:
        return None
    # from the start of a number only: from every digit of a long run the search would rescan it
    hours = re.search(r"(?<!\d)(\d+)\s*+h", duration)
    mins = re.search(r"(?<!\d)(\d+)\s*+m", duration)
    if not hours and not mins:
        return None
    try:
        return (int(hours.group(1)) * 60 if hours else 0) + (int(mins.group(1)) if mins else 0)
    except ValueError:  # a number past Python's 4,300-digit limit for int(): not a duration
        return None


def time_to_mitigate(corpus: Corpus, found: list[Incident]) -> list[dict[str, Any]]:
    """Incidents with a known duration (from the first of their postmortems that gives one): incident, date,
    minutes, severity."""
    metas = corpus.record_metas()
    rows = []
    for inc in found:
        for rid in (r for r in inc.documents if metas[r].kind == Kind.postmortem):
            value = minutes(corpus.record(rid).duration)
            if value is not None:
                rows.append({"incident": inc.id, "date": inc.date, "minutes": value, "severity": inc.severity})
                break
    return rows


def failure_modes(corpus: Corpus, found: list[Incident], threshold: float = CLUSTER_COSINE) -> list[FailureMode]:
    """Groups of two or more incidents whose document vectors are close (single linkage), largest first."""
    ids = [inc.id for inc in found]
    if len(ids) < 2:
        return []
    vectors = np.asarray([corpus.record_vector(rid) for rid in ids], dtype=np.float32)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
    sims = vectors @ vectors.T
    parent = list(range(len(ids)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(ids)):
        for j in range(i + 1, len(ids)):
            if sims[i, j] >= threshold:
                parent[root(i)] = root(j)
    groups: dict[int, list[int]] = {}
    for i in range(len(ids)):
        groups.setdefault(root(i), []).append(i)
    metas = corpus.record_metas()
    modes = []
    for members in groups.values():
        if len(members) < 2:
            continue
        names = [ids[i] for i in members]
        services = Counter(s for i in members for s in found[i].services)
        alerts = Counter(a for n in names for a in metas[n].alerts)
        top = alerts.most_common(1)[0][0] if alerts else (services.most_common(1)[0][0] if services else names[0])
        modes.append(FailureMode(label=top, incidents=names, services=[s for s, _ in services.most_common(3)]))
    return sorted(modes, key=lambda m: -len(m.incidents))
