"""Past incidents most like a given one, from its symptoms and root cause.

The document's own symptom-side sections (summary, symptoms, impact, detection, root cause, contributing
factors), or a chat log's messages without their timestamps and names, become the query. The document
itself, copies of it (the PDF and the Markdown of one postmortem: same title, or nearly the same
vector) and the other documents of the same incident (its postmortem or chat log: same day, a shared
service) are left out; copies among the results are collapsed into one entry.
"""

from __future__ import annotations

import re

import numpy as np

from kb.core.enums import SectionName
from kb.core.models import Kind, RankedDocument, Record
from kb.retrieval.corpus import Corpus
from kb.retrieval.search import Query

INCIDENT_KINDS = (Kind.postmortem.value, Kind.chat.value)
CHAT_TITLE = re.compile(r"^chat log \d{4}-\d{2}-\d{2}:\s*", re.I)
QUERY_SECTIONS = (
    SectionName.summary,
    SectionName.symptoms,
    SectionName.impact,
    SectionName.detection,
    SectionName.root_cause,
    SectionName.contributing_factors,
    SectionName.body,
)
DUPLICATE_COSINE = 0.95
QUERY_WORDS = 220


def _norm_title(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", title.lower()).strip()


def same_incident(corpus: Corpus, record: Record) -> list[str]:
    """The other documents of the same incident as ``record``: a postmortem or chat log of another kind
    dated the same day that shares a service with it (its chat log, or its postmortem)."""
    if record.date is None or record.kind.value not in INCIDENT_KINDS:
        return []
    services = {s.lower() for s in record.services}
    found = []
    for rid, meta in corpus.record_metas().items():
        kind = meta.kind.value
        if rid == record.id or kind not in INCIDENT_KINDS or kind == record.kind.value:
            continue
        if meta.date != record.date:
            continue
        if services & {s.lower() for s in meta.services}:
            found.append(rid)
    return sorted(found)


def query_text(record: Record) -> str:
    """The title and the symptom and cause sections (a chat log: its messages, without timestamps and
    names), at most QUERY_WORDS words."""
    if record.kind == Kind.chat and record.messages:
        parts = [CHAT_TITLE.sub("", record.title), *(m.text for m in record.messages)]
        return " ".join(" ".join(parts).split()[:QUERY_WORDS])
    parts = [record.title]
    for name in QUERY_SECTIONS:
        for section in record.sections:
            if section.name == name:
                body = record.text[section.start : section.end]
                first, _, rest = body.lstrip().partition("\n")
                if section.heading and first.strip(" #*:").lower() == section.heading.strip(" #*:").lower():
                    body = rest  # the heading ("## Summary") says nothing about the incident
                parts.append(body)
    if len(parts) == 1:
        parts.append(record.text)
    words = " ".join(parts).split()
    return " ".join(words[:QUERY_WORDS])


def similar(
    corpus: Corpus, record_id: str, k: int = 5, kinds: tuple[Kind, ...] = (Kind.postmortem, Kind.chat)
) -> list[RankedDocument]:
    """The ``k`` documents most like ``record_id``, best first, copies collapsed."""
    record = corpus.record(record_id)
    source_vec = np.asarray(corpus.record_vector(record_id))
    left_out = (record_id, *same_incident(corpus, record))
    candidates = corpus.search(Query(text=query_text(record), k=k * 3 + 3, kinds=kinds, exclude=left_out))
    kept: list[tuple[RankedDocument, np.ndarray]] = []
    for doc in candidates:
        vec = np.asarray(corpus.record_vector(doc.record.id))
        if _norm_title(doc.record.title) == _norm_title(record.title) or float(vec @ source_vec) >= DUPLICATE_COSINE:
            continue  # a copy of the document itself
        twin = next(
            (
                kd
                for kd, kv in kept
                if _norm_title(kd.record.title) == _norm_title(doc.record.title) or float(kv @ vec) >= DUPLICATE_COSINE
            ),
            None,
        )
        if twin is not None:
            twin.why.append(f"also stored as: {doc.record.id} ({doc.record.source_path})")
            continue
        kept.append((doc, vec))
        if len(kept) == k:
            break
    return [doc for doc, _ in kept]
