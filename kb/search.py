"""Search that returns documents, not chunks: dense retrieval, grouped by record, with reasons.

The store over-fetches passages (filters applied inside Chroma), passages of stale or half-written
versions are dropped, and the rest are grouped by document. Each document says why it matched: the
query words its passages share, and the services, alert names and error strings the query names.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from llama_index.core.base.embeddings.base import BaseEmbedding

from kb.models import Hit, Kind, RankedDocument, RecordSummary
from kb.store import SearchFilters, Store

STOPWORDS = frozenset(
    "a an and are as at be by for from has have how in is it its of on or our the this to was were what when "
    "where which who why with after before during did do does we our us i you they not no".split()
)
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*[A-Za-z0-9]|[A-Za-z0-9]")


def terms(text: str) -> list[str]:
    """Lowercase content words of a text, without stopwords."""
    return [t for t in (m.group(0).lower() for m in _TOKEN.finditer(text)) if t not in STOPWORDS and len(t) > 1]


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


@dataclass(frozen=True)
class Query:
    """A search request."""

    text: str
    k: int = 10
    kinds: tuple[Kind, ...] = ()
    services: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    since: date | None = None
    until: date | None = None

    def filters(self) -> SearchFilters:
        return SearchFilters(
            kinds=tuple(k.value for k in self.kinds),
            services=tuple(s.lower() for s in self.services),
            severities=tuple(s.upper() for s in self.severities),
            since=int(self.since.strftime("%Y%m%d")) if self.since else None,
            until=int(self.until.strftime("%Y%m%d")) if self.until else None,
        )


def why_matched(
    query_text: str, record: RecordSummary, hits: Sequence[Hit], alerts: Sequence[str], errors: Sequence[str]
) -> list[str]:
    """Human reasons: shared words, services, alert names and error strings."""
    reasons: list[str] = []
    q_terms = terms(query_text)
    q_stems = {_stem(t) for t in q_terms}
    passage_stems = {_stem(t) for hit in hits for t in terms(hit.chunk.text)} | {_stem(t) for t in terms(record.title)}
    shared = [t for t in dict.fromkeys(q_terms) if _stem(t) in passage_stems]
    lowered = query_text.lower()
    services = [s for s in record.services if s.lower() in lowered]
    if services:
        reasons.append("same service: " + ", ".join(services))
    named_alerts = [a for a in alerts if a.lower() in lowered or _stem(a.lower()) in q_stems]
    if named_alerts:
        reasons.append("alert: " + ", ".join(named_alerts[:3]))
    named_errors = [e for e in errors if e.lower() in lowered]
    if named_errors:
        reasons.append("error: " + ", ".join(named_errors[:3]))
    if shared:
        reasons.append("shares terms: " + ", ".join(shared[:8]))
    if hits:
        sections = list(dict.fromkeys(h.chunk.section for h in hits))
        reasons.append("matched in: " + ", ".join(sections[:4]))
    return reasons


def search(store: Store, embedding: BaseEmbedding, query: Query, passages_per_doc: int = 3) -> list[RankedDocument]:
    """The best ``query.k`` documents for the query, best first."""
    if not query.text.strip():
        return []
    vector = embedding.get_query_embedding(query.text)
    fetch = max(50, query.k * 12)
    rows = store.query(vector, fetch, query.filters())
    if not rows:
        return []
    record_meta = store.record_index_for({meta["record_id"] for _c, _s, meta in rows})
    grouped: dict[str, list[Hit]] = {}
    for chunk, score, meta in rows:
        current = record_meta.get(chunk.record_id)
        if current is None or current.get("content_hash") != meta.get("content_hash"):
            continue  # a passage of a version being replaced or removed
        grouped.setdefault(chunk.record_id, []).append(Hit(chunk=chunk, score=score, retriever="dense"))
    ranked = sorted(grouped.items(), key=lambda kv: -max(h.score for h in kv[1]))[: query.k]
    records = store.get_records([rid for rid, _ in ranked])
    results: list[RankedDocument] = []
    for rid, hits in ranked:
        record = records.get(rid)
        if record is None:
            continue
        hits = sorted(hits, key=lambda h: -h.score)[:passages_per_doc]
        summary = RecordSummary(
            id=record.id,
            kind=record.kind,
            title=record.title,
            services=record.services,
            severity=record.severity,
            date=record.date,
            source_path=record.source_path,
        )
        results.append(
            RankedDocument(
                record=summary,
                score=hits[0].score,
                hits=hits,
                why=why_matched(query.text, summary, hits, record.alerts, record.error_strings),
            )
        )
    return results
