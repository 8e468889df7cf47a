"""Figures about the knowledge base for charts: incidents per service and month, severity mix, recurring
failure modes (clusters of similar incidents), time to mitigate, stale runbooks."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kb.core.models import Kind, RecordMeta
from kb.retrieval.corpus import Corpus

#: Incidents whose document vectors are at least this close join one failure mode.
CLUSTER_COSINE = 0.75


@dataclass
class FailureMode:
    """Incidents that look alike."""

    label: str
    incidents: list[str] = field(default_factory=list)
    services: list[str] = field(default_factory=list)


def incidents(corpus: Corpus) -> dict[str, RecordMeta]:
    return {rid: m for rid, m in corpus.record_metas().items() if m.kind == Kind.postmortem}


def month_range(first: str, last: str) -> list[str]:
    """Every month from ``first`` to ``last`` ('YYYY-MM'), both included."""
    year, month = int(first[:4]), int(first[5:7])
    out = []
    while f"{year:04d}-{month:02d}" <= last:
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def per_service_month(corpus: Corpus) -> list[dict[str, Any]]:
    """Rows of (month 'YYYY-MM', service, incidents)."""
    counts: Counter[tuple[str, str]] = Counter()
    for meta in incidents(corpus).values():
        if meta.date is None:
            continue
        month = f"{meta.date.year:04d}-{meta.date.month:02d}"
        for service in meta.services or ["(none)"]:
            counts[(month, service)] += 1
    return [{"month": m, "service": s, "incidents": n} for (m, s), n in sorted(counts.items())]


def severity_mix(corpus: Corpus) -> dict[str, int]:
    counts = Counter(m.severity or "unknown" for m in incidents(corpus).values())
    return dict(sorted(counts.items()))


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


def time_to_mitigate(corpus: Corpus) -> list[dict[str, Any]]:
    """Incidents with a known duration: id, date, minutes, severity."""
    rows = []
    for rid in sorted(incidents(corpus)):
        record = corpus.record(rid)
        value = minutes(record.duration)
        if value is not None:
            rows.append({"incident": rid, "date": record.date, "minutes": value, "severity": record.severity or ""})
    return rows


def failure_modes(corpus: Corpus, threshold: float = CLUSTER_COSINE) -> list[FailureMode]:
    """Groups of two or more incidents whose document vectors are close (single linkage), largest first."""
    ids = sorted(incidents(corpus))
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
        services = Counter(s for n in names for s in metas[n].services)
        alerts = Counter(a for n in names for a in metas[n].alerts)
        top = alerts.most_common(1)[0][0] if alerts else (services.most_common(1)[0][0] if services else names[0])
        modes.append(FailureMode(label=top, incidents=names, services=[s for s, _ in services.most_common(3)]))
    return sorted(modes, key=lambda m: -len(m.incidents))
