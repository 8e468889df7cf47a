"""Past incidents most like a given one, and the runbooks that cover it.

Candidates are ranked by two views of the incident fused by reciprocal rank: the whole document (the
cosine of its mean vector with each candidate's, the query of its title and symptom and cause sections)
and its passages (each ~70-word passage of its summary, cause and resolution, or of a chat log's
messages, searched on its own: a runbook that covers the fix matches the resolution passage even when
the rest of the report reads nothing like a runbook). The document itself, copies of it (the PDF and the
Markdown of one postmortem: same title, or nearly the same vector) and the other documents of the same
incident (its postmortem or chat log: same day, a shared service) are left out; copies among the
results are collapsed into one entry.

Runbooks are ranked on their own (they are written unlike incident reports, so in one list the reports
would crowd them out); the best COVERING that are close enough to the incident take the second and
fourth places, marked ``relation='covering runbook'``; the incidents are marked 'similar incident'.
"""

from __future__ import annotations

import re

import numpy as np

from kb.core.enums import SectionName
from kb.core.models import Kind, RankedDocument, Record, RecordMeta
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
#: the sections whose passages are searched on their own: what happened, why, and what fixed it
PASSAGE_SECTIONS = (*QUERY_SECTIONS, SectionName.resolution, SectionName.mitigation)
PASSAGE_WORDS = 70
MAX_PASSAGES = 12
#: documents each search returns: the pool the whole-document vectors rank
POOL = 60
#: covering runbooks placed among the results, at these places (0-based) of the list
COVERING = 2
COVERING_PLACES = (1, 3)
#: a runbook covers the incident only when its mean vector is at least this share as close to the
#: incident's as the closest similar incident's (an unrelated runbook is far below it)
COVERING_SHARE = 0.5
RRF_K = 60
#: in the runbooks' own ranking, the incident's passages weigh this much against its whole-document vector
RUNBOOK_PASSAGE_WEIGHT = 2.0
SIMILAR_INCIDENT = "similar incident"
COVERING_RUNBOOK = "covering runbook"


def norm_title(title: str) -> str:
    """A title in lower case with its punctuation and spacing folded: copies of one document compare equal."""
    return re.sub(r"[^a-z0-9]+", " ", title.lower()).strip()


def same_incident(corpus: Corpus, record: Record | RecordMeta) -> list[str]:
    """The other documents of the same incident as ``record`` (a record or its metadata): a postmortem or
    chat log of another kind dated the same day that shares a service with it (its chat log, or its
    postmortem)."""
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


def _blocks(text: str) -> list[str]:
    """Paragraphs and list items: a blank line or a line opening a list item ends a block."""
    blocks: list[list[str]] = [[]]
    for line in text.split("\n"):
        head = line.lstrip()
        item = head[:2] in ("- ", "* ", "+ ") or head.split(".", 1)[0].isdigit()
        if not head or item:
            blocks.append([])
        blocks[-1].append(line)
    return ["\n".join(b) for b in blocks if "".join(b).strip()]


def passages(record: Record) -> list[str]:
    """The incident's text in passages of about PASSAGE_WORDS words, cut at paragraph and list-item ends:
    its summary, cause and resolution sections when it names them, else all of it; a chat log's messages."""
    if record.kind == Kind.chat and record.messages:
        blocks = [m.text for m in record.messages]
    else:
        chosen = [s for s in record.sections if s.name in PASSAGE_SECTIONS]
        spans = [(s.start, s.end) for s in chosen] or [(0, len(record.text))]
        blocks = [b for start, end in spans for b in _blocks(record.text[start:end])]
    found: list[str] = []
    words: list[str] = []
    for block in blocks:
        words += block.split()
        if len(words) >= PASSAGE_WORDS:
            found.append(" ".join(words[: PASSAGE_WORDS * 2]))
            words = []
    if words:
        found.append(" ".join(words))
    if len(found) > MAX_PASSAGES:  # spread over the whole text
        step = len(found) / MAX_PASSAGES
        found = [found[int(i * step)] for i in range(MAX_PASSAGES)]
    return found


def _fused(rankings: list[tuple[list[str], float]]) -> dict[str, float]:
    """Reciprocal-rank fusion of weighted rankings."""
    scores: dict[str, float] = {}
    for ranking, weight in rankings:
        for rank, rid in enumerate(ranking):
            scores[rid] = scores.get(rid, 0.0) + weight / (RRF_K + rank + 1)
    return scores


def _candidates(
    corpus: Corpus,
    record: Record,
    kinds: tuple[Kind, ...],
    left_out: tuple[str, ...],
    passage_weight: float = 1.0,
) -> tuple[dict[str, RankedDocument], dict[str, float], dict[str, np.ndarray], dict[str, str]]:
    """Every document of ``kinds`` the whole query or a passage finds, its fused score and its mean vector; and
    for one only a passage found, that passage (its reasons are worked out if it is shown: ``_explain``)."""
    found: dict[str, RankedDocument] = {}
    found_by: dict[str, str] = {}
    passage_runs: list[list[str]] = []
    texts = passages(record)
    for text in texts:
        docs = corpus.search(Query(text=text, k=POOL, kinds=kinds, exclude=left_out), explain=False)
        passage_runs.append([d.record.id for d in docs])
        for doc in docs:
            if doc.record.id not in found:
                found[doc.record.id], found_by[doc.record.id] = doc, text
    whole = corpus.search(Query(text=query_text(record), k=POOL, kinds=kinds, exclude=left_out))
    for doc in whole:
        found[doc.record.id] = doc  # its passages and reasons are the ones of the whole query
        found_by.pop(doc.record.id, None)
    source = np.asarray(corpus.record_vector(record.id))
    vectors = {rid: np.asarray(corpus.record_vector(rid)) for rid in found}
    by_vector = sorted(found, key=lambda rid: -float(vectors[rid] @ source))
    passage_scores = _fused([(run, 1.0) for run in passage_runs])
    by_passage = sorted(passage_scores, key=lambda rid: -passage_scores[rid])
    scores = _fused([(by_vector, 1.0), (by_passage, passage_weight)])
    return found, scores, vectors, found_by


