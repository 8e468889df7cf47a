"""Past incidents most like a given one, from its symptoms and root cause.

The document's own symptom-side sections (summary, symptoms, impact, detection, root cause, contributing
factors) become the query; the document itself, and copies of it (the PDF and the Markdown of one
postmortem: same title, or nearly the same vector), are left out, and copies among the results are
collapsed into one entry.
"""

from __future__ import annotations

import re

import numpy as np

from kb.models import Kind, RankedDocument, Record
from kb.search import Query, Searcher

QUERY_SECTIONS = ("summary", "symptoms", "impact", "detection", "root_cause", "contributing_factors", "body")
DUPLICATE_COSINE = 0.95
QUERY_WORDS = 220


def _norm_title(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", title.lower()).strip()


def query_text(record: Record) -> str:
    """The title and the symptom and cause sections, at most QUERY_WORDS words."""
    parts = [record.title]
    for name in QUERY_SECTIONS:
        for section in record.sections:
            if section.name == name:
                parts.append(record.text[section.start : section.end])
    if len(parts) == 1:
        parts.append(record.text)
    words = " ".join(parts).split()
    return " ".join(words[:QUERY_WORDS])


def similar(
    searcher: Searcher, record_id: str, k: int = 5, kinds: tuple[Kind, ...] = (Kind.postmortem, Kind.chat)
) -> list[RankedDocument]:
    """The ``k`` documents most like ``record_id``, best first, copies collapsed."""
    store = searcher.store
    record = store.get_record(record_id)
    source_vec = np.asarray(store.record_vector(record_id))
    candidates = searcher.search(Query(text=query_text(record), k=k * 3 + 3, kinds=kinds, exclude=(record_id,)))
    kept: list[tuple[RankedDocument, np.ndarray]] = []
    for doc in candidates:
        vec = np.asarray(store.record_vector(doc.record.id))
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