def _explain(
    corpus: Corpus,
    kept: list[tuple[RankedDocument, float]],
    found_by: dict[str, str],
    kinds: tuple[Kind, ...],
    left_out: tuple[str, ...],
) -> None:
    """The reasons of the documents shown that only a passage found: that passage's search again, with reasons
    (its query vector is kept, so this is the keyword side and the reasons of a few documents)."""
    for text in dict.fromkeys(found_by[doc.record.id] for doc, _ in kept if doc.record.id in found_by):
        explained = {d.record.id: d for d in corpus.search(Query(text=text, k=POOL, kinds=kinds, exclude=left_out))}
        for doc, _ in kept:
            if found_by.get(doc.record.id) == text and doc.record.id in explained:
                doc.why[:0] = explained[doc.record.id].why  # before what _distinct added ("also stored as")


def _distinct(
    record: Record, ranked: list[RankedDocument], vectors: dict[str, np.ndarray], source: np.ndarray, k: int
) -> list[tuple[RankedDocument, float]]:
    """The first ``k`` documents that are not copies of the record or of one kept before (a copy's id is
    named in the reasons of the one kept), each with its cosine to the record."""
    kept: list[tuple[RankedDocument, np.ndarray]] = []
    for doc in ranked:
        vec = vectors[doc.record.id]
        if norm_title(doc.record.title) == norm_title(record.title) or float(vec @ source) >= DUPLICATE_COSINE:
            continue  # a copy of the document itself
        twin = next(
            (
                kd
                for kd, kv in kept
                if norm_title(kd.record.title) == norm_title(doc.record.title) or float(kv @ vec) >= DUPLICATE_COSINE
            ),
            None,
        )
        if twin is not None:
            twin.why.append(f"also stored as: {doc.record.id} ({doc.record.source_path})")
            continue
        kept.append((doc, vec))
        if len(kept) == k:
            break
    return [(doc, float(vec @ source)) for doc, vec in kept]


def _score_as_ranked(kept: list[tuple[RankedDocument, float]], scores: dict[str, float]) -> None:
    """Each document's shown score is the one it was ranked by (its fused score), relative to the best of its
    pool (1.0), so the scores a list shows fall as it goes down; a search's score for one passage would not."""
    top = max((scores[doc.record.id] for doc, _ in kept), default=0.0)
    for doc, _ in kept:
        doc.score = round(scores[doc.record.id] / top, 3) if top > 0 else 0.0


def similar(
    corpus: Corpus,
    record_id: str,
    k: int = 5,
    kinds: tuple[Kind, ...] = (Kind.postmortem, Kind.chat),
    covering: int = 0,
) -> list[RankedDocument]:
    """The ``k`` documents most like ``record_id``, best first, copies collapsed. When ``kinds`` holds
    runbooks, the best COVERING runbooks that cover the incident take the second and fourth places; with
    ``covering``, that many covering runbooks follow the ``k`` incidents (runbooks not asked for in ``kinds``)."""
    record = corpus.record(record_id)
    source = np.asarray(corpus.record_vector(record_id))
    left_out = (record_id, *same_incident(corpus, record))
    wanted_runbooks = Kind.runbook in kinds
    incident_kinds = tuple(kind for kind in kinds if kind != Kind.runbook)
    found, scores, vectors, found_by = (
        _candidates(corpus, record, incident_kinds, left_out) if incident_kinds else ({}, {}, {}, {})
    )
    ranked = sorted(found.values(), key=lambda d: -scores[d.record.id])
    incidents = _distinct(record, ranked, vectors, source, k)
    _explain(corpus, incidents, found_by, incident_kinds, left_out)
    _score_as_ranked(incidents, scores)
    runbooks: list[tuple[RankedDocument, float]] = []
    if wanted_runbooks or covering:
        # runbooks are ranked in a pool of their own: incident reports, written alike, would crowd them out
        # of one; a runbook is matched by the incident's passages (its cause or fix) more than as a whole
        found, scores, more, found_by = _candidates(corpus, record, (Kind.runbook,), left_out, RUNBOOK_PASSAGE_WEIGHT)
        vectors.update(more)
        ranked = sorted(found.values(), key=lambda d: -scores[d.record.id])
        runbooks = _distinct(record, ranked, vectors, source, k)
        _explain(corpus, runbooks, found_by, (Kind.runbook,), left_out)
        _score_as_ranked(runbooks, scores)
    best = max((cos for _, cos in incidents), default=0.0)
    covers = [doc for doc, cos in runbooks if cos >= COVERING_SHARE * best][: COVERING if wanted_runbooks else covering]
    for doc, _ in incidents:
        doc.relation = SIMILAR_INCIDENT if doc.record.kind != Kind.document else ""
    for doc in covers:
        doc.relation = COVERING_RUNBOOK
        doc.why.insert(0, "a runbook that covers this incident")
    if not wanted_runbooks:
        return [doc for doc, _ in incidents] + covers
    merged = [doc for doc, _ in incidents]
    for place, doc in zip(COVERING_PLACES, covers, strict=False):
        merged.insert(min(place, len(merged)), doc)
    rest = [doc for doc, _ in runbooks if doc not in covers]
    return (merged + rest)[:k]
